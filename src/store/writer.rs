//! The one writer: group commit.
//!
//! Every change to the store goes through one channel to one thread. The thread takes what
//! is queued (up to `max_batch` items, optionally waiting `max_delay` for more), applies it to
//! an in-memory view of the records it touches, writes each changed key once in a single
//! engine batch, syncs the journal once, and only then answers the callers. So N concurrent
//! accepts cost one fsync, not N, and a caller's answer always comes after the fsync that
//! holds its message.
//!
//! Being the only writer also makes read-modify-write safe without locks: the idempotency
//! check and insert, a state change that must respect "final is final", and the partial
//! updates of an attempt all see every earlier write, including those of the same group.
//!
//! Why a thread and not a task: the engine's calls block (disk I/O, fsync), and a blocking
//! call on a runtime worker would stall unrelated requests on a 2-core machine.

use crate::store::MessageState;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use fjall::{Database, PersistMode};
use tokio::sync::oneshot;

use super::codec;
use super::model::{
    Accepted, Attempt, AttemptOutcome, IdempotencyRecord, Message, MessageId, NewMessage, Write,
    WriteOutcome,
};
use super::{Keyspaces, Stats, StoreError};

/// Highest segment index a `SegmentResp` may name: a concatenated SMS has at most 255 parts
/// (the UDH total is one octet), so anything above is a caller bug, not a reason to grow a
/// vector to 65,535 entries.
const MAX_SEGMENT_INDEX: u16 = 254;

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(super) enum Command {
    Accept {
        messages: Vec<NewMessage>,
        reply: Reply<Vec<Accepted>>,
    },
    Write {
        writes: Vec<Write>,
        /// `None`: fire-and-forget. The write is ordered with everything else on the channel
        /// and goes out with the next commit, but nobody waits for it.
        reply: Option<Reply<Vec<WriteOutcome>>>,
    },
    /// Answered after the group it falls in has committed: proves the writer is alive and
    /// the engine takes writes.
    Ping { reply: Reply<()> },
    /// Commit what came before, then stop.
    Shutdown { reply: oneshot::Sender<()> },
}

impl Command {
    /// Items this command adds to a group, for the `max_batch` cap.
    fn weight(&self) -> usize {
        match self {
            Command::Accept { messages, .. } => messages.len().max(1),
            Command::Write { writes, .. } => writes.len().max(1),
            Command::Ping { .. } | Command::Shutdown { .. } => 1,
        }
    }
}

pub(super) struct Writer {
    pub db: Database,
    pub ks: Keyspaces,
    pub rx: Receiver<Command>,
    pub max_batch: usize,
    pub max_delay: Duration,
    pub healthy: Arc<AtomicBool>,
    pub stats: Arc<Stats>,
    pub recent: Recent,
}

/// Records written by recent groups, kept so that the next writes to them (the segment
/// response, the receipt and the final state, most within a second of the accept) find them
/// here instead of reading them back from the engine, whose point reads search every
/// memtable and table. Two generations of at most `cap` entries each: when the current one
/// fills, the older is dropped; a miss just reads the engine. Only committed values enter,
/// so the cache never holds what the disk does not.
pub(super) struct Recent {
    messages: [HashMap<MessageId, Vec<u8>>; 2],
    attempts: [HashMap<(MessageId, u16), Attempt>; 2],
    cap: usize,
}

impl Recent {
    pub fn new(cap: usize) -> Recent {
        Recent {
            messages: [HashMap::new(), HashMap::new()],
            attempts: [HashMap::new(), HashMap::new()],
            cap,
        }
    }

    fn take_message(&mut self, id: MessageId) -> Option<Vec<u8>> {
        let [cur, old] = &mut self.messages;
        cur.remove(&id).or_else(|| old.remove(&id))
    }

    fn take_attempt(&mut self, key: (MessageId, u16)) -> Option<Attempt> {
        let [cur, old] = &mut self.attempts;
        cur.remove(&key).or_else(|| old.remove(&key))
    }

    fn put_message(&mut self, id: MessageId, bytes: Vec<u8>) {
        if self.cap == 0 {
            return;
        }
        if self.messages[0].len() >= self.cap {
            self.messages.swap(0, 1);
            self.messages[0].clear();
        }
        self.messages[0].insert(id, bytes);
    }

    fn put_attempt(&mut self, key: (MessageId, u16), a: Attempt) {
        if self.cap == 0 {
            return;
        }
        if self.attempts[0].len() >= self.cap {
            self.attempts.swap(0, 1);
            self.attempts[0].clear();
        }
        self.attempts[0].insert(key, a);
    }

    /// Everything: after a failed commit, nothing cached can be trusted to match the disk.
    fn clear(&mut self) {
        for m in &mut self.messages {
            m.clear();
        }
        for a in &mut self.attempts {
            a.clear();
        }
    }
}

impl Writer {
    pub fn run(mut self) {
        let mut group: Vec<Command> = Vec::with_capacity(64);
        loop {
            // Blocks until there is work; every sender gone means every `Store` handle was
            // dropped, and there is nothing left to do.
            let Ok(first) = self.rx.recv() else { return };
            let mut weight = first.weight();
            let mut stop = matches!(first, Command::Shutdown { .. });
            group.push(first);
            let deadline = Instant::now() + self.max_delay;
            while weight < self.max_batch && !stop {
                let next = match self.rx.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match self.rx.recv_timeout(left) {
                            Ok(c) => c,
                            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                                break;
                            }
                        }
                    }
                };
                weight += next.weight();
                stop = matches!(next, Command::Shutdown { .. });
                group.push(next);
            }
            self.commit_group(&mut group, weight);
            if stop {
                return;
            }
        }
    }

    fn commit_group(&mut self, group: &mut Vec<Command>, weight: usize) {
        let started = Instant::now();
        let mut view = View::new(&self.ks, &mut self.recent, weight);
        // Answers are held until the commit: nothing may be acknowledged before it is durable.
        let mut answers: Vec<Answer> = Vec::with_capacity(group.len());
        let mut awaited = false;
        for cmd in group.drain(..) {
            match cmd {
                Command::Accept { messages, reply } => {
                    awaited = true;
                    let result = view
                        .preload_accept(&messages)
                        .map(|()| messages.into_iter().map(|m| view.accept(m)).collect());
                    answers.push(Answer::Accept(reply, result));
                }
                Command::Write { writes, reply } => {
                    awaited |= reply.is_some();
                    let result = view
                        .preload_writes(&writes)
                        .map(|()| writes.iter().map(|w| view.apply(w)).collect());
                    if let (None, Err(e)) = (&reply, &result) {
                        tracing::warn!(error = %e, "store: unacknowledged write dropped");
                        metrics::counter!("gannet_store_write_errors_total").increment(1);
                    }
                    answers.push(Answer::Write(reply, result));
                }
                Command::Ping { reply } => {
                    awaited = true;
                    answers.push(Answer::Ping(reply));
                }
                Command::Shutdown { reply } => answers.push(Answer::Shutdown(reply)),
            }
        }

        let view_was_empty = view.is_empty();
        // A group with nobody waiting still reaches the OS, so it survives a process crash;
        // the next awaited commit's journal sync takes it to the disk.
        let mode = if awaited {
            PersistMode::SyncAll
        } else {
            PersistMode::Buffer
        };
        let committed = view.commit(&self.db, mode, view_was_empty);
        if let Err(e) = &committed {
            // The engine poisons itself after a failed journal write; say so everywhere.
            self.healthy.store(false, Ordering::Release);
            tracing::error!(error = %e, "store: commit failed; refusing writes");
        }
        if !view_was_empty && committed.is_ok() {
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
            self.stats.items.fetch_add(weight as u64, Ordering::Relaxed);
            metrics::counter!("gannet_store_commits_total").increment(1);
            metrics::histogram!("gannet_store_commit_items").record(weight as f64);
            metrics::histogram!("gannet_store_commit_seconds")
                .record(started.elapsed().as_secs_f64());
        }

        for answer in answers {
            answer.send(committed.as_ref().err());
        }
    }
}

enum Answer {
    Accept(Reply<Vec<Accepted>>, Result<Vec<Accepted>, StoreError>),
    Write(
        Option<Reply<Vec<WriteOutcome>>>,
        Result<Vec<WriteOutcome>, StoreError>,
    ),
    Ping(Reply<()>),
    Shutdown(oneshot::Sender<()>),
}

impl Answer {
    /// A failed commit turns every answer into that failure. A caller that went away (its
    /// request was cancelled) is not an error: its message is durable all the same.
    fn send(self, failed: Option<&StoreError>) {
        fn fail<T>(r: Result<T, StoreError>, failed: Option<&StoreError>) -> Result<T, StoreError> {
            failed.map_or(r, |e| Err(e.clone()))
        }
        match self {
            Answer::Accept(reply, r) => {
                let _ = reply.send(fail(r, failed));
            }
            Answer::Write(Some(reply), r) => {
                let _ = reply.send(fail(r, failed));
            }
            Answer::Write(None, _) => {}
            Answer::Ping(reply) => {
                let _ = reply.send(fail(Ok(()), failed));
            }
            Answer::Shutdown(reply) => {
                let _ = reply.send(());
            }
        }
    }
}

/// A record as the group sees it: loaded from the engine (or absent), possibly changed.
struct Slot<T> {
    value: Option<T>,
    dirty: bool,
}

/// A message record in a group: decoded when it was accepted in this group or a change needs
/// its fields (a state with an error), else the encoded bytes, whose state is read and patched
/// in place: the common state changes cost no decode and no allocation per field.
enum Rec {
    Decoded(Box<Message>),
    Encoded(Vec<u8>),
}

impl Rec {
    fn state(&self) -> MessageState {
        match self {
            Rec::Decoded(m) => m.state,
            // Checked when loaded.
            Rec::Encoded(b) => codec::message_state(b).unwrap_or(MessageState::Accepted),
        }
    }
}

/// The records one group reads and changes. Every key is written at most once per engine
/// batch (entries of one batch share a sequence number, so two writes of a key in one batch
/// would not have a defined order).
struct View<'a> {
    ks: &'a Keyspaces,
    recent: &'a mut Recent,
    messages: HashMap<MessageId, Slot<Rec>>,
    attempts: HashMap<(MessageId, u16), Slot<Attempt>>,
    idempotency: HashMap<Vec<u8>, Slot<IdempotencyRecord>>,
    /// true: insert into the pending index; false: remove.
    pending: HashMap<MessageId, bool>,
}

impl<'a> View<'a> {
    /// `items`: the group's weight, to size the maps once.
    fn new(ks: &'a Keyspaces, recent: &'a mut Recent, items: usize) -> Self {
        View {
            ks,
            recent,
            messages: HashMap::with_capacity(items),
            attempts: HashMap::with_capacity(items),
            idempotency: HashMap::new(),
            pending: HashMap::with_capacity(items),
        }
    }

    fn is_empty(&self) -> bool {
        self.pending.is_empty()
            && !self.messages.values().any(|s| s.dirty)
            && !self.attempts.values().any(|s| s.dirty)
            && !self.idempotency.values().any(|s| s.dirty)
    }

    // ---- loading: the only fallible part, done before a command changes anything, so a
    // ---- command either applies whole or not at all.

    fn preload_accept(&mut self, messages: &[NewMessage]) -> Result<(), StoreError> {
        for m in messages {
            if let Some(key) = &m.message.idempotency_key {
                let k = codec::idempotency_key(&m.message.client, key);
                if let Entry::Vacant(e) = self.idempotency.entry(k) {
                    let value = match self.ks.idempotency.get(e.key())? {
                        Some(bytes) => {
                            Some(codec::decode_idempotency(&bytes).map_err(|source| {
                                StoreError::Corrupt {
                                    what: "idempotency entry",
                                    key: format!("{}/{key}", m.message.client),
                                    source,
                                }
                            })?)
                        }
                        None => None,
                    };
                    e.insert(Slot {
                        value,
                        dirty: false,
                    });
                }
            }
        }
        Ok(())
    }

    fn preload_writes(&mut self, writes: &[Write]) -> Result<(), StoreError> {
        for w in writes {
            let id = w.id();
            let corrupt = |source| StoreError::Corrupt {
                what: "message",
                key: id.to_string(),
                source,
            };
            let needs_fields = matches!(w, Write::State { error: Some(_), .. });
            match self.messages.entry(id) {
                Entry::Vacant(e) => {
                    let bytes = match self.recent.take_message(id) {
                        Some(b) => Some(b),
                        None => self.ks.messages.get(id.as_bytes())?.map(|b| b.to_vec()),
                    };
                    let value = match bytes {
                        Some(bytes) if needs_fields => Some(Rec::Decoded(Box::new(
                            codec::decode_message(id, &bytes).map_err(corrupt)?,
                        ))),
                        Some(bytes) => {
                            codec::message_state(&bytes).map_err(corrupt)?;
                            Some(Rec::Encoded(bytes))
                        }
                        None => None,
                    };
                    e.insert(Slot {
                        value,
                        dirty: false,
                    });
                }
                Entry::Occupied(mut e) => {
                    if needs_fields && let Some(Rec::Encoded(bytes)) = &e.get().value {
                        let m = codec::decode_message(id, bytes).map_err(corrupt)?;
                        e.get_mut().value = Some(Rec::Decoded(Box::new(m)));
                    }
                }
            }
            let n = match w {
                Write::SegmentResp { n, .. }
                | Write::Receipt { n, .. }
                | Write::Outcome { n, .. } => *n,
                Write::State { .. } | Write::Attempt { .. } => continue,
            };
            if let Entry::Vacant(e) = self.attempts.entry((id, n)) {
                let cached = self.recent.take_attempt((id, n));
                let value = match cached {
                    Some(a) => Some(a),
                    None => match self.ks.attempts.get(codec::attempt_key(id, n))? {
                        Some(bytes) => {
                            Some(codec::decode_attempt(n, &bytes).map_err(|source| {
                                StoreError::Corrupt {
                                    what: "attempt",
                                    key: format!("{id}/{n}"),
                                    source,
                                }
                            })?)
                        }
                        None => None,
                    },
                };
                e.insert(Slot {
                    value,
                    dirty: false,
                });
            }
        }
        Ok(())
    }

    // ---- applying: infallible, in channel order.

    fn accept(&mut self, new: NewMessage) -> Accepted {
        let NewMessage { message, replay } = new;
        if let Some(key) = &message.idempotency_key {
            let k = codec::idempotency_key(&message.client, key);
            let (fingerprint, answer) =
                replay.map_or(([0; 32], Vec::new()), |r| (r.fingerprint, r.answer));
            let slot = self.idempotency.entry(k).or_insert(Slot {
                value: None,
                dirty: false,
            });
            if let Some(first) = &slot.value {
                return if first.fingerprint == fingerprint {
                    Accepted::Replayed {
                        id: first.id,
                        answer: first.answer.clone(),
                    }
                } else {
                    Accepted::Conflict { id: first.id }
                };
            }
            slot.value = Some(IdempotencyRecord {
                id: message.id,
                fingerprint,
                answer,
            });
            slot.dirty = true;
        }
        if !message.state.is_final() {
            self.pending.insert(message.id, true);
        }
        self.messages.insert(
            message.id,
            Slot {
                value: Some(Rec::Decoded(Box::new(message))),
                dirty: true,
            },
        );
        Accepted::New
    }

    fn apply(&mut self, w: &Write) -> WriteOutcome {
        let id = w.id();
        let Some(slot) = self.messages.get_mut(&id) else {
            return WriteOutcome::NotFound;
        };
        let Some(message) = slot.value.as_mut() else {
            return WriteOutcome::NotFound;
        };
        match w {
            Write::State {
                state,
                at_ms,
                error,
                ..
            } => {
                let current = message.state();
                if current.is_final() {
                    return WriteOutcome::Ignored { current };
                }
                match message {
                    Rec::Decoded(m) => {
                        m.state = *state;
                        m.updated_at_ms = *at_ms;
                        if error.is_some() {
                            m.error.clone_from(error);
                        }
                    }
                    // Loaded decoded by `preload_writes` when there is an error to set.
                    Rec::Encoded(bytes) => codec::patch_message_state(bytes, *state, *at_ms),
                }
                slot.dirty = true;
                if state.is_final() {
                    self.pending.insert(id, false);
                }
                WriteOutcome::Applied
            }
            Write::Attempt { attempt, .. } => {
                self.attempts.insert(
                    (id, attempt.n),
                    Slot {
                        value: Some(attempt.clone()),
                        dirty: true,
                    },
                );
                WriteOutcome::Applied
            }
            Write::SegmentResp {
                n,
                segment,
                carrier_id,
                status,
                at_ms,
                ..
            } => {
                let Some(slot) = self.attempts.get_mut(&(id, *n)) else {
                    return WriteOutcome::NotFound;
                };
                let Some(a) = slot.value.as_mut() else {
                    return WriteOutcome::NotFound;
                };
                if *segment > MAX_SEGMENT_INDEX {
                    return WriteOutcome::NotFound;
                }
                let i = usize::from(*segment);
                if a.carrier_ids.len() <= i {
                    a.carrier_ids.resize(i + 1, String::new());
                }
                a.carrier_ids[i].clone_from(carrier_id);
                a.submitted_at_ms.get_or_insert(*at_ms);
                // The first refusal of any segment is what explains the attempt.
                if a.resp_status.is_none_or(|s| s == 0) {
                    a.resp_status = Some(*status);
                }
                if *status != 0 {
                    a.outcome = AttemptOutcome::Refused;
                } else if a.outcome == AttemptOutcome::Pending {
                    a.outcome = AttemptOutcome::Submitted;
                }
                slot.dirty = true;
                WriteOutcome::Applied
            }
            Write::Outcome {
                n, outcome, error, ..
            } => {
                let Some(slot) = self.attempts.get_mut(&(id, *n)) else {
                    return WriteOutcome::NotFound;
                };
                let Some(a) = slot.value.as_mut() else {
                    return WriteOutcome::NotFound;
                };
                a.outcome = *outcome;
                if error.is_some() {
                    a.error_code.clone_from(error);
                }
                slot.dirty = true;
                WriteOutcome::Applied
            }
            Write::Receipt {
                n,
                status,
                error_code,
                at_ms,
                outcome,
                ..
            } => {
                let Some(slot) = self.attempts.get_mut(&(id, *n)) else {
                    return WriteOutcome::NotFound;
                };
                let Some(a) = slot.value.as_mut() else {
                    return WriteOutcome::NotFound;
                };
                a.receipt_status = Some(status.clone());
                a.error_code.clone_from(error_code);
                a.receipt_at_ms = Some(*at_ms);
                a.outcome = *outcome;
                slot.dirty = true;
                WriteOutcome::Applied
            }
        }
    }

    /// Writes what changed in one engine batch (no batch at all when `empty`: nothing
    /// changed), then hands every record the group held back to [`Recent`], messages that
    /// ended excepted: their records see no more state changes.
    fn commit(self, db: &Database, mode: PersistMode, empty: bool) -> Result<(), StoreError> {
        let View {
            ks,
            recent,
            messages,
            attempts,
            idempotency,
            pending,
        } = self;
        let mut batch = db.batch().durability(Some(mode));
        let mut keep: Vec<(MessageId, Vec<u8>)> = Vec::with_capacity(messages.len());
        for (id, slot) in messages {
            let (dirty, bytes) = match slot.value {
                Some(Rec::Decoded(m)) => (slot.dirty, codec::encode_message(&m)),
                Some(Rec::Encoded(bytes)) => (slot.dirty, bytes),
                None => continue,
            };
            if dirty {
                batch.insert(&ks.messages, id.as_bytes(), &bytes[..]);
            }
            if !codec::message_state(&bytes).is_ok_and(MessageState::is_final) {
                keep.push((id, bytes));
            }
        }
        for ((id, n), slot) in &attempts {
            if let (true, Some(a)) = (slot.dirty, &slot.value) {
                batch.insert(
                    &ks.attempts,
                    codec::attempt_key(*id, *n),
                    codec::encode_attempt(a),
                );
            }
        }
        for (k, slot) in idempotency {
            if let (true, Some(r)) = (slot.dirty, &slot.value) {
                batch.insert(&ks.idempotency, k, codec::encode_idempotency(r));
            }
        }
        for (id, present) in pending {
            if present {
                batch.insert(&ks.pending, id.as_bytes(), []);
            } else {
                batch.remove(&ks.pending, id.as_bytes());
            }
        }
        if !empty && let Err(e) = batch.commit() {
            recent.clear();
            return Err(e.into());
        }
        for (id, bytes) in keep {
            recent.put_message(id, bytes);
        }
        for (key, slot) in attempts {
            if let Some(a) = slot.value {
                recent.put_attempt(key, a);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MessageId {
        MessageId::from_bytes([n; 16])
    }

    /// Two generations: an entry lives until two more fills of `cap` have passed, a taken
    /// entry is gone from both, and a cap of 0 caches nothing.
    #[test]
    fn recent_records_age_out_by_generation() {
        let mut r = Recent::new(2);
        for n in 1..=3 {
            r.put_message(id(n), vec![n]);
        }
        // 1 and 2 filled the first generation, 3 started the next: all still there.
        assert_eq!(r.take_message(id(1)), Some(vec![1]));
        r.put_message(id(4), vec![4]);
        r.put_message(id(5), vec![5]);
        // 5 turned over again: the generation holding 2 is gone.
        assert_eq!(r.take_message(id(2)), None);
        assert_eq!(r.take_message(id(4)), Some(vec![4]));
        assert_eq!(r.take_message(id(4)), None);
        r.put_attempt((id(9), 1), Attempt::default());
        assert!(r.take_attempt((id(9), 1)).is_some());
        assert!(r.take_attempt((id(9), 1)).is_none());
        r.clear();
        assert_eq!(r.take_message(id(5)), None);

        let mut none = Recent::new(0);
        none.put_message(id(1), vec![1]);
        assert_eq!(none.take_message(id(1)), None);
    }
}
