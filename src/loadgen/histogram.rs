//! A small log-linear latency histogram in the manner of HdrHistogram.
//!
//! Values are nanoseconds. Below 256 ns every value has its own bucket; above, each power of
//! two is cut into 128 equal buckets, so a recorded value is known to within 1/128 (0.8 %),
//! a little better than two significant digits, from nanoseconds to the full `u64` range
//! (centuries). Recording is a leading-zero count, a shift and an add: O(1), no allocation,
//! no branch on the value's size beyond the exact range. Two histograms merge by adding their
//! buckets, so each bind keeps its own and the run adds them up at the end.
//!
//! Percentiles report the highest value a bucket can hold (capped at the largest value seen),
//! so they err high by at most one bucket width and never flatter the figures.

use serde::Serialize;

/// Linear buckets per power of two, as a bit count: 2^7 = 128.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this are their own bucket.
const EXACT: u64 = 2 * SUB;
/// Buckets: 256 exact ones, then 128 for each of the 56 powers of two from 2^8 to 2^63.
const BUCKETS: usize = EXACT as usize + (64 - SUB_BITS as usize - 1) * SUB as usize;

/// Latency histogram over nanosecond values.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Records one value in nanoseconds.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.record_n(ns, 1);
    }

    /// Records `n` occurrences of a value in nanoseconds.
    #[inline]
    pub fn record_n(&mut self, ns: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.counts[index(ns)] += n;
        self.total += n;
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
        self.sum += u128::from(ns) * u128::from(n);
    }

    /// Adds every value recorded in `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Smallest value recorded (exact), or 0 when empty.
    pub fn min(&self) -> u64 {
        if self.total == 0 { 0 } else { self.min }
    }

    /// Largest value recorded (exact), or 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Arithmetic mean (exact), or 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at or below which `p` percent of the recorded values lie (`p` in 0..=100),
    /// as the highest value of its bucket, capped at the maximum seen. 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let p = p.clamp(0.0, 100.0);
        // The rank of the value asked for, 1-based: at least the first value.
        let rank = ((p / 100.0 * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return highest_in(i).min(self.max).max(self.min);
            }
        }
        self.max
    }

    /// The usual summary, in microseconds.
    pub fn summary(&self) -> LatencySummary {
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            count: self.total,
            min_us: us(self.min()),
            mean_us: self.mean() / 1000.0,
            p50_us: us(self.percentile(50.0)),
            p90_us: us(self.percentile(90.0)),
            p99_us: us(self.percentile(99.0)),
            p999_us: us(self.percentile(99.9)),
            max_us: us(self.max()),
        }
    }
}

/// A latency distribution as reported: microseconds, percentiles from [`Histogram`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// Bucket of a value.
#[inline]
fn index(v: u64) -> usize {
    if v < EXACT {
        return v as usize;
    }
    // v >= 256, so its top bit is at position e >= 8; keep the 8 bits from the top.
    let e = 63 - v.leading_zeros();
    let shift = e - SUB_BITS;
    let top = v >> shift; // in SUB..2*SUB
    (EXACT + u64::from(shift - 1) * SUB + (top - SUB)) as usize
}

/// Highest value that falls into bucket `i`.
fn highest_in(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i;
    }
    let shift = (i - EXACT) / SUB + 1;
    let top = (i - EXACT) % SUB + SUB;
    // The bucket holds [top << shift, (top + 1) << shift); the last bucket ends at u64::MAX.
    ((top + 1) << shift).wrapping_sub(1).max(top << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_range_in_order() {
        assert_eq!(index(0), 0);
        assert_eq!(index(255), 255);
        assert_eq!(index(256), 256);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        let mut last = 0;
        let mut v = 1u64;
        while v < u64::MAX / 3 {
            let i = index(v);
            assert!(i >= last, "{v}");
            assert!(highest_in(i) >= v, "{v} above its bucket");
            if i > 0 {
                assert!(highest_in(i - 1) < v, "{v} fits the bucket below");
            }
            last = i;
            v = v * 3 / 2 + 1;
        }
    }

    #[test]
    fn precision_is_better_than_one_percent() {
        for v in [
            300u64,
            1_234,
            99_999,
            1_000_000,
            123_456_789,
            3_600_000_000_000,
        ] {
            let hi = highest_in(index(v));
            assert!(hi >= v);
            assert!((hi - v) as f64 / v as f64 <= 1.0 / 128.0, "{v} -> {hi}");
        }
    }

    #[test]
    fn empty_reports_zeros() {
        let h = Histogram::new();
        assert_eq!(h.percentile(50.0), 0);
        assert_eq!(h.min(), 0);
        assert_eq!(h.summary().count, 0);
    }

    #[test]
    fn single_value_is_exact_at_every_percentile() {
        let mut h = Histogram::new();
        h.record(1_234_567);
        for p in [0.0, 50.0, 99.9, 100.0] {
            assert_eq!(h.percentile(p), 1_234_567);
        }
    }
}
