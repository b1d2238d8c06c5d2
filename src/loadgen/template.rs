//! submit_sm encoded once, patched in place per send.
//!
//! Encoding a `Pdu` per message would cost more than everything else the client does per
//! message. Every submit_sm of a run differs from the others only in three places, so each part
//! of the message is encoded once at start-up, and sending is a copy of those bytes into the
//! write buffer followed by three patches at known offsets: the sequence_number (header octets
//! 12..16), the destination digits, and the concatenation reference in the UDH.

use bytes::Bytes;
use gannet_smpp::{Address, Body, HEADER_LEN, Pdu, SubmitSm};

use super::args::{Part, Plan, Prefix};

/// The encoded parts of one message and where to patch them.
#[derive(Clone, Debug)]
pub struct Template {
    parts: Vec<PartBytes>,
    dest_len: usize,
    dests: Destinations,
}

#[derive(Clone, Debug)]
struct PartBytes {
    bytes: Bytes,
    /// Offset of the first destination digit.
    dest_at: usize,
    /// Offset of the 8-bit concatenation reference, when the part has one.
    ref_at: Option<usize>,
}

impl Template {
    pub fn new(plan: &Plan) -> Template {
        let placeholder = vec![b'0'; plan.dest_len];
        let source = if plan.source.bytes().all(|b| b.is_ascii_digit()) {
            Address::international(plan.source.clone().into_bytes())
        } else {
            Address::alphanumeric(plan.source.clone().into_bytes())
        };
        let parts = plan
            .parts
            .iter()
            .map(|part| encode_part(part, &source, &placeholder, plan.receipts))
            .collect();
        Template {
            parts,
            dest_len: plan.dest_len,
            dests: Destinations::new(&plan.prefixes, plan.dest_len),
        }
    }

    /// submit_sm PDUs per message.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// Appends part `part` of message number `message` with sequence number `seq`.
    /// The destination depends on `message` only, so all parts of a message go to one number.
    #[inline]
    pub fn write(&self, out: &mut Vec<u8>, message: u64, part: usize, seq: u32, dest: &[u8]) {
        let p = &self.parts[part];
        let start = out.len();
        out.extend_from_slice(&p.bytes);
        let pdu = &mut out[start..];
        pdu[12..16].copy_from_slice(&seq.to_be_bytes());
        pdu[p.dest_at..p.dest_at + self.dest_len].copy_from_slice(dest);
        if let Some(at) = p.ref_at {
            pdu[at] = message as u8;
        }
    }

    /// Writes the destination of message number `message` into `dest` (`dest_len` digits).
    #[inline]
    pub fn destination(&self, message: u64, dest: &mut [u8]) {
        self.dests.write(message, dest);
    }

    pub fn dest_len(&self) -> usize {
        self.dest_len
    }
}

fn encode_part(part: &Part, source: &Address, placeholder: &[u8], receipts: bool) -> PartBytes {
    let sm = SubmitSm {
        source_addr: source.clone(),
        destination_addr: Address::international(placeholder.to_vec()),
        esm_class: part.esm_class,
        registered_delivery: u8::from(receipts),
        data_coding: part.data_coding,
        short_message: part.short_message.clone(),
        ..SubmitSm::default()
    };
    // SMPP 3.4 §4.4.1 field order: service_type (C-string), source ton/npi/addr,
    // dest ton/npi/addr; the destination digits start after the dest ton and npi octets.
    let dest_at = HEADER_LEN + sm.service_type.len() + 1 + 2 + sm.source_addr.addr.len() + 1 + 2;
    let bytes = Pdu::new(0, Body::SubmitSm(sm)).to_bytes();
    // No TLVs, so short_message ends the PDU.
    let sm_at = bytes.len() - part.short_message.len();
    let ref_at = concat_ref_offset(&part.short_message).map(|o| sm_at + o);
    PartBytes {
        bytes,
        dest_at,
        ref_at,
    }
}

/// Offset, within short_message, of the reference octet of an 8-bit concatenation element
/// (IEI 0x00, TS 23.040 §9.2.3.24.1) in the UDH, if there is one.
fn concat_ref_offset(sm: &[u8]) -> Option<usize> {
    let udhl = usize::from(*sm.first()?);
    let udh = sm.get(1..1 + udhl)?;
    let mut i = 0;
    while i + 2 <= udh.len() {
        let (iei, len) = (udh[i], usize::from(udh[i + 1]));
        if iei == 0x00 && len == 3 {
            return Some(1 + i + 2);
        }
        i += 2 + len;
    }
    None
}

/// Destination numbers: a prefix picked by weight in a fixed rotation, then digits derived from
/// the message number. Deterministic, so a run's destination mix is exact and repeatable, and
/// the suffixes are spread (SplitMix64) so an SMSC sees distinct numbers, not a sequence.
#[derive(Clone, Debug)]
struct Destinations {
    prefixes: Vec<Vec<u8>>,
    /// Prefix index for each step of the rotation, `weight` entries per prefix.
    rotation: Vec<u16>,
}

impl Destinations {
    fn new(prefixes: &[Prefix], _dest_len: usize) -> Destinations {
        let mut rotation = Vec::new();
        // Interleave by weight so that short runs see the mix too: 9198:1,4477:3 is
        // 9198 4477 4477 4477, repeated.
        for (i, p) in prefixes.iter().enumerate() {
            rotation.extend(std::iter::repeat_n(i as u16, p.weight as usize));
        }
        Destinations {
            prefixes: prefixes
                .iter()
                .map(|p| p.digits.clone().into_bytes())
                .collect(),
            rotation,
        }
    }

    #[inline]
    fn write(&self, message: u64, dest: &mut [u8]) {
        let which = self.rotation[(message % self.rotation.len() as u64) as usize];
        let prefix = &self.prefixes[usize::from(which)];
        dest[..prefix.len()].copy_from_slice(prefix);
        let mut x = splitmix64(message);
        for d in &mut dest[prefix.len()..] {
            *d = b'0' + (x % 10) as u8;
            x /= 10;
            if x == 0 {
                x = splitmix64(x ^ message.rotate_left(17));
            }
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): one multiply-xorshift round, enough to spread.
#[inline]
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::args::SmppLoadArgs;
    use gannet_smpp::DecodeMode;

    fn plan(extra: &[&str]) -> Plan {
        let mut a = vec!["--count", "1"];
        a.extend_from_slice(extra);
        let args = SmppLoadArgs::try_parse_from(a).unwrap();
        Plan::with_target(&args, "127.0.0.1:1".parse().unwrap()).unwrap()
    }

    fn decode(bytes: &[u8]) -> SubmitSm {
        let pdu = Pdu::decode(&Bytes::copy_from_slice(bytes), DecodeMode::Strict).unwrap();
        match pdu.body {
            Body::SubmitSm(sm) => sm,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn patched_bytes_decode_to_the_patched_values() {
        let t = Template::new(&plan(&["--receipts", "--dest-prefix", "4477"]));
        let mut out = Vec::new();
        let mut dest = vec![0u8; t.dest_len()];
        t.destination(42, &mut dest);
        t.write(&mut out, 42, 0, 0x0102_0304, &dest);
        let pdu = Pdu::decode(&Bytes::from(out.clone()), DecodeMode::Strict).unwrap();
        assert_eq!(pdu.sequence_number, 0x0102_0304);
        let Body::SubmitSm(sm) = pdu.body else {
            panic!()
        };
        assert_eq!(&sm.destination_addr.addr[..], &dest[..]);
        assert!(dest.starts_with(b"4477"));
        assert_eq!(dest.len(), 12);
        assert!(dest.iter().all(u8::is_ascii_digit));
        assert_eq!((sm.destination_addr.ton, sm.destination_addr.npi), (1, 1));
        assert_eq!(&sm.source_addr.addr[..], b"GANNET");
        assert_eq!(sm.source_addr.ton, 5);
        assert_eq!(sm.registered_delivery, 1);
        assert_eq!(&sm.short_message[..], b"Your code is 482913.");
    }

    #[test]
    fn parts_share_destination_and_reference() {
        let t = Template::new(&plan(&["--segments", "3"]));
        let mut dest = vec![0u8; t.dest_len()];
        t.destination(0x1_07, &mut dest);
        for part in 0..3 {
            let mut out = Vec::new();
            t.write(&mut out, 0x1_07, part, part as u32 + 1, &dest);
            let sm = decode(&out);
            assert_eq!(sm.esm_class, 0x40);
            assert_eq!(sm.registered_delivery, 0);
            assert_eq!(&sm.short_message[..6], &[5, 0, 3, 0x07, 3, part as u8 + 1]);
            assert_eq!(&sm.destination_addr.addr[..], &dest[..]);
        }
    }

    #[test]
    fn mix_follows_the_weights_exactly() {
        let t = Template::new(&plan(&["--dest-prefix", "9198,4477:3"]));
        let mut dest = vec![0u8; t.dest_len()];
        let mut seen = std::collections::HashSet::new();
        let (mut a, mut b) = (0, 0);
        for m in 0..4000 {
            t.destination(m, &mut dest);
            if dest.starts_with(b"9198") {
                a += 1;
            } else if dest.starts_with(b"4477") {
                b += 1;
            }
            seen.insert(dest.clone());
        }
        assert_eq!((a, b), (1000, 3000));
        assert!(seen.len() > 3990, "destinations spread: {}", seen.len());
    }

    #[test]
    fn finds_the_reference_after_other_elements() {
        // A national language shift element (IEI 0x25, 1 octet) before the concatenation one.
        let sm = [8, 0x25, 1, 3, 0x00, 3, 0xAB, 2, 1, b'x'];
        assert_eq!(concat_ref_offset(&sm), Some(6));
        assert_eq!(concat_ref_offset(b"plain"), None);
        assert_eq!(concat_ref_offset(&[]), None);
    }
}
