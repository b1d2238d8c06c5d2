//! Property tests: every valid PDU survives encode → decode unchanged in both modes, and no
//! input (random, or a valid PDU mutated) makes decoding panic. Whatever decodes re-encodes, and
//! reads back as itself.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use gannet_smpp::{
    Address, AlertNotification, Bind, BindResp, Body, CancelSm, CommandId, CommandStatus, DataSm,
    DataSmResp, DecodeMode, DeliverSm, DeliverSmResp, DestAddress, MessageState, Outbind, Pdu,
    QuerySm, QuerySmResp, ReplaceSm, SubmitMulti, SubmitMultiResp, SubmitSm, SubmitSmResp, Tlv,
    TlvTag, Tlvs, UnsuccessSme,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;

// ---------------------------------------------------------------------------------------------
// Strategies for strictly valid values.

/// A C-octet string of at most `max` octets with its NUL (so `max - 1` characters, no NUL).
fn cstr(max: usize) -> impl Strategy<Value = Bytes> {
    vec(1u8..=255, 0..max).prop_map(Bytes::from)
}

/// An SMPP time: empty or 16 characters.
fn time() -> impl Strategy<Value = Bytes> {
    prop_oneof![Just(Bytes::new()), vec(1u8..=255, 16).prop_map(Bytes::from)]
}

fn address(max: usize) -> impl Strategy<Value = Address> {
    (any::<u8>(), any::<u8>(), cstr(max)).prop_map(|(ton, npi, addr)| Address { ton, npi, addr })
}

fn short_message() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=254).prop_map(Bytes::from)
}

/// One TLV that strict mode accepts: a known tag (other than message_payload, which has its own
/// rule) with a length its tag allows, or a vendor / unknown tag with any value.
fn tlv() -> impl Strategy<Value = Tlv> {
    let known: Vec<TlvTag> = TlvTag::ALL
        .iter()
        .copied()
        .filter(|t| *t != TlvTag::MESSAGE_PAYLOAD)
        .collect();
    let known = proptest::sample::select(known).prop_flat_map(|tag| {
        let (min, max) = tag.len_bounds().unwrap();
        let max = usize::from(max.min(40));
        vec(any::<u8>(), usize::from(min)..=max).prop_map(move |v| Tlv::new(tag, Bytes::from(v)))
    });
    let other = (any::<u16>(), vec(any::<u8>(), 0..24))
        .prop_filter("not a known tag", |(t, _)| !TlvTag(*t).is_known())
        .prop_map(|(t, v)| Tlv::new(TlvTag(t), Bytes::from(v)));
    prop_oneof![3 => known, 1 => other]
}

fn tlvs() -> impl Strategy<Value = Tlvs> {
    vec(tlv(), 0..5).prop_map(Tlvs::from)
}

/// short_message and TLVs: either the text in short_message, or an empty short_message and the
/// text in message_payload (SMPP 3.4 §5.3.2.32).
fn message_and_tlvs() -> impl Strategy<Value = (Bytes, Tlvs)> {
    prop_oneof![
        (short_message(), tlvs()),
        (vec(any::<u8>(), 0..600), tlvs()).prop_map(|(payload, tlvs)| {
            let tlvs = tlvs.with(Tlv::new(TlvTag::MESSAGE_PAYLOAD, Bytes::from(payload)));
            (Bytes::new(), tlvs)
        }),
    ]
}

fn bind() -> impl Strategy<Value = Bind> {
    (
        (cstr(16), cstr(9), cstr(13)),
        (any::<u8>(), any::<u8>(), any::<u8>()),
        cstr(41),
    )
        .prop_map(
            |(
                (system_id, password, system_type),
                (interface_version, addr_ton, addr_npi),
                address_range,
            )| Bind {
                system_id,
                password,
                system_type,
                interface_version,
                addr_ton,
                addr_npi,
                address_range,
            },
        )
}

macro_rules! sm_strategy {
    ($ty:ident) => {
        (
            (cstr(6), address(21), address(21)),
            any::<[u8; 3]>(),
            (time(), time()),
            any::<[u8; 4]>(),
            message_and_tlvs(),
        )
            .prop_map(
                |(
                    (service_type, source_addr, destination_addr),
                    [esm_class, protocol_id, priority_flag],
                    (schedule_delivery_time, validity_period),
                    [
                        registered_delivery,
                        replace_if_present_flag,
                        data_coding,
                        sm_default_msg_id,
                    ],
                    (short_message, tlvs),
                )| $ty {
                    service_type,
                    source_addr,
                    destination_addr,
                    esm_class,
                    protocol_id,
                    priority_flag,
                    schedule_delivery_time,
                    validity_period,
                    registered_delivery,
                    replace_if_present_flag,
                    data_coding,
                    sm_default_msg_id,
                    short_message,
                    tlvs,
                },
            )
    };
}

fn dest_address() -> impl Strategy<Value = DestAddress> {
    prop_oneof![
        address(21).prop_map(DestAddress::Sme),
        cstr(21).prop_map(DestAddress::DistributionList),
    ]
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti> {
    (
        (cstr(6), address(21), vec(dest_address(), 1..6)),
        any::<[u8; 3]>(),
        (time(), time()),
        any::<[u8; 4]>(),
        message_and_tlvs(),
    )
        .prop_map(
            |(
                (service_type, source_addr, dest_addresses),
                [esm_class, protocol_id, priority_flag],
                (schedule_delivery_time, validity_period),
                [
                    registered_delivery,
                    replace_if_present_flag,
                    data_coding,
                    sm_default_msg_id,
                ],
                (short_message, tlvs),
            )| SubmitMulti {
                service_type,
                source_addr,
                dest_addresses,
                esm_class,
                protocol_id,
                priority_flag,
                schedule_delivery_time,
                validity_period,
                registered_delivery,
                replace_if_present_flag,
                data_coding,
                sm_default_msg_id,
                short_message,
                tlvs,
            },
        )
}

fn submit_multi_resp() -> impl Strategy<Value = SubmitMultiResp> {
    let sme = (address(21), any::<u32>()).prop_map(|(addr, code)| UnsuccessSme {
        addr,
        error_status_code: CommandStatus(code),
    });
    (cstr(65), vec(sme, 0..5), tlvs()).prop_map(|(message_id, unsuccess_smes, tlvs)| {
        SubmitMultiResp {
            message_id,
            unsuccess_smes,
            tlvs,
        }
    })
}

fn data_sm() -> impl Strategy<Value = DataSm> {
    (
        (cstr(6), address(65), address(65)),
        any::<[u8; 3]>(),
        prop_oneof![
            tlvs(),
            (tlvs(), vec(any::<u8>(), 0..300))
                .prop_map(|(t, p)| t.with(Tlv::new(TlvTag::MESSAGE_PAYLOAD, Bytes::from(p)))),
        ],
    )
        .prop_map(
            |(
                (service_type, source_addr, destination_addr),
                [esm_class, registered_delivery, data_coding],
                tlvs,
            )| DataSm {
                service_type,
                source_addr,
                destination_addr,
                esm_class,
                registered_delivery,
                data_coding,
                tlvs,
            },
        )
}

fn replace_sm() -> impl Strategy<Value = ReplaceSm> {
    (
        (cstr(65), address(21)),
        (time(), time()),
        any::<[u8; 2]>(),
        message_and_tlvs(),
    )
        .prop_map(
            |(
                (message_id, source_addr),
                (schedule_delivery_time, validity_period),
                [registered_delivery, sm_default_msg_id],
                (short_message, tlvs),
            )| ReplaceSm {
                message_id,
                source_addr,
                schedule_delivery_time,
                validity_period,
                registered_delivery,
                sm_default_msg_id,
                short_message,
                tlvs,
            },
        )
}

fn bind_resp() -> impl Strategy<Value = Option<BindResp>> {
    proptest::option::of(
        (cstr(16), tlvs()).prop_map(|(system_id, tlvs)| BindResp { system_id, tlvs }),
    )
}

macro_rules! message_id_resp {
    ($ty:ident) => {
        proptest::option::of(
            (cstr(65), tlvs()).prop_map(|(message_id, tlvs)| $ty { message_id, tlvs }),
        )
    };
}

/// Every kind of body, each arm equally likely.
fn body() -> impl Strategy<Value = Body> {
    let arms: Vec<BoxedStrategy<Body>> = vec![
        bind().prop_map(Body::BindTransmitter).boxed(),
        bind().prop_map(Body::BindReceiver).boxed(),
        bind().prop_map(Body::BindTransceiver).boxed(),
        bind_resp().prop_map(Body::BindTransmitterResp).boxed(),
        bind_resp().prop_map(Body::BindReceiverResp).boxed(),
        bind_resp().prop_map(Body::BindTransceiverResp).boxed(),
        (cstr(16), cstr(9))
            .prop_map(|(system_id, password)| {
                Body::Outbind(Outbind {
                    system_id,
                    password,
                })
            })
            .boxed(),
        Just(Body::Unbind).boxed(),
        Just(Body::UnbindResp).boxed(),
        Just(Body::GenericNack).boxed(),
        Just(Body::EnquireLink).boxed(),
        Just(Body::EnquireLinkResp).boxed(),
        sm_strategy!(SubmitSm).prop_map(Body::SubmitSm).boxed(),
        message_id_resp!(SubmitSmResp)
            .prop_map(Body::SubmitSmResp)
            .boxed(),
        submit_multi().prop_map(Body::SubmitMulti).boxed(),
        proptest::option::of(submit_multi_resp())
            .prop_map(Body::SubmitMultiResp)
            .boxed(),
        sm_strategy!(DeliverSm).prop_map(Body::DeliverSm).boxed(),
        message_id_resp!(DeliverSmResp)
            .prop_map(Body::DeliverSmResp)
            .boxed(),
        data_sm().prop_map(Body::DataSm).boxed(),
        message_id_resp!(DataSmResp)
            .prop_map(Body::DataSmResp)
            .boxed(),
        (cstr(65), address(21))
            .prop_map(|(message_id, source_addr)| {
                Body::QuerySm(QuerySm {
                    message_id,
                    source_addr,
                })
            })
            .boxed(),
        proptest::option::of((cstr(65), time(), any::<u8>(), any::<u8>()).prop_map(
            |(message_id, final_date, state, error_code)| QuerySmResp {
                message_id,
                final_date,
                message_state: MessageState(state),
                error_code,
            },
        ))
        .prop_map(Body::QuerySmResp)
        .boxed(),
        (cstr(6), cstr(65), address(21), address(21))
            .prop_map(
                |(service_type, message_id, source_addr, destination_addr)| {
                    Body::CancelSm(CancelSm {
                        service_type,
                        message_id,
                        source_addr,
                        destination_addr,
                    })
                },
            )
            .boxed(),
        Just(Body::CancelSmResp).boxed(),
        replace_sm().prop_map(Body::ReplaceSm).boxed(),
        Just(Body::ReplaceSmResp).boxed(),
        (address(65), address(65), tlvs())
            .prop_map(|(source_addr, esme_addr, tlvs)| {
                Body::AlertNotification(AlertNotification {
                    source_addr,
                    esme_addr,
                    tlvs,
                })
            })
            .boxed(),
        (
            proptest::sample::select(vec![
                CommandId::BROADCAST_SM,
                CommandId::BROADCAST_SM_RESP,
                CommandId::QUERY_BROADCAST_SM,
                CommandId::QUERY_BROADCAST_SM_RESP,
                CommandId::CANCEL_BROADCAST_SM,
                CommandId::CANCEL_BROADCAST_SM_RESP,
            ]),
            vec(any::<u8>(), 0..64),
        )
            .prop_map(|(command_id, body)| Body::Raw {
                command_id,
                body: Bytes::from(body),
            })
            .boxed(),
    ];
    Union::new(arms)
}

/// True for a response that came without its body: only valid with a non-zero status.
fn lacks_body(body: &Body) -> bool {
    matches!(
        body,
        Body::BindTransmitterResp(None)
            | Body::BindReceiverResp(None)
            | Body::BindTransceiverResp(None)
            | Body::SubmitSmResp(None)
            | Body::SubmitMultiResp(None)
            | Body::DeliverSmResp(None)
            | Body::DataSmResp(None)
            | Body::QuerySmResp(None)
    )
}

fn pdu() -> impl Strategy<Value = Pdu> {
    (any::<u32>(), any::<u32>(), body()).prop_map(|(seq, status, body)| {
        let status = if lacks_body(&body) {
            status.max(1)
        } else {
            status
        };
        Pdu {
            command_status: CommandStatus(status),
            sequence_number: seq,
            body,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// Decodes in `mode`; if that succeeds, the value re-encodes (no panic, length as promised) and
/// reads back as itself in the same mode.
fn check_never_panics(bytes: &Bytes, mode: DecodeMode) {
    if let Ok(pdu) = Pdu::decode(bytes, mode) {
        let again = pdu.to_bytes();
        assert_eq!(again.len(), pdu.encoded_len());
        let back = Pdu::decode(&again, mode).unwrap();
        assert_eq!(back, pdu);
    }
}

/// A frame around `body` with a command_length that agrees, so decoding reaches the body.
fn frame(command_id: u32, status: u32, seq: u32, body: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(16 + body.len());
    v.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(&command_id.to_be_bytes());
    v.extend_from_slice(&status.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(body);
    Bytes::from(v)
}

/// Command ids worth aiming at: every known one and a few unknown.
fn command_id() -> impl Strategy<Value = u32> {
    let mut ids: Vec<u32> = CommandId::ALL.iter().map(|c| c.0).collect();
    ids.extend([0x0000_0999, 0x8000_0999, 0x0000_000A, 0x7FFF_FFFF]);
    prop_oneof![4 => proptest::sample::select(ids), 1 => any::<u32>()]
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Truncate { to: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, n: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        1 => any::<usize>().prop_map(|to| Mutation::Truncate { to }),
        1 => (any::<usize>(), vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..8).prop_map(|(at, n)| Mutation::Remove { at, n }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match m {
        Mutation::Flip { at, xor } => {
            let i = at % len;
            if let Some(b) = bytes.get_mut(i) {
                *b ^= xor;
            }
        }
        Mutation::Truncate { to } => bytes.truncate(to % len),
        Mutation::Insert { at, bytes: more } => {
            let i = at % (bytes.len() + 1);
            bytes.splice(i..i, more.iter().copied());
        }
        Mutation::Remove { at, n } => {
            let i = at % len;
            let end = (i + n).min(bytes.len());
            if i < end {
                bytes.drain(i..end);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_pdus_round_trip(p in pdu()) {
        let bytes = p.to_bytes();
        prop_assert_eq!(bytes.len(), p.encoded_len());
        prop_assert_eq!(p.header().command_length as usize, bytes.len());
        for mode in [DecodeMode::Strict, DecodeMode::Lenient] {
            let back = Pdu::decode(&bytes, mode);
            prop_assert!(back.is_ok(), "{:?}: {:?}", mode, back);
            prop_assert_eq!(back.unwrap(), p.clone());
        }
    }

    #[test]
    fn random_bodies_never_panic(
        id in command_id(),
        status in prop_oneof![Just(0u32), any::<u32>()],
        seq in any::<u32>(),
        body in vec(any::<u8>(), 0..300),
    ) {
        let f = frame(id, status, seq, &body);
        check_never_panics(&f, DecodeMode::Strict);
        check_never_panics(&f, DecodeMode::Lenient);
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..200)) {
        let f = Bytes::from(bytes);
        check_never_panics(&f, DecodeMode::Strict);
        check_never_panics(&f, DecodeMode::Lenient);
    }

    #[test]
    fn mutated_pdus_never_panic(
        p in pdu(),
        mutations in vec(mutation(), 1..4),
        fix_length in any::<bool>(),
    ) {
        let mut bytes = p.to_bytes().to_vec();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        if fix_length && bytes.len() >= 4 {
            let len = (bytes.len() as u32).to_be_bytes();
            bytes[..4].copy_from_slice(&len);
        }
        let f = Bytes::from(bytes);
        check_never_panics(&f, DecodeMode::Strict);
        check_never_panics(&f, DecodeMode::Lenient);
    }
}

/// Decode errors on mutated frames always name a field and map to a real status.
#[test]
fn errors_name_a_field_and_a_status() {
    let base = Pdu::new(
        1,
        Body::SubmitSm(SubmitSm {
            destination_addr: Address::international(Bytes::from_static(b"447700900123")),
            short_message: Bytes::from_static(b"hello"),
            ..SubmitSm::default()
        }),
    )
    .to_bytes();
    for cut in 16..base.len() {
        let mut v = base[..cut].to_vec();
        v[..4].copy_from_slice(&(cut as u32).to_be_bytes());
        let e = Pdu::decode(&Bytes::from(v), DecodeMode::Strict).unwrap_err();
        assert!(!e.field.is_empty());
        assert!(e.status().name().is_some(), "{e}");
        assert_ne!(e.status(), CommandStatus::ESME_ROK);
        assert_eq!(e.header.sequence_number, 1);
    }
}
