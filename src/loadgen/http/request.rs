//! Requests laid out once and filled in per send.
//!
//! Serialising a JSON value per message would cost the client more than the rest of a send.
//! Every message of a run has the same shape and differs in the number, the code in the text,
//! the class and (with callbacks) the `client_ref` stamp, so the fixed parts are escaped and
//! rendered once, and a request is those byte strings copied into a reused buffer with the
//! variable parts written between them. The body is built first, then the head with its
//! `Content-Length`, then the body after it: two copies of ~200 octets.

use super::numbers::{Destinations, interleave, splitmix64};
use crate::routes::MessageClass;

/// The request of a run, in pieces.
#[derive(Clone, Debug)]
pub struct Renderer {
    /// From the request line to `Content-Length: `.
    head: Vec<u8>,
    /// `","from":"…","text":"`
    after_to: Vec<u8>,
    /// The text, split where `{code}` goes.
    text: Vec<Vec<u8>>,
    /// `","class":"otp"` per class of the mix.
    classes: Vec<Vec<u8>>,
    class_cycle: Vec<u16>,
    /// Validity and callback URL, or nothing.
    tail: Vec<u8>,
    /// Put the scheduled send time into `client_ref` (callbacks measure lag from it).
    stamp_ref: bool,
    batch: Option<u32>,
    dests: Destinations,
}

/// What is the same in every message of a run.
#[derive(Clone, Debug)]
pub struct Shape<'a> {
    /// `Host` header value.
    pub host: &'a str,
    /// Path prefix of the API (`""` or `/base`).
    pub base_path: &'a str,
    pub api_key: &'a str,
    pub from: &'a str,
    /// May hold `{code}`: six digits that differ per message.
    pub text: &'a str,
    pub classes: &'a [(MessageClass, u32)],
    pub validity: Option<&'a str>,
    /// `"receipt": false` in every message.
    pub no_receipt: bool,
    pub callback_url: Option<&'a str>,
    /// Messages per request; `None`: single messages to `POST /v1/messages`.
    pub batch: Option<u32>,
}

/// The placeholder for a per-message code in `--text`.
pub const CODE: &str = "{code}";

impl Renderer {
    pub fn new(shape: &Shape<'_>, dests: Destinations) -> Renderer {
        let path = match shape.batch {
            Some(_) => "/v1/messages/batch",
            None => "/v1/messages",
        };
        let head = format!(
            "POST {}{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: ",
            shape.base_path, shape.host, shape.api_key
        )
        .into_bytes();
        let mut after_to = b"\",\"from\":".to_vec();
        after_to.extend_from_slice(json(shape.from).as_bytes());
        after_to.extend_from_slice(b",\"text\":\"");
        // Escape the whole text, then cut the escaped string at the placeholder: escaping
        // leaves `{code}` as it is.
        let escaped = json(shape.text);
        let inner = &escaped[1..escaped.len() - 1];
        let text = inner.split(CODE).map(|p| p.as_bytes().to_vec()).collect();
        let classes = shape
            .classes
            .iter()
            .map(|(c, _)| format!("\",\"class\":\"{}\"", c.as_str()).into_bytes())
            .collect();
        let weights: Vec<u32> = shape.classes.iter().map(|(_, w)| *w).collect();
        let mut tail = Vec::new();
        if let Some(v) = shape.validity {
            tail.extend_from_slice(b",\"validity\":");
            tail.extend_from_slice(json(v).as_bytes());
        }
        if shape.no_receipt {
            tail.extend_from_slice(b",\"receipt\":false");
        }
        if let Some(url) = shape.callback_url {
            tail.extend_from_slice(b",\"callback_url\":");
            tail.extend_from_slice(json(url).as_bytes());
        }
        Renderer {
            head,
            after_to,
            text,
            classes,
            class_cycle: interleave(&weights),
            tail,
            stamp_ref: shape.callback_url.is_some(),
            batch: shape.batch,
            dests,
        }
    }

    /// Messages in request number `request` of a run of `total` messages (`None`: unbounded).
    pub fn messages_in(&self, request: u64, total: Option<u64>) -> u32 {
        let k = u64::from(self.batch.unwrap_or(1));
        match total {
            Some(t) => t.saturating_sub(request * k).min(k) as u32,
            None => k as u32,
        }
    }

    /// Lays request number `request` (with `n` messages) into `out`; `body` is scratch.
    /// `stamp_ns` is its scheduled send time since the start of the run.
    pub fn render(
        &self,
        request: u64,
        n: u32,
        stamp_ns: u64,
        body: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        body.clear();
        out.clear();
        let first = request * u64::from(self.batch.unwrap_or(1));
        match self.batch {
            None => self.message(first, stamp_ns, body),
            Some(_) => {
                body.extend_from_slice(b"{\"messages\":[");
                for i in 0..u64::from(n) {
                    if i > 0 {
                        body.push(b',');
                    }
                    self.message(first + i, stamp_ns, body);
                }
                body.extend_from_slice(b"]}");
            }
        }
        out.extend_from_slice(&self.head);
        put_u64(out, body.len() as u64);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    }

    /// Whether message number `message` goes to a landline.
    pub fn is_landline(&self, message: u64) -> bool {
        self.dests.is_landline(message)
    }

    fn message(&self, m: u64, stamp_ns: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"to\":\"");
        out.extend_from_slice(self.dests.number(m));
        out.extend_from_slice(&self.after_to);
        let code = splitmix64(m ^ 0x00C0_DE00) % 1_000_000;
        for (i, part) in self.text.iter().enumerate() {
            if i > 0 {
                put_fixed(out, code, 6);
            }
            out.extend_from_slice(part);
        }
        // Over each turn of the destination mix the class mix turns once, so every prefix
        // sees every class.
        let turn = m / self.dests.cycle();
        let class = self.class_cycle[(turn % self.class_cycle.len() as u64) as usize];
        out.extend_from_slice(&self.classes[usize::from(class)]);
        out.extend_from_slice(&self.tail);
        if self.stamp_ref {
            out.extend_from_slice(b",\"client_ref\":\"lg");
            put_u64(out, stamp_ns);
            out.push(b'"');
        }
        out.push(b'}');
    }
}

/// A string as a JSON string literal, quotes included.
fn json(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Decimal digits of `v`.
pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// `v` in exactly `width` digits, zeros in front.
fn put_fixed(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for d in out[start..].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::http::numbers::{MixEntry, parse_mix};
    use serde_json::Value;

    fn dests(mix: &str) -> Destinations {
        let m: Vec<MixEntry> =
            parse_mix(&mix.split(',').map(str::to_owned).collect::<Vec<_>>()).unwrap();
        Destinations::new(&m, 0.0, 20).unwrap()
    }

    fn shape<'a>(classes: &'a [(MessageClass, u32)], batch: Option<u32>) -> Shape<'a> {
        Shape {
            host: "127.0.0.1:8080",
            base_path: "",
            api_key: "k3y",
            from: "GANNET",
            text: "Code \"{code}\" ł {code}",
            classes,
            validity: Some("5m"),
            no_receipt: false,
            callback_url: None,
            batch,
        }
    }

    /// Splits a rendered request into its head and its JSON body, checking the length.
    fn split(req: &[u8]) -> (String, Value) {
        let text = std::str::from_utf8(req).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, body.len());
        (head.to_owned(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn single_message_request() {
        let classes = [(MessageClass::Otp, 1)];
        let r = Renderer::new(&shape(&classes, None), dests("44"));
        let (mut body, mut out) = (Vec::new(), Vec::new());
        r.render(7, 1, 123, &mut body, &mut out);
        let (head, v) = split(&out);
        assert!(head.starts_with("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(head.contains("\r\nAuthorization: Bearer k3y\r\n"));
        assert!(head.contains("\r\nContent-Type: application/json\r\n"));
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(keys, ["to", "from", "text", "class", "validity"]);
        assert!(v["to"].as_str().unwrap().starts_with("+44"));
        assert_eq!(v["from"], "GANNET");
        assert_eq!(v["class"], "otp");
        assert_eq!(v["validity"], "5m");
        let text = v["text"].as_str().unwrap();
        let code = &text[6..12];
        assert!(code.bytes().all(|b| b.is_ascii_digit()), "{text}");
        assert_eq!(text, format!("Code \"{code}\" ł {code}"));
    }

    #[test]
    fn batch_request_and_class_mix() {
        let classes = [(MessageClass::Otp, 3), (MessageClass::Marketing, 1)];
        let mut s = shape(&classes, Some(8));
        s.callback_url = Some("http://127.0.0.1:9/cb");
        let r = Renderer::new(&s, dests("44,91"));
        assert_eq!(r.messages_in(0, Some(20)), 8);
        assert_eq!(r.messages_in(2, Some(20)), 4);
        assert_eq!(r.messages_in(3, Some(20)), 0);
        assert_eq!(r.messages_in(3, None), 8);
        let (mut body, mut out) = (Vec::new(), Vec::new());
        r.render(0, 8, 42, &mut body, &mut out);
        let (head, v) = split(&out);
        assert!(head.starts_with("POST /v1/messages/batch HTTP/1.1\r\n"));
        let msgs = v["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 8);
        let mut classes = std::collections::BTreeMap::<&str, u32>::new();
        for (i, m) in msgs.iter().enumerate() {
            let want = if i % 2 == 0 { "+44" } else { "+91" };
            assert!(m["to"].as_str().unwrap().starts_with(want), "{m}");
            assert_eq!(m["callback_url"], "http://127.0.0.1:9/cb");
            assert_eq!(m["client_ref"], "lg42");
            *classes.entry(m["class"].as_str().unwrap()).or_default() += 1;
        }
        assert_eq!(classes["otp"], 6);
        assert_eq!(classes["marketing"], 2);
    }

    #[test]
    fn numbers_are_written_plainly() {
        let mut out = Vec::new();
        put_u64(&mut out, 0);
        out.push(b' ');
        put_u64(&mut out, u64::MAX);
        out.push(b' ');
        put_fixed(&mut out, 42, 6);
        assert_eq!(out, b"0 18446744073709551615 000042");
    }
}
