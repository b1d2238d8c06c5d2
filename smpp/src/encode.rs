//! Field writers shared by every PDU body. Encoding writes straight into a `BufMut`; each body
//! computes its length up front (`encoded_len`) so the header's command_length is written first
//! and no intermediate buffer is needed.

use bytes::BufMut;

use crate::pdu::Address;

/// A C-octet string: the octets, then the NUL the model leaves out.
#[inline]
pub(crate) fn put_cstr(dst: &mut impl BufMut, s: &[u8]) {
    dst.put_slice(s);
    dst.put_u8(0);
}

#[inline]
pub(crate) fn put_address(dst: &mut impl BufMut, a: &Address) {
    dst.put_u8(a.ton);
    dst.put_u8(a.npi);
    put_cstr(dst, &a.addr);
}

/// sm_length and short_message (SMPP 3.4 §4.4.1). sm_length is one octet, so a longer message
/// is cut to 255 octets rather than writing a length that lies; [`short_message_len`] agrees.
#[inline]
pub(crate) fn put_short_message(dst: &mut impl BufMut, sm: &[u8]) {
    let len = sm.len().min(usize::from(u8::MAX));
    dst.put_u8(len as u8);
    dst.put_slice(&sm[..len]);
}

/// Encoded size of sm_length and short_message.
#[inline]
pub(crate) fn short_message_len(sm: &[u8]) -> usize {
    1 + sm.len().min(usize::from(u8::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_message_is_capped() {
        let mut out = Vec::new();
        put_short_message(&mut out, &[b'x'; 300]);
        assert_eq!(out.len(), 256);
        assert_eq!(out[0], 255);
        assert_eq!(short_message_len(&[b'x'; 300]), 256);
    }

    #[test]
    fn cstr_gets_its_nul() {
        let mut out = Vec::new();
        put_cstr(&mut out, b"ab");
        put_cstr(&mut out, b"");
        assert_eq!(out, b"ab\0\0");
    }
}
