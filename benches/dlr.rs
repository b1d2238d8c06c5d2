//! Receipt correlation: the carrier id of a submit_sm_resp stored, then the receipt for it
//! matched, with a deadline queue that forgets parts as they come due. Target: at least
//! 1,000,000 pairs per second on one core. Also prints the memory per in-flight part.
//!
//! Run: `cargo bench --bench dlr -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gannet::dlr::{DlrState, DlrTracker, IdStyle, MessageRef, ReceiptsFor, TrackerConfig};
use gannet::routes::CarrierReceipts;

/// Resident set size from /proc (Linux); 0 elsewhere.
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn hex_id(buf: &mut [u8; 16], v: u64) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (i, slot) in buf.iter_mut().enumerate() {
        *slot = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
    &buf[..]
}

fn dec_id(buf: &mut [u8; 20], mut v: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// Bytes per in-flight part over 100,000 parts: by the tracker's own table accounting, and
/// as the growth of the process's resident memory.
fn memory() {
    let before = rss_bytes();
    let tr = DlrTracker::default();
    let c = tr.register(
        "mno-a",
        CarrierReceipts {
            resp_ids: IdStyle::Hex,
            receipt_ids: IdStyle::Decimal,
            receipts_for: ReceiptsFor::Any,
        },
    );
    let Ok(c) = c else { return };
    let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let n = 100_000u64;
    let mut buf = [0u8; 16];
    for i in 0..n {
        let id = hex_id(&mut buf, 0x1000_0000 + i);
        let _ = tr.on_submit_resp(
            c,
            id,
            MessageRef::single(u128::from(i) << 64),
            t0 + Duration::from_secs(30),
            t0,
        );
    }
    let after = rss_bytes();
    eprintln!(
        "memory per in-flight part over {n}: {} bytes by table accounting, {} bytes by RSS growth",
        tr.memory_bytes() as u64 / n,
        after.saturating_sub(before) as u64 / n
    );
    black_box(&tr);
}

fn bench(c: &mut Criterion) {
    memory();
    let mut group = c.benchmark_group("dlr");
    group.throughput(Throughput::Elements(1));
    for (name, resp, receipt, receipt_first) in [
        (
            "pair_hex_resp_decimal_receipt",
            IdStyle::Hex,
            IdStyle::Decimal,
            false,
        ),
        ("pair_auto_styles", IdStyle::Auto, IdStyle::Auto, false),
        // The slow path: the receipt is held, then claimed by its response.
        ("pair_receipt_first", IdStyle::Hex, IdStyle::Decimal, true),
    ] {
        // Simulated time advances 10 µs per pair (100,000 pairs/s) and deadlines are one
        // second out, so about 100,000 parts are tracked at any time and the queue's
        // cleanup is part of the measured cost.
        let tr = DlrTracker::new(TrackerConfig {
            linger_after_final: Duration::ZERO,
            ..TrackerConfig::default()
        });
        let Ok(carrier) = tr.register(
            "mno-a",
            CarrierReceipts {
                resp_ids: resp,
                receipt_ids: receipt,
                receipts_for: ReceiptsFor::Any,
            },
        ) else {
            return;
        };
        let t0: SystemTime = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut i = 0u64;
        let (mut hb, mut db) = ([0u8; 16], [0u8; 20]);
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let now = t0 + Duration::from_micros(10 * i);
                let v = 0x1000_0000 + i;
                let msg = MessageRef::single(u128::from(i));
                if receipt_first {
                    black_box(tr.on_receipt(
                        carrier,
                        dec_id(&mut db, v),
                        DlrState::Delivered,
                        None,
                        now,
                    ));
                }
                let got = tr.on_submit_resp(
                    carrier,
                    hex_id(&mut hb, v),
                    msg,
                    now + Duration::from_secs(1),
                    now,
                );
                black_box(&got);
                if !receipt_first {
                    black_box(tr.on_receipt(
                        carrier,
                        dec_id(&mut db, v),
                        DlrState::Delivered,
                        None,
                        now,
                    ));
                }
                if i.is_multiple_of(1024) {
                    black_box(tr.poll_expired(now));
                }
            })
        });
        eprintln!(
            "{name}: {} parts tracked at the end, {:?}",
            tr.len(),
            tr.stats()
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
