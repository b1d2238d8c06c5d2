//! Transport tests: PDUs through `tokio::io::duplex` with `FramedWrite` and `FramedRead`.

#![allow(clippy::unwrap_used)]
#![cfg(feature = "codec")]

use futures_util::{SinkExt, StreamExt};
use gannet_smpp::codec::{CodecError, DEFAULT_MAX_LEN, Frame, PduCodec};
use gannet_smpp::session::{Incoming, Role, Session, SessionConfig};
use gannet_smpp::{Body, CommandId, CommandStatus, DecodeMode, Pdu};
use proptest::prelude::*;
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio_util::codec::{FramedRead, FramedWrite};

/// A mix of PDU shapes: empty bodies, C-strings, an error response without a body.
fn sample_pdus(n: u32) -> Vec<Pdu> {
    (1..=n)
        .map(|seq| match seq % 4 {
            0 => Pdu::new(seq, Body::EnquireLink),
            1 => Pdu::new(seq, Body::submit_sm_resp(format!("id-{seq}"))),
            2 => Pdu::new(seq, Body::deliver_sm_resp()),
            _ => {
                Pdu::new(seq, Body::SubmitSmResp(None)).with_status(CommandStatus::ESME_RTHROTTLED)
            }
        })
        .collect()
}

fn encode_all(pdus: &[Pdu]) -> Vec<u8> {
    pdus.iter().flat_map(|p| p.to_bytes().to_vec()).collect()
}

fn reader(rx: DuplexStream) -> FramedRead<DuplexStream, PduCodec> {
    FramedRead::new(rx, PduCodec::default())
}

async fn read_all(
    mut framed: FramedRead<DuplexStream, PduCodec>,
) -> (Vec<Frame>, Option<CodecError>) {
    let mut frames = Vec::new();
    while let Some(item) = framed.next().await {
        match item {
            Ok(frame) => frames.push(frame),
            Err(e) => return (frames, Some(e)),
        }
    }
    (frames, None)
}

fn pdus_of(frames: Vec<Frame>) -> Vec<Pdu> {
    frames
        .into_iter()
        .map(|f| match f {
            Frame::Pdu(p) => p,
            Frame::Invalid { error, .. } => panic!("invalid frame: {error}"),
        })
        .collect()
}

#[tokio::test]
async fn many_pdus_through_framed_write_and_read() {
    let (tx, rx) = tokio::io::duplex(512);
    let pdus = sample_pdus(500);
    let sent = pdus.clone();
    let writer = tokio::spawn(async move {
        let mut out = FramedWrite::new(tx, PduCodec::default());
        for (i, pdu) in sent.iter().enumerate() {
            // Both Encoder impls: by reference and by value.
            if i % 2 == 0 {
                out.feed(pdu).await.unwrap();
            } else {
                out.feed(pdu.clone()).await.unwrap();
            }
        }
        SinkExt::<&Pdu>::flush(&mut out).await.unwrap();
    });
    let (frames, err) = read_all(reader(rx)).await;
    writer.await.unwrap();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pdus_of(frames), pdus);
}

async fn write_in_chunks(mut tx: DuplexStream, bytes: Vec<u8>, chunks: Vec<usize>) {
    let mut rest = &bytes[..];
    let mut sizes = chunks.into_iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).clamp(1, rest.len());
        tx.write_all(&rest[..n]).await.unwrap();
        tx.flush().await.unwrap();
        rest = &rest[n..];
    }
}

#[tokio::test]
async fn one_byte_at_a_time() {
    let (tx, rx) = tokio::io::duplex(1);
    let pdus = sample_pdus(40);
    let writer = tokio::spawn(write_in_chunks(tx, encode_all(&pdus), vec![1]));
    let (frames, err) = read_all(reader(rx)).await;
    writer.await.unwrap();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pdus_of(frames), pdus);
}

#[test]
fn arbitrary_chunk_boundaries() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    proptest!(ProptestConfig::with_cases(64), |(
        n in 1u32..30,
        chunks in proptest::collection::vec(1usize..40, 1..10),
        pipe in 1usize..64,
    )| {
        let pdus = sample_pdus(n);
        let bytes = encode_all(&pdus);
        let (frames, err) = rt.block_on(async {
            let (tx, rx) = tokio::io::duplex(pipe);
            let writer = tokio::spawn(write_in_chunks(tx, bytes, chunks));
            let out = read_all(reader(rx)).await;
            writer.await.unwrap();
            out
        });
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(pdus_of(frames), pdus);
    });
}

#[tokio::test]
async fn malformed_body_then_a_good_pdu() {
    let (tx, rx) = tokio::io::duplex(256);
    // A submit_sm whose body is three octets of garbage (no NUL anywhere), then an
    // enquire_link: both come out, in order, and the stream carries on.
    let mut bad = vec![0, 0, 0, 19, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7];
    bad.extend_from_slice(&[0x41, 0x42, 0x43]);
    let good = Pdu::new(8, Body::EnquireLink);
    let mut bytes = bad;
    bytes.extend_from_slice(&good.to_bytes());
    let writer = tokio::spawn(write_in_chunks(tx, bytes, vec![5]));
    let (frames, err) = read_all(reader(rx)).await;
    writer.await.unwrap();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames.len(), 2);
    let Frame::Invalid { header, error } = &frames[0] else {
        panic!("{:?}", frames[0])
    };
    assert_eq!(header.command_id, CommandId::SUBMIT_SM);
    assert_eq!(header.sequence_number, 7);
    assert_eq!(frames[1], Frame::Pdu(good));

    // The session turns the invalid submit_sm into a submit_sm_resp with the decode status.
    let now = std::time::Instant::now();
    let mut smsc: Session<u64> = Session::new(Role::Smsc, SessionConfig::default(), now).unwrap();
    smsc.receive(CommandId::BIND_TRANSMITTER, CommandStatus::ESME_ROK, 1, now);
    smsc.send_response(CommandId::BIND_TRANSMITTER_RESP, CommandStatus::ESME_ROK)
        .unwrap();
    let answer = smsc.receive_invalid(error, now);
    let reply = answer.reply().unwrap();
    assert_eq!(reply.command_id(), CommandId::SUBMIT_SM_RESP);
    assert_eq!(reply.sequence_number, 7);
    assert_eq!(reply.command_status, error.status());
    assert_ne!(reply.command_status, CommandStatus::ESME_ROK);
    assert!(matches!(answer, Incoming::Reject { .. }));
}

async fn fatal_length(command_length: u32) {
    let (mut tx, rx) = tokio::io::duplex(64);
    let mut bytes = Pdu::new(3, Body::EnquireLink).to_bytes().to_vec();
    bytes[..4].copy_from_slice(&command_length.to_be_bytes());
    // Then a good PDU that must not be read: the stream is out of step.
    bytes.extend_from_slice(&Pdu::new(4, Body::EnquireLink).to_bytes());
    tx.write_all(&bytes).await.unwrap();
    drop(tx);
    let framed = reader(rx);
    let (frames, err) = read_all(framed).await;
    assert!(frames.is_empty());
    let err = err.unwrap();
    let CodecError::CommandLength { header, max } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(header.command_length, command_length);
    assert_eq!(header.sequence_number, 3);
    assert_eq!(*max, DEFAULT_MAX_LEN);
    assert_eq!(
        err.generic_nack(),
        Some(Pdu::generic_nack(3, CommandStatus::ESME_RINVCMDLEN))
    );
}

#[tokio::test]
async fn command_length_8_is_fatal() {
    fatal_length(8).await;
}

#[tokio::test]
async fn command_length_ffffffff_is_fatal_without_a_huge_allocation() {
    fatal_length(0xFFFF_FFFF).await;
    // And the decoder did not reserve for it.
    let mut codec = PduCodec::default();
    let mut buf = bytes::BytesMut::from(
        &[
            0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1,
        ][..],
    );
    let before = buf.capacity();
    assert!(tokio_util::codec::Decoder::decode(&mut codec, &mut buf).is_err());
    assert_eq!(buf.capacity(), before);
}

#[tokio::test]
async fn configurable_max_len() {
    let (mut tx, rx) = tokio::io::duplex(256);
    let pdu = Pdu::new(1, Body::submit_sm_resp(&b"a-rather-long-message-id"[..]));
    tx.write_all(&pdu.to_bytes()).await.unwrap();
    drop(tx);
    let framed = FramedRead::new(rx, PduCodec::new(32, DecodeMode::Strict));
    let (frames, err) = read_all(framed).await;
    assert!(frames.is_empty());
    assert!(matches!(
        err,
        Some(CodecError::CommandLength { max: 32, .. })
    ));
}

#[tokio::test]
async fn stream_ending_mid_pdu() {
    let (mut tx, rx) = tokio::io::duplex(256);
    let first = Pdu::new(1, Body::EnquireLink);
    let second = Pdu::new(2, Body::submit_sm_resp(&b"xyz"[..])).to_bytes();
    tx.write_all(&first.to_bytes()).await.unwrap();
    tx.write_all(&second[..10]).await.unwrap();
    drop(tx);
    let (frames, err) = read_all(reader(rx)).await;
    assert_eq!(frames, vec![Frame::Pdu(first)]);
    assert!(
        matches!(err, Some(CodecError::UnexpectedEof { buffered: 10 })),
        "{err:?}"
    );
}

/// Frames and the final error, feeding `stream` to the decoder in chunks of the given sizes.
fn decode_chunked(stream: &[u8], sizes: &[usize]) -> (Vec<Frame>, bool) {
    use tokio_util::codec::Decoder;
    let mut codec = PduCodec::default();
    let mut buf = bytes::BytesMut::new();
    let mut frames = Vec::new();
    let mut rest = stream;
    for &size in sizes.iter().cycle() {
        let n = size.max(1).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
        if rest.is_empty() {
            break;
        }
    }
    (frames, codec.decode_eof(&mut buf).is_err())
}

/// A header with a plausible length (mostly 16..=80, sometimes anything) and a known or
/// random command id, then a body of random octets.
fn pdu_like() -> impl Strategy<Value = Vec<u8>> {
    let id = prop_oneof![
        proptest::sample::select(CommandId::ALL.to_vec()).prop_map(|c| c.0),
        any::<u32>(),
    ];
    let len = prop_oneof![9 => 16u32..80, 1 => any::<u32>()];
    (
        len,
        id,
        any::<u32>(),
        any::<u32>(),
        // Mostly NULs and digits, so C-octet strings and small integers often parse.
        proptest::collection::vec(
            prop_oneof![3 => Just(0u8), 5 => b'0'..=b'9', 2 => any::<u8>()],
            0..64,
        ),
    )
        .prop_map(|(len, id, status, seq, body)| {
            let mut v = Vec::with_capacity(16 + body.len());
            for word in [len, id, status, seq] {
                v.extend_from_slice(&word.to_be_bytes());
            }
            v.extend_from_slice(&body);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The fuzz target `framing`, as a property: chunking never changes what comes out.
    #[test]
    fn chunking_never_changes_the_frames(
        parts in proptest::collection::vec(pdu_like(), 0..6),
        sizes in proptest::collection::vec(1usize..20, 1..6),
    ) {
        let stream = parts.concat();
        let whole = decode_chunked(&stream, &[stream.len().max(1)]);
        let chunked = decode_chunked(&stream, &sizes);
        prop_assert_eq!(whole, chunked);
    }

    /// The fuzz target `decode_pdu`, as a property: whatever decodes re-encodes to bytes that
    /// decode to the same PDU, in both modes.
    #[test]
    fn decoded_pdus_round_trip(mut frame in pdu_like()) {
        let len = u32::try_from(frame.len()).unwrap();
        frame[..4].copy_from_slice(&len.to_be_bytes());
        let frame = bytes::Bytes::from(frame);
        for mode in [DecodeMode::Strict, DecodeMode::Lenient] {
            if let Ok(pdu) = Pdu::decode(&frame, mode) {
                let again = Pdu::decode(&pdu.to_bytes(), mode);
                prop_assert_eq!(again.as_ref(), Ok(&pdu), "{:?}", mode);
            }
        }
    }
}

/// `decoded_pdus_round_trip` is only worth something if many generated frames decode.
#[test]
fn round_trip_inputs_often_decode() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = pdu_like();
    let mut decoded = 0;
    for _ in 0..2000 {
        let mut frame = strategy.new_tree(&mut runner).unwrap().current();
        let len = u32::try_from(frame.len()).unwrap();
        frame[..4].copy_from_slice(&len.to_be_bytes());
        if Pdu::decode(&bytes::Bytes::from(frame), DecodeMode::Lenient).is_ok() {
            decoded += 1;
        }
    }
    assert!(decoded > 200, "only {decoded} of 2000 decoded");
}
