//! Field parsers shared by every PDU body.
//!
//! Decoding always runs over one *complete* PDU (framing has already checked command_length), so
//! the parsers are nom's `complete` flavour and `Incomplete` never escapes: running out of input
//! is a [`DecodeErrorKind::Truncated`] naming the field. Every parsed field is a zero-copy slice
//! of the frame (`Bytes::slice_ref`), never a copy.

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

/// The nom error type: the field name and kind are added by [`Reader`], so nom's own error
/// carries nothing and costs nothing.
type Res<'a, T> = IResult<&'a [u8], T, ()>;

/// One C-octet string: the octets before the first NUL, and the rest after it. `None` when the
/// input has no NUL.
fn c_octet_string(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = input.iter().position(|&b| b == 0)?;
    Some((&input[nul + 1..], &input[..nul]))
}

/// Cursor over the body of one PDU.
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    rest: &'a [u8],
    header: Header,
    mode: DecodeMode,
}

impl<'a> Reader<'a> {
    /// `body` must be a sub-slice of `frame`.
    pub(crate) fn new(frame: &'a Bytes, body: &'a [u8], header: Header, mode: DecodeMode) -> Self {
        Reader {
            frame,
            rest: body,
            header,
            mode,
        }
    }

    pub(crate) fn strict(&self) -> bool {
        self.mode == DecodeMode::Strict
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Octets left in the PDU.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn err(&self, field: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            header: self.header,
            field,
            kind,
        }
    }

    fn step<T>(&mut self, field: &'static str, r: Res<'a, T>) -> Result<T, DecodeError> {
        match r {
            Ok((rest, v)) => {
                self.rest = rest;
                Ok(v)
            }
            Err(_) => Err(self.err(field, DecodeErrorKind::Truncated)),
        }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let r = be_u8(self.rest);
        self.step(field, r)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let r = be_u32(self.rest);
        self.step(field, r)
    }

    /// `n` octets as a slice of the frame.
    pub(crate) fn octets(&mut self, field: &'static str, n: usize) -> Result<Bytes, DecodeError> {
        let r = take(n)(self.rest);
        let s = self.step(field, r)?;
        Ok(self.frame.slice_ref(s))
    }

    /// A C-octet string of at most `max` octets including its NUL (checked in strict mode
    /// only), returned without the NUL.
    pub(crate) fn cstr(&mut self, field: &'static str, max: usize) -> Result<Bytes, DecodeError> {
        self.cstr_inner(field, max, false)
    }

    /// Like [`Reader::cstr`] for the last mandatory field of a PDU: in lenient mode a string that
    /// runs to the end of the PDU without a NUL is accepted (SMSCs that forget the terminator on
    /// a response's message_id are common).
    pub(crate) fn final_cstr(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<Bytes, DecodeError> {
        self.cstr_inner(field, max, true)
    }

    fn cstr_inner(
        &mut self,
        field: &'static str,
        max: usize,
        last: bool,
    ) -> Result<Bytes, DecodeError> {
        let s = match c_octet_string(self.rest) {
            Some((rest, s)) => {
                self.rest = rest;
                s
            }
            None if last && !self.strict() => std::mem::take(&mut self.rest),
            None if self.rest.is_empty() => {
                return Err(self.err(field, DecodeErrorKind::Truncated));
            }
            None => return Err(self.err(field, DecodeErrorKind::MissingNul)),
        };
        if self.strict() && s.len() >= max {
            return Err(self.err(
                field,
                DecodeErrorKind::TooLong {
                    max,
                    len: s.len() + 1,
                },
            ));
        }
        Ok(self.frame.slice_ref(s))
    }

    /// An SMPP time field (SMPP 3.4 §7.1): empty or 16 characters, so 1 or 17 octets with the
    /// NUL. Lenient mode accepts any C-octet string.
    pub(crate) fn time(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let s = self.cstr(field, TIME_LEN)?;
        if self.strict() && !s.is_empty() && s.len() != TIME_LEN - 1 {
            return Err(self.err(field, DecodeErrorKind::InvalidValue));
        }
        Ok(s)
    }

    /// ton, npi and a C-octet string address; `names` are the three field names.
    pub(crate) fn address(
        &mut self,
        names: [&'static str; 3],
        max: usize,
    ) -> Result<Address, DecodeError> {
        Ok(Address {
            ton: self.u8(names[0])?,
            npi: self.u8(names[1])?,
            addr: self.cstr(names[2], max)?,
        })
    }

    /// Like [`Reader::address`] when the address is the PDU's last mandatory field.
    pub(crate) fn final_address(
        &mut self,
        names: [&'static str; 3],
        max: usize,
    ) -> Result<Address, DecodeError> {
        Ok(Address {
            ton: self.u8(names[0])?,
            npi: self.u8(names[1])?,
            addr: self.final_cstr(names[2], max)?,
        })
    }

    /// sm_length and short_message (SMPP 3.4 §4.4.1). Strict mode caps it at 254 octets.
    pub(crate) fn short_message(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u8("sm_length")?;
        if self.strict() && usize::from(len) > SHORT_MESSAGE_MAX {
            return Err(self.err(
                "sm_length",
                DecodeErrorKind::TooLong {
                    max: SHORT_MESSAGE_MAX,
                    len: usize::from(len),
                },
            ));
        }
        self.octets("short_message", usize::from(len))
    }

    /// Strict mode: sm_length must be 0 when the message_payload TLV is present
    /// (SMPP 3.4 §5.3.2.32: "the short_message field must be set to zero length").
    pub(crate) fn check_payload(
        &self,
        short_message: &Bytes,
        tlvs: &Tlvs,
    ) -> Result<(), DecodeError> {
        if self.strict() && !short_message.is_empty() && tlvs.message_payload().is_some() {
            return Err(self.err("sm_length", DecodeErrorKind::InvalidValue));
        }
        Ok(())
    }

    /// Strict mode: nothing may follow the last field of a PDU that takes no TLVs. Lenient mode
    /// ignores what follows.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.strict() && !self.rest.is_empty() {
            let field = self.header.command_id.name().unwrap_or("body");
            return Err(self.err(
                field,
                DecodeErrorKind::TrailingBytes {
                    len: self.rest.len(),
                },
            ));
        }
        Ok(())
    }

    /// The TLVs that make up the rest of the PDU (SMPP 3.4 §3.2.4.1), in wire order.
    ///
    /// A first pass walks the TLV headers to validate them and count them, so the Vec is
    /// allocated once at its final size (and not at all when there are none). In lenient mode a
    /// TLV that runs past the end, and everything after it, is dropped; in strict mode it is an
    /// error, and so is a length its tag does not allow.
    pub(crate) fn tlvs(&mut self) -> Result<Tlvs, DecodeError> {
        let input = std::mem::take(&mut self.rest);
        let mut count = 0;
        let mut walk = input;
        while !walk.is_empty() {
            match tlv_header(walk) {
                Ok((rest, (tag, len))) if rest.len() >= usize::from(len) => {
                    if self.strict() {
                        self.check_tlv_len(tag, len)?;
                    }
                    walk = &rest[usize::from(len)..];
                    count += 1;
                }
                Ok((_, (tag, _))) if self.strict() => {
                    return Err(self.err(
                        tag.name().unwrap_or("tlv"),
                        DecodeErrorKind::BadTlv { tag: Some(tag) },
                    ));
                }
                Err(_) if self.strict() => {
                    let tag = be_u16::<_, ()>(walk).ok().map(|(_, t)| TlvTag(t));
                    let field = tag.and_then(TlvTag::name).unwrap_or("tlv");
                    return Err(self.err(field, DecodeErrorKind::BadTlv { tag }));
                }
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
                value: self.frame.slice_ref(value),
            });
            walk = rest;
        }
        Ok(tlvs)
    }

    fn check_tlv_len(&self, tag: TlvTag, len: u16) -> Result<(), DecodeError> {
        match tag.len_bounds() {
            Some((min, max)) if len < min || len > max => Err(self.err(
                tag.name().unwrap_or("tlv"),
                DecodeErrorKind::BadTlvLength { tag, len },
            )),
            _ => Ok(()),
        }
    }
}

/// A TLV's tag and length.
fn tlv_header(input: &[u8]) -> Res<'_, (TlvTag, u16)> {
    let (input, tag) = be_u16(input)?;
    let (input, len) = be_u16(input)?;
    Ok((input, (TlvTag(tag), len)))
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

    fn with_reader<T>(bytes: &[u8], mode: DecodeMode, f: impl FnOnce(&mut Reader<'_>) -> T) -> T {
        let frame = Bytes::copy_from_slice(bytes);
        let mut r = Reader::new(&frame, &frame[..], header(), mode);
        f(&mut r)
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
        assert_eq!(e.field, "submit_sm");
        assert_eq!(e.kind, DecodeErrorKind::TrailingBytes { len: 1 });
        assert!(with_reader(b"x", DecodeMode::Lenient, |r| r.finish()).is_ok());
    }
}
