//! Writing the PDUs the SMSC sends, straight into the connection's output buffer.
//!
//! Incoming PDUs are decoded by the `gannet_smpp` crate. The few PDUs the simulator sends
//! (responses, deliver_sm, unbind) are written here field by field into the batch buffer, so
//! that answering a submit_sm costs no allocation: the message id is formatted on the stack and
//! the command_length is patched in once the body is written. The tests decode everything this
//! module writes with the crate's decoder, so the two cannot drift apart silently.

use bytes::BytesMut;
use gannet_smpp::{CommandId, CommandStatus, HEADER_LEN, TlvTag};

/// The 16 header octets (SMPP 3.4 §3.2), command_length first.
fn header(len: u32, id: CommandId, status: CommandStatus, seq: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&len.to_be_bytes());
    h[4..8].copy_from_slice(&id.0.to_be_bytes());
    h[8..12].copy_from_slice(&status.0.to_be_bytes());
    h[12..16].copy_from_slice(&seq.to_be_bytes());
    h
}

/// Starts a PDU: a header with a zero command_length, and room for a typical body. Returns
/// where it starts, for [`finish`].
pub fn begin(out: &mut BytesMut, id: CommandId, status: CommandStatus, seq: u32) -> usize {
    let start = out.len();
    out.reserve(256);
    out.extend_from_slice(&header(0, id, status, seq));
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
    out.extend_from_slice(s);
    out.extend_from_slice(&[0]);
}

/// A header-only PDU: enquire_link_resp, unbind, unbind_resp, generic_nack, and error
/// responses whose body SMPP 3.4 §3.3 says is not returned.
pub fn header_only(out: &mut BytesMut, id: CommandId, status: CommandStatus, seq: u32) {
    out.extend_from_slice(&header(HEADER_LEN as u32, id, status, seq));
}

/// submit_sm_resp / data_sm_resp (SMPP 3.4 §4.4.2, §4.7.2): the message_id on success, no
/// body on error. Built on the stack and copied once: this is written for every submit_sm.
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
    let mut pdu = [0u8; HEADER_LEN + 66];
    let n = message_id.len().min(65);
    let len = HEADER_LEN + n + 1;
    pdu[..HEADER_LEN].copy_from_slice(&header(len as u32, id, status, seq));
    pdu[HEADER_LEN..HEADER_LEN + n].copy_from_slice(&message_id[..n]);
    out.extend_from_slice(&pdu[..len]);
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
    out.extend_from_slice(&(tag.0).to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
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
    out.extend_from_slice(&[0]);
    out.extend_from_slice(&[h.source.0]);
    out.extend_from_slice(&[h.source.1]);
    put_cstr(out, h.source.2);
    out.extend_from_slice(&[h.destination.0]);
    out.extend_from_slice(&[h.destination.1]);
    put_cstr(out, h.destination.2);
    out.extend_from_slice(&[h.esm_class]);
    // protocol_id, priority_flag.
    out.extend_from_slice(&[0, 0]);
    // schedule_delivery_time and validity_period are unused in deliver_sm (§4.6.1): NULL.
    out.extend_from_slice(&[0, 0]);
    // registered_delivery, replace_if_present_flag: unused.
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&[h.data_coding]);
    // sm_default_msg_id: unused.
    out.extend_from_slice(&[0]);
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
        out.extend_from_slice(&[5]);
        out.extend_from_slice(b"hello");
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
