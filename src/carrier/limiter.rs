//! The carrier's send rate: the contract TPS, counted in segments across all binds, and the
//! adaptive slow-down when the carrier answers ESME_RTHROTTLED or ESME_RMSGQFUL.
//!
//! # Why GCRA and not a token bucket
//!
//! A token bucket with burst = TPS lets a full bucket go at once and then refills at TPS, so a
//! one-second span can see 2 × TPS: exactly the overshoot that gets an account throttled or
//! fined. The generic cell rate algorithm ([`Gcra`]) schedules each segment one emission
//! interval `T` after the previous one and allows it to go early by at most a tolerance `τ`. In
//! any half-open span of length `L` it lets at most `⌈(L + τ) / T⌉` segments through.
//!
//! The tolerance is what absorbs a timer that fires late (tokio's timers have millisecond
//! granularity): without one, every late wake-up is rate lost for good, up to 10% at 100 TPS.
//! So the interval is stretched by [`SLACK`] (`T = (1 + SLACK) / TPS`) and the tolerance is
//! that much time (`τ = SLACK × 1 s`): `⌈(1 s + τ) / T⌉ = TPS`. No one-second span ever
//! carries more than the contract at our side, which leaves the carrier's side a 1% margin for
//! network jitter, for 0.5% of the contract's throughput.
//!
//! # Slowing down (AIMD)
//!
//! A throttled answer multiplies the effective rate by 0.7 (a queue-full answer by 0.5, and it
//! also pauses the carrier for a pause that doubles while the answers keep coming and halves
//! every quiet second): multiplicative decrease, at most once per [`DECREASE_HOLDOFF`] so that a
//! whole window of throttled answers to one burst counts once. Every second without one the
//! rate climbs back by 5% of the contract: additive increase. Never a fixed 30-second sleep.
//!
//! Time is passed in (`now`), so all of this is tested with a simulated clock.

use std::time::{Duration, Instant};

/// Decreases closer together than this count as one (a window's worth of throttled answers
/// arrives within one round trip).
pub const DECREASE_HOLDOFF: Duration = Duration::from_millis(500);
/// Rate multiplier on ESME_RTHROTTLED.
pub const THROTTLE_FACTOR: f64 = 0.7;
/// Rate multiplier on ESME_RMSGQFUL.
pub const QUEUE_FULL_FACTOR: f64 = 0.5;
/// Additive increase per quiet second, as a fraction of the ceiling.
pub const INCREASE_FRACTION: f64 = 0.05;
/// First pause after ESME_RMSGQFUL; it doubles up to [`MAX_PAUSE`].
pub const FIRST_PAUSE: Duration = Duration::from_millis(200);
pub const MAX_PAUSE: Duration = Duration::from_secs(10);

const NANOS_PER_SEC: f64 = 1.0e9;

/// How much longer than `1/rate` the emission interval is, and (in seconds) the tolerance.
pub const SLACK: f64 = 0.005;
/// `SLACK` seconds.
pub const TOLERANCE: Duration = Duration::from_millis(5);

/// Generic cell rate algorithm: one segment every `interval`, up to `tolerance` early.
#[derive(Clone, Debug)]
pub struct Gcra {
    interval: Duration,
    tolerance: Duration,
    /// Theoretical arrival time of the next segment.
    tat: Option<Instant>,
}

impl Gcra {
    /// At most `rate` segments per second (> 0) in any one-second span: the interval is
    /// `(1 + SLACK) / rate` and the tolerance [`TOLERANCE`].
    pub fn new(rate: f64) -> Gcra {
        Gcra {
            interval: interval_for(rate),
            tolerance: TOLERANCE,
            tat: None,
        }
    }

    /// Changes the rate, keeping the schedule.
    pub fn set_rate(&mut self, rate: f64) {
        self.interval = interval_for(rate);
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Takes up to `want` segments at `now` and returns how many may go now.
    pub fn take(&mut self, want: u32, now: Instant) -> u32 {
        if want == 0 {
            return 0;
        }
        let tat = self.tat.map_or(now, |t| t.max(now));
        // Segment k (0-based) conforms when tat + k·T − τ ≤ now.
        let Some(slack) = (now + self.tolerance).checked_duration_since(tat) else {
            return 0;
        };
        let interval_ns = self.interval.as_nanos().max(1);
        let fit = (slack.as_nanos() / interval_ns).saturating_add(1);
        let n = want.min(u32::try_from(fit).unwrap_or(u32::MAX));
        self.tat = Some(tat + self.interval.saturating_mul(n));
        n
    }

    /// The earliest instant at which one segment conforms (`now` or later).
    pub fn ready_at(&self, now: Instant) -> Instant {
        match self.tat {
            Some(tat) => tat.checked_sub(self.tolerance).map_or(now, |t| t.max(now)),
            None => now,
        }
    }
}

/// The emission interval for `rate` segments/s, stretched by [`SLACK`] and rounded *up* to the
/// nanosecond, so rounding can only make us slower than the contract.
fn interval_for(rate: f64) -> Duration {
    let rate = if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        1.0e-3
    };
    let ns = (NANOS_PER_SEC * (1.0 + SLACK) / rate).ceil();
    Duration::from_nanos(ns.min(u64::MAX as f64) as u64)
}

/// Segments sent over the last second, in 100 ms buckets: the measured rate AIMD decreases
/// from when there is no contract (or when we send below it). Eleven buckets: the ten complete
/// ones make the second, the eleventh is filling.
#[derive(Clone, Debug)]
struct RateMeter {
    epoch: Instant,
    buckets: [u32; METER_BUCKETS],
    /// Absolute index of the newest (filling) bucket.
    head: u64,
}

const BUCKET: Duration = Duration::from_millis(100);
const METER_BUCKETS: usize = 11;

impl RateMeter {
    fn new(now: Instant) -> RateMeter {
        RateMeter {
            epoch: now,
            buckets: [0; METER_BUCKETS],
            head: 0,
        }
    }

    fn advance(&mut self, now: Instant) {
        let idx = (now.saturating_duration_since(self.epoch).as_nanos() / BUCKET.as_nanos()) as u64;
        if idx <= self.head {
            return;
        }
        let n = METER_BUCKETS as u64;
        let gap = idx - self.head;
        if gap >= n {
            self.buckets = [0; METER_BUCKETS];
        } else {
            for i in 1..=gap {
                self.buckets[((self.head + i) % n) as usize] = 0;
            }
        }
        self.head = idx;
    }

    fn record(&mut self, count: u32, now: Instant) {
        self.advance(now);
        let b = &mut self.buckets[(self.head % METER_BUCKETS as u64) as usize];
        *b = b.saturating_add(count);
    }

    /// Segments in the last 1.0 to 1.1 seconds: the ten complete buckets and the filling one.
    /// Over-counts by at most a bucket, which only makes a decrease gentler.
    fn per_second(&mut self, now: Instant) -> f64 {
        self.advance(now);
        self.buckets.iter().map(|&b| f64::from(b)).sum()
    }
}

/// The send-rate state of one carrier: contract, adaptive rate, pause. Shared by its binds
/// behind a mutex; every method is O(1).
#[derive(Clone, Debug)]
pub struct CarrierLimiter {
    contract: Option<u32>,
    /// `None` while unlimited (no contract and no throttling seen lately).
    gcra: Option<Gcra>,
    /// The effective rate (segments/s) while `gcra` is set.
    rate: f64,
    /// What additive increase climbs back to: the contract, or the highest measured rate when
    /// there is none.
    ceiling: f64,
    last_decrease: Option<Instant>,
    last_increase: Instant,
    paused_until: Option<Instant>,
    pause: Duration,
    last_pause: Option<Instant>,
    meter: RateMeter,
    throttle_events: u64,
}

impl CarrierLimiter {
    /// A limiter for a carrier with this contract (`None`: no contract, only adaptive).
    pub fn new(contract_tps: Option<u32>, now: Instant) -> CarrierLimiter {
        let contract = contract_tps.filter(|&t| t > 0);
        let gcra = contract.map(|t| Gcra::new(f64::from(t)));
        let ceiling = contract.map_or(0.0, f64::from);
        CarrierLimiter {
            contract,
            gcra,
            rate: ceiling,
            ceiling,
            last_decrease: None,
            last_increase: now,
            paused_until: None,
            pause: Duration::ZERO,
            last_pause: None,
            meter: RateMeter::new(now),
            throttle_events: 0,
        }
    }

    /// Takes up to `want` segments at `now`: how many may be sent now. Each one counts
    /// against the contract from this instant.
    pub fn take(&mut self, want: u32, now: Instant) -> u32 {
        if want == 0 {
            return 0;
        }
        if self.paused_until.is_some_and(|p| now < p) {
            return 0;
        }
        self.recover(now);
        let n = match &mut self.gcra {
            Some(g) => g.take(want, now),
            None => want,
        };
        if n > 0 {
            self.meter.record(n, now);
        }
        n
    }

    /// When the next segment may go, or `None` when it may go now. Meaningful after a
    /// [`CarrierLimiter::take`] that granted less than asked.
    pub fn ready_at(&self, now: Instant) -> Option<Instant> {
        let pause = self.paused_until.filter(|&p| p > now);
        let gcra = self
            .gcra
            .as_ref()
            .map(|g| g.ready_at(now))
            .filter(|&t| t > now);
        match (pause, gcra) {
            (Some(p), Some(g)) => Some(p.max(g)),
            (p, g) => p.or(g),
        }
    }

    /// The carrier answered ESME_RTHROTTLED.
    pub fn on_throttled(&mut self, now: Instant) {
        self.decrease(THROTTLE_FACTOR, now);
    }

    /// The carrier answered ESME_RMSGQFUL: slow down harder, and pause.
    pub fn on_queue_full(&mut self, now: Instant) {
        if self
            .last_pause
            .is_none_or(|t| now.saturating_duration_since(t) >= DECREASE_HOLDOFF)
        {
            self.pause = if self.pause.is_zero() {
                FIRST_PAUSE
            } else {
                (self.pause * 2).min(MAX_PAUSE)
            };
            self.last_pause = Some(now);
            self.paused_until = Some(now + self.pause);
        }
        self.decrease(QUEUE_FULL_FACTOR, now);
    }

    fn decrease(&mut self, factor: f64, now: Instant) {
        self.throttle_events += 1;
        if self
            .last_decrease
            .is_some_and(|t| now.saturating_duration_since(t) < DECREASE_HOLDOFF)
        {
            return;
        }
        let measured = self.meter.per_second(now).max(1.0);
        if self.contract.is_none() {
            self.ceiling = self.ceiling.max(measured);
        }
        let current = if self.gcra.is_some() {
            self.rate.min(measured.max(self.rate * factor))
        } else {
            measured
        };
        self.rate = (current * factor).max(self.min_rate());
        match &mut self.gcra {
            Some(g) => g.set_rate(self.rate),
            None => {
                let mut g = Gcra::new(self.rate);
                // Start the schedule now: the segments already in flight were the burst.
                g.take(1, now);
                self.gcra = Some(g);
            }
        }
        self.last_decrease = Some(now);
        self.last_increase = now;
    }

    /// Additive increase (and pause decay) for every quiet second since the last change.
    fn recover(&mut self, now: Instant) {
        let quiet = now.saturating_duration_since(self.last_increase);
        if quiet < Duration::from_secs(1) {
            return;
        }
        let secs = quiet.as_secs();
        self.last_increase += Duration::from_secs(secs);
        if !self.pause.is_zero() {
            let halvings = secs.min(32) as u32;
            self.pause /= 2u32.saturating_pow(halvings);
            if self.pause < FIRST_PAUSE {
                self.pause = Duration::ZERO;
            }
        }
        if self.gcra.is_none() || self.rate >= self.ceiling {
            return;
        }
        let step = (self.ceiling * INCREASE_FRACTION).max(1.0);
        self.rate = (self.rate + step * secs as f64).min(self.ceiling);
        if self.contract.is_none() && self.rate >= self.ceiling {
            // Back to where the carrier last complained: no limit until it does again.
            self.gcra = None;
        } else if let Some(g) = &mut self.gcra {
            g.set_rate(self.rate);
        }
    }

    fn min_rate(&self) -> f64 {
        (self.ceiling * 0.01).max(1.0)
    }

    /// The effective rate, or `None` when unlimited.
    pub fn effective_rate(&self) -> Option<f64> {
        self.gcra.as_ref().map(|_| self.rate)
    }

    pub fn contract(&self) -> Option<u32> {
        self.contract
    }

    /// True while slowed below the contract (or limited at all, without one) or paused.
    pub fn is_throttled(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|p| p > now)
            || match self.contract {
                Some(c) => self.rate < f64::from(c),
                None => self.gcra.is_some(),
            }
    }

    /// The end of the current pause, if one is running.
    pub fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|&p| p > now)
    }

    /// Throttled and queue-full answers seen.
    pub fn throttle_events(&self) -> u64 {
        self.throttle_events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::backoff::Rng;

    /// Most segments in any half-open one-second span of `sends` (time, count), sorted.
    fn max_per_second(sends: &[(Instant, u32)]) -> u64 {
        let mut best = 0u64;
        let mut sum = 0u64;
        let mut lo = 0;
        for hi in 0..sends.len() {
            sum += u64::from(sends[hi].1);
            while sends[hi].0 - sends[lo].0 >= Duration::from_secs(1) {
                sum -= u64::from(sends[lo].1);
                lo += 1;
            }
            best = best.max(sum);
        }
        best
    }

    fn assert_rate(l: &CarrierLimiter, want: f64) {
        let got = l.effective_rate().unwrap_or(f64::NAN);
        assert!((got - want).abs() < 1e-6, "rate {got}, expected {want}");
    }

    /// Drives a limiter like a bind does: ask for a random batch, sleep until ready when
    /// refused, random idle gaps. Returns every grant.
    fn run(limiter: &mut CarrierLimiter, t0: Instant, secs: u64, seed: u64) -> Vec<(Instant, u32)> {
        let mut rng = Rng::seeded(seed);
        let mut now = t0;
        let end = t0 + Duration::from_secs(secs);
        let mut sends = Vec::new();
        while now < end {
            let want = 1
                + (rng.next_u64() % u64::from(limiter.contract().unwrap_or(0).max(6400) / 50))
                    as u32;
            let got = limiter.take(want, now);
            if got > 0 {
                sends.push((now, got));
            }
            // Timers fire late by up to a millisecond; sometimes the queue runs dry.
            let late = Duration::from_micros(rng.next_u64() % 1000);
            now = match limiter.ready_at(now) {
                Some(t) => t + late,
                None if rng.next_u64().is_multiple_of(50) => {
                    now + Duration::from_millis(rng.next_u64() % 700)
                }
                None => now + late,
            };
        }
        sends
    }

    #[test]
    fn every_second_stays_within_one_percent() {
        let t0 = Instant::now();
        for (i, tps) in [
            1u32, 3, 7, 50, 99, 100, 101, 333, 1000, 2500, 10_000, 200_000,
        ]
        .into_iter()
        .enumerate()
        {
            let mut l = CarrierLimiter::new(Some(tps), t0);
            let secs = if tps >= 10_000 { 20 } else { 300 };
            let sends = run(&mut l, t0, secs, i as u64);
            let worst = max_per_second(&sends);
            // Never above the contract at our side (the 1% is the carrier's margin).
            assert!(worst <= u64::from(tps), "tps {tps}: {worst} in one second");
            // And the contract is used, not wasted (the driver's idle gaps cost a little).
            let total: u64 = sends.iter().map(|s| u64::from(s.1)).sum();
            assert!(
                total as f64 >= f64::from(tps) * secs as f64 * 0.5,
                "tps {tps}: only {total} in {secs} s"
            );
        }
    }

    #[test]
    fn saturating_demand_gets_the_contract() {
        let t0 = Instant::now();
        let mut l = CarrierLimiter::new(Some(500), t0);
        let mut now = t0;
        let mut total = 0u64;
        while now < t0 + Duration::from_secs(60) {
            total += u64::from(l.take(1000, now));
            now = l.ready_at(now).unwrap_or(now) + Duration::from_micros(300);
        }
        // 500 / 1.005 per second.
        assert!((29_800..=30_000).contains(&total), "{total}");
    }

    #[test]
    fn gcra_grants_the_tolerance_at_once_then_paces() {
        let t0 = Instant::now();
        let mut g = Gcra::new(1000.0);
        // T = 1.005 ms, τ = 5 ms: one on time plus four early.
        assert_eq!(g.interval(), Duration::from_nanos(1_005_000));
        assert_eq!(g.take(100, t0), 5);
        assert_eq!(g.take(1, t0), 0);
        assert_eq!(g.ready_at(t0), t0 + Duration::from_nanos(25_000));
        assert_eq!(g.take(5, t0 + Duration::from_nanos(25_000)), 1);
        // Unused capacity beyond the tolerance is not saved up.
        assert_eq!(g.take(100, t0 + Duration::from_millis(50)), 5);
    }

    #[test]
    fn late_timers_cost_nothing_within_the_tolerance() {
        // 100 TPS, every wake-up 1 ms late: still 100/1.005 per second.
        let t0 = Instant::now();
        let mut g = Gcra::new(100.0);
        let mut now = t0;
        let mut sent = 0u32;
        while now < t0 + Duration::from_secs(100) {
            sent += g.take(1, now);
            now = g.ready_at(now).max(now) + Duration::from_millis(1);
        }
        assert!(sent >= 9_940, "{sent}");
    }

    #[test]
    fn throttling_slows_then_recovers() {
        let t0 = Instant::now();
        let mut l = CarrierLimiter::new(Some(1000), t0);
        let saturate = |l: &mut CarrierLimiter, from: Instant, to: Instant| {
            let mut now = from;
            while now < to {
                l.take(100, now);
                now = l.ready_at(now).unwrap_or(now);
            }
        };
        // Saturate for two seconds so the meter knows the rate.
        let t1 = t0 + Duration::from_secs(2);
        saturate(&mut l, t0, t1);
        l.on_throttled(t1);
        // 0.7 × what was sent: the contract less the slack.
        let r1 = l.effective_rate().unwrap_or(0.0);
        assert!((690.0..=700.0).contains(&r1), "{r1}");
        // A window of throttled answers to the same burst counts once.
        l.on_throttled(t1 + Duration::from_millis(10));
        assert_rate(&l, r1);
        assert!(l.is_throttled(t1));
        let t2 = t1 + DECREASE_HOLDOFF;
        saturate(&mut l, t1, t2);
        l.on_throttled(t2);
        assert_rate(&l, r1 * 0.7);
        // Six quiet seconds: +50/s each.
        let later = t2 + Duration::from_secs(6);
        l.take(1, later);
        assert_rate(&l, r1 * 0.7 + 300.0);
        let much_later = later + Duration::from_secs(60);
        l.take(1, much_later);
        assert_rate(&l, 1000.0);
        assert!(!l.is_throttled(much_later));
        // Sending well below the limit, a throttle decreases from what was really sent.
        let t3 = much_later + Duration::from_secs(5);
        for i in 0..100u32 {
            l.take(1, much_later + Duration::from_millis(u64::from(i) * 50));
        }
        l.on_throttled(t3);
        // From max(measured, rate × 0.7): at most two steps down at once.
        assert_rate(&l, 490.0);
    }

    #[test]
    fn throttled_rate_holds_in_every_second() {
        // After a throttle at 1000 TPS the limiter must hold the lower rate, not burst.
        let t0 = Instant::now();
        let mut l = CarrierLimiter::new(Some(1000), t0);
        let mut sends = run(&mut l, t0, 5, 1);
        let t1 = t0 + Duration::from_secs(5);
        l.on_throttled(t1);
        let rate = l.effective_rate().unwrap_or(0.0);
        let mut now = t1;
        let mut after = Vec::new();
        while now < t1 + Duration::from_millis(900) {
            let got = l.take(64, now);
            if got > 0 {
                after.push((now, got));
            }
            now = l.ready_at(now).unwrap_or(now + Duration::from_micros(100));
        }
        let sent: u64 = after.iter().map(|s| u64::from(s.1)).sum();
        assert!(sent as f64 <= rate * 0.9 + 11.0, "{sent} at rate {rate}");
        sends.extend(after);
        assert!(max_per_second(&sends) <= 1000);
    }

    #[test]
    fn queue_full_pauses_with_growing_then_decaying_pause() {
        let t0 = Instant::now();
        let mut l = CarrierLimiter::new(Some(100), t0);
        l.on_queue_full(t0);
        assert_eq!(l.take(1, t0), 0);
        assert_eq!(l.ready_at(t0), Some(t0 + FIRST_PAUSE));
        let t1 = t0 + FIRST_PAUSE;
        assert!(l.take(1, t1) > 0);
        l.on_queue_full(t1 + DECREASE_HOLDOFF);
        assert_eq!(
            l.paused_until(t1 + DECREASE_HOLDOFF),
            Some(t1 + DECREASE_HOLDOFF + FIRST_PAUSE * 2)
        );
        // Quiet for a while: the pause decays back to the first step.
        let t2 = t1 + Duration::from_secs(20);
        l.take(1, t2);
        l.on_queue_full(t2);
        assert_eq!(l.paused_until(t2), Some(t2 + FIRST_PAUSE));
        assert_eq!(l.throttle_events(), 3);
    }

    #[test]
    fn no_contract_is_unlimited_until_throttled() {
        let t0 = Instant::now();
        let mut l = CarrierLimiter::new(None, t0);
        assert_eq!(l.take(1_000_000, t0), 1_000_000);
        assert_eq!(l.ready_at(t0), None);
        // 1M segments in the last second measured; throttled: limit to 70% of it.
        l.on_throttled(t0 + Duration::from_millis(10));
        assert_eq!(l.effective_rate(), Some(700_000.0));
        let t1 = t0 + Duration::from_secs(30);
        l.take(1, t1);
        assert_eq!(
            l.effective_rate(),
            None,
            "recovered to the measured peak: unlimited"
        );
    }
}
