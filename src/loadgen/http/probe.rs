//! The two outside views of a run: the carriers' counts, read from the simulator's control
//! API, and the gateway's cost, read from /proc.
//!
//! Accepted is not delivered. What the gateway answered over HTTP says only that a message was
//! stored; what reached a carrier is counted by the carrier. So the simulator's own counters
//! (`GET /personas`, `GET /personas/{name}/stats`) are read before, during and after the run,
//! summed over every persona, and the report's carrier figures are the differences.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::wire::HttpConn;
use crate::loadgen::report::{cpu_s_of, status_kib};

/// The simulator's counters summed over its personas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimTotals {
    /// submit_sm (and data_sm) PDUs received, whatever the answer.
    pub submits: u64,
    /// Messages accepted (a concatenated message once).
    pub messages: u64,
    /// Receipts sent, every stat.
    pub receipts: u64,
}

impl SimTotals {
    /// What happened between `before` and `self`.
    pub fn since(&self, before: &SimTotals) -> SimTotals {
        SimTotals {
            submits: self.submits.saturating_sub(before.submits),
            messages: self.messages.saturating_sub(before.messages),
            receipts: self.receipts.saturating_sub(before.receipts),
        }
    }
}

#[derive(Deserialize)]
struct PersonaName {
    name: String,
}

/// The fields of `PersonaStats` used here; the others are ignored.
#[derive(Deserialize)]
struct Stats {
    #[serde(default)]
    submits: u64,
    #[serde(default)]
    messages: u64,
    #[serde(default)]
    receipts_sent: std::collections::BTreeMap<String, u64>,
}

/// A keep-alive connection to the simulator's control API.
pub struct SimProbe {
    addr: SocketAddr,
    host: String,
    base_path: String,
    conn: Option<HttpConn>,
    personas: Vec<String>,
    request: Vec<u8>,
}

impl SimProbe {
    /// Connects and lists the personas.
    pub async fn connect(addr: SocketAddr, host: &str, base_path: &str) -> anyhow::Result<Self> {
        let mut probe = SimProbe {
            addr,
            host: host.to_owned(),
            base_path: base_path.to_owned(),
            conn: None,
            personas: Vec::new(),
            request: Vec::new(),
        };
        let list: Vec<PersonaName> = probe.get_json("/personas").await?;
        if list.is_empty() {
            bail!("the simulator at {addr} has no personas");
        }
        probe.personas = list.into_iter().map(|p| p.name).collect();
        Ok(probe)
    }

    pub fn personas(&self) -> &[String] {
        &self.personas
    }

    /// The counters now, summed over the personas.
    pub async fn totals(&mut self) -> anyhow::Result<SimTotals> {
        let mut t = SimTotals::default();
        for i in 0..self.personas.len() {
            let path = format!("/personas/{}/stats", path_segment(&self.personas[i]));
            let s: Stats = self.get_json(&path).await?;
            t.submits += s.submits;
            t.messages += s.messages;
            t.receipts += s.receipts_sent.values().sum::<u64>();
        }
        Ok(t)
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&mut self, path: &str) -> anyhow::Result<T> {
        self.request.clear();
        self.request.extend_from_slice(
            format!(
                "GET {}{path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
                self.base_path, self.host
            )
            .as_bytes(),
        );
        // One reconnect: the control API may have closed an idle keep-alive connection.
        for attempt in 0..2 {
            let conn = match &mut self.conn {
                Some(c) if !c.closing() => c,
                _ => self.conn.insert(
                    HttpConn::connect(self.addr)
                        .await
                        .with_context(|| format!("--sim-control: connect to {}", self.addr))?,
                ),
            };
            match conn.exchange(&self.request).await {
                Ok((200, body)) => {
                    return serde_json::from_slice(body).with_context(|| {
                        format!("--sim-control: GET {path}: not the expected JSON")
                    });
                }
                Ok((status, body)) => bail!(
                    "--sim-control: GET {path}: {status} {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
                Err(e) if attempt == 0 => {
                    tracing::debug!(error = %e, "sim control: reconnecting");
                    self.conn = None;
                }
                Err(e) => return Err(e).with_context(|| format!("--sim-control: GET {path}")),
            }
        }
        bail!("--sim-control: GET {path}: no answer")
    }
}

/// A persona name as one path segment: unreserved characters kept, the rest percent-encoded.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One reading of the gateway process.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcSample {
    /// utime + stime, seconds.
    pub cpu_s: f64,
    /// VmHWM, KiB.
    pub peak_rss_kib: u64,
    /// VmRSS, KiB.
    pub rss_kib: u64,
}

/// Reads /proc/`pid`/stat and /proc/`pid`/status.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let cpu_s = cpu_s_of(&pid.to_string())?;
    // One read for both figures, so the peak is never below the current.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    Some(ProcSample {
        cpu_s,
        peak_rss_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
        rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_sampled() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.cpu_s >= 0.0);
        assert!(s.peak_rss_kib >= s.rss_kib && s.rss_kib > 0, "{s:?}");
        assert!(sample(u32::MAX).is_none());
    }

    #[test]
    fn persona_names_in_paths() {
        assert_eq!(path_segment("mno-a_1.x~"), "mno-a_1.x~");
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn totals_subtract() {
        let a = SimTotals {
            submits: 10,
            messages: 8,
            receipts: 5,
        };
        let b = SimTotals {
            submits: 25,
            messages: 20,
            receipts: 9,
        };
        assert_eq!(
            b.since(&a),
            SimTotals {
                submits: 15,
                messages: 12,
                receipts: 4
            }
        );
    }
}
