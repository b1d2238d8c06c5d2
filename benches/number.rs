//! Phone-number parse + type on a mixed 10-country set, the work the API edge does for every
//! message. Target: at most 3 µs per number.
//!
//! Run: `cargo bench --bench number -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gannet::number::{self, NumberParser};
use rlibphonenumber::{PHONE_NUMBER_UTIL, enums::Region};

/// Ten countries, each once in international form and once in national form with a default
/// country, with the separators people type. Mobile and landline ranges both appear because
/// classification walks the type patterns in order and landlines sit further down.
const MIXED: [(&str, Option<&str>); 20] = [
    ("+91 98765 43210", None),
    ("011 2345 6789", Some("IN")),
    ("+52 55 1234 5678", None),
    ("01 55 1234 5678", Some("MX")),
    ("+1 201-555-0123", None),
    ("(201) 555-0123", Some("US")),
    ("+44 7400 123456", None),
    ("020 7946 0958", Some("GB")),
    ("+49 1512 3456789", None),
    ("030 123456", Some("DE")),
    ("+55 11 96123-4567", None),
    ("(11) 2345-6789", Some("BR")),
    ("+234 802 123 4567", None),
    ("0203 312 3456", Some("NG")),
    ("+504 9123-4567", None),
    ("2212-3456", Some("HN")),
    ("+48 512 345 678", None),
    ("12 345 67 89", Some("PL")),
    ("+34 612 34 56 78", None),
    ("810 12 34 56", Some("ES")),
];

fn parse_and_type(c: &mut Criterion) {
    number::warm_up();
    let parser = NumberParser::default();
    // Every entry must parse, or the bench would time the error path.
    for (input, region) in MIXED {
        if let Err(e) = parser.parse(input, region) {
            panic!("bench input {input:?} in {region:?} does not parse: {e}");
        }
    }

    let mut group = c.benchmark_group("number");

    // One number per iteration, cycling through the set so no single country's patterns stay
    // hot: the reported time is per number.
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("parse_type/mixed_10_countries/per_number", |b| {
        b.iter(|| {
            i = (i + 1) % MIXED.len();
            let (input, region) = MIXED[i];
            let n = parser.parse(black_box(input), black_box(region));
            black_box(n.map(|n| n.number_type()))
        });
    });

    // The library alone (parse, validity, type) on the same inputs, to show what the strict
    // front end, the region lookup and the inline E.164 cost on top.
    let regions: Vec<_> = MIXED
        .iter()
        .map(|(_, r)| r.and_then(|r| Region::from_code(r).ok()))
        .collect();
    let mut j = 0;
    group.bench_function("baseline/rlibphonenumber_parse_type/per_number", |b| {
        b.iter(|| {
            j = (j + 1) % MIXED.len();
            let raw = PHONE_NUMBER_UTIL.parse(black_box(MIXED[j].0), regions[j]);
            black_box(raw.map(|raw| PHONE_NUMBER_UTIL.get_number_type(&raw)))
        });
    });

    // The routing key taken from an already parsed number: as `&str` (UTF-8 checked on the
    // way out of the inline buffer) and as bytes (no check).
    let parsed = match parser.parse("+91 98765 43210", None) {
        Ok(n) => n,
        Err(e) => panic!("bench number does not parse: {e}"),
    };
    group.bench_function("e164_digits", |b| {
        b.iter(|| black_box(black_box(&parsed).e164_digits().len()));
    });
    group.bench_function("e164_digit_bytes", |b| {
        b.iter(|| black_box(black_box(&parsed).e164_digit_bytes().len()));
    });

    // The cheapest rejection: characters that never form a number stop before any metadata.
    group.bench_function("reject/invalid_characters", |b| {
        b.iter(|| black_box(parser.parse(black_box("1-800-FLOWERS"), Some("US"))));
    });

    group.finish();
}

criterion_group!(benches, parse_and_type);
criterion_main!(benches);
