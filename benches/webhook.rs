//! What one status webhook costs: the sender against a local axum receiver over loopback.
//!
//! The sender runs on this thread's current-thread runtime (the HTTP client's connections
//! included), the receiver on its own thread and runtime, so each side's CPU time is read
//! from its thread(s) in /proc. Reported per webhook event, for:
//!
//! - `single`: one request per event, signed, concurrency 64 (the defaults).
//! - `batch100`: batch mode, up to 100 events per request, linger 5 ms.
//!
//! Then criterion: `webhook/sign_256B` (the HMAC header alone) and
//! `webhook/delivered/{single,batch100}` (wall time per event, `iter_custom`).
//!
//! `cargo bench --bench webhook`; `cargo test --benches` runs each briefly.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use criterion::{Criterion, Throughput};
use gannet::webhook::{BatchSettings, WebhookSettings, Webhooks, sign};
use tokio_util::sync::CancellationToken;

const SECRET: &[u8] = b"bench-secret-0123456789abcdef";

/// A status callback of the size the gateway sends (about 250 bytes).
fn body(n: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"event":"message.status","id":"0199a8f4-5c1e-7b3a-9d2e-{n:012x}","status":"delivered","to":"+919876543210","client_ref":"login-{n}","carrier":"mno-a","segments":1,"error":null,"at":"2026-11-20T09:20:02.125Z"}}"#
    ))
}

#[path = "support/thread.rs"]
mod thread;
use thread::{ServiceThread, cpu_of};

/// The receiver: answers 200 with no body, counts requests.
struct Receiver {
    addr: std::net::SocketAddr,
    requests: Arc<AtomicU64>,
}

/// The receiver on its own thread and runtime.
fn receiver_thread() -> ServiceThread<Receiver> {
    ServiceThread::start("the receiver", |ready, stop| async move {
        let requests = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .fallback(|State(n): State<Arc<AtomicU64>>, _body: Bytes| async move {
                n.fetch_add(1, Ordering::Relaxed);
                StatusCode::OK
            })
            .with_state(Arc::clone(&requests));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _ = ready.send(Receiver { addr, requests });
        tokio::select! {
            _ = axum::serve(listener, app) => {}
            _ = stop => {}
        }
    })
}

/// CPU time of every thread of this process but `except`: the sender's side, whatever
/// threads it uses.
fn cpu_except(except: &Path) -> Duration {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let skip = except.file_name().map(|n| n.to_owned());
    dir.flatten()
        .filter(|e| Some(e.file_name()) != skip)
        .map(|e| cpu_of(&e.path()))
        .sum()
}

fn settings(batch: Option<BatchSettings>) -> WebhookSettings {
    WebhookSettings {
        secret: Some(SECRET.to_vec()),
        queue_capacity: 1_000_000,
        batch,
        ..WebhookSettings::default()
    }
}

const MODES: [(&str, Option<BatchSettings>); 2] = [
    ("single", None),
    (
        "batch100",
        Some(BatchSettings {
            max: 100,
            linger: Duration::from_millis(5),
        }),
    ),
];

/// Posts `n` events and waits until all are delivered. Returns the wall time.
async fn deliver(hooks: &Webhooks, url: &str, n: u64) -> Duration {
    let before = hooks.stats().delivered;
    let t0 = Instant::now();
    let mut posted = 0;
    while posted < n {
        if hooks.post(url, "message.status", body(posted)) {
            posted += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    while hooks.stats().delivered - before < n {
        let s = hooks.stats();
        assert_eq!(s.failed, 0, "{s:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    t0.elapsed()
}

fn report(quick: bool) {
    let n = if quick { 2_000 } else { 200_000 };
    for (name, batch) in MODES {
        let receiver = receiver_thread();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("sender runtime");
        let url = format!("http://{}/status", receiver.value.addr);
        let hooks = rt
            .block_on(async { Webhooks::start(settings(batch), CancellationToken::new()) })
            .expect("start");
        // Warm the connection pool first.
        rt.block_on(deliver(&hooks, &url, n / 10));
        let req0 = receiver.value.requests.load(Ordering::Relaxed);
        let (send0, recv0) = (cpu_except(&receiver.task_dir), cpu_of(&receiver.task_dir));
        let wall = rt.block_on(deliver(&hooks, &url, n));
        let send = cpu_except(&receiver.task_dir).saturating_sub(send0);
        let recv = cpu_of(&receiver.task_dir).saturating_sub(recv0);
        let requests = receiver.value.requests.load(Ordering::Relaxed) - req0;
        let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
        eprintln!(
            "webhook {name}: {n} events in {requests} requests, {wall:.2?}: {:.0} events/s; \
             sender CPU {:.2} µs/event ({:.0}% of a core), receiver CPU {:.2} µs/event; \
             at 50,000/s the sender needs {:.2} cores",
            n as f64 / wall.as_secs_f64(),
            per(send),
            100.0 * send.as_secs_f64() / wall.as_secs_f64(),
            per(recv),
            per(send) * 50_000.0 / 1e6,
        );
        rt.block_on(hooks.shutdown(Duration::from_secs(5)));
    }
}

fn criterion_benches(c: &mut Criterion, quick: bool) {
    let mut g = c.benchmark_group("webhook");
    let b = body(1);
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign_256B", |bench| {
        bench.iter(|| sign(black_box(SECRET), black_box(1_790_000_000), black_box(&b)))
    });
    for (name, batch) in MODES {
        let receiver = receiver_thread();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("sender runtime");
        let url = format!("http://{}/status", receiver.value.addr);
        let hooks = rt
            .block_on(async { Webhooks::start(settings(batch), CancellationToken::new()) })
            .expect("start");
        rt.block_on(deliver(&hooks, &url, if quick { 100 } else { 10_000 }));
        g.bench_function(format!("delivered/{name}"), |bench| {
            // Whole rounds of 1,000 events, so batches fill as they would under load.
            bench.iter_custom(|iters| {
                let rounds = iters.div_ceil(1000).max(1);
                let wall = rt.block_on(deliver(&hooks, &url, rounds * 1000));
                wall.mul_f64(iters as f64 / (rounds * 1000) as f64)
            })
        });
        rt.block_on(hooks.shutdown(Duration::from_secs(5)));
    }
    g.finish();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then run briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    report(quick);
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, quick);
    c.final_summary();
}
