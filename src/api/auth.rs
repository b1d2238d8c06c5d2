//! API keys and per-client rate limits.
//!
//! Keys are configured as SHA-256 hashes, so the config file and its backups never hold a
//! usable key. A request's key is hashed and compared with every client's hash in constant
//! time (no early exit on the first differing byte, none on the first matching client), so
//! response timing says nothing about how close a guess was.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use dashmap::DashMap;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::config::{ClientSettings, Rate};
use super::error::ApiError;

/// The SHA-256 of an API key as 64 lowercase hex digits: the `key_sha256` to configure.
#[must_use]
pub fn hash_api_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xF)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Equality of two digests that takes the same time wherever they differ.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A client known to the API.
#[derive(Debug)]
pub struct Client {
    pub name: Arc<str>,
    key_sha256: [u8; 32],
    pub rate: Rate,
    /// May call the operator endpoints.
    pub admin: bool,
}

/// The configured clients and their token buckets.
#[derive(Debug)]
pub struct Clients {
    clients: Vec<Arc<Client>>,
    buckets: DashMap<Arc<str>, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

impl Clients {
    pub fn new(settings: Vec<ClientSettings>) -> Clients {
        Clients {
            clients: settings
                .into_iter()
                .map(|c| {
                    Arc::new(Client {
                        name: c.name.into(),
                        key_sha256: c.key_sha256,
                        rate: c.rate,
                        admin: c.admin,
                    })
                })
                .collect(),
            buckets: DashMap::new(),
        }
    }

    /// The client whose key this is.
    pub fn authenticate(&self, key: &str) -> Option<Arc<Client>> {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for c in &self.clients {
            if ct_eq(&digest, &c.key_sha256) {
                found = Some(Arc::clone(c));
            }
        }
        found
    }

    /// Takes one token from the client's bucket at monotonic time `now`; when empty, how
    /// long until a token is back.
    pub fn take(&self, client: &Client, now: Duration) -> Result<(), Duration> {
        let rate = client.rate;
        let burst = f64::from(rate.burst);
        let mut bucket = self
            .buckets
            .entry(Arc::clone(&client.name))
            .or_insert(Bucket {
                tokens: burst,
                at: now,
            });
        let elapsed = now.saturating_sub(bucket.at).as_secs_f64();
        let tokens = (bucket.tokens + elapsed * rate.per_second).min(burst);
        bucket.at = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) / rate.per_second))
        }
    }
}

/// The authenticated caller of a request: extracting it checks the key and takes a token.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Client>);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized {
                code: "missing_api_key",
                message: "send the API key as `Authorization: Bearer <key>`",
            })?;
        let key = header
            .to_str()
            .ok()
            .and_then(|h| {
                let (scheme, key) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
            })
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized {
                code: "invalid_api_key",
                message: "the Authorization header must be `Bearer <key>`",
            })?;
        let client = state
            .clients()
            .authenticate(key)
            .ok_or(ApiError::Unauthorized {
                code: "invalid_api_key",
                message: "unknown API key",
            })?;
        let now = state.clock().monotonic();
        if let Err(wait) = state.clients().take(&client, now) {
            // Retry-After counts whole seconds; rounding up never invites an early retry.
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(ApiError::RateLimited {
                retry_after: retry_after.max(1),
            });
        }
        Ok(Caller(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients(per_second: f64, burst: u32) -> Clients {
        Clients::new(vec![ClientSettings::with_key(
            "a",
            "k1",
            Rate { per_second, burst },
        )])
    }

    #[test]
    fn hash_matches_sha256_of_the_key() {
        // sha256("test"), as printed by `printf %s test | sha256sum`.
        assert_eq!(
            hash_api_key("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    #[test]
    fn authenticates_by_key() {
        let c = clients(1.0, 1);
        assert_eq!(
            c.authenticate("k1").map(|c| c.name.to_string()),
            Some("a".into())
        );
        assert!(c.authenticate("k2").is_none());
        assert!(c.authenticate("").is_none());
    }

    #[test]
    fn token_bucket_refills_at_the_rate() {
        let c = clients(2.0, 3);
        let client = c.authenticate("k1").unwrap();
        let t0 = Duration::from_secs(100);
        for _ in 0..3 {
            assert_eq!(c.take(&client, t0), Ok(()));
        }
        assert_eq!(c.take(&client, t0), Err(Duration::from_millis(500)));
        // 250 ms later half a token is back: 250 ms to wait for the rest.
        assert_eq!(
            c.take(&client, t0 + Duration::from_millis(250)),
            Err(Duration::from_millis(250))
        );
        assert_eq!(c.take(&client, t0 + Duration::from_millis(500)), Ok(()));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(c.take(&client, later), Ok(()));
        }
        assert!(c.take(&client, later).is_err());
    }
}
