//! Carrier message ids and their canonical keys.
//!
//! The message_id of a submit_sm_resp and the id of the receipt for the same message are often
//! written differently: `0001A2F3` in the response, `107251` (the same number in decimal) or
//! `1a2f3` in the receipt. An id is stored under one canonical key and a receipt's id is turned
//! into the few keys the same message could have been stored under (see
//! [`receipt_candidates`]): no allocation, at most four lookups, exact interpretations first.
//!
//! Numbers (decimal up to 39 digits, hex up to 32 digits, UUIDs) become a `u128`; any other id
//! is compared as text without regard to ASCII case or leading zeros, inline when it has at
//! most 16 bytes and as a 128-bit hash otherwise.

use std::hash::Hasher;

use serde::{Deserialize, Serialize};

/// How a carrier writes message ids, in submit_sm_resp or in receipts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdStyle {
    /// Work it out per id: all digits is read as decimal, hex digits or a UUID as hex,
    /// anything else as text; receipts are matched against every interpretation.
    #[default]
    Auto,
    /// Decimal digits, maybe zero-padded.
    Decimal,
    /// Hex digits in either case, maybe zero-padded.
    Hex,
    /// An RFC 9562 UUID, with or without hyphens, in either case.
    Uuid,
    /// An opaque string, compared without regard to ASCII case or leading zeros.
    Text,
}

impl IdStyle {
    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> IdStyle {
        match v {
            1 => IdStyle::Decimal,
            2 => IdStyle::Hex,
            3 => IdStyle::Uuid,
            4 => IdStyle::Text,
            _ => IdStyle::Auto,
        }
    }
}

/// Tag of a numeric key; text keys use their length (1 to 16) or [`TAG_HASHED`].
const TAG_NUM: u8 = 0;
const TAG_HASHED: u8 = 17;
const INLINE_TEXT: usize = 16;

/// A canonical id: a number, short text inline, or a hash of long text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonId {
    tag: u8,
    v: [u64; 2],
}

impl CanonId {
    pub fn num(n: u128) -> CanonId {
        CanonId {
            tag: TAG_NUM,
            v: [(n >> 64) as u64, n as u64],
        }
    }

    /// The number, for numeric ids.
    pub fn as_num(&self) -> Option<u128> {
        (self.tag == TAG_NUM).then(|| (u128::from(self.v[0]) << 64) | u128::from(self.v[1]))
    }

    pub(crate) fn tag(&self) -> u8 {
        self.tag
    }

    pub(crate) fn words(&self) -> [u64; 2] {
        self.v
    }
}

/// How a receipt id was read when it matched, counted per carrier so that an operator (and
/// the tracker's own ordering of lookups) can see which styles a carrier really uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading {
    /// The receipt id read as a decimal number.
    Decimal,
    /// Read as hex (or a UUID).
    Hex,
    /// The number's hex digits read as decimal: the response was hex with no letters in it,
    /// which [`IdStyle::Auto`] stored as decimal.
    HexDigitsAsDecimal,
    /// Compared as text.
    Text,
}

impl Reading {
    pub const ALL: [Reading; 4] = [
        Reading::Decimal,
        Reading::Hex,
        Reading::HexDigitsAsDecimal,
        Reading::Text,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

fn trim(id: &[u8]) -> &[u8] {
    let is_pad = |b: &u8| b.is_ascii_whitespace() || *b == 0;
    let start = id.iter().position(|b| !is_pad(b)).unwrap_or(id.len());
    let end = id.iter().rposition(|b| !is_pad(b)).map_or(start, |e| e + 1);
    &id[start..end]
}

/// Decimal digits to a number; `None` for anything else or more than fits.
pub fn parse_decimal(id: &[u8]) -> Option<u128> {
    if id.is_empty() {
        return None;
    }
    let mut v: u128 = 0;
    for &b in id {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u128::from(d))?;
    }
    Some(v)
}

/// Hex digits (either case) to a number; `None` for anything else or more than 128 bits.
pub fn parse_hex(id: &[u8]) -> Option<u128> {
    if id.is_empty() {
        return None;
    }
    let mut v: u128 = 0;
    for &b in id {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        if v >> 124 != 0 {
            return None;
        }
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

/// An RFC 9562 UUID (`8-4-4-4-12` hex digits, optionally in braces) to its 128-bit value.
pub fn parse_uuid(id: &[u8]) -> Option<u128> {
    let id = match id {
        [b'{', inner @ .., b'}'] => inner,
        _ => id,
    };
    if id.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &b) in id.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let d = (b as char).to_digit(16)?;
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

fn hex_or_uuid(id: &[u8]) -> Option<u128> {
    parse_hex(id).or_else(|| parse_uuid(id))
}

/// The hex digits of `x` read as a decimal number, when they are all 0-9: what a response id
/// written in hex with no letters was stored as by [`IdStyle::Auto`].
fn hex_digits_as_decimal(x: u128) -> Option<u128> {
    if x == 0 {
        return Some(0);
    }
    let nibbles = (128 - x.leading_zeros()).div_ceil(4);
    let mut v: u128 = 0;
    for i in (0..nibbles).rev() {
        let d = ((x >> (4 * i)) & 0xf) as u8;
        if d > 9 {
            return None;
        }
        v = v * 10 + u128::from(d);
    }
    Some(v)
}

/// Hashes a long text id, lowercased, to 128 bits with two SipHash runs under different fixed
/// keys. Fixed keys keep a key stable for the life of the process; a collision (2^-128 per
/// pair) is not a practical risk.
fn hash128(text: &[u8]) -> [u64; 2] {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    b.write_u64(0x9e37_79b9_7f4a_7c15);
    for chunk in text.chunks(64) {
        let mut buf = [0u8; 64];
        let lower = &mut buf[..chunk.len()];
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        a.write(lower);
        b.write(lower);
    }
    [a.finish(), b.finish()]
}

/// A text id: lowercase, leading zeros stripped.
fn text_key(id: &[u8]) -> CanonId {
    let zeros = id.iter().take_while(|&&b| b == b'0').count();
    let id = &id[zeros..];
    if id.len() <= INLINE_TEXT {
        let mut buf = [0u8; INLINE_TEXT];
        for (slot, b) in buf.iter_mut().zip(id) {
            *slot = b.to_ascii_lowercase();
        }
        let (hi, lo) = buf.split_at(8);
        CanonId {
            tag: id.len() as u8,
            v: [
                u64::from_be_bytes(hi.try_into().unwrap_or_default()),
                u64::from_be_bytes(lo.try_into().unwrap_or_default()),
            ],
        }
    } else {
        CanonId {
            tag: TAG_HASHED,
            v: hash128(id),
        }
    }
}

/// Error for an id that cannot be a message id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("empty message id")]
    Empty,
}

/// The key a submit_sm_resp message_id is stored under.
pub fn resp_key(style: IdStyle, id: &[u8]) -> Result<CanonId, IdError> {
    let id = trim(id);
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    let n = match style {
        IdStyle::Decimal => parse_decimal(id).or_else(|| hex_or_uuid(id)),
        IdStyle::Hex | IdStyle::Uuid => hex_or_uuid(id),
        IdStyle::Text => None,
        IdStyle::Auto => parse_decimal(id).or_else(|| hex_or_uuid(id)),
    };
    Ok(match n {
        Some(n) => CanonId::num(n),
        None => text_key(id),
    })
}

/// The keys a receipt id may have been stored under, best guess first, without duplicates.
#[derive(Clone, Copy, Debug)]
pub struct Candidates {
    keys: [(CanonId, Reading); 4],
    len: u8,
}

impl Candidates {
    fn push(&mut self, key: CanonId, how: Reading) {
        let n = usize::from(self.len);
        if n < self.keys.len() && !self.keys[..n].iter().any(|(k, _)| *k == key) {
            self.keys[n] = (key, how);
            self.len += 1;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (CanonId, Reading)> + '_ {
        self.keys[..usize::from(self.len)].iter().copied()
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The keys under which the response for a receipt id `id` may be stored, given how the
/// carrier writes responses (`resp`) and receipts (`receipt`). With known styles this is one
/// key; with [`IdStyle::Auto`] on either side it is up to four, exact reading first.
pub fn receipt_candidates(
    resp: IdStyle,
    receipt: IdStyle,
    id: &[u8],
) -> Result<Candidates, IdError> {
    let id = trim(id);
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    let mut c = Candidates {
        keys: [(CanonId::num(0), Reading::Decimal); 4],
        len: 0,
    };
    if resp == IdStyle::Text || receipt == IdStyle::Text {
        c.push(text_key(id), Reading::Text);
        return Ok(c);
    }
    let dec = match receipt {
        IdStyle::Decimal | IdStyle::Auto => parse_decimal(id),
        _ => None,
    };
    let hex = match receipt {
        IdStyle::Hex | IdStyle::Uuid | IdStyle::Auto => hex_or_uuid(id),
        // A carrier said decimal but sent letters: read it as hex rather than lose it.
        IdStyle::Decimal if dec.is_none() => hex_or_uuid(id),
        _ => None,
    };
    // The number is the same whatever base either side wrote it in, so a known response style
    // needs one key. Only a response whose style was guessed (Auto) and that was hex with no
    // letters sits under another key: its digits read as decimal.
    if let Some(x) = dec {
        c.push(CanonId::num(x), Reading::Decimal);
    }
    if let Some(x) = hex {
        c.push(CanonId::num(x), Reading::Hex);
    }
    if resp == IdStyle::Auto {
        for x in [dec, hex].into_iter().flatten() {
            if let Some(y) = hex_digits_as_decimal(x) {
                c.push(CanonId::num(y), Reading::HexDigitsAsDecimal);
            }
        }
    }
    if c.is_empty() {
        c.push(text_key(id), Reading::Text);
    }
    Ok(c)
}

/// A network_error_code TLV (SMPP 3.4 §5.3.2.31: network type, then a 2-octet error code)
/// as one number, `type << 16 | code`, so that GSM error 0x0001 and ANSI-136 error 0x0001 stay
/// apart.
pub fn network_error_code(tlv: &[u8]) -> Option<u32> {
    match tlv {
        [t, hi, lo] => Some(u32::from(*t) << 16 | u32::from(*hi) << 8 | u32::from(*lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(resp_style: IdStyle, rcpt_style: IdStyle, resp: &str, rcpt: &str) -> bool {
        let k = resp_key(resp_style, resp.as_bytes()).unwrap();
        receipt_candidates(resp_style, rcpt_style, rcpt.as_bytes())
            .unwrap()
            .iter()
            .any(|(c, _)| c == k)
    }

    #[test]
    fn same_number_in_any_style() {
        use IdStyle::Auto;
        for (resp, rcpt) in [
            ("0001A2F3", "107251"),
            ("0001A2F3", "1a2f3"),
            ("107251", "1A2F3"),
            ("107251", "000107251"),
            ("1a2f3", "0001A2F3"),
            // Hex without letters in the response, decimal in the receipt.
            ("107251", "1077841"),
            ("1077841", "107251"),
            (
                "550e8400-e29b-41d4-a716-446655440000",
                "550E8400E29B41D4A716446655440000",
            ),
            (
                "{550E8400-E29B-41D4-A716-446655440000}",
                "550e8400-e29b-41d4-a716-446655440000",
            ),
            ("MSG-ab-001", "msg-AB-001"),
            (
                "a-very-long-message-id-from-an-aggregator",
                "A-VERY-LONG-MESSAGE-ID-FROM-AN-AGGREGATOR",
            ),
        ] {
            assert!(matches(Auto, Auto, resp, rcpt), "{resp} / {rcpt}");
        }
        assert!(!matches(Auto, Auto, "107251", "107252"));
        assert!(!matches(Auto, Auto, "msg-1", "msg-2"));
    }

    #[test]
    fn configured_styles_need_one_lookup() {
        let c = receipt_candidates(IdStyle::Hex, IdStyle::Decimal, b"107251").unwrap();
        assert_eq!(c.len(), 1);
        assert!(matches(
            IdStyle::Hex,
            IdStyle::Decimal,
            "0001A2F3",
            "107251"
        ));
        assert!(matches(IdStyle::Hex, IdStyle::Decimal, "107251", "1077841"));
        assert!(matches(IdStyle::Decimal, IdStyle::Hex, "1077841", "107251"));
        assert!(!matches(
            IdStyle::Decimal,
            IdStyle::Decimal,
            "1077841",
            "107251"
        ));
        assert!(matches(IdStyle::Text, IdStyle::Text, "00Ab1", "aB1"));
    }

    #[test]
    fn helpers() {
        assert_eq!(hex_digits_as_decimal(0x107251), Some(107_251));
        assert_eq!(hex_digits_as_decimal(0x1a), None);
        assert_eq!(
            parse_hex(b"ffffffffffffffffffffffffffffffff"),
            Some(u128::MAX)
        );
        assert_eq!(parse_hex(b"1ffffffffffffffffffffffffffffffff"), None);
        assert_eq!(
            parse_decimal(b"340282366920938463463374607431768211455"),
            Some(u128::MAX)
        );
        assert_eq!(
            parse_decimal(b"340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(trim(b" \x00 12 \x00"), b"12");
        assert_eq!(resp_key(IdStyle::Auto, b"  "), Err(IdError::Empty));
        assert_eq!(network_error_code(&[3, 0, 0x0b]), Some(0x03_000b));
        assert_eq!(network_error_code(&[3, 0]), None);
    }
}
