//! Outbound webhooks end to end: the real sender against a real axum receiver on 127.0.0.1,
//! which records every request and answers from a script. No sleeps: every wait is on a
//! channel or a condition, under a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gannet::webhook::{
    BatchSettings, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, VerifyError, WebhookConfig,
    WebhookError, WebhookSettings, WebhookStats, Webhooks, sign, verify,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

const SECRET: &[u8] = b"test-secret-0123456789";
const WAIT: Duration = Duration::from_secs(10);

/// One request as the receiver saw it.
#[derive(Debug)]
struct Seen {
    at: Instant,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// How the receiver answers one request.
#[derive(Clone, Debug)]
enum Reply {
    Status(u16),
    RetryAfter(u16, &'static str),
    /// Answer 200 after this long.
    Slow(Duration),
    /// Never answer.
    Hang,
}

#[derive(Clone)]
struct ReceiverState {
    seen: mpsc::UnboundedSender<Seen>,
    /// Replies per path, in order; then `default`.
    script: Arc<Mutex<HashMap<String, VecDeque<Reply>>>>,
    default: Reply,
}

struct Receiver {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    script: Arc<Mutex<HashMap<String, VecDeque<Reply>>>>,
}

impl Receiver {
    async fn start(default: Reply) -> Receiver {
        let (tx, seen) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(HashMap::new()));
        let state = ReceiverState {
            seen: tx,
            script: Arc::clone(&script),
            default,
        };
        let app = Router::new().fallback(receive).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, seen, script }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.script
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .extend(replies);
    }

    async fn next(&mut self) -> Seen {
        timeout(WAIT, self.seen.recv())
            .await
            .expect("a request within the deadline")
            .expect("receiver running")
    }

    /// Asserts that no request arrives for `d`.
    async fn quiet_for(&mut self, d: Duration) {
        if let Ok(Some(s)) = timeout(d, self.seen.recv()).await {
            panic!("unexpected request: {s:?}");
        }
    }
}

async fn receive(
    State(st): State<ReceiverState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let reply = st
        .script
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(VecDeque::pop_front)
        .unwrap_or_else(|| st.default.clone());
    let _ = st.seen.send(Seen {
        at: Instant::now(),
        path,
        headers,
        body,
    });
    match reply {
        Reply::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Reply::RetryAfter(s, after) => {
            (StatusCode::from_u16(s).unwrap(), [("retry-after", after)]).into_response()
        }
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
        Reply::Hang => std::future::pending().await,
    }
}

/// Short, jitter-free backoff so retries happen quickly and predictably.
fn settings() -> WebhookSettings {
    WebhookSettings {
        secret: Some(SECRET.to_vec()),
        timeout: Duration::from_secs(5),
        max_attempts: 4,
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_secs(10),
        backoff_jitter: 0.0,
        concurrency: 8,
        queue_capacity: 1000,
        ..WebhookSettings::default()
    }
}

fn start(s: WebhookSettings) -> Webhooks {
    Webhooks::start(s, CancellationToken::new()).unwrap()
}

fn body(n: u32) -> Bytes {
    Bytes::from(format!(
        r#"{{"id":"m{n}","status":"delivered","at":"2026-11-20T09:20:02Z"}}"#
    ))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits until `cond` holds on the stats, or fails after [`WAIT`].
async fn stats_until(hooks: &Webhooks, cond: impl Fn(&WebhookStats) -> bool) -> WebhookStats {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = hooks.stats();
        if cond(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "stats never got there: {s:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn delivered_with_a_valid_signature_and_headers() {
    let mut rx = Receiver::start(Reply::Status(200)).await;
    let hooks = start(settings());
    assert!(hooks.post(&rx.url("/sms/status"), "message.status", body(1)));
    let seen = rx.next().await;
    assert_eq!(seen.path, "/sms/status");
    assert_eq!(&seen.body[..], &body(1)[..]);
    assert_eq!(seen.header("content-type"), "application/json");
    assert_eq!(seen.header(EVENT_HEADER), "message.status");
    assert!(
        seen.header("user-agent").starts_with("gannet/"),
        "{:?}",
        seen.headers
    );
    let delivery = seen.header(DELIVERY_HEADER);
    assert_eq!(delivery.len(), 36, "{delivery}");
    // The receiver's side: the signature checks out with the shared secret.
    let sig = seen.header(SIGNATURE_HEADER);
    assert_eq!(
        verify(
            SECRET,
            sig,
            &seen.body,
            unix_now(),
            Duration::from_secs(300)
        ),
        Ok(())
    );
    let s = stats_until(&hooks, |s| s.delivered == 1).await;
    assert_eq!(
        s,
        WebhookStats {
            queued: 0,
            delivered: 1,
            failed: 0,
            retries: 0,
            dropped: 0
        }
    );
}

#[tokio::test]
async fn unsigned_without_a_secret() {
    let mut rx = Receiver::start(Reply::Status(204)).await;
    let hooks = start(WebhookSettings {
        secret: None,
        ..settings()
    });
    let status = hooks
        .post_and_wait(&rx.url("/v"), "voice.call", body(1))
        .await;
    assert_eq!(status, Ok(204));
    let seen = rx.next().await;
    assert!(seen.headers.get(SIGNATURE_HEADER).is_none());
    assert_eq!(seen.header(EVENT_HEADER), "voice.call");
}

#[tokio::test]
async fn retries_on_500_then_succeeds_with_the_same_delivery_id() {
    let mut rx = Receiver::start(Reply::Status(200)).await;
    rx.script("/h", [Reply::Status(500), Reply::Status(502)]);
    let hooks = start(settings());
    assert!(hooks.post(&rx.url("/h"), "message.status", body(1)));
    let attempts = [rx.next().await, rx.next().await, rx.next().await];
    let id = attempts[0].header(DELIVERY_HEADER).to_owned();
    for a in &attempts {
        assert_eq!(a.header(DELIVERY_HEADER), id);
        assert_eq!(&a.body[..], &body(1)[..]);
        // Each attempt is signed afresh, and each signature verifies.
        assert_eq!(
            verify(
                SECRET,
                a.header(SIGNATURE_HEADER),
                &a.body,
                unix_now(),
                Duration::from_secs(300)
            ),
            Ok(())
        );
    }
    // Backoff 10 ms then 20 ms (no jitter).
    assert!(attempts[1].at - attempts[0].at >= Duration::from_millis(10));
    assert!(attempts[2].at - attempts[1].at >= Duration::from_millis(20));
    let s = stats_until(&hooks, |s| s.delivered == 1).await;
    assert_eq!((s.retries, s.failed, s.queued), (2, 0, 0));
    rx.quiet_for(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let mut rx = Receiver::start(Reply::Status(200)).await;
    rx.script("/h", [Reply::RetryAfter(429, "1")]);
    let hooks = start(settings());
    let waiting = {
        let hooks = hooks.clone();
        let url = rx.url("/h");
        tokio::spawn(async move { hooks.post_and_wait(&url, "message.status", body(1)).await })
    };
    let first = rx.next().await;
    let second = rx.next().await;
    // Without Retry-After the backoff would have retried after 10 ms.
    let gap = second.at - first.at;
    assert!(gap >= Duration::from_millis(950), "{gap:?}");
    assert!(gap < Duration::from_secs(5), "{gap:?}");
    assert_eq!(
        first.header(DELIVERY_HEADER),
        second.header(DELIVERY_HEADER)
    );
    assert_eq!(timeout(WAIT, waiting).await.unwrap().unwrap(), Ok(200));
    assert_eq!(hooks.stats().retries, 1);
}

#[tokio::test]
async fn retry_after_is_capped_at_backoff_max() {
    let mut rx = Receiver::start(Reply::Status(200)).await;
    rx.script("/h", [Reply::RetryAfter(503, "3600")]);
    let hooks = start(WebhookSettings {
        backoff_max: Duration::from_millis(50),
        ..settings()
    });
    let status = timeout(
        WAIT,
        hooks.post_and_wait(&rx.url("/h"), "message.status", body(1)),
    )
    .await
    .expect("an hour's Retry-After is capped");
    assert_eq!(status, Ok(200));
    let (a, b) = (rx.next().await, rx.next().await);
    assert!(b.at - a.at >= Duration::from_millis(50));
}

#[tokio::test]
async fn a_400_is_final() {
    let mut rx = Receiver::start(Reply::Status(200)).await;
    rx.script("/h", [Reply::Status(400)]);
    let hooks = start(settings());
    let result = hooks
        .post_and_wait(&rx.url("/h"), "message.status", body(1))
        .await;
    assert_eq!(result, Err(WebhookError::Status(400)));
    rx.next().await;
    rx.quiet_for(Duration::from_millis(100)).await;
    let s = hooks.stats();
    assert_eq!((s.failed, s.retries, s.delivered, s.queued), (1, 0, 0, 0));
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let mut rx = Receiver::start(Reply::Status(503)).await;
    let hooks = start(WebhookSettings {
        max_attempts: 3,
        ..settings()
    });
    let result = hooks
        .post_and_wait(&rx.url("/h"), "message.status", body(1))
        .await;
    assert_eq!(
        result,
        Err(WebhookError::GaveUp {
            attempts: 3,
            last: Box::new(WebhookError::Status(503))
        })
    );
    for _ in 0..3 {
        rx.next().await;
    }
    rx.quiet_for(Duration::from_millis(100)).await;
    let s = hooks.stats();
    assert_eq!((s.failed, s.retries, s.delivered, s.queued), (1, 2, 0, 0));
    // Fire-and-forget gives up the same way and counts it.
    assert!(hooks.post(&rx.url("/h"), "message.status", body(2)));
    let s = stats_until(&hooks, |s| s.failed == 2).await;
    assert_eq!((s.retries, s.queued), (4, 0));
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retried() {
    let rx = Receiver::start(Reply::Hang).await;
    let hooks = start(WebhookSettings {
        timeout: Duration::from_millis(100),
        max_attempts: 2,
        ..settings()
    });
    let result = hooks
        .post_and_wait(&rx.url("/h"), "message.status", body(1))
        .await;
    assert_eq!(
        result,
        Err(WebhookError::GaveUp {
            attempts: 2,
            last: Box::new(WebhookError::Timeout(Duration::from_millis(100)))
        })
    );

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/h", closed.local_addr().unwrap());
    drop(closed);
    match hooks.post_and_wait(&url, "message.status", body(2)).await {
        Err(WebhookError::GaveUp { attempts: 2, last }) => {
            assert!(matches!(*last, WebhookError::Transport(_)), "{last}");
            assert!(!last.to_string().contains("/h"), "no URL in errors: {last}");
        }
        other => panic!("{other:?}"),
    }
    // https to a plain HTTP port: the TLS handshake fails (rustls on ring is in place).
    let plain = Receiver::start(Reply::Status(200)).await;
    let url = format!("https://{}/h", plain.addr);
    match hooks.post_and_wait(&url, "message.status", body(3)).await {
        Err(WebhookError::GaveUp { attempts: 2, last }) => {
            assert!(matches!(*last, WebhookError::Transport(_)), "{last}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hooks.stats().retries, 3);
}

#[tokio::test]
async fn a_retry_does_not_hold_up_other_deliveries() {
    let mut rx = Receiver::start(Reply::Status(200)).await;
    rx.script("/slow-to-recover", [Reply::Status(500)]);
    // One slot only: a sleeping retry would block everything behind it.
    let hooks = start(WebhookSettings {
        concurrency: 1,
        backoff_initial: Duration::from_secs(1),
        ..settings()
    });
    assert!(hooks.post(&rx.url("/slow-to-recover"), "message.status", body(1)));
    let first = rx.next().await;
    assert_eq!(first.path, "/slow-to-recover");
    for n in 2..6 {
        assert!(hooks.post(&rx.url("/fine"), "message.status", body(n)));
    }
    for _ in 2..6 {
        let s = rx.next().await;
        assert_eq!(s.path, "/fine", "delivered while the retry waits");
        assert!(s.at - first.at < Duration::from_secs(1));
    }
    let retry = rx.next().await;
    assert_eq!(retry.path, "/slow-to-recover");
    assert!(retry.at - first.at >= Duration::from_secs(1));
    stats_until(&hooks, |s| s.delivered == 5).await;
}

#[tokio::test]
async fn a_hung_receiver_holds_only_its_share_of_the_slots() {
    let mut hung = Receiver::start(Reply::Hang).await;
    let mut fine = Receiver::start(Reply::Status(200)).await;
    let hooks = start(WebhookSettings {
        concurrency: 4,
        per_host_concurrency: 2,
        ..settings()
    });
    for n in 0..10 {
        assert!(hooks.post(&hung.url("/h"), "message.status", body(n)));
    }
    hung.next().await;
    hung.next().await;
    for n in 10..20 {
        assert!(hooks.post(&fine.url("/h"), "message.status", body(n)));
    }
    for _ in 10..20 {
        fine.next().await;
    }
    let s = stats_until(&hooks, |s| s.delivered == 10).await;
    assert_eq!(s.queued, 10);
    // Never more than two at the hung host.
    hung.quiet_for(Duration::from_millis(100)).await;
    hooks.shutdown(Duration::ZERO).await;
}

#[tokio::test]
async fn a_full_queue_refuses_and_counts_drops() {
    let mut rx = Receiver::start(Reply::Hang).await;
    let hooks = start(WebhookSettings {
        concurrency: 1,
        queue_capacity: 2,
        ..settings()
    });
    let url = rx.url("/h");
    assert!(hooks.post(&url, "message.status", body(1)));
    assert!(hooks.post(&url, "message.status", body(2)));
    assert!(!hooks.post(&url, "message.status", body(3)));
    assert_eq!(
        hooks.post_and_wait(&url, "voice.call", body(4)).await,
        Err(WebhookError::QueueFull)
    );
    rx.next().await; // the one in flight
    let s = hooks.stats();
    assert_eq!((s.queued, s.dropped, s.delivered), (2, 2, 0));
    hooks.shutdown(Duration::from_millis(50)).await;
    // What was abandoned stays visible.
    assert_eq!(hooks.stats().queued, 2);
}

#[tokio::test]
async fn unusable_urls_are_refused_and_counted_as_failed() {
    let hooks = start(settings());
    assert!(!hooks.post("ftp://example.com/x", "message.status", body(1)));
    assert!(!hooks.post("not a url", "message.status", body(1)));
    assert!(matches!(
        hooks
            .post_and_wait("/relative", "voice.call", body(1))
            .await,
        Err(WebhookError::InvalidUrl { .. })
    ));
    assert!(!hooks.post("http://127.0.0.1:1/", "bad\nevent", body(1)));
    let s = hooks.stats();
    assert_eq!((s.failed, s.dropped, s.queued), (4, 0, 0));
}

#[tokio::test]
async fn post_and_wait_returns_the_status() {
    let mut rx = Receiver::start(Reply::Status(202)).await;
    let hooks = start(settings());
    let got = hooks
        .post_and_wait(&rx.url("/voice"), "voice.call", body(9))
        .await;
    assert_eq!(got, Ok(202));
    assert_eq!(rx.next().await.header(EVENT_HEADER), "voice.call");
    assert_eq!(hooks.stats().delivered, 1);
}

#[tokio::test]
async fn shutdown_drains_what_is_queued_then_refuses() {
    let mut rx = Receiver::start(Reply::Slow(Duration::from_millis(20))).await;
    let hooks = start(WebhookSettings {
        concurrency: 4,
        ..settings()
    });
    let url = rx.url("/h");
    for n in 0..40 {
        assert!(hooks.post(&url, "message.status", body(n)));
    }
    let t0 = Instant::now();
    hooks.shutdown(WAIT).await;
    let took = t0.elapsed();
    assert!(took < WAIT, "{took:?}");
    let s = hooks.stats();
    assert_eq!((s.delivered, s.queued, s.failed), (40, 0, 0));
    for _ in 0..40 {
        rx.next().await;
    }
    assert!(!hooks.post(&url, "message.status", body(99)));
    assert_eq!(
        hooks.post_and_wait(&url, "voice.call", body(99)).await,
        Err(WebhookError::ShutDown)
    );
    assert_eq!(hooks.stats().dropped, 2);
}

#[tokio::test]
async fn shutdown_gives_up_after_the_grace() {
    let mut rx = Receiver::start(Reply::Hang).await;
    let hooks = start(settings());
    let url = rx.url("/h");
    let waiting = {
        let hooks = hooks.clone();
        let url = url.clone();
        tokio::spawn(async move { hooks.post_and_wait(&url, "voice.call", body(1)).await })
    };
    rx.next().await;
    let t0 = Instant::now();
    hooks.shutdown(Duration::from_millis(100)).await;
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(
        timeout(WAIT, waiting).await.unwrap().unwrap(),
        Err(WebhookError::ShutDown)
    );
    assert_eq!(hooks.stats().queued, 1);
}

#[tokio::test]
async fn cancelling_the_token_drains_like_shutdown() {
    let mut rx = Receiver::start(Reply::Slow(Duration::from_millis(20))).await;
    rx.script("/hang", [Reply::Hang]);
    let token = CancellationToken::new();
    let hooks = Webhooks::start(
        WebhookSettings {
            shutdown_grace: Duration::from_secs(1),
            ..settings()
        },
        token.clone(),
    )
    .unwrap();
    let waiting = {
        let hooks = hooks.clone();
        let url = rx.url("/hang");
        tokio::spawn(async move { hooks.post_and_wait(&url, "voice.call", body(0)).await })
    };
    rx.next().await;
    for n in 1..=10 {
        assert!(hooks.post(&rx.url("/h"), "message.status", body(n)));
    }
    let t0 = Instant::now();
    token.cancel();
    // What was held is still delivered; the hung one is abandoned when the grace ends.
    assert_eq!(
        timeout(WAIT, waiting).await.unwrap().unwrap(),
        Err(WebhookError::ShutDown)
    );
    let took = t0.elapsed();
    assert!(took >= Duration::from_secs(1), "{took:?}");
    let s = hooks.stats();
    assert_eq!((s.delivered, s.queued), (10, 1));
    assert!(!hooks.post(&rx.url("/h"), "message.status", body(11)));
    // shutdown after the drain returns at once.
    timeout(WAIT, hooks.shutdown(Duration::from_secs(60)))
        .await
        .expect("nothing left to wait for");
}

#[tokio::test]
async fn batch_mode_sends_arrays_by_size_and_by_linger() {
    let mut rx = Receiver::start(Reply::Status(200)).await;
    let hooks = start(WebhookSettings {
        batch: Some(BatchSettings {
            max: 5,
            linger: Duration::from_secs(1),
        }),
        ..settings()
    });
    let url = rx.url("/batch");
    let posted = Instant::now();
    for n in 0..12 {
        assert!(hooks.post(&url, "message.status", body(n)));
    }
    let mut sizes = Vec::new();
    let mut seen_ids = Vec::new();
    for _ in 0..3 {
        let s = rx.next().await;
        assert_eq!(
            verify(
                SECRET,
                s.header(SIGNATURE_HEADER),
                &s.body,
                unix_now(),
                Duration::from_secs(300)
            ),
            Ok(())
        );
        let items: Vec<serde_json::Value> = serde_json::from_slice(&s.body).unwrap();
        sizes.push(items.len());
        if items.len() < 5 {
            assert!(
                s.at - posted >= Duration::from_secs(1),
                "sent by its linger"
            );
        }
        seen_ids.extend(items.iter().map(|v| v["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(sizes, vec![5, 5, 2]);
    seen_ids.sort();
    let mut want: Vec<String> = (0..12).map(|n| format!("m{n}")).collect();
    want.sort();
    assert_eq!(seen_ids, want);
    let s = stats_until(&hooks, |s| s.delivered == 12).await;
    assert_eq!(s.queued, 0);

    // post_and_wait is never batched; shutdown sends open batches without waiting the linger.
    assert_eq!(
        hooks.post_and_wait(&url, "voice.call", body(50)).await,
        Ok(200)
    );
    assert_eq!(&rx.next().await.body[..], &body(50)[..]);
    assert!(hooks.post(&url, "message.status", body(51)));
    let t0 = Instant::now();
    hooks.shutdown(WAIT).await;
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "not held for the linger"
    );
    let last = rx.next().await;
    assert_eq!(
        &last.body[..],
        format!("[{}]", std::str::from_utf8(&body(51)).unwrap()).as_bytes()
    );
    assert_eq!(hooks.stats().delivered, 14);
}

#[tokio::test]
async fn metrics_are_recorded() {
    let prometheus = gannet::api::telemetry::prometheus().expect("recorder installed");
    let rx = Receiver::start(Reply::Status(200)).await;
    rx.script("/m", [Reply::Status(500)]);
    let hooks = start(settings());
    assert_eq!(
        hooks
            .post_and_wait(&rx.url("/m"), "metrics.test", body(1))
            .await,
        Ok(200)
    );
    let text = prometheus.render();
    for want in [
        "gannet_webhook_delivered_total{event=\"metrics.test\"} 1",
        "gannet_webhook_retries_total{event=\"metrics.test\"} 1",
        "gannet_webhook_latency_seconds",
        "gannet_webhook_backlog",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}

#[test]
fn verify_refuses_what_it_must() {
    let now = 1_790_000_000;
    let tol = Duration::from_secs(300);
    let b = br#"{"id":"m1","status":"failed"}"#;
    let h = sign(SECRET, now, b);
    assert_eq!(verify(SECRET, &h, b, now, tol), Ok(()));
    assert_eq!(
        verify(SECRET, &h, br#"{"id":"m1","status":"delivrd"}"#, now, tol),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(b"wrong-secret", &h, b, now, tol),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(SECRET, &h, b, now + 301, tol),
        Err(VerifyError::Stale {
            timestamp: now,
            now: now + 301
        })
    );
    for bad in ["", "v1=abc", "t=abc,v1=00", &format!("t={now}")] {
        assert!(
            matches!(
                verify(SECRET, bad, b, now, tol),
                Err(VerifyError::Malformed(_))
            ),
            "{bad:?}"
        );
    }
}

fn config(yaml: &str) -> Result<WebhookSettings, gannet::config::ConfigError> {
    let file = Path::new("gateway.yaml");
    gannet::config::parse::<WebhookConfig>(file, yaml)?.validate(file)
}

#[test]
fn config_refuses_unknown_keys_with_their_line() {
    let e = config("timeout: 2s\nmax_attempts: 5\nretry_forever: true\n").unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.to_string().starts_with("gateway.yaml:3:"), "{e}");
    assert!(e.message.contains("retry_forever"), "{e}");
}

#[test]
fn config_refuses_secret_and_secret_env_together() {
    let e =
        config("secret: 0123456789abcdef0123\nsecret_env: GANNET_WEBHOOK_SECRET\n").unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    assert_eq!(e.key.as_deref(), Some("webhooks.secret_env"));
    let e = config("secret: ''\n").unwrap_err();
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(1), Some("webhooks.secret"))
    );
}

#[test]
fn config_reads_every_documented_key() {
    let s = config(
        "secret: 0123456789abcdef0123\ntimeout: 2s\nmax_attempts: 5\n\
         backoff: { initial: 250ms, max: 2m }\nconcurrency: 16\nqueue_capacity: 5000\n\
         voice_url: http://127.0.0.1:9000/calls\nbatch: { max: 100, linger: 20ms }\n",
    )
    .unwrap();
    assert_eq!(s.timeout, Duration::from_secs(2));
    assert_eq!(s.max_attempts, 5);
    assert_eq!(s.backoff_initial, Duration::from_millis(250));
    assert_eq!(s.backoff_max, Duration::from_secs(120));
    assert_eq!(s.concurrency, 16);
    assert_eq!(s.queue_capacity, 5000);
    assert_eq!(s.voice_url.as_deref(), Some("http://127.0.0.1:9000/calls"));
    assert_eq!(
        s.batch,
        Some(BatchSettings {
            max: 100,
            linger: Duration::from_millis(20)
        })
    );
}

/// The example configuration in docs/webhooks.md loads and validates.
#[test]
fn documented_config_example_loads() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sections {
        webhooks: WebhookConfig,
    }
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/webhooks.md"))
            .unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let file = Path::new("docs/webhooks.md");
    let s: Sections = gannet::config::parse(file, &doc[start..end]).unwrap();
    let secret = "0123456789abcdef0123456789abcdef";
    let settings = s
        .webhooks
        .validate_with_env(file, |name| {
            (name == "GANNET_WEBHOOK_SECRET").then(|| secret.into())
        })
        .unwrap();
    assert_eq!(settings.secret.as_deref(), Some(secret.as_bytes()));
    let defaults = WebhookSettings::default();
    // The example spells out the defaults, plus a voice URL and batch mode.
    assert_eq!(
        WebhookSettings {
            secret: None,
            voice_url: None,
            batch: None,
            ..settings.clone()
        },
        defaults
    );
    assert!(settings.voice_url.is_some());
    assert_eq!(settings.batch, Some(BatchSettings::default()));
}
