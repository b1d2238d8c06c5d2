//! `gannet loadgen`: bounded load clients that count what reaches the SMSC.
//!
//! [`run_http`] does the same for the gateway's HTTP API (`gannet loadgen http`, module
//! [`http`]): accepted messages, refusals by reason, latency, and what reached the carriers
//! and the callback receiver.
//!
//! [`run_smpp`] binds to an SMSC (our simulator, the gateway's SMPP side, or any SMSC on
//! this machine), sends submit_sm as fast as the window allows or at a fixed rate, and reports
//! responses by status, latency percentiles, receipts matched back by message id, and what the
//! client itself cost. It is built to be faster than what it measures (a million PDUs a
//! second on one core), so that a slow figure is the SMSC's, not the tool's. It refuses to run
//! unbounded and, unless told otherwise, refuses any target that is not loopback.
//!
//! What it is not: a gateway client. It does no retries, no throttling back on
//! ESME_RTHROTTLED, no reconnects; those are counted, not handled.
//!
//! # Layout
//! - [`args`]: the options and their validation into a [`args::Plan`].
//! - [`template`]: submit_sm encoded once and patched per send.
//! - [`window`]: the per-bind slot array of unacknowledged sequence numbers.
//! - [`receipts`]: message id keys and the shared receipt book.
//! - [`histogram`]: the log-linear latency histogram.
//! - [`smpp`]: binds, the per-connection fast path, the run.
//! - [`report`]: [`LoadReport`], its table and JSON, and the process's CPU and memory.
//! - [`http`]: `loadgen http`, with its own options, client and report.

pub mod args;
pub mod histogram;
pub mod http;
pub mod receipts;
pub mod report;
pub mod smpp;
pub mod template;
pub mod window;

pub use args::{BindMode, SmppLoadArgs};
pub use histogram::{Histogram, LatencySummary};
pub use http::{HttpLoadArgs, HttpLoadReport, run_http};
pub use report::LoadReport;
pub use smpp::{run_plan, run_smpp};
