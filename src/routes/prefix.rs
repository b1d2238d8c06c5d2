//! Destination prefixes: E.164 digits, a packed key, and a digit trie for longest match.

use std::fmt;

use serde::{Serialize, Serializer};

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

const NONE: u32 = u32::MAX;

/// A decimal digit trie mapping prefixes to values; lookup walks the destination's digits once
/// and remembers the deepest node that holds a value, so a lookup costs at most 15 array reads
/// whatever the table size.
#[derive(Clone, Debug)]
pub struct PrefixTrie<T> {
    children: Vec<[u32; 10]>,
    value: Vec<u32>,
    values: Vec<T>,
}

impl<T> Default for PrefixTrie<T> {
    fn default() -> Self {
        PrefixTrie {
            children: vec![[NONE; 10]],
            value: vec![NONE],
            values: Vec::new(),
        }
    }
}

impl<T> PrefixTrie<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts `value` under `digits`; anything but a non-empty digit string is not inserted.
    /// Returns true when a value was already there (and is now replaced).
    pub fn insert(&mut self, digits: &str, value: T) -> bool {
        if !is_digits(digits) {
            return false;
        }
        let mut node = 0usize;
        for b in digits.bytes() {
            let d = usize::from(b - b'0');
            let next = self.children[node][d];
            node = if next == NONE {
                let id = self.children.len();
                self.children.push([NONE; 10]);
                self.value.push(NONE);
                self.children[node][d] = id as u32;
                id
            } else {
                next as usize
            };
        }
        let replaced = self.value[node] != NONE;
        if replaced {
            self.values[self.value[node] as usize] = value;
        } else {
            self.value[node] = self.values.len() as u32;
            self.values.push(value);
        }
        replaced
    }

    /// The value of the longest prefix of `digits` present in the trie, with that prefix's
    /// length. Stops at the first non-digit.
    #[inline]
    pub fn longest_match(&self, digits: &[u8]) -> Option<(&T, usize)> {
        let mut node = 0usize;
        let mut best = None;
        for (i, &b) in digits.iter().enumerate() {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            let next = self.children[node][usize::from(d)];
            if next == NONE {
                break;
            }
            node = next as usize;
            let v = self.value[node];
            if v != NONE {
                best = Some((&self.values[v as usize], i + 1));
            }
        }
        best
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
    }

    #[test]
    fn trie_finds_the_longest_prefix() {
        let mut t = PrefixTrie::new();
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
    }
}
