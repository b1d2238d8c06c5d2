//! The PDU model: one [`Pdu`] (header fields plus a [`Body`]), one body type per operation.
//!
//! Decoding takes one complete frame (header included) and returns a value whose string fields
//! are zero-copy slices of that frame. C-octet strings are stored *without* their NUL; encoding
//! adds it back. Encoding computes command_length from the body, so a `Pdu` cannot carry a
//! length that lies.
//!
//! Responses that carry a body (bind_*_resp, submit_sm_resp, submit_multi_resp, deliver_sm_resp,
//! data_sm_resp, query_sm_resp) hold it in an `Option`: SMSCs answer errors with a bare 16-octet
//! header (SMPP 3.4 §4.1.2, §4.4.2: the body "is not returned if the command_status field
//! contains a non-zero value"), and `None` encodes back to that.
//!
//! SMPP 5.0 broadcast operations and unknown command ids are kept as [`Body::Raw`].

mod alert_notification;
mod bind;
mod cancel_sm;
mod data_sm;
mod deliver_sm;
mod query_sm;
mod replace_sm;
mod sm;
mod submit_multi;
mod submit_sm;

use bytes::{BufMut, Bytes, BytesMut};

pub use alert_notification::AlertNotification;
pub use bind::{Bind, BindResp, Outbind};
pub use cancel_sm::CancelSm;
pub use data_sm::{DataSm, DataSmResp};
pub use deliver_sm::{DeliverSm, DeliverSmResp};
pub use query_sm::{QuerySm, QuerySmResp};
pub use replace_sm::ReplaceSm;
pub use submit_multi::{DestAddress, SubmitMulti, SubmitMultiResp, UnsuccessSme};
pub use submit_sm::{SubmitSm, SubmitSmResp};

use crate::decode::{DecodeMode, Reader, Step, Stop};
use crate::encode::{SCRATCH_LEN, Scratch, Sink, ToBuf};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::tlv::Tlvs;
use crate::{CommandId, CommandStatus, HEADER_LEN, Header};

/// An SME address: type of number, numbering plan indicator and the address itself
/// (SMPP 3.4 §5.2.5-5.2.8). `addr` is the C-octet string without its NUL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Address {
    pub ton: u8,
    pub npi: u8,
    pub addr: Bytes,
}

impl Address {
    pub fn new(ton: u8, npi: u8, addr: impl Into<Bytes>) -> Address {
        Address {
            ton,
            npi,
            addr: addr.into(),
        }
    }

    /// International number (ton 1, npi 1 E.164), digits without `+`.
    pub fn international(digits: impl Into<Bytes>) -> Address {
        Address::new(1, 1, digits)
    }

    /// Alphanumeric sender id (ton 5, npi 0).
    pub fn alphanumeric(text: impl Into<Bytes>) -> Address {
        Address::new(5, 0, text)
    }

    pub(crate) fn encoded_len(&self) -> usize {
        3 + self.addr.len()
    }
}

/// One SMPP PDU. command_id follows from the body and command_length is computed when encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    pub command_status: CommandStatus,
    pub sequence_number: u32,
    pub body: Body,
}

/// The body of a PDU, one variant per operation.
// SubmitSm and friends are large next to the unit variants; boxing them would cost an
// allocation per decoded message, which is the one thing the decoder is built to avoid.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    BindTransmitter(Bind),
    /// `None`: an error response with no body.
    BindTransmitterResp(Option<BindResp>),
    BindReceiver(Bind),
    BindReceiverResp(Option<BindResp>),
    BindTransceiver(Bind),
    BindTransceiverResp(Option<BindResp>),
    Outbind(Outbind),
    Unbind,
    UnbindResp,
    GenericNack,
    EnquireLink,
    EnquireLinkResp,
    SubmitSm(SubmitSm),
    SubmitSmResp(Option<SubmitSmResp>),
    SubmitMulti(SubmitMulti),
    SubmitMultiResp(Option<SubmitMultiResp>),
    DeliverSm(DeliverSm),
    DeliverSmResp(Option<DeliverSmResp>),
    DataSm(DataSm),
    DataSmResp(Option<DataSmResp>),
    QuerySm(QuerySm),
    QuerySmResp(Option<QuerySmResp>),
    CancelSm(CancelSm),
    CancelSmResp,
    ReplaceSm(ReplaceSm),
    ReplaceSmResp,
    AlertNotification(AlertNotification),
    /// A PDU kept as its raw body: the SMPP 5.0 broadcast operations (broadcast_sm,
    /// query_broadcast_sm, cancel_broadcast_sm and their responses), and, in lenient mode,
    /// command ids this crate does not know.
    Raw {
        command_id: CommandId,
        body: Bytes,
    },
}

impl Body {
    /// The command_id this body is sent with.
    pub fn command_id(&self) -> CommandId {
        match self {
            Body::BindTransmitter(_) => CommandId::BIND_TRANSMITTER,
            Body::BindTransmitterResp(_) => CommandId::BIND_TRANSMITTER_RESP,
            Body::BindReceiver(_) => CommandId::BIND_RECEIVER,
            Body::BindReceiverResp(_) => CommandId::BIND_RECEIVER_RESP,
            Body::BindTransceiver(_) => CommandId::BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => CommandId::BIND_TRANSCEIVER_RESP,
            Body::Outbind(_) => CommandId::OUTBIND,
            Body::Unbind => CommandId::UNBIND,
            Body::UnbindResp => CommandId::UNBIND_RESP,
            Body::GenericNack => CommandId::GENERIC_NACK,
            Body::EnquireLink => CommandId::ENQUIRE_LINK,
            Body::EnquireLinkResp => CommandId::ENQUIRE_LINK_RESP,
            Body::SubmitSm(_) => CommandId::SUBMIT_SM,
            Body::SubmitSmResp(_) => CommandId::SUBMIT_SM_RESP,
            Body::SubmitMulti(_) => CommandId::SUBMIT_MULTI,
            Body::SubmitMultiResp(_) => CommandId::SUBMIT_MULTI_RESP,
            Body::DeliverSm(_) => CommandId::DELIVER_SM,
            Body::DeliverSmResp(_) => CommandId::DELIVER_SM_RESP,
            Body::DataSm(_) => CommandId::DATA_SM,
            Body::DataSmResp(_) => CommandId::DATA_SM_RESP,
            Body::QuerySm(_) => CommandId::QUERY_SM,
            Body::QuerySmResp(_) => CommandId::QUERY_SM_RESP,
            Body::CancelSm(_) => CommandId::CANCEL_SM,
            Body::CancelSmResp => CommandId::CANCEL_SM_RESP,
            Body::ReplaceSm(_) => CommandId::REPLACE_SM,
            Body::ReplaceSmResp => CommandId::REPLACE_SM_RESP,
            Body::AlertNotification(_) => CommandId::ALERT_NOTIFICATION,
            Body::Raw { command_id, .. } => *command_id,
        }
    }

    /// submit_sm_resp carrying the SMSC's message id.
    pub fn submit_sm_resp(message_id: impl Into<Bytes>) -> Body {
        Body::SubmitSmResp(Some(SubmitSmResp {
            message_id: message_id.into(),
            tlvs: Tlvs::new(),
        }))
    }

    /// deliver_sm_resp as SMPP 3.4 §4.6.2 has it: message_id unused, sent as a lone NUL.
    pub fn deliver_sm_resp() -> Body {
        Body::DeliverSmResp(Some(DeliverSmResp::default()))
    }

    /// data_sm_resp carrying a message id.
    pub fn data_sm_resp(message_id: impl Into<Bytes>) -> Body {
        Body::DataSmResp(Some(DataSmResp {
            message_id: message_id.into(),
            tlvs: Tlvs::new(),
        }))
    }

    /// The TLVs of a body that carries them (and has one).
    pub fn tlvs(&self) -> Option<&Tlvs> {
        Some(match self {
            Body::BindTransmitterResp(Some(b))
            | Body::BindReceiverResp(Some(b))
            | Body::BindTransceiverResp(Some(b)) => &b.tlvs,
            Body::SubmitSm(b) => &b.tlvs,
            Body::SubmitSmResp(Some(b)) => &b.tlvs,
            Body::SubmitMulti(b) => &b.tlvs,
            Body::SubmitMultiResp(Some(b)) => &b.tlvs,
            Body::DeliverSm(b) => &b.tlvs,
            Body::DeliverSmResp(Some(b)) => &b.tlvs,
            Body::DataSm(b) => &b.tlvs,
            Body::DataSmResp(Some(b)) => &b.tlvs,
            Body::ReplaceSm(b) => &b.tlvs,
            Body::AlertNotification(b) => &b.tlvs,
            _ => return None,
        })
    }

    /// Encoded size of the body (without the header).
    pub fn encoded_len(&self) -> usize {
        match self {
            Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
                b.encoded_len()
            }
            Body::BindTransmitterResp(b)
            | Body::BindReceiverResp(b)
            | Body::BindTransceiverResp(b) => b.as_ref().map_or(0, BindResp::encoded_len),
            Body::Outbind(b) => b.encoded_len(),
            Body::Unbind
            | Body::UnbindResp
            | Body::GenericNack
            | Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::CancelSmResp
            | Body::ReplaceSmResp => 0,
            Body::SubmitSm(b) => b.encoded_len(),
            Body::SubmitSmResp(b) => b.as_ref().map_or(0, SubmitSmResp::encoded_len),
            Body::SubmitMulti(b) => b.encoded_len(),
            Body::SubmitMultiResp(b) => b.as_ref().map_or(0, SubmitMultiResp::encoded_len),
            Body::DeliverSm(b) => b.encoded_len(),
            Body::DeliverSmResp(b) => b.as_ref().map_or(0, DeliverSmResp::encoded_len),
            Body::DataSm(b) => b.encoded_len(),
            Body::DataSmResp(b) => b.as_ref().map_or(0, DataSmResp::encoded_len),
            Body::QuerySm(b) => b.encoded_len(),
            Body::QuerySmResp(b) => b.as_ref().map_or(0, QuerySmResp::encoded_len),
            Body::CancelSm(b) => b.encoded_len(),
            Body::ReplaceSm(b) => b.encoded_len(),
            Body::AlertNotification(b) => b.encoded_len(),
            Body::Raw { body, .. } => body.len(),
        }
    }

    /// Writes the body (without the header).
    pub fn encode(&self, dst: &mut impl BufMut) {
        self.write(&mut ToBuf(dst));
    }

    fn write(&self, dst: &mut impl Sink) {
        match self {
            Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
                b.encode(dst)
            }
            Body::BindTransmitterResp(Some(b))
            | Body::BindReceiverResp(Some(b))
            | Body::BindTransceiverResp(Some(b)) => b.encode(dst),
            Body::Outbind(b) => b.encode(dst),
            // Bodiless operations, and error responses sent with no body (SMPP 3.4 §4.4.2).
            Body::Unbind
            | Body::UnbindResp
            | Body::GenericNack
            | Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::CancelSmResp
            | Body::ReplaceSmResp
            | Body::BindTransmitterResp(None)
            | Body::BindReceiverResp(None)
            | Body::BindTransceiverResp(None)
            | Body::SubmitSmResp(None)
            | Body::SubmitMultiResp(None)
            | Body::DeliverSmResp(None)
            | Body::DataSmResp(None)
            | Body::QuerySmResp(None) => {}
            Body::SubmitSm(b) => b.encode(dst),
            Body::SubmitSmResp(Some(b)) => b.encode(dst),
            Body::SubmitMulti(b) => b.encode(dst),
            Body::SubmitMultiResp(Some(b)) => b.encode(dst),
            Body::DeliverSm(b) => b.encode(dst),
            Body::DeliverSmResp(Some(b)) => b.encode(dst),
            Body::DataSm(b) => b.encode(dst),
            Body::DataSmResp(Some(b)) => b.encode(dst),
            Body::QuerySm(b) => b.encode(dst),
            Body::QuerySmResp(Some(b)) => b.encode(dst),
            Body::CancelSm(b) => b.encode(dst),
            Body::ReplaceSm(b) => b.encode(dst),
            Body::AlertNotification(b) => b.encode(dst),
            Body::Raw { body, .. } => dst.put_slice(body),
        }
    }

    /// Decodes the body of one PDU whose header has been checked.
    fn decode(r: &mut Reader<'_>, header: Header, frame: &Bytes) -> Step<Body> {
        Ok(match header.command_id {
            CommandId::BIND_TRANSMITTER => Body::BindTransmitter(Bind::decode(r)?),
            CommandId::BIND_RECEIVER => Body::BindReceiver(Bind::decode(r)?),
            CommandId::BIND_TRANSCEIVER => Body::BindTransceiver(Bind::decode(r)?),
            CommandId::BIND_TRANSMITTER_RESP => {
                Body::BindTransmitterResp(response(r, header, BindResp::decode)?)
            }
            CommandId::BIND_RECEIVER_RESP => {
                Body::BindReceiverResp(response(r, header, BindResp::decode)?)
            }
            CommandId::BIND_TRANSCEIVER_RESP => {
                Body::BindTransceiverResp(response(r, header, BindResp::decode)?)
            }
            CommandId::OUTBIND => Body::Outbind(Outbind::decode(r)?),
            CommandId::UNBIND => empty(r, Body::Unbind)?,
            CommandId::UNBIND_RESP => empty(r, Body::UnbindResp)?,
            CommandId::GENERIC_NACK => empty(r, Body::GenericNack)?,
            CommandId::ENQUIRE_LINK => empty(r, Body::EnquireLink)?,
            CommandId::ENQUIRE_LINK_RESP => empty(r, Body::EnquireLinkResp)?,
            CommandId::SUBMIT_SM => Body::SubmitSm(SubmitSm::decode(r)?),
            CommandId::SUBMIT_SM_RESP => {
                Body::SubmitSmResp(response(r, header, SubmitSmResp::decode)?)
            }
            CommandId::SUBMIT_MULTI => Body::SubmitMulti(SubmitMulti::decode(r)?),
            CommandId::SUBMIT_MULTI_RESP => {
                Body::SubmitMultiResp(response(r, header, SubmitMultiResp::decode)?)
            }
            CommandId::DELIVER_SM => Body::DeliverSm(DeliverSm::decode(r)?),
            CommandId::DELIVER_SM_RESP => {
                Body::DeliverSmResp(response(r, header, DeliverSmResp::decode)?)
            }
            CommandId::DATA_SM => Body::DataSm(DataSm::decode(r)?),
            CommandId::DATA_SM_RESP => Body::DataSmResp(response(r, header, DataSmResp::decode)?),
            CommandId::QUERY_SM => Body::QuerySm(QuerySm::decode(r)?),
            CommandId::QUERY_SM_RESP => {
                Body::QuerySmResp(response(r, header, QuerySmResp::decode)?)
            }
            CommandId::CANCEL_SM => Body::CancelSm(CancelSm::decode(r)?),
            CommandId::CANCEL_SM_RESP => empty(r, Body::CancelSmResp)?,
            CommandId::REPLACE_SM => Body::ReplaceSm(ReplaceSm::decode(r)?),
            CommandId::REPLACE_SM_RESP => empty(r, Body::ReplaceSmResp)?,
            CommandId::ALERT_NOTIFICATION => Body::AlertNotification(AlertNotification::decode(r)?),
            // The SMPP 5.0 broadcast operations: known, kept raw.
            id if id.is_known() => Body::Raw {
                command_id: id,
                body: frame.slice(HEADER_LEN..),
            },
            _ if r.strict() => return Err(r.fail("command_id", DecodeErrorKind::UnknownCommand)),
            id => Body::Raw {
                command_id: id,
                body: frame.slice(HEADER_LEN..),
            },
        })
    }
}

/// A body-less PDU (SMPP 3.4 §4.11 enquire_link, §4.2 unbind, §4.3 generic_nack …).
fn empty(r: &mut Reader<'_>, body: Body) -> Step<Body> {
    r.finish()?;
    Ok(body)
}

/// A response that may come without its body. With a non-zero command_status an empty body is
/// always accepted (SMPP 3.4 §4.4.2 and the other responses); with ESME_ROK only in lenient mode, because deliver_sm_resp
/// without its (unused) message_id NUL is common in the field.
fn response<T>(
    r: &mut Reader<'_>,
    header: Header,
    decode: fn(&mut Reader<'_>) -> Step<T>,
) -> Step<Option<T>> {
    if r.is_empty() && (!header.command_status.is_ok() || !r.strict()) {
        return Ok(None);
    }
    decode(r).map(Some)
}

impl Pdu {
    /// A PDU with command_status ESME_ROK.
    pub fn new(sequence_number: u32, body: Body) -> Pdu {
        Pdu {
            command_status: CommandStatus::ESME_ROK,
            sequence_number,
            body,
        }
    }

    /// A generic_nack (SMPP 3.4 §4.3) for the given sequence number.
    pub fn generic_nack(sequence_number: u32, status: CommandStatus) -> Pdu {
        Pdu {
            command_status: status,
            sequence_number,
            body: Body::GenericNack,
        }
    }

    /// Builder: the same PDU with another command_status.
    #[must_use]
    pub fn with_status(mut self, status: CommandStatus) -> Pdu {
        self.command_status = status;
        self
    }

    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// The header this PDU is encoded with, command_length included.
    pub fn header(&self) -> Header {
        Header {
            command_length: self.command_length(),
            command_id: self.command_id(),
            command_status: self.command_status,
            sequence_number: self.sequence_number,
        }
    }

    /// The TLVs, for bodies that carry them.
    pub fn tlvs(&self) -> Option<&Tlvs> {
        self.body.tlvs()
    }

    /// Total encoded size, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body.encoded_len()
    }

    fn command_length(&self) -> u32 {
        u32::try_from(self.encoded_len()).unwrap_or(u32::MAX)
    }

    /// Writes the PDU: the header with the computed command_length, then the body.
    pub fn encode(&self, dst: &mut impl BufMut) {
        let len = self.encoded_len();
        let header = Header {
            command_length: u32::try_from(len).unwrap_or(u32::MAX),
            command_id: self.command_id(),
            command_status: self.command_status,
            sequence_number: self.sequence_number,
        };
        if len <= SCRATCH_LEN {
            // Assemble on the stack, then one copy into the caller's buffer (see `Sink`).
            let mut buf = [0u8; SCRATCH_LEN];
            let mut w = Scratch::new(&mut buf[..len]);
            w.put_slice(&header.to_bytes());
            self.body.write(&mut w);
            if w.written() == len {
                dst.put_slice(&buf[..len]);
                return;
            }
        }
        let mut w = ToBuf(dst);
        w.put_slice(&header.to_bytes());
        self.body.write(&mut w);
    }

    /// The PDU as one contiguous buffer, allocated once at its exact size.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }

    /// Decodes one complete PDU, header included. command_length must equal `frame.len()`.
    /// Never panics and never reads outside `frame`; string fields are slices of `frame`.
    pub fn decode(frame: &Bytes, mode: DecodeMode) -> Result<Pdu, DecodeError> {
        let header = match Header::peek(frame) {
            Some(h) if h.command_length as usize == frame.len() => h,
            peeked => {
                let header = peeked.unwrap_or_else(|| {
                    let mut padded = [0u8; HEADER_LEN];
                    padded[..frame.len()].copy_from_slice(frame);
                    Header::peek(&padded).unwrap_or(Header {
                        command_length: 0,
                        command_id: CommandId(0),
                        command_status: CommandStatus(0),
                        sequence_number: 0,
                    })
                });
                return Err(DecodeError {
                    header,
                    field: "command_length",
                    kind: DecodeErrorKind::BadLength {
                        command_length: header.command_length,
                        frame_len: frame.len(),
                    },
                });
            }
        };
        let mut r = Reader::new(frame, &frame[HEADER_LEN..], header, mode);
        match Body::decode(&mut r, header, frame) {
            Ok(body) => Ok(Pdu {
                command_status: header.command_status,
                sequence_number: header.sequence_number,
                body,
            }),
            Err(Stop) => Err(r.into_error()),
        }
    }
}

#[cfg(test)]
mod tests;
