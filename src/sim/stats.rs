//! Counters and the log of what a persona received.
//!
//! The hot path never takes a lock per PDU: a connection counts into plain integers
//! ([`Local`]) while it works through a read batch, then folds them into the persona's atomics
//! (and, for the per-status maps, one short lock) once per batch. The received log is a ring of
//! the last N messages plus a bounded duplicate detector, so memory stays flat however long a
//! benchmark runs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::{Bytes, BytesMut};
use gannet_smpp::{Address, CommandStatus};
use serde::{Deserialize, Serialize};

use super::config::status_name;
use super::ids::IdFormat;
use super::receipt::stat_text;
use super::rng::hash_bytes;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// A persona's shared counters.
        #[derive(Default)]
        pub struct Counters {
            $(pub $name: AtomicU64,)*
            /// Receipts sent, by message_state.
            pub receipts: [AtomicU64; 10],
            resps: Mutex<BTreeMap<u32, u64>>,
            bind_failures: Mutex<BTreeMap<u32, u64>>,
        }

        /// One connection's counts for the batch in progress.
        #[derive(Default)]
        pub struct Local {
            $(pub $name: u64,)*
            pub receipts: [u64; 10],
            resps: Vec<(u32, u64)>,
            bind_failures: Vec<(u32, u64)>,
        }

        impl Local {
            /// Adds the batch to the shared counters and starts a new batch.
            pub fn flush(&mut self, c: &Counters) {
                $(if self.$name != 0 {
                    c.$name.fetch_add(self.$name, Relaxed);
                    self.$name = 0;
                })*
                for (i, n) in self.receipts.iter_mut().enumerate() {
                    if *n != 0 {
                        c.receipts[i].fetch_add(*n, Relaxed);
                        *n = 0;
                    }
                }
                for (map, local) in [(&c.resps, &mut self.resps), (&c.bind_failures, &mut self.bind_failures)] {
                    if !local.is_empty() {
                        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
                        for (s, n) in local.drain(..) {
                            *m.entry(s).or_default() += n;
                        }
                    }
                }
            }
        }

        impl Counters {
            pub fn reset(&self) {
                $(self.$name.store(0, Relaxed);)*
                for r in &self.receipts {
                    r.store(0, Relaxed);
                }
                self.resps.lock().unwrap_or_else(|p| p.into_inner()).clear();
                self.bind_failures.lock().unwrap_or_else(|p| p.into_inner()).clear();
            }

            /// The counters as the stats endpoint shows them; gauges are filled by the caller.
            pub fn snapshot(&self) -> PersonaStats {
                let names = |m: &Mutex<BTreeMap<u32, u64>>| {
                    m.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .map(|(s, n)| (status_name(CommandStatus(*s)), *n))
                        .collect()
                };
                PersonaStats {
                    $($name: self.$name.load(Relaxed),)*
                    resps: names(&self.resps),
                    bind_failures: names(&self.bind_failures),
                    receipts_sent: self
                        .receipts
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| n.load(Relaxed) != 0)
                        .map(|(i, n)| (stat_text(i as u8).to_string(), n.load(Relaxed)))
                        .collect(),
                    ..PersonaStats::default()
                }
            }
        }

        /// What a persona has seen and done since start (or the last reset).
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct PersonaStats {
            $($(#[$doc])* pub $name: u64,)*
            /// Binds open now.
            pub binds_active: u64,
            /// Refused binds, by command_status name.
            pub bind_failures: BTreeMap<String, u64>,
            /// submit_sm_resp (and data_sm_resp) sent, by command_status name.
            pub resps: BTreeMap<String, u64>,
            /// Receipts sent, by `stat:` (DELIVRD, UNDELIV, ENROUTE …), duplicates included.
            pub receipts_sent: BTreeMap<String, u64>,
            /// Receipts and MO waiting for a receiver bind now.
            pub receipts_queued: u64,
            /// Receipts waiting for their time now.
            pub receipts_scheduled: u64,
        }
    };
}

counters! {
    /// Successful binds.
    binds,
    /// submit_sm (and data_sm) PDUs received, whatever the answer.
    submits,
    /// submit_sm PDUs accepted (ESME_ROK): each part of a concatenated message counts.
    segments,
    /// Messages accepted: a concatenated message counts once, when its last part arrives.
    messages,
    /// Messages whose (destination, text) had been received before.
    duplicates,
    enquire_links,
    /// Answered ESME_RTHROTTLED (tps exceeded).
    throttled,
    /// Answered ESME_RMSGQFUL (window exceeded).
    window_full,
    /// submit_sm_resp deliberately not sent (drop_responses fault).
    dropped_resps,
    /// Receipts sent a second time (duplicate_receipts fault).
    duplicate_receipts,
    /// Receipts and MO dropped: the queue for a missing receiver, a bind's backlog or the
    /// wheel of scheduled receipts was full.
    receipts_dropped,
    /// Mobile-originated deliver_sm sent.
    mo_sent,
    /// deliver_sm_resp with an error status (the deliver_sm is not retried).
    deliver_errors,
    /// generic_nack sent for PDUs that could not be read or are not supported.
    generic_nacks,
    /// Binds closed by an unbind from the simulator (fault).
    forced_unbinds,
    /// Binds reset (TCP RST) by the simulator (fault).
    forced_resets,
    /// Connections to a TLS persona whose handshake failed or timed out (a plain client, an
    /// untrusted certificate, a silent peer).
    tls_handshake_failures,
}

impl Local {
    pub fn resp(&mut self, status: CommandStatus) {
        bump(&mut self.resps, status.0);
    }

    pub fn bind_failure(&mut self, status: CommandStatus) {
        bump(&mut self.bind_failures, status.0);
    }
}

fn bump(v: &mut Vec<(u32, u64)>, key: u32) {
    match v.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => v.push((key, 1)),
    }
}

impl PersonaStats {
    /// Responses sent with this status.
    pub fn resps_with(&self, status: CommandStatus) -> u64 {
        self.resps.get(&status_name(status)).copied().unwrap_or(0)
    }

    /// Receipts sent with this `stat:` (`"DELIVRD"`).
    pub fn receipts_with(&self, stat: &str) -> u64 {
        self.receipts_sent.get(stat).copied().unwrap_or(0)
    }

    /// All receipts sent.
    pub fn receipts_total(&self) -> u64 {
        self.receipts_sent.values().sum()
    }
}

/// A received message as the control API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    /// The account that sent it.
    pub system_id: String,
    pub source: String,
    pub destination: String,
    /// The text, decoded by data_coding; a concatenated message is shown whole.
    pub text: String,
    pub data_coding: u8,
    /// submit_sm PDUs it came in.
    pub segments: u16,
    /// The message_id of each part, as given in submit_sm_resp.
    pub message_ids: Vec<String>,
    /// How many times this (destination, text) has been received so far.
    pub seen: u32,
    /// Milliseconds since the simulator started.
    pub at_ms: u64,
}

/// Concatenation info of one part (UDH IE 0x00/0x08, 3GPP TS 23.040 §9.2.3.24.1, or the SAR
/// TLVs of SMPP 3.4 §5.3.2.22-24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
}

/// One accepted submit_sm, as the connection hands it to the log.
pub struct Part {
    pub account: u16,
    pub source: Address,
    pub destination: Address,
    pub data_coding: u8,
    /// The user data without its UDH.
    pub text: Bytes,
    pub number: u128,
    pub concat: Option<Concat>,
    pub at_ms: u64,
}

struct Record {
    account: u16,
    source: Address,
    destination: Address,
    data_coding: u8,
    text: Bytes,
    segments: u16,
    /// The first part's number; the others' (concatenated messages only) in `more`.
    first_number: u128,
    more_numbers: Vec<u128>,
    key: u64,
    at_ms: u64,
}

struct Partial {
    first: Part,
    parts: Vec<Option<Bytes>>,
    numbers: Vec<u128>,
    have: u8,
}

/// Concatenations waiting for parts, at most; the oldest are forgotten first.
const MAX_PARTIALS: usize = 10_000;

/// An identity hasher for keys that are already well-mixed 64-bit fingerprints.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FastMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Counts (destination, text) fingerprints over roughly the last `window` distinct messages
/// with two generations: when the young one is full it becomes the old one. Bounded memory,
/// and anything seen within `window` distinct messages is still found.
struct Seen {
    young: FastMap<u32>,
    old: FastMap<u32>,
    window: usize,
}

impl Seen {
    fn new(window: usize) -> Seen {
        Seen {
            young: FastMap::default(),
            old: FastMap::default(),
            window: window.max(1),
        }
    }

    /// Records one sighting; returns how many times it has been seen, this one included.
    fn see(&mut self, key: u64) -> u32 {
        if let Some(n) = self.young.get_mut(&key) {
            *n = n.saturating_add(1);
            return *n;
        }
        let n = self.old.remove(&key).unwrap_or(0).saturating_add(1);
        if self.young.len() >= self.window {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, n);
        n
    }

    fn get(&self, key: u64) -> u32 {
        self.young
            .get(&key)
            .or_else(|| self.old.get(&key))
            .copied()
            .unwrap_or(0)
    }
}

/// The last N messages a persona received.
pub struct ReceivedLog {
    ring: VecDeque<Record>,
    capacity: usize,
    seen: Seen,
    partials: FastMap<Partial>,
    partial_order: VecDeque<u64>,
}

/// What adding a batch of parts found.
#[derive(Default)]
pub struct Added {
    pub messages: u64,
    pub duplicates: u64,
}

impl ReceivedLog {
    pub fn new(capacity: usize, duplicate_window: usize) -> ReceivedLog {
        ReceivedLog {
            ring: VecDeque::with_capacity(capacity.min(65_536)),
            capacity,
            seen: Seen::new(duplicate_window),
            partials: FastMap::default(),
            partial_order: VecDeque::new(),
        }
    }

    pub fn clear(&mut self) {
        let (capacity, window) = (self.capacity, self.seen.window);
        *self = ReceivedLog::new(capacity, window);
    }

    /// Adds accepted parts; single messages go straight in, parts of a concatenated message
    /// wait for their siblings.
    pub fn add(&mut self, parts: &mut Vec<Part>, added: &mut Added) {
        for part in parts.drain(..) {
            match part.concat {
                Some(c) if c.total > 1 => self.add_part(part, c, added),
                _ => {
                    let record = Record {
                        account: part.account,
                        key: fingerprint(&part.destination.addr, &part.text),
                        source: part.source,
                        destination: part.destination,
                        data_coding: part.data_coding,
                        text: part.text,
                        segments: 1,
                        first_number: part.number,
                        more_numbers: Vec::new(),
                        at_ms: part.at_ms,
                    };
                    self.push(record, added);
                }
            }
        }
    }

    fn add_part(&mut self, part: Part, c: Concat, added: &mut Added) {
        // Parts belong together when account, addresses, reference and total agree.
        let key = hash_bytes(
            u64::from(c.reference) << 16 | u64::from(c.total) << 8 | u64::from(part.account),
            &[&part.source.addr, &part.destination.addr],
        );
        let slot = usize::from(c.seq.max(1) - 1).min(usize::from(c.total) - 1);
        let complete = {
            if !self.partials.contains_key(&key) {
                if self.partials.len() >= MAX_PARTIALS
                    && let Some(oldest) = self.partial_order.pop_front()
                {
                    self.partials.remove(&oldest);
                }
                self.partial_order.push_back(key);
                let total = usize::from(c.total);
                let first = Part {
                    account: part.account,
                    source: part.source.clone(),
                    destination: part.destination.clone(),
                    data_coding: part.data_coding,
                    text: Bytes::new(),
                    number: part.number,
                    concat: part.concat,
                    at_ms: part.at_ms,
                };
                self.partials.insert(
                    key,
                    Partial {
                        first,
                        parts: vec![None; total],
                        numbers: vec![0; total],
                        have: 0,
                    },
                );
            }
            let Some(p) = self.partials.get_mut(&key) else {
                return;
            };
            if p.parts[slot].is_none() {
                p.have += 1;
            }
            p.parts[slot] = Some(part.text);
            p.numbers[slot] = part.number;
            p.have == c.total
        };
        if !complete {
            return;
        }
        let Some(p) = self.partials.remove(&key) else {
            return;
        };
        self.partial_order.retain(|k| *k != key);
        let mut text = BytesMut::new();
        for t in p.parts.iter().flatten() {
            text.extend_from_slice(t);
        }
        let text = text.freeze();
        let record = Record {
            account: p.first.account,
            key: fingerprint(&p.first.destination.addr, &text),
            source: p.first.source,
            destination: p.first.destination,
            data_coding: p.first.data_coding,
            text,
            segments: u16::from(c.total),
            first_number: p.numbers[0],
            more_numbers: p.numbers[1..].to_vec(),
            at_ms: p.first.at_ms,
        };
        self.push(record, added);
    }

    fn push(&mut self, record: Record, added: &mut Added) {
        added.messages += 1;
        if self.seen.see(record.key) > 1 {
            added.duplicates += 1;
        }
        if self.ring.len() >= self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(record);
    }

    /// The last `limit` messages, oldest first.
    pub fn list(&self, limit: usize, accounts: &[String], ids: &IdFormat) -> Vec<Received> {
        let skip = self.ring.len().saturating_sub(limit);
        self.ring
            .iter()
            .skip(skip)
            .map(|r| Received {
                system_id: accounts
                    .get(usize::from(r.account))
                    .cloned()
                    .unwrap_or_default(),
                source: String::from_utf8_lossy(&r.source.addr).into_owned(),
                destination: String::from_utf8_lossy(&r.destination.addr).into_owned(),
                text: super::text::decode(r.data_coding, &r.text),
                data_coding: r.data_coding,
                segments: r.segments,
                message_ids: std::iter::once(&r.first_number)
                    .chain(&r.more_numbers)
                    .map(|n| ids.format(*n).as_str().to_string())
                    .collect(),
                seen: self.seen.get(r.key),
                at_ms: r.at_ms,
            })
            .collect()
    }
}

fn fingerprint(destination: &[u8], text: &[u8]) -> u64 {
    hash_bytes(0x5EED, &[destination, text])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(text: &'static [u8], concat: Option<Concat>, number: u128) -> Part {
        Part {
            account: 0,
            source: Address::alphanumeric(Bytes::from_static(b"Bank")),
            destination: Address::international(Bytes::from_static(b"4477")),
            data_coding: 0,
            text: Bytes::from_static(text),
            number,
            concat,
            at_ms: 0,
        }
    }

    #[test]
    fn ring_is_bounded_and_counts_duplicates() {
        let mut log = ReceivedLog::new(2, 100);
        let mut added = Added::default();
        log.add(
            &mut vec![
                part(b"a", None, 1),
                part(b"b", None, 2),
                part(b"a", None, 3),
            ],
            &mut added,
        );
        assert_eq!((added.messages, added.duplicates), (3, 1));
        let accounts = vec!["u".to_string()];
        let list = log.list(10, &accounts, &IdFormat::default());
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].text, "a");
        assert_eq!(list[1].seen, 2);
        assert_eq!(list[1].message_ids, vec!["3"]);
    }

    #[test]
    fn parts_are_joined_in_order() {
        let mut log = ReceivedLog::new(10, 100);
        let mut added = Added::default();
        let c = |seq| {
            Some(Concat {
                reference: 7,
                total: 2,
                seq,
            })
        };
        log.add(&mut vec![part(b"World", c(2), 11)], &mut added);
        assert_eq!(added.messages, 0);
        log.add(&mut vec![part(b"Hello ", c(1), 10)], &mut added);
        assert_eq!(added.messages, 1);
        let list = log.list(10, &[], &IdFormat::default());
        assert_eq!(list[0].text, "Hello World");
        assert_eq!(list[0].segments, 2);
        assert_eq!(list[0].message_ids, vec!["10", "11"]);
    }

    #[test]
    fn seen_forgets_beyond_its_window() {
        let mut s = Seen::new(2);
        assert_eq!(s.see(1), 1);
        assert_eq!(s.see(2), 1);
        assert_eq!(s.see(1), 2);
        for k in 10..20 {
            s.see(k);
        }
        assert_eq!(s.get(1), 0);
        assert!(s.young.len() + s.old.len() <= 4);
    }
}
