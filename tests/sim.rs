//! The simulator end to end: real sockets on 127.0.0.1:0, an ESME built from the smpp crate's
//! codec, paused time wherever a timer matters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use gannet::sim::cli::{self, SimArgs};
use gannet::sim::{Fault, Mo, PersonaStats, SimConfig, Status};
use gannet_smpp::receipt::id_value;
use gannet_smpp::{Body, CommandStatus, DeliverSm, Pdu, ReceiptStat, parse_receipt};
use support::{Esme, Kind, persona, start, submit, submit_part};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn receipt_text(d: &DeliverSm) -> (String, ReceiptStat<'static>) {
    let r = parse_receipt(&d.short_message).expect("a receipt text");
    let stat = match r.stat.unwrap() {
        ReceiptStat::Other(_) => panic!("unknown stat"),
        s => to_static(s),
    };
    (String::from_utf8(r.id.unwrap().to_vec()).unwrap(), stat)
}

/// The known ReceiptStat variants borrow nothing; rebuild them as 'static.
fn to_static(s: ReceiptStat<'_>) -> ReceiptStat<'static> {
    match s {
        ReceiptStat::Enroute => ReceiptStat::Enroute,
        ReceiptStat::Delivered => ReceiptStat::Delivered,
        ReceiptStat::Expired => ReceiptStat::Expired,
        ReceiptStat::Deleted => ReceiptStat::Deleted,
        ReceiptStat::Undeliverable => ReceiptStat::Undeliverable,
        ReceiptStat::Accepted => ReceiptStat::Accepted,
        ReceiptStat::Unknown => ReceiptStat::Unknown,
        ReceiptStat::Rejected => ReceiptStat::Rejected,
        ReceiptStat::Skipped => ReceiptStat::Skipped,
        ReceiptStat::Other(_) => ReceiptStat::Unknown,
    }
}

// ---------------------------------------------------------------------------------------
// Binds

#[tokio::test]
async fn bind_checks_credentials_types_and_limits() {
    let sim = start(&persona(
        "    bind_types: [transceiver, receiver]\n    max_binds: 2\n",
    ))
    .await;
    let addr = sim.persona_addr("p");

    let (_, s) = Esme::bind_as(addr, Kind::Trx, "esme", "wrong").await;
    assert_eq!(s, CommandStatus::ESME_RINVPASWD);
    let (_, s) = Esme::bind_as(addr, Kind::Trx, "nobody", "pw").await;
    assert_eq!(s, CommandStatus::ESME_RINVSYSID);
    let (_, s) = Esme::bind_as(addr, Kind::Tx, "esme", "pw").await;
    assert_eq!(s, CommandStatus::ESME_RBINDFAIL, "transmitter not allowed");

    // The bind_resp names the SMSC and says 3.4.
    let mut a = Esme::connect(addr).await;
    let resp = a
        .call(Body::BindTransceiver(gannet_smpp::Bind::new(
            &b"esme"[..],
            &b"pw"[..],
        )))
        .await;
    match resp.body {
        Body::BindTransceiverResp(Some(r)) => {
            assert_eq!(&r.system_id[..], b"p");
            assert_eq!(r.sc_interface_version(), Some(0x34));
        }
        other => panic!("{other:?}"),
    }
    let _b = Esme::bound(addr, Kind::Rx).await;
    let (_, s) = Esme::bind_as(addr, Kind::Trx, "esme", "pw").await;
    assert_eq!(
        s,
        CommandStatus::ESME_RALYBND,
        "third bind over max_binds 2"
    );
    assert_eq!(
        a.bind(Kind::Trx, "esme", "pw").await,
        CommandStatus::ESME_RALYBND
    );

    let stats = sim.stats("p").unwrap();
    assert_eq!(stats.binds, 2);
    assert_eq!(stats.binds_active, 2);
    assert_eq!(stats.bind_failures["ESME_RINVPASWD"], 1);
    assert_eq!(stats.bind_failures["ESME_RALYBND"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn submits_need_a_transmitting_bind() {
    let sim = start(&persona("")).await;
    let addr = sim.persona_addr("p");
    let mut open = Esme::connect(addr).await;
    let (s, _) = open.submit(submit("4477", "hi", 0)).await;
    assert_eq!(s, CommandStatus::ESME_RINVBNDSTS, "not bound");
    let mut rx = Esme::bound(addr, Kind::Rx).await;
    let (s, _) = rx.submit(submit("4477", "hi", 0)).await;
    assert_eq!(s, CommandStatus::ESME_RINVBNDSTS, "receiver");
    let mut tx = Esme::bound(addr, Kind::Tx).await;
    let (s, id) = tx.submit(submit("4477", "hi", 0)).await;
    assert_eq!((s, id.as_str()), (CommandStatus::ESME_ROK, "1"));
    // enquire_link and unbind.
    assert!(tx.call(Body::EnquireLink).await.command_status.is_ok());
    let r = tx.call(Body::Unbind).await;
    assert_eq!(r.command_id(), gannet_smpp::CommandId::UNBIND_RESP);
    assert!(tx.read().await.is_none(), "closed after unbind");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Limits and latency

#[tokio::test(start_paused = true)]
async fn window_limit_answers_queue_full() {
    let sim = start(&persona("    window: 2\n    resp_latency: 1s\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    let t0 = Instant::now();
    let seqs = [
        e.send(submit("4477", "a", 0)).await,
        e.send(submit("4477", "b", 0)).await,
        e.send(submit("4477", "c", 0)).await,
    ];
    let third = e.response_to(seqs[2]).await;
    assert_eq!(third.command_status, CommandStatus::ESME_RMSGQFUL);
    assert_eq!(t0.elapsed(), Duration::ZERO, "refused at once");
    for seq in &seqs[..2] {
        assert!(e.response_to(*seq).await.command_status.is_ok());
    }
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    // The window is free again.
    let (s, _) = e.submit(submit("4477", "d", 0)).await;
    assert!(s.is_ok());
    let stats = sim.stats("p").unwrap();
    assert_eq!(stats.window_full, 1);
    assert_eq!(stats.resps_with(CommandStatus::ESME_ROK), 3);
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn tps_throttles_segments() {
    let sim = start(&persona("    tps: 10\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    let mut ok = 0;
    let mut throttled = 0;
    for i in 0..15 {
        // Parts of a concatenated message count one each.
        let body = if i < 3 {
            submit_part("4477", "part", 1, 3, i + 1, 0)
        } else {
            submit("4477", "x", 0)
        };
        match e.submit(body).await.0 {
            CommandStatus::ESME_ROK => ok += 1,
            CommandStatus::ESME_RTHROTTLED => throttled += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((ok, throttled), (10, 5));
    tokio::time::advance(Duration::from_millis(500)).await;
    let mut ok = 0;
    for _ in 0..10 {
        ok += usize::from(e.submit(submit("4477", "x", 0)).await.0.is_ok());
    }
    assert_eq!(ok, 5, "five tokens back after 500ms");
    let stats = sim.stats("p").unwrap();
    assert_eq!(stats.throttled, 10);
    assert_eq!(stats.segments, 15);
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn response_latency_follows_the_distribution() {
    let sim = start(&persona("    resp_latency: 250ms\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    let t0 = Instant::now();
    assert!(e.submit(submit("4477", "x", 0)).await.0.is_ok());
    assert_eq!(t0.elapsed(), Duration::from_millis(250));
    sim.shutdown().await;

    let sim = start(&persona("    resp_latency: { min: 100ms, max: 200ms }\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    for _ in 0..20 {
        let t0 = Instant::now();
        assert!(e.submit(submit("4477", "x", 0)).await.0.is_ok());
        let dt = t0.elapsed();
        assert!(
            dt >= Duration::from_millis(100) && dt <= Duration::from_millis(201),
            "{dt:?}"
        );
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Outcomes and receipts

const HONDURAS: &str = "    receipts: { window: 100000 }
    outcomes:
      - { prefix: \"504\", delivered: 55, undeliverable: 20, expired: 12, rejected: 3, no_receipt: 10 }
      - { prefix: \"\", delivered: 1 }
";

/// Submits `n` messages to Honduras and counts final receipts by stat.
async fn honduras_run(seed: u64, n: usize) -> (Vec<String>, [usize; 4]) {
    let yaml = persona(HONDURAS).replace("seed: 7", &format!("seed: {seed}"));
    let sim = start(&yaml).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let (s, id) = e
            .submit(submit("50499887766", &format!("code {i}"), 1))
            .await;
        assert!(s.is_ok());
        ids.push(id);
    }
    // Every receipt is due at once (zero delay) and is sent in the batch of its submit.
    let stats = sim.stats("p").unwrap();
    let expected = stats.receipts_total() as usize;
    let mut counts = [0usize; 4];
    for _ in 0..expected {
        let d = e.deliver().await;
        let (_, stat) = receipt_text(&d);
        let k = match stat {
            ReceiptStat::Delivered => 0,
            ReceiptStat::Undeliverable => 1,
            ReceiptStat::Expired => 2,
            ReceiptStat::Rejected => 3,
            other => panic!("{other:?}"),
        };
        counts[k] += 1;
    }
    assert_eq!(stats.receipts_with("DELIVRD") as usize, counts[0]);
    sim.shutdown().await;
    (ids, counts)
}

#[tokio::test]
async fn outcomes_by_prefix_are_reproducible_under_a_seed() {
    let (ids_a, a) = honduras_run(42, 200).await;
    let (ids_b, b) = honduras_run(42, 200).await;
    assert_eq!(a, b, "same seed, same outcomes");
    assert_eq!(ids_a, ids_b);
    assert_eq!(
        a, EXPECTED_SEED_42,
        "pinned counts for seed 42 over 200 messages"
    );
    let (_, c) = honduras_run(43, 200).await;
    assert_ne!(a, c, "another seed, other outcomes");
}

/// delivered, undeliverable, expired, rejected for seed 42, 200 messages to +504.
const EXPECTED_SEED_42: [usize; 4] = [102, 48, 26, 6];

#[tokio::test]
async fn outcome_rates_match_the_weights() {
    let (_, c) = honduras_run(9, 2000).await;
    let pct = |x: usize| x as f64 / 20.0;
    assert!((pct(c[0]) - 55.0).abs() < 4.0, "{c:?}");
    assert!((pct(c[1]) - 20.0).abs() < 3.0, "{c:?}");
    assert!((pct(c[2]) - 12.0).abs() < 3.0, "{c:?}");
    assert!((pct(c[3]) - 3.0).abs() < 1.5, "{c:?}");
    let none = 2000 - c.iter().sum::<usize>();
    assert!((pct(none) - 10.0).abs() < 3.0, "no receipt: {none}");
}

#[tokio::test]
async fn longest_prefix_decides() {
    let sim = start(&persona(
        "    outcomes:
      - { prefix: \"5\", undeliverable: 1 }
      - { prefix: \"504\", expired: 1 }
",
    ))
    .await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    for (to, want) in [
        ("50499887766", ReceiptStat::Expired),
        ("5215512345678", ReceiptStat::Undeliverable),
        ("447700900123", ReceiptStat::Delivered),
    ] {
        e.submit(submit(to, "x", 1)).await;
        let d = e.deliver().await;
        assert_eq!(receipt_text(&d).1, want, "{to}");
        assert_eq!(&d.source_addr.addr[..], to.as_bytes(), "from the handset");
        assert_eq!(&d.destination_addr.addr[..], b"Gannet", "to the sender");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn registered_delivery_decides_whether_a_receipt_is_sent() {
    let sim = start(&persona(
        "    outcomes: [{ prefix: \"504\", undeliverable: 1 }]\n",
    ))
    .await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    e.submit(submit("4477", "none asked", 0)).await;
    e.submit(submit("4477", "failure only, delivered", 2)).await;
    e.submit(submit("504", "failure only, failed", 2)).await;
    let d = e.deliver().await;
    assert_eq!(receipt_text(&d).1, ReceiptStat::Undeliverable);
    assert_eq!(sim.stats("p").unwrap().receipts_total(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn receipts_as_text_tlv_or_both() {
    for (format, text, tlv) in [
        ("text", true, false),
        ("tlv", false, true),
        ("both", true, true),
    ] {
        let sim = start(&persona(&format!(
            "    receipts: {{ format: {format} }}\n    outcomes: [{{ prefix: \"\", undeliverable: 1, err: {{ undeliverable: 34 }} }}]\n"
        )))
        .await;
        let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
        let (_, id) = e.submit(submit("4477", "Your code is 123456", 1)).await;
        let d = e.deliver().await;
        assert!(d.is_receipt(), "esm_class 0x04");
        if text {
            let r = parse_receipt(&d.short_message).unwrap();
            assert_eq!(r.id, Some(id.as_bytes()));
            assert_eq!(r.stat, Some(ReceiptStat::Undeliverable));
            assert_eq!(r.err_code(), Some(34));
            assert_eq!(r.sub, Some(&b"001"[..]));
            assert_eq!(r.dlvrd, Some(&b"000"[..]));
            assert!(r.submit_date.is_some() && r.done_date.is_some());
            assert_eq!(r.text, Some(&b"Your code is 123456"[..]));
        } else {
            assert!(d.short_message.is_empty());
        }
        if tlv {
            assert_eq!(d.receipted_message_id(), Some(id.as_bytes()));
            assert_eq!(d.message_state().map(|s| s.0), Some(5));
            assert_eq!(d.network_error_code(), Some((3, 34)));
        } else {
            assert_eq!(d.receipted_message_id(), None);
        }
        sim.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn intermediate_receipts_come_before_the_final_one() {
    let sim = start(&persona(
        "    receipts: { intermediate: [ENROUTE, ACCEPTD] }\n    outcomes: [{ prefix: \"\", delivered: 1, delay: 9s }]\n",
    ))
    .await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    let t0 = Instant::now();
    e.submit(submit("4477", "x", 1)).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let d = e.deliver().await;
        seen.push((receipt_text(&d).1, t0.elapsed().as_secs()));
    }
    assert_eq!(
        seen,
        vec![
            (ReceiptStat::Enroute, 3),
            (ReceiptStat::Accepted, 6),
            (ReceiptStat::Delivered, 9)
        ]
    );
    let stats = sim.stats("p").unwrap();
    assert_eq!(stats.receipts_with("ENROUTE"), 1);
    assert_eq!(stats.receipts_with("DELIVRD"), 1);
    assert_eq!(stats.receipts_scheduled, 0);
    sim.shutdown().await;
}

async fn multipart_receipt_ids(mode: &str) -> (Vec<String>, Vec<String>) {
    let sim = start(&persona(&format!(
        "    receipts: {{ multipart: {mode} }}\n"
    )))
    .await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    let mut ids = Vec::new();
    for seq in 1..=3 {
        ids.push(e.submit(submit_part("4477", "part ", 9, 3, seq, 1)).await.1);
    }
    let n = sim.stats("p").unwrap().receipts_total();
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(receipt_text(&e.deliver().await).0);
    }
    let received = sim.received("p").unwrap();
    assert_eq!(received.len(), 1, "one message");
    assert_eq!(received[0].segments, 3);
    assert_eq!(received[0].text, "part part part ");
    assert_eq!(received[0].message_ids, ids);
    sim.shutdown().await;
    (ids, got)
}

#[tokio::test]
async fn multipart_receipts_first_last_or_every_part() {
    let (ids, got) = multipart_receipt_ids("every").await;
    assert_eq!(got, ids);
    let (ids, got) = multipart_receipt_ids("first").await;
    assert_eq!(got, vec![ids[0].clone()]);
    let (ids, got) = multipart_receipt_ids("last").await;
    assert_eq!(got, vec![ids[2].clone()]);
}

#[tokio::test]
async fn sar_parts_count_as_one_message() {
    let sim = start(&persona("")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    for seq in 1..=2u8 {
        let mut sm = support::sms("4477", if seq == 1 { "Hel" } else { "lo" }, 0);
        sm.tlvs.push(gannet_smpp::Tlv::u16(
            gannet_smpp::TlvTag::SAR_MSG_REF_NUM,
            300,
        ));
        sm.tlvs.push(gannet_smpp::Tlv::u8(
            gannet_smpp::TlvTag::SAR_TOTAL_SEGMENTS,
            2,
        ));
        sm.tlvs.push(gannet_smpp::Tlv::u8(
            gannet_smpp::TlvTag::SAR_SEGMENT_SEQNUM,
            seq,
        ));
        assert!(e.submit(Body::SubmitSm(sm)).await.0.is_ok());
    }
    let r = sim.received("p").unwrap();
    assert_eq!(
        (r.len(), r[0].text.as_str(), r[0].segments),
        (1, "Hello", 2)
    );
    let s = sim.stats("p").unwrap();
    assert_eq!((s.segments, s.messages), (2, 1));
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Message ids

async fn ids_with(message_ids: &str) -> (String, String) {
    let sim = start(&persona(&format!("    message_ids: {message_ids}\n"))).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    let (_, id) = e.submit(submit("4477", "x", 1)).await;
    let (rid, _) = receipt_text(&e.deliver().await);
    sim.shutdown().await;
    (id, rid)
}

#[tokio::test]
async fn id_styles() {
    assert_eq!(ids_with("{ first: 1234 }").await.0, "1234");
    assert_eq!(
        ids_with("{ first: 42, format: { width: 10 } }").await.0,
        "0000000042"
    );
    assert_eq!(
        ids_with("{ first: 2591, format: { style: hex } }").await.0,
        "a1f"
    );
    assert_eq!(
        ids_with("{ first: 2591, format: { style: hex, case: upper, width: 8 } }")
            .await
            .0,
        "00000A1F"
    );
    let (uuid, rid) = ids_with("{ format: { style: uuid } }").await;
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
    assert_eq!(uuid, rid);
    let (upper, _) = ids_with("{ format: { style: uuid, case: upper } }").await;
    assert_eq!(upper, uuid.to_uppercase(), "same seed, same uuid");
}

#[tokio::test]
async fn receipt_id_in_another_style_names_the_same_number() {
    let (id, rid) = ids_with(
        "{ first: 8338076, format: { style: hex, width: 10, case: upper }, receipt_format: { style: decimal } }",
    )
    .await;
    assert_eq!(id, "00007F3A9C");
    assert_eq!(rid, "8338076");
    assert_eq!(id_value(id.as_bytes(), 16), id_value(rid.as_bytes(), 10));
}

// ---------------------------------------------------------------------------------------
// Receipts and binds

#[tokio::test]
async fn receipts_wait_for_a_receiver_and_go_to_any_bind_of_the_account() {
    let sim = start(&persona("")).await;
    let addr = sim.persona_addr("p");
    let mut tx = Esme::bound(addr, Kind::Tx).await;
    let (_, id) = tx.submit(submit("4477", "x", 1)).await;
    let (_, id2) = tx.submit(submit("4477", "y", 1)).await;
    let s = sim.stats("p").unwrap();
    assert_eq!(s.receipts_queued, 2);
    let mut rx = Esme::bound(addr, Kind::Rx).await;
    assert_eq!(receipt_text(&rx.deliver().await).0, id);
    assert_eq!(receipt_text(&rx.deliver().await).0, id2);
    // Now a receiver is there: the next receipt goes straight to it.
    let (_, id3) = tx.submit(submit("4477", "z", 1)).await;
    assert_eq!(receipt_text(&rx.deliver().await).0, id3);
    assert_eq!(sim.stats("p").unwrap().receipts_queued, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_receipt_queue_is_bounded() {
    let sim = start(&persona("    receipts: { queue_capacity: 2 }\n")).await;
    let mut tx = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    for i in 0..5 {
        tx.submit(submit("4477", &format!("{i}"), 1)).await;
    }
    let s = sim.stats("p").unwrap();
    assert_eq!((s.receipts_queued, s.receipts_dropped), (2, 3));
    sim.shutdown().await;

    // So is the wheel of receipts waiting for their time.
    let sim = start(&persona(
        "    receipts: { max_scheduled: 2 }\n    outcomes: [{ prefix: \"\", delivered: 1, delay: 1h }]\n",
    ))
    .await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    for i in 0..3 {
        e.submit(submit("4477", &format!("{i}"), 1)).await;
    }
    let s = sim.stats("p").unwrap();
    assert_eq!((s.receipts_scheduled, s.receipts_dropped), (2, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn unacknowledged_receipts_are_redelivered_on_another_bind() {
    let sim = start(&persona("")).await;
    let addr = sim.persona_addr("p");
    let mut a = Esme::bound(addr, Kind::Trx).await;
    let (_, id) = a.submit(submit("4477", "x", 1)).await;
    // Read the receipt but never answer it, then go away.
    loop {
        if let Body::DeliverSm(_) = a.next().await.unwrap().body {
            break;
        }
    }
    drop(a);
    let mut b = Esme::bound(addr, Kind::Rx).await;
    assert_eq!(receipt_text(&b.deliver().await).0, id);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn drop_responses_still_accepts_and_reports() {
    let sim = start(&persona("    faults: { drop_responses: 1.0 }\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    e.send(submit("4477", "x", 1)).await;
    let d = e.deliver().await;
    assert_eq!(
        receipt_text(&d).0,
        "1",
        "the message got an id and a receipt"
    );
    let s = sim.stats("p").unwrap();
    assert_eq!((s.dropped_resps, s.segments), (1, 1));
    assert!(s.resps.is_empty());
    sim.fault("p", Fault::DropResponses { ratio: 0.0 }).unwrap();
    assert!(e.submit(submit("4477", "y", 0)).await.0.is_ok());
    sim.shutdown().await;
}

#[tokio::test]
async fn receipt_before_response_on_the_same_bind() {
    let sim = start(&persona("")).await;
    sim.fault("p", Fault::ReceiptBeforeResponse { enabled: true })
        .unwrap();
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    let seq = e.send(submit("4477", "x", 1)).await;
    let first = e.read().await.unwrap();
    assert!(matches!(first.body, Body::DeliverSm(_)), "{first:?}");
    let resp = e.read().await.unwrap();
    assert_eq!(resp.sequence_number, seq);
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn receipt_before_response_across_binds() {
    let sim = start(&persona("    faults: { receipt_before_response: true }\n")).await;
    let addr = sim.persona_addr("p");
    let mut rx = Esme::bound(addr, Kind::Rx).await;
    let mut tx = Esme::bound(addr, Kind::Tx).await;
    let seq = tx.send(submit("4477", "x", 1)).await;
    let d = rx.deliver().await;
    let received_at = Instant::now();
    let resp = tx.response_to(seq).await;
    assert!(
        Instant::now() > received_at,
        "response held until after the receipt"
    );
    let Body::SubmitSmResp(Some(r)) = resp.body else {
        panic!()
    };
    assert_eq!(receipt_text(&d).0.as_bytes(), &r.message_id[..]);
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicate_receipts() {
    let sim = start(&persona("    faults: { duplicate_receipts: 1.0 }\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    let (_, id) = e.submit(submit("4477", "x", 1)).await;
    assert_eq!(receipt_text(&e.deliver().await).0, id);
    assert_eq!(receipt_text(&e.deliver().await).0, id);
    let s = sim.stats("p").unwrap();
    assert_eq!((s.duplicate_receipts, s.receipts_with("DELIVRD")), (1, 2));
    sim.shutdown().await;
}

#[tokio::test]
async fn forced_unbind_and_reset_on_command() {
    let sim = start(&persona("")).await;
    let addr = sim.persona_addr("p");
    let mut e = Esme::bound(addr, Kind::Trx).await;
    sim.fault("p", Fault::Unbind).unwrap();
    let u = e.read().await.unwrap();
    assert_eq!(u.command_id(), gannet_smpp::CommandId::UNBIND);
    e.send_pdu(Pdu::new(u.sequence_number, Body::UnbindResp))
        .await;
    assert!(e.read().await.is_none(), "closed after unbind_resp");

    let e = Esme::bound(addr, Kind::Trx).await;
    sim.fault("p", Fault::Reset).unwrap();
    let mut stream = e.into_stream();
    let mut buf = [0u8; 16];
    let err = stream
        .read(&mut buf)
        .await
        .expect_err("a reset, not a clean close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    let s = sim.stats("p").unwrap();
    assert_eq!((s.forced_unbinds, s.forced_resets), (1, 1));
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn forced_unbind_at_intervals() {
    let sim = start(&persona("    faults: { unbind_every: 10s }\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    let t0 = Instant::now();
    let u = e.read().await.unwrap();
    assert_eq!(u.command_id(), gannet_smpp::CommandId::UNBIND);
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    // Not answering: closed after the grace period.
    assert!(e.read().await.is_none());
    sim.fault("p", Fault::UnbindEvery { every: None }).unwrap();
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn ignore_enquire_link() {
    let sim = start(&persona("")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    sim.fault("p", Fault::IgnoreEnquireLink { enabled: true })
        .unwrap();
    e.send(Body::EnquireLink).await;
    let silent = tokio::time::timeout(Duration::from_secs(30), e.read()).await;
    assert!(silent.is_err(), "no enquire_link_resp");
    sim.fault("p", Fault::IgnoreEnquireLink { enabled: false })
        .unwrap();
    assert!(e.call(Body::EnquireLink).await.command_status.is_ok());
    assert_eq!(sim.stats("p").unwrap().enquire_links, 2);
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn refuse_binds_for_a_while() {
    let sim = start(&persona("    faults: { refuse_binds_for: 5s }\n")).await;
    let addr = sim.persona_addr("p");
    let (_, s) = Esme::bind_as(addr, Kind::Trx, "esme", "pw").await;
    assert_eq!(s, CommandStatus::ESME_RBINDFAIL);
    tokio::time::advance(Duration::from_secs(5)).await;
    let (_, s) = Esme::bind_as(addr, Kind::Trx, "esme", "pw").await;
    assert!(s.is_ok());
    sim.fault(
        "p",
        Fault::RefuseBinds {
            duration: Duration::from_secs(60),
            status: Some(Status(CommandStatus::ESME_RSYSERR)),
        },
    )
    .unwrap();
    let (_, s) = Esme::bind_as(addr, Kind::Trx, "esme", "pw").await;
    assert_eq!(s, CommandStatus::ESME_RSYSERR);
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn slow_down_adds_latency() {
    let sim = start(&persona("    resp_latency: 100ms\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    sim.fault(
        "p",
        Fault::SlowDown {
            extra: Duration::from_secs(2),
        },
    )
    .unwrap();
    let t0 = Instant::now();
    assert!(e.submit(submit("4477", "x", 0)).await.0.is_ok());
    assert_eq!(t0.elapsed(), Duration::from_millis(2100));
    sim.fault("p", Fault::Clear).unwrap();
    let t0 = Instant::now();
    e.submit(submit("4477", "x", 0)).await;
    assert_eq!(t0.elapsed(), Duration::from_millis(100));
    sim.shutdown().await;
}

#[tokio::test]
async fn reject_all_submits_with_a_status() {
    let sim = start(&persona("    faults: { reject_submits: ESME_RSYSERR }\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    let (s, id) = e.submit(submit("4477", "x", 1)).await;
    assert_eq!((s, id.as_str()), (CommandStatus::ESME_RSYSERR, ""));
    sim.fault(
        "p",
        Fault::RejectSubmits {
            status: Some(Status(CommandStatus(0x0401))),
        },
    )
    .unwrap();
    assert_eq!(
        e.submit(submit("4477", "x", 1)).await.0,
        CommandStatus(0x0401)
    );
    sim.fault("p", Fault::RejectSubmits { status: None })
        .unwrap();
    assert!(e.submit(submit("4477", "x", 1)).await.0.is_ok());
    assert!(
        sim.fault(
            "p",
            Fault::RejectSubmits {
                status: Some(Status(CommandStatus::ESME_ROK))
            }
        )
        .is_err()
    );
    let s = sim.stats("p").unwrap();
    assert_eq!(s.resps_with(CommandStatus::ESME_RSYSERR), 1);
    assert_eq!(s.segments, 1);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// MO

#[tokio::test]
async fn mo_on_command_waits_for_a_receiver() {
    let sim = start(&persona("")).await;
    let mo = |text: &str| Mo {
        from: "+50499887766".into(),
        to: "Gannet".into(),
        text: text.into(),
        system_id: None,
    };
    sim.inject_mo("p", mo("STOP")).unwrap();
    assert_eq!(sim.stats("p").unwrap().receipts_queued, 1);
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    let d = e.deliver().await;
    assert_eq!(d.esm_class, 0, "a mobile-originated message, not a receipt");
    assert_eq!(&d.short_message[..], b"STOP");
    assert_eq!(&d.source_addr.addr[..], b"50499887766");
    assert_eq!((d.source_addr.ton, d.source_addr.npi), (1, 1));
    sim.inject_mo("p", mo("Sí, gracias")).unwrap();
    let d = e.deliver().await;
    assert_eq!(d.data_coding, 8, "í is not in GSM 03.38: UCS-2");
    let text: Vec<u16> = d
        .short_message
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    assert_eq!(String::from_utf16(&text).unwrap(), "Sí, gracias");
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn mo_at_a_rate() {
    let sim = start(&persona(
        "    mo: { every: 5s, from: [\"+5215512345678\"], to: \"12345\", texts: [YES, STOP] }\n",
    ))
    .await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Rx).await;
    let t0 = Instant::now();
    let mut texts = Vec::new();
    for _ in 0..4 {
        let d = e.deliver().await;
        assert_eq!(&d.destination_addr.addr[..], b"12345");
        texts.push(String::from_utf8(d.short_message.to_vec()).unwrap());
    }
    assert_eq!(t0.elapsed(), Duration::from_secs(20));
    assert!(texts.iter().all(|t| t == "YES" || t == "STOP"), "{texts:?}");
    assert_eq!(sim.stats("p").unwrap().mo_sent, 4);
    assert!(
        sim.inject_mo(
            "p",
            Mo {
                from: String::new(),
                to: "1".into(),
                text: "x".into(),
                system_id: None
            }
        )
        .is_err()
    );
    assert!(
        sim.inject_mo(
            "p",
            Mo {
                from: "1".into(),
                to: "1".into(),
                text: "x".into(),
                system_id: Some("nobody".into())
            }
        )
        .is_err()
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Received log, duplicates, reset

#[tokio::test]
async fn received_log_and_duplicates() {
    let sim = start(&persona("    received_capacity: 3\n")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    let mut ucs2 = support::sms("4477", "", 0);
    ucs2.data_coding = 8;
    ucs2.short_message = Bytes::from(
        "Привет"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>(),
    );
    e.submit(Body::SubmitSm(ucs2)).await;
    e.submit(submit("4477", "code 1", 0)).await;
    e.submit(submit("4478", "code 1", 0)).await;
    e.submit(submit("4477", "code 1", 0)).await;
    let r = sim.received("p").unwrap();
    assert_eq!(r.len(), 3, "bounded");
    assert_eq!(r[0].text, "code 1");
    assert_eq!(r[0].seen, 2);
    assert_eq!(r[1].seen, 1);
    assert_eq!(
        (r[2].destination.as_str(), r[2].source.as_str()),
        ("4477", "Gannet")
    );
    assert_eq!(r[2].message_ids, vec!["4"]);
    assert_eq!(r[2].system_id, "esme");
    let s = sim.stats("p").unwrap();
    assert_eq!(
        (s.submits, s.segments, s.messages, s.duplicates),
        (4, 4, 4, 1)
    );
    assert_eq!(sim.received_last("p", 1).unwrap().len(), 1);

    sim.reset();
    assert_eq!(
        sim.stats("p").unwrap(),
        PersonaStats {
            binds_active: 1,
            ..PersonaStats::default()
        }
    );
    assert!(sim.received("p").unwrap().is_empty());
    let (_, id) = e.submit(submit("4477", "again", 0)).await;
    assert_eq!(id, "1", "numbering starts over");
    sim.shutdown().await;
}

#[tokio::test]
async fn ucs2_text_is_decoded() {
    let sim = start(&persona("")).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Tx).await;
    let mut sm = support::sms("4477", "", 0);
    sm.data_coding = 8;
    sm.short_message = Bytes::from(
        "Привет"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>(),
    );
    e.submit(Body::SubmitSm(sm)).await;
    assert_eq!(sim.received("p").unwrap()[0].text, "Привет");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Malformed input

#[tokio::test]
async fn malformed_pdus_get_an_error_never_a_panic() {
    let sim = start(&persona("")).await;
    let addr = sim.persona_addr("p");
    let mut e = Esme::bound(addr, Kind::Tx).await;
    // Unknown command id.
    e.send_raw(&[0, 0, 0, 16, 0, 0, 0x09, 0x99, 0, 0, 0, 0, 0, 0, 0, 77])
        .await;
    let n = e.read().await.unwrap();
    assert_eq!(
        (n.command_id(), n.command_status, n.sequence_number),
        (
            gannet_smpp::CommandId::GENERIC_NACK,
            CommandStatus::ESME_RINVCMDID,
            77
        )
    );
    // A submit_sm cut short: its own response with the reason.
    e.send_raw(&[
        0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 78, 0, 1, 1, b'4',
    ])
    .await;
    let r = e.read().await.unwrap();
    assert_eq!(
        (r.command_id(), r.sequence_number),
        (gannet_smpp::CommandId::SUBMIT_SM_RESP, 78)
    );
    assert!(!r.command_status.is_ok());
    // Still usable.
    assert!(e.submit(submit("4477", "x", 0)).await.0.is_ok());
    // A command_length under 16: generic_nack ESME_RINVCMDLEN, then closed.
    e.send_raw(&[0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 79])
        .await;
    let n = e.read().await.unwrap();
    assert_eq!(
        (n.command_status, n.sequence_number),
        (CommandStatus::ESME_RINVCMDLEN, 79)
    );
    assert!(e.read().await.is_none());
    let s = sim.stats("p").unwrap();
    assert_eq!(s.generic_nacks, 2);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Control API

async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: sim\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let status: u16 = text[9..12].parse().unwrap();
    let json = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        status,
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

async fn serve(sim: &gannet::sim::SimHandle) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[tokio::test]
async fn control_api() {
    let sim = start(&persona("")).await;
    let api = serve(&sim).await;
    let mut e = Esme::bound(sim.persona_addr("p"), Kind::Trx).await;
    e.submit(submit("4477", "hello", 0)).await;

    let (code, v) = http(api, "GET", "/personas", None).await;
    assert_eq!(code, 200);
    assert_eq!(v[0]["name"], "p");
    assert_eq!(v[0]["binds_active"], 1);
    assert_eq!(v[0]["addr"], sim.persona_addr("p").to_string());

    let (code, v) = http(api, "GET", "/personas/p/stats", None).await;
    assert_eq!(code, 200);
    let stats: PersonaStats = serde_json::from_value(v).unwrap();
    assert_eq!(stats.segments, 1);
    assert_eq!(stats.resps["ESME_ROK"], 1);

    let (code, v) = http(api, "GET", "/personas/p/received?limit=5", None).await;
    assert_eq!(code, 200);
    assert_eq!(v[0]["text"], "hello");
    assert_eq!(v[0]["message_ids"][0], "1");
    let (code, v) = http(api, "GET", "/personas/p/received?limit=x", None).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].is_string());

    let (code, _) = http(
        api,
        "POST",
        "/personas/p/faults",
        Some(r#"{"fault":"reject_submits","status":"ESME_RTHROTTLED"}"#),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        e.submit(submit("4477", "x", 0)).await.0,
        CommandStatus::ESME_RTHROTTLED
    );
    let (code, v) = http(
        api,
        "POST",
        "/personas/p/faults",
        Some(r#"{"fault":"explode"}"#),
    )
    .await;
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("explode"), "{v}");
    let (code, v) = http(
        api,
        "POST",
        "/personas/p/faults",
        Some(r#"{"fault":"drop_responses","ratio":7}"#),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = http(
        api,
        "POST",
        "/personas/nope/faults",
        Some(r#"{"fault":"clear"}"#),
    )
    .await;
    assert_eq!(code, 404);
    assert!(v["error"].as_str().unwrap().contains("nope"));
    let (code, _) = http(api, "GET", "/personas/nope/stats", None).await;
    assert_eq!(code, 404);
    let (code, v) = http(api, "GET", "/nowhere", None).await;
    assert_eq!((code, v["error"].is_string()), (404, true));
    let (code, v) = http(api, "GET", "/reset", None).await;
    assert_eq!((code, v["error"].is_string()), (405, true));

    let (code, _) = http(
        api,
        "POST",
        "/personas/p/mo",
        Some(r#"{"from":"+447700900123","to":"Gannet","text":"YES"}"#),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(&e.deliver().await.short_message[..], b"YES");
    let (code, _) = http(api, "POST", "/personas/p/mo", Some(r#"{"from":"+1"}"#)).await;
    assert_eq!(code, 400);

    let (code, _) = http(api, "POST", "/reset", None).await;
    assert_eq!(code, 200);
    let (_, v) = http(api, "GET", "/personas/p/stats", None).await;
    assert_eq!(v["segments"], 0);
    assert_eq!(v["binds_active"], 1);
    assert!(
        e.submit(submit("4477", "x", 0)).await.0.is_ok(),
        "faults cleared by reset"
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Config and CLI

#[test]
fn config_errors_name_file_line_and_key() {
    let bad = |yaml: &str| SimConfig::parse(Path::new("bad.yaml"), yaml).unwrap_err();
    let e = bad(&persona("    outcomes:\n      - { prefix: \"504\" }\n"));
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(7), Some("personas[p].outcomes[0]")),
        "{e}"
    );
    assert!(e.message.contains("sum"), "{e}");
    assert!(e.to_string().starts_with("bad.yaml:7:"), "{e}");

    let e = bad(&persona("    windw: 3\n"));
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.message.contains("windw"), "{e}");

    let e = bad(&persona("    resp_latency: { min: 2s, max: 1s }\n"));
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(6), Some("personas[p].resp_latency")),
        "{e}"
    );

    let e = bad(&persona(
        "    outcomes: [{ prefix: \"1\", delivered: 1, delay: { median: 5s, p99: 1s } }]\n",
    ));
    assert_eq!(
        e.key.as_deref(),
        Some("personas[p].outcomes[0].delay"),
        "{e}"
    );

    let two = format!(
        "{}  - name: q\n    listen: 127.0.0.1:2775\n    accounts: [{{ system_id: a, password: b }}]\n  - name: r\n    listen: 127.0.0.1:2775\n    accounts: [{{ system_id: a, password: b }}]\n",
        persona("")
    );
    let e = bad(&two);
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(10), Some("personas[r].listen")),
        "{e}"
    );

    let e = bad(&persona("    faults: { drop_responses: 1.5 }\n"));
    assert_eq!(
        e.key.as_deref(),
        Some("personas[p].faults.drop_responses"),
        "{e}"
    );
    let e = bad(&persona("    faults: { reject_submits: ESME_NOPE }\n"));
    assert!(e.message.contains("ESME_NOPE"), "{e}");
    let e = bad(&persona("    accounts: []\n")
        .replace("    accounts: [{ system_id: esme, password: pw }]\n", ""));
    assert_eq!(e.key.as_deref(), Some("personas[p].accounts"), "{e}");
    let e = bad(&persona(
        "    mo: { every: 1s, from: [\"1\"], to: \"2\", texts: [x], system_id: zz }\n",
    ));
    assert_eq!(e.key.as_deref(), Some("personas[p].mo.system_id"), "{e}");
}

#[test]
fn example_sim_yaml_loads_and_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim.yaml");
    let c = SimConfig::load(&path).unwrap();
    let names: Vec<_> = c.personas.iter().map(|p| p.name.value.as_str()).collect();
    assert_eq!(
        names,
        [
            "mno-in-jio",
            "mno-mx-telcel",
            "mno-us-tmo",
            "agg-global",
            "mno-in-airtel",
            "mno-uk-vodafone",
            "mno-de-telekom",
            "agg-latam"
        ]
    );
    let builtin = SimConfig::example().unwrap();
    assert_eq!(builtin.personas.len(), 8);
}

#[tokio::test]
async fn the_example_world_runs() {
    let sim = gannet::sim::Sim::start(SimConfig::example().unwrap().ephemeral())
        .await
        .unwrap();
    let mut e = Esme::connect(sim.persona_addr("agg-global")).await;
    assert!(e.bind(Kind::Trx, "gannet", "agg2024").await.is_ok());
    // Honduras through the aggregator, lowercase hex ids.
    let (s, id) = e
        .submit(submit("50499887766", "Your code is 1234", 1))
        .await;
    assert!(s.is_ok());
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cli_starts_from_the_example_config() {
    let token = CancellationToken::new();
    let args = SimArgs {
        ephemeral: true,
        control: Some("127.0.0.1:0".parse().unwrap()),
        seed: Some(5),
        ..SimArgs::default()
    };
    let running = cli::start(args, token.clone()).await.unwrap();
    let api = running.control.unwrap();
    let (code, v) = http(api, "GET", "/personas", None).await;
    assert_eq!(code, 200);
    assert_eq!(v.as_array().unwrap().len(), 8);
    let jio: std::net::SocketAddr = v[0]["addr"].as_str().unwrap().parse().unwrap();
    let mut e = Esme::connect(jio).await;
    assert!(e.bind(Kind::Tx, "gannet", "s3cret").await.is_ok());
    running.stop().await.unwrap();

    // run() returns once its token is cancelled.
    token.cancel();
    let args = SimArgs {
        ephemeral: true,
        control: Some("127.0.0.1:0".parse().unwrap()),
        ..SimArgs::default()
    };
    cli::run(args, token).await.unwrap();

    // A bad config file is an error naming it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.yaml");
    std::fs::write(&path, "personas: []\n").unwrap();
    let args = SimArgs {
        config: Some(path.clone()),
        ..SimArgs::default()
    };
    let err = cli::run(args, CancellationToken::new()).await.unwrap_err();
    assert!(err.to_string().contains("sim.yaml"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Throughput (release build, on demand)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput check: cargo test --release --test sim -- --ignored --nocapture throughput"]
async fn throughput() {
    use support::load::{run, thread_cpu};
    let sim = start(&persona("")).await;
    let addr = sim.persona_addr("p");
    let cpu0 = thread_cpu("tokio-rt");
    let r = run(addr, 5_000_000, 256, 0, false).await;
    let cpu1 = thread_cpu("tokio-rt");
    println!(
        "no receipts: {} submit_sm in {:?}: {:.0} submit_sm/s; simulator CPU {:.2} us per submit_sm",
        r.resps,
        r.elapsed,
        r.per_sec(r.resps),
        (cpu1 - cpu0) * 1e6 / r.resps as f64
    );
    let r = run(addr, 2_000_000, 256, 1, true).await;
    let cpu2 = thread_cpu("tokio-rt");
    println!(
        "one receipt each: {} submit_sm and {} receipts in {:?}: {:.0} submit_sm/s, {:.0} receipts/s; simulator CPU {:.2} us per submit_sm with its receipt",
        r.resps,
        r.receipts,
        r.elapsed,
        r.per_sec(r.resps),
        r.per_sec(r.receipts),
        (cpu2 - cpu1) * 1e6 / r.resps as f64
    );
    assert_eq!(r.receipts, r.resps);
    sim.shutdown().await;

    // Receipts 200ms after their submit: through the wheel and the bind registry.
    let sim = start(&persona(
        "    outcomes: [{ prefix: \"\", delivered: 1, delay: 200ms }]\n",
    ))
    .await;
    let cpu0 = thread_cpu("tokio-rt");
    let r = run(sim.persona_addr("p"), 2_000_000, 256, 1, true).await;
    let cpu1 = thread_cpu("tokio-rt");
    println!(
        "one receipt each, 200ms later: {} submit_sm and {} receipts in {:?}: {:.0} submit_sm/s; simulator CPU {:.2} us per submit_sm with its receipt",
        r.resps,
        r.receipts,
        r.elapsed,
        r.per_sec(r.resps),
        (cpu1 - cpu0) * 1e6 / r.resps as f64
    );
    assert_eq!(r.receipts, r.resps);
    sim.shutdown().await;
}
