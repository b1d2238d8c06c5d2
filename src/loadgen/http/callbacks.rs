//! The receiver of status callbacks: an axum server on 127.0.0.1:0 that counts what the
//! gateway posts to the `callback_url` of each message, and checks signatures when given the
//! secret.
//!
//! A callback is signed in the `gannet-signature` header as `t=<unix seconds>,v1=<hex>`, the
//! hex being HMAC-SHA256(secret, `"<t>.<body>"`). HMAC (RFC 2104) is written out here over
//! `sha2`, which the tree already has, rather than taken from the gateway's webhook module:
//! the load tool must check the gateway, not share its code (one bug in one place would
//! make both agree).
//!
//! The receiver reads two things from a body without parsing it: the `status` (counted per
//! value), and a `client_ref` of the form `lg<ns>`, which the load client puts in each message
//! when callbacks are on (`ns` is the message's scheduled send time since the start of the
//! run), giving the lag from request to callback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::wire::json_str;
use crate::loadgen::histogram::{Histogram, LatencySummary};

/// The header carrying a callback's signature.
pub const SIGNATURE_HEADER: &str = "gannet-signature";
/// Distinct `status` values counted; more are counted as `other` (a body is not trusted to
/// bound a map).
const MAX_STATUSES: usize = 32;

/// A running receiver.
pub struct Receiver {
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

struct Counts {
    start: Instant,
    secret: Option<Vec<u8>>,
    received: AtomicU64,
    verified: AtomicU64,
    bad_signature: AtomicU64,
    unsigned: AtomicU64,
    inner: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    by_status: BTreeMap<String, u64>,
    lag: Histogram,
}

/// What the receiver counted.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CallbackReport {
    /// Where the messages asked for callbacks.
    pub url: String,
    /// POSTs received.
    pub received: u64,
    /// Received per second, over the load (or the drain when there was one).
    pub per_s: f64,
    /// With a secret: a valid signature; without, 0.
    pub verified: u64,
    /// With a secret: a signature header that did not verify.
    pub bad_signature: u64,
    /// No signature header.
    pub unsigned: u64,
    /// By the body's `status`.
    pub by_status: BTreeMap<String, u64>,
    /// Scheduled send time of the message to its callback, when the body echoed
    /// `client_ref`.
    pub lag: Option<LatencySummary>,
}

impl Receiver {
    /// Starts the receiver on 127.0.0.1:0. `start` is the clock `client_ref` stamps count from.
    pub async fn start(secret: Option<&str>, start: Instant) -> std::io::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Counts {
            start,
            secret: secret.map(|s| s.as_bytes().to_vec()),
            received: AtomicU64::new(0),
            verified: AtomicU64::new(0),
            bad_signature: AtomicU64::new(0),
            unsigned: AtomicU64::new(0),
            inner: Mutex::new(Tally::default()),
        });
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&counts));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let serve =
                axum::serve(listener, app).with_graceful_shutdown(stopped.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "callback receiver stopped");
            }
        });
        Ok(Receiver {
            addr,
            counts,
            stop,
            task,
        })
    }

    /// The URL to put in `callback_url`.
    pub fn url(&self) -> String {
        format!("http://{}/callback", self.addr)
    }

    /// Callbacks received so far.
    pub fn received(&self) -> u64 {
        self.counts.received.load(Relaxed)
    }

    /// The counts now; `per_s` is left for the caller.
    pub fn report(&self) -> CallbackReport {
        let c = &self.counts;
        let tally = c.inner.lock().unwrap_or_else(|p| p.into_inner());
        CallbackReport {
            url: self.url(),
            received: c.received.load(Relaxed),
            per_s: 0.0,
            verified: c.verified.load(Relaxed),
            bad_signature: c.bad_signature.load(Relaxed),
            unsigned: c.unsigned.load(Relaxed),
            by_status: tally.by_status.clone(),
            lag: (tally.lag.count() > 0).then(|| tally.lag.summary()),
        }
    }

    /// Stops accepting callbacks and waits for the server to end.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn receive(State(c): State<Arc<Counts>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = c.start.elapsed().as_nanos() as u64;
    c.received.fetch_add(1, Relaxed);
    match headers.get(SIGNATURE_HEADER) {
        None => {
            c.unsigned.fetch_add(1, Relaxed);
        }
        Some(v) => {
            if let Some(secret) = &c.secret {
                if verify(secret, v.as_bytes(), &body) {
                    c.verified.fetch_add(1, Relaxed);
                } else {
                    c.bad_signature.fetch_add(1, Relaxed);
                }
            }
        }
    }
    // A batch (the gateway's `webhooks.batch` mode) is a JSON array of event bodies: each
    // event counts.
    if body.first() == Some(&b'[') {
        let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap_or_default();
        c.received
            .fetch_add((events.len() as u64).saturating_sub(1), Relaxed);
        for e in events {
            if let Ok(one) = serde_json::to_vec(&e) {
                tally_event(&c, &one, now);
            }
        }
    } else {
        tally_event(&c, &body, now);
    }
    StatusCode::NO_CONTENT
}

/// Counts one event's status and request-to-callback lag.
fn tally_event(c: &Counts, body: &[u8], now: u64) {
    let status = json_str(body, b"status");
    let lag = json_str(body, b"client_ref")
        .and_then(|r| r.strip_prefix(b"lg"))
        .and_then(|d| std::str::from_utf8(d).ok()?.parse::<u64>().ok())
        .map(|sent| now.saturating_sub(sent));
    let mut tally = c.inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = status {
        let name = String::from_utf8_lossy(s);
        if let Some(n) = tally.by_status.get_mut(name.as_ref()) {
            *n += 1;
        } else if tally.by_status.len() < MAX_STATUSES {
            tally.by_status.insert(name.into_owned(), 1);
        } else {
            *tally.by_status.entry("other".into()).or_default() += 1;
        }
    }
    if let Some(lag) = lag {
        tally.lag.record(lag);
    }
}

/// Whether `header` (`t=<unix>,v1=<hex>[,v1=…]`) signs `body` with `secret`.
pub fn verify(secret: &[u8], header: &[u8], body: &[u8]) -> bool {
    let mut t: Option<&[u8]> = None;
    let mut sigs: Vec<&[u8]> = Vec::new();
    for part in header.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if let Some(v) = part.strip_prefix(b"t=") {
            t = Some(v);
        } else if let Some(v) = part.strip_prefix(b"v1=") {
            sigs.push(v);
        }
    }
    let Some(t) = t.filter(|t| !t.is_empty() && t.iter().all(u8::is_ascii_digit)) else {
        return false;
    };
    let mac = hmac_sha256(secret, &[t, b".", body]);
    let want = hex(&mac);
    // Constant time per candidate: the receiver is a test peer, but the habit costs nothing.
    sigs.iter().any(|s| {
        s.len() == want.len()
            && s.iter()
                .zip(want.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a.to_ascii_lowercase() ^ b))
                == 0
    })
}

/// `t=<t>,v1=<hex>` for `body`: what a correct sender puts in [`SIGNATURE_HEADER`].
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    let ts = t.to_string();
    let mac = hmac_sha256(secret, &[ts.as_bytes(), b".", body]);
    format!("t={ts},v1={}", hex(&mac))
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hmac_sha256_rfc_4231_vectors() {
        // Test case 1.
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], &[b"Hi There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2: a short key.
        assert_eq!(
            hex(&hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert_eq!(unhex("0aff"), [0x0a, 0xff]);
    }

    #[test]
    fn signatures_verify_and_fail() {
        let body = br#"{"id":"x","status":"delivered"}"#;
        let h = sign(b"s3cret", 1_790_000_000, body);
        assert!(h.starts_with("t=1790000000,v1="));
        assert!(verify(b"s3cret", h.as_bytes(), body));
        assert!(verify(
            b"s3cret",
            h.to_uppercase()
                .replace("T=", "t=")
                .replace("V1=", "v1=")
                .as_bytes(),
            body
        ));
        assert!(!verify(b"other", h.as_bytes(), body));
        assert!(!verify(b"s3cret", h.as_bytes(), b"{}"));
        let old = sign(b"old", 1_790_000_000, body);
        let rotated = format!("{h},{}", &old[old.find("v1=").unwrap()..]);
        assert!(
            verify(b"s3cret", rotated.as_bytes(), body),
            "any v1 may match"
        );
        for bad in ["", "t=,v1=00", "v1=abcd", "t=12x,v1=00"] {
            assert!(!verify(b"s3cret", bad.as_bytes(), body), "{bad}");
        }
    }
}
