//! The way back: data_coding + `short_message` (+ UDHI) → text, for mobile-originated
//! messages and delivery receipts.
//!
//! data_coding values 0x00..=0x0F follow SMPP 3.4 §5.2.19; above that the value is read as
//! a TS 23.038 §4 data coding scheme (general data coding, message waiting indication and
//! data coding/message class groups), which is what SMSCs pass through from the handset.

use super::gsm7::{self, Charset};
use super::shift::{NationalLanguage, NationalShift};
use super::udh::{self, Udh};
use super::{DefaultAlphabet, TextError, Wire, latin1, ucs2};

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text.
    pub text: String,
    /// The parsed UDH when UDHI was set.
    pub udh: Option<Udh>,
}

/// Decodes one `short_message`. `udhi` is the esm_class UDHI bit (0x40); `alphabet` is what
/// data_coding 0 means at the carrier it came from.
///
/// National shift tables named in the UDH are applied (Turkish, Spanish, Portuguese; other
/// languages decode with the default tables). Invalid UCS-2 (an unpaired surrogate) decodes
/// to U+FFFD rather than failing, since a mobile-originated text is better read in part.
pub fn decode(
    data_coding: u8,
    short_message: &[u8],
    udhi: bool,
    alphabet: DefaultAlphabet,
) -> Result<Decoded, TextError> {
    let (udh, payload) = split_udh(short_message, udhi)?;
    let wire = wire_for(data_coding, alphabet)?;
    let body = Body::read(wire, payload, udh.as_ref());
    let mut text = String::new();
    join_into(std::iter::once(&body), &mut text);
    Ok(Decoded { text, udh })
}

/// Splits off the UDH when UDHI is set.
pub(crate) fn split_udh(sm: &[u8], udhi: bool) -> Result<(Option<Udh>, &[u8]), TextError> {
    if !udhi {
        return Ok((None, sm));
    }
    let udh = udh::parse(sm).ok_or(TextError::MalformedUdh)?;
    let payload = sm.get(udh.len..).ok_or(TextError::MalformedUdh)?;
    Ok((Some(udh), payload))
}

/// How to read the octets of a data_coding value.
pub(crate) fn wire_for(dc: u8, alphabet: DefaultAlphabet) -> Result<Wire, TextError> {
    let gsm = if alphabet == DefaultAlphabet::GsmPacked {
        Wire::GsmPacked
    } else {
        Wire::GsmUnpacked
    };
    // TS 23.038 §4 alphabet bits 3..2: 00 GSM 7-bit, 01 8-bit data, 10 UCS2, 11 reserved.
    let by_bits = |dc: u8| match (dc >> 2) & 0x03 {
        0 => Ok(gsm),
        1 => Err(TextError::Binary(dc)),
        2 => Ok(Wire::Ucs2),
        _ => Err(TextError::UnsupportedDataCoding(dc)),
    };
    match dc {
        0x00 => Ok(match alphabet {
            DefaultAlphabet::GsmUnpacked | DefaultAlphabet::Ia5 => Wire::GsmUnpacked,
            DefaultAlphabet::GsmPacked => Wire::GsmPacked,
            DefaultAlphabet::Latin1 => Wire::Latin1,
            DefaultAlphabet::Ascii => Wire::Ascii,
        }),
        0x01 => Ok(Wire::Ascii),
        0x03 => Ok(Wire::Latin1),
        0x08 => Ok(Wire::Ucs2),
        0x02 | 0x04 => Err(TextError::Binary(dc)),
        // JIS, Cyrillic, Latin/Hebrew, pictogram, ISO-2022-JP, JIS X 0212, KS C 5601.
        0x05..=0x0F => Err(TextError::UnsupportedDataCoding(dc)),
        // General data coding, uncompressed (with or without class; bit 5 is compression).
        0x10..=0x1F | 0x40..=0x5F => by_bits(dc),
        // Message waiting indication groups: discard/store with GSM 7-bit, store with UCS2.
        0xC0..=0xDF => Ok(gsm),
        0xE0..=0xEF => Ok(Wire::Ucs2),
        // Data coding/message class: bit 2 chooses 8-bit data over GSM 7-bit.
        0xF0..=0xFF if dc & 0x04 == 0 => Ok(gsm),
        0xF0..=0xFF => Err(TextError::Binary(dc)),
        // Compressed groups and reserved ranges.
        _ => Err(TextError::UnsupportedDataCoding(dc)),
    }
}

/// One part's user data, kept in a form that joins across parts: septets (an escape pair
/// cut by a careless sender rejoins) and UTF-16 octets (so does a surrogate pair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    Septets {
        shift: NationalShift,
        septets: Vec<u8>,
    },
    Utf16(Vec<u8>),
    Text(String),
}

impl Body {
    pub(crate) fn read(wire: Wire, payload: &[u8], udh: Option<&Udh>) -> Body {
        let shift = udh.map_or(NationalShift::NONE, |u| NationalShift {
            locking: u.locking.and_then(NationalLanguage::from_id),
            single: u.single.and_then(NationalLanguage::from_id),
        });
        match wire {
            Wire::GsmUnpacked => Body::Septets {
                shift,
                septets: payload.to_vec(),
            },
            Wire::GsmPacked => {
                let fill = gsm7::fill_bits(udh.map_or(0, |u| u.len));
                Body::Septets {
                    shift,
                    septets: gsm7::unpack(payload, fill),
                }
            }
            Wire::Latin1 => Body::Text(latin1::decode(payload)),
            Wire::Ascii => Body::Text(latin1::decode_ascii(payload)),
            Wire::Ucs2 => Body::Utf16(payload.to_vec()),
        }
    }

    /// Octets held, for the reassembly memory bound.
    pub(crate) fn octets(&self) -> usize {
        match self {
            Body::Septets { septets, .. } => septets.len(),
            Body::Utf16(b) => b.len(),
            Body::Text(s) => s.len(),
        }
    }
}

/// Appends the text of consecutive bodies, decoding runs of the same kind together.
pub(crate) fn join_into<'a>(bodies: impl Iterator<Item = &'a Body>, out: &mut String) {
    let mut septets: Vec<u8> = Vec::new();
    let mut septet_shift = NationalShift::NONE;
    let mut utf16: Vec<u8> = Vec::new();
    let flush_septets = |septets: &mut Vec<u8>, shift: NationalShift, out: &mut String| {
        if !septets.is_empty() {
            let charset: Charset = shift.charset();
            charset.decode_into(septets, out);
            septets.clear();
        }
    };
    let flush_utf16 = |utf16: &mut Vec<u8>, out: &mut String| {
        if !utf16.is_empty() {
            out.push_str(&ucs2::decode_lossy(utf16));
            utf16.clear();
        }
    };
    for body in bodies {
        match body {
            Body::Septets { shift, septets: s } => {
                flush_utf16(&mut utf16, out);
                if *shift != septet_shift {
                    flush_septets(&mut septets, septet_shift, out);
                    septet_shift = *shift;
                }
                septets.extend_from_slice(s);
            }
            Body::Utf16(b) => {
                flush_septets(&mut septets, septet_shift, out);
                utf16.extend_from_slice(b);
            }
            Body::Text(t) => {
                flush_septets(&mut septets, septet_shift, out);
                flush_utf16(&mut utf16, out);
                out.push_str(t);
            }
        }
    }
    flush_septets(&mut septets, septet_shift, out);
    flush_utf16(&mut utf16, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_coding_table() {
        let a = DefaultAlphabet::GsmUnpacked;
        assert_eq!(wire_for(0x00, a), Ok(Wire::GsmUnpacked));
        assert_eq!(
            wire_for(0x00, DefaultAlphabet::GsmPacked),
            Ok(Wire::GsmPacked)
        );
        assert_eq!(wire_for(0x00, DefaultAlphabet::Latin1), Ok(Wire::Latin1));
        assert_eq!(wire_for(0x01, a), Ok(Wire::Ascii));
        assert_eq!(wire_for(0x03, a), Ok(Wire::Latin1));
        assert_eq!(wire_for(0x08, a), Ok(Wire::Ucs2));
        assert_eq!(wire_for(0x04, a), Err(TextError::Binary(0x04)));
        assert_eq!(
            wire_for(0x06, a),
            Err(TextError::UnsupportedDataCoding(0x06))
        );
        assert_eq!(wire_for(0x11, a), Ok(Wire::GsmUnpacked)); // class 1, GSM 7-bit
        assert_eq!(wire_for(0x18, a), Ok(Wire::Ucs2)); // class 0, UCS2
        assert_eq!(
            wire_for(0x24, a),
            Err(TextError::UnsupportedDataCoding(0x24))
        ); // compressed
        assert_eq!(wire_for(0xF0, a), Ok(Wire::GsmUnpacked));
        assert_eq!(wire_for(0xF4, a), Err(TextError::Binary(0xF4)));
        assert_eq!(wire_for(0xE0, a), Ok(Wire::Ucs2));
    }

    #[test]
    fn escape_pair_rejoins_across_bodies() {
        let a = Body::Septets {
            shift: NationalShift::NONE,
            septets: vec![0x61, 0x1B],
        };
        let b = Body::Septets {
            shift: NationalShift::NONE,
            septets: vec![0x65, 0x62],
        };
        let mut out = String::new();
        join_into([&a, &b].into_iter(), &mut out);
        assert_eq!(out, "a€b");
    }
}
