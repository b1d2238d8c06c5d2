//! Message text: GSM 03.38, UCS-2, encoding choice, segmentation, transliteration, and the
//! way back (decoding and reassembly of mobile-originated messages).
//!
//! The gateway takes UTF-8 text and needs two answers from here: what the message costs
//! ([`analyze`]: encoding, segments, what forced UCS-2) and the exact bytes for each
//! submit_sm ([`prepare`]). Both follow the same plan, so the count a client is quoted is the
//! count that is sent. Carriers differ in what data_coding 0 means, how long messages are
//! concatenated and which national shift tables they accept: [`TextOptions`] holds that per
//! carrier and deserializes from the carrier config.
//!
//! This module does no I/O, reads no clock and keeps no global state: segment references
//! come from the caller, and the [`Reassembler`] takes `now` as an argument.
//!
//! # Layout
//! - [`gsm7`]: default alphabet and extension table, packing, fill bits.
//! - [`shift`]: national language locking and single shift tables.
//! - [`ucs2`], [`latin1`]: the other text encodings.
//! - [`translit`]: replacements that keep text in GSM 7-bit.
//! - [`segment`]: capacities and where to cut.
//! - [`udh`]: the user data header elements written and read.
//! - [`decode`](mod@decode): data_coding + bytes to text.
//! - [`reassembly`]: multipart mobile-originated messages.

pub mod decode;
pub mod gsm7;
pub mod latin1;
pub mod reassembly;
pub mod segment;
pub mod shift;
pub mod translit;
pub mod ucs2;
pub mod udh;

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use decode::{Decoded, decode};
pub use reassembly::{
    DropReason, Incomplete, MoPart, Pushed, Reassembled, Reassembler, ReassemblyConfig,
};
pub use segment::{Concatenation, SarPartSize, SarValues};
pub use shift::{NationalLanguage, NationalShift};
pub use translit::{Transliterated, transliterate, transliterate_char};

use gsm7::{ASCII_GSM, ASCII_NONE, Charset};
use segment::{Clusters, Unit};

/// The alphabet a message is counted and sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// GSM 7-bit (TS 23.038 §6.2.1), possibly with national shift tables; counted in septets.
    Gsm7,
    /// ISO 8859-1 with data_coding 0x03; counted in octets.
    Latin1,
    /// UCS-2 / UTF-16BE with data_coding 0x08; counted in UTF-16 code units.
    Ucs2,
}

/// Which encoding to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodingChoice {
    /// GSM 7-bit when every character fits, else the cheapest of the allowed alternatives
    /// (national shift tables, Latin-1, transliteration), else UCS-2.
    #[default]
    Auto,
    /// GSM 7-bit (with transliteration and national tables if configured) or an error.
    Gsm7,
    /// Latin-1 or an error.
    Latin1,
    /// Always UCS-2.
    Ucs2,
}

/// What a carrier's SMSC takes data_coding 0x00, "SMSC default alphabet" (SMPP 3.4
/// §5.2.19), to mean, and so how GSM 7-bit text is put on the wire for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAlphabet {
    /// GSM 7-bit, one septet per octet: what most carriers want.
    #[default]
    GsmUnpacked,
    /// GSM 7-bit packed 8 septets into 7 octets (TS 23.038 §6.1.2.1).
    GsmPacked,
    /// ISO 8859-1: GSM-eligible text travels as Latin-1 octets and the SMSC converts it.
    /// Characters in GSM but not in Latin-1 (€, most Greek capitals) cannot go this way.
    Latin1,
    /// ASCII: as `Latin1`, for ASCII characters only.
    Ascii,
    /// Data_coding 0 is not trusted: GSM-eligible ASCII text is sent as IA5 with
    /// data_coding 0x01. Incoming data_coding 0 is read as GSM unpacked.
    Ia5,
}

impl DefaultAlphabet {
    /// Whether GSM text for this carrier travels as GSM septets (so national shift tables
    /// can be used) rather than as Latin-1/ASCII octets.
    fn is_gsm(self) -> bool {
        matches!(
            self,
            DefaultAlphabet::GsmUnpacked | DefaultAlphabet::GsmPacked
        )
    }

    /// Whether a GSM character can travel on this carrier's default alphabet.
    #[inline]
    fn carries(self, c: char) -> bool {
        match self {
            DefaultAlphabet::GsmUnpacked | DefaultAlphabet::GsmPacked => true,
            DefaultAlphabet::Latin1 => latin1::is_latin1(c),
            DefaultAlphabet::Ascii | DefaultAlphabet::Ia5 => c.is_ascii(),
        }
    }
}

/// When to transliterate (see [`translit`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transliterate {
    /// Never: the text is sent as written.
    #[default]
    Off,
    /// When it yields fewer segments than keeping the characters (national tables,
    /// Latin-1, UCS-2).
    WhenCheaper,
    /// Whenever it makes the text fit the GSM default alphabet.
    Always,
}

/// Per-carrier (and, for `encoding` and `transliterate`, per-request) text settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextOptions {
    /// Which encoding to use; `auto` unless the request forces one.
    pub encoding: EncodingChoice,
    /// What data_coding 0 means at this carrier.
    pub default_alphabet: DefaultAlphabet,
    /// How long messages are split.
    pub concatenation: Concatenation,
    /// Part size when `concatenation` is `sar`.
    pub sar_part_size: SarPartSize,
    /// National shift tables to try before leaving GSM 7-bit, in order of preference.
    /// Used only with UDH concatenation (or a single segment) on a GSM default alphabet,
    /// since the tables are named in the UDH of every segment.
    pub national_languages: Vec<NationalLanguage>,
    /// Whether to use data_coding 0x03 (Latin-1, 140 octets) for text that is not GSM but is
    /// all Latin-1, where that costs fewer segments than UCS-2.
    pub latin1: bool,
    /// Transliteration policy.
    pub transliterate: Transliterate,
    /// Most segments one message may take (at most 255, the width of the total field).
    pub max_segments: u8,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            encoding: EncodingChoice::Auto,
            default_alphabet: DefaultAlphabet::GsmUnpacked,
            concatenation: Concatenation::Udh8,
            sar_part_size: SarPartSize::UdhSized,
            national_languages: Vec::new(),
            latin1: false,
            transliterate: Transliterate::Off,
            max_segments: u8::MAX,
        }
    }
}

/// Errors from preparing or decoding text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A forced encoding cannot hold a character.
    #[error("character {ch:?} (U+{:04X}) cannot be encoded as {encoding:?}", u32::from(*ch))]
    NotEncodable {
        /// The first character that does not fit.
        ch: char,
        /// The encoding that was asked for.
        encoding: Encoding,
    },
    /// More segments than the configured or protocol limit.
    #[error("message needs {segments} segments, the limit is {max}")]
    TooManySegments {
        /// Segments the text needs.
        segments: usize,
        /// The limit.
        max: usize,
    },
    /// Text too long for one message_payload TLV (its length field is 16 bits).
    #[error("message_payload would be {octets} octets, the limit is 65535")]
    PayloadTooLong {
        /// Encoded length.
        octets: usize,
    },
    /// A data_coding for binary data, not text (SMPP 3.4 §5.2.19: 0x02, 0x04, 8-bit DCS).
    #[error("data_coding {0:#04x} carries binary data, not text")]
    Binary(u8),
    /// A data_coding this module does not decode (JIS, Cyrillic, Hebrew, KS C 5601...).
    #[error("data_coding {0:#04x} is not supported")]
    UnsupportedDataCoding(u8),
    /// UDHI set but the UDH length runs past the data.
    #[error("malformed user data header")]
    MalformedUdh,
    /// A part whose sequence number is outside 1..=total.
    #[error("segment {seq} of {total} is out of range")]
    BadSegment {
        /// sar_segment_seqnum or UDH sequence number.
        seq: u8,
        /// sar_total_segments or UDH total.
        total: u8,
    },
}

/// The answer to "what does this text cost": cheap enough to run on every API request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// Chosen encoding.
    pub encoding: Encoding,
    /// The data_coding that will be sent.
    pub data_coding: u8,
    /// Segments (submit_sm PDUs, or parts the SMSC will make of a message_payload).
    pub segments: usize,
    /// Length in the encoding's unit: septets (escape pairs count 2), octets or UTF-16 units.
    pub units: usize,
    /// Capacity of one segment in those units (single or concatenated, as used).
    pub per_segment_capacity: usize,
    /// National shift tables used, if any.
    #[serde(skip_serializing_if = "NationalShift::is_none")]
    pub national: NationalShift,
    /// Characters of the text as written that the carrier's GSM 7-bit default alphabet
    /// lacks, in order, without duplicates: what forced national tables, Latin-1,
    /// transliteration or UCS-2. Empty when the text fits the default alphabet as written.
    pub non_gsm: Vec<char>,
    /// Characters replaced by transliteration and their replacements; empty if none.
    pub transliterated: Vec<(char, &'static str)>,
}

/// One submit_sm worth of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// `short_message` (or message_payload when [`Prepared::use_message_payload`]):
    /// UDH, if any, then the encoded text.
    pub short_message: Bytes,
    /// Bits to OR into esm_class: 0x40 (UDHI) when a UDH is present (SMPP 3.4 §5.2.12).
    pub esm_class: u8,
    /// data_coding for this submit_sm.
    pub data_coding: u8,
    /// Values for the SAR TLVs when concatenation is `sar` and there is more than one part.
    pub sar: Option<SarValues>,
}

/// What the gateway puts into submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Chosen encoding.
    pub encoding: Encoding,
    /// data_coding of every segment.
    pub data_coding: u8,
    /// National shift tables used (named in each segment's UDH).
    pub national: NationalShift,
    /// The segments in order.
    pub segments: Vec<Segment>,
    /// True when the one segment goes into the message_payload TLV with an empty
    /// `short_message` (SMPP 3.4 §5.3.2.32).
    pub use_message_payload: bool,
    /// Characters replaced by transliteration.
    pub transliterated: Vec<(char, &'static str)>,
}

/// esm_class UDHI bit (SMPP 3.4 §5.2.12).
pub const ESM_UDHI: u8 = 0x40;
/// data_coding: SMSC default alphabet.
pub const DC_DEFAULT: u8 = 0x00;
/// data_coding: IA5 (CCITT T.50) / ASCII.
pub const DC_IA5: u8 = 0x01;
/// data_coding: Latin-1 (ISO 8859-1).
pub const DC_LATIN1: u8 = 0x03;
/// data_coding: UCS2 (ISO/IEC 10646).
pub const DC_UCS2: u8 = 0x08;

/// The outcome of choosing an encoding: everything both [`analyze`] and [`prepare`] need.
#[derive(Debug, Clone, Copy)]
struct Plan {
    encoding: Encoding,
    shift: NationalShift,
    translit: bool,
    units: usize,
    segments: usize,
    capacity: usize,
}

/// Encoding, segment count and what forced the choice, without building any bytes.
///
/// The pure-GSM ASCII path allocates nothing: a 128-entry table gives each byte's septet
/// cost, and the lists are built only when there is something to put in them.
pub fn analyze(text: &str, opts: &TextOptions) -> Analysis {
    let plan = plan(text, opts);
    let as_written = plan.encoding == Encoding::Gsm7 && !plan.translit && plan.shift.is_none();
    let non_gsm = if as_written {
        Vec::new()
    } else {
        non_gsm(text, opts.default_alphabet)
    };
    let transliterated = if plan.translit {
        translit_list(text, opts.default_alphabet)
    } else {
        Vec::new()
    };
    Analysis {
        encoding: plan.encoding,
        data_coding: data_coding(plan.encoding, opts.default_alphabet),
        segments: plan.segments,
        units: plan.units,
        per_segment_capacity: plan.capacity,
        national: plan.shift,
        non_gsm,
        transliterated,
    }
}

/// The submit_sm contents for `text`. `reference` identifies the concatenated message
/// (the gateway allocates it per destination); the 8-bit UDH uses its low octet.
pub fn prepare(text: &str, opts: &TextOptions, reference: u16) -> Result<Prepared, TextError> {
    let plan = plan(text, opts);
    if let Some(err) = forced_failure(text, opts, &plan) {
        return Err(err);
    }
    let max = usize::from(opts.max_segments);
    if plan.segments > max {
        return Err(TextError::TooManySegments {
            segments: plan.segments,
            max,
        });
    }
    let (text, transliterated): (Cow<'_, str>, _) = if plan.translit {
        let alphabet = opts.default_alphabet;
        match translit::transliterate(text, |c| gsm_default_char(c, alphabet)) {
            Ok(t) => (Cow::Owned(t.text), t.replaced),
            // `plan` only picks transliteration when every character maps.
            Err(ch) => {
                return Err(TextError::NotEncodable {
                    ch,
                    encoding: Encoding::Gsm7,
                });
            }
        }
    } else {
        (Cow::Borrowed(text), Vec::new())
    };
    let text = text.as_ref();
    let dc = data_coding(plan.encoding, opts.default_alphabet);
    let charset = plan.shift.charset();
    let wire = Wire::of(plan.encoding, opts.default_alphabet);

    let method = opts.concatenation;
    let use_message_payload = plan.segments > 1 && method == Concatenation::MessagePayload;
    let ranges = if plan.segments == 1 || use_message_payload {
        std::iter::once(0..text.len()).collect()
    } else {
        split_ranges(text, &plan, &charset)
    };
    debug_assert!(use_message_payload || ranges.len() == plan.segments);
    let total = u8::try_from(ranges.len()).map_err(|_| TextError::TooManySegments {
        segments: ranges.len(),
        max,
    })?;

    let mut segments = Vec::with_capacity(ranges.len());
    for (i, range) in ranges.into_iter().enumerate() {
        let seq = (i + 1) as u8;
        let part = text.get(range).unwrap_or_default();
        let concat = (total > 1 && matches!(method, Concatenation::Udh8 | Concatenation::Udh16))
            .then_some(udh::ConcatRef {
                reference: if method == Concatenation::Udh8 {
                    reference & 0xFF
                } else {
                    reference
                },
                total,
                seq,
                wide: method == Concatenation::Udh16,
            });
        let sar = (total > 1 && method == Concatenation::Sar).then_some(SarValues {
            msg_ref_num: reference,
            total_segments: total,
            segment_seqnum: seq,
        });
        let mut sm = Vec::with_capacity(160);
        udh::write(&mut sm, concat, plan.shift);
        let udh_len = sm.len();
        encode_part(part, wire, &charset, udh_len, &mut sm)?;
        if use_message_payload && sm.len() > usize::from(u16::MAX) {
            return Err(TextError::PayloadTooLong { octets: sm.len() });
        }
        segments.push(Segment {
            short_message: Bytes::from(sm),
            esm_class: if udh_len > 0 { ESM_UDHI } else { 0 },
            data_coding: dc,
            sar,
        });
    }
    Ok(Prepared {
        encoding: plan.encoding,
        data_coding: dc,
        national: plan.shift,
        segments,
        use_message_payload,
        transliterated,
    })
}

/// data_coding for an encoding at a carrier (SMPP 3.4 §5.2.19).
pub fn data_coding(encoding: Encoding, alphabet: DefaultAlphabet) -> u8 {
    match (encoding, alphabet) {
        (Encoding::Gsm7, DefaultAlphabet::Ia5) => DC_IA5,
        (Encoding::Gsm7, _) => DC_DEFAULT,
        (Encoding::Latin1, _) => DC_LATIN1,
        (Encoding::Ucs2, _) => DC_UCS2,
    }
}

/// How the octets of a segment are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    GsmUnpacked,
    GsmPacked,
    Latin1,
    Ascii,
    Ucs2,
}

impl Wire {
    fn of(encoding: Encoding, alphabet: DefaultAlphabet) -> Wire {
        match (encoding, alphabet) {
            (Encoding::Gsm7, DefaultAlphabet::GsmUnpacked) => Wire::GsmUnpacked,
            (Encoding::Gsm7, DefaultAlphabet::GsmPacked) => Wire::GsmPacked,
            (Encoding::Gsm7, DefaultAlphabet::Latin1) => Wire::Latin1,
            (Encoding::Gsm7, DefaultAlphabet::Ascii | DefaultAlphabet::Ia5) => Wire::Ascii,
            (Encoding::Latin1, _) => Wire::Latin1,
            (Encoding::Ucs2, _) => Wire::Ucs2,
        }
    }
}

fn encode_part(
    part: &str,
    wire: Wire,
    charset: &Charset,
    udh_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), TextError> {
    let gsm_err = |ch| TextError::NotEncodable {
        ch,
        encoding: Encoding::Gsm7,
    };
    match wire {
        Wire::GsmUnpacked => charset.encode_into(part, out).map_err(gsm_err),
        Wire::GsmPacked => {
            let mut septets = Vec::with_capacity(part.len());
            charset.encode_into(part, &mut septets).map_err(gsm_err)?;
            gsm7::pack_into(&septets, gsm7::fill_bits(udh_len), out);
            Ok(())
        }
        Wire::Latin1 => latin1::encode_into(part, out).map_err(|ch| TextError::NotEncodable {
            ch,
            encoding: Encoding::Latin1,
        }),
        Wire::Ascii => latin1::encode_ascii_into(part, out).map_err(gsm_err),
        Wire::Ucs2 => {
            ucs2::encode_into(part, out);
            Ok(())
        }
    }
}

fn split_ranges(text: &str, plan: &Plan, charset: &Charset) -> Vec<std::ops::Range<usize>> {
    match plan.encoding {
        Encoding::Gsm7 => {
            // Escape pairs weigh 2 and are one item, so they are never cut.
            let items = text.char_indices().map(|(i, c)| {
                (
                    i,
                    charset.encode_char(c).map_or(1, gsm7::Gsm7Char::septets),
                    false,
                )
            });
            segment::split(text.len(), items, plan.capacity)
        }
        Encoding::Latin1 => {
            let items = text.char_indices().map(|(i, _)| (i, 1, false));
            segment::split(text.len(), items, plan.capacity)
        }
        Encoding::Ucs2 => {
            let mut clusters = Clusters::default();
            let items = text
                .char_indices()
                .map(|(i, c)| (i, c.len_utf16(), clusters.joins(c)));
            segment::split(text.len(), items, plan.capacity)
        }
    }
}

/// The error a forced encoding gets when the plan could not honour it.
fn forced_failure(text: &str, opts: &TextOptions, plan: &Plan) -> Option<TextError> {
    let wanted = match opts.encoding {
        EncodingChoice::Auto | EncodingChoice::Ucs2 => return None,
        EncodingChoice::Gsm7 => Encoding::Gsm7,
        EncodingChoice::Latin1 => Encoding::Latin1,
    };
    if plan.encoding == wanted {
        return None;
    }
    let ch = match wanted {
        Encoding::Latin1 => text.chars().find(|&c| !latin1::is_latin1(c)),
        _ => non_gsm(text, opts.default_alphabet).first().copied(),
    };
    Some(TextError::NotEncodable {
        ch: ch.unwrap_or(char::REPLACEMENT_CHARACTER),
        encoding: wanted,
    })
}

/// Whether `c` is in the GSM default alphabet or extension table and travels on `alphabet`.
#[inline]
fn gsm_default_char(c: char, alphabet: DefaultAlphabet) -> bool {
    alphabet.carries(c) && Charset::DEFAULT.encode_char(c).is_some()
}

/// Characters that keep `text` out of the carrier's GSM 7-bit default alphabet.
fn non_gsm(text: &str, alphabet: DefaultAlphabet) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if !gsm_default_char(c, alphabet) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

fn translit_list(text: &str, alphabet: DefaultAlphabet) -> Vec<(char, &'static str)> {
    let mut out: Vec<(char, &'static str)> = Vec::new();
    for c in text.chars() {
        if gsm_default_char(c, alphabet) || out.iter().any(|&(k, _)| k == c) {
            continue;
        }
        if let Some(r) = translit::transliterate_char(c) {
            out.push((c, r));
        }
    }
    out
}

/// `(outside the alphabet, escape pair)` for one byte, branch-free so that loops over it
/// vectorize. Bytes from 0x7F up are "outside" (DEL, or part of a multi-byte character
/// that the caller handles separately).
#[inline(always)]
fn classify_ascii(b: u8) -> (bool, bool) {
    let ff = b == 0x0C;
    let control_ok = (b == b'\n') | (b == b'\r') | ff;
    let out = ((b < 0x20) & !control_ok) | (b == b'`') | (b >= 0x7F);
    let escaped = ((b | 0x20).wrapping_sub(0x7B) < 4) | ff;
    (out, escaped)
}

/// Septets of `text` in the default tables on `alphabet`, and whether any escape pair is
/// used; `None` if a character does not fit.
#[inline]
fn gsm_default_septets(text: &str, alphabet: DefaultAlphabet) -> Option<(usize, bool)> {
    let bytes = text.as_bytes();
    // Hot path: ASCII classified by arithmetic alone, which the compiler turns into SIMD
    // compares (a table load per byte would not vectorize). Escape pairs are `[\]^` and
    // `{|}~` (0x5B..=0x5E with bit 5 set lands on 0x7B..=0x7E) and form feed; outside the
    // alphabet are the other controls, '`' and DEL. Non-ASCII bytes count as "bad" here and
    // send the text to the per-character path below.
    let mut bad = 0u8;
    let mut ext = 0usize;
    let mut chunks = bytes.chunks_exact(32);
    for chunk in &mut chunks {
        // Byte-wide accumulators over a fixed-size block: 32 lanes of SIMD compares.
        let (mut b_bad, mut b_ext) = (0u8, 0u8);
        for &b in chunk {
            let (out, escaped) = classify_ascii(b);
            b_bad |= u8::from(out);
            b_ext += u8::from(escaped);
        }
        bad |= b_bad;
        ext += usize::from(b_ext);
    }
    for &b in chunks.remainder() {
        let (out, escaped) = classify_ascii(b);
        bad |= u8::from(out);
        ext += usize::from(escaped);
    }
    if bad == 0 {
        return Some((bytes.len() + ext, ext > 0));
    }
    let mut sum = 0;
    let mut has_ext = false;
    for c in text.chars() {
        let n = if c.is_ascii() {
            match ASCII_GSM[c as usize] {
                ASCII_NONE => return None,
                v => 1 + usize::from(v >> 7),
            }
        } else {
            if !alphabet.carries(c) {
                return None;
            }
            Charset::DEFAULT.encode_char(c)?.septets()
        };
        has_ext |= n == 2;
        sum += n;
    }
    Some((sum, has_ext))
}

fn plan(text: &str, opts: &TextOptions) -> Plan {
    let alphabet = opts.default_alphabet;
    let method = opts.concatenation;
    let sar = opts.sar_part_size;
    let gsm_caps = segment::capacities(Unit::Septet, method, sar, NationalShift::NONE);

    let ucs2_plan = || {
        let (single, multi) = segment::capacities(Unit::Utf16, method, sar, NationalShift::NONE);
        // Below U+0300 nothing joins a cluster and nothing needs a surrogate pair, so the
        // count is a division.
        let (units, plain) = text.chars().fold((0, true), |(n, plain), c| {
            (n + c.len_utf16(), plain && u32::from(c) < 0x0300)
        });
        let segments = if units <= single {
            1
        } else if plain {
            units.div_ceil(multi)
        } else {
            let mut clusters = Clusters::default();
            segment::count(
                text.chars().map(|c| (c.len_utf16(), clusters.joins(c))),
                multi,
            )
        };
        Plan {
            encoding: Encoding::Ucs2,
            shift: NationalShift::NONE,
            translit: false,
            units,
            segments,
            capacity: if segments == 1 { single } else { multi },
        }
    };
    if opts.encoding == EncodingChoice::Ucs2 {
        return ucs2_plan();
    }
    let latin1_plan = || {
        if !text.chars().all(latin1::is_latin1) {
            return None;
        }
        let (single, multi) = segment::capacities(Unit::Octet, method, sar, NationalShift::NONE);
        let units = text.chars().count();
        let segments = if units <= single {
            1
        } else {
            units.div_ceil(multi)
        };
        Some(Plan {
            encoding: Encoding::Latin1,
            shift: NationalShift::NONE,
            translit: false,
            units,
            segments,
            capacity: if segments == 1 { single } else { multi },
        })
    };
    if opts.encoding == EncodingChoice::Latin1 {
        // Falls back to UCS-2 only for `forced_failure` to report.
        return latin1_plan().unwrap_or_else(ucs2_plan);
    }

    // 1. The default alphabet: nothing beats it when every character fits.
    if let Some((units, ext)) = gsm_default_septets(text, alphabet) {
        return gsm_plan(
            text,
            units,
            ext,
            gsm_caps,
            NationalShift::NONE,
            false,
            &Charset::DEFAULT,
        );
    }

    // 2. Alternatives, cheapest first; ties go to the earlier (more faithful) one.
    let mut best: Option<Plan> = None;
    let consider = |p: Plan, best: &mut Option<Plan>| {
        if best.is_none_or(|b| p.segments < b.segments) {
            *best = Some(p);
        }
    };
    let translit = match opts.transliterate {
        Transliterate::Off => None,
        _ => translit_plan(text, alphabet, gsm_caps),
    };
    if opts.transliterate == Transliterate::Always
        && let Some(p) = translit
    {
        return p;
    }
    if alphabet.is_gsm() {
        for &lang in &opts.national_languages {
            for shift in NationalShift::candidates(lang) {
                let charset = shift.charset();
                let Ok(units) = charset.septets(text) else {
                    continue;
                };
                let caps = segment::capacities(Unit::Septet, method, sar, shift);
                let p = gsm_plan(text, units, true, caps, shift, false, &charset);
                // The tables are named in the UDH, which SAR and message_payload parts lack.
                let udh_method = matches!(method, Concatenation::Udh8 | Concatenation::Udh16);
                if udh_method || p.segments == 1 {
                    consider(p, &mut best);
                }
            }
        }
    }
    // A forced GSM encoding looks no further than national tables and transliteration.
    if opts.encoding == EncodingChoice::Auto {
        if opts.latin1
            && let Some(p) = latin1_plan()
        {
            consider(p, &mut best);
        }
        consider(ucs2_plan(), &mut best);
    }
    if let Some(p) = translit {
        // Transliteration loses information, so it must win outright; with a forced GSM
        // encoding it is the only way left.
        let forced = opts.encoding == EncodingChoice::Gsm7
            && best.is_none_or(|b| b.encoding != Encoding::Gsm7);
        if forced || best.is_none_or(|b| p.segments < b.segments) {
            return p;
        }
    }
    best.unwrap_or_else(ucs2_plan)
}

/// Counts segments for GSM 7-bit text of `units` septets.
fn gsm_plan(
    text: &str,
    units: usize,
    ext: bool,
    (single, multi): (usize, usize),
    shift: NationalShift,
    translit: bool,
    charset: &Charset,
) -> Plan {
    let segments = if units <= single {
        1
    } else if !ext {
        units.div_ceil(multi)
    } else {
        let items = text
            .chars()
            .map(|c| (charset.encode_char(c).map_or(1, |g| g.septets()), false));
        segment::count(items, multi)
    };
    Plan {
        encoding: Encoding::Gsm7,
        shift,
        translit,
        units,
        segments,
        capacity: if segments == 1 { single } else { multi },
    }
}

/// The plan for the transliterated text, without building it; `None` if some character
/// has no replacement.
fn translit_plan(text: &str, alphabet: DefaultAlphabet, caps: (usize, usize)) -> Option<Plan> {
    let weight = |c: char| -> Option<usize> {
        if alphabet.carries(c)
            && let Some(g) = Charset::DEFAULT.encode_char(c)
        {
            return Some(g.septets());
        }
        let r = translit::transliterate_char(c)?;
        r.chars()
            .map(|rc| {
                Charset::DEFAULT
                    .encode_char(rc)
                    .map(gsm7::Gsm7Char::septets)
            })
            .sum()
    };
    let mut units = 0;
    for c in text.chars() {
        units += weight(c)?;
    }
    let (single, multi) = caps;
    let segments = if units <= single {
        1
    } else {
        // Per replacement character, as `prepare` will see the transliterated text.
        let items = text.chars().flat_map(|c| {
            let kept = alphabet.carries(c) && Charset::DEFAULT.encode_char(c).is_some();
            let repl = if kept {
                None
            } else {
                translit::transliterate_char(c)
            };
            let (one, many) = match repl {
                Some(r) => (None, Some(r.chars())),
                None => (Some(c), None),
            };
            one.into_iter().chain(many.into_iter().flatten())
        });
        let items = items.map(|c| {
            (
                Charset::DEFAULT
                    .encode_char(c)
                    .map_or(1, gsm7::Gsm7Char::septets),
                false,
            )
        });
        segment::count(items, multi)
    };
    Some(Plan {
        encoding: Encoding::Gsm7,
        shift: NationalShift::NONE,
        translit: true,
        units,
        segments,
        capacity: if segments == 1 { single } else { multi },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_ascii_fast_path_matches_char_path() {
        let o = TextOptions::default();
        for s in [
            "",
            "hello",
            "a{b}",
            "x".repeat(161).as_str(),
            "[".repeat(80).as_str(),
        ] {
            let fast = gsm_default_septets(s, o.default_alphabet);
            let slow: Option<usize> = s
                .chars()
                .map(|c| Charset::DEFAULT.encode_char(c).map(|g| g.septets()))
                .sum();
            assert_eq!(fast.map(|f| f.0), slow, "{s:?}");
        }
        assert_eq!(gsm_default_septets("a`b", o.default_alphabet), None);
    }

    #[test]
    fn arithmetic_classification_matches_table_for_every_ascii_byte() {
        for b in 0u8..0x80 {
            let s = char::from(b).to_string();
            let expect = Charset::DEFAULT
                .encode_char(char::from(b))
                .map(|g| (g.septets(), g.septets() == 2));
            assert_eq!(
                gsm_default_septets(&s, DefaultAlphabet::GsmUnpacked),
                expect,
                "{b:#04x}"
            );
            // And inside a longer run, where the loop may be vectorized.
            let long = s.repeat(37);
            assert_eq!(
                gsm_default_septets(&long, DefaultAlphabet::GsmUnpacked),
                expect.map(|(n, e)| (n * 37, e)),
                "{b:#04x}"
            );
        }
        assert_eq!(
            gsm_default_septets("é€", DefaultAlphabet::GsmUnpacked),
            Some((3, true))
        );
        assert_eq!(gsm_default_septets("é", DefaultAlphabet::Ascii), None);
    }

    #[test]
    fn empty_text_is_one_segment() {
        let a = analyze("", &TextOptions::default());
        assert_eq!((a.encoding, a.segments, a.units), (Encoding::Gsm7, 1, 0));
        let p = prepare("", &TextOptions::default(), 1).unwrap();
        assert_eq!(p.segments.len(), 1);
        assert!(p.segments[0].short_message.is_empty());
    }
}
