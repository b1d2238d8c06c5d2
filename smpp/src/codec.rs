//! Framing PDUs on a byte stream: a tokio-util [`Decoder`] and [`Encoder`].
//!
//! SMPP frames itself with the first header field: `command_length` counts the whole PDU
//! (SMPP 3.4 §3.2). The decoder reads it before anything else and refuses a length under 16 or
//! over [`PduCodec::max_len`] as a fatal [`CodecError::CommandLength`]: after a bad length the
//! stream is out of step and nothing that follows can be trusted, so the caller answers
//! generic_nack ESME_RINVCMDLEN ([`CodecError::generic_nack`]) and closes. Nothing is
//! allocated for the announced length before it is checked.
//!
//! A frame whose length is fine but whose body does not decode is *not* an error of the
//! stream: tokio-util's `FramedRead` ends after the first `Err`, and one bad submit_sm must
//! not take the bind down. It comes out as [`Frame::Invalid`]; the session answers it
//! ([`crate::session::Session::receive_invalid`]) and reading goes on.
//!
//! Decoded PDUs are zero-copy: each frame is split off the read buffer and frozen, and the
//! PDU's fields are slices of it.

use std::io;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::{CommandStatus, DecodeError, DecodeMode, HEADER_LEN, Header, Pdu};

/// Default largest accepted `command_length`: 70 KiB. The largest PDU a peer may legitimately
/// send is a data_sm or submit_sm carrying a full message_payload TLV (a 16-bit length, so up
/// to 65,535 octets, SMPP 3.4 §5.3.2.32) next to its mandatory fields and a few other TLVs;
/// 70 KiB frames that with room to spare, and bounds what a broken or hostile peer can make us
/// buffer per connection.
pub const DEFAULT_MAX_LEN: u32 = 70 * 1024;

/// Frames PDUs on a byte stream. `Decoder::Item` is [`Frame`]; encodes `&Pdu` and `Pdu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PduCodec {
    /// Largest accepted `command_length`, in both directions.
    pub max_len: u32,
    /// How strictly bodies are decoded.
    pub mode: DecodeMode,
}

impl Default for PduCodec {
    /// [`DEFAULT_MAX_LEN`], lenient decoding.
    fn default() -> Self {
        PduCodec {
            max_len: DEFAULT_MAX_LEN,
            mode: DecodeMode::Lenient,
        }
    }
}

impl PduCodec {
    pub fn new(max_len: u32, mode: DecodeMode) -> PduCodec {
        PduCodec { max_len, mode }
    }
}

/// One framed PDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Decoded.
    Pdu(Pdu),
    /// A complete frame whose body did not decode; the stream is still in step. Answer it
    /// (a response or generic_nack carrying `error.status()`) and keep reading.
    Invalid { header: Header, error: DecodeError },
}

impl Frame {
    /// The header as it was read (command_length included) for an invalid frame, or as the
    /// PDU encodes for a decoded one.
    pub fn header(&self) -> Header {
        match self {
            Frame::Pdu(pdu) => pdu.header(),
            Frame::Invalid { header, .. } => *header,
        }
    }
}

/// A failure of the stream itself. After any of these the connection should be closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Reading or writing failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// A `command_length` under 16 or over the limit: the stream is out of step
    /// (SMPP 3.4 §3.2). Answer with [`CodecError::generic_nack`] and close.
    #[error("command_length {} outside {HEADER_LEN}..={max} (seq {})", header.command_length, header.sequence_number)]
    CommandLength { header: Header, max: u32 },
    /// The stream ended inside a PDU.
    #[error("stream ended with {buffered} octets of an incomplete PDU")]
    UnexpectedEof { buffered: usize },
    /// We were asked to send a PDU longer than the limit; nothing was written.
    #[error("PDU of {len} octets exceeds the limit of {max}")]
    TooLarge { len: usize, max: u32 },
}

impl CodecError {
    /// For [`CodecError::CommandLength`], the generic_nack ESME_RINVCMDLEN to send before
    /// closing (SMPP 3.4 §4.3), with the sequence number as read.
    pub fn generic_nack(&self) -> Option<Pdu> {
        match self {
            CodecError::CommandLength { header, .. } => Some(Pdu::generic_nack(
                header.sequence_number,
                CommandStatus::ESME_RINVCMDLEN,
            )),
            _ => None,
        }
    }
}

impl Decoder for PduCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        let Some(header) = Header::peek(src) else {
            src.reserve(HEADER_LEN - src.len());
            return Ok(None);
        };
        let len = self.check_length(header)?;
        if src.len() < len {
            // Room for the rest of this frame, and only this frame: the length was checked.
            src.reserve(len - src.len());
            return Ok(None);
        }
        let frame = src.split_to(len).freeze();
        // Make room for the next frame now if its header is already here.
        if let Some(next) = Header::peek(src)
            && let Ok(next_len) = self.check_length(next)
        {
            src.reserve(next_len.saturating_sub(src.len()));
        }
        Ok(Some(match Pdu::decode(&frame, self.mode) {
            Ok(pdu) => Frame::Pdu(pdu),
            Err(error) => Frame::Invalid { header, error },
        }))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(CodecError::UnexpectedEof {
                buffered: src.len(),
            }),
        }
    }
}

impl PduCodec {
    fn check_length(&self, header: Header) -> Result<usize, CodecError> {
        let len = header.command_length;
        if (len as usize) < HEADER_LEN || len > self.max_len {
            return Err(CodecError::CommandLength {
                header,
                max: self.max_len,
            });
        }
        Ok(len as usize)
    }
}

impl Encoder<&Pdu> for PduCodec {
    type Error = CodecError;

    fn encode(&mut self, pdu: &Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        let len = pdu.encoded_len();
        if len > self.max_len as usize {
            return Err(CodecError::TooLarge {
                len,
                max: self.max_len,
            });
        }
        dst.reserve(len);
        pdu.encode(dst);
        Ok(())
    }
}

impl Encoder<Pdu> for PduCodec {
    type Error = CodecError;

    fn encode(&mut self, pdu: Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        Encoder::<&Pdu>::encode(self, &pdu, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Body, CommandId};

    fn enquire_link(seq: u32) -> Vec<u8> {
        Pdu::new(seq, Body::EnquireLink).to_bytes().to_vec()
    }

    #[test]
    fn waits_for_a_header_then_a_body() {
        let mut codec = PduCodec::default();
        let bytes = Pdu::new(3, Body::submit_sm_resp(&b"abc"[..])).to_bytes();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&bytes[..10]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&bytes[10..18]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(buf.capacity() >= bytes.len(), "reserved for the frame");
        buf.extend_from_slice(&bytes[18..]);
        let Some(Frame::Pdu(pdu)) = codec.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(pdu.sequence_number, 3);
        assert!(buf.is_empty());
    }

    #[test]
    fn fields_are_slices_of_the_frame() {
        let mut codec = PduCodec::default();
        let bytes = Pdu::new(3, Body::submit_sm_resp(&b"msg-77"[..])).to_bytes();
        let mut buf = BytesMut::from(&bytes[..]);
        let start = buf.as_ptr() as usize;
        let Some(Frame::Pdu(pdu)) = codec.decode(&mut buf).unwrap() else {
            panic!()
        };
        let Body::SubmitSmResp(Some(resp)) = &pdu.body else {
            panic!("{pdu:?}")
        };
        let at = resp.message_id.as_ptr() as usize;
        assert!((start..start + bytes.len()).contains(&at), "not copied");
    }

    #[test]
    fn bad_lengths_are_fatal_and_allocate_nothing() {
        for len in [0u32, 8, 15, DEFAULT_MAX_LEN + 1, u32::MAX] {
            let mut codec = PduCodec::default();
            let mut v = enquire_link(9);
            v[..4].copy_from_slice(&len.to_be_bytes());
            let mut buf = BytesMut::from(&v[..]);
            let cap = buf.capacity();
            let err = codec.decode(&mut buf).unwrap_err();
            assert!(
                matches!(err, CodecError::CommandLength { header, max: DEFAULT_MAX_LEN }
                    if header.command_length == len && header.sequence_number == 9),
                "{err:?}"
            );
            assert_eq!(buf.capacity(), cap);
            assert_eq!(
                err.generic_nack(),
                Some(Pdu::generic_nack(9, CommandStatus::ESME_RINVCMDLEN))
            );
        }
    }

    #[test]
    fn invalid_body_is_a_frame_not_an_error() {
        let mut codec = PduCodec::new(1024, DecodeMode::Strict);
        // enquire_link with 2 stray body octets: a strict decode error.
        let mut v = enquire_link(4);
        v[3] = 18;
        v.extend_from_slice(&[0xAA, 0xBB]);
        v.extend_from_slice(&enquire_link(5));
        let mut buf = BytesMut::from(&v[..]);
        let Some(Frame::Invalid { header, error }) = codec.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(header.command_id, CommandId::ENQUIRE_LINK);
        assert_eq!(header.command_length, 18);
        assert_eq!(error.status(), CommandStatus::ESME_RINVCMDLEN);
        let Some(Frame::Pdu(pdu)) = codec.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(pdu, Pdu::new(5, Body::EnquireLink));
    }

    #[test]
    fn eof_inside_a_pdu() {
        let mut codec = PduCodec::default();
        let mut buf = BytesMut::from(&enquire_link(1)[..7]);
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(CodecError::UnexpectedEof { buffered: 7 })
        ));
        let mut empty = BytesMut::new();
        assert!(codec.decode_eof(&mut empty).unwrap().is_none());
    }

    #[test]
    fn encoder_writes_the_pdu_and_refuses_oversize() {
        let mut codec = PduCodec::new(20, DecodeMode::Lenient);
        let mut dst = BytesMut::new();
        Encoder::<Pdu>::encode(&mut codec, Pdu::new(1, Body::EnquireLink), &mut dst).unwrap();
        assert_eq!(&dst[..], &enquire_link(1)[..]);
        let big = Pdu::new(2, Body::submit_sm_resp(&b"0123456789"[..]));
        assert!(matches!(
            codec.encode(&big, &mut dst),
            Err(CodecError::TooLarge { len: 27, max: 20 })
        ));
        assert_eq!(dst.len(), 16, "nothing written");
    }
}
