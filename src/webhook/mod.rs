//! Outbound webhooks: message status callbacks and the voice fallback channel.
//!
//! [`Webhooks`] is a small `Clone` handle over one sender. [`Webhooks::post`] queues a JSON body
//! for a URL and returns at once; [`Webhooks::post_and_wait`] does the same and waits for the
//! outcome. Every request is an HTTP `POST` with `content-type: application/json`, the event
//! name in [`EVENT_HEADER`], a delivery id in [`DELIVERY_HEADER`] (the same on every retry of
//! one delivery, so a receiver can drop duplicates), and, when a secret is set, an HMAC
//! signature in [`SIGNATURE_HEADER`] that [`verify`] checks.
//!
//! A 2xx answer delivers. A 4xx other than 408 and 429 is final: the receiver refused this
//! body, and sending it again will not change that. Anything else (5xx, 408, 429, 3xx, a
//! timeout, a refused connection) is retried after an exponential, jittered delay, or after
//! the receiver's `Retry-After`, until `max_attempts`. A retry waits in a timer queue, not in
//! a sleeping task, so it holds no concurrency slot. No receiver holds more than
//! `per_host_concurrency` of the `concurrency` slots.
//!
//! Memory is bounded: at most `queue_capacity` events are held (waiting, in flight, or
//! waiting for a retry); past that `post` refuses and counts a drop. Nothing is written to
//! disk: a status callback lost in a crash is recovered by the receiver asking
//! `GET /v1/messages/{id}`.
//!
//! # Layout
//! - [`config`]: the `webhooks:` section of gateway.yaml and [`WebhookSettings`].
//! - [`sign`](mod@sign): the signature header, made and checked; pure.
//! - `queue`: the dispatcher task (timers, batches, concurrency) and one attempt's life.
//! - `attempt`: one HTTP request and what its answer means (deliver, give up, retry when).
//! - `batch`: batch mode's open batches.
//!
//! # Metrics
//! `gannet_webhook_delivered_total{event}`, `gannet_webhook_failed_total{event}` (gave up or
//! refused), `gannet_webhook_retries_total{event}`, `gannet_webhook_dropped_total{event,
//! reason}` (`queue_full`, `shut_down`), the gauge `gannet_webhook_backlog`, and the histogram
//! `gannet_webhook_latency_seconds{event}` of one attempt (request sent to answer read).
//! Counts are in events: a batch of 40 delivered adds 40. See docs/webhooks.md.

mod attempt;
mod batch;
pub mod config;
mod queue;
pub mod sign;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::HeaderValue;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{BatchSettings, WebhookConfig, WebhookSettings};
pub use sign::{VerifyError, sign, verify};

use queue::{Dispatcher, Job, Msg};

/// Request header with the signature: `t=<unix secs>,v1=<hex hmac-sha256(secret, "<t>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "gannet-signature";
/// Request header with the event name, e.g. `message.status`, `voice.call`.
pub const EVENT_HEADER: &str = "gannet-event";
/// Request header with the delivery id: unique per delivery, the same across its retries.
pub const DELIVERY_HEADER: &str = "gannet-delivery";
/// The `user-agent` of every request.
pub const USER_AGENT: &str = concat!("gannet/", env!("CARGO_PKG_VERSION"));

pub const DELIVERED_TOTAL: &str = "gannet_webhook_delivered_total";
pub const FAILED_TOTAL: &str = "gannet_webhook_failed_total";
pub const RETRIES_TOTAL: &str = "gannet_webhook_retries_total";
pub const DROPPED_TOTAL: &str = "gannet_webhook_dropped_total";
pub const BACKLOG: &str = "gannet_webhook_backlog";
pub const LATENCY_SECONDS: &str = "gannet_webhook_latency_seconds";

/// Why a webhook was not delivered, or the sender could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// `queue_capacity` events are already held.
    #[error("the webhook queue is full")]
    QueueFull,
    /// [`Webhooks::shutdown`] was called or the stop token cancelled (and, for a delivery,
    /// the grace ran out before it ended).
    #[error("the webhook sender is shut down")]
    ShutDown,
    /// Not an absolute `http`/`https` URL with a host.
    #[error("`{url}` is not a usable webhook URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The event name cannot be sent as a header value.
    #[error("event name `{0}` is not a valid header value")]
    InvalidEvent(&'static str),
    /// The receiver answered with this status (not 2xx).
    #[error("the receiver answered {0}")]
    Status(u16),
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connecting, sending or reading failed (refused, reset, DNS, TLS).
    #[error("{0}")]
    Transport(String),
    /// Every attempt failed with a retryable error; `last` is the last one.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        attempts: u32,
        last: Box<WebhookError>,
    },
    /// [`WebhookSettings::check`] refused the settings.
    #[error("webhook settings: {0}")]
    Settings(String),
    /// [`Webhooks::start`] was called outside a tokio runtime.
    #[error("webhooks must be started inside a tokio runtime")]
    NoRuntime,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl WebhookError {
    /// Whether sending the same request again could succeed: what decides a retry.
    pub fn is_retryable(&self) -> bool {
        match self {
            WebhookError::Status(s) => !(400..500).contains(s) || *s == 408 || *s == 429,
            WebhookError::Timeout(_) | WebhookError::Transport(_) => true,
            WebhookError::QueueFull => true,
            _ => false,
        }
    }
}

/// Counters since start. Counts are in events (a batch counts each event it carries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Events held now: waiting, in flight, or waiting for a retry.
    pub queued: u64,
    /// Events a receiver accepted (2xx).
    pub delivered: u64,
    /// Events given up on: a final 4xx, `max_attempts` used up, or an unusable URL.
    pub failed: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Events refused by `post` because the queue was full or the sender shut down.
    pub dropped: u64,
}

/// The webhook sender: a cheap `Clone` handle.
#[derive(Clone)]
pub struct Webhooks {
    handle: Arc<Handle>,
}

/// What the handles share. When the last one goes, `tx` closes and every task stops (what was
/// held is abandoned: call [`Webhooks::shutdown`] first).
struct Handle {
    tx: mpsc::UnboundedSender<Msg>,
    shared: Arc<Shared>,
}

/// What the dispatcher and the attempts share with the handles.
pub(crate) struct Shared {
    pub(crate) client: reqwest::Client,
    pub(crate) settings: WebhookSettings,
    /// Events held: reserved by `post` before queueing, released when a delivery ends.
    backlog: AtomicUsize,
    closed: AtomicBool,
    delivered: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    dropped: AtomicU64,
    /// Woken when the backlog reaches zero (for `shutdown`).
    idle: Notify,
    /// Cancelled when a drain ends (nothing held, or the grace over): every task stops.
    pub(crate) stop: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

impl Webhooks {
    /// Checks the settings, builds the HTTP client and starts the dispatcher on the current
    /// tokio runtime. Cancelling `shutdown` does what [`Webhooks::shutdown`] does with
    /// `settings.shutdown_grace`: no new posts, what is held delivered for at most that long.
    pub fn start(
        settings: WebhookSettings,
        shutdown: CancellationToken,
    ) -> Result<Webhooks, WebhookError> {
        settings.check().map_err(WebhookError::Settings)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WebhookError::NoRuntime)?;
        install_ring();
        let client = attempt::client(&settings)?;
        describe_metrics();
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            client,
            settings,
            backlog: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            idle: Notify::new(),
            stop: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        let dispatcher = Dispatcher::new(Arc::clone(&shared), rx);
        runtime.spawn(shared.tracker.track_future(dispatcher.run()));
        // The caller's token starts the same drain as `shutdown`. The watcher holds the
        // channel weakly, so dropping every handle still ends the dispatcher; it is not
        // tracked, since `shutdown` waits for the tracked tasks.
        let watcher = (Arc::clone(&shared), tx.downgrade());
        runtime.spawn(async move {
            let (shared, tx) = watcher;
            tokio::select! {
                () = shutdown.cancelled() => {
                    let grace = shared.settings.shutdown_grace;
                    drain(&shared, tx.upgrade().as_ref(), grace).await;
                }
                () = shared.stop.cancelled() => {}
            }
        });
        Ok(Webhooks {
            handle: Arc::new(Handle { tx, shared }),
        })
    }

    /// Queues `body` for `url`: fire and forget, retried with backoff until a 2xx, a final
    /// refusal, or `max_attempts`. Returns false, and counts it, when the event is not taken:
    /// the queue is full or the sender shut down (`dropped`), or the URL or event name is
    /// unusable (`failed`).
    pub fn post(&self, url: &str, event: &'static str, body: Bytes) -> bool {
        self.enqueue(url, event, body, None).is_ok()
    }

    /// The same delivery and retries as [`Webhooks::post`], never batched, and the caller
    /// waits for the outcome: the 2xx status, or why it was not delivered.
    pub async fn post_and_wait(
        &self,
        url: &str,
        event: &'static str,
        body: Bytes,
    ) -> Result<u16, WebhookError> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(url, event, body, Some(tx))?;
        // The sender is dropped unanswered only when the dispatcher stopped.
        rx.await.unwrap_or(Err(WebhookError::ShutDown))
    }

    /// Counters since start, and the backlog now.
    pub fn stats(&self) -> WebhookStats {
        let s = &self.handle.shared;
        WebhookStats {
            queued: s.backlog.load(Ordering::Relaxed) as u64,
            delivered: s.delivered.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
        }
    }

    /// The settings this sender runs with.
    pub fn settings(&self) -> &WebhookSettings {
        &self.handle.shared.settings
    }

    /// Stops taking new posts, keeps delivering what is held (open batches are sent at once;
    /// retries still wait their delay) for at most `grace`, then abandons the rest and
    /// returns when every task has ended. What was abandoned stays in `stats().queued`;
    /// its `post_and_wait` callers get [`WebhookError::ShutDown`].
    pub async fn shutdown(&self, grace: Duration) {
        drain(&self.handle.shared, Some(&self.handle.tx), grace).await;
        let shared = &self.handle.shared;
        shared.tracker.close();
        shared.tracker.wait().await;
    }

    fn enqueue(
        &self,
        url: &str,
        event: &'static str,
        body: Bytes,
        waiter: Option<oneshot::Sender<Result<u16, WebhookError>>>,
    ) -> Result<(), WebhookError> {
        let shared = &self.handle.shared;
        let url = parse_url(url).inspect_err(|e| shared.count_refused(event, e))?;
        let event_value = HeaderValue::from_str(event).map_err(|_| {
            let e = WebhookError::InvalidEvent(event);
            shared.count_refused(event, &e);
            e
        })?;
        // Reserve first, then look at `closed`: with `shutdown` storing `closed` before it
        // reads the backlog (both SeqCst), either this post sees `closed` or `shutdown` sees
        // the reservation.
        if !shared.reserve() {
            shared.count_dropped(event, "queue_full");
            return Err(WebhookError::QueueFull);
        }
        if shared.closed.load(Ordering::SeqCst) || shared.stop.is_cancelled() {
            shared.release(1);
            shared.count_dropped(event, "shut_down");
            return Err(WebhookError::ShutDown);
        }
        let msg = match (&shared.settings.batch, waiter) {
            (Some(_), None) => Msg::Event {
                url,
                event,
                event_value,
                body,
            },
            (_, waiter) => Msg::Job(Job::new(url, event, event_value, body, 1, waiter)),
        };
        if self.handle.tx.send(msg).is_err() {
            shared.release(1);
            shared.count_dropped(event, "shut_down");
            return Err(WebhookError::ShutDown);
        }
        Ok(())
    }
}

impl Shared {
    /// Takes one backlog slot if there is room.
    fn reserve(&self) -> bool {
        let cap = self.settings.queue_capacity;
        let taken = self
            .backlog
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < cap).then_some(n + 1)
            });
        // Increments and decrements (not `set`) so that racing updates cannot leave a stale
        // value behind.
        let ok = taken.is_ok();
        if ok {
            metrics::gauge!(BACKLOG).increment(1.0);
        }
        ok
    }

    /// Gives back `n` backlog slots; wakes `shutdown` at zero.
    pub(crate) fn release(&self, n: usize) {
        let before = self.backlog.fetch_sub(n, Ordering::SeqCst);
        metrics::gauge!(BACKLOG).decrement(n as f64);
        if before == n {
            self.idle.notify_waiters();
        }
    }

    pub(crate) fn count_delivered(&self, event: &'static str, n: u32) {
        self.delivered.fetch_add(u64::from(n), Ordering::Relaxed);
        metrics::counter!(DELIVERED_TOTAL, "event" => event).increment(u64::from(n));
    }

    pub(crate) fn count_failed(&self, event: &'static str, n: u32) {
        self.failed.fetch_add(u64::from(n), Ordering::Relaxed);
        metrics::counter!(FAILED_TOTAL, "event" => event).increment(u64::from(n));
    }

    pub(crate) fn count_retry(&self, event: &'static str, n: u32) {
        self.retries.fetch_add(u64::from(n), Ordering::Relaxed);
        metrics::counter!(RETRIES_TOTAL, "event" => event).increment(u64::from(n));
    }

    fn count_dropped(&self, event: &'static str, reason: &'static str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(DROPPED_TOTAL, "event" => event, "reason" => reason).increment(1);
    }

    /// A post refused before queueing (bad URL or event name): a failure, not a drop.
    fn count_refused(&self, event: &'static str, e: &WebhookError) {
        tracing::debug!(event, error = %e, "webhook refused");
        self.count_failed(event, 1);
    }
}

/// Closes to new posts, sends open batches, waits until nothing is held or `grace` has
/// passed, then stops every task.
async fn drain(shared: &Shared, tx: Option<&mpsc::UnboundedSender<Msg>>, grace: Duration) {
    shared.closed.store(true, Ordering::SeqCst);
    if let Some(tx) = tx {
        // Open batches go out now rather than after their linger.
        let _ = tx.send(Msg::Flush);
    }
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let idle = shared.idle.notified();
        tokio::pin!(idle);
        idle.as_mut().enable();
        if shared.backlog.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::select! {
            () = idle => {}
            () = tokio::time::sleep_until(deadline) => break,
            () = shared.stop.cancelled() => break,
        }
    }
    shared.stop.cancel();
}

/// Parses a webhook URL: absolute, `http` or `https`, with a host.
pub(crate) fn parse_url(url: &str) -> Result<Url, WebhookError> {
    let invalid = |reason: &str| WebhookError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("there is no host"));
    }
    Ok(parsed)
}

/// reqwest is built without a crypto provider (so that aws-lc-rs stays out of the tree):
/// make ring the process default unless something else already chose one. Call it before
/// building any other reqwest client in the process.
pub fn install_ring() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn describe_metrics() {
    metrics::describe_counter!(DELIVERED_TOTAL, "webhook events a receiver accepted (2xx)");
    metrics::describe_counter!(
        FAILED_TOTAL,
        "webhook events given up on (final 4xx, attempts used up, unusable URL)"
    );
    metrics::describe_counter!(RETRIES_TOTAL, "webhook retries scheduled, in events");
    metrics::describe_counter!(
        DROPPED_TOTAL,
        "webhook events refused because the queue was full or the sender shut down"
    );
    metrics::describe_gauge!(
        BACKLOG,
        "webhook events held: waiting, in flight, or waiting for a retry"
    );
    metrics::describe_histogram!(
        LATENCY_SECONDS,
        metrics::Unit::Seconds,
        "one webhook attempt, request sent to answer read"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_url("https://hooks.example.com/sms?k=1").is_ok());
        assert!(parse_url("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "",
            "/relative",
            "ftp://example.com/x",
            "mailto:ops@example.com",
            "http://",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(parse_url(bad), Err(WebhookError::InvalidUrl { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn retryable_errors() {
        assert!(WebhookError::Status(500).is_retryable());
        assert!(WebhookError::Status(503).is_retryable());
        assert!(WebhookError::Status(408).is_retryable());
        assert!(WebhookError::Status(429).is_retryable());
        assert!(!WebhookError::Status(400).is_retryable());
        assert!(!WebhookError::Status(410).is_retryable());
        assert!(WebhookError::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(!WebhookError::InvalidEvent("x").is_retryable());
        assert!(
            !WebhookError::GaveUp {
                attempts: 3,
                last: Box::new(WebhookError::Status(500))
            }
            .is_retryable()
        );
    }

    #[test]
    fn start_needs_a_runtime_and_good_settings() {
        let token = CancellationToken::new();
        assert!(matches!(
            Webhooks::start(WebhookSettings::default(), token.clone()),
            Err(WebhookError::NoRuntime)
        ));
        let bad = WebhookSettings {
            concurrency: 0,
            ..WebhookSettings::default()
        };
        assert!(matches!(
            Webhooks::start(bad, token),
            Err(WebhookError::Settings(_))
        ));
    }
}
