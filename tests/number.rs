//! Phone-number normalisation and classification against libphonenumber's metadata.
//!
//! The numbers are libphonenumber's own example numbers, Ofcom's ranges reserved for drama
//! (020 7946 0xxx, 0808 157 0xxx, 0909 879 0xxx), or the placeholder patterns used in every
//! tutorial (+91 98765 43210, 201-555-0123), never real subscribers.

use gannet::number::{
    self, NoSmsReason, NumberError, NumberParser, NumberType, ParseOptions, PhoneNumber,
    SmsReachability,
};

/// Parses and checks E.164, country calling code, region and type in one go.
#[track_caller]
fn check(input: &str, region: Option<&str>, e164: &str, cc: u16, iso: &str, ty: NumberType) {
    let n = number::parse(input, region)
        .unwrap_or_else(|e| panic!("{input:?} in {region:?} should parse, got {e:?}"));
    assert_eq!(n.e164(), e164, "{input:?}");
    assert_eq!(n.country_code(), cc, "{input:?}");
    assert_eq!(n.region(), Some(iso), "{input:?}");
    assert_eq!(n.number_type(), ty, "{input:?}");
}

#[track_caller]
fn fails(input: &str, region: Option<&str>, expected: NumberError) {
    assert_eq!(
        number::parse(input, region),
        Err(expected),
        "{input:?} in {region:?}"
    );
}

#[test]
fn india_mobile_and_delhi_landline() {
    check(
        "+91 98765 43210",
        None,
        "+919876543210",
        91,
        "IN",
        NumberType::Mobile,
    );
    check(
        "098765 43210",
        Some("IN"),
        "+919876543210",
        91,
        "IN",
        NumberType::Mobile,
    );
    check(
        "81234-56789",
        Some("IN"),
        "+918123456789",
        91,
        "IN",
        NumberType::Mobile,
    );
    // Country code typed without the plus: recognised because 12 digits are too long for an
    // Indian national number but fit once 91 is taken as the calling code.
    check(
        "919876543210",
        Some("IN"),
        "+919876543210",
        91,
        "IN",
        NumberType::Mobile,
    );
    // The trunk 0 written after the country code, a common habit.
    check(
        "+91 (0) 98765 43210",
        None,
        "+919876543210",
        91,
        "IN",
        NumberType::Mobile,
    );
    // Delhi: area code 11, trunk prefix 0.
    check(
        "011 2345 6789",
        Some("IN"),
        "+911123456789",
        91,
        "IN",
        NumberType::FixedLine,
    );
    check(
        "+91-11-2345-6789",
        None,
        "+911123456789",
        91,
        "IN",
        NumberType::FixedLine,
    );
    check(
        "+91 1800 123 4567",
        None,
        "+9118001234567",
        91,
        "IN",
        NumberType::TollFree,
    );
}

#[test]
fn india_native_digits() {
    // Devanagari digits, as typed on a Hindi keyboard.
    check(
        "०९८७६५ ४३२१०",
        Some("IN"),
        "+919876543210",
        91,
        "IN",
        NumberType::Mobile,
    );
    check(
        "+९१ ९८७६५ ४३२१०",
        None,
        "+919876543210",
        91,
        "IN",
        NumberType::Mobile,
    );
}

#[test]
fn mexico_has_no_mobile_fixed_distinction() {
    // Since the 2019 numbering reform Mexico dials every number as 10 digits and the
    // metadata gives mobile and fixed-line ranges the same patterns, so a Mexico City number
    // (55) and libphonenumber's example mobile (222) both come out as fixed-line-or-mobile:
    // SMS is worth sending, with receipts watched.
    check(
        "+52 55 1234 5678",
        None,
        "+525512345678",
        52,
        "MX",
        NumberType::FixedLineOrMobile,
    );
    check(
        "55 1234 5678",
        Some("MX"),
        "+525512345678",
        52,
        "MX",
        NumberType::FixedLineOrMobile,
    );
    check(
        "+52 222 123 4567",
        None,
        "+522221234567",
        52,
        "MX",
        NumberType::FixedLineOrMobile,
    );
    check(
        "+52 800 123 4567",
        None,
        "+528001234567",
        52,
        "MX",
        NumberType::TollFree,
    );
    let n = number::parse("+52 55 1234 5678", None).unwrap();
    assert_eq!(n.can_receive_sms(), SmsReachability::Maybe);
}

#[test]
fn mexico_pre_2019_formats() {
    let cdmx = "+525512345678";
    let ty = NumberType::FixedLineOrMobile;
    // `+52 1` mobile marker in international form.
    check("+52 1 55 1234 5678", None, cdmx, 52, "MX", ty);
    check("00 52 1 55 1234 5678", None, cdmx, 52, "MX", ty);
    check("+52 1 222 123 4567", None, "+522221234567", 52, "MX", ty);
    // `01` national trunk prefix.
    check("01 55 1234 5678", Some("MX"), cdmx, 52, "MX", ty);
    check(
        "01 800 123 4567",
        Some("MX"),
        "+528001234567",
        52,
        "MX",
        NumberType::TollFree,
    );
    // `044` (local mobile) and `045` (long-distance mobile).
    check("044 55 1234 5678", Some("MX"), cdmx, 52, "MX", ty);
    check("045 55 1234 5678", Some("MX"), cdmx, 52, "MX", ty);
    // Mexico's own international prefix.
    check("0052 55 1234 5678", Some("MX"), cdmx, 52, "MX", ty);
    // A legacy prefix in front of too few digits stays an error.
    fails("01 55 1234 567", Some("MX"), NumberError::TooShort);
    fails("+52 1 55 1234 567", None, NumberError::TooShort);
    fails("044 55 1234 56789", Some("MX"), NumberError::TooLong);
}

#[test]
fn united_states_and_canada() {
    // NANP numbers cannot be told apart as mobile or landline from the digits.
    check(
        "+1 201-555-0123",
        None,
        "+12015550123",
        1,
        "US",
        NumberType::FixedLineOrMobile,
    );
    check(
        "(201) 555-0123",
        Some("US"),
        "+12015550123",
        1,
        "US",
        NumberType::FixedLineOrMobile,
    );
    check(
        "1 201 555 0123",
        Some("us"),
        "+12015550123",
        1,
        "US",
        NumberType::FixedLineOrMobile,
    );
    check(
        "201.555.0123",
        Some("US"),
        "+12015550123",
        1,
        "US",
        NumberType::FixedLineOrMobile,
    );
    // +1 is shared; the area code decides the region.
    check(
        "+1 204 234 5678",
        None,
        "+12042345678",
        1,
        "CA",
        NumberType::FixedLineOrMobile,
    );
    check(
        "+1 800 234 5678",
        None,
        "+18002345678",
        1,
        "US",
        NumberType::TollFree,
    );
    check(
        "tel:+1-201-555-0123",
        None,
        "+12015550123",
        1,
        "US",
        NumberType::FixedLineOrMobile,
    );
    let n = number::parse("+1 201 555 0123", None).unwrap();
    assert_eq!(n.can_receive_sms(), SmsReachability::Maybe);
}

#[test]
fn united_kingdom() {
    check(
        "07400 123456",
        Some("GB"),
        "+447400123456",
        44,
        "GB",
        NumberType::Mobile,
    );
    check(
        "+44 7400 123456",
        None,
        "+447400123456",
        44,
        "GB",
        NumberType::Mobile,
    );
    check(
        "020 7946 0958",
        Some("GB"),
        "+442079460958",
        44,
        "GB",
        NumberType::FixedLine,
    );
    check(
        "(020) 7946-0958",
        Some("GB"),
        "+442079460958",
        44,
        "GB",
        NumberType::FixedLine,
    );
    // The British "(0)" convention in international form.
    check(
        "+44 (0)20 7946 0958",
        None,
        "+442079460958",
        44,
        "GB",
        NumberType::FixedLine,
    );
    check(
        "0808 157 0192",
        Some("GB"),
        "+448081570192",
        44,
        "GB",
        NumberType::TollFree,
    );
    check(
        "+44 70 1234 5678",
        None,
        "+447012345678",
        44,
        "GB",
        NumberType::PersonalNumber,
    );
    // +44 7911 is a Guernsey mobile block: same calling code, different region.
    check(
        "+44 7911 123456",
        None,
        "+447911123456",
        44,
        "GG",
        NumberType::Mobile,
    );
}

#[test]
fn germany() {
    check(
        "+49 1512 3456789",
        None,
        "+4915123456789",
        49,
        "DE",
        NumberType::Mobile,
    );
    check(
        "01512 3456789",
        Some("DE"),
        "+4915123456789",
        49,
        "DE",
        NumberType::Mobile,
    );
    check(
        "030 123456",
        Some("DE"),
        "+4930123456",
        49,
        "DE",
        NumberType::FixedLine,
    );
    check(
        "0800 1234567890",
        Some("DE"),
        "+498001234567890",
        49,
        "DE",
        NumberType::TollFree,
    );
}

#[test]
fn brazil() {
    check(
        "+55 11 96123-4567",
        None,
        "+5511961234567",
        55,
        "BR",
        NumberType::Mobile,
    );
    check(
        "(11) 96123-4567",
        Some("BR"),
        "+5511961234567",
        55,
        "BR",
        NumberType::Mobile,
    );
    check(
        "(11) 2345-6789",
        Some("BR"),
        "+551123456789",
        55,
        "BR",
        NumberType::FixedLine,
    );
    // Trunk 0 plus a long-distance carrier selection code (21) in front of the area code.
    check(
        "0 21 11 2345-6789",
        Some("BR"),
        "+551123456789",
        55,
        "BR",
        NumberType::FixedLine,
    );
}

#[test]
fn nigeria() {
    check(
        "+234 802 123 4567",
        None,
        "+2348021234567",
        234,
        "NG",
        NumberType::Mobile,
    );
    check(
        "0802 123 4567",
        Some("NG"),
        "+2348021234567",
        234,
        "NG",
        NumberType::Mobile,
    );
    check(
        "0203 312 3456",
        Some("NG"),
        "+2342033123456",
        234,
        "NG",
        NumberType::FixedLine,
    );
}

#[test]
fn honduras_and_el_salvador() {
    // Neither has a trunk prefix: the national number is the 8 digits.
    check(
        "+504 9123-4567",
        None,
        "+50491234567",
        504,
        "HN",
        NumberType::Mobile,
    );
    check(
        "2212-3456",
        Some("HN"),
        "+50422123456",
        504,
        "HN",
        NumberType::FixedLine,
    );
    check(
        "+503 7012 3456",
        None,
        "+50370123456",
        503,
        "SV",
        NumberType::Mobile,
    );
    check(
        "2123 4567",
        Some("SV"),
        "+50321234567",
        503,
        "SV",
        NumberType::FixedLine,
    );
}

#[test]
fn poland_and_spain() {
    check(
        "+48 512 345 678",
        None,
        "+48512345678",
        48,
        "PL",
        NumberType::Mobile,
    );
    check(
        "12 345 67 89",
        Some("PL"),
        "+48123456789",
        48,
        "PL",
        NumberType::FixedLine,
    );
    check(
        "+34 612 34 56 78",
        None,
        "+34612345678",
        34,
        "ES",
        NumberType::Mobile,
    );
    check(
        "810 12 34 56",
        Some("ES"),
        "+34810123456",
        34,
        "ES",
        NumberType::FixedLine,
    );
}

#[test]
fn italian_leading_zero_is_kept() {
    // Italian landlines keep the 0 after the country code; dropping it dials another number.
    check(
        "06 1234 5678",
        Some("IT"),
        "+390612345678",
        39,
        "IT",
        NumberType::FixedLine,
    );
    check(
        "+39 312 345 6789",
        None,
        "+393123456789",
        39,
        "IT",
        NumberType::Mobile,
    );
}

#[test]
fn international_prefixes() {
    let london = "+442079460958";
    let ty = NumberType::FixedLine;
    // `00` with no default country, with one whose prefix is 00, and with one whose prefix
    // is not (the US dials 011, so `00` there is read as international on second try).
    check("00 44 20 7946 0958", None, london, 44, "GB", ty);
    check("0044 20 7946 0958", Some("GB"), london, 44, "GB", ty);
    check("0044 20 7946 0958", Some("US"), london, 44, "GB", ty);
    check("0044 20 7946 0958", Some("IN"), london, 44, "GB", ty);
    // The default country's own international prefix.
    check("011 44 20 7946 0958", Some("US"), london, 44, "GB", ty);
    // Both markers at once.
    check("+0044 20 7946 0958", None, london, 44, "GB", ty);
    // An international number ignores the default country.
    check("+44 20 7946 0958", Some("IN"), london, 44, "GB", ty);
}

#[test]
fn separators_and_pasted_marks() {
    let ty = NumberType::Mobile;
    check(
        " +44\u{00A0}7400\u{2011}123456 ",
        None,
        "+447400123456",
        44,
        "GB",
        ty,
    );
    // Right-to-left marks around a number copied from an Arabic UI.
    check(
        "\u{200F}+91 98765 43210\u{200F}",
        None,
        "+919876543210",
        91,
        "IN",
        ty,
    );
    check("+44/7400.123-456", None, "+447400123456", 44, "GB", ty);
    check(
        "＋４４ ７４００ １２３４５６",
        None,
        "+447400123456",
        44,
        "GB",
        ty,
    );
}

#[test]
fn non_geographic_numbers_have_no_region() {
    let n = number::parse("+800 1234 5678", None).unwrap();
    assert_eq!(n.e164(), "+80012345678");
    assert_eq!(n.country_code(), 800);
    assert_eq!(n.region(), None);
    assert_eq!(n.number_type(), NumberType::TollFree);
}

#[test]
fn premium_rate_refused_by_default() {
    fails("0909 879 0000", Some("GB"), NumberError::PremiumRate);
    fails("+1 900 234 5678", None, NumberError::PremiumRate);

    let lenient = NumberParser::new(ParseOptions::default().allow_premium_rate(true));
    assert!(lenient.options().allow_premium_rate);
    let n = lenient.parse("0909 879 0000", Some("GB")).unwrap();
    assert_eq!(n.e164(), "+449098790000");
    assert_eq!(n.number_type(), NumberType::PremiumRate);
    assert!(n.is_premium_rate());
    assert_eq!(
        n.can_receive_sms(),
        SmsReachability::No {
            reason: NoSmsReason::PremiumRate
        }
    );
}

#[test]
fn sms_reachability_by_type() {
    let mobile = number::parse("07400 123456", Some("GB")).unwrap();
    assert_eq!(mobile.can_receive_sms(), SmsReachability::Yes);
    assert!(!mobile.is_fixed_line());
    assert!(!mobile.is_premium_rate());

    // A landline: no SMS, but a person answers, so voice is the fallback.
    let landline = number::parse("011 2345 6789", Some("IN")).unwrap();
    assert!(landline.is_fixed_line());
    let SmsReachability::No { reason } = landline.can_receive_sms() else {
        panic!("landline reported as SMS-capable");
    };
    assert_eq!(reason, NoSmsReason::FixedLine);
    assert!(reason.voice_fallback());
    assert_eq!(reason.to_string(), "fixed_line");

    let toll_free = number::parse("0808 157 0192", Some("GB")).unwrap();
    assert_eq!(
        toll_free.can_receive_sms(),
        SmsReachability::No {
            reason: NoSmsReason::TollFree
        }
    );
    assert!(!NoSmsReason::TollFree.voice_fallback());

    let personal = number::parse("+44 70 1234 5678", None).unwrap();
    assert_eq!(personal.can_receive_sms(), SmsReachability::Maybe);
}

#[test]
fn e164_digits_for_routing() {
    let n = number::parse("+91 98765 43210", None).unwrap();
    assert_eq!(n.e164_digits(), "919876543210");
    assert_eq!(n.e164_digit_bytes(), b"919876543210");
    assert_eq!(n.to_string(), "+919876543210");
    let parsed: PhoneNumber = "+1 201 555 0123".parse().unwrap();
    assert_eq!(parsed.e164_digits(), "12015550123");
    assert_eq!(
        "020 7946 0958".parse::<PhoneNumber>(),
        Err(NumberError::NoDefaultCountry)
    );
}

#[test]
fn json_shape() {
    let n = number::parse("+1 201 555 0123", None).unwrap();
    assert_eq!(
        serde_json::to_string(&n).unwrap(),
        r#"{"e164":"+12015550123","country_code":1,"region":"US","number_type":"fixed_line_or_mobile"}"#
    );
    let n = number::parse("+800 1234 5678", None).unwrap();
    assert_eq!(
        serde_json::to_string(&n).unwrap(),
        r#"{"e164":"+80012345678","country_code":800,"region":null,"number_type":"toll_free"}"#
    );
    assert_eq!(
        serde_json::to_string(&NumberType::Voip).unwrap(),
        r#""voip""#
    );
    assert_eq!(NumberType::PersonalNumber.to_string(), "personal_number");
    assert_eq!(
        serde_json::to_string(&SmsReachability::No {
            reason: NoSmsReason::FixedLine
        })
        .unwrap(),
        r#"{"no":{"reason":"fixed_line"}}"#
    );
    assert_eq!(
        serde_json::to_string(&NumberError::InvalidCharacters { ch: 'x' }).unwrap(),
        r#"{"reason":"invalid_characters","ch":"x"}"#
    );
    assert_eq!(
        serde_json::to_string(&NumberError::TooShort).unwrap(),
        r#"{"reason":"too_short"}"#
    );
}

#[test]
fn error_empty() {
    fails("", None, NumberError::Empty);
    fails("   ", Some("GB"), NumberError::Empty);
    fails("( ) - +", Some("GB"), NumberError::Empty);
    fails("tel:", None, NumberError::Empty);
}

#[test]
fn error_invalid_characters() {
    fails(
        "hello",
        Some("GB"),
        NumberError::InvalidCharacters { ch: 'h' },
    );
    // Vanity numbers and extensions cannot receive SMS.
    fails(
        "1-800-FLOWERS",
        Some("US"),
        NumberError::InvalidCharacters { ch: 'F' },
    );
    fails(
        "+1 201 555 0123 ext 5",
        None,
        NumberError::InvalidCharacters { ch: 'e' },
    );
    fails("*#06#", None, NumberError::InvalidCharacters { ch: '*' });
    fails(
        "+44 20 7946 0958; DROP TABLE",
        None,
        NumberError::InvalidCharacters { ch: ';' },
    );
    fails(
        "44+7400123456",
        None,
        NumberError::InvalidCharacters { ch: '+' },
    );
}

#[test]
fn error_too_short() {
    fails("+44 20", None, NumberError::TooShort);
    fails("12", Some("GB"), NumberError::TooShort);
    fails("+1", None, NumberError::TooShort);
    fails("+52 55 1234 567", None, NumberError::TooShort);
}

#[test]
fn error_too_long() {
    fails("+44 20 7946 0958 1234 5678", None, NumberError::TooLong);
    fails(&"9".repeat(25), Some("IN"), NumberError::TooLong);
    fails(
        &format!("+44{}", " ".repeat(300)),
        None,
        NumberError::TooLong,
    );
}

#[test]
fn error_unknown_country() {
    let unknown = |code: &str| NumberError::UnknownCountry { code: code.into() };
    fails("020 7946 0958", Some("ZZ"), unknown("ZZ"));
    fails("020 7946 0958", Some("UK"), unknown("UK"));
    fails("020 7946 0958", Some("GBR"), unknown("GBR"));
    fails("020 7946 0958", Some(""), unknown(""));
    // A bad default country is a configuration fault, reported even for a number that would
    // not need it.
    fails("+44 20 7946 0958", Some("XX"), unknown("XX"));
}

#[test]
fn error_unknown_calling_code() {
    let code = |d: &str| NumberError::UnknownCallingCode { digits: d.into() };
    fails("+999 123 456", None, code("999"));
    fails("00 999 123 4567", None, code("999"));
    fails("+0 20 7946 0958", None, code("020"));
}

#[test]
fn error_no_default_country() {
    fails("020 7946 0958", None, NumberError::NoDefaultCountry);
    fails("447400123456", None, NumberError::NoDefaultCountry);
}

#[test]
fn error_invalid_for_region() {
    let invalid = |r: &str| NumberError::InvalidForRegion { region: r.into() };
    // 999 is not an assigned area code; +1 is shared, so the main country is named.
    fails("+1 999 555 0123", None, invalid("US"));
    fails("+44 20 7946 095", None, invalid("GB"));
    fails("+882 1234 5678", None, invalid("001"));
    // The US international prefix followed by no calling code.
    fails("011 999 123 4567", Some("US"), invalid("US"));
}

#[test]
fn error_messages_are_readable() {
    assert_eq!(
        NumberError::InvalidCharacters { ch: 'x' }.to_string(),
        "invalid character 'x' in phone number"
    );
    assert_eq!(
        NumberError::UnknownCountry { code: "ZZ".into() }.to_string(),
        "unknown country \"ZZ\": expected an ISO 3166 alpha-2 code such as \"IN\""
    );
    assert_eq!(
        NumberError::InvalidForRegion {
            region: "GB".into()
        }
        .to_string(),
        "not a valid phone number for GB"
    );
    assert_eq!(
        NumberError::PremiumRate.to_string(),
        "premium-rate numbers are refused (SMS pumping risk)"
    );
}

#[test]
fn phone_number_is_copy_and_comparable() {
    let a = number::parse("+44 7400 123456", None).unwrap();
    let b = number::parse("07400 123456", Some("GB")).unwrap();
    let c = a;
    assert_eq!(a, b);
    assert_eq!(c, b);
    assert_eq!(
        format!("{a:?}"),
        r#"PhoneNumber { e164: "+447400123456", country_code: 44, region: Some("GB"), number_type: Mobile }"#
    );
}
