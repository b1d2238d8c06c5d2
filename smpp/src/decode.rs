//! Field parsers shared by every PDU body.
//!
//! Decoding always runs over one *complete* PDU (framing has already checked command_length), so
//! the parsers are nom's `complete` flavour and `Incomplete` never escapes: running out of input
//! is a [`DecodeErrorKind::Truncated`] naming the field. Every parsed field is a zero-copy slice
//! of the frame (a `Bytes` sharing its buffer), never a copy.

use bytes::Bytes;
use nom::IResult;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u32};

use crate::Header;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::pdu::Address;
use crate::tlv::{Tlv, TlvTag, Tlvs};

/// How closely to hold a PDU to the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DecodeMode {
    /// SMPP 3.4 to the letter: field maximums, every C-octet string NUL-terminated, no trailing
    /// octets, TLV lengths as their tags demand, unknown command ids rejected.
    Strict,
    /// What real SMSCs send: over-long C-octet strings, a missing NUL on the last mandatory
    /// field, an empty body on any response, trailing junk that is not a TLV (dropped), unknown
    /// command ids (kept raw). See docs/smpp-notes.md.
    #[default]
    Lenient,
}

// Field maximums in octets, NUL included (SMPP 3.4 §4 tables, "Var. max N").
pub(crate) const SYSTEM_ID_MAX: usize = 16;
pub(crate) const PASSWORD_MAX: usize = 9;
pub(crate) const SYSTEM_TYPE_MAX: usize = 13;
pub(crate) const ADDRESS_RANGE_MAX: usize = 41;
pub(crate) const SERVICE_TYPE_MAX: usize = 6;
/// source_addr / destination_addr of submit_sm, deliver_sm, submit_multi, query_sm, cancel_sm,
/// replace_sm (SMPP 3.4 §4.4.1).
pub(crate) const ADDR_MAX: usize = 21;
/// Addresses of data_sm and alert_notification (SMPP 3.4 §4.7.1, §4.12.1).
pub(crate) const ADDR_MAX_65: usize = 65;
pub(crate) const MESSAGE_ID_MAX: usize = 65;
/// schedule_delivery_time, validity_period, final_date: empty or 16 characters (SMPP 3.4 §7.1).
pub(crate) const TIME_LEN: usize = 17;
/// SMPP 3.4 §4.4.1: sm_length 0..=254.
pub(crate) const SHORT_MESSAGE_MAX: usize = 254;

/// The nom error type: the field name and kind are recorded by [`Reader`], so nom's own error
/// carries nothing and costs nothing.
type Res<'a, T> = IResult<&'a [u8], T, ()>;

/// A field failed; the details are in the [`Reader`] (see [`Reader::into_error`]). Zero-sized so
/// that `Result<Bytes, Stop>` is no bigger than `Bytes`: the hot path moves nothing extra.
#[derive(Debug)]
pub(crate) struct Stop;

/// What every field parser returns.
pub(crate) type Step<T> = Result<T, Stop>;

/// One C-octet string: the octets before the first NUL, and the rest after it. `None` when the
/// input has no NUL.
#[inline]
fn c_octet_string(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = find_nul(input)?;
    Some((&input[nul + 1..], &input[..nul]))
}

/// Index of the first NUL. Addresses and ids are 5 to 20 octets, so eight at a time (the
/// classic "has a zero byte" word test) beats a byte loop; the tail goes a byte at a time.
#[inline]
fn find_nul(input: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = input.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let zero = v.wrapping_sub(LO) & !v & HI;
        if zero != 0 {
            // The lowest flagged byte is the first zero (borrows only run upwards).
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == 0)
        .map(|i| base + i)
}

/// Cursor over the body of one PDU.
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    rest: &'a [u8],
    header: Header,
    strict: bool,
    failure: Option<(&'static str, DecodeErrorKind)>,
}

impl<'a> Reader<'a> {
    /// `body` must be a sub-slice of `frame`.
    pub(crate) fn new(frame: &'a Bytes, body: &'a [u8], header: Header, mode: DecodeMode) -> Self {
        Reader {
            frame,
            rest: body,
            header,
            strict: mode == DecodeMode::Strict,
            failure: None,
        }
    }

    #[inline]
    pub(crate) fn strict(&self) -> bool {
        self.strict
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Octets left in the PDU.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Records why decoding stops.
    #[cold]
    pub(crate) fn fail(&mut self, field: &'static str, kind: DecodeErrorKind) -> Stop {
        self.failure = Some((field, kind));
        Stop
    }

    /// The error recorded by the parser that returned [`Stop`].
    #[cold]
    pub(crate) fn into_error(self) -> DecodeError {
        let (field, kind) = self
            .failure
            .unwrap_or(("body", DecodeErrorKind::InvalidValue));
        DecodeError {
            header: self.header,
            field,
            kind,
        }
    }

    /// `s` (a sub-slice of the frame) as a zero-copy `Bytes`.
    #[inline]
    fn share(&self, s: &[u8]) -> Bytes {
        if s.is_empty() {
            return Bytes::new();
        }
        // Every slice the parsers hand out is inside the frame, so the offset is in range;
        // `slice` still checks it, and `slice_ref`'s extra pointer checks are not needed.
        let start = (s.as_ptr() as usize).wrapping_sub(self.frame.as_ptr() as usize);
        self.frame.slice(start..start + s.len())
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Step<u8> {
        match be_u8::<_, ()>(self.rest) {
            Ok((rest, v)) => {
                self.rest = rest;
                Ok(v)
            }
            Err(_) => Err(self.fail(field, DecodeErrorKind::Truncated)),
        }
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Step<u32> {
        match be_u32::<_, ()>(self.rest) {
            Ok((rest, v)) => {
                self.rest = rest;
                Ok(v)
            }
            Err(_) => Err(self.fail(field, DecodeErrorKind::Truncated)),
        }
    }

    /// `N` one-octet fields in a row, read with one bounds check; `names` are their field names
    /// so a truncation still names the first missing one.
    #[inline]
    pub(crate) fn octets_n<const N: usize>(&mut self, names: [&'static str; N]) -> Step<[u8; N]> {
        match self.rest.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.rest = rest;
                Ok(*head)
            }
            None => {
                let field = names.get(self.rest.len()).copied().unwrap_or("body");
                Err(self.fail(field, DecodeErrorKind::Truncated))
            }
        }
    }

    /// `n` octets as a slice of the frame.
    #[inline]
    pub(crate) fn octets(&mut self, field: &'static str, n: usize) -> Step<Bytes> {
        let r: Res<'a, &'a [u8]> = take(n)(self.rest);
        match r {
            Ok((rest, s)) => {
                self.rest = rest;
                Ok(self.share(s))
            }
            Err(_) => Err(self.fail(field, DecodeErrorKind::Truncated)),
        }
    }

    /// A C-octet string of at most `max` octets including its NUL (checked in strict mode
    /// only), returned without the NUL.
    #[inline]
    pub(crate) fn cstr(&mut self, field: &'static str, max: usize) -> Step<Bytes> {
        self.cstr_inner(field, max, false)
    }

    /// Like [`Reader::cstr`] for the last mandatory field of a PDU: in lenient mode a string that
    /// runs to the end of the PDU without a NUL is accepted (SMSCs that forget the terminator on
    /// a response's message_id are common).
    #[inline]
    pub(crate) fn final_cstr(&mut self, field: &'static str, max: usize) -> Step<Bytes> {
        self.cstr_inner(field, max, true)
    }

    #[inline]
    fn cstr_inner(&mut self, field: &'static str, max: usize, last: bool) -> Step<Bytes> {
        let s = match c_octet_string(self.rest) {
            Some((rest, s)) => {
                self.rest = rest;
                s
            }
            None => return self.cstr_without_nul(field, max, last),
        };
        if self.strict && s.len() >= max {
            return Err(self.too_long(field, max, s.len() + 1));
        }
        Ok(self.share(s))
    }

    #[cold]
    fn cstr_without_nul(&mut self, field: &'static str, max: usize, last: bool) -> Step<Bytes> {
        if last && !self.strict {
            let s = std::mem::take(&mut self.rest);
            return Ok(self.share(s));
        }
        if self.rest.is_empty() {
            return Err(self.fail(field, DecodeErrorKind::Truncated));
        }
        // An over-long field with no NUL is reported as too long when that is visible.
        if self.strict && self.rest.len() >= max {
            let len = self.rest.len();
            return Err(self.too_long(field, max, len));
        }
        Err(self.fail(field, DecodeErrorKind::MissingNul))
    }

    #[cold]
    fn too_long(&mut self, field: &'static str, max: usize, len: usize) -> Stop {
        self.fail(field, DecodeErrorKind::TooLong { max, len })
    }

    /// An SMPP time field (SMPP 3.4 §7.1): empty or 16 characters, so 1 or 17 octets with the
    /// NUL. Lenient mode accepts any C-octet string.
    #[inline]
    pub(crate) fn time(&mut self, field: &'static str) -> Step<Bytes> {
        // The common case, an empty time, costs one octet compare.
        if let Some((0, rest)) = self.rest.split_first() {
            self.rest = rest;
            return Ok(Bytes::new());
        }
        let s = self.cstr(field, TIME_LEN)?;
        if self.strict && s.len() != TIME_LEN - 1 {
            return Err(self.fail(field, DecodeErrorKind::InvalidValue));
        }
        Ok(s)
    }

    /// ton, npi and a C-octet string address; `names` are the three field names.
    #[inline]
    pub(crate) fn address(&mut self, names: [&'static str; 3], max: usize) -> Step<Address> {
        let [ton, npi] = self.octets_n([names[0], names[1]])?;
        Ok(Address {
            ton,
            npi,
            addr: self.cstr(names[2], max)?,
        })
    }

    /// Like [`Reader::address`] when the address is the PDU's last mandatory field.
    #[inline]
    pub(crate) fn final_address(&mut self, names: [&'static str; 3], max: usize) -> Step<Address> {
        let [ton, npi] = self.octets_n([names[0], names[1]])?;
        Ok(Address {
            ton,
            npi,
            addr: self.final_cstr(names[2], max)?,
        })
    }

    /// short_message after its sm_length octet (SMPP 3.4 §4.4.1). Strict mode caps it at 254.
    #[inline]
    pub(crate) fn short_message_of(&mut self, sm_length: u8) -> Step<Bytes> {
        if self.strict && usize::from(sm_length) > SHORT_MESSAGE_MAX {
            return Err(self.fail(
                "sm_length",
                DecodeErrorKind::TooLong {
                    max: SHORT_MESSAGE_MAX,
                    len: usize::from(sm_length),
                },
            ));
        }
        self.octets("short_message", usize::from(sm_length))
    }

    /// sm_length and short_message.
    #[inline]
    pub(crate) fn short_message(&mut self) -> Step<Bytes> {
        let len = self.u8("sm_length")?;
        self.short_message_of(len)
    }

    /// Strict mode: sm_length must be 0 when the message_payload TLV is present
    /// (SMPP 3.4 §5.3.2.32: "the short_message field must be set to zero length").
    #[inline]
    pub(crate) fn check_payload(&mut self, short_message: &Bytes, tlvs: &Tlvs) -> Step<()> {
        if self.strict && !short_message.is_empty() && tlvs.message_payload().is_some() {
            return Err(self.fail("sm_length", DecodeErrorKind::InvalidValue));
        }
        Ok(())
    }

    /// Strict mode: nothing may follow the last field of a PDU that takes no TLVs. Lenient mode
    /// ignores what follows.
    #[inline]
    pub(crate) fn finish(&mut self) -> Step<()> {
        if self.strict && !self.rest.is_empty() {
            // command_length claims more than the fields take: that is the field in error.
            let len = self.rest.len();
            return Err(self.fail("command_length", DecodeErrorKind::TrailingBytes { len }));
        }
        Ok(())
    }

    /// The TLVs that make up the rest of the PDU (SMPP 3.4 §5.3), in wire order.
    ///
    /// A first pass walks the TLV headers to validate and count them, so the Vec is allocated
    /// once at its final size, and not at all when there are none. In lenient mode a TLV that
    /// runs past the end, and everything after it, is dropped; in strict mode it is an error,
    /// and so is a length its tag does not allow.
    pub(crate) fn tlvs(&mut self) -> Step<Tlvs> {
        let input = std::mem::take(&mut self.rest);
        if input.is_empty() {
            return Ok(Tlvs::new());
        }
        let mut count = 0;
        let mut walk = input;
        while !walk.is_empty() {
            match tlv_header(walk) {
                Ok((rest, (tag, len))) if rest.len() >= usize::from(len) => {
                    if self.strict {
                        self.check_tlv_len(tag, len)?;
                    }
                    walk = &rest[usize::from(len)..];
                    count += 1;
                }
                Ok((_, (tag, _))) if self.strict => {
                    let field = tag.name().unwrap_or("tlv");
                    return Err(self.fail(field, DecodeErrorKind::BadTlv { tag: Some(tag) }));
                }
                Err(_) if self.strict => {
                    let tag = be_u16::<_, ()>(walk).ok().map(|(_, t)| TlvTag(t));
                    let field = tag.and_then(TlvTag::name).unwrap_or("tlv");
                    return Err(self.fail(field, DecodeErrorKind::BadTlv { tag }));
                }
                // Lenient: keep the whole TLVs before the broken one.
                _ => break,
            }
        }
        let mut tlvs = Tlvs::with_capacity(count);
        let mut walk = input;
        for _ in 0..count {
            // The first pass proved these `count` TLVs are whole.
            let Ok((rest, (tag, len))) = tlv_header(walk) else {
                break;
            };
            let Some((value, rest)) = rest.split_at_checked(usize::from(len)) else {
                break;
            };
            tlvs.push(Tlv {
                tag,
                value: self.share(value),
            });
            walk = rest;
        }
        Ok(tlvs)
    }

    fn check_tlv_len(&mut self, tag: TlvTag, len: u16) -> Step<()> {
        match tag.len_bounds() {
            Some((min, max)) if len < min || len > max => {
                let field = tag.name().unwrap_or("tlv");
                Err(self.fail(field, DecodeErrorKind::BadTlvLength { tag, len }))
            }
            _ => Ok(()),
        }
    }
}

/// A TLV's tag and length, read as one 32-bit word.
#[inline]
fn tlv_header(input: &[u8]) -> Res<'_, (TlvTag, u16)> {
    let (input, word) = be_u32(input)?;
    Ok((input, (TlvTag((word >> 16) as u16), word as u16)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CommandId, CommandStatus};

    fn header() -> Header {
        Header {
            command_length: 0,
            command_id: CommandId::SUBMIT_SM,
            command_status: CommandStatus::ESME_ROK,
            sequence_number: 1,
        }
    }

    fn with_reader<T>(
        bytes: &[u8],
        mode: DecodeMode,
        f: impl FnOnce(&mut Reader<'_>) -> Step<T>,
    ) -> Result<T, DecodeError> {
        let frame = Bytes::copy_from_slice(bytes);
        let mut r = Reader::new(&frame, &frame[..], header(), mode);
        match f(&mut r) {
            Ok(v) => Ok(v),
            Err(Stop) => Err(r.into_error()),
        }
    }

    #[test]
    fn find_nul_agrees_with_a_byte_loop() {
        for len in 0..40 {
            for at in 0..=len {
                // Every value 1..=255 turns up somewhere, high bit set or not.
                let mut v: Vec<u8> = (0..len).map(|i| (i * 37 % 255 + 1) as u8).collect();
                if at < len {
                    v[at] = 0;
                    // A 0x01 right after the NUL must not confuse the word test.
                    if at + 1 < len {
                        v[at + 1] = 1;
                    }
                }
                let want = v.iter().position(|&b| b == 0);
                assert_eq!(find_nul(&v), want, "len {len} at {at}");
            }
        }
        assert_eq!(
            find_nul(&[0x01, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]),
            Some(1)
        );
        assert_eq!(find_nul(&[0xFF; 8]), None);
        assert_eq!(find_nul(&[0x80, 0x01, 0x00]), Some(2));
    }

    #[test]
    fn cstr_is_a_slice_of_the_frame() {
        let frame = Bytes::copy_from_slice(b"abc\0rest");
        let mut r = Reader::new(&frame, &frame[..], header(), DecodeMode::Strict);
        let s = r.cstr("system_id", 16).unwrap();
        assert_eq!(&s[..], b"abc");
        assert_eq!(s.as_ptr(), frame.as_ptr());
        assert_eq!(r.rest, b"rest");
    }

    #[test]
    fn cstr_limits_apply_in_strict_mode_only() {
        let long = b"0123456789abcdef\0"; // 16 characters + NUL = 17 > 16
        let e = with_reader(long, DecodeMode::Strict, |r| r.cstr("system_id", 16)).unwrap_err();
        assert_eq!(e.field, "system_id");
        assert_eq!(e.kind, DecodeErrorKind::TooLong { max: 16, len: 17 });
        let s = with_reader(long, DecodeMode::Lenient, |r| r.cstr("system_id", 16)).unwrap();
        assert_eq!(s.len(), 16);
        // Exactly at the maximum is fine.
        let ok = with_reader(&long[1..], DecodeMode::Strict, |r| r.cstr("system_id", 16));
        assert_eq!(ok.unwrap().len(), 15);
    }

    #[test]
    fn missing_nul() {
        for mode in [DecodeMode::Strict, DecodeMode::Lenient] {
            let e = with_reader(b"abc", mode, |r| r.cstr("source_addr", 21)).unwrap_err();
            assert_eq!(e.kind, DecodeErrorKind::MissingNul);
            let e = with_reader(b"", mode, |r| r.cstr("source_addr", 21)).unwrap_err();
            assert_eq!(e.kind, DecodeErrorKind::Truncated);
        }
        let e = with_reader(b"abc", DecodeMode::Strict, |r| {
            r.final_cstr("message_id", 65)
        });
        assert_eq!(e.unwrap_err().kind, DecodeErrorKind::MissingNul);
        let s = with_reader(b"abc", DecodeMode::Lenient, |r| {
            r.final_cstr("message_id", 65)
        });
        assert_eq!(&s.unwrap()[..], b"abc");
    }

    #[test]
    fn times_are_empty_or_sixteen() {
        let t = b"260101120000000+\0";
        assert_eq!(
            with_reader(t, DecodeMode::Strict, |r| r.time("validity_period"))
                .unwrap()
                .len(),
            16
        );
        assert!(
            with_reader(b"\0", DecodeMode::Strict, |r| r.time("validity_period"))
                .unwrap()
                .is_empty()
        );
        let e = with_reader(b"2601\0", DecodeMode::Strict, |r| r.time("validity_period"));
        assert_eq!(e.unwrap_err().kind, DecodeErrorKind::InvalidValue);
        assert!(
            with_reader(b"2601\0", DecodeMode::Lenient, |r| r
                .time("validity_period"))
            .is_ok()
        );
    }

    #[test]
    fn short_message_bounds() {
        let e = with_reader(&[5, b'a', b'b'], DecodeMode::Lenient, |r| r.short_message());
        let e = e.unwrap_err();
        assert_eq!(
            (e.field, e.kind),
            ("short_message", DecodeErrorKind::Truncated)
        );
        let mut long = vec![255u8];
        long.extend([b'x'; 255]);
        let e = with_reader(&long, DecodeMode::Strict, |r| r.short_message()).unwrap_err();
        assert_eq!(e.field, "sm_length");
        assert_eq!(
            with_reader(&long, DecodeMode::Lenient, |r| r.short_message())
                .unwrap()
                .len(),
            255
        );
    }

    #[test]
    fn tlv_stream() {
        let ok = [
            0x04, 0x27, 0x00, 0x01, 0x02, 0x14, 0x00, 0x00, 0x02, b'h', b'i',
        ];
        let tlvs = with_reader(&ok, DecodeMode::Strict, |r| r.tlvs()).unwrap();
        assert_eq!(tlvs.len(), 2);
        assert_eq!(tlvs[1].tag, TlvTag::DLT_PE_ID);
        assert_eq!(&tlvs[1].value[..], b"hi");
        assert_eq!(tlvs.encoded_len(), ok.len());
        assert_eq!(tlvs.message_state().map(|s| s.0), Some(2));

        // Length past the end.
        let bad = [0x04, 0x27, 0x00, 0x01, 0x02, 0x04, 0x24, 0x00, 0x09, b'x'];
        let e = with_reader(&bad, DecodeMode::Strict, |r| r.tlvs()).unwrap_err();
        assert_eq!(e.field, "message_payload");
        assert_eq!(
            e.kind,
            DecodeErrorKind::BadTlv {
                tag: Some(TlvTag::MESSAGE_PAYLOAD)
            }
        );
        let tlvs = with_reader(&bad, DecodeMode::Lenient, |r| r.tlvs()).unwrap();
        assert_eq!(tlvs.len(), 1);

        // A lone octet after a good TLV.
        let e = with_reader(&ok[..6], DecodeMode::Strict, |r| r.tlvs()).unwrap_err();
        assert_eq!(
            (e.field, e.kind),
            ("tlv", DecodeErrorKind::BadTlv { tag: None })
        );

        // A fixed-size tag with the wrong size.
        let wrong = [0x04, 0x27, 0x00, 0x02, 0x02, 0x00];
        let e = with_reader(&wrong, DecodeMode::Strict, |r| r.tlvs()).unwrap_err();
        assert_eq!(
            e.kind,
            DecodeErrorKind::BadTlvLength {
                tag: TlvTag::MESSAGE_STATE,
                len: 2
            }
        );
        assert_eq!(
            with_reader(&wrong, DecodeMode::Lenient, |r| r.tlvs())
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn finish_rejects_trailing_bytes_in_strict_mode() {
        let e = with_reader(b"x", DecodeMode::Strict, |r| r.finish()).unwrap_err();
        assert_eq!(e.field, "command_length");
        assert_eq!(e.kind, DecodeErrorKind::TrailingBytes { len: 1 });
        assert!(with_reader(b"x", DecodeMode::Lenient, |r| r.finish()).is_ok());
    }
}
