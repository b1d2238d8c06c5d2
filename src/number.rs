//! Phone numbers: E.164 normalisation, country and number type.
//!
//! Every message that enters through the API carries a recipient typed by a person or copied
//! from a form, so this module turns "what people type" into one canonical E.164 string and
//! says what kind of line it is. The kind matters for money and delivery: a landline cannot
//! take an SMS (the OTP should go by voice instead), and premium-rate numbers are the classic
//! target of SMS pumping fraud, so they are refused unless a policy says otherwise.
//!
//! The numbering-plan knowledge comes from libphonenumber's metadata through `rlibphonenumber`;
//! this module adds a strict front end (which characters are accepted, `tel:`, `00`,
//! invisible marks pasted from right-to-left UIs), Mexico's pre-2019 dialling formats that the
//! current metadata no longer understands, typed errors, and a compact `Copy` result.
//!
//! ```
//! use gannet::number::{self, NumberType, SmsReachability};
//!
//! let n = number::parse("098765 43210", Some("IN")).unwrap();
//! assert_eq!(n.e164(), "+919876543210");
//! assert_eq!(n.number_type(), NumberType::Mobile);
//! assert_eq!(n.can_receive_sms(), SmsReachability::Yes);
//! ```

use std::fmt;
use std::str::FromStr;

use rlibphonenumber::{
    PHONE_NUMBER_UTIL, ParseError, PhoneNumber as RawNumber, PhoneNumberType, ValidationError,
    enums::Region,
};
use serde::Serialize;
use serde::ser::SerializeStruct;

/// Longest input accepted, in bytes. A formatted number with an international prefix, spaces
/// and brackets stays far below this; the cap keeps a hostile request from making us scan
/// megabytes of separators.
const MAX_INPUT_BYTES: usize = 256;

/// Most digits accepted before parsing: 15 (the E.164 maximum) plus the longest international
/// or trunk prefix people type in front of it (`0011` in Australia, `00xx` carrier selection in
/// Brazil, `044` in Mexico's old mobile format), with a little slack.
const MAX_RAW_DIGITS: usize = 20;

/// E.164 caps a number at 15 digits including the country code.
const MAX_E164_DIGITS: usize = 15;

/// Why a string is not an acceptable phone number.
///
/// The variants are data, not prose, so the HTTP API can return a machine-readable reason
/// (`{"reason": "invalid_for_region", "region": "GB"}`) and the CLI can print the message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NumberError {
    /// Nothing but whitespace or separators was given.
    #[error("no phone number given")]
    Empty,
    /// A character that never appears in a phone number: a letter (vanity numbers and
    /// extensions cannot receive SMS), `*`, `#`, `;`, or a `+` after the first digit.
    #[error("invalid character {ch:?} in phone number")]
    InvalidCharacters {
        /// The first offending character.
        ch: char,
    },
    /// Fewer digits than any number of the country.
    #[error("phone number is too short")]
    TooShort,
    /// More digits than any number of the country (or than E.164 allows).
    #[error("phone number is too long")]
    TooLong,
    /// The default country is not an ISO 3166 alpha-2 code with a numbering plan.
    #[error("unknown country {code:?}: expected an ISO 3166 alpha-2 code such as \"IN\"")]
    UnknownCountry {
        /// The code as given.
        code: String,
    },
    /// The digits after `+` (or `00`) do not start with any assigned country calling code.
    #[error("no country calling code starts with +{digits}")]
    UnknownCallingCode {
        /// Up to three leading digits after the international prefix.
        digits: String,
    },
    /// A national number (no `+` or `00`) was given without a default country to read it in.
    #[error("national number given without a default country: use the +<country code> form")]
    NoDefaultCountry,
    /// The length is plausible but the digits are not an assigned range of the country.
    #[error("not a valid phone number for {region}")]
    InvalidForRegion {
        /// ISO 3166 alpha-2 code, or `001` for non-geographic codes such as +800.
        region: String,
    },
    /// The number is premium rate and [`ParseOptions::allow_premium_rate`] is off.
    #[error("premium-rate numbers are refused (SMS pumping risk)")]
    PremiumRate,
}

/// What kind of line a number belongs to, from the numbering plan.
///
/// This is a property of the number range, not of the subscriber: ported numbers keep the
/// type of their original range, so `Mobile` is reliable for SMS but not a guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    /// A mobile range: SMS works.
    Mobile,
    /// A landline range: no SMS; use voice.
    FixedLine,
    /// The plan does not separate the two (the US, Canada, Mexico since 2019, ...).
    FixedLineOrMobile,
    /// Voice over IP; some providers take SMS, many do not.
    Voip,
    /// Free to call; not an SMS destination.
    TollFree,
    /// Expensive to reach; the classic SMS-pumping target.
    PremiumRate,
    /// Cost split between caller and callee.
    SharedCost,
    /// A follow-me number that forwards to another line (UK 070).
    PersonalNumber,
    /// Paging networks.
    Pager,
    /// Universal access numbers that route to a company's offices.
    Uan,
    /// Direct access to a voicemail box.
    Voicemail,
    /// The plan gives no type. `parse` never returns it (such numbers are invalid), but a
    /// number built from other sources may carry it.
    Unknown,
}

impl NumberType {
    /// The snake_case name also used in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mobile => "mobile",
            Self::FixedLine => "fixed_line",
            Self::FixedLineOrMobile => "fixed_line_or_mobile",
            Self::Voip => "voip",
            Self::TollFree => "toll_free",
            Self::PremiumRate => "premium_rate",
            Self::SharedCost => "shared_cost",
            Self::PersonalNumber => "personal_number",
            Self::Pager => "pager",
            Self::Uan => "uan",
            Self::Voicemail => "voicemail",
            Self::Unknown => "unknown",
        }
    }

    const fn from_raw(raw: PhoneNumberType) -> Self {
        match raw {
            PhoneNumberType::Mobile => Self::Mobile,
            PhoneNumberType::FixedLine => Self::FixedLine,
            PhoneNumberType::FixedLineOrMobile => Self::FixedLineOrMobile,
            PhoneNumberType::VoIP => Self::Voip,
            PhoneNumberType::TollFree => Self::TollFree,
            PhoneNumberType::PremiumRate => Self::PremiumRate,
            PhoneNumberType::SharedCost => Self::SharedCost,
            PhoneNumberType::PersonalNumber => Self::PersonalNumber,
            PhoneNumberType::Pager => Self::Pager,
            PhoneNumberType::UAN => Self::Uan,
            PhoneNumberType::VoiceMail => Self::Voicemail,
            PhoneNumberType::Unknown => Self::Unknown,
        }
    }
}

impl fmt::Display for NumberType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an SMS to a number can be expected to arrive, judged from its type alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsReachability {
    /// A mobile range.
    Yes,
    /// The plan cannot tell (fixed-line-or-mobile, VoIP, personal numbers): send and watch the
    /// delivery receipts.
    Maybe,
    /// Sending would waste money or feed fraud.
    No {
        /// Why, so routing can return a clear error or pick another channel.
        reason: NoSmsReason,
    },
}

/// Why a number cannot take SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoSmsReason {
    /// A landline: reach it by voice instead.
    FixedLine,
    /// Toll-free ranges are inbound service lines.
    TollFree,
    /// Premium-rate ranges bill the sender; SMS pumping targets them.
    PremiumRate,
    /// Shared-cost service lines.
    SharedCost,
    /// Company switchboards.
    Uan,
    /// Voicemail access numbers.
    Voicemail,
    /// Paging networks are not reachable through SMS centres.
    Pager,
}

impl NoSmsReason {
    /// Whether a voice call is the sensible fallback (a landline with a person at it), as
    /// opposed to a service number nobody answers with a code in hand.
    #[must_use]
    pub const fn voice_fallback(self) -> bool {
        matches!(self, Self::FixedLine)
    }

    /// The snake_case name also used in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FixedLine => "fixed_line",
            Self::TollFree => "toll_free",
            Self::PremiumRate => "premium_rate",
            Self::SharedCost => "shared_cost",
            Self::Uan => "uan",
            Self::Voicemail => "voicemail",
            Self::Pager => "pager",
        }
    }
}

impl fmt::Display for NoSmsReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated phone number in E.164 form, with its country and type.
///
/// Kept inline (no heap) and `Copy`: it travels with every message through queueing and
/// routing, and E.164 bounds it to 16 bytes with the plus.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    /// `+` followed by up to 15 ASCII digits; only `e164[..len]` is meaningful.
    e164: [u8; MAX_E164_DIGITS + 1],
    len: u8,
    country_code: u16,
    /// ISO 3166 alpha-2; `None` for non-geographic codes (+800, +882, ...).
    region: Option<[u8; 2]>,
    number_type: NumberType,
}

impl PhoneNumber {
    /// The E.164 form with the plus, e.g. `+919876543210`.
    #[must_use]
    pub fn e164(&self) -> &str {
        // Only ASCII digits and `+` are ever written, so this cannot fail; the empty fallback
        // avoids a panic path.
        std::str::from_utf8(&self.e164[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The E.164 digits without the plus, e.g. `919876543210`: the key for routing's prefix
    /// trie and the form SMPP carries with TON international.
    #[must_use]
    pub fn e164_digits(&self) -> &str {
        std::str::from_utf8(self.e164_digit_bytes()).unwrap_or_default()
    }

    /// [`Self::e164_digits`] as bytes, with no UTF-8 check at all: for the routing trie, which
    /// walks digits one byte at a time.
    #[must_use]
    pub fn e164_digit_bytes(&self) -> &[u8] {
        self.e164.get(1..usize::from(self.len)).unwrap_or_default()
    }

    /// The country calling code, e.g. 91.
    #[must_use]
    pub const fn country_code(&self) -> u16 {
        self.country_code
    }

    /// ISO 3166 alpha-2 region, e.g. `"IN"`; `None` for non-geographic numbers such as +800.
    /// Shared calling codes are resolved by the number: +1 416 is `CA`, +44 7911 is `GG`.
    #[must_use]
    pub fn region(&self) -> Option<&str> {
        self.region
            .as_ref()
            .and_then(|r| std::str::from_utf8(r).ok())
    }

    /// The type of the number's range.
    #[must_use]
    pub const fn number_type(&self) -> NumberType {
        self.number_type
    }

    /// Whether an SMS can be expected to arrive, judged from the number type.
    #[must_use]
    pub const fn can_receive_sms(&self) -> SmsReachability {
        let reason = match self.number_type {
            NumberType::Mobile => return SmsReachability::Yes,
            // Fixed-line-or-mobile is the whole of North America and Mexico; VoIP and
            // personal numbers often forward to a mobile. Unknown only arises for numbers not
            // produced by `parse`. All of them are worth a try with receipts watched.
            NumberType::FixedLineOrMobile
            | NumberType::Voip
            | NumberType::PersonalNumber
            | NumberType::Unknown => return SmsReachability::Maybe,
            NumberType::FixedLine => NoSmsReason::FixedLine,
            // US toll-free ranges can be text-enabled, but as a destination for one-time
            // codes they are service lines, not people.
            NumberType::TollFree => NoSmsReason::TollFree,
            NumberType::PremiumRate => NoSmsReason::PremiumRate,
            NumberType::SharedCost => NoSmsReason::SharedCost,
            NumberType::Uan => NoSmsReason::Uan,
            NumberType::Voicemail => NoSmsReason::Voicemail,
            NumberType::Pager => NoSmsReason::Pager,
        };
        SmsReachability::No { reason }
    }

    /// Whether the number is in a premium-rate range. Only reachable from `parse` when
    /// [`ParseOptions::allow_premium_rate`] is set.
    #[must_use]
    pub const fn is_premium_rate(&self) -> bool {
        matches!(self.number_type, NumberType::PremiumRate)
    }

    /// Whether the number is a landline: refuse SMS or switch to the voice channel.
    #[must_use]
    pub const fn is_fixed_line(&self) -> bool {
        matches!(self.number_type, NumberType::FixedLine)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneNumber")
            .field("e164", &self.e164())
            .field("country_code", &self.country_code)
            .field("region", &self.region())
            .field("number_type", &self.number_type)
            .finish()
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.e164())
    }
}

/// `"+447400123456".parse()`: international form only, default options.
impl FromStr for PhoneNumber {
    type Err = NumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s, None)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("PhoneNumber", 4)?;
        s.serialize_field("e164", self.e164())?;
        s.serialize_field("country_code", &self.country_code)?;
        s.serialize_field("region", &self.region())?;
        s.serialize_field("number_type", &self.number_type)?;
        s.end()
    }
}

/// Policy applied while parsing.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Accept premium-rate numbers. Off by default: they bill the sender and are the usual
    /// target of SMS pumping (artificially inflated traffic).
    pub allow_premium_rate: bool,
}

impl ParseOptions {
    /// Sets [`Self::allow_premium_rate`].
    #[must_use]
    pub const fn allow_premium_rate(mut self, allow: bool) -> Self {
        self.allow_premium_rate = allow;
        self
    }
}

/// Parses numbers under a fixed policy. Cheap to copy; the numbering metadata is shared
/// process-wide.
#[derive(Debug, Clone, Copy, Default)]
pub struct NumberParser {
    options: ParseOptions,
}

/// Loads the numbering metadata now rather than on the first request (about 5 ms). Per-country
/// patterns are still compiled on first use of each country.
pub fn warm_up() {
    std::sync::LazyLock::force(&PHONE_NUMBER_UTIL);
}

/// Parses with the default options (premium rate refused). See [`NumberParser::parse`].
///
/// # Errors
/// See [`NumberError`].
pub fn parse(input: &str, default_region: Option<&str>) -> Result<PhoneNumber, NumberError> {
    NumberParser::default().parse(input, default_region)
}

impl NumberParser {
    /// A parser applying `options`.
    #[must_use]
    pub const fn new(options: ParseOptions) -> Self {
        Self { options }
    }

    /// The policy in force.
    #[must_use]
    pub const fn options(&self) -> ParseOptions {
        self.options
    }

    /// Normalises `input` to E.164 and classifies it.
    ///
    /// `default_region` (ISO 3166 alpha-2, any case) is the country a national number such as
    /// `020 7946 0958` is read in; its own international prefix (`011` in the US) is honoured.
    /// `+` always introduces an international number; so does a leading `00` when there is no
    /// default country or the default country's reading is not valid.
    ///
    /// Accepted besides digits (ASCII and the common native scripts: Devanagari, Arabic-Indic,
    /// full-width, ...): whitespace, `-` `.` `/` `(` `)` `[` `]` and their typographic
    /// variants, invisible direction marks, a leading `tel:`.
    ///
    /// # Errors
    /// [`NumberError`] names the reason; an unknown `default_region` is reported even when the
    /// number is international, because it is a configuration fault worth surfacing.
    pub fn parse(
        &self,
        input: &str,
        default_region: Option<&str>,
    ) -> Result<PhoneNumber, NumberError> {
        let region = default_region.map(resolve_region).transpose()?;
        let digits = Digits::normalise(input)?;

        let number = if digits.plus {
            // `+00 44 …`: both international markers typed at once. No calling code starts
            // with 0, so dropping the `00` cannot change a valid reading.
            let after_plus = digits.digits();
            parse_international(after_plus.strip_prefix("00").unwrap_or(after_plus))?
        } else if let Some(after_idd) = digits.digits().strip_prefix("00") {
            // `00` is the ITU-recommended international prefix and what most of the world
            // types. Read in the default region first so its own rules win (Brazil's `00`+
            // carrier code, a national range that happens to start with 0); if that yields
            // nothing valid, the leading `00` meant "international".
            match region {
                Some(region) => parse_national(digits.digits(), region)
                    .or_else(|_| parse_international(after_idd))?,
                None => parse_international(after_idd)?,
            }
        } else {
            let region = region.ok_or(NumberError::NoDefaultCountry)?;
            parse_national(digits.digits(), region)?
        };

        if number.is_premium_rate() && !self.options.allow_premium_rate {
            return Err(NumberError::PremiumRate);
        }
        Ok(number)
    }
}

fn resolve_region(code: &str) -> Result<Region, NumberError> {
    let unknown = || NumberError::UnknownCountry {
        code: code.to_owned(),
    };
    let region = Region::from_code(code).map_err(|_| unknown())?;
    // Every pair of letters maps to a `Region`; only those with a numbering plan have a
    // calling code.
    if PHONE_NUMBER_UTIL
        .get_country_code_for_region(region)
        .is_none()
    {
        return Err(unknown());
    }
    Ok(region)
}

/// `digits` follow an international prefix (`+` or `00`).
fn parse_international(digits: &str) -> Result<PhoneNumber, NumberError> {
    // `+` plus at most MAX_RAW_DIGITS digits, built on the stack.
    let mut buf = [0u8; MAX_RAW_DIGITS + 1];
    let n = digits.len().min(MAX_RAW_DIGITS);
    buf[0] = b'+';
    buf[1..=n].copy_from_slice(&digits.as_bytes()[..n]);
    let with_plus = std::str::from_utf8(&buf[..=n]).map_err(|_| NumberError::TooLong)?;

    match PHONE_NUMBER_UTIL.parse(with_plus, None) {
        Ok(raw) => classify(&raw),
        Err(ParseError::InvalidCountryCode) => Err(NumberError::UnknownCallingCode {
            digits: digits.chars().take(3).collect(),
        }),
        Err(e) => Err(map_parse_error(&e)),
    }
}

/// `digits` are national (or international after the region's own prefix, e.g. US `011`).
fn parse_national(digits: &str, region: Region) -> Result<PhoneNumber, NumberError> {
    match PHONE_NUMBER_UTIL.parse(digits, Some(region)) {
        Ok(raw) => classify(&raw),
        // The region's own international prefix was followed by no known calling code
        // (`011 999 …` in the US). The library does not say where its prefix ended, so report
        // the number as invalid where it was read rather than guess the digits.
        Err(ParseError::InvalidCountryCode) => Err(NumberError::InvalidForRegion {
            region: region.as_region_str().to_string(),
        }),
        Err(e) => Err(map_parse_error(&e)),
    }
}

fn map_parse_error(e: &ParseError) -> NumberError {
    match e {
        ParseError::TooLongNsn => NumberError::TooLong,
        // NotANumber needs fewer than three digits once our own filter has run, so it is a
        // length problem too.
        ParseError::TooShortNsn | ParseError::TooShortAfterIdd | ParseError::NotANumber(_) => {
            NumberError::TooShort
        }
        // Callers handle this one with the context they have.
        ParseError::InvalidCountryCode => NumberError::UnknownCallingCode {
            digits: String::new(),
        },
    }
}

/// Validates a parsed number and builds the result. Valid means "matches a typed range of
/// its region", which is exactly "type is not Unknown" in libphonenumber.
fn classify(raw: &RawNumber) -> Result<PhoneNumber, NumberError> {
    let util = &*PHONE_NUMBER_UTIL;
    let region = util.get_region_for_number(raw);
    let raw_type = match region {
        Some(_) => util.get_number_type(raw),
        None => PhoneNumberType::Unknown,
    };
    if raw_type == PhoneNumberType::Unknown {
        // Mexico dropped its `01`/`044`/`045` prefixes and the `+52 1` mobile marker in 2019
        // and the metadata followed, but people and old address books still use them.
        if raw.country_code == 52
            && let Some(modern) = mexico_legacy(raw)
        {
            return classify(&modern);
        }
        return Err(invalid_reason(raw, region));
    }

    let (e164, len) = write_e164(raw).ok_or(NumberError::TooLong)?;
    let region = region.filter(|r| *r != Region::World).and_then(|r| {
        let s = r.as_region_str();
        match s.as_bytes() {
            &[a, b] => Some([a, b]),
            _ => None,
        }
    });
    Ok(PhoneNumber {
        e164,
        len,
        country_code: u16::try_from(raw.country_code).map_err(|_| NumberError::TooLong)?,
        region,
        number_type: NumberType::from_raw(raw_type),
    })
}

/// E.164 is `+`, the calling code and the national significant number (with the leading zeros
/// Italy and a few others keep). Written straight into the inline buffer: the library's
/// formatter would allocate a `String` per message only for us to copy it. `None` if the
/// result would exceed 15 digits.
fn write_e164(raw: &RawNumber) -> Option<([u8; MAX_E164_DIGITS + 1], u8)> {
    let mut buf = [0u8; MAX_E164_DIGITS + 1];
    buf[0] = b'+';
    let mut len = 1;
    let mut push = |digits: &[u8]| {
        let end = len + digits.len();
        buf.get_mut(len..end)?.copy_from_slice(digits);
        len = end;
        Some(())
    };
    let mut scratch = [0u8; 20];
    push(decimal(u64::try_from(raw.country_code).ok()?, &mut scratch))?;
    if raw.italian_leading_zero() {
        // The library caps the count the same way when formatting.
        let zeros = usize::try_from(raw.number_of_leading_zeros())
            .unwrap_or(0)
            .min(10);
        push(&[b'0'; 10][..zeros])?;
    }
    push(decimal(raw.national_number, &mut scratch))?;
    Some((buf, u8::try_from(len).ok()?))
}

/// The decimal digits of `value`, written at the end of `scratch`.
fn decimal(mut value: u64, scratch: &mut [u8; 20]) -> &[u8] {
    // u64::MAX has 20 digits, so the loop never runs past the front.
    let mut start = scratch.len();
    loop {
        start -= 1;
        scratch[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &scratch[start..]
}

fn invalid_reason(raw: &RawNumber, region: Option<Region>) -> NumberError {
    let util = &*PHONE_NUMBER_UTIL;
    match util.is_possible_number_with_reason(raw) {
        Err(ValidationError::TooShort) => NumberError::TooShort,
        Err(ValidationError::TooLong) => NumberError::TooLong,
        Err(ValidationError::InvalidCountryCode) => NumberError::UnknownCallingCode {
            digits: raw.country_code.to_string(),
        },
        Ok(_) | Err(ValidationError::InvalidLength) => {
            // A shared calling code (+1, +44, +7) with digits no member claims has no region:
            // name the calling code's main country.
            let region = region.or_else(|| util.get_region_for_country_code(raw.country_code));
            NumberError::InvalidForRegion {
                region: region.map_or_else(
                    || format!("+{}", raw.country_code),
                    |r| r.as_region_str().to_string(),
                ),
            }
        }
    }
}

/// Rewrites Mexico's pre-2019 formats to the current national number: `01` (national trunk
/// prefix), `044`/`045` (mobile, local and long distance) and `+52 1` (the mobile marker in
/// international form). Current national numbers start with 2-9, so none of these prefixes
/// can be mistaken for the start of one. The length is left to `classify`, so a legacy number
/// missing a digit is reported as too short rather than as an odd 11-digit number.
fn mexico_legacy(raw: &RawNumber) -> Option<RawNumber> {
    let nsn = raw.get_national_significant_number();
    let rest = ["044", "045", "01", "1"]
        .iter()
        .find_map(|prefix| nsn.strip_prefix(prefix))?;
    if !rest.starts_with(|c: char| matches!(c, '2'..='9')) {
        return None;
    }
    Some(RawNumber {
        country_code: 52,
        national_number: rest.parse().ok()?,
        ..RawNumber::default()
    })
}

/// The digits of an input after the front-end filter, as ASCII, with whether a `+` led them.
struct Digits {
    plus: bool,
    len: usize,
    buf: [u8; MAX_RAW_DIGITS],
}

impl Digits {
    fn normalise(input: &str) -> Result<Self, NumberError> {
        if input.len() > MAX_INPUT_BYTES {
            return Err(NumberError::TooLong);
        }
        let trimmed = input.trim_start_matches(is_ignorable);
        // RFC 3966 global numbers (`tel:+1-201-555-0123`) come from links and vCards.
        let body = match trimmed.get(..4) {
            Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => trimmed.get(4..).unwrap_or(""),
            _ => trimmed,
        };

        let mut out = Self {
            plus: false,
            len: 0,
            buf: [0; MAX_RAW_DIGITS],
        };
        for ch in body.chars() {
            if let Some(d) = digit_value(ch) {
                if out.len == MAX_RAW_DIGITS {
                    return Err(NumberError::TooLong);
                }
                out.buf[out.len] = b'0' + d;
                out.len += 1;
            } else if matches!(ch, '+' | '\u{FF0B}') {
                // One plus, before the first digit.
                if out.plus || out.len > 0 {
                    return Err(NumberError::InvalidCharacters { ch });
                }
                out.plus = true;
            } else if !is_ignorable(ch) {
                return Err(NumberError::InvalidCharacters { ch });
            }
        }
        if out.len == 0 {
            return Err(NumberError::Empty);
        }
        Ok(out)
    }

    fn digits(&self) -> &str {
        // Only ASCII digits are written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Separators people put between digit groups, and invisible marks that copy-paste from
/// right-to-left UIs, spreadsheets and word processors brings along.
fn is_ignorable(ch: char) -> bool {
    ch.is_whitespace()
        || matches!(
            ch,
            '-' | '.'
                | '/'
                | '('
                | ')'
                | '['
                | ']'
                // Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar.
                | '\u{2010}'..='\u{2015}'
                // Minus sign.
                | '\u{2212}'
                // Full-width (, ), -, ., / from East Asian input methods.
                | '\u{FF08}'
                | '\u{FF09}'
                | '\u{FF0D}'
                | '\u{FF0E}'
                | '\u{FF0F}'
                // Soft hyphen.
                | '\u{00AD}'
                // Zero-width space/joiners, left-to-right and right-to-left marks.
                | '\u{200B}'..='\u{200F}'
                // Bidirectional embeddings and overrides.
                | '\u{202A}'..='\u{202E}'
                // Word joiner, invisible operators, bidirectional isolates.
                | '\u{2060}'..='\u{2069}'
                // Byte-order mark / zero-width no-break space.
                | '\u{FEFF}'
        )
}

/// Decimal digits in the scripts our users type numbers in: ASCII, Arabic-Indic (Arabic
/// keyboards), Extended Arabic-Indic (Persian, Urdu), the Indian scripts, South-East Asian
/// scripts, and full-width (Chinese/Japanese IMEs). Each block is ten consecutive code points
/// starting at zero.
fn digit_value(ch: char) -> Option<u8> {
    const ZEROS: [u32; 19] = [
        0x0660, // Arabic-Indic
        0x06F0, // Extended Arabic-Indic
        0x07C0, // NKo
        0x0966, // Devanagari
        0x09E6, // Bengali
        0x0A66, // Gurmukhi
        0x0AE6, // Gujarati
        0x0B66, // Oriya
        0x0BE6, // Tamil
        0x0C66, // Telugu
        0x0CE6, // Kannada
        0x0D66, // Malayalam
        0x0E50, // Thai
        0x0ED0, // Lao
        0x0F20, // Tibetan
        0x1040, // Myanmar
        0x17E0, // Khmer
        0x1810, // Mongolian
        0xFF10, // Full-width
    ];
    if ch.is_ascii_digit() {
        return Some(ch as u8 - b'0');
    }
    let cp = u32::from(ch);
    if cp < ZEROS[0] {
        return None;
    }
    ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&cp))
        .and_then(|&zero| u8::try_from(cp - zero).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Result<(bool, String), NumberError> {
        Digits::normalise(s).map(|d| (d.plus, d.digits().to_owned()))
    }

    #[test]
    fn normalise_strips_separators_and_marks() {
        assert_eq!(
            norm(" +44 (0)20-7946.0958 "),
            Ok((true, "4402079460958".into()))
        );
        assert_eq!(
            norm("\u{200F}+91\u{00A0}98765\u{2011}43210\u{200E}"),
            Ok((true, "919876543210".into()))
        );
        assert_eq!(
            norm("TEL:+1-201-555-0123"),
            Ok((true, "12015550123".into()))
        );
        assert_eq!(norm("[020] 7946 0958"), Ok((false, "02079460958".into())));
    }

    #[test]
    fn normalise_native_digits() {
        assert_eq!(norm("०९८७६५४३२१०"), Ok((false, "09876543210".into())));
        assert_eq!(norm("٠١٢٣٤٥٦٧٨٩"), Ok((false, "0123456789".into())));
        assert_eq!(norm("۰۹۱۲"), Ok((false, "0912".into())));
        assert_eq!(norm("＋４４"), Ok((true, "44".into())));
    }

    #[test]
    fn normalise_rejects() {
        assert_eq!(norm(""), Err(NumberError::Empty));
        assert_eq!(norm(" - ( ) "), Err(NumberError::Empty));
        assert_eq!(norm("+"), Err(NumberError::Empty));
        assert_eq!(
            norm("1-800-FLOWERS"),
            Err(NumberError::InvalidCharacters { ch: 'F' })
        );
        assert_eq!(
            norm("44+20"),
            Err(NumberError::InvalidCharacters { ch: '+' })
        );
        assert_eq!(
            norm("++44"),
            Err(NumberError::InvalidCharacters { ch: '+' })
        );
        assert_eq!(
            norm("*123#"),
            Err(NumberError::InvalidCharacters { ch: '*' })
        );
        assert_eq!(
            norm("tel:+1-201-555-0123;ext=1"),
            Err(NumberError::InvalidCharacters { ch: ';' })
        );
        assert_eq!(norm(&"1".repeat(21)), Err(NumberError::TooLong));
        assert_eq!(norm(&" ".repeat(300)), Err(NumberError::TooLong));
    }

    #[test]
    fn digit_blocks_are_exact() {
        assert_eq!(digit_value('9'), Some(9));
        assert_eq!(digit_value('\u{0669}'), Some(9));
        assert_eq!(digit_value('\u{066A}'), None); // Arabic percent sign, just past the block
        assert_eq!(digit_value('\u{FF19}'), Some(9));
        assert_eq!(digit_value('a'), None);
    }

    #[test]
    fn own_e164_matches_library_formatter() {
        use rlibphonenumber::PhoneNumberFormat;
        // Italy keeps the leading zero of Rome's 06 in E.164; +800 and +979 are non-geographic.
        for input in [
            "+39 06 1234 5678",
            "+39 0 12 345 678",
            "+44 20 7946 0958",
            "+1 201 555 0123",
            "+800 1234 5678",
            "+979 1 2345 6789",
            "+225 01 23 45 67 89",
        ] {
            let raw = PHONE_NUMBER_UTIL.parse(input, None).unwrap();
            let (buf, len) = write_e164(&raw).unwrap();
            let ours = std::str::from_utf8(&buf[..usize::from(len)]).unwrap();
            assert_eq!(
                ours,
                PHONE_NUMBER_UTIL.format(&raw, PhoneNumberFormat::E164),
                "{input}"
            );
        }
    }

    #[test]
    fn e164_longer_than_15_digits_is_refused() {
        let raw = RawNumber {
            country_code: 44,
            national_number: 12_345_678_901_234,
            ..RawNumber::default()
        };
        assert_eq!(write_e164(&raw), None);
    }

    #[test]
    fn phone_number_stays_small() {
        assert!(size_of::<PhoneNumber>() <= 24);
    }
}
