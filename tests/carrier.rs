//! The carrier pool end to end: real sockets on loopback against the real simulator
//! (`gannet::sim`), paused time wherever timers matter, and every message accounted for at the
//! simulator's side.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use gannet::carrier::{
    BindState, CarrierPool, CarrierSettings, DownReason, PoolEvent, SegmentOutcome, StatusClass,
    SubmitJob, SubmitRejected,
};
use gannet::sim::{Fault, Sim, SimConfig, SimHandle};
use gannet_smpp::{Address, CommandStatus, SubmitSm};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

async fn sim(yaml: &str) -> SimHandle {
    let config = SimConfig::parse(Path::new("sim.yaml"), yaml).expect("sim config");
    Sim::start(config).await.expect("sim start")
}

/// One persona `smsc` for account gannet/secret with extra keys (indented 4).
fn persona(extra: &str) -> String {
    format!(
        "personas:\n  - name: smsc\n    listen: 127.0.0.1:0\n    accounts: [{{ system_id: gannet, password: secret }}]\n{extra}"
    )
}

fn settings(addr: SocketAddr) -> CarrierSettings {
    let mut s = CarrierSettings::new("c1", addr.ip().to_string(), addr.port(), "gannet", "secret");
    s.reconnect.initial = Duration::from_millis(200);
    s.reconnect.max = Duration::from_secs(5);
    s
}

/// A submit_sm with a unique text, so the simulator's duplicate detection sees resends.
fn sm(token: u64, segment: u8) -> SubmitSm {
    SubmitSm {
        source_addr: Address::alphanumeric(&b"Gannet"[..]),
        destination_addr: Address::international(Bytes::from(format!(
            "4477009{:05}",
            token % 100_000
        ))),
        short_message: Bytes::from(format!("code {token} part {segment}")),
        ..SubmitSm::default()
    }
}

fn job(token: u64, segments: u8, resend: bool) -> SubmitJob {
    SubmitJob {
        token,
        pdus: (0..segments).map(|s| sm(token, s)).collect(),
        ambiguous_resend_allowed: resend,
        received: None,
    }
}

/// Everything the pool reported, by kind.
#[derive(Default, Debug)]
struct Seen {
    finals: BTreeMap<(u64, u8), Vec<SegmentOutcome>>,
    duplicates: u64,
    states: Vec<(u16, BindState)>,
    receipts: u64,
    mos: u64,
}

impl Seen {
    fn take(&mut self, ev: PoolEvent) {
        match ev {
            PoolEvent::SegmentResult {
                token,
                segment,
                outcome,
                ..
            } => self
                .finals
                .entry((token, segment))
                .or_default()
                .push(outcome),
            PoolEvent::PossibleDuplicate { .. } => self.duplicates += 1,
            PoolEvent::BindState { bind, state, .. } => self.states.push((bind, state)),
            PoolEvent::Receipt { .. } => self.receipts += 1,
            PoolEvent::Mo { .. } => self.mos += 1,
            _ => {}
        }
    }

    fn count(&self, pred: impl Fn(&SegmentOutcome) -> bool) -> usize {
        self.finals.values().flatten().filter(|o| pred(o)).count()
    }

    fn accepted(&self) -> usize {
        self.count(SegmentOutcome::is_accepted)
    }

    /// Every segment of `tokens` has exactly one final result.
    fn assert_exactly_once(&self, tokens: impl Iterator<Item = (u64, u8)>) {
        let mut n = 0;
        for key in tokens {
            let got = self.finals.get(&key).map_or(0, Vec::len);
            assert_eq!(got, 1, "segment {key:?}: {:?}", self.finals.get(&key));
            n += 1;
        }
        assert_eq!(self.finals.len(), n, "results for segments never submitted");
    }

    fn bound_count(&self) -> usize {
        self.states
            .iter()
            .filter(|(_, s)| *s == BindState::Bound)
            .count()
    }
}

/// Reads events until `done(seen)` holds (or the channel closes).
async fn until(rx: &mut mpsc::Receiver<PoolEvent>, seen: &mut Seen, done: impl Fn(&Seen) -> bool) {
    while !done(seen) {
        match rx.recv().await {
            Some(ev) => seen.take(ev),
            None => return,
        }
    }
}

/// Reads events until the pool has drained and closed the channel.
async fn drain(rx: &mut mpsc::Receiver<PoolEvent>, seen: &mut Seen) {
    while let Some(ev) = rx.recv().await {
        seen.take(ev);
    }
}

fn start(settings: Vec<CarrierSettings>) -> (CarrierPool, mpsc::Receiver<PoolEvent>) {
    let (tx, rx) = mpsc::channel(4096);
    let pool = CarrierPool::start(settings, tx, CancellationToken::new()).unwrap();
    (pool, rx)
}

/// Submits, waiting for queue space when the pool pushes back.
async fn submit_all(
    pool: &CarrierPool,
    rx: &mut mpsc::Receiver<PoolEvent>,
    seen: &mut Seen,
    jobs: impl Iterator<Item = SubmitJob>,
) {
    for j in jobs {
        let mut j = Some(j);
        while let Some(job) = j.take() {
            match pool.submit("c1", job.clone()) {
                Ok(()) => {}
                Err(SubmitRejected::QueueFull { .. }) => {
                    if let Some(ev) = rx.recv().await {
                        seen.take(ev);
                    }
                    j = Some(job);
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[tokio::test]
async fn submits_are_accepted_once_each() {
    let sim = sim(&persona("")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.window = 32;
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (0..2000).map(|t| job(t, 1, false)),
    )
    .await;
    // Three-segment messages count as three submits.
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (2000..2100).map(|t| job(t, 3, false)),
    )
    .await;
    until(&mut rx, &mut seen, |s| s.finals.len() == 2300).await;
    assert_eq!(seen.accepted(), 2300);
    for outcomes in seen.finals.values() {
        match &outcomes[..] {
            [SegmentOutcome::Accepted { message_id }] => assert!(!message_id.is_empty()),
            other => panic!("{other:?}"),
        }
    }
    let stats = sim.stats("smsc").unwrap();
    assert_eq!(stats.segments, 2300);
    assert_eq!(stats.duplicates, 0);
    let h = &pool.health()[0];
    assert_eq!(h.bound_binds, 1);
    assert_eq!(h.counters.submitted, 2300);
    assert_eq!(h.counters.accepted, 2300);
    assert!(h.recent_resp_latency.is_some());

    pool.shutdown().await;
    drain(&mut rx, &mut seen).await;
    seen.assert_exactly_once(
        (0..2000)
            .map(|t| (t, 0))
            .chain((2000..2100).flat_map(|t| (0..3).map(move |s| (t, s)))),
    );
    assert!(matches!(seen.states.last(), Some((0, BindState::Stopped))));
    assert_eq!(
        pool.submit("c1", job(1, 1, false)),
        Err(SubmitRejected::ShuttingDown)
    );
    assert!(matches!(
        pool.submit("nope", job(1, 1, false)),
        Err(SubmitRejected::UnknownCarrier(_))
    ));
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn bad_password_backs_off_without_a_storm() {
    let sim = sim(&persona("")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.password = Bytes::from_static(b"wrong");
    s.binds = 2;
    s.reconnect.initial = Duration::from_secs(1);
    s.reconnect.max = Duration::from_secs(60);
    s.reconnect.jitter = 0.5;
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    let t0 = Instant::now();
    // Ten minutes of refusals, in paused time.
    let ten_minutes = tokio::time::sleep(Duration::from_secs(600));
    tokio::pin!(ten_minutes);
    loop {
        tokio::select! {
            _ = &mut ten_minutes => break,
            ev = rx.recv() => seen.take(ev.unwrap()),
        }
    }
    let stats = sim.stats("smsc").unwrap();
    let refused = stats
        .bind_failures
        .get("ESME_RINVPASWD")
        .copied()
        .unwrap_or(0);
    // Two binds, each: delays ≥ 0.5, 1, 2, 4, 8, 16, 32, then ≥ 30 s each: at most ~25 tries
    // in ten minutes; a storm would be thousands.
    assert!(
        (10..=60).contains(&refused),
        "{refused} bind attempts in 10 minutes"
    );
    assert_eq!(stats.binds, 0);
    // The delays grow to the cap and stay there.
    let delays: Vec<Duration> = seen
        .states
        .iter()
        .filter(|(b, _)| *b == 0)
        .filter_map(|(_, s)| match s {
            BindState::Down {
                reason: DownReason::BindRefused(CommandStatus::ESME_RINVPASWD),
                retry_in,
            } => Some(*retry_in),
            _ => None,
        })
        .collect();
    assert!(delays.len() >= 5, "{delays:?}");
    assert!(delays[0] <= Duration::from_secs(1), "{delays:?}");
    assert!(
        delays
            .iter()
            .rev()
            .take(3)
            .all(|d| *d >= Duration::from_secs(30)),
        "{delays:?}"
    );
    assert!(Instant::now() - t0 >= Duration::from_secs(600));
    assert_eq!(pool.health()[0].bound_binds, 0);
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn window_is_never_exceeded() {
    // The simulator answers ESME_RMSGQFUL to any submit beyond 8 unanswered on a bind.
    let sim = sim(&persona(
        "    window: 8\n    resp_latency: { min: 5ms, max: 30ms }\n",
    ))
    .await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.window = 8;
    s.binds = 2;
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (0..3000).map(|t| job(t, 1, false)),
    )
    .await;
    let mut max_in_use = 0;
    while seen.finals.len() < 3000 {
        let ev = rx.recv().await.unwrap();
        seen.take(ev);
        max_in_use = max_in_use.max(pool.health()[0].window_in_use);
    }
    assert!(max_in_use <= 16, "{max_in_use}");
    assert!(max_in_use >= 8, "the windows were used: {max_in_use}");
    let stats = sim.stats("smsc").unwrap();
    assert_eq!(stats.window_full, 0, "the simulator saw a window overrun");
    assert_eq!(stats.segments, 3000);
    assert_eq!(seen.accepted(), 3000);
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_window_waits_instead_of_failing() {
    // Slow carrier, small window, many messages: nothing is refused, everything waits its turn.
    let sim = sim(&persona("    resp_latency: { min: 200ms, max: 200ms }\n")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.window = 4;
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    let t0 = Instant::now();
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (0..200).map(|t| job(t, 1, false)),
    )
    .await;
    until(&mut rx, &mut seen, |s| s.finals.len() == 200).await;
    assert_eq!(seen.accepted(), 200);
    // 200 messages, 4 at a time, 200 ms each: 10 s at least, and not much more (no
    // stop-and-wait, no idle gaps).
    let took = Instant::now() - t0;
    assert!(took >= Duration::from_secs(10), "{took:?}");
    assert!(took < Duration::from_secs(11), "{took:?}");
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_and_slows_the_carrier() {
    // The carrier takes 100 segments/s and answers ESME_RTHROTTLED beyond; we have no contract
    // figure for it (the worst case: learn the rate from the answers).
    let sim = sim(&persona(
        "    tps: 100\n    tps_burst: 10\n    resp_latency: { min: 10ms, max: 10ms }\n",
    ))
    .await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.window = 32;
    s.retry.max_throttled = 1000;
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    let t0 = Instant::now();
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (0..2000).map(|t| job(t, 1, false)),
    )
    .await;
    let mut slowed = false;
    while seen.finals.len() < 2000 {
        seen.take(rx.recv().await.unwrap());
        slowed |= pool.health()[0].throttled;
    }
    let took = Instant::now() - t0;
    assert_eq!(
        seen.accepted(),
        2000,
        "every throttled message retried and accepted"
    );
    let stats = sim.stats("smsc").unwrap();
    assert_eq!(stats.segments, 2000);
    assert_eq!(stats.duplicates, 0);
    assert!(stats.throttled > 0);
    assert!(slowed, "the pool slowed the carrier down");
    // 2000 at 100/s is 20 s; adaptive slowing costs some of that, a fixed 30 s sleep per
    // throttle would cost minutes.
    assert!(took >= Duration::from_secs(19), "{took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    // Far fewer throttled answers than messages: the pool did not hammer the carrier.
    assert!(
        stats.throttled < 1000,
        "{} throttled answers",
        stats.throttled
    );
    let h = &pool.health()[0];
    assert!(h.effective_tps.is_some());
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn contract_tps_holds_in_every_second_counting_segments() {
    let sim = sim(&persona("    resp_latency: { min: 20ms, max: 20ms }\n")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.window = 64;
    s.binds = 3;
    s.tps = Some(50);
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    // Wait until all three binds are up so that the test measures pacing, not binding.
    until(&mut rx, &mut seen, |s| s.bound_count() == 3).await;
    // 200 messages of 3 segments: 600 segments at 50/s.
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (0..200).map(|t| job(t, 3, false)),
    )
    .await;
    until(&mut rx, &mut seen, |s| s.finals.len() == 600).await;
    assert_eq!(seen.accepted(), 600);
    let received = sim.received("smsc").unwrap();
    // Timestamps of every accepted submit_sm at the simulator.
    let mut at: Vec<u64> = received
        .iter()
        .flat_map(|r| std::iter::repeat_n(r.at_ms, usize::from(r.segments)))
        .collect();
    at.sort();
    assert_eq!(at.len(), 600);
    let mut worst = 0;
    let mut lo = 0;
    for hi in 0..at.len() {
        while at[hi] - at[lo] >= 1000 {
            lo += 1;
        }
        worst = worst.max(hi - lo + 1);
    }
    assert!(worst <= 50, "{worst} segments in one second, contract 50");
    let span = at[599] - at[0];
    assert!(
        (11_000..=12_500).contains(&span),
        "600 segments took {span} ms"
    );
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_dead_link_is_found_and_rebound() {
    let sim = sim(&persona("")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.enquire_link_interval = Duration::from_secs(5);
    s.enquire_link_timeout = Duration::from_secs(2);
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.bound_count() == 1).await;
    sim.fault("smsc", Fault::IgnoreEnquireLink { enabled: true })
        .unwrap();
    let t0 = Instant::now();
    until(&mut rx, &mut seen, |s| {
        s.states.iter().any(|(_, st)| {
            matches!(
                st,
                BindState::Down {
                    reason: DownReason::LinkDead,
                    ..
                }
            )
        })
    })
    .await;
    // Idle 5 s, then 2 s without an answer.
    let took = Instant::now() - t0;
    assert!(took <= Duration::from_secs(8), "{took:?}");
    sim.fault("smsc", Fault::IgnoreEnquireLink { enabled: false })
        .unwrap();
    until(&mut rx, &mut seen, |s| s.bound_count() == 2).await;
    pool.submit("c1", job(1, 1, false)).unwrap();
    until(&mut rx, &mut seen, |s| s.finals.len() == 1).await;
    assert_eq!(seen.accepted(), 1);
    assert!(sim.stats("smsc").unwrap().enquire_links >= 1);
    pool.shutdown().await;
    sim.shutdown().await;
}

/// Forced unbinds and TCP resets while 5000 messages flow: each one is accepted exactly once,
/// or reported ambiguous; the simulator's duplicates are only ever resent ambiguous ones.
#[tokio::test(start_paused = true)]
async fn unbinds_and_resets_mid_load_lose_nothing() {
    let sim = sim(&persona("    resp_latency: { min: 5ms, max: 50ms }\n")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.window = 64;
    s.binds = 2;
    s.retry.resend_ambiguous = true;
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.bound_count() == 2).await;
    // Half the jobs allow resending an ambiguous submit, half do not.
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (0..1500).map(|t| job(t, 1, t % 2 == 0)),
    )
    .await;
    until(&mut rx, &mut seen, |s| s.finals.len() >= 300).await;
    sim.fault("smsc", Fault::Unbind).unwrap();
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (1500..3000).map(|t| job(t, 1, t % 2 == 0)),
    )
    .await;
    until(&mut rx, &mut seen, |s| s.finals.len() >= 1800).await;
    sim.fault("smsc", Fault::Reset).unwrap();
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (3000..5000).map(|t| job(t, 1, t % 2 == 0)),
    )
    .await;
    until(&mut rx, &mut seen, |s| s.finals.len() >= 3500).await;
    sim.fault("smsc", Fault::Reset).unwrap();
    until(&mut rx, &mut seen, |s| s.finals.len() == 5000).await;
    pool.shutdown().await;
    drain(&mut rx, &mut seen).await;

    seen.assert_exactly_once((0..5000).map(|t| (t, 0)));
    let accepted = seen.accepted();
    let ambiguous = seen.count(|o| *o == SegmentOutcome::Ambiguous);
    assert_eq!(
        accepted + ambiguous,
        5000,
        "{:?}",
        seen.finals
            .values()
            .find(|o| !o[0].is_accepted() && o[0] != SegmentOutcome::Ambiguous)
    );
    // Ambiguous is only ever the final word for jobs that forbid resending.
    for ((token, _), o) in &seen.finals {
        if o[0] == SegmentOutcome::Ambiguous {
            assert!(token % 2 == 1, "job {token} allowed a resend");
        }
    }
    let stats = sim.stats("smsc").unwrap();
    assert!(stats.forced_unbinds >= 1 && stats.forced_resets >= 1);
    // The carrier has every accepted message, plus at most the ambiguous ones; a message it
    // has twice was a resend we counted as a possible duplicate.
    let distinct = stats.segments - stats.duplicates;
    assert!(distinct >= accepted as u64);
    assert!(distinct <= (accepted + ambiguous) as u64);
    assert!(
        stats.duplicates <= seen.duplicates,
        "{} duplicates at the carrier, {} announced",
        stats.duplicates,
        seen.duplicates
    );
    let h = &pool.health()[0];
    assert!(h.counters.reconnects >= 2);
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn reconnects_never_exceed_the_bind_count() {
    // The carrier allows three binds per account and says ESME_RALYBND to a fourth.
    let sim = sim(&persona("    max_binds: 3\n")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.binds = 3;
    s.reconnect.initial = Duration::from_millis(100);
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.bound_count() == 3).await;
    sim.fault(
        "smsc",
        Fault::ResetEvery {
            every: Some(Duration::from_secs(2)),
        },
    )
    .unwrap();
    // A steady trickle (one message every 50 ms of paused time) for 30 s.
    let stop = Instant::now() + Duration::from_secs(30);
    let mut token = 0;
    while Instant::now() < stop {
        let _ = pool.submit("c1", job(token, 1, true));
        token += 1;
        let active = sim.stats("smsc").unwrap().binds_active;
        assert!(active <= 3, "{active} binds open");
        tokio::time::sleep(Duration::from_millis(50)).await;
        while let Ok(ev) = rx.try_recv() {
            seen.take(ev);
        }
    }
    let stats = sim.stats("smsc").unwrap();
    assert!(stats.forced_resets >= 10, "{}", stats.forced_resets);
    assert!(
        stats.binds >= 30,
        "rebound after every reset: {}",
        stats.binds
    );
    assert_eq!(
        stats.bind_failures.get("ESME_RALYBND"),
        None,
        "a bind was tried while all three were open"
    );
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn already_bound_backs_off_longer() {
    // Four binds configured where the carrier allows two: the extra two are told
    // ESME_RALYBND and must wait `already_bound_delay`, not hammer.
    let sim = sim(&persona("    max_binds: 2\n")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.binds = 4;
    s.already_bound_delay = Duration::from_secs(30);
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    let stop = tokio::time::sleep(Duration::from_secs(120));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            ev = rx.recv() => seen.take(ev.unwrap()),
        }
    }
    let refused = sim
        .stats("smsc")
        .unwrap()
        .bind_failures
        .get("ESME_RALYBND")
        .copied()
        .unwrap_or(0);
    // Two refused binds, at most once per 30 s each, over two minutes.
    assert!((2..=10).contains(&refused), "{refused}");
    for (_, st) in &seen.states {
        if let BindState::Down {
            reason: DownReason::BindRefused(CommandStatus::ESME_RALYBND),
            retry_in,
        } = st
        {
            assert!(*retry_in >= Duration::from_secs(30));
        }
    }
    assert_eq!(pool.health()[0].bound_binds, 2);
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_under_load_gives_every_job_a_final_event() {
    let sim = sim(&persona("    resp_latency: { min: 50ms, max: 100ms }\n")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.window = 16;
    s.binds = 2;
    s.tps = Some(500);
    s.queue_capacity = 20_000;
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    submit_all(
        &pool,
        &mut rx,
        &mut seen,
        (0..5000).map(|t| job(t, 1, false)),
    )
    .await;
    until(&mut rx, &mut seen, |s| s.finals.len() >= 1000).await;
    let stopping = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.shutdown().await })
    };
    drain(&mut rx, &mut seen).await;
    stopping.await.unwrap();
    seen.assert_exactly_once((0..5000).map(|t| (t, 0)));
    let accepted = seen.accepted();
    let not_sent = seen.count(|o| *o == SegmentOutcome::NotSent);
    assert_eq!(
        accepted + not_sent,
        5000,
        "in-flight submits were answered before the unbind"
    );
    assert!(not_sent > 0);
    let stats = sim.stats("smsc").unwrap();
    assert_eq!(stats.segments, accepted as u64);
    assert_eq!(stats.binds_active, 0, "unbound");
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn permanent_and_temporary_errors() {
    let sim = sim(&persona("")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.retry.max_temporary = 2;
    s.retry.backoff.initial = Duration::from_secs(1);
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.bound_count() == 1).await;
    sim.fault(
        "smsc",
        Fault::RejectSubmits {
            status: Some(gannet::sim::Status(CommandStatus::ESME_RINVDSTADR)),
        },
    )
    .unwrap();
    pool.submit("c1", job(1, 1, false)).unwrap();
    until(&mut rx, &mut seen, |s| s.finals.len() == 1).await;
    assert_eq!(
        seen.finals[&(1, 0)],
        vec![SegmentOutcome::Failed {
            status: CommandStatus::ESME_RINVDSTADR,
            class: StatusClass::Permanent
        }]
    );
    sim.fault(
        "smsc",
        Fault::RejectSubmits {
            status: Some(gannet::sim::Status(CommandStatus::ESME_RSYSERR)),
        },
    )
    .unwrap();
    let t0 = Instant::now();
    pool.submit("c1", job(2, 1, false)).unwrap();
    until(&mut rx, &mut seen, |s| s.finals.len() == 2).await;
    // Tried three times with backoff between: ≥ 0.8 s + 1.6 s.
    assert!(Instant::now() - t0 >= Duration::from_millis(2400));
    assert_eq!(
        seen.finals[&(2, 0)],
        vec![SegmentOutcome::Failed {
            status: CommandStatus::ESME_RSYSERR,
            class: StatusClass::Temporary
        }]
    );
    // A temporary error that clears: the retry is accepted.
    pool.submit("c1", job(3, 1, false)).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.fault("smsc", Fault::RejectSubmits { status: None })
        .unwrap();
    until(&mut rx, &mut seen, |s| s.finals.len() == 3).await;
    assert!(seen.finals[&(3, 0)][0].is_accepted());
    assert_eq!(sim.stats("smsc").unwrap().submits, 1 + 3 + 2);
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn response_timeouts_are_ambiguous_and_resent_only_when_allowed() {
    let sim = sim(&persona("")).await;
    let mut s = settings(sim.persona_addr("smsc"));
    s.response_timeout = Duration::from_secs(2);
    s.retry.resend_ambiguous = true;
    s.retry.max_ambiguous = 1;
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    until(&mut rx, &mut seen, |s| s.bound_count() == 1).await;
    sim.fault("smsc", Fault::DropResponses { ratio: 1.0 })
        .unwrap();
    pool.submit("c1", job(1, 1, false)).unwrap();
    pool.submit("c1", job(2, 1, true)).unwrap();
    until(&mut rx, &mut seen, |s| {
        s.finals.contains_key(&(1, 0)) && s.duplicates == 1
    })
    .await;
    assert_eq!(seen.finals[&(1, 0)], vec![SegmentOutcome::Ambiguous]);
    sim.fault("smsc", Fault::DropResponses { ratio: 0.0 })
        .unwrap();
    until(&mut rx, &mut seen, |s| s.finals.len() == 2).await;
    // Job 2 was resent once (a possible duplicate, announced) and accepted.
    assert!(seen.finals[&(2, 0)][0].is_accepted());
    let stats = sim.stats("smsc").unwrap();
    assert_eq!(stats.duplicates, 1);
    assert_eq!(pool.health()[0].counters.possible_duplicates, 1);
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn receipts_and_mo_come_up_as_events() {
    let sim = sim(&persona(
        "    receipts: { format: both }\n    mo: { every: 100ms, from: [\"447700900001\"], to: \"12345\", texts: [\"STOP\"] }\n",
    ))
    .await;
    let s = settings(sim.persona_addr("smsc"));
    let (pool, mut rx) = start(vec![s]);
    let mut seen = Seen::default();
    for t in 0..20 {
        let mut j = job(t, 1, false);
        j.pdus[0].registered_delivery = 1;
        pool.submit("c1", j).unwrap();
    }
    until(&mut rx, &mut seen, |s| s.receipts >= 20 && s.mos >= 3).await;
    let stats = sim.stats("smsc").unwrap();
    assert_eq!(stats.deliver_errors, 0, "every deliver_sm acknowledged OK");
    pool.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn bounded_queue_pushes_back() {
    // No carrier listening: nothing drains the queue.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut s = settings(addr);
    s.queue_capacity = 10;
    let (pool, mut rx) = start(vec![s]);
    for t in 0..3 {
        pool.submit("c1", job(t, 3, false)).unwrap();
    }
    assert!(matches!(
        pool.submit("c1", job(9, 2, false)),
        Err(SubmitRejected::QueueFull { capacity: 10, .. })
    ));
    pool.submit("c1", job(10, 1, false)).unwrap();
    assert_eq!(pool.health()[0].queued, 10);
    pool.shutdown().await;
    let mut seen = Seen::default();
    drain(&mut rx, &mut seen).await;
    assert_eq!(seen.count(|o| *o == SegmentOutcome::NotSent), 10);
    let _: HashMap<(), ()> = HashMap::new();
}
