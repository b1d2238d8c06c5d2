//! Sans-IO SMPP 3.4 and 5.0.
//!
//! # Layout
//! - [`command`]: command ids (`CommandId`), unknown ids kept.
//! - [`status`]: command_status codes (`CommandStatus`), unknown codes kept.
//! - [`header`]: the 16-octet PDU header.
//! - [`pdu`]: the PDU model (`Pdu`, `Body`, one file per operation), decode and encode.
//! - [`tlv`]: TLV tags, values and typed accessors; unknown and vendor tags kept.
//! - [`decode`]: `DecodeMode` and the nom field parsers every body shares.
//! - `encode` (private): the field writers every body shares.
//! - [`error`]: `DecodeError`: which field failed, why, and the status to answer with.
//! - [`hex`]: spaced, commented hex as used by proto-fixtures/ and pasted on the CLI.
//! - [`receipt`]: delivery receipt text (Appendix B), parsed tolerantly and zero-copy.
//! - [`session`]: the session state machine: binds, allowed operations, sequence numbers,
//!   the window, response matching and timers.
//! - [`codec`] (feature `codec`): tokio-util framing, `PduCodec` yielding `Frame`s.
//!
//! This crate does no I/O and reads no clock: callers pass bytes in and `now` in.

#[cfg(feature = "codec")]
pub mod codec;
pub mod command;
pub mod decode;
mod encode;
pub mod error;
pub mod header;
pub mod hex;
pub mod pdu;
pub mod receipt;
pub mod session;
pub mod status;
pub mod tlv;

pub use command::CommandId;
pub use decode::DecodeMode;
pub use error::{DecodeError, DecodeErrorKind};
pub use header::{HEADER_LEN, Header};
pub use pdu::{
    Address, AlertNotification, Bind, BindResp, Body, CancelSm, DataSm, DataSmResp, DeliverSm,
    DeliverSmResp, DestAddress, Outbind, Pdu, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti,
    SubmitMultiResp, SubmitSm, SubmitSmResp, UnsuccessSme,
};
pub use receipt::{ReceiptDate, ReceiptError, ReceiptStat, parse_receipt};
pub use status::CommandStatus;
pub use tlv::{MessageState, Tlv, TlvTag, Tlvs};
