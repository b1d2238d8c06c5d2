//! The records the store keeps: messages, attempts, the idempotency index entry, and the
//! writes that change them.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::number::NumberType;
use crate::routes::MessageClass;
use crate::text::Encoding;

/// Our id for a message: a UUID v7, so ids sort by acceptance time and the pending index
/// iterates oldest first. Kept as its 16 bytes; shown in the hyphenated form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId([u8; 16]);

impl MessageId {
    /// A fresh time-ordered id.
    #[must_use]
    pub fn new_v7() -> MessageId {
        MessageId(uuid::Uuid::now_v7().into_bytes())
    }

    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> MessageId {
        MessageId(bytes)
    }

    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&uuid::Uuid::from_bytes(self.0).hyphenated(), f)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

/// Parses the hyphenated (or simple) UUID form.
impl FromStr for MessageId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(|u| MessageId(u.into_bytes()))
    }
}

impl Serialize for MessageId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Where a message is in its life. The last four are final: a message reaches exactly one of
/// them and never leaves it (the store ignores later state writes, see [`WriteOutcome`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Durable and answered; not yet picked up by the delivery side.
    Accepted,
    /// Routed and waiting for a bind (or for a retry after a throttle).
    Queued,
    /// Handed to a carrier; waiting for the receipt. The engine does not write it (the
    /// attempt's outcome says it); the status endpoint shows it for a message whose latest
    /// attempt the carrier accepted.
    Submitted,
    Delivered,
    Failed,
    /// Validity ran out before a delivery.
    Expired,
    /// Refused for good after acceptance (policy, every route refused it).
    Rejected,
    /// Accepted by the carrier, no receipt asked for (`"receipt": false`): as far as the
    /// gateway will ever know.
    Sent,
}

impl MessageState {
    pub const ALL: [MessageState; 8] = [
        MessageState::Accepted,
        MessageState::Queued,
        MessageState::Submitted,
        MessageState::Delivered,
        MessageState::Failed,
        MessageState::Expired,
        MessageState::Rejected,
        MessageState::Sent,
    ];

    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            MessageState::Delivered
                | MessageState::Failed
                | MessageState::Expired
                | MessageState::Rejected
                | MessageState::Sent
        )
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageState::Accepted => "accepted",
            MessageState::Queued => "queued",
            MessageState::Submitted => "submitted",
            MessageState::Delivered => "delivered",
            MessageState::Failed => "failed",
            MessageState::Expired => "expired",
            MessageState::Rejected => "rejected",
            MessageState::Sent => "sent",
        }
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a message will travel: SMS, or a voice call for a landline whose route has a voice
/// fallback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Sms,
    Voice,
}

impl Channel {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }
}

/// India's DLT registration ids (TRAI TCCCPR 2018): the principal entity and the content
/// template every commercial message must name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dlt {
    pub entity_id: String,
    pub template_id: String,
}

/// A message as accepted, with what was computed from it and where it is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    /// The client (API key owner) that sent it; other clients cannot see it.
    pub client: String,
    /// Recipient in E.164 with the plus.
    pub to: String,
    /// Sender id as given (alphanumeric or a number).
    pub from: String,
    pub text: String,
    pub class: MessageClass,
    /// Unix milliseconds after which the message is worthless (an OTP past its validity).
    pub valid_until_ms: u64,
    pub callback_url: Option<String>,
    pub client_ref: Option<String>,
    pub idempotency_key: Option<String>,
    pub dlt: Option<Dlt>,
    /// Whether the client allowed transliteration to keep the text in GSM 7-bit.
    pub transliterate: bool,
    /// Whether a delivery receipt is asked for (the default). Without one the message ends
    /// `sent` when the carrier accepts it, and a later failure cannot be seen or failed over.
    pub receipt: bool,
    pub number_type: NumberType,
    pub channel: Channel,
    pub encoding: Encoding,
    pub segments: u16,
    pub state: MessageState,
    pub accepted_at_ms: u64,
    pub updated_at_ms: u64,
    /// Why a message ended failed, expired or rejected (an error code or a short reason).
    pub error: Option<String>,
}

/// What became of one attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Chosen, not yet answered by the carrier.
    #[default]
    Pending,
    /// submit_sm_resp OK for every segment; waiting for the receipt.
    Submitted,
    /// No submit_sm_resp came: the carrier may or may not have the message. A resubmission
    /// after this is the only duplicate the gateway allows itself.
    Ambiguous,
    /// The carrier refused the submit (a non-zero command_status that is not a throttle).
    Refused,
    Delivered,
    /// A receipt said undeliverable / rejected / deleted.
    Failed,
    /// A receipt said expired.
    Expired,
    /// No receipt within the class's deadline.
    TimedOut,
    /// Never written to the carrier: its binds all went down while the message waited in
    /// its queue, so the message was taken back and routed elsewhere. Not a duplicate risk.
    Withdrawn,
    /// The voice channel took the message (its webhook was answered 2xx).
    Voice,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 10] = [
        AttemptOutcome::Pending,
        AttemptOutcome::Submitted,
        AttemptOutcome::Ambiguous,
        AttemptOutcome::Refused,
        AttemptOutcome::Delivered,
        AttemptOutcome::Failed,
        AttemptOutcome::Expired,
        AttemptOutcome::TimedOut,
        AttemptOutcome::Withdrawn,
        AttemptOutcome::Voice,
    ];
}

/// One try of one message on one carrier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub n: u16,
    pub carrier: String,
    /// The route that chose the carrier (its prefix).
    pub route: String,
    /// The carrier's message_id per segment, in segment order; empty strings for segments
    /// not yet answered.
    pub carrier_ids: Vec<String>,
    pub submitted_at_ms: Option<u64>,
    /// command_status of the submit_sm_resp (the first non-zero one for a multipart message).
    pub resp_status: Option<u32>,
    /// The receipt's `stat:` (DELIVRD, UNDELIV, ...) or message_state name.
    pub receipt_status: Option<String>,
    pub receipt_at_ms: Option<u64>,
    /// The receipt's `err:` or network error code.
    pub error_code: Option<String>,
    pub outcome: AttemptOutcome,
}

/// A message to accept, with what an idempotent replay must compare and return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub message: Message,
    /// Recorded in the idempotency index when `message.idempotency_key` is set.
    pub replay: Option<Replay>,
}

/// The first answer to an idempotent request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Hash of the request as the client meant it; a replay with another body is a conflict.
    pub fingerprint: [u8; 32],
    /// The bytes answered the first time.
    pub answer: Vec<u8>,
}

/// An entry of the idempotency index: `(client, key)` → this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub id: MessageId,
    pub fingerprint: [u8; 32],
    pub answer: Vec<u8>,
}

/// What [`Store::accept`](super::Store::accept) did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Written and durable.
    New,
    /// The same client already sent this idempotency key with the same request: nothing
    /// was written; here is the first answer.
    Replayed { id: MessageId, answer: Vec<u8> },
    /// The same client already used this idempotency key for a different request.
    Conflict { id: MessageId },
}

/// A change to a message after acceptance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Moves the message to `state`. A final state removes it from the pending index.
    State {
        id: MessageId,
        state: MessageState,
        at_ms: u64,
        error: Option<String>,
    },
    /// Inserts or replaces attempt `attempt.n`.
    Attempt { id: MessageId, attempt: Attempt },
    /// One segment's submit_sm_resp for attempt `n`: its carrier id and status.
    SegmentResp {
        id: MessageId,
        n: u16,
        segment: u16,
        carrier_id: String,
        status: u32,
        at_ms: u64,
    },
    /// Attempt `n` ended without a receipt (no response, no receipt in time, withdrawn): its
    /// outcome, and why in `error`.
    Outcome {
        id: MessageId,
        n: u16,
        outcome: AttemptOutcome,
        error: Option<String>,
        at_ms: u64,
    },
    /// A receipt for attempt `n`.
    Receipt {
        id: MessageId,
        n: u16,
        status: String,
        error_code: Option<String>,
        at_ms: u64,
        outcome: AttemptOutcome,
    },
}

impl Write {
    #[must_use]
    pub const fn id(&self) -> MessageId {
        match self {
            Write::State { id, .. }
            | Write::Attempt { id, .. }
            | Write::SegmentResp { id, .. }
            | Write::Outcome { id, .. }
            | Write::Receipt { id, .. } => *id,
        }
    }
}

/// What a [`Write`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied,
    /// The message is already final in `current`: the first final state stands, so a late
    /// duplicate receipt cannot turn a failure into a delivery or back.
    Ignored {
        current: MessageState,
    },
    /// No such message (or, for the attempt-level writes, no such attempt).
    NotFound,
}
