//! The routing decision: ordering, policy, exploration, health over time, and the `route`
//! command's output.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gannet::number::NumberType;
use gannet::router::cli::{RouteArgs, render};
use gannet::router::time::parse_rfc3339;
use gannet::router::{
    Decision, HealthBook, HealthConfig, HealthSnapshot, Reason, Refusal, RouteRequest, Standing,
    resolve,
};
use gannet::routes::{Channel, MessageClass, PrefixKey, Registration, Registrations, RouteTable};

const TABLE: &str = r#"
policy: { exploration: 0 }
carriers:
  mno-a:
    kind: direct
    reaches: ["91"]
    cost: { "91": 0.0020, "9198": 0.0015 }
    features: [dlt_tlvs, unicode, concatenation]
  mno-b:
    kind: direct
    reaches: ["91"]
    cost: { "91": 0.0018 }
    features: [dlt_tlvs, unicode, concatenation]
  agg:
    kind: intermediary
    reaches: ["91", "44", "52"]
    cost: { "91": 0.0010, "44": 0.0300, "52": 0.0100 }
    features: [dlt_tlvs, unicode, concatenation]
  agg-plain:
    kind: intermediary
    reaches: ["91", "52"]
    cost: { "91": 0.0005, "52": 0.0080 }
  mno-uk:
    kind: direct
    reaches: ["44"]
    cost: { "44": 0.0250 }
    features: [unicode]
countries:
  "91":
    name: India
    utc_offset: "+05:30"
    quiet_hours: { from: "21:00", to: "09:00", classes: [marketing] }
    require: [dlt_entity_id, dlt_template_id]
routes:
  - prefix: "91"
    candidates:
      default: [mno-a, mno-b, agg]
      transactional: [mno-a, mno-b, agg-plain, agg]
    fallback: { channel: voice, classes: [otp] }
  - prefix: "9198"
    candidates: { default: [mno-b, mno-a, agg] }
  - prefix: "44"
    candidates: { default: [mno-uk, agg] }
  - prefix: "52"
    candidates: { default: [agg-plain, agg] }
    allow_repeat: true
    max_attempts: { otp: 4 }
"#;

fn table() -> RouteTable {
    table_with(TABLE)
}

fn table_with(text: &str) -> RouteTable {
    RouteTable::parse(Path::new("routes.yaml"), text).unwrap_or_else(|e| panic!("{e}"))
}

/// 2025-01-15T10:00:00Z: 15:30 in India.
fn noon() -> SystemTime {
    parse_rfc3339("2025-01-15T10:00:00Z").expect("a valid time")
}

fn dlt() -> Registrations {
    Registrations::NONE
        .with(Registration::DltEntityId)
        .with(Registration::DltTemplateId)
}

fn india(dest: &str) -> RouteRequest<'_> {
    RouteRequest {
        registrations: dlt(),
        ..RouteRequest::new(dest, MessageClass::Otp)
    }
}

fn decide(req: &RouteRequest<'_>, health: &HealthSnapshot) -> Decision {
    resolve(req, &table(), health, noon())
}

/// (carrier, standing, reason) per candidate, in table order.
fn verdicts(d: &Decision) -> Vec<(String, Standing, Reason)> {
    d.candidates
        .iter()
        .map(|c| (c.carrier.to_string(), c.standing, c.reason))
        .collect()
}

fn v(name: &str, s: Standing, r: Reason) -> (String, Standing, Reason) {
    (name.to_string(), s, r)
}

fn chosen(d: &Decision) -> Option<&str> {
    d.chosen.as_deref()
}

/// A health snapshot where `carrier` delivered `ok` of `n` receipts on `prefix`.
fn with_receipts(book: &mut HealthBook, carrier: &str, prefix: &str, ok: usize, n: usize) {
    let p = PrefixKey::parse(prefix).expect("digits");
    for i in 0..n {
        book.record_receipt(carrier, p, i < ok, Duration::from_secs(2), noon());
    }
}

#[test]
fn direct_before_intermediary_and_cost_breaks_ties() {
    let d = decide(&india("918512345678"), &HealthSnapshot::default());
    assert_eq!(d.prefix, PrefixKey::parse("91"));
    // agg is the cheapest of all but an intermediary; mno-b is the cheaper direct route.
    assert_eq!(chosen(&d), Some("mno-b"));
    assert_eq!(
        verdicts(&d),
        [
            v("mno-a", Standing::Backup, Reason::Costlier),
            v("mno-b", Standing::Chosen, Reason::Cheaper),
            v("agg", Standing::Backup, Reason::IntermediaryAfterDirect),
        ]
    );
    let ranks: Vec<_> = d.candidates.iter().map(|c| c.rank).collect();
    assert_eq!(ranks, [Some(2), Some(1), Some(3)]);
    assert_eq!(d.receipt_deadline, Some(Duration::from_secs(30)));
    assert_eq!(d.validity, Some(Duration::from_secs(300)));
    assert_eq!((d.attempt, d.max_attempts), (1, Some(3)));
    assert_eq!((d.fallback, d.refusal.clone()), (None, None));
}

#[test]
fn longest_prefix_wins_with_its_own_costs() {
    let d = decide(&india("919812345678"), &HealthSnapshot::default());
    assert_eq!(d.prefix, PrefixKey::parse("9198"));
    // mno-a's cost for 9198 is lower than mno-b's for 91.
    assert_eq!(chosen(&d), Some("mno-a"));
    assert_eq!(d.candidates[1].cost, 0.0015);
    let d = decide(&india("919712345678"), &HealthSnapshot::default());
    assert_eq!(d.prefix, PrefixKey::parse("91"));
    let d = decide(&india("33612345678"), &HealthSnapshot::default());
    assert_eq!(d.refusal, Some(Refusal::NoRoute));
    let d = decide(&india("91-98"), &HealthSnapshot::default());
    assert_eq!(d.refusal, Some(Refusal::InvalidNumber));
}

#[test]
fn health_reorders_within_a_tier_only() {
    let mut book = HealthBook::default();
    with_receipts(&mut book, "mno-b", "91", 6, 10);
    with_receipts(&mut book, "mno-a", "91", 10, 10);
    let d = decide(&india("918512345678"), &book.snapshot(noon()));
    assert_eq!(chosen(&d), Some("mno-a"));
    assert_eq!(
        verdicts(&d),
        [
            v("mno-a", Standing::Chosen, Reason::Healthier),
            v("mno-b", Standing::Backup, Reason::LessHealthy),
            v("agg", Standing::Backup, Reason::IntermediaryAfterDirect),
        ]
    );
    // Within the tolerance (0.05), cost still decides: mno-b stays first.
    let mut book = HealthBook::default();
    with_receipts(&mut book, "mno-b", "91", 97, 100);
    with_receipts(&mut book, "mno-a", "91", 100, 100);
    let d = decide(&india("918512345678"), &book.snapshot(noon()));
    assert_eq!(chosen(&d), Some("mno-b"));
    // Health of another prefix does not count here.
    let mut book = HealthBook::default();
    with_receipts(&mut book, "mno-b", "9198", 0, 50);
    with_receipts(&mut book, "mno-b", "91", 50, 50);
    assert_eq!(
        chosen(&decide(&india("918512345678"), &book.snapshot(noon()))),
        Some("mno-b")
    );
}

#[test]
fn degraded_direct_routes_go_after_a_healthy_intermediary() {
    let mut book = HealthBook::default();
    with_receipts(&mut book, "mno-a", "91", 1, 20);
    with_receipts(&mut book, "mno-b", "91", 2, 20);
    let d = decide(&india("918512345678"), &book.snapshot(noon()));
    assert_eq!(chosen(&d), Some("agg"));
    assert_eq!(
        verdicts(&d),
        [
            // Both degraded; within the tolerance of each other, so the cheaper first.
            v("mno-a", Standing::Backup, Reason::Costlier),
            v("mno-b", Standing::Backup, Reason::Degraded),
            v("agg", Standing::Chosen, Reason::Healthier),
        ]
    );
}

#[test]
fn a_route_that_is_down_is_skipped() {
    let mut book = HealthBook::default();
    book.set_carrier_state("mno-b", 0, 4, None);
    let d = decide(&india("918512345678"), &book.snapshot(noon()));
    assert_eq!(chosen(&d), Some("mno-a"));
    assert_eq!(d.candidates[1].standing, Standing::Skipped);
    assert_eq!(d.candidates[1].reason, Reason::Down);
    assert_eq!(d.candidates[1].rank, None);
    // Throttled is not down: ranked lower (its score halves), marked.
    let mut book = HealthBook::default();
    book.set_carrier_state("mno-b", 4, 4, Some(noon() + Duration::from_secs(5)));
    let d = decide(&india("918512345678"), &book.snapshot(noon()));
    assert_eq!(chosen(&d), Some("mno-a"));
    assert!(d.candidates[1].throttled);
    assert_eq!(d.candidates[1].standing, Standing::Backup);
    // Once the throttle is over it is back.
    let d = resolve(
        &india("918512345678"),
        &table(),
        &book.snapshot(noon()),
        noon() + Duration::from_secs(5),
    );
    assert_eq!(chosen(&d), Some("mno-b"));
}

#[test]
fn never_the_same_carrier_twice() {
    let h = HealthSnapshot::default();
    let tried = ["mno-b"];
    let d = decide(
        &RouteRequest {
            tried: &tried,
            ..india("918512345678")
        },
        &h,
    );
    assert_eq!(chosen(&d), Some("mno-a"));
    assert_eq!(d.attempt, 2);
    assert_eq!(d.candidates[1].reason, Reason::AlreadyTried);
    let tried = ["mno-b", "mno-a"];
    let d = decide(
        &RouteRequest {
            tried: &tried,
            ..india("918512345678")
        },
        &h,
    );
    assert_eq!(chosen(&d), Some("agg"));
    // All three attempts used: voice for an OTP, a refusal for a transactional message.
    let tried = ["mno-b", "mno-a", "agg"];
    let d = decide(
        &RouteRequest {
            tried: &tried,
            ..india("918512345678")
        },
        &h,
    );
    assert_eq!((chosen(&d), d.fallback), (None, Some(Channel::Voice)));
    assert_eq!(d.refusal, Some(Refusal::AttemptsExhausted));
    let req = RouteRequest {
        tried: &tried,
        class: MessageClass::Transactional,
        ..india("918512345678")
    };
    let d = decide(&req, &h);
    assert_eq!(
        (chosen(&d), d.fallback, d.refusal.clone()),
        (None, None, Some(Refusal::AttemptsExhausted))
    );
    // Nothing usable left (the last one is down), under max_attempts: fallback or refusal.
    let mut book = HealthBook::default();
    book.set_carrier_state("agg", 0, 1, None);
    let tried = ["mno-b", "mno-a"];
    let d = decide(
        &RouteRequest {
            tried: &tried,
            ..india("918512345678")
        },
        &book.snapshot(noon()),
    );
    assert_eq!(
        (chosen(&d), d.fallback, d.refusal.clone()),
        (None, Some(Channel::Voice), Some(Refusal::NoCandidate))
    );
}

#[test]
fn repeats_only_where_the_table_allows_them() {
    let h = HealthSnapshot::default();
    let tried = ["agg-plain"];
    let d = decide(&RouteRequest::new("5215512345678", MessageClass::Otp), &h);
    assert_eq!(chosen(&d), Some("agg-plain"));
    let d = decide(
        &RouteRequest {
            tried: &tried,
            ..RouteRequest::new("5215512345678", MessageClass::Otp)
        },
        &h,
    );
    assert_eq!(chosen(&d), Some("agg"));
    assert_eq!(
        verdicts(&d),
        [
            v("agg-plain", Standing::Backup, Reason::Repeat),
            v("agg", Standing::Chosen, Reason::NotYetTried),
        ]
    );
    let tried = ["agg-plain", "agg"];
    let d = decide(
        &RouteRequest {
            tried: &tried,
            ..RouteRequest::new("5215512345678", MessageClass::Otp)
        },
        &h,
    );
    assert_eq!(chosen(&d), Some("agg-plain"));
}

#[test]
fn landlines_get_voice_or_a_refusal_and_premium_is_refused() {
    let h = HealthSnapshot::default();
    let landline = RouteRequest {
        number_type: NumberType::FixedLine,
        ..india("911123456789")
    };
    let d = decide(&landline, &h);
    assert_eq!((chosen(&d), d.fallback), (None, Some(Channel::Voice)));
    assert_eq!(d.refusal, Some(Refusal::Landline));
    assert!(d.candidates.is_empty());
    let d = decide(
        &RouteRequest {
            class: MessageClass::Transactional,
            ..landline
        },
        &h,
    );
    assert_eq!((d.fallback, d.refusal), (None, Some(Refusal::Landline)));
    let d = decide(
        &RouteRequest {
            number_type: NumberType::PremiumRate,
            ..india("919012345678")
        },
        &h,
    );
    assert_eq!(
        (chosen(&d), d.fallback, d.refusal.clone()),
        (None, None, Some(Refusal::PremiumRate))
    );
    let d = decide(
        &RouteRequest {
            number_type: NumberType::TollFree,
            ..india("911800123456")
        },
        &h,
    );
    assert_eq!(
        d.refusal,
        Some(Refusal::NotSmsCapable {
            number_type: NumberType::TollFree
        })
    );
    // Numbers the plan cannot classify are worth a try.
    let d = decide(
        &RouteRequest {
            number_type: NumberType::FixedLineOrMobile,
            ..india("918512345678")
        },
        &h,
    );
    assert_eq!(chosen(&d), Some("mno-b"));
}

#[test]
fn india_marketing_in_quiet_hours_is_refused_otp_is_not() {
    let h = HealthSnapshot::default();
    let night = parse_rfc3339("2025-01-15T22:00:00+05:30").unwrap();
    let marketing = RouteRequest {
        class: MessageClass::Marketing,
        ..india("918512345678")
    };
    let d = resolve(&marketing, &table(), &h, night);
    let until = parse_rfc3339("2025-01-16T09:00:00+05:30").unwrap();
    let until = until.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(
        (chosen(&d), d.refusal.clone()),
        (None, Some(Refusal::QuietHours { until }))
    );
    let d = resolve(&india("918512345678"), &table(), &h, night);
    assert_eq!(chosen(&d), Some("mno-b"));
    // 08:59 is still quiet, 09:00 is not; 20:59 is not, 21:00 is.
    for (at, quiet) in [
        ("08:59:59", true),
        ("09:00:00", false),
        ("20:59:59", false),
        ("21:00:00", true),
    ] {
        let now = parse_rfc3339(&format!("2025-01-15T{at}+05:30")).unwrap();
        let d = resolve(&marketing, &table(), &h, now);
        assert_eq!(
            matches!(d.refusal, Some(Refusal::QuietHours { .. })),
            quiet,
            "{at}"
        );
    }
}

#[test]
fn dlt_ids_are_required_and_carriers_must_carry_them() {
    let h = HealthSnapshot::default();
    let only_entity = Registrations::NONE.with(Registration::DltEntityId);
    let d = decide(
        &RouteRequest {
            registrations: only_entity,
            ..india("918512345678")
        },
        &h,
    );
    assert_eq!(
        d.refusal,
        Some(Refusal::MissingRegistration {
            missing: Registrations::NONE.with(Registration::DltTemplateId)
        })
    );
    assert_eq!(chosen(&d), None);
    // agg-plain is the cheapest but cannot carry DLT TLVs.
    let d = decide(
        &RouteRequest {
            class: MessageClass::Transactional,
            tried: &["mno-b", "mno-a"],
            ..india("918512345678")
        },
        &h,
    );
    assert_eq!(chosen(&d), Some("agg"));
    assert_eq!(d.candidates[2].reason, Reason::NoDltTlvs);
}

#[test]
fn features_filter_candidates() {
    let h = HealthSnapshot::default();
    let d = decide(
        &RouteRequest {
            unicode: true,
            ..RouteRequest::new("5215512345678", MessageClass::Otp)
        },
        &h,
    );
    assert_eq!(chosen(&d), Some("agg"));
    assert_eq!(d.candidates[0].reason, Reason::NoUnicode);
    let d = decide(
        &RouteRequest {
            segments: 2,
            ..RouteRequest::new("447700900123", MessageClass::Otp)
        },
        &h,
    );
    assert_eq!(chosen(&d), Some("agg"));
    assert_eq!(d.candidates[0].reason, Reason::NoConcatenation);
}

#[test]
fn an_otp_past_its_validity_is_not_retried() {
    let h = HealthSnapshot::default();
    let req = RouteRequest {
        accepted_at: Some(noon() - Duration::from_secs(300)),
        ..india("918512345678")
    };
    assert_eq!(decide(&req, &h).refusal, Some(Refusal::ValidityExpired));
    let req = RouteRequest {
        accepted_at: Some(noon() - Duration::from_secs(299)),
        ..india("918512345678")
    };
    assert_eq!(chosen(&decide(&req, &h)), Some("mno-b"));
}

#[test]
fn exploration_is_deterministic_and_close_to_its_rate() {
    let t = table_with(&TABLE.replace("exploration: 0", "exploration: 0.02"));
    let h = HealthSnapshot::default();
    let mut explored = 0;
    for seed in 0..10_000u64 {
        let req = RouteRequest {
            seed,
            ..india("918512345678")
        };
        let d = resolve(&req, &t, &h, noon());
        assert_eq!(
            d,
            resolve(&req, &t, &h, noon()),
            "same inputs, same decision"
        );
        if d.explored {
            explored += 1;
            // Only the other direct route: exploration stays in the best tier.
            assert_eq!(chosen(&d), Some("mno-a"));
            assert_eq!(d.candidates[1].reason, Reason::PassedOverForExploration);
            assert_eq!(d.candidates[0].reason, Reason::Explored);
        } else {
            assert_eq!(chosen(&d), Some("mno-b"));
        }
        // A retry never explores.
        let retry = RouteRequest {
            seed,
            tried: &["agg"],
            ..india("918512345678")
        };
        assert!(!resolve(&retry, &t, &h, noon()).explored);
    }
    // 2% of 10,000 is 200, with a standard deviation of 14.
    assert!((150..=250).contains(&explored), "{explored}");
}

#[test]
fn traffic_moves_off_a_degrading_route_and_back_on_recovery() {
    // Two direct routes; "x" is cheaper. From t=100 s to t=300 s every receipt from x says
    // undelivered. 20 messages a second, outcomes fed back at once, snapshot every second.
    let t = table_with(
        r#"
carriers:
  x: { kind: direct, reaches: ["44"], cost: { "44": 0.02 } }
  y: { kind: direct, reaches: ["44"], cost: { "44": 0.03 } }
routes:
  - prefix: "44"
    candidates: { default: [x, y] }
"#,
    );
    let p = PrefixKey::parse("44").unwrap();
    let start = noon();
    let mut book = HealthBook::new(HealthConfig::default());
    let mut share_x = Vec::new();
    let mut seed = 0u64;
    for sec in 0..600u64 {
        let now = start + Duration::from_secs(sec);
        let snap = book.snapshot(now);
        let mut to_x = 0;
        for _ in 0..20 {
            seed += 1;
            let req = RouteRequest {
                seed,
                ..RouteRequest::new("447700900123", MessageClass::Otp)
            };
            let d = resolve(&req, &t, &snap, now);
            let c = chosen(&d).unwrap().to_string();
            let delivered = c == "y" || !(100..300).contains(&sec);
            to_x += usize::from(c == "x");
            book.record_submit_result(
                &c,
                p,
                gannet::router::SubmitResult::Ok,
                Duration::from_millis(50),
                now,
            );
            book.record_receipt(&c, p, delivered, Duration::from_secs(3), now);
        }
        share_x.push(to_x);
    }
    let sum = |r: std::ops::Range<usize>| share_x[r].iter().sum::<usize>();
    // Healthy: x carries nearly everything (exploration sends ~2% to y).
    assert!(sum(0..100) >= 1900, "{}", sum(0..100));
    // Within five seconds of x failing, traffic has moved to y...
    assert!(share_x[100..105].contains(&0), "{:?}", &share_x[100..105]);
    // ...and x keeps getting a trickle (exploration, 2%), which is how its recovery is seen.
    let trickle = sum(105..300);
    assert!(
        (20..=160).contains(&trickle),
        "{trickle}: {:?}",
        &share_x[100..300]
    );
    // Back on x within three minutes of recovery, and for good.
    let back = (300..600)
        .find(|&s| share_x[s..].iter().all(|&n| n >= 15))
        .unwrap();
    assert!(back <= 480, "back at {back}");
}

#[test]
fn decisions_on_the_example_table() {
    let t = RouteTable::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("routes.yaml")).unwrap();
    let h = HealthSnapshot::default();
    let go = |req: &RouteRequest<'_>| resolve(req, &t, &h, noon());
    // Each Indian series goes to its own operator, on-net; other Indian numbers to the
    // cheaper off-net rate.
    for (dest, carrier) in [
        ("917012345678", "mno-in-jio"),
        ("919812345678", "mno-in-airtel"),
        ("918512345678", "mno-in-jio"),
    ] {
        let d = go(&india(dest));
        assert_eq!(chosen(&d), Some(carrier), "{dest}");
    }
    assert_eq!(
        go(&india("919812345678")).receipt_deadline,
        Some(Duration::from_secs(20))
    );
    // Honduras: intermediaries only; a landline gets a voice call for OTP and transactional.
    let hn = RouteRequest::new("50422345678", MessageClass::Otp);
    let d = go(&hn);
    assert_eq!(
        (chosen(&d), d.receipt_deadline),
        (Some("agg-latam"), Some(Duration::from_secs(60)))
    );
    let d = go(&RouteRequest {
        number_type: NumberType::FixedLine,
        class: MessageClass::Transactional,
        ..hn
    });
    assert_eq!((chosen(&d), d.fallback), (None, Some(Channel::Voice)));
    // US marketing outside 16:00-01:00 UTC is refused; otp goes direct.
    let us = RouteRequest::new("12025550123", MessageClass::Marketing);
    assert!(matches!(go(&us).refusal, Some(Refusal::QuietHours { .. })));
    assert_eq!(
        chosen(&go(&RouteRequest {
            class: MessageClass::Otp,
            ..us
        })),
        Some("mno-us-tmo")
    );
    // Mexico unicode: Telcel can; a two-segment German message goes to Telekom.
    let mx = RouteRequest {
        unicode: true,
        ..RouteRequest::new("525512345678", MessageClass::Otp)
    };
    assert_eq!(chosen(&go(&mx)), Some("mno-mx-telcel"));
    let de = RouteRequest {
        segments: 2,
        ..RouteRequest::new("4915112345678", MessageClass::Transactional)
    };
    assert_eq!(chosen(&go(&de)), Some("mno-de-telekom"));
}

#[test]
fn shared_values_are_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<RouteTable>();
    shareable::<HealthSnapshot>();
    shareable::<gannet::dlr::DlrTracker>();
    shareable::<Decision>();
}

fn cli_table() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("routes.yaml"), TABLE).expect("written");
    dir
}

fn args(dir: &Path, number: &str) -> RouteArgs {
    RouteArgs {
        number: number.to_string(),
        class: MessageClass::Otp,
        routes: dir.join("routes.yaml"),
        json: false,
        at: Some(noon()),
        registrations: vec![],
        segments: 1,
        unicode: false,
        tried: vec![],
        seed: 0,
    }
}

#[test]
fn route_command_text() {
    let dir = cli_table();
    let mut a = args(dir.path(), "+91 98123 45678");
    a.registrations = vec![
        gannet::router::cli::RegistrationArg::DltEntityId,
        gannet::router::cli::RegistrationArg::DltTemplateId,
    ];
    let out = render(&a, UNIX_EPOCH)
        .unwrap()
        .replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(
        out,
        r#"+919812345678 (mobile), class otp, at 2025-01-15T10:00:00Z
route 9198 (DIR/routes.yaml:40)
health: no live data here; every carrier at the prior, binds assumed up
decision: sms via mno-a, receipt deadline 30s, validity 5m, attempt 1 of 3

  rank  carrier  tier          health  cost/seg  verdict
  1     mno-a    direct        0.882   0.0015    chosen: cheapest of the equally healthy
  2     mno-b    direct        0.882   0.0018    backup: as healthy, costs more than the one above
  3     agg      intermediary  0.882   0.0010    backup: intermediary, after the direct routes
"#
    );
}

#[test]
fn route_command_json() {
    let dir = cli_table();
    let mut a = args(dir.path(), "+91 85123 45678");
    a.json = true;
    a.class = MessageClass::Marketing;
    a.at = Some(parse_rfc3339("2025-01-15T22:00:00+05:30").unwrap());
    let out = render(&a, UNIX_EPOCH)
        .unwrap()
        .replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(
        out,
        r#"{
  "destination": "+918512345678",
  "number_type": "fixed_line_or_mobile",
  "at": "2025-01-15T16:30:00Z",
  "routes": "DIR/routes.yaml",
  "decision": {
    "class": "marketing",
    "prefix": "91",
    "chosen": null,
    "explored": false,
    "fallback": null,
    "refusal": {
      "reason": "quiet_hours",
      "until": 1736998200
    },
    "receipt_deadline": null,
    "validity": "1d",
    "attempt": 1,
    "max_attempts": 2,
    "candidates": []
  }
}
"#
    );
    let mut a = args(dir.path(), "+91 85123 45678");
    a.json = true;
    a.registrations = vec![
        gannet::router::cli::RegistrationArg::DltEntityId,
        gannet::router::cli::RegistrationArg::DltTemplateId,
    ];
    a.tried = vec!["mno-b".into()];
    let out = render(&a, UNIX_EPOCH)
        .unwrap()
        .replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(
        out,
        r#"{
  "destination": "+918512345678",
  "number_type": "fixed_line_or_mobile",
  "at": "2025-01-15T10:00:00Z",
  "routes": "DIR/routes.yaml",
  "decision": {
    "class": "otp",
    "prefix": "91",
    "chosen": "mno-a",
    "explored": false,
    "fallback": null,
    "refusal": null,
    "receipt_deadline": "30s",
    "validity": "5m",
    "attempt": 2,
    "max_attempts": 3,
    "candidates": [
      {
        "carrier": "mno-a",
        "tier": "direct",
        "rank": 1,
        "health": 0.882,
        "throttled": false,
        "cost": 0.002,
        "standing": "chosen",
        "reason": "direct_first"
      },
      {
        "carrier": "mno-b",
        "tier": "direct",
        "rank": null,
        "health": 0.882,
        "throttled": false,
        "cost": 0.0018,
        "standing": "skipped",
        "reason": "already_tried"
      },
      {
        "carrier": "agg",
        "tier": "intermediary",
        "rank": 2,
        "health": 0.882,
        "throttled": false,
        "cost": 0.001,
        "standing": "backup",
        "reason": "intermediary_after_direct"
      }
    ]
  }
}
"#
    );
}

#[test]
fn route_command_refusals_in_text() {
    let dir = cli_table();
    let mut a = args(dir.path(), "+91 85123 45678");
    a.class = MessageClass::Marketing;
    a.at = Some(parse_rfc3339("2025-01-15T22:00:00+05:30").unwrap());
    let out = render(&a, UNIX_EPOCH)
        .unwrap()
        .replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(
        out,
        r#"+918512345678 (fixed_line_or_mobile), class marketing, at 2025-01-15T16:30:00Z
route 91 (DIR/routes.yaml:35)
health: no live data here; every carrier at the prior, binds assumed up
decision: refused: marketing is not sent during quiet hours in India; resume at 2025-01-16T09:00:00+05:30
"#
    );
    let a = args(dir.path(), "+91 85123 45678");
    let out = render(&a, UNIX_EPOCH)
        .unwrap()
        .replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(
        out,
        r#"+918512345678 (fixed_line_or_mobile), class otp, at 2025-01-15T10:00:00Z
route 91 (DIR/routes.yaml:35)
health: no live data here; every carrier at the prior, binds assumed up
decision: refused: India requires dlt_entity_id, dlt_template_id on every message
"#
    );
    // Bad input is an error, not a decision.
    let a = args(dir.path(), "+91 85");
    assert!(render(&a, UNIX_EPOCH).is_err());
}
