//! The routing decision: a pure function of the message, the table, route health and the
//! clock.
//!
//! [`resolve`] finds the longest matching prefix in the [`RouteTable`], applies policy (number
//! type, quiet hours, required registrations, validity, attempts), then ranks the candidate
//! carriers: usable before skipped (down, already tried, missing a feature), healthy before
//! degraded (below the policy's health floor), direct before intermediary, then by health,
//! where candidates within the policy's tolerance of the best count as equal and the cheaper
//! one wins, and finally by the order written in the table. A small, configurable share of
//! first attempts goes to another candidate of the best tier ("exploration"), chosen from a
//! caller-supplied seed, so that a route that recovered is noticed and the function stays
//! deterministic.
//!
//! Every candidate comes back with its tier, health, cost and the reason it was or was not
//! chosen; [`explain`] renders that for people and `Serialize` for scripts.
//!
//! What it is not: it does no I/O, reads no clock and keeps no state. Health comes from
//! [`health::HealthBook`] snapshots fed by the carrier pool and the DLR tracker.

pub mod cli;
pub mod explain;
pub mod health;
pub mod time;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

pub use health::{
    CandidateHealth, HealthBook, HealthConfig, HealthSnapshot, RouteHealth, SubmitResult,
};

use crate::number::NumberType;
use crate::routes::{
    CarrierId, CarrierKind, Channel, Feature, MAX_CANDIDATES, MessageClass, PrefixKey,
    Registrations, Route, RouteTable,
};

/// What the router needs to know about a message.
#[derive(Clone, Copy, Debug)]
pub struct RouteRequest<'a> {
    /// E.164 digits without the `+` (`PhoneNumber::e164_digits`).
    pub dest: &'a str,
    pub class: MessageClass,
    pub number_type: NumberType,
    /// SMS segments the text needs.
    pub segments: u16,
    /// Whether the text needs UCS-2.
    pub unicode: bool,
    /// Registrations the message carries (India DLT ids).
    pub registrations: Registrations,
    /// Carriers already tried for this message, by name, oldest first.
    pub tried: &'a [&'a str],
    /// When we accepted the message, to stop retrying once it is past its validity.
    pub accepted_at: Option<SystemTime>,
    /// Drives exploration; a hash of the message id, so a retry of the same message sees the
    /// same draw and a replay gives the same decision.
    pub seed: u64,
}

impl<'a> RouteRequest<'a> {
    /// A single-segment GSM message to a mobile number, first attempt, no registrations.
    pub fn new(dest: &'a str, class: MessageClass) -> RouteRequest<'a> {
        RouteRequest {
            dest,
            class,
            number_type: NumberType::Mobile,
            segments: 1,
            unicode: false,
            registrations: Registrations::NONE,
            tried: &[],
            accepted_at: None,
            seed: 0,
        }
    }
}

/// Why no SMS carrier was chosen.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// The destination is not 1 to 15 digits.
    InvalidNumber,
    /// No prefix of the table matches.
    NoRoute,
    /// Premium-rate numbers are refused: SMS pumping.
    PremiumRate,
    /// A landline, and the route has no non-SMS fallback for the class.
    Landline,
    /// A number type that cannot take SMS (toll-free, shared cost, UAN, voicemail, pager).
    NotSmsCapable { number_type: NumberType },
    /// The class may not be sent now in the recipient's country; try again at `until`
    /// (Unix seconds).
    QuietHours { until: u64 },
    /// The country requires registrations the message lacks.
    MissingRegistration { missing: Registrations },
    /// Older than the class's validity: worthless now.
    ValidityExpired,
    /// As many SMS attempts as the class allows were made.
    AttemptsExhausted,
    /// No candidate is usable (all down, tried, or lacking a feature).
    NoCandidate,
}

/// Where a candidate stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Chosen,
    /// Usable, ranked after the chosen one: the next attempts go here.
    Backup,
    Skipped,
}

/// Why a candidate stands where it does, relative to the one ranked just above it (for the
/// first, relative to the one just below).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No other usable candidate.
    OnlyCandidate,
    /// Direct MNO route ahead of intermediaries.
    DirectFirst,
    /// An intermediary, after the direct routes.
    IntermediaryAfterDirect,
    /// Healthier by more than the tolerance.
    Healthier,
    /// Less healthy by more than the tolerance.
    LessHealthy,
    /// As healthy (within tolerance) and cheaper.
    Cheaper,
    /// As healthy and more expensive.
    Costlier,
    /// Equal health and cost; listed earlier in the table.
    ListedFirst,
    /// Equal health and cost; listed later.
    ListedLater,
    /// Health below the floor: ranked after every healthier candidate.
    Degraded,
    /// Chosen by exploration.
    Explored,
    /// Would have been chosen; exploration picked another this time.
    PassedOverForExploration,
    /// Already tried; the route allows repeats, so it comes last.
    Repeat,
    /// Not tried yet for this message, ahead of those that were (with `allow_repeat`).
    NotYetTried,
    /// No bind up.
    Down,
    /// Already tried for this message.
    AlreadyTried,
    /// Cannot send UCS-2.
    NoUnicode,
    /// Cannot send multipart messages.
    NoConcatenation,
    /// Cannot carry the DLT ids the country requires.
    NoDltTlvs,
}

/// One candidate and its verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateVerdict {
    #[serde(skip)]
    pub id: CarrierId,
    #[serde(serialize_with = "ser_name")]
    pub carrier: Arc<str>,
    pub tier: CarrierKind,
    /// 1-based rank among usable candidates.
    pub rank: Option<u8>,
    /// Health score in [0, 1] for this class's deadline.
    #[serde(serialize_with = "ser_score")]
    pub health: f64,
    pub throttled: bool,
    /// Cost of one segment.
    pub cost: f64,
    pub standing: Standing,
    pub reason: Reason,
}

/// The routing decision: send SMS through `chosen`, else use `fallback`, else refuse
/// (`refusal` says why no SMS carrier was chosen in the last two cases).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub class: MessageClass,
    /// The route prefix that matched: the key for health outcomes of this message.
    pub prefix: Option<PrefixKey>,
    #[serde(skip)]
    pub route_line: Option<u32>,
    #[serde(serialize_with = "ser_opt_name")]
    pub chosen: Option<Arc<str>>,
    #[serde(skip)]
    pub chosen_id: Option<CarrierId>,
    /// Whether `chosen` was picked by exploration.
    pub explored: bool,
    pub fallback: Option<Channel>,
    pub refusal: Option<Refusal>,
    /// For the chosen carrier: no receipt within this is a failure.
    #[serde(serialize_with = "ser_opt_duration")]
    pub receipt_deadline: Option<Duration>,
    #[serde(serialize_with = "ser_opt_duration")]
    pub validity: Option<Duration>,
    /// This attempt's number, 1-based.
    pub attempt: u8,
    pub max_attempts: Option<u8>,
    pub candidates: Vec<CandidateVerdict>,
}

fn ser_name<S: Serializer>(n: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(n)
}

fn ser_opt_name<S: Serializer>(n: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => s.serialize_some(&**n),
        None => s.serialize_none(),
    }
}

fn ser_score<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 1000.0).round() / 1000.0)
}

fn ser_opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&crate::routes::format_duration(*d)),
        None => s.serialize_none(),
    }
}

/// SplitMix64: a cheap, well-mixed hash of the seed, so seeds 0, 1, 2... explore like random.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Decides how to send `msg`.
pub fn resolve(
    msg: &RouteRequest<'_>,
    table: &RouteTable,
    health: &HealthSnapshot,
    now: SystemTime,
) -> Decision {
    let class = msg.class;
    let mut d = Decision {
        class,
        prefix: None,
        route_line: None,
        chosen: None,
        chosen_id: None,
        explored: false,
        fallback: None,
        refusal: None,
        receipt_deadline: None,
        validity: None,
        attempt: u8::try_from(msg.tried.len() + 1).unwrap_or(u8::MAX),
        max_attempts: None,
        candidates: Vec::new(),
    };
    let refuse = |mut d: Decision, r: Refusal| {
        d.refusal = Some(r);
        d
    };
    let dest = msg.dest.as_bytes();
    if PrefixKey::from_bytes(dest).is_none() {
        return refuse(d, Refusal::InvalidNumber);
    }
    let Some(route) = table.lookup(dest) else {
        return refuse(d, Refusal::NoRoute);
    };
    d.prefix = Some(route.prefix);
    d.route_line = Some(route.line);
    d.validity = Some(route.validity[class]);
    d.max_attempts = Some(route.max_attempts[class]);
    let fallback = route.fallback.and_then(|f| f.for_class(class));
    let with_fallback = |mut d: Decision, r: Refusal| {
        d.fallback = fallback;
        d.refusal = Some(r);
        d
    };

    if msg.number_type == NumberType::PremiumRate {
        return refuse(d, Refusal::PremiumRate);
    }
    let country = table.country_of(route);
    if let Some(c) = country
        && let Some(q) = c.quiet_hours
        && q.classes.contains(class)
        && let Some(until) = q.check(unix_secs(now), c.utc_offset_secs)
    {
        return refuse(
            d,
            Refusal::QuietHours {
                until: until.max(0) as u64,
            },
        );
    }
    if let Some(accepted) = msg.accepted_at
        && now
            .duration_since(accepted)
            .is_ok_and(|age| age >= route.validity[class])
    {
        return refuse(d, Refusal::ValidityExpired);
    }
    match msg.number_type {
        NumberType::FixedLine => return with_fallback(d, Refusal::Landline),
        NumberType::TollFree
        | NumberType::SharedCost
        | NumberType::Uan
        | NumberType::Voicemail
        | NumberType::Pager => {
            return refuse(
                d,
                Refusal::NotSmsCapable {
                    number_type: msg.number_type,
                },
            );
        }
        _ => {}
    }
    let required = country.map_or(Registrations::NONE, |c| c.require);
    let missing = required.missing_from(msg.registrations);
    if !missing.is_empty() {
        return refuse(d, Refusal::MissingRegistration { missing });
    }
    if msg.tried.len() >= usize::from(route.max_attempts[class]) {
        return with_fallback(d, Refusal::AttemptsExhausted);
    }

    rank(msg, table, route, required, health, now, &mut d);
    match d.chosen_id {
        Some(id) => {
            d.receipt_deadline = Some(table.receipt_deadline(route, id, class));
            d
        }
        None => with_fallback(d, Refusal::NoCandidate),
    }
}

/// Sort key of a usable candidate.
#[derive(Clone, Copy)]
struct Usable {
    index: usize,
    repeat: bool,
    degraded: bool,
    tier: CarrierKind,
    health: f64,
    cost: f64,
    /// Starts a new health band: not "as healthy" as the one ranked before it.
    new_band: bool,
}

impl Usable {
    const EMPTY: Usable = Usable {
        index: 0,
        repeat: false,
        degraded: false,
        tier: CarrierKind::Direct,
        health: 0.0,
        cost: 0.0,
        new_band: false,
    };

    fn group(&self) -> (bool, bool, CarrierKind) {
        (self.repeat, self.degraded, self.tier)
    }
}

fn rank(
    msg: &RouteRequest<'_>,
    table: &RouteTable,
    route: &Route,
    required: Registrations,
    health: &HealthSnapshot,
    now: SystemTime,
    d: &mut Decision,
) {
    let policy = table.policy();
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let list = &route.candidates[msg.class];
    // Candidate lists are at most MAX_CANDIDATES long (checked at load): rank on the stack.
    let mut buf = [Usable::EMPTY; MAX_CANDIDATES];
    let mut n = 0;
    d.candidates.reserve_exact(list.len());
    for (index, &id) in list.iter().enumerate() {
        let c = table.carrier(id);
        let h = health.candidate(&c.name, route.prefix);
        let deadline = table.receipt_deadline(route, id, msg.class);
        let score = h.score(deadline, now_ms);
        let cost = c.cost_for(msg.dest.as_bytes()).unwrap_or(f64::INFINITY);
        let tried = msg.tried.iter().any(|t| **t == *c.name);
        let skip = if h.is_down() {
            Some(Reason::Down)
        } else if tried && !route.allow_repeat {
            Some(Reason::AlreadyTried)
        } else if msg.unicode && !c.features.contains(Feature::Unicode) {
            Some(Reason::NoUnicode)
        } else if msg.segments > 1 && !c.features.contains(Feature::Concatenation) {
            Some(Reason::NoConcatenation)
        } else if required.any_dlt() && !c.features.contains(Feature::DltTlvs) {
            Some(Reason::NoDltTlvs)
        } else {
            None
        };
        d.candidates.push(CandidateVerdict {
            id,
            carrier: c.name.clone(),
            tier: c.kind,
            rank: None,
            health: score,
            throttled: h.is_throttled(now_ms),
            cost,
            standing: Standing::Skipped,
            reason: skip.unwrap_or(Reason::OnlyCandidate),
        });
        if skip.is_none() && n < MAX_CANDIDATES {
            buf[n] = Usable {
                index,
                repeat: tried,
                degraded: score < policy.health_floor,
                tier: c.kind,
                health: score,
                cost,
                new_band: false,
            };
            n += 1;
        }
    }
    let ordered = &mut buf[..n];
    if ordered.is_empty() {
        return;
    }

    // Group by (repeat, degraded, tier); within a group, repeatedly take the healthiest left,
    // gather everything within the tolerance of it (a band), and order the band by cost, then
    // health, then the order in the table. Sorting a band in place leaves the rest of the
    // group in health order for the next band.
    ordered.sort_by(|a, b| {
        a.group()
            .cmp(&b.group())
            .then(b.health.total_cmp(&a.health))
            .then(a.index.cmp(&b.index))
    });
    let mut i = 0;
    while i < n {
        let group = ordered[i].group();
        let end = i + ordered[i..]
            .iter()
            .take_while(|u| u.group() == group)
            .count();
        let mut j = i;
        while j < end {
            let floor = ordered[j].health - policy.health_tolerance;
            let k = j + ordered[j..end]
                .iter()
                .take_while(|u| u.health >= floor)
                .count();
            let band = &mut ordered[j..k];
            band.sort_by(|a, b| {
                a.cost
                    .total_cmp(&b.cost)
                    .then(b.health.total_cmp(&a.health))
                    .then(a.index.cmp(&b.index))
            });
            for (m, u) in band.iter_mut().enumerate() {
                u.new_band = m == 0;
            }
            j = k;
        }
        i = end;
    }

    let reason_vs_prev = |prev: &Usable, cur: &Usable| -> Reason {
        if cur.repeat && !prev.repeat {
            Reason::Repeat
        } else if cur.degraded && !prev.degraded {
            Reason::Degraded
        } else if cur.tier != prev.tier {
            Reason::IntermediaryAfterDirect
        } else if cur.new_band {
            Reason::LessHealthy
        } else if cur.cost > prev.cost {
            Reason::Costlier
        } else {
            Reason::ListedLater
        }
    };
    let first_vs_next = |first: &Usable, next: &Usable| -> Reason {
        match reason_vs_prev(first, next) {
            Reason::Repeat => Reason::NotYetTried,
            Reason::Degraded | Reason::LessHealthy => Reason::Healthier,
            Reason::IntermediaryAfterDirect => Reason::DirectFirst,
            Reason::Costlier => Reason::Cheaper,
            _ => Reason::ListedFirst,
        }
    };
    for (r, u) in ordered.iter().enumerate() {
        let v = &mut d.candidates[u.index];
        v.rank = Some(r as u8 + 1);
        v.standing = Standing::Backup;
        v.reason = match r {
            0 if n == 1 => Reason::OnlyCandidate,
            0 => first_vs_next(u, &ordered[1]),
            _ => reason_vs_prev(&ordered[r - 1], u),
        };
    }

    // Exploration: a first attempt, now and then, goes to another usable candidate of the
    // best tier, or to a degraded one of any tier: a direct route that fell below the floor
    // is ranked after the intermediaries, and only traffic sent to it shows its recovery.
    let top = ordered[0];
    let mut chosen = top.index;
    if msg.tried.is_empty() && policy.exploration > 0.0 && !top.repeat {
        let is_peer = |u: &&Usable| (u.tier == top.tier || u.degraded) && !u.repeat;
        let peers = ordered[1..].iter().filter(is_peer).count();
        let draw = mix(msg.seed);
        let unit = (draw >> 11) as f64 / (1u64 << 53) as f64;
        if peers > 0 && unit < policy.exploration {
            let pick = (mix(draw) % peers as u64) as usize;
            if let Some(p) = ordered[1..].iter().filter(is_peer).nth(pick) {
                chosen = p.index;
                d.candidates[top.index].reason = Reason::PassedOverForExploration;
                d.candidates[chosen].reason = Reason::Explored;
                d.explored = true;
            }
        }
    }
    let v = &mut d.candidates[chosen];
    v.standing = Standing::Chosen;
    d.chosen = Some(v.carrier.clone());
    d.chosen_id = Some(v.id);
}
