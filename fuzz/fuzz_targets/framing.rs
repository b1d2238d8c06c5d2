//! The input fed through PduCodec in chunks whose sizes come from its first octets: no panic,
//! and the same frames (and the same framing error, if any) as when fed in one piece.
#![no_main]

use bytes::BytesMut;
use gannet_smpp::codec::{Frame, PduCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// Frames decoded, and whether the stream ended in an error (framing, or EOF inside a PDU).
fn run(mut rest: &[u8], chunk_sizes: impl Iterator<Item = usize>) -> (Vec<Frame>, bool) {
    let mut codec = PduCodec::default();
    let (mut buf, mut frames) = (BytesMut::new(), Vec::new());
    for size in chunk_sizes {
        let n = size.clamp(1, rest.len().max(1)).min(rest.len());
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
    let eof_error = codec.decode_eof(&mut buf).is_err();
    (frames, eof_error)
}

fuzz_target!(|data: &[u8]| {
    let (sizes, stream) = data.split_at(data.len().min(4));
    if sizes.is_empty() {
        return;
    }
    let whole = run(stream, std::iter::once(stream.len()));
    let chunked = run(stream, sizes.iter().map(|&s| usize::from(s) + 1).cycle());
    assert_eq!(whole, chunked);
});
