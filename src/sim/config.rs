//! sim.yaml: the simulator's typed configuration, validated at load.
//!
//! Every key is documented in docs/sim.md. Unknown keys are refused; validation errors name the
//! file, the line and the key (`personas[mno-hn].outcomes[0].prefix`), through
//! [`crate::config`].

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gannet_smpp::CommandStatus;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::dist::Dist;
use super::ids::IdFormat;
use super::tls::{self, TlsError, TlsIdentity};
use crate::config::{ConfigError, Spanned};

/// The example world shipped at the repository root, embedded so `gannet sim` runs without
/// arguments.
pub const EXAMPLE: &str = include_str!("../../sim.yaml");

/// The whole simulator: a seed, an optional control endpoint and the carrier personas.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Global seed; each persona's generator is derived from it and the persona's name.
    #[serde(default)]
    pub seed: u64,
    /// Address of the HTTP control endpoint (`gannet sim` only; the library leaves serving
    /// the router to its caller).
    #[serde(default)]
    pub control: Option<SocketAddr>,
    pub personas: Vec<PersonaConfig>,
    /// The file this came from, for error messages.
    #[serde(skip)]
    pub source: PathBuf,
}

/// One carrier SMSC listening on its own port.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaConfig {
    /// Unique name (`mno-in-jio`): the key of the handle and the control API.
    pub name: Spanned<String>,
    /// Address to listen on; port 0 picks a free port.
    pub listen: Spanned<SocketAddr>,
    /// SMPP over TLS on this port, with this certificate (default: plain TCP).
    #[serde(default)]
    pub tls: Option<Spanned<PersonaTls>>,
    /// The system_id this SMSC gives in bind_*_resp (default: the name, cut to 15 octets).
    #[serde(default)]
    pub smsc_id: Option<String>,
    /// Accounts allowed to bind.
    pub accounts: Spanned<Vec<Account>>,
    /// Bind types this SMSC accepts (default: all three).
    #[serde(default = "all_bind_types")]
    pub bind_types: Spanned<Vec<BindType>>,
    /// Concurrent binds allowed per system_id; more get ESME_RALYBND (default: no limit).
    #[serde(default)]
    pub max_binds: Option<Spanned<u32>>,
    /// Unanswered submit_sm allowed per bind; more get ESME_RMSGQFUL (default: no limit).
    #[serde(default)]
    pub window: Option<Spanned<u32>>,
    /// Segments (submit_sm PDUs) per second, over all binds; more get ESME_RTHROTTLED.
    #[serde(default)]
    pub tps: Option<Spanned<f64>>,
    /// Token bucket size for `tps` (default: one second's worth).
    #[serde(default)]
    pub tps_burst: Option<Spanned<u32>>,
    /// Delay before submit_sm_resp.
    #[serde(default = "zero_dist")]
    pub resp_latency: Spanned<Dist>,
    #[serde(default)]
    pub message_ids: MessageIdsConfig,
    #[serde(default = "default_spanned")]
    pub receipts: Spanned<ReceiptsConfig>,
    /// Outcomes by destination prefix; longest prefix wins; `""` matches everything. With no
    /// match every message is delivered at once.
    #[serde(default)]
    pub outcomes: Vec<Spanned<OutcomeConfig>>,
    #[serde(default = "default_spanned")]
    pub faults: Spanned<FaultsConfig>,
    /// Mobile-originated traffic at a steady rate.
    #[serde(default)]
    pub mo: Option<Spanned<MoConfig>>,
    /// How many received messages the log keeps (the oldest go first).
    #[serde(default = "default_received_capacity")]
    pub received_capacity: Spanned<usize>,
    /// Duplicates (same destination and text) are found among about this many of the most
    /// recent distinct messages.
    #[serde(default = "default_duplicate_window")]
    pub duplicate_window: Spanned<usize>,
}

/// Where a TLS persona's certificate and key come from.
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "TlsFiles")]
pub enum PersonaTls {
    /// sim.yaml `tls: { cert: smsc.pem, key: smsc.key }`: PEM files, relative to the config
    /// file; read when the config is loaded and again when the simulator starts.
    Files {
        /// The certificate chain, leaf first.
        cert: Spanned<PathBuf>,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: Spanned<PathBuf>,
    },
    /// Given in code (see [`SimConfig::with_tls`]).
    Identity(TlsIdentity),
}

/// The YAML form of [`PersonaTls`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFiles {
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
}

impl From<TlsFiles> for PersonaTls {
    fn from(f: TlsFiles) -> PersonaTls {
        PersonaTls::Files {
            cert: f.cert,
            key: f.key,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub system_id: Spanned<String>,
    pub password: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindType {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindType {
    /// May submit (SMPP 3.4 §2.2: transmitter and transceiver sessions).
    pub fn can_submit(self) -> bool {
        matches!(self, BindType::Transmitter | BindType::Transceiver)
    }

    /// May receive deliver_sm (receiver and transceiver sessions).
    pub fn can_receive(self) -> bool {
        matches!(self, BindType::Receiver | BindType::Transceiver)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BindType::Transmitter => "transmitter",
            BindType::Receiver => "receiver",
            BindType::Transceiver => "transceiver",
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageIdsConfig {
    /// Format of the message_id in submit_sm_resp.
    #[serde(default)]
    pub format: IdFormat,
    /// Format of the id in receipts (text `id:` and receipted_message_id); default: `format`.
    #[serde(default)]
    pub receipt_format: Option<IdFormat>,
    /// First number handed out.
    #[serde(default = "one")]
    pub first: u64,
}

impl Default for MessageIdsConfig {
    fn default() -> Self {
        MessageIdsConfig {
            format: IdFormat::default(),
            receipt_format: None,
            first: one(),
        }
    }
}

/// Where the receipt's information travels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptFormat {
    /// Appendix B text in short_message.
    #[default]
    Text,
    /// receipted_message_id, message_state, network_error_code TLVs (SMPP 3.4 §5.3.2), empty
    /// short_message.
    Tlv,
    Both,
}

/// Which parts of a concatenated message get a receipt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultipartReceipts {
    #[default]
    Every,
    First,
    Last,
}

/// Intermediate states a persona reports before the final one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum IntermediateStat {
    #[serde(rename = "ENROUTE")]
    Enroute,
    #[serde(rename = "ACCEPTD")]
    Accepted,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsConfig {
    #[serde(default)]
    pub format: ReceiptFormat,
    #[serde(default)]
    pub multipart: MultipartReceipts,
    /// Sent in this order before the final receipt, spread evenly over its delay.
    #[serde(default)]
    pub intermediate: Vec<IntermediateStat>,
    /// Receipts and MO kept per system_id while no receiver bind is there.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// deliver_sm sent and not yet answered, per bind.
    #[serde(default = "default_deliver_window")]
    pub window: u32,
    /// Receipts waiting for their time, at most (a long benchmark with long delays would
    /// otherwise hold them all); beyond it they are dropped and counted.
    #[serde(default = "default_max_scheduled")]
    pub max_scheduled: usize,
}

impl Default for ReceiptsConfig {
    fn default() -> Self {
        ReceiptsConfig {
            format: ReceiptFormat::default(),
            multipart: MultipartReceipts::default(),
            intermediate: Vec::new(),
            queue_capacity: default_queue_capacity(),
            window: default_deliver_window(),
            max_scheduled: default_max_scheduled(),
        }
    }
}

/// A weighted mix of fates for destinations under one prefix.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeConfig {
    /// Destination digits (country code and more); `""` for everything else.
    pub prefix: Spanned<String>,
    #[serde(default)]
    pub delivered: f64,
    #[serde(default)]
    pub undeliverable: f64,
    #[serde(default)]
    pub expired: f64,
    #[serde(default)]
    pub rejected: f64,
    /// Accepted, then never a receipt.
    #[serde(default)]
    pub no_receipt: f64,
    /// The `err:` code (and network_error_code) per final state.
    #[serde(default)]
    pub err: ErrCodes,
    /// Time from submit_sm to the final receipt.
    #[serde(default = "zero_dist")]
    pub delay: Spanned<Dist>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrCodes {
    #[serde(default)]
    pub delivered: u16,
    #[serde(default = "err_undeliverable")]
    pub undeliverable: u16,
    #[serde(default = "err_expired")]
    pub expired: u16,
    #[serde(default)]
    pub rejected: u16,
}

impl Default for ErrCodes {
    fn default() -> Self {
        ErrCodes {
            delivered: 0,
            undeliverable: err_undeliverable(),
            expired: err_expired(),
            rejected: 0,
        }
    }
}

/// Faults active from start-up; all can also be switched at run time.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsConfig {
    /// Fraction of submit_sm_resp never sent (the message is still accepted).
    #[serde(default)]
    pub drop_responses: f64,
    /// Send the receipt before the submit_sm_resp.
    #[serde(default)]
    pub receipt_before_response: bool,
    /// Fraction of final receipts sent twice.
    #[serde(default)]
    pub duplicate_receipts: f64,
    /// Unbind every bind this often.
    #[serde(default, with = "crate::config::duration::option")]
    pub unbind_every: Option<Duration>,
    /// Reset (TCP RST) every bind this often.
    #[serde(default, with = "crate::config::duration::option")]
    pub reset_every: Option<Duration>,
    /// Never answer enquire_link.
    #[serde(default)]
    pub ignore_enquire_link: bool,
    /// Refuse binds for this long after start.
    #[serde(default, with = "crate::config::duration::option")]
    pub refuse_binds_for: Option<Duration>,
    /// Status of refused binds (default ESME_RBINDFAIL).
    #[serde(default)]
    pub refuse_binds_status: Option<Status>,
    /// Added to every submit_sm_resp latency.
    #[serde(default, with = "crate::config::duration::option")]
    pub extra_latency: Option<Duration>,
    /// Answer every submit_sm with this status.
    #[serde(default)]
    pub reject_submits: Option<Status>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoConfig {
    /// One MO message this often.
    #[serde(with = "crate::config::duration")]
    pub every: Duration,
    /// Handset numbers, picked at random.
    pub from: Vec<String>,
    /// The short code or long number they write to.
    pub to: String,
    /// Texts, picked at random.
    pub texts: Vec<String>,
    /// Account whose receiver binds get them (default: the first account).
    #[serde(default)]
    pub system_id: Option<String>,
}

/// A command_status in config and JSON: a name (`ESME_RTHROTTLED`), a number (`88`) or hex
/// (`"0x58"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub CommandStatus);

impl Status {
    pub fn parse(s: &str) -> Result<Status, String> {
        let s = s.trim();
        if let Some(found) = CommandStatus::ALL
            .iter()
            .find(|c| c.name().is_some_and(|n| n.eq_ignore_ascii_case(s)))
        {
            return Ok(Status(*found));
        }
        let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => s.parse(),
        };
        parsed
            .map(|v| Status(CommandStatus(v)))
            .map_err(|_| format!("`{s}` is not a command_status name (ESME_RSYSERR) or number"))
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Num(u32),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Num(n) => Ok(Status(CommandStatus(n))),
            Repr::Text(s) => Status::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&status_name(self.0))
    }
}

/// `ESME_RTHROTTLED`, or `0x00000401` for codes without a name.
pub fn status_name(status: CommandStatus) -> String {
    match status.name() {
        Some(n) => n.to_string(),
        None => format!("0x{:08X}", status.0),
    }
}

fn all_bind_types() -> Spanned<Vec<BindType>> {
    unlocated(vec![
        BindType::Transmitter,
        BindType::Receiver,
        BindType::Transceiver,
    ])
}

fn default_spanned<T: Default>() -> Spanned<T> {
    unlocated(T::default())
}

fn zero_dist() -> Spanned<Dist> {
    unlocated(Dist::default())
}

fn default_received_capacity() -> Spanned<usize> {
    unlocated(10_000)
}

fn default_duplicate_window() -> Spanned<usize> {
    unlocated(100_000)
}

fn default_queue_capacity() -> usize {
    100_000
}

fn default_max_scheduled() -> usize {
    2_000_000
}

fn default_deliver_window() -> u32 {
    1024
}

fn one() -> u64 {
    1
}

fn err_undeliverable() -> u16 {
    1
}

fn err_expired() -> u16 {
    27
}

/// A value with no position, for defaults and values built in code.
pub fn unlocated<T>(value: T) -> Spanned<T> {
    use serde_saphyr::Location;
    Spanned::new(value, Location::UNKNOWN, Location::UNKNOWN)
}

/// SMPP 3.4 §4.1.1: system_id is a C-octet string of at most 16 octets, NUL included.
const SYSTEM_ID_MAX: usize = 15;
/// SMPP 3.4 §5.2.5-5.2.8: address fields of submit_sm are at most 21 octets with the NUL.
const ADDR_MAX: usize = 20;

impl SimConfig {
    /// Reads, parses and validates a sim.yaml.
    pub fn load(path: &Path) -> Result<SimConfig, ConfigError> {
        let mut config: SimConfig = crate::config::load(path)?;
        config.source = path.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates YAML text; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<SimConfig, ConfigError> {
        let mut config: SimConfig = crate::config::parse(file, text)?;
        config.source = file.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    /// The example world (sim.yaml at the repository root).
    pub fn example() -> Result<SimConfig, ConfigError> {
        SimConfig::parse(Path::new("sim.yaml"), EXAMPLE)
    }

    /// Makes persona `persona` a TLS persona with a certificate held in memory (tests build
    /// one with rcgen and need no files). Replaces any `tls:` of the YAML.
    pub fn with_tls(mut self, persona: &str, identity: TlsIdentity) -> Result<Self, ConfigError> {
        let Some(p) = self.personas.iter_mut().find(|p| p.name.value == persona) else {
            return Err(ConfigError::whole(
                &self.source,
                "personas",
                format!("no persona named `{persona}`"),
            ));
        };
        p.tls = Some(unlocated(PersonaTls::Identity(identity)));
        Ok(self)
    }

    /// Every persona on an ephemeral port of its address (for tests and CI, where fixed ports
    /// collide), and no control endpoint.
    #[must_use]
    pub fn ephemeral(mut self) -> SimConfig {
        for p in &mut self.personas {
            p.listen.value.set_port(0);
        }
        self.control = None;
        self
    }

    /// Checks everything serde cannot: uniqueness, ranges, shapes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let file = self.source.as_path();
        if self.personas.is_empty() {
            return Err(ConfigError::whole(
                file,
                "personas",
                "at least one persona is needed",
            ));
        }
        let mut names = HashSet::new();
        let mut ports = HashSet::new();
        for (i, p) in self.personas.iter().enumerate() {
            let at = format!("personas[{i}]");
            let name = &p.name.value;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(ConfigError::at(
                    file,
                    &p.name,
                    format!("{at}.name"),
                    "a persona name is letters, digits, '-', '_' or '.'",
                ));
            }
            if !names.insert(name.as_str()) {
                return Err(ConfigError::at(
                    file,
                    &p.name,
                    format!("{at}.name"),
                    format!("persona `{name}` is defined twice"),
                ));
            }
            let port = p.listen.value.port();
            if let Some(control) = self.control
                && port != 0
                && control.port() == port
            {
                return Err(ConfigError::at(
                    file,
                    &p.listen,
                    format!("personas[{name}].listen"),
                    format!("port {port} is also the control port"),
                ));
            }
            if port != 0 && !ports.insert(port) {
                return Err(ConfigError::at(
                    file,
                    &p.listen,
                    format!("personas[{name}].listen"),
                    format!("port {port} is used by another persona"),
                ));
            }
            p.validate(file)?;
        }
        Ok(())
    }
}

impl PersonaConfig {
    fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let at = format!("personas[{}]", self.name.value);
        let err =
            |s: &dyn Located, key: &str, msg: String| s.error(file, format!("{at}.{key}"), msg);

        if let Some(id) = &self.smsc_id
            && (id.is_empty() || id.len() > SYSTEM_ID_MAX)
        {
            return Err(err(
                &self.name,
                "smsc_id",
                format!("smsc_id is 1 to {SYSTEM_ID_MAX} octets"),
            ));
        }
        if self.accounts.value.is_empty() {
            return Err(err(
                &self.accounts,
                "accounts",
                "at least one account is needed".into(),
            ));
        }
        let mut ids = HashSet::new();
        for (i, a) in self.accounts.value.iter().enumerate() {
            let id = &a.system_id.value;
            if id.is_empty() || id.len() > SYSTEM_ID_MAX {
                return Err(err(
                    &a.system_id,
                    &format!("accounts[{i}].system_id"),
                    format!("a system_id is 1 to {SYSTEM_ID_MAX} octets (SMPP 3.4 §4.1.1)"),
                ));
            }
            if !ids.insert(id.as_str()) {
                return Err(err(
                    &a.system_id,
                    &format!("accounts[{i}].system_id"),
                    format!("system_id `{id}` is listed twice"),
                ));
            }
        }
        if self.bind_types.value.is_empty() {
            return Err(err(
                &self.bind_types,
                "bind_types",
                "allow at least one bind type".into(),
            ));
        }
        if let Some(m) = &self.max_binds
            && m.value == 0
        {
            return Err(err(
                m,
                "max_binds",
                "max_binds must be at least 1 (leave it out for no limit)".into(),
            ));
        }
        if let Some(w) = &self.window
            && w.value == 0
        {
            return Err(err(
                w,
                "window",
                "window must be at least 1 (leave it out for no limit)".into(),
            ));
        }
        if let Some(t) = &self.tps
            && !(t.value.is_finite() && t.value > 0.0)
        {
            return Err(err(t, "tps", "tps must be a number above zero".into()));
        }
        if let Some(b) = &self.tps_burst {
            if b.value == 0 {
                return Err(err(b, "tps_burst", "tps_burst must be at least 1".into()));
            }
            if self.tps.is_none() {
                return Err(err(b, "tps_burst", "tps_burst needs tps".into()));
            }
        }
        self.resp_latency
            .value
            .check()
            .map_err(|m| err(&self.resp_latency, "resp_latency", m))?;
        for (key, f) in [
            ("message_ids.format", Some(self.message_ids.format)),
            (
                "message_ids.receipt_format",
                self.message_ids.receipt_format,
            ),
        ] {
            if let Some(f) = f
                && usize::from(f.width) > super::ids::MAX_ID_LEN
            {
                return Err(err(
                    &self.name,
                    key,
                    format!("width is at most {}", super::ids::MAX_ID_LEN),
                ));
            }
        }
        let r = &self.receipts.value;
        if r.queue_capacity == 0 {
            return Err(err(
                &self.receipts,
                "receipts.queue_capacity",
                "must be at least 1".into(),
            ));
        }
        if r.window == 0 {
            return Err(err(
                &self.receipts,
                "receipts.window",
                "must be at least 1".into(),
            ));
        }
        if r.max_scheduled == 0 {
            return Err(err(
                &self.receipts,
                "receipts.max_scheduled",
                "must be at least 1".into(),
            ));
        }
        let mut prefixes = HashSet::new();
        for (i, o) in self.outcomes.iter().enumerate() {
            let key = format!("outcomes[{i}]");
            let prefix = &o.value.prefix;
            if !prefix.value.bytes().all(|b| b.is_ascii_digit()) || prefix.value.len() > ADDR_MAX {
                return Err(err(
                    prefix,
                    &format!("{key}.prefix"),
                    format!(
                        "prefix `{}` must be digits only (country code first, no '+'), or \"\" for the rest",
                        prefix.value
                    ),
                ));
            }
            if !prefixes.insert(prefix.value.as_str()) {
                return Err(err(
                    prefix,
                    &format!("{key}.prefix"),
                    format!("prefix `{}` is listed twice", prefix.value),
                ));
            }
            let weights = o.value.weights();
            if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
                return Err(err(o, &key, "weights must be numbers of at least 0".into()));
            }
            if weights.iter().sum::<f64>() <= 0.0 {
                return Err(err(
                    o,
                    &key,
                    "the weights (delivered, undeliverable, expired, rejected, no_receipt) must sum to more than 0".into(),
                ));
            }
            let e = o.value.err;
            if [e.delivered, e.undeliverable, e.expired, e.rejected]
                .iter()
                .any(|&c| c > 999)
            {
                return Err(err(
                    o,
                    &format!("{key}.err"),
                    "err codes have at most 3 digits (Appendix B)".into(),
                ));
            }
            o.value
                .delay
                .value
                .check()
                .map_err(|m| err(&o.value.delay, &format!("{key}.delay"), m))?;
        }
        let f = &self.faults.value;
        for (key, ratio) in [
            ("faults.drop_responses", f.drop_responses),
            ("faults.duplicate_receipts", f.duplicate_receipts),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(err(
                    &self.faults,
                    key,
                    format!("{ratio} is not a fraction between 0 and 1"),
                ));
            }
        }
        for (key, every) in [
            ("faults.unbind_every", f.unbind_every),
            ("faults.reset_every", f.reset_every),
        ] {
            if every.is_some_and(|d| d < Duration::from_millis(1)) {
                return Err(err(&self.faults, key, "must be at least 1ms".into()));
            }
        }
        if let Some(mo) = &self.mo {
            let m = &mo.value;
            if m.every < Duration::from_millis(1) {
                return Err(err(mo, "mo.every", "must be at least 1ms".into()));
            }
            if m.from.is_empty() || m.texts.is_empty() {
                return Err(err(
                    mo,
                    "mo",
                    "from and texts need at least one entry each".into(),
                ));
            }
            if m.from
                .iter()
                .chain([&m.to])
                .any(|a| a.is_empty() || a.len() > ADDR_MAX)
            {
                return Err(err(
                    mo,
                    "mo",
                    format!("addresses are 1 to {ADDR_MAX} characters"),
                ));
            }
            if let Some(id) = &m.system_id
                && !self.accounts.value.iter().any(|a| &a.system_id.value == id)
            {
                return Err(err(
                    mo,
                    "mo.system_id",
                    format!("`{id}` is not one of the accounts"),
                ));
            }
        }
        if self.received_capacity.value == 0 || self.received_capacity.value > 10_000_000 {
            return Err(err(
                &self.received_capacity,
                "received_capacity",
                "received_capacity is between 1 and 10000000".into(),
            ));
        }
        if self.duplicate_window.value == 0 || self.duplicate_window.value > 10_000_000 {
            return Err(err(
                &self.duplicate_window,
                "duplicate_window",
                "duplicate_window is between 1 and 10000000".into(),
            ));
        }
        // A certificate that cannot be read, or a key that is not its own, stops start-up
        // here rather than at the first handshake.
        self.tls_identity(file)?;
        Ok(())
    }

    /// The certificate of a TLS persona (`None`: plain TCP), its files read now, relative to
    /// the config file `file`.
    pub fn tls_identity(&self, file: &Path) -> Result<Option<TlsIdentity>, ConfigError> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let at = format!("personas[{}].tls", self.name.value);
        match &tls.value {
            PersonaTls::Identity(identity) => Ok(Some(identity.clone())),
            PersonaTls::Files { cert, key } => {
                let base = file.parent().unwrap_or(Path::new(""));
                let located = |s: &Spanned<PathBuf>, k: &str, e: TlsError| {
                    ConfigError::at(file, s, format!("{at}.{k}"), e.to_string())
                };
                let chain = tls::load_chain(&base.join(&cert.value))
                    .map_err(|e| located(cert, "cert", e))?;
                let private =
                    tls::load_key(&base.join(&key.value)).map_err(|e| located(key, "key", e))?;
                TlsIdentity::from_der(chain, private)
                    .map(Some)
                    .map_err(|e| ConfigError::at(file, tls, at.clone(), e.to_string()))
            }
        }
    }

    /// The system_id sent in bind responses.
    pub fn smsc_id(&self) -> &str {
        match &self.smsc_id {
            Some(id) => id,
            None => {
                let n = &self.name.value;
                let mut end = n.len().min(SYSTEM_ID_MAX);
                while !n.is_char_boundary(end) {
                    end -= 1;
                }
                &n[..end]
            }
        }
    }
}

impl OutcomeConfig {
    /// delivered, undeliverable, expired, rejected, no_receipt.
    pub fn weights(&self) -> [f64; 5] {
        [
            self.delivered,
            self.undeliverable,
            self.expired,
            self.rejected,
            self.no_receipt,
        ]
    }
}

/// Anything a validation error can point at.
trait Located {
    fn error(&self, file: &Path, key: String, msg: String) -> ConfigError;
}

impl<T> Located for Spanned<T> {
    fn error(&self, file: &Path, key: String, msg: String) -> ConfigError {
        ConfigError::at(file, self, key, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "personas:\n  - name: a\n    listen: 127.0.0.1:0\n    accounts: [{ system_id: u, password: p }]\n";

    #[test]
    fn minimal_config_has_defaults() {
        let c = SimConfig::parse(Path::new("s.yaml"), MINIMAL).unwrap();
        let p = &c.personas[0];
        assert_eq!(p.bind_types.value.len(), 3);
        assert_eq!(p.smsc_id(), "a");
        assert_eq!(p.receipts.value.queue_capacity, 100_000);
        assert!(p.resp_latency.value.is_zero());
    }

    #[test]
    fn statuses_parse() {
        assert_eq!(
            Status::parse("ESME_RTHROTTLED"),
            Ok(Status(CommandStatus::ESME_RTHROTTLED))
        );
        assert_eq!(
            Status::parse("esme_rsyserr"),
            Ok(Status(CommandStatus::ESME_RSYSERR))
        );
        assert_eq!(Status::parse("0x58"), Ok(Status(CommandStatus(0x58))));
        assert_eq!(Status::parse("1025"), Ok(Status(CommandStatus(0x401))));
        assert!(Status::parse("nope").is_err());
        assert_eq!(status_name(CommandStatus(0x401)), "0x00000401");
    }

    #[test]
    fn bad_prefix_names_line_and_key() {
        let text =
            format!("{MINIMAL}    outcomes:\n      - prefix: \"+91\"\n        delivered: 1\n");
        let e = SimConfig::parse(Path::new("s.yaml"), &text).unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert_eq!(
            e.key.as_deref(),
            Some("personas[a].outcomes[0].prefix"),
            "{e}"
        );
    }

    #[test]
    fn tls_files_are_read_at_load_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::create_dir(dir.path().join("pki")).unwrap();
        std::fs::write(dir.path().join("pki/smsc.pem"), cert.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("pki/smsc.key"),
            cert.signing_key.serialize_pem(),
        )
        .unwrap();
        std::fs::write(dir.path().join("pki/empty.pem"), "").unwrap();
        let file = dir.path().join("sim.yaml");
        let with = |tls: &str| format!("{MINIMAL}    tls: {tls}\n");

        let c =
            SimConfig::parse(&file, &with("{ cert: pki/smsc.pem, key: pki/smsc.key }")).unwrap();
        assert!(c.personas[0].tls_identity(&file).unwrap().is_some());

        let e = SimConfig::parse(&file, &with("{ cert: pki/nope.pem, key: pki/smsc.key }"))
            .unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert_eq!(e.key.as_deref(), Some("personas[a].tls.cert"), "{e}");
        assert!(
            e.message.contains("cannot read") && e.message.contains("nope.pem"),
            "{e}"
        );

        let e = SimConfig::parse(&file, &with("{ cert: pki/smsc.pem, key: pki/empty.pem }"))
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("personas[a].tls.key"), "{e}");
        assert!(e.message.contains("no private key"), "{e}");

        // A key that is not the certificate's.
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(dir.path().join("pki/other.key"), other.serialize_pem()).unwrap();
        let e = SimConfig::parse(&file, &with("{ cert: pki/smsc.pem, key: pki/other.key }"))
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("personas[a].tls"), "{e}");
        assert_eq!(e.line, Some(5), "{e}");

        let e = SimConfig::parse(&file, &with("{ cert: pki/smsc.pem }")).unwrap_err();
        assert!(e.message.contains("key"), "{e}");

        // In memory: no files at all.
        let identity =
            TlsIdentity::from_pem(cert.cert.pem(), cert.signing_key.serialize_pem()).unwrap();
        let c = SimConfig::parse(Path::new("s.yaml"), MINIMAL)
            .unwrap()
            .with_tls("a", identity.clone())
            .unwrap();
        c.validate().unwrap();
        assert!(c.personas[0].tls.is_some());
        let e = SimConfig::parse(Path::new("s.yaml"), MINIMAL)
            .unwrap()
            .with_tls("b", identity)
            .unwrap_err();
        assert!(e.message.contains("`b`"), "{e}");
    }

    #[test]
    fn smsc_id_is_cut_to_fifteen_octets() {
        let text = MINIMAL.replace("name: a", "name: a-very-long-persona-name");
        let c = SimConfig::parse(Path::new("s.yaml"), &text).unwrap();
        assert_eq!(c.personas[0].smsc_id(), "a-very-long-per");
    }
}
