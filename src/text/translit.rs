//! Transliteration of common characters outside the GSM 7-bit default alphabet, so that a
//! short text (an OTP above all) stays in GSM 7-bit and in one segment instead of falling to
//! UCS-2 (70 characters) for one accented letter.
//!
//! Only characters outside the default alphabet and its extension table are mapped: é, ü,
//! ñ, Ä, Ç and the rest of TS 23.038 §6.2.1 are kept as they are. Every replacement is
//! plain ASCII in the default alphabet, so it fits every GSM transport a carrier may use.
//! Diacritics are dropped the way a Unicode decomposition would split them off (NFD) and a
//! reader would ignore them; combining marks on their own are removed.

/// What a character is replaced with, `None` when there is no replacement.
///
/// Characters of the GSM default alphabet have no entry: callers check the alphabet first
/// (the tests pin that no key of this table is a GSM character).
pub fn transliterate_char(c: char) -> Option<&'static str> {
    if let Some(s) = latin(c) {
        return Some(s);
    }
    match u32::from(c) {
        // Combining diacritical marks: the decomposed (NFD) accents.
        0x0300..=0x036F => Some(""),
        0x1EA0..=0x1EF9 => vietnamese(c),
        _ => typographic(c),
    }
}

/// The text after transliteration and what was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transliterated {
    /// The transliterated text.
    pub text: String,
    /// Each replaced character and its replacement, first occurrence order, no duplicates.
    pub replaced: Vec<(char, &'static str)>,
}

/// Replaces every character for which `keep` is false. Fails with the first such character
/// that has no replacement, in which case the caller keeps the original text.
pub fn transliterate(text: &str, keep: impl Fn(char) -> bool) -> Result<Transliterated, char> {
    let mut out = String::with_capacity(text.len());
    let mut replaced: Vec<(char, &'static str)> = Vec::new();
    for c in text.chars() {
        if keep(c) {
            out.push(c);
            continue;
        }
        let r = transliterate_char(c).ok_or(c)?;
        out.push_str(r);
        if !replaced.iter().any(|&(k, _)| k == c) {
            replaced.push((c, r));
        }
    }
    Ok(Transliterated {
        text: out,
        replaced,
    })
}

/// Latin letters with diacritics (Polish, Czech, Slovak, Turkish, Romanian, Hungarian,
/// Baltic, Croatian, Portuguese, French, Icelandic, Vietnamese base letters) and the Greek
/// capitals that look like Latin ones (Greek SMS has long been sent this way).
fn latin(c: char) -> Option<&'static str> {
    Some(match c {
        'á' | 'â' | 'ã' | 'ă' | 'ą' | 'ā' => "a",
        'Á' | 'Â' | 'Ã' | 'À' | 'Ă' | 'Ą' | 'Ā' => "A",
        'ć' | 'č' | 'ç' => "c",
        'Ć' | 'Č' => "C",
        'ď' | 'đ' | 'ð' => "d",
        'Ď' | 'Đ' | 'Ð' => "D",
        'ê' | 'ë' | 'ě' | 'ę' | 'ē' | 'ė' => "e",
        'Ê' | 'Ë' | 'È' | 'Ě' | 'Ę' | 'Ē' | 'Ė' => "E",
        'ğ' | 'ģ' => "g",
        'Ğ' | 'Ģ' => "G",
        'í' | 'î' | 'ï' | 'ı' | 'ī' | 'į' | 'ĩ' => "i",
        'Í' | 'Î' | 'Ï' | 'Ì' | 'İ' | 'Ī' | 'Į' | 'Ĩ' => "I",
        'ķ' => "k",
        'Ķ' => "K",
        'ł' | 'ľ' | 'ĺ' | 'ļ' => "l",
        'Ł' | 'Ľ' | 'Ĺ' | 'Ļ' => "L",
        'ń' | 'ň' | 'ņ' => "n",
        'Ń' | 'Ň' | 'Ņ' => "N",
        'ó' | 'ô' | 'õ' | 'ő' | 'ō' | 'ơ' => "o",
        'Ó' | 'Ô' | 'Õ' | 'Ò' | 'Ő' | 'Ō' | 'Ơ' => "O",
        'ř' | 'ŕ' => "r",
        'Ř' | 'Ŕ' => "R",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'Ś' | 'Š' | 'Ş' | 'Ș' => "S",
        'ť' | 'ţ' | 'ț' => "t",
        'Ť' | 'Ţ' | 'Ț' => "T",
        'ú' | 'û' | 'ů' | 'ű' | 'ū' | 'ų' | 'ũ' | 'ư' => "u",
        'Ú' | 'Û' | 'Ù' | 'Ů' | 'Ű' | 'Ū' | 'Ų' | 'Ũ' | 'Ư' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' | 'Ÿ' => "Y",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'œ' => "oe",
        'Œ' => "OE",
        'þ' => "th",
        'Þ' => "TH",
        // Greek capitals with a Latin twin; the others (Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ) are GSM.
        'Α' => "A",
        'Β' => "B",
        'Ε' => "E",
        'Ζ' => "Z",
        'Η' => "H",
        'Ι' => "I",
        'Κ' => "K",
        'Μ' => "M",
        'Ν' => "N",
        'Ο' => "O",
        'Ρ' => "P",
        'Τ' => "T",
        'Υ' => "Y",
        'Χ' => "X",
        _ => return None,
    })
}

/// Vietnamese letters with tone marks, U+1EA0..=U+1EF9 (Latin Extended Additional): the
/// block runs capital/small pairs over A, E, I, O, U, Y, so the base letter is the range
/// and the case is the parity.
fn vietnamese(c: char) -> Option<&'static str> {
    let u = u32::from(c);
    let (upper, lower) = match u {
        0x1EA0..=0x1EB7 => ("A", "a"),
        0x1EB8..=0x1EC7 => ("E", "e"),
        0x1EC8..=0x1ECB => ("I", "i"),
        0x1ECC..=0x1EE3 => ("O", "o"),
        0x1EE4..=0x1EF1 => ("U", "u"),
        0x1EF2..=0x1EF9 => ("Y", "y"),
        _ => return None,
    };
    Some(if u % 2 == 0 { upper } else { lower })
}

/// Quotes, dashes, spaces, bullets and symbols that word processors and phones insert.
fn typographic(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2039}'
        | '\u{203A}' => "'",
        '`' | '\u{00B4}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
        | '\u{00BB}' => "\"",
        '\u{2010}'..='\u{2015}' | '\u{2212}' => "-",
        '\u{2026}' => "...",
        '\t' | '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        // Zero width space, word joiner, BOM, soft hyphen: invisible, so dropped.
        '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => "",
        '\u{2022}' | '\u{2023}' | '\u{2043}' | '\u{25CF}' | '\u{25E6}' | '\u{25AA}' => "-",
        '\u{00B7}' => ".",
        '\u{2122}' => "TM",
        '\u{00A9}' => "(c)",
        '\u{00AE}' => "(R)",
        '\u{00D7}' => "x",
        '\u{00F7}' => "/",
        '\u{2116}' => "No",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_parity() {
        assert_eq!(transliterate_char('Ạ'), Some("A"));
        assert_eq!(transliterate_char('ạ'), Some("a"));
        assert_eq!(transliterate_char('ệ'), Some("e"));
        assert_eq!(transliterate_char('Ở'), Some("O"));
        assert_eq!(transliterate_char('ự'), Some("u"));
        assert_eq!(transliterate_char('ỹ'), Some("y"));
    }

    #[test]
    fn keep_predicate_and_dedup() {
        let t = transliterate("ąbą", |c| c.is_ascii()).unwrap();
        assert_eq!(t.text, "aba");
        assert_eq!(t.replaced, vec![('ą', "a")]);
        assert_eq!(transliterate("ą中", |c| c.is_ascii()), Err('中'));
    }
}
