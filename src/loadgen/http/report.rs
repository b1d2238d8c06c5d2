//! What `loadgen http` reports: a table ([`std::fmt::Display`]) and JSON (`Serialize`).
//!
//! Three sides, each counted where it happens: the API's answers (accepted, refused by
//! status and reason, latency), the carriers' counters read from the simulator (submit_sm,
//! receipts), and the callbacks that reached the receiver. The gateway's CPU and memory come
//! from its /proc entries; the client's own from /proc/self, as in `loadgen smpp`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use super::callbacks::CallbackReport;
use crate::loadgen::histogram::LatencySummary;
use crate::loadgen::report::{ClientUsage, latency_row, rate};

/// The result of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HttpLoadReport {
    pub url: String,
    /// `/v1/messages` or `/v1/messages/batch`.
    pub endpoint: &'static str,
    pub connections: u32,
    /// Requests per second asked for; 0 = closed loop.
    pub rate: u64,
    /// Messages per batch request, when batching.
    pub batch: Option<u32>,
    /// The destination mix as given.
    pub mix: String,
    pub landline_share: f64,
    /// The class mix as given.
    pub classes: String,
    /// Requests written.
    pub requests: u64,
    /// Requests answered, whatever the status.
    pub answered: u64,
    /// Messages in the requests written.
    pub messages: u64,
    /// Messages the API accepted (202, or counted in a batch answer's `accepted`).
    pub accepted: u64,
    /// Messages refused in an answer.
    pub rejected: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Refused messages by `<status> <code>/<reason>` (`item …` inside a batch answer).
    pub rejections: BTreeMap<String, u64>,
    /// Requests that got no answer: connection lost or timed out.
    pub failed: u64,
    /// Of those, no answer within --response-timeout.
    pub timed_out: u64,
    /// New connections opened after one was closed or lost.
    pub reconnects: u64,
    /// Present in open loop.
    pub open_loop: Option<OpenLoop>,
    /// From the start to the last answer, seconds.
    pub elapsed_s: f64,
    pub requests_per_s: f64,
    /// Accepted messages per second over `elapsed_s`.
    pub accepted_per_s: f64,
    /// Request to answer; in open loop from the scheduled send time.
    pub latency: LatencySummary,
    /// Latency counts requests due from this many seconds into the load (`--warmup`).
    pub latency_after_s: f64,
    pub carriers: Option<CarrierReport>,
    pub callbacks: Option<CallbackReport>,
    pub gateway: Option<GatewayReport>,
    pub drain: Option<DrainReport>,
    /// The load client's own process (the callback receiver included).
    pub client: ClientUsage,
    /// One line per second.
    pub timeline: Vec<HttpSecond>,
    /// Connection errors (the first few) and probe failures.
    pub errors: Vec<String>,
    /// Stopped early by Ctrl-C.
    pub interrupted: bool,
}

/// Open-loop scheduling: how far the client fell behind its schedule.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct OpenLoop {
    /// Requests sent more than 1 ms after their scheduled time (no connection was free).
    pub late: u64,
    /// Requests due before the run ended that were never sent.
    pub skipped: u64,
    /// Largest delay of a send behind its schedule, µs.
    pub max_lag_us: f64,
}

/// The carriers' view, from the simulator's counters, summed over its personas.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CarrierReport {
    pub personas: Vec<String>,
    /// submit_sm PDUs received during the run (and the drain).
    pub submit_sm: u64,
    /// Messages accepted by the carriers (a concatenated message once).
    pub messages: u64,
    /// Receipts sent.
    pub receipts: u64,
    /// Each over the time from the start to the last sample where it still rose.
    pub submit_sm_per_s: f64,
    pub messages_per_s: f64,
    pub receipts_per_s: f64,
    /// Accepted by the API and not yet at a carrier when the load stopped.
    pub backlog_at_end_of_load: i64,
    /// The same at the end of the report (after the drain, if any).
    pub backlog: i64,
}

/// The gateway process.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct GatewayReport {
    pub pid: u32,
    /// utime + stime during the run (and the drain), seconds.
    pub cpu_s: f64,
    /// CPU µs per accepted message.
    pub cpu_us_per_msg: f64,
    /// VmHWM at the end, KiB: the peak since the process started.
    pub peak_rss_kib: u64,
    /// VmRSS at the end, KiB.
    pub rss_kib: u64,
}

/// The wait after the load for the delivery side to catch up.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct DrainReport {
    /// How long it waited, seconds.
    pub waited_s: f64,
    /// Everything settled (no backlog, counters still for a second). False: --drain-wait ran
    /// out, or nothing moved for 3 s with messages still owed.
    pub settled: bool,
}

/// One second of the run.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct HttpSecond {
    /// End of the interval, seconds since the start.
    pub t: f64,
    pub requests: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Messages counted at the carriers.
    pub carrier_messages: u64,
    pub receipts: u64,
    pub callbacks: u64,
    /// Gateway CPU in the interval, in cores (1.0 = one core busy).
    pub gateway_cores: f64,
}

impl fmt::Display for HttpLoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.rate == 0 {
            "closed loop".to_owned()
        } else {
            format!("open loop at {} requests/s", rate(self.rate as f64))
        };
        let batch = self
            .batch
            .map_or_else(String::new, |k| format!(", {k} per request"));
        writeln!(
            f,
            "target {}{}  {} connections  {}{}",
            self.url, self.endpoint, self.connections, mode, batch
        )?;
        writeln!(
            f,
            "  mix {}  landlines {:.1}%  class {}",
            self.mix,
            self.landline_share * 100.0,
            self.classes
        )?;
        if self.interrupted {
            writeln!(f, "  interrupted: figures up to the interrupt")?;
        }
        writeln!(
            f,
            "  requests       {:>12} sent, {} answered",
            self.requests, self.answered
        )?;
        for (status, n) in &self.statuses {
            writeln!(f, "    HTTP {status:<19} {n:>12}")?;
        }
        writeln!(f, "  messages       {:>12} sent", self.messages)?;
        writeln!(f, "    accepted             {:>12}", self.accepted)?;
        writeln!(f, "    rejected             {:>12}", self.rejected)?;
        for (why, n) in &self.rejections {
            writeln!(f, "      {why:<30} {n:>8}")?;
        }
        if self.failed > 0 {
            writeln!(
                f,
                "  no answer      {:>12} ({} timed out)",
                self.failed, self.timed_out
            )?;
        }
        if self.reconnects > 0 {
            writeln!(f, "  reconnects     {:>12}", self.reconnects)?;
        }
        if let Some(o) = &self.open_loop {
            writeln!(
                f,
                "  schedule       {:>12} late, {} skipped, lag up to {}",
                o.late,
                o.skipped,
                crate::loadgen::report::us(o.max_lag_us)
            )?;
        }
        writeln!(f, "  elapsed        {:>11.3}s", self.elapsed_s)?;
        writeln!(
            f,
            "  throughput     {:>12} accepted/s, {} requests/s",
            rate(self.accepted_per_s),
            rate(self.requests_per_s)
        )?;
        writeln!(
            f,
            "  latency        {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "p50", "p90", "p99", "p99.9", "max", "mean"
        )?;
        if self.latency_after_s > 0.0 {
            writeln!(
                f,
                "  (latency of requests due after the first {}s)",
                self.latency_after_s
            )?;
        }
        latency_row(f, "request→answer", &self.latency)?;
        if let Some(cb) = &self.callbacks
            && let Some(lag) = &cb.lag
        {
            latency_row(f, "request→callback", lag)?;
        }
        if let Some(c) = &self.carriers {
            writeln!(
                f,
                "  carriers       {:>12} submit_sm ({}/s), {} messages ({}/s), {} receipts ({}/s)",
                c.submit_sm,
                rate(c.submit_sm_per_s),
                c.messages,
                rate(c.messages_per_s),
                c.receipts,
                rate(c.receipts_per_s)
            )?;
            writeln!(
                f,
                "  backlog        {:>12} at the end of the load, {} at the end ({})",
                c.backlog_at_end_of_load,
                c.backlog,
                c.personas.join(", ")
            )?;
        }
        if let Some(cb) = &self.callbacks {
            writeln!(
                f,
                "  callbacks      {:>12} received ({}/s), {} verified, {} bad signature, {} unsigned",
                cb.received,
                rate(cb.per_s),
                cb.verified,
                cb.bad_signature,
                cb.unsigned
            )?;
            for (status, n) in &cb.by_status {
                writeln!(f, "    {status:<24} {n:>12}")?;
            }
        }
        if let Some(d) = &self.drain {
            writeln!(
                f,
                "  drain          {:>11.3}s{}",
                d.waited_s,
                if d.settled { "" } else { " (not settled)" }
            )?;
        }
        if let Some(g) = &self.gateway {
            writeln!(
                f,
                "  gateway        pid {}: {:.2}s CPU, {:.2}µs CPU/message, peak RSS {} MiB (now {} MiB)",
                g.pid,
                g.cpu_s,
                g.cpu_us_per_msg,
                g.peak_rss_kib / 1024,
                g.rss_kib / 1024
            )?;
        }
        writeln!(f, "  client         {}", self.client)?;
        if !self.timeline.is_empty() {
            writeln!(
                f,
                "  {:>6} {:>10} {:>10} {:>9} {:>7} {:>10} {:>10} {:>10} {:>6}",
                "t",
                "requests",
                "accepted",
                "rejected",
                "failed",
                "carriers",
                "receipts",
                "callbacks",
                "gw CPU"
            )?;
            for s in &self.timeline {
                writeln!(
                    f,
                    "  {:>5.1}s {:>10} {:>10} {:>9} {:>7} {:>10} {:>10} {:>10} {:>6.2}",
                    s.t,
                    s.requests,
                    s.accepted,
                    s.rejected,
                    s.failed,
                    s.carrier_messages,
                    s.receipts,
                    s.callbacks,
                    s.gateway_cores
                )?;
            }
        }
        for e in &self.errors {
            writeln!(f, "  error: {e}")?;
        }
        Ok(())
    }
}
