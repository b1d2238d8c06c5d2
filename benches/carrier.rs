//! The carrier pool against the simulator over loopback TCP, counted at the simulator.
//!
//! The pool runs on a current-thread tokio runtime on the bench's own thread, the simulator on
//! a runtime of its own on another thread, so the gateway's CPU is that thread's CPU time
//! (`/proc/thread-self/schedstat`, nanoseconds), not the simulator's.
//!
//! - `carrier/one_bind_window64`: submit_sm per second through one bind with a window of 64,
//!   acknowledged by the simulator (target ≥ 200,000/s), and gateway CPU µs per message.
//! - `latency_50ms` (printed): one bind, window 64, simulator answering after 50 ms: throughput
//!   against the window ÷ RTT bound (64 / 0.05 s = 1,280/s; target ≥ 95%).
//! - `tps_1000` (printed): three binds, contract 1,000 TPS, the most segments the simulator saw
//!   in any one-second span (target ≤ 1,010).
//!
//! Run: `cargo bench --bench carrier` (figures on stderr; criterion's report for the first).
//! `cargo test --benches` runs each scenario once, briefly.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use gannet::carrier::{CarrierPool, CarrierSettings, PoolEvent, SubmitJob, SubmitRejected};
use gannet::sim::{Sim, SimConfig, SimHandle};
use gannet_smpp::{Address, SubmitSm};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[path = "support/thread.rs"]
mod thread;
use thread::{ServiceThread, cpu_of};

/// The simulator (one persona, `smsc`, plus `extra` YAML) on its own thread and runtime.
fn sim_thread(extra: &str) -> ServiceThread<SimHandle> {
    let yaml = format!(
        "personas:\n  - name: smsc\n    listen: 127.0.0.1:0\n    accounts: [{{ system_id: bench, password: bench }}]\n    received_capacity: 2000000\n{extra}"
    );
    ServiceThread::start("the simulator", move |ready, stop| async move {
        let config = SimConfig::parse(Path::new("bench-sim.yaml"), &yaml).expect("sim yaml");
        let handle = Sim::start(config).await.expect("sim");
        let _ = ready.send(handle.clone());
        let _ = stop.await;
        handle.shutdown().await;
    })
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    cpu_of(Path::new("/proc/thread-self"))
}

fn sm(i: u64) -> SubmitSm {
    SubmitSm {
        source_addr: Address::alphanumeric(&b"Gannet"[..]),
        destination_addr: Address::international(Bytes::from(format!("4477009{:05}", i % 100_000))),
        registered_delivery: 0,
        short_message: Bytes::from_static(b"Your code is 482913."),
        ..SubmitSm::default()
    }
}

/// A pool with one carrier on the simulator, ready (all binds bound).
async fn pool(
    sim: &SimHandle,
    binds: u16,
    window: u32,
    tps: Option<u32>,
) -> (CarrierPool, mpsc::Receiver<PoolEvent>) {
    let addr = sim.persona_addr("smsc");
    let mut s = CarrierSettings::new("c1", addr.ip().to_string(), addr.port(), "bench", "bench");
    s.binds = binds;
    s.window = window;
    s.tps = tps;
    s.queue_capacity = 100_000;
    s.response_timeout = Duration::from_secs(30);
    let (tx, mut rx) = mpsc::channel(65_536);
    let pool = CarrierPool::start(vec![s], tx, CancellationToken::new()).expect("pool");
    let mut bound = 0;
    while bound < binds {
        if let Some(PoolEvent::BindState {
            state: gannet::carrier::BindState::Bound,
            ..
        }) = rx.recv().await
        {
            bound += 1;
        }
    }
    (pool, rx)
}

/// Pushes `n` single-segment jobs through and waits for every result. Returns (wall, cpu of
/// this thread, accepted).
async fn run(
    pool: &CarrierPool,
    rx: &mut mpsc::Receiver<PoolEvent>,
    n: u64,
    start_token: u64,
) -> (Duration, Duration, u64) {
    let cpu0 = thread_cpu();
    let t0 = Instant::now();
    let mut next = 0u64;
    let mut done = 0u64;
    let mut accepted = 0u64;
    let mut buf = Vec::with_capacity(1024);
    while done < n {
        while next < n && next - done < 50_000 {
            let job = SubmitJob {
                token: start_token + next,
                pdus: vec![sm(next)],
                ambiguous_resend_allowed: false,
                received: None,
            };
            match pool.submit("c1", job) {
                Ok(()) => next += 1,
                Err(SubmitRejected::QueueFull { .. }) => break,
                Err(e) => panic!("{e}"),
            }
        }
        if rx.recv_many(&mut buf, 1024).await == 0 {
            break;
        }
        for ev in buf.drain(..) {
            if let PoolEvent::SegmentResult { outcome, .. } = ev {
                done += 1;
                accepted += u64::from(outcome.is_accepted());
            }
        }
    }
    (t0.elapsed(), thread_cpu().saturating_sub(cpu0), accepted)
}

fn gateway_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("gateway runtime")
}

fn one_bind_window64(c: &mut Criterion, quick: bool) {
    let sim = sim_thread("");
    let rt = gateway_runtime();
    let (pool, mut rx) = rt.block_on(pool(&sim.value, 1, 64, None));
    let mut token = 0u64;

    // A plain measurement first, for the report.
    let n = if quick { 20_000 } else { 1_000_000 };
    let before = sim.value.stats("smsc").expect("stats").segments;
    let sim_cpu0 = cpu_of(&sim.task_dir);
    let (wall, cpu, accepted) = rt.block_on(run(&pool, &mut rx, n, token));
    let sim_cpu = cpu_of(&sim.task_dir).saturating_sub(sim_cpu0);
    token += n;
    let at_sim = sim.value.stats("smsc").expect("stats").segments - before;
    eprintln!(
        "one_bind_window64: {n} submit_sm in {wall:.2?}: {:.0}/s acknowledged ({} accepted, {} at the simulator); gateway CPU {:.2} µs/message ({:.0}% of a core); simulator CPU {:.2} µs/message ({:.0}% of a core)",
        accepted as f64 / wall.as_secs_f64(),
        accepted,
        at_sim,
        cpu.as_secs_f64() * 1e6 / n as f64,
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        sim_cpu.as_secs_f64() * 1e6 / n as f64,
        100.0 * sim_cpu.as_secs_f64() / wall.as_secs_f64(),
    );

    if !quick {
        let mut group = c.benchmark_group("carrier");
        group.throughput(criterion::Throughput::Elements(1));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(10));
        group.bench_function("one_bind_window64", |b| {
            b.iter_custom(|iters| {
                let (wall, _, _) = rt.block_on(run(&pool, &mut rx, iters, token));
                token += iters;
                wall
            })
        });
        group.finish();
    }
    rt.block_on(pool.shutdown());
    drop(sim);
}

fn latency_50ms(quick: bool) {
    let sim = sim_thread("    resp_latency: { min: 50ms, max: 50ms }\n");
    let rt = gateway_runtime();
    let (pool, mut rx) = rt.block_on(pool(&sim.value, 1, 64, None));
    let n = if quick { 1_280 } else { 12_800 };
    let (wall, _, accepted) = rt.block_on(run(&pool, &mut rx, n, 0));
    let rate = accepted as f64 / wall.as_secs_f64();
    eprintln!(
        "latency_50ms: {accepted} accepted in {wall:.2?}: {rate:.0}/s = {:.1}% of window ÷ RTT (1280/s)",
        100.0 * rate / 1280.0
    );
    rt.block_on(pool.shutdown());
}

fn tps_1000(quick: bool) {
    let sim = sim_thread("");
    let rt = gateway_runtime();
    let (pool, mut rx) = rt.block_on(pool(&sim.value, 3, 64, Some(1000)));
    let n = if quick { 3_000 } else { 20_000 };
    let (wall, _, accepted) = rt.block_on(run(&pool, &mut rx, n, 0));
    let mut at: Vec<u64> = sim
        .value
        .received("smsc")
        .expect("received")
        .iter()
        .map(|r| r.at_ms)
        .collect();
    at.sort_unstable();
    let mut worst = 0;
    let mut lo = 0;
    for hi in 0..at.len() {
        while at[hi] - at[lo] >= 1000 {
            lo += 1;
        }
        worst = worst.max(hi - lo + 1);
    }
    eprintln!(
        "tps_1000: {accepted} accepted in {wall:.2?} ({:.0}/s); most in any one-second span at the simulator: {worst} (contract 1000, limit 1010)",
        accepted as f64 / wall.as_secs_f64()
    );
    rt.block_on(pool.shutdown());
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then run briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    one_bind_window64(&mut c, quick);
    latency_50ms(quick);
    tps_1000(quick);
    c.final_summary();
}
