//! Signing a webhook body and checking a signature, the receiver's side of it included.
//!
//! The header is `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The timestamp
//! is inside the MAC, so a receiver that also bounds the age of `t` refuses a captured request
//! replayed later. A receiver rotating secrets may see several `v1=` entries (one per secret
//! the sender holds); any one that matches is enough. Pure functions: the clock comes in as an
//! argument.

use std::fmt::Write as _;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag in bytes.
const TAG_LEN: usize = 32;

/// Longest signature header accepted by [`verify`]: a timestamp and a handful of `v1=` tags.
/// Anything longer is not ours.
const MAX_HEADER_LEN: usize = 1024;

/// Why [`verify`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The header is not `t=<digits>,v1=<64 hex digits>[,v1=...]`.
    #[error("malformed signature header: {0}")]
    Malformed(&'static str),
    /// No `v1=` tag matches the body under this secret: the body was altered, the secret is
    /// wrong, or the request was not sent by Gannet.
    #[error("signature does not match the body")]
    Mismatch,
    /// The signature is genuine but its timestamp is further from `now` than the tolerance:
    /// a late delivery, a replay, or a clock out of step.
    #[error("signature timestamp {timestamp} is outside the tolerance ({now} now)")]
    Stale { timestamp: u64, now: u64 },
}

/// The signature header value for `body` sent at `unix_secs`.
pub fn sign(secret: &[u8], unix_secs: u64, body: &[u8]) -> String {
    let tag = mac(secret, unix_secs, body).finalize().into_bytes();
    let mut out = String::with_capacity(24 + 2 * TAG_LEN);
    // Writing to a String cannot fail.
    let _ = write!(out, "t={unix_secs},v1=");
    push_hex(&mut out, &tag);
    out
}

/// Checks a signature header against `body`: well formed, one `v1=` tag equal (in constant
/// time) to the HMAC under `secret`, and `t` within `tolerance` of `now_unix_secs` either way.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_unix_secs: u64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(VerifyError::Malformed("header too long"));
    }
    let mut timestamp = None;
    let mut tags: Vec<[u8; TAG_LEN]> = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(VerifyError::Malformed("an entry without `=`"))?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::Malformed("more than one `t=`"));
                }
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VerifyError::Malformed("`t=` is not a number of seconds"));
                }
                timestamp = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| VerifyError::Malformed("`t=` is out of range"))?,
                );
            }
            "v1" => tags.push(
                parse_tag(value).ok_or(VerifyError::Malformed("`v1=` is not 64 hex digits"))?,
            ),
            // Later schemes (`v2=`) are skipped, so senders can add one before receivers
            // know it.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed("no `t=`"))?;
    if tags.is_empty() {
        return Err(VerifyError::Malformed("no `v1=`"));
    }
    let expected = mac(secret, timestamp, body);
    // `verify_slice` compares in constant time; every tag is checked, matching or not.
    let matched = tags.iter().fold(false, |ok, tag| {
        expected.clone().verify_slice(tag).is_ok() | ok
    });
    if !matched {
        return Err(VerifyError::Mismatch);
    }
    if timestamp.abs_diff(now_unix_secs) > tolerance.as_secs() {
        return Err(VerifyError::Stale {
            timestamp,
            now: now_unix_secs,
        });
    }
    Ok(())
}

/// The MAC over `"<t>.<body>"`, fed in pieces so the body is not copied.
fn mac(secret: &[u8], unix_secs: u64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts a key of any length (long keys are hashed first), so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    let mut digits = [0u8; 20];
    mac.update(decimal(unix_secs, &mut digits));
    mac.update(b".");
    mac.update(body);
    mac
}

/// `n` in decimal ASCII, written at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

fn parse_tag(hex: &str) -> Option<[u8; TAG_LEN]> {
    let hex = hex.as_bytes();
    if hex.len() != 2 * TAG_LEN {
        return None;
    }
    let mut out = [0u8; TAG_LEN];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *o = u8::try_from(hi << 4 | lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const BODY: &[u8] = br#"{"id":"m1","status":"delivered"}"#;
    const T: u64 = 1_790_000_000;
    const TOL: Duration = Duration::from_secs(300);

    #[test]
    fn known_answer() {
        // The primitive and the hex encoder: RFC 4231 §4.3 (test case 2).
        let mut m = HmacSha256::new_from_slice(b"Jefe").expect("key");
        m.update(b"what do ya want for nothing?");
        let mut hex = String::new();
        push_hex(&mut hex, &m.finalize().into_bytes());
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // And the header's shape: t, then 64 lowercase hex digits.
        let h = sign(SECRET, T, BODY);
        assert!(h.starts_with("t=1790000000,v1="), "{h}");
        assert_eq!(h.len(), "t=1790000000,v1=".len() + 64);
        // The MAC covers exactly "<t>.<body>".
        let mut m = HmacSha256::new_from_slice(SECRET).expect("key");
        m.update(format!("{T}.").as_bytes());
        m.update(BODY);
        let mut hex = String::new();
        push_hex(&mut hex, &m.finalize().into_bytes());
        assert_eq!(h, format!("t={T},v1={hex}"));
    }

    #[test]
    fn round_trip_and_tolerance() {
        let h = sign(SECRET, T, BODY);
        assert_eq!(verify(SECRET, &h, BODY, T, TOL), Ok(()));
        assert_eq!(verify(SECRET, &h, BODY, T + 300, TOL), Ok(()));
        assert_eq!(verify(SECRET, &h, BODY, T - 300, TOL), Ok(()));
        assert_eq!(
            verify(SECRET, &h, BODY, T + 301, TOL),
            Err(VerifyError::Stale {
                timestamp: T,
                now: T + 301
            })
        );
        assert!(matches!(
            verify(SECRET, &h, BODY, T - 301, TOL),
            Err(VerifyError::Stale { .. })
        ));
    }

    #[test]
    fn tampering_and_wrong_secret() {
        let h = sign(SECRET, T, BODY);
        let mut tampered = BODY.to_vec();
        tampered[8] ^= 1;
        assert_eq!(
            verify(SECRET, &h, &tampered, T, TOL),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &h, BODY, T, TOL),
            Err(VerifyError::Mismatch)
        );
        // A timestamp moved forward breaks the MAC too: it is signed.
        let moved = h.replacen("t=1790000000", "t=1790000100", 1);
        assert_eq!(
            verify(SECRET, &moved, BODY, T, TOL),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn rotation_any_tag_may_match() {
        let good = sign(SECRET, T, BODY);
        let old = sign(b"old-secret", T, BODY);
        let old_tag = old.split_once("v1=").expect("tag").1;
        let both = format!("{good},v1={old_tag}");
        assert_eq!(verify(SECRET, &both, BODY, T, TOL), Ok(()));
        assert_eq!(verify(b"old-secret", &both, BODY, T, TOL), Ok(()));
        // Unknown schemes are skipped; spaces after commas are allowed.
        let spaced = good.replace(",v1=", ", v2=abc, v1=");
        assert_eq!(verify(SECRET, &spaced, BODY, T, TOL), Ok(()));
    }

    #[test]
    fn malformed_headers() {
        let tag = "0".repeat(64);
        for h in [
            "",
            "garbage",
            "t=,v1=00",
            &format!("v1={tag}"),
            "t=1790000000",
            &format!("t=17x0,v1={tag}"),
            &format!("t=-5,v1={tag}"),
            &format!("t=99999999999999999999999,v1={tag}"),
            &format!("t=1,t=2,v1={tag}"),
            "t=1790000000,v1=abcd",
            &format!("t=1790000000,v1={}", "g".repeat(64)),
            &format!("t=1,{}", "v1=x,".repeat(400)),
        ] {
            assert!(
                matches!(
                    verify(SECRET, h, BODY, T, TOL),
                    Err(VerifyError::Malformed(_))
                ),
                "{h:?}"
            );
        }
    }

    #[test]
    fn decimal_digits() {
        let mut b = [0u8; 20];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(u64::MAX, &mut b), b"18446744073709551615");
        assert_eq!(decimal(T, &mut b), b"1790000000");
    }
}
