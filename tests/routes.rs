//! routes.yaml: the example at the repository root loads, and every kind of mistake is refused
//! with the file, the line and the key.

use std::path::Path;
use std::time::Duration;

use gannet::config::ConfigError;
use gannet::dlr::{IdStyle, ReceiptsFor};
use gannet::routes::{
    CarrierKind, Channel, MessageClass, PrefixKey, Registration, RouteTable, reload,
};

fn example() -> RouteTable {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes.yaml");
    RouteTable::load(&path).unwrap_or_else(|e| panic!("routes.yaml: {e}"))
}

fn names(t: &RouteTable, prefix: &str, class: MessageClass) -> Vec<String> {
    let r = t.lookup(prefix.as_bytes()).expect("a route");
    r.candidates[class]
        .iter()
        .map(|&c| t.carrier(c).name.to_string())
        .collect()
}

#[test]
fn example_loads_and_validates() {
    let t = example();
    assert_eq!(t.currency(), "USD");
    assert_eq!(t.carriers().len(), 8);
    assert_eq!(t.routes().len(), 11);
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    assert_eq!(t.policy().exploration, 0.02);

    // Longest prefix: an Airtel series number, a Jio one, another Indian one.
    assert_eq!(
        t.lookup(b"919812345678").unwrap().prefix,
        PrefixKey::parse("9198").unwrap()
    );
    assert_eq!(
        names(&t, "919812345678", MessageClass::Otp),
        ["mno-in-airtel", "mno-in-jio", "agg-global"]
    );
    assert_eq!(
        names(&t, "917012345678", MessageClass::Otp),
        ["mno-in-jio", "mno-in-airtel", "agg-global"]
    );
    assert_eq!(
        names(&t, "918512345678", MessageClass::Otp),
        ["mno-in-jio", "mno-in-airtel", "agg-global"]
    );
    assert_eq!(
        names(&t, "918512345678", MessageClass::Marketing),
        ["mno-in-jio", "agg-global"]
    );
    // A child that sets `default` overrides the parent's marketing list too.
    assert_eq!(
        names(&t, "919812345678", MessageClass::Marketing),
        ["mno-in-airtel", "mno-in-jio", "agg-global"]
    );
    assert_eq!(
        names(&t, "50412345678", MessageClass::Otp),
        ["agg-latam", "agg-global"]
    );
    assert!(t.lookup(b"33612345678").is_none(), "no route for France");

    // Inheritance: the Jio series keeps India's fallback and country rules.
    let jio = t.lookup(b"917012345678").unwrap();
    let fb = jio.fallback.unwrap();
    assert_eq!(fb.channel, Channel::Voice);
    assert_eq!(fb.for_class(MessageClass::Otp), Some(Channel::Voice));
    assert_eq!(fb.for_class(MessageClass::Marketing), None);
    let india = t.country_of(jio).unwrap();
    assert_eq!(india.utc_offset_secs, 5 * 3600 + 1800);
    assert!(india.require.contains(Registration::DltEntityId));
    assert!(india.require.contains(Registration::DltTemplateId));
    let q = india.quiet_hours.unwrap();
    assert_eq!((q.from_min, q.to_min), (21 * 60, 9 * 60));

    // Deadlines: defaults, route overrides, and carrier overrides that only lengthen.
    assert_eq!(
        jio.receipt_deadline[MessageClass::Otp],
        Duration::from_secs(20)
    );
    assert_eq!(
        jio.receipt_deadline[MessageClass::Transactional],
        Duration::from_secs(120)
    );
    assert_eq!(jio.validity[MessageClass::Otp], Duration::from_secs(300));
    assert_eq!(jio.max_attempts[MessageClass::Marketing], 2);
    let agg = t.carrier_id("agg-global").unwrap();
    let jio_c = t.carrier_id("mno-in-jio").unwrap();
    assert_eq!(
        t.receipt_deadline(jio, agg, MessageClass::Otp),
        Duration::from_secs(45)
    );
    assert_eq!(
        t.receipt_deadline(jio, jio_c, MessageClass::Otp),
        Duration::from_secs(20)
    );
    assert_eq!(t.carrier(jio_c).cost_for(b"917012345678"), Some(0.0015));
    assert_eq!(t.carrier(jio_c).cost_for(b"919812345678"), Some(0.0018));
    let hn = t.lookup(b"50412345678").unwrap();
    assert_eq!(
        t.receipt_deadline(hn, agg, MessageClass::Otp),
        Duration::from_secs(60)
    );
    assert_eq!(
        t.receipt_deadline(hn, agg, MessageClass::Transactional),
        Duration::from_secs(300)
    );

    // Receipt id styles, as the simulator's personas write them.
    let r = t.carrier(agg).receipts;
    assert_eq!(
        (r.resp_ids, r.receipt_ids, r.receipts_for),
        (IdStyle::Hex, IdStyle::Decimal, ReceiptsFor::Any)
    );
    let telcel = t.carrier(t.carrier_id("mno-mx-telcel").unwrap()).receipts;
    assert_eq!(
        (telcel.resp_ids, telcel.receipt_ids, telcel.receipts_for),
        (IdStyle::Decimal, IdStyle::Decimal, ReceiptsFor::Last)
    );

    // Carriers: kind, cost by longest prefix.
    let c = t.carrier(agg);
    assert_eq!(c.kind, CarrierKind::Intermediary);
    assert_eq!(c.cost_for(b"50412345678"), Some(0.052));
    assert_eq!(c.cost_for(b"919812345678"), Some(0.0035));
    assert_eq!(c.cost_for(b"33612345678"), None);
}

#[test]
fn reload_returns_a_new_table_or_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, BASE).unwrap();
    let t = reload(&path).unwrap();
    assert_eq!(t.routes().len(), 2);
    std::fs::write(&path, BASE.replace("mno-b]", "mno-c]")).unwrap();
    let e = reload(&path).unwrap_err();
    assert_eq!(e.line, Some(21), "{e}");
    // The old table is untouched and still usable.
    assert_eq!(t.routes().len(), 2);
}

/// A small valid file; each refusal test changes one thing in it.
const BASE: &str = "\
carriers:
  mno-a:
    kind: direct
    reaches: [\"91\"]
    cost: { \"91\": 0.002 }
  mno-b:
    kind: direct
    reaches: [\"91\"]
    cost: { \"91\": 0.003 }
  agg:
    kind: intermediary
    reaches: [\"91\", \"52\"]
    cost: { \"91\": 0.004, \"52\": 0.01 }
routes:
  - prefix: \"91\"
    candidates:
      default: [mno-a, agg]
      marketing: [agg]
  - prefix: \"9198\"
    candidates:
      default: [mno-a, mno-b]
";

fn refuse(text: &str) -> ConfigError {
    match RouteTable::parse(Path::new("routes.yaml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => {
            assert_eq!(e.file, Path::new("routes.yaml"));
            e
        }
    }
}

fn assert_refused(text: &str, line: u32, key: Option<&str>, message: &str) {
    let e = refuse(text);
    assert_eq!(e.line, Some(line), "{e}");
    assert_eq!(e.key.as_deref(), key, "{e}");
    assert!(e.message.contains(message), "{e}");
    assert!(
        e.to_string().starts_with(&format!("routes.yaml:{line}:")),
        "{e}"
    );
}

#[test]
fn base_is_valid() {
    let t = RouteTable::parse(Path::new("routes.yaml"), BASE).unwrap();
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
}

#[test]
fn unknown_key_is_refused() {
    let text = BASE.replace(
        "    kind: intermediary\n",
        "    kind: intermediary\n    tsp: 10\n",
    );
    let e = refuse(&text);
    assert_eq!(e.line, Some(12), "{e}");
    assert!(e.message.contains("unknown field `tsp`"), "{e}");
}

#[test]
fn unknown_carrier_is_refused() {
    assert_refused(
        &BASE.replace("default: [mno-a, mno-b]", "default: [mno-a, mno-z]"),
        21,
        Some("routes.9198.candidates.default"),
        "unknown carrier `mno-z`",
    );
}

#[test]
fn duplicate_prefix_is_refused() {
    let text = format!("{BASE}  - prefix: \"91\"\n    candidates: {{ default: [agg] }}\n");
    assert_refused(
        &text,
        22,
        Some("routes[2].prefix"),
        "prefix 91 is listed twice (first at line 15)",
    );
}

#[test]
fn non_digit_prefix_is_refused() {
    assert_refused(
        &BASE.replace("prefix: \"9198\"", "prefix: \"91-98\""),
        19,
        Some("routes[1].prefix"),
        "prefix `91-98` is not a string of digits",
    );
    assert_refused(
        &BASE.replace("prefix: \"9198\"", "prefix: \"1234567890123456\""),
        19,
        Some("routes[1].prefix"),
        "can never match",
    );
}

#[test]
fn empty_candidate_list_is_refused() {
    assert_refused(
        &BASE.replace("marketing: [agg]", "marketing: []"),
        18,
        Some("routes.91.candidates.marketing"),
        "empty candidate list",
    );
}

#[test]
fn candidate_listed_twice_is_refused() {
    assert_refused(
        &BASE.replace("default: [mno-a, mno-b]", "default: [mno-a, mno-b, mno-a]"),
        21,
        Some("routes.9198.candidates.default"),
        "carrier `mno-a` is listed twice",
    );
}

#[test]
fn negative_cost_is_refused() {
    assert_refused(
        &BASE.replace("\"91\": 0.003", "\"91\": -0.003"),
        9,
        Some("carriers.mno-b.cost.91"),
        "negative",
    );
}

#[test]
fn deadline_longer_than_validity_is_refused() {
    let text = BASE.replace(
        "  - prefix: \"9198\"\n",
        "  - prefix: \"9198\"\n    receipt_deadline: { otp: 10m }\n",
    );
    assert_refused(
        &text,
        20,
        Some("routes.9198.receipt_deadline.otp"),
        "longer than its validity 5m",
    );
    // In the defaults: reported at the defaults' line.
    let text = format!("defaults:\n  validity: {{ otp: 20s }}\n{BASE}");
    assert_refused(
        &text,
        2,
        Some("defaults.validity.otp"),
        "otp receipt deadline 30s",
    );
    // A carrier override longer than a route's validity.
    let text = BASE.replace(
        "    cost: { \"91\": 0.003 }\n",
        "    cost: { \"91\": 0.003 }\n    receipt_deadline: { otp: 6m }\n",
    );
    assert_refused(
        &text,
        10,
        Some("carriers.mno-b.receipt_deadline.otp"),
        "longer than the otp validity 5m of route 9198",
    );
}

#[test]
fn bad_class_name_is_refused() {
    let e = refuse(&BASE.replace("marketing: [agg]", "promo: [agg]"));
    assert_eq!(e.line, Some(18), "{e}");
    assert!(e.message.contains("unknown field `promo`"), "{e}");
    let text = BASE.replace(
        "      marketing: [agg]\n",
        "      marketing: [agg]\n    fallback: { channel: voice, classes: [otp, promo] }\n",
    );
    let e = refuse(&text);
    assert_eq!(e.line, Some(19), "{e}");
    assert!(e.message.contains("promo"), "{e}");
}

#[test]
fn carrier_that_does_not_reach_the_prefix_is_refused() {
    let text = format!("{BASE}  - prefix: \"52\"\n    candidates: {{ default: [agg, mno-a] }}\n");
    assert_refused(
        &text,
        23,
        Some("routes.52.candidates.default"),
        "carrier `mno-a` does not reach 52 (it reaches 91)",
    );
}

#[test]
fn other_mistakes_are_refused() {
    // A root route that leaves a class without candidates.
    assert_refused(
        &BASE.replace("      default: [mno-a, agg]\n", ""),
        15,
        Some("routes.91.candidates"),
        "no candidates for class otp",
    );
    // Zero attempts.
    let text = BASE.replace(
        "  - prefix: \"9198\"\n",
        "  - prefix: \"9198\"\n    max_attempts: { otp: 0 }\n",
    );
    assert_refused(
        &text,
        20,
        Some("routes.9198.max_attempts.otp"),
        "at least 1",
    );
    // A cost outside what the carrier reaches.
    assert_refused(
        &BASE.replace(
            "cost: { \"91\": 0.002 }",
            "cost: { \"91\": 0.002, \"44\": 0.03 }",
        ),
        5,
        Some("carriers.mno-a.cost.44"),
        "outside what the carrier reaches",
    );
    // A malformed UTC offset and quiet hours.
    let text = format!("{BASE}countries:\n  \"91\":\n    utc_offset: \"+5:30\"\n");
    assert_refused(
        &text,
        24,
        Some("countries.91.utc_offset"),
        "not a UTC offset",
    );
    let text = format!(
        "{BASE}countries:\n  \"91\":\n    utc_offset: \"+05:30\"\n    quiet_hours: {{ from: \"21:00\", to: \"9am\" }}\n"
    );
    assert_refused(
        &text,
        25,
        Some("countries.91.quiet_hours.to"),
        "not a time like 21:00",
    );
    // Exploration out of range.
    let text = format!("policy:\n  exploration: 0.9\n{BASE}");
    assert_refused(
        &text,
        2,
        Some("policy.exploration"),
        "not between 0 and 0.5",
    );
    // A duplicate carrier name is refused by the YAML parser itself.
    let text = BASE.replace("  agg:\n", "  mno-a:\n");
    let e = refuse(&text);
    assert_eq!(e.line, Some(10), "{e}");
    assert!(e.message.contains("duplicate"), "{e}");
}

#[test]
fn redundant_child_and_unused_carrier_are_warnings() {
    let text = format!(
        "{}  - prefix: \"9170\"\n  - prefix: \"917\"\n    candidates: {{ default: [mno-a, agg], marketing: [agg] }}\n",
        BASE.replace("default: [mno-a, mno-b]", "default: [mno-a, agg]")
    );
    let t = RouteTable::parse(Path::new("routes.yaml"), &text).unwrap();
    let w: Vec<String> = t.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        [
            "routes.yaml:23:13: routes.917: same as its parent prefix 91: it never changes a decision",
            "routes.yaml:22:13: routes.9170: same as its parent prefix 917: it never changes a decision",
            "routes.yaml:6:3: carriers.mno-b: no route uses this carrier",
        ],
    );
}
