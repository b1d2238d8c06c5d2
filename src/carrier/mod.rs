//! Carrier connections: a pool of SMPP binds per carrier that never loses a message.
//!
//! # Layout
//! - [`config`]: the `carriers:` section of gateway.yaml, validated into [`CarrierSettings`].
//! - [`status`]: what a command_status means ([`StatusClass`]), as a per-carrier table.
//! - [`backoff`]: exponential reconnect backoff with jitter.
//! - [`limiter`]: the contract TPS in segments (GCRA) and the adaptive slow-down (AIMD).

pub mod backoff;
pub mod config;
pub mod limiter;
pub mod status;

pub use config::{CarrierConfig, CarrierSettings, validate_carriers};
pub use status::{StatusClass, StatusTable};
