//! Decisions rendered for people: `gannet route` prints this.

use std::fmt::Write;
use std::time::SystemTime;

use super::{Decision, Reason, Refusal, Standing};
use crate::number::NumberType;
use crate::routes::{RouteTable, format_duration};

/// What the text needs besides the decision.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The destination as shown, `+91...`.
    pub destination: &'a str,
    pub number_type: NumberType,
    pub at: SystemTime,
    pub table: &'a RouteTable,
    /// Said under the header, e.g. that no live health was available.
    pub note: Option<&'a str>,
}

fn reason_text(r: Reason, table: &RouteTable) -> String {
    let p = table.policy();
    match r {
        Reason::OnlyCandidate => "the only usable candidate".into(),
        Reason::DirectFirst => "direct route, ahead of intermediaries".into(),
        Reason::IntermediaryAfterDirect => "intermediary, after the direct routes".into(),
        Reason::Healthier => format!(
            "healthier than the next by more than {}",
            p.health_tolerance
        ),
        Reason::LessHealthy => format!(
            "health more than {} below the one above",
            p.health_tolerance
        ),
        Reason::Cheaper => "cheapest of the equally healthy".into(),
        Reason::Costlier => "as healthy, costs more than the one above".into(),
        Reason::ListedFirst => "equal health and cost, listed first".into(),
        Reason::ListedLater => "equal health and cost, listed later".into(),
        Reason::Degraded => format!(
            "health below the floor {}: after every healthier route",
            p.health_floor
        ),
        Reason::Explored => format!("exploration ({}% of first attempts)", p.exploration * 100.0),
        Reason::PassedOverForExploration => {
            "ranked first, passed over for exploration this time".into()
        }
        Reason::Repeat => "already tried; the route allows repeats, so last".into(),
        Reason::NotYetTried => "not tried yet for this message".into(),
        Reason::Down => "no bind up".into(),
        Reason::AlreadyTried => "already tried for this message".into(),
        Reason::NoUnicode => "cannot send unicode".into(),
        Reason::NoConcatenation => "cannot send multipart messages".into(),
        Reason::NoDltTlvs => "cannot carry DLT ids".into(),
    }
}

fn refusal_text(r: &Refusal, d: &Decision, ctx: &Context<'_>) -> String {
    let country = d
        .prefix
        .and_then(|p| ctx.table.lookup(p.to_string().as_bytes()))
        .and_then(|route| ctx.table.country_of(route));
    let country_name = country
        .and_then(|c| c.name.clone())
        .unwrap_or_else(|| "this country".to_string());
    match r {
        Refusal::InvalidNumber => "not a valid E.164 number".into(),
        Refusal::NoRoute => "no route matches this number".into(),
        Refusal::PremiumRate => "premium-rate number (SMS pumping risk)".into(),
        Refusal::Landline => "landline".into(),
        Refusal::NotSmsCapable { number_type } => format!("{number_type} numbers cannot take SMS"),
        Refusal::QuietHours { until } => {
            let offset = country.map_or(0, |c| c.utc_offset_secs);
            format!(
                "{} is not sent during quiet hours in {country_name}; resume at {}",
                d.class,
                super::time::format_unix(*until as i64, offset)
            )
        }
        Refusal::MissingRegistration { missing } => {
            let names: Vec<&str> = missing.iter().map(|r| r.as_str()).collect();
            format!(
                "{country_name} requires {} on every message",
                names.join(", ")
            )
        }
        Refusal::ValidityExpired => "older than its validity: worthless now".into(),
        Refusal::AttemptsExhausted => format!("all {} attempts used", d.max_attempts.unwrap_or(0)),
        Refusal::NoCandidate => "no usable candidate".into(),
    }
}

/// The decision as a short report: header, decision, one line per candidate.
pub fn text(d: &Decision, ctx: &Context<'_>) -> String {
    let mut out = String::new();
    let table = ctx.table;
    let _ = writeln!(
        out,
        "{} ({}), class {}, at {}",
        ctx.destination,
        ctx.number_type,
        d.class,
        super::time::format_rfc3339(ctx.at)
    );
    if let Some(p) = d.prefix {
        let route = table.lookup(p.to_string().as_bytes());
        let _ = write!(
            out,
            "route {p} ({}:{})",
            table.source().display(),
            d.route_line.unwrap_or(0)
        );
        if let Some(note) = route.and_then(|r| r.note.as_deref()) {
            let _ = write!(out, " {note}");
        }
        out.push('\n');
    }
    if let Some(note) = ctx.note {
        let _ = writeln!(out, "{note}");
    }
    let decision = match (&d.chosen, d.fallback, &d.refusal) {
        (Some(c), _, _) => {
            let mut s = format!("sms via {c}");
            if d.explored {
                s.push_str(" (exploration)");
            }
            if let Some(t) = d.receipt_deadline {
                let _ = write!(s, ", receipt deadline {}", format_duration(t));
            }
            if let Some(v) = d.validity {
                let _ = write!(s, ", validity {}", format_duration(v));
            }
            if let Some(m) = d.max_attempts {
                let _ = write!(s, ", attempt {} of {m}", d.attempt);
            }
            s
        }
        (None, Some(ch), Some(r)) => {
            format!("{} fallback: {}", ch.as_str(), refusal_text(r, d, ctx))
        }
        (None, Some(ch), None) => format!("{} fallback", ch.as_str()),
        (None, None, Some(r)) => format!("refused: {}", refusal_text(r, d, ctx)),
        (None, None, None) => "refused".into(),
    };
    let _ = writeln!(out, "decision: {decision}");
    if d.candidates.is_empty() {
        return out;
    }
    let name_w = d
        .candidates
        .iter()
        .map(|c| c.carrier.len())
        .max()
        .unwrap_or(0)
        .max("carrier".len());
    let _ = writeln!(
        out,
        "\n  rank  {:<name_w$}  {:<12}  health  cost/seg  verdict",
        "carrier", "tier"
    );
    // Usable candidates in rank order (the reasons compare each with the one above), then
    // the skipped ones in table order.
    let mut rows: Vec<_> = d.candidates.iter().collect();
    rows.sort_by_key(|c| c.rank.unwrap_or(u8::MAX));
    for c in rows {
        let rank = c.rank.map_or("-".to_string(), |r| r.to_string());
        let cost = if c.cost.is_finite() {
            format!("{:.4}", c.cost)
        } else {
            "-".to_string()
        };
        let standing = match c.standing {
            Standing::Chosen => "chosen",
            Standing::Backup => "backup",
            Standing::Skipped => "skipped",
        };
        let mut verdict = format!("{standing}: {}", reason_text(c.reason, table));
        if c.throttled {
            verdict.push_str("; throttled");
        }
        let _ = writeln!(
            out,
            "  {rank:<4}  {:<name_w$}  {:<12}  {:<6.3}  {cost:<8}  {verdict}",
            c.carrier,
            c.tier.as_str(),
            c.health,
        );
    }
    out
}
