//! The pool: per carrier, a bounded queue of segments, the send-rate limiter, live figures,
//! and `binds` bind tasks that pull from the queue. The public face of the module.
//!
//! A segment leaves the queue only into a bind's window, and comes back to the queue (or ends
//! in an event) whatever happens to that bind: accepted, failed, throttled, timed out, or cut
//! off with the socket. After shutdown every job that [`CarrierPool::submit`] accepted has had
//! one final [`PoolEvent::SegmentResult`] per segment.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gannet_smpp::{Body, CommandStatus, Pdu, SubmitSm};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::carrier::bind::BindTask;
use crate::carrier::config::CarrierSettings;
use crate::carrier::health::{CarrierHealth, CarrierStats};
use crate::carrier::limiter::CarrierLimiter;
use crate::carrier::status::StatusClass;

/// One message for one carrier: its segments, each one submit_sm, in order.
#[derive(Clone, Debug)]
pub struct SubmitJob {
    /// The caller's handle, echoed in every event about this job.
    pub token: u64,
    /// One submit_sm per segment (1..=255). Each counts once against the TPS contract.
    pub pdus: Vec<SubmitSm>,
    /// May a segment that got no response be sent again (if the carrier's retry policy also
    /// allows it)? For an OTP, a duplicate is better than nothing; for a marketing text it is
    /// not.
    pub ambiguous_resend_allowed: bool,
    /// When the request that carries this message arrived, for its first attempt: the bind
    /// records request → first submit_sm written (`gannet_submit_delay_seconds`). `None` for
    /// resends, failovers and resumed messages.
    pub received: Option<Instant>,
}

/// Why [`CarrierPool::submit`] refused a job. Nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitRejected {
    #[error("unknown carrier `{0}`")]
    UnknownCarrier(String),
    /// Backpressure: the carrier's queue holds `capacity` segments already.
    #[error("queue of carrier `{carrier}` is full ({capacity} segments)")]
    QueueFull { carrier: Arc<str>, capacity: usize },
    #[error("the pool is shutting down")]
    ShuttingDown,
    #[error("a job needs at least one segment")]
    Empty,
    #[error("{0} segments: at most 255")]
    TooManySegments(usize),
}

/// A segment taken back by [`CarrierPool::withdraw`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Withdrawn {
    pub token: u64,
    pub segment: u8,
    /// It had been written to the carrier before and got no answer (it waited to be sent
    /// again): the carrier may have it.
    pub sent_before: bool,
}

/// What became of one segment. Exactly one final result per segment of every accepted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentOutcome {
    /// The carrier took it (submit_sm_resp ESME_ROK) under this message id.
    Accepted { message_id: Bytes },
    /// The carrier refused it for good, or retries ran out.
    Failed {
        status: CommandStatus,
        class: StatusClass,
    },
    /// Sent, and no response came (timeout, or the link died): the carrier may or may not
    /// have it. Not resent (the job or the policy forbids it, or resends ran out).
    Ambiguous,
    /// Never written to the carrier (the pool shut down first). Safe to send elsewhere.
    NotSent,
}

impl SegmentOutcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, SegmentOutcome::Accepted { .. })
    }
}

/// Why a bind went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownReason {
    /// TCP connect failed or timed out.
    ConnectFailed,
    /// The TLS handshake failed or timed out: an untrusted or misnamed certificate, a carrier
    /// that does not speak TLS on that port, no TLS version or cipher suite in common.
    TlsHandshake,
    /// The bind was answered with an error status.
    BindRefused(CommandStatus),
    /// No bind_resp in time.
    BindTimeout,
    /// An enquire_link went unanswered (SMPP 3.4 §4.11).
    LinkDead,
    /// The carrier unbound us (SMPP 3.4 §4.2).
    PeerUnbind,
    /// The carrier closed the connection, or reading/writing failed.
    Closed,
    /// The byte stream lost framing (bad command_length).
    ProtocolError,
    /// A submit was answered with a status that means the session is unusable.
    BindFatal(CommandStatus),
    /// Our own shutdown.
    Shutdown,
}

/// The state of one bind, as reported in [`PoolEvent::BindState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindState {
    Connecting,
    /// Connected, bind sent.
    Binding,
    Bound,
    /// Unbinding on shutdown.
    Unbinding,
    /// Lost; reconnecting after `retry_in`.
    Down {
        reason: DownReason,
        retry_in: Duration,
    },
    /// The task ended (shutdown).
    Stopped,
}

/// What the pool reports, on the channel given to [`CarrierPool::start`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PoolEvent {
    /// The final result of one segment.
    SegmentResult {
        token: u64,
        segment: u8,
        carrier: Arc<str>,
        /// The bind that last had it; `None` when it never left the queue.
        bind: Option<u16>,
        /// How many times it was written to the carrier.
        attempts: u16,
        outcome: SegmentOutcome,
    },
    /// A segment with no response is being sent again: the carrier may deliver it twice.
    PossibleDuplicate {
        token: u64,
        segment: u8,
        carrier: Arc<str>,
        bind: u16,
    },
    /// A delivery receipt (deliver_sm or data_sm with receipt bits in esm_class, SMPP 3.4
    /// §5.2.12, or a receipted_message_id TLV). Already acknowledged to the carrier.
    Receipt {
        carrier: Arc<str>,
        bind: u16,
        pdu: Pdu,
    },
    /// A mobile-originated message (deliver_sm or data_sm that is not a receipt).
    Mo {
        carrier: Arc<str>,
        bind: u16,
        pdu: Pdu,
    },
    BindState {
        carrier: Arc<str>,
        bind: u16,
        state: BindState,
    },
}

/// A pool could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("carrier `{0}` is configured twice")]
    DuplicateCarrier(Arc<str>),
    #[error("carrier `{carrier}`: {message}")]
    Invalid { carrier: Arc<str>, message: String },
}

/// One segment on its way: the submit_sm (as a PDU whose sequence number is set when it is
/// written) and its retry counts.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) token: u64,
    pub(crate) index: u8,
    pub(crate) pdu: Pdu,
    pub(crate) resend_ambiguous: bool,
    /// Times written to the carrier.
    pub(crate) attempts: u16,
    pub(crate) temporary: u16,
    pub(crate) throttled: u16,
    pub(crate) ambiguous: u16,
    /// [`SubmitJob::received`], on the first segment only.
    pub(crate) received: Option<Instant>,
}

/// A segment waiting for its retry time.
#[derive(Debug)]
struct Delayed {
    due: Instant,
    order: u64,
    seg: Segment,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest due must come out first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.order).cmp(&(self.due, self.order))
    }
}

/// The queue and the limiter of one carrier, under one lock: a bind takes its batch and the
/// rate permits for it in one critical section.
#[derive(Debug)]
pub(crate) struct Queue {
    ready: VecDeque<Segment>,
    delayed: BinaryHeap<Delayed>,
    delayed_order: u64,
    closed: bool,
    pub(crate) limiter: CarrierLimiter,
}

/// What a bind learns from [`Carrier::take_batch`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Take {
    /// Nothing is ready: wait for a notification (or `wake_at`).
    pub(crate) idle: bool,
    /// When to look again without a notification: the limiter's next permit or the next
    /// delayed retry.
    pub(crate) wake_at: Option<Instant>,
}

/// Everything of one carrier that its binds share.
#[derive(Debug)]
pub(crate) struct Carrier {
    pub(crate) settings: CarrierSettings,
    pub(crate) queue: Mutex<Queue>,
    /// New segments (or a freed share of them) for binds that wait idle.
    pub(crate) notify: Notify,
    pub(crate) stats: CarrierStats,
    pub(crate) shutdown: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A bind that panicked mid-update leaves plain data (a queue, counters): still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Carrier {
    pub(crate) fn new(
        settings: CarrierSettings,
        shutdown: CancellationToken,
        now: Instant,
    ) -> Carrier {
        let limiter = CarrierLimiter::new(settings.tps, now);
        let stats = CarrierStats::new(settings.binds);
        Carrier {
            queue: Mutex::new(Queue {
                ready: VecDeque::with_capacity(settings.queue_capacity.min(65_536)),
                delayed: BinaryHeap::new(),
                delayed_order: 0,
                closed: false,
                limiter,
            }),
            notify: Notify::new(),
            stats,
            shutdown,
            settings,
        }
    }

    pub(crate) fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue)
    }

    /// Moves up to `max` segments that the limiter allows now into `out`.
    pub(crate) fn take_batch(&self, max: u32, now: Instant, out: &mut Vec<Segment>) -> Take {
        let mut q = self.lock_queue();
        while q.delayed.peek().is_some_and(|d| d.due <= now) {
            if let Some(d) = q.delayed.pop() {
                q.ready.push_front(d.seg);
            }
        }
        let next_retry = q.delayed.peek().map(|d| d.due);
        if q.ready.is_empty() {
            return Take {
                idle: true,
                wake_at: next_retry,
            };
        }
        let want = max.min(u32::try_from(q.ready.len()).unwrap_or(u32::MAX));
        let granted = q.limiter.take(want, now);
        out.extend(q.ready.drain(..granted as usize));
        let limited_at = if granted < want {
            q.limiter.ready_at(now)
        } else {
            None
        };
        let more = !q.ready.is_empty();
        drop(q);
        if more && granted == want {
            // This bind's window is full and work is left: wake another bind.
            self.notify.notify_one();
        }
        Take {
            idle: false,
            wake_at: match (limited_at, next_retry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// Puts segments back at the head of the queue, in their order: they were sent (or about
    /// to be) before anything still queued.
    pub(crate) fn requeue_front(&self, segs: impl DoubleEndedIterator<Item = Segment>) {
        let mut q = self.lock_queue();
        let mut any = false;
        for seg in segs.rev() {
            q.ready.push_front(seg);
            any = true;
        }
        drop(q);
        if any {
            self.notify.notify_one();
        }
    }

    /// Queues a segment for a retry at `due`.
    pub(crate) fn retry_at(&self, seg: Segment, due: Instant) {
        let mut q = self.lock_queue();
        q.delayed_order += 1;
        let order = q.delayed_order;
        q.delayed.push(Delayed { due, order, seg });
        drop(q);
        // A bind waiting idle must learn the new deadline.
        self.notify.notify_one();
    }

    fn health(&self, now: Instant) -> CarrierHealth {
        let q = self.lock_queue();
        let queued = q.ready.len() + q.delayed.len();
        let effective_tps = q.limiter.effective_rate();
        let throttled = q.limiter.is_throttled(now);
        let throttled_until = q.limiter.paused_until(now);
        let contract_tps = q.limiter.contract();
        drop(q);
        let (bound, tx, window_in_use) = self.stats.binds_summary();
        CarrierHealth {
            carrier: self.settings.name.clone(),
            bound_binds: bound,
            total_binds: self.settings.binds,
            bound_transmitters: tx,
            window_in_use,
            window_capacity: self.settings.window * u32::from(self.transmitters()),
            queued,
            contract_tps,
            effective_tps,
            throttled,
            throttled_until,
            recent_resp_latency: self.stats.latency(),
            recent_error_rate: self.stats.error_rate(),
            counters: self.stats.counters(),
        }
    }

    fn transmitters(&self) -> u16 {
        let s = &self.settings;
        (0..s.binds)
            .filter(|&i| s.bind_mode.bind_type(i, s.binds).esme_sends())
            .count() as u16
    }

    /// Closes the queue and hands back everything in it.
    fn close_and_drain(&self) -> Vec<Segment> {
        let mut q = self.lock_queue();
        q.closed = true;
        let mut out: Vec<Segment> = q.ready.drain(..).collect();
        let mut delayed: Vec<Delayed> = q.delayed.drain().collect();
        delayed.sort_by(|a, b| b.cmp(a));
        out.extend(delayed.into_iter().map(|d| d.seg));
        out
    }
}

/// The handle: cheap to clone, shared by the API and the service.
#[derive(Clone, Debug)]
pub struct CarrierPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    carriers: Vec<Arc<Carrier>>,
    by_name: HashMap<Arc<str>, usize>,
    shutdown: CancellationToken,
    /// The drain task: done when every bind has stopped and every queued segment reported.
    done: TaskTracker,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // The last handle is gone: nobody can stop the binds any more, so stop them now (they
        // still drain and report).
        self.shutdown.cancel();
    }
}

impl CarrierPool {
    /// Starts `binds` bind tasks per carrier on the current tokio runtime (call it from within
    /// one). Events go to
    /// `events`; keep reading it until it closes (after shutdown), or the binds stall (that is
    /// the backpressure). Cancelling `shutdown` (or calling [`CarrierPool::shutdown`]) drains.
    pub fn start(
        carriers: Vec<CarrierSettings>,
        events: mpsc::Sender<PoolEvent>,
        shutdown: CancellationToken,
    ) -> Result<CarrierPool, StartError> {
        let shutdown = shutdown.child_token();
        let now = crate::carrier::bind::now();
        let mut by_name = HashMap::new();
        let mut list = Vec::with_capacity(carriers.len());
        for settings in carriers {
            let name = settings.name.clone();
            if settings.binds == 0 || settings.window == 0 || settings.queue_capacity == 0 {
                return Err(StartError::Invalid {
                    carrier: name,
                    message: "binds, window and queue_capacity must be at least 1".into(),
                });
            }
            if by_name.insert(name.clone(), list.len()).is_some() {
                return Err(StartError::DuplicateCarrier(name));
            }
            list.push(Arc::new(Carrier::new(settings, shutdown.clone(), now)));
        }

        let binds = TaskTracker::new();
        for carrier in &list {
            for index in 0..carrier.settings.binds {
                let span =
                    tracing::info_span!("bind", carrier = %carrier.settings.name, bind = index);
                let task = BindTask::new(carrier.clone(), index, events.clone());
                binds.spawn(task.run().instrument(span));
            }
        }
        binds.close();

        let done = TaskTracker::new();
        let drain_carriers = list.clone();
        let drain_shutdown = shutdown.clone();
        done.spawn(async move {
            drain_shutdown.cancelled().await;
            binds.wait().await;
            for carrier in &drain_carriers {
                for seg in carrier.close_and_drain() {
                    let ev = PoolEvent::SegmentResult {
                        token: seg.token,
                        segment: seg.index,
                        carrier: carrier.settings.name.clone(),
                        bind: None,
                        attempts: seg.attempts,
                        outcome: SegmentOutcome::NotSent,
                    };
                    if events.send(ev).await.is_err() {
                        break;
                    }
                }
            }
            tracing::info!("carrier pool drained");
        });
        done.close();

        Ok(CarrierPool {
            inner: Arc::new(PoolInner {
                carriers: list,
                by_name,
                shutdown,
                done,
            }),
        })
    }

    /// Queues a job's segments on a carrier. Never blocks and never drops silently: a full
    /// queue answers [`SubmitRejected::QueueFull`].
    pub fn submit(&self, carrier: &str, job: SubmitJob) -> Result<(), SubmitRejected> {
        let Some(&i) = self.inner.by_name.get(carrier) else {
            return Err(SubmitRejected::UnknownCarrier(carrier.to_string()));
        };
        let c = &self.inner.carriers[i];
        let n = job.pdus.len();
        if n == 0 {
            return Err(SubmitRejected::Empty);
        }
        if n > 255 {
            return Err(SubmitRejected::TooManySegments(n));
        }
        if self.inner.shutdown.is_cancelled() {
            return Err(SubmitRejected::ShuttingDown);
        }
        let mut q = c.lock_queue();
        if q.closed {
            return Err(SubmitRejected::ShuttingDown);
        }
        let capacity = c.settings.queue_capacity;
        if q.ready.len() + q.delayed.len() + n > capacity {
            return Err(SubmitRejected::QueueFull {
                carrier: c.settings.name.clone(),
                capacity,
            });
        }
        for (index, sm) in job.pdus.into_iter().enumerate() {
            q.ready.push_back(Segment {
                token: job.token,
                index: index as u8,
                pdu: Pdu::new(0, Body::SubmitSm(sm)),
                resend_ambiguous: job.ambiguous_resend_allowed,
                attempts: 0,
                temporary: 0,
                throttled: 0,
                ambiguous: 0,
                received: if index == 0 { job.received } else { None },
            });
        }
        drop(q);
        c.notify.notify_one();
        Ok(())
    }

    /// Takes back every segment queued on `carrier`, those never written to it and those
    /// waiting to be sent again after no answer (marked `sent_before`): for when all of the
    /// carrier's binds are down and the messages should go another way. Each segment returned
    /// gets no [`PoolEvent::SegmentResult`]: it is the caller's again.
    pub fn withdraw(&self, carrier: &str) -> Vec<Withdrawn> {
        let Some(&i) = self.inner.by_name.get(carrier) else {
            return Vec::new();
        };
        let c = &self.inner.carriers[i];
        let mut q = c.lock_queue();
        let taken = |seg: &Segment| Withdrawn {
            token: seg.token,
            segment: seg.index,
            sent_before: seg.attempts > 0,
        };
        let mut out: Vec<Withdrawn> = q.ready.drain(..).map(|s| taken(&s)).collect();
        let delayed = std::mem::take(&mut q.delayed);
        out.extend(delayed.into_vec().iter().map(|d| taken(&d.seg)));
        out
    }

    /// Live figures of every carrier, in configuration order. Takes each carrier's queue lock
    /// briefly; no I/O.
    pub fn health(&self) -> Vec<CarrierHealth> {
        let now = crate::carrier::bind::now();
        self.inner.carriers.iter().map(|c| c.health(now)).collect()
    }

    /// The settings of a carrier (its address policy, default alphabet ...).
    pub fn settings(&self, carrier: &str) -> Option<&CarrierSettings> {
        let &i = self.inner.by_name.get(carrier)?;
        Some(&self.inner.carriers[i].settings)
    }

    /// Carrier names, in configuration order.
    pub fn carriers(&self) -> impl Iterator<Item = &Arc<str>> {
        self.inner.carriers.iter().map(|c| &c.settings.name)
    }

    /// Stops taking jobs, lets in-flight submits finish (each carrier's `shutdown_grace`),
    /// unbinds, and reports every segment still queued as [`SegmentOutcome::NotSent`].
    /// Returns when all of that is done.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.done.wait().await;
    }

    /// Resolves once the pool has drained (after [`CarrierPool::shutdown`] or the start
    /// token's cancellation).
    pub async fn drained(&self) {
        self.inner.done.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carrier(capacity: usize, tps: Option<u32>) -> Carrier {
        let mut s = CarrierSettings::new("c", "127.0.0.1", 1, "s", "p");
        s.queue_capacity = capacity;
        s.tps = tps;
        Carrier::new(s, CancellationToken::new(), Instant::now())
    }

    fn seg(token: u64) -> Segment {
        Segment {
            token,
            index: 0,
            pdu: Pdu::new(0, Body::SubmitSm(SubmitSm::default())),
            resend_ambiguous: false,
            attempts: 0,
            temporary: 0,
            throttled: 0,
            ambiguous: 0,
            received: None,
        }
    }

    #[test]
    fn batches_respect_window_and_limiter() {
        let c = carrier(100, Some(1000));
        let t0 = Instant::now();
        c.requeue_front((0..10).map(seg));
        let mut out = Vec::new();
        // 1000 TPS: one on time and four early (5 ms of tolerance at 1.005 ms each).
        let t = c.take_batch(8, t0, &mut out);
        assert_eq!(
            out.iter().map(|s| s.token).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert!(!t.idle);
        assert_eq!(t.wake_at, Some(t0 + Duration::from_micros(25)));
        out.clear();
        let t = c.take_batch(3, t0 + Duration::from_secs(1), &mut out);
        assert_eq!(out.len(), 3, "window-limited");
        assert_eq!(t.wake_at, None);
    }

    #[test]
    fn delayed_retries_come_back_first() {
        let c = carrier(100, None);
        let t0 = Instant::now();
        c.requeue_front((0..2).map(seg));
        c.retry_at(seg(9), t0 + Duration::from_secs(2));
        c.retry_at(seg(8), t0 + Duration::from_secs(1));
        let mut out = Vec::new();
        let t = c.take_batch(10, t0, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(t.wake_at, Some(t0 + Duration::from_secs(1)));
        out.clear();
        let t = c.take_batch(10, t0 + Duration::from_millis(1500), &mut out);
        assert_eq!(out.iter().map(|s| s.token).collect::<Vec<_>>(), vec![8]);
        assert_eq!(t.wake_at, Some(t0 + Duration::from_secs(2)));
        out.clear();
        let t = c.take_batch(10, t0 + Duration::from_millis(1500), &mut out);
        assert!(t.idle && out.is_empty());
        let rest = c.close_and_drain();
        assert_eq!(rest.iter().map(|s| s.token).collect::<Vec<_>>(), vec![9]);
    }
}
