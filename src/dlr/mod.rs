//! Delivery receipt tracking: matching receipts to the messages we sent.
//!
//! What it is: a [`DlrTracker`] that is told each carrier message id from submit_sm_resp
//! ([`DlrTracker::on_submit_resp`]) and each receipt ([`DlrTracker::on_receipt`]), and answers
//! which message (and part) a receipt belongs to, whether it is final, duplicate or late, and,
//! once per message, the message's final status over all its parts. Missing receipts surface
//! through [`DlrTracker::poll_expired`] when their deadline passes.
//!
//! It tolerates what carriers do: ids written differently in the response and the receipt
//! ([`id`]), receipts that arrive before the response (held briefly, see `early`), receipts on
//! another bind of the same carrier (keys are per carrier, not per bind), duplicates, and
//! carriers that send receipts for only one part of a multipart message ([`ReceiptsFor`]).
//!
//! What it is not: it does no I/O, reads no clock (`now` is passed in) and never blocks the
//! submit path on anything but a sharded map insert and an append to a deadline bucket. It
//! does not decide what to do about a failure: that is the router's and the service's job.

mod early;
pub(crate) mod hash;
pub mod id;
mod queue;
mod state;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use serde::Serialize;

use id::Candidates;
pub use id::{CanonId, IdError, IdStyle, Reading, network_error_code};
pub use state::{DlrState, FinalStatus, Outcome, ReceiptsFor};

use crate::routes::{CarrierReceipts, RouteTable};
use early::{EarlyBuffer, Held};
use hash::FastState;
use queue::DeadlineQueue;

/// How many carriers one tracker can know.
pub const MAX_CARRIERS: usize = 1024;

/// Our side of a submitted part: which message, which part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct MessageRef {
    /// Our message id.
    pub id: u128,
    /// 0-based index of the part.
    pub part: u8,
    /// Number of parts (1 for a single-part message).
    pub parts: u8,
}

impl MessageRef {
    pub fn single(id: u128) -> MessageRef {
        MessageRef {
            id,
            part: 0,
            parts: 1,
        }
    }
}

/// A carrier registered with the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CarrierRef(u16);

/// Tuning; the defaults suit OTP traffic.
#[derive(Clone, Copy, Debug)]
pub struct TrackerConfig {
    /// Most receipts held while waiting for their submit_sm_resp.
    pub early_capacity: usize,
    /// How long such a receipt is held.
    pub early_ttl: Duration,
    /// How long a part is kept after its final receipt, to recognise duplicates.
    pub linger_after_final: Duration,
    /// How long a part is kept after its deadline passed, so a late receipt is still matched
    /// (and reported as late).
    pub hold_after_deadline: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            early_capacity: 10_000,
            early_ttl: Duration::from_secs(30),
            linger_after_final: Duration::from_secs(60),
            hold_after_deadline: Duration::from_secs(600),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    #[error("more than {MAX_CARRIERS} carriers")]
    TooManyCarriers,
    #[error("unknown carrier reference")]
    UnknownCarrier,
    #[error(transparent)]
    Id(#[from] IdError),
}

/// A receipt matched to a part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptMatch {
    pub msg: MessageRef,
    pub state: DlrState,
    /// The carrier's error code, as sent.
    pub error: Option<u32>,
    /// Whether the part's receipt deadline had passed when the receipt was matched.
    pub late: bool,
    /// The message's final status, present exactly once per message: on the receipt that
    /// decides it.
    pub outcome: Option<Outcome>,
}

/// What became of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Match {
    Matched(ReceiptMatch),
    /// The part already had this state, or was already final.
    Duplicate {
        msg: MessageRef,
        state: DlrState,
    },
    /// No submit_sm_resp known yet: held, and returned by [`DlrTracker::on_submit_resp`] when
    /// the response arrives.
    Held,
    /// The id is empty or the carrier is unknown.
    Invalid,
}

/// Counters, cumulative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TrackerStats {
    pub submits: u64,
    pub matched: u64,
    pub held_early: u64,
    pub matched_early: u64,
    /// Held receipts dropped unmatched (too old, or no room).
    pub unmatched: u64,
    pub duplicates: u64,
    pub deadline_misses: u64,
    pub late: u64,
}

/// The map key: carrier and canonical id, laid out in 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    hi: u64,
    lo: u64,
    carrier: u16,
    tag: u8,
}

impl Key {
    fn new(carrier: CarrierRef, id: CanonId) -> Key {
        let [hi, lo] = id.words();
        Key {
            hi,
            lo,
            carrier: carrier.0,
            tag: id.tag(),
        }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.hi);
        h.write_u64(
            self.lo ^ (u64::from(self.carrier) << 48 | u64::from(self.tag) << 40).rotate_left(7),
        );
    }
}

const FINAL: u8 = 1;
const MISSED: u8 = 2;
/// A part whose receipt does not decide the message (see [`ReceiptsFor`]).
const OPTIONAL: u8 = 4;

/// One tracked part: 48 bytes.
#[derive(Clone, Copy, Debug)]
struct Entry {
    msg: [u64; 2],
    deadline_ms: u64,
    /// When the deadline queue will next look at this entry.
    due_ms: u64,
    /// When a final entry may be forgotten.
    remove_at_ms: u64,
    err: u32,
    has_err: bool,
    part: u8,
    parts: u8,
    state: u8,
    flags: u8,
}

impl Entry {
    fn msg_ref(&self) -> MessageRef {
        MessageRef {
            id: (u128::from(self.msg[0]) << 64) | u128::from(self.msg[1]),
            part: self.part,
            parts: self.parts,
        }
    }
}

/// Status of a multipart message over its parts.
#[derive(Clone, Copy, Debug)]
struct Agg {
    parts: u8,
    /// Parts still in the entry map.
    live: u8,
    delivered: u8,
    receipts_for: ReceiptsFor,
    decided: bool,
    reported_missed: bool,
}

struct CarrierSlot {
    registered: AtomicBool,
    resp: AtomicU8,
    receipt: AtomicU8,
    receipts_for: AtomicU8,
    /// Matches per [`Reading`]: which way this carrier's receipt ids really read.
    readings: [AtomicU64; 4],
}

impl CarrierSlot {
    fn new() -> CarrierSlot {
        CarrierSlot {
            registered: AtomicBool::new(false),
            resp: AtomicU8::new(0),
            receipt: AtomicU8::new(0),
            receipts_for: AtomicU8::new(ReceiptsFor::Any.to_u8()),
            readings: Default::default(),
        }
    }
}

/// A receipt on its way through [`DlrTracker::on_receipt`], one step at a time (see
/// `DlrTracker::receipt_step`). `on_receipt` runs the steps back to back; the tests run them
/// interleaved with a response's steps in every order.
struct PendingReceipt<'a> {
    slot: &'a CarrierSlot,
    carrier: CarrierRef,
    cands: Candidates,
    state: DlrState,
    err: Option<u32>,
    now_ms: u64,
    step: Step,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Look the receipt's candidate keys up.
    Lookup,
    /// None is tracked: hold the receipt for its response.
    Hold,
    /// Held under this sequence number: look again in case the response landed meanwhile.
    Recheck(u64),
}

const QUEUE_SHARDS: usize = 8;

#[derive(Default)]
struct Counters {
    submits: AtomicU64,
    matched: AtomicU64,
    held_early: AtomicU64,
    matched_early: AtomicU64,
    unmatched: AtomicU64,
    duplicates: AtomicU64,
    deadline_misses: AtomicU64,
    late: AtomicU64,
}

/// Correlates receipts with submitted parts. `Send + Sync`; share it in an `Arc`.
pub struct DlrTracker {
    config: TrackerConfig,
    entries: DashMap<Key, Entry, FastState>,
    aggs: DashMap<u128, Agg, FastState>,
    /// Deadline queue: (due, key), sharded to keep submitters apart. Entries are looked up
    /// when they come due and skipped when already resolved, so resolving a message never
    /// touches the queue.
    queue: [Mutex<DeadlineQueue>; QUEUE_SHARDS],
    early: Mutex<EarlyBuffer>,
    /// Receipts held in `early`, readable without its lock: the submit path looks there only
    /// when something is held.
    early_live: AtomicUsize,
    carriers: Box<[CarrierSlot]>,
    names: Mutex<HashMap<String, u16>>,
    counters: Counters,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn to_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn dur_ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (every update is a
    // single push or pop), so a poisoned lock is used as it is.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for DlrTracker {
    fn default() -> Self {
        DlrTracker::new(TrackerConfig::default())
    }
}

impl DlrTracker {
    pub fn new(config: TrackerConfig) -> DlrTracker {
        DlrTracker {
            config,
            entries: DashMap::with_hasher(FastState::new()),
            aggs: DashMap::with_hasher(FastState::new()),
            queue: Default::default(),
            early: Mutex::new(EarlyBuffer::default()),
            early_live: AtomicUsize::new(0),
            carriers: (0..MAX_CARRIERS).map(|_| CarrierSlot::new()).collect(),
            names: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }

    /// Registers a carrier, or updates its receipt styles if it is known (as after a routes
    /// reload); the reference stays the same for the tracker's life.
    pub fn register(
        &self,
        name: &str,
        receipts: CarrierReceipts,
    ) -> Result<CarrierRef, TrackerError> {
        let mut names = lock(&self.names);
        let next = names.len();
        let idx = match names.get(name) {
            Some(&i) => i,
            None if next < MAX_CARRIERS => {
                names.insert(name.to_string(), next as u16);
                next as u16
            }
            None => return Err(TrackerError::TooManyCarriers),
        };
        let slot = &self.carriers[usize::from(idx)];
        slot.resp
            .store(receipts.resp_ids.to_u8(), Ordering::Relaxed);
        slot.receipt
            .store(receipts.receipt_ids.to_u8(), Ordering::Relaxed);
        slot.receipts_for
            .store(receipts.receipts_for.to_u8(), Ordering::Relaxed);
        slot.registered.store(true, Ordering::Release);
        Ok(CarrierRef(idx))
    }

    /// Registers (or updates) every carrier of a routing table.
    pub fn register_routes(&self, table: &RouteTable) -> Result<(), TrackerError> {
        for c in table.carriers() {
            self.register(&c.name, c.receipts)?;
        }
        Ok(())
    }

    /// The reference of a registered carrier.
    pub fn carrier(&self, name: &str) -> Option<CarrierRef> {
        lock(&self.names).get(name).map(|&i| CarrierRef(i))
    }

    fn slot(&self, c: CarrierRef) -> Option<&CarrierSlot> {
        self.carriers
            .get(usize::from(c.0))
            .filter(|s| s.registered.load(Ordering::Acquire))
    }

    /// How the carrier's matched receipt ids read so far: the auto-detected style.
    pub fn readings(&self, carrier: CarrierRef) -> Vec<(Reading, u64)> {
        let Some(slot) = self.slot(carrier) else {
            return Vec::new();
        };
        Reading::ALL
            .into_iter()
            .map(|r| (r, slot.readings[r.index()].load(Ordering::Relaxed)))
            .collect()
    }

    /// Parts being tracked (in flight, or kept a while after their end).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap bytes held by the tracker's tables, from their capacities: the entry map (a
    /// hashbrown table per shard: one control byte per bucket, buckets a power of two at most
    /// 7/8 full), the multipart map, the deadline queues and the held receipts.
    pub fn memory_bytes(&self) -> usize {
        // capacity = buckets * 7/8 for every table past 8 buckets; a slot is (K, V) (dashmap's
        // SharedValue is transparent).
        fn table<K, V>(capacity: usize) -> usize {
            capacity * 8 / 7 * (size_of::<(K, V)>() + 1)
        }
        let queue: usize = self.queue.iter().map(|q| lock(q).memory_bytes()).sum();
        table::<Key, Entry>(self.entries.capacity())
            + table::<u128, Agg>(self.aggs.capacity())
            + queue
            + lock(&self.early).memory_bytes()
    }

    pub fn stats(&self) -> TrackerStats {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TrackerStats {
            submits: l(&c.submits),
            matched: l(&c.matched),
            held_early: l(&c.held_early),
            matched_early: l(&c.matched_early),
            unmatched: l(&c.unmatched),
            duplicates: l(&c.duplicates),
            deadline_misses: l(&c.deadline_misses),
            late: l(&c.late),
        }
    }

    /// Records the carrier's message id for a submitted part. Returns the receipts that had
    /// arrived before this response, now matched (usually none).
    pub fn on_submit_resp(
        &self,
        carrier: CarrierRef,
        carrier_msg_id: &[u8],
        msg: MessageRef,
        deadline: SystemTime,
        now: SystemTime,
    ) -> Result<Vec<ReceiptMatch>, TrackerError> {
        let key = self.register_part(carrier, carrier_msg_id, msg, deadline)?;
        Ok(self.claim_early(key, millis(now)))
    }

    /// The response's first step: the part goes into the entry map and the deadline queue.
    fn register_part(
        &self,
        carrier: CarrierRef,
        carrier_msg_id: &[u8],
        msg: MessageRef,
        deadline: SystemTime,
    ) -> Result<Key, TrackerError> {
        let slot = self.slot(carrier).ok_or(TrackerError::UnknownCarrier)?;
        let style = IdStyle::from_u8(slot.resp.load(Ordering::Relaxed));
        let key = Key::new(carrier, id::resp_key(style, carrier_msg_id)?);
        let receipts_for = ReceiptsFor::from_u8(slot.receipts_for.load(Ordering::Relaxed));
        let parts = msg.parts.max(1);
        let deadline_ms = millis(deadline);
        let mut flags = 0;
        if !receipts_for.decides(msg.part, parts) {
            flags |= OPTIONAL;
        }
        let entry = Entry {
            msg: [(msg.id >> 64) as u64, msg.id as u64],
            deadline_ms,
            due_ms: deadline_ms,
            remove_at_ms: 0,
            err: 0,
            has_err: false,
            part: msg.part,
            parts,
            state: 0,
            flags,
        };
        if parts > 1 {
            let mut agg = self.aggs.entry(msg.id).or_insert(Agg {
                parts,
                live: 0,
                delivered: 0,
                receipts_for,
                decided: false,
                reported_missed: false,
            });
            agg.live = agg.live.saturating_add(1);
        }
        if let Some(old) = self.entries.insert(key, entry) {
            // The carrier reused an id that we still track: the old part is forgotten.
            self.release_agg(&old);
        }
        self.counters.submits.fetch_add(1, Ordering::Relaxed);
        let shard = (key.lo ^ key.hi ^ u64::from(key.carrier)) as usize % QUEUE_SHARDS;
        lock(&self.queue[shard]).push(deadline_ms, key);
        Ok(key)
    }

    /// The response's second step: claims and applies the receipts held under its key. When
    /// nothing is held anywhere (nearly always) this is a fence and one atomic load.
    fn claim_early(&self, key: Key, now_ms: u64) -> Vec<ReceiptMatch> {
        // Pairs with the fence of a held receipt's recheck (`Step::Recheck`): the entry was
        // inserted before this fence and the receipt was counted in `early_live` before that
        // one, so either this load sees the receipt held or its recheck sees the entry.
        fence(Ordering::SeqCst);
        if self.early_live.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        let held = {
            let mut early = lock(&self.early);
            let held = early.claim(&key);
            self.early_live.store(early.live(), Ordering::SeqCst);
            held
        };
        let mut out = Vec::with_capacity(held.len());
        for h in held {
            self.counters.matched_early.fetch_add(1, Ordering::Relaxed);
            if let Some(Match::Matched(m)) = self.apply(key, h.state, h.err, now_ms) {
                out.push(m);
            }
        }
        out
    }

    /// Matches a receipt (from the `id:`/`stat:`/`err:` text or the receipted_message_id,
    /// message_state and network_error_code TLVs) to its part.
    pub fn on_receipt(
        &self,
        carrier: CarrierRef,
        receipt_id: &[u8],
        state: DlrState,
        err: Option<u32>,
        now: SystemTime,
    ) -> Match {
        let Some(mut r) = self.pending_receipt(carrier, receipt_id, state, err, now) else {
            return Match::Invalid;
        };
        loop {
            if let Some(m) = self.receipt_step(&mut r) {
                return m;
            }
        }
    }

    /// A receipt ready to be looked up; `None` when the carrier is unknown or the id empty.
    fn pending_receipt(
        &self,
        carrier: CarrierRef,
        receipt_id: &[u8],
        state: DlrState,
        err: Option<u32>,
        now: SystemTime,
    ) -> Option<PendingReceipt<'_>> {
        let slot = self.slot(carrier)?;
        let resp = IdStyle::from_u8(slot.resp.load(Ordering::Relaxed));
        let receipt = IdStyle::from_u8(slot.receipt.load(Ordering::Relaxed));
        let cands = id::receipt_candidates(resp, receipt, receipt_id).ok()?;
        Some(PendingReceipt {
            slot,
            carrier,
            cands,
            state,
            err,
            now_ms: millis(now),
            step: Step::Lookup,
        })
    }

    /// Runs one step of a receipt; `Some` when the receipt is done with.
    ///
    /// A receipt whose response is not known yet is held, then the entry map is looked at
    /// again: the response may have been registered between the lookup and the hold, and its
    /// own look at the held receipts (`claim_early`) may have come too early to see this one.
    /// Whichever side then takes the held receipt out of the buffer, under its lock, applies
    /// it; the other leaves it alone. The receipt takes back its own entry only (by sequence
    /// number): the newest receipt under one of its keys may be another one, which its own
    /// response will claim.
    fn receipt_step(&self, r: &mut PendingReceipt<'_>) -> Option<Match> {
        match r.step {
            Step::Lookup => {
                for (cand, reading) in r.cands.iter() {
                    if let Some(m) = self.apply(Key::new(r.carrier, cand), r.state, r.err, r.now_ms)
                    {
                        r.slot.readings[reading.index()].fetch_add(1, Ordering::Relaxed);
                        return Some(m);
                    }
                }
                r.step = Step::Hold;
                None
            }
            Step::Hold => {
                // Held under every key it could match.
                let mut keys = [Key::new(r.carrier, CanonId::num(0)); 4];
                let mut nkeys = 0;
                for (slot_key, (cand, _)) in keys.iter_mut().zip(r.cands.iter()) {
                    *slot_key = Key::new(r.carrier, cand);
                    nkeys += 1;
                }
                let (seq, dropped) = {
                    let mut early = lock(&self.early);
                    let held = early.hold(
                        Held {
                            keys,
                            nkeys,
                            arrived_ms: r.now_ms,
                            state: r.state,
                            err: r.err,
                        },
                        self.config.early_capacity,
                    );
                    self.early_live.store(early.live(), Ordering::SeqCst);
                    held
                };
                self.counters
                    .unmatched
                    .fetch_add(dropped, Ordering::Relaxed);
                self.counters.held_early.fetch_add(1, Ordering::Relaxed);
                r.step = Step::Recheck(seq);
                None
            }
            Step::Recheck(seq) => {
                // Pairs with the fence in `claim_early`.
                fence(Ordering::SeqCst);
                let landed = r
                    .cands
                    .iter()
                    .any(|(cand, _)| self.entries.contains_key(&Key::new(r.carrier, cand)));
                if !landed {
                    return Some(Match::Held);
                }
                let taken = {
                    let mut early = lock(&self.early);
                    let taken = early.take_back(seq);
                    self.early_live.store(early.live(), Ordering::SeqCst);
                    taken
                };
                if taken.is_none() {
                    // A response claimed it and reports it (or, at capacity, it was dropped
                    // and counted as unmatched).
                    return Some(Match::Held);
                }
                self.counters.held_early.fetch_sub(1, Ordering::Relaxed);
                // Back to the lookup, exact reading first; should the entry have gone again
                // meanwhile, the receipt is held again.
                r.step = Step::Lookup;
                None
            }
        }
    }

    /// Applies a receipt to a tracked part; `None` when no part is tracked under `key`.
    fn apply(&self, key: Key, state: DlrState, err: Option<u32>, now_ms: u64) -> Option<Match> {
        let mut e = self.entries.get_mut(&key)?;
        let msg = e.msg_ref();
        if e.flags & FINAL != 0 || (e.state != 0 && e.state == state as u8) {
            drop(e);
            self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
            return Some(Match::Duplicate { msg, state });
        }
        e.state = state as u8;
        if let Some(code) = err {
            e.err = code;
            e.has_err = true;
        }
        let late = e.flags & MISSED != 0 || now_ms > e.deadline_ms;
        let error = e.has_err.then_some(e.err);
        let status = state.final_status();
        if status.is_some() {
            e.flags |= FINAL;
            e.remove_at_ms = now_ms.saturating_add(dur_ms(self.config.linger_after_final));
        }
        let parts = e.parts;
        drop(e);
        self.counters.matched.fetch_add(1, Ordering::Relaxed);
        if late {
            self.counters.late.fetch_add(1, Ordering::Relaxed);
        }
        let outcome = status.and_then(|status| {
            let outcome = Outcome { status, error };
            if parts <= 1 {
                return Some(outcome);
            }
            let mut agg = self.aggs.get_mut(&msg.id)?;
            if status.is_delivered() {
                agg.delivered = agg.delivered.saturating_add(1);
            }
            if agg.decided {
                return None;
            }
            let decides = match agg.receipts_for {
                // Any failure decides at once; delivery needs every part.
                ReceiptsFor::All if status.is_delivered() => agg.delivered >= agg.parts,
                rf => rf.decides(msg.part, agg.parts),
            };
            if !decides {
                return None;
            }
            agg.decided = true;
            Some(outcome)
        });
        Some(Match::Matched(ReceiptMatch {
            msg,
            state,
            error,
            late,
            outcome,
        }))
    }

    /// Parts whose receipt deadline passed with no final receipt, at most once per message
    /// and only for parts whose receipt decides it. Also forgets parts whose time is up and
    /// drops held receipts that never found their response. Cost is proportional to what
    /// comes due, not to what is tracked.
    pub fn poll_expired(&self, now: SystemTime) -> Vec<MessageRef> {
        let now_ms = millis(now);
        let mut due = Vec::new();
        for shard in &self.queue {
            lock(shard).drain_due(now_ms, &mut due);
        }
        // The caller gets the whole batch in deadline order.
        due.sort_unstable();
        let mut expired = Vec::new();
        let mut again = Vec::new();
        for (t, key) in due {
            // The common case, a part resolved long enough ago, in one map operation.
            let done = |_: &Key, e: &Entry| {
                e.due_ms == t && e.flags & FINAL != 0 && e.remove_at_ms <= now_ms
            };
            if let Some((_, old)) = self.entries.remove_if(&key, done) {
                self.release_agg(&old);
                continue;
            }
            let Some(mut e) = self.entries.get_mut(&key) else {
                continue;
            };
            if e.due_ms != t {
                // A newer registration under the same id owns this entry.
                continue;
            }
            if e.flags & (FINAL | MISSED) == 0 {
                e.flags |= MISSED;
                e.due_ms = e
                    .deadline_ms
                    .saturating_add(dur_ms(self.config.hold_after_deadline));
                again.push((e.due_ms, key));
                let (msg, optional) = (e.msg_ref(), e.flags & OPTIONAL != 0);
                drop(e);
                if !optional && self.first_miss(msg) {
                    self.counters
                        .deadline_misses
                        .fetch_add(1, Ordering::Relaxed);
                    expired.push(msg);
                }
                continue;
            }
            let remove_at = if e.flags & FINAL != 0 {
                e.remove_at_ms
            } else {
                e.deadline_ms
                    .saturating_add(dur_ms(self.config.hold_after_deadline))
            };
            if remove_at > now_ms {
                e.due_ms = remove_at;
                again.push((remove_at, key));
                continue;
            }
            drop(e);
            if let Some((_, old)) = self.entries.remove(&key) {
                self.release_agg(&old);
            }
        }
        for (t, key) in again {
            let shard = (key.lo ^ key.hi ^ u64::from(key.carrier)) as usize % QUEUE_SHARDS;
            lock(&self.queue[shard]).push(t, key);
        }
        if self.early_live.load(Ordering::SeqCst) > 0 {
            let mut early = lock(&self.early);
            let dropped = early.expire(now_ms, dur_ms(self.config.early_ttl));
            self.early_live.store(early.live(), Ordering::SeqCst);
            self.counters
                .unmatched
                .fetch_add(dropped, Ordering::Relaxed);
        }
        expired
    }

    /// The earliest time [`DlrTracker::poll_expired`] has something to do, for the driver's
    /// timer.
    pub fn next_due(&self) -> Option<SystemTime> {
        self.queue
            .iter()
            .filter_map(|q| lock(q).next_due())
            .min()
            .map(to_time)
    }

    /// Whether a missed deadline of this part should be reported: single parts always, a
    /// multipart message once and only while undecided.
    fn first_miss(&self, msg: MessageRef) -> bool {
        if msg.parts <= 1 {
            return true;
        }
        match self.aggs.get_mut(&msg.id) {
            Some(mut a) if !a.decided && !a.reported_missed => {
                a.reported_missed = true;
                true
            }
            _ => false,
        }
    }

    fn release_agg(&self, old: &Entry) {
        if old.parts <= 1 {
            return;
        }
        let id = old.msg_ref().id;
        let gone = match self.aggs.get_mut(&id) {
            Some(mut a) => {
                a.live = a.live.saturating_sub(1);
                a.live == 0
            }
            None => false,
        };
        if gone {
            self.aggs.remove_if(&id, |_, a| a.live == 0);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Every interleaving of the steps that race: receipts (lookup, hold, recheck) on
    //! receiver binds against responses (register, claim) on a transmitter bind, run on one
    //! thread in every order. The fences make the threaded run behave as one of these orders.

    use super::*;

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    /// One side of the race.
    #[derive(Clone, Copy)]
    enum Side {
        /// A receipt from a receiver bind.
        Receipt(&'static str, DlrState),
        /// The responses of a transmitter bind, in order.
        Responses(&'static [(&'static str, MessageRef)]),
    }

    enum Actor<'a> {
        Receipt(PendingReceipt<'a>),
        Responses {
            parts: &'static [(&'static str, MessageRef)],
            next: usize,
            registered: Option<Key>,
        },
        Done,
    }

    /// What one order produced.
    #[derive(Default)]
    struct Report {
        /// Message ids, once per outcome reported.
        outcomes: Vec<u128>,
        stats: TrackerStats,
        early_live: usize,
    }

    /// Runs the sides to their end: the i-th step is taken by side `prefix[i]`, and after the
    /// prefix by the first side that can still step. Returns the report and, per step, the
    /// side that took it and the sides that could have.
    fn run(
        receipts: CarrierReceipts,
        sides: &[Side],
        prefix: &[usize],
    ) -> (Report, Vec<(usize, Vec<usize>)>) {
        let tr = DlrTracker::default();
        let c = tr.register("mno-a", receipts).expect("registered");
        let mut actors: Vec<Actor<'_>> = sides
            .iter()
            .map(|s| match *s {
                Side::Receipt(id, state) => Actor::Receipt(
                    tr.pending_receipt(c, id.as_bytes(), state, None, t(1))
                        .expect("a valid receipt"),
                ),
                Side::Responses(parts) => Actor::Responses {
                    parts,
                    next: 0,
                    registered: None,
                },
            })
            .collect();
        let mut report = Report::default();
        let mut trace = Vec::new();
        loop {
            let live: Vec<usize> = (0..actors.len())
                .filter(|&i| !matches!(actors[i], Actor::Done))
                .collect();
            let Some(&first) = live.first() else {
                break;
            };
            let i = prefix.get(trace.len()).copied().unwrap_or(first);
            let actor = &mut actors[i];
            match actor {
                Actor::Receipt(r) => {
                    if let Some(m) = tr.receipt_step(r) {
                        if let Match::Matched(ReceiptMatch {
                            msg,
                            outcome: Some(_),
                            ..
                        }) = m
                        {
                            report.outcomes.push(msg.id);
                        }
                        *actor = Actor::Done;
                    }
                }
                Actor::Responses {
                    parts,
                    next,
                    registered,
                } => match registered.take() {
                    None => {
                        let (id, msg) = parts[*next];
                        let key = tr
                            .register_part(c, id.as_bytes(), msg, t(30_000))
                            .expect("a valid id");
                        *registered = Some(key);
                    }
                    Some(key) => {
                        for m in tr.claim_early(key, millis(t(1))) {
                            if m.outcome.is_some() {
                                report.outcomes.push(m.msg.id);
                            }
                        }
                        *next += 1;
                        if *next == parts.len() {
                            *actor = Actor::Done;
                        }
                    }
                },
                Actor::Done => unreachable!("the prefix steps a finished side"),
            }
            trace.push((i, live));
        }
        report.stats = tr.stats();
        report.early_live = tr.early_live.load(Ordering::SeqCst);
        (report, trace)
    }

    /// Runs every order of the sides' steps and checks, for each, that every receipt was
    /// applied exactly once, nothing stays held, and each message in `messages` got exactly
    /// one outcome. Returns how many orders were run.
    fn every_order(receipts: CarrierReceipts, sides: &[Side], messages: &[u128]) -> usize {
        let nreceipts = sides
            .iter()
            .filter(|s| matches!(s, Side::Receipt(..)))
            .count() as u64;
        // Each run is one complete order; the orders that branch off it after its forced
        // prefix are queued, so every order is run exactly once.
        let mut stack = vec![Vec::new()];
        let mut orders = 0;
        while let Some(prefix) = stack.pop() {
            let (report, trace) = run(receipts, sides, &prefix);
            let order: Vec<usize> = trace.iter().map(|(i, _)| *i).collect();
            for (j, (taken, live)) in trace.iter().enumerate().skip(prefix.len()) {
                for &other in live.iter().filter(|&&o| o != *taken) {
                    let mut branch = order[..j].to_vec();
                    branch.push(other);
                    stack.push(branch);
                }
            }
            orders += 1;
            let s = report.stats;
            assert_eq!(
                s.matched + s.duplicates,
                nreceipts,
                "every receipt applied exactly once, order {order:?}: {s:?}"
            );
            assert_eq!(
                (s.unmatched, s.held_early, report.early_live),
                (0, s.matched_early, 0),
                "every held receipt claimed, order {order:?}: {s:?}"
            );
            for id in messages {
                let n = report.outcomes.iter().filter(|&&o| o == *id).count();
                assert_eq!(n, 1, "message {id} decided {n} times, order {order:?}");
            }
            assert_eq!(report.outcomes.len(), messages.len(), "order {order:?}");
        }
        orders
    }

    fn styles(rf: ReceiptsFor) -> CarrierReceipts {
        CarrierReceipts {
            resp_ids: IdStyle::Hex,
            receipt_ids: IdStyle::Decimal,
            receipts_for: rf,
        }
    }

    #[test]
    fn two_receipts_on_two_binds_race_their_response() {
        // ENROUTE and DELIVRD for one message on two receiver binds, both possibly before the
        // response. Taking back "the newest receipt under my key" took the other bind's
        // DELIVRD, applied ENROUTE in its place, and left ENROUTE for the response to claim:
        // the DELIVRD was lost and the message never decided.
        let orders = every_order(
            styles(ReceiptsFor::Any),
            &[
                Side::Receipt("4660", DlrState::Enroute),
                Side::Receipt("4660", DlrState::Delivered),
                Side::Responses(&[(
                    "1234",
                    MessageRef {
                        id: 1,
                        part: 0,
                        parts: 1,
                    },
                )]),
            ],
            &[1],
        );
        assert!(orders > 500, "{orders} orders");
    }

    #[test]
    fn multipart_receipts_race_their_responses() {
        const M: u128 = 7;
        const PARTS: &[(&str, MessageRef)] = &[
            (
                "A1",
                MessageRef {
                    id: M,
                    part: 0,
                    parts: 2,
                },
            ),
            (
                "A2",
                MessageRef {
                    id: M,
                    part: 1,
                    parts: 2,
                },
            ),
        ];
        for (rf, states) in [
            (ReceiptsFor::All, [DlrState::Delivered, DlrState::Delivered]),
            (
                ReceiptsFor::Any,
                [DlrState::Delivered, DlrState::Undeliverable],
            ),
            (
                ReceiptsFor::Last,
                [DlrState::Undeliverable, DlrState::Delivered],
            ),
        ] {
            let orders = every_order(
                styles(rf),
                &[
                    Side::Receipt("161", states[0]),
                    Side::Receipt("162", states[1]),
                    Side::Responses(PARTS),
                ],
                &[M],
            );
            assert!(orders > 1000, "{rf:?}: {orders} orders");
        }
    }
}
