use super::*;
use crate::tlv::{Tlv, TlvTag};

fn frame(id: u32, status: u32, seq: u32, body: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(16 + body.len());
    v.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&status.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(body);
    Bytes::from(v)
}

fn both_modes(f: &Bytes) -> [Result<Pdu, DecodeError>; 2] {
    [
        Pdu::decode(f, DecodeMode::Strict),
        Pdu::decode(f, DecodeMode::Lenient),
    ]
}

#[test]
fn enquire_link_round_trip() {
    let pdu = Pdu::new(7, Body::EnquireLink);
    let bytes = pdu.to_bytes();
    assert_eq!(
        &bytes[..],
        [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7]
    );
    assert_eq!(pdu.header(), Header::peek(&bytes).unwrap());
    for r in both_modes(&bytes) {
        assert_eq!(r.unwrap(), pdu);
    }
}

#[test]
fn submit_sm_fields_are_slices_of_the_frame() {
    let body =
        b"\0\x01\x01447700900123\0\x01\x01447700900456\0\x00\x00\x00\0\0\x01\x00\x00\x00\x05hello";
    let f = frame(4, 0, 2, body);
    let pdu = Pdu::decode(&f, DecodeMode::Strict).unwrap();
    let Body::SubmitSm(sm) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(sm.source_addr, Address::international(&b"447700900123"[..]));
    assert_eq!(&sm.destination_addr.addr[..], b"447700900456");
    assert_eq!(&sm.short_message[..], b"hello");
    assert_eq!(sm.registered_delivery, 1);
    assert!(sm.tlvs.is_empty());
    let range = f.as_ptr_range();
    assert!(range.contains(&sm.short_message.as_ptr()));
    assert!(range.contains(&sm.destination_addr.addr.as_ptr()));
    assert_eq!(pdu.to_bytes(), f);
}

#[test]
fn error_responses_without_a_body() {
    let f = frame(0x8000_0004, 0x58, 9, b"");
    for r in both_modes(&f) {
        let pdu = r.unwrap();
        assert_eq!(pdu.body, Body::SubmitSmResp(None));
        assert_eq!(pdu.command_status, CommandStatus::ESME_RTHROTTLED);
        assert_eq!(pdu.to_bytes(), f);
    }
    let f = frame(0x8000_0002, 0x0E, 1, b"");
    for r in both_modes(&f) {
        assert_eq!(r.unwrap().body, Body::BindTransmitterResp(None));
    }
}

#[test]
fn ok_response_without_a_body_is_lenient_only() {
    let f = frame(0x8000_0005, 0, 3, b"");
    let [strict, lenient] = both_modes(&f);
    let e = strict.unwrap_err();
    assert_eq!(
        (e.field, e.kind),
        ("message_id", DecodeErrorKind::Truncated)
    );
    assert_eq!(lenient.unwrap().body, Body::DeliverSmResp(None));
}

#[test]
fn length_mismatch() {
    let mut v = frame(0x15, 0, 1, b"").to_vec();
    v[3] = 17;
    let e = Pdu::decode(&Bytes::from(v), DecodeMode::Lenient).unwrap_err();
    assert_eq!(e.field, "command_length");
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(e.header.sequence_number, 1);
    assert_eq!(
        e.kind,
        DecodeErrorKind::BadLength {
            command_length: 17,
            frame_len: 16
        }
    );

    // Shorter than a header: what there is of the header is reported, zero-filled.
    let e = Pdu::decode(
        &Bytes::from_static(&[0, 0, 0, 8, 0, 0, 0, 0x15]),
        DecodeMode::Strict,
    )
    .unwrap_err();
    assert_eq!(e.header.command_id, CommandId::ENQUIRE_LINK);
    assert_eq!(e.header.sequence_number, 0);
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
    assert!(Pdu::decode(&Bytes::new(), DecodeMode::Lenient).is_err());
}

#[test]
fn unknown_and_broadcast_commands() {
    let f = frame(0x0000_0999, 0, 4, b"\x01\x02");
    let [strict, lenient] = both_modes(&f);
    let e = strict.unwrap_err();
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDID);
    assert_eq!(e.field, "command_id");
    let pdu = lenient.unwrap();
    assert_eq!(
        pdu.body,
        Body::Raw {
            command_id: CommandId(0x999),
            body: Bytes::from_static(b"\x01\x02")
        }
    );
    assert_eq!(pdu.to_bytes(), f);

    let f = frame(0x0000_0111, 0, 5, b"\0\x01\x01123\0");
    for r in both_modes(&f) {
        let pdu = r.unwrap();
        assert_eq!(pdu.command_id(), CommandId::BROADCAST_SM);
        assert_eq!(pdu.to_bytes(), f);
    }
}

#[test]
fn trailing_bytes_on_a_bodyless_pdu() {
    let f = frame(0x15, 0, 1, b"\0");
    let [strict, lenient] = both_modes(&f);
    let e = strict.unwrap_err();
    assert_eq!(e.field, "command_length");
    assert_eq!(e.kind, DecodeErrorKind::TrailingBytes { len: 1 });
    assert_eq!(lenient.unwrap().body, Body::EnquireLink);
}

#[test]
fn lenient_message_id_without_nul() {
    let f = frame(0x8000_0004, 0, 2, b"abc123");
    let [strict, lenient] = both_modes(&f);
    assert_eq!(strict.unwrap_err().kind, DecodeErrorKind::MissingNul);
    assert_eq!(
        lenient.unwrap().body,
        Body::submit_sm_resp(Bytes::from_static(b"abc123"))
    );
}

#[test]
fn message_payload_needs_sm_length_zero_in_strict_mode() {
    let sm = SubmitSm {
        short_message: Bytes::from_static(b"x"),
        ..SubmitSm::default()
    }
    .with_tlv(Tlv::new(TlvTag::MESSAGE_PAYLOAD, &b"long text"[..]));
    let f = Pdu::new(1, Body::SubmitSm(sm.clone())).to_bytes();
    let [strict, lenient] = both_modes(&f);
    let e = strict.unwrap_err();
    assert_eq!(e.field, "sm_length");
    assert_eq!(e.status(), CommandStatus::ESME_RINVMSGLEN);
    let pdu = lenient.unwrap();
    let Body::SubmitSm(got) = &pdu.body else {
        panic!()
    };
    assert_eq!(got, &sm);
    // payload() prefers short_message when both are present.
    assert_eq!(&got.payload()[..], b"x");
}

#[test]
fn submit_multi_with_both_kinds_of_destination() {
    let sm = SubmitMulti {
        source_addr: Address::alphanumeric(&b"Gannet"[..]),
        dest_addresses: vec![
            DestAddress::Sme(Address::international(&b"447700900001"[..])),
            DestAddress::DistributionList(Bytes::from_static(b"staff")),
        ],
        short_message: Bytes::from_static(b"hi"),
        ..SubmitMulti::default()
    };
    let pdu = Pdu::new(3, Body::SubmitMulti(sm));
    let bytes = pdu.to_bytes();
    assert_eq!(bytes.len(), pdu.encoded_len());
    assert_eq!(Pdu::decode(&bytes, DecodeMode::Strict).unwrap(), pdu);

    // dest_flag 3 is not a thing.
    let mut v = bytes.to_vec();
    let flag_at = 16 + 1 + 3 + 6 + 1;
    assert_eq!(v[flag_at], 1);
    v[flag_at] = 3;
    for r in both_modes(&Bytes::from(v)) {
        let e = r.unwrap_err();
        assert_eq!(e.field, "dest_flag");
        assert_eq!(e.status(), CommandStatus::ESME_RINVDESTFLAG);
    }
}

#[test]
fn number_of_dests_cannot_force_a_large_allocation() {
    // number_of_dests 255 with nothing after it: fails on the first entry, having reserved
    // nothing like 255 entries.
    let f = frame(0x21, 0, 1, b"\0\x01\x01123\0\xFF");
    let [strict, lenient] = both_modes(&f);
    assert_eq!(strict.unwrap_err().field, "number_of_dests");
    assert_eq!(lenient.unwrap_err().field, "dest_flag");
}

#[test]
fn encode_clamps_what_the_wire_cannot_say() {
    let sm = SubmitSm {
        short_message: Bytes::from(vec![b'x'; 300]),
        ..SubmitSm::default()
    };
    let pdu = Pdu::new(1, Body::SubmitSm(sm));
    let bytes = pdu.to_bytes();
    assert_eq!(bytes.len(), pdu.encoded_len());
    let Body::SubmitSm(back) = Pdu::decode(&bytes, DecodeMode::Lenient).unwrap().body else {
        panic!()
    };
    assert_eq!(back.short_message.len(), 255);
}

#[test]
fn constructors() {
    let nack = Pdu::generic_nack(12, CommandStatus::ESME_RINVCMDID);
    assert_eq!(nack.header().command_id, CommandId::GENERIC_NACK);
    assert_eq!(nack.header().command_length, 16);
    let resp = Pdu::new(5, Body::deliver_sm_resp());
    assert_eq!(resp.encoded_len(), 17);
    assert_eq!(&resp.to_bytes()[16..], b"\0");
    let bind = Bind::new(&b"gannet"[..], &b"secret"[..]);
    assert_eq!(bind.interface_version, 0x34);
    let p = Pdu::new(1, Body::BindTransceiver(bind)).with_status(CommandStatus(0));
    assert_eq!(p.encoded_len(), 16 + 7 + 7 + 1 + 3 + 1);
    assert!(p.tlvs().is_none());
}

#[test]
fn address_limits_depend_on_the_operation() {
    // 30 digits: too long for submit_sm (21 with the NUL), fine for data_sm (65).
    let long = Address::international(Bytes::from(vec![b'9'; 30]));
    let sm = Pdu::new(
        1,
        Body::SubmitSm(SubmitSm {
            destination_addr: long.clone(),
            ..SubmitSm::default()
        }),
    );
    let e = Pdu::decode(&sm.to_bytes(), DecodeMode::Strict).unwrap_err();
    assert_eq!(e.field, "destination_addr");
    assert_eq!(e.kind, DecodeErrorKind::TooLong { max: 21, len: 31 });
    assert_eq!(e.status(), CommandStatus::ESME_RINVDSTADR);
    assert_eq!(
        Pdu::decode(&sm.to_bytes(), DecodeMode::Lenient).unwrap(),
        sm
    );

    let data = Pdu::new(
        2,
        Body::DataSm(DataSm {
            destination_addr: long,
            ..DataSm::default()
        }),
    );
    assert_eq!(
        Pdu::decode(&data.to_bytes(), DecodeMode::Strict).unwrap(),
        data
    );
}

#[test]
fn last_field_without_nul_in_lenient_mode() {
    // outbind password, bind_resp system_id, cancel_sm destination_addr.
    let cases: [(u32, &[u8], Body); 3] = [
        (
            0x0B,
            b"SMSC\0pw",
            Body::Outbind(Outbind {
                system_id: Bytes::from_static(b"SMSC"),
                password: Bytes::from_static(b"pw"),
            }),
        ),
        (
            0x8000_0009,
            b"SMSC",
            Body::BindTransceiverResp(Some(BindResp::new(Bytes::from_static(b"SMSC")))),
        ),
        (
            0x08,
            b"\0id\0\x05\x00G\0\x01\x0144",
            Body::CancelSm(CancelSm {
                service_type: Bytes::new(),
                message_id: Bytes::from_static(b"id"),
                source_addr: Address::new(5, 0, Bytes::from_static(b"G")),
                destination_addr: Address::international(Bytes::from_static(b"44")),
            }),
        ),
    ];
    for (id, body, want) in cases {
        let f = frame(id, 0, 1, body);
        let [strict, lenient] = both_modes(&f);
        assert_eq!(
            strict.unwrap_err().kind,
            DecodeErrorKind::MissingNul,
            "{id:#x}"
        );
        assert_eq!(lenient.unwrap().body, want, "{id:#x}");
    }
}

#[test]
fn submit_multi_resp_that_stops_after_message_id() {
    let f = frame(0x8000_0021, 0, 1, b"m-1\0");
    let [strict, lenient] = both_modes(&f);
    assert_eq!(strict.unwrap_err().field, "no_unsuccess");
    assert_eq!(
        lenient.unwrap().body,
        Body::SubmitMultiResp(Some(SubmitMultiResp {
            message_id: Bytes::from_static(b"m-1"),
            ..SubmitMultiResp::default()
        }))
    );
}

#[test]
fn query_sm_resp_final_date_must_be_a_time_in_strict_mode() {
    let f = frame(0x8000_0003, 0, 1, b"id\x002601\0\x02\x00");
    let [strict, lenient] = both_modes(&f);
    let e = strict.unwrap_err();
    assert_eq!(
        (e.field, e.kind),
        ("final_date", DecodeErrorKind::InvalidValue)
    );
    let Body::QuerySmResp(Some(q)) = lenient.unwrap().body else {
        panic!()
    };
    assert_eq!(&q.final_date[..], b"2601");
    assert_eq!(q.message_state, crate::MessageState::DELIVERED);
}

#[test]
fn tlvs_on_every_body_that_takes_them() {
    let tlv = Tlv::u8(TlvTag::PAYLOAD_TYPE, 1);
    let bodies = [
        Body::BindTransmitterResp(Some(BindResp::new(Bytes::new()).with_tlv(tlv.clone()))),
        Body::SubmitSm(SubmitSm::default().with_tlv(tlv.clone())),
        Body::SubmitSmResp(Some(SubmitSmResp::new(Bytes::new()).with_tlv(tlv.clone()))),
        Body::SubmitMulti(
            SubmitMulti {
                dest_addresses: vec![DestAddress::DistributionList(Bytes::from_static(b"l"))],
                ..SubmitMulti::default()
            }
            .with_tlv(tlv.clone()),
        ),
        Body::SubmitMultiResp(Some(SubmitMultiResp::default().with_tlv(tlv.clone()))),
        Body::DeliverSm(DeliverSm::default().with_tlv(tlv.clone())),
        Body::DeliverSmResp(Some(DeliverSmResp::default().with_tlv(tlv.clone()))),
        Body::DataSm(DataSm::default().with_tlv(tlv.clone())),
        Body::DataSmResp(Some(DataSmResp::default().with_tlv(tlv.clone()))),
        Body::ReplaceSm(ReplaceSm::default().with_tlv(tlv.clone())),
        Body::AlertNotification(AlertNotification::default().with_tlv(tlv.clone())),
    ];
    for body in bodies {
        let pdu = Pdu::new(1, body);
        assert_eq!(
            pdu.tlvs().map(|t| t.len()),
            Some(1),
            "{:?}",
            pdu.command_id()
        );
        let back = Pdu::decode(&pdu.to_bytes(), DecodeMode::Strict).unwrap();
        assert_eq!(back, pdu);
        let got = back.tlvs().and_then(|t| t.iter().next());
        assert_eq!(got, Some(&tlv));
    }
}

#[test]
fn lenient_drops_a_broken_tlv_tail() {
    // A good TLV, then 3 octets that cannot be a TLV header.
    let mut body = b"id\0".to_vec();
    body.extend([0x04, 0x25, 0x00, 0x01, 0x00, 0xAA, 0xBB, 0xCC]);
    let f = frame(0x8000_0103, 0, 1, &body);
    let [strict, lenient] = both_modes(&f);
    let e = strict.unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::BadTlv {
            tag: Some(TlvTag(0xAABB))
        }
    );
    assert_eq!(e.status(), CommandStatus::ESME_RINVTLVSTREAM);
    let pdu = lenient.unwrap();
    assert_eq!(pdu.tlvs().map(|t| t.len()), Some(1));
    assert_eq!(pdu.encoded_len(), f.len() - 3);
}
