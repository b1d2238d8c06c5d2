//! Golden PDUs in proto-fixtures/: every valid fixture decodes (strict and lenient) to the value
//! written below and encodes back to the same octets; every malformed fixture gives the outcome
//! its first line states:
//!
//! ```text
//! # expect: error ESME_RINVCMDLEN field=command_length         both modes fail like this
//! # expect: strict error ESME_RINVSYSID field=system_id; lenient ok
//! ```

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use gannet_smpp::hex::parse_spaced_hex;
use gannet_smpp::{
    Address, AlertNotification, Bind, BindResp, Body, CancelSm, CommandId, CommandStatus, DataSm,
    DataSmResp, DecodeError, DecodeMode, DeliverSm, DestAddress, MessageState, Outbind, Pdu,
    QuerySm, QuerySmResp, ReplaceSm, SubmitMulti, SubmitMultiResp, SubmitSm, SubmitSmResp, Tlv,
    TlvTag, UnsuccessSme,
};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto-fixtures")
}

/// Every `*.hex` file directly under `dir`, by file stem.
fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "hex") {
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            out.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn intl(digits: &'static str) -> Address {
    Address::international(b(digits))
}

fn alpha(text: &'static str) -> Address {
    Address::alphanumeric(b(text))
}

fn pdu(seq: u32, body: Body) -> Pdu {
    Pdu::new(seq, body)
}

fn bind(range: &'static str, system_type: &'static str) -> Bind {
    Bind {
        system_id: b("gannet"),
        password: b("s3cret"),
        system_type: b(system_type),
        interface_version: 0x34,
        addr_ton: 0,
        addr_npi: 0,
        address_range: b(range),
    }
}

/// A submit_sm from "Gannet" to +447700900123 with a receipt requested, as most fixtures use.
fn submit(short_message: &[u8]) -> SubmitSm {
    SubmitSm {
        source_addr: alpha("Gannet"),
        destination_addr: intl("447700900123"),
        registered_delivery: 1,
        short_message: Bytes::copy_from_slice(short_message),
        ..SubmitSm::default()
    }
}

/// The value each valid fixture must decode to, written out by hand.
fn expected(name: &str) -> Option<Pdu> {
    Some(match name {
        "bind_transmitter" => pdu(1, Body::BindTransmitter(bind("", "SMPP"))),
        "bind_receiver" => pdu(2, Body::BindReceiver(bind("^44", "SMPP"))),
        "bind_transceiver" => pdu(3, Body::BindTransceiver(bind("", ""))),
        "bind_transmitter_resp" => pdu(
            1,
            Body::BindTransmitterResp(Some(
                BindResp::new(b("SMSC01")).with_tlv(Tlv::u8(TlvTag::SC_INTERFACE_VERSION, 0x34)),
            )),
        ),
        "bind_receiver_resp" => pdu(2, Body::BindReceiverResp(Some(BindResp::new(b("SMSC01"))))),
        "bind_transceiver_resp" => pdu(
            3,
            Body::BindTransceiverResp(Some(
                BindResp::new(b("SMSC01")).with_tlv(Tlv::u8(TlvTag::SC_INTERFACE_VERSION, 0x50)),
            )),
        ),
        "bind_transmitter_resp_error_no_body" => {
            Pdu::new(1, Body::BindTransmitterResp(None)).with_status(CommandStatus::ESME_RINVPASWD)
        }
        "outbind" => pdu(
            10,
            Body::Outbind(Outbind {
                system_id: b("SMSC01"),
                password: b("pushme"),
            }),
        ),
        "unbind" => pdu(40, Body::Unbind),
        "unbind_resp" => pdu(40, Body::UnbindResp),
        "generic_nack" => Pdu::generic_nack(77, CommandStatus::ESME_RINVCMDID),
        "enquire_link" => pdu(5, Body::EnquireLink),
        "enquire_link_resp" => pdu(5, Body::EnquireLinkResp),
        "submit_sm_basic" => pdu(2, Body::SubmitSm(submit(b"Hello from Gannet"))),
        "submit_sm_udh" => {
            let mut sm = submit(b"\x05\x00\x03\x2A\x02\x01First part of a long message ");
            sm.esm_class = 0x40;
            pdu(3, Body::SubmitSm(sm))
        }
        "submit_sm_ucs2" => {
            let text: Vec<u8> = "Привет".encode_utf16().flat_map(u16::to_be_bytes).collect();
            let mut sm = submit(&text);
            sm.destination_addr = intl("79161234567");
            sm.data_coding = 0x08;
            pdu(4, Body::SubmitSm(sm))
        }
        "submit_sm_message_payload" => pdu(
            5,
            Body::SubmitSm(submit(b"").with_tlv(Tlv::new(
                TlvTag::MESSAGE_PAYLOAD,
                b("A message longer than one short_message would carry goes in message_payload."),
            ))),
        ),
        "submit_sm_sar" => pdu(
            6,
            Body::SubmitSm(
                submit(b"second part")
                    .with_tlv(Tlv::u16(TlvTag::SAR_MSG_REF_NUM, 0x1234))
                    .with_tlv(Tlv::u8(TlvTag::SAR_TOTAL_SEGMENTS, 3))
                    .with_tlv(Tlv::u8(TlvTag::SAR_SEGMENT_SEQNUM, 2)),
            ),
        ),
        "submit_sm_dlt_vendor_tlv" => {
            let mut sm = submit(b"Your OTP is 482913")
                .with_tlv(Tlv::new(TlvTag::DLT_PE_ID, b("1101234567890123456")))
                .with_tlv(Tlv::new(TlvTag::DLT_TEMPLATE_ID, b("1107161234567890123")));
            sm.source_addr = alpha("GANNET");
            sm.destination_addr = intl("919876543210");
            pdu(7, Body::SubmitSm(sm))
        }
        "submit_sm_resp" => pdu(2, Body::submit_sm_resp(b("0a1b2c3d4e5f"))),
        "submit_sm_resp_throttled_no_body" => {
            Pdu::new(9, Body::SubmitSmResp(None)).with_status(CommandStatus::ESME_RTHROTTLED)
        }
        "submit_multi" => pdu(
            11,
            Body::SubmitMulti(SubmitMulti {
                source_addr: alpha("Gannet"),
                dest_addresses: vec![
                    DestAddress::Sme(intl("447700900001")),
                    DestAddress::Sme(intl("447700900002")),
                    DestAddress::DistributionList(b("oncall")),
                ],
                short_message: b("Deploy at 18:00"),
                ..SubmitMulti::default()
            }),
        ),
        "submit_multi_resp" => pdu(
            11,
            Body::SubmitMultiResp(Some(SubmitMultiResp {
                message_id: b("m-900"),
                unsuccess_smes: vec![UnsuccessSme {
                    addr: intl("447700900002"),
                    error_status_code: CommandStatus::ESME_RINVDSTADR,
                }],
                ..SubmitMultiResp::default()
            })),
        ),
        "deliver_sm_receipt" => pdu(
            100,
            Body::DeliverSm(
                DeliverSm {
                    source_addr: intl("447700900123"),
                    destination_addr: alpha("Gannet"),
                    esm_class: 0x04,
                    short_message: b("id:0a1b2c3d4e5f sub:001 dlvrd:001 submit date:2601151230 \
                         done date:2601151231 stat:DELIVRD err:000 text:Hello from Gannet"),
                    ..DeliverSm::default()
                }
                .with_tlv(Tlv::cstr(TlvTag::RECEIPTED_MESSAGE_ID, b"0a1b2c3d4e5f"))
                .with_tlv(Tlv::u8(TlvTag::MESSAGE_STATE, 2))
                .with_tlv(Tlv::new(TlvTag::NETWORK_ERROR_CODE, &[3u8, 0, 0][..])),
            ),
        ),
        "deliver_sm_resp" => pdu(100, Body::deliver_sm_resp()),
        "data_sm" => pdu(
            12,
            Body::DataSm(
                DataSm {
                    service_type: b("WAP"),
                    source_addr: intl("447700900999"),
                    destination_addr: intl("447700900123"),
                    esm_class: 0,
                    registered_delivery: 1,
                    data_coding: 0x04,
                    ..DataSm::default()
                }
                .with_tlv(Tlv::u16(TlvTag::SOURCE_PORT, 9200))
                .with_tlv(Tlv::u16(TlvTag::DESTINATION_PORT, 2948))
                .with_tlv(Tlv::new(
                    TlvTag::MESSAGE_PAYLOAD,
                    &[0x01u8, 0x06, 0x04, 0x03, 0xAE, 0x81, 0xEA][..],
                )),
            ),
        ),
        "data_sm_resp" => pdu(
            12,
            Body::DataSmResp(Some(
                DataSmResp::new(b("d-12")).with_tlv(Tlv::u8(TlvTag::DELIVERY_FAILURE_REASON, 0)),
            )),
        ),
        "query_sm" => pdu(
            13,
            Body::QuerySm(QuerySm {
                message_id: b("0a1b2c3d4e5f"),
                source_addr: alpha("Gannet"),
            }),
        ),
        "query_sm_resp" => pdu(
            13,
            Body::QuerySmResp(Some(QuerySmResp {
                message_id: b("0a1b2c3d4e5f"),
                final_date: b("260115123100000+"),
                message_state: MessageState::DELIVERED,
                error_code: 0,
            })),
        ),
        "cancel_sm" => pdu(
            14,
            Body::CancelSm(CancelSm {
                service_type: Bytes::new(),
                message_id: b("0a1b2c3d4e5f"),
                source_addr: alpha("Gannet"),
                destination_addr: intl("447700900123"),
            }),
        ),
        "cancel_sm_resp" => pdu(14, Body::CancelSmResp),
        "replace_sm" => pdu(
            15,
            Body::ReplaceSm(ReplaceSm {
                message_id: b("0a1b2c3d4e5f"),
                source_addr: alpha("Gannet"),
                validity_period: b("000001000000000R"),
                registered_delivery: 1,
                short_message: b("Corrected text"),
                ..ReplaceSm::default()
            }),
        ),
        "replace_sm_resp" => pdu(15, Body::ReplaceSmResp),
        "alert_notification" => pdu(
            16,
            Body::AlertNotification(
                AlertNotification {
                    source_addr: intl("447700900123"),
                    esme_addr: intl("447700900999"),
                    ..AlertNotification::default()
                }
                .with_tlv(Tlv::u8(TlvTag::MS_AVAILABILITY_STATUS, 0)),
            ),
        ),
        "broadcast_sm_raw" => {
            let body: &[u8] = b"\0\x05\x00CB\0\0\x00\0\0\x00\x00\x00\
                \x06\x06\x00\x03\x00\x12\x34\
                \x06\x01\x00\x03\x00\x00\x01\
                \x06\x04\x00\x02\x00\x01\
                \x06\x05\x00\x03\x09\x00\x05\
                \x04\x24\x00\x0BRoad closed";
            pdu(
                17,
                Body::Raw {
                    command_id: CommandId::BROADCAST_SM,
                    body: Bytes::copy_from_slice(body),
                },
            )
        }
        _ => return None,
    })
}

#[test]
fn valid_fixtures_decode_to_their_values_and_encode_back() {
    let fixtures = read_dir(&fixtures_dir());
    assert!(
        fixtures.len() >= 30,
        "only {} fixtures found",
        fixtures.len()
    );
    for (name, text) in &fixtures {
        let bytes = Bytes::from(parse_spaced_hex(text).unwrap_or_else(|e| panic!("{name}: {e}")));
        let want = expected(name).unwrap_or_else(|| panic!("{name}.hex has no expected value"));
        for mode in [DecodeMode::Strict, DecodeMode::Lenient] {
            let got = Pdu::decode(&bytes, mode).unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
            assert_eq!(got, want, "{name} decoded ({mode:?})");
        }
        assert_eq!(want.encoded_len(), bytes.len(), "{name} encoded_len");
        assert_eq!(
            want.to_bytes(),
            bytes,
            "{name} encodes back to other octets"
        );
        assert_eq!(want.header().command_length as usize, bytes.len(), "{name}");
    }
}

/// Guards against an expectation whose fixture was renamed or deleted.
#[test]
fn every_expectation_has_a_fixture() {
    let fixtures = read_dir(&fixtures_dir());
    let names = [
        "bind_transmitter",
        "bind_receiver",
        "bind_transceiver",
        "bind_transmitter_resp",
        "bind_receiver_resp",
        "bind_transceiver_resp",
        "bind_transmitter_resp_error_no_body",
        "outbind",
        "unbind",
        "unbind_resp",
        "generic_nack",
        "enquire_link",
        "enquire_link_resp",
        "submit_sm_basic",
        "submit_sm_udh",
        "submit_sm_ucs2",
        "submit_sm_message_payload",
        "submit_sm_sar",
        "submit_sm_dlt_vendor_tlv",
        "submit_sm_resp",
        "submit_sm_resp_throttled_no_body",
        "submit_multi",
        "submit_multi_resp",
        "deliver_sm_receipt",
        "deliver_sm_resp",
        "data_sm",
        "data_sm_resp",
        "query_sm",
        "query_sm_resp",
        "cancel_sm",
        "cancel_sm_resp",
        "replace_sm",
        "replace_sm_resp",
        "alert_notification",
        "broadcast_sm_raw",
    ];
    for name in names {
        assert!(expected(name).is_some(), "{name}");
        assert!(fixtures.contains_key(name), "{name}.hex is missing");
    }
    assert_eq!(names.len(), fixtures.len(), "a fixture is not listed here");
}

/// The typed accessors read the awkward fixtures as a gateway needs them.
#[test]
fn accessors_on_the_awkward_fixtures() {
    let decode = |name: &str| {
        let text = std::fs::read_to_string(fixtures_dir().join(format!("{name}.hex"))).unwrap();
        Pdu::decode(
            &Bytes::from(parse_spaced_hex(&text).unwrap()),
            DecodeMode::Strict,
        )
        .unwrap()
    };
    let Body::DeliverSm(receipt) = decode("deliver_sm_receipt").body else {
        panic!()
    };
    assert!(receipt.is_receipt());
    assert_eq!(receipt.receipted_message_id(), Some(&b"0a1b2c3d4e5f"[..]));
    assert_eq!(receipt.message_state(), Some(MessageState::DELIVERED));
    assert_eq!(receipt.network_error_code(), Some((3, 0)));

    let Body::SubmitSm(sar) = decode("submit_sm_sar").body else {
        panic!()
    };
    assert_eq!(sar.sar(), Some((0x1234, 3, 2)));

    let Body::SubmitSm(udh) = decode("submit_sm_udh").body else {
        panic!()
    };
    assert!(udh.has_udh());
    assert_eq!(
        &udh.short_message[..6],
        [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01]
    );

    let Body::SubmitSm(long) = decode("submit_sm_message_payload").body else {
        panic!()
    };
    assert!(long.short_message.is_empty());
    assert_eq!(long.payload().len(), 76);
    assert_eq!(long.message_payload(), Some(long.payload()));

    let Body::SubmitSm(dlt) = decode("submit_sm_dlt_vendor_tlv").body else {
        panic!()
    };
    let tags: Vec<TlvTag> = dlt.tlvs.iter().map(|t| t.tag).collect();
    assert_eq!(tags, [TlvTag(0x1400), TlvTag(0x1401)]);
    assert_eq!(
        dlt.tlvs.value(TlvTag::DLT_TEMPLATE_ID),
        Some(&b"1107161234567890123"[..])
    );

    let Body::BindTransceiverResp(Some(resp)) = decode("bind_transceiver_resp").body else {
        panic!()
    };
    assert_eq!(resp.sc_interface_version(), Some(0x50));

    let Body::AlertNotification(alert) = decode("alert_notification").body else {
        panic!()
    };
    assert_eq!(alert.ms_availability_status(), Some(0));
}

/// What a malformed fixture's first line promises.
#[derive(Debug)]
struct Expect {
    strict: Outcome,
    lenient: Outcome,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    Error { status: String, field: String },
}

fn parse_outcome(s: &str) -> Outcome {
    let s = s.trim();
    if s == "ok" {
        return Outcome::Ok;
    }
    let rest = s
        .strip_prefix("error ")
        .unwrap_or_else(|| panic!("bad outcome {s:?}"));
    let (status, field) = rest.split_once(" field=").unwrap();
    Outcome::Error {
        status: status.trim().to_owned(),
        field: field.trim().to_owned(),
    }
}

fn parse_expect(first_line: &str) -> Expect {
    let spec = first_line
        .strip_prefix("# expect:")
        .unwrap_or_else(|| panic!("first line is not `# expect: …`: {first_line:?}"))
        .trim();
    if let Some((strict, lenient)) = spec.split_once(';') {
        Expect {
            strict: parse_outcome(strict.trim().strip_prefix("strict ").unwrap()),
            lenient: parse_outcome(lenient.trim().strip_prefix("lenient ").unwrap()),
        }
    } else {
        Expect {
            strict: parse_outcome(spec),
            lenient: parse_outcome(spec),
        }
    }
}

fn outcome_of(r: &Result<Pdu, DecodeError>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(e) => Outcome::Error {
            status: e.status().name().unwrap_or("?").to_owned(),
            field: e.field.to_owned(),
        },
    }
}

#[test]
fn malformed_fixtures_fail_as_stated() {
    let fixtures = read_dir(&fixtures_dir().join("malformed"));
    assert!(
        fixtures.len() >= 6,
        "only {} malformed fixtures",
        fixtures.len()
    );
    for (name, text) in &fixtures {
        let expect = parse_expect(text.lines().next().unwrap_or(""));
        let bytes = Bytes::from(parse_spaced_hex(text).unwrap_or_else(|e| panic!("{name}: {e}")));
        for (mode, want) in [
            (DecodeMode::Strict, &expect.strict),
            (DecodeMode::Lenient, &expect.lenient),
        ] {
            let got = Pdu::decode(&bytes, mode);
            assert_eq!(&outcome_of(&got), want, "{name} {mode:?}: {got:?}");
            if let Err(e) = &got {
                // Display names the field.
                assert!(e.to_string().contains(e.field), "{name}: {e}");
            }
            if let Ok(pdu) = got {
                // What lenient mode accepted re-encodes, and reads back as itself.
                let again = pdu.to_bytes();
                assert_eq!(Pdu::decode(&again, mode).unwrap(), pdu, "{name}");
            }
        }
    }
}

#[test]
fn lenient_readings_of_malformed_fixtures() {
    let decode = |name: &str| {
        let path = fixtures_dir().join("malformed").join(format!("{name}.hex"));
        let text = std::fs::read_to_string(path).unwrap();
        Pdu::decode(
            &Bytes::from(parse_spaced_hex(&text).unwrap()),
            DecodeMode::Lenient,
        )
        .unwrap()
    };
    // The broken message_payload is dropped; the good TLV before it is kept.
    let Body::SubmitSm(sm) = decode("tlv_length_past_end").body else {
        panic!()
    };
    let tags: Vec<TlvTag> = sm.tlvs.iter().map(|t| t.tag).collect();
    assert_eq!(tags, [TlvTag::USER_MESSAGE_REFERENCE]);

    let Body::BindTransmitter(bind) = decode("system_id_too_long").body else {
        panic!()
    };
    assert_eq!(&bind.system_id[..], b"gannet-system-id-xyz");

    assert_eq!(
        decode("unknown_command_id").body,
        Body::Raw {
            command_id: CommandId(0x999),
            body: Bytes::from_static(&[1, 2, 3]),
        }
    );
    assert_eq!(
        decode("message_id_without_nul").body,
        Body::SubmitSmResp(Some(SubmitSmResp::new(b("0a1b2c3d"))))
    );
}
