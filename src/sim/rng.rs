//! A tiny deterministic PRNG: SplitMix64 (Steele, Lea, Flood 2014).
//!
//! The simulator needs reproducible draws, not cryptographic ones: the same seed and the same
//! inputs in the same order must give the same outcomes, delays and message ids. SplitMix64 is
//! a counter-based generator (each output is a mix of `seed + n·γ`), so a stream can be derived
//! for any message number without shared mutable state: the hot path takes a message number
//! from an atomic counter and draws from [`Rng::stream`] of that number, lock-free.

/// The golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a bijective 64-bit mix.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable hash for names and message keys (std's hasher is randomly keyed per process,
/// which would break reproducibility across runs). Eight octets per step, each part's length
/// folded in so (`ab`, `c`) and (`a`, `bc`) differ, finished with the SplitMix64 mix.
pub fn hash_bytes(seed: u64, parts: &[&[u8]]) -> u64 {
    const K: u64 = 0x9FB2_1C65_1E98_DF25;
    let mut h = seed ^ 0x243F_6A88_85A3_08D3;
    for part in parts {
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(31);
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w) ^ (part.len() as u64) << 56)
            .wrapping_mul(K)
            .rotate_left(31);
    }
    mix64(h)
}

/// A SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The stream for item `n` of a generator seeded with `seed`: independent enough for the
    /// handful of draws a message needs, and computable without touching shared state.
    pub fn stream(seed: u64, n: u64) -> Rng {
        Rng::new(mix64(seed ^ mix64(n.wrapping_mul(GAMMA))))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// Uniform in [0, 1), 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (clamped to [0, 1]).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift; the tiny bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A standard normal draw (Box-Muller; one of the pair is discarded to stay stateless).
    pub fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs of SplitMix64 seeded with 1234567 (reference implementation by Vigna).
        let mut r = Rng::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|n| Rng::stream(7, n).next_u64()).collect();
        let b: Vec<u64> = (0..4).map(|n| Rng::stream(7, n).next_u64()).collect();
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        assert_ne!(Rng::stream(8, 0).next_u64(), a[0]);
    }

    #[test]
    fn uniform_and_normal_are_sane() {
        let mut r = Rng::new(1);
        let n = 100_000;
        let mut sum = 0.0;
        let mut sq = 0.0;
        for _ in 0..n {
            let u = r.next_f64();
            assert!((0.0..1.0).contains(&u));
            let z = r.normal();
            sum += z;
            sq += z * z;
        }
        let mean = sum / f64::from(n);
        let var = sq / f64::from(n) - mean * mean;
        assert!(mean.abs() < 0.02, "{mean}");
        assert!((var - 1.0).abs() < 0.03, "{var}");
        assert!((0..1000).all(|_| r.below(10) < 10));
    }

    #[test]
    fn hash_separates_parts() {
        assert_ne!(hash_bytes(0, &[b"ab", b"c"]), hash_bytes(0, &[b"a", b"bc"]));
        assert_eq!(hash_bytes(3, &[b"x"]), hash_bytes(3, &[b"x"]));
    }
}
