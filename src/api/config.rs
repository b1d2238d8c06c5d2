//! The `api:` and `clients:` sections of gateway.yaml (every key documented in docs/api.md),
//! and the plain settings the API runs on.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::config::{ConfigError, Spanned};
use crate::routes::{ByClass, MessageClass};

/// Longest validity accepted: SMSCs commonly cap validity_period at 72 hours, and an OTP is
/// worthless long before.
pub const MAX_VALIDITY: Duration = Duration::from_secs(72 * 3600);

/// Upper bound for `max_batch`: above this a single request holds the writer and the JSON
/// parser for too long.
const MAX_MAX_BATCH: usize = 10_000;

/// `api:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address to listen on, e.g. `0.0.0.0:8080`.
    pub listen: Spanned<String>,
    /// ISO 3166 alpha-2 country in which numbers without `+` are read; absent: such numbers
    /// are refused.
    #[serde(default)]
    pub default_region: Option<Spanned<String>>,
    /// Most messages in one `POST /v1/messages/batch`.
    #[serde(default = "default_max_batch")]
    pub max_batch: Spanned<usize>,
    /// Largest request body, as bytes or with a unit (`1MiB`, `512KiB`).
    #[serde(default = "default_body_limit")]
    pub body_limit: Spanned<ByteSize>,
    /// Most segments one message may take.
    #[serde(default = "default_max_segments")]
    pub max_segments: Spanned<u16>,
    /// Validity used when a request gives none, per class, and the longest accepted.
    #[serde(default)]
    pub validity: ValidityConfig,
}

/// `api.validity:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidityConfig {
    #[serde(default)]
    pub otp: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    pub transactional: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    pub marketing: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    pub max: Option<Spanned<HumanDuration>>,
}

/// One entry of `clients:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Unique name; owns the messages sent with its key.
    pub name: Spanned<String>,
    /// SHA-256 of the API key, 64 hex digits (`gannet::api::hash_api_key`). The key itself
    /// is never written to the config.
    pub key_sha256: Spanned<String>,
    #[serde(default)]
    pub rate: RateConfig,
    /// May call the operator endpoints (route reload).
    #[serde(default)]
    pub admin: bool,
}

/// `clients[].rate:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Sustained requests per second.
    #[serde(default = "default_per_second")]
    pub per_second: Spanned<f64>,
    /// Requests that may arrive at once after a quiet period.
    #[serde(default = "default_burst")]
    pub burst: Spanned<u32>,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            per_second: default_per_second(),
            burst: default_burst(),
        }
    }
}

/// A duration written with its unit (`5m`, `24h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::config::duration::deserialize(d).map(HumanDuration)
    }
}

/// A size in bytes: a plain integer or `64KiB`, `1MiB`, `1MB`, `512B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("size `{s}` does not start with a number"))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "KiB" => 1024,
            "MB" => 1000 * 1000,
            "MiB" => 1024 * 1024,
            other => return Err(format!("size `{s}` has an unknown unit `{other}`")),
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("size `{s}` is out of range"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes, or with a unit such as 1MiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// What the API runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    pub default_region: Option<String>,
    pub max_batch: usize,
    pub body_limit: usize,
    pub max_segments: u16,
    /// Validity when the request gives none.
    pub default_validity: ByClass<Duration>,
    pub max_validity: Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            default_region: None,
            max_batch: 1000,
            body_limit: 1024 * 1024,
            max_segments: 10,
            default_validity: ByClass([
                // otp: a code older than this is rarely typed in any more.
                Duration::from_secs(10 * 60),
                Duration::from_secs(24 * 3600),
                Duration::from_secs(72 * 3600),
            ]),
            max_validity: MAX_VALIDITY,
        }
    }
}

/// A client's request rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

/// A client as the API checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    pub name: String,
    pub key_sha256: [u8; 32],
    pub rate: Rate,
    pub admin: bool,
}

impl ClientSettings {
    /// A client holding `api_key` (hashed here; only the hash is kept), not an admin.
    pub fn with_key(name: &str, api_key: &str, rate: Rate) -> ClientSettings {
        use sha2::{Digest, Sha256};
        ClientSettings {
            name: name.to_owned(),
            key_sha256: Sha256::digest(api_key.as_bytes()).into(),
            rate,
            admin: false,
        }
    }
}

fn spanned<T>(value: T) -> Spanned<T> {
    let at = serde_saphyr::Location::UNKNOWN;
    Spanned::new(value, at, at)
}

fn default_max_batch() -> Spanned<usize> {
    spanned(ApiSettings::default().max_batch)
}

fn default_body_limit() -> Spanned<ByteSize> {
    spanned(ByteSize(ApiSettings::default().body_limit as u64))
}

fn default_max_segments() -> Spanned<u16> {
    spanned(ApiSettings::default().max_segments)
}

fn default_per_second() -> Spanned<f64> {
    spanned(50.0)
}

fn default_burst() -> Spanned<u32> {
    spanned(100)
}

impl ApiConfig {
    /// Checks every value; returns the listen address and the settings.
    pub fn validate(&self, file: &Path) -> Result<(SocketAddr, ApiSettings), ConfigError> {
        let listen: SocketAddr = self.listen.value.parse().map_err(|_| {
            ConfigError::at(
                file,
                &self.listen,
                "api.listen",
                format!(
                    "`{}` is not an address with a port, e.g. 0.0.0.0:8080",
                    self.listen.value
                ),
            )
        })?;
        let default_region = match &self.default_region {
            None => None,
            Some(r) => {
                // The number module reports an unknown default country even for an
                // international number, so one parse validates the code.
                if let Err(e @ crate::number::NumberError::UnknownCountry { .. }) =
                    crate::number::parse("+447700900123", Some(&r.value))
                {
                    return Err(ConfigError::at(
                        file,
                        r,
                        "api.default_region",
                        e.to_string(),
                    ));
                }
                Some(r.value.to_ascii_uppercase())
            }
        };
        let max_batch = self.max_batch.value;
        if !(1..=MAX_MAX_BATCH).contains(&max_batch) {
            return Err(ConfigError::at(
                file,
                &self.max_batch,
                "api.max_batch",
                format!("must be between 1 and {MAX_MAX_BATCH}"),
            ));
        }
        let body_limit = usize::try_from(self.body_limit.value.0)
            .ok()
            .filter(|&b| (1024..=64 * 1024 * 1024).contains(&b))
            .ok_or_else(|| {
                ConfigError::at(
                    file,
                    &self.body_limit,
                    "api.body_limit",
                    "must be between 1KiB and 64MiB",
                )
            })?;
        let max_segments = self.max_segments.value;
        if !(1..=255).contains(&max_segments) {
            return Err(ConfigError::at(
                file,
                &self.max_segments,
                "api.max_segments",
                "must be between 1 and 255 (the concatenation header counts parts in one octet)",
            ));
        }
        let defaults = ApiSettings::default();
        let max_validity = match &self.validity.max {
            None => defaults.max_validity,
            Some(v) => {
                if v.value.0.is_zero() || v.value.0 > MAX_VALIDITY {
                    return Err(ConfigError::at(
                        file,
                        v,
                        "api.validity.max",
                        "must be more than 0 and at most 72h",
                    ));
                }
                v.value.0
            }
        };
        let mut default_validity = defaults.default_validity;
        for (class, v) in [
            (MessageClass::Otp, &self.validity.otp),
            (MessageClass::Transactional, &self.validity.transactional),
            (MessageClass::Marketing, &self.validity.marketing),
        ] {
            if let Some(v) = v {
                if v.value.0.is_zero() || v.value.0 > max_validity {
                    return Err(ConfigError::at(
                        file,
                        v,
                        format!("api.validity.{class}"),
                        "must be more than 0 and at most api.validity.max",
                    ));
                }
                default_validity[class] = v.value.0;
            } else {
                default_validity[class] = default_validity[class].min(max_validity);
            }
        }
        Ok((
            listen,
            ApiSettings {
                default_region,
                max_batch,
                body_limit,
                max_segments,
                default_validity,
                max_validity,
            },
        ))
    }
}

/// Checks the `clients:` list: names and keys unique, hashes well formed, rates positive.
pub fn validate_clients(
    file: &Path,
    clients: &[ClientConfig],
) -> Result<Vec<ClientSettings>, ConfigError> {
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    let mut out = Vec::with_capacity(clients.len());
    for (i, c) in clients.iter().enumerate() {
        let key = |k: &str| format!("clients[{i}].{k}");
        let name = c.name.value.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(ConfigError::at(
                file,
                &c.name,
                key("name"),
                "must be 1 to 64 characters of letters, digits, `-`, `_` or `.`",
            ));
        }
        if !names.insert(name.to_owned()) {
            return Err(ConfigError::at(
                file,
                &c.name,
                key("name"),
                format!("client `{name}` is defined twice"),
            ));
        }
        let hash = parse_sha256_hex(&c.key_sha256.value).ok_or_else(|| {
            ConfigError::at(
                file,
                &c.key_sha256,
                key("key_sha256"),
                "must be the SHA-256 of the key as 64 hex digits \
                 (`printf %s \"$KEY\" | sha256sum`), never the key itself",
            )
        })?;
        if !keys.insert(hash) {
            return Err(ConfigError::at(
                file,
                &c.key_sha256,
                key("key_sha256"),
                "another client has the same key",
            ));
        }
        let per_second = c.rate.per_second.value;
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(ConfigError::at(
                file,
                &c.rate.per_second,
                key("rate.per_second"),
                "must be a positive number",
            ));
        }
        if c.rate.burst.value == 0 {
            return Err(ConfigError::at(
                file,
                &c.rate.burst,
                key("rate.burst"),
                "must be at least 1",
            ));
        }
        out.push(ClientSettings {
            name: name.to_owned(),
            key_sha256: hash,
            rate: Rate {
                per_second,
                burst: c.rate.burst.value,
            },
            admin: c.admin,
        });
    }
    Ok(out)
}

fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim().as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi << 4 | lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(yaml: &str) -> Result<(SocketAddr, ApiSettings), ConfigError> {
        let file = Path::new("gateway.yaml");
        crate::config::parse::<ApiConfig>(file, yaml)?.validate(file)
    }

    fn clients(yaml: &str) -> Result<Vec<ClientSettings>, ConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct F {
            clients: Vec<ClientConfig>,
        }
        let file = Path::new("gateway.yaml");
        validate_clients(file, &crate::config::parse::<F>(file, yaml)?.clients)
    }

    #[test]
    fn api_defaults_and_units() {
        let (addr, s) =
            api("listen: 127.0.0.1:8080\ndefault_region: in\nbody_limit: 2MiB\n").unwrap();
        assert_eq!(addr.port(), 8080);
        assert_eq!(s.default_region.as_deref(), Some("IN"));
        assert_eq!(s.body_limit, 2 * 1024 * 1024);
        assert_eq!(s.max_batch, 1000);
        assert_eq!(
            s.default_validity[MessageClass::Otp],
            Duration::from_secs(600)
        );
        let (_, s) =
            api("listen: 127.0.0.1:1\nbody_limit: 65536\nvalidity: { otp: 5m, max: 1h }\n")
                .unwrap();
        assert_eq!(s.body_limit, 65536);
        assert_eq!(
            s.default_validity[MessageClass::Otp],
            Duration::from_secs(300)
        );
        // Defaults above the configured maximum are brought down to it.
        assert_eq!(
            s.default_validity[MessageClass::Marketing],
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn api_errors_name_line_and_key() {
        let e = api("listen: 127.0.0.1:8080\ndefault_region: XX\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("api.default_region"))
        );
        let e = api("listen: localhost\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(1), Some("api.listen")));
        let e = api("listen: 127.0.0.1:1\nmax_segments: 300\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("api.max_segments"))
        );
        let e = api("listen: 127.0.0.1:1\nvalidity:\n  otp: 4d\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(3), Some("api.validity.otp"))
        );
        let e = api("listen: 127.0.0.1:1\nbody_limit: 3 parsecs\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = api("listen: 127.0.0.1:1\nmax_bach: 3\n").unwrap_err();
        assert!(e.message.contains("max_bach"), "{e}");
    }

    #[test]
    fn clients_are_checked() {
        let h = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let ok = clients(&format!(
            "clients:\n  - name: shop\n    key_sha256: {h}\n    rate: {{ per_second: 5, burst: 10 }}\n"
        ))
        .unwrap();
        assert_eq!(ok[0].name, "shop");
        assert_eq!(ok[0].key_sha256[0], 0x9f);
        assert_eq!(
            ok[0].rate,
            Rate {
                per_second: 5.0,
                burst: 10
            }
        );

        let e = clients("clients:\n  - name: shop\n    key_sha256: secret-key\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(3), Some("clients[0].key_sha256"))
        );
        let e = clients(&format!(
            "clients:\n  - {{ name: a, key_sha256: {h} }}\n  - {{ name: a, key_sha256: {h} }}\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(3), Some("clients[1].name"))
        );
        let e = clients(&format!(
            "clients:\n  - {{ name: a, key_sha256: {h} }}\n  - {{ name: b, key_sha256: {h} }}\n"
        ))
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("clients[1].key_sha256"));
        let e = clients(&format!(
            "clients:\n  - name: a\n    key_sha256: {h}\n    rate:\n      burst: 0\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(5), Some("clients[0].rate.burst"))
        );
    }
}
