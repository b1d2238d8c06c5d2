//! Carrier connections: a pool of SMPP binds per carrier that never loses a message.
//!
//! The pool owns, per carrier, a bounded queue of segments (one submit_sm each), the contract
//! rate limiter, and `binds` bind tasks. Each bind task owns its socket and drives the sans-IO
//! session of `gannet-smpp`; it pulls segments only into free window slots, writes them in
//! batches, and hands every segment back with a definite state when its connection dies. The
//! pool does not route: a permanent failure is reported, and the router picks the next route.
//!
//! # Layout
//! - [`config`]: the `carriers:` section of gateway.yaml, validated into [`CarrierSettings`].
//! - [`status`]: what a command_status means ([`StatusClass`]), as a per-carrier table.
//! - [`backoff`]: exponential reconnect backoff with jitter.
//! - [`limiter`]: the contract TPS in segments (GCRA) and the adaptive slow-down (AIMD).
//! - [`pool`]: [`CarrierPool`], jobs, events; the per-carrier queue.
//! - `bind`: the per-bind task (connect, bind, window, enquire_link, reconnect).
//! - [`health`]: live figures per carrier for the router and the status view.
//! - [`tls`]: SMPP over TLS: trusted roots and the name checked ([`TlsSettings`]).

pub mod backoff;
mod bind;
pub mod config;
pub mod health;
pub mod limiter;
pub mod pool;
pub mod status;
pub mod tls;

pub use config::{CarrierConfig, CarrierSettings, validate_carriers};

/// Histogram, by carrier: a request reaching the API to its message's first submit_sm written
/// to the carrier ([`SubmitJob::received`]).
pub const SUBMIT_DELAY_SECONDS: &str = "gannet_submit_delay_seconds";
pub use health::{CarrierCounters, CarrierHealth};
pub use pool::{
    BindState, CarrierPool, DownReason, PoolEvent, SegmentOutcome, StartError, SubmitJob,
    SubmitRejected, Withdrawn,
};
pub use status::{StatusClass, StatusTable};
pub use tls::{TlsSettings, TlsSetupError};
