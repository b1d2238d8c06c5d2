//! The on-disk form of records: a leading version byte, fixed-width integers little-endian,
//! strings and lists prefixed by a LEB128 length, options by a 0/1 byte.
//!
//! Hand-written because the records are few and flat, and because the enum codes must stay
//! stable across releases whatever the Rust enums look like: every code below is written
//! down once and never reused. A record of an unknown version or with an unknown code is an
//! error, never a panic or a guess.

use crate::number::NumberType;
use crate::routes::MessageClass;
use crate::text::Encoding;

use super::model::{
    Attempt, AttemptOutcome, Channel, Dlt, IdempotencyRecord, Message, MessageId, MessageState,
};

/// Version of the message, attempt and idempotency records written by this build.
const V1: u8 = 1;

/// Why a stored record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("record ends early")]
    Truncated,
    #[error("record version {0} is not known to this build")]
    UnknownVersion(u8),
    #[error("unknown {what} code {code}")]
    UnknownCode { what: &'static str, code: u8 },
    #[error("string is not UTF-8")]
    Utf8,
    #[error("{0} bytes left over after the record")]
    Trailing(usize),
    #[error("length {0} is out of range")]
    Length(u64),
}

// ---- enum codes: append only ----

fn state_code(s: MessageState) -> u8 {
    match s {
        MessageState::Accepted => 1,
        MessageState::Queued => 2,
        MessageState::Submitted => 3,
        MessageState::Delivered => 4,
        MessageState::Failed => 5,
        MessageState::Expired => 6,
        MessageState::Rejected => 7,
        MessageState::Sent => 8,
    }
}

fn state_of(code: u8) -> Result<MessageState, CodecError> {
    MessageState::ALL
        .into_iter()
        .find(|&s| state_code(s) == code)
        .ok_or(CodecError::UnknownCode {
            what: "state",
            code,
        })
}

fn class_code(c: MessageClass) -> u8 {
    match c {
        MessageClass::Otp => 1,
        MessageClass::Transactional => 2,
        MessageClass::Marketing => 3,
    }
}

fn class_of(code: u8) -> Result<MessageClass, CodecError> {
    MessageClass::ALL
        .into_iter()
        .find(|&c| class_code(c) == code)
        .ok_or(CodecError::UnknownCode {
            what: "class",
            code,
        })
}

fn encoding_code(e: Encoding) -> u8 {
    match e {
        Encoding::Gsm7 => 1,
        Encoding::Latin1 => 2,
        Encoding::Ucs2 => 3,
    }
}

fn encoding_of(code: u8) -> Result<Encoding, CodecError> {
    match code {
        1 => Ok(Encoding::Gsm7),
        2 => Ok(Encoding::Latin1),
        3 => Ok(Encoding::Ucs2),
        _ => Err(CodecError::UnknownCode {
            what: "encoding",
            code,
        }),
    }
}

const NUMBER_TYPES: [(NumberType, u8); 12] = [
    (NumberType::Mobile, 1),
    (NumberType::FixedLine, 2),
    (NumberType::FixedLineOrMobile, 3),
    (NumberType::Voip, 4),
    (NumberType::TollFree, 5),
    (NumberType::PremiumRate, 6),
    (NumberType::SharedCost, 7),
    (NumberType::PersonalNumber, 8),
    (NumberType::Pager, 9),
    (NumberType::Uan, 10),
    (NumberType::Voicemail, 11),
    (NumberType::Unknown, 12),
];

fn number_type_code(t: NumberType) -> u8 {
    NUMBER_TYPES
        .iter()
        .find(|(n, _)| *n == t)
        .map_or(12, |&(_, c)| c)
}

fn number_type_of(code: u8) -> Result<NumberType, CodecError> {
    NUMBER_TYPES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|&(t, _)| t)
        .ok_or(CodecError::UnknownCode {
            what: "number type",
            code,
        })
}

fn channel_code(c: Channel) -> u8 {
    match c {
        Channel::Sms => 1,
        Channel::Voice => 2,
    }
}

fn channel_of(code: u8) -> Result<Channel, CodecError> {
    match code {
        1 => Ok(Channel::Sms),
        2 => Ok(Channel::Voice),
        _ => Err(CodecError::UnknownCode {
            what: "channel",
            code,
        }),
    }
}

fn outcome_code(o: AttemptOutcome) -> u8 {
    match o {
        AttemptOutcome::Pending => 1,
        AttemptOutcome::Submitted => 2,
        AttemptOutcome::Ambiguous => 3,
        AttemptOutcome::Refused => 4,
        AttemptOutcome::Delivered => 5,
        AttemptOutcome::Failed => 6,
        AttemptOutcome::Expired => 7,
        AttemptOutcome::TimedOut => 8,
        AttemptOutcome::Withdrawn => 9,
        AttemptOutcome::Voice => 10,
    }
}

fn outcome_of(code: u8) -> Result<AttemptOutcome, CodecError> {
    AttemptOutcome::ALL
        .into_iter()
        .find(|&o| outcome_code(o) == code)
        .ok_or(CodecError::UnknownCode {
            what: "attempt outcome",
            code,
        })
}

// ---- primitives ----

struct Out(Vec<u8>);

impl Out {
    fn with_capacity(n: usize) -> Out {
        Out(Vec::with_capacity(n))
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, mut v: usize) {
        loop {
            let byte = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
        }
    }
    fn opt_u32(&mut self, v: Option<u32>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u32(v);
            }
        }
    }
}

struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.0.len() < n {
            return Err(CodecError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, CodecError> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, CodecError> {
        self.array().map(u64::from_le_bytes)
    }
    fn len(&mut self) -> Result<usize, CodecError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            v |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                // A length can never exceed what is left of the record: refusing here keeps
                // a corrupt length from asking for a huge allocation.
                return usize::try_from(v)
                    .ok()
                    .filter(|&n| n <= self.0.len())
                    .ok_or(CodecError::Length(v));
            }
        }
        Err(CodecError::Length(v))
    }
    fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.len()?;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, CodecError> {
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| CodecError::Utf8)
    }
    fn flag(&mut self) -> Result<bool, CodecError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            code => Err(CodecError::UnknownCode {
                what: "option flag",
                code,
            }),
        }
    }
    fn opt_string(&mut self) -> Result<Option<String>, CodecError> {
        if self.flag()? {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, CodecError> {
        if self.flag()? {
            self.u64().map(Some)
        } else {
            Ok(None)
        }
    }
    fn opt_u32(&mut self) -> Result<Option<u32>, CodecError> {
        if self.flag()? {
            self.u32().map(Some)
        } else {
            Ok(None)
        }
    }
    fn version(&mut self) -> Result<(), CodecError> {
        match self.u8()? {
            V1 => Ok(()),
            v => Err(CodecError::UnknownVersion(v)),
        }
    }
    fn end(&self) -> Result<(), CodecError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CodecError::Trailing(self.0.len()))
        }
    }
}

// ---- records ----

/// The message record; the id is the key and is not repeated in the value.
pub fn encode_message(m: &Message) -> Vec<u8> {
    let mut o = Out::with_capacity(64 + m.text.len() + m.to.len() + m.from.len());
    o.u8(V1);
    o.u8(state_code(m.state));
    o.u8(class_code(m.class));
    o.u8(encoding_code(m.encoding));
    o.u8(number_type_code(m.number_type));
    o.u8(channel_code(m.channel));
    // Option bits: 1 transliterate, 2 no receipt.
    o.u8(u8::from(m.transliterate) | if m.receipt { 0 } else { 2 });
    o.u16(m.segments);
    o.u64(m.accepted_at_ms);
    o.u64(m.updated_at_ms);
    o.u64(m.valid_until_ms);
    o.str(&m.client);
    o.str(&m.to);
    o.str(&m.from);
    o.str(&m.text);
    o.opt_str(m.callback_url.as_deref());
    o.opt_str(m.client_ref.as_deref());
    o.opt_str(m.idempotency_key.as_deref());
    o.opt_str(m.error.as_deref());
    match &m.dlt {
        None => o.u8(0),
        Some(d) => {
            o.u8(1);
            o.str(&d.entity_id);
            o.str(&d.template_id);
        }
    }
    o.0
}

/// Where a V1 message record keeps its state code and its `updated_at_ms`: after the version,
/// the state, five one-octet codes, the segment count (2) and `accepted_at_ms` (8).
const STATE_AT: usize = 1;
const UPDATED_AT: usize = 17;
const FIXED_HEAD: usize = UPDATED_AT + 8;

/// The state of an encoded message, read without decoding the rest: the writer's fast path
/// for state changes.
pub fn message_state(bytes: &[u8]) -> Result<MessageState, CodecError> {
    if bytes.len() < FIXED_HEAD {
        return Err(CodecError::Truncated);
    }
    if bytes[0] != V1 {
        return Err(CodecError::UnknownVersion(bytes[0]));
    }
    state_of(bytes[STATE_AT])
}

/// Sets the state and `updated_at_ms` of an encoded message in place (the error is left as
/// it is). `bytes` must have passed [`message_state`].
pub fn patch_message_state(bytes: &mut [u8], state: MessageState, at_ms: u64) {
    if bytes.len() >= FIXED_HEAD {
        bytes[STATE_AT] = state_code(state);
        bytes[UPDATED_AT..FIXED_HEAD].copy_from_slice(&at_ms.to_le_bytes());
    }
}

pub fn decode_message(id: MessageId, bytes: &[u8]) -> Result<Message, CodecError> {
    let mut i = In(bytes);
    i.version()?;
    let state = state_of(i.u8()?)?;
    let class = class_of(i.u8()?)?;
    let encoding = encoding_of(i.u8()?)?;
    let number_type = number_type_of(i.u8()?)?;
    let channel = channel_of(i.u8()?)?;
    let options = i.u8()?;
    if options & !3 != 0 {
        return Err(CodecError::UnknownCode {
            what: "message options",
            code: options,
        });
    }
    let transliterate = options & 1 != 0;
    let receipt = options & 2 == 0;
    let segments = i.u16()?;
    let accepted_at_ms = i.u64()?;
    let updated_at_ms = i.u64()?;
    let valid_until_ms = i.u64()?;
    let client = i.string()?;
    let to = i.string()?;
    let from = i.string()?;
    let text = i.string()?;
    let callback_url = i.opt_string()?;
    let client_ref = i.opt_string()?;
    let idempotency_key = i.opt_string()?;
    let error = i.opt_string()?;
    let dlt = if i.flag()? {
        Some(Dlt {
            entity_id: i.string()?,
            template_id: i.string()?,
        })
    } else {
        None
    };
    i.end()?;
    Ok(Message {
        id,
        client,
        to,
        from,
        text,
        class,
        valid_until_ms,
        callback_url,
        client_ref,
        idempotency_key,
        dlt,
        transliterate,
        receipt,
        number_type,
        channel,
        encoding,
        segments,
        state,
        accepted_at_ms,
        updated_at_ms,
        error,
    })
}

/// The attempt record; message id and attempt number are the key.
pub fn encode_attempt(a: &Attempt) -> Vec<u8> {
    let mut o = Out::with_capacity(48 + a.carrier.len() + a.route.len() + 16 * a.carrier_ids.len());
    o.u8(V1);
    o.u8(outcome_code(a.outcome));
    o.str(&a.carrier);
    o.str(&a.route);
    o.len(a.carrier_ids.len());
    for id in &a.carrier_ids {
        o.str(id);
    }
    o.opt_u64(a.submitted_at_ms);
    o.opt_u32(a.resp_status);
    o.opt_str(a.receipt_status.as_deref());
    o.opt_u64(a.receipt_at_ms);
    o.opt_str(a.error_code.as_deref());
    o.0
}

pub fn decode_attempt(n: u16, bytes: &[u8]) -> Result<Attempt, CodecError> {
    let mut i = In(bytes);
    i.version()?;
    let outcome = outcome_of(i.u8()?)?;
    let carrier = i.string()?;
    let route = i.string()?;
    let count = i.len()?;
    let mut carrier_ids = Vec::with_capacity(count);
    for _ in 0..count {
        carrier_ids.push(i.string()?);
    }
    let submitted_at_ms = i.opt_u64()?;
    let resp_status = i.opt_u32()?;
    let receipt_status = i.opt_string()?;
    let receipt_at_ms = i.opt_u64()?;
    let error_code = i.opt_string()?;
    i.end()?;
    Ok(Attempt {
        n,
        carrier,
        route,
        carrier_ids,
        submitted_at_ms,
        resp_status,
        receipt_status,
        receipt_at_ms,
        error_code,
        outcome,
    })
}

pub fn encode_idempotency(r: &IdempotencyRecord) -> Vec<u8> {
    let mut o = Out::with_capacity(1 + 16 + 32 + 3 + r.answer.len());
    o.u8(V1);
    o.0.extend_from_slice(r.id.as_bytes());
    o.0.extend_from_slice(&r.fingerprint);
    o.bytes(&r.answer);
    o.0
}

pub fn decode_idempotency(bytes: &[u8]) -> Result<IdempotencyRecord, CodecError> {
    let mut i = In(bytes);
    i.version()?;
    let id = MessageId::from_bytes(i.array()?);
    let fingerprint = i.array()?;
    let answer = i.bytes()?.to_vec();
    i.end()?;
    Ok(IdempotencyRecord {
        id,
        fingerprint,
        answer,
    })
}

// ---- keys ----

/// Attempts sort by message, then attempt number (big-endian so byte order is numeric
/// order): a prefix scan on the message id lists them in order.
pub fn attempt_key(id: MessageId, n: u16) -> [u8; 18] {
    let mut k = [0; 18];
    k[..16].copy_from_slice(id.as_bytes());
    k[16..].copy_from_slice(&n.to_be_bytes());
    k
}

/// The attempt number of an attempt key, if it is one.
pub fn attempt_n(key: &[u8]) -> Option<u16> {
    let tail: [u8; 2] = key.get(16..18)?.try_into().ok()?;
    (key.len() == 18).then(|| u16::from_be_bytes(tail))
}

/// `(client, key)`: the client name is length-prefixed so that no pair of names and keys
/// can produce the same bytes.
pub fn idempotency_key(client: &str, key: &str) -> Vec<u8> {
    let mut o = Out::with_capacity(2 + client.len() + key.len());
    o.str(client);
    o.0.extend_from_slice(key.as_bytes());
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message() -> Message {
        Message {
            id: MessageId::from_bytes([7; 16]),
            client: "shop".into(),
            to: "+447700900123".into(),
            from: "Shop".into(),
            text: "Your code is 123456 ✓".into(),
            class: MessageClass::Otp,
            valid_until_ms: 1_700_000_300_000,
            callback_url: Some("https://example.com/cb".into()),
            client_ref: None,
            idempotency_key: Some("k-1".into()),
            dlt: Some(Dlt {
                entity_id: "1101".into(),
                template_id: "1207".into(),
            }),
            transliterate: true,
            receipt: true,
            number_type: NumberType::Mobile,
            channel: Channel::Sms,
            encoding: Encoding::Ucs2,
            segments: 1,
            state: MessageState::Submitted,
            accepted_at_ms: 1_700_000_000_000,
            updated_at_ms: 1_700_000_000_500,
            error: None,
        }
    }

    #[test]
    fn state_patched_in_place_reads_back() {
        let m = message();
        let mut bytes = encode_message(&m);
        assert_eq!(message_state(&bytes).unwrap(), m.state);
        patch_message_state(&mut bytes, MessageState::Delivered, 42);
        let back = decode_message(m.id, &bytes).unwrap();
        assert_eq!(back.state, MessageState::Delivered);
        assert_eq!(back.updated_at_ms, 42);
        assert_eq!(back.text, m.text);
        assert_eq!(back.error, m.error);
        assert!(message_state(&bytes[..10]).is_err());
    }

    #[test]
    fn message_round_trip_and_layout() {
        let m = message();
        let bytes = encode_message(&m);
        // version, state, class, encoding, number type, channel, transliterate
        assert_eq!(&bytes[..7], &[1, 3, 1, 3, 1, 1, 1]);
        assert_eq!(decode_message(m.id, &bytes), Ok(m));
    }

    #[test]
    fn truncated_and_corrupt_records_are_errors() {
        let bytes = encode_message(&message());
        for cut in 0..bytes.len() {
            assert!(decode_message(MessageId::from_bytes([0; 16]), &bytes[..cut]).is_err());
        }
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert_eq!(
            decode_message(MessageId::from_bytes([0; 16]), &v2),
            Err(CodecError::UnknownVersion(2))
        );
        let mut bad_state = bytes.clone();
        bad_state[1] = 99;
        assert!(matches!(
            decode_message(MessageId::from_bytes([0; 16]), &bad_state),
            Err(CodecError::UnknownCode { what: "state", .. })
        ));
        let mut trailing = bytes;
        trailing.push(0);
        assert_eq!(
            decode_message(MessageId::from_bytes([0; 16]), &trailing),
            Err(CodecError::Trailing(1))
        );
    }

    #[test]
    fn attempt_keys_sort_numerically() {
        let id = MessageId::from_bytes([1; 16]);
        assert!(attempt_key(id, 2) < attempt_key(id, 10));
        assert!(attempt_key(id, 255) < attempt_key(id, 256));
        assert_eq!(attempt_n(&attempt_key(id, 300)), Some(300));
        assert_eq!(attempt_n(&[0; 17]), None);
    }

    #[test]
    fn idempotency_keys_do_not_collide_across_clients() {
        assert_ne!(idempotency_key("ab", "c"), idempotency_key("a", "bc"));
    }

    fn opt_string() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(".{0,40}")
    }

    proptest! {
        #[test]
        fn attempt_round_trip(
            n in any::<u16>(),
            carrier in ".{0,20}",
            route in "[0-9]{0,8}",
            carrier_ids in proptest::collection::vec("[0-9a-fA-F]{0,24}", 0..5),
            submitted in proptest::option::of(any::<u64>()),
            resp in proptest::option::of(any::<u32>()),
            receipt_status in opt_string(),
            receipt_at in proptest::option::of(any::<u64>()),
            error_code in opt_string(),
            outcome in proptest::sample::select(AttemptOutcome::ALL.to_vec()),
        ) {
            let a = Attempt {
                n, carrier, route, carrier_ids, submitted_at_ms: submitted, resp_status: resp,
                receipt_status, receipt_at_ms: receipt_at, error_code, outcome,
            };
            prop_assert_eq!(decode_attempt(n, &encode_attempt(&a)), Ok(a));
        }

        #[test]
        fn message_text_round_trip(text in ".{0,400}", client_ref in opt_string(), error in opt_string()) {
            let m = Message { text, client_ref, error, ..message() };
            prop_assert_eq!(decode_message(m.id, &encode_message(&m)), Ok(m));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_message(MessageId::from_bytes([0; 16]), &bytes);
            let _ = decode_attempt(1, &bytes);
            let _ = decode_idempotency(&bytes);
        }

        #[test]
        fn idempotency_round_trip(fp in any::<[u8; 32]>(), answer in proptest::collection::vec(any::<u8>(), 0..300)) {
            let r = IdempotencyRecord { id: MessageId::from_bytes([9; 16]), fingerprint: fp, answer };
            prop_assert_eq!(decode_idempotency(&encode_idempotency(&r)), Ok(r));
        }
    }
}
