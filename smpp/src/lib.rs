//! Sans-IO SMPP 3.4 and 5.0.
//!
//! # Layout
//! - [`command`]: command ids (`CommandId`), unknown ids kept.
//! - [`status`]: command_status codes (`CommandStatus`), unknown codes kept.
//! - [`header`]: the 16-octet PDU header.
//! - [`receipt`]: delivery receipt text (Appendix B), parsed tolerantly and zero-copy.
//!
//! This crate does no I/O and reads no clock: callers pass bytes in and `now` in.

pub mod command;
pub mod header;
pub mod receipt;
pub mod status;

pub use command::CommandId;
pub use header::{HEADER_LEN, Header};
pub use receipt::{ReceiptDate, ReceiptError, ReceiptStat, parse_receipt};
pub use status::CommandStatus;
