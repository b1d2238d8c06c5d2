//! SMPP over TLS end to end: the carrier pool against TLS personas of the real simulator, on
//! real sockets on 127.0.0.1, with a CA and certificates made by rcgen for each test (and
//! once with the test certificates committed under `tls/`). Every wait is on an event or a
//! condition, under a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use gannet::carrier::config::CarriersFile;
use gannet::carrier::{
    BindState, CarrierPool, CarrierSettings, DownReason, PoolEvent, SegmentOutcome, SubmitJob,
    TlsSettings, validate_carriers,
};
use gannet::sim::{PersonaStats, Sim, SimConfig, SimHandle, TlsIdentity};
use gannet_smpp::{Address, Bind, Body, Pdu, SubmitSm};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest wait for anything in these tests; a healthy run needs a fraction of it.
const DEADLINE: Duration = Duration::from_secs(30);

/// A test CA and a server certificate it signed for `localhost` and 127.0.0.1.
struct Pki {
    ca_pem: String,
    server: TlsIdentity,
    server_pem: (String, String),
}

impl Pki {
    fn new(ca_name: &str) -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
        let (cert_pem, key_pem) = (leaf_cert.pem(), leaf_key.serialize_pem());
        Pki {
            ca_pem: ca_cert.pem(),
            server: TlsIdentity::from_pem(&cert_pem, &key_pem).unwrap(),
            server_pem: (cert_pem, key_pem),
        }
    }
}

/// One persona `smsc` for gannet/secret, receipts at once, with extra keys (indented 4).
fn persona(extra: &str) -> String {
    format!(
        "personas:\n  - name: smsc\n    listen: 127.0.0.1:0\n    accounts: [{{ system_id: gannet, password: secret }}]\n    outcomes: [{{ prefix: \"\", delivered: 1 }}]\n{extra}"
    )
}

async fn sim(yaml: &str, tls: Option<&TlsIdentity>) -> SimHandle {
    let mut config = SimConfig::parse(Path::new("sim.yaml"), yaml).unwrap();
    if let Some(identity) = tls {
        config = config.with_tls("smsc", identity.clone()).unwrap();
    }
    Sim::start(config).await.unwrap()
}

fn settings(addr: SocketAddr, tls: Option<TlsSettings>) -> CarrierSettings {
    let mut s = CarrierSettings::new("c1", addr.ip().to_string(), addr.port(), "gannet", "secret");
    s.reconnect.initial = Duration::from_millis(50);
    s.reconnect.max = Duration::from_millis(200);
    s.tls = tls;
    s
}

fn trust(ca_pem: &str) -> TlsSettings {
    TlsSettings::with_ca_pem("localhost", ca_pem.as_bytes()).unwrap()
}

fn job(token: u64) -> SubmitJob {
    SubmitJob {
        token,
        pdus: vec![SubmitSm {
            source_addr: Address::alphanumeric(&b"Gannet"[..]),
            destination_addr: Address::international(Bytes::from(format!(
                "4477009{:05}",
                token % 100_000
            ))),
            short_message: Bytes::from(format!("code {token}")),
            registered_delivery: 1,
            ..SubmitSm::default()
        }],
        ambiguous_resend_allowed: false,
        received: None,
    }
}

fn start(settings: CarrierSettings) -> (CarrierPool, mpsc::Receiver<PoolEvent>) {
    let (tx, rx) = mpsc::channel(65_536);
    let pool = CarrierPool::start(vec![settings], tx, CancellationToken::new()).unwrap();
    (pool, rx)
}

/// What the pool reported.
#[derive(Default, Debug)]
struct Seen {
    finals: BTreeMap<u64, Vec<SegmentOutcome>>,
    receipts: u64,
    states: Vec<BindState>,
}

impl Seen {
    fn take(&mut self, ev: PoolEvent) {
        match ev {
            PoolEvent::SegmentResult { token, outcome, .. } => {
                self.finals.entry(token).or_default().push(outcome)
            }
            PoolEvent::Receipt { .. } => self.receipts += 1,
            PoolEvent::BindState { state, .. } => self.states.push(state),
            _ => {}
        }
    }

    fn count(&self, pred: impl Fn(&SegmentOutcome) -> bool) -> usize {
        self.finals.values().flatten().filter(|o| pred(o)).count()
    }

    fn downs(&self, reason: DownReason) -> usize {
        self.states
            .iter()
            .filter(|s| matches!(s, BindState::Down { reason: r, .. } if *r == reason))
            .count()
    }

    fn bound(&self) -> usize {
        self.states
            .iter()
            .filter(|s| **s == BindState::Bound)
            .count()
    }

    /// Every token of `tokens` has exactly one final result, and no other token has one.
    fn assert_exactly_once(&self, tokens: std::ops::Range<u64>) {
        for t in tokens.clone() {
            assert_eq!(
                self.finals.get(&t).map_or(0, Vec::len),
                1,
                "token {t}: {:?}",
                self.finals.get(&t)
            );
        }
        assert_eq!(self.finals.len(), tokens.count());
    }
}

/// Reads events until `done(seen)` holds; fails after [`DEADLINE`] or when the channel closes.
async fn until(rx: &mut mpsc::Receiver<PoolEvent>, seen: &mut Seen, done: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(seen) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) => seen.take(ev),
            Ok(None) => panic!("event channel closed; seen {seen:?}"),
            Err(_) => panic!("timed out; seen {:?}", seen.states),
        }
    }
}

/// Reads events until the pool has drained and closed the channel.
async fn drain(rx: &mut mpsc::Receiver<PoolEvent>, seen: &mut Seen) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) => seen.take(ev),
            Ok(None) => return,
            Err(_) => panic!("the pool did not drain"),
        }
    }
}

/// Waits for a condition on the simulator's counters, which move on their own tasks.
async fn sim_reaches(sim: &SimHandle, what: &str, cond: impl Fn(&PersonaStats) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let stats = sim.stats("smsc").unwrap();
        if cond(&stats) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {stats:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

#[tokio::test]
async fn pool_binds_over_tls_submits_and_gets_receipts() {
    let pki = Pki::new("Test CA");
    let sim = sim(&persona("    window: 256\n"), Some(&pki.server)).await;
    assert!(sim.personas()[0].tls);
    let mut s = settings(sim.persona_addr("smsc"), Some(trust(&pki.ca_pem)));
    s.binds = 2;
    s.window = 128;
    s.queue_capacity = 100_000;
    let (pool, mut rx) = start(s);
    let mut seen = Seen::default();
    // Enough to fill windows and the socket: TLS records queue up behind a full socket and
    // must still go out with nothing else to write.
    const N: u64 = 20_000;
    for t in 0..N {
        pool.submit("c1", job(t)).unwrap_or_else(|e| panic!("{e}"));
    }
    until(&mut rx, &mut seen, |s| {
        s.finals.len() as u64 == N && s.receipts == N
    })
    .await;
    assert_eq!(seen.count(SegmentOutcome::is_accepted), N as usize);
    assert_eq!(seen.bound(), 2, "two TLS sessions, bound once each");
    let stats = sim.stats("smsc").unwrap();
    assert_eq!(stats.segments, N);
    assert_eq!(stats.duplicates, 0);
    assert_eq!(stats.binds, 2);
    assert_eq!(stats.tls_handshake_failures, 0);
    assert_eq!(stats.receipts_with("DELIVRD"), N);

    within("shutdown", pool.shutdown()).await;
    drain(&mut rx, &mut seen).await;
    seen.assert_exactly_once(0..N);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_ca_cannot_bind_and_nothing_is_lost() {
    let pki = Pki::new("Test CA");
    let other = Pki::new("Some other CA");
    let sim = sim(&persona(""), Some(&pki.server)).await;
    let (pool, mut rx) = start(settings(
        sim.persona_addr("smsc"),
        Some(trust(&other.ca_pem)),
    ));
    for t in 0..10 {
        pool.submit("c1", job(t)).unwrap();
    }
    let mut seen = Seen::default();
    // Refused, then refused again after the backoff: it keeps trying, like after a failed
    // connect, and never binds.
    until(&mut rx, &mut seen, |s| {
        s.downs(DownReason::TlsHandshake) >= 2
    })
    .await;
    assert_eq!(seen.bound(), 0);
    assert!(seen.finals.is_empty(), "{:?}", seen.finals);
    let h = &pool.health()[0];
    assert_eq!(h.bound_binds, 0);
    assert_eq!(h.queued, 10, "the submits wait in the queue");
    assert!(h.counters.reconnects >= 2);
    assert_eq!(h.counters.submitted, 0);
    // Our alert (unknown CA) ends the handshake at the simulator's side too.
    sim_reaches(&sim, "handshake failures counted", |s| {
        s.tls_handshake_failures >= 2
    })
    .await;
    let stats = sim.stats("smsc").unwrap();
    assert_eq!((stats.binds, stats.submits), (0, 0));

    within("shutdown", pool.shutdown()).await;
    drain(&mut rx, &mut seen).await;
    seen.assert_exactly_once(0..10);
    assert_eq!(seen.count(|o| *o == SegmentOutcome::NotSent), 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn plain_clients_fail_cleanly_against_a_tls_persona() {
    let pki = Pki::new("Test CA");
    let sim = sim(&persona(""), Some(&pki.server)).await;
    let addr = sim.persona_addr("smsc");

    // A raw SMPP client: its bind_transceiver is not a ClientHello. The persona answers with
    // a TLS alert at most, never a bind_resp, and closes.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    let bind = Pdu::new(
        1,
        Body::BindTransceiver(Bind {
            system_id: Bytes::from_static(b"gannet"),
            password: Bytes::from_static(b"secret"),
            interface_version: 0x34,
            ..Bind::default()
        }),
    );
    raw.write_all(&bind.to_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = within("the persona closes", raw.read_to_end(&mut answer)).await;
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "a TLS alert record or nothing: {answer:02x?}"
    );
    sim_reaches(&sim, "the failed handshake is counted", |s| {
        s.tls_handshake_failures == 1
    })
    .await;

    // A plain pool: down, retrying, never bound, nothing sent.
    let (pool, mut rx) = start(settings(addr, None));
    pool.submit("c1", job(1)).unwrap();
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| {
        s.states
            .iter()
            .filter(|s| matches!(s, BindState::Down { .. }))
            .count()
            >= 2
    })
    .await;
    assert_eq!(seen.bound(), 0);
    for state in &seen.states {
        if let BindState::Down { reason, .. } = state {
            assert!(
                matches!(reason, DownReason::Closed | DownReason::ProtocolError),
                "{reason:?}"
            );
        }
    }
    within("shutdown", pool.shutdown()).await;
    drain(&mut rx, &mut seen).await;
    assert_eq!(seen.finals[&1], vec![SegmentOutcome::NotSent]);

    // A client that connects and says nothing holds a handshake open (accepted before the
    // pool below, which the listener takes in order).
    let _silent = TcpStream::connect(addr).await.unwrap();

    // The persona is none the worse: a TLS pool binds and submits.
    let (pool, mut rx) = start(settings(addr, Some(trust(&pki.ca_pem))));
    pool.submit("c1", job(2)).unwrap();
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.finals.contains_key(&2)).await;
    assert!(seen.finals[&2][0].is_accepted());
    within("shutdown", pool.shutdown()).await;
    let stats = sim.stats("smsc").unwrap();
    assert!(stats.tls_handshake_failures >= 3, "{stats:?}");
    assert_eq!(stats.segments, 1);

    // Shutdown does not wait for the silent client's 10 s handshake timeout.
    tokio::time::timeout(Duration::from_secs(5), sim.shutdown())
        .await
        .expect("shutdown cancels a pending handshake");
}

#[tokio::test]
async fn tls_pool_against_a_plain_persona_is_a_handshake_failure() {
    let pki = Pki::new("Test CA");
    let sim = sim(&persona(""), None).await;
    let (pool, mut rx) = start(settings(sim.persona_addr("smsc"), Some(trust(&pki.ca_pem))));
    pool.submit("c1", job(1)).unwrap();
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| {
        s.downs(DownReason::TlsHandshake) >= 1
    })
    .await;
    assert_eq!(seen.bound(), 0);
    within("shutdown", pool.shutdown()).await;
    drain(&mut rx, &mut seen).await;
    assert_eq!(seen.finals[&1], vec![SegmentOutcome::NotSent]);
    let stats = sim.stats("smsc").unwrap();
    assert_eq!((stats.binds, stats.segments), (0, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_over_tls_waits_for_answers_and_unbinds() {
    let pki = Pki::new("Test CA");
    let sim = sim(&persona("    resp_latency: 100ms\n"), Some(&pki.server)).await;
    let mut s = settings(sim.persona_addr("smsc"), Some(trust(&pki.ca_pem)));
    s.window = 64;
    let (pool, mut rx) = start(s);
    const N: u64 = 300;
    for t in 0..N {
        pool.submit("c1", job(t)).unwrap();
    }
    let mut seen = Seen::default();
    // Shut down while a window's worth is in flight (each answer takes 100 ms).
    until(&mut rx, &mut seen, |s| !s.finals.is_empty()).await;
    within("shutdown", pool.shutdown()).await;
    drain(&mut rx, &mut seen).await;

    seen.assert_exactly_once(0..N);
    let accepted = seen.count(SegmentOutcome::is_accepted);
    let not_sent = seen.count(|o| *o == SegmentOutcome::NotSent);
    assert_eq!(
        accepted + not_sent,
        N as usize,
        "no submit ambiguous or failed"
    );
    assert!(
        accepted >= 64,
        "the window in flight was answered: {accepted}"
    );
    assert!(not_sent > 0, "the rest stayed queued: {not_sent}");
    assert_eq!(seen.states.last(), Some(&BindState::Stopped));
    assert!(
        !seen
            .states
            .iter()
            .any(|s| matches!(s, BindState::Down { .. })),
        "a clean end, not a lost link: {:?}",
        seen.states
    );
    // The simulator saw every accepted submit, then our unbind and a clean close.
    sim_reaches(&sim, "the bind is gone", |s| s.binds_active == 0).await;
    let stats = sim.stats("smsc").unwrap();
    assert_eq!(stats.segments, accepted as u64);
    assert_eq!(stats.tls_handshake_failures, 0);
    sim.shutdown().await;
}

/// The simulator's forced unbind and TCP reset act on TLS binds too; the pool rebinds over
/// TLS each time, and every submit ends once: accepted, or ambiguous when the reset caught it
/// in flight.
#[tokio::test]
async fn unbind_and_reset_faults_over_tls_lose_nothing() {
    let pki = Pki::new("Test CA");
    let sim = sim(&persona("    resp_latency: 20ms\n"), Some(&pki.server)).await;
    let mut s = settings(sim.persona_addr("smsc"), Some(trust(&pki.ca_pem)));
    s.window = 32;
    let (pool, mut rx) = start(s);
    const N: u64 = 600;
    for t in 0..N {
        pool.submit("c1", job(t)).unwrap();
    }
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.finals.len() >= 100).await;
    sim.fault("smsc", gannet::sim::Fault::Unbind).unwrap();
    until(&mut rx, &mut seen, |s| {
        s.bound() >= 2 && s.finals.len() >= 250
    })
    .await;
    sim.fault("smsc", gannet::sim::Fault::Reset).unwrap();
    until(&mut rx, &mut seen, |s| {
        s.bound() >= 3 && s.finals.len() as u64 == N
    })
    .await;

    seen.assert_exactly_once(0..N);
    let accepted = seen.count(SegmentOutcome::is_accepted);
    let ambiguous = seen.count(|o| *o == SegmentOutcome::Ambiguous);
    assert_eq!(accepted + ambiguous, N as usize, "{seen:?}");
    assert_eq!(seen.downs(DownReason::TlsHandshake), 0);
    let stats = sim.stats("smsc").unwrap();
    assert_eq!((stats.forced_unbinds, stats.forced_resets), (1, 1));
    assert_eq!(stats.binds, 3);
    assert_eq!(stats.duplicates, 0, "nothing was sent twice");
    assert!(stats.segments >= accepted as u64);
    within("shutdown", pool.shutdown()).await;
    sim.shutdown().await;
}

/// The YAML way: PEM files next to the configs, paths relative to them, a TLS persona from
/// sim.yaml and a carrier from gateway.yaml that trusts the CA file and checks the IP address
/// (no tls_server_name) or a DNS name (tls_server_name).
#[tokio::test]
async fn pem_files_named_in_yaml_work_end_to_end() {
    let pki = Pki::new("Test CA");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pki")).unwrap();
    std::fs::write(dir.path().join("pki/ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("pki/smsc.pem"), &pki.server_pem.0).unwrap();
    std::fs::write(dir.path().join("pki/smsc.key"), &pki.server_pem.1).unwrap();
    let sim_yaml = dir.path().join("sim.yaml");
    std::fs::write(
        &sim_yaml,
        persona("    tls: { cert: pki/smsc.pem, key: pki/smsc.key }\n"),
    )
    .unwrap();
    let sim = Sim::start(SimConfig::load(&sim_yaml).unwrap())
        .await
        .unwrap();
    let addr = sim.persona_addr("smsc");

    let gateway = dir.path().join("gateway.yaml");
    let carrier = |name: &str, extra: &str| {
        format!(
            "  - name: {name}\n    host: 127.0.0.1\n    port: {}\n    system_id: gannet\n    password: secret\n    tls: true\n    tls_ca_file: pki/ca.pem\n{extra}",
            addr.port()
        )
    };
    std::fs::write(
        &gateway,
        format!(
            "carriers:\n{}{}",
            carrier("by-ip", ""),
            carrier("by-name", "    tls_server_name: localhost\n")
        ),
    )
    .unwrap();
    let file: CarriersFile = gannet::config::load(&gateway).unwrap();
    let settings = validate_carriers(&gateway, &file.carriers).unwrap();
    assert!(
        settings
            .iter()
            .all(|s| s.tls.as_ref().is_some_and(|t| !t.public()))
    );

    let (tx, mut rx) = mpsc::channel(1024);
    let pool = CarrierPool::start(settings, tx, CancellationToken::new()).unwrap();
    pool.submit("by-ip", job(1)).unwrap();
    pool.submit("by-name", job(2)).unwrap();
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.finals.len() == 2).await;
    assert!(seen.count(SegmentOutcome::is_accepted) == 2, "{seen:?}");
    within("shutdown", pool.shutdown()).await;
    sim.shutdown().await;
}

/// The test certificates committed under tls/ load, are valid today, and serve the example
/// TLS world.
#[tokio::test]
async fn the_committed_test_certificates_work() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = SimConfig::load(&root.join("tls/sim-tls.yaml"))
        .unwrap()
        .ephemeral();
    let sim = Sim::start(config).await.unwrap();
    let addr = sim.persona_addr("smsc-tls");
    let ca = std::fs::read(root.join("tls/ca.pem")).unwrap();
    let mut s = CarrierSettings::new("c1", addr.ip().to_string(), addr.port(), "gannet", "s3cret");
    s.tls = Some(TlsSettings::with_ca_pem("localhost", &ca).unwrap());
    let (pool, mut rx) = start(s);
    pool.submit("c1", job(7)).unwrap();
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.finals.contains_key(&7)).await;
    assert!(seen.finals[&7][0].is_accepted(), "{seen:?}");
    within("shutdown", pool.shutdown()).await;
    sim.shutdown().await;
}

/// Throughput of one bind with a window of 256 over TLS and over plain TCP, same process,
/// same simulator, rounds alternating; CPU per message is the whole process (pool and
/// simulator, both ends of the TLS session). A figure, not a test:
/// `TLS_BENCH_ROUNDS=5 cargo test --release --test tls -- --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput_tls_against_plain() {
    let pki = Pki::new("Test CA");
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = env("TLS_BENCH_COUNT", 1_000_000);
    for round in 0..env("TLS_BENCH_ROUNDS", 2) {
        for tls in [false, true] {
            let yaml = persona("    received_capacity: 1\n    duplicate_window: 1\n");
            let sim = sim(&yaml, tls.then_some(&pki.server)).await;
            let mut s = settings(sim.persona_addr("smsc"), tls.then(|| trust(&pki.ca_pem)));
            s.window = 256;
            s.queue_capacity = 100_000;
            let (pool, mut rx) = start(s);
            let mut seen = 0u64;
            let mut next = 0u64;
            let mut started = None;
            while seen < n {
                while next < n && pool.submit("c1", job_no_receipt(next)).is_ok() {
                    next += 1;
                }
                match rx.recv().await {
                    Some(PoolEvent::SegmentResult { outcome, .. }) => {
                        assert!(outcome.is_accepted());
                        seen += 1;
                    }
                    Some(PoolEvent::BindState {
                        state: BindState::Bound,
                        ..
                    }) => started = Some((std::time::Instant::now(), cpu_time())),
                    Some(_) => {}
                    None => panic!("channel closed"),
                }
            }
            let (t0, cpu0) = started.expect("bound");
            let secs = t0.elapsed().as_secs_f64();
            let cpu = cpu_time() - cpu0;
            println!(
                "round {round} {}: {n} submits acknowledged in {secs:.2} s: {:.0}/s, {:.2} µs CPU per submit (pool and simulator)",
                if tls { "TLS  " } else { "plain" },
                n as f64 / secs,
                cpu * 1e6 / n as f64
            );
            pool.shutdown().await;
            sim.shutdown().await;
        }
    }
}

/// CPU seconds of this process so far (user and system, /proc/self/stat at 100 ticks/s).
fn cpu_time() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and stime are the
    // 12th and 13th of them.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn job_no_receipt(token: u64) -> SubmitJob {
    let mut j = job(token);
    j.pdus[0].registered_delivery = 0;
    j
}
