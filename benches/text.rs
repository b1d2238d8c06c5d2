//! Criterion benchmarks: message text analysis and preparation.
//!
//! `analyze` runs on every API request (and for price quotes), so the pure-GSM case has a
//! budget of 200 ns for a 160-character message.
//!
//! Run: `cargo bench --bench text -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gannet::text::{TextOptions, Transliterate, analyze, prepare};

/// A 160-character GSM OTP-style text (one segment).
fn gsm_160() -> String {
    let base = "Your verification code is 482913. It expires in 10 minutes. \
                Do not share this code with anyone, our staff will never ask for it. ";
    base.chars().cycle().take(160).collect()
}

fn bench_text(c: &mut Criterion) {
    let opts = TextOptions::default();
    let gsm = gsm_160();
    assert_eq!(gsm.chars().count(), 160);
    // One 'ą' turns it into UCS-2: 160 UTF-16 units, 3 segments.
    let ucs2: String = gsm.chars().take(159).chain(['ą']).collect();
    let polish = "Twój kod: 482913. Nie udostępniaj go nikomu. Kod wygaśnie za 10 minut.";
    let translit = TextOptions {
        transliterate: Transliterate::Always,
        ..TextOptions::default()
    };

    let a = analyze(&gsm, &opts);
    assert_eq!(a.segments, 1);
    assert_eq!(analyze(&ucs2, &opts).segments, 3);
    assert_eq!(analyze(polish, &translit).segments, 1);

    let mut g = c.benchmark_group("text");
    g.bench_function("analyze/gsm_160", |b| {
        b.iter(|| analyze(black_box(&gsm), &opts))
    });
    g.bench_function("analyze/ucs2_160_one_ogonek", |b| {
        b.iter(|| analyze(black_box(&ucs2), &opts))
    });
    g.bench_function("analyze/translit_polish_otp", |b| {
        b.iter(|| analyze(black_box(polish), &translit))
    });
    g.bench_function("prepare/gsm_160", |b| {
        b.iter(|| prepare(black_box(&gsm), &opts, 1))
    });
    g.bench_function("prepare/ucs2_160_one_ogonek", |b| {
        b.iter(|| prepare(black_box(&ucs2), &opts, 1))
    });
    g.bench_function("prepare/translit_polish_otp", |b| {
        b.iter(|| prepare(black_box(polish), &translit, 1))
    });
    g.finish();
}

criterion_group!(benches, bench_text);
criterion_main!(benches);
