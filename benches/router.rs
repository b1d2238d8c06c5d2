//! Routing decisions against a 10,000-prefix table with live health for every carrier.
//! Target: at most 1 µs per decision.
//!
//! Run: `cargo bench --bench router -- --warm-up-time 1 --measurement-time 3`

use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gannet::router::{HealthBook, RouteRequest, SubmitResult, resolve};
use gannet::routes::{MessageClass, PrefixKey, RouteTable};

/// A small deterministic generator, so every run routes the same numbers.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn digit(&mut self) -> char {
        char::from(b'0' + (self.next() % 10) as u8)
    }
}

const COUNTRIES: [&str; 40] = [
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "91",
];
const DIRECT: [&str; 6] = ["mno-a", "mno-b", "mno-c", "mno-d", "mno-e", "mno-f"];
const AGG: [&str; 3] = ["agg-x", "agg-y", "agg-z"];

/// 10,000 route prefixes: every country code, then operator-style prefixes under them.
fn table_yaml(rng: &mut Lcg) -> (String, Vec<String>) {
    let mut y = String::from("policy: { exploration: 0.02 }\ncarriers:\n");
    for (i, name) in DIRECT.iter().chain(AGG.iter()).enumerate() {
        let kind = if i < DIRECT.len() {
            "direct"
        } else {
            "intermediary"
        };
        let _ = writeln!(
            y,
            "  {name}:\n    kind: {kind}\n    reaches: [{}]",
            COUNTRIES.map(|c| format!("\"{c}\"")).join(", ")
        );
        let costs: Vec<String> = COUNTRIES
            .iter()
            .map(|c| format!("\"{c}\": 0.00{}", 10 + rng.next() % 80))
            .collect();
        let _ = writeln!(
            y,
            "    cost: {{ {} }}\n    features: [unicode, concatenation]",
            costs.join(", ")
        );
    }
    y.push_str("routes:\n");
    let mut prefixes: Vec<String> = COUNTRIES.iter().map(|c| c.to_string()).collect();
    let mut seen: std::collections::HashSet<String> = prefixes.iter().cloned().collect();
    while prefixes.len() < 10_000 {
        let cc = COUNTRIES[(rng.next() % COUNTRIES.len() as u64) as usize];
        let extra = 2 + rng.next() % 5;
        let p: String = cc.chars().chain((0..extra).map(|_| rng.digit())).collect();
        if seen.insert(p.clone()) {
            prefixes.push(p);
        }
    }
    for p in &prefixes {
        let a = DIRECT[(rng.next() % 6) as usize];
        let b = DIRECT[(rng.next() % 6) as usize];
        let g = AGG[(rng.next() % 3) as usize];
        let list = if a == b {
            format!("{a}, {g}")
        } else {
            format!("{a}, {b}, {g}")
        };
        let _ = writeln!(
            y,
            "  - prefix: \"{p}\"\n    candidates: {{ default: [{list}] }}"
        );
    }
    (y, prefixes)
}

fn bench(c: &mut Criterion) {
    let mut rng = Lcg(42);
    let (yaml, prefixes) = table_yaml(&mut rng);
    let t0 = std::time::Instant::now();
    let table =
        RouteTable::parse(Path::new("bench-routes.yaml"), &yaml).expect("generated table is valid");
    eprintln!(
        "loaded and validated {} routes in {:?}",
        table.routes().len(),
        t0.elapsed()
    );

    // Live health for every carrier on a tenth of the prefixes, and bind state for all.
    let now = UNIX_EPOCH + Duration::from_secs(1_736_935_200);
    let mut book = HealthBook::default();
    for p in prefixes.iter().step_by(10) {
        let key = PrefixKey::parse(p).expect("digits");
        for name in DIRECT.iter().chain(AGG.iter()) {
            for i in 0..4 {
                book.record_receipt(name, key, i != 0, Duration::from_secs(3), now);
            }
            book.record_submit_result(name, key, SubmitResult::Ok, Duration::from_millis(40), now);
        }
    }
    for name in DIRECT.iter().chain(AGG.iter()) {
        book.set_carrier_state(name, 4, 4, None);
    }
    let snapshot = book.snapshot(now);

    // 1,024 destinations: a random route prefix padded to 12 digits.
    let dests: Vec<String> = (0..1024)
        .map(|_| {
            let p = &prefixes[(rng.next() % prefixes.len() as u64) as usize];
            p.chars()
                .chain((p.len()..12).map(|_| rng.digit()))
                .collect()
        })
        .collect();
    for d in &dests {
        let dec = resolve(
            &RouteRequest::new(d, MessageClass::Otp),
            &table,
            &snapshot,
            now,
        );
        assert!(dec.chosen.is_some(), "{d}: {dec:?}");
    }

    let mut group = c.benchmark_group("router");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("resolve_10k_prefixes", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let req = RouteRequest {
                seed: i as u64,
                ..RouteRequest::new(&dests[i], MessageClass::Otp)
            };
            black_box(resolve(black_box(&req), &table, &snapshot, now))
        })
    });
    // The same without live health: what the health lookups cost.
    let empty = gannet::router::HealthSnapshot::default();
    let mut i = 0usize;
    group.bench_function("resolve_10k_prefixes_no_health", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let req = RouteRequest {
                seed: i as u64,
                ..RouteRequest::new(&dests[i], MessageClass::Otp)
            };
            black_box(resolve(black_box(&req), &table, &empty, now))
        })
    });
    let mut i = 0usize;
    group.bench_function("lookup_10k_prefixes", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(
                table
                    .lookup(black_box(dests[i].as_bytes()))
                    .map(|r| r.prefix),
            )
        })
    });
    group.bench_function("snapshot_9_carriers_1k_prefixes", |b| {
        b.iter(|| black_box(book.snapshot(black_box(now) + Duration::from_millis(1))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
