//! Receipt states, and what they mean for a message.

use gannet_smpp::ReceiptStat;
use serde::{Deserialize, Serialize};

/// The state a receipt reports for one part, numbered as the message_state TLV (SMPP 3.4
/// §5.2.28, 5.0 §4.7.15) so that the TLV and the `stat:` text map to the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum DlrState {
    /// `ENROUTE`: still in the SMSC or the network.
    Enroute = 1,
    /// `DELIVRD`.
    Delivered = 2,
    /// `EXPIRED`: the SMSC gave up when the validity period ran out.
    Expired = 3,
    /// `DELETED`: cancelled in the SMSC.
    Deleted = 4,
    /// `UNDELIV`.
    Undeliverable = 5,
    /// `ACCEPTD`. SMPP 5.0 calls it final ("accepted on behalf of the subscriber"), but
    /// carriers send it as "accepted by the SMSC" and follow it with `DELIVRD`, so it is taken
    /// as intermediate.
    Accepted = 6,
    /// `UNKNOWN`: the SMSC cannot tell. Taken as final: nothing more will come.
    Unknown = 7,
    /// `REJECTD`.
    Rejected = 8,
    /// `SKIPPED` (5.0): accepted but deliberately not transmitted.
    Skipped = 9,
    /// A state this code does not recognise; not final, so the deadline still runs.
    Other = 0,
}

impl DlrState {
    /// From the `stat:` text of a receipt.
    pub fn from_stat(stat: ReceiptStat<'_>) -> DlrState {
        stat.message_state()
            .map_or(DlrState::Other, DlrState::from_message_state)
    }

    /// From a message_state TLV value.
    pub fn from_message_state(v: u8) -> DlrState {
        match v {
            1 => DlrState::Enroute,
            2 => DlrState::Delivered,
            3 => DlrState::Expired,
            4 => DlrState::Deleted,
            5 => DlrState::Undeliverable,
            6 => DlrState::Accepted,
            7 => DlrState::Unknown,
            8 => DlrState::Rejected,
            9 => DlrState::Skipped,
            _ => DlrState::Other,
        }
    }

    /// Whether no further receipt is expected for the part.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            DlrState::Enroute | DlrState::Accepted | DlrState::Other
        )
    }

    /// The message-level status this final state means; `None` for intermediate states.
    pub fn final_status(self) -> Option<FinalStatus> {
        Some(match self {
            DlrState::Delivered => FinalStatus::Delivered,
            DlrState::Undeliverable => FinalStatus::Undeliverable,
            DlrState::Expired => FinalStatus::Expired,
            DlrState::Rejected | DlrState::Skipped => FinalStatus::Rejected,
            DlrState::Deleted => FinalStatus::Deleted,
            DlrState::Unknown => FinalStatus::Unknown,
            DlrState::Enroute | DlrState::Accepted | DlrState::Other => return None,
        })
    }
}

/// The final status of a message (all its parts), as reported to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalStatus {
    Delivered,
    Undeliverable,
    /// The carrier's SMSC expired it (not our receipt deadline: that is
    /// [`super::DlrTracker::poll_expired`]).
    Expired,
    /// Rejected (or skipped) by the network.
    Rejected,
    Deleted,
    /// The carrier could not tell.
    Unknown,
}

impl FinalStatus {
    pub fn is_delivered(self) -> bool {
        self == FinalStatus::Delivered
    }
}

/// A message's final status with the carrier's error code (from `err:` or the
/// network_error_code TLV), kept as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Outcome {
    pub status: FinalStatus,
    pub error: Option<u32>,
}

/// Which parts of a multipart message a carrier sends receipts for, and so which receipts
/// decide the message's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptsFor {
    /// Every part gets a receipt: delivered when all parts are, failed at the first part that
    /// fails (with its code), and a missing receipt for any part is a deadline miss.
    All,
    /// Only the first part's receipt decides; the others are optional.
    First,
    /// Only the last part's receipt decides; the others are optional.
    Last,
    /// The first final receipt of any part decides, delivered or failed; the rest are
    /// recorded but change nothing. The default: it is right for carriers that send receipts
    /// for every part and for those that send one, and never waits for a receipt that will
    /// not come.
    #[default]
    Any,
}

impl ReceiptsFor {
    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> ReceiptsFor {
        match v {
            0 => ReceiptsFor::All,
            1 => ReceiptsFor::First,
            2 => ReceiptsFor::Last,
            _ => ReceiptsFor::Any,
        }
    }

    /// Whether the receipt of part `part` (0-based) of `parts` can decide the message.
    pub fn decides(self, part: u8, parts: u8) -> bool {
        match self {
            ReceiptsFor::All | ReceiptsFor::Any => true,
            ReceiptsFor::First => part == 0,
            ReceiptsFor::Last => part + 1 >= parts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_tlv_agree() {
        for (text, state) in [
            (&b"DELIVRD"[..], DlrState::Delivered),
            (b"UNDELIV", DlrState::Undeliverable),
            (b"ENROUTE", DlrState::Enroute),
            (b"ACCEPTD", DlrState::Accepted),
            (b"REJECTD", DlrState::Rejected),
            (b"EXPIRED", DlrState::Expired),
            (b"DELETED", DlrState::Deleted),
            (b"UNKNOWN", DlrState::Unknown),
            (b"SKIPPED", DlrState::Skipped),
            (b"WHATEVER", DlrState::Other),
        ] {
            let from_text = DlrState::from_stat(ReceiptStat::parse(text));
            assert_eq!(from_text, state);
            assert_eq!(DlrState::from_message_state(state as u8), state);
        }
        assert!(!DlrState::Enroute.is_final());
        assert!(!DlrState::Accepted.is_final());
        assert!(!DlrState::Other.is_final());
        assert_eq!(
            DlrState::Skipped.final_status(),
            Some(FinalStatus::Rejected)
        );
        assert_eq!(DlrState::Unknown.final_status(), Some(FinalStatus::Unknown));
    }
}
