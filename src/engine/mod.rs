//! The delivery side: from an accepted message to its final state.
//!
//! One task, the engine, owns every message in flight. It takes new messages from the API's
//! dispatcher and the store's pending index (on start), asks the router for a carrier, builds
//! the submit_sm PDUs and queues them on the carrier pool; it maps each submit_sm_resp to the
//! message in the DLR tracker, matches receipts, notices missing ones when their deadline
//! passes, and fails a message over to the next candidate (or to the voice channel) on a
//! permanent submit error, an unanswered submit, a negative receipt or a missing receipt,
//! while the message is still within its validity and its attempts. Every attempt is written
//! to the store; every outcome feeds the route health that the next decisions read.
//!
//! What it guarantees: every message handed to it ends in exactly one final state, written
//! durably before the client's webhook is sent. A message whose work is cut short by a
//! shutdown or a crash stays in the store's pending index, and the next start resumes it
//! ([`resume`]): attempts that were waiting for a receipt are tracked again, attempts that
//! were sent without an answer are treated as ambiguous.
//!
//! What it is not: the router (a pure function it calls), the pool (which owns the sockets)
//! or the store (which owns durability). It does no I/O of its own except through those and
//! the [`Notifier`].
//!
//! # Layout
//! - [`admission`]: the API's admission hook from the live route table.
//! - [`submit`]: message + carrier → submit_sm PDUs.
//! - [`receipt`]: receipt PDU → id, state, error.
//! - `flight`: what the engine keeps per message in flight.

pub mod admission;
pub mod receipt;
pub mod submit;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

pub use admission::{RouteAdmission, SharedTable};

use crate::api::{ChannelDispatch, Clock};
use crate::carrier::{
    BindState, CarrierPool, PoolEvent, SegmentOutcome, StatusClass, SubmitJob, SubmitRejected,
};
use crate::dlr::{CarrierRef, DlrTracker, FinalStatus, Match, MessageRef, ReceiptMatch};
use crate::router::{self, HealthBook, HealthConfig, HealthSnapshot, RouteRequest, SubmitResult};
use crate::routes::{self, Feature, MessageClass, PrefixKey, RouteTable};
use crate::store::{
    Attempt, AttemptOutcome, Channel, Message, MessageId, MessageState, Store, Write,
};

/// Where status changes and voice calls go. The service plugs in the webhook sender.
pub trait Notifier: Send + Sync + 'static {
    /// A status change of a message that has a callback URL. Must not block.
    fn status(&self, url: &str, body: Bytes);
    /// Hands a message to the voice channel; resolves when the voice provider accepted it
    /// (`Ok`) or gave up (`Err` with the reason).
    fn voice(&self, body: Bytes) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
}

/// Sends nothing; the voice channel is not configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn status(&self, _url: &str, _body: Bytes) {}

    fn voice(&self, _body: Bytes) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        Box::pin(async { Err("no voice channel is configured (webhooks.voice_url)".into()) })
    }
}

/// Tuning of the engine.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub health: HealthConfig,
    /// How often bind states and throttles are read from the pool into the health book.
    pub health_refresh: Duration,
    /// How long a message waits when its carrier's queue is full.
    pub queue_full_retry: Duration,
    /// How long a message waits when every candidate is down.
    pub all_down_retry: Duration,
    /// Send a webhook when a message is submitted, not only when it is final.
    pub notify_submitted: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            health: HealthConfig::default(),
            health_refresh: Duration::from_millis(250),
            queue_full_retry: Duration::from_millis(100),
            all_down_retry: Duration::from_secs(1),
            notify_submitted: true,
        }
    }
}

/// What the engine is given to run.
pub struct EngineParts {
    pub store: Store,
    pub pool: CarrierPool,
    pub pool_events: mpsc::Receiver<PoolEvent>,
    pub table: SharedTable,
    pub tracker: Arc<DlrTracker>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
    pub settings: EngineSettings,
    /// Resume the store's pending messages before taking new ones.
    pub resume: bool,
}

/// Counters since start.
#[derive(Debug, Default)]
struct Counters {
    started: AtomicU64,
    resumed: AtomicU64,
    submitted: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    expired: AtomicU64,
    rejected: AtomicU64,
    sent: AtomicU64,
    failovers: AtomicU64,
    voice: AtomicU64,
    possible_duplicates: AtomicU64,
    late_receipts: AtomicU64,
    unmatched_receipts: AtomicU64,
    in_flight: AtomicU64,
}

/// What the engine has done since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Messages taken on (new and resumed).
    pub started: u64,
    /// Of those, resumed from the store at start.
    pub resumed: u64,
    /// Attempts whose every segment the carrier accepted.
    pub submitted: u64,
    pub delivered: u64,
    pub failed: u64,
    pub expired: u64,
    pub rejected: u64,
    /// Messages that asked for no receipt, ended when the carrier accepted them.
    pub sent: u64,
    /// Attempts after the first.
    pub failovers: u64,
    /// Messages handed to the voice channel.
    pub voice: u64,
    pub possible_duplicates: u64,
    /// Receipts for a message already final.
    pub late_receipts: u64,
    pub unmatched_receipts: u64,
    /// Messages not yet final.
    pub in_flight: u64,
}

/// Orders to the engine.
enum Control {
    Reload(Arc<RouteTable>, oneshot::Sender<()>),
}

/// Work finished off the engine task, reported back to it.
enum Internal {
    Voice {
        id: MessageId,
        n: u16,
        result: Result<(), String>,
    },
}

/// The handle to a running engine.
#[derive(Clone)]
pub struct EngineHandle {
    dispatch: ChannelDispatch,
    control: mpsc::UnboundedSender<Control>,
    counters: Arc<Counters>,
    health: Arc<RwLock<HealthSnapshot>>,
    table: SharedTable,
    tracker: Arc<DlrTracker>,
    done: TaskTracker,
}

impl EngineHandle {
    /// The dispatcher to give the API.
    pub fn dispatcher(&self) -> Arc<ChannelDispatch> {
        Arc::new(self.dispatch.clone())
    }

    /// Puts a new route table in place (after it was loaded and validated): the next
    /// decisions use it. Returns once the engine has switched.
    pub async fn reload(&self, table: Arc<RouteTable>) {
        let (tx, rx) = oneshot::channel();
        self.table.set(table.clone());
        if self.control.send(Control::Reload(table, tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The route table in use.
    pub fn table(&self) -> Arc<RouteTable> {
        self.table.get()
    }

    /// The latest health snapshot the router used.
    pub fn health(&self) -> HealthSnapshot {
        self.health
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn tracker(&self) -> &DlrTracker {
        &self.tracker
    }

    pub fn stats(&self) -> EngineStats {
        let c = &*self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        EngineStats {
            started: l(&c.started),
            resumed: l(&c.resumed),
            submitted: l(&c.submitted),
            delivered: l(&c.delivered),
            failed: l(&c.failed),
            expired: l(&c.expired),
            rejected: l(&c.rejected),
            sent: l(&c.sent),
            failovers: l(&c.failovers),
            voice: l(&c.voice),
            possible_duplicates: l(&c.possible_duplicates),
            late_receipts: l(&c.late_receipts),
            unmatched_receipts: l(&c.unmatched_receipts),
            in_flight: l(&c.in_flight),
        }
    }

    /// Resolves when the engine has stopped: after the pool drained (its event channel
    /// closed) and the engine's last store writes and webhooks were handed off.
    pub async fn stopped(&self) {
        self.done.wait().await;
    }
}

/// Starts the engine on the current runtime.
pub fn start(parts: EngineParts) -> EngineHandle {
    let (dispatch, new_rx) = ChannelDispatch::new();
    let (control, control_rx) = mpsc::unbounded_channel();
    let (internal_tx, internal_rx) = mpsc::unbounded_channel();
    let counters = Arc::new(Counters::default());
    let health = Arc::new(RwLock::new(HealthSnapshot::default()));
    let table = parts.table.get();
    if let Err(e) = parts.tracker.register_routes(&table) {
        tracing::error!(error = %e, "receipt tracker: carriers not registered");
    }
    let done = TaskTracker::new();
    let handle = EngineHandle {
        dispatch,
        control,
        counters: counters.clone(),
        health: health.clone(),
        table: parts.table.clone(),
        tracker: parts.tracker.clone(),
        done: done.clone(),
    };
    let book = HealthBook::new(parts.settings.health);
    let engine = Engine {
        received: None,
        store: parts.store,
        pool: parts.pool,
        table,
        tracker: parts.tracker,
        notifier: parts.notifier,
        clock: parts.clock,
        settings: parts.settings,
        counters,
        book,
        snapshot: HealthSnapshot::default(),
        published: health,
        health_dirty: true,
        flights: Flights::default(),
        tokens: HashMap::new(),
        next_token: 1,
        timers: BinaryHeap::new(),
        timer_seq: 0,
        carrier_refs: HashMap::new(),
        seen_state: HashMap::new(),
        nowait: Vec::new(),
        finals: Vec::new(),
        notes: Vec::new(),
        internal_tx,
        spawned: TaskTracker::new(),
        interned: HashMap::new(),
        countries: HashMap::new(),
        meters: Meters::default(),
    };
    let resume = parts.resume;
    done.spawn(engine.run(resume, new_rx, parts.pool_events, control_rx, internal_rx));
    done.close();
    handle
}

/// The attempt in progress of a message.
#[derive(Debug)]
struct Live {
    n: u16,
    token: u64,
    carrier: Arc<str>,
    carrier_ref: Option<CarrierRef>,
    prefix: Option<PrefixKey>,
    parts: u8,
    reported: u8,
    accepted: u8,
    withdrawn: u8,
    not_sent: u8,
    failed: Option<(u32, StatusClass)>,
    ambiguous: bool,
    queued_at_ms: u64,
    deadline: Duration,
    /// Every segment answered OK: waiting for the receipt.
    submitted: bool,
    voice: bool,
}

impl Live {
    /// Attempt `n` queued at `queued_at_ms`, nothing answered yet.
    fn new(n: u16, token: u64, carrier: Arc<str>, parts: u8, queued_at_ms: u64) -> Live {
        Live {
            n,
            token,
            carrier,
            carrier_ref: None,
            prefix: None,
            parts,
            reported: 0,
            accepted: 0,
            withdrawn: 0,
            not_sent: 0,
            failed: None,
            ambiguous: false,
            queued_at_ms,
            deadline: Duration::ZERO,
            submitted: false,
            voice: false,
        }
    }
}

/// A message in flight.
#[derive(Debug)]
struct Flight {
    class: MessageClass,
    /// A receipt was asked for.
    receipt: bool,
    to: Box<str>,
    valid_until_ms: u64,
    callback: Option<Arc<str>>,
    client_ref: Option<Box<str>>,
    /// Carriers of the attempts before the live one, oldest first.
    tried: Vec<Arc<str>>,
    /// Attempt numbers used so far (the live one included).
    attempts: u16,
    live: Option<Live>,
    last_error: Option<String>,
    /// The route prefix of the latest attempt.
    prefix: Option<PrefixKey>,
    /// When the last attempt was given up (0: never): the start of the failover delay.
    failed_at_ms: u64,
}

/// The messages in flight: a slab of flights and an index by id. A hash map of whole flights
/// would keep up to twice their number of slots at the size of a flight; here the index holds
/// four-byte slot numbers and the slab grows by what is in use (docs/performance.md).
#[derive(Default)]
struct Flights {
    index: HashMap<MessageId, u32>,
    slots: Vec<Option<Flight>>,
    free: Vec<u32>,
}

impl Flights {
    fn get(&self, id: &MessageId) -> Option<&Flight> {
        let i = *self.index.get(id)?;
        self.slots.get(i as usize)?.as_ref()
    }

    fn get_mut(&mut self, id: &MessageId) -> Option<&mut Flight> {
        let i = *self.index.get(id)?;
        self.slots.get_mut(i as usize)?.as_mut()
    }

    fn contains_key(&self, id: &MessageId) -> bool {
        self.index.contains_key(id)
    }

    fn insert(&mut self, id: MessageId, flight: Flight) {
        if let Some(f) = self.get_mut(&id) {
            *f = flight;
            return;
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(flight);
                i
            }
            None => {
                self.slots.push(Some(flight));
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.index.insert(id, i);
    }

    fn remove(&mut self, id: &MessageId) -> Option<Flight> {
        let i = self.index.remove(id)?;
        let f = self.slots.get_mut(i as usize)?.take();
        self.free.push(i);
        f
    }

    fn len(&self) -> usize {
        self.index.len()
    }
}

/// A message parked until a time (carrier queue full, quiet hours, every route down).
type Timer = Reverse<(u64, u64, MessageId)>;

struct Engine {
    /// While a newly dispatched message is taken on: when its request reached the API, for
    /// its first submit's latency.
    received: Option<Instant>,
    store: Store,
    pool: CarrierPool,
    table: Arc<RouteTable>,
    tracker: Arc<DlrTracker>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    counters: Arc<Counters>,
    book: HealthBook,
    snapshot: HealthSnapshot,
    published: Arc<RwLock<HealthSnapshot>>,
    health_dirty: bool,
    flights: Flights,
    /// Pool job token (and tracker id) → message and attempt number.
    tokens: HashMap<u64, (MessageId, u16)>,
    next_token: u64,
    timers: BinaryHeap<Timer>,
    timer_seq: u64,
    carrier_refs: HashMap<Arc<str>, Option<CarrierRef>>,
    /// Per carrier, the state of each bind once any was reported.
    seen_state: HashMap<Arc<str>, Vec<bool>>,
    /// Progress writes of this turn, sent without waiting.
    nowait: Vec<Write>,
    /// Final-state writes of this turn, awaited before their webhooks.
    finals: Vec<Write>,
    /// Webhooks to send once `finals` is durable.
    notes: Vec<(Arc<str>, Bytes)>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    spawned: TaskTracker,
    interned: HashMap<Box<str>, Arc<str>>,
    /// Route prefix → country code, the `country` label of metrics.
    countries: HashMap<PrefixKey, Arc<str>>,
    /// Metric handles by their labels: registered once, not looked up per message.
    meters: Meters,
}

/// Metric handles, created on first use of a label set.
struct Meters {
    failover_delay: metrics::Histogram,
    submitted: HashMap<Arc<str>, metrics::Counter>,
    submit_errors: HashMap<Arc<str>, metrics::Counter>,
    receipts: HashMap<Arc<str>, HashMap<String, metrics::Counter>>,
    latency: HashMap<(Arc<str>, Arc<str>), metrics::Histogram>,
    finals: HashMap<(MessageState, Arc<str>), metrics::Counter>,
}

impl Default for Meters {
    fn default() -> Self {
        Meters {
            failover_delay: metrics::histogram!("gannet_failover_delay_seconds"),
            submitted: HashMap::new(),
            submit_errors: HashMap::new(),
            receipts: HashMap::new(),
            latency: HashMap::new(),
            finals: HashMap::new(),
        }
    }
}

impl Meters {
    fn submitted(&mut self, carrier: &Arc<str>) -> &metrics::Counter {
        self.submitted.entry(carrier.clone()).or_insert_with(
            || metrics::counter!("gannet_submitted_total", "carrier" => carrier.to_string()),
        )
    }

    fn submit_errors(&mut self, carrier: &Arc<str>) -> &metrics::Counter {
        self.submit_errors.entry(carrier.clone()).or_insert_with(
            || metrics::counter!("gannet_submit_errors_total", "carrier" => carrier.to_string()),
        )
    }

    fn receipt(&mut self, carrier: &Arc<str>, status: &str) -> &metrics::Counter {
        let by_status = self.receipts.entry(carrier.clone()).or_default();
        // Carriers send few distinct states; an unbounded variety is folded into one label.
        let status = if by_status.contains_key(status) || by_status.len() < 32 {
            status
        } else {
            "OTHER"
        };
        if !by_status.contains_key(status) {
            let c = metrics::counter!("gannet_receipts_total", "carrier" => carrier.to_string(), "status" => status.to_string());
            by_status.insert(status.to_string(), c);
        }
        // Present: inserted just above when it was not.
        &by_status[status]
    }

    fn latency(&mut self, carrier: &Arc<str>, country: &Arc<str>) -> &metrics::Histogram {
        self.latency
            .entry((carrier.clone(), country.clone()))
            .or_insert_with(|| {
                metrics::histogram!("gannet_receipt_latency_seconds", "carrier" => carrier.to_string(), "country" => country.to_string())
            })
    }

    fn finals(&mut self, state: MessageState, country: &Arc<str>) -> &metrics::Counter {
        self.finals.entry((state, country.clone())).or_insert_with(|| {
            metrics::counter!("gannet_messages_final_total", "state" => state.as_str(), "country" => country.to_string())
        })
    }
}

/// The JSON of a status webhook.
#[derive(Serialize)]
struct StatusBody<'a> {
    id: String,
    status: &'static str,
    to: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ref: Option<&'a str>,
    attempt: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    carrier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    at_ms: u64,
}

/// The JSON of a voice call request.
#[derive(Serialize)]
struct VoiceBody<'a> {
    id: String,
    to: &'a str,
    text: &'a str,
    class: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ref: Option<&'a str>,
    valid_until_ms: u64,
}

fn id_u128(id: MessageId) -> u128 {
    u128::from_be_bytes(*id.as_bytes())
}

fn seed_of(id: MessageId) -> u64 {
    let v = id_u128(id);
    (v as u64) ^ ((v >> 64) as u64)
}

fn to_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Whether a submit that got no answer may go out again elsewhere: a duplicate OTP is better
/// than none; a duplicate marketing text is not.
fn resend_ambiguous(class: MessageClass) -> bool {
    !matches!(class, MessageClass::Marketing)
}

impl Engine {
    fn now_ms(&self) -> u64 {
        self.clock.unix_ms()
    }

    async fn run(
        mut self,
        resume: bool,
        mut new_rx: mpsc::UnboundedReceiver<(Message, Instant)>,
        mut events: mpsc::Receiver<PoolEvent>,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
    ) {
        if resume {
            self.resume();
            self.flush();
        }
        let mut refresh = tokio::time::interval(self.settings.health_refresh);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut new_buf = Vec::with_capacity(256);
        let mut ev_buf = Vec::with_capacity(256);
        let mut new_open = true;
        loop {
            let wake = self.next_wake();
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                n = events.recv_many(&mut ev_buf, 512) => {
                    if n == 0 {
                        break;
                    }
                    for ev in ev_buf.drain(..) {
                        self.on_pool_event(ev);
                    }
                }
                Some(ctl) = control.recv() => self.on_control(ctl),
                Some(msg) = internal.recv() => self.on_internal(msg),
                n = new_rx.recv_many(&mut new_buf, 256), if new_open => {
                    if n == 0 {
                        new_open = false;
                    }
                    for (msg, received) in new_buf.drain(..) {
                        self.received = Some(received);
                        self.take(msg, Vec::new());
                        self.received = None;
                    }
                }
                () = sleep => self.on_timers(),
                _ = refresh.tick() => self.refresh_health(),
            }
            self.flush();
        }
        self.flush();
        tracing::info!(
            in_flight = self.flights.len(),
            "engine stopped; unfinished messages stay pending in the store"
        );
        self.spawned.close();
        self.spawned.wait().await;
    }

    /// The earliest timer, tracker deadline included, as a tokio instant.
    fn next_wake(&self) -> Option<tokio::time::Instant> {
        let due_ms = [
            self.timers.peek().map(|Reverse((t, _, _))| *t),
            self.tracker.next_due().map(|t| {
                t.duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64)
            }),
        ]
        .into_iter()
        .flatten()
        .min()?;
        let now = self.now_ms();
        let wait = Duration::from_millis(due_ms.saturating_sub(now));
        Some(tokio::time::Instant::from_std(Instant::now() + wait))
    }

    // ---- taking messages on

    /// Starts (or resumes) a message. `attempts`: its attempts already on record.
    fn take(&mut self, msg: Message, attempts: Vec<Attempt>) {
        if msg.state.is_final() || self.flights.contains_key(&msg.id) {
            return;
        }
        self.take_parked(&msg, &attempts);
        if self.flights.contains_key(&msg.id) {
            self.route(&msg);
        }
    }

    /// The country code of a route prefix (`unknown` outside the table's countries).
    fn country(&mut self, prefix: Option<PrefixKey>) -> Arc<str> {
        let Some(p) = prefix else {
            return Arc::from("unknown");
        };
        if let Some(c) = self.countries.get(&p) {
            return c.clone();
        }
        let mut buf = [0u8; crate::routes::MAX_DIGITS];
        let digits = p.write_digits(&mut buf).to_string();
        let label: Arc<str> = self
            .table
            .lookup(digits.as_bytes())
            .and_then(|r| self.table.country_of(r))
            .map_or_else(|| Arc::from("unknown"), |c| Arc::from(c.code.to_string()));
        self.countries.insert(p, label.clone());
        label
    }

    fn intern(&mut self, url: &str) -> Arc<str> {
        if let Some(a) = self.interned.get(url) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(url);
        if self.interned.len() < 10_000 {
            self.interned.insert(url.into(), a.clone());
        }
        a
    }

    /// Resumes the store's pending messages (at start).
    fn resume(&mut self) {
        let now = self.now_ms();
        let mut n = 0u64;
        let pending: Vec<_> = self.store.pending().collect();
        for item in pending {
            let msg = match item {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "pending message unreadable; skipped");
                    continue;
                }
            };
            let attempts = match self.store.attempts(msg.id) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(id = %msg.id, error = %e, "attempts unreadable; skipped");
                    continue;
                }
            };
            n += 1;
            self.counters.resumed.fetch_add(1, Ordering::Relaxed);
            let last = attempts.last().cloned();
            match last {
                Some(a)
                    if matches!(
                        a.outcome,
                        AttemptOutcome::Pending | AttemptOutcome::Submitted
                    ) =>
                {
                    self.resume_attempt(msg, attempts, a, now);
                }
                _ => self.take(msg, attempts),
            }
        }
        if n > 0 {
            tracing::info!(messages = n, "resumed pending messages from the store");
        }
    }

    /// A message whose last attempt was under way when the gateway stopped.
    fn resume_attempt(&mut self, msg: Message, mut attempts: Vec<Attempt>, a: Attempt, now: u64) {
        let all_ids = a.carrier_ids.len() == usize::from(msg.segments)
            && a.carrier_ids.iter().all(|i| !i.is_empty());
        let carrier: Arc<str> = Arc::from(a.carrier.as_str());
        let cref = self.carrier_ref(&carrier);
        if a.carrier == "voice" {
            // The voice request may or may not have been placed: place it again.
            attempts.pop();
            self.take(msg, attempts);
            return;
        }
        if !all_ids || cref.is_none() {
            // Sent (maybe), never answered: ambiguous.
            self.nowait.push(Write::Outcome {
                id: msg.id,
                n: a.n,
                outcome: AttemptOutcome::Ambiguous,
                error: Some("gateway stopped before the carrier answered".into()),
                at_ms: now,
            });
            let id = msg.id;
            let class = msg.class;
            self.take_parked(&msg, &attempts);
            self.after_ambiguous(id, class, "no answer before restart".into());
            return;
        }
        if !msg.receipt {
            let id = msg.id;
            self.take_parked(&msg, &attempts);
            self.finish(id, MessageState::Sent, None, Vec::new());
            return;
        }
        // Waiting for a receipt: track it again.
        let table = self.table.clone();
        let (prefix, deadline) = match table.lookup(msg.to.trim_start_matches('+').as_bytes()) {
            Some(route) => (
                Some(route.prefix),
                table
                    .carrier_id(&a.carrier)
                    .map_or(route.receipt_deadline[msg.class], |c| {
                        table.receipt_deadline(route, c, msg.class)
                    }),
            ),
            None => (None, Duration::from_secs(30)),
        };
        let submitted_at = a.submitted_at_ms.unwrap_or(now);
        let token = self.new_token();
        let id = msg.id;
        let parts = u8::try_from(msg.segments).unwrap_or(u8::MAX);
        self.take_parked(&msg, &attempts);
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        f.tried.pop();
        f.prefix = prefix;
        f.live = Some(Live {
            carrier_ref: cref,
            prefix,
            reported: parts,
            accepted: parts,
            deadline,
            submitted: true,
            ..Live::new(a.n, token, carrier.clone(), parts, submitted_at)
        });
        self.tokens.insert(token, (id, a.n));
        let due = to_time(submitted_at.saturating_add(deadline.as_millis() as u64));
        if let Some(cref) = cref {
            for (i, cid) in a.carrier_ids.iter().enumerate() {
                let mref = MessageRef {
                    id: u128::from(token),
                    part: i as u8,
                    parts,
                };
                match self
                    .tracker
                    .on_submit_resp(cref, cid.as_bytes(), mref, due, to_time(now))
                {
                    Ok(early) => {
                        for m in early {
                            self.on_match(m, None);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(id = %id, error = %e, "resumed carrier id not tracked")
                    }
                }
            }
        }
    }

    /// Registers a flight without routing it (the caller decides what comes next).
    fn take_parked(&mut self, msg: &Message, attempts: &[Attempt]) {
        if self.flights.contains_key(&msg.id) {
            return;
        }
        self.counters.started.fetch_add(1, Ordering::Relaxed);
        self.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        let callback = msg.callback_url.as_deref().map(|u| self.intern(u));
        self.flights.insert(
            msg.id,
            Flight {
                class: msg.class,
                receipt: msg.receipt,
                to: msg.to.as_str().into(),
                valid_until_ms: msg.valid_until_ms,
                callback,
                client_ref: msg.client_ref.as_deref().map(Box::from),
                tried: attempts
                    .iter()
                    .map(|a| Arc::<str>::from(a.carrier.as_str()))
                    .collect(),
                attempts: attempts.iter().map(|a| a.n).max().unwrap_or(0),
                live: None,
                last_error: msg.error.clone(),
                prefix: None,
                failed_at_ms: 0,
            },
        );
    }

    fn new_token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    fn carrier_ref(&mut self, carrier: &Arc<str>) -> Option<CarrierRef> {
        if let Some(r) = self.carrier_refs.get(carrier) {
            return *r;
        }
        let r = self.tracker.carrier(carrier);
        self.carrier_refs.insert(carrier.clone(), r);
        r
    }

    // ---- routing and submitting

    /// Routes the message again after a failed attempt (reading it back from the store).
    fn reroute(&mut self, id: MessageId, error: Option<String>) {
        let now = self.now_ms();
        if let Some(f) = self.flights.get_mut(&id) {
            if let Some(live) = f.live.take() {
                f.tried.push(live.carrier);
                f.failed_at_ms = now;
            }
            if error.is_some() {
                f.last_error = error;
            }
        }
        match self.store.get(id) {
            Ok(Some(msg)) => self.route(&msg),
            Ok(None) => {
                tracing::error!(id = %id, "message vanished from the store");
                self.forget(id);
            }
            Err(e) => {
                // The store is unreadable: leave the message pending for the next start.
                tracing::error!(id = %id, error = %e, "message unreadable; left pending");
                self.forget(id);
            }
        }
    }

    /// Decides and acts for the message's next attempt.
    fn route(&mut self, msg: &Message) {
        let id = msg.id;
        let now = self.now_ms();
        let Some(f) = self.flights.get(&id) else {
            return;
        };
        if now >= f.valid_until_ms {
            let err = f
                .last_error
                .clone()
                .unwrap_or_else(|| "validity ran out before a delivery".into());
            self.finish(id, MessageState::Expired, Some(err), Vec::new());
            return;
        }
        if msg.channel == Channel::Voice {
            self.voice(msg);
            return;
        }
        let table = self.table.clone();
        let tried: Vec<&str> = f.tried.iter().map(|c| &**c).collect();
        let dest = msg.to.trim_start_matches('+');
        let req = RouteRequest {
            dest,
            class: msg.class,
            number_type: msg.number_type,
            segments: msg.segments,
            unicode: msg.encoding == crate::text::Encoding::Ucs2,
            registrations: admission::registrations(msg.dlt.as_ref()),
            tried: &tried,
            accepted_at: Some(to_time(msg.accepted_at_ms)),
            seed: seed_of(id),
        };
        let d = router::resolve(&req, &table, &self.snapshot, to_time(now));
        drop(tried);
        let Some(carrier) = d.chosen.clone() else {
            return self.refused(msg, &d, now);
        };
        let Some(settings) = self.pool.settings(&carrier) else {
            // In the table, not in the gateway's connections: treat as tried.
            if let Some(f) = self.flights.get_mut(&id) {
                f.tried.push(carrier.clone());
            }
            return self.route(msg);
        };
        let dlt = d
            .chosen_id
            .is_some_and(|c| table.carrier(c).features.contains(Feature::DltTlvs));
        let remaining = msg.valid_until_ms.saturating_sub(now);
        let pdus = match submit::build(msg, settings, dlt, Some(remaining)) {
            Ok(p) => p,
            Err(e) => {
                return self.finish(
                    id,
                    MessageState::Rejected,
                    Some(format!("text cannot be sent: {e}")),
                    Vec::new(),
                );
            }
        };
        let parts = u8::try_from(pdus.len()).unwrap_or(u8::MAX);
        let token = self.new_token();
        let job = SubmitJob {
            token,
            pdus,
            ambiguous_resend_allowed: resend_ambiguous(msg.class),
            received: self.received.take(),
        };
        match self.pool.submit(&carrier, job) {
            Ok(()) => {}
            Err(SubmitRejected::QueueFull { .. }) => {
                let due = now + self.settings.queue_full_retry.as_millis() as u64;
                self.park(id, due);
                return;
            }
            Err(SubmitRejected::ShuttingDown) => {
                // Left pending in the store for the next start.
                self.forget(id);
                return;
            }
            Err(e) => {
                tracing::warn!(id = %id, carrier = %carrier, error = %e, "submit refused by the pool");
                if let Some(f) = self.flights.get_mut(&id) {
                    f.tried.push(carrier.clone());
                }
                return self.route(msg);
            }
        }
        let cref = self.carrier_ref(&carrier);
        let deadline = d.receipt_deadline.unwrap_or(Duration::from_secs(30));
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        f.attempts += 1;
        f.prefix = d.prefix;
        let n = f.attempts;
        if n > 1 {
            self.counters.failovers.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("gannet_failovers_total", "to" => carrier.to_string()).increment(1);
        }
        f.live = Some(Live {
            carrier_ref: cref,
            prefix: d.prefix,
            deadline,
            ..Live::new(n, token, carrier.clone(), parts, now)
        });
        self.tokens.insert(token, (id, n));
        self.nowait.push(Write::Attempt {
            id,
            attempt: Attempt {
                n,
                carrier: carrier.to_string(),
                route: d.prefix.map(|p| p.to_string()).unwrap_or_default(),
                submitted_at_ms: Some(now),
                ..Attempt::default()
            },
        });
    }

    /// No SMS carrier was chosen: wait, go to voice, or end the message.
    fn refused(&mut self, msg: &Message, d: &router::Decision, now: u64) {
        let id = msg.id;
        let last_error = self.flights.get(&id).and_then(|f| f.last_error.clone());
        let voice_fallback = d.fallback == Some(routes::Channel::Voice);
        match &d.refusal {
            Some(router::Refusal::QuietHours { until }) => {
                let due = until.saturating_mul(1000);
                if due >= msg.valid_until_ms {
                    self.finish(
                        id,
                        MessageState::Expired,
                        Some("quiet hours last past the message's validity".into()),
                        Vec::new(),
                    );
                } else {
                    self.park(id, due);
                }
            }
            Some(router::Refusal::ValidityExpired) => self.finish(
                id,
                MessageState::Expired,
                Some(last_error.unwrap_or_else(|| "validity ran out before a delivery".into())),
                Vec::new(),
            ),
            Some(router::Refusal::NoCandidate)
                if d.candidates
                    .iter()
                    .any(|c| c.reason == router::Reason::Down) =>
            {
                // A route is down, not exhausted: wait for it (or the validity) unless voice
                // can take the message now.
                if voice_fallback && self.voice_allowed(id) {
                    self.voice(msg);
                } else {
                    let due = (now + self.settings.all_down_retry.as_millis() as u64)
                        .min(msg.valid_until_ms);
                    self.park(id, due);
                }
            }
            Some(
                router::Refusal::NoCandidate
                | router::Refusal::AttemptsExhausted
                | router::Refusal::Landline,
            ) if voice_fallback && self.voice_allowed(id) => self.voice(msg),
            Some(router::Refusal::NoCandidate | router::Refusal::AttemptsExhausted) => {
                let err = last_error.unwrap_or_else(|| "every route failed".into());
                self.finish(id, MessageState::Failed, Some(err), Vec::new());
            }
            other => {
                let reason = other
                    .as_ref()
                    .and_then(|r| serde_json::to_value(r).ok())
                    .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(String::from))
                    .unwrap_or_else(|| "refused".into());
                self.finish(id, MessageState::Rejected, Some(reason), Vec::new());
            }
        }
    }

    fn voice_allowed(&self, id: MessageId) -> bool {
        self.flights
            .get(&id)
            .is_some_and(|f| !f.tried.iter().any(|c| &**c == "voice"))
    }

    /// Hands the message to the voice channel.
    fn voice(&mut self, msg: &Message) {
        let id = msg.id;
        let now = self.now_ms();
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        if let Some(live) = f.live.take() {
            f.tried.push(live.carrier);
        }
        f.attempts += 1;
        let n = f.attempts;
        let prefix = self
            .table
            .lookup(msg.to.trim_start_matches('+').as_bytes())
            .map(|r| r.prefix);
        f.prefix = prefix;
        f.live = Some(Live {
            prefix,
            voice: true,
            ..Live::new(n, 0, Arc::from("voice"), 1, now)
        });
        self.nowait.push(Write::Attempt {
            id,
            attempt: Attempt {
                n,
                carrier: "voice".into(),
                route: prefix.map(|p| p.to_string()).unwrap_or_default(),
                submitted_at_ms: Some(now),
                ..Attempt::default()
            },
        });
        let body = VoiceBody {
            id: id.to_string(),
            to: &msg.to,
            text: &msg.text,
            class: msg.class.as_str(),
            client_ref: msg.client_ref.as_deref(),
            valid_until_ms: msg.valid_until_ms,
        };
        let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        let call = self.notifier.voice(body);
        let tx = self.internal_tx.clone();
        self.spawned.spawn(async move {
            let result = call.await;
            let _ = tx.send(Internal::Voice { id, n, result });
        });
    }

    fn park(&mut self, id: MessageId, due_ms: u64) {
        self.timer_seq += 1;
        self.timers.push(Reverse((due_ms, self.timer_seq, id)));
    }

    fn on_timers(&mut self) {
        let now = self.now_ms();
        while let Some(Reverse((due, _, id))) = self.timers.peek().copied() {
            if due > now {
                break;
            }
            self.timers.pop();
            if self.flights.get(&id).is_some_and(|f| f.live.is_none()) {
                self.reroute(id, None);
            }
        }
        for mref in self.tracker.poll_expired(to_time(now)) {
            self.on_deadline(mref, now);
        }
    }

    // ---- pool events

    fn on_pool_event(&mut self, ev: PoolEvent) {
        match ev {
            PoolEvent::SegmentResult {
                token,
                segment,
                outcome,
                ..
            } => self.on_segment(token, segment, outcome),
            PoolEvent::Receipt { carrier, pdu, .. } => self.on_receipt(&carrier, &pdu),
            PoolEvent::PossibleDuplicate { carrier, token, .. } => {
                self.counters
                    .possible_duplicates
                    .fetch_add(1, Ordering::Relaxed);
                metrics::counter!("gannet_possible_duplicates_total", "carrier" => carrier.to_string())
                    .increment(1);
                tracing::info!(carrier = %carrier, token, "segment resent after no response: possible duplicate");
            }
            PoolEvent::Mo { carrier, .. } => {
                metrics::counter!("gannet_mo_total", "carrier" => carrier.to_string()).increment(1);
            }
            PoolEvent::BindState {
                carrier,
                bind,
                state,
            } => self.on_bind_state(carrier, bind, state),
        }
    }

    fn on_segment(&mut self, token: u64, segment: u8, outcome: SegmentOutcome) {
        let Some(&(id, n)) = self.tokens.get(&token) else {
            return;
        };
        let now = self.now_ms();
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        let receipt = f.receipt;
        let Some(live) = f.live.as_mut().filter(|l| l.token == token) else {
            return;
        };
        live.reported = live.reported.saturating_add(1);
        let latency = Duration::from_millis(now.saturating_sub(live.queued_at_ms));
        let carrier = live.carrier.clone();
        let prefix = live.prefix;
        let mut early = Vec::new();
        let result = match outcome {
            SegmentOutcome::Accepted { message_id } => {
                live.accepted += 1;
                if let Some(cref) = live.carrier_ref.filter(|_| receipt) {
                    let mref = MessageRef {
                        id: u128::from(token),
                        part: segment,
                        parts: live.parts,
                    };
                    let due = to_time(now.saturating_add(live.deadline.as_millis() as u64));
                    match self
                        .tracker
                        .on_submit_resp(cref, &message_id, mref, due, to_time(now))
                    {
                        Ok(m) => early = m,
                        Err(e) => {
                            tracing::warn!(carrier = %carrier, error = %e, "carrier message id not trackable")
                        }
                    }
                }
                self.nowait.push(Write::SegmentResp {
                    id,
                    n,
                    segment: u16::from(segment),
                    carrier_id: String::from_utf8_lossy(&message_id).into_owned(),
                    status: 0,
                    at_ms: now,
                });
                self.meters.submitted(&carrier).increment(1);
                Some(SubmitResult::Ok)
            }
            SegmentOutcome::Failed { status, class } => {
                live.failed.get_or_insert((status.0, class));
                self.nowait.push(Write::SegmentResp {
                    id,
                    n,
                    segment: u16::from(segment),
                    carrier_id: String::new(),
                    status: status.0,
                    at_ms: now,
                });
                self.meters.submit_errors(&carrier).increment(1);
                Some(match class {
                    StatusClass::Throttled => SubmitResult::Throttled,
                    StatusClass::Temporary => SubmitResult::Temporary,
                    _ => SubmitResult::Permanent,
                })
            }
            SegmentOutcome::Ambiguous => {
                live.ambiguous = true;
                Some(SubmitResult::Timeout)
            }
            SegmentOutcome::NotSent => {
                live.not_sent += 1;
                None
            }
        };
        if let (Some(r), Some(p)) = (result, prefix) {
            self.book
                .record_submit_result(&carrier, p, r, latency, to_time(now));
            self.health_dirty = true;
        }
        self.segment_done(id, token);
        for m in early {
            self.on_match(m, None);
        }
    }

    /// After a segment's result (or withdrawal): acts once every segment is accounted for.
    fn segment_done(&mut self, id: MessageId, token: u64) {
        let now = self.now_ms();
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        let Some(live) = f.live.as_mut().filter(|l| l.token == token) else {
            return;
        };
        if live.reported < live.parts || live.submitted {
            return;
        }
        let n = live.n;
        let class = f.class;
        if live.accepted == live.parts {
            live.submitted = true;
            let carrier = live.carrier.clone();
            self.counters.submitted.fetch_add(1, Ordering::Relaxed);
            if f.failed_at_ms > 0 {
                // From giving up the last attempt to the next carrier's acceptance.
                let delay = now.saturating_sub(f.failed_at_ms);
                f.failed_at_ms = 0;
                self.meters.failover_delay.record(delay as f64 / 1000.0);
            }
            if !f.receipt {
                // No receipt asked for: the carrier's acceptance is the last word.
                self.finish(
                    id,
                    MessageState::Sent,
                    None,
                    vec![Write::Outcome {
                        id,
                        n,
                        outcome: AttemptOutcome::Submitted,
                        error: None,
                        at_ms: now,
                    }],
                );
                return;
            }
            // No state write: the attempt's segment responses (already queued) say it, and
            // the status endpoint reads `submitted` from them. One record write less per
            // message on the store's one writer thread.
            if self.settings.notify_submitted {
                self.note(id, "submitted", n, &carrier, now);
            }
            return;
        }
        if live.not_sent > 0 {
            // The pool is shutting down: the message stays pending for the next start.
            self.forget(id);
            return;
        }
        let (outcome, error) = if let Some((status, sclass)) = live.failed {
            (
                AttemptOutcome::Refused,
                format!("carrier refused the submit: 0x{status:08X} ({sclass:?})"),
            )
        } else if live.ambiguous {
            (
                AttemptOutcome::Ambiguous,
                "no answer from the carrier to the submit".to_string(),
            )
        } else {
            (
                AttemptOutcome::Withdrawn,
                "carrier went down before the message was sent".to_string(),
            )
        };
        self.nowait.push(Write::Outcome {
            id,
            n,
            outcome,
            error: Some(error.clone()),
            at_ms: now,
        });
        if outcome == AttemptOutcome::Ambiguous {
            self.after_ambiguous(id, class, error);
        } else {
            self.reroute(id, Some(error));
        }
    }

    /// An attempt the carrier may or may not have: OTP and transactional messages go to the
    /// next route (a possible duplicate, counted); marketing ends failed.
    fn after_ambiguous(&mut self, id: MessageId, class: MessageClass, error: String) {
        if resend_ambiguous(class) {
            self.counters
                .possible_duplicates
                .fetch_add(1, Ordering::Relaxed);
            self.reroute(id, Some(error));
        } else {
            self.finish(
                id,
                MessageState::Failed,
                Some("no answer from the carrier; not resent to avoid a duplicate".into()),
                Vec::new(),
            );
        }
    }

    fn on_bind_state(&mut self, carrier: Arc<str>, bind: u16, state: BindState) {
        let total = self
            .pool
            .settings(&carrier)
            .map_or(1, |s| usize::from(s.binds));
        // Until a carrier's first bind comes up or fails, it is not down: messages wait in
        // its queue for the binds being opened.
        let decisive = matches!(state, BindState::Bound | BindState::Down { .. });
        if !decisive && !self.seen_state.contains_key(&carrier) {
            return;
        }
        let binds = self
            .seen_state
            .entry(carrier.clone())
            .or_insert_with(|| vec![false; total]);
        if let Some(b) = binds.get_mut(usize::from(bind)) {
            *b = state == BindState::Bound;
        }
        self.health_dirty = true;
        self.refresh_carrier(&carrier);
        if matches!(state, BindState::Down { .. }) {
            let up = self
                .pool
                .health()
                .into_iter()
                .find(|h| h.carrier == carrier)
                .is_some_and(|h| h.bound_transmitters > 0);
            if !up {
                self.withdraw(&carrier);
            }
        }
    }

    /// Every bind of a carrier is down: take back what waits in its queue and route it
    /// elsewhere.
    fn withdraw(&mut self, carrier: &str) {
        let segs = self.pool.withdraw(carrier);
        if segs.is_empty() {
            return;
        }
        tracing::info!(
            carrier,
            segments = segs.len(),
            "carrier down: queued messages rerouted"
        );
        let mut tokens = Vec::new();
        for w in segs {
            let Some(&(id, _)) = self.tokens.get(&w.token) else {
                continue;
            };
            if let Some(live) = self
                .flights
                .get_mut(&id)
                .and_then(|f| f.live.as_mut())
                .filter(|l| l.token == w.token)
            {
                live.reported = live.reported.saturating_add(1);
                live.withdrawn += 1;
                live.ambiguous |= w.sent_before;
                tokens.push((id, w.token));
            }
        }
        for (id, token) in tokens {
            self.segment_done(id, token);
        }
    }

    // ---- receipts

    fn on_receipt(&mut self, carrier: &Arc<str>, pdu: &gannet_smpp::Pdu) {
        let Some(fields) = receipt::fields(pdu) else {
            self.counters
                .unmatched_receipts
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(carrier = %carrier, "receipt without a message id");
            return;
        };
        let Some(cref) = self.carrier_ref(carrier) else {
            self.counters
                .unmatched_receipts
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let now = self.now_ms();
        self.meters.receipt(carrier, &fields.status).increment(1);
        match self
            .tracker
            .on_receipt(cref, &fields.id, fields.state, fields.error, to_time(now))
        {
            Match::Matched(m) => self.on_match(m, Some(&fields.status)),
            Match::Duplicate { .. } | Match::Held => {}
            Match::Invalid => {
                self.counters
                    .unmatched_receipts
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn on_match(&mut self, m: ReceiptMatch, status: Option<&str>) {
        let Some(outcome) = m.outcome else {
            return;
        };
        let token = m.msg.id as u64;
        let Some(&(id, n)) = self.tokens.get(&token) else {
            self.counters.late_receipts.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let now = self.now_ms();
        let Some(f) = self.flights.get(&id) else {
            return;
        };
        let status = status.map_or_else(
            || format!("{:?}", outcome.status).to_uppercase(),
            String::from,
        );
        let delivered = outcome.status == FinalStatus::Delivered;
        // `err:000` on a delivery is no error.
        let error_code = outcome
            .error
            .filter(|&e| !(delivered && e == 0))
            .map(|e| e.to_string());
        let current = f.live.as_ref().is_some_and(|l| l.token == token);
        let (carrier, prefix, queued_at) = match f.live.as_ref().filter(|_| current) {
            Some(l) => (Some(l.carrier.clone()), l.prefix, l.queued_at_ms),
            None => (
                f.tried.get(usize::from(n).saturating_sub(1)).cloned(),
                None,
                now,
            ),
        };
        if let (Some(c), Some(p)) = (&carrier, prefix) {
            let latency = Duration::from_millis(now.saturating_sub(queued_at));
            self.book
                .record_receipt(c, p, delivered, latency, to_time(now));
            self.health_dirty = true;
            if delivered {
                let country = self.country(Some(p));
                self.meters
                    .latency(c, &country)
                    .record(latency.as_secs_f64());
            }
        }
        let attempt_outcome = match outcome.status {
            FinalStatus::Delivered => AttemptOutcome::Delivered,
            FinalStatus::Expired => AttemptOutcome::Expired,
            _ => AttemptOutcome::Failed,
        };
        let receipt = Write::Receipt {
            id,
            n,
            status: status.clone(),
            error_code: error_code.clone(),
            at_ms: now,
            outcome: attempt_outcome,
        };
        if delivered {
            self.finish(id, MessageState::Delivered, None, vec![receipt]);
            return;
        }
        self.nowait.push(receipt);
        if !current {
            // A failure report for an attempt already given up on: the live one goes on.
            return;
        }
        let err = match error_code {
            Some(e) => format!(
                "{status} (err {e}) on {}",
                carrier.as_deref().unwrap_or("?")
            ),
            None => format!("{status} on {}", carrier.as_deref().unwrap_or("?")),
        };
        self.reroute(id, Some(err));
    }

    fn on_deadline(&mut self, mref: MessageRef, now: u64) {
        let token = mref.id as u64;
        let Some(&(id, n)) = self.tokens.get(&token) else {
            return;
        };
        let Some(f) = self.flights.get(&id) else {
            return;
        };
        let Some(live) = f.live.as_ref().filter(|l| l.token == token) else {
            return;
        };
        let waited = Duration::from_millis(now.saturating_sub(live.queued_at_ms));
        if let Some(p) = live.prefix {
            self.book
                .record_deadline_miss(&live.carrier, p, waited, to_time(now));
            self.health_dirty = true;
        }
        let err = format!(
            "no receipt from {} within {:?}",
            live.carrier, live.deadline
        );
        self.nowait.push(Write::Outcome {
            id,
            n,
            outcome: AttemptOutcome::TimedOut,
            error: Some(err.clone()),
            at_ms: now,
        });
        self.reroute(id, Some(err));
    }

    fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::Voice { id, n, result } => {
                let now = self.now_ms();
                let current = self
                    .flights
                    .get(&id)
                    .and_then(|f| f.live.as_ref())
                    .is_some_and(|l| l.voice && l.n == n);
                if !current {
                    return;
                }
                match result {
                    Ok(()) => {
                        self.counters.voice.fetch_add(1, Ordering::Relaxed);
                        self.finish(
                            id,
                            MessageState::Delivered,
                            None,
                            vec![Write::Receipt {
                                id,
                                n,
                                status: "VOICE_ACCEPTED".into(),
                                error_code: None,
                                at_ms: now,
                                outcome: AttemptOutcome::Voice,
                            }],
                        );
                    }
                    Err(e) => {
                        let err = format!("voice channel: {e}");
                        self.finish(
                            id,
                            MessageState::Failed,
                            Some(err.clone()),
                            vec![Write::Outcome {
                                id,
                                n,
                                outcome: AttemptOutcome::Failed,
                                error: Some(err),
                                at_ms: now,
                            }],
                        );
                    }
                }
            }
        }
    }

    fn on_control(&mut self, ctl: Control) {
        match ctl {
            Control::Reload(table, done) => {
                if let Err(e) = self.tracker.register_routes(&table) {
                    tracing::error!(error = %e, "receipt tracker: new carriers not registered");
                }
                self.carrier_refs.clear();
                self.countries.clear();
                self.table = table;
                self.mark_unconnected();
                let _ = done.send(());
            }
        }
    }

    // ---- health

    /// Carriers of the table that have no connection: down for the router.
    fn mark_unconnected(&mut self) {
        for c in self.table.carriers() {
            if self.pool.settings(&c.name).is_none() {
                self.book.set_carrier_state(&c.name, 0, 0, None);
            }
        }
        self.health_dirty = true;
    }

    fn refresh_carrier(&mut self, carrier: &Arc<str>) {
        let Some(h) = self
            .pool
            .health()
            .into_iter()
            .find(|h| &h.carrier == carrier)
        else {
            return;
        };
        let now_i = Instant::now();
        let now_s = SystemTime::now();
        let throttled = h
            .throttled_until
            .map(|t| now_s + t.saturating_duration_since(now_i));
        self.book
            .set_carrier_state(carrier, h.bound_transmitters, h.total_binds, throttled);
    }

    fn refresh_health(&mut self) {
        if self.snapshot.at_ms() == 0 {
            self.mark_unconnected();
        }
        let carriers: Vec<Arc<str>> = self.seen_state.keys().cloned().collect();
        for c in &carriers {
            self.refresh_carrier(c);
            let up = self
                .seen_state
                .get(c)
                .map_or(0, |b| b.iter().filter(|x| **x).count());
            metrics::gauge!("gannet_binds_up", "carrier" => c.to_string()).set(up as f64);
        }
        self.health_dirty = true;
        self.publish();
    }

    fn publish(&mut self) {
        if !self.health_dirty {
            return;
        }
        self.health_dirty = false;
        self.snapshot = self.book.snapshot(to_time(self.now_ms()));
        *self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner) = self.snapshot.clone();
    }

    // ---- ending

    /// Drops a message from memory without a final state (left pending in the store).
    fn forget(&mut self, id: MessageId) {
        if let Some(f) = self.flights.remove(&id) {
            self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Some(l) = f.live {
                self.tokens.remove(&l.token);
            }
        }
    }

    /// Ends a message in a final state: the state write (and `extra`) is awaited before the
    /// webhook goes out.
    fn finish(
        &mut self,
        id: MessageId,
        state: MessageState,
        error: Option<String>,
        extra: Vec<Write>,
    ) {
        let now = self.now_ms();
        let Some(f) = self.flights.remove(&id) else {
            return;
        };
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        let counter = match state {
            MessageState::Delivered => &self.counters.delivered,
            MessageState::Failed => &self.counters.failed,
            MessageState::Expired => &self.counters.expired,
            MessageState::Sent => &self.counters.sent,
            _ => &self.counters.rejected,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let country = self.country(f.prefix);
        self.meters.finals(state, &country).increment(1);
        // Tokens of this message (the live one; older ones map here too).
        if let Some(l) = &f.live {
            self.tokens.remove(&l.token);
        }
        self.finals.extend(extra);
        self.finals.push(Write::State {
            id,
            state,
            at_ms: now,
            error: error.clone(),
        });
        let carrier = f.live.as_ref().map(|l| l.carrier.clone());
        let n = f.live.as_ref().map_or(f.attempts, |l| l.n);
        if let Some(url) = &f.callback {
            let body = StatusBody {
                id: id.to_string(),
                status: state.as_str(),
                to: &f.to,
                client_ref: f.client_ref.as_deref(),
                attempt: n,
                carrier: carrier.as_deref(),
                error: error.as_deref(),
                at_ms: now,
            };
            if let Ok(b) = serde_json::to_vec(&body) {
                self.notes.push((url.clone(), Bytes::from(b)));
            }
        }
    }

    /// A status webhook for a non-final change (sent with no wait on the store).
    fn note(&mut self, id: MessageId, status: &'static str, n: u16, carrier: &str, now: u64) {
        let Some(f) = self.flights.get(&id) else {
            return;
        };
        let Some(url) = &f.callback else {
            return;
        };
        let body = StatusBody {
            id: id.to_string(),
            status,
            to: &f.to,
            client_ref: f.client_ref.as_deref(),
            attempt: n,
            carrier: Some(carrier),
            error: None,
            at_ms: now,
        };
        if let Ok(b) = serde_json::to_vec(&body) {
            self.notifier.status(url, Bytes::from(b));
        }
    }

    /// Sends this turn's writes: progress without waiting, finals awaited and then their
    /// webhooks.
    fn flush(&mut self) {
        self.publish();
        if !self.nowait.is_empty() {
            let writes = std::mem::take(&mut self.nowait);
            if let Err(e) = self.store.write_all_nowait(writes) {
                tracing::error!(error = %e, "progress writes refused by the store");
            }
        }
        if self.finals.is_empty() {
            return;
        }
        let writes = std::mem::take(&mut self.finals);
        let notes = std::mem::take(&mut self.notes);
        let store = self.store.clone();
        let notifier = self.notifier.clone();
        self.spawned.spawn(async move {
            match store.write_all(writes).await {
                Ok(_) => {
                    for (url, body) in notes {
                        notifier.status(&url, body);
                    }
                }
                Err(e) => {
                    // Not durable: no webhook. The messages stay pending and are resumed.
                    tracing::error!(error = %e, "final states not written; webhooks held back");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the engine keeps per message waiting for its receipt, besides the heap parts of
    /// its strings: docs/performance.md adds these up for the million-in-flight figure.
    #[test]
    fn flight_sizes() {
        let flight = std::mem::size_of::<Flight>();
        let live = std::mem::size_of::<Live>();
        let token = std::mem::size_of::<(u64, (MessageId, u16))>();
        eprintln!("Flight {flight} B (Live {live} B), token entry {token} B");
        assert!(flight <= 256, "Flight grew to {flight} bytes");
    }
}
