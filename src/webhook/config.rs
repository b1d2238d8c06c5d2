//! The `webhooks:` section of gateway.yaml (every key documented in docs/webhooks.md), and the
//! plain settings [`Webhooks`](super::Webhooks) runs with.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::api::config::HumanDuration;
use crate::config::{ConfigError, Spanned};

/// Shortest secret accepted from the config: an HMAC key much shorter than the tag is
/// guessable, and operators do paste `changeme`.
pub const MIN_SECRET_LEN: usize = 16;

/// `webhooks:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The HMAC key, written in the file.
    #[serde(default)]
    pub secret: Option<Spanned<String>>,
    /// The name of an environment variable holding the HMAC key (keeps it out of the file).
    #[serde(default)]
    pub secret_env: Option<Spanned<String>>,
    /// Limit for one attempt: connect, send, and the whole answer.
    #[serde(default)]
    pub timeout: Option<Spanned<HumanDuration>>,
    /// Attempts per delivery, the first included.
    #[serde(default)]
    pub max_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    pub backoff: BackoffConfig,
    /// Requests in flight at once, all receivers together.
    #[serde(default)]
    pub concurrency: Option<Spanned<usize>>,
    /// Requests in flight at once to one host (and port).
    #[serde(default)]
    pub per_host_concurrency: Option<Spanned<usize>>,
    /// Events held at once: waiting, in flight, or waiting for a retry.
    #[serde(default)]
    pub queue_capacity: Option<Spanned<usize>>,
    /// Where the voice fallback channel posts calls to place.
    #[serde(default)]
    pub voice_url: Option<Spanned<String>>,
    /// Present: events to one URL with one event name go out together as a JSON array.
    #[serde(default)]
    pub batch: Option<BatchConfig>,
    /// When the stop token is cancelled: how long to keep delivering what is held.
    #[serde(default)]
    pub shutdown_grace: Option<Spanned<HumanDuration>>,
}

/// `webhooks.backoff:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    /// Delay before the first retry.
    #[serde(default)]
    pub initial: Option<Spanned<HumanDuration>>,
    /// Cap on the delay (and on a receiver's `Retry-After`).
    #[serde(default)]
    pub max: Option<Spanned<HumanDuration>>,
    /// Random fraction taken off each delay, 0 to 1.
    #[serde(default)]
    pub jitter: Option<Spanned<f64>>,
}

/// `webhooks.batch:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most events in one request.
    #[serde(default)]
    pub max: Option<Spanned<usize>>,
    /// How long the first event of a batch may wait for others.
    #[serde(default)]
    pub linger: Option<Spanned<HumanDuration>>,
}

/// What the webhook sender runs with.
#[derive(Clone, PartialEq)]
pub struct WebhookSettings {
    /// HMAC-SHA256 key; `None`: requests go unsigned.
    pub secret: Option<Vec<u8>>,
    /// Limit for one attempt (connect, request, answer).
    pub timeout: Duration,
    /// Attempts per delivery, the first included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles per retry up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Cap on a retry delay, and on a receiver's `Retry-After`.
    pub backoff_max: Duration,
    /// Random fraction taken off each delay: drawn from `[d × (1 − jitter), d]`.
    pub backoff_jitter: f64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests in flight at once to one host and port (at most `concurrency` applies), so
    /// one receiver that hangs cannot take every slot.
    pub per_host_concurrency: usize,
    /// Events held at once (queued, in flight, or waiting for a retry); beyond it `post`
    /// refuses.
    pub queue_capacity: usize,
    /// The voice fallback's endpoint, used with `post_and_wait`.
    pub voice_url: Option<String>,
    /// `Some`: batch mode (see [`BatchSettings`]).
    pub batch: Option<BatchSettings>,
    /// When the stop token given to `start` is cancelled, what is held is still delivered for
    /// this long (as `Webhooks::shutdown(shutdown_grace)` would).
    pub shutdown_grace: Duration,
}

/// Batch mode: events posted with `post` to one URL with one event name are sent together,
/// as a JSON array of their bodies, when `max` have gathered or `linger` after the first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchSettings {
    pub max: usize,
    pub linger: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max: 100,
            linger: Duration::from_millis(20),
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            secret: None,
            timeout: Duration::from_secs(5),
            // 1 + 2 + 4 + ... + 64 s: the last attempt about two minutes after the first.
            max_attempts: 8,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(5 * 60),
            backoff_jitter: 0.5,
            concurrency: 64,
            per_host_concurrency: 32,
            queue_capacity: 100_000,
            voice_url: None,
            batch: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The secret is never printed.
impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("backoff_jitter", &self.backoff_jitter)
            .field("concurrency", &self.concurrency)
            .field("per_host_concurrency", &self.per_host_concurrency)
            .field("queue_capacity", &self.queue_capacity)
            .field("voice_url", &self.voice_url)
            .field("batch", &self.batch)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish()
    }
}

pub(crate) const MAX_ATTEMPTS: u32 = 100;
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);
pub(crate) const MAX_CONCURRENCY: usize = 10_000;
pub(crate) const MAX_QUEUE: usize = 10_000_000;
pub(crate) const MAX_BATCH: usize = 10_000;
pub(crate) const MAX_LINGER: Duration = Duration::from_secs(10);
pub(crate) const MAX_GRACE: Duration = Duration::from_secs(10 * 60);

impl WebhookSettings {
    /// The same bounds the config enforces, for settings built in code. Returns what is
    /// wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.secret.as_ref().is_some_and(Vec::is_empty) {
            return Err("the secret is empty".into());
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err("timeout must be more than 0 and at most 5m".into());
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(format!("max_attempts must be between 1 and {MAX_ATTEMPTS}"));
        }
        if self.backoff_initial.is_zero() || self.backoff_initial > self.backoff_max {
            return Err("backoff.initial must be more than 0 and at most backoff.max".into());
        }
        if self.backoff_max > MAX_BACKOFF {
            return Err("backoff.max must be at most 24h".into());
        }
        if !(0.0..=1.0).contains(&self.backoff_jitter) {
            return Err("backoff.jitter must be between 0 and 1".into());
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(format!(
                "concurrency must be between 1 and {MAX_CONCURRENCY}"
            ));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.per_host_concurrency) {
            return Err(format!(
                "per_host_concurrency must be between 1 and {MAX_CONCURRENCY}"
            ));
        }
        if !(1..=MAX_QUEUE).contains(&self.queue_capacity) {
            return Err(format!("queue_capacity must be between 1 and {MAX_QUEUE}"));
        }
        if let Some(url) = &self.voice_url {
            super::parse_url(url).map_err(|e| e.to_string())?;
        }
        if let Some(b) = &self.batch {
            if !(1..=MAX_BATCH).contains(&b.max) {
                return Err(format!("batch.max must be between 1 and {MAX_BATCH}"));
            }
            if b.linger.is_zero() || b.linger > MAX_LINGER {
                return Err("batch.linger must be more than 0 and at most 10s".into());
            }
        }
        if self.shutdown_grace > MAX_GRACE {
            return Err("shutdown_grace must be at most 10m".into());
        }
        Ok(())
    }
}

impl WebhookConfig {
    /// Checks every value; `secret_env` is read from the process environment.
    pub fn validate(&self, file: &Path) -> Result<WebhookSettings, ConfigError> {
        self.validate_with_env(file, |name| std::env::var_os(name))
    }

    /// [`WebhookConfig::validate`] with the environment given as a lookup (tests cannot set
    /// variables: `set_var` is unsafe and the crate forbids unsafe code).
    pub fn validate_with_env(
        &self,
        file: &Path,
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<WebhookSettings, ConfigError> {
        let defaults = WebhookSettings::default();
        let secret = match (&self.secret, &self.secret_env) {
            (Some(_), Some(var)) => {
                return Err(ConfigError::at(
                    file,
                    var,
                    "webhooks.secret_env",
                    "give either `secret` or `secret_env`, not both",
                ));
            }
            (Some(s), None) => Some(check_secret(
                file,
                s,
                "webhooks.secret",
                s.value.as_bytes(),
            )?),
            (None, Some(var)) => {
                let name = var.value.trim();
                if name.is_empty() || name.contains(['=', '\0']) {
                    return Err(ConfigError::at(
                        file,
                        var,
                        "webhooks.secret_env",
                        "must name an environment variable",
                    ));
                }
                let value = env(name).ok_or_else(|| {
                    ConfigError::at(
                        file,
                        var,
                        "webhooks.secret_env",
                        format!("the environment variable `{name}` is not set"),
                    )
                })?;
                let value = value.into_string().map_err(|_| {
                    ConfigError::at(
                        file,
                        var,
                        "webhooks.secret_env",
                        format!("the environment variable `{name}` is not UTF-8"),
                    )
                })?;
                Some(check_secret(
                    file,
                    var,
                    "webhooks.secret_env",
                    value.as_bytes(),
                )?)
            }
            (None, None) => None,
        };

        let timeout = duration(
            file,
            &self.timeout,
            "webhooks.timeout",
            defaults.timeout,
            |d| !d.is_zero() && d <= MAX_TIMEOUT,
            "must be more than 0 and at most 5m",
        )?;
        let max_attempts = number(
            file,
            &self.max_attempts,
            "webhooks.max_attempts",
            defaults.max_attempts,
            1..=MAX_ATTEMPTS,
        )?;
        let backoff_initial = duration(
            file,
            &self.backoff.initial,
            "webhooks.backoff.initial",
            defaults.backoff_initial,
            |d| !d.is_zero() && d <= MAX_BACKOFF,
            "must be more than 0 and at most 24h",
        )?;
        let backoff_max = duration(
            file,
            &self.backoff.max,
            "webhooks.backoff.max",
            defaults.backoff_max.max(backoff_initial),
            |d| d <= MAX_BACKOFF,
            "must be at most 24h",
        )?;
        if backoff_max < backoff_initial {
            // Only an explicit max can be below initial: the default follows initial up.
            let msg = "must be at least backoff.initial";
            return Err(match &self.backoff.max {
                Some(m) => ConfigError::at(file, m, "webhooks.backoff.max", msg),
                None => ConfigError::whole(file, "webhooks.backoff.max", msg),
            });
        }
        let backoff_jitter = match &self.backoff.jitter {
            None => defaults.backoff_jitter,
            Some(j) if (0.0..=1.0).contains(&j.value) => j.value,
            Some(j) => {
                return Err(ConfigError::at(
                    file,
                    j,
                    "webhooks.backoff.jitter",
                    "must be between 0 and 1",
                ));
            }
        };
        let concurrency = number(
            file,
            &self.concurrency,
            "webhooks.concurrency",
            defaults.concurrency,
            1..=MAX_CONCURRENCY,
        )?;
        let per_host_concurrency = number(
            file,
            &self.per_host_concurrency,
            "webhooks.per_host_concurrency",
            defaults.per_host_concurrency,
            1..=MAX_CONCURRENCY,
        )?;
        let queue_capacity = number(
            file,
            &self.queue_capacity,
            "webhooks.queue_capacity",
            defaults.queue_capacity,
            1..=MAX_QUEUE,
        )?;
        let voice_url = match &self.voice_url {
            None => None,
            Some(u) => {
                let url = super::parse_url(u.value.trim())
                    .map_err(|e| ConfigError::at(file, u, "webhooks.voice_url", e.to_string()))?;
                Some(url.to_string())
            }
        };
        let batch = match &self.batch {
            None => None,
            Some(b) => {
                let d = BatchSettings::default();
                Some(BatchSettings {
                    max: number(file, &b.max, "webhooks.batch.max", d.max, 1..=MAX_BATCH)?,
                    linger: duration(
                        file,
                        &b.linger,
                        "webhooks.batch.linger",
                        d.linger,
                        |l| !l.is_zero() && l <= MAX_LINGER,
                        "must be more than 0 and at most 10s",
                    )?,
                })
            }
        };
        let shutdown_grace = duration(
            file,
            &self.shutdown_grace,
            "webhooks.shutdown_grace",
            defaults.shutdown_grace,
            |g| g <= MAX_GRACE,
            "must be at most 10m",
        )?;
        Ok(WebhookSettings {
            secret,
            timeout,
            max_attempts,
            backoff_initial,
            backoff_max,
            backoff_jitter,
            concurrency,
            per_host_concurrency,
            queue_capacity,
            voice_url,
            batch,
            shutdown_grace,
        })
    }
}

fn check_secret<T>(
    file: &Path,
    at: &Spanned<T>,
    key: &str,
    secret: &[u8],
) -> Result<Vec<u8>, ConfigError> {
    if secret.is_empty() {
        return Err(ConfigError::at(file, at, key, "the secret is empty"));
    }
    if secret.len() < MIN_SECRET_LEN {
        return Err(ConfigError::at(
            file,
            at,
            key,
            format!(
                "the secret is shorter than {MIN_SECRET_LEN} bytes; \
                 make one with `head -c 32 /dev/urandom | base64`"
            ),
        ));
    }
    Ok(secret.to_vec())
}

fn duration(
    file: &Path,
    value: &Option<Spanned<HumanDuration>>,
    key: &str,
    default: Duration,
    ok: impl Fn(Duration) -> bool,
    msg: &str,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if ok(v.value.0) => Ok(v.value.0),
        Some(v) => Err(ConfigError::at(file, v, key, msg)),
    }
}

fn number<T: Copy + PartialOrd + fmt::Display>(
    file: &Path,
    value: &Option<Spanned<T>>,
    key: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if range.contains(&v.value) => Ok(v.value),
        Some(v) => Err(ConfigError::at(
            file,
            v,
            key,
            format!("must be between {} and {}", range.start(), range.end()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    const SECRET: &str = "0123456789abcdef-secret";

    fn parse(yaml: &str) -> Result<WebhookSettings, ConfigError> {
        parse_env(yaml, |_| None)
    }

    fn parse_env(
        yaml: &str,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<WebhookSettings, ConfigError> {
        let file = Path::new("gateway.yaml");
        crate::config::parse::<WebhookConfig>(file, yaml)?.validate_with_env(file, env)
    }

    #[test]
    fn defaults() {
        let s = parse("{}").unwrap();
        assert_eq!(s, WebhookSettings::default());
        assert_eq!(s.check(), Ok(()));
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.max_attempts, 8);
        assert_eq!(s.concurrency, 64);
        assert_eq!(s.queue_capacity, 100_000);
        assert!(s.secret.is_none() && s.batch.is_none());
    }

    #[test]
    fn every_key() {
        let s = parse(&format!(
            "secret: {SECRET}\ntimeout: 250ms\nmax_attempts: 3\n\
             backoff: {{ initial: 100ms, max: 2m, jitter: 0.2 }}\nconcurrency: 8\n\
             per_host_concurrency: 4\n\
             queue_capacity: 1000\nvoice_url: https://voice.example.com/calls\n\
             batch: {{ max: 50, linger: 5ms }}\nshutdown_grace: 30s\n"
        ))
        .unwrap();
        assert_eq!(s.secret.as_deref(), Some(SECRET.as_bytes()));
        assert_eq!(s.timeout, Duration::from_millis(250));
        assert_eq!(s.max_attempts, 3);
        assert_eq!(s.backoff_initial, Duration::from_millis(100));
        assert_eq!(s.backoff_max, Duration::from_secs(120));
        assert_eq!(s.backoff_jitter, 0.2);
        assert_eq!(s.concurrency, 8);
        assert_eq!(s.per_host_concurrency, 4);
        assert_eq!(s.queue_capacity, 1000);
        assert_eq!(
            s.voice_url.as_deref(),
            Some("https://voice.example.com/calls")
        );
        assert_eq!(
            s.batch,
            Some(BatchSettings {
                max: 50,
                linger: Duration::from_millis(5)
            })
        );
        assert_eq!(s.shutdown_grace, Duration::from_secs(30));
        assert_eq!(s.check(), Ok(()));
        // An empty batch section turns batching on with its defaults.
        let s = parse("batch: {}\n").unwrap();
        assert_eq!(s.batch, Some(BatchSettings::default()));
        // Debug never shows the secret.
        let s = parse(&format!("secret: {SECRET}\n")).unwrap();
        assert!(!format!("{s:?}").contains(SECRET));
    }

    #[test]
    fn secret_from_the_environment() {
        let env = |name: &str| (name == "HOOK_KEY").then(|| OsString::from(SECRET));
        let s = parse_env("secret_env: HOOK_KEY\n", env).unwrap();
        assert_eq!(s.secret.as_deref(), Some(SECRET.as_bytes()));
        let e = parse_env("timeout: 1s\nsecret_env: NOPE\n", env).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("webhooks.secret_env"))
        );
        assert!(e.message.contains("NOPE"), "{e}");
        let e = parse_env("secret_env: HOOK_KEY\n", |_| Some(OsString::new())).unwrap_err();
        assert!(e.message.contains("empty"), "{e}");
    }

    #[test]
    fn secret_refusals() {
        let e = parse(&format!("secret: {SECRET}\nsecret_env: HOOK_KEY\n")).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("webhooks.secret_env"))
        );
        assert!(e.message.contains("not both"), "{e}");
        let e = parse("secret: \"\"\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(1), Some("webhooks.secret"))
        );
        let e = parse("secret: changeme\n").unwrap_err();
        assert!(e.message.contains("shorter"), "{e}");
        let e = parse("secret_env: \"\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("webhooks.secret_env"));
    }

    #[test]
    fn errors_name_line_and_key() {
        for (yaml, line, key) in [
            ("timeout: 0s\n", 1, "webhooks.timeout"),
            ("timeout: 10m\n", 1, "webhooks.timeout"),
            ("max_attempts: 0\n", 1, "webhooks.max_attempts"),
            (
                "backoff:\n  initial: 10s\n  max: 1s\n",
                3,
                "webhooks.backoff.max",
            ),
            ("backoff:\n  initial: 0ms\n", 2, "webhooks.backoff.initial"),
            ("backoff:\n  jitter: 1.5\n", 2, "webhooks.backoff.jitter"),
            ("concurrency: 0\n", 1, "webhooks.concurrency"),
            (
                "per_host_concurrency: 0\n",
                1,
                "webhooks.per_host_concurrency",
            ),
            ("queue_capacity: 0\n", 1, "webhooks.queue_capacity"),
            ("voice_url: ftp://x.example\n", 1, "webhooks.voice_url"),
            ("voice_url: not a url\n", 1, "webhooks.voice_url"),
            ("batch:\n  max: 0\n", 2, "webhooks.batch.max"),
            ("batch:\n  linger: 1m\n", 2, "webhooks.batch.linger"),
            ("shutdown_grace: 1h\n", 1, "webhooks.shutdown_grace"),
        ] {
            let e = parse(yaml).unwrap_err();
            assert_eq!(
                (e.line, e.key.as_deref()),
                (Some(line), Some(key)),
                "{yaml}: {e}"
            );
        }
        // Initial above the default max raises the max rather than failing.
        let s = parse("backoff: { initial: 10m }\n").unwrap();
        assert_eq!(s.backoff_max, Duration::from_secs(600));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_by_the_parser() {
        let e = parse("timeout: 1s\nretries: 3\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("retries"), "{e}");
        let e = parse("backoff:\n  initial: 1s\n  factor: 2\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("timeout: 5\n").unwrap_err();
        assert!(e.message.contains("no unit"), "{e}");
        let e = parse("concurrency: -1\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
    }

    #[test]
    fn check_mirrors_the_config_bounds() {
        let ok = WebhookSettings::default();
        for bad in [
            WebhookSettings {
                secret: Some(Vec::new()),
                ..ok.clone()
            },
            WebhookSettings {
                concurrency: 0,
                ..ok.clone()
            },
            WebhookSettings {
                max_attempts: 0,
                ..ok.clone()
            },
            WebhookSettings {
                backoff_initial: Duration::from_secs(600),
                ..ok.clone()
            },
            WebhookSettings {
                voice_url: Some("mailto:x@example.com".into()),
                ..ok.clone()
            },
            WebhookSettings {
                batch: Some(BatchSettings {
                    max: 0,
                    linger: Duration::from_millis(1),
                }),
                ..ok.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
