//! Matching delivery receipts back to the submits they report on.
//!
//! A receipt can come back on any bind of the account (and, with receiver+transmitter, never on
//! the bind that sent the message), so the book is shared by the run. Binds do not take its
//! lock per PDU: each collects the message ids and receipts of one read batch and settles them
//! in one visit.
//!
//! Ids are keyed as numbers, not strings, so the map allocates nothing per entry: an id made of
//! hex digits (decimal ones included; dashes of a UUID set aside) is its value after leading
//! zeros and case are dropped, the same normalisation as [`gannet_smpp::receipt::ids_equal`];
//! any other id is a 124-bit hash of its octets in a range numbers cannot reach. The id in a
//! receipt is expected in the form the submit_sm_resp gave it (case and zero padding aside).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use gannet_smpp::{ReceiptStat, TlvTag, parse_receipt};

use super::histogram::Histogram;

/// A normalised message id.
pub type IdKey = u128;

/// How the id in a receipt relates to the message_id of the submit_sm_resp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdMatch {
    /// The same text, leading zeros and letter case aside.
    #[default]
    AsSent,
    /// submit_sm_resp in hex, the receipt the same number in decimal (`0A1F3B` / `663355`).
    HexToDecimal,
    /// submit_sm_resp in decimal, the receipt the same number in hex.
    DecimalToHex,
}

impl IdMatch {
    /// Key of a submit_sm_resp message_id.
    pub fn resp_key(self, id: &[u8]) -> IdKey {
        match self {
            IdMatch::AsSent => id_key(id),
            IdMatch::HexToDecimal => number_key(id, 16),
            IdMatch::DecimalToHex => number_key(id, 10),
        }
    }

    /// Key of the id a receipt carries.
    pub fn receipt_key(self, id: &[u8]) -> IdKey {
        match self {
            IdMatch::AsSent => id_key(id),
            IdMatch::HexToDecimal => number_key(id, 10),
            IdMatch::DecimalToHex => number_key(id, 16),
        }
    }
}

/// The id as a number in `radix`, below 1 << 124 like [`id_key`]'s numbers; an id that is not
/// one falls back to [`id_key`] and will only match the same text.
fn number_key(id: &[u8], radix: u32) -> IdKey {
    match gannet_smpp::receipt::id_value(id, radix) {
        Some(v) if v < 1 << 124 => v,
        _ => id_key(id),
    }
}

/// Key of a message id as sent in submit_sm_resp, receipted_message_id or receipt text.
pub fn id_key(id: &[u8]) -> IdKey {
    let id = trim(id);
    let mut value: u128 = 0;
    let mut digits = 0;
    let mut numeric = !id.is_empty();
    for &c in id {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'-' => continue,
            _ => {
                numeric = false;
                break;
            }
        };
        if digits == 0 && d == 0 {
            continue;
        }
        digits += 1;
        if digits > 31 {
            numeric = false;
            break;
        }
        value = value << 4 | u128::from(d);
    }
    if numeric {
        return value;
    }
    // FNV-1a twice with different bases, folded into the top range (0xF << 124 and up):
    // hex values of at most 31 digits stay below 1 << 124.
    let fnv = |basis: u64| {
        id.iter().fold(basis, |h, &b| {
            (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01B3)
        })
    };
    let hi = fnv(0xCBF2_9CE4_8422_2325);
    let lo = fnv(0x6C62_272E_07BB_0142);
    (0xF << 124) | (u128::from(hi) << 64 | u128::from(lo)) & ((1 << 124) - 1)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace() && *b != 0);
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace() && *b != 0);
    match (start, end) {
        (Some(a), Some(b)) => &s[a..=b],
        _ => &[],
    }
}

/// What a deliver_sm says as a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiptView<'a> {
    /// esm_class marks an SMSC delivery receipt (SMPP 3.4 §5.2.12: bits 2-5 = 0001).
    pub is_receipt: bool,
    /// receipted_message_id, else the `id:` of the text.
    pub id: Option<&'a [u8]>,
    /// message_state, else the `stat:` of the text, as a message_state; 0 when unknown.
    pub state: u8,
}

/// Reads the receipt fields of a deliver_sm body (the octets after the header) without building
/// a `Pdu`: walks the mandatory fields of SMPP 3.4 §4.6.1 to short_message, then the TLVs for
/// receipted_message_id, message_state and message_payload. Falls back to the tolerant text
/// parser only when the fields it needs are not where Appendix B puts them. `None` when the
/// body does not parse; the caller then asks the full decoder what status to answer with.
///
/// Receipts are half the PDUs of a `--receipts` run: decoding each into a `Pdu` and running the
/// general receipt parser on every text cost more than the rest of the client together.
pub fn scan_deliver_sm(body: &[u8]) -> Option<ReceiptView<'_>> {
    let mut c = Cursor { b: body, i: 0 };
    c.cstr()?; // service_type
    c.take(2)?;
    c.cstr()?; // source_addr
    c.take(2)?;
    c.cstr()?; // destination_addr
    let esm_class = c.u8()?;
    c.take(2)?; // protocol_id, priority_flag
    c.cstr()?; // schedule_delivery_time
    c.cstr()?; // validity_period
    c.take(4)?; // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
    let sm_length = usize::from(c.u8()?);
    let short_message = c.take(sm_length)?;
    let (mut tlv_id, mut tlv_state, mut payload) = (None, None, None);
    // TLVs; a tail too short for one is ignored, as the lenient decoder does.
    while let Some(head) = c.take(4) {
        let tag = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let value = c.take(len)?;
        match TlvTag(tag) {
            TlvTag::RECEIPTED_MESSAGE_ID => {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                tlv_id = Some(&value[..end]);
            }
            TlvTag::MESSAGE_STATE if len == 1 => tlv_state = Some(value[0]),
            TlvTag::MESSAGE_PAYLOAD => payload = Some(value),
            _ => {}
        }
    }
    let is_receipt = esm_class & 0x3C == 0x04;
    if let (Some(id), Some(state)) = (tlv_id, tlv_state) {
        return Some(ReceiptView {
            is_receipt,
            id: Some(id),
            state,
        });
    }
    let text = match payload {
        Some(p) if short_message.is_empty() => p,
        _ => short_message,
    };
    let (text_id, text_state) = match id_and_stat(text) {
        (Some(id), Some(stat)) if !id.is_empty() && !stat.is_empty() => {
            (Some(id), stat_state(stat))
        }
        // Anything unusual (`id: 123`, missing fields): the tolerant parser.
        _ => match parse_receipt(text) {
            Ok(r) => (r.id, r.stat.and_then(|s| s.message_state())),
            Err(_) => (None, None),
        },
    };
    Some(ReceiptView {
        is_receipt,
        id: tlv_id.or(text_id),
        state: tlv_state.or(text_state).unwrap_or(0),
    })
}

/// The `id:` and `stat:` values of receipt text, in one pass from colon to colon: a key is
/// the word before a colon (at the start or after a space, ASCII case ignored), its value runs
/// to the next space. Stops once both are found, before `text:`, whose value may hold anything.
fn id_and_stat(text: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let (mut id, mut stat) = (None, None);
    let mut from = 0;
    while let Some(off) = text[from..].iter().position(|&b| b == b':') {
        let colon = from + off;
        let value = || {
            let v = &text[colon + 1..];
            &v[..v
                .iter()
                .position(|&b| b == b' ' || b == 0)
                .unwrap_or(v.len())]
        };
        let key_is = |name: &[u8]| {
            colon >= name.len()
                && (colon == name.len() || text[colon - name.len() - 1] == b' ')
                && text[colon - name.len()..colon].eq_ignore_ascii_case(name)
        };
        if id.is_none() && key_is(b"id") {
            id = Some(value());
        } else if stat.is_none() && key_is(b"stat") {
            stat = Some(value());
        }
        if id.is_some() && stat.is_some() {
            break;
        }
        from = colon + 1;
    }
    (id, stat)
}

/// message_state of a `stat:` value; DELIVRD, by far the most common, without the table.
fn stat_state(stat: &[u8]) -> Option<u8> {
    if stat == b"DELIVRD" {
        return Some(2);
    }
    ReceiptStat::parse(stat).message_state()
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }

    /// A C-octet string without its NUL.
    fn cstr(&mut self) -> Option<&'a [u8]> {
        let rest = self.b.get(self.i..)?;
        let n = rest.iter().position(|&b| b == 0)?;
        self.i += n + 1;
        Some(&rest[..n])
    }
}

/// Receipt stat, as message_state numbers (SMPP 3.4 §5.2.28, 5.0 §4.7.15); 0 when unknown.
pub const STAT_NAMES: [&str; 10] = [
    "OTHER", "ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN",
    "REJECTD", "SKIPPED",
];

/// Whether a message_state is final (SMPP 5.0 §4.7.15); UNKNOWN and unrecognised are not.
pub fn is_final(state: u8) -> bool {
    matches!(state, 2..=6 | 8 | 9)
}

/// One receipt as read off a bind.
#[derive(Clone, Copy, Debug)]
pub struct Arrived {
    pub key: IdKey,
    pub state: u8,
    pub recv_ns: u64,
}

/// Messages waiting for their receipt, and receipts waiting for their message.
#[derive(Default)]
pub struct Book {
    /// submit_sm_resp message id -> send time.
    waiting: HashMap<IdKey, u64, BuildHasherDefault<KeyHasher>>,
    /// Final receipts whose id no submit_sm_resp has given (yet): the receipt came first, or
    /// it is a duplicate or for a message this run did not send.
    early: HashMap<IdKey, u64, BuildHasherDefault<KeyHasher>>,
    /// Receipts that found their message.
    pub matched: u64,
}

impl Book {
    pub fn with_capacity(n: usize) -> Book {
        Book {
            waiting: HashMap::with_capacity_and_hasher(n, Default::default()),
            early: HashMap::default(),
            matched: 0,
        }
    }

    /// Settles one batch: the ids the SMSC gave to submits, then the receipts read.
    /// Receipt latencies (send to receipt) go into `latency`.
    pub fn settle(&mut self, sent: &[(IdKey, u64)], arrived: &[Arrived], latency: &mut Histogram) {
        for &(key, sent_ns) in sent {
            match self.early.remove(&key) {
                Some(recv_ns) => {
                    self.matched += 1;
                    latency.record(recv_ns.saturating_sub(sent_ns));
                }
                None => {
                    self.waiting.insert(key, sent_ns);
                }
            }
        }
        for r in arrived.iter().filter(|r| is_final(r.state)) {
            match self.waiting.remove(&r.key) {
                Some(sent_ns) => {
                    self.matched += 1;
                    latency.record(r.recv_ns.saturating_sub(sent_ns));
                }
                None => {
                    self.early.insert(r.key, r.recv_ns);
                }
            }
        }
    }

    /// Messages still without a final receipt.
    pub fn outstanding(&self) -> u64 {
        self.waiting.len() as u64
    }

    /// Final receipts no message has claimed.
    pub fn unmatched(&self) -> u64 {
        self.early.len() as u64
    }
}

/// Hasher for [`IdKey`]: one folded multiply. Ids are mostly consecutive numbers, which this
/// spreads over both the low bits (bucket) and the high bits (hashbrown's tag).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = fold(self.0 ^ u64::from(b));
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = fold(v as u64 ^ fold((v >> 64) as u64 ^ self.0));
    }
}

#[inline]
fn fold(x: u64) -> u64 {
    let m = u128::from(x) * 0x9E37_79B9_7F4A_7C15;
    (m as u64) ^ ((m >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_padding_and_dashes() {
        assert_eq!(id_key(b"000A1F"), id_key(b"a1f"));
        assert_eq!(id_key(b"  42\0"), 0x42);
        assert_eq!(id_key(b"0"), id_key(b"000"));
        assert_ne!(id_key(b"12"), id_key(b"13"));
        assert_eq!(
            id_key(b"0f8e7a8c-3c1b-4d5e-9f00-1b2c3d4e5f60"),
            id_key(b"0F8E7A8C3C1B4D5E9F001B2C3D4E5F60")
        );
    }

    #[test]
    fn hex_and_decimal_spellings_of_one_number() {
        let m = IdMatch::HexToDecimal;
        assert_eq!(m.resp_key(b"00000A1F3B"), m.receipt_key(b"663355"));
        assert_ne!(m.resp_key(b"10"), m.receipt_key(b"10"));
        let m = IdMatch::DecimalToHex;
        assert_eq!(m.resp_key(b"663355"), m.receipt_key(b"a1f3b"));
        let m = IdMatch::AsSent;
        assert_eq!(m.resp_key(b"A1F3B"), m.receipt_key(b"000a1f3b"));
    }

    #[test]
    fn other_ids_hash_out_of_the_numeric_range() {
        let k = id_key(b"msg-xyz-1");
        assert!(k >= 0xF << 124);
        assert_eq!(k, id_key(b"MSG-XYZ-1"));
        assert_ne!(k, id_key(b"msg-xyz-2"));
        assert!(
            id_key(b"1234567890abcdef1234567890abcdef") >= 0xF << 124,
            "32 digits"
        );
    }

    fn body(sm: gannet_smpp::DeliverSm) -> Vec<u8> {
        use gannet_smpp::{Body, Pdu};
        Pdu::new(7, Body::DeliverSm(sm)).to_bytes()[16..].to_vec()
    }

    fn receipt(text: &str) -> gannet_smpp::DeliverSm {
        gannet_smpp::DeliverSm {
            source_addr: gannet_smpp::Address::international(&b"919812345678"[..]),
            destination_addr: gannet_smpp::Address::alphanumeric(&b"GANNET"[..]),
            esm_class: 0x04,
            short_message: bytes::Bytes::copy_from_slice(text.as_bytes()),
            ..Default::default()
        }
    }

    const TEXT: &str = "id:0000A1F sub:001 dlvrd:001 submit date:2501011200 \
                        done date:2501011201 stat:UNDELIV err:001 text:Your code";

    #[test]
    fn scans_text_receipts() {
        let b = body(receipt(TEXT));
        let v = scan_deliver_sm(&b).unwrap();
        assert_eq!(
            v,
            ReceiptView {
                is_receipt: true,
                id: Some(b"0000A1F"),
                state: 5
            }
        );
        // Odd spacing and case go through the tolerant parser.
        let b = body(receipt("ID: 77 STAT: delivrd"));
        let v = scan_deliver_sm(&b).unwrap();
        assert_eq!((v.id, v.state), (Some(&b"77"[..]), 2));
    }

    #[test]
    fn id_and_stat_are_whole_words() {
        assert_eq!(
            id_and_stat(b"xid:5 id:6 substat:X stat:DELIVRD text:id:7"),
            (Some(&b"6"[..]), Some(&b"DELIVRD"[..]))
        );
        assert_eq!(id_and_stat(b"Id:9\0\0"), (Some(&b"9"[..]), None));
        assert_eq!(id_and_stat(b"stat:"), (None, Some(&b""[..])));
        assert_eq!(id_and_stat(b":::"), (None, None));
        assert_eq!(stat_state(b"DELIVRD"), Some(2));
        assert_eq!(stat_state(b"undeliv"), Some(5));
        assert_eq!(stat_state(b"NOPE"), None);
    }

    #[test]
    fn tlvs_win_over_text() {
        use gannet_smpp::Tlv;
        let sm = receipt(TEXT)
            .with_tlv(Tlv::cstr(TlvTag::RECEIPTED_MESSAGE_ID, b"a1f"))
            .with_tlv(Tlv::u8(TlvTag::MESSAGE_STATE, 2));
        let b = body(sm);
        let v = scan_deliver_sm(&b).unwrap();
        assert_eq!((v.id, v.state), (Some(&b"a1f"[..]), 2));
    }

    #[test]
    fn text_in_message_payload() {
        use gannet_smpp::Tlv;
        let mut sm = receipt("");
        sm = sm.with_tlv(Tlv::new(TlvTag::MESSAGE_PAYLOAD, TEXT.as_bytes().to_vec()));
        let b = body(sm);
        let v = scan_deliver_sm(&b).unwrap();
        assert_eq!((v.id, v.state), (Some(&b"0000A1F"[..]), 5));
    }

    #[test]
    fn mobile_originated_and_broken_bodies() {
        let mut mo = receipt("hello");
        mo.esm_class = 0;
        assert!(!scan_deliver_sm(&body(mo)).unwrap().is_receipt);
        let b = body(receipt(TEXT));
        for cut in [0, 5, 20, b.len() - 3] {
            assert_eq!(scan_deliver_sm(&b[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn settles_in_either_order() {
        let mut book = Book::default();
        let mut h = Histogram::new();
        let r = |key, state, recv_ns| Arrived {
            key,
            state,
            recv_ns,
        };
        book.settle(&[(1, 100), (2, 100)], &[r(1, 2, 150)], &mut h);
        // Receipt before its submit_sm_resp; an ENROUTE that settles nothing.
        book.settle(&[], &[r(3, 5, 400), r(2, 1, 450)], &mut h);
        assert_eq!(
            (book.matched, book.outstanding(), book.unmatched()),
            (1, 1, 1)
        );
        book.settle(&[(3, 300)], &[r(2, 2, 600)], &mut h);
        assert_eq!(
            (book.matched, book.outstanding(), book.unmatched()),
            (3, 0, 0)
        );
        assert_eq!(h.count(), 3);
        assert_eq!(h.min(), 50);
        assert_eq!(h.max(), 500);
    }
}
