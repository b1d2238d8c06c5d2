//! The routes.yaml file as written: serde types only, every value that validation may refuse
//! kept [`Spanned`] so the error can name its line. [`super::build`] turns this into a
//! [`super::RouteTable`].

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{CarrierKind, Channel, Feature, MessageClass, Registration};
use crate::config::Spanned;
use crate::dlr::{IdStyle, ReceiptsFor};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub currency: Option<Spanned<String>>,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub defaults: RawDefaults,
    pub carriers: OrderedMap<Spanned<String>, RawCarrier>,
    #[serde(default)]
    pub countries: OrderedMap<Spanned<Digits>, RawCountry>,
    pub routes: Vec<RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub exploration: Option<Spanned<f64>>,
    pub health_tolerance: Option<Spanned<f64>>,
    pub health_floor: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    #[serde(default)]
    pub receipt_deadline: PerClass<Dur>,
    #[serde(default)]
    pub validity: PerClass<Dur>,
    #[serde(default)]
    pub max_attempts: PerClass<u8>,
}

/// A value per message class; the field names are the class names, so a misspelt class is an
/// unknown key with its line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PerClass<T> {
    pub otp: Option<Spanned<T>>,
    pub transactional: Option<Spanned<T>>,
    pub marketing: Option<Spanned<T>>,
}

impl<T> Default for PerClass<T> {
    fn default() -> Self {
        PerClass {
            otp: None,
            transactional: None,
            marketing: None,
        }
    }
}

impl<T> PerClass<T> {
    pub fn get(&self, class: MessageClass) -> Option<&Spanned<T>> {
        match class {
            MessageClass::Otp => self.otp.as_ref(),
            MessageClass::Transactional => self.transactional.as_ref(),
            MessageClass::Marketing => self.marketing.as_ref(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCarrier {
    pub kind: CarrierKind,
    pub reaches: Spanned<Vec<Spanned<Digits>>>,
    pub cost: Spanned<OrderedMap<Spanned<Digits>, Spanned<f64>>>,
    #[serde(default)]
    pub features: Vec<Feature>,
    #[serde(default)]
    pub receipt_deadline: PerClass<Dur>,
    #[serde(default)]
    pub receipts: RawReceipts,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReceipts {
    /// Both id styles at once, for carriers that use one style everywhere.
    pub ids: Option<IdStyle>,
    pub resp_ids: Option<IdStyle>,
    pub receipt_ids: Option<IdStyle>,
    #[serde(rename = "for")]
    pub receipts_for: Option<ReceiptsFor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCountry {
    pub name: Option<String>,
    pub utc_offset: Option<Spanned<String>>,
    pub quiet_hours: Option<RawQuietHours>,
    #[serde(default)]
    pub require: Vec<Registration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuietHours {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub classes: Option<Vec<MessageClass>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub prefix: Spanned<Digits>,
    #[serde(default)]
    pub note: Option<String>,
    pub candidates: Option<RawCandidates>,
    pub fallback: Option<Spanned<RawFallback>>,
    #[serde(default)]
    pub receipt_deadline: PerClass<Dur>,
    #[serde(default)]
    pub validity: PerClass<Dur>,
    #[serde(default)]
    pub max_attempts: PerClass<u8>,
    pub allow_repeat: Option<bool>,
}

pub(crate) type CarrierList = Spanned<Vec<Spanned<String>>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCandidates {
    pub default: Option<CarrierList>,
    pub otp: Option<CarrierList>,
    pub transactional: Option<CarrierList>,
    pub marketing: Option<CarrierList>,
}

impl RawCandidates {
    pub fn get(&self, class: MessageClass) -> Option<&CarrierList> {
        match class {
            MessageClass::Otp => self.otp.as_ref(),
            MessageClass::Transactional => self.transactional.as_ref(),
            MessageClass::Marketing => self.marketing.as_ref(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFallback {
    pub channel: Channel,
    pub classes: Option<Vec<MessageClass>>,
}

/// A duration written the human way (`30s`, `5m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::config::duration::deserialize(d).map(Dur)
    }
}

/// A digit string as written: YAML reads an unquoted `91` as a number, so both numbers and
/// strings are accepted here and checked for digits by validation (with its line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digits(pub String);

impl<'de> Deserialize<'de> for Digits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Digits;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string of digits")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Digits, E> {
                Ok(Digits(s.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Digits, E> {
                Ok(Digits(n.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Digits, E> {
                Ok(Digits(n.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A YAML mapping kept in file order with its keys' locations (a `HashMap` would lose both).
/// Duplicate keys are refused by the YAML parser itself.
#[derive(Debug)]
pub(crate) struct OrderedMap<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for OrderedMap<K, V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for Vis<K, V> {
            type Value = OrderedMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(m.size_hint().unwrap_or(0));
                while let Some(entry) = m.next_entry()? {
                    v.push(entry);
                }
                Ok(OrderedMap(v))
            }
        }
        d.deserialize_map(Vis(PhantomData))
    }
}
