//! Faults: the ways a carrier misbehaves, switchable at run time.
//!
//! Each persona keeps its faults in atomics read once per read batch, so switching one costs
//! the hot path nothing. The periodic ones (unbind / reset every N) live in a watch channel
//! read by the persona's fault task.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use gannet_smpp::CommandStatus;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::config::{FaultsConfig, Status};

/// A fault to switch on (or off) at run time; the JSON body of `POST /personas/{name}/faults`
/// (`{"fault": "drop_responses", "ratio": 0.5}`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Never send this fraction of submit_sm_resp; the messages are still accepted.
    DropResponses { ratio: f64 },
    /// Send each message's receipt before its submit_sm_resp.
    ReceiptBeforeResponse { enabled: bool },
    /// Send this fraction of final receipts twice.
    DuplicateReceipts { ratio: f64 },
    /// Unbind every bind now (SMPP 3.4 §4.2: the SMSC may unbind too).
    Unbind,
    /// Reset every bind's TCP connection now.
    Reset,
    /// Unbind every bind at this interval (`null` stops it).
    UnbindEvery {
        #[serde(default, with = "crate::config::duration::option")]
        every: Option<Duration>,
    },
    /// Reset every bind at this interval (`null` stops it).
    ResetEvery {
        #[serde(default, with = "crate::config::duration::option")]
        every: Option<Duration>,
    },
    /// Stop (or resume) answering enquire_link.
    IgnoreEnquireLink { enabled: bool },
    /// Refuse binds for a while, with this status (default ESME_RBINDFAIL).
    RefuseBinds {
        #[serde(rename = "for", with = "crate::config::duration")]
        duration: Duration,
        #[serde(default)]
        status: Option<Status>,
    },
    /// Add this much to every submit_sm_resp latency (`0s` to stop).
    SlowDown {
        #[serde(with = "crate::config::duration")]
        extra: Duration,
    },
    /// Answer every submit_sm with this status (`null` to stop).
    RejectSubmits {
        #[serde(default)]
        status: Option<Status>,
    },
    /// Every fault back to what the config says.
    Clear,
}

/// The faults active now, as `GET /personas` shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActiveFaults {
    pub drop_responses: f64,
    pub receipt_before_response: bool,
    pub duplicate_receipts: f64,
    pub unbind_every_ms: Option<u64>,
    pub reset_every_ms: Option<u64>,
    pub ignore_enquire_link: bool,
    /// Binds are refused until this many ms since start.
    pub refuse_binds_until_ms: Option<u64>,
    pub refuse_binds_status: String,
    pub extra_latency_ms: u64,
    pub reject_submits: Option<String>,
}

/// Intervals of the periodic faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Periodic {
    pub unbind_every: Option<Duration>,
    pub reset_every: Option<Duration>,
}

/// A persona's faults, shared by its connections.
pub struct FaultState {
    drop_responses: AtomicU64,
    receipt_first: AtomicBool,
    duplicate_receipts: AtomicU64,
    ignore_enquire_link: AtomicBool,
    refuse_until_ms: AtomicU64,
    refuse_status: AtomicU32,
    extra_latency_us: AtomicU64,
    /// 0: accept submits.
    reject_status: AtomicU32,
    pub periodic: watch::Sender<Periodic>,
}

/// What a connection reads once per batch.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    pub drop_responses: f64,
    pub receipt_first: bool,
    pub duplicate_receipts: f64,
    pub ignore_enquire_link: bool,
    pub extra_latency: Duration,
    pub reject: Option<CommandStatus>,
}

impl FaultState {
    pub fn new(config: &FaultsConfig) -> FaultState {
        let state = FaultState {
            drop_responses: AtomicU64::new(0),
            receipt_first: AtomicBool::new(false),
            duplicate_receipts: AtomicU64::new(0),
            ignore_enquire_link: AtomicBool::new(false),
            refuse_until_ms: AtomicU64::new(0),
            refuse_status: AtomicU32::new(CommandStatus::ESME_RBINDFAIL.0),
            extra_latency_us: AtomicU64::new(0),
            reject_status: AtomicU32::new(0),
            periodic: watch::Sender::new(Periodic::default()),
        };
        state.configure(config, 0);
        state
    }

    /// Sets every fault to what `config` says; `now_ms` anchors `refuse_binds_for`.
    pub fn configure(&self, config: &FaultsConfig, now_ms: u64) {
        self.drop_responses
            .store(config.drop_responses.to_bits(), Relaxed);
        self.receipt_first
            .store(config.receipt_before_response, Relaxed);
        self.duplicate_receipts
            .store(config.duplicate_receipts.to_bits(), Relaxed);
        self.ignore_enquire_link
            .store(config.ignore_enquire_link, Relaxed);
        let until = config
            .refuse_binds_for
            .map_or(0, |d| now_ms + d.as_millis() as u64);
        self.refuse_until_ms.store(until, Relaxed);
        self.refuse_status.store(
            config
                .refuse_binds_status
                .map_or(CommandStatus::ESME_RBINDFAIL, |s| s.0)
                .0,
            Relaxed,
        );
        self.extra_latency_us.store(
            config.extra_latency.map_or(0, |d| d.as_micros() as u64),
            Relaxed,
        );
        self.reject_status
            .store(config.reject_submits.map_or(0, |s| s.0.0), Relaxed);
        self.periodic.send_replace(Periodic {
            unbind_every: config.unbind_every,
            reset_every: config.reset_every,
        });
    }

    /// Applies a run-time fault; `Unbind`, `Reset` and `Clear` are the caller's to act on.
    pub fn apply(&self, fault: &Fault, now_ms: u64) -> Result<(), String> {
        let ratio = |r: f64| {
            if (0.0..=1.0).contains(&r) {
                Ok(r.to_bits())
            } else {
                Err(format!("ratio {r} is not between 0 and 1"))
            }
        };
        match fault {
            Fault::DropResponses { ratio: r } => self.drop_responses.store(ratio(*r)?, Relaxed),
            Fault::ReceiptBeforeResponse { enabled } => self.receipt_first.store(*enabled, Relaxed),
            Fault::DuplicateReceipts { ratio: r } => {
                self.duplicate_receipts.store(ratio(*r)?, Relaxed)
            }
            Fault::UnbindEvery { every } | Fault::ResetEvery { every }
                if every.is_some_and(|d| d < Duration::from_millis(1)) =>
            {
                return Err("the interval must be at least 1ms".into());
            }
            Fault::UnbindEvery { every } => {
                self.periodic.send_modify(|p| p.unbind_every = *every);
            }
            Fault::ResetEvery { every } => {
                self.periodic.send_modify(|p| p.reset_every = *every);
            }
            Fault::IgnoreEnquireLink { enabled } => {
                self.ignore_enquire_link.store(*enabled, Relaxed)
            }
            Fault::RefuseBinds { duration, status } => {
                self.refuse_status.store(
                    status.map_or(CommandStatus::ESME_RBINDFAIL, |s| s.0).0,
                    Relaxed,
                );
                self.refuse_until_ms
                    .store(now_ms + duration.as_millis() as u64, Relaxed);
            }
            Fault::SlowDown { extra } => self
                .extra_latency_us
                .store(extra.as_micros() as u64, Relaxed),
            Fault::RejectSubmits { status } => {
                if status.is_some_and(|s| s.0.is_ok()) {
                    return Err("ESME_ROK is not a rejection; send null to stop".into());
                }
                self.reject_status
                    .store(status.map_or(0, |s| s.0.0), Relaxed)
            }
            Fault::Unbind | Fault::Reset | Fault::Clear => {}
        }
        Ok(())
    }

    pub fn snapshot(&self) -> Snapshot {
        let reject = self.reject_status.load(Relaxed);
        Snapshot {
            drop_responses: f64::from_bits(self.drop_responses.load(Relaxed)),
            receipt_first: self.receipt_first.load(Relaxed),
            duplicate_receipts: f64::from_bits(self.duplicate_receipts.load(Relaxed)),
            ignore_enquire_link: self.ignore_enquire_link.load(Relaxed),
            extra_latency: Duration::from_micros(self.extra_latency_us.load(Relaxed)),
            reject: (reject != 0).then_some(CommandStatus(reject)),
        }
    }

    /// The status to refuse a bind with, if binds are refused at `now_ms`.
    pub fn refusing_binds(&self, now_ms: u64) -> Option<CommandStatus> {
        (now_ms < self.refuse_until_ms.load(Relaxed))
            .then(|| CommandStatus(self.refuse_status.load(Relaxed)))
    }

    pub fn active(&self, now_ms: u64) -> ActiveFaults {
        let s = self.snapshot();
        let p = *self.periodic.borrow();
        let until = self.refuse_until_ms.load(Relaxed);
        ActiveFaults {
            drop_responses: s.drop_responses,
            receipt_before_response: s.receipt_first,
            duplicate_receipts: s.duplicate_receipts,
            unbind_every_ms: p.unbind_every.map(|d| d.as_millis() as u64),
            reset_every_ms: p.reset_every.map(|d| d.as_millis() as u64),
            ignore_enquire_link: s.ignore_enquire_link,
            refuse_binds_until_ms: (until > now_ms).then_some(until),
            refuse_binds_status: super::config::status_name(CommandStatus(
                self.refuse_status.load(Relaxed),
            )),
            extra_latency_ms: s.extra_latency.as_millis() as u64,
            reject_submits: s.reject.map(super::config::status_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_faults_parse() {
        let f: Fault = serde_json::from_str(r#"{"fault":"drop_responses","ratio":0.5}"#).unwrap();
        assert_eq!(f, Fault::DropResponses { ratio: 0.5 });
        let f: Fault = serde_json::from_str(
            r#"{"fault":"refuse_binds","for":"30s","status":"ESME_RINVPASWD"}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            Fault::RefuseBinds {
                duration: Duration::from_secs(30),
                status: Some(Status(CommandStatus::ESME_RINVPASWD))
            }
        );
        let f: Fault = serde_json::from_str(r#"{"fault":"unbind_every","every":null}"#).unwrap();
        assert_eq!(f, Fault::UnbindEvery { every: None });
        let f: Fault = serde_json::from_str(r#"{"fault":"reject_submits","status":8}"#).unwrap();
        assert_eq!(
            f,
            Fault::RejectSubmits {
                status: Some(Status(CommandStatus::ESME_RSYSERR))
            }
        );
        assert!(serde_json::from_str::<Fault>(r#"{"fault":"explode"}"#).is_err());
        assert!(
            serde_json::from_str::<Fault>(r#"{"fault":"slow_down","extra":"1s","x":1}"#).is_err()
        );
    }

    #[test]
    fn apply_and_snapshot() {
        let s = FaultState::new(&FaultsConfig::default());
        assert!(s.apply(&Fault::DropResponses { ratio: 2.0 }, 0).is_err());
        s.apply(
            &Fault::RejectSubmits {
                status: Some(Status(CommandStatus::ESME_RSYSERR)),
            },
            0,
        )
        .unwrap();
        assert_eq!(s.snapshot().reject, Some(CommandStatus::ESME_RSYSERR));
        s.apply(
            &Fault::RefuseBinds {
                duration: Duration::from_secs(1),
                status: None,
            },
            100,
        )
        .unwrap();
        assert_eq!(s.refusing_binds(500), Some(CommandStatus::ESME_RBINDFAIL));
        assert_eq!(s.refusing_binds(1100), None);
        s.configure(&FaultsConfig::default(), 0);
        assert_eq!(s.snapshot().reject, None);
    }
}
