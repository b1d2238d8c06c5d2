//! Destination prefixes: E.164 digits, a packed key, and a table for longest-prefix match.

use std::collections::HashMap;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::dlr::hash::FastState;

/// The longest E.164 number has 15 digits, so no prefix that could ever match is longer.
pub const MAX_DIGITS: usize = 15;

/// A digit string of at most 15 digits packed in a `u64`: four bits per digit (digit + 1, so
/// that a zero nibble ends the string), first digit in the highest nibble used. Two keys are
/// equal exactly when their digit strings are, and hashing one is hashing a `u64`, which is why
/// health statistics are keyed by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PrefixKey(u64);

impl PrefixKey {
    /// Packs a string of ASCII digits; `None` when it is empty, longer than 15 digits, or has
    /// anything but digits in it.
    pub fn parse(digits: &str) -> Option<PrefixKey> {
        Self::from_bytes(digits.as_bytes())
    }

    /// As [`PrefixKey::parse`], over bytes.
    pub fn from_bytes(digits: &[u8]) -> Option<PrefixKey> {
        if digits.is_empty() || digits.len() > MAX_DIGITS {
            return None;
        }
        let mut v = 0u64;
        for &b in digits {
            if !b.is_ascii_digit() {
                return None;
            }
            v = (v << 4) | u64::from(b - b'0' + 1);
        }
        Some(PrefixKey(v))
    }

    /// Number of digits.
    pub fn len(self) -> usize {
        (64 - self.0.leading_zeros() as usize).div_ceil(4)
    }

    /// Never true for a key built by [`PrefixKey::parse`]; present for clippy's sake and for
    /// the default key.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The digits, written into `buf`; returns the used part.
    pub fn write_digits(self, buf: &mut [u8; MAX_DIGITS]) -> &str {
        let n = self.len();
        for (i, slot) in buf[..n].iter_mut().enumerate() {
            let nibble = (self.0 >> (4 * (n - 1 - i))) & 0xf;
            *slot = b'0' + (nibble as u8).saturating_sub(1);
        }
        // Only ASCII digits were written.
        std::str::from_utf8(&buf[..n]).unwrap_or_default()
    }

    /// Whether `self`'s digits start `other`'s (a key is a prefix of itself).
    pub fn is_prefix_of(self, other: PrefixKey) -> bool {
        let (a, b) = (self.len(), other.len());
        a <= b && a > 0 && other.0 >> (4 * (b - a)) == self.0
    }

    /// The raw packed value, for callers that want their own maps.
    pub fn raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PrefixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; MAX_DIGITS];
        f.write_str(self.write_digits(&mut buf))
    }
}

impl fmt::Debug for PrefixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrefixKey({self})")
    }
}

impl Serialize for PrefixKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// True when `s` is a non-empty string of ASCII digits.
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Prefixes mapped to values, for longest-prefix match over destination digits.
///
/// One hash map keyed by [`PrefixKey`] (which encodes the length), plus a bitmask of the
/// lengths present. A lookup packs the destination's leading digits once, then probes the
/// present lengths from the longest down. The probes do not depend on each other, so the CPU
/// overlaps their cache misses; a digit prefixes of 10,000 prefixes is a chain of dependent loads
/// over more than a megabyte and measured slower.
#[derive(Clone, Debug)]
pub struct PrefixMap<T> {
    map: HashMap<PrefixKey, u32, FastState>,
    values: Vec<T>,
    /// Bit `n` set when some prefix has `n` digits.
    lengths: u16,
}

impl<T> Default for PrefixMap<T> {
    fn default() -> Self {
        PrefixMap {
            map: HashMap::with_hasher(FastState::new()),
            values: Vec::new(),
            lengths: 0,
        }
    }
}

impl<T> PrefixMap<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts `value` under `digits`; anything but a non-empty digit string of at most 15
    /// digits is not inserted. Returns true when a value was already there (and is now
    /// replaced).
    pub fn insert(&mut self, digits: &str, value: T) -> bool {
        let Some(key) = PrefixKey::parse(digits) else {
            return false;
        };
        match self.map.get(&key) {
            Some(&i) => {
                self.values[i as usize] = value;
                true
            }
            None => {
                self.map.insert(key, self.values.len() as u32);
                self.values.push(value);
                self.lengths |= 1 << key.len();
                false
            }
        }
    }

    /// The value of the longest prefix of `digits` present, with that prefix's length. Stops
    /// at the first non-digit.
    #[inline]
    pub fn longest_match(&self, digits: &[u8]) -> Option<(&T, usize)> {
        let mut keys = [0u64; MAX_DIGITS + 1];
        let mut v = 0u64;
        let mut n = 0;
        for &b in digits.iter().take(MAX_DIGITS) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = (v << 4) | u64::from(d + 1);
            n += 1;
            keys[n] = v;
        }
        let mut mask = u32::from(self.lengths) & ((1u32 << (n + 1)) - 2);
        while mask != 0 {
            let len = 31 - mask.leading_zeros() as usize;
            if let Some(&i) = self.map.get(&PrefixKey(keys[len])) {
                return Some((&self.values[i as usize], len));
            }
            mask &= !(1 << len);
        }
        None
    }

    /// Number of values stored.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_and_orders_by_digits() {
        for s in ["1", "91", "9198", "0", "000", "123456789012345"] {
            let k = PrefixKey::parse(s).unwrap();
            assert_eq!(k.to_string(), s);
            assert_eq!(k.len(), s.len());
        }
        assert_ne!(PrefixKey::parse("0"), PrefixKey::parse("00"));
        assert_eq!(PrefixKey::parse(""), None);
        assert_eq!(PrefixKey::parse("9a"), None);
        assert_eq!(PrefixKey::parse("1234567890123456"), None);
        let k = |s| PrefixKey::parse(s).unwrap();
        assert!(k("91").is_prefix_of(k("9198")));
        assert!(k("91").is_prefix_of(k("91")));
        assert!(!k("9198").is_prefix_of(k("91")));
        assert!(!k("92").is_prefix_of(k("9198")));
        assert!(!k("0").is_prefix_of(k("10")));
    }

    #[test]
    fn finds_the_longest_prefix() {
        let mut t = PrefixMap::new();
        t.insert("9", 'a');
        t.insert("91", 'b');
        t.insert("9198", 'c');
        assert_eq!(t.longest_match(b"919812345678"), Some((&'c', 4)));
        assert_eq!(t.longest_match(b"919712345678"), Some((&'b', 2)));
        assert_eq!(t.longest_match(b"92"), Some((&'a', 1)));
        assert_eq!(t.longest_match(b"1"), None);
        assert_eq!(t.longest_match(b""), None);
        assert!(t.insert("91", 'd'));
        assert_eq!(t.longest_match(b"9190"), Some((&'d', 2)));
        assert_eq!(t.len(), 3);
        // Stops at a non-digit and at 15 digits.
        assert_eq!(t.longest_match(b"91-98"), Some((&'d', 2)));
        t.insert("123456789012345", 'e');
        assert_eq!(t.longest_match(b"1234567890123456789"), Some((&'e', 15)));
        assert!(!t.insert("1234567890123456", 'f'));
    }
}
