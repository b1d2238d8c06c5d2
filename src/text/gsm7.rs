//! GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1, §6.2.1.1),
//! septet packing (§6.1.2.1) and the fill bits that follow a user data header
//! (3GPP TS 23.040 §9.2.3.24).
//!
//! A table is an array of 128 `char`s indexed by septet; `'\0'` marks an unassigned
//! position (0x1B, the escape, in a locking table; every empty slot of a single-shift table).
//! No table of TS 23.038 maps anything to U+0000, so the sentinel cannot collide.
//! Each table carries a reverse index built at compile time, so char → septet is a binary
//! search and the ASCII hot path is a single array load.

/// The escape septet: the next septet is looked up in the single-shift (extension) table.
/// TS 23.038 §6.2.1.1.
pub const ESC: u8 = 0x1B;

/// Carriage return, used as the pad septet when 7 spare bits would otherwise be read as `@`.
/// TS 23.038 §6.1.2.3.1.
const CR: u8 = 0x0D;

/// One GSM 7-bit character as it goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gsm7Char {
    /// One septet from the locking (default or national locking) table.
    Basic(u8),
    /// `ESC` followed by this septet from the single-shift table: two septets.
    Escaped(u8),
}

impl Gsm7Char {
    /// Septets this character occupies: 1, or 2 for an escape pair.
    #[inline]
    pub fn septets(self) -> usize {
        match self {
            Gsm7Char::Basic(_) => 1,
            Gsm7Char::Escaped(_) => 2,
        }
    }
}

/// A 128-entry GSM 7-bit code table with its reverse index.
#[derive(Debug)]
pub struct Table {
    chars: [char; 128],
    /// `(code point, septet)` sorted by code point; unused slots hold `u32::MAX` at the end.
    index: [(u32, u8); 128],
}

impl Table {
    /// Builds the table and its sorted reverse index at compile time.
    pub(crate) const fn new(chars: [char; 128]) -> Table {
        let mut index = [(u32::MAX, 0u8); 128];
        let mut i = 0;
        while i < 128 {
            if chars[i] != '\0' {
                index[i] = (chars[i] as u32, i as u8);
            }
            i += 1;
        }
        // Insertion sort: 128 entries, once, at compile time.
        let mut i = 1;
        while i < 128 {
            let mut j = i;
            while j > 0 && index[j - 1].0 > index[j].0 {
                let t = index[j - 1];
                index[j - 1] = index[j];
                index[j] = t;
                j -= 1;
            }
            i += 1;
        }
        Table { chars, index }
    }

    /// The character at `septet`, `None` for an unassigned slot or a value above 0x7F.
    #[inline]
    pub fn decode(&self, septet: u8) -> Option<char> {
        match self.chars.get(usize::from(septet)) {
            Some(&c) if c != '\0' => Some(c),
            _ => None,
        }
    }

    /// The septet for `c`, `None` when the table does not hold it.
    #[inline]
    pub fn encode(&self, c: char) -> Option<u8> {
        if c == '\0' {
            return None;
        }
        let key = c as u32;
        self.index
            .binary_search_by_key(&key, |e| e.0)
            .ok()
            .and_then(|i| self.index.get(i))
            .map(|e| e.1)
    }

    /// All 128 positions, `'\0'` where unassigned (for tests and tooling).
    pub fn chars(&self) -> &[char; 128] {
        &self.chars
    }
}

/// TS 23.038 §6.2.1: the GSM 7-bit default alphabet. 0x1B is the escape to the extension table.
pub static DEFAULT: Table = Table::new([
    // 0x00
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    // 0x10: Greek capitals; 0x1B is ESC.
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\0', 'Æ', 'æ', 'ß', 'É',
    // 0x20: 0x24 is the currency sign ¤, not `$`.
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    // 0x60
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
]);

/// Builds a single-shift table from its assigned `(septet, char)` pairs.
pub(crate) const fn shift_table(entries: &[(u8, char)]) -> [char; 128] {
    let mut t = ['\0'; 128];
    let mut i = 0;
    while i < entries.len() {
        t[entries[i].0 as usize] = entries[i].1;
        i += 1;
    }
    t
}

/// The ten entries every single-shift table of TS 23.038 repeats (§6.2.1.1 and Annex A.2).
pub(crate) const COMMON_SHIFT: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed (page break)
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// TS 23.038 §6.2.1.1: the default extension table, reached through `ESC`. 0x0D (CR2) and
/// 0x1B (a further extension) are reserved and map to no character.
pub static EXTENSION: Table = Table::new(shift_table(&COMMON_SHIFT));

/// Cost class of an ASCII byte in the default alphabet: 0x00..=0x7F the septet,
/// `0x80 | septet` an extension character, [`ASCII_NONE`] not encodable.
pub(crate) static ASCII_GSM: [u8; 128] = ascii_table();

/// Marks an ASCII byte with no GSM 7-bit representation (controls, `` ` ``, DEL).
pub(crate) const ASCII_NONE: u8 = 0xFF;

const fn ascii_table() -> [u8; 128] {
    let mut t = [ASCII_NONE; 128];
    let mut s = 0;
    while s < 128 {
        let c = DEFAULT.chars[s];
        if c != '\0' && (c as u32) < 128 {
            t[c as usize] = s as u8;
        }
        let e = EXTENSION.chars[s];
        if e != '\0' && (e as u32) < 128 {
            t[e as usize] = 0x80 | s as u8;
        }
        s += 1;
    }
    t
}

/// Default alphabet: char → septet. Extension characters are not found here.
pub fn char_to_septet(c: char) -> Option<u8> {
    DEFAULT.encode(c)
}

/// Default alphabet: septet → char. `None` for 0x1B (the escape) and values above 0x7F.
pub fn septet_to_char(septet: u8) -> Option<char> {
    DEFAULT.decode(septet)
}

/// Extension table: char → the septet that follows `ESC`.
pub fn ext_char_to_septet(c: char) -> Option<u8> {
    EXTENSION.encode(c)
}

/// Extension table: the septet after `ESC` → char.
pub fn ext_septet_to_char(septet: u8) -> Option<char> {
    EXTENSION.decode(septet)
}

/// A locking table paired with a single-shift table: what one message is encoded with.
#[derive(Debug, Clone, Copy)]
pub struct Charset {
    locking: &'static Table,
    single: &'static Table,
    /// True for the default pair, which takes the ASCII fast path.
    default: bool,
}

impl Charset {
    /// The default alphabet with the default extension table.
    pub const DEFAULT: Charset = Charset {
        locking: &DEFAULT,
        single: &EXTENSION,
        default: true,
    };

    pub(crate) fn new(locking: &'static Table, single: &'static Table) -> Charset {
        let default = std::ptr::eq(locking, &DEFAULT) && std::ptr::eq(single, &EXTENSION);
        Charset {
            locking,
            single,
            default,
        }
    }

    /// The locking-table character first (one septet), then the single-shift one (two).
    #[inline]
    pub fn encode_char(&self, c: char) -> Option<Gsm7Char> {
        if self.default && c.is_ascii() {
            let v = ASCII_GSM[c as usize];
            return match v {
                ASCII_NONE => None,
                v if v & 0x80 != 0 => Some(Gsm7Char::Escaped(v & 0x7F)),
                v => Some(Gsm7Char::Basic(v)),
            };
        }
        if let Some(s) = self.locking.encode(c) {
            return Some(Gsm7Char::Basic(s));
        }
        self.single.encode(c).map(Gsm7Char::Escaped)
    }

    /// Appends the unpacked septets of `text` (one septet per octet, escape pairs as
    /// `0x1B, code`). On failure returns the first character the tables do not hold.
    pub fn encode_into(&self, text: &str, out: &mut Vec<u8>) -> Result<(), char> {
        for c in text.chars() {
            match self.encode_char(c) {
                Some(Gsm7Char::Basic(s)) => out.push(s),
                Some(Gsm7Char::Escaped(s)) => out.extend_from_slice(&[ESC, s]),
                None => return Err(c),
            }
        }
        Ok(())
    }

    /// Septets for `text`, or the first character that does not fit.
    pub fn septets(&self, text: &str) -> Result<usize, char> {
        let mut n = 0;
        for c in text.chars() {
            n += self.encode_char(c).ok_or(c)?.septets();
        }
        Ok(n)
    }

    /// Decodes unpacked septets (bit 7 of each octet is ignored).
    ///
    /// TS 23.038 §6.2.1.1: an escape followed by a code the single-shift table does not
    /// define shows the locking-table character for that code; `ESC ESC` (reserved for a
    /// further extension table) shows a space. A dangling escape at the end is dropped.
    pub fn decode(&self, septets: &[u8]) -> String {
        let mut out = String::with_capacity(septets.len());
        self.decode_into(septets, &mut out);
        out
    }

    pub(crate) fn decode_into(&self, septets: &[u8], out: &mut String) {
        let mut it = septets.iter().map(|s| s & 0x7F);
        while let Some(s) = it.next() {
            if s != ESC {
                // Every position but 0x1B is assigned in a locking table.
                out.push(self.locking.decode(s).unwrap_or(' '));
                continue;
            }
            match it.next() {
                Some(ESC) => out.push(' '),
                Some(e) => match self.single.decode(e) {
                    Some(c) => out.push(c),
                    None => out.push(self.locking.decode(e).unwrap_or(' ')),
                },
                None => {}
            }
        }
    }
}

/// Fill bits after a user data header of `udh_octets` octets (UDHL included), so that the
/// first character starts on a septet boundary. TS 23.040 §9.2.3.24 (and §9.2.3.16 for the
/// resulting TP-UDL in septets).
#[inline]
pub fn fill_bits(udh_octets: usize) -> u8 {
    ((7 - (udh_octets * 8) % 7) % 7) as u8
}

/// Septets of user data that a UDH of `udh_octets` octets leaves in 140 octets.
/// `floor((140 - udh) * 8 / 7)`: 160 with none, 153 with 6 octets, 152 with 7.
#[inline]
pub fn capacity_septets(udh_octets: usize) -> usize {
    (140usize.saturating_sub(udh_octets)) * 8 / 7
}

/// Packs septets least significant bit first (TS 23.038 §6.1.2.1.1), starting `fill_bits`
/// bits into the first octet, and appends the octets to `out`.
///
/// Octet counts are all an SMPP `short_message` carries, so the receiver derives the
/// septet count as `floor(bits / 7)`. When that would read the 7 spare bits of the last
/// octet as an extra `@`, a CR is packed into them instead (TS 23.038 §6.1.2.3.1); it never
/// adds an octet. The second CR that section asks for when the text itself ends with CR on
/// an octet boundary is not added: it could push a full part past 140 octets, and the
/// SMSC's septet count is right without it.
pub fn pack_into(septets: &[u8], fill_bits: u8, out: &mut Vec<u8>) {
    let fill = usize::from(fill_bits % 7);
    let bits = fill + septets.len() * 7;
    let spare = (8 - bits % 8) % 8;
    let pad = spare == 7;
    let total_bits = bits + if pad { 7 } else { 0 };
    let start = out.len();
    out.resize(start + total_bits.div_ceil(8), 0);
    let buf = &mut out[start..];
    let mut pos = fill;
    let pad_septet = pad.then_some(CR);
    for s in septets.iter().copied().chain(pad_septet) {
        let s = u16::from(s & 0x7F) << (pos % 8);
        let i = pos / 8;
        buf[i] |= s as u8;
        if let Some(next) = buf.get_mut(i + 1) {
            *next |= (s >> 8) as u8;
        }
        pos += 7;
    }
}

/// Packs septets into a new vector; see [`pack_into`].
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(septets.len() * 7 / 8 + 2);
    pack_into(septets, fill_bits, &mut out);
    out
}

/// Unpacks octets into septets, skipping `fill_bits` leading bits. The count is
/// `floor((8 * len - fill) / 7)`. A CR that fills the last 7 bits exactly is taken as the
/// pad of [`pack_into`] and dropped; a CR the sender meant in that one position cannot be
/// told apart from it and is dropped too.
pub fn unpack(octets: &[u8], fill_bits: u8) -> Vec<u8> {
    let fill = usize::from(fill_bits % 7);
    let bits = (octets.len() * 8).saturating_sub(fill);
    let count = bits / 7;
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let pos = fill + k * 7;
        let i = pos / 8;
        let lo = u16::from(octets.get(i).copied().unwrap_or(0));
        let hi = u16::from(octets.get(i + 1).copied().unwrap_or(0));
        out.push((((hi << 8 | lo) >> (pos % 8)) & 0x7F) as u8);
    }
    // Exactly full octets ending in CR: the last 7 bits were spare and hold the pad CR.
    if bits % 7 == 0 && out.last() == Some(&CR) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_index_is_complete() {
        for s in 0u8..128 {
            if let Some(c) = DEFAULT.decode(s) {
                assert_eq!(DEFAULT.encode(c), Some(s), "{c:?}");
            }
            if let Some(c) = EXTENSION.decode(s) {
                assert_eq!(EXTENSION.encode(c), Some(s), "{c:?}");
            }
        }
        assert_eq!(DEFAULT.decode(ESC), None);
        assert_eq!(DEFAULT.encode('\0'), None);
    }

    #[test]
    fn ascii_table_matches_tables() {
        for b in 0u8..128 {
            let c = char::from(b);
            let expect = match (DEFAULT.encode(c), EXTENSION.encode(c)) {
                (Some(s), _) => s,
                (None, Some(e)) => 0x80 | e,
                (None, None) => ASCII_NONE,
            };
            assert_eq!(ASCII_GSM[usize::from(b)], expect, "{c:?}");
        }
        assert_eq!(ASCII_GSM[usize::from(b'`')], ASCII_NONE);
        assert_eq!(ASCII_GSM[usize::from(b'@')], 0x00);
        assert_eq!(ASCII_GSM[usize::from(b'{')], 0x80 | 0x28);
    }

    #[test]
    fn fill_bits_and_capacity() {
        assert_eq!(fill_bits(0), 0);
        assert_eq!(fill_bits(6), 1);
        assert_eq!(fill_bits(7), 0);
        assert_eq!(fill_bits(4), 3);
        assert_eq!(capacity_septets(0), 160);
        assert_eq!(capacity_septets(6), 153);
        assert_eq!(capacity_septets(7), 152);
    }

    #[test]
    fn pad_cr_only_when_seven_spare_bits() {
        // 7 septets = 49 bits: 7 spare bits in the 7th octet, so a pad CR is added.
        let packed = pack(&[0x41; 7], 0);
        assert_eq!(packed.len(), 7);
        assert_eq!(packed[6] >> 1, CR);
        assert_eq!(unpack(&packed, 0), vec![0x41; 7]);
        // 8 septets fill 7 octets exactly: no pad.
        assert_eq!(pack(&[0x41; 8], 0).len(), 7);
        assert_eq!(unpack(&pack(&[0x41; 8], 0), 0), vec![0x41; 8]);
    }
}
