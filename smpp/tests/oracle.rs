//! Cross-check against rusmpp 0.4, an independent SMPP implementation (dev-dependency only).
//!
//! Both directions: rusmpp decodes what we encode to the same field values, and we decode what
//! rusmpp encodes to the same field values. "Same" is judged by [`from_rusmpp`], which maps
//! rusmpp's typed model onto ours field by field without going through our decoder, plus a few
//! direct assertions on rusmpp's own fields.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use gannet_smpp as g;
use gannet_smpp::{Address, Body, CommandStatus, DecodeMode, Pdu, Tlv, TlvTag};
use rusmpp::encode::Length;
use rusmpp::encode::owned::Encode as _;
use rusmpp::pdus::{
    BindReceiver, BindTransceiver, BindTransceiverResp, BindTransmitter, BindTransmitterResp,
    DataSm, DeliverSm, QuerySm, QuerySmResp, SubmitMulti, SubmitSm, SubmitSmResp,
};
use rusmpp::tlvs::{MessageDeliveryRequestTlvValue, MessageSubmissionRequestTlvValue};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{AnyOctetString, COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{
    DataCoding, DestAddress, DistributionListName, ErrorCodeNetworkType, EsmClass,
    InterfaceVersion, MessagePayload, MessageState, NetworkErrorCode, Npi, RegisteredDelivery,
    ServiceType, SmeAddress, Ton,
};
use rusmpp::{Command, CommandId};
use tokio_util::codec::{Decoder, Encoder};

// ---------------------------------------------------------------------------------------------
// rusmpp's model → ours, field by field.

/// A C-octet string as rusmpp holds it (NUL included) → ours (NUL excluded).
fn cstr(s: &[u8]) -> Bytes {
    let s = s.strip_suffix(&[0]).unwrap_or(s);
    Bytes::copy_from_slice(s)
}

fn addr(ton: Ton, npi: Npi, a: &[u8]) -> Address {
    Address::new(u8::from(ton), u8::from(npi), cstr(a))
}

/// rusmpp TLVs → ours: tag from rusmpp, value as rusmpp encodes its decoded value.
fn tlvs<'a>(list: impl IntoIterator<Item = &'a rusmpp::tlvs::Tlv>) -> g::Tlvs {
    list.into_iter()
        .map(|t| {
            let mut buf = BytesMut::with_capacity(t.length());
            t.encode(&mut buf);
            assert_eq!(buf.len(), 4 + usize::from(t.value_length()));
            Tlv::new(TlvTag(u16::from(t.tag())), buf.split_off(4).freeze())
        })
        .collect()
}

fn bind(
    system_id: &[u8],
    password: &[u8],
    system_type: &[u8],
    version: InterfaceVersion,
    ton: Ton,
    npi: Npi,
    range: &[u8],
) -> g::Bind {
    g::Bind {
        system_id: cstr(system_id),
        password: cstr(password),
        system_type: cstr(system_type),
        interface_version: u8::from(version),
        addr_ton: u8::from(ton),
        addr_npi: u8::from(npi),
        address_range: cstr(range),
    }
}

macro_rules! sm_fields {
    ($target:ident, $s:expr) => {{
        let s = $s;
        g::$target {
            service_type: cstr(s.service_type.value()),
            source_addr: addr(s.source_addr_ton, s.source_addr_npi, &s.source_addr),
            destination_addr: addr(s.dest_addr_ton, s.dest_addr_npi, &s.destination_addr),
            esm_class: u8::from(s.esm_class),
            protocol_id: s.protocol_id,
            priority_flag: u8::from(s.priority_flag),
            schedule_delivery_time: cstr(&s.schedule_delivery_time),
            validity_period: cstr(&s.validity_period),
            registered_delivery: u8::from(s.registered_delivery),
            replace_if_present_flag: u8::from(s.replace_if_present_flag),
            data_coding: u8::from(s.data_coding),
            sm_default_msg_id: s.sm_default_msg_id,
            short_message: Bytes::copy_from_slice(s.short_message()),
            tlvs: tlvs(s.tlvs()),
        }
    }};
}

fn from_rusmpp(cmd: &Command) -> Pdu {
    use rusmpp::Pdu as R;
    let body = match cmd.pdu() {
        None => match cmd.id() {
            CommandId::SubmitSmResp => Body::SubmitSmResp(None),
            CommandId::BindTransmitterResp => Body::BindTransmitterResp(None),
            other => panic!("no body for {other:?}"),
        },
        Some(R::BindTransmitter(b)) => Body::BindTransmitter(bind(
            &b.system_id,
            &b.password,
            &b.system_type,
            b.interface_version,
            b.addr_ton,
            b.addr_npi,
            &b.address_range,
        )),
        Some(R::BindReceiver(b)) => Body::BindReceiver(bind(
            &b.system_id,
            &b.password,
            &b.system_type,
            b.interface_version,
            b.addr_ton,
            b.addr_npi,
            &b.address_range,
        )),
        Some(R::BindTransceiver(b)) => Body::BindTransceiver(bind(
            &b.system_id,
            &b.password,
            &b.system_type,
            b.interface_version,
            b.addr_ton,
            b.addr_npi,
            &b.address_range,
        )),
        Some(R::BindTransmitterResp(b)) => Body::BindTransmitterResp(Some(g::BindResp {
            system_id: cstr(&b.system_id),
            tlvs: tlvs(b.sc_interface_version_tlv()),
        })),
        Some(R::BindReceiverResp(b)) => Body::BindReceiverResp(Some(g::BindResp {
            system_id: cstr(&b.system_id),
            tlvs: tlvs(b.sc_interface_version_tlv()),
        })),
        Some(R::BindTransceiverResp(b)) => Body::BindTransceiverResp(Some(g::BindResp {
            system_id: cstr(&b.system_id),
            tlvs: tlvs(b.sc_interface_version_tlv()),
        })),
        Some(R::Outbind(b)) => Body::Outbind(g::Outbind {
            system_id: cstr(&b.system_id),
            password: cstr(&b.password),
        }),
        Some(R::SubmitSm(s)) => Body::SubmitSm(sm_fields!(SubmitSm, s)),
        Some(R::DeliverSm(s)) => Body::DeliverSm(sm_fields!(DeliverSm, s)),
        Some(R::SubmitSmResp(r)) => Body::SubmitSmResp(Some(g::SubmitSmResp {
            message_id: cstr(r.message_id()),
            tlvs: tlvs(r.tlvs()),
        })),
        Some(R::DeliverSmResp(r)) => Body::DeliverSmResp(Some(g::DeliverSmResp {
            message_id: cstr(r.message_id()),
            tlvs: tlvs(r.tlvs()),
        })),
        Some(R::DataSm(d)) => Body::DataSm(g::DataSm {
            service_type: cstr(d.service_type.value()),
            source_addr: addr(d.source_addr_ton, d.source_addr_npi, &d.source_addr),
            destination_addr: addr(d.dest_addr_ton, d.dest_addr_npi, &d.destination_addr),
            esm_class: u8::from(d.esm_class),
            registered_delivery: u8::from(d.registered_delivery),
            data_coding: u8::from(d.data_coding),
            tlvs: tlvs(d.tlvs()),
        }),
        Some(R::QuerySm(q)) => Body::QuerySm(g::QuerySm {
            message_id: cstr(&q.message_id),
            source_addr: addr(q.source_addr_ton, q.source_addr_npi, &q.source_addr),
        }),
        Some(R::QuerySmResp(q)) => Body::QuerySmResp(Some(g::QuerySmResp {
            message_id: cstr(&q.message_id),
            final_date: cstr(&q.final_date),
            message_state: g::MessageState(u8::from(q.message_state)),
            error_code: q.error_code,
        })),
        Some(R::SubmitMulti(s)) => Body::SubmitMulti(g::SubmitMulti {
            service_type: cstr(s.service_type.value()),
            source_addr: addr(s.source_addr_ton, s.source_addr_npi, &s.source_addr),
            dest_addresses: s
                .dest_address()
                .iter()
                .map(|d| match d {
                    DestAddress::SmeAddress(a) => g::DestAddress::Sme(addr(
                        a.dest_addr_ton,
                        a.dest_addr_npi,
                        &a.destination_addr,
                    )),
                    DestAddress::DistributionListName(l) => {
                        g::DestAddress::DistributionList(cstr(&l.dl_name))
                    }
                })
                .collect(),
            esm_class: u8::from(s.esm_class),
            protocol_id: s.protocol_id,
            priority_flag: u8::from(s.priority_flag),
            schedule_delivery_time: cstr(&s.schedule_delivery_time),
            validity_period: cstr(&s.validity_period),
            registered_delivery: u8::from(s.registered_delivery),
            replace_if_present_flag: u8::from(s.replace_if_present_flag),
            data_coding: u8::from(s.data_coding),
            sm_default_msg_id: s.sm_default_msg_id,
            short_message: Bytes::copy_from_slice(s.short_message()),
            tlvs: tlvs(s.tlvs()),
        }),
        Some(R::SubmitMultiResp(r)) => Body::SubmitMultiResp(Some(g::SubmitMultiResp {
            message_id: cstr(&r.message_id),
            unsuccess_smes: r
                .unsuccess_sme()
                .iter()
                .map(|u| g::UnsuccessSme {
                    addr: addr(u.dest_addr_ton, u.dest_addr_npi, &u.destination_addr),
                    error_status_code: CommandStatus(u32::from(u.error_status_code)),
                })
                .collect(),
            tlvs: tlvs(r.tlvs()),
        })),
        Some(R::CancelSm(c)) => Body::CancelSm(g::CancelSm {
            service_type: cstr(c.service_type.value()),
            message_id: cstr(&c.message_id),
            source_addr: addr(c.source_addr_ton, c.source_addr_npi, &c.source_addr),
            destination_addr: addr(c.dest_addr_ton, c.dest_addr_npi, &c.destination_addr),
        }),
        Some(R::EnquireLink) => Body::EnquireLink,
        Some(R::EnquireLinkResp) => Body::EnquireLinkResp,
        Some(R::Unbind) => Body::Unbind,
        Some(R::UnbindResp) => Body::UnbindResp,
        Some(R::GenericNack) => Body::GenericNack,
        Some(other) => panic!("not covered by the oracle: {other:?}"),
    };
    Pdu {
        command_status: CommandStatus(u32::from(cmd.status)),
        sequence_number: cmd.sequence_number,
        body,
    }
}

fn rusmpp_decode(bytes: &[u8]) -> Command {
    let mut src = BytesMut::from(bytes);
    let cmd = CommandCodec::new()
        .decode(&mut src)
        .unwrap_or_else(|e| panic!("rusmpp rejects {bytes:02X?}: {e}"))
        .expect("a whole frame");
    assert!(src.is_empty(), "rusmpp left {} octets", src.len());
    cmd
}

fn rusmpp_encode(cmd: &Command) -> Bytes {
    let mut dst = BytesMut::new();
    CommandCodec::new().encode(cmd, &mut dst).unwrap();
    dst.freeze()
}

// ---------------------------------------------------------------------------------------------
// Ours → rusmpp.

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn our_pdus() -> Vec<Pdu> {
    let bind = |range: &'static str| g::Bind {
        system_id: b("gannet"),
        password: b("s3cret"),
        system_type: b("SMPP"),
        interface_version: 0x34,
        addr_ton: 1,
        addr_npi: 1,
        address_range: b(range),
    };
    let submit = g::SubmitSm {
        service_type: b("CMT"),
        source_addr: Address::alphanumeric(b("Gannet")),
        destination_addr: Address::international(b("919876543210")),
        esm_class: 0x40,
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: Bytes::new(),
        validity_period: b("260201000000000+"),
        registered_delivery: 1,
        replace_if_present_flag: 0,
        data_coding: 0x08,
        sm_default_msg_id: 0,
        short_message: Bytes::from_static(&[0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x04, 0x1F]),
        tlvs: g::Tlvs::new(),
    }
    .with_tlv(Tlv::u16(TlvTag::USER_MESSAGE_REFERENCE, 0x0102))
    .with_tlv(Tlv::u16(TlvTag::SOURCE_PORT, 9200))
    .with_tlv(Tlv::new(TlvTag::DLT_PE_ID, b("1101234567890123456")));
    let receipt = g::DeliverSm {
        source_addr: Address::international(b("919876543210")),
        destination_addr: Address::alphanumeric(b("Gannet")),
        esm_class: 0x04,
        short_message: b("id:abc123 sub:001 dlvrd:001 submit date:2601151230 \
                          done date:2601151231 stat:DELIVRD err:000 text:hi"),
        ..g::DeliverSm::default()
    }
    .with_tlv(Tlv::cstr(TlvTag::RECEIPTED_MESSAGE_ID, b"abc123"))
    .with_tlv(Tlv::u8(TlvTag::MESSAGE_STATE, 2))
    .with_tlv(Tlv::new(TlvTag::NETWORK_ERROR_CODE, &[3u8, 0x00, 0x22][..]));
    let data = g::DataSm {
        service_type: b("WAP"),
        source_addr: Address::international(b("447700900999")),
        destination_addr: Address::international(b("447700900123")),
        esm_class: 0,
        registered_delivery: 1,
        data_coding: 0x04,
        tlvs: g::Tlvs::new(),
    }
    .with_tlv(Tlv::u16(TlvTag::DESTINATION_PORT, 2948))
    .with_tlv(Tlv::new(TlvTag::MESSAGE_PAYLOAD, &[1u8, 6, 4, 3, 0xAE][..]));
    let multi = g::SubmitMulti {
        source_addr: Address::alphanumeric(b("Gannet")),
        dest_addresses: vec![
            g::DestAddress::Sme(Address::international(b("447700900001"))),
            g::DestAddress::DistributionList(b("oncall")),
            g::DestAddress::Sme(Address::new(2, 8, b("0700900002"))),
        ],
        registered_delivery: 1,
        short_message: b("Deploy at 18:00"),
        ..g::SubmitMulti::default()
    }
    .with_tlv(Tlv::u8(TlvTag::PAYLOAD_TYPE, 0));
    vec![
        Pdu::new(1, Body::BindTransmitter(bind(""))),
        Pdu::new(2, Body::BindReceiver(bind("^44"))),
        Pdu::new(3, Body::BindTransceiver(bind(""))),
        Pdu::new(
            1,
            Body::BindTransmitterResp(Some(
                g::BindResp::new(b("SMSC")).with_tlv(Tlv::u8(TlvTag::SC_INTERFACE_VERSION, 0x34)),
            )),
        ),
        Pdu::new(2, Body::BindReceiverResp(Some(g::BindResp::new(b("SMSC"))))),
        Pdu::new(
            3,
            Body::BindTransceiverResp(Some(
                g::BindResp::new(b("SMSC")).with_tlv(Tlv::u8(TlvTag::SC_INTERFACE_VERSION, 0x50)),
            )),
        ),
        Pdu::new(4, Body::EnquireLink),
        Pdu::new(4, Body::EnquireLinkResp),
        Pdu::new(5, Body::Unbind),
        Pdu::new(5, Body::UnbindResp),
        Pdu::generic_nack(6, CommandStatus::ESME_RINVCMDID),
        Pdu::new(7, Body::SubmitSm(submit)),
        Pdu::new(7, Body::submit_sm_resp(b("0a1b2c"))),
        Pdu::new(8, Body::SubmitSmResp(None)).with_status(CommandStatus::ESME_RTHROTTLED),
        Pdu::new(9, Body::DeliverSm(receipt)),
        Pdu::new(9, Body::deliver_sm_resp()),
        Pdu::new(10, Body::DataSm(data)),
        Pdu::new(
            11,
            Body::QuerySm(g::QuerySm {
                message_id: b("0a1b2c"),
                source_addr: Address::alphanumeric(b("Gannet")),
            }),
        ),
        Pdu::new(
            11,
            Body::QuerySmResp(Some(g::QuerySmResp {
                message_id: b("0a1b2c"),
                final_date: b("260115123100000+"),
                message_state: g::MessageState::UNDELIVERABLE,
                error_code: 34,
            })),
        ),
        Pdu::new(12, Body::SubmitMulti(multi)),
        Pdu::new(
            12,
            Body::SubmitMultiResp(Some(g::SubmitMultiResp {
                message_id: b("m-1"),
                unsuccess_smes: vec![g::UnsuccessSme {
                    addr: Address::new(2, 8, b("0700900002")),
                    error_status_code: CommandStatus::ESME_RINVDSTADR,
                }],
                tlvs: g::Tlvs::new(),
            })),
        ),
        Pdu::new(
            13,
            Body::CancelSm(g::CancelSm {
                service_type: Bytes::new(),
                message_id: b("0a1b2c"),
                source_addr: Address::alphanumeric(b("Gannet")),
                destination_addr: Address::international(b("447700900123")),
            }),
        ),
        Pdu::new(
            14,
            Body::Outbind(g::Outbind {
                system_id: b("SMSC"),
                password: b("pw"),
            }),
        ),
    ]
}

#[test]
fn rusmpp_reads_what_we_write() {
    for pdu in our_pdus() {
        let ours = pdu.to_bytes();
        let cmd = rusmpp_decode(&ours);
        assert_eq!(u32::from(cmd.id()), pdu.command_id().0, "{pdu:?}");
        assert_eq!(
            from_rusmpp(&cmd),
            pdu,
            "rusmpp reads {:?} differently",
            pdu.command_id()
        );
        // And rusmpp writes those values back as the very same octets.
        assert_eq!(rusmpp_encode(&cmd), ours, "{:?}", pdu.command_id());
    }
}

#[test]
fn rusmpp_sees_the_receipt_tlvs_we_set() {
    let receipt = our_pdus()
        .into_iter()
        .find(|p| matches!(p.body, Body::DeliverSm(_)))
        .unwrap();
    let cmd = rusmpp_decode(&receipt.to_bytes());
    let Some(rusmpp::Pdu::DeliverSm(d)) = cmd.pdu() else {
        panic!("{cmd:?}")
    };
    assert_eq!(d.destination_addr.as_str(), "Gannet");
    assert_eq!(u8::from(d.esm_class), 0x04);
    let values: Vec<_> = d.tlvs().iter().filter_map(|t| t.value()).collect();
    assert!(values.iter().any(|v| matches!(v,
        rusmpp::tlvs::TlvValue::ReceiptedMessageId(id) if id.as_str() == "abc123")));
    assert!(values.iter().any(|v| matches!(
        v,
        rusmpp::tlvs::TlvValue::MessageState(MessageState::Delivered)
    )));
    assert!(values.iter().any(|v| matches!(
        v,
        rusmpp::tlvs::TlvValue::NetworkErrorCode(NetworkErrorCode {
            error_code: 0x22,
            ..
        })
    )));
}

// ---------------------------------------------------------------------------------------------
// rusmpp → ours.

fn c<const MIN: usize, const MAX: usize>(s: &str) -> COctetString<MIN, MAX> {
    s.parse().unwrap()
}

fn time(s: &str) -> EmptyOrFullCOctetString<17> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    EmptyOrFullCOctetString::from_slice(&v).unwrap()
}

fn rusmpp_commands() -> Vec<Command> {
    let ok = rusmpp::CommandStatus::EsmeRok;
    let submit = SubmitSm::builder()
        .service_type(ServiceType::new(c("CMT")))
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr_npi(Npi::Unknown)
        .source_addr(c("Gannet"))
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(c("919876543210"))
        .esm_class(EsmClass::from(0x40))
        .validity_period(time("000001000000000R"))
        .registered_delivery(RegisteredDelivery::from(1))
        .data_coding(DataCoding::Ucs2)
        .short_message(
            OctetString::from_static_slice(b"\x05\x00\x03\x01\x02\x01\x00h\x00i").unwrap(),
        )
        .push_tlv(MessageSubmissionRequestTlvValue::SarMsgRefNum(0x1234))
        .push_tlv(MessageSubmissionRequestTlvValue::SarTotalSegments(2))
        .push_tlv(MessageSubmissionRequestTlvValue::SarSegmentSeqnum(1))
        .build();
    let payload = SubmitSm::builder()
        .source_addr(c("12345"))
        .destination_addr(c("447700900123"))
        .push_tlv(MessageSubmissionRequestTlvValue::MessagePayload(
            MessagePayload::new(AnyOctetString::from_static_slice(
                b"a long text in message_payload",
            )),
        ))
        .build();
    let receipt = DeliverSm::builder()
        .source_addr_ton(Ton::International)
        .source_addr_npi(Npi::Isdn)
        .source_addr(c("919876543210"))
        .destination_addr(c("Gannet"))
        .esm_class(EsmClass::from(0x04))
        .short_message(OctetString::from_static_slice(b"id:77 stat:UNDELIV err:001").unwrap())
        .push_tlv(MessageDeliveryRequestTlvValue::ReceiptedMessageId(c("77")))
        .push_tlv(MessageDeliveryRequestTlvValue::MessageState(
            MessageState::Undeliverable,
        ))
        .push_tlv(MessageDeliveryRequestTlvValue::NetworkErrorCode(
            NetworkErrorCode::new(ErrorCodeNetworkType::Gsm, 0x0001),
        ))
        .build();
    let data = DataSm::builder()
        .service_type(ServiceType::new(c("WAP")))
        .source_addr(c("447700900999"))
        .destination_addr(c("447700900123"))
        .data_coding(DataCoding::from(0x04))
        .push_tlv(MessageSubmissionRequestTlvValue::DestPort(2948))
        .build();
    let multi = SubmitMulti::builder()
        .source_addr(c("Gannet"))
        .dest_address(vec![
            DestAddress::SmeAddress(SmeAddress::new(Ton::International, Npi::Isdn, c("4477001"))),
            DestAddress::DistributionListName(DistributionListName::new(c("ops"))),
        ])
        .short_message(OctetString::from_static_slice(b"hi all").unwrap())
        .build();
    let bind_t = BindTransmitter::builder()
        .system_id(c("esme"))
        .password(c("pw"))
        .system_type(c("VMA"))
        .interface_version(InterfaceVersion::Smpp3_4)
        .build();
    let bind_r = BindReceiver::builder()
        .system_id(c("esme"))
        .password(c("pw"))
        .interface_version(InterfaceVersion::Smpp3_4)
        .addr_ton(Ton::International)
        .address_range(c("^91"))
        .build();
    let bind_x = BindTransceiver::builder()
        .system_id(c("esme"))
        .password(c("pw"))
        .interface_version(InterfaceVersion::Smpp5_0)
        .build();
    let bind_t_resp = BindTransmitterResp::builder()
        .system_id(c("SMSC"))
        .sc_interface_version(Some(InterfaceVersion::Smpp3_4))
        .build();
    let bind_x_resp = BindTransceiverResp::builder().system_id(c("SMSC")).build();
    let query = QuerySm::builder()
        .message_id(c("77"))
        .source_addr(c("Gannet"))
        .build();
    let query_resp = QuerySmResp::builder()
        .message_id(c("77"))
        .final_date(time("260115123100000+"))
        .message_state(MessageState::Expired)
        .error_code(5)
        .build();
    let submit_resp = SubmitSmResp::builder().message_id(c("77")).build();
    vec![
        Command::new(ok, 1, submit),
        Command::new(ok, 2, payload),
        Command::new(ok, 3, receipt),
        Command::new(ok, 4, data),
        Command::new(ok, 5, multi),
        Command::new(ok, 6, bind_t),
        Command::new(ok, 7, bind_r),
        Command::new(ok, 8, bind_x),
        Command::new(ok, 6, bind_t_resp),
        Command::new(ok, 8, bind_x_resp),
        Command::new(ok, 9, query),
        Command::new(ok, 9, query_resp),
        Command::new(ok, 10, submit_resp),
        Command::new(ok, 11, rusmpp::Pdu::EnquireLink),
        Command::new(ok, 11, rusmpp::Pdu::EnquireLinkResp),
        Command::new(ok, 12, rusmpp::Pdu::Unbind),
        Command::new(
            rusmpp::CommandStatus::EsmeRinvcmdid,
            13,
            rusmpp::Pdu::GenericNack,
        ),
    ]
}

#[test]
fn we_read_what_rusmpp_writes() {
    for cmd in rusmpp_commands() {
        let bytes = rusmpp_encode(&cmd);
        for mode in [DecodeMode::Strict, DecodeMode::Lenient] {
            let ours = Pdu::decode(&bytes, mode)
                .unwrap_or_else(|e| panic!("{mode:?} rejects rusmpp's {:?}: {e}", cmd.id()));
            assert_eq!(ours, from_rusmpp(&cmd), "{:?} ({mode:?})", cmd.id());
            assert_eq!(
                ours.to_bytes(),
                bytes,
                "{:?} re-encodes differently",
                cmd.id()
            );
        }
    }
}

#[test]
fn typed_accessors_on_rusmpp_pdus() {
    let cmds = rusmpp_commands();
    let decode = |i: usize| Pdu::decode(&rusmpp_encode(&cmds[i]), DecodeMode::Strict).unwrap();

    let Body::SubmitSm(sar) = decode(0).body else {
        panic!()
    };
    assert_eq!(sar.sar(), Some((0x1234, 2, 1)));
    assert_eq!(sar.data_coding, 0x08);
    assert!(sar.has_udh());

    let Body::SubmitSm(long) = decode(1).body else {
        panic!()
    };
    assert_eq!(
        long.message_payload().map(|p| &p[..]),
        Some(&b"a long text in message_payload"[..])
    );

    let Body::DeliverSm(receipt) = decode(2).body else {
        panic!()
    };
    assert!(receipt.is_receipt());
    assert_eq!(receipt.receipted_message_id(), Some(&b"77"[..]));
    assert_eq!(
        receipt.message_state(),
        Some(g::MessageState::UNDELIVERABLE)
    );
    assert_eq!(receipt.network_error_code(), Some((3, 1)));

    let Body::BindTransmitterResp(Some(resp)) = decode(8).body else {
        panic!()
    };
    assert_eq!(resp.sc_interface_version(), Some(0x34));

    let Body::QuerySmResp(Some(q)) = decode(11).body else {
        panic!()
    };
    assert_eq!(q.message_state, g::MessageState::EXPIRED);
    assert_eq!(q.error_code, 5);
}
