//! Receipts that arrived before their submit_sm_resp.
//!
//! It happens: the SMSC sends the receipt on a receiver bind while the response is still in
//! the transmitter's socket buffer. Such a receipt is held here for a short time, under every
//! key its id could match, and claimed when the response arrives. Bounded in count and age:
//! a receipt for a message we never sent must not stay forever.

use std::collections::{HashMap, VecDeque};

use super::Key;
use super::state::DlrState;

/// One held receipt.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    pub keys: [Key; 4],
    pub nkeys: u8,
    pub arrived_ms: u64,
    pub state: DlrState,
    pub err: Option<u32>,
}

#[derive(Debug, Default)]
pub(super) struct EarlyBuffer {
    /// Key to sequence numbers of the held receipts under it, oldest first.
    by_key: HashMap<Key, Vec<u64>>,
    /// Receipts in arrival order; `None` once claimed. Sequence number = `base` + index.
    queue: VecDeque<Option<Held>>,
    base: u64,
    live: usize,
}

impl EarlyBuffer {
    /// Approximate heap bytes.
    pub fn memory_bytes(&self) -> usize {
        self.queue.capacity() * size_of::<Option<Held>>()
            + self.by_key.capacity() * (size_of::<(Key, Vec<u64>)>() + 1)
            + self
                .by_key
                .values()
                .map(|v| v.capacity() * 8)
                .sum::<usize>()
    }

    pub fn live(&self) -> usize {
        self.live
    }

    /// Holds a receipt; returns its sequence number (for [`EarlyBuffer::take_back`]) and how
    /// many old ones were dropped to make room.
    pub fn hold(&mut self, held: Held, capacity: usize) -> (u64, u64) {
        let mut dropped = 0;
        while self.live >= capacity.max(1) {
            if self.pop_front().is_some() {
                dropped += 1;
            }
        }
        let seq = self.base + self.queue.len() as u64;
        for k in &held.keys[..usize::from(held.nkeys)] {
            self.by_key.entry(*k).or_default().push(seq);
        }
        self.queue.push_back(Some(held));
        self.live += 1;
        (seq, dropped)
    }

    /// Claims every held receipt filed under `key`, oldest first.
    pub fn claim(&mut self, key: &Key) -> Vec<Held> {
        let Some(seqs) = self.by_key.remove(key) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            if let Some(held) = self.take(seq) {
                out.push(held);
            }
        }
        out
    }

    /// Claims the receipt with sequence number `seq` if nobody has.
    fn take(&mut self, seq: u64) -> Option<Held> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        let held = self.queue.get_mut(i)?.take()?;
        self.unfile(&held, seq);
        self.live -= 1;
        Some(held)
    }

    /// Takes back the receipt with sequence number `seq`, if nobody has claimed (or dropped)
    /// it: used by a receipt that finds its response after filing itself. Only its own: the
    /// newest receipt under one of its keys may be another receipt (the same message's next
    /// state from another bind, or another message whose id reads the same), which its own
    /// response will claim and report.
    pub fn take_back(&mut self, seq: u64) -> Option<Held> {
        self.take(seq)
    }

    /// Drops receipts older than `ttl_ms`; returns how many.
    pub fn expire(&mut self, now_ms: u64, ttl_ms: u64) -> u64 {
        let mut dropped = 0;
        loop {
            match self.queue.front() {
                Some(None) => {
                    self.queue.pop_front();
                    self.base += 1;
                }
                Some(Some(h)) if h.arrived_ms.saturating_add(ttl_ms) <= now_ms => {
                    self.pop_front();
                    dropped += 1;
                }
                _ => break,
            }
        }
        dropped
    }

    fn pop_front(&mut self) -> Option<Held> {
        let front = self.queue.pop_front()?;
        let seq = self.base;
        self.base += 1;
        let held = front?;
        self.unfile(&held, seq);
        self.live -= 1;
        Some(held)
    }

    fn unfile(&mut self, held: &Held, seq: u64) {
        for k in &held.keys[..usize::from(held.nkeys)] {
            if let Some(v) = self.by_key.get_mut(k) {
                v.retain(|&s| s != seq);
                if v.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlr::{CanonId, CarrierRef};

    fn key(n: u128) -> Key {
        Key::new(CarrierRef(0), CanonId::num(n))
    }

    fn held(keys: &[u128], state: DlrState) -> Held {
        let mut h = Held {
            keys: [key(0); 4],
            nkeys: 0,
            arrived_ms: 0,
            state,
            err: None,
        };
        for (slot, k) in h.keys.iter_mut().zip(keys) {
            *slot = key(*k);
            h.nkeys += 1;
        }
        h
    }

    #[test]
    fn take_back_takes_only_its_own() {
        let mut b = EarlyBuffer::default();
        let (enroute, _) = b.hold(held(&[10, 16], DlrState::Enroute), 10);
        let (delivered, _) = b.hold(held(&[16], DlrState::Delivered), 10);
        // The response under 16 claims both, oldest first.
        let claimed: Vec<DlrState> = b.claim(&key(16)).iter().map(|h| h.state).collect();
        assert_eq!(claimed, [DlrState::Enroute, DlrState::Delivered]);
        // Neither receipt can take itself back, and nothing else is taken in its place.
        assert!(b.take_back(enroute).is_none());
        assert!(b.take_back(delivered).is_none());
        assert_eq!(b.live(), 0);

        let (first, _) = b.hold(held(&[10, 16], DlrState::Enroute), 10);
        let (second, _) = b.hold(held(&[16, 22], DlrState::Delivered), 10);
        assert_eq!(b.take_back(first).map(|h| h.state), Some(DlrState::Enroute));
        assert!(b.claim(&key(10)).is_empty(), "unfiled from every key");
        assert_eq!(b.live(), 1);
        assert_eq!(
            b.claim(&key(22))
                .iter()
                .map(|h| h.state)
                .collect::<Vec<_>>(),
            [DlrState::Delivered]
        );
        assert!(b.take_back(second).is_none());
    }

    #[test]
    fn take_back_after_drop_finds_nothing() {
        let mut b = EarlyBuffer::default();
        let (old, _) = b.hold(held(&[1], DlrState::Delivered), 1);
        let (new, dropped) = b.hold(held(&[2], DlrState::Delivered), 1);
        assert_eq!(dropped, 1);
        assert!(b.take_back(old).is_none());
        assert!(b.take_back(new).is_some());
        assert_eq!(b.live(), 0);
    }
}
