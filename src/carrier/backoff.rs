//! Exponential backoff with jitter, and the small random source it needs.
//!
//! N binds of one carrier that lose their link together (an SMSC restart) must not come back
//! together: a reconnect storm trips ESME_RALYBND and per-account connection limits. Each bind
//! owns a [`Backoff`] with its own seed, so their delays spread out.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Reconnect backoff settings (validated by the config: `initial` > 0, `max` ≥ `initial`,
/// `jitter` in 0..=1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackoffConfig {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Cap on the delay.
    pub max: Duration,
    /// Fraction of the delay that is random: the delay is drawn uniformly from
    /// `[base × (1 − jitter), base]`, with `base = min(max, initial × 2^attempt)`.
    pub jitter: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.5,
        }
    }
}

/// Exponential backoff state for one bind (or one retried message).
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: Rng,
}

impl Backoff {
    pub fn new(config: BackoffConfig, rng: Rng) -> Backoff {
        Backoff {
            config,
            attempt: 0,
            rng,
        }
    }

    /// The delay before the next attempt; each call doubles the base up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let d = delay_for(&self.config, self.attempt, self.rng.unit());
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// Failed attempts since the last [`Backoff::reset`].
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to `initial`: the link has proved healthy.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The delay for retry number `attempt` (0-based) with the uniform draw `u` in `[0, 1)`.
pub fn delay_for(config: &BackoffConfig, attempt: u32, u: f64) -> Duration {
    let base = base_delay(config, attempt);
    let jitter = config.jitter.clamp(0.0, 1.0);
    base.mul_f64(1.0 - jitter * u.clamp(0.0, 1.0))
}

/// `min(max, initial × 2^attempt)` without overflow.
pub fn base_delay(config: &BackoffConfig, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    config
        .initial
        .checked_mul(factor)
        .map_or(config.max, |d| d.min(config.max))
}

/// A small, fast, non-cryptographic random source (SplitMix64) for jitter. Seeded from the
/// process's hash randomness, or from a fixed seed in tests.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A fixed seed: reproducible sequences for tests.
    pub const fn seeded(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A seed that differs per call and per process (std's `RandomState` keys).
    pub fn from_entropy() -> Rng {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x9E37_79B9_7F4A_7C15);
        Rng(h.finish())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        // 53 random bits into the mantissa.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(jitter: f64) -> BackoffConfig {
        BackoffConfig {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter,
        }
    }

    #[test]
    fn base_doubles_up_to_the_cap() {
        let c = cfg(0.0);
        let bases: Vec<_> = (0..10).map(|a| base_delay(&c, a).as_millis()).collect();
        assert_eq!(
            bases,
            vec![
                500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000
            ]
        );
        assert_eq!(base_delay(&c, u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let c = cfg(0.5);
        let mut b = Backoff::new(c, Rng::seeded(7));
        for attempt in 0..64 {
            let d = b.next_delay();
            let base = base_delay(&c, attempt);
            assert!(d <= base, "attempt {attempt}: {d:?} > {base:?}");
            assert!(d >= base / 2, "attempt {attempt}: {d:?} < half of {base:?}");
        }
        assert_eq!(b.attempts(), 64);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(500));
    }

    #[test]
    fn jitter_spreads_binds_apart() {
        // Ten binds failing together draw ten different first delays.
        let c = cfg(0.5);
        let mut delays: Vec<_> = (0..10)
            .map(|i| Backoff::new(c, Rng::seeded(i)).next_delay())
            .collect();
        delays.sort();
        delays.dedup();
        assert_eq!(delays.len(), 10);
        let spread = delays[9] - delays[0];
        assert!(spread >= Duration::from_millis(100), "{delays:?}");
    }

    #[test]
    fn extremes_of_the_draw() {
        let c = cfg(1.0);
        assert_eq!(delay_for(&c, 0, 0.0), Duration::from_millis(500));
        assert_eq!(delay_for(&c, 0, 1.0), Duration::ZERO);
        let c = cfg(0.0);
        assert_eq!(delay_for(&c, 3, 0.99), Duration::from_secs(4));
    }

    #[test]
    fn unit_is_in_range_and_varies() {
        let mut r = Rng::seeded(1);
        let draws: Vec<f64> = (0..10_000).map(|_| r.unit()).collect();
        assert!(draws.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert_ne!(
            Rng::from_entropy().next_u64(),
            Rng::from_entropy().next_u64()
        );
    }
}
