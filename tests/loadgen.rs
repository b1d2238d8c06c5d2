//! `gannet loadgen smpp` against an SMSC on 127.0.0.1:0.
//!
//! The SMSC here is a few dozen lines over the smpp crate's codec: it answers everything, can
//! hold its answers until a bind's window is full (so the window the client keeps is what the
//! SMSC sees), throttles every Nth submit, and sends receipts after (or before) the response,
//! with the id written differently from the submit_sm_resp (zero-padded, upper case) as
//! carriers do. It counts what it saw; the tests compare that with the client's report.
//! No test asserts on time.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use gannet::loadgen::{Histogram, LoadReport, SmppLoadArgs, run_smpp};
use gannet_smpp::codec::{Frame, PduCodec};
use gannet_smpp::{
    Address, BindResp, Body, CommandStatus, DeliverSm, Header, Pdu, SubmitSm, Tlv, TlvTag,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Default, PartialEq)]
enum Receipts {
    #[default]
    After,
    Before,
}

#[derive(Default)]
struct Behaviour {
    /// Answer only once this many submits are unanswered on the connection.
    hold: Option<u64>,
    /// Every Nth submit gets ESME_RTHROTTLED.
    throttle_every: Option<u64>,
    receipts: Receipts,
    /// Send the client an enquire_link right after each bind.
    enquire_link: bool,
    /// Cancel this token once this many submits have arrived.
    cancel_at: Option<(u64, CancellationToken)>,
    /// Keep every submit_sm.
    record: bool,
    /// Write the receipt id in decimal (submit_sm_resp has it in hex).
    receipt_ids_decimal: bool,
}

#[derive(Default)]
struct Seen {
    binds: Mutex<Vec<&'static str>>,
    submits: AtomicU64,
    max_unanswered: AtomicU64,
    receipts_sent: AtomicU64,
    enquire_link_resps: AtomicU64,
    deliver_sm_resps: AtomicU64,
    unbinds: AtomicU64,
    recorded: Mutex<Vec<SubmitSm>>,
    /// Connections bound as receivers, for receipts of transmitter binds.
    receivers: Mutex<Vec<mpsc::UnboundedSender<Pdu>>>,
}

struct Smsc {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

async fn smsc(behaviour: Behaviour) -> Smsc {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let behaviour = Arc::new(behaviour);
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(stream, Arc::clone(&behaviour), Arc::clone(&s)));
        }
    });
    Smsc { addr, seen }
}

fn complete_frame_buffered(buf: &[u8]) -> bool {
    Header::peek(buf).is_some_and(|h| buf.len() >= h.command_length as usize)
}

async fn serve(stream: tokio::net::TcpStream, b: Arc<Behaviour>, seen: Arc<Seen>) {
    let mut framed = Framed::new(stream, PduCodec::default());
    let (tx, mut rx) = mpsc::unbounded_channel::<Pdu>();
    let mut held: Vec<Pdu> = Vec::new();
    let mut unanswered = 0u64;
    let mut seq = 1000u32;
    loop {
        let frame = tokio::select! {
            f = framed.next() => match f {
                Some(Ok(Frame::Pdu(pdu))) => pdu,
                Some(other) => panic!("SMSC read {other:?}"),
                None => return,
            },
            Some(pdu) = rx.recv() => {
                framed.send(pdu).await.unwrap();
                continue;
            }
        };
        let s = frame.sequence_number;
        match frame.body {
            Body::BindTransceiver(_) | Body::BindTransmitter(_) | Body::BindReceiver(_) => {
                let (name, resp) = match frame.body {
                    Body::BindTransceiver(_) => (
                        "transceiver",
                        Body::BindTransceiverResp(Some(BindResp::new(&b"test-smsc"[..]))),
                    ),
                    Body::BindTransmitter(_) => (
                        "transmitter",
                        Body::BindTransmitterResp(Some(BindResp::new(&b"test-smsc"[..]))),
                    ),
                    _ => (
                        "receiver",
                        Body::BindReceiverResp(Some(BindResp::new(&b"test-smsc"[..]))),
                    ),
                };
                seen.binds.lock().unwrap().push(name);
                if name == "receiver" {
                    seen.receivers.lock().unwrap().push(tx.clone());
                }
                framed.send(Pdu::new(s, resp)).await.unwrap();
                if b.enquire_link {
                    seq += 1;
                    framed.send(Pdu::new(seq, Body::EnquireLink)).await.unwrap();
                }
            }
            Body::SubmitSm(sm) => {
                let n = seen.submits.fetch_add(1, Relaxed) + 1;
                unanswered += 1;
                seen.max_unanswered.fetch_max(unanswered, Relaxed);
                let throttled = b.throttle_every.is_some_and(|e| n % e == 0);
                let resp = if throttled {
                    Pdu::new(s, Body::SubmitSmResp(None))
                        .with_status(CommandStatus::ESME_RTHROTTLED)
                } else {
                    Pdu::new(s, Body::submit_sm_resp(format!("{n:x}")))
                };
                let receipt = (!throttled && sm.registered_delivery & 1 == 1).then(|| {
                    seq += 1;
                    receipt(seq, n, &sm, b.receipt_ids_decimal)
                });
                if b.record {
                    seen.recorded.lock().unwrap().push(sm);
                }
                let receipt_to_receiver =
                    receipt.is_some() && seen.binds.lock().unwrap().contains(&"receiver");
                if b.receipts == Receipts::Before
                    && let Some(r) = &receipt
                {
                    seen.receipts_sent.fetch_add(1, Relaxed);
                    held.push(r.clone());
                }
                held.push(resp);
                if b.receipts == Receipts::After
                    && let Some(r) = receipt
                {
                    seen.receipts_sent.fetch_add(1, Relaxed);
                    if receipt_to_receiver {
                        let receivers = seen.receivers.lock().unwrap();
                        receivers[n as usize % receivers.len()].send(r).unwrap();
                    } else {
                        held.push(r);
                    }
                }
                if let Some((at, token)) = &b.cancel_at
                    && n == *at
                {
                    token.cancel();
                }
            }
            Body::EnquireLinkResp => {
                seen.enquire_link_resps.fetch_add(1, Relaxed);
            }
            Body::DeliverSmResp(_) => {
                seen.deliver_sm_resps.fetch_add(1, Relaxed);
            }
            Body::Unbind => {
                seen.unbinds.fetch_add(1, Relaxed);
                for pdu in held.drain(..) {
                    framed.feed(pdu).await.unwrap();
                }
                framed.send(Pdu::new(s, Body::UnbindResp)).await.unwrap();
                return;
            }
            other => panic!("SMSC did not expect {other:?}"),
        }
        let full = b.hold.is_none_or(|h| unanswered >= h);
        if full && !complete_frame_buffered(framed.read_buffer()) {
            for pdu in held.drain(..) {
                framed.feed(pdu).await.unwrap();
            }
            SinkExt::<Pdu>::flush(&mut framed).await.unwrap();
            unanswered = 0;
        }
    }
}

/// A receipt for message `n`: TLVs on odd messages, text only on even ones, and the id in the
/// text zero-padded and upper case where submit_sm_resp had it bare and lower case (or in
/// decimal, when `decimal`).
fn receipt(seq: u32, n: u64, sm: &SubmitSm, decimal: bool) -> Pdu {
    let (text_id, tlv_id) = if decimal {
        (format!("{n:010}"), n.to_string())
    } else {
        (format!("{n:010X}"), format!("{n:x}"))
    };
    let text = format!(
        "id:{text_id} sub:001 dlvrd:001 submit date:2501011200 done date:2501011200 stat:DELIVRD err:000 text:Your code"
    );
    let mut d = DeliverSm {
        source_addr: sm.destination_addr.clone(),
        destination_addr: Address::alphanumeric(&b"GANNET"[..]),
        esm_class: 0x04,
        short_message: Bytes::from(text),
        ..DeliverSm::default()
    };
    if n % 2 == 1 {
        d = d
            .with_tlv(Tlv::cstr(TlvTag::RECEIPTED_MESSAGE_ID, tlv_id.as_bytes()))
            .with_tlv(Tlv::u8(TlvTag::MESSAGE_STATE, 2));
    }
    Pdu::new(seq, Body::DeliverSm(d))
}

fn args(addr: SocketAddr, extra: &[&str]) -> SmppLoadArgs {
    let addr = addr.to_string();
    let mut a = vec!["--addr", addr.as_str()];
    a.extend_from_slice(extra);
    SmppLoadArgs::try_parse_from(a).unwrap()
}

async fn run(addr: SocketAddr, extra: &[&str]) -> LoadReport {
    run_smpp(args(addr, extra), CancellationToken::new())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_10000_all_acknowledged() {
    let s = smsc(Behaviour::default()).await;
    let r = run(s.addr, &["--count", "10000"]).await;
    assert_eq!(r.submitted, 10_000);
    assert_eq!(r.acknowledged, 10_000);
    assert_eq!(r.accepted(), 10_000);
    assert_eq!(r.statuses.len(), 1, "{:?}", r.statuses);
    assert_eq!(r.resp_latency.count, 10_000);
    assert_eq!((r.timed_out, r.unanswered), (0, 0));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.receipts.is_none());
    assert!(r.elapsed_s > 0.0 && r.acknowledged_per_s > 0.0);
    assert!(r.client.peak_rss_kib > 0);
    assert_eq!(s.seen.submits.load(Relaxed), 10_000);
    assert_eq!(*s.seen.binds.lock().unwrap(), ["transceiver"]);
    assert_eq!(s.seen.unbinds.load(Relaxed), 1);
    let shown = r.to_string();
    assert!(shown.contains("acknowledged          10000"), "{shown}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["acknowledged"], 10_000);
    assert_eq!(json["statuses"]["ESME_ROK"], 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_is_filled_and_never_exceeded() {
    // The SMSC answers only once 50 submits are unanswered: the client must reach exactly 50
    // and (reading all it can before answering) would show more if it sent more.
    let s = smsc(Behaviour {
        hold: Some(50),
        ..Behaviour::default()
    })
    .await;
    let r = run(s.addr, &["--count", "10000", "--window", "50"]).await;
    assert_eq!(r.accepted(), 10_000);
    assert_eq!(s.seen.max_unanswered.load(Relaxed), 50);
    assert_eq!(r.max_in_flight, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_holds_across_binds() {
    let s = smsc(Behaviour {
        hold: Some(16),
        ..Behaviour::default()
    })
    .await;
    let r = run(
        s.addr,
        &["--count", "9600", "--window", "16", "--binds", "3"],
    )
    .await;
    assert_eq!(r.accepted(), 9_600);
    assert_eq!(s.seen.binds.lock().unwrap().len(), 3);
    assert_eq!(s.seen.max_unanswered.load(Relaxed), 16);
    assert_eq!(r.max_in_flight, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_are_matched_whatever_the_id_spelling() {
    let s = smsc(Behaviour::default()).await;
    let r = run(s.addr, &["--count", "3000", "--receipts"]).await;
    let rc = r.receipts.as_ref().unwrap();
    assert_eq!(r.accepted(), 3000);
    assert_eq!(rc.received, 3000);
    assert_eq!(rc.matched, 3000);
    assert_eq!(rc.by_stat.get("DELIVRD"), Some(&3000));
    assert_eq!((rc.outstanding, rc.unmatched), (0, 0));
    assert_eq!(rc.latency.count, 3000);
    assert_eq!(s.seen.deliver_sm_resps.load(Relaxed), 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_ids_in_another_base() {
    let s = smsc(Behaviour {
        receipt_ids_decimal: true,
        ..Behaviour::default()
    })
    .await;
    // 0x10 and 16 are one message: matched only when told how the ids relate.
    let r = run(
        s.addr,
        &[
            "--count",
            "1000",
            "--receipts",
            "--receipt-ids",
            "hex-to-decimal",
        ],
    )
    .await;
    let rc = r.receipts.as_ref().unwrap();
    assert_eq!((rc.matched, rc.outstanding, rc.unmatched), (1000, 0, 0));
    let r = run(
        s.addr,
        &["--count", "1000", "--receipts", "--receipt-wait", "50ms"],
    )
    .await;
    let rc = r.receipts.as_ref().unwrap();
    assert!(
        rc.matched < 1000,
        "as-sent matches only ids that read alike: {}",
        rc.matched
    );
    assert_eq!(rc.received, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_before_their_response_are_matched() {
    let s = smsc(Behaviour {
        receipts: Receipts::Before,
        ..Behaviour::default()
    })
    .await;
    let r = run(s.addr, &["--count", "2000", "--receipts"]).await;
    let rc = r.receipts.as_ref().unwrap();
    assert_eq!((rc.matched, rc.outstanding, rc.unmatched), (2000, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_on_a_separate_receiver_bind() {
    let s = smsc(Behaviour::default()).await;
    let r = run(
        s.addr,
        &[
            "--count",
            "2000",
            "--receipts",
            "--bind",
            "receiver+transmitter",
            "--binds",
            "2",
        ],
    )
    .await;
    let rc = r.receipts.as_ref().unwrap();
    assert_eq!((rc.matched, rc.outstanding), (2000, 0));
    let mut binds = s.seen.binds.lock().unwrap().clone();
    binds.sort_unstable();
    assert_eq!(
        binds,
        ["receiver", "receiver", "transmitter", "transmitter"]
    );
    assert_eq!(s.seen.unbinds.load(Relaxed), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_are_counted_by_name() {
    let s = smsc(Behaviour {
        throttle_every: Some(10),
        ..Behaviour::default()
    })
    .await;
    let r = run(s.addr, &["--count", "5000", "--receipts"]).await;
    assert_eq!(r.acknowledged, 5000);
    assert_eq!(r.statuses.get("ESME_ROK"), Some(&4500));
    assert_eq!(r.statuses.get("ESME_RTHROTTLED"), Some(&500));
    let rc = r.receipts.as_ref().unwrap();
    assert_eq!(
        (rc.matched, rc.outstanding),
        (4500, 0),
        "no receipt awaited for a refusal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_share_destination_and_reference() {
    let s = smsc(Behaviour {
        record: true,
        ..Behaviour::default()
    })
    .await;
    let r = run(
        s.addr,
        &["--count", "300", "--segments", "3", "--dest-prefix", "4477"],
    )
    .await;
    assert_eq!(r.parts_per_message, 3);
    assert_eq!(r.accepted(), 300);
    let recorded = s.seen.recorded.lock().unwrap();
    assert_eq!(recorded.len(), 300);
    for message in recorded.chunks(3) {
        let udh = |sm: &SubmitSm| sm.short_message[..6].to_vec();
        let first = udh(&message[0]);
        for (i, part) in message.iter().enumerate() {
            assert_eq!(part.esm_class, 0x40);
            assert_eq!(part.destination_addr, message[0].destination_addr);
            assert!(part.destination_addr.addr.starts_with(b"4477"));
            let u = udh(part);
            assert_eq!(&u[..5], &first[..5], "same reference and total");
            assert_eq!(u[4], 3);
            assert_eq!(usize::from(u[5]), i + 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_mix_is_exact() {
    let s = smsc(Behaviour {
        record: true,
        ..Behaviour::default()
    })
    .await;
    run(
        s.addr,
        &[
            "--count",
            "4000",
            "--dest-prefix",
            "9198,4477:3",
            "--binds",
            "2",
        ],
    )
    .await;
    let recorded = s.seen.recorded.lock().unwrap();
    let count = |p: &[u8]| {
        recorded
            .iter()
            .filter(|sm| sm.destination_addr.addr.starts_with(p))
            .count()
    };
    assert_eq!((count(b"9198"), count(b"4477")), (1000, 3000));
    let distinct: std::collections::HashSet<_> = recorded
        .iter()
        .map(|sm| sm.destination_addr.addr.clone())
        .collect();
    assert!(distinct.len() > 3990, "{} distinct", distinct.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_rate_sends_the_count() {
    let s = smsc(Behaviour::default()).await;
    let r = run(s.addr, &["--count", "2000", "--rate", "50000"]).await;
    assert_eq!(r.rate, 50_000);
    assert_eq!(r.accepted(), 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enquire_link_is_answered() {
    let s = smsc(Behaviour {
        enquire_link: true,
        ..Behaviour::default()
    })
    .await;
    let r = run(s.addr, &["--count", "1000", "--binds", "2"]).await;
    assert_eq!(r.accepted(), 1000);
    assert_eq!(s.seen.enquire_link_resps.load(Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_long_run_with_a_report() {
    let token = CancellationToken::new();
    let s = smsc(Behaviour {
        cancel_at: Some((5000, token.clone())),
        ..Behaviour::default()
    })
    .await;
    let r = run_smpp(args(s.addr, &["--duration", "10m"]), token)
        .await
        .unwrap();
    assert!(r.submitted >= 5000, "{}", r.submitted);
    assert_eq!(r.acknowledged, r.submitted, "in-flight drained");
    assert_eq!(r.unanswered, 0);
    assert_eq!(s.seen.unbinds.load(Relaxed), 1);
}

#[tokio::test]
async fn refuses_non_loopback_targets() {
    for addr in ["192.0.2.1:2775", "10.1.2.3:2775", "[2001:db8::1]:2775"] {
        let a = SmppLoadArgs::try_parse_from(["--addr", addr, "--count", "1"]).unwrap();
        let err = run_smpp(a, CancellationToken::new()).await.unwrap_err();
        assert!(
            format!("{err:#}").contains("not a loopback address"),
            "{addr}: {err:#}"
        );
    }
    let ok = gannet::loadgen::args::check_target(
        "192.0.2.1:2775",
        &["192.0.2.1:2775".parse().unwrap()],
        true,
    );
    assert_eq!(ok.unwrap(), "192.0.2.1:2775".parse().unwrap());
}

#[tokio::test]
async fn refuses_unbounded_runs() {
    let cases: [(&[&str], &str); 4] = [
        (&[], "unbounded"),
        (&["--duration", "11m"], "10-minute limit"),
        (&["--count", "0"], "at least 1"),
        (
            &["--bind", "transmitter", "--receipts", "--count", "5"],
            "can receive",
        ),
    ];
    for (extra, why) in cases {
        let err = run_smpp(
            args("127.0.0.1:9".parse().unwrap(), extra),
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(format!("{err:#}").contains(why), "{extra:?}: {err:#}");
    }
}

#[test]
fn histogram_percentiles_on_known_data() {
    // 1 µs .. 10 ms in 1 µs steps: every percentile is known.
    let mut h = Histogram::new();
    for us in 1..=10_000u64 {
        h.record(us * 1000);
    }
    let within = |got: u64, want: u64| {
        assert!(got >= want, "{got} < {want}");
        assert!(
            (got - want) as f64 / want as f64 <= 1.0 / 128.0,
            "{got} vs {want}"
        );
    };
    within(h.percentile(50.0), 5_000_000);
    within(h.percentile(90.0), 9_000_000);
    within(h.percentile(99.0), 9_900_000);
    within(h.percentile(99.9), 9_990_000);
    assert_eq!(h.percentile(100.0), 10_000_000);
    assert_eq!((h.min(), h.max(), h.count()), (1000, 10_000_000, 10_000));
    assert!((h.mean() - 5_000_500.0).abs() < 1e-6);

    // Merging two halves gives the same percentiles as recording everything in one.
    let (mut a, mut b) = (Histogram::new(), Histogram::new());
    for us in 1..=10_000u64 {
        if us % 2 == 0 { &mut a } else { &mut b }.record(us * 1000);
    }
    a.merge(&b);
    for p in [50.0, 90.0, 99.0, 99.9, 100.0] {
        assert_eq!(a.percentile(p), h.percentile(p), "p{p}");
    }
    let s = a.summary();
    assert_eq!(s.count, 10_000);
    assert_eq!(s.max_us, 10_000.0);

    // A long tail: 99 % at 100 µs, 1 % at 2 s.
    let mut t = Histogram::new();
    t.record_n(100_000, 9_900);
    t.record_n(2_000_000_000, 100);
    within(t.percentile(99.0), 100_000);
    within(t.percentile(99.5), 2_000_000_000);
}

/// The client's own ceiling, against a sink that does nothing but peek headers and answer on
/// its own thread: `cargo test --release --test loadgen -- --ignored --nocapture raw_sink`.
/// Prints the report and the client's CPU per message (the process's CPU minus the sink
/// thread's). Set LOADGEN_ARGS to change the options (default: 10 s, window 256).
#[tokio::test(flavor = "current_thread")]
#[ignore = "a measurement, not a test: run on a quiet machine"]
async fn raw_sink_ceiling() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = std::thread::spawn(move || sink::serve(listener));
    let extra = std::env::var("LOADGEN_ARGS").unwrap_or_else(|_| "--duration 10s".into());
    let extra: Vec<&str> = extra.split_whitespace().collect();
    let r = run(addr, &extra).await;
    let sink_cpu = sink.join().unwrap();
    println!("{r}");
    let client_cpu = r.client.cpu_s - sink_cpu;
    println!(
        "sink thread CPU {sink_cpu:.2}s; client CPU {client_cpu:.2}s = {:.3}µs per message",
        client_cpu * 1e6 / r.acknowledged as f64
    );
}

/// A minimal SMSC for measuring the client: one connection, blocking I/O, header peeks, a
/// fixed-width decimal message id, receipts when asked (registered_delivery), no decoding.
mod sink {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use gannet_smpp::{CommandId, Header};

    fn header(out: &mut Vec<u8>, len: usize, id: CommandId, seq: u32) {
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(&id.0.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
    }

    /// Serves one bind until unbind; returns the thread's CPU seconds.
    pub fn serve(listener: TcpListener) -> f64 {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let (mut have, mut n, mut seq) = (0usize, 0u64, 0u32);
        let mut out = Vec::with_capacity(1 << 20);
        loop {
            let r = s.read(&mut buf[have..]).unwrap();
            if r == 0 {
                break;
            }
            have += r;
            let mut pos = 0;
            let mut done = false;
            while let Some(h) = Header::peek(&buf[pos..have]) {
                let len = h.command_length as usize;
                if have - pos < len {
                    break;
                }
                let id = h.command_id;
                if id == CommandId::SUBMIT_SM {
                    n += 1;
                    let msg_id = format!("{n:010}");
                    header(
                        &mut out,
                        16 + 11,
                        CommandId::SUBMIT_SM_RESP,
                        h.sequence_number,
                    );
                    out.extend_from_slice(msg_id.as_bytes());
                    out.push(0);
                    if wants_receipt(&buf[pos + 16..pos + len]) {
                        seq += 1;
                        let text = format!("id:{msg_id} sub:001 dlvrd:001 stat:DELIVRD err:000");
                        // service_type, source and destination (ton, npi, empty addr),
                        // esm_class 0x04 (receipt), protocol_id, priority_flag, two empty
                        // times, registered_delivery, replace_if_present, data_coding,
                        // sm_default_msg_id; then sm_length and the text.
                        let fixed: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0];
                        let len = 16 + fixed.len() + 1 + text.len();
                        header(&mut out, len, CommandId::DELIVER_SM, 0x4000_0000 + seq);
                        out.extend_from_slice(&fixed);
                        out.push(text.len() as u8);
                        out.extend_from_slice(text.as_bytes());
                    }
                } else if id == CommandId::BIND_TRANSCEIVER || id == CommandId::BIND_TRANSMITTER {
                    let resp = CommandId(id.0 | 0x8000_0000);
                    header(&mut out, 16 + 5, resp, h.sequence_number);
                    out.extend_from_slice(b"sink\0");
                } else if id == CommandId::UNBIND {
                    header(&mut out, 16, CommandId::UNBIND_RESP, h.sequence_number);
                    done = true;
                }
                pos += len;
            }
            buf.copy_within(pos..have, 0);
            have -= pos;
            s.write_all(&out).unwrap();
            out.clear();
            if done {
                break;
            }
        }
        thread_cpu_s()
    }

    /// registered_delivery of a submit_sm body.
    fn wants_receipt(body: &[u8]) -> bool {
        let mut i = 0;
        let skip_cstr = |i: &mut usize| {
            while body.get(*i).is_some_and(|&b| b != 0) {
                *i += 1;
            }
            *i += 1;
        };
        skip_cstr(&mut i); // service_type
        i += 2;
        skip_cstr(&mut i); // source_addr
        i += 2;
        skip_cstr(&mut i); // destination_addr
        i += 3;
        skip_cstr(&mut i); // schedule_delivery_time
        skip_cstr(&mut i); // validity_period
        body.get(i).is_some_and(|&b| b & 1 == 1)
    }

    fn thread_cpu_s() -> f64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) as f64 / 100.0
    }
}

/// The alternative design, measured against the one `run_smpp` uses: the connection split into
/// a writing task and a reading task on a 2-worker runtime, handing window slots over through
/// atomics and a `Notify`. Same sink, same template, same window, no receipts:
/// `cargo test --release --test loadgen -- --ignored --nocapture split_io`.
#[test]
#[ignore = "a measurement, not a test: run on a quiet machine"]
fn split_io_experiment() {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use gannet::loadgen::args::Plan;
    use gannet::loadgen::template::Template;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Notify;

    const WINDOW: u64 = 256;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = std::thread::spawn(move || sink::serve(listener));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (acked, elapsed) = rt.block_on(async move {
        let plan = Plan::with_target(&args(addr, &["--count", "1"]), addr).unwrap();
        let template = Template::new(&plan);
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let bind = Pdu::new(1, Body::BindTransceiver(gannet_smpp::Bind::new("a", "b")));
        stream.write_all(&bind.to_bytes()).await.unwrap();
        let mut head = [0u8; 21];
        stream.read_exact(&mut head).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();

        let start = Instant::now();
        let slots: Arc<Vec<AtomicU64>> =
            Arc::new((0..WINDOW * 2).map(|_| AtomicU64::new(0)).collect());
        let acked = Arc::new(AtomicU64::new(0));
        let room = Arc::new(Notify::new());
        let stop = Arc::new(AtomicBool::new(false));

        let writer = {
            let (slots, acked, room, stop) =
                (slots.clone(), acked.clone(), room.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sent = 0u64;
                let mut buf = Vec::with_capacity(64 * 1024);
                let mut dest = vec![b'0'; template.dest_len()];
                while !stop.load(Relaxed) {
                    let notified = room.notified();
                    let free = WINDOW - (sent - acked.load(std::sync::atomic::Ordering::Acquire));
                    if free == 0 {
                        notified.await;
                        continue;
                    }
                    let now = start.elapsed().as_nanos() as u64;
                    for _ in 0..free {
                        let seq = (sent + 2) as u32;
                        slots[(seq as u64 % (WINDOW * 2)) as usize].store(now, Relaxed);
                        template.destination(sent, &mut dest);
                        template.write(&mut buf, sent, 0, seq, &dest);
                        sent += 1;
                    }
                    wr.write_all(&buf).await.unwrap();
                    buf.clear();
                }
                let unbind = Pdu::new(0x7FFF_FFFF, Body::Unbind).to_bytes();
                wr.write_all(&unbind).await.unwrap();
                sent
            })
        };
        let reader = tokio::spawn(async move {
            let mut buf = bytes::BytesMut::with_capacity(256 * 1024);
            let mut hist = Histogram::new();
            let mut last = 0;
            loop {
                buf.reserve(64 * 1024);
                if rd.read_buf(&mut buf).await.unwrap() == 0 {
                    break;
                }
                let now = start.elapsed().as_nanos() as u64;
                let mut pos = 0;
                let mut n = 0;
                while let Some(h) = Header::peek(&buf[pos..]) {
                    let len = h.command_length as usize;
                    if buf.len() - pos < len {
                        break;
                    }
                    if h.command_id == gannet_smpp::CommandId::SUBMIT_SM_RESP {
                        let sent = slots[(u64::from(h.sequence_number) % (WINDOW * 2)) as usize]
                            .load(Relaxed);
                        hist.record(now - sent);
                        n += 1;
                    }
                    pos += len;
                }
                bytes::Buf::advance(&mut buf, pos);
                if n > 0 {
                    acked.fetch_add(n, std::sync::atomic::Ordering::Release);
                    room.notify_one();
                    last = now;
                }
            }
            (hist, last)
        });
        tokio::time::sleep(Duration::from_secs(10)).await;
        stop.store(true, Relaxed);
        let sent = writer.await.unwrap();
        let (hist, last) = reader.await.unwrap();
        println!(
            "split: sent {sent}, p50 {:.0}µs p99 {:.0}µs",
            hist.percentile(50.0) as f64 / 1e3,
            hist.percentile(99.0) as f64 / 1e3
        );
        (hist.count(), last as f64 / 1e9)
    });
    let sink_cpu = sink.join().unwrap();
    println!(
        "split read/write tasks: {acked} acknowledged in {elapsed:.3}s = {:.0}/s; sink thread CPU {sink_cpu:.2}s",
        acked as f64 / elapsed
    );
}
