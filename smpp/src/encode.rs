//! Field writers shared by every PDU body. Encoding writes straight into a `BufMut`; each body
//! computes its length up front (`encoded_len`) so the header's command_length is written first
//! and no intermediate buffer is needed.

use bytes::BufMut;

use crate::pdu::Address;

/// Where the body writers put octets. Two implementations: [`ToBuf`] passes them to any
/// `BufMut`, and [`Scratch`] fills a stack buffer. `Pdu::encode` uses the second for every PDU
/// that fits and hands the result to the caller's buffer in one `put_slice`: a `BytesMut` pays
/// a capacity check and a call per `put_*`, which for a PDU of 20-odd small fields cost more
/// than the fields themselves.
pub(crate) trait Sink {
    fn put_slice(&mut self, s: &[u8]);

    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.put_slice(&[v]);
    }

    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
}

/// A [`Sink`] over a `BufMut`.
pub(crate) struct ToBuf<'a, B: ?Sized>(pub(crate) &'a mut B);

impl<B: BufMut + ?Sized> Sink for ToBuf<'_, B> {
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.0.put_slice(s);
    }

    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.0.put_u8(v);
    }
}

/// A [`Sink`] over a fixed slice. Octets past the end are counted, not written, so a length
/// computed wrongly shows up as `written() != len` instead of a panic.
pub(crate) struct Scratch<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Scratch<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Scratch<'a> {
        Scratch { buf, pos: 0 }
    }

    pub(crate) fn written(&self) -> usize {
        self.pos
    }
}

impl Sink for Scratch<'_> {
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        let end = self.pos + s.len();
        if let Some(d) = self.buf.get_mut(self.pos..end) {
            d.copy_from_slice(s);
        }
        self.pos = end;
    }

    #[inline]
    fn put_u8(&mut self, v: u8) {
        if let Some(d) = self.buf.get_mut(self.pos) {
            *d = v;
        }
        self.pos += 1;
    }
}

/// The largest PDU `Pdu::encode` assembles on the stack; larger ones go straight to the
/// caller's buffer.
pub(crate) const SCRATCH_LEN: usize = 512;

/// A C-octet string: the octets, then the NUL the model leaves out.
#[inline]
pub(crate) fn put_cstr(dst: &mut impl Sink, s: &[u8]) {
    dst.put_slice(s);
    dst.put_u8(0);
}

#[inline]
pub(crate) fn put_address(dst: &mut impl Sink, a: &Address) {
    dst.put_slice(&[a.ton, a.npi]);
    put_cstr(dst, &a.addr);
}

/// sm_length and short_message (SMPP 3.4 §4.4.1). sm_length is one octet, so a longer message
/// is cut to 255 octets rather than writing a length that lies; [`short_message_len`] agrees.
#[inline]
pub(crate) fn put_short_message(dst: &mut impl Sink, sm: &[u8]) {
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
        put_short_message(&mut ToBuf(&mut out), &[b'x'; 300]);
        assert_eq!(out.len(), 256);
        assert_eq!(out[0], 255);
        assert_eq!(short_message_len(&[b'x'; 300]), 256);
    }

    #[test]
    fn cstr_gets_its_nul() {
        let mut out = Vec::new();
        put_cstr(&mut ToBuf(&mut out), b"ab");
        put_cstr(&mut ToBuf(&mut out), b"");
        assert_eq!(out, b"ab\0\0");
    }

    #[test]
    fn scratch_counts_what_does_not_fit() {
        let mut buf = [0u8; 4];
        let mut w = Scratch::new(&mut buf);
        w.put_slice(&[1, 2]);
        w.put_slice(b"abc");
        w.put_u8(9);
        assert_eq!(w.written(), 6);
        assert_eq!(buf, [1, 2, 0, 0]);
    }
}
