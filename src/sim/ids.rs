//! Message ids the way carriers write them.
//!
//! Every accepted submit_sm gets a number; the persona's id format turns it into the
//! message_id of submit_sm_resp (SMPP 3.4 §4.4.2, C-octet string of at most 65 octets), and the
//! receipt format turns the *same number* into the `id:` of the receipt text and the
//! receipted_message_id TLV. Carriers really do answer with `0A1F3B` and report `id:663355`:
//! a gateway has to match those, and this is how the simulator makes it prove it.
//!
//! Numbers count up from `first` in submission order, so ids are reproducible. With the `uuid`
//! style (in either format) the number is instead 122 random bits from the persona's seeded
//! stream, laid out as a version 4 UUID.

use serde::Deserialize;

/// How a number is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdStyle {
    /// `123456`
    #[default]
    Decimal,
    /// `1e240`
    Hex,
    /// `0f8e7a8c-3c1b-4d5e-9f00-1b2c3d4e5f60`
    Uuid,
}

/// Letter case for hex digits (hex and uuid styles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdCase {
    #[default]
    Lower,
    Upper,
}

/// One id format: style, zero-padded width, case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdFormat {
    #[serde(default)]
    pub style: IdStyle,
    /// Left-pad with zeros to this many characters (decimal and hex); 0 = no padding. Never
    /// truncates.
    #[serde(default)]
    pub width: u8,
    #[serde(default)]
    pub case: IdCase,
}

/// Longest id we write: a u128 in decimal is 39 digits, a UUID 36; padding is capped at 64
/// (65 with the NUL, the submit_sm_resp maximum).
pub const MAX_ID_LEN: usize = 64;

/// A formatted id on the stack.
#[derive(Clone, Copy)]
pub struct IdBuf {
    buf: [u8; MAX_ID_LEN],
    len: u8,
}

impl IdBuf {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, letters and '-' are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl std::fmt::Debug for IdBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl IdFormat {
    /// Writes `value` in this format.
    pub fn format(&self, value: u128) -> IdBuf {
        let digits: &[u8; 16] = match self.case {
            IdCase::Lower => b"0123456789abcdef",
            IdCase::Upper => b"0123456789ABCDEF",
        };
        let mut out = IdBuf {
            buf: [b'0'; MAX_ID_LEN],
            len: 0,
        };
        if self.style == IdStyle::Uuid {
            // 8-4-4-4-12 hex digits, most significant first (RFC 9562 §4).
            let mut pos = 0;
            for i in 0..32 {
                if matches!(i, 8 | 12 | 16 | 20) {
                    out.buf[pos] = b'-';
                    pos += 1;
                }
                let nibble = (value >> (124 - 4 * i)) & 0xF;
                out.buf[pos] = digits[nibble as usize];
                pos += 1;
            }
            out.len = pos as u8;
            return out;
        }
        let radix: u32 = if self.style == IdStyle::Hex { 16 } else { 10 };
        // Digits right to left into a scratch buffer, then padded into place. Counter ids fit
        // in 64 bits, where division is several times cheaper than in 128.
        let mut scratch = [0u8; 40];
        let mut n = 0;
        if let Ok(mut v) = u64::try_from(value) {
            let r = u64::from(radix);
            loop {
                scratch[n] = digits[(v % r) as usize];
                n += 1;
                v /= r;
                if v == 0 {
                    break;
                }
            }
        } else {
            let r = u128::from(radix);
            let mut v = value;
            loop {
                scratch[n] = digits[(v % r) as usize];
                n += 1;
                v /= r;
                if v == 0 {
                    break;
                }
            }
        }
        let width = usize::from(self.width).min(MAX_ID_LEN);
        let pad = width.saturating_sub(n);
        // out.buf is pre-filled with '0', so padding is already there.
        for i in 0..n {
            out.buf[pad + i] = scratch[n - 1 - i];
        }
        out.len = (pad + n) as u8;
        out
    }
}

/// Turns a uuid-ish random draw into version 4 layout (RFC 9562 §5.4).
pub fn uuid_v4(random: u128) -> u128 {
    let v = random & !(0xF << 76) | (0x4 << 76);
    v & !(0x3 << 62) | (0x2 << 62)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(style: IdStyle, width: u8, case: IdCase) -> IdFormat {
        IdFormat { style, width, case }
    }

    #[test]
    fn styles() {
        use IdCase::*;
        use IdStyle::*;
        assert_eq!(f(Decimal, 0, Lower).format(0).as_str(), "0");
        assert_eq!(f(Decimal, 0, Lower).format(123_456).as_str(), "123456");
        assert_eq!(f(Decimal, 10, Lower).format(42).as_str(), "0000000042");
        assert_eq!(f(Hex, 0, Lower).format(0xA1F).as_str(), "a1f");
        assert_eq!(f(Hex, 0, Upper).format(0xA1F).as_str(), "A1F");
        assert_eq!(f(Hex, 8, Upper).format(0xA1F).as_str(), "00000A1F");
        assert_eq!(
            f(Hex, 2, Upper).format(0xA1F).as_str(),
            "A1F",
            "never truncates"
        );
        assert_eq!(
            f(Decimal, 0, Lower).format(u128::MAX).as_str(),
            "340282366920938463463374607431768211455"
        );
        assert_eq!(
            f(Decimal, 200, Lower).format(1).as_bytes().len(),
            MAX_ID_LEN
        );
    }

    #[test]
    fn uuid_layout() {
        let v = uuid_v4(u128::MAX);
        let s = f(IdStyle::Uuid, 0, IdCase::Lower).format(v);
        assert_eq!(s.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let s = f(IdStyle::Uuid, 0, IdCase::Upper).format(uuid_v4(0));
        assert_eq!(s.as_str(), "00000000-0000-4000-8000-000000000000");
    }
}
