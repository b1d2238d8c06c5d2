//! The store's full message lifecycle, durable, on the real disk.
//!
//! One lifecycle is what the gateway does to the store per message: accept (awaited), attempt
//! chosen with its carrier id, state submitted (both not awaited, as the submit path does),
//! read the message back (as the receipt path does), then the receipt and the final state in
//! one awaited write. 5 writes and 1 read.
//!
//! - `store_lifecycle/group_commit_64_tasks`: 64 concurrent tasks, group commit (max_batch
//!   1024): what the gateway runs.
//! - `store_lifecycle/group_commit_512_tasks`: the same with 512 tasks. Each task waits for
//!   two syncs per message, so on a disk with slow syncs throughput follows concurrency.
//! - `store_lifecycle/fsync_per_write_64_tasks`: the same 64 tasks with max_batch 1 and every
//!   write awaited, so each write is its own commit and fsync: what group commit saves.
//! - `store_lifecycle/fsync_per_write_1_task`: one writer, one fsync per write.
//!
//! Throughput is in lifecycles (messages) per second. Run:
//! `cargo bench --bench store -- --warm-up-time 1 --measurement-time 5`;
//! `cargo test --benches` runs each once.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gannet::number::NumberType;
use gannet::routes::MessageClass;
use gannet::store::{
    Accepted, Attempt, AttemptOutcome, Channel, Message, MessageId, MessageState, NewMessage,
    Store, StoreOptions, Write,
};
use gannet::text::Encoding;

const T0: u64 = 1_790_000_000_000;

fn message(seq: u64) -> Message {
    Message {
        id: MessageId::new_v7(),
        client: "bench".into(),
        to: format!("+4477009{:05}", seq % 100_000),
        from: "Gannet".into(),
        text: format!("Your code is {:06}", seq % 1_000_000),
        class: MessageClass::Otp,
        valid_until_ms: T0 + 600_000,
        callback_url: Some("https://example.com/sms/status".into()),
        client_ref: Some(format!("login-{seq}")),
        idempotency_key: None,
        dlt: None,
        transliterate: false,
        receipt: true,
        number_type: NumberType::Mobile,
        channel: Channel::Sms,
        encoding: Encoding::Gsm7,
        segments: 1,
        state: MessageState::Accepted,
        accepted_at_ms: T0,
        updated_at_ms: T0,
        error: None,
    }
}

async fn lifecycle(store: &Store, seq: u64, await_every_write: bool) {
    let m = message(seq);
    let id = m.id;
    let accepted = store
        .accept(NewMessage {
            message: m,
            replay: None,
        })
        .await
        .expect("accept");
    assert_eq!(accepted, Accepted::New);
    let progress = [
        Write::Attempt {
            id,
            attempt: Attempt {
                n: 1,
                carrier: "mno-a".into(),
                route: "4477".into(),
                carrier_ids: vec![format!("{seq:016X}")],
                submitted_at_ms: Some(T0 + 20),
                resp_status: Some(0),
                outcome: AttemptOutcome::Submitted,
                ..Attempt::default()
            },
        },
        Write::State {
            id,
            state: MessageState::Submitted,
            at_ms: T0 + 20,
            error: None,
        },
    ];
    for w in progress {
        if await_every_write {
            store.write(w).await.expect("write");
        } else {
            store.write_nowait(w).expect("write");
        }
    }
    let read = store.get(id).expect("read");
    black_box(read);
    let end = [
        Write::Receipt {
            id,
            n: 1,
            status: "DELIVRD".into(),
            error_code: Some("000".into()),
            at_ms: T0 + 3_000,
            outcome: AttemptOutcome::Delivered,
        },
        Write::State {
            id,
            state: MessageState::Delivered,
            at_ms: T0 + 3_000,
            error: None,
        },
    ];
    if await_every_write {
        for w in end {
            store.write(w).await.expect("write");
        }
    } else {
        store.write_all(end.to_vec()).await.expect("write");
    }
}

/// Runs `iters` lifecycles over `tasks` concurrent tasks; the wall time of the whole.
async fn run(store: &Store, iters: u64, tasks: u64, await_every_write: bool) -> Duration {
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let share = iters / tasks + u64::from(t < iters % tasks);
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..share {
                lifecycle(&store, t * 1_000_000_000 + i, await_every_write).await;
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("store_lifecycle");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    let cases: [(&str, usize, u64, bool); 4] = [
        ("group_commit_64_tasks", 1024, 64, false),
        ("group_commit_512_tasks", 1024, 512, false),
        ("fsync_per_write_64_tasks", 1, 64, true),
        ("fsync_per_write_1_task", 1, 1, true),
    ];
    for (name, max_batch, tasks, await_every_write) in cases {
        // On the project's disk, not /tmp, which may be a RAM disk where fsync is free.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let store = Store::open_with(
            dir.path(),
            StoreOptions {
                max_batch,
                ..StoreOptions::default()
            },
        )
        .expect("open");
        let cpu_before = process_cpu();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| rt.block_on(run(&store, iters, tasks, await_every_write)));
        });
        let cpu = process_cpu().saturating_sub(cpu_before);
        let stats = store.stats();
        // Five writes per lifecycle; CPU of the whole process (writer thread, runtime, the
        // engine's background threads) per lifecycle, which the machine's load does not skew.
        let lifecycles = stats.items / 5;
        eprintln!(
            "{name}: {} items in {} commits ({:.1} per commit), {:.0} µs CPU per lifecycle",
            stats.items,
            stats.commits,
            stats.items as f64 / stats.commits.max(1) as f64,
            cpu.as_secs_f64() * 1e6 / lifecycles.max(1) as f64
        );
        rt.block_on(store.shutdown());
    }
    group.finish();
}

/// User + system CPU time of this process, from /proc/self/stat (Linux; zero elsewhere).
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name, which is in parentheses and may contain spaces:
    // state is field 3, utime and stime are fields 14 and 15, in clock ticks (100 Hz on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

criterion_group!(benches, bench);
criterion_main!(benches);
