//! The load client's HTTP/1.1: one keep-alive connection, one request in flight, and the
//! least reading of the answer that counts it (RFC 9112).
//!
//! The point is cost. A general client (hyper, reqwest) builds a header map, a request and a
//! response object per exchange; a load client that does that spends a fair share of what the
//! server spends, and the figure it prints is partly its own. Here a request is bytes the
//! caller has already laid out, written with one call; the answer is read into one buffer and
//! only the status line, `Content-Length`, `Connection` and `Transfer-Encoding` are looked at.
//! The body is handed back as a slice of that buffer.
//!
//! [`parse_head`] is pure and tested on bytes; [`HttpConn`] is the only code that touches the
//! socket. A response this reader does not handle (chunked, no length, over the limits) is an
//! error and the connection is dropped, never guessed at: the servers it loads (axum, the
//! simulator's control API) always send a length.

use std::io;
use std::net::SocketAddr;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest status line and headers accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Longest body accepted (a batch answer of 10,000 results is about 4 MB).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// What the head of a complete response says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Octets of the status line and headers, the blank line included.
    pub head_len: usize,
    pub body_len: usize,
    /// The server will close the connection after this response.
    pub close: bool,
}

impl Head {
    /// Octets of the whole response.
    pub fn len(&self) -> usize {
        self.head_len + self.body_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why an answer cannot be read.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("not an HTTP/1.x status line")]
    BadStatusLine,
    #[error("response head longer than {MAX_HEAD} octets")]
    HeadTooLong,
    #[error("malformed header line")]
    BadHeader,
    #[error("invalid Content-Length")]
    BadLength,
    #[error("response body of {0} octets is over the {MAX_BODY}-octet limit")]
    BodyTooLong(usize),
    #[error("a chunked or unframed response body; this client reads Content-Length only")]
    Unframed,
}

/// Parses the head of the response at the start of `buf`. `Ok(None)`: not all of it (or not
/// all of its body) has arrived yet. `scanned` (0 for a new response) is where the search for
/// the blank line resumes, so an answer arriving in pieces is not scanned from the start each
/// time.
pub fn parse_head(buf: &[u8], scanned: &mut usize) -> Result<Option<Head>, WireError> {
    // No blank line starts before `scanned`.
    let from = (*scanned).min(buf.len());
    let Some(end) = find(&buf[from..], b"\r\n\r\n").map(|i| from + i + 4) else {
        if buf.len() > MAX_HEAD {
            return Err(WireError::HeadTooLong);
        }
        *scanned = buf.len().saturating_sub(3);
        return Ok(None);
    };
    if end > MAX_HEAD {
        return Err(WireError::HeadTooLong);
    }
    let head = &buf[..end - 4];
    // HTTP-version SP 3DIGIT SP reason-phrase (RFC 9112 §4).
    if head.len() < 12
        || !head.starts_with(b"HTTP/1.")
        || head[8] != b' '
        || !head[9..12].iter().all(u8::is_ascii_digit)
        || head.get(12).is_some_and(|&b| b != b' ' && b != b'\r')
    {
        return Err(WireError::BadStatusLine);
    }
    let status = head[9..12]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    // HTTP/1.0 closes unless told otherwise.
    let mut close = head[7] == b'0';
    let mut length: Option<usize> = None;
    let mut lines = head.split(|&b| b == b'\n').skip(1);
    for line in &mut lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(WireError::BadHeader)?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_len(value)?;
            // Repeated lengths must agree (RFC 9112 §6.3).
            if length.is_some_and(|l| l != n) {
                return Err(WireError::BadLength);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(WireError::Unframed);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
    }
    // No body: 1xx, 204 and 304 (RFC 9112 §6.3); anything else needs a length here.
    let body_len = match (status, length) {
        (100..=199 | 204 | 304, _) => 0,
        (_, Some(n)) => n,
        (_, None) => return Err(WireError::Unframed),
    };
    if body_len > MAX_BODY {
        return Err(WireError::BodyTooLong(body_len));
    }
    *scanned = end - 4;
    if buf.len() < end + body_len {
        return Ok(None);
    }
    Ok(Some(Head {
        status,
        head_len: end,
        body_len,
        close,
    }))
}

fn parse_len(v: &[u8]) -> Result<usize, WireError> {
    if v.is_empty() || v.len() > 12 || !v.iter().all(u8::is_ascii_digit) {
        return Err(WireError::BadLength);
    }
    Ok(v.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0')))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &v[start..end]
}

/// First position of `needle` in `hay`.
#[inline]
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

/// The JSON string value after `"key":` in `body`, found by a byte search (no parse): for
/// error codes and reasons, whose values have no escapes. `None` when absent.
pub fn json_str<'a>(body: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = find_key(body, key)?;
    let rest = body.get(at..)?.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    Some(&rest[..end])
}

/// The unsigned integer after `"key":` in `body`.
pub fn json_u64(body: &[u8], key: &[u8]) -> Option<u64> {
    let at = find_key(body, key)?;
    let rest = body.get(at..)?;
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    if end == 0 || end > 19 {
        return None;
    }
    Some(
        rest[..end]
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// Where the value of `"key":` starts (whitespace after the colon skipped).
fn find_key(body: &[u8], key: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find(&body[from..], key) {
        let at = from + i;
        let before = at.checked_sub(1).map(|j| body[j]);
        let after = body.get(at + key.len()..)?;
        if before == Some(b'"') && after.first() == Some(&b'"') {
            let mut j = at + key.len() + 1;
            while body.get(j).is_some_and(|b| b.is_ascii_whitespace()) {
                j += 1;
            }
            if body.get(j) == Some(&b':') {
                j += 1;
                while body.get(j).is_some_and(|b| b.is_ascii_whitespace()) {
                    j += 1;
                }
                return Some(j);
            }
        }
        from = at + 1;
    }
    None
}

/// One keep-alive HTTP/1.1 connection with at most one request in flight.
pub struct HttpConn {
    stream: TcpStream,
    rbuf: BytesMut,
    /// Octets of the last answer, released when the next exchange starts.
    last: usize,
    /// The server said it will close after the last answer.
    closing: bool,
}

impl HttpConn {
    /// Connects with TCP_NODELAY: a request is one write, and Nagle would hold its tail back
    /// for an ACK.
    pub async fn connect(addr: SocketAddr) -> io::Result<HttpConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream,
            rbuf: BytesMut::with_capacity(16 * 1024),
            last: 0,
            closing: false,
        })
    }

    /// Whether the server announced it closes this connection after the last answer.
    pub fn closing(&self) -> bool {
        self.closing
    }

    /// Writes `request` (a whole HTTP/1.1 request) and reads its answer: the status and the
    /// body, borrowed until the next exchange.
    pub async fn exchange(&mut self, request: &[u8]) -> Result<(u16, &[u8]), WireError> {
        self.rbuf.advance(self.last);
        self.last = 0;
        if self.closing {
            return Err(WireError::Closed);
        }
        // Most requests fit the socket buffer: one syscall, no future.
        let n = match self.stream.try_write(request) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e.into()),
        };
        if n < request.len() {
            self.stream.write_all(&request[n..]).await?;
        }
        let mut scanned = 0;
        let head = loop {
            if let Some(head) = parse_head(&self.rbuf, &mut scanned)? {
                if head.status >= 200 {
                    break head;
                }
                // An interim answer (100 Continue, 103): the real one follows.
                self.rbuf.advance(head.len());
                scanned = 0;
                continue;
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(16 * 1024);
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(WireError::Closed);
            }
        };
        self.last = head.len();
        self.closing = head.close;
        Ok((head.status, &self.rbuf[head.head_len..head.len()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<Option<Head>, WireError> {
        parse_head(b, &mut 0)
    }

    #[test]
    fn a_complete_answer() {
        let r = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n\
                  content-length: 2\r\ndate: x\r\n\r\n{}NEXT";
        let h = parse(r).unwrap().unwrap();
        assert_eq!(
            h,
            Head {
                status: 202,
                head_len: r.len() - 6,
                body_len: 2,
                close: false
            }
        );
        assert_eq!(&r[h.head_len..h.len()], b"{}");
    }

    #[test]
    fn incomplete_head_or_body_waits() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 0..full.len() {
            let mut scanned = 0;
            assert!(
                parse_head(&full[..cut], &mut scanned).unwrap().is_none(),
                "{cut}"
            );
            // Resuming from where the scan stopped finds the same answer.
            let h = parse_head(full, &mut scanned).unwrap().unwrap();
            assert_eq!((h.status, h.body_len), (200, 5));
        }
    }

    #[test]
    fn connection_close_and_http_1_0() {
        let h =
            parse(b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .unwrap()
                .unwrap();
        assert!(h.close);
        assert_eq!(h.status, 401);
        let h = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.close);
        let h = parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.close);
    }

    #[test]
    fn bodies_without_length() {
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            Err(WireError::Unframed)
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\n\r\nhello"),
            Err(WireError::Unframed)
        ));
        let h = parse(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.body_len, 0);
    }

    #[test]
    fn malformed_heads() {
        for bad in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"SMPP 1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let long = vec![b'a'; MAX_HEAD + 1];
        assert!(matches!(parse(&long), Err(WireError::HeadTooLong)));
        let mut big = b"HTTP/1.1 200 OK\r\nContent-Length: ".to_vec();
        big.extend_from_slice((MAX_BODY + 1).to_string().as_bytes());
        big.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(parse(&big), Err(WireError::BodyTooLong(_))));
    }

    #[test]
    fn json_values_by_key() {
        let body = br#"{"error":{"code":"invalid_field","field":"to","reason": "fixed_line"}}"#;
        assert_eq!(json_str(body, b"code"), Some(&b"invalid_field"[..]));
        assert_eq!(json_str(body, b"reason"), Some(&b"fixed_line"[..]));
        assert_eq!(json_str(body, b"missing"), None);
        // A key's name inside a value is not the key.
        assert_eq!(
            json_str(br#"{"a":"code","code":"x"}"#, b"code"),
            Some(&b"x"[..])
        );
        let batch = br#"{"accepted":2,"rejected":1,"results":[]}"#;
        assert_eq!(json_u64(batch, b"accepted"), Some(2));
        assert_eq!(json_u64(batch, b"rejected"), Some(1));
        assert_eq!(json_u64(br#"{"accepted":"x"}"#, b"accepted"), None);
        assert_eq!(find(b"abcabd", b"abd"), Some(3));
        assert_eq!(find(b"ab", b"abc"), None);
    }
}
