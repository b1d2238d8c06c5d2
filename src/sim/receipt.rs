//! What happens to a message after it is accepted: its fate by destination prefix, and the
//! delivery receipt that reports it.
//!
//! Receipts are deliver_sm with esm_class 0x04 (SMPP 3.4 §5.2.12, "SMSC Delivery Receipt"),
//! carrying the Appendix B text in short_message, the receipted_message_id / message_state /
//! network_error_code TLVs (§5.3.2.12, §5.3.2.35, §5.3.2.31), or both.

use bytes::{Bytes, BytesMut};
use gannet_smpp::{Address, TlvTag};

use super::config::{OutcomeConfig, ReceiptFormat};
use super::dist::Dist;
use super::ids::IdFormat;
use super::rng::Rng;
use super::wire;

/// The final fate of an accepted message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    Undeliverable,
    Expired,
    Rejected,
    /// Accepted and never reported.
    NoReceipt,
}

impl Fate {
    const ALL: [Fate; 5] = [
        Fate::Delivered,
        Fate::Undeliverable,
        Fate::Expired,
        Fate::Rejected,
        Fate::NoReceipt,
    ];

    /// message_state (SMPP 3.4 §5.2.28) of the final receipt.
    pub fn state(self) -> u8 {
        match self {
            Fate::Delivered => state::DELIVERED,
            Fate::Undeliverable => state::UNDELIVERABLE,
            Fate::Expired => state::EXPIRED,
            Fate::Rejected => state::REJECTED,
            Fate::NoReceipt => state::UNKNOWN,
        }
    }
}

/// message_state values (SMPP 3.4 §5.2.28).
pub mod state {
    pub const ENROUTE: u8 = 1;
    pub const DELIVERED: u8 = 2;
    pub const EXPIRED: u8 = 3;
    pub const UNDELIVERABLE: u8 = 5;
    pub const ACCEPTED: u8 = 6;
    pub const UNKNOWN: u8 = 7;
    pub const REJECTED: u8 = 8;
}

/// The seven-letter `stat:` of Appendix B for a message_state.
pub fn stat_text(state: u8) -> &'static str {
    match state {
        1 => "ENROUTE",
        2 => "DELIVRD",
        3 => "EXPIRED",
        4 => "DELETED",
        5 => "UNDELIV",
        6 => "ACCEPTD",
        8 => "REJECTD",
        9 => "SKIPPED",
        _ => "UNKNOWN",
    }
}

/// The outcome of one prefix, compiled.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Cumulative weights in [`Fate::ALL`] order.
    cumulative: [f64; 5],
    /// err codes for delivered, undeliverable, expired, rejected.
    err: [u16; 4],
    pub delay: Dist,
}

impl Outcome {
    fn from_config(c: &OutcomeConfig) -> Outcome {
        let mut cumulative = [0.0; 5];
        let mut sum = 0.0;
        for (slot, w) in cumulative.iter_mut().zip(c.weights()) {
            sum += w;
            *slot = sum;
        }
        Outcome {
            cumulative,
            err: [
                c.err.delivered,
                c.err.undeliverable,
                c.err.expired,
                c.err.rejected,
            ],
            delay: c.delay.value,
        }
    }

    /// Everything delivered, at once: what a persona does for destinations it has no rule for.
    fn delivered_now() -> Outcome {
        Outcome {
            cumulative: [1.0; 5],
            err: [0; 4],
            delay: Dist::default(),
        }
    }

    /// One weighted draw.
    pub fn pick(&self, rng: &mut Rng) -> Fate {
        let total = self.cumulative[4];
        let x = rng.next_f64() * total;
        for (fate, &c) in Fate::ALL.iter().zip(&self.cumulative) {
            if x < c {
                return *fate;
            }
        }
        // Rounding at the very top: the last fate with a weight.
        Fate::ALL
            .iter()
            .zip(self.cumulative.windows(2).map(|w| w[1] - w[0]))
            .rev()
            .find(|(_, w)| *w > 0.0)
            .map_or(Fate::Delivered, |(f, _)| *f)
    }

    pub fn err(&self, fate: Fate) -> u16 {
        match fate {
            Fate::Delivered => self.err[0],
            Fate::Undeliverable => self.err[1],
            Fate::Expired => self.err[2],
            Fate::Rejected => self.err[3],
            Fate::NoReceipt => 0,
        }
    }
}

/// Longest-prefix match over destination digits: a trie with one node per digit, so a lookup
/// costs one step per digit and no allocation.
#[derive(Debug)]
pub struct OutcomeTable {
    nodes: Vec<Node>,
    outcomes: Vec<Outcome>,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    next: [u32; 10],
    outcome: u32,
}

const NONE: u32 = u32::MAX;

impl Node {
    fn empty() -> Node {
        Node {
            next: [NONE; 10],
            outcome: NONE,
        }
    }
}

impl OutcomeTable {
    pub fn new(configs: &[crate::config::Spanned<OutcomeConfig>]) -> OutcomeTable {
        let mut t = OutcomeTable {
            nodes: vec![Node::empty()],
            outcomes: vec![Outcome::delivered_now()],
        };
        t.nodes[0].outcome = 0;
        for c in configs {
            let c = &c.value;
            let idx = t.outcomes.len() as u32;
            t.outcomes.push(Outcome::from_config(c));
            let mut node = 0usize;
            for d in c.prefix.value.bytes() {
                let digit = usize::from(d.wrapping_sub(b'0')).min(9);
                if t.nodes[node].next[digit] == NONE {
                    t.nodes.push(Node::empty());
                    t.nodes[node].next[digit] = (t.nodes.len() - 1) as u32;
                }
                node = t.nodes[node].next[digit] as usize;
            }
            t.nodes[node].outcome = idx;
        }
        t
    }

    /// The outcome of the longest matching prefix; non-digits (`+`, spaces) are skipped.
    pub fn lookup(&self, destination: &[u8]) -> &Outcome {
        let mut node = 0usize;
        let mut best = self.nodes[0].outcome;
        for &b in destination {
            if !b.is_ascii_digit() {
                continue;
            }
            let next = self.nodes[node].next[usize::from(b - b'0')];
            if next == NONE {
                break;
            }
            node = next as usize;
            if self.nodes[node].outcome != NONE {
                best = self.nodes[node].outcome;
            }
        }
        &self.outcomes[best as usize]
    }
}

/// A receipt waiting to be sent.
#[derive(Clone, Debug)]
pub struct ReceiptJob {
    /// The message's number; formatted with the receipt id format.
    pub number: u128,
    /// message_state to report.
    pub state: u8,
    pub err: u16,
    /// Milliseconds since the simulator's epoch.
    pub submitted_ms: u64,
    pub done_ms: u64,
    /// The original destination: the receipt's source_addr.
    pub handset: Address,
    /// The original source: the receipt's destination_addr.
    pub sender: Address,
    /// The start of the original text, and its data_coding, for `text:`.
    pub text: Bytes,
    pub text_dcs: u8,
}

/// A mobile-originated message waiting to be sent.
#[derive(Clone, Debug)]
pub struct MoJob {
    pub source: Address,
    pub destination: Address,
    pub data_coding: u8,
    pub short_message: Bytes,
}

/// Something the SMSC sends to a receiver bind.
#[derive(Clone, Debug)]
pub enum Outbound {
    Receipt(ReceiptJob),
    Mo(MoJob),
}

/// Turns simulator time into the wall-clock dates receipts carry.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    /// Unix seconds at the simulator's epoch.
    pub epoch_unix: u64,
}

impl WallClock {
    /// `YYMMDDhhmm` in UTC (Appendix B), written digit by digit: this runs for every
    /// receipt and the formatting machinery would be most of its cost.
    fn date(&self, ms: u64, out: &mut BytesMut) {
        let t = self.epoch_unix + ms / 1000;
        let (y, m, d) = civil_from_days((t / 86_400) as i64);
        let secs = t % 86_400;
        let fields = [
            y.rem_euclid(100) as u8,
            m as u8,
            d as u8,
            (secs / 3600) as u8,
            (secs % 3600 / 60) as u8,
        ];
        let mut buf = [0u8; 10];
        for (i, v) in fields.iter().enumerate() {
            buf[2 * i] = b'0' + v / 10;
            buf[2 * i + 1] = b'0' + v % 10;
        }
        out.extend_from_slice(&buf);
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// How many characters of the original text go into `text:` (Appendix B: "the first 20
/// characters").
const TEXT_CHARS: usize = 20;

/// Octets of the original message kept for `text:` (20 UCS-2 characters).
pub const TEXT_OCTETS: usize = 40;

/// Writes a receipt deliver_sm into `out`.
pub fn encode_receipt(
    out: &mut BytesMut,
    seq: u32,
    job: &ReceiptJob,
    format: ReceiptFormat,
    id_format: &IdFormat,
    clock: WallClock,
) {
    let id = id_format.format(job.number);
    let start = wire::deliver_sm_head(
        out,
        &wire::DeliverSmHead {
            seq,
            source: (job.handset.ton, job.handset.npi, &job.handset.addr),
            destination: (job.sender.ton, job.sender.npi, &job.sender.addr),
            esm_class: 0x04,
            data_coding: 0,
        },
    );
    let len_at = out.len();
    out.extend_from_slice(&[0]);
    if format != ReceiptFormat::Tlv {
        let delivered = job.state == state::DELIVERED;
        out.extend_from_slice(b"id:");
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(if delivered {
            b" sub:001 dlvrd:001 submit date:"
        } else {
            b" sub:001 dlvrd:000 submit date:"
        });
        clock.date(job.submitted_ms, out);
        out.extend_from_slice(b" done date:");
        clock.date(job.done_ms, out);
        out.extend_from_slice(b" stat:");
        out.extend_from_slice(stat_text(job.state).as_bytes());
        let e = job.err.min(999);
        out.extend_from_slice(b" err:");
        out.extend_from_slice(&[
            b'0' + (e / 100) as u8,
            b'0' + (e / 10 % 10) as u8,
            b'0' + (e % 10) as u8,
        ]);
        out.extend_from_slice(b" text:");
        put_snippet(out, &job.text, job.text_dcs);
        // sm_length is one octet (§4.6.1, at most 254); ids are at most 64 octets, so the text
        // always fits, but never let a length wrap.
        let len = (out.len() - len_at - 1).min(254);
        out.truncate(len_at + 1 + len);
        out[len_at] = len as u8;
    }
    if format != ReceiptFormat::Text {
        // receipted_message_id is a C-octet string (§5.3.2.12): the NUL is part of the value.
        let mut v = [0u8; super::ids::MAX_ID_LEN + 1];
        let n = id.as_bytes().len();
        v[..n].copy_from_slice(id.as_bytes());
        wire::put_tlv(out, TlvTag::RECEIPTED_MESSAGE_ID, &v[..=n]);
        wire::put_tlv(out, TlvTag::MESSAGE_STATE, &[job.state]);
        // network_error_code (§5.3.2.31): network type 3 (GSM), then the error code.
        let e = job.err.to_be_bytes();
        wire::put_tlv(out, TlvTag::NETWORK_ERROR_CODE, &[3, e[0], e[1]]);
    }
    wire::finish(out, start);
}

/// The first characters of the original text as printable ASCII ('?' for anything else), so
/// the receipt text stays in the default alphabet whatever the message was written in.
fn put_snippet(out: &mut BytesMut, text: &Bytes, dcs: u8) {
    let printable = |c: u32| {
        if (0x20..0x7F).contains(&c) {
            c as u8
        } else {
            b'?'
        }
    };
    if dcs == 0x08 {
        for pair in text.chunks_exact(2).take(TEXT_CHARS) {
            out.extend_from_slice(&[printable(u32::from(u16::from_be_bytes([pair[0], pair[1]])))]);
        }
    } else {
        for &b in text.iter().take(TEXT_CHARS) {
            out.extend_from_slice(&[printable(u32::from(b))]);
        }
    }
}

/// Writes a mobile-originated deliver_sm (esm_class 0, SMPP 3.4 §4.6.1) into `out`.
pub fn encode_mo(out: &mut BytesMut, seq: u32, job: &MoJob) {
    let start = wire::deliver_sm_head(
        out,
        &wire::DeliverSmHead {
            seq,
            source: (job.source.ton, job.source.npi, &job.source.addr),
            destination: (
                job.destination.ton,
                job.destination.npi,
                &job.destination.addr,
            ),
            esm_class: 0,
            data_coding: job.data_coding,
        },
    );
    if job.short_message.len() <= 254 {
        out.extend_from_slice(&[job.short_message.len() as u8]);
        out.extend_from_slice(&job.short_message);
    } else {
        // Longer than sm_length can say: message_payload instead (§5.3.2.32).
        out.extend_from_slice(&[0]);
        wire::put_tlv(out, TlvTag::MESSAGE_PAYLOAD, &job.short_message);
    }
    wire::finish(out, start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::unlocated;

    fn outcome(prefix: &str, weights: [f64; 5]) -> crate::config::Spanned<OutcomeConfig> {
        unlocated(OutcomeConfig {
            prefix: unlocated(prefix.to_string()),
            delivered: weights[0],
            undeliverable: weights[1],
            expired: weights[2],
            rejected: weights[3],
            no_receipt: weights[4],
            err: Default::default(),
            delay: unlocated(Dist::default()),
        })
    }

    #[test]
    fn longest_prefix_wins() {
        let t = OutcomeTable::new(&[
            outcome("5", [0.0, 1.0, 0.0, 0.0, 0.0]),
            outcome("504", [0.0, 0.0, 1.0, 0.0, 0.0]),
            outcome("50", [0.0, 0.0, 0.0, 1.0, 0.0]),
        ]);
        let mut rng = Rng::new(1);
        assert_eq!(t.lookup(b"+50499887766").pick(&mut rng), Fate::Expired);
        assert_eq!(t.lookup(b"50399887766").pick(&mut rng), Fate::Rejected);
        assert_eq!(t.lookup(b"52155").pick(&mut rng), Fate::Undeliverable);
        assert_eq!(t.lookup(b"4477").pick(&mut rng), Fate::Delivered, "no rule");
        assert_eq!(t.lookup(b"").pick(&mut rng), Fate::Delivered);
    }

    #[test]
    fn catch_all_prefix() {
        let t = OutcomeTable::new(&[outcome("", [0.0, 0.0, 0.0, 0.0, 1.0])]);
        assert_eq!(t.lookup(b"1555").pick(&mut Rng::new(1)), Fate::NoReceipt);
    }

    #[test]
    fn weights_are_honoured() {
        let t = OutcomeTable::new(&[outcome("", [60.0, 30.0, 10.0, 0.0, 0.0])]);
        let mut rng = Rng::new(5);
        let mut counts = [0u32; 5];
        for _ in 0..100_000 {
            let f = t.lookup(b"1").pick(&mut rng);
            counts[Fate::ALL.iter().position(|x| *x == f).unwrap()] += 1;
        }
        assert!((counts[0] as f64 / 1000.0 - 60.0).abs() < 1.0, "{counts:?}");
        assert!((counts[1] as f64 / 1000.0 - 30.0).abs() < 1.0, "{counts:?}");
        assert_eq!(counts[3] + counts[4], 0);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn receipt_text_parses_back() {
        let job = ReceiptJob {
            number: 0xA1F,
            state: state::UNDELIVERABLE,
            err: 34,
            submitted_ms: 0,
            done_ms: 61_000,
            handset: Address::international(Bytes::from_static(b"50499887766")),
            sender: Address::alphanumeric(Bytes::from_static(b"Gannet")),
            text: Bytes::from_static(b"Your code is 123456, valid 5 min"),
            text_dcs: 0,
        };
        let mut out = BytesMut::new();
        let clock = WallClock {
            epoch_unix: 1_709_164_800, // 2024-02-29 00:00:00 UTC
        };
        encode_receipt(
            &mut out,
            3,
            &job,
            ReceiptFormat::Both,
            &IdFormat::default(),
            clock,
        );
        let pdu = gannet_smpp::Pdu::decode(&out.freeze(), gannet_smpp::DecodeMode::Strict).unwrap();
        let gannet_smpp::Body::DeliverSm(d) = pdu.body else {
            panic!()
        };
        let r = gannet_smpp::parse_receipt(&d.short_message).unwrap();
        assert_eq!(r.id, Some(&b"2591"[..]));
        assert_eq!(r.stat, Some(gannet_smpp::ReceiptStat::Undeliverable));
        assert_eq!(r.err_code(), Some(34));
        assert_eq!(r.submit_date_raw, Some(&b"2402290000"[..]));
        assert_eq!(r.done_date_raw, Some(&b"2402290001"[..]));
        assert_eq!(r.text, Some(&b"Your code is 123456,"[..]));
        assert_eq!(d.receipted_message_id(), Some(&b"2591"[..]));
        assert_eq!(d.network_error_code(), Some((3, 34)));
    }
}
