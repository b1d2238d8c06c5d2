//! UCS-2 as SMSCs actually carry it: UTF-16 big-endian (SMPP 3.4 §5.2.19 data_coding 0x08,
//! TS 23.038 §5 "UCS2"). Characters outside the BMP travel as surrogate pairs, which
//! handsets have displayed for years; segmentation keeps each pair in one segment.

/// Appends `text` as UTF-16BE.
pub fn encode_into(text: &str, out: &mut Vec<u8>) {
    out.reserve(text.len() * 2);
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// `text` as UTF-16BE.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_into(text, &mut out);
    out
}

/// UTF-16 code units in `text` (the unit UCS-2 capacity is counted in).
#[inline]
pub fn units(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Strict decode: `None` on an odd length or an unpaired surrogate.
pub fn decode(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    char::decode_utf16(be_units(bytes))
        .collect::<Result<String, _>>()
        .ok()
}

/// Lenient decode for mobile-originated text: an unpaired surrogate becomes U+FFFD and a
/// trailing odd octet is dropped.
pub fn decode_lossy(bytes: &[u8]) -> String {
    char::decode_utf16(be_units(bytes))
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn be_units(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogate_pair_big_endian() {
        // U+1F600 = D83D DE00.
        assert_eq!(encode("a😀"), vec![0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(units("a😀"), 3);
        assert_eq!(
            decode(&[0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00]).as_deref(),
            Some("a😀")
        );
    }

    #[test]
    fn lone_surrogate_and_odd_length() {
        assert_eq!(decode(&[0xD8, 0x3D]), None);
        assert_eq!(decode(&[0x00, 0x61, 0x00]), None);
        assert_eq!(decode_lossy(&[0xD8, 0x3D, 0x00, 0x61, 0x00]), "\u{FFFD}a");
    }
}
