//! A fast hasher for the hot maps of the tracker and the health snapshot.

use std::hash::{BuildHasher, Hasher};

/// A multiply-rotate hasher with a murmur3 finish, seeded per process. Keys here are short
/// (ids, prefixes, carrier names) and SipHash would be a good part of the cost of a receipt
/// match or a routing decision. The random seed keeps tables from being predictable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastState(u64);

impl FastState {
    pub(crate) fn new() -> FastState {
        FastState(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) | 1)
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(23) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

impl Default for FastState {
    fn default() -> Self {
        FastState::new()
    }
}
