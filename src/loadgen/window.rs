//! The window of one bind: which sequence numbers are unacknowledged and when each was sent.
//!
//! A fixed array of slots indexed by `sequence_number & mask`, sized to a power of two at least
//! twice the window. Sequence numbers go up by one (SMPP 3.4 §5.1.4 asks for monotonic ones);
//! when the slot of the next number is still taken by an older PDU that an SMSC answers out of
//! order, that number is skipped, which with more slots than the window can hold always ends
//! within a few steps. Sending and answering are one array access each: no map, no
//! allocation, no lock.

/// Largest sequence number: SMPP 3.4 §5.1.4 allows 0x00000001..=0x7FFFFFFF.
const SEQ_MAX: u32 = 0x7FFF_FFFF;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// 0 when free.
    seq: u32,
    /// Send time (or scheduled time), ns since the run started.
    sent_ns: u64,
}

pub struct Window {
    slots: Box<[Slot]>,
    mask: u32,
    limit: u32,
    in_flight: u32,
    next_seq: u32,
    max_in_flight: u32,
}

impl Window {
    /// A window of `limit` unacknowledged PDUs whose sequence numbers start at `first_seq`.
    pub fn new(limit: u32, first_seq: u32) -> Window {
        let size = (limit.max(1) * 2).next_power_of_two();
        Window {
            slots: vec![Slot::default(); size as usize].into_boxed_slice(),
            mask: size - 1,
            limit,
            in_flight: 0,
            next_seq: first_seq.clamp(1, SEQ_MAX),
            max_in_flight: 0,
        }
    }

    /// Room for another PDU.
    #[inline]
    pub fn has_room(&self) -> bool {
        self.in_flight < self.limit
    }

    /// Free slots.
    #[inline]
    pub fn room(&self) -> u32 {
        self.limit - self.in_flight
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Most PDUs that were ever unacknowledged at once.
    pub fn max_in_flight(&self) -> u32 {
        self.max_in_flight
    }

    /// Takes a slot for a PDU sent at `sent_ns`; returns its sequence number.
    /// Call only when [`Window::has_room`].
    #[inline]
    pub fn open(&mut self, sent_ns: u64) -> u32 {
        debug_assert!(self.has_room());
        let mut seq = self.next_seq;
        while self.slots[(seq & self.mask) as usize].seq != 0 {
            seq = next(seq);
        }
        self.slots[(seq & self.mask) as usize] = Slot { seq, sent_ns };
        self.next_seq = next(seq);
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        seq
    }

    /// Closes the slot of `seq`; returns its send time, or `None` when `seq` is not
    /// outstanding (a late answer after a timeout, or a number we never sent).
    #[inline]
    pub fn close(&mut self, seq: u32) -> Option<u64> {
        let slot = &mut self.slots[(seq & self.mask) as usize];
        if slot.seq != seq || seq == 0 {
            return None;
        }
        slot.seq = 0;
        self.in_flight -= 1;
        Some(slot.sent_ns)
    }

    /// A sequence number for a PDU that takes no slot (unbind).
    pub fn take_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = next(seq);
        seq
    }

    /// Frees every slot sent at or before `before_ns`; returns how many.
    pub fn expire(&mut self, before_ns: u64) -> u32 {
        let mut n = 0;
        for slot in self.slots.iter_mut() {
            if slot.seq != 0 && slot.sent_ns <= before_ns {
                slot.seq = 0;
                n += 1;
            }
        }
        self.in_flight -= n;
        n
    }

    /// Send time of the oldest outstanding PDU.
    pub fn oldest(&self) -> Option<u64> {
        self.slots
            .iter()
            .filter(|s| s.seq != 0)
            .map(|s| s.sent_ns)
            .min()
    }
}

#[inline]
fn next(seq: u32) -> u32 {
    if seq >= SEQ_MAX { 1 } else { seq + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_use_is_sequential() {
        let mut w = Window::new(4, 1);
        let seqs: Vec<u32> = (0..4).map(|t| w.open(t)).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        assert!(!w.has_room());
        assert_eq!(w.close(2), Some(1));
        assert_eq!(w.close(2), None, "answered twice");
        assert_eq!(w.open(9), 5);
        assert_eq!(w.max_in_flight(), 4);
    }

    #[test]
    fn a_straggler_is_skipped_not_overwritten() {
        // 8 slots for a window of 4: seq 1 stays out while 2..=8 come and go.
        let mut w = Window::new(4, 1);
        assert_eq!(w.open(100), 1);
        for s in 2..=8 {
            assert_eq!(w.open(s.into()), s);
            assert_eq!(w.close(s), Some(u64::from(s)));
        }
        // 9 maps to seq 1's slot: skipped.
        assert_eq!(w.open(0), 10);
        assert_eq!(w.close(1), Some(100));
        assert_eq!(w.close(10), Some(0));
        assert_eq!(w.in_flight(), 0);
    }

    #[test]
    fn wraps_before_the_spec_limit() {
        let mut w = Window::new(2, SEQ_MAX);
        assert_eq!(w.open(0), SEQ_MAX);
        assert_eq!(w.open(0), 1);
    }

    #[test]
    fn expiry_frees_old_slots() {
        let mut w = Window::new(8, 1);
        for t in 0..8 {
            w.open(t * 10);
        }
        assert_eq!(w.oldest(), Some(0));
        assert_eq!(w.expire(35), 4);
        assert_eq!(w.in_flight(), 4);
        assert_eq!(w.close(1), None);
        assert_eq!(w.close(5), Some(40));
        assert_eq!(w.oldest(), Some(50));
    }
}
