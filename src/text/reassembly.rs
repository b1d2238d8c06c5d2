//! Reassembly of multipart mobile-originated messages, sans-IO.
//!
//! Parts arrive in any order, concatenated with an 8-bit or 16-bit reference UDH
//! (TS 23.040 §9.2.3.24.1 and .8) or with SAR TLVs (SMPP 3.4 §5.3.2.22-24). A set is keyed
//! by (source address, reference, total). The caller passes `now` to every call and polls
//! for sets that timed out; memory is bounded by the number of pending sets and the octets
//! they hold, the oldest set going first when either bound is hit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::decode::{Body, join_into, split_udh, wire_for};
use super::segment::SarValues;
use super::{DefaultAlphabet, TextError};

/// Limits and the carrier's default alphabet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// How long a set may stay incomplete after its first part.
    pub timeout: Duration,
    /// Most sets pending at once.
    pub max_pending: usize,
    /// Most user data octets held across pending sets.
    pub max_buffered_octets: usize,
    /// What data_coding 0 means at the carrier.
    pub default_alphabet: DefaultAlphabet,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            timeout: Duration::from_secs(300),
            max_pending: 10_000,
            max_buffered_octets: 16 << 20,
            default_alphabet: DefaultAlphabet::GsmUnpacked,
        }
    }
}

/// One incoming deliver_sm (or data_sm) worth of text.
#[derive(Debug, Clone, Copy)]
pub struct MoPart<'a> {
    /// source_addr, as the key's first part.
    pub source: &'a str,
    /// data_coding of the PDU.
    pub data_coding: u8,
    /// `short_message` (or message_payload).
    pub short_message: &'a [u8],
    /// esm_class UDHI (0x40).
    pub udhi: bool,
    /// SAR TLVs, when present.
    pub sar: Option<SarValues>,
}

/// A complete message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// Source address.
    pub source: String,
    /// The whole text.
    pub text: String,
    /// Concatenation reference; `None` for a single-part message.
    pub reference: Option<u16>,
    /// Number of parts.
    pub parts: u8,
}

/// What [`Reassembler::push`] did with a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The message is complete (or was never split).
    Complete(Reassembled),
    /// Stored; the set still misses parts.
    Pending {
        /// Distinct parts held.
        received: u8,
        /// Parts in the set.
        total: u8,
    },
    /// A part already held (an SMSC retry); ignored.
    Duplicate,
}

/// Why a set was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not complete within the timeout.
    Timeout,
    /// Dropped to stay within the memory bounds.
    Evicted,
}

/// A set given up before completion; the caller decides whether to deliver the partial text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    /// Source address.
    pub source: String,
    /// Concatenation reference.
    pub reference: u16,
    /// Parts in the set.
    pub total: u8,
    /// Parts received.
    pub received: u8,
    /// The received parts' text in order, missing parts left out.
    pub partial_text: String,
    /// Why it was dropped.
    pub reason: DropReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: String,
    reference: u16,
    total: u8,
}

#[derive(Debug)]
struct PendingSet {
    deadline: Instant,
    /// Arrival order of the set, to evict the oldest first.
    order: u64,
    parts: Vec<Option<Body>>,
    received: u8,
    octets: usize,
}

/// Collects the parts of concatenated messages until each set is complete.
#[derive(Debug)]
pub struct Reassembler {
    config: ReassemblyConfig,
    pending: HashMap<Key, PendingSet>,
    dropped: Vec<Incomplete>,
    buffered: usize,
    next_order: u64,
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new(config: ReassemblyConfig) -> Reassembler {
        Reassembler {
            config,
            pending: HashMap::new(),
            dropped: Vec::new(),
            buffered: 0,
            next_order: 0,
        }
    }

    /// Takes one part. Concatenation comes from the UDH when it has a valid element, else
    /// from the SAR TLVs; a part with neither (or a total of 1) completes at once.
    pub fn push(&mut self, now: Instant, part: MoPart<'_>) -> Result<Pushed, TextError> {
        let (udh, payload) = split_udh(part.short_message, part.udhi)?;
        let wire = wire_for(part.data_coding, self.config.default_alphabet)?;
        let body = Body::read(wire, payload, udh.as_ref());
        let concat = match (udh.and_then(|u| u.concat), part.sar) {
            (Some(c), _) => Some((c.reference, c.total, c.seq)),
            (None, Some(s)) => {
                let (total, seq) = (s.total_segments, s.segment_seqnum);
                if total == 0 || seq == 0 || seq > total {
                    return Err(TextError::BadSegment { seq, total });
                }
                Some((s.msg_ref_num, total, seq))
            }
            (None, None) => None,
        };
        let Some((reference, total, seq)) = concat.filter(|c| c.1 > 1) else {
            let mut text = String::new();
            join_into(std::iter::once(&body), &mut text);
            return Ok(Pushed::Complete(Reassembled {
                source: part.source.to_owned(),
                text,
                reference: concat.map(|c| c.0),
                parts: 1,
            }));
        };

        let key = Key {
            source: part.source.to_owned(),
            reference,
            total,
        };
        if self
            .pending
            .get(&key)
            .is_some_and(|set| set.deadline <= now)
        {
            // A late part of a set whose time is up starts a new set.
            self.drop_set(&key, DropReason::Timeout);
        }
        if !self.pending.contains_key(&key) {
            self.make_room(body.octets());
            let order = self.next_order;
            self.next_order += 1;
            self.pending.insert(
                key.clone(),
                PendingSet {
                    deadline: now + self.config.timeout,
                    order,
                    parts: vec![None; usize::from(total)],
                    received: 0,
                    octets: 0,
                },
            );
        } else if self.buffered + body.octets() > self.config.max_buffered_octets {
            self.make_room_except(body.octets(), &key);
        }
        let Some(set) = self.pending.get_mut(&key) else {
            return Ok(Pushed::Pending { received: 0, total });
        };
        let Some(slot) = set.parts.get_mut(usize::from(seq) - 1) else {
            return Err(TextError::BadSegment { seq, total });
        };
        if slot.is_some() {
            return Ok(Pushed::Duplicate);
        }
        let octets = body.octets();
        *slot = Some(body);
        set.received += 1;
        set.octets += octets;
        self.buffered += octets;
        if set.received < total {
            return Ok(Pushed::Pending {
                received: set.received,
                total,
            });
        }
        let Some(set) = self.pending.remove(&key) else {
            return Ok(Pushed::Pending { received: 0, total });
        };
        self.buffered -= set.octets;
        let mut text = String::new();
        join_into(set.parts.iter().flatten(), &mut text);
        Ok(Pushed::Complete(Reassembled {
            source: key.source,
            text,
            reference: Some(reference),
            parts: total,
        }))
    }

    /// Sets that timed out by `now`, and those evicted since the last call.
    pub fn poll_expired(&mut self, now: Instant) -> Vec<Incomplete> {
        let expired: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            self.drop_set(&key, DropReason::Timeout);
        }
        std::mem::take(&mut self.dropped)
    }

    /// The earliest deadline of a pending set: when to call [`Self::poll_expired`] next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|s| s.deadline).min()
    }

    /// Sets waiting for parts.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// User data octets held.
    pub fn buffered_octets(&self) -> usize {
        self.buffered
    }

    fn drop_set(&mut self, key: &Key, reason: DropReason) {
        if let Some(set) = self.pending.remove(key) {
            self.buffered -= set.octets;
            let mut partial_text = String::new();
            join_into(set.parts.iter().flatten(), &mut partial_text);
            self.dropped.push(Incomplete {
                source: key.source.clone(),
                reference: key.reference,
                total: key.total,
                received: set.received,
                partial_text,
                reason,
            });
        }
    }

    /// Evicts the oldest sets until a new set with `incoming` octets fits.
    fn make_room(&mut self, incoming: usize) {
        while !self.pending.is_empty()
            && (self.pending.len() >= self.config.max_pending
                || self.buffered + incoming > self.config.max_buffered_octets)
        {
            let Some(oldest) = self.oldest(None) else {
                break;
            };
            self.drop_set(&oldest, DropReason::Evicted);
        }
    }

    /// Evicts the oldest other sets until `incoming` more octets fit.
    fn make_room_except(&mut self, incoming: usize, keep: &Key) {
        while self.buffered + incoming > self.config.max_buffered_octets {
            let Some(oldest) = self.oldest(Some(keep)) else {
                break;
            };
            self.drop_set(&oldest, DropReason::Evicted);
        }
    }

    fn oldest(&self, except: Option<&Key>) -> Option<Key> {
        self.pending
            .iter()
            .filter(|(k, _)| Some(*k) != except)
            .min_by_key(|(_, s)| s.order)
            .map(|(k, _)| k.clone())
    }
}
