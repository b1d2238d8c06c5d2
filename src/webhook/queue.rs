//! The dispatcher: one task that owns the timers (retries waiting their delay, batches
//! waiting their linger) and the open batches, and hands runnable deliveries to attempt tasks,
//! at most `concurrency` at once.
//!
//! A retry is a timer entry, not a sleeping task: it holds no concurrency slot and costs a
//! heap entry. The loop takes a slot first and only then picks work, so posts wait in the
//! channel (counted in the backlog, which `post` bounds) rather than in a second queue.
//!
//! No receiver may hold more than `per_host_concurrency` slots: a delivery for a host at its
//! limit is parked behind that host and the next one is looked at, so one receiver that hangs
//! until every attempt times out slows only its own callbacks.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::HeaderValue;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::attempt::{self, Verdict};
use super::batch::Batches;
use super::{Shared, WebhookError};
use crate::carrier::backoff::{BackoffConfig, Rng, delay_for};

/// What the handles send to the dispatcher.
pub(crate) enum Msg {
    /// A delivery ready to run.
    Job(Job),
    /// Batch mode: one event to add to its URL's open batch.
    Event {
        url: Url,
        event: &'static str,
        event_value: HeaderValue,
        body: Bytes,
    },
    /// Send every open batch now (shutdown).
    Flush,
}

/// One delivery: a body for a URL, with its id, attempts so far and, for `post_and_wait`, the
/// caller waiting for the outcome.
pub(crate) struct Job {
    pub(crate) url: Url,
    pub(crate) event: &'static str,
    pub(crate) event_value: HeaderValue,
    /// The `gannet-delivery` header: fixed for the delivery's life.
    pub(crate) delivery: HeaderValue,
    pub(crate) body: Bytes,
    /// Events carried (1, or a batch's size): what the counters and the backlog count.
    pub(crate) count: u32,
    pub(crate) attempts: u32,
    rng: Rng,
    waiter: Option<oneshot::Sender<Result<u16, WebhookError>>>,
}

impl Job {
    pub(crate) fn new(
        url: Url,
        event: &'static str,
        event_value: HeaderValue,
        body: Bytes,
        count: u32,
        waiter: Option<oneshot::Sender<Result<u16, WebhookError>>>,
    ) -> Job {
        // UUID v7: unique across restarts and roughly time-ordered, which helps a receiver
        // that keeps a window of seen ids. Its random half seeds this delivery's jitter.
        let id = uuid::Uuid::now_v7();
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = id.hyphenated().encode_lower(&mut buf);
        let delivery = HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("-"));
        Job {
            url,
            event,
            event_value,
            delivery,
            body,
            count,
            attempts: 0,
            rng: Rng::seeded(id.as_u64_pair().1),
            waiter,
        }
    }
}

/// A timer entry: a retry waiting its delay, or a batch's linger running out.
pub(crate) struct Timer {
    pub(crate) due: Instant,
    /// Tie-break: equal deadlines fire in the order they were set.
    seq: u64,
    pub(crate) kind: TimerKind,
}

pub(crate) enum TimerKind {
    Retry(Job),
    /// The batch of this key opened with generation `generation`.
    Linger {
        key: super::batch::Key,
        generation: u64,
    },
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest deadline must come first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// What an attempt task tells the dispatcher when its request is over: the host has a slot
/// free again, and maybe a retry to schedule.
pub(crate) struct Back {
    host: Host,
    retry: Option<(Instant, Job)>,
}

/// A receiver, as the connection pool sees one: host and port.
pub(crate) type Host = (String, u16);

fn host_of(url: &Url) -> Host {
    (
        url.host_str().unwrap_or("").to_owned(),
        url.port_or_known_default().unwrap_or(0),
    )
}

/// Attempts in flight to one host, and deliveries parked until one ends.
#[derive(Default)]
struct HostSlots {
    in_flight: usize,
    parked: VecDeque<Job>,
}

pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Msg>,
    back_tx: mpsc::UnboundedSender<Back>,
    back_rx: mpsc::UnboundedReceiver<Back>,
    timers: BinaryHeap<Timer>,
    hosts: HashMap<Host, HostSlots>,
    seq: u64,
    /// Deliveries runnable once their host has a slot: new posts, sealed batches, unparked.
    ready: VecDeque<Job>,
    batches: Option<Batches>,
    permits: Arc<Semaphore>,
}

impl Dispatcher {
    pub(crate) fn new(shared: Arc<Shared>, rx: mpsc::UnboundedReceiver<Msg>) -> Dispatcher {
        let (back_tx, back_rx) = mpsc::unbounded_channel();
        let batches = shared.settings.batch.map(Batches::new);
        let permits = Arc::new(Semaphore::new(shared.settings.concurrency));
        Dispatcher {
            shared,
            rx,
            back_tx,
            back_rx,
            timers: BinaryHeap::new(),
            hosts: HashMap::new(),
            seq: 0,
            ready: VecDeque::new(),
            batches,
            permits,
        }
    }

    /// Runs until the stop token is cancelled or every handle is gone.
    pub(crate) async fn run(mut self) {
        let stop = self.shared.stop.clone();
        loop {
            let permit = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                p = Arc::clone(&self.permits).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let job = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                job = self.next_job() => job,
            };
            let Some((job, host)) = job else { break };
            let shared = Arc::clone(&self.shared);
            let back_tx = self.back_tx.clone();
            self.shared
                .tracker
                .spawn(run_attempt(shared, job, host, permit, back_tx));
        }
        // Every handle gone, or a drain over: the attempts in flight stop too.
        self.shared.stop.cancel();
        tracing::debug!(held = self.timers.len(), "webhook dispatcher stopped");
    }

    /// The next delivery to run and its host, whose slot it now holds: sealed or unparked
    /// deliveries first, then due timers, then new posts; waits for whichever comes. `None`
    /// when every handle is gone.
    async fn next_job(&mut self) -> Option<(Job, Host)> {
        loop {
            while let Ok(back) = self.back_rx.try_recv() {
                self.came_back(back);
            }
            if let Some(job) = self.ready.pop_front() {
                if let Some(run) = self.take_slot(job) {
                    return Some(run);
                }
                continue;
            }
            if let Some(job) = self.pop_due(Instant::now()) {
                if let Some(run) = self.take_slot(job) {
                    return Some(run);
                }
                continue;
            }
            let next_due = self.timers.peek().map(|t| t.due);
            let wait = async move {
                match next_due {
                    Some(due) => sleep_until(due).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                Some(back) = self.back_rx.recv() => self.came_back(back),
                () = wait => {}
                msg = self.rx.recv() => match msg? {
                    Msg::Job(job) => self.ready.push_back(job),
                    Msg::Event { url, event, event_value, body } => {
                        let now = Instant::now();
                        match self.batches.as_mut() {
                            Some(b) => {
                                let added = b.add(url, event, event_value, body, now);
                                if let Some(linger) = added.opened {
                                    self.push_timer(linger.due, TimerKind::Linger {
                                        key: linger.key,
                                        generation: linger.generation,
                                    });
                                }
                                self.ready.extend(added.full);
                            }
                            // Not sent by the handle without batch settings.
                            None => self
                                .ready
                                .push_back(Job::new(url, event, event_value, body, 1, None)),
                        }
                    }
                    Msg::Flush => {
                        if let Some(b) = self.batches.as_mut() {
                            self.ready.extend(b.seal_all());
                        }
                    }
                },
            }
        }
    }

    /// Takes a slot of the job's host, or parks the job behind the host when it has none.
    fn take_slot(&mut self, job: Job) -> Option<(Job, Host)> {
        let host = host_of(&job.url);
        let settings = &self.shared.settings;
        let limit = settings.per_host_concurrency.min(settings.concurrency);
        let slots = self.hosts.entry(host.clone()).or_default();
        if slots.in_flight < limit {
            slots.in_flight += 1;
            Some((job, host))
        } else {
            slots.parked.push_back(job);
            None
        }
    }

    /// An attempt ended: its host's slot is free (the oldest parked delivery of that host is
    /// runnable again), and its retry, if any, is timed.
    fn came_back(&mut self, back: Back) {
        if let Some(slots) = self.hosts.get_mut(&back.host) {
            slots.in_flight = slots.in_flight.saturating_sub(1);
            if let Some(job) = slots.parked.pop_front() {
                self.ready.push_back(job);
            }
            if slots.in_flight == 0 && slots.parked.is_empty() {
                self.hosts.remove(&back.host);
            }
        }
        if let Some((due, job)) = back.retry {
            self.push_timer(due, TimerKind::Retry(job));
        }
    }

    /// The earliest due timer that yields a delivery; stale lingers (their batch already
    /// sent) are skipped.
    fn pop_due(&mut self, now: Instant) -> Option<Job> {
        while self.timers.peek().is_some_and(|t| t.due <= now) {
            let timer = self.timers.pop()?;
            match timer.kind {
                TimerKind::Retry(job) => return Some(job),
                TimerKind::Linger { key, generation } => {
                    if let Some(job) = self.batches.as_mut().and_then(|b| b.seal(&key, generation))
                    {
                        return Some(job);
                    }
                }
            }
        }
        None
    }

    fn push_timer(&mut self, due: Instant, kind: TimerKind) {
        self.seq += 1;
        self.timers.push(Timer {
            due,
            seq: self.seq,
            kind,
        });
    }
}

/// One attempt of a delivery, on its own task, holding one concurrency slot while the
/// request is out. Ends the delivery, or sends it back to the dispatcher with its delay.
async fn run_attempt(
    shared: Arc<Shared>,
    mut job: Job,
    host: Host,
    permit: OwnedSemaphorePermit,
    back_tx: mpsc::UnboundedSender<Back>,
) {
    let started = Instant::now();
    let verdict = tokio::select! {
        biased;
        // Dropping the job answers a waiter with ShutDown.
        () = shared.stop.cancelled() => return,
        v = attempt::send(&shared, &job) => v,
    };
    drop(permit);
    let mut back = Back { host, retry: None };
    let elapsed = started.elapsed();
    metrics::histogram!(super::LATENCY_SECONDS, "event" => job.event).record(elapsed);
    job.attempts += 1;
    let settings = &shared.settings;
    match verdict {
        Verdict::Delivered(status) => finish(&shared, job, Ok(status)),
        Verdict::Refused(error) => finish(&shared, job, Err(error)),
        Verdict::Retry { after, error } if job.attempts < settings.max_attempts => {
            let backoff = BackoffConfig {
                initial: settings.backoff_initial,
                max: settings.backoff_max,
                jitter: settings.backoff_jitter,
            };
            let delay = match after {
                // The receiver's wish, capped: a `Retry-After: 86400` must not hold the
                // event (and its memory) for a day.
                Some(after) => after.min(settings.backoff_max),
                None => delay_for(&backoff, job.attempts - 1, job.rng.unit()),
            };
            tracing::debug!(
                delivery = ?job.delivery,
                event = job.event,
                host = job.url.host_str().unwrap_or(""),
                attempt = job.attempts,
                error = %error,
                ?delay,
                "webhook attempt failed; retrying"
            );
            shared.count_retry(job.event, job.count);
            back.retry = Some((Instant::now() + delay, job));
        }
        Verdict::Retry { error, .. } => {
            let attempts = job.attempts;
            finish(
                &shared,
                job,
                Err(WebhookError::GaveUp {
                    attempts,
                    last: Box::new(error),
                }),
            );
        }
    }
    // Fails only when the dispatcher has stopped: a retry is dropped with it.
    let _ = back_tx.send(back);
}

/// A delivery's end: counted, logged at debug, its waiter answered, its slots released.
fn finish(shared: &Shared, job: Job, result: Result<u16, WebhookError>) {
    match &result {
        Ok(status) => {
            shared.count_delivered(job.event, job.count);
            tracing::debug!(
                delivery = ?job.delivery,
                event = job.event,
                host = job.url.host_str().unwrap_or(""),
                attempts = job.attempts,
                events = job.count,
                status,
                "webhook delivered"
            );
        }
        Err(e) => {
            shared.count_failed(job.event, job.count);
            tracing::debug!(
                delivery = ?job.delivery,
                event = job.event,
                host = job.url.host_str().unwrap_or(""),
                attempts = job.attempts,
                events = job.count,
                error = %e,
                "webhook failed"
            );
        }
    }
    let count = job.count as usize;
    if let Some(waiter) = job.waiter {
        // The caller may have stopped waiting; the delivery happened all the same.
        let _ = waiter.send(result);
    }
    shared.release(count);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn job() -> Job {
        Job::new(
            Url::parse("http://127.0.0.1/").unwrap(),
            "message.status",
            HeaderValue::from_static("message.status"),
            Bytes::from_static(b"{}"),
            1,
            None,
        )
    }

    #[test]
    fn timers_pop_earliest_first_then_in_insertion_order() {
        let t0 = Instant::now();
        let mut heap = BinaryHeap::new();
        for (seq, ms) in [(1, 30), (2, 10), (3, 20), (4, 10)] {
            heap.push(Timer {
                due: t0 + Duration::from_millis(ms),
                seq,
                kind: TimerKind::Retry(job()),
            });
        }
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|t| t.seq)).collect();
        assert_eq!(order, vec![2, 4, 3, 1]);
    }

    #[test]
    fn delivery_ids_are_unique_uuids() {
        let a = job();
        let b = job();
        assert_ne!(a.delivery, b.delivery);
        let s = a.delivery.to_str().unwrap();
        assert_eq!(s.len(), 36);
        assert!(uuid::Uuid::parse_str(s).is_ok());
    }
}
