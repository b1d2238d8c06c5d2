//! What a load run reports: a human table ([`std::fmt::Display`]) and JSON (`Serialize`).
//!
//! Throughput is counted where it matters: responses received from the SMSC, not PDUs written
//! (a write only fills a socket buffer). Latency percentiles come from [`super::histogram`].
//! The client's own cost is read from /proc: CPU time from `/proc/self/stat` (utime + stime,
//! in clock ticks of 1/100 s, the fixed USER_HZ of Linux's /proc interface) and peak resident
//! memory from `VmHWM` in `/proc/self/status`. Both cover the whole process: when an SMSC runs
//! in the same process (tests, in-process benches) its cost is included.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::histogram::LatencySummary;

/// The result of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// Where the load went.
    pub target: String,
    pub bind: &'static str,
    pub binds: u32,
    pub window: u32,
    /// submit_sm/s asked for; 0 = closed loop (as fast as the window allows).
    pub rate: u64,
    /// submit_sm PDUs per message (concatenated parts).
    pub parts_per_message: usize,
    /// submit_sm PDUs written.
    pub submitted: u64,
    /// submit_sm_resp (or generic_nack) received for them, whatever the status.
    pub acknowledged: u64,
    /// Responses by command_status name (`ESME_ROK`, `ESME_RTHROTTLED`, or hex when unnamed).
    pub statuses: BTreeMap<String, u64>,
    /// No response within --response-timeout: their window slots were freed.
    pub timed_out: u64,
    /// Still unanswered when the run ended (connection lost or drain cut short).
    pub unanswered: u64,
    /// Responses for sequence numbers not in flight: late, after their timeout, or never sent.
    pub stray_responses: u64,
    /// Most submit_sm unacknowledged at once on any one bind.
    pub max_in_flight: u32,
    /// From the start of sending to the last response, seconds.
    pub elapsed_s: f64,
    /// Responses per second over `elapsed_s`.
    pub acknowledged_per_s: f64,
    /// ESME_ROK responses per second over `elapsed_s`.
    pub accepted_per_s: f64,
    /// submit_sm to submit_sm_resp. With --rate, from the scheduled send time.
    pub resp_latency: LatencySummary,
    /// Present when receipts were asked for.
    pub receipts: Option<ReceiptReport>,
    pub client: ClientUsage,
    /// One line per second of the run.
    pub timeline: Vec<Second>,
    /// Bind or connection failures during the run.
    pub errors: Vec<String>,
}

/// Delivery receipts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReceiptReport {
    /// deliver_sm receipts received, final or not.
    pub received: u64,
    /// Receipts by stat (message_state names).
    pub by_stat: BTreeMap<&'static str, u64>,
    /// Final receipts matched to a message of this run.
    pub matched: u64,
    /// Matched receipts per second, from the start to the last receipt.
    pub matched_per_s: f64,
    /// Submit to final receipt.
    pub latency: LatencySummary,
    /// Accepted messages still without a final receipt at the end.
    pub outstanding: u64,
    /// Final receipts for ids no submit_sm_resp gave (duplicates, strangers).
    pub unmatched: u64,
    /// deliver_sm that were not receipts (mobile-originated messages).
    pub mo: u64,
}

/// One second of the run: counts in that second, backlog at its end.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Second {
    /// End of the interval, seconds since the start (the last one may be a partial second).
    pub t: f64,
    pub submitted: u64,
    pub acknowledged: u64,
    pub receipts: u64,
    /// Messages accepted and still without a final receipt.
    pub receipts_outstanding: u64,
}

/// What the run cost the client process.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ClientUsage {
    /// User + system CPU of the process during the run, seconds.
    pub cpu_s: f64,
    /// CPU microseconds per acknowledged submit_sm.
    pub cpu_us_per_msg: f64,
    /// Peak resident set size of the process, KiB (VmHWM).
    pub peak_rss_kib: u64,
}

impl fmt::Display for ClientUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.2}s CPU, {:.2}µs CPU/message, peak RSS {} MiB",
            self.cpu_s,
            self.cpu_us_per_msg,
            self.peak_rss_kib / 1024
        )
    }
}

/// Process CPU time (user + system) in seconds, from /proc/self/stat; `None` off Linux.
pub fn process_cpu_s() -> Option<f64> {
    cpu_s_of("self")
}

/// CPU time (user + system) in seconds of the process `/proc/<pid>`, `pid` being a number or
/// `self`; `None` when it cannot be read (gone, or not Linux).
pub fn cpu_s_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces: state is
    // field 3, utime field 14, stime field 15 (proc(5)).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ: /proc reports in 1/100 s on every Linux architecture we run on.
    Some((utime + stime) as f64 / 100.0)
}

/// Peak resident set size in KiB (VmHWM), from /proc/self/status; `None` off Linux.
pub fn peak_rss_kib() -> Option<u64> {
    status_kib_of("self", "VmHWM:")
}

/// A KiB figure of `/proc/<pid>/status` (`VmHWM:` peak resident, `VmRSS:` resident now).
pub fn status_kib_of(pid: &str, key: &str) -> Option<u64> {
    status_kib(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        key,
    )
}

/// A KiB figure from the text of a `/proc/<pid>/status`.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

impl LoadReport {
    /// Responses with ESME_ROK.
    pub fn accepted(&self) -> u64 {
        self.statuses.get("ESME_ROK").copied().unwrap_or(0)
    }
}

/// A count or rate with thousands grouped: `1,234,567`.
pub(crate) fn rate(v: f64) -> String {
    // Group thousands so a million reads as one.
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One row of the latency table: p50, p90, p99, p99.9, max, mean.
pub(crate) fn latency_row(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    l: &LatencySummary,
) -> fmt::Result {
    writeln!(
        f,
        "  {name:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        us(l.p50_us),
        us(l.p90_us),
        us(l.p99_us),
        us(l.p999_us),
        us(l.max_us),
        us(l.mean_us)
    )
}

/// Microseconds shown in the unit that keeps them short.
pub(crate) fn us(v: f64) -> String {
    if v < 1000.0 {
        format!("{v:.0}µs")
    } else if v < 1_000_000.0 {
        format!("{:.2}ms", v / 1000.0)
    } else {
        format!("{:.2}s", v / 1_000_000.0)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.rate == 0 {
            "closed loop".to_owned()
        } else {
            format!("open loop at {}/s", rate(self.rate as f64))
        };
        writeln!(
            f,
            "target {}  bind {} x{}  window {}  {}  {} part(s)/message",
            self.target, self.bind, self.binds, self.window, mode, self.parts_per_message
        )?;
        writeln!(f, "  submitted      {:>12}", self.submitted)?;
        writeln!(f, "  acknowledged   {:>12}", self.acknowledged)?;
        for (status, n) in &self.statuses {
            writeln!(f, "    {status:<24} {n:>12}")?;
        }
        if self.timed_out > 0 {
            writeln!(f, "  timed out      {:>12}", self.timed_out)?;
        }
        if self.unanswered > 0 {
            writeln!(f, "  unanswered     {:>12}", self.unanswered)?;
        }
        if self.stray_responses > 0 {
            writeln!(f, "  stray responses {:>11}", self.stray_responses)?;
        }
        writeln!(f, "  max in flight  {:>12}", self.max_in_flight)?;
        writeln!(f, "  elapsed        {:>11.3}s", self.elapsed_s)?;
        writeln!(
            f,
            "  throughput     {:>12} acknowledged/s, {} accepted/s",
            rate(self.acknowledged_per_s),
            rate(self.accepted_per_s)
        )?;
        writeln!(
            f,
            "  latency        {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "p50", "p90", "p99", "p99.9", "max", "mean"
        )?;
        latency_row(f, "submit→resp", &self.resp_latency)?;
        if let Some(r) = &self.receipts {
            latency_row(f, "submit→receipt", &r.latency)?;
            writeln!(
                f,
                "  receipts       {:>12} received, {} matched ({}/s), {} outstanding, {} unmatched",
                r.received,
                r.matched,
                rate(r.matched_per_s),
                r.outstanding,
                r.unmatched
            )?;
            for (stat, n) in &r.by_stat {
                writeln!(f, "    {stat:<24} {n:>12}")?;
            }
            if r.mo > 0 {
                writeln!(f, "  mobile-originated {:>9}", r.mo)?;
            }
        }
        writeln!(f, "  client         {}", self.client)?;
        if !self.timeline.is_empty() {
            writeln!(
                f,
                "  {:>6} {:>12} {:>12} {:>12} {:>12}",
                "t", "submitted", "acked", "receipts", "outstanding"
            )?;
            for s in &self.timeline {
                writeln!(
                    f,
                    "  {:>5.1}s {:>12} {:>12} {:>12} {:>12}",
                    s.t, s.submitted, s.acknowledged, s.receipts, s.receipts_outstanding
                )?;
            }
        }
        for e in &self.errors {
            writeln!(f, "  error: {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_figures_are_read() {
        assert!(process_cpu_s().is_some());
        assert!(peak_rss_kib().is_some_and(|k| k > 0));
    }

    #[test]
    fn rates_are_grouped() {
        assert_eq!(rate(1_234_567.4), "1,234,567");
        assert_eq!(rate(999.0), "999");
        assert_eq!(rate(1000.0), "1,000");
    }
}
