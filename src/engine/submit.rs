//! From a stored message and a chosen carrier to the submit_sm PDUs of one attempt.
//!
//! The text is prepared again for every attempt, because what "SMSC default alphabet"
//! means, and so the segments, can differ between carriers.

use bytes::Bytes;
use gannet_smpp::{SubmitSm, Tlv, TlvTag};

use crate::carrier::CarrierSettings;
use crate::store::Message;
use crate::text::{self, TextError, TextOptions, Transliterate};

/// registered_delivery: a final receipt, success or failure (SMPP 3.4 §5.2.17).
const RECEIPT_FINAL: u8 = 0x01;

/// The submit_sm of every segment of `msg` for this carrier.
///
/// `dlt`: whether the carrier takes India's DLT ids as TLVs (the route table's `dlt_tlvs`
/// feature). `remaining_ms`: the validity left, written as a relative validity_period so the
/// carrier's SMSC does not deliver the text after it is worthless.
pub fn build(
    msg: &Message,
    carrier: &CarrierSettings,
    dlt: bool,
    remaining_ms: Option<u64>,
) -> Result<Vec<SubmitSm>, TextError> {
    let options = TextOptions {
        default_alphabet: alphabet(carrier.default_alphabet),
        transliterate: if msg.transliterate {
            Transliterate::Always
        } else {
            Transliterate::Off
        },
        ..TextOptions::default()
    };
    let id = msg.id.as_bytes();
    let reference = u16::from_be_bytes([id[14], id[15]]);
    let prepared = text::prepare(&msg.text, &options, reference)?;
    let source = carrier.addresses.source(&msg.from);
    let destination = carrier.addresses.destination(&msg.to);
    let validity = remaining_ms.map_or_else(Bytes::new, relative_validity);
    let mut common = Vec::new();
    if dlt && let Some(d) = &msg.dlt {
        common.push(Tlv::cstr(TlvTag::DLT_PE_ID, d.entity_id.as_bytes()));
        common.push(Tlv::cstr(TlvTag::DLT_TEMPLATE_ID, d.template_id.as_bytes()));
    }
    let mut out = Vec::with_capacity(prepared.segments.len());
    for seg in prepared.segments {
        let mut sm = SubmitSm {
            source_addr: source.clone(),
            destination_addr: destination.clone(),
            esm_class: seg.esm_class,
            registered_delivery: if msg.receipt { RECEIPT_FINAL } else { 0 },
            data_coding: seg.data_coding,
            validity_period: validity.clone(),
            ..SubmitSm::default()
        };
        if prepared.use_message_payload {
            sm.tlvs
                .push(Tlv::new(TlvTag::MESSAGE_PAYLOAD, seg.short_message));
        } else {
            sm.short_message = seg.short_message;
        }
        if let Some(sar) = seg.sar {
            sm.tlvs
                .push(Tlv::u16(TlvTag::SAR_MSG_REF_NUM, sar.msg_ref_num));
            sm.tlvs
                .push(Tlv::u8(TlvTag::SAR_TOTAL_SEGMENTS, sar.total_segments));
            sm.tlvs
                .push(Tlv::u8(TlvTag::SAR_SEGMENT_SEQNUM, sar.segment_seqnum));
        }
        for t in &common {
            sm.tlvs.push(t.clone());
        }
        out.push(sm);
    }
    Ok(out)
}

/// The carrier's reading of data_coding 0 in the text module's terms.
fn alphabet(a: crate::carrier::config::DefaultAlphabet) -> text::DefaultAlphabet {
    use crate::carrier::config::DefaultAlphabet as C;
    match a {
        C::Gsm7 => text::DefaultAlphabet::GsmUnpacked,
        C::Gsm7Packed => text::DefaultAlphabet::GsmPacked,
        C::Latin1 => text::DefaultAlphabet::Latin1,
        C::Ascii => text::DefaultAlphabet::Ascii,
    }
}

/// A relative validity_period (SMPP 3.4 §7.1.1: `YYMMDDhhmmss000R`, each field a count, not
/// a date), rounded up to whole seconds and capped at the format's 99 years.
pub fn relative_validity(ms: u64) -> Bytes {
    let mut s = ms.div_ceil(1000).max(1);
    let days_total = s / 86_400;
    s %= 86_400;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    // The format counts years of 365 days and months of 30 (as SMSCs read it).
    let years = (days_total / 365).min(99);
    let rest = days_total - years * 365;
    let (months, days) = ((rest / 30).min(11), rest - (rest / 30).min(11) * 30);
    Bytes::from(format!(
        "{years:02}{months:02}{days:02}{h:02}{m:02}{sec:02}000R"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_validity_counts_fields() {
        assert_eq!(&relative_validity(300_000)[..], b"000000000500000R");
        assert_eq!(&relative_validity(1)[..], b"000000000001000R");
        assert_eq!(
            &relative_validity(86_400_000 + 3_661_000)[..],
            b"000001010101000R"
        );
        assert_eq!(&relative_validity(40 * 86_400_000)[..], b"000110000000000R");
    }
}
