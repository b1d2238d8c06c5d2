//! Criterion benchmarks for the PDU codec, next to rusmpp 0.4 on the same bytes so the ratios
//! come from one run:
//!
//! - `codec/decode/*`: one 88-octet submit_sm (12-digit addresses, 20-octet text, two TLVs).
//! - `codec/encode/*`: the same PDU encoded into a `BytesMut` with room reserved.
//! - `codec/stream_decode`: `Header::peek` + `Pdu::decode` over a buffer of mixed PDUs
//!   (the framing codec itself lives in smpp/src/codec.rs and is not measured here).
//!
//! Run: `cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gannet_smpp::{
    Address, Body, CommandStatus, DecodeMode, DeliverSm, HEADER_LEN, Header, MessageState, Pdu,
    SubmitSm, Tlv, TlvTag,
};
use tokio_util::codec::{Decoder, Encoder};

/// The 88-octet submit_sm every single-PDU bench uses.
fn submit_sm() -> Pdu {
    let sm = SubmitSm {
        source_addr: Address::international(&b"447700900123"[..]),
        destination_addr: Address::international(&b"919876543210"[..]),
        registered_delivery: 1,
        short_message: Bytes::from_static(b"Your code is 482913."),
        ..SubmitSm::default()
    }
    .with_tlv(Tlv::u16(TlvTag::USER_MESSAGE_REFERENCE, 0x0102))
    .with_tlv(Tlv::u8(TlvTag::PAYLOAD_TYPE, 0));
    Pdu::new(1, Body::SubmitSm(sm))
}

/// A mixed stream: what a transceiver bind carries under load.
fn mixed_stream() -> (Bytes, u64) {
    let receipt = DeliverSm {
        source_addr: Address::international(&b"919876543210"[..]),
        destination_addr: Address::international(&b"447700900123"[..]),
        esm_class: 0x04,
        short_message: Bytes::from_static(
            b"id:0123456789 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 \
              stat:DELIVRD err:000 text:Your code is 4829",
        ),
        ..DeliverSm::default()
    }
    .with_tlv(Tlv::cstr(TlvTag::RECEIPTED_MESSAGE_ID, b"0123456789"))
    .with_tlv(Tlv::u8(TlvTag::MESSAGE_STATE, MessageState::DELIVERED.0));
    let pdus = [
        submit_sm(),
        Pdu::new(2, Body::submit_sm_resp(&b"0123456789"[..])),
        Pdu::new(3, Body::DeliverSm(receipt)),
        Pdu::new(3, Body::deliver_sm_resp()),
        Pdu::new(4, Body::EnquireLink),
        Pdu::new(4, Body::EnquireLinkResp),
        Pdu::new(5, Body::SubmitSmResp(None)).with_status(CommandStatus::ESME_RTHROTTLED),
    ];
    let mut buf = BytesMut::new();
    let mut n = 0;
    for _ in 0..64 {
        for p in &pdus {
            p.encode(&mut buf);
            n += 1;
        }
    }
    (buf.freeze(), n)
}

fn codec(c: &mut Criterion) {
    let pdu = submit_sm();
    let frame = pdu.to_bytes();
    assert_eq!(frame.len(), 88, "the reference submit_sm must be 88 octets");

    // rusmpp's view of the same bytes, decoded by its own codec.
    let mut rusmpp_codec = rusmpp::tokio_codec::CommandCodec::new();
    let rusmpp_command = rusmpp_codec
        .decode(&mut BytesMut::from(&frame[..]))
        .expect("rusmpp decodes the frame")
        .expect("one whole frame");
    let mut check = BytesMut::new();
    rusmpp_codec
        .encode(&rusmpp_command, &mut check)
        .expect("rusmpp encodes");
    assert_eq!(
        &check[..],
        &frame[..],
        "rusmpp re-encodes the same 88 octets"
    );

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));

    g.bench_function("decode/gannet", |b| {
        b.iter(|| Pdu::decode(black_box(&frame), DecodeMode::Lenient))
    });
    g.bench_function("decode/gannet_strict", |b| {
        b.iter(|| Pdu::decode(black_box(&frame), DecodeMode::Strict))
    });
    g.bench_function("decode/rusmpp", |b| {
        b.iter_batched(
            || BytesMut::from(&frame[..]),
            |mut src| rusmpp_codec.decode(&mut src),
            BatchSize::SmallInput,
        )
    });

    // Both encoders write into one reused buffer, as a connection's write buffer is reused.
    let mut dst = BytesMut::with_capacity(4096);
    g.bench_function("encode/gannet", |b| {
        b.iter(|| {
            dst.clear();
            let pdu = black_box(&pdu);
            dst.reserve(pdu.encoded_len());
            pdu.encode(&mut dst);
            black_box(dst.len())
        })
    });
    g.bench_function("encode/rusmpp", |b| {
        b.iter(|| {
            dst.clear();
            let _ = rusmpp_codec.encode(black_box(&rusmpp_command), &mut dst);
            black_box(dst.len())
        })
    });

    let (stream, n) = mixed_stream();
    g.throughput(Throughput::Elements(n));
    g.bench_function("stream_decode", |b| {
        b.iter(|| {
            let mut off = 0;
            let mut decoded = 0u32;
            while let Some(h) = Header::peek(&stream[off..]) {
                let len = h.command_length as usize;
                if len < HEADER_LEN || off + len > stream.len() {
                    break;
                }
                let frame = stream.slice(off..off + len);
                if Pdu::decode(&frame, DecodeMode::Lenient).is_ok() {
                    decoded += 1;
                }
                off += len;
            }
            assert_eq!(u64::from(decoded), n);
            decoded
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
