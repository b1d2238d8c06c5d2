//! ISO 8859-1 (SMPP 3.4 §5.2.19 data_coding 0x03) and IA5/ASCII (data_coding 0x01).
//! Both map one character to one octet, so they are usable only when every character fits.

/// True when `c` is in ISO 8859-1 (U+0000..=U+00FF, the code point is the octet).
#[inline]
pub fn is_latin1(c: char) -> bool {
    u32::from(c) <= 0xFF
}

/// `text` as ISO 8859-1, or the first character that does not fit.
pub fn encode(text: &str) -> Result<Vec<u8>, char> {
    let mut out = Vec::with_capacity(text.len());
    encode_into(text, &mut out)?;
    Ok(out)
}

/// Appends `text` as ISO 8859-1; on failure returns the first character that does not fit.
pub fn encode_into(text: &str, out: &mut Vec<u8>) -> Result<(), char> {
    for c in text.chars() {
        out.push(u8::try_from(u32::from(c)).map_err(|_| c)?);
    }
    Ok(())
}

/// Every octet is a character.
pub fn decode(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Appends `text` as ASCII; on failure returns the first non-ASCII character.
pub fn encode_ascii_into(text: &str, out: &mut Vec<u8>) -> Result<(), char> {
    for c in text.chars() {
        if !c.is_ascii() {
            return Err(c);
        }
        out.push(c as u8);
    }
    Ok(())
}

/// ASCII decode; octets above 0x7F (invalid IA5) become U+FFFD.
pub fn decode_ascii(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii() {
                char::from(b)
            } else {
                char::REPLACEMENT_CHARACTER
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_both_ways() {
        assert_eq!(encode("São ÿ"), Ok(vec![0x53, 0xE3, 0x6F, 0x20, 0xFF]));
        assert_eq!(decode(&[0x53, 0xE3, 0x6F, 0x20, 0xFF]), "São ÿ");
        assert_eq!(encode("ą"), Err('ą'));
        assert_eq!(encode("€"), Err('€'));
    }

    #[test]
    fn ascii_both_ways() {
        let mut out = Vec::new();
        assert_eq!(encode_ascii_into("a{", &mut out), Ok(()));
        assert_eq!(out, b"a{");
        assert_eq!(encode_ascii_into("é", &mut out), Err('é'));
        assert_eq!(decode_ascii(&[0x61, 0xE9]), "a\u{FFFD}");
    }
}
