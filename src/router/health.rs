//! Route health: what recent outcomes say about each (carrier, prefix).
//!
//! The carrier pool and the DLR tracker feed a [`HealthBook`] with outcomes as they happen:
//! submit results, receipts (delivered or not, and how long they took), deadline misses, and
//! bind state. The book keeps exponentially decaying sums (half-life [`HealthConfig::half_life`],
//! `now` passed in), so an old outcome weighs half as much one half-life later: traffic moves
//! off a route within seconds of its receipts turning bad or late, and a route that has been
//! quiet drifts back towards the prior and gets tried again.
//!
//! [`HealthBook::snapshot`] freezes the book into an immutable [`HealthSnapshot`] (cheap to
//! clone, `Arc` inside) that the pure router reads. Carriers are keyed by name, so health
//! survives a routes reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::dlr::hash::FastState;
use crate::routes::PrefixKey;

/// Tuning for the health book.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthConfig {
    /// Time after which an outcome counts half.
    pub half_life: Duration,
    /// Delivery rate assumed for a route with no data.
    pub prior_delivery: f64,
    /// Submit success rate assumed for a route with no data.
    pub prior_submit: f64,
    /// How many outcomes the prior is worth: a route's own data outweighs it after a handful
    /// of messages.
    pub prior_weight: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            half_life: Duration::from_secs(30),
            prior_delivery: 0.9,
            prior_submit: 0.98,
            prior_weight: 3.0,
        }
    }
}

/// How a submit_sm ended, as the carrier pool classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitResult {
    /// ESME_ROK.
    Ok,
    /// ESME_RTHROTTLED / queue full: capacity, not quality; the pool reports the throttle
    /// through [`HealthBook::set_carrier_state`], so it does not count here.
    Throttled,
    /// A temporary error: counts against the route.
    Temporary,
    /// A permanent error for this message on this route: counts against the route (another
    /// route may take it).
    Permanent,
    /// No response: an ambiguous submit, counts against the route.
    Timeout,
}

/// Exponentially decaying sums.
#[derive(Clone, Copy, Debug, Default)]
struct Decayed {
    ok: f64,
    n: f64,
    latency_sum_ms: f64,
    latency_n: f64,
    at_ms: u64,
}

impl Decayed {
    fn decay_to(&mut self, now_ms: u64, half_life_ms: f64) {
        if now_ms > self.at_ms {
            let f = (-((now_ms - self.at_ms) as f64) / half_life_ms * std::f64::consts::LN_2).exp();
            self.ok *= f;
            self.n *= f;
            self.latency_sum_ms *= f;
            self.latency_n *= f;
            self.at_ms = now_ms;
        }
    }

    fn add(&mut self, ok: bool, latency: Option<Duration>, now_ms: u64, half_life_ms: f64) {
        self.decay_to(now_ms, half_life_ms);
        self.n += 1.0;
        if ok {
            self.ok += 1.0;
        }
        if let Some(l) = latency {
            self.latency_sum_ms += l.as_secs_f64() * 1000.0;
            self.latency_n += 1.0;
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    receipts: Decayed,
    submits: Decayed,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BindState {
    pub bound: u16,
    pub total: u16,
    /// Unix milliseconds until which the carrier asked us to slow down.
    pub throttled_until_ms: Option<u64>,
}

#[derive(Clone, Debug, Default)]
struct CarrierBook {
    binds: Option<BindState>,
    all: Stats,
    by_prefix: HashMap<PrefixKey, Stats>,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The mutable record of outcomes. Not shared: one owner feeds it (behind a `Mutex` or in a
/// task) and publishes snapshots.
#[derive(Clone, Debug, Default)]
pub struct HealthBook {
    config: HealthConfig,
    carriers: HashMap<Box<str>, CarrierBook>,
}

impl HealthBook {
    pub fn new(config: HealthConfig) -> HealthBook {
        HealthBook {
            config,
            carriers: HashMap::new(),
        }
    }

    fn half_life_ms(&self) -> f64 {
        (self.config.half_life.as_secs_f64() * 1000.0).max(1.0)
    }

    fn with_book(&mut self, carrier: &str, f: impl FnOnce(&mut CarrierBook)) {
        if let Some(b) = self.carriers.get_mut(carrier) {
            return f(b);
        }
        let mut b = CarrierBook::default();
        f(&mut b);
        self.carriers.insert(carrier.into(), b);
    }

    fn record(
        &mut self,
        carrier: &str,
        prefix: PrefixKey,
        now: SystemTime,
        f: impl Fn(&mut Stats, u64, f64),
    ) {
        let (now_ms, hl) = (millis(now), self.half_life_ms());
        self.with_book(carrier, |book| {
            f(&mut book.all, now_ms, hl);
            f(book.by_prefix.entry(prefix).or_default(), now_ms, hl);
        });
    }

    /// A submit_sm_resp (or its absence) for a message routed to `carrier` under `prefix`
    /// (the route prefix of the [`super::Decision`]).
    pub fn record_submit_result(
        &mut self,
        carrier: &str,
        prefix: PrefixKey,
        result: SubmitResult,
        latency: Duration,
        now: SystemTime,
    ) {
        if result == SubmitResult::Throttled {
            return;
        }
        let ok = result == SubmitResult::Ok;
        self.record(carrier, prefix, now, |s, now_ms, hl| {
            s.submits.add(ok, Some(latency), now_ms, hl)
        });
    }

    /// A final receipt: delivered or not, and how long after the submit it came.
    pub fn record_receipt(
        &mut self,
        carrier: &str,
        prefix: PrefixKey,
        delivered: bool,
        latency: Duration,
        now: SystemTime,
    ) {
        self.record(carrier, prefix, now, |s, now_ms, hl| {
            s.receipts.add(delivered, Some(latency), now_ms, hl)
        });
    }

    /// No receipt within the deadline: a failure, and a latency of at least `waited`.
    pub fn record_deadline_miss(
        &mut self,
        carrier: &str,
        prefix: PrefixKey,
        waited: Duration,
        now: SystemTime,
    ) {
        self.record(carrier, prefix, now, |s, now_ms, hl| {
            s.receipts.add(false, Some(waited), now_ms, hl)
        });
    }

    /// Bind state from the carrier pool: how many binds are up, and any throttle.
    pub fn set_carrier_state(
        &mut self,
        carrier: &str,
        bound_binds: u16,
        total_binds: u16,
        throttled_until: Option<SystemTime>,
    ) {
        let binds = BindState {
            bound: bound_binds,
            total: total_binds,
            throttled_until_ms: throttled_until.map(millis),
        };
        self.with_book(carrier, |b| b.binds = Some(binds));
    }

    /// Freezes the book at `now`.
    pub fn snapshot(&self, now: SystemTime) -> HealthSnapshot {
        let (now_ms, hl) = (millis(now), self.half_life_ms());
        let c = &self.config;
        let w = c.prior_weight;
        let view =
            |s: &Stats, prior_delivery: f64, prior_submit: f64, prior_latency: Option<f64>| {
                let (mut r, mut sub) = (s.receipts, s.submits);
                r.decay_to(now_ms, hl);
                sub.decay_to(now_ms, hl);
                RouteHealth {
                    delivery: (r.ok + w * prior_delivery) / (r.n + w),
                    submit_ok: (sub.ok + w * prior_submit) / (sub.n + w),
                    receipt_latency_ms: if r.latency_n >= 0.5 {
                        Some(r.latency_sum_ms / r.latency_n)
                    } else {
                        prior_latency
                    },
                    samples: r.n,
                }
            };
        let carriers = self
            .carriers
            .iter()
            .map(|(name, b)| {
                // A prefix with little data leans on the carrier's overall figures, which
                // lean on the prior.
                let all = view(&b.all, c.prior_delivery, c.prior_submit, None);
                let by_prefix = b
                    .by_prefix
                    .iter()
                    .map(|(&p, s)| {
                        (
                            p,
                            view(s, all.delivery, all.submit_ok, all.receipt_latency_ms),
                        )
                    })
                    .collect();
                (
                    name.clone(),
                    CarrierHealth {
                        binds: b.binds,
                        all,
                        by_prefix,
                    },
                )
            })
            .collect();
        HealthSnapshot(Arc::new(Inner {
            at_ms: now_ms,
            prior: RouteHealth {
                delivery: c.prior_delivery,
                submit_ok: c.prior_submit,
                receipt_latency_ms: None,
                samples: 0.0,
            },
            carriers,
        }))
    }
}

/// Health of one (carrier, prefix), or of a carrier over all prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RouteHealth {
    /// Share of receipts that said delivered (deadline misses count as not), smoothed.
    pub delivery: f64,
    /// Share of submits accepted, smoothed.
    pub submit_ok: f64,
    /// Mean time from submit to final receipt, when known.
    pub receipt_latency_ms: Option<f64>,
    /// Weight of the receipts behind `delivery` (decayed count).
    pub samples: f64,
}

impl RouteHealth {
    /// One number in [0, 1]: delivery x submit success x a latency factor that falls from 1
    /// (instant receipts) to 0.5 (receipts as late as the deadline).
    pub fn score(&self, deadline: Duration) -> f64 {
        let latency = match self.receipt_latency_ms {
            Some(ms) => 1.0 - 0.5 * (ms / (deadline.as_secs_f64() * 1000.0).max(1.0)).min(1.0),
            None => 1.0,
        };
        self.delivery * self.submit_ok * latency
    }
}

#[derive(Clone, Debug)]
struct CarrierHealth {
    binds: Option<BindState>,
    all: RouteHealth,
    by_prefix: HashMap<PrefixKey, RouteHealth, FastState>,
}

#[derive(Debug)]
struct Inner {
    at_ms: u64,
    prior: RouteHealth,
    carriers: HashMap<Box<str>, CarrierHealth, FastState>,
}

/// An immutable view of route health at one instant.
#[derive(Clone, Debug)]
pub struct HealthSnapshot(Arc<Inner>);

impl Default for HealthSnapshot {
    fn default() -> Self {
        HealthBook::default().snapshot(UNIX_EPOCH)
    }
}

/// What the router needs to know about one candidate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CandidateHealth {
    pub route: RouteHealth,
    /// Known bind state; `None` when the pool has said nothing (taken as up).
    pub binds: Option<BindState>,
}

impl CandidateHealth {
    /// No bind up (known): the route is skipped, not waited on.
    pub fn is_down(&self) -> bool {
        self.binds.is_some_and(|b| b.bound == 0)
    }

    pub fn is_throttled(&self, now_ms: u64) -> bool {
        self.binds
            .and_then(|b| b.throttled_until_ms)
            .is_some_and(|t| t > now_ms)
    }

    /// The route's score with its bind state folded in: a throttled carrier counts half (it
    /// will queue), and fewer binds up than configured costs up to a tenth.
    pub fn score(&self, deadline: Duration, now_ms: u64) -> f64 {
        let mut s = self.route.score(deadline);
        if self.is_throttled(now_ms) {
            s *= 0.5;
        }
        if let Some(b) = self.binds
            && b.total > 0
        {
            s *= 0.9 + 0.1 * (f64::from(b.bound.min(b.total)) / f64::from(b.total));
        }
        s
    }
}

impl HealthSnapshot {
    /// When the snapshot was taken, Unix milliseconds.
    pub fn at_ms(&self) -> u64 {
        self.0.at_ms
    }

    /// Health of `carrier` towards `prefix`; the prior when nothing is known.
    #[inline]
    pub fn candidate(&self, carrier: &str, prefix: PrefixKey) -> CandidateHealth {
        match self.0.carriers.get(carrier) {
            None => CandidateHealth {
                route: self.0.prior,
                binds: None,
            },
            Some(c) => CandidateHealth {
                route: c.by_prefix.get(&prefix).copied().unwrap_or(c.all),
                binds: c.binds,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    #[test]
    fn decays_by_half_each_half_life() {
        let mut d = Decayed::default();
        d.add(true, None, 0, 1000.0);
        d.decay_to(1000, 1000.0);
        assert!((d.n - 0.5).abs() < 1e-9);
        d.decay_to(3000, 1000.0);
        assert!((d.n - 0.125).abs() < 1e-9);
        // Time going backwards does not inflate anything.
        d.decay_to(0, 1000.0);
        assert!((d.n - 0.125).abs() < 1e-9);
    }

    #[test]
    fn unknown_carrier_gets_the_prior_and_prefix_leans_on_carrier() {
        let mut book = HealthBook::default();
        let p = PrefixKey::parse("91").unwrap();
        let q = PrefixKey::parse("52").unwrap();
        let snap = book.snapshot(t(0));
        let c = snap.candidate("x", p);
        assert_eq!((c.route.delivery, c.binds), (0.9, None));
        for _ in 0..30 {
            book.record_receipt("x", p, false, Duration::from_secs(1), t(0));
        }
        let snap = book.snapshot(t(0));
        assert!(snap.candidate("x", p).route.delivery < 0.1);
        // Another prefix of the same carrier has no data of its own: the carrier's figure.
        let other = snap.candidate("x", q).route.delivery;
        assert!((other - (2.7 / 33.0)).abs() < 1e-9, "{other}");
    }
}
