//! Delivery receipt tracking: ids in every style, ordering, duplicates, multipart status and
//! deadlines.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gannet::dlr::{
    CarrierRef, DlrState, DlrTracker, FinalStatus, IdStyle, Match, MessageRef, Outcome,
    ReceiptMatch, ReceiptsFor, TrackerConfig,
};
use gannet::routes::CarrierReceipts;
use proptest::prelude::*;

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn receipts(resp: IdStyle, receipt: IdStyle, rf: ReceiptsFor) -> CarrierReceipts {
    CarrierReceipts {
        resp_ids: resp,
        receipt_ids: receipt,
        receipts_for: rf,
    }
}

fn tracker(resp: IdStyle, receipt: IdStyle, rf: ReceiptsFor) -> (DlrTracker, CarrierRef) {
    let tr = DlrTracker::default();
    let c = tr
        .register("mno-a", receipts(resp, receipt, rf))
        .expect("registered");
    (tr, c)
}

fn auto() -> (DlrTracker, CarrierRef) {
    tracker(IdStyle::Auto, IdStyle::Auto, ReceiptsFor::Any)
}

fn matched(m: Match) -> ReceiptMatch {
    match m {
        Match::Matched(r) => r,
        other => panic!("not matched: {other:?}"),
    }
}

fn delivered() -> Option<Outcome> {
    Some(Outcome {
        status: FinalStatus::Delivered,
        error: None,
    })
}

#[test]
fn every_id_style_pair_matches() {
    let cases: &[(&str, &[&str])] = &[
        // Hex in the response; decimal, hex without zeros, lower case in the receipt.
        (
            "0001A2F3",
            &["107251", "1a2f3", "1A2F3", "0001a2f3", "00107251"],
        ),
        // Decimal in the response, hex in the receipt.
        ("107251", &["1a2f3", "0001A2F3", "107251", "0000107251"]),
        // Hex with no letters in the response, decimal in the receipt.
        ("107251", &["1077841"]),
        // Leading zeros and padding on either side.
        ("0000000042", &["42", "000042", "2a", "2A"]),
        // UUIDs: case, hyphens, braces.
        (
            "550E8400-E29B-41D4-A716-446655440000",
            &[
                "550e8400-e29b-41d4-a716-446655440000",
                "550e8400e29b41d4a716446655440000",
                "{550e8400-e29b-41d4-a716-446655440000}",
            ],
        ),
        // Opaque text ids: case.
        ("MSG-Ab-77", &["msg-ab-77", "MSG-AB-77"]),
    ];
    for (i, (resp, receipt_ids)) in cases.iter().enumerate() {
        for rcpt in receipt_ids.iter() {
            let (tr, c) = auto();
            let msg = MessageRef::single(i as u128 + 1);
            assert!(
                tr.on_submit_resp(c, resp.as_bytes(), msg, t(30), t(0))
                    .unwrap()
                    .is_empty()
            );
            let m = matched(tr.on_receipt(c, rcpt.as_bytes(), DlrState::Delivered, None, t(2)));
            assert_eq!(
                (m.msg, m.outcome, m.late),
                (msg, delivered(), false),
                "{resp} / {rcpt}"
            );
        }
    }
}

#[test]
fn configured_styles_and_auto_detection() {
    let (tr, c) = tracker(IdStyle::Hex, IdStyle::Decimal, ReceiptsFor::Any);
    // "107251" is hex here: decimal 1077841.
    tr.on_submit_resp(c, b"107251", MessageRef::single(1), t(30), t(0))
        .unwrap();
    tr.on_submit_resp(c, b"1077841", MessageRef::single(2), t(30), t(0))
        .unwrap();
    let m = matched(tr.on_receipt(c, b"1077841", DlrState::Delivered, None, t(1)));
    assert_eq!(m.msg.id, 1);

    // Auto: the readings that matched are counted, so the carrier's style is visible.
    let (tr, c) = auto();
    for i in 0..10u64 {
        let id = format!("{:X}", 0xA000 + i);
        tr.on_submit_resp(c, id.as_bytes(), MessageRef::single(i.into()), t(30), t(0))
            .unwrap();
        let rcpt = (0xA000 + i).to_string();
        matched(tr.on_receipt(c, rcpt.as_bytes(), DlrState::Delivered, None, t(1)));
    }
    let readings = tr.readings(c);
    assert_eq!(readings[0], (gannet::dlr::Reading::Decimal, 10));
    assert_eq!(readings[1], (gannet::dlr::Reading::Hex, 0));
}

#[test]
fn receipt_before_response_is_held_then_matched() {
    let (tr, c) = auto();
    assert_eq!(
        tr.on_receipt(c, b"77", DlrState::Enroute, None, t(0)),
        Match::Held
    );
    assert_eq!(
        tr.on_receipt(c, b"77", DlrState::Delivered, None, t(1)),
        Match::Held
    );
    let msg = MessageRef::single(9);
    let got = tr.on_submit_resp(c, b"4D", msg, t(31), t(1)).unwrap();
    // Both, in arrival order; the final one decides.
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].state, got[0].outcome), (DlrState::Enroute, None));
    assert_eq!(
        (got[1].state, got[1].outcome),
        (DlrState::Delivered, delivered())
    );
    let s = tr.stats();
    assert_eq!((s.held_early, s.matched_early, s.unmatched), (2, 2, 0));
}

#[test]
fn held_receipts_expire_and_are_bounded() {
    let tr = DlrTracker::new(TrackerConfig {
        early_capacity: 2,
        early_ttl: Duration::from_secs(10),
        ..TrackerConfig::default()
    });
    let c = tr
        .register(
            "mno-a",
            receipts(IdStyle::Auto, IdStyle::Auto, ReceiptsFor::Any),
        )
        .unwrap();
    for id in ["1", "2", "3"] {
        assert_eq!(
            tr.on_receipt(c, id.as_bytes(), DlrState::Delivered, None, t(0)),
            Match::Held
        );
    }
    // "1" made room for "3".
    assert!(
        tr.on_submit_resp(c, b"1", MessageRef::single(1), t(30), t(1))
            .unwrap()
            .is_empty()
    );
    assert_eq!(tr.stats().unmatched, 1);
    // After the TTL the rest are dropped too.
    tr.poll_expired(t(10));
    assert_eq!(tr.stats().unmatched, 3);
    assert!(
        tr.on_submit_resp(c, b"2", MessageRef::single(2), t(40), t(11))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn receipts_on_another_bind_of_the_same_carrier_match() {
    // Binds share the carrier's reference: the key is (carrier, id), not (bind, id).
    let tr = DlrTracker::default();
    let tx = tr
        .register(
            "mno-a",
            receipts(IdStyle::Auto, IdStyle::Auto, ReceiptsFor::Any),
        )
        .unwrap();
    let rx = tr.carrier("mno-a").unwrap();
    assert_eq!(tx, rx);
    let other = tr
        .register(
            "mno-b",
            receipts(IdStyle::Auto, IdStyle::Auto, ReceiptsFor::Any),
        )
        .unwrap();
    tr.on_submit_resp(tx, b"500", MessageRef::single(1), t(30), t(0))
        .unwrap();
    // Same id from another carrier is another message.
    assert_eq!(
        tr.on_receipt(other, b"500", DlrState::Delivered, None, t(1)),
        Match::Held
    );
    assert_eq!(
        matched(tr.on_receipt(rx, b"500", DlrState::Delivered, None, t(1)))
            .msg
            .id,
        1
    );
}

#[test]
fn duplicates_are_reported() {
    let (tr, c) = auto();
    let msg = MessageRef::single(5);
    tr.on_submit_resp(c, b"abc", msg, t(30), t(0)).unwrap();
    matched(tr.on_receipt(c, b"ABC", DlrState::Enroute, None, t(1)));
    assert_eq!(
        tr.on_receipt(c, b"abc", DlrState::Enroute, None, t(2)),
        Match::Duplicate {
            msg,
            state: DlrState::Enroute
        }
    );
    let m = matched(tr.on_receipt(c, b"abc", DlrState::Undeliverable, Some(1), t(3)));
    assert_eq!(
        m.outcome,
        Some(Outcome {
            status: FinalStatus::Undeliverable,
            error: Some(1)
        })
    );
    // Anything after the final state is a duplicate, even a different state.
    assert_eq!(
        tr.on_receipt(c, b"abc", DlrState::Delivered, None, t(4)),
        Match::Duplicate {
            msg,
            state: DlrState::Delivered
        }
    );
    assert_eq!(tr.stats().duplicates, 2);
}

#[test]
fn intermediate_then_final() {
    let (tr, c) = auto();
    let msg = MessageRef::single(1);
    tr.on_submit_resp(c, b"10", msg, t(30), t(0)).unwrap();
    for (state, secs) in [(DlrState::Accepted, 1), (DlrState::Enroute, 2)] {
        let m = matched(tr.on_receipt(c, b"10", state, None, t(secs)));
        assert_eq!((m.state, m.outcome), (state, None));
    }
    let m = matched(tr.on_receipt(c, b"10", DlrState::Rejected, Some(0x03_000b), t(3)));
    assert_eq!(
        m.outcome,
        Some(Outcome {
            status: FinalStatus::Rejected,
            error: Some(0x03_000b)
        })
    );
    // Resolved: its deadline passes without a report.
    assert!(tr.poll_expired(t(30)).is_empty());
}

fn submit_parts(tr: &DlrTracker, c: CarrierRef, id: u128, parts: u8, deadline: u64) {
    for p in 0..parts {
        let cid = format!("{}{p}", id * 10);
        tr.on_submit_resp(
            c,
            cid.as_bytes(),
            MessageRef { id, part: p, parts },
            t(deadline),
            t(0),
        )
        .expect("a valid id");
    }
}

fn part_receipt(
    tr: &DlrTracker,
    c: CarrierRef,
    id: u128,
    p: u8,
    s: DlrState,
    err: Option<u32>,
) -> ReceiptMatch {
    let cid = format!("{}{p}", id * 10);
    matched(tr.on_receipt(c, cid.as_bytes(), s, err, t(5)))
}

#[test]
fn multipart_all_parts() {
    let (tr, c) = tracker(IdStyle::Decimal, IdStyle::Decimal, ReceiptsFor::All);
    submit_parts(&tr, c, 1, 3, 30);
    assert_eq!(
        part_receipt(&tr, c, 1, 0, DlrState::Delivered, None).outcome,
        None
    );
    assert_eq!(
        part_receipt(&tr, c, 1, 2, DlrState::Delivered, None).outcome,
        None
    );
    assert_eq!(
        part_receipt(&tr, c, 1, 1, DlrState::Delivered, None).outcome,
        delivered()
    );

    // A failed part decides at once, with its code; later parts change nothing.
    submit_parts(&tr, c, 2, 3, 30);
    assert_eq!(
        part_receipt(&tr, c, 2, 0, DlrState::Delivered, None).outcome,
        None
    );
    let failed = Some(Outcome {
        status: FinalStatus::Undeliverable,
        error: Some(27),
    });
    assert_eq!(
        part_receipt(&tr, c, 2, 1, DlrState::Undeliverable, Some(27)).outcome,
        failed
    );
    assert_eq!(
        part_receipt(&tr, c, 2, 2, DlrState::Delivered, None).outcome,
        None
    );

    // A part without a receipt is a deadline miss, reported once for the message.
    submit_parts(&tr, c, 3, 3, 30);
    part_receipt(&tr, c, 3, 0, DlrState::Delivered, None);
    assert_eq!(
        tr.poll_expired(t(30)),
        [MessageRef {
            id: 3,
            part: 1,
            parts: 3
        }]
    );
}

#[test]
fn multipart_first_last_any() {
    let (tr, c) = tracker(IdStyle::Decimal, IdStyle::Decimal, ReceiptsFor::First);
    submit_parts(&tr, c, 1, 2, 30);
    // The second part's receipt is optional and does not decide.
    assert_eq!(
        part_receipt(&tr, c, 1, 1, DlrState::Undeliverable, None).outcome,
        None
    );
    assert_eq!(
        part_receipt(&tr, c, 1, 0, DlrState::Delivered, None).outcome,
        delivered()
    );
    submit_parts(&tr, c, 2, 2, 30);
    // Only the deciding part's deadline counts.
    part_receipt(&tr, c, 2, 0, DlrState::Delivered, None);
    assert!(tr.poll_expired(t(30)).is_empty());

    let (tr, c) = tracker(IdStyle::Decimal, IdStyle::Decimal, ReceiptsFor::Last);
    submit_parts(&tr, c, 1, 3, 30);
    assert_eq!(
        part_receipt(&tr, c, 1, 0, DlrState::Delivered, None).outcome,
        None
    );
    assert_eq!(
        part_receipt(&tr, c, 1, 2, DlrState::Delivered, None).outcome,
        delivered()
    );
    submit_parts(&tr, c, 2, 3, 30);
    assert_eq!(
        tr.poll_expired(t(30)),
        [MessageRef {
            id: 2,
            part: 2,
            parts: 3
        }]
    );

    let (tr, c) = tracker(IdStyle::Decimal, IdStyle::Decimal, ReceiptsFor::Any);
    submit_parts(&tr, c, 1, 3, 30);
    assert_eq!(
        part_receipt(&tr, c, 1, 1, DlrState::Enroute, None).outcome,
        None
    );
    assert_eq!(
        part_receipt(&tr, c, 1, 1, DlrState::Delivered, None).outcome,
        delivered()
    );
    assert_eq!(
        part_receipt(&tr, c, 1, 0, DlrState::Undeliverable, None).outcome,
        None
    );
    assert!(
        tr.poll_expired(t(30)).is_empty(),
        "decided: part 2's silence is not a miss"
    );
}

#[test]
fn deadlines_expire_in_order_and_late_receipts_are_flagged() {
    let (tr, c) = auto();
    // Registered out of order.
    for (id, deadline) in [(1u128, 40u64), (2, 10), (3, 30), (4, 20), (5, 10)] {
        let cid = id.to_string();
        tr.on_submit_resp(c, cid.as_bytes(), MessageRef::single(id), t(deadline), t(0))
            .unwrap();
    }
    assert_eq!(tr.next_due(), Some(t(10)));
    // 4 is resolved before its deadline: skipped.
    matched(tr.on_receipt(c, b"4", DlrState::Delivered, None, t(5)));
    assert!(tr.poll_expired(t(9)).is_empty());
    let ids = |v: Vec<MessageRef>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(ids(tr.poll_expired(t(10))), [2, 5]);
    assert_eq!(ids(tr.poll_expired(t(35))), [3]);
    assert_eq!(ids(tr.poll_expired(t(35))), Vec::<u128>::new());
    // A receipt after the deadline still matches, flagged late, and still decides.
    let m = matched(tr.on_receipt(c, b"3", DlrState::Delivered, None, t(36)));
    assert!(m.late);
    assert_eq!(m.outcome, delivered());
    assert_eq!(ids(tr.poll_expired(t(100))), [1]);
    let s = tr.stats();
    assert_eq!((s.deadline_misses, s.late), (4, 1));

    // Parts are forgotten after the hold (600 s past the deadline) or the linger (60 s after
    // the final receipt), whichever applies.
    assert_eq!(tr.len(), 4, "4 forgotten 60 s after its receipt");
    tr.poll_expired(t(609));
    assert_eq!(tr.len(), 4);
    tr.poll_expired(t(610));
    assert_eq!(tr.len(), 2, "2 and 5 forgotten; 3 and 1 not yet");
    tr.poll_expired(t(700));
    assert_eq!(tr.len(), 0);
    assert_eq!(tr.next_due(), None);
}

/// One round of the race: a transmitter bind registers `n` messages (every third in two
/// parts) while two receiver binds report on them, ENROUTE on one and DELIVRD on the other,
/// at most `lead` messages ahead of the responses. Checks that every receipt was applied
/// exactly once (matched or duplicate), every held receipt was claimed, and every message got
/// exactly one outcome, delivered.
fn race_round(n: u64, lead: u64) {
    use std::sync::atomic::{AtomicU64, Ordering};

    let tr = Arc::new(DlrTracker::default());
    let c = tr
        .register(
            "mno-a",
            receipts(IdStyle::Hex, IdStyle::Decimal, ReceiptsFor::All),
        )
        .expect("registered");
    fn parts(i: u64) -> u8 {
        if i.is_multiple_of(3) { 2 } else { 1 }
    }
    // Carrier id of a part: unique, hex in the response, decimal in the receipt.
    fn cid(i: u64, p: u8) -> u64 {
        i * 2 + u64::from(p)
    }
    fn msg(i: u64, p: u8) -> MessageRef {
        MessageRef {
            id: i.into(),
            part: p,
            parts: parts(i),
        }
    }
    // Messages whose responses are all registered.
    let answered = Arc::new(AtomicU64::new(0));
    let resp = {
        let (tr, answered) = (tr.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut outcomes = Vec::new();
            for i in 0..n {
                for p in 0..parts(i) {
                    let id = format!("{:X}", cid(i, p));
                    let got = tr
                        .on_submit_resp(c, id.as_bytes(), msg(i, p), t(30), t(0))
                        .expect("a valid id");
                    for m in got {
                        assert_eq!(m.msg, msg(i, p));
                        outcomes.extend(m.outcome.map(|o| (m.msg.id, o)));
                    }
                }
                answered.store(i + 1, Ordering::Release);
            }
            outcomes
        })
    };
    let bind = |state: DlrState| {
        let (tr, answered) = (tr.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut outcomes = Vec::new();
            let give_up = std::time::Instant::now() + Duration::from_secs(60);
            for i in 0..n {
                // A carrier reports on what it has answered, give or take the responses in
                // flight: `lead` stays well under the held-receipt capacity (10,000).
                while i >= answered.load(Ordering::Acquire) + lead {
                    assert!(std::time::Instant::now() < give_up, "responses stalled");
                    std::thread::yield_now();
                }
                for p in 0..parts(i) {
                    let id = cid(i, p).to_string();
                    match tr.on_receipt(c, id.as_bytes(), state, None, t(1)) {
                        Match::Matched(m) => {
                            assert_eq!(m.msg, msg(i, p));
                            outcomes.extend(m.outcome.map(|o| (m.msg.id, o)));
                        }
                        Match::Duplicate { msg: m, .. } => assert_eq!(m, msg(i, p)),
                        Match::Held => {}
                        other => panic!("{other:?}"),
                    }
                }
            }
            outcomes
        })
    };
    let (enroute, delivrd) = (bind(DlrState::Enroute), bind(DlrState::Delivered));
    let mut outcomes = resp.join().expect("transmitter bind");
    outcomes.extend(enroute.join().expect("receiver bind 1"));
    outcomes.extend(delivrd.join().expect("receiver bind 2"));

    let mut decided = vec![0u32; n as usize];
    for (id, o) in &outcomes {
        assert_eq!(Some(*o), delivered(), "message {id}");
        decided[*id as usize] += 1;
    }
    let wrong: Vec<(usize, u32)> = decided
        .iter()
        .enumerate()
        .filter(|(_, k)| **k != 1)
        .map(|(i, k)| (i, *k))
        .take(10)
        .collect();
    let s = tr.stats();
    assert!(
        wrong.is_empty(),
        "every message decided exactly once; (message, times): {wrong:?}, {s:?}"
    );
    let receipts_sent = 2 * (0..n).map(|i| u64::from(parts(i))).sum::<u64>();
    assert_eq!(s.matched + s.duplicates, receipts_sent, "{s:?}");
    assert_eq!((s.unmatched, s.held_early), (0, s.matched_early), "{s:?}");
    assert!(tr.poll_expired(t(30)).is_empty());
}

#[test]
fn concurrent_receipts_and_responses_all_match() {
    // Receipts often land before their responses, and a message's ENROUTE and DELIVRD on
    // different binds. The round is repeated on fresh trackers for up to two seconds, with
    // receipts at most 1 message ahead (receipt and response meet on the same message), 8 or
    // 64 (many held). The window between a receipt being held and its recheck is a few dozen
    // nanoseconds, too narrow for threads to hit reliably: every order of those steps is
    // checked one by one in `dlr::tests` (src/dlr/mod.rs).
    let start = std::time::Instant::now();
    let mut rounds = 0;
    while rounds < 6 || (rounds < 240 && start.elapsed() < Duration::from_secs(2)) {
        race_round(2_000, [1, 8, 64][rounds % 3]);
        rounds += 1;
    }
}

#[test]
fn memory_per_in_flight_part() {
    let (tr, c) = tracker(IdStyle::Hex, IdStyle::Decimal, ReceiptsFor::Any);
    let n = 100_000u64;
    for i in 0..n {
        let id = format!("{i:08X}");
        tr.on_submit_resp(
            c,
            id.as_bytes(),
            MessageRef::single(u128::from(i) << 64 | 7),
            t(30),
            t(0),
        )
        .unwrap();
    }
    let per = tr.memory_bytes() as f64 / n as f64;
    assert!(per < 300.0, "{per} bytes per in-flight part");
}

/// How a carrier may write a number.
#[derive(Clone, Copy, Debug)]
enum Style {
    Decimal,
    DecimalPadded,
    HexLower,
    HexUpper,
    HexPadded,
}

fn write(style: Style, v: u64) -> String {
    match style {
        Style::Decimal => v.to_string(),
        Style::DecimalPadded => format!("{v:020}"),
        Style::HexLower => format!("{v:x}"),
        Style::HexUpper => format!("{v:X}"),
        Style::HexPadded => format!("{v:016X}"),
    }
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        Just(Style::Decimal),
        Just(Style::DecimalPadded),
        Just(Style::HexLower),
        Just(Style::HexUpper),
        Just(Style::HexPadded),
    ]
}

proptest! {
    #[test]
    fn any_id_in_any_pair_of_styles_matches(v in any::<u64>(), a in style(), b in style(), early in any::<bool>()) {
        let (tr, c) = auto();
        let msg = MessageRef::single(u128::from(v) + 1);
        let (resp, rcpt) = (write(a, v), write(b, v));
        let m = if early {
            prop_assert_eq!(tr.on_receipt(c, rcpt.as_bytes(), DlrState::Delivered, None, t(1)), Match::Held);
            let got = tr.on_submit_resp(c, resp.as_bytes(), msg, t(30), t(1)).unwrap();
            prop_assert_eq!(got.len(), 1);
            got[0]
        } else {
            tr.on_submit_resp(c, resp.as_bytes(), msg, t(30), t(0)).unwrap();
            matched(tr.on_receipt(c, rcpt.as_bytes(), DlrState::Delivered, None, t(1)))
        };
        prop_assert_eq!(m.msg, msg);
        prop_assert_eq!(m.outcome, delivered());
    }
}
