//! The `carriers:` section of gateway.yaml: one entry per SMSC account, documented key by key
//! in docs/carrier.md.
//!
//! [`CarrierConfig`] is what the YAML says (every key that can be wrong is [`Spanned`], so a
//! validation error names the file, line and key); [`CarrierConfig::validate`] turns it into
//! [`CarrierSettings`], the plain values the pool runs on. Nothing falls back to a default
//! when a value is wrong; defaults apply only to keys that are absent.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gannet_smpp::session::{BindType, MAX_WINDOW};
use gannet_smpp::{Address, CommandStatus};
use serde::{Deserialize, Deserializer};

use crate::carrier::backoff::BackoffConfig;
use crate::carrier::status::{StatusClass, StatusTable, parse_status};
use crate::carrier::tls::{TlsSettings, TlsSetupError};
use crate::config::{ConfigError, Spanned};

/// The carriers section as a file of its own (`carriers: [...]`), for tools and tests; the
/// gateway config embeds `Vec<CarrierConfig>` under the same key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarriersFile {
    pub carriers: Vec<CarrierConfig>,
}

/// One carrier account, as written in YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierConfig {
    /// Unique name, used in routes, metrics and logs.
    pub name: Spanned<String>,
    pub host: Spanned<String>,
    pub port: Spanned<u16>,
    /// SMPP over TLS, the carrier's certificate always verified.
    #[serde(default = "default_false")]
    pub tls: Spanned<bool>,
    /// PEM bundle of the CA certificates to trust for this carrier, instead of the public
    /// roots; relative to the config file.
    #[serde(default)]
    pub tls_ca_file: Option<Spanned<PathBuf>>,
    /// The name to send in SNI and check the certificate against, when it is not `host`
    /// (typically: `host` is an IP address and the certificate names a DNS name).
    #[serde(default)]
    pub tls_server_name: Option<Spanned<String>>,
    pub system_id: Spanned<String>,
    pub password: Spanned<Secret>,
    #[serde(default = "default_empty")]
    pub system_type: Spanned<String>,
    #[serde(default)]
    pub bind_type: BindMode,
    /// Sessions (sockets) to keep open; for `tx_rx`, half transmitters and half receivers.
    #[serde(default = "default_binds")]
    pub binds: Spanned<u16>,
    /// Most unacknowledged submits per bind.
    #[serde(default = "default_window")]
    pub window: Spanned<u32>,
    /// Contract rate in segments per second across all binds; absent: no contract.
    #[serde(default)]
    pub tps: Option<Spanned<u32>>,
    #[serde(default = "default_enquire_interval")]
    pub enquire_link_interval: Spanned<HumanDuration>,
    #[serde(default = "default_enquire_timeout")]
    pub enquire_link_timeout: Spanned<HumanDuration>,
    #[serde(default = "default_response_timeout")]
    pub response_timeout: Spanned<HumanDuration>,
    #[serde(default)]
    pub reconnect: ReconnectConfig,
    #[serde(default)]
    pub source_ton: Option<Spanned<u8>>,
    #[serde(default)]
    pub source_npi: Option<Spanned<u8>>,
    #[serde(default)]
    pub dest_ton: Option<Spanned<u8>>,
    #[serde(default)]
    pub dest_npi: Option<Spanned<u8>>,
    /// What data_coding 0 ("SMSC default alphabet", SMPP 3.4 §5.2.19) means here.
    #[serde(default)]
    pub default_alphabet: DefaultAlphabet,
    /// command_status → class, overriding the default table (keys: `0x…`, decimal, or
    /// `ESME_R…`).
    #[serde(default)]
    pub status_overrides: HashMap<Spanned<String>, StatusClass>,
    #[serde(default)]
    pub retry: RetryConfig,
    /// Segments waiting for a bind, per carrier; a full queue refuses submits.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: Spanned<u32>,
    /// On shutdown, how long to wait for in-flight responses before unbinding.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: Spanned<HumanDuration>,
}

/// `reconnect:` of a carrier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectConfig {
    #[serde(default = "default_reconnect_initial")]
    pub initial: Spanned<HumanDuration>,
    #[serde(default = "default_reconnect_max")]
    pub max: Spanned<HumanDuration>,
    /// 0..=1: the random fraction of each delay.
    #[serde(default = "default_jitter")]
    pub jitter: Spanned<f64>,
    /// Least delay after a bind refused with ESME_RALYBND (the SMSC still holds our previous
    /// session and needs time to drop it).
    #[serde(default = "default_already_bound")]
    pub already_bound: Spanned<HumanDuration>,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig {
            initial: default_reconnect_initial(),
            max: default_reconnect_max(),
            jitter: default_jitter(),
            already_bound: default_already_bound(),
        }
    }
}

/// `retry:` of a carrier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Resends after temporary errors, per segment.
    #[serde(default = "default_max_temporary")]
    pub max_temporary: Spanned<u32>,
    /// Resends after throttled / queue-full answers, per segment.
    #[serde(default = "default_max_throttled")]
    pub max_throttled: Spanned<u32>,
    #[serde(default = "default_retry_initial")]
    pub backoff_initial: Spanned<HumanDuration>,
    #[serde(default = "default_retry_max")]
    pub backoff_max: Spanned<HumanDuration>,
    /// May a submit that got no response be sent again (when the job allows it too)? A resend
    /// may deliver the message twice.
    #[serde(default = "default_false")]
    pub resend_ambiguous: Spanned<bool>,
    /// Resends of ambiguous submits, per segment, when allowed.
    #[serde(default = "default_max_ambiguous")]
    pub max_ambiguous: Spanned<u32>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_temporary: default_max_temporary(),
            max_throttled: default_max_throttled(),
            backoff_initial: default_retry_initial(),
            backoff_max: default_retry_max(),
            resend_ambiguous: default_false(),
            max_ambiguous: default_max_ambiguous(),
        }
    }
}

/// How the carrier's sessions bind (SMPP 3.4 §4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    Transmitter,
    Receiver,
    #[default]
    Transceiver,
    /// Pairs: a transmitter for submits and a receiver for receipts and MO.
    TxRx,
}

impl BindMode {
    /// The bind type of session number `index` (0-based) out of `binds`.
    pub fn bind_type(self, index: u16, binds: u16) -> BindType {
        match self {
            BindMode::Transmitter => BindType::Transmitter,
            BindMode::Receiver => BindType::Receiver,
            BindMode::Transceiver => BindType::Transceiver,
            BindMode::TxRx if index < binds / 2 => BindType::Transmitter,
            BindMode::TxRx => BindType::Receiver,
        }
    }
}

/// What data_coding 0x00 means at this carrier (SMPP 3.4 §5.2.19 leaves it to the SMSC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAlphabet {
    /// GSM 03.38, one septet per octet (the usual SMPP reading).
    #[default]
    Gsm7,
    /// GSM 03.38 packed eight septets into seven octets.
    Gsm7Packed,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / ASCII.
    Ascii,
}

/// A password: shown as `***` in Debug output and logs.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A duration written with its unit (`250ms`, `30s`, `5m`), see [`crate::config::duration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::config::duration::deserialize(d).map(HumanDuration)
    }
}

fn spanned<T>(value: T) -> Spanned<T> {
    let at = serde_saphyr::Location::UNKNOWN;
    Spanned::new(value, at, at)
}
fn default_false() -> Spanned<bool> {
    spanned(false)
}
fn default_empty() -> Spanned<String> {
    spanned(String::new())
}
fn default_binds() -> Spanned<u16> {
    spanned(1)
}
fn default_window() -> Spanned<u32> {
    spanned(DEFAULT_WINDOW)
}
fn default_enquire_interval() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(30)))
}
fn default_enquire_timeout() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(10)))
}
fn default_response_timeout() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(10)))
}
fn default_reconnect_initial() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(1)))
}
fn default_reconnect_max() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(60)))
}
fn default_jitter() -> Spanned<f64> {
    spanned(0.5)
}
fn default_already_bound() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(30)))
}
fn default_max_temporary() -> Spanned<u32> {
    spanned(3)
}
fn default_max_throttled() -> Spanned<u32> {
    spanned(50)
}
fn default_retry_initial() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(1)))
}
fn default_retry_max() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(30)))
}
fn default_max_ambiguous() -> Spanned<u32> {
    spanned(1)
}
fn default_queue_capacity() -> Spanned<u32> {
    spanned(10_000)
}
fn default_shutdown_grace() -> Spanned<HumanDuration> {
    spanned(HumanDuration(Duration::from_secs(5)))
}

const DEFAULT_WINDOW: u32 = 10;

/// How a segment is retried at one carrier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_temporary: u32,
    pub max_throttled: u32,
    /// Backoff between temporary-error retries (no jitter needed: one message).
    pub backoff: BackoffConfig,
    pub resend_ambiguous: bool,
    pub max_ambiguous: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_temporary: 3,
            max_throttled: 50,
            backoff: BackoffConfig {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(30),
                jitter: 0.2,
            },
            resend_ambiguous: false,
            max_ambiguous: 1,
        }
    }
}

/// TON / NPI for the addresses of submits (SMPP 3.4 §5.2.5, §5.2.6): fixed by config, or
/// detected from the address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub source_ton: Option<u8>,
    pub source_npi: Option<u8>,
    pub dest_ton: Option<u8>,
    pub dest_npi: Option<u8>,
}

/// Longest all-digit sender taken for a short code rather than a full number.
pub const SHORT_CODE_MAX_DIGITS: usize = 8;

impl AddressPolicy {
    /// The source address for a sender id:
    /// - `+` and digits, or more than [`SHORT_CODE_MAX_DIGITS`] digits: international,
    ///   TON 1 NPI 1 (E.164), without the `+`;
    /// - up to [`SHORT_CODE_MAX_DIGITS`] digits: a short code, TON 3 (network specific) NPI 0;
    /// - anything else: alphanumeric, TON 5 NPI 0 (GSM 03.40 §9.1.2.5).
    ///
    /// Configured `source_ton` / `source_npi` override the detection.
    pub fn source(&self, sender: &str) -> Address {
        let (ton, npi, addr) = detect_source(sender);
        Address::new(
            self.source_ton.unwrap_or(ton),
            self.source_npi.unwrap_or(npi),
            addr,
        )
    }

    /// The destination address for a number, normally E.164 from the number module:
    /// TON 1 NPI 1 without the `+`; a non-numeric destination gets TON 0 NPI 0 and is sent as
    /// is. Configured `dest_ton` / `dest_npi` override.
    pub fn destination(&self, number: &str) -> Address {
        let digits = number.strip_prefix('+').unwrap_or(number);
        let (ton, npi) = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            (1, 1)
        } else {
            (0, 0)
        };
        Address::new(
            self.dest_ton.unwrap_or(ton),
            self.dest_npi.unwrap_or(npi),
            Bytes::copy_from_slice(digits.as_bytes()),
        )
    }
}

fn detect_source(sender: &str) -> (u8, u8, Bytes) {
    let (plus, digits) = match sender.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, sender),
    };
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if numeric && (plus || digits.len() > SHORT_CODE_MAX_DIGITS) {
        (1, 1, Bytes::copy_from_slice(digits.as_bytes()))
    } else if numeric {
        (3, 0, Bytes::copy_from_slice(digits.as_bytes()))
    } else {
        (5, 0, Bytes::copy_from_slice(sender.as_bytes()))
    }
}

/// A validated carrier: what the pool runs on.
#[derive(Clone, Debug)]
pub struct CarrierSettings {
    pub name: Arc<str>,
    pub host: String,
    pub port: u16,
    pub system_id: Bytes,
    pub password: Bytes,
    pub system_type: Bytes,
    pub bind_mode: BindMode,
    pub binds: u16,
    pub window: u32,
    pub tps: Option<u32>,
    pub enquire_link_interval: Duration,
    pub enquire_link_timeout: Duration,
    pub response_timeout: Duration,
    pub reconnect: BackoffConfig,
    pub already_bound_delay: Duration,
    pub addresses: AddressPolicy,
    pub default_alphabet: DefaultAlphabet,
    pub statuses: StatusTable,
    pub retry: RetryPolicy,
    pub queue_capacity: usize,
    pub shutdown_grace: Duration,
    /// SMPP over TLS; `None`: plain TCP.
    pub tls: Option<TlsSettings>,
}

impl CarrierSettings {
    /// Settings with every default of the YAML form: one transceiver bind, window 10, no TPS
    /// contract. For tests and programmatic setups; adjust the public fields.
    pub fn new(
        name: &str,
        host: impl Into<String>,
        port: u16,
        system_id: &str,
        password: &str,
    ) -> CarrierSettings {
        CarrierSettings {
            name: Arc::from(name),
            host: host.into(),
            port,
            system_id: Bytes::copy_from_slice(system_id.as_bytes()),
            password: Bytes::copy_from_slice(password.as_bytes()),
            system_type: Bytes::new(),
            bind_mode: BindMode::Transceiver,
            binds: 1,
            window: DEFAULT_WINDOW,
            tps: None,
            enquire_link_interval: Duration::from_secs(30),
            enquire_link_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(10),
            reconnect: BackoffConfig::default(),
            already_bound_delay: Duration::from_secs(30),
            addresses: AddressPolicy::default(),
            default_alphabet: DefaultAlphabet::Gsm7,
            statuses: StatusTable::default(),
            retry: RetryPolicy::default(),
            queue_capacity: 10_000,
            shutdown_grace: Duration::from_secs(5),
            tls: None,
        }
    }
}

// SMPP 3.4 §4.1.1: C-octet string maximums include the NUL.
const SYSTEM_ID_MAX: usize = 15;
const PASSWORD_MAX: usize = 8;
const SYSTEM_TYPE_MAX: usize = 12;
/// More binds than this is a typo, not a contract.
const MAX_BINDS: u16 = 256;

/// Validates every carrier of a config file and checks that names are unique.
pub fn validate_carriers(
    file: &Path,
    configs: &[CarrierConfig],
) -> Result<Vec<CarrierSettings>, ConfigError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(configs.len());
    for c in configs {
        if !seen.insert(c.name.value.as_str()) {
            return Err(ConfigError::at(
                file,
                &c.name,
                format!("carriers.{}.name", c.name.value),
                format!("carrier `{}` is defined twice", c.name.value),
            ));
        }
        out.push(c.validate(file)?);
    }
    Ok(out)
}

impl CarrierConfig {
    /// Checks every value and returns the settings, or the first error with its file, line
    /// and key (`carriers.<name>.<key>`).
    pub fn validate(&self, file: &Path) -> Result<CarrierSettings, ConfigError> {
        let name = self.name.value.trim();
        let key = |k: &str| format!("carriers.{name}.{k}");
        let err = |s: &dyn Located, k: &str, msg: String| s.error(file, key(k), msg);

        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(err(
                &self.name,
                "name",
                format!("`{name}` is not a carrier name (letters, digits, `-`, `_`, `.`)"),
            ));
        }
        if self.host.value.trim().is_empty() {
            return Err(err(&self.host, "host", "host is empty".into()));
        }
        if self.port.value == 0 {
            return Err(err(&self.port, "port", "port 0 is not a port".into()));
        }
        let tls = self.tls_settings(file)?;
        check_len(file, &self.system_id, key("system_id"), SYSTEM_ID_MAX)?;
        if self.system_id.value.is_empty() {
            return Err(err(
                &self.system_id,
                "system_id",
                "system_id is empty".into(),
            ));
        }
        let password = Spanned::new(
            self.password.value.0.clone(),
            self.password.referenced,
            self.password.defined,
        );
        check_len(file, &password, key("password"), PASSWORD_MAX)?;
        check_len(file, &self.system_type, key("system_type"), SYSTEM_TYPE_MAX)?;

        let binds = self.binds.value;
        if binds == 0 || binds > MAX_BINDS {
            return Err(err(
                &self.binds,
                "binds",
                format!("binds must be in 1..={MAX_BINDS}, not {binds}"),
            ));
        }
        if self.bind_type == BindMode::TxRx && !binds.is_multiple_of(2) {
            return Err(err(
                &self.binds,
                "binds",
                format!("bind_type tx_rx needs an even number of binds (pairs), not {binds}"),
            ));
        }
        let window = self.window.value;
        if window == 0 || window > MAX_WINDOW {
            return Err(err(
                &self.window,
                "window",
                format!("window must be in 1..={MAX_WINDOW}, not {window}"),
            ));
        }
        if let Some(tps) = &self.tps
            && tps.value == 0
        {
            return Err(err(
                tps,
                "tps",
                "tps 0 would never send; leave tps out for no contract".into(),
            ));
        }
        for (d, k) in [
            (&self.enquire_link_interval, "enquire_link_interval"),
            (&self.enquire_link_timeout, "enquire_link_timeout"),
            (&self.response_timeout, "response_timeout"),
            (&self.reconnect.initial, "reconnect.initial"),
            (&self.reconnect.max, "reconnect.max"),
            (&self.retry.backoff_initial, "retry.backoff_initial"),
            (&self.retry.backoff_max, "retry.backoff_max"),
        ] {
            if d.value.0.is_zero() {
                return Err(err(d, k, format!("{k} must be more than zero")));
            }
        }
        if self.reconnect.max.value.0 < self.reconnect.initial.value.0 {
            return Err(err(
                &self.reconnect.max,
                "reconnect.max",
                "reconnect.max is less than reconnect.initial".into(),
            ));
        }
        if self.retry.backoff_max.value.0 < self.retry.backoff_initial.value.0 {
            return Err(err(
                &self.retry.backoff_max,
                "retry.backoff_max",
                "retry.backoff_max is less than retry.backoff_initial".into(),
            ));
        }
        let jitter = self.reconnect.jitter.value;
        if !(0.0..=1.0).contains(&jitter) {
            return Err(err(
                &self.reconnect.jitter,
                "reconnect.jitter",
                format!("jitter must be in 0..=1, not {jitter}"),
            ));
        }
        // SMPP 3.4 §5.2.5 / §5.2.6: TON 0..=6; NPI up to 18 (ERMES).
        for (v, k, max) in [
            (&self.source_ton, "source_ton", 6u8),
            (&self.dest_ton, "dest_ton", 6),
            (&self.source_npi, "source_npi", 18),
            (&self.dest_npi, "dest_npi", 18),
        ] {
            if let Some(v) = v
                && v.value > max
            {
                return Err(err(
                    v,
                    k,
                    format!("{k} must be in 0..={max}, not {}", v.value),
                ));
            }
        }
        let mut overrides = Vec::with_capacity(self.status_overrides.len());
        for (code, &class) in &self.status_overrides {
            let status = parse_status(&code.value)
                .map_err(|m| err(code, &format!("status_overrides.{}", code.value), m))?;
            if status == CommandStatus::ESME_ROK && class != StatusClass::Ok {
                return Err(err(
                    code,
                    &format!("status_overrides.{}", code.value),
                    "ESME_ROK always means accepted".into(),
                ));
            }
            overrides.push((status, class));
        }
        if self.queue_capacity.value == 0 {
            return Err(err(
                &self.queue_capacity,
                "queue_capacity",
                "queue_capacity must be at least 1".into(),
            ));
        }

        Ok(CarrierSettings {
            name: Arc::from(name),
            host: self.host.value.trim().to_string(),
            port: self.port.value,
            system_id: Bytes::copy_from_slice(self.system_id.value.as_bytes()),
            password: Bytes::copy_from_slice(self.password.value.0.as_bytes()),
            system_type: Bytes::copy_from_slice(self.system_type.value.as_bytes()),
            bind_mode: self.bind_type,
            binds,
            window,
            tps: self.tps.as_ref().map(|t| t.value),
            enquire_link_interval: self.enquire_link_interval.value.0,
            enquire_link_timeout: self.enquire_link_timeout.value.0,
            response_timeout: self.response_timeout.value.0,
            reconnect: BackoffConfig {
                initial: self.reconnect.initial.value.0,
                max: self.reconnect.max.value.0,
                jitter,
            },
            already_bound_delay: self.reconnect.already_bound.value.0,
            addresses: AddressPolicy {
                source_ton: self.source_ton.as_ref().map(|v| v.value),
                source_npi: self.source_npi.as_ref().map(|v| v.value),
                dest_ton: self.dest_ton.as_ref().map(|v| v.value),
                dest_npi: self.dest_npi.as_ref().map(|v| v.value),
            },
            default_alphabet: self.default_alphabet,
            statuses: StatusTable::new(overrides),
            retry: RetryPolicy {
                max_temporary: self.retry.max_temporary.value,
                max_throttled: self.retry.max_throttled.value,
                backoff: BackoffConfig {
                    initial: self.retry.backoff_initial.value.0,
                    max: self.retry.backoff_max.value.0,
                    jitter: 0.2,
                },
                resend_ambiguous: self.retry.resend_ambiguous.value,
                max_ambiguous: self.retry.max_ambiguous.value,
            },
            queue_capacity: self.queue_capacity.value as usize,
            shutdown_grace: self.shutdown_grace.value.0,
            tls,
        })
    }

    /// `tls`, `tls_ca_file` and `tls_server_name` made into [`TlsSettings`]: the CA file read
    /// and parsed now (relative to `file`), so a bad one stops start-up, not the first bind.
    fn tls_settings(&self, file: &Path) -> Result<Option<TlsSettings>, ConfigError> {
        let name = self.name.value.trim();
        let key = |k: &str| format!("carriers.{name}.{k}");
        if !self.tls.value {
            if let Some(ca) = &self.tls_ca_file {
                return Err(ConfigError::at(
                    file,
                    ca,
                    key("tls_ca_file"),
                    "tls_ca_file needs tls: true",
                ));
            }
            if let Some(sn) = &self.tls_server_name {
                return Err(ConfigError::at(
                    file,
                    sn,
                    key("tls_server_name"),
                    "tls_server_name needs tls: true",
                ));
            }
            return Ok(None);
        }
        let (server_name, name_key, name_at) = match &self.tls_server_name {
            Some(sn) => (sn.value.trim(), "tls_server_name", sn),
            None => (self.host.value.trim(), "host", &self.host),
        };
        let named = |e: TlsSetupError| {
            let mut msg = format!("TLS: {e}");
            if name_key == "host" {
                msg.push_str("; set tls_server_name to the name in the carrier's certificate");
            }
            ConfigError::at(file, name_at, key(name_key), msg)
        };
        let settings = match &self.tls_ca_file {
            None => TlsSettings::public_roots(server_name).map_err(named)?,
            Some(ca) => {
                let path = file.parent().unwrap_or(Path::new("")).join(&ca.value);
                let at = |msg: String| ConfigError::at(file, ca, key("tls_ca_file"), msg);
                let pem = std::fs::read(&path)
                    .map_err(|e| at(format!("cannot read {}: {e}", path.display())))?;
                TlsSettings::with_ca_pem(server_name, &pem).map_err(|e| match e {
                    e @ TlsSetupError::ServerName(_) => named(e),
                    e => at(format!("{}: {e}", path.display())),
                })?
            }
        };
        Ok(Some(settings))
    }
}

/// Anything with a source position, for errors.
trait Located {
    fn error(&self, file: &Path, key: String, msg: String) -> ConfigError;
}

impl<T> Located for Spanned<T> {
    fn error(&self, file: &Path, key: String, msg: String) -> ConfigError {
        ConfigError::at(file, self, key, msg)
    }
}

fn check_len(file: &Path, v: &Spanned<String>, key: String, max: usize) -> Result<(), ConfigError> {
    let len = v.value.len();
    if len > max {
        return Err(ConfigError::at(
            file,
            v,
            key,
            format!("{len} octets, SMPP 3.4 §4.1.1 allows at most {max}"),
        ));
    }
    if !v.value.is_ascii() {
        return Err(ConfigError::at(file, v, key, "must be ASCII"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn parse(yaml: &str) -> Result<Vec<CarrierSettings>, ConfigError> {
        let file = Path::new("gateway.yaml");
        let f: CarriersFile = config::parse(file, yaml)?;
        validate_carriers(file, &f.carriers)
    }

    const FULL: &str = "\
carriers:
  - name: mno-a
    host: smsc.example.net
    port: 2775
    system_id: gannet
    password: s3cret
    system_type: OTP
    bind_type: tx_rx
    binds: 4
    window: 64
    tps: 200
    enquire_link_interval: 20s
    enquire_link_timeout: 5s
    response_timeout: 8s
    reconnect: { initial: 500ms, max: 2m, jitter: 0.3, already_bound: 45s }
    source_ton: 5
    dest_npi: 1
    default_alphabet: gsm7_packed
    status_overrides:
      \"0x00000045\": throttled
      ESME_RX_P_APPN: temporary
      1025: permanent
    retry: { max_temporary: 5, resend_ambiguous: true, backoff_initial: 2s }
    queue_capacity: 500
    shutdown_grace: 3s
  - name: agg-c
    host: 10.0.0.7
    port: 2776
    system_id: gw
    password: pw
";

    #[test]
    fn full_example_parses() {
        let cs = parse(FULL).unwrap();
        assert_eq!(cs.len(), 2);
        let a = &cs[0];
        assert_eq!(&*a.name, "mno-a");
        assert_eq!(a.bind_mode, BindMode::TxRx);
        assert_eq!(a.binds, 4);
        assert_eq!(a.bind_mode.bind_type(1, 4), BindType::Transmitter);
        assert_eq!(a.bind_mode.bind_type(2, 4), BindType::Receiver);
        assert_eq!(a.window, 64);
        assert_eq!(a.tps, Some(200));
        assert_eq!(a.enquire_link_interval, Duration::from_secs(20));
        assert_eq!(a.reconnect.initial, Duration::from_millis(500));
        assert_eq!(a.reconnect.max, Duration::from_secs(120));
        assert_eq!(a.already_bound_delay, Duration::from_secs(45));
        assert_eq!(a.default_alphabet, DefaultAlphabet::Gsm7Packed);
        assert_eq!(
            a.statuses.classify(CommandStatus::ESME_RSUBMITFAIL),
            StatusClass::Throttled
        );
        assert_eq!(
            a.statuses.classify(CommandStatus::ESME_RX_P_APPN),
            StatusClass::Temporary
        );
        assert_eq!(a.retry.max_temporary, 5);
        assert!(a.retry.resend_ambiguous);
        assert_eq!(a.retry.backoff.initial, Duration::from_secs(2));
        assert_eq!(a.queue_capacity, 500);
        assert_eq!(a.addresses.source_ton, Some(5));
        let b = &cs[1];
        assert_eq!(b.bind_mode, BindMode::Transceiver);
        assert_eq!((b.binds, b.window, b.tps), (1, 10, None));
        assert_eq!(b.response_timeout, Duration::from_secs(10));
        assert!(!b.retry.resend_ambiguous);
        assert!(!format!("{:?}", parse_raw(FULL)).contains("s3cret"));
    }

    fn parse_raw(yaml: &str) -> CarriersFile {
        config::parse(Path::new("gateway.yaml"), yaml).unwrap()
    }

    fn err(yaml: &str) -> String {
        parse(yaml).unwrap_err().to_string()
    }

    const BASE: &str =
        "carriers:\n  - name: a\n    host: h\n    port: 2775\n    system_id: s\n    password: p\n";

    #[test]
    fn errors_name_file_line_and_key() {
        let e = err(&format!("{BASE}    window: 0\n"));
        assert!(e.starts_with("gateway.yaml:7:"), "{e}");
        assert!(e.contains("carriers.a.window"), "{e}");

        let e = err(&format!("{BASE}    tls_ca_file: ca.pem\n"));
        assert!(
            e.starts_with("gateway.yaml:7:")
                && e.contains("carriers.a.tls_ca_file: tls_ca_file needs tls: true"),
            "{e}"
        );

        let e = err(&format!("{BASE}    tls_server_name: smsc\n"));
        assert!(e.contains("carriers.a.tls_server_name"), "{e}");

        let e = err(&format!(
            "{BASE}    tls: true\n    tls_ca_file: /nonexistent/ca.pem\n"
        ));
        assert!(
            e.starts_with("gateway.yaml:8:")
                && e.contains("carriers.a.tls_ca_file: cannot read /nonexistent/ca.pem"),
            "{e}"
        );

        let e = err(&format!(
            "{}    tls: true\n",
            BASE.replace("host: h", "host: smsc example")
        ));
        assert!(
            e.starts_with("gateway.yaml:3:")
                && e.contains("carriers.a.host")
                && e.contains("tls_server_name"),
            "{e}"
        );

        let e = err(&format!("{BASE}    bind_type: tx_rx\n    binds: 3\n"));
        assert!(
            e.starts_with("gateway.yaml:8:") && e.contains("even"),
            "{e}"
        );

        let e = err(&format!(
            "{BASE}    status_overrides: {{ \"0xZZ\": temporary }}\n"
        ));
        assert!(e.contains("status_overrides.0xZZ"), "{e}");

        let e = err(&format!(
            "{BASE}    status_overrides: {{ \"0x58\": sometimes }}\n"
        ));
        assert!(e.starts_with("gateway.yaml:7"), "{e}");

        let e = err(&format!(
            "{BASE}    reconnect: {{ initial: 10s, max: 1s }}\n"
        ));
        assert!(e.contains("carriers.a.reconnect.max"), "{e}");

        let e = err(&format!("{BASE}    reconnect: {{ jitter: 1.5 }}\n"));
        assert!(e.contains("jitter"), "{e}");

        let e = err(&format!("{BASE}    response_timeout: 10\n"));
        assert!(
            e.starts_with("gateway.yaml:7") && e.contains("no unit"),
            "{e}"
        );

        let e = err(&format!("{BASE}    windw: 4\n"));
        assert!(
            e.starts_with("gateway.yaml:7") && e.contains("windw"),
            "{e}"
        );

        let e = err(&BASE.replace("password: p", "password: toolongpassword"));
        assert!(
            e.contains("carriers.a.password") && e.contains("at most 8"),
            "{e}"
        );

        let e = err(&format!("{BASE}    tps: 0\n"));
        assert!(e.contains("carriers.a.tps"), "{e}");

        let e = err(&format!("{BASE}    source_ton: 9\n"));
        assert!(e.contains("source_ton"), "{e}");

        let e = err(&format!(
            "{BASE}  - name: a\n    host: h\n    port: 1\n    system_id: s\n    password: p\n"
        ));
        assert!(
            e.contains("defined twice") && e.starts_with("gateway.yaml:7"),
            "{e}"
        );

        let e = err("carriers:\n  - name: a\n    port: 1\n    system_id: s\n    password: p\n");
        assert!(e.contains("host"), "{e}");
    }

    #[test]
    fn tls_keys_make_verifying_settings() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["ca".into()]).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("bad.pem"),
            "-----BEGIN CERTIFICATE-----\n!!\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("key.pem"), ca.signing_key.serialize_pem()).unwrap();
        let file = dir.path().join("gateway.yaml");
        let parse = |extra: &str| {
            let f: CarriersFile = config::parse(&file, &format!("{BASE}{extra}"))?;
            validate_carriers(&file, &f.carriers)
        };

        let s = parse("    tls: true\n").unwrap();
        let tls = s[0].tls.as_ref().unwrap();
        assert!(tls.public(), "no CA file: the public roots");
        assert!(parse("").unwrap()[0].tls.is_none());

        let s = parse(
            "    tls: true\n    tls_ca_file: ca.pem\n    tls_server_name: smsc.example.net\n",
        )
        .unwrap();
        let tls = s[0].tls.as_ref().unwrap();
        assert!(!tls.public(), "the CA file replaces the public roots");
        assert_eq!(
            format!("{:?}", tls.server_name()),
            format!(
                "{:?}",
                rustls_pki_types::ServerName::try_from("smsc.example.net").unwrap()
            )
        );

        let e = parse("    tls: true\n    tls_ca_file: bad.pem\n").unwrap_err();
        assert_eq!(e.line, Some(8), "{e}");
        assert_eq!(e.key.as_deref(), Some("carriers.a.tls_ca_file"), "{e}");
        assert!(
            e.message.contains("bad.pem") && e.message.contains("PEM"),
            "{e}"
        );

        let e = parse("    tls: true\n    tls_ca_file: key.pem\n").unwrap_err();
        assert!(e.message.contains("no certificate"), "{e}");

        let e = parse("    tls: true\n    tls_server_name: \"not a name\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("carriers.a.tls_server_name"), "{e}");
        assert_eq!(e.line, Some(8), "{e}");
    }

    #[test]
    fn source_address_detection() {
        let p = AddressPolicy::default();
        let a = p.source("Gannet");
        assert_eq!((a.ton, a.npi, &a.addr[..]), (5, 0, &b"Gannet"[..]));
        let a = p.source("+447700900123");
        assert_eq!((a.ton, a.npi, &a.addr[..]), (1, 1, &b"447700900123"[..]));
        let a = p.source("447700900123");
        assert_eq!((a.ton, a.npi), (1, 1));
        let a = p.source("12345");
        assert_eq!((a.ton, a.npi, &a.addr[..]), (3, 0, &b"12345"[..]));
        let a = p.source("+");
        assert_eq!((a.ton, a.npi, &a.addr[..]), (5, 0, &b"+"[..]));
        let forced = AddressPolicy {
            source_ton: Some(0),
            source_npi: Some(1),
            ..AddressPolicy::default()
        };
        let a = forced.source("12345");
        assert_eq!((a.ton, a.npi), (0, 1));
    }

    #[test]
    fn destination_address() {
        let p = AddressPolicy::default();
        let a = p.destination("+919812345678");
        assert_eq!((a.ton, a.npi, &a.addr[..]), (1, 1, &b"919812345678"[..]));
        let a = p.destination("voicemail");
        assert_eq!((a.ton, a.npi), (0, 0));
        let national = AddressPolicy {
            dest_ton: Some(2),
            ..AddressPolicy::default()
        };
        assert_eq!(national.destination("+33612345678").ton, 2);
    }
}
