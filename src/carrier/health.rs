//! Live figures per carrier, cheap to read: what the router's health snapshot and the status
//! view need, kept in atomics that the bind tasks update as they go.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::carrier::status::StatusClass;

/// A carrier's health at one instant. See [`crate::carrier::CarrierPool::health`].
#[derive(Clone, Debug, PartialEq)]
pub struct CarrierHealth {
    pub carrier: Arc<str>,
    /// Sessions bound now.
    pub bound_binds: u16,
    /// Sessions configured.
    pub total_binds: u16,
    /// Bound sessions that can submit (transmitter or transceiver).
    pub bound_transmitters: u16,
    /// Unacknowledged submits across all binds.
    pub window_in_use: u32,
    /// `window × binds that can submit`.
    pub window_capacity: u32,
    /// Segments waiting for a bind (retries included).
    pub queued: usize,
    pub contract_tps: Option<u32>,
    /// The rate the carrier is held to now: below the contract after throttling; `None` when
    /// unlimited.
    pub effective_tps: Option<f64>,
    /// Slowed down or paused because of throttled / queue-full answers.
    pub throttled: bool,
    /// End of the current queue-full pause.
    pub throttled_until: Option<Instant>,
    /// Smoothed submit_sm → submit_sm_resp latency (EWMA), once any response has come.
    pub recent_resp_latency: Option<Duration>,
    /// Smoothed fraction of submits that were not accepted (failed, throttled, expired), 0..=1.
    pub recent_error_rate: f64,
    pub counters: CarrierCounters,
}

/// Totals since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CarrierCounters {
    /// submit_sm written to the carrier (resends included).
    pub submitted: u64,
    pub accepted: u64,
    /// Answers by class (index: [`StatusClass::ALL`] order), accepted ones included.
    pub answers: [u64; 6],
    /// Submits with no response (timeout or link lost after sending).
    pub ambiguous: u64,
    /// Ambiguous submits sent again: possible duplicates.
    pub possible_duplicates: u64,
    /// Sessions lost or refused and retried.
    pub reconnects: u64,
}

/// Bind states as seen by health (a compact copy of [`crate::carrier::BindState`]).
pub(crate) const STATE_DOWN: u8 = 0;
pub(crate) const STATE_BOUND_TX: u8 = 1;
pub(crate) const STATE_BOUND_RX: u8 = 2;

/// The atomics behind [`CarrierHealth`].
#[derive(Debug)]
pub(crate) struct CarrierStats {
    pub(crate) binds: Vec<BindStats>,
    pub(crate) submitted: AtomicU64,
    pub(crate) answers: [AtomicU64; 6],
    pub(crate) ambiguous: AtomicU64,
    pub(crate) possible_duplicates: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    /// EWMA of the response latency in nanoseconds (0: none yet).
    latency_ns: AtomicU64,
    /// EWMA of the error fraction, as f64 bits.
    error_rate: AtomicU64,
}

#[derive(Debug, Default)]
pub(crate) struct BindStats {
    pub(crate) state: AtomicU8,
    pub(crate) window_in_use: AtomicU32,
}

/// Weight of a new sample in the EWMAs: about the last 100 responses.
const EWMA_ALPHA: f64 = 0.01;

impl CarrierStats {
    pub(crate) fn new(binds: u16) -> CarrierStats {
        CarrierStats {
            binds: (0..binds).map(|_| BindStats::default()).collect(),
            submitted: AtomicU64::new(0),
            answers: Default::default(),
            ambiguous: AtomicU64::new(0),
            possible_duplicates: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            latency_ns: AtomicU64::new(0),
            error_rate: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub(crate) fn set_state(&self, bind: u16, state: u8) {
        if let Some(b) = self.binds.get(usize::from(bind)) {
            b.state.store(state, Relaxed);
        }
    }

    pub(crate) fn set_window(&self, bind: u16, in_use: u32) {
        if let Some(b) = self.binds.get(usize::from(bind)) {
            b.window_in_use.store(in_use, Relaxed);
        }
    }

    /// Records `n` answers of one class (and, for `samples`, their latencies) from one bind.
    /// Load-then-store EWMAs: binds racing may drop a sample, which a smoothed figure does not
    /// notice, and no lock is taken on the hot path.
    pub(crate) fn record_answers(&self, class: StatusClass, n: u64) {
        if n == 0 {
            return;
        }
        let idx = StatusClass::ALL
            .iter()
            .position(|&c| c == class)
            .unwrap_or(0);
        self.answers[idx].fetch_add(n, Relaxed);
        let bad = if class == StatusClass::Ok { 0.0 } else { 1.0 };
        self.mix_error(bad, n);
    }

    pub(crate) fn record_ambiguous(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.ambiguous.fetch_add(n, Relaxed);
        self.mix_error(1.0, n);
    }

    fn mix_error(&self, sample: f64, n: u64) {
        let old = f64::from_bits(self.error_rate.load(Relaxed));
        // n identical samples at once: (1 − α)^n of the old value remains.
        let keep = (1.0 - EWMA_ALPHA).powi(n.min(10_000) as i32);
        let new = old * keep + sample * (1.0 - keep);
        self.error_rate.store(new.to_bits(), Relaxed);
    }

    pub(crate) fn record_latency(&self, rtt: Duration) {
        let sample = rtt.as_nanos().min(u128::from(u64::MAX / 2)) as u64;
        let old = self.latency_ns.load(Relaxed);
        let new = if old == 0 {
            sample.max(1)
        } else {
            ((old as f64) * (1.0 - EWMA_ALPHA) + (sample as f64) * EWMA_ALPHA) as u64
        };
        self.latency_ns.store(new.max(1), Relaxed);
    }

    pub(crate) fn counters(&self) -> CarrierCounters {
        let answers: [u64; 6] = std::array::from_fn(|i| self.answers[i].load(Relaxed));
        CarrierCounters {
            submitted: self.submitted.load(Relaxed),
            accepted: answers[0],
            answers,
            ambiguous: self.ambiguous.load(Relaxed),
            possible_duplicates: self.possible_duplicates.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
        }
    }

    pub(crate) fn latency(&self) -> Option<Duration> {
        match self.latency_ns.load(Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    pub(crate) fn error_rate(&self) -> f64 {
        f64::from_bits(self.error_rate.load(Relaxed))
    }

    /// (bound, bound transmitters, window in use)
    pub(crate) fn binds_summary(&self) -> (u16, u16, u32) {
        let mut bound = 0;
        let mut tx = 0;
        let mut window = 0;
        for b in &self.binds {
            match b.state.load(Relaxed) {
                STATE_BOUND_TX => {
                    bound += 1;
                    tx += 1;
                }
                STATE_BOUND_RX => bound += 1,
                _ => {}
            }
            window += b.window_in_use.load(Relaxed);
        }
        (bound, tx, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewmas_and_counters() {
        let s = CarrierStats::new(2);
        assert_eq!(s.latency(), None);
        s.record_latency(Duration::from_millis(50));
        assert_eq!(s.latency(), Some(Duration::from_millis(50)));
        for _ in 0..1000 {
            s.record_latency(Duration::from_millis(10));
        }
        let l = s.latency().unwrap();
        assert!(l < Duration::from_millis(11), "{l:?}");

        s.record_answers(StatusClass::Ok, 1000);
        assert!(s.error_rate() < 1e-9);
        s.record_answers(StatusClass::Throttled, 100);
        let r = s.error_rate();
        assert!((0.6..0.7).contains(&r), "{r}");
        s.record_ambiguous(3);
        let c = s.counters();
        assert_eq!(c.accepted, 1000);
        assert_eq!(c.answers[1], 100);
        assert_eq!(c.ambiguous, 3);

        s.set_state(0, STATE_BOUND_TX);
        s.set_state(1, STATE_BOUND_RX);
        s.set_state(7, STATE_BOUND_RX);
        s.set_window(0, 12);
        assert_eq!(s.binds_summary(), (2, 1, 12));
    }
}
