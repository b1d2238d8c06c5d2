//! The 16-octet PDU header (SMPP 3.4 §3.2).

use crate::{CommandId, CommandStatus};

/// Length of the header in octets; also the smallest valid `command_length`.
pub const HEADER_LEN: usize = 16;

/// The header every PDU starts with, as read off the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Total PDU length including these 16 octets.
    pub command_length: u32,
    pub command_id: CommandId,
    pub command_status: CommandStatus,
    pub sequence_number: u32,
}

impl Header {
    /// Reads a header from the first 16 octets of `src`, or `None` if fewer are there.
    /// Checks nothing: framing decides what lengths it accepts.
    pub fn peek(src: &[u8]) -> Option<Header> {
        let h = src.get(..HEADER_LEN)?;
        let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        Some(Header {
            command_length: word(0),
            command_id: CommandId(word(4)),
            command_status: CommandStatus(word(8)),
            sequence_number: word(12),
        })
    }

    /// Writes the header as 16 octets.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.command_length.to_be_bytes());
        out[4..8].copy_from_slice(&self.command_id.0.to_be_bytes());
        out[8..12].copy_from_slice(&self.command_status.0.to_be_bytes());
        out[12..16].copy_from_slice(&self.sequence_number.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_round_trips() {
        let h = Header {
            command_length: 0x10,
            command_id: CommandId::ENQUIRE_LINK,
            command_status: CommandStatus::ESME_ROK,
            sequence_number: 7,
        };
        assert_eq!(Header::peek(&h.to_bytes()), Some(h));
        assert_eq!(Header::peek(&[0u8; 15]), None);
    }
}
