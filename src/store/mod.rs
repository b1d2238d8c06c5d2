//! The durable store: messages, their attempts, the idempotency index and the pending index,
//! on an embedded engine (fjall) with group commit.
//!
//! What it guarantees: a message is acknowledged ([`Store::accept`] returns) only after the
//! fsync of the commit that holds it, so after the API's answer it survives `kill -9`, a
//! power cut and a restart. [`Store::pending`] then lists every message that has not reached
//! a final state, which is exactly the work a restarted gateway must resume.
//!
//! What it is not: a queue or a scheduler. It does not decide what to do next with a
//! message; the delivery side reads [`Store::pending`] at start-up and is handed new
//! messages by the API's dispatcher.
//!
//! # Which writes are awaited
//!
//! - **Accept** (and its idempotency entry): always awaited. It is the one write that
//!   answers a caller, and the answer is a promise.
//! - **Final states** (delivered, failed, expired, rejected) and the attempt write that
//!   carries the receipt: should be awaited ([`Store::write`], [`Store::write_all`]) before
//!   the client's callback is sent, so a client never hears of a state the store could
//!   forget.
//! - **Progress marks** (an attempt chosen, a segment's submit_sm_resp, an attempt's
//!   outcome): may be sent with [`Store::write_nowait`]. Losing one to a crash is
//!   recoverable by construction: the message is still non-final, so it is still in the
//!   pending index, and the restart resumes it. (A submit whose mark was lost looks like an
//!   ambiguous submit and is handled as one.) Such writes are ordered with all the others on
//!   the one channel, reach the OS with the next commit (surviving a process crash) and reach
//!   the disk with the next fsync.
//!
//! Reads ([`Store::get`], [`Store::attempts`], [`Store::pending`]) go straight to the
//! engine and see every committed write; a `write_nowait` is visible once its group has
//! committed.
//!
//! # Layout
//! - [`model`]: the records and the writes.
//! - [`codec`]: their versioned binary form.
//! - [`config`]: the `store:` section of gateway.yaml.
//! - `writer`: the single writer thread and its group commit.

pub mod codec;
pub mod config;
pub mod model;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use tokio::sync::oneshot;

pub use codec::CodecError;
pub use config::{StoreConfig, StoreOptions};
pub use model::{
    Accepted, Attempt, AttemptOutcome, Channel, Dlt, IdempotencyRecord, Message, MessageId,
    MessageState, NewMessage, Replay, Write, WriteOutcome,
};

use writer::{Command, Writer};

/// Why the store could not do something.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Engine(Arc<fjall::Error>),
    #[error("corrupt {what} record {key}: {source}")]
    Corrupt {
        what: &'static str,
        key: String,
        source: CodecError,
    },
    /// The writer has stopped (shut down, or a failed commit stopped it).
    #[error("the store is closed")]
    Closed,
    /// A commit failed earlier; the engine refuses writes until the process restarts.
    #[error("the store failed a commit and is not writable")]
    Unhealthy,
}

impl From<fjall::Error> for StoreError {
    fn from(e: fjall::Error) -> Self {
        StoreError::Engine(Arc::new(e))
    }
}

/// The engine's keyspaces (each its own LSM tree, written atomically together).
#[derive(Clone)]
pub(crate) struct Keyspaces {
    /// message id → message record
    messages: Keyspace,
    /// message id ++ attempt n (u16 BE) → attempt record
    attempts: Keyspace,
    /// (client, idempotency key) → message id, request fingerprint, first answer
    idempotency: Keyspace,
    /// message id → empty, for every message not in a final state
    pending: Keyspace,
}

/// A handle to the store; clones share one engine and one writer.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    db: Database,
    ks: Keyspaces,
    tx: Sender<Command>,
    healthy: Arc<AtomicBool>,
    /// Set by [`Store::shutdown`]: writes are refused as closed, not as failed.
    closed: AtomicBool,
    stats: Arc<Stats>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// Counters kept by the writer.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    commits: AtomicU64,
    items: AtomicU64,
}

/// What the writer has done since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Engine commits (each with one journal sync).
    pub commits: u64,
    /// Messages and writes committed.
    pub items: u64,
}

/// Records of each kind (messages, attempts) the writer keeps per generation of its cache of
/// recent records (two generations): enough for every message of several seconds of a busy
/// gateway between its accept and its receipt, about 10 MB when full.
const RECENT_RECORDS: usize = 32_768;

/// Largest memtable of the message and attempt keyspaces. The engine's default (64 MiB each,
/// with the skip list's overhead on top) made the store the largest part of the gateway's
/// memory with a million messages in flight; 16 MiB keeps the write rate (measured in
/// docs/performance.md) and a quarter of the memory.
const MEMTABLE_BYTES: u64 = 16 * 1024 * 1024;

fn memtable(bytes: u64) -> KeyspaceCreateOptions {
    KeyspaceCreateOptions::default().max_memtable_size(bytes)
}

impl Store {
    /// Opens (or creates) the store at `path` with the default options. Recovery of a
    /// journal cut short by a crash happens here.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(path, StoreOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = Database::builder(&path).open()?;
        let ks = Keyspaces {
            messages: db.keyspace("messages", || memtable(MEMTABLE_BYTES))?,
            attempts: db.keyspace("attempts", || memtable(MEMTABLE_BYTES))?,
            idempotency: db.keyspace("idempotency", || memtable(MEMTABLE_BYTES / 2))?,
            pending: db.keyspace("pending", || memtable(MEMTABLE_BYTES / 2))?,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let stats = Arc::new(Stats::default());
        let writer = Writer {
            db: db.clone(),
            ks: ks.clone(),
            rx,
            max_batch: options.max_batch.max(1),
            max_delay: options.max_delay,
            healthy: Arc::clone(&healthy),
            stats: Arc::clone(&stats),
            recent: writer::Recent::new(RECENT_RECORDS),
        };
        let handle = std::thread::Builder::new()
            .name("gannet-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Engine(Arc::new(fjall::Error::Io(e))))?;
        Ok(Store {
            shared: Arc::new(Shared {
                path,
                db,
                ks,
                tx,
                healthy,
                closed: AtomicBool::new(false),
                stats,
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// False once a commit has failed (disk full, I/O error) or the store was shut down:
    /// `/readyz` reports it and the API answers 503 instead of accepting.
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Acquire)
    }

    /// Commits and items so far: items / commits is the group commit's batching factor.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            commits: self.shared.stats.commits.load(Ordering::Relaxed),
            items: self.shared.stats.items.load(Ordering::Relaxed),
        }
    }

    fn send(&self, cmd: Command) -> Result<(), StoreError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        if !self.is_healthy() {
            return Err(StoreError::Unhealthy);
        }
        self.shared.tx.send(cmd).map_err(|_| StoreError::Closed)
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(writer::Reply<T>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(make(reply))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Writes a message (and its idempotency entry) durably. Returns after the fsync.
    pub async fn accept(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        let mut out = self.accept_many(vec![message]).await?;
        out.pop().ok_or(StoreError::Closed)
    }

    /// Writes several messages in one commit; one outcome per message, in order. Two
    /// messages of one call with the same idempotency key behave as two calls in sequence.
    pub async fn accept_many(
        &self,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Accepted>, StoreError> {
        self.call(|reply| Command::Accept { messages, reply }).await
    }

    /// Applies a write and waits until it is durable.
    pub async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError> {
        let mut out = self.write_all(vec![write]).await?;
        out.pop().ok_or(StoreError::Closed)
    }

    /// Applies writes atomically (one commit) and waits until they are durable.
    pub async fn write_all(&self, writes: Vec<Write>) -> Result<Vec<WriteOutcome>, StoreError> {
        self.call(|reply| Command::Write {
            writes,
            reply: Some(reply),
        })
        .await
    }

    /// Queues a write without waiting: ordered after every write sent before it, committed
    /// with the next group. Only for writes whose loss to a crash is recoverable (see the
    /// module docs). Fails only if the store is already closed or unhealthy.
    pub fn write_nowait(&self, write: Write) -> Result<(), StoreError> {
        self.send(Command::Write {
            writes: vec![write],
            reply: None,
        })
    }

    /// [`Store::write_nowait`] for several writes: one channel message, applied in order.
    pub fn write_all_nowait(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.send(Command::Write {
            writes,
            reply: None,
        })
    }

    /// Round trip through the writer: Ok when it is running and its last commit succeeded.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(|reply| Command::Ping { reply }).await
    }

    /// Commits everything queued so far, stops the writer and waits for it. Later writes
    /// fail with [`StoreError::Closed`]; reads keep working.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.shared.tx.send(Command::Shutdown { reply }).is_ok() {
            let _ = rx.await;
        }
        self.shared.closed.store(true, Ordering::Release);
        self.shared.healthy.store(false, Ordering::Release);
        let handle = self
            .shared
            .writer
            .lock()
            .ok()
            .and_then(|mut guard| guard.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }

    /// The message with this id, if any.
    pub fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let Some(bytes) = self.shared.ks.messages.get(id.as_bytes())? else {
            return Ok(None);
        };
        codec::decode_message(id, &bytes)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                what: "message",
                key: id.to_string(),
                source,
            })
    }

    /// Every attempt of a message, in attempt order.
    pub fn attempts(&self, id: MessageId) -> Result<Vec<Attempt>, StoreError> {
        let mut out = Vec::new();
        for guard in self.shared.ks.attempts.prefix(id.as_bytes()) {
            let (key, value) = guard.into_inner()?;
            let n = codec::attempt_n(&key).ok_or_else(|| StoreError::Corrupt {
                what: "attempt key",
                key: id.to_string(),
                source: CodecError::Truncated,
            })?;
            out.push(
                codec::decode_attempt(n, &value).map_err(|source| StoreError::Corrupt {
                    what: "attempt",
                    key: format!("{id}/{n}"),
                    source,
                })?,
            );
        }
        Ok(out)
    }

    /// The idempotency entry of `(client, key)`, if any.
    pub fn idempotency(
        &self,
        client: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(bytes) = self
            .shared
            .ks
            .idempotency
            .get(codec::idempotency_key(client, key))?
        else {
            return Ok(None);
        };
        codec::decode_idempotency(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                what: "idempotency entry",
                key: format!("{client}/{key}"),
                source,
            })
    }

    /// Every message not in a final state, oldest first (ids are time-ordered). Read from a
    /// snapshot taken now: what is accepted while iterating is handed out by the dispatcher.
    pub fn pending(&self) -> Pending {
        Pending {
            keys: self.shared.ks.pending.iter(),
            store: self.clone(),
        }
    }

    /// How many messages are in the pending index (a scan: for tests, tools and start-up).
    pub fn pending_count(&self) -> Result<usize, StoreError> {
        Ok(self.shared.ks.pending.len()?)
    }

    /// Disk space used by the engine, in bytes.
    pub fn disk_space(&self) -> Result<u64, StoreError> {
        Ok(self.shared.db.disk_space()?)
    }
}

/// Iterator over the messages in the pending index; see [`Store::pending`].
pub struct Pending {
    keys: fjall::Iter,
    store: Store,
}

impl Iterator for Pending {
    type Item = Result<Message, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let key = match self.keys.next()?.key() {
                Ok(k) => k,
                Err(e) => return Some(Err(e.into())),
            };
            let Ok(bytes) = <[u8; 16]>::try_from(&*key) else {
                return Some(Err(StoreError::Corrupt {
                    what: "pending key",
                    key: format!("{key:?}"),
                    source: CodecError::Length(key.len() as u64),
                }));
            };
            let id = MessageId::from_bytes(bytes);
            match self.store.get(id) {
                Ok(Some(m)) => return Some(Ok(m)),
                // Not reachable through the writer, which writes both in one batch; skipping
                // keeps one stray key from hiding every message after it.
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.shared.path)
            .field("healthy", &self.is_healthy())
            .finish()
    }
}
