//! Delivery receipt text (SMPP 3.4 Appendix B), parsed the way carriers actually send it.
//!
//! The appendix suggests a fixed layout in the short_message of a deliver_sm whose esm_class
//! marks a receipt:
//!
//! ```text
//! id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text: . . .
//! ```
//!
//! It is only a suggestion ("vendor specific"), and real receipts differ: keys in any case,
//! fields missing or reordered, `submit_date` spelled with an underscore, dates with seconds,
//! extra vendor fields, several spaces, text with colons in it or no text at all. This parser
//! is a tolerant tokenizer over `key:value` pairs that borrows from the input and allocates
//! only when vendor fields are present.
//!
//! What it is not: it does not decide how a receipt id relates to the message_id of a
//! submit_sm_resp (hex in one, decimal in the other is common); [`ids_equal`] and [`id_value`]
//! are the tools for the caller's per-carrier policy.

use std::fmt;

/// Why a text is not a delivery receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Neither an `id:` nor a `stat:` field was found: nothing to correlate or report.
    #[error("not a delivery receipt: no id and no stat field")]
    NoIdOrStat,
}

/// A delivery receipt, borrowing from the text it was parsed from.
///
/// Every field is optional because carriers leave any of them out. Empty values (`err:`) read
/// as `None`. When a known key appears twice, the first one wins and the later ones are kept in
/// [`Receipt::extras`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt<'a> {
    /// The message id the SMSC assigned (`id:`), as sent: hex or decimal, maybe zero-padded.
    pub id: Option<&'a [u8]>,
    /// Number of short messages originally submitted (`sub:`), as sent.
    pub sub: Option<&'a [u8]>,
    /// Number of short messages delivered (`dlvrd:`), as sent.
    pub dlvrd: Option<&'a [u8]>,
    /// `submit date:`, when it is a valid date.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`, when it is a valid date.
    pub done_date: Option<ReceiptDate>,
    /// `submit date:` as sent, valid or not.
    pub submit_date_raw: Option<&'a [u8]>,
    /// `done date:` as sent, valid or not.
    pub done_date_raw: Option<&'a [u8]>,
    /// Final (or intermediate) state of the message (`stat:`).
    pub stat: Option<ReceiptStat<'a>>,
    /// Network-specific error code (`err:`), as sent.
    pub err: Option<&'a [u8]>,
    /// The first characters of the original message (`text:`): everything after the key to the
    /// end of the receipt, colons and spaces included.
    pub text: Option<&'a [u8]>,
    /// Fields this parser does not know, in order, as (key, value).
    pub extras: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> Receipt<'a> {
    /// The value of a vendor field, matching the key without regard to ASCII case.
    pub fn extra(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.extras
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|&(_, v)| v)
    }

    /// `err:` as a decimal number, when it is one (Appendix B gives it as 3 decimal digits).
    pub fn err_code(&self) -> Option<u32> {
        parse_decimal(self.err?)
    }
}

/// A receipt date: `YYMMDDhhmm` (Appendix B) or `YYMMDDhhmmss` (common in practice), also
/// `YYYYMMDDhhmm` and `YYYYMMDDhhmmss`. Two-digit years are taken as 20YY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReceiptDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    /// Only when the carrier sent seconds.
    pub second: Option<u8>,
}

impl ReceiptDate {
    /// Parses and validates a date field; `None` for anything that is not a real date.
    pub fn parse(s: &[u8]) -> Option<ReceiptDate> {
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        match s.len() {
            10 => Self::from_parts(two(s, 0)?, &s[2..], false),
            // YYMMDDhhmmss first: that is what carriers mean by 12 digits. A year-first
            // YYYYMMDDhhmm fails there (its "month" is the century's second half) and is
            // tried next.
            12 => Self::from_parts(two(s, 0)?, &s[2..], true)
                .or_else(|| Self::from_parts(four(s)?, &s[4..], false)),
            14 => Self::from_parts(four(s)?, &s[4..], true),
            _ => None,
        }
    }

    /// `year` is already resolved to four digits; `rest` is MMDDhhmm[ss].
    fn from_parts(year: u16, rest: &[u8], seconds: bool) -> Option<ReceiptDate> {
        let year = if year < 100 { 2000 + year } else { year };
        let date = ReceiptDate {
            year,
            month: two(rest, 0)? as u8,
            day: two(rest, 2)? as u8,
            hour: two(rest, 4)? as u8,
            minute: two(rest, 6)? as u8,
            second: if seconds {
                Some(two(rest, 8)? as u8)
            } else {
                None
            },
        };
        date.is_valid().then_some(date)
    }

    fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour <= 23
            && self.minute <= 59
            && self.second.is_none_or(|s| s <= 59)
    }
}

impl fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )?;
        if let Some(s) = self.second {
            write!(f, ":{s:02}")?;
        }
        Ok(())
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// Two ASCII digits at `at` as a number.
fn two(s: &[u8], at: usize) -> Option<u16> {
    let d = s.get(at..at + 2)?;
    Some(u16::from(d[0].wrapping_sub(b'0')) * 10 + u16::from(d[1].wrapping_sub(b'0')))
}

fn four(s: &[u8]) -> Option<u16> {
    Some(two(s, 0)? * 100 + two(s, 2)?)
}

/// The `stat:` field. The seven-letter spellings are Appendix B's; long forms and common
/// misspellings map to the same variant; anything else is kept as [`ReceiptStat::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptStat<'a> {
    /// `ENROUTE`: still in the SMSC (retrying, or handed to the network).
    Enroute,
    /// `DELIVRD`.
    Delivered,
    /// `EXPIRED`: validity period passed.
    Expired,
    /// `DELETED`: cancelled in the SMSC.
    Deleted,
    /// `UNDELIV`.
    Undeliverable,
    /// `ACCEPTD`: read on behalf of the subscriber by customer service.
    Accepted,
    /// `UNKNOWN`: the SMSC cannot tell.
    Unknown,
    /// `REJECTD`.
    Rejected,
    /// `SKIPPED` (SMPP 5.0 §4.7.15): accepted but deliberately not transmitted.
    Skipped,
    /// Anything else, as sent.
    Other(&'a [u8]),
}

impl<'a> ReceiptStat<'a> {
    /// Classifies a stat value, ignoring ASCII case.
    pub fn parse(s: &'a [u8]) -> ReceiptStat<'a> {
        const TABLE: &[(&[u8], ReceiptStat<'static>)] = &[
            (b"DELIVRD", ReceiptStat::Delivered),
            (b"DELIVERED", ReceiptStat::Delivered),
            (b"DELIVRED", ReceiptStat::Delivered),
            (b"UNDELIV", ReceiptStat::Undeliverable),
            (b"UNDELIVERABLE", ReceiptStat::Undeliverable),
            (b"UNDELIVERED", ReceiptStat::Undeliverable),
            (b"UNDELIVRD", ReceiptStat::Undeliverable),
            (b"EXPIRED", ReceiptStat::Expired),
            (b"EXPIRD", ReceiptStat::Expired),
            (b"DELETED", ReceiptStat::Deleted),
            (b"DELETD", ReceiptStat::Deleted),
            (b"ACCEPTD", ReceiptStat::Accepted),
            (b"ACCEPTED", ReceiptStat::Accepted),
            (b"REJECTD", ReceiptStat::Rejected),
            (b"REJECTED", ReceiptStat::Rejected),
            (b"UNKNOWN", ReceiptStat::Unknown),
            (b"UNKNWN", ReceiptStat::Unknown),
            (b"ENROUTE", ReceiptStat::Enroute),
            (b"EN_ROUTE", ReceiptStat::Enroute),
            (b"SKIPPED", ReceiptStat::Skipped),
        ];
        TABLE
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map_or(ReceiptStat::Other(s), |&(_, stat)| stat)
    }

    /// True for states a message cannot leave (SMPP 5.0 §4.7.15 marks them "Final"):
    /// DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, REJECTD, SKIPPED. ENROUTE is intermediate;
    /// UNKNOWN is not marked final by the spec (the SMSC could not tell), and an unrecognised
    /// value is not trusted as final either.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ReceiptStat::Delivered
                | ReceiptStat::Expired
                | ReceiptStat::Deleted
                | ReceiptStat::Undeliverable
                | ReceiptStat::Accepted
                | ReceiptStat::Rejected
                | ReceiptStat::Skipped
        )
    }

    /// The message_state value (SMPP 3.4 §5.2.28, 5.0 §4.7.15) with the same meaning, or `None`
    /// for [`ReceiptStat::Other`].
    pub fn message_state(&self) -> Option<u8> {
        Some(match self {
            ReceiptStat::Enroute => 1,
            ReceiptStat::Delivered => 2,
            ReceiptStat::Expired => 3,
            ReceiptStat::Deleted => 4,
            ReceiptStat::Undeliverable => 5,
            ReceiptStat::Accepted => 6,
            ReceiptStat::Unknown => 7,
            ReceiptStat::Rejected => 8,
            ReceiptStat::Skipped => 9,
            ReceiptStat::Other(_) => return None,
        })
    }
}

/// The fields this parser knows, in slot order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Id = 0,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

const KEYS: usize = 8;

impl Key {
    /// Known keys, separator-free and lowercase; a key matches ignoring case and `_`, `-` or
    /// spaces (`submit date`, `Submit_Date`, `submitdate`).
    const NAMES: &[(&[u8], Key)] = &[
        (b"id", Key::Id),
        (b"sub", Key::Sub),
        (b"dlvrd", Key::Dlvrd),
        (b"submitdate", Key::SubmitDate),
        (b"donedate", Key::DoneDate),
        (b"stat", Key::Stat),
        (b"status", Key::Stat),
        (b"err", Key::Err),
        (b"text", Key::Text),
    ];

    fn lookup(key: &[u8]) -> Option<Key> {
        Self::NAMES
            .iter()
            .find(|(name, _)| key_matches(key, name))
            .map(|&(_, k)| k)
    }
}

fn key_matches(key: &[u8], name: &[u8]) -> bool {
    let mut name = name.iter();
    for &b in key {
        if matches!(b, b'_' | b'-' | b' ' | b'\t') {
            continue;
        }
        match name.next() {
            Some(&n) if b.to_ascii_lowercase() == n => {}
            _ => return false,
        }
    }
    name.next().is_none()
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// Where the value just read went, so a following word without a colon can extend it
/// (`id: 12345` or a vendor value with a space in it).
#[derive(Clone, Copy)]
enum Last {
    Nothing,
    Known(usize),
    Extra(usize),
}

/// Parses receipt text. Fails only when the text has neither an id nor a stat.
///
/// Never panics; allocates only when vendor fields are present.
pub fn parse_receipt(text: &[u8]) -> Result<Receipt<'_>, ReceiptError> {
    // Some SMSCs pad short_message with NULs or end it with a newline.
    let end = text
        .iter()
        .rposition(|&b| b != 0 && !is_space(b))
        .map_or(0, |e| e + 1);
    let b = &text[..end];

    // Value spans (start, end) into `b`, per known key.
    let mut slots: [Option<(usize, usize)>; KEYS] = [None; KEYS];
    // (key span, value span) of vendor fields and repeated keys.
    let mut extras: Vec<((usize, usize), (usize, usize))> = Vec::new();
    let mut last = Last::Nothing;
    let mut i = 0;

    while i < b.len() {
        if is_space(b[i]) {
            i += 1;
            continue;
        }
        // A word runs to a colon or a space.
        let word_start = i;
        let mut j = i;
        while j < b.len() && b[j] != b':' && !is_space(b[j]) {
            j += 1;
        }
        let word = &b[word_start..j];

        let (key_end, value_start) = if j < b.len() && b[j] == b':' && j > word_start {
            (j, j + 1)
        } else if let Some(colon) = two_word_date_key(b, word, j) {
            // `submit date:` / `done date:`: Appendix B's keys with a space in them.
            (colon, colon + 1)
        } else {
            // A word with no key: it continues the previous value, if there is one.
            let word_end = if j < b.len() && b[j] == b':' {
                j + 1
            } else {
                j
            };
            match last {
                Last::Known(k) => {
                    if let Some(span) = slots[k].as_mut() {
                        span.1 = word_end;
                    }
                }
                Last::Extra(x) => {
                    if let Some(e) = extras.get_mut(x) {
                        e.1.1 = word_end;
                    }
                }
                Last::Nothing => {}
            }
            i = word_end;
            continue;
        };

        let key = Key::lookup(&b[word_start..key_end]);
        let value_end = if key == Some(Key::Text) {
            // Appendix B puts text last and it may hold anything, colons included.
            b.len()
        } else {
            let mut e = value_start;
            while e < b.len() && !is_space(b[e]) {
                e += 1;
            }
            e
        };
        let value = (value_start, value_end);
        match key {
            Some(k) if slots[k as usize].is_none() => {
                slots[k as usize] = Some(value);
                last = Last::Known(k as usize);
            }
            _ => {
                extras.push(((word_start, key_end), value));
                last = Last::Extra(extras.len() - 1);
            }
        }
        i = value_end;
    }

    let get = |k: Key| {
        slots[k as usize]
            .and_then(|(s, e)| b.get(s..e))
            .map(trim)
            .filter(|v| !v.is_empty())
    };
    let receipt = Receipt {
        id: get(Key::Id),
        sub: get(Key::Sub),
        dlvrd: get(Key::Dlvrd),
        submit_date: get(Key::SubmitDate).and_then(ReceiptDate::parse),
        done_date: get(Key::DoneDate).and_then(ReceiptDate::parse),
        submit_date_raw: get(Key::SubmitDate),
        done_date_raw: get(Key::DoneDate),
        stat: get(Key::Stat).map(ReceiptStat::parse),
        err: get(Key::Err),
        text: get(Key::Text),
        extras: extras
            .into_iter()
            .filter_map(|((ks, ke), (vs, ve))| Some((trim(b.get(ks..ke)?), trim(b.get(vs..ve)?))))
            .collect(),
    };
    if receipt.id.is_none() && receipt.stat.is_none() {
        return Err(ReceiptError::NoIdOrStat);
    }
    Ok(receipt)
}

/// If `word` (ending at `word_end`, before a space) is `submit` or `done` and the next word is
/// `date:`, the index of that colon.
fn two_word_date_key(b: &[u8], word: &[u8], word_end: usize) -> Option<usize> {
    if !(word.eq_ignore_ascii_case(b"submit") || word.eq_ignore_ascii_case(b"done")) {
        return None;
    }
    let mut k = word_end;
    while k < b.len() && is_space(b[k]) {
        k += 1;
    }
    let next = b.get(k..k + 5)?;
    (next[..4].eq_ignore_ascii_case(b"date") && next[4] == b':').then_some(k + 4)
}

fn parse_decimal(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// True when two message ids name the same message once leading zeros and ASCII case are set
/// aside (`000A1F` and `a1f`). Does not convert between hex and decimal: see [`id_value`].
pub fn ids_equal(a: &[u8], b: &[u8]) -> bool {
    fn strip(s: &[u8]) -> &[u8] {
        let s = trim(s);
        let zeros = s.iter().take_while(|&&c| c == b'0').count();
        &s[zeros..]
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

/// A message id as a number in `radix` (10 or 16 in practice), for carriers that send the id in
/// submit_sm_resp in one base and in the receipt in the other. `None` when it is not a number
/// in that base or does not fit in 128 bits.
pub fn id_value(id: &[u8], radix: u32) -> Option<u128> {
    let id = trim(id);
    if id.is_empty() || !(2..=36).contains(&radix) {
        return None;
    }
    id.iter().try_fold(0u128, |acc, &c| {
        let d = (c as char).to_digit(radix)?;
        acc.checked_mul(u128::from(radix))?
            .checked_add(u128::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: Option<u8>) -> ReceiptDate {
        ReceiptDate {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
        }
    }

    #[test]
    fn appendix_b_layout() {
        let r = parse_receipt(
            b"id:0123456789 sub:001 dlvrd:001 submit date:2301151230 done date:2301151231 \
              stat:DELIVRD err:000 text:Hello world",
        )
        .unwrap();
        assert_eq!(r.id, Some(&b"0123456789"[..]));
        assert_eq!(r.sub, Some(&b"001"[..]));
        assert_eq!(r.dlvrd, Some(&b"001"[..]));
        assert_eq!(r.submit_date, Some(date(2023, 1, 15, 12, 30, None)));
        assert_eq!(r.done_date, Some(date(2023, 1, 15, 12, 31, None)));
        assert_eq!(r.stat, Some(ReceiptStat::Delivered));
        assert_eq!(r.err, Some(&b"000"[..]));
        assert_eq!(r.err_code(), Some(0));
        assert_eq!(r.text, Some(&b"Hello world"[..]));
        assert!(r.extras.is_empty());
    }

    #[test]
    fn any_key_case() {
        let r = parse_receipt(
            b"Id:ABC123 Sub:1 DLVRD:1 Submit Date:2312312359 DONE DATE:2401010000 STAT:undeliv ERR:034 Text:x",
        )
        .unwrap();
        assert_eq!(r.id, Some(&b"ABC123"[..]));
        assert_eq!(r.submit_date, Some(date(2023, 12, 31, 23, 59, None)));
        assert_eq!(r.done_date, Some(date(2024, 1, 1, 0, 0, None)));
        assert_eq!(r.stat, Some(ReceiptStat::Undeliverable));
        assert_eq!(r.err_code(), Some(34));
        assert_eq!(r.text, Some(&b"x"[..]));
    }

    #[test]
    fn underscore_dates_with_seconds() {
        let r = parse_receipt(
            b"id:7f3a9c sub:001 dlvrd:000 submit_date:240229083015 done_date:240229083120 stat:EXPIRED err:000",
        )
        .unwrap();
        assert_eq!(r.submit_date, Some(date(2024, 2, 29, 8, 30, Some(15))));
        assert_eq!(r.done_date, Some(date(2024, 2, 29, 8, 31, Some(20))));
        assert_eq!(r.stat, Some(ReceiptStat::Expired));
        assert_eq!(r.text, None, "no text field");
    }

    #[test]
    fn reordered_and_missing_keys() {
        let r = parse_receipt(b"stat:REJECTD err:0x0B id:99").unwrap();
        assert_eq!(r.id, Some(&b"99"[..]));
        assert_eq!(r.stat, Some(ReceiptStat::Rejected));
        assert_eq!(r.err, Some(&b"0x0B"[..]));
        assert_eq!(r.err_code(), None);
        assert_eq!(r.sub, None);
        assert_eq!(r.submit_date, None);
    }

    #[test]
    fn vendor_extras_are_kept() {
        let r = parse_receipt(
            b"id:1234 sub:001 dlvrd:001 submit date:2305011200 done date:2305011201 stat:DELIVRD err:000 \
              mcc:310 mnc:260 price:0.0035 text:Hi",
        )
        .unwrap();
        assert_eq!(
            r.extras,
            vec![
                (&b"mcc"[..], &b"310"[..]),
                (&b"mnc"[..], &b"260"[..]),
                (&b"price"[..], &b"0.0035"[..]),
            ]
        );
        assert_eq!(r.extra(b"MCC"), Some(&b"310"[..]));
        assert_eq!(r.text, Some(&b"Hi"[..]));
    }

    #[test]
    fn text_with_colons_and_spaces() {
        let r =
            parse_receipt(b"id:5 stat:DELIVRD err:000 text:Code: 1234 at 12:30, id:fake").unwrap();
        assert_eq!(r.text, Some(&b"Code: 1234 at 12:30, id:fake"[..]));
        assert_eq!(r.id, Some(&b"5"[..]));
        assert!(r.extras.is_empty());
    }

    #[test]
    fn multiple_spaces_and_tabs() {
        let r = parse_receipt(
            b"  id:42   sub:001\tdlvrd:001  submit   date:2301010000  done  date:2301010001   stat:DELIVRD  err:000   text:  a  b  \r\n",
        )
        .unwrap();
        assert_eq!(r.id, Some(&b"42"[..]));
        assert_eq!(r.submit_date, Some(date(2023, 1, 1, 0, 0, None)));
        assert_eq!(r.done_date, Some(date(2023, 1, 1, 0, 1, None)));
        assert_eq!(r.stat, Some(ReceiptStat::Delivered));
        assert_eq!(r.text, Some(&b"a  b"[..]));
    }

    #[test]
    fn space_after_colon_continues_the_value() {
        let r = parse_receipt(b"id: 1A2B3C stat: DELIVRD err: 000").unwrap();
        assert_eq!(r.id, Some(&b"1A2B3C"[..]));
        assert_eq!(r.stat, Some(ReceiptStat::Delivered));
        assert_eq!(r.err, Some(&b"000"[..]));
    }

    #[test]
    fn long_forms_and_misspellings() {
        for (s, want) in [
            (&b"DELIVERED"[..], ReceiptStat::Delivered),
            (b"Undeliverable", ReceiptStat::Undeliverable),
            (b"UNDELIVERED", ReceiptStat::Undeliverable),
            (b"rejected", ReceiptStat::Rejected),
            (b"ACCEPTED", ReceiptStat::Accepted),
            (b"EN_ROUTE", ReceiptStat::Enroute),
            (b"FAILED", ReceiptStat::Other(b"FAILED")),
        ] {
            assert_eq!(
                ReceiptStat::parse(s),
                want,
                "{}",
                String::from_utf8_lossy(s)
            );
        }
        let r = parse_receipt(b"id:1 stat:FAILED").unwrap();
        assert_eq!(r.stat, Some(ReceiptStat::Other(b"FAILED")));
    }

    #[test]
    fn final_states_and_message_state() {
        assert!(ReceiptStat::Delivered.is_final());
        assert!(ReceiptStat::Rejected.is_final());
        assert!(!ReceiptStat::Enroute.is_final());
        assert!(!ReceiptStat::Unknown.is_final());
        assert!(!ReceiptStat::Other(b"X").is_final());
        let states: Vec<_> = [
            ReceiptStat::Enroute,
            ReceiptStat::Delivered,
            ReceiptStat::Expired,
            ReceiptStat::Deleted,
            ReceiptStat::Undeliverable,
            ReceiptStat::Accepted,
            ReceiptStat::Unknown,
            ReceiptStat::Rejected,
        ]
        .iter()
        .map(|s| s.message_state())
        .collect();
        assert_eq!(states, (1..=8).map(Some).collect::<Vec<_>>());
        assert_eq!(ReceiptStat::Other(b"X").message_state(), None);
    }

    #[test]
    fn bad_dates_keep_the_raw_value() {
        let r =
            parse_receipt(b"id:1 submit date:2302301200 done date:23013112 stat:DELIVRD").unwrap();
        assert_eq!(r.submit_date, None, "30 February");
        assert_eq!(r.submit_date_raw, Some(&b"2302301200"[..]));
        assert_eq!(r.done_date, None, "too short");
        assert_eq!(r.done_date_raw, Some(&b"23013112"[..]));
    }

    #[test]
    fn date_formats() {
        assert_eq!(
            ReceiptDate::parse(b"202301151230"),
            Some(date(2023, 1, 15, 12, 30, None)),
            "YYYYMMDDhhmm when YYMMDDhhmmss is not a date"
        );
        assert_eq!(
            ReceiptDate::parse(b"20230115123059"),
            Some(date(2023, 1, 15, 12, 30, Some(59)))
        );
        assert_eq!(ReceiptDate::parse(b"2301151260"), None, "minute 60");
        assert_eq!(ReceiptDate::parse(b"2301152400"), None, "hour 24");
        assert_eq!(ReceiptDate::parse(b"2313011200"), None, "month 13");
        assert_eq!(
            ReceiptDate::parse(b"2302291200"),
            None,
            "2023 is not a leap year"
        );
        assert_eq!(ReceiptDate::parse(b"23-01-1512"), None);
        assert_eq!(
            date(2024, 2, 29, 8, 5, Some(7)).to_string(),
            "2024-02-29 08:05:07"
        );
    }

    #[test]
    fn trailing_nuls_and_empty_values() {
        let r = parse_receipt(b"id:77 sub: dlvrd: stat:ACCEPTD err: text:\0\0\0").unwrap();
        assert_eq!(r.id, Some(&b"77"[..]));
        assert_eq!(r.sub, None);
        assert_eq!(r.err, None);
        assert_eq!(r.text, None);
        assert_eq!(r.stat, Some(ReceiptStat::Accepted));
    }

    #[test]
    fn only_stat_or_only_id() {
        let r = parse_receipt(b"stat:DELIVRD").unwrap();
        assert_eq!((r.id, r.stat), (None, Some(ReceiptStat::Delivered)));
        let r = parse_receipt(b"id:abc").unwrap();
        assert_eq!((r.id, r.stat), (Some(&b"abc"[..]), None));
    }

    #[test]
    fn not_a_receipt() {
        assert_eq!(parse_receipt(b""), Err(ReceiptError::NoIdOrStat));
        assert_eq!(
            parse_receipt(b"Hello, how are you?"),
            Err(ReceiptError::NoIdOrStat)
        );
        assert_eq!(
            parse_receipt(b"sub:1 dlvrd:1 err:0"),
            Err(ReceiptError::NoIdOrStat)
        );
        assert_eq!(parse_receipt(b"id: stat:"), Err(ReceiptError::NoIdOrStat));
    }

    #[test]
    fn repeated_keys_first_wins() {
        let r = parse_receipt(b"id:1 stat:ENROUTE id:2").unwrap();
        assert_eq!(r.id, Some(&b"1"[..]));
        assert_eq!(r.extras, vec![(&b"id"[..], &b"2"[..])]);
    }

    #[test]
    fn status_alias_and_hyphen_keys() {
        let r = parse_receipt(b"ID:00000000FF status:DELETED submit-date:2401011200").unwrap();
        assert_eq!(r.stat, Some(ReceiptStat::Deleted));
        assert_eq!(r.submit_date, Some(date(2024, 1, 1, 12, 0, None)));
    }

    #[test]
    fn stray_words_extend_a_vendor_value() {
        let r = parse_receipt(b"id:9 network:Acme Mobile stat:DELIVRD").unwrap();
        assert_eq!(r.extra(b"network"), Some(&b"Acme Mobile"[..]));
        assert_eq!(r.stat, Some(ReceiptStat::Delivered));
    }

    #[test]
    fn id_helpers() {
        assert!(ids_equal(b"000A1F", b"a1f"));
        assert!(ids_equal(b"0", b"000"));
        assert!(!ids_equal(b"A1F", b"A1E"));
        assert_eq!(id_value(b"1A2B", 16), Some(0x1A2B));
        assert_eq!(id_value(b"006699", 10), Some(6699));
        assert_eq!(id_value(b"1A2B", 10), None);
        assert_eq!(id_value(b"", 10), None);
        assert_eq!(id_value(&[b'9'; 60], 10), None, "overflow");
        // Hex in submit_sm_resp, decimal in the receipt: same message.
        assert_eq!(id_value(b"7f3a9c", 16), id_value(b"8338076", 10));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse_receipt(&data);
        }

        #[test]
        fn receipt_shaped_text_never_panics(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "id:", "stat:", "submit", "date:", "done", " ", ":", "text:", "DELIVRD",
                    "2301011200", "x", "\0", "\t", "err:", "_", "abc:def",
                ]),
                0..40,
            )
        ) {
            let text: String = parts.concat();
            if let Ok(r) = parse_receipt(text.as_bytes()) {
                proptest::prop_assert!(r.id.is_some() || r.stat.is_some());
            }
        }
    }
}
