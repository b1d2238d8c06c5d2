//! `gannet loadgen smpp` against the SMSC simulator (`gannet::sim`) on 127.0.0.1:0.
//!
//! The simulator's own counters are the other side of every check: what the client reports
//! must be what the SMSC saw. The simulator refuses a submit beyond its `window` with
//! ESME_RMSGQFUL, so a client that overran its window would see refusals; one test proves that
//! check bites. SMSC-initiated enquire_link is the one thing the simulator does not do: a
//! few lines over the smpp codec stand in for it there. No test asserts on time.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use futures_util::{SinkExt, StreamExt};
use gannet::loadgen::{Histogram, LoadReport, SmppLoadArgs, run_smpp};
use gannet::sim::{Fault, PersonaStats, SimConfig, SimHandle, Status};
use gannet_smpp::codec::{Frame, PduCodec};
use gannet_smpp::{BindResp, Body, CommandStatus, Header, Pdu};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

/// One persona named `smsc` with the loadgen's default account, plus `extra` persona keys
/// (indented by four spaces).
async fn sim(extra: &str) -> (SimHandle, SocketAddr) {
    let yaml = format!(
        "personas:\n  - name: smsc\n    listen: 127.0.0.1:0\n    \
         accounts: [{{ system_id: loadgen, password: loadgen }}]\n{extra}"
    );
    let config = SimConfig::parse(Path::new("loadgen-test.yaml"), &yaml).unwrap();
    let sim = gannet::sim::Sim::start(config).await.unwrap();
    let addr = sim.persona_addr("smsc");
    (sim, addr)
}

fn stats(sim: &SimHandle) -> PersonaStats {
    sim.stats("smsc").unwrap()
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
    let (sim, addr) = sim("").await;
    let r = run(addr, &["--count", "10000"]).await;
    assert_eq!(r.submitted, 10_000);
    assert_eq!(r.acknowledged, 10_000);
    assert_eq!(r.accepted(), 10_000);
    assert_eq!(r.statuses.len(), 1, "{:?}", r.statuses);
    assert_eq!(r.resp_latency.count, 10_000);
    assert_eq!((r.timed_out, r.unanswered, r.stray_responses), (0, 0, 0));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.receipts.is_none());
    assert!(r.elapsed_s > 0.0 && r.acknowledged_per_s > 0.0);
    assert!(r.client.peak_rss_kib > 0);
    let s = stats(&sim);
    assert_eq!((s.binds, s.submits, s.segments), (1, 10_000, 10_000));
    assert_eq!(s.resps_with(CommandStatus::ESME_ROK), 10_000);
    assert_eq!(s.duplicates, 0, "every destination differs");
    let shown = r.to_string();
    assert!(shown.contains("acknowledged          10000"), "{shown}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["acknowledged"], 10_000);
    assert_eq!(json["statuses"]["ESME_ROK"], 10_000);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_is_filled_and_never_exceeded() {
    // With a response latency the simulator counts unanswered submits per bind and refuses
    // the one past its window: none may be refused, and the client must have filled it.
    let (sim, addr) = sim("    window: 50\n    resp_latency: 2ms\n").await;
    let r = run(addr, &["--count", "5000", "--window", "50"]).await;
    assert_eq!(r.accepted(), 5000);
    assert_eq!(r.max_in_flight, 50);
    let s = stats(&sim);
    assert_eq!(s.window_full, 0);
    assert_eq!(s.segments, 5000);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_holds_on_every_bind() {
    let (sim, addr) = sim("    window: 16\n    resp_latency: 1ms\n").await;
    let r = run(addr, &["--count", "4800", "--window", "16", "--binds", "3"]).await;
    assert_eq!(r.accepted(), 4800);
    assert_eq!(r.max_in_flight, 16);
    let s = stats(&sim);
    assert_eq!((s.binds, s.window_full, s.segments), (3, 0, 4800));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overrun_window_would_show() {
    // The control: a client window one larger than the SMSC's. The first 49 wait a second
    // for their answer; the 50th, and every submit sent in its place until then, is refused.
    let (sim, addr) = sim("    window: 49\n    resp_latency: 1s\n").await;
    let r = run(addr, &["--count", "200", "--window", "50"]).await;
    let s = stats(&sim);
    assert_eq!(s.window_full, 151);
    assert_eq!(r.statuses.get("ESME_RMSGQFUL"), Some(&151));
    assert_eq!(r.accepted(), 49);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_are_matched_whatever_the_id_spelling() {
    // submit_sm_resp has the id bare and lower case, receipts zero-padded and upper case, in
    // the text, the TLVs or both.
    for format in ["text", "tlv", "both"] {
        let (sim, addr) = sim(&format!(
            "    message_ids:\n      format: {{ style: hex }}\n      \
             receipt_format: {{ style: hex, width: 12, case: upper }}\n    \
             receipts: {{ format: {format} }}\n"
        ))
        .await;
        let r = run(addr, &["--count", "3000", "--receipts"]).await;
        let rc = r.receipts.as_ref().unwrap();
        assert_eq!(r.accepted(), 3000, "{format}");
        assert_eq!((rc.received, rc.matched), (3000, 3000), "{format}");
        assert_eq!(rc.by_stat.get("DELIVRD"), Some(&3000), "{format}");
        assert_eq!((rc.outstanding, rc.unmatched), (0, 0), "{format}");
        assert_eq!(rc.latency.count, 3000);
        assert_eq!(stats(&sim).receipts_with("DELIVRD"), 3000);
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_by_outcome() {
    // Outcomes by prefix: the client's counts by stat are the simulator's.
    let (sim, addr) = sim(
        "    outcomes:\n      - { prefix: \"91\", delivered: 70, undeliverable: 20, \
         expired: 10 }\n",
    )
    .await;
    let r = run(addr, &["--count", "2000", "--receipts"]).await;
    let rc = r.receipts.as_ref().unwrap();
    let s = stats(&sim);
    for stat in ["DELIVRD", "UNDELIV", "EXPIRED"] {
        assert_eq!(
            rc.by_stat.get(stat).copied().unwrap_or(0),
            s.receipts_with(stat),
            "{stat}"
        );
    }
    assert_eq!((rc.matched, rc.outstanding), (2000, 0));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_ids_in_another_base() {
    let (sim, addr) = sim(
        "    message_ids:\n      format: { style: hex, width: 10, case: upper }\n      \
         receipt_format: { style: decimal }\n      first: 3000000000\n",
    )
    .await;
    let r = run(
        addr,
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
    // Read as sent, 00B2D05E00 is not 3000000000.
    let r = run(
        addr,
        &["--count", "1000", "--receipts", "--receipt-wait", "50ms"],
    )
    .await;
    let rc = r.receipts.as_ref().unwrap();
    assert_eq!((rc.received, rc.matched), (1000, 0));
    assert_eq!((rc.outstanding, rc.unmatched), (1000, 1000));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_before_their_response_are_matched() {
    let (sim, addr) = sim("    faults: { receipt_before_response: true }\n").await;
    let r = run(addr, &["--count", "2000", "--receipts"]).await;
    let rc = r.receipts.as_ref().unwrap();
    assert_eq!((rc.matched, rc.outstanding, rc.unmatched), (2000, 0, 0));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_on_a_separate_receiver_bind() {
    let (sim, addr) = sim("").await;
    let r = run(
        addr,
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
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(stats(&sim).binds, 4);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_are_counted_by_name() {
    // A TPS limit: whatever the split, the client's counts are the simulator's.
    let (sim, addr) = sim("    tps: 1000\n    tps_burst: 500\n").await;
    let r = run(addr, &["--count", "5000"]).await;
    let s = stats(&sim);
    assert_eq!(r.acknowledged, 5000);
    assert_eq!(r.accepted(), s.segments);
    assert_eq!(
        r.statuses.get("ESME_RTHROTTLED").copied().unwrap_or(0),
        s.throttled
    );
    // And exactly: every submit refused.
    sim.fault(
        "smsc",
        Fault::RejectSubmits {
            status: Some(Status(CommandStatus::ESME_RSYSERR)),
        },
    )
    .unwrap();
    let r = run(addr, &["--count", "700", "--receipts"]).await;
    assert_eq!(r.statuses.get("ESME_RSYSERR"), Some(&700));
    assert_eq!(r.accepted(), 0);
    let rc = r.receipts.as_ref().unwrap();
    assert_eq!(
        (rc.received, rc.outstanding),
        (0, 0),
        "no receipt awaited for a refusal"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_arrive_as_whole_messages() {
    let (sim, addr) = sim("").await;
    let r = run(
        addr,
        &["--count", "300", "--segments", "3", "--dest-prefix", "4477"],
    )
    .await;
    assert_eq!(r.parts_per_message, 3);
    assert_eq!(r.accepted(), 300);
    let s = stats(&sim);
    assert_eq!((s.segments, s.messages), (300, 100));
    let received = sim.received("smsc").unwrap();
    assert_eq!(received.len(), 100);
    for m in &received {
        assert_eq!(m.segments, 3);
        assert!(
            m.destination.trim_start_matches('+').starts_with("4477"),
            "{}",
            m.destination
        );
        assert!(m.text.starts_with("Your code is 482913."), "{}", m.text);
        assert!(m.text.chars().count() > 2 * 153, "needs three parts");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_mix_is_exact() {
    let (sim, addr) = sim("").await;
    run(
        addr,
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
    let received = sim.received("smsc").unwrap();
    assert_eq!(received.len(), 4000);
    let count = |p: &str| {
        received
            .iter()
            .filter(|m| m.destination.trim_start_matches('+').starts_with(p))
            .count()
    };
    assert_eq!((count("9198"), count("4477")), (1000, 3000));
    assert_eq!(stats(&sim).duplicates, 0, "no destination twice");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_rate_sends_the_count() {
    let (sim, addr) = sim("").await;
    let r = run(addr, &["--count", "2000", "--rate", "50000"]).await;
    assert_eq!(r.rate, 50_000);
    assert_eq!(r.accepted(), 2000);
    assert_eq!(stats(&sim).segments, 2000);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_long_run_with_a_report() {
    let (sim, addr) = sim("").await;
    let token = CancellationToken::new();
    let run = tokio::spawn(run_smpp(args(addr, &["--duration", "10m"]), token.clone()));
    // Stop it once the SMSC has seen 5000 submits.
    while stats(&sim).submits < 5000 {
        tokio::task::yield_now().await;
    }
    token.cancel();
    let r = run.await.unwrap().unwrap();
    assert!(r.submitted >= 5000, "{}", r.submitted);
    assert_eq!(r.acknowledged, r.submitted, "in-flight drained");
    assert_eq!(r.unanswered, 0);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(stats(&sim).submits, r.submitted);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_time_out_and_free_the_window() {
    let (sim, addr) = sim("    faults: { drop_responses: 0.01 }\n").await;
    let r = run(
        addr,
        &[
            "--count",
            "20000",
            "--window",
            "64",
            "--response-timeout",
            "200ms",
        ],
    )
    .await;
    let s = stats(&sim);
    assert!(s.dropped_resps > 0);
    assert_eq!(r.timed_out, s.dropped_resps);
    assert_eq!(r.acknowledged + r.timed_out, 20_000);
    assert_eq!(r.stray_responses, 0, "a dropped response never comes late");
    assert_eq!((r.unanswered, r.submitted), (0, 20_000));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbind_from_the_smsc_ends_the_run_with_a_report() {
    let (sim, addr) = sim("").await;
    let run = tokio::spawn(run_smpp(
        args(addr, &["--duration", "10m", "--binds", "2"]),
        CancellationToken::new(),
    ));
    while stats(&sim).submits < 5000 {
        tokio::task::yield_now().await;
    }
    sim.fault("smsc", Fault::Unbind).unwrap();
    let r = run.await.unwrap().unwrap();
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
    assert!(
        r.errors.iter().all(|e| e.contains("unbound")),
        "{:?}",
        r.errors
    );
    let s = stats(&sim);
    assert_eq!(s.forced_unbinds, 2);
    // What was written after the SMSC's unbind may never be read: unanswered, not lost
    // from the count.
    assert_eq!(r.acknowledged + r.unanswered, r.submitted);
    assert!(r.acknowledged <= s.submits && s.submits <= r.submitted);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enquire_link_from_the_smsc_is_answered() {
    let smsc = enquire_link_smsc().await;
    let r = run(smsc.addr, &["--count", "1000", "--binds", "2"]).await;
    assert_eq!(r.accepted(), 1000);
    assert_eq!(smsc.enquire_link_resps.load(Relaxed), 2);
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

/// An SMSC that sends each bind an enquire_link (SMPP 3.4 §4.11: either side may), which the
/// simulator never does, and otherwise answers submits and unbind.
struct EnquireLinkSmsc {
    addr: SocketAddr,
    enquire_link_resps: Arc<AtomicU64>,
}

async fn enquire_link_smsc() -> EnquireLinkSmsc {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let resps = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&resps);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut framed = Framed::new(stream, PduCodec::default());
                while let Some(Ok(Frame::Pdu(pdu))) = framed.next().await {
                    let seq = pdu.sequence_number;
                    let answer = match pdu.body {
                        Body::BindTransceiver(_) => {
                            let resp = Body::BindTransceiverResp(Some(BindResp::new("t")));
                            framed.send(Pdu::new(seq, resp)).await.unwrap();
                            Pdu::new(1000, Body::EnquireLink)
                        }
                        Body::SubmitSm(_) => Pdu::new(seq, Body::submit_sm_resp("1")),
                        Body::EnquireLinkResp => {
                            counter.fetch_add(1, Relaxed);
                            continue;
                        }
                        Body::Unbind => Pdu::new(seq, Body::UnbindResp),
                        other => panic!("unexpected {other:?}"),
                    };
                    framed.send(answer).await.unwrap();
                }
            });
        }
    });
    EnquireLinkSmsc {
        addr,
        enquire_link_resps: resps,
    }
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
/// atomics and a `Notify`. Same template, same window of 256, no receipts, 10 s, against the
/// raw sink or, with LOADGEN_ADDR=host:port, a running SMSC (account loadgen/loadgen):
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
    let (addr, sink) = match std::env::var("LOADGEN_ADDR") {
        Ok(a) => (a.parse::<SocketAddr>().unwrap(), None),
        Err(_) => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            (
                addr,
                Some(std::thread::spawn(move || sink::serve(listener))),
            )
        }
    };
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
        let bind = Pdu::new(
            1,
            Body::BindTransceiver(gannet_smpp::Bind::new("loadgen", "loadgen")),
        );
        stream.write_all(&bind.to_bytes()).await.unwrap();
        let mut head = [0u8; 16];
        stream.read_exact(&mut head).await.unwrap();
        let h = Header::peek(&head).unwrap();
        assert!(h.command_status.is_ok(), "bind: {}", h.command_status);
        let mut rest = vec![0u8; h.command_length as usize - 16];
        stream.read_exact(&mut rest).await.unwrap();
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
            let mut unbound = false;
            while !unbound {
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
                    unbound |= h.command_id == gannet_smpp::CommandId::UNBIND_RESP;
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
    let sink_cpu = sink.map_or(0.0, |s| s.join().unwrap());
    println!(
        "split read/write tasks: {acked} acknowledged in {elapsed:.3}s = {:.0}/s; \
         sink thread CPU {sink_cpu:.2}s",
        acked as f64 / elapsed
    );
}
