//! Writing the PDUs the SMSC sends, straight into the connection's output buffer.
//!
//! Incoming PDUs are decoded by the `gannet_smpp` crate. The few PDUs the simulator sends
//! (responses, deliver_sm, unbind) are written here field by field into the batch buffer, so
//! that answering a submit_sm costs no allocation: the message id is formatted on the stack and
//! the command_length is patched in once the body is written. The tests decode everything this
//! module writes with the crate's decoder, so the two cannot drift apart silently.

use bytes::{BufMut, BytesMut};
use gannet_smpp::{CommandId, CommandStatus, HEADER_LEN, TlvTag};

/// Starts a PDU: a header with a zero command_length. Returns where it starts, for [`finish`].
pub fn begin(out: &mut BytesMut, id: CommandId, status: CommandStatus, seq: u32) -> usize {
    let start = out.len();
    out.reserve(64);
    out.put_u32(0);
    out.put_u32(id.0);
    out.put_u32(status.0);
    out.put_u32(seq);
    start
}

/// Patches command_length (SMPP 3.4 §3.2: the whole PDU, header included).
pub fn finish(out: &mut BytesMut, start: usize) {
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// A C-octet string (SMPP 3.4 §3.1): the octets and a NUL. Interior NULs cannot occur in what
/// we write (ids, addresses we were sent as C-octet strings).
pub fn put_cstr(out: &mut BytesMut, s: &[u8]) {
    out.put_slice(s);
    out.put_u8(0);
}

/// A header-only PDU: enquire_link_resp, unbind, unbind_resp, generic_nack, and error
/// responses whose body SMPP 3.4 §3.3 says is not returned.
pub fn header_only(out: &mut BytesMut, id: CommandId, status: CommandStatus, seq: u32) {
    out.reserve(HEADER_LEN);
    out.put_u32(HEADER_LEN as u32);
    out.put_u32(id.0);
    out.put_u32(status.0);
    out.put_u32(seq);
}

/// submit_sm_resp / data_sm_resp (SMPP 3.4 §4.4.2, §4.7.2): the message_id on success, no
/// body on error.
pub fn message_id_resp(
    out: &mut BytesMut,
    id: CommandId,
    status: CommandStatus,
    seq: u32,
    message_id: &[u8],
) {
    if !status.is_ok() {
        header_only(out, id, status, seq);
        return;
    }
    let start = begin(out, id, status, seq);
    put_cstr(out, message_id);
    finish(out, start);
}

/// bind_*_resp (SMPP 3.4 §4.1.2): the SMSC's system_id and the sc_interface_version TLV
/// (§5.3.2.25) saying 3.4; no body on error.
pub fn bind_resp(
    out: &mut BytesMut,
    id: CommandId,
    status: CommandStatus,
    seq: u32,
    smsc_id: &[u8],
) {
    if !status.is_ok() {
        header_only(out, id, status, seq);
        return;
    }
    let start = begin(out, id, status, seq);
    put_cstr(out, smsc_id);
    put_tlv(out, TlvTag::SC_INTERFACE_VERSION, &[0x34]);
    finish(out, start);
}

/// One TLV (SMPP 3.4 §3.2.4): tag, length, value.
pub fn put_tlv(out: &mut BytesMut, tag: TlvTag, value: &[u8]) {
    out.put_u16(tag.0);
    out.put_u16(value.len() as u16);
    out.put_slice(value);
}

/// The mandatory part of a deliver_sm (SMPP 3.4 §4.6.1) up to and including data_coding and
/// sm_default_msg_id; the caller writes sm_length, short_message and TLVs, then [`finish`]es.
pub struct DeliverSmHead<'a> {
    pub seq: u32,
    pub source: (u8, u8, &'a [u8]),
    pub destination: (u8, u8, &'a [u8]),
    pub esm_class: u8,
    pub data_coding: u8,
}

pub fn deliver_sm_head(out: &mut BytesMut, h: &DeliverSmHead<'_>) -> usize {
    let start = begin(out, CommandId::DELIVER_SM, CommandStatus::ESME_ROK, h.seq);
    // service_type: empty (SMSC default).
    out.put_u8(0);
    out.put_u8(h.source.0);
    out.put_u8(h.source.1);
    put_cstr(out, h.source.2);
    out.put_u8(h.destination.0);
    out.put_u8(h.destination.1);
    put_cstr(out, h.destination.2);
    out.put_u8(h.esm_class);
    // protocol_id, priority_flag.
    out.put_slice(&[0, 0]);
    // schedule_delivery_time and validity_period are unused in deliver_sm (§4.6.1): NULL.
    out.put_slice(&[0, 0]);
    // registered_delivery, replace_if_present_flag: unused.
    out.put_slice(&[0, 0]);
    out.put_u8(h.data_coding);
    // sm_default_msg_id: unused.
    out.put_u8(0);
    start
}

#[cfg(test)]
mod tests {
    use super::*;
    use gannet_smpp::{Body, DecodeMode, Pdu};

    #[test]
    fn responses_decode_with_the_crate() {
        let mut out = BytesMut::new();
        message_id_resp(
            &mut out,
            CommandId::SUBMIT_SM_RESP,
            CommandStatus::ESME_ROK,
            7,
            b"a1f",
        );
        let pdu = Pdu::decode(&out.split().freeze(), DecodeMode::Strict).unwrap();
        assert_eq!(pdu.sequence_number, 7);
        match pdu.body {
            Body::SubmitSmResp(Some(r)) => assert_eq!(&r.message_id[..], b"a1f"),
            other => panic!("{other:?}"),
        }
        message_id_resp(
            &mut out,
            CommandId::SUBMIT_SM_RESP,
            CommandStatus::ESME_RTHROTTLED,
            8,
            b"x",
        );
        assert_eq!(out.len(), 16, "no body on error");
        let pdu = Pdu::decode(&out.split().freeze(), DecodeMode::Strict).unwrap();
        assert_eq!(pdu.command_status, CommandStatus::ESME_RTHROTTLED);

        bind_resp(
            &mut out,
            CommandId::BIND_TRANSCEIVER_RESP,
            CommandStatus::ESME_ROK,
            1,
            b"SMSC",
        );
        let pdu = Pdu::decode(&out.split().freeze(), DecodeMode::Strict).unwrap();
        match pdu.body {
            Body::BindTransceiverResp(Some(r)) => {
                assert_eq!(&r.system_id[..], b"SMSC");
                assert_eq!(r.sc_interface_version(), Some(0x34));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deliver_sm_decodes_with_the_crate() {
        let mut out = BytesMut::new();
        let start = deliver_sm_head(
            &mut out,
            &DeliverSmHead {
                seq: 9,
                source: (1, 1, b"447700900123"),
                destination: (5, 0, b"Gannet"),
                esm_class: 0x04,
                data_coding: 0,
            },
        );
        out.put_u8(5);
        out.put_slice(b"hello");
        put_tlv(&mut out, TlvTag::MESSAGE_STATE, &[2]);
        finish(&mut out, start);
        let pdu = Pdu::decode(&out.split().freeze(), DecodeMode::Strict).unwrap();
        match pdu.body {
            Body::DeliverSm(d) => {
                assert!(d.is_receipt());
                assert_eq!(&d.source_addr.addr[..], b"447700900123");
                assert_eq!(&d.destination_addr.addr[..], b"Gannet");
                assert_eq!(&d.short_message[..], b"hello");
                assert_eq!(d.message_state().map(|s| s.0), Some(2));
            }
            other => panic!("{other:?}"),
        }
    }
}
