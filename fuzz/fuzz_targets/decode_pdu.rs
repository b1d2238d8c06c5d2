//! Any input, both decode modes: no panic, and whatever decodes re-encodes to bytes that
//! decode to the same PDU.
#![no_main]

use bytes::Bytes;
use gannet_smpp::{DecodeMode, Pdu};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    for mode in [DecodeMode::Strict, DecodeMode::Lenient] {
        if let Ok(pdu) = Pdu::decode(&frame, mode) {
            let again = Pdu::decode(&pdu.to_bytes(), mode);
            assert_eq!(again.as_ref(), Ok(&pdu), "{mode:?} round trip");
        }
    }
});
