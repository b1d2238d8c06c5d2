//! `gannet number`: what the gateway will make of a number, and of a text sent to it.
//!
//! `gannet number +52 55 1234 5678 --text "Tu código: 123456"` prints the normalised number,
//! its country and type, whether it can take SMS, and for the text its encoding, segment count
//! and the characters that forced UCS-2.

use std::fmt::Write as _;

use serde::Serialize;

use crate::number::{self, NumberType, PhoneNumber, SmsReachability};
use crate::text::{self, Analysis, TextOptions, Transliterate};

/// Arguments of `gannet number`.
#[derive(clap::Args, Debug, Clone)]
pub struct NumberArgs {
    /// The number as a person typed it (spaces, dashes, brackets, 00 or + are fine).
    #[arg(required = true, num_args = 1..)]
    pub number: Vec<String>,
    /// Country for numbers written in national form (ISO 3166 alpha-2, e.g. IN, MX).
    #[arg(long)]
    pub country: Option<String>,
    /// A message text to analyse: encoding, segments, characters forcing UCS-2.
    #[arg(long)]
    pub text: Option<String>,
    /// Transliterate non-GSM characters to GSM 7-bit (Polish, Czech, Turkish, Romanian,
    /// Vietnamese diacritics, typographic quotes and dashes).
    #[arg(long)]
    pub transliterate: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `gannet number` reports.
#[derive(Debug, Serialize)]
pub struct NumberReport {
    pub input: String,
    #[serde(flatten)]
    pub number: PhoneNumber,
    pub sms: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_refusal: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Analysis>,
}

/// Builds the report; an invalid number is an error naming why.
pub fn report(args: &NumberArgs) -> anyhow::Result<NumberReport> {
    let input = args.number.join(" ");
    let parsed = number::parse(&input, args.country.as_deref())
        .map_err(|e| anyhow::anyhow!("{input:?} is not a usable number: {e}"))?;
    let (sms, sms_refusal) = match parsed.can_receive_sms() {
        SmsReachability::Yes => ("yes", None),
        SmsReachability::Maybe => ("maybe", None),
        SmsReachability::No { reason } => ("no", Some(reason.as_str())),
    };
    let text = args.text.as_deref().map(|t| {
        let opts = TextOptions {
            transliterate: if args.transliterate {
                Transliterate::Always
            } else {
                Transliterate::Off
            },
            ..TextOptions::default()
        };
        text::analyze(t, &opts)
    });
    Ok(NumberReport {
        input,
        number: parsed,
        sms,
        sms_refusal,
        text,
    })
}

/// The human view.
pub fn render(r: &NumberReport) -> String {
    let mut out = String::new();
    let n = &r.number;
    let _ = writeln!(out, "number:   {}", n.e164());
    let _ = writeln!(
        out,
        "country:  +{} {}",
        n.country_code(),
        n.region().unwrap_or("(non-geographic)")
    );
    let _ = writeln!(out, "type:     {}", type_name(n.number_type()));
    match r.sms_refusal {
        Some(reason) => {
            let _ = writeln!(out, "sms:      no ({reason})");
        }
        None => {
            let _ = writeln!(out, "sms:      {}", r.sms);
        }
    }
    if let Some(a) = &r.text {
        let _ = writeln!(
            out,
            "encoding: {:?} (data_coding 0x{:02x})",
            a.encoding, a.data_coding
        );
        let _ = writeln!(
            out,
            "segments: {} ({} units, {} per segment)",
            a.segments, a.units, a.per_segment_capacity
        );
        if !a.non_gsm.is_empty() {
            let chars: Vec<String> = a.non_gsm.iter().map(|c| format!("{c:?}")).collect();
            let _ = writeln!(out, "non-GSM:  {}", chars.join(" "));
        }
        if !a.transliterated.is_empty() {
            let pairs: Vec<String> = a
                .transliterated
                .iter()
                .map(|(c, to)| format!("{c}→{to}"))
                .collect();
            let _ = writeln!(out, "replaced: {}", pairs.join(" "));
        }
    }
    out
}

fn type_name(t: NumberType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{t:?}"))
}

/// Runs `gannet number`.
pub fn run(args: &NumberArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let r = report(args)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &r)?;
        writeln!(out)?;
    } else {
        out.write_all(render(&r).as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(number: &str, text: Option<&str>) -> NumberArgs {
        NumberArgs {
            number: vec![number.to_string()],
            country: None,
            text: text.map(str::to_string),
            transliterate: false,
            json: false,
        }
    }

    #[test]
    fn polish_ogonek_forces_ucs2_and_is_named() {
        let r = report(&args("+48 512 345 678", Some("Twój kod to 123456, ą"))).unwrap();
        let a = r.text.as_ref().unwrap();
        assert_eq!(a.encoding, crate::text::Encoding::Ucs2);
        assert!(a.non_gsm.contains(&'ą'), "{:?}", a.non_gsm);
        let text = render(&r);
        assert!(text.contains("number:   +48512345678"), "{text}");
        assert!(text.contains("'ą'"), "{text}");
    }

    #[test]
    fn indian_landline_cannot_take_sms() {
        let mut a = args("011 2345 6789", None);
        a.country = Some("IN".into());
        let r = report(&a).unwrap();
        assert_eq!(r.sms, "no");
        assert_eq!(r.number.number_type(), NumberType::FixedLine);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let e = report(&args("call me maybe", None)).unwrap_err();
        assert!(e.to_string().contains("not a usable number"), "{e}");
    }
}
