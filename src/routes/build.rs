//! Validation and compilation of a parsed routes file into a [`RouteTable`].
//!
//! Routes are resolved parent first (shorter prefixes before longer ones), so a route inherits
//! every field it does not set from the longest shorter prefix in the table, then from
//! `defaults:`, and errors point at the line where the offending value is written.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_saphyr::Location;

use super::schema::{
    CarrierList, Digits, OrderedMap, PerClass, RawCarrier, RawCountry, RawFile, RawRoute,
};
use super::{
    ByClass, Carrier, CarrierId, CarrierReceipts, ClassSet, Country, Fallback, Feature, Features,
    MessageClass, Policy, PrefixKey, PrefixMap, QuietHours, Registrations, Route, RouteTable,
    is_digits,
};
use crate::config::{ConfigError, Spanned};
use crate::dlr::{IdStyle, ReceiptsFor};

/// Built-in defaults per class (otp, transactional, marketing), documented in docs/routing.md.
const DEFAULT_DEADLINE: [Duration; 3] = [
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];
const DEFAULT_VALIDITY: [Duration; 3] = [
    Duration::from_secs(300),
    Duration::from_secs(3600),
    Duration::from_secs(86_400),
];
const DEFAULT_ATTEMPTS: [u8; 3] = [3, 3, 2];

/// A resolved value and where it was written, so an error about an inherited value can point at
/// the line that set it.
#[derive(Clone, Debug)]
struct Src<T> {
    v: T,
    at: Spanned<()>,
    key: String,
}

impl<T: Copy> Src<T> {
    fn written<U>(v: T, sp: &Spanned<U>, key: String) -> Src<T> {
        Src {
            v,
            at: Spanned::new((), sp.referenced, sp.defined),
            key,
        }
    }

    fn builtin(v: T, key: String) -> Src<T> {
        Src {
            v,
            at: Spanned::new((), Location::UNKNOWN, Location::UNKNOWN),
            key,
        }
    }
}

fn err_at<T>(
    file: &Path,
    sp: &Spanned<T>,
    key: impl Into<String>,
    msg: impl Into<String>,
) -> ConfigError {
    ConfigError::at(file, sp, key, msg)
}

fn line<T>(sp: &Spanned<T>) -> u32 {
    sp.referenced.line() as u32
}

/// `30s`, `2m`, `1h`, `1d`, `1500ms`: the shortest exact form.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs();
    match s {
        0 => "0s".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub(super) fn build(file: &Path, raw: RawFile) -> Result<RouteTable, ConfigError> {
    let mut warnings = Vec::new();
    let currency = match &raw.currency {
        Some(c) => {
            if c.value.len() != 3 || !c.value.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(err_at(
                    file,
                    c,
                    "currency",
                    format!("`{}` is not an ISO 4217 code like USD", c.value),
                ));
            }
            c.value.clone()
        }
        None => "USD".to_string(),
    };
    let policy = build_policy(file, &raw)?;
    let defaults = build_defaults(file, &raw)?;
    let carriers = build_carriers(file, &raw.carriers)?;
    let by_name: HashMap<Arc<str>, CarrierId> = carriers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), CarrierId(i as u16)))
        .collect();
    let countries = build_countries(file, &raw.countries)?;
    let ctx = Ctx {
        file,
        raw_carriers: &raw.carriers,
        carriers: &carriers,
        by_name: &by_name,
        countries: &countries,
        defaults: &defaults,
    };
    let (routes, prefixes) = build_routes(&ctx, &raw.routes, &mut warnings)?;

    let mut used = vec![false; carriers.len()];
    for r in &routes {
        for list in &r.candidates.0 {
            for c in list {
                used[c.index()] = true;
            }
        }
    }
    for ((name, _), used) in raw.carriers.0.iter().zip(used) {
        if !used {
            warnings.push(err_at(
                file,
                name,
                format!("carriers.{}", name.value),
                "no route uses this carrier",
            ));
        }
    }

    Ok(RouteTable {
        source: file.to_path_buf(),
        currency,
        policy,
        carriers,
        by_name,
        countries,
        routes,
        prefixes,
        warnings,
    })
}

fn build_policy(file: &Path, raw: &RawFile) -> Result<Policy, ConfigError> {
    let mut policy = Policy::default();
    let fields = [
        (
            &raw.policy.exploration,
            "exploration",
            0.5,
            &mut policy.exploration,
        ),
        (
            &raw.policy.health_tolerance,
            "health_tolerance",
            1.0,
            &mut policy.health_tolerance,
        ),
        (
            &raw.policy.health_floor,
            "health_floor",
            1.0,
            &mut policy.health_floor,
        ),
    ];
    for (value, key, max, slot) in fields {
        if let Some(v) = value {
            if !(v.value.is_finite() && v.value >= 0.0 && v.value <= max) {
                return Err(err_at(
                    file,
                    v,
                    format!("policy.{key}"),
                    format!("{} is not between 0 and {max}", v.value),
                ));
            }
            *slot = v.value;
        }
    }
    Ok(policy)
}

struct Defaults {
    deadline: ByClass<Src<Duration>>,
    validity: ByClass<Src<Duration>>,
    attempts: ByClass<Src<u8>>,
}

fn per_class<T: Copy, U>(
    file: &Path,
    raw: &PerClass<U>,
    key: &str,
    builtin: [T; 3],
    get: impl Fn(&U) -> T,
    check: impl Fn(T) -> Option<&'static str>,
) -> Result<ByClass<Src<T>>, ConfigError> {
    let mut out = Vec::with_capacity(3);
    for (i, class) in MessageClass::ALL.into_iter().enumerate() {
        let k = format!("{key}.{class}");
        out.push(match raw.get(class) {
            Some(sp) => {
                let v = get(&sp.value);
                if let Some(msg) = check(v) {
                    return Err(err_at(file, sp, k, msg));
                }
                Src::written(v, sp, k)
            }
            None => Src::builtin(builtin[i], format!("{k} (built-in default)")),
        });
    }
    let mut it = out.into_iter();
    match (it.next(), it.next(), it.next()) {
        (Some(a), Some(b), Some(c)) => Ok(ByClass([a, b, c])),
        _ => unreachable!("three classes"),
    }
}

fn positive_duration(d: Duration) -> Option<&'static str> {
    d.is_zero().then_some("must be longer than zero")
}

fn positive_attempts(n: u8) -> Option<&'static str> {
    (n == 0).then_some("must be at least 1")
}

fn build_defaults(file: &Path, raw: &RawFile) -> Result<Defaults, ConfigError> {
    let d = &raw.defaults;
    Ok(Defaults {
        deadline: per_class(
            file,
            &d.receipt_deadline,
            "defaults.receipt_deadline",
            DEFAULT_DEADLINE,
            |d| d.0,
            positive_duration,
        )?,
        validity: per_class(
            file,
            &d.validity,
            "defaults.validity",
            DEFAULT_VALIDITY,
            |d| d.0,
            positive_duration,
        )?,
        attempts: per_class(
            file,
            &d.max_attempts,
            "defaults.max_attempts",
            DEFAULT_ATTEMPTS,
            |&n| n,
            positive_attempts,
        )?,
    })
}

fn digits_key(
    file: &Path,
    sp: &Spanned<Digits>,
    key: &str,
    what: &str,
) -> Result<PrefixKey, ConfigError> {
    let s = &sp.value.0;
    if !is_digits(s) {
        return Err(err_at(
            file,
            sp,
            key,
            format!("{what} `{s}` is not a string of digits"),
        ));
    }
    if s.starts_with('0') {
        return Err(err_at(
            file,
            sp,
            key,
            format!("{what} `{s}` starts with 0: E.164 numbers never do"),
        ));
    }
    PrefixKey::parse(s).ok_or_else(|| {
        err_at(file, sp, key, format!("{what} `{s}` is longer than 15 digits, the longest E.164 number: it can never match"))
    })
}

fn build_carriers(
    file: &Path,
    raw: &OrderedMap<Spanned<String>, RawCarrier>,
) -> Result<Vec<Carrier>, ConfigError> {
    if raw.0.len() > usize::from(u16::MAX) {
        return Err(ConfigError::whole(file, "carriers", "too many carriers"));
    }
    let mut out = Vec::with_capacity(raw.0.len());
    for (name, c) in &raw.0 {
        let key = format!("carriers.{}", name.value);
        let valid_name = !name.value.is_empty()
            && name
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid_name {
            return Err(err_at(
                file,
                name,
                key,
                "a carrier name is letters, digits, `-`, `_` and `.`",
            ));
        }
        if c.reaches.value.is_empty() {
            return Err(err_at(
                file,
                &c.reaches,
                format!("{key}.reaches"),
                "a carrier must reach at least one prefix",
            ));
        }
        let mut reaches = Vec::with_capacity(c.reaches.value.len());
        for r in &c.reaches.value {
            reaches.push(digits_key(file, r, &format!("{key}.reaches"), "prefix")?);
        }
        if c.cost.value.0.is_empty() {
            return Err(err_at(
                file,
                &c.cost,
                format!("{key}.cost"),
                "no cost is given",
            ));
        }
        let mut costs = Vec::with_capacity(c.cost.value.0.len());
        let mut cost_map = PrefixMap::new();
        for (prefix, cost) in &c.cost.value.0 {
            let ckey = format!("{key}.cost.{}", prefix.value.0);
            let p = digits_key(file, prefix, &ckey, "cost prefix")?;
            if !(cost.value.is_finite() && cost.value >= 0.0) {
                return Err(err_at(
                    file,
                    cost,
                    ckey,
                    format!("cost {} is negative or not a number", cost.value),
                ));
            }
            let ps = &prefix.value.0;
            if !c.reaches.value.iter().any(|r| ps.starts_with(&r.value.0)) {
                return Err(err_at(
                    file,
                    prefix,
                    ckey,
                    format!("prefix {ps} is outside what the carrier reaches"),
                ));
            }
            costs.push((p, cost.value));
            cost_map.insert(ps, cost.value);
        }
        let mut deadline = ByClass([None; 3]);
        for class in MessageClass::ALL {
            if let Some(d) = c.receipt_deadline.get(class) {
                if let Some(msg) = positive_duration(d.value.0) {
                    return Err(err_at(
                        file,
                        d,
                        format!("{key}.receipt_deadline.{class}"),
                        msg,
                    ));
                }
                deadline[class] = Some(d.value.0);
            }
        }
        let r = &c.receipts;
        out.push(Carrier {
            name: Arc::from(name.value.as_str()),
            kind: c.kind,
            reaches,
            features: Features::of(&c.features),
            receipt_deadline: deadline,
            receipts: CarrierReceipts {
                resp_ids: r.resp_ids.or(r.ids).unwrap_or(IdStyle::Auto),
                receipt_ids: r.receipt_ids.or(r.ids).unwrap_or(IdStyle::Auto),
                receipts_for: r.receipts_for.unwrap_or(ReceiptsFor::Any),
            },
            costs,
            cost_map,
            line: line(name),
        });
    }
    Ok(out)
}

/// `+05:30`, `-03:00`, `+0530`, `+05`, `Z`: seconds east of UTC.
pub fn parse_utc_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s == "Z" || s == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.len() {
        2 => (rest, "00"),
        4 => (&rest[..2], &rest[2..]),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    if !is_digits(h) || !is_digits(m) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let secs = sign * (h * 3600 + m * 60);
    (m < 60 && (-12 * 3600..=14 * 3600).contains(&secs)).then_some(secs)
}

/// `HH:MM`, 00:00 to 24:00, as minutes after midnight.
fn parse_clock(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !is_digits(h) || !is_digits(m) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

fn build_countries(
    file: &Path,
    raw: &OrderedMap<Spanned<Digits>, RawCountry>,
) -> Result<Vec<Country>, ConfigError> {
    let mut out = Vec::with_capacity(raw.0.len());
    for (code, c) in &raw.0 {
        let key = format!("countries.{}", code.value.0);
        let k = digits_key(file, code, &key, "country code")?;
        if k.len() > 3 {
            return Err(err_at(
                file,
                code,
                key,
                "a country calling code has 1 to 3 digits",
            ));
        }
        let utc_offset_secs = match &c.utc_offset {
            Some(o) => parse_utc_offset(&o.value).ok_or_else(|| {
                err_at(
                    file,
                    o,
                    format!("{key}.utc_offset"),
                    format!("`{}` is not a UTC offset like +05:30", o.value),
                )
            })?,
            None => 0,
        };
        let quiet_hours = match &c.quiet_hours {
            None => None,
            Some(q) => {
                if c.utc_offset.is_none() {
                    return Err(err_at(
                        file,
                        &q.from,
                        format!("{key}.quiet_hours"),
                        "quiet hours need the country's utc_offset",
                    ));
                }
                let clock = |sp: &Spanned<String>, k: &str| {
                    parse_clock(&sp.value).ok_or_else(|| {
                        err_at(
                            file,
                            sp,
                            format!("{key}.quiet_hours.{k}"),
                            format!("`{}` is not a time like 21:00", sp.value),
                        )
                    })
                };
                let from_min = clock(&q.from, "from")? % (24 * 60);
                let to_min = clock(&q.to, "to")? % (24 * 60);
                if from_min == to_min {
                    return Err(err_at(
                        file,
                        &q.to,
                        format!("{key}.quiet_hours.to"),
                        "quiet hours start and end at the same time",
                    ));
                }
                let classes = match &q.classes {
                    Some(list) => ClassSet::of(list),
                    None => ClassSet::of(&[MessageClass::Marketing]),
                };
                Some(QuietHours {
                    from_min,
                    to_min,
                    classes,
                })
            }
        };
        out.push(Country {
            code: k,
            name: c.name.clone(),
            utc_offset_secs,
            quiet_hours,
            require: Registrations::of(&c.require),
        });
    }
    Ok(out)
}

struct Ctx<'a> {
    file: &'a Path,
    raw_carriers: &'a OrderedMap<Spanned<String>, RawCarrier>,
    carriers: &'a [Carrier],
    by_name: &'a HashMap<Arc<str>, CarrierId>,
    countries: &'a [Country],
    defaults: &'a Defaults,
}

/// A route being resolved, with the origin of its inherited values.
struct Work {
    route: Route,
    deadline: ByClass<Src<Duration>>,
    validity: ByClass<Src<Duration>>,
    attempts: ByClass<Src<u8>>,
}

fn build_routes(
    ctx: &Ctx<'_>,
    raw: &[RawRoute],
    warnings: &mut Vec<ConfigError>,
) -> Result<(Vec<Route>, PrefixMap<u32>), ConfigError> {
    let file = ctx.file;
    if raw.is_empty() {
        return Err(ConfigError::whole(file, "routes", "no routes"));
    }
    if raw.len() >= u32::MAX as usize {
        return Err(ConfigError::whole(file, "routes", "too many routes"));
    }
    let mut keys = Vec::with_capacity(raw.len());
    let mut seen: HashMap<PrefixKey, u32> = HashMap::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let k = digits_key(file, &r.prefix, &format!("routes[{i}].prefix"), "prefix")?;
        if let Some(first) = seen.insert(k, line(&r.prefix)) {
            return Err(err_at(
                file,
                &r.prefix,
                format!("routes[{i}].prefix"),
                format!("prefix {k} is listed twice (first at line {first})"),
            ));
        }
        keys.push(k);
    }

    // Parents before children: sort by prefix length, keep file order among equals.
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by_key(|&i| keys[i].len());
    let mut done: Vec<Option<Work>> = (0..raw.len()).map(|_| None).collect();
    let mut prefixes = PrefixMap::new();
    for i in order {
        let prefix = &raw[i].prefix.value.0;
        let parent = prefixes
            .longest_match(&prefix.as_bytes()[..prefix.len() - 1])
            .and_then(|(&p, _): (&u32, usize)| done[p as usize].as_ref());
        let work = resolve_route(ctx, &raw[i], keys[i], parent, warnings)?;
        done[i] = Some(work);
        prefixes.insert(prefix, i as u32);
    }
    let routes = done.into_iter().flatten().map(|w| w.route).collect();
    Ok((routes, prefixes))
}

fn resolve_route(
    ctx: &Ctx<'_>,
    raw: &RawRoute,
    prefix: PrefixKey,
    parent: Option<&Work>,
    warnings: &mut Vec<ConfigError>,
) -> Result<Work, ConfigError> {
    let file = ctx.file;
    let key = format!("routes.{prefix}");
    let digits = &raw.prefix.value.0;
    let country = ctx
        .countries
        .iter()
        .enumerate()
        .filter(|(_, c)| c.code.is_prefix_of(prefix))
        .max_by_key(|(_, c)| c.code.len())
        .map(|(i, _)| i);

    // Candidates per class: the class's own list, else the route's default list, else the
    // parent's list for that class.
    let mut candidates: ByClass<Vec<CarrierId>> = ByClass::default();
    // The default list usually serves several classes: check it once.
    let mut checked: Vec<(*const CarrierList, Vec<CarrierId>)> = Vec::new();
    for class in MessageClass::ALL {
        let own = raw.candidates.as_ref().and_then(|c| {
            c.get(class)
                .map(|l| (l, class.as_str()))
                .or(c.default.as_ref().map(|l| (l, "default")))
        });
        candidates[class] = match (own, parent) {
            (Some((list, name)), _) => {
                let ptr = list as *const CarrierList;
                match checked.iter().find(|(p, _)| *p == ptr) {
                    Some((_, ids)) => ids.clone(),
                    None => {
                        let k = format!("{key}.candidates.{name}");
                        let ids = carrier_list(ctx, list, prefix, digits, &k)?;
                        dlt_warnings(ctx, list, &ids, country, &key, warnings);
                        checked.push((ptr, ids.clone()));
                        ids
                    }
                }
            }
            (None, Some(p)) => p.route.candidates[class].clone(),
            (None, None) => {
                return Err(err_at(
                    file,
                    &raw.prefix,
                    format!("{key}.candidates"),
                    format!(
                        "no candidates for class {class}: set `default` or `{class}` (no shorter prefix to inherit from)"
                    ),
                ));
            }
        };
    }

    let fallback = match &raw.fallback {
        Some(f) => {
            let classes = match &f.value.classes {
                Some(list) if list.is_empty() => {
                    return Err(err_at(
                        file,
                        f,
                        format!("{key}.fallback.classes"),
                        "empty class list: remove the fallback instead",
                    ));
                }
                Some(list) => ClassSet::of(list),
                None => ClassSet::of(&[MessageClass::Otp]),
            };
            Some(Fallback {
                channel: f.value.channel,
                classes,
            })
        }
        None => parent.and_then(|p| p.route.fallback),
    };

    let inherit = |own: &PerClass<_>,
                   up: Option<&ByClass<Src<Duration>>>,
                   def: &ByClass<Src<Duration>>,
                   name: &str| {
        let mut out = def.clone();
        for class in MessageClass::ALL {
            out[class] = match own.get(class) {
                Some(sp) => {
                    let sp: &Spanned<super::schema::Dur> = sp;
                    if let Some(msg) = positive_duration(sp.value.0) {
                        return Err(err_at(file, sp, format!("{key}.{name}.{class}"), msg));
                    }
                    Src::written(sp.value.0, sp, format!("{key}.{name}.{class}"))
                }
                None => up.map_or_else(|| def[class].clone(), |u| u[class].clone()),
            };
        }
        Ok(out)
    };
    let deadline = inherit(
        &raw.receipt_deadline,
        parent.map(|p| &p.deadline),
        &ctx.defaults.deadline,
        "receipt_deadline",
    )?;
    let validity = inherit(
        &raw.validity,
        parent.map(|p| &p.validity),
        &ctx.defaults.validity,
        "validity",
    )?;
    let mut attempts = parent.map_or_else(|| ctx.defaults.attempts.clone(), |p| p.attempts.clone());
    for class in MessageClass::ALL {
        if let Some(sp) = raw.max_attempts.get(class) {
            let k = format!("{key}.max_attempts.{class}");
            if let Some(msg) = positive_attempts(sp.value) {
                return Err(err_at(file, sp, k, msg));
            }
            attempts[class] = Src::written(sp.value, sp, k);
        }
    }

    for class in MessageClass::ALL {
        let (d, v) = (&deadline[class], &validity[class]);
        let own_d = raw.receipt_deadline.get(class).is_some();
        let own_v = raw.validity.get(class).is_some();
        if d.v > v.v && (own_d || own_v || parent.is_none()) {
            // Point at the value written on this route; for two inherited values, at the
            // one that is written somewhere rather than built in.
            let at = match (own_d, own_v) {
                (true, _) => d,
                (false, true) => v,
                (false, false) if d.at.referenced.line() == 0 => v,
                (false, false) => d,
            };
            return Err(ConfigError::at(
                file,
                &at.at,
                at.key.clone(),
                format!(
                    "{class} receipt deadline {} (from {}) is longer than its validity {} (from {}): the message would be worthless before the deadline could fire",
                    format_duration(d.v),
                    d.key,
                    format_duration(v.v),
                    v.key
                ),
            ));
        }
        for &c in &candidates[class] {
            let (cname, rc) = &ctx.raw_carriers.0[c.index()];
            if let Some(o) = rc.receipt_deadline.get(class)
                && o.value.0 > v.v
            {
                return Err(err_at(
                    file,
                    o,
                    format!("carriers.{}.receipt_deadline.{class}", cname.value),
                    format!(
                        "{} is longer than the {class} validity {} of route {prefix}",
                        format_duration(o.value.0),
                        format_duration(v.v)
                    ),
                ));
            }
        }
    }

    let route = Route {
        prefix,
        line: line(&raw.prefix),
        note: raw.note.clone(),
        candidates,
        fallback,
        receipt_deadline: ByClass(deadline.0.clone().map(|s| s.v)),
        validity: ByClass(validity.0.clone().map(|s| s.v)),
        max_attempts: ByClass(attempts.0.clone().map(|s| s.v)),
        allow_repeat: raw
            .allow_repeat
            .or(parent.map(|p| p.route.allow_repeat))
            .unwrap_or(false),
        country,
    };
    if let Some(p) = parent {
        let same = Route {
            prefix: p.route.prefix,
            line: p.route.line,
            note: p.route.note.clone(),
            ..route.clone()
        };
        if same == p.route {
            warnings.push(err_at(
                file,
                &raw.prefix,
                key,
                format!(
                    "same as its parent prefix {}: it never changes a decision",
                    p.route.prefix
                ),
            ));
        }
    }
    Ok(Work {
        route,
        deadline,
        validity,
        attempts,
    })
}

/// Checks one candidate list and turns names into ids.
fn carrier_list(
    ctx: &Ctx<'_>,
    list: &CarrierList,
    prefix: PrefixKey,
    digits: &str,
    key: &str,
) -> Result<Vec<CarrierId>, ConfigError> {
    let file = ctx.file;
    if list.value.is_empty() {
        return Err(err_at(file, list, key, "empty candidate list"));
    }
    if list.value.len() > super::MAX_CANDIDATES {
        return Err(err_at(
            file,
            list,
            key,
            format!("more than {} candidates", super::MAX_CANDIDATES),
        ));
    }
    let mut ids: Vec<CarrierId> = Vec::with_capacity(list.value.len());
    for name in &list.value {
        let Some(&id) = ctx.by_name.get(name.value.as_str()) else {
            return Err(err_at(
                file,
                name,
                key,
                format!("unknown carrier `{}`", name.value),
            ));
        };
        if ids.contains(&id) {
            return Err(err_at(
                file,
                name,
                key,
                format!("carrier `{}` is listed twice", name.value),
            ));
        }
        let c = &ctx.carriers[id.index()];
        if !c.reaches.iter().any(|r| r.is_prefix_of(prefix)) {
            let reach: Vec<String> = c.reaches.iter().map(|r| r.to_string()).collect();
            return Err(err_at(
                file,
                name,
                key,
                format!(
                    "carrier `{}` does not reach {prefix} (it reaches {})",
                    name.value,
                    reach.join(", ")
                ),
            ));
        }
        if c.cost_for(digits.as_bytes()).is_none() {
            return Err(err_at(
                file,
                name,
                key,
                format!(
                    "carrier `{}` has no cost for {prefix} (give a cost for {prefix} or a shorter prefix)",
                    name.value
                ),
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// A country that requires DLT ids needs carriers that can carry them; the router skips the
/// others, which is legal (an aggregator may register templates itself) but worth a word.
fn dlt_warnings(
    ctx: &Ctx<'_>,
    list: &CarrierList,
    ids: &[CarrierId],
    country: Option<usize>,
    key: &str,
    warnings: &mut Vec<ConfigError>,
) {
    let Some(country) = country.map(|i| &ctx.countries[i]) else {
        return;
    };
    if !country.require.any_dlt() {
        return;
    }
    for (name, id) in list.value.iter().zip(ids) {
        let c = &ctx.carriers[id.index()];
        if !c.features.contains(Feature::DltTlvs) {
            warnings.push(err_at(
                ctx.file,
                name,
                key,
                format!(
                    "carrier `{}` lacks dlt_tlvs but country {} requires DLT ids: the router will skip it",
                    name.value, country.code
                ),
            ));
        }
    }
}
