//! User data header: the information elements this gateway writes and reads
//! (3GPP TS 23.040 §9.2.3.24). The UDH opens `short_message` when esm_class has UDHI (0x40)
//! set (SMPP 3.4 §5.2.12): one length octet (UDHL) then `IEI, IEDL, data` elements.

use serde::Serialize;

use super::shift::NationalShift;

/// Concatenated short messages, 8-bit reference (TS 23.040 §9.2.3.24.1).
pub const IEI_CONCAT_8: u8 = 0x00;
/// Concatenated short messages, 16-bit reference (TS 23.040 §9.2.3.24.8).
pub const IEI_CONCAT_16: u8 = 0x08;
/// National language single shift (TS 23.040 §9.2.3.24.15).
pub const IEI_SINGLE_SHIFT: u8 = 0x24;
/// National language locking shift (TS 23.040 §9.2.3.24.16).
pub const IEI_LOCKING_SHIFT: u8 = 0x25;

/// Position of one part in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ConcatRef {
    /// Reference number, the same in every part (0..=255 for the 8-bit element).
    pub reference: u16,
    /// Number of parts, 1..=255.
    pub total: u8,
    /// This part, 1..=total.
    pub seq: u8,
    /// True for the 16-bit reference element (IEI 0x08).
    pub wide: bool,
}

/// The elements of a parsed UDH this gateway acts on; others are skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Udh {
    /// Octets the header takes, UDHL included: the user data starts there.
    pub len: usize,
    /// Concatenation element, if present and valid.
    pub concat: Option<ConcatRef>,
    /// National language identifier of a locking shift element.
    pub locking: Option<u8>,
    /// National language identifier of a single shift element.
    pub single: Option<u8>,
}

/// Octets a header with these elements takes, UDHL included; 0 when it has none.
pub fn header_len(concat: Option<bool>, shift: NationalShift) -> usize {
    let ies = match concat {
        Some(true) => 6,
        Some(false) => 5,
        None => 0,
    } + shift.udh_octets();
    if ies == 0 { 0 } else { 1 + ies }
}

/// Appends a UDH with the concatenation element (if any) then the national language
/// elements. Writes nothing when there is no element.
pub fn write(out: &mut Vec<u8>, concat: Option<ConcatRef>, shift: NationalShift) {
    let len = header_len(concat.map(|c| c.wide), shift);
    if len == 0 {
        return;
    }
    // UDHL counts the octets after itself; at most 1 + 6 + 3 + 3 = 13.
    out.push((len - 1) as u8);
    if let Some(c) = concat {
        if c.wide {
            let [hi, lo] = c.reference.to_be_bytes();
            out.extend_from_slice(&[IEI_CONCAT_16, 4, hi, lo, c.total, c.seq]);
        } else {
            out.extend_from_slice(&[IEI_CONCAT_8, 3, c.reference as u8, c.total, c.seq]);
        }
    }
    if let Some(l) = shift.locking {
        out.extend_from_slice(&[IEI_LOCKING_SHIFT, 1, l.id()]);
    }
    if let Some(l) = shift.single {
        out.extend_from_slice(&[IEI_SINGLE_SHIFT, 1, l.id()]);
    }
}

/// Parses the UDH at the start of `user_data`. `None` when UDHL or an element length runs
/// past the end. A concatenation element with a zero total, a zero sequence number or one
/// above the total is ignored, as TS 23.040 §9.2.3.24.1 tells the receiver to do.
pub fn parse(user_data: &[u8]) -> Option<Udh> {
    let (&udhl, rest) = user_data.split_first()?;
    let mut ies = rest.get(..usize::from(udhl))?;
    let mut udh = Udh {
        len: 1 + usize::from(udhl),
        ..Udh::default()
    };
    while let Some((&iei, rest)) = ies.split_first() {
        let (&iedl, rest) = rest.split_first()?;
        let data = rest.get(..usize::from(iedl))?;
        ies = rest.get(usize::from(iedl)..)?;
        match (iei, data) {
            (IEI_CONCAT_8, &[r, total, seq]) => {
                udh.concat = valid_concat(u16::from(r), total, seq, false).or(udh.concat);
            }
            (IEI_CONCAT_16, &[hi, lo, total, seq]) => {
                let r = u16::from_be_bytes([hi, lo]);
                udh.concat = valid_concat(r, total, seq, true).or(udh.concat);
            }
            (IEI_LOCKING_SHIFT, &[id]) => udh.locking = Some(id),
            (IEI_SINGLE_SHIFT, &[id]) => udh.single = Some(id),
            _ => {}
        }
    }
    Some(udh)
}

fn valid_concat(reference: u16, total: u8, seq: u8, wide: bool) -> Option<ConcatRef> {
    (total != 0 && seq != 0 && seq <= total).then_some(ConcatRef {
        reference,
        total,
        seq,
        wide,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::shift::NationalLanguage;

    #[test]
    fn eight_bit_concat() {
        let mut out = Vec::new();
        let c = ConcatRef {
            reference: 0x1A7,
            total: 3,
            seq: 2,
            wide: false,
        };
        write(&mut out, Some(c), NationalShift::NONE);
        // UDHL 5 | IEI 00 | IEDL 3 | ref (low octet) | total | seq
        assert_eq!(out, [0x05, 0x00, 0x03, 0xA7, 0x03, 0x02]);
        let parsed = parse(&out).unwrap();
        assert_eq!(parsed.len, 6);
        assert_eq!(
            parsed.concat,
            Some(ConcatRef {
                reference: 0xA7,
                ..c
            })
        );
    }

    #[test]
    fn sixteen_bit_concat_with_shift() {
        let mut out = Vec::new();
        let c = ConcatRef {
            reference: 0x1234,
            total: 2,
            seq: 1,
            wide: true,
        };
        let shift = NationalShift {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Turkish),
        };
        write(&mut out, Some(c), shift);
        assert_eq!(
            out,
            [
                0x0C, // UDHL 12
                0x08, 0x04, 0x12, 0x34, 0x02, 0x01, // concat, 16-bit ref
                0x25, 0x01, 0x01, // locking shift, Turkish
                0x24, 0x01, 0x01, // single shift, Turkish
            ]
        );
        let parsed = parse(&out).unwrap();
        assert_eq!(parsed.len, 13);
        assert_eq!(parsed.concat, Some(c));
        assert_eq!((parsed.locking, parsed.single), (Some(1), Some(1)));
    }

    #[test]
    fn malformed_and_invalid() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0x05, 0x00, 0x03, 0x01]), None); // UDHL past the end
        assert_eq!(parse(&[0x03, 0x00, 0x05, 0x01]), None); // IEDL past UDHL
        // seq 0 and seq > total are ignored, not errors.
        assert_eq!(
            parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x00]).unwrap().concat,
            None
        );
        assert_eq!(
            parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]).unwrap().concat,
            None
        );
        // Unknown elements are skipped.
        let p = parse(&[0x08, 0x70, 0x01, 0xFF, 0x00, 0x03, 0x09, 0x02, 0x02]).unwrap();
        assert_eq!(
            p.concat,
            Some(ConcatRef {
                reference: 9,
                total: 2,
                seq: 2,
                wide: false
            })
        );
    }
}
