//! Decode errors: which PDU, which field, what was wrong, and the command_status to answer with.

use std::fmt;

use crate::tlv::TlvTag;
use crate::{CommandStatus, Header};

/// A PDU that could not be decoded. Carries the header as read (zero-filled past the end of a
/// frame shorter than 16 octets), so the caller can answer with the right sequence number, and
/// the SMPP name of the field that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} (seq {}): {field}: {kind}", header.command_id, header.sequence_number)]
pub struct DecodeError {
    pub header: Header,
    /// The spec's snake_case field name (`destination_addr`, `sm_length`, `command_length`, a
    /// TLV's name, or `tlv` for a TLV whose tag could not be read).
    pub field: &'static str,
    pub kind: DecodeErrorKind,
}

/// What was wrong with the field.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// command_length is not the frame's length (or is under 16).
    BadLength {
        command_length: u32,
        frame_len: usize,
    },
    /// The PDU ended before this field did.
    Truncated,
    /// A C-octet string with no NUL before the end of the PDU.
    MissingNul,
    /// Longer than the spec allows; `max` and `len` count the NUL for C-octet strings.
    TooLong { max: usize, len: usize },
    /// A value the spec does not allow (a time that is neither empty nor 16 characters, a
    /// dest_flag other than 1 or 2, sm_length non-zero next to message_payload …).
    InvalidValue,
    /// A TLV header or value that runs past the end of the PDU (`tag` is `None` when even the
    /// tag could not be read).
    BadTlv { tag: Option<TlvTag> },
    /// A TLV whose length is outside what its tag allows (strict mode).
    BadTlvLength { tag: TlvTag, len: u16 },
    /// Octets after the last field of a PDU that takes no TLVs (strict mode).
    TrailingBytes { len: usize },
    /// A command_id this crate does not know (strict mode; lenient keeps it as `Body::Raw`).
    UnknownCommand,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeErrorKind::BadLength {
                command_length,
                frame_len,
            } => write!(
                f,
                "command_length {command_length} does not match the {frame_len}-octet frame"
            ),
            DecodeErrorKind::Truncated => f.write_str("the PDU ends inside this field"),
            DecodeErrorKind::MissingNul => {
                f.write_str("C-octet string has no NUL terminator before the end of the PDU")
            }
            DecodeErrorKind::TooLong { max, len } => {
                write!(f, "{len} octets, more than the maximum of {max}")
            }
            DecodeErrorKind::InvalidValue => f.write_str("value not allowed by the spec"),
            DecodeErrorKind::BadTlv { tag: Some(tag) } => {
                write!(f, "TLV 0x{:04X} runs past the end of the PDU", tag.0)
            }
            DecodeErrorKind::BadTlv { tag: None } => {
                f.write_str("fewer than 4 octets left for a TLV header")
            }
            DecodeErrorKind::BadTlvLength { tag, len } => match tag.len_bounds() {
                Some((min, max)) if min == max => write!(
                    f,
                    "TLV 0x{:04X} has length {len}, the spec requires {min}",
                    tag.0
                ),
                Some((min, max)) => write!(
                    f,
                    "TLV 0x{:04X} has length {len}, the spec allows {min}..={max}",
                    tag.0
                ),
                None => write!(f, "TLV 0x{:04X} has invalid length {len}", tag.0),
            },
            DecodeErrorKind::TrailingBytes { len } => {
                write!(f, "{len} unexpected octets after the last field")
            }
            DecodeErrorKind::UnknownCommand => f.write_str("unknown command_id"),
        }
    }
}

impl DecodeError {
    /// The command_status to answer the PDU with (in its response, or in a generic_nack when
    /// the command itself is unknown or the length is wrong). SMPP 3.4 §5.1.3.
    pub fn status(&self) -> CommandStatus {
        match self.kind {
            DecodeErrorKind::BadLength { .. } | DecodeErrorKind::TrailingBytes { .. } => {
                CommandStatus::ESME_RINVCMDLEN
            }
            DecodeErrorKind::UnknownCommand => CommandStatus::ESME_RINVCMDID,
            DecodeErrorKind::BadTlv { .. } => CommandStatus::ESME_RINVTLVSTREAM,
            DecodeErrorKind::BadTlvLength { .. } => CommandStatus::ESME_RINVTLVLEN,
            // The PDU ended inside the field: the length is what is wrong, except for
            // short_message, whose own length octet ran past the end (ESME_RINVMSGLEN).
            DecodeErrorKind::Truncated => match self.field {
                "short_message" | "sm_length" => CommandStatus::ESME_RINVMSGLEN,
                _ => CommandStatus::ESME_RINVCMDLEN,
            },
            DecodeErrorKind::MissingNul
            | DecodeErrorKind::TooLong { .. }
            | DecodeErrorKind::InvalidValue => {
                field_status(self.field).unwrap_or(CommandStatus::ESME_RSYSERR)
            }
        }
    }
}

/// The status SMPP 3.4 §5.1.3 names for a bad value in this field, if there is one.
fn field_status(field: &str) -> Option<CommandStatus> {
    Some(match field {
        "short_message" | "sm_length" => CommandStatus::ESME_RINVMSGLEN,
        "source_addr" => CommandStatus::ESME_RINVSRCADR,
        "destination_addr" | "dest_address" | "esme_addr" => CommandStatus::ESME_RINVDSTADR,
        "system_id" => CommandStatus::ESME_RINVSYSID,
        "password" => CommandStatus::ESME_RINVPASWD,
        "system_type" => CommandStatus::ESME_RINVSYSTYP,
        "service_type" => CommandStatus::ESME_RINVSERTYP,
        "schedule_delivery_time" => CommandStatus::ESME_RINVSCHED,
        "validity_period" => CommandStatus::ESME_RINVEXPIRY,
        "message_id" => CommandStatus::ESME_RINVMSGID,
        "number_of_dests" => CommandStatus::ESME_RINVNUMDESTS,
        "dest_flag" => CommandStatus::ESME_RINVDESTFLAG,
        "dl_name" => CommandStatus::ESME_RINVDLNAME,
        "esm_class" => CommandStatus::ESME_RINVESMCLASS,
        "registered_delivery" => CommandStatus::ESME_RINVREGDLVFLG,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CommandId;

    fn err(field: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            header: Header {
                command_length: 40,
                command_id: CommandId::SUBMIT_SM,
                command_status: CommandStatus::ESME_ROK,
                sequence_number: 9,
            },
            field,
            kind,
        }
    }

    #[test]
    fn display_names_the_field() {
        let e = err("destination_addr", DecodeErrorKind::MissingNul);
        assert_eq!(
            e.to_string(),
            "submit_sm (seq 9): destination_addr: C-octet string has no NUL terminator before \
             the end of the PDU"
        );
        let e = err("system_id", DecodeErrorKind::TooLong { max: 16, len: 20 });
        assert_eq!(
            e.to_string(),
            "submit_sm (seq 9): system_id: 20 octets, more than the maximum of 16"
        );
        let e = err(
            "message_state",
            DecodeErrorKind::BadTlvLength {
                tag: TlvTag::MESSAGE_STATE,
                len: 2,
            },
        );
        assert_eq!(
            e.to_string(),
            "submit_sm (seq 9): message_state: TLV 0x0427 has length 2, the spec requires 1"
        );
    }

    #[test]
    fn statuses() {
        use DecodeErrorKind::*;
        let cases = [
            (
                "command_length",
                BadLength {
                    command_length: 1,
                    frame_len: 16,
                },
                CommandStatus::ESME_RINVCMDLEN,
            ),
            ("command_id", UnknownCommand, CommandStatus::ESME_RINVCMDID),
            ("short_message", Truncated, CommandStatus::ESME_RINVMSGLEN),
            ("source_addr", MissingNul, CommandStatus::ESME_RINVSRCADR),
            (
                "destination_addr",
                MissingNul,
                CommandStatus::ESME_RINVDSTADR,
            ),
            (
                "system_id",
                TooLong { max: 16, len: 17 },
                CommandStatus::ESME_RINVSYSID,
            ),
            ("esm_class", Truncated, CommandStatus::ESME_RINVCMDLEN),
            ("esm_class", InvalidValue, CommandStatus::ESME_RINVESMCLASS),
            ("priority_flag", Truncated, CommandStatus::ESME_RINVCMDLEN),
            (
                "interface_version",
                InvalidValue,
                CommandStatus::ESME_RSYSERR,
            ),
            (
                "tlv",
                BadTlv { tag: None },
                CommandStatus::ESME_RINVTLVSTREAM,
            ),
            (
                "sar_msg_ref_num",
                BadTlvLength {
                    tag: TlvTag::SAR_MSG_REF_NUM,
                    len: 1,
                },
                CommandStatus::ESME_RINVTLVLEN,
            ),
            (
                "command_length",
                TrailingBytes { len: 1 },
                CommandStatus::ESME_RINVCMDLEN,
            ),
        ];
        for (field, kind, status) in cases {
            assert_eq!(err(field, kind).status(), status, "{field} {kind:?}");
        }
    }
}
