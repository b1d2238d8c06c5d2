//! Spaced, commented hex: the format of proto-fixtures/ and of PDUs pasted into the CLI.
//!
//! ```text
//! # submit_sm header
//! 00 00 00 3C   # command_length
//! 00000004      # command_id: several octets may be written together
//! ```
//!
//! `#` and `//` start a comment that runs to the end of the line. Whitespace separates tokens;
//! each token is an even number of hex digits (either case), optionally prefixed by `0x`, and
//! `:` or `,` may separate octets (`00:00:00:10` as Wireshark copies them).

use std::fmt::{self, Write as _};

/// Why a hex text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("line {line}: {ch:?} is not a hex digit")]
    InvalidDigit { line: usize, ch: char },
    #[error("line {line}: {token:?} has an odd number of hex digits")]
    OddDigits { line: usize, token: String },
}

/// Parses spaced, commented hex into octets.
pub fn parse_spaced_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::with_capacity(text.len() / 3);
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let code = strip_comment(line);
        for token in code.split(|c: char| c.is_whitespace() || c == ':' || c == ',') {
            let digits = token
                .strip_prefix("0x")
                .or_else(|| token.strip_prefix("0X"))
                .unwrap_or(token);
            if let Some(ch) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
                return Err(HexError::InvalidDigit { line: line_no, ch });
            }
            if digits.len() % 2 != 0 {
                return Err(HexError::OddDigits {
                    line: line_no,
                    token: token.to_owned(),
                });
            }
            for pair in digits.as_bytes().chunks_exact(2) {
                let hi = nibble(pair[0], line_no)?;
                let lo = nibble(pair[1], line_no)?;
                out.push(hi << 4 | lo);
            }
        }
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    let cut = [line.find('#'), line.find("//")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(line.len());
    &line[..cut]
}

fn nibble(b: u8, line: usize) -> Result<u8, HexError> {
    match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        // Unreachable: tokens are checked for non-hex characters first.
        _ => Err(HexError::InvalidDigit {
            line,
            ch: char::from(b),
        }),
    }
}

/// Formats octets as upper-case spaced hex, 16 per line (`00 00 00 10 …`).
pub fn to_spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(if i % 16 == 0 { '\n' } else { ' ' });
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// `Display` adapter for [`to_spaced_hex`] output on one line, for logs (`{}`).
pub struct SpacedHex<'a>(pub &'a [u8]);

impl fmt::Display for SpacedHex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_spaces_and_groups() {
        let text = "# header\n00 00 00 10 # command_length\n0x80000015 // enquire_link_resp\n\
                    00:00:00:00,00 00 00 07\n";
        assert_eq!(
            parse_spaced_hex(text).unwrap(),
            [0, 0, 0, 0x10, 0x80, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7]
        );
        assert_eq!(parse_spaced_hex("aB cd").unwrap(), [0xAB, 0xCD]);
        assert_eq!(parse_spaced_hex("  \n# only a comment\n").unwrap(), []);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse_spaced_hex("00\n0g"),
            Err(HexError::InvalidDigit { line: 2, ch: 'g' })
        );
        assert_eq!(
            parse_spaced_hex("00 012"),
            Err(HexError::OddDigits {
                line: 1,
                token: "012".into()
            })
        );
        assert!(matches!(
            parse_spaced_hex("é1"),
            Err(HexError::InvalidDigit { line: 1, .. })
        ));
    }

    #[test]
    fn formats_back() {
        let bytes: Vec<u8> = (0..18).collect();
        let text = to_spaced_hex(&bytes);
        assert!(text.starts_with("00 01 02"));
        assert_eq!(text.lines().count(), 2);
        assert_eq!(parse_spaced_hex(&text).unwrap(), bytes);
        assert_eq!(SpacedHex(&[0xde, 0xad]).to_string(), "DE AD");
    }
}
