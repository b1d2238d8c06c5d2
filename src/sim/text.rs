//! Just enough text handling for a test peer: showing what was received, and encoding MO texts.
//!
//! data_coding (SMPP 3.4 §5.2.19): 0 is the SMSC default alphabet, which for the carriers we
//! simulate is GSM 03.38 with one septet per octet (unpacked); 1 is IA5 (ASCII); 3 is Latin-1;
//! 8 is UCS-2 big-endian. Anything else is shown as Latin-1.

use bytes::Bytes;

/// GSM 03.38 default alphabet, septet value to character (0x1B, the escape, shown as a space).
const GSM_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table reached through 0x1B (GSM 03.38 §6.2.1.1).
const GSM_EXT: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Decodes message octets for display.
pub fn decode(data_coding: u8, octets: &[u8]) -> String {
    match data_coding {
        0x00 => {
            let mut s = String::with_capacity(octets.len());
            let mut it = octets.iter();
            while let Some(&b) = it.next() {
                if b == 0x1B {
                    if let Some(&e) = it.next() {
                        s.push(
                            GSM_EXT
                                .iter()
                                .find(|(k, _)| *k == e)
                                .map_or(' ', |(_, c)| *c),
                        );
                    }
                } else {
                    s.push(GSM_BASIC[usize::from(b & 0x7F)]);
                }
            }
            s
        }
        0x01 => octets.iter().map(|&b| char::from(b & 0x7F)).collect(),
        0x08 => char::decode_utf16(
            octets
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]])),
        )
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        _ => octets.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Encodes a text for a deliver_sm: the GSM default alphabet (one septet per octet) when every
/// character has a septet, otherwise UCS-2. Returns (data_coding, octets).
pub fn encode(text: &str) -> (u8, Bytes) {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(i) = GSM_BASIC
            .iter()
            .position(|&g| g == c)
            .filter(|&i| i != 0x1B)
        {
            out.push(i as u8);
        } else if let Some((e, _)) = GSM_EXT.iter().find(|(_, g)| *g == c) {
            out.extend_from_slice(&[0x1B, *e]);
        } else {
            let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
            return (0x08, Bytes::from(ucs2));
        }
    }
    (0x00, Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["YES", "STOP", "Ñandú @ 10€ {ok}", "是的", "Привет"] {
            let (dcs, octets) = encode(text);
            assert_eq!(decode(dcs, &octets), text, "{dcs}");
        }
        assert_eq!(encode("YES").0, 0);
        assert_eq!(encode("是的").0, 8);
        assert_eq!(decode(3, b"caf\xe9"), "café");
    }
}
