//! RFC 3339 timestamps for `gannet route --at` and for explanations, without a date crate:
//! the civil-from-days arithmetic of H. Hinnant's `chrono`-compatible algorithms.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn num(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// Parses `2025-01-15T10:00:00Z`, `2025-01-15T15:30:00+05:30`, with optional fractional
/// seconds and `t`/space for `T`. Times before 1970 are refused.
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("`{s}` is not an RFC 3339 time like 2025-01-15T10:00:00Z");
    let s = s.trim();
    if s.len() < 20 || !s.is_char_boundary(10) || !s.is_char_boundary(19) {
        return Err(bad());
    }
    let (date, rest) = s.split_at(10);
    let sep = rest.as_bytes()[0];
    if !matches!(sep, b'T' | b't' | b' ') {
        return Err(bad());
    }
    let (clock, mut zone) = rest[1..].split_at(8);
    let dp: Vec<&str> = date.split('-').collect();
    let cp: Vec<&str> = clock.split(':').collect();
    if dp.len() != 3 || cp.len() != 3 || dp[0].len() != 4 {
        return Err(bad());
    }
    let (y, mo, d) = (
        num(dp[0]).ok_or_else(bad)?,
        num(dp[1]).ok_or_else(bad)?,
        num(dp[2]).ok_or_else(bad)?,
    );
    let (h, mi, sec) = (
        num(cp[0]).ok_or_else(bad)?,
        num(cp[1]).ok_or_else(bad)?,
        num(cp[2]).ok_or_else(bad)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut nanos = 0u32;
    if let Some(frac) = zone.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        let digits = &frac[..n.min(9)];
        nanos = num(digits).ok_or_else(bad)? * 10u32.pow(9 - digits.len() as u32);
        zone = &frac[n..];
    }
    let offset =
        crate::routes::parse_utc_offset(if zone == "z" { "Z" } else { zone }).ok_or_else(bad)?;
    let days = days_from_civil(i64::from(y), mo, d);
    if civil_from_days(days) != (i64::from(y), mo, d) {
        return Err(bad());
    }
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec) - i64::from(offset);
    let secs = u64::try_from(secs).map_err(|_| bad())?;
    Ok(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// `2025-01-15T10:00:00Z` (whole seconds, UTC).
pub fn format_rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    format_unix(secs, 0)
}

/// Unix seconds as local time at `offset_secs`, e.g. `2025-01-15T15:30:00+05:30`.
pub fn format_unix(secs: i64, offset_secs: i32) -> String {
    let local = secs + i64::from(offset_secs);
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let tod = local.rem_euclid(86_400);
    let zone = if offset_secs == 0 {
        "Z".to_string()
    } else {
        let sign = if offset_secs < 0 { '-' } else { '+' };
        let o = offset_secs.unsigned_abs();
        format!("{sign}{:02}:{:02}", o / 3600, o % 3600 / 60)
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{zone}",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = parse_rfc3339("2025-01-15T10:00:00Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_736_935_200));
        assert_eq!(format_rfc3339(t), "2025-01-15T10:00:00Z");
        assert_eq!(parse_rfc3339("2025-01-15T15:30:00+05:30").unwrap(), t);
        assert_eq!(
            format_unix(1_736_935_200, 19_800),
            "2025-01-15T15:30:00+05:30"
        );
        assert_eq!(
            format_unix(1_736_935_200, -21_600),
            "2025-01-15T04:00:00-06:00"
        );
        let f = parse_rfc3339("2024-02-29T23:59:59.5Z").unwrap();
        assert_eq!(format_rfc3339(f), "2024-02-29T23:59:59Z");
        for bad in [
            "2025-02-30T00:00:00Z",
            "2025-01-15 10:00Z",
            "2025-01-15T10:00:00",
            "1969-12-31T23:59:59Z",
            "yesterday",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
