//! The routing table: routes.yaml loaded, validated and compiled into an immutable
//! [`RouteTable`] that the pure router ([`crate::router`]) reads.
//!
//! What it is: carriers (direct MNOs and intermediaries, what they reach, what a segment costs,
//! what they support), country rules (quiet hours, required registrations), and routes
//! (destination prefixes with ordered candidate carriers per message class, deadlines,
//! validity, attempts, a non-SMS fallback). Every mistake a file can hold is refused at load
//! with its file, line and key; nothing falls back silently. docs/routing.md documents every
//! key.
//!
//! What it is not: it does no routing and keeps no live state. A table is a value: build a new
//! one with [`reload`] and swap it in (the service holds it in an `ArcSwap`); a bad file leaves
//! the old table in place because [`reload`] only returns the error.

mod build;
mod prefix;
pub(crate) mod schema;

use std::collections::HashMap;
use std::fmt;
use std::ops::{Index, IndexMut};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

pub use build::{format_duration, parse_utc_offset};

/// Most candidates in one list: enough for any real route, and it lets the router rank on the
/// stack.
pub const MAX_CANDIDATES: usize = 16;
pub use prefix::{MAX_DIGITS, PrefixKey, PrefixMap, is_digits};

use crate::config::ConfigError;
use crate::dlr::{IdStyle, ReceiptsFor};

/// Loads, validates and compiles a routes file. The service calls this on SIGHUP or from its
/// API and swaps the result in only when it is `Ok`, keeping the running table otherwise.
pub fn reload(path: &Path) -> Result<Arc<RouteTable>, ConfigError> {
    RouteTable::load(path).map(Arc::new)
}

/// Why a message is sent: it decides candidates, deadlines, validity and policy.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Deserialize,
    Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum MessageClass {
    /// One-time passwords and 2FA codes: short-lived, latency matters most.
    Otp,
    /// Alerts, notifications, receipts.
    Transactional,
    /// Promotions: subject to quiet hours and opt-outs.
    Marketing,
}

impl MessageClass {
    pub const ALL: [MessageClass; 3] = [
        MessageClass::Otp,
        MessageClass::Transactional,
        MessageClass::Marketing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageClass::Otp => "otp",
            MessageClass::Transactional => "transactional",
            MessageClass::Marketing => "marketing",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for MessageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of message classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClassSet(u8);

impl ClassSet {
    pub fn of(classes: &[MessageClass]) -> ClassSet {
        ClassSet(classes.iter().fold(0, |m, c| m | 1 << c.index()))
    }

    pub fn contains(self, class: MessageClass) -> bool {
        self.0 & (1 << class.index()) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = MessageClass> {
        MessageClass::ALL
            .into_iter()
            .filter(move |&c| self.contains(c))
    }
}

impl Serialize for ClassSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// One value per message class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByClass<T>(pub [T; 3]);

impl<T> Index<MessageClass> for ByClass<T> {
    type Output = T;
    fn index(&self, class: MessageClass) -> &T {
        &self.0[class.index()]
    }
}

impl<T> IndexMut<MessageClass> for ByClass<T> {
    fn index_mut(&mut self, class: MessageClass) -> &mut T {
        &mut self.0[class.index()]
    }
}

/// Direct MNO connections come before intermediaries: fewer hops, better receipts, and the
/// operator's own view of the subscriber. The order of the variants is the tier order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierKind {
    /// A mobile network operator's own SMSC.
    Direct,
    /// An aggregator that hands the message on to an operator.
    Intermediary,
}

impl CarrierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CarrierKind::Direct => "direct",
            CarrierKind::Intermediary => "intermediary",
        }
    }
}

/// What a carrier connection supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// SMPP over TLS (informational for the carrier pool; not a routing criterion).
    Tls,
    /// Carries India DLT entity and template ids in TLVs.
    DltTlvs,
    /// UCS-2 (data_coding 0x08).
    Unicode,
    /// Concatenated (multipart) messages.
    Concatenation,
}

impl Feature {
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Tls => "tls",
            Feature::DltTlvs => "dlt_tlvs",
            Feature::Unicode => "unicode",
            Feature::Concatenation => "concatenation",
        }
    }
}

/// A set of [`Feature`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Features(u8);

impl Features {
    pub fn of(features: &[Feature]) -> Features {
        Features(features.iter().fold(0, |m, &f| m | 1 << f as u8))
    }

    pub fn contains(self, f: Feature) -> bool {
        self.0 & (1 << f as u8) != 0
    }
}

/// A registration a country may require to be present on a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// India DLT principal entity id (TRAI TCCCPR 2018).
    DltEntityId,
    /// India DLT content template id.
    DltTemplateId,
}

impl Registration {
    pub const ALL: [Registration; 2] = [Registration::DltEntityId, Registration::DltTemplateId];

    pub fn as_str(self) -> &'static str {
        match self {
            Registration::DltEntityId => "dlt_entity_id",
            Registration::DltTemplateId => "dlt_template_id",
        }
    }

    /// True for the registrations that travel in DLT TLVs, so the carrier must support them.
    pub fn is_dlt(self) -> bool {
        matches!(
            self,
            Registration::DltEntityId | Registration::DltTemplateId
        )
    }
}

/// A set of [`Registration`]s: those a country requires, or those a message carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Registrations(u8);

impl Registrations {
    pub const NONE: Registrations = Registrations(0);

    pub fn of(regs: &[Registration]) -> Registrations {
        Registrations(regs.iter().fold(0, |m, &r| m | 1 << r as u8))
    }

    pub fn with(self, r: Registration) -> Registrations {
        Registrations(self.0 | 1 << r as u8)
    }

    pub fn contains(self, r: Registration) -> bool {
        self.0 & (1 << r as u8) != 0
    }

    /// Those of `self` that `present` lacks.
    pub fn missing_from(self, present: Registrations) -> Registrations {
        Registrations(self.0 & !present.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Registration> {
        Registration::ALL
            .into_iter()
            .filter(move |&r| self.contains(r))
    }

    pub fn any_dlt(self) -> bool {
        self.iter().any(Registration::is_dlt)
    }
}

impl Serialize for Registrations {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A non-SMS channel used after SMS candidates are exhausted or when SMS cannot reach the
/// number at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A text-to-speech call, placed through the voice webhook.
    Voice,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
        }
    }
}

/// A carrier's index in its [`RouteTable`]. Only meaningful with the table that issued it;
/// anything kept across a reload (attempt history, health) uses the carrier's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CarrierId(u16);

impl CarrierId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// How a carrier's receipts look, for [`crate::dlr::DlrTracker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarrierReceipts {
    /// How the carrier writes message ids in submit_sm_resp.
    pub resp_ids: IdStyle,
    /// How it writes them in receipts.
    pub receipt_ids: IdStyle,
    /// Which parts of a multipart message get receipts.
    pub receipts_for: ReceiptsFor,
}

/// A carrier as the router sees it.
#[derive(Clone, Debug)]
pub struct Carrier {
    pub name: Arc<str>,
    pub kind: CarrierKind,
    /// Prefixes it can deliver to.
    pub reaches: Vec<PrefixKey>,
    pub features: Features,
    /// Receipt deadline overrides for this carrier (an aggregator's receipts are slower); see
    /// [`RouteTable::receipt_deadline`].
    pub receipt_deadline: ByClass<Option<Duration>>,
    pub receipts: CarrierReceipts,
    /// Cost per segment, by prefix, as written (for display).
    pub costs: Vec<(PrefixKey, f64)>,
    cost_map: PrefixMap<f64>,
    /// Line of the carrier's name in the file.
    pub line: u32,
}

impl Carrier {
    /// Cost of one segment to `dest` (E.164 digits): the longest cost prefix that matches.
    #[inline]
    pub fn cost_for(&self, dest: &[u8]) -> Option<f64> {
        self.cost_map.longest_match(dest).map(|(&c, _)| c)
    }
}

/// Marketing quiet hours in recipient-local time, as a fixed UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    /// Start, minutes after local midnight.
    pub from_min: u16,
    /// End (exclusive), minutes after local midnight; smaller than `from_min` when the window
    /// crosses midnight.
    pub to_min: u16,
    pub classes: ClassSet,
}

impl QuietHours {
    /// Whether `unix_secs` falls in the window at `utc_offset_secs`; when it does, the unix
    /// second at which the window ends.
    pub fn check(&self, unix_secs: i64, utc_offset_secs: i32) -> Option<i64> {
        let local = unix_secs + i64::from(utc_offset_secs);
        let tod = local.rem_euclid(86_400);
        let from = i64::from(self.from_min) * 60;
        let to = i64::from(self.to_min) * 60;
        let quiet = if from < to {
            tod >= from && tod < to
        } else {
            tod >= from || tod < to
        };
        if !quiet {
            return None;
        }
        let wait = (to - tod).rem_euclid(86_400);
        Some(unix_secs + wait)
    }
}

/// Rules of a destination country.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Country {
    pub code: PrefixKey,
    pub name: Option<String>,
    /// Fixed offset from UTC, in seconds (no daylight saving: see docs/routing.md).
    pub utc_offset_secs: i32,
    pub quiet_hours: Option<QuietHours>,
    /// Registrations every message to this country must carry.
    pub require: Registrations,
}

/// A non-SMS fallback and the classes that may use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Fallback {
    pub channel: Channel,
    pub classes: ClassSet,
}

impl Fallback {
    pub fn for_class(&self, class: MessageClass) -> Option<Channel> {
        self.classes.contains(class).then_some(self.channel)
    }
}

/// A compiled route: every field is resolved (own value, else the parent prefix's, else the
/// defaults), so the router never walks up the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub prefix: PrefixKey,
    /// Line of `prefix:` in the file.
    pub line: u32,
    pub note: Option<String>,
    /// Candidates in the order written, per class.
    pub candidates: ByClass<Vec<CarrierId>>,
    pub fallback: Option<Fallback>,
    pub receipt_deadline: ByClass<Duration>,
    pub validity: ByClass<Duration>,
    pub max_attempts: ByClass<u8>,
    /// Whether a carrier already tried for this message may be tried again.
    pub allow_repeat: bool,
    /// Index into [`RouteTable::countries`].
    pub country: Option<usize>,
}

/// Router knobs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Policy {
    /// Share of first attempts sent to a candidate that is not first in its tier, so that a
    /// route that recovered is noticed.
    pub exploration: f64,
    /// Candidates whose health is within this of the best in their tier count as equally
    /// healthy, and cost decides among them.
    pub health_tolerance: f64,
    /// Below this health a candidate is ranked after every healthier one, whatever its tier.
    pub health_floor: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            exploration: 0.02,
            health_tolerance: 0.05,
            health_floor: 0.5,
        }
    }
}

/// The compiled, immutable routing table.
#[derive(Clone, Debug)]
pub struct RouteTable {
    source: PathBuf,
    currency: String,
    policy: Policy,
    carriers: Vec<Carrier>,
    by_name: HashMap<Arc<str>, CarrierId>,
    countries: Vec<Country>,
    routes: Vec<Route>,
    prefixes: PrefixMap<u32>,
    warnings: Vec<ConfigError>,
}

impl RouteTable {
    /// Reads, parses and validates a routes file.
    pub fn load(path: &Path) -> Result<RouteTable, ConfigError> {
        let raw = crate::config::load::<schema::RawFile>(path)?;
        build::build(path, raw)
    }

    /// Parses and validates routes YAML; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<RouteTable, ConfigError> {
        let raw = crate::config::parse::<schema::RawFile>(file, text)?;
        build::build(file, raw)
    }

    /// The route for `dest` (E.164 digits, no `+`): the longest matching prefix.
    #[inline]
    pub fn lookup(&self, dest: &[u8]) -> Option<&Route> {
        self.prefixes
            .longest_match(dest)
            .map(|(&i, _)| &self.routes[i as usize])
    }

    pub fn carrier(&self, id: CarrierId) -> &Carrier {
        &self.carriers[id.index()]
    }

    pub fn carrier_id(&self, name: &str) -> Option<CarrierId> {
        self.by_name.get(name).copied()
    }

    pub fn carriers(&self) -> &[Carrier] {
        &self.carriers
    }

    /// Routes in file order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn countries(&self) -> &[Country] {
        &self.countries
    }

    pub fn country_of(&self, route: &Route) -> Option<&Country> {
        route.country.map(|i| &self.countries[i])
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The file the table came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Things that are legal but probably not meant (a route identical to its parent, a
    /// carrier no route uses). `gannet check` prints them.
    pub fn warnings(&self) -> &[ConfigError] {
        &self.warnings
    }

    /// The receipt deadline for a message of `class` sent through `carrier` on `route`: the
    /// longer of the route's and the carrier's override. Both say "wait at least this long"
    /// (a slow destination, a slow extra hop), so an override only ever adds patience.
    pub fn receipt_deadline(
        &self,
        route: &Route,
        carrier: CarrierId,
        class: MessageClass,
    ) -> Duration {
        let own = route.receipt_deadline[class];
        self.carrier(carrier).receipt_deadline[class].map_or(own, |c| c.max(own))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_across_midnight() {
        // 21:00 to 09:00 at +05:30.
        let q = QuietHours {
            from_min: 21 * 60,
            to_min: 9 * 60,
            classes: ClassSet::of(&[MessageClass::Marketing]),
        };
        let ist = 5 * 3600 + 30 * 60;
        // 1970-01-02 03:30 UTC is 09:00 IST: allowed.
        assert_eq!(q.check(86_400 + 3 * 3600 + 1800, ist), None);
        // 03:29:59 UTC is 08:59:59 IST: quiet for one more second.
        let t = 86_400 + 3 * 3600 + 1799;
        assert_eq!(q.check(t, ist), Some(t + 1));
        // 15:30 UTC is 21:00 IST: quiet until 03:30 UTC next day.
        let t = 86_400 + 15 * 3600 + 1800;
        assert_eq!(q.check(t, ist), Some(t + 12 * 3600));
        // 15:29 UTC is 20:59 IST: allowed.
        assert_eq!(q.check(86_400 + 15 * 3600 + 1740, ist), None);
    }
}
