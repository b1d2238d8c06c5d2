//! The `store:` section of gateway.yaml (documented in docs/api.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, Spanned};

/// Most items (messages and state writes) one commit may hold. Past a few thousand the
/// fsync no longer dominates, and a huge batch only delays the callers at its front.
const MAX_MAX_BATCH: usize = 100_000;

/// Waiting longer than this for a batch to fill would add latency to every OTP for no
/// measurable gain: the fsync itself is the natural batching window.
const MAX_MAX_DELAY: Duration = Duration::from_millis(50);

/// `store:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory of the embedded engine; created if absent.
    pub path: Spanned<PathBuf>,
    /// Most items per commit.
    #[serde(default = "default_max_batch")]
    pub max_batch: Spanned<usize>,
    /// How long the writer may wait for more work before committing a batch that is not
    /// full. `0ms` (the default): commit as soon as the queue is empty.
    #[serde(default = "default_max_delay")]
    pub max_delay: Spanned<HumanDuration>,
}

/// A duration written as `250ms`, `2s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::config::duration::deserialize(d).map(HumanDuration)
    }
}

/// What [`Store::open_with`](super::Store::open_with) runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    pub max_batch: usize,
    pub max_delay: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 1024,
            max_delay: Duration::ZERO,
        }
    }
}

fn spanned<T>(value: T) -> Spanned<T> {
    let at = serde_saphyr::Location::UNKNOWN;
    Spanned::new(value, at, at)
}

fn default_max_batch() -> Spanned<usize> {
    spanned(StoreOptions::default().max_batch)
}

fn default_max_delay() -> Spanned<HumanDuration> {
    spanned(HumanDuration(StoreOptions::default().max_delay))
}

impl StoreConfig {
    /// Checks the values; `file` names the config file in errors.
    pub fn validate(&self, file: &Path) -> Result<StoreOptions, ConfigError> {
        if self.path.value.as_os_str().is_empty() {
            return Err(ConfigError::at(
                file,
                &self.path,
                "store.path",
                "must not be empty",
            ));
        }
        let max_batch = self.max_batch.value;
        if !(1..=MAX_MAX_BATCH).contains(&max_batch) {
            return Err(ConfigError::at(
                file,
                &self.max_batch,
                "store.max_batch",
                format!("must be between 1 and {MAX_MAX_BATCH}, not {max_batch}"),
            ));
        }
        let max_delay = self.max_delay.value.0;
        if max_delay > MAX_MAX_DELAY {
            return Err(ConfigError::at(
                file,
                &self.max_delay,
                "store.max_delay",
                format!(
                    "must be at most {}ms: a longer wait delays every message",
                    MAX_MAX_DELAY.as_millis()
                ),
            ));
        }
        Ok(StoreOptions {
            max_batch,
            max_delay,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<StoreOptions, ConfigError> {
        let file = Path::new("gateway.yaml");
        crate::config::parse::<StoreConfig>(file, yaml)?.validate(file)
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            parse("path: /var/lib/gannet\n"),
            Ok(StoreOptions::default())
        );
        assert_eq!(
            parse("path: x\nmax_batch: 200\nmax_delay: 2ms\n"),
            Ok(StoreOptions {
                max_batch: 200,
                max_delay: Duration::from_millis(2)
            })
        );
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = parse("path: x\nmax_batch: 0\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.key.as_deref(), Some("store.max_batch"));
        let e = parse("path: x\nmax_delay: 1s\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("at most 50ms"), "{e}");
        let e = parse("path: x\nmax_dela: 1ms\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("max_dela"), "{e}");
    }
}
