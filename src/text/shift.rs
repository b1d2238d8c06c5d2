//! National language shift tables (3GPP TS 23.038 §6.2.1.2.4 and Annex A).
//!
//! A message names its tables in the user data header: IE 0x25 for the locking shift table
//! (replaces the default alphabet), IE 0x24 for the single shift table (replaces the default
//! extension table), each with a one-octet national language identifier (TS 23.040
//! §9.2.3.24.15-16, TS 23.038 Table 6.2.1.2.4.1). Both stay in force for the whole
//! segment, so every segment of a concatenated message repeats them.
//!
//! Only Turkish, Spanish and Portuguese are built in: they are the Latin-script tables whose
//! handsets support is common. Other identifiers decode with the default tables.

use serde::{Deserialize, Serialize};

use super::gsm7::{COMMON_SHIFT, Charset, DEFAULT, EXTENSION, Table, shift_table};

/// A national language with a shift table in TS 23.038 Annex A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NationalLanguage {
    /// Locking (A.3.1) and single (A.2.1) shift tables.
    Turkish,
    /// Single shift table only (A.2.2).
    Spanish,
    /// Locking (A.3.3) and single (A.2.3) shift tables.
    Portuguese,
}

impl NationalLanguage {
    /// Every built-in language.
    pub const ALL: [NationalLanguage; 3] = [
        NationalLanguage::Turkish,
        NationalLanguage::Spanish,
        NationalLanguage::Portuguese,
    ];

    /// National language identifier (TS 23.038 Table 6.2.1.2.4.1).
    pub fn id(self) -> u8 {
        match self {
            NationalLanguage::Turkish => 0x01,
            NationalLanguage::Spanish => 0x02,
            NationalLanguage::Portuguese => 0x03,
        }
    }

    /// The language for an identifier, `None` for the default (0) and unsupported ones.
    pub fn from_id(id: u8) -> Option<NationalLanguage> {
        match id {
            0x01 => Some(NationalLanguage::Turkish),
            0x02 => Some(NationalLanguage::Spanish),
            0x03 => Some(NationalLanguage::Portuguese),
            _ => None,
        }
    }

    /// The locking shift table; Spanish has none (Annex A.3 defines none for it).
    pub fn locking_table(self) -> Option<&'static Table> {
        match self {
            NationalLanguage::Turkish => Some(&TURKISH_LOCKING),
            NationalLanguage::Spanish => None,
            NationalLanguage::Portuguese => Some(&PORTUGUESE_LOCKING),
        }
    }

    /// The single shift table.
    pub fn single_table(self) -> &'static Table {
        match self {
            NationalLanguage::Turkish => &TURKISH_SINGLE,
            NationalLanguage::Spanish => &SPANISH_SINGLE,
            NationalLanguage::Portuguese => &PORTUGUESE_SINGLE,
        }
    }
}

/// Which national tables a message uses; `None` is the default table for that role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct NationalShift {
    /// Locking shift table (UDH IE 0x25).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locking: Option<NationalLanguage>,
    /// Single shift table (UDH IE 0x24).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single: Option<NationalLanguage>,
}

impl NationalShift {
    /// Default tables only.
    pub const NONE: NationalShift = NationalShift {
        locking: None,
        single: None,
    };

    /// True when no national table is used.
    pub fn is_none(&self) -> bool {
        self.locking.is_none() && self.single.is_none()
    }

    /// Number of UDH information elements this needs (0, 1 or 2), 3 octets each.
    pub fn ie_count(&self) -> usize {
        usize::from(self.locking.is_some()) + usize::from(self.single.is_some())
    }

    /// Octets the IEs add to the UDH (without the UDHL octet).
    pub fn udh_octets(&self) -> usize {
        3 * self.ie_count()
    }

    /// The tables to encode and decode with. A locking language without a locking table
    /// (Spanish) falls back to the default alphabet.
    pub fn charset(&self) -> Charset {
        let locking = self
            .locking
            .and_then(NationalLanguage::locking_table)
            .unwrap_or(&DEFAULT);
        let single = self
            .single
            .map(NationalLanguage::single_table)
            .unwrap_or(&EXTENSION);
        Charset::new(locking, single)
    }

    /// The combinations worth trying for one language, cheapest header first: single shift
    /// only (keeps every default character), locking only, then both.
    pub(crate) fn candidates(lang: NationalLanguage) -> impl Iterator<Item = NationalShift> {
        let has_locking = lang.locking_table().is_some();
        [
            Some(NationalShift {
                locking: None,
                single: Some(lang),
            }),
            has_locking.then_some(NationalShift {
                locking: Some(lang),
                single: None,
            }),
            has_locking.then_some(NationalShift {
                locking: Some(lang),
                single: Some(lang),
            }),
        ]
        .into_iter()
        .flatten()
    }
}

/// TS 23.038 A.3.1: Turkish locking shift table. Differs from the default alphabet at
/// 0x04 €, 0x07 ı, 0x0B Ğ, 0x0C ğ, 0x1C Ş, 0x1D ş, 0x40 İ, 0x60 ç.
pub static TURKISH_LOCKING: Table = Table::new([
    '@', '£', '$', '¥', '€', 'é', 'ù', 'ı', 'ò', 'Ç', '\n', 'Ğ', 'ğ', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\0', 'Ş', 'ş', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    'İ', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    'ç', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
]);

/// TS 23.038 A.3.3: Portuguese locking shift table. Replaces most Greek capitals and
/// several Nordic letters with Portuguese accented letters and moves `^ \ | ~` and `` ` ``
/// into the locking table.
pub static PORTUGUESE_LOCKING: Table = Table::new([
    '@', '£', '$', '¥', 'ê', 'é', 'ú', 'í', 'ó', 'ç', '\n', 'Ô', 'ô', '\r', 'Á', 'á', //
    'Δ', '_', 'ª', 'Ç', 'À', '∞', '^', '\\', '€', 'Ó', '|', '\0', 'Â', 'â', 'Ê', 'É', //
    ' ', '!', '"', '#', 'º', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    'Í', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ã', 'Õ', 'Ú', 'Ü', '§', //
    '~', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ã', 'õ', '`', 'ü', 'à', //
]);

/// TS 23.038 A.2.1: Turkish single shift table.
pub static TURKISH_SINGLE: Table = Table::new(national_single(&[
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
    (0x73, 'ş'),
]));

/// TS 23.038 A.2.2: Spanish single shift table.
pub static SPANISH_SINGLE: Table = Table::new(national_single(&[
    (0x09, 'ç'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
]));

/// TS 23.038 A.2.3: Portuguese single shift table.
pub static PORTUGUESE_SINGLE: Table = Table::new(national_single(&[
    (0x05, 'ê'),
    (0x09, 'ç'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, 'Φ'),
    (0x13, 'Γ'),
    (0x15, 'Ω'),
    (0x16, 'Π'),
    (0x17, 'Ψ'),
    (0x18, 'Σ'),
    (0x19, 'Θ'),
    (0x1F, 'Ê'),
    (0x41, 'À'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x61, 'Â'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7F, 'â'),
]));

/// The entries shared with the default extension table plus a language's own ones.
const fn national_single(own: &[(u8, char)]) -> [char; 128] {
    let mut t = shift_table(&COMMON_SHIFT);
    let mut i = 0;
    while i < own.len() {
        t[own[i].0 as usize] = own[i].1;
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for lang in NationalLanguage::ALL {
            assert_eq!(NationalLanguage::from_id(lang.id()), Some(lang));
        }
        assert_eq!(NationalLanguage::from_id(0), None);
        assert_eq!(NationalLanguage::from_id(6), None); // Hindi: not built in
    }

    #[test]
    fn candidates_per_language() {
        let es: Vec<_> = NationalShift::candidates(NationalLanguage::Spanish).collect();
        assert_eq!(
            es,
            vec![NationalShift {
                locking: None,
                single: Some(NationalLanguage::Spanish)
            }]
        );
        assert_eq!(
            NationalShift::candidates(NationalLanguage::Turkish).count(),
            3
        );
    }
}
