//! Segmentation: how many parts a text takes and where it is cut.
//!
//! Capacities come from 140 octets of user data (TS 23.040 §9.2.3.16) less the UDH:
//!
//! | encoding | single | 8-bit ref UDH (6) | 16-bit ref UDH (7) |
//! |----------|--------|-------------------|--------------------|
//! | GSM 7-bit (septets) | 160 | 153 | 152 |
//! | UCS-2 (UTF-16 units) | 70 | 67 | 66 |
//! | 8-bit / Latin-1 (octets) | 140 | 134 | 133 |
//!
//! Each national language element adds 3 octets to the UDH (so 155 single with one, 149
//! with 8-bit concatenation and one). A GSM escape pair and a UTF-16 surrogate pair are never
//! cut; a UCS-2 cut also avoids separating a combining mark, variation selector, emoji
//! modifier or ZWJ sequence from its base when the cluster fits in one part.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::gsm7::capacity_septets;
use super::shift::NationalShift;
use super::udh;

/// How a message longer than one segment is sent, chosen per carrier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concatenation {
    /// UDH with the 8-bit reference element (IEI 0x00, 6-octet UDH), esm_class UDHI.
    #[default]
    Udh8,
    /// UDH with the 16-bit reference element (IEI 0x08, 7-octet UDH), esm_class UDHI.
    Udh16,
    /// SMPP 3.4 §5.3.2.22-24 sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs
    /// on each submit_sm; `short_message` carries no UDH and the SMSC builds one.
    Sar,
    /// The whole text in one message_payload TLV (SMPP 3.4 §5.3.2.32), up to 64 KiB; the
    /// SMSC splits it. Text that fits one segment still goes in `short_message`.
    MessagePayload,
}

/// Part size for [`Concatenation::Sar`]. The SMSC adds a concatenation UDH to each part
/// before it goes on air, so a part must leave room for it unless the carrier says it
/// accounts for that itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SarPartSize {
    /// 153 septets / 67 UTF-16 units / 134 octets: what most carriers expect.
    #[default]
    UdhSized,
    /// 160 / 70 / 140: the carrier re-splits or sends SAR parts on air some other way.
    Full,
}

/// Per-segment values for the SAR TLVs (SMPP 3.4 §5.3.2.22-24); the caller sets the TLVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SarValues {
    /// sar_msg_ref_num: the same in every segment.
    pub msg_ref_num: u16,
    /// sar_total_segments.
    pub total_segments: u8,
    /// sar_segment_seqnum, from 1.
    pub segment_seqnum: u8,
}

/// Capacity unit of an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Septet,
    Utf16,
    Octet,
}

/// Units that fit after a UDH of `udh_octets` octets.
pub(crate) fn capacity(unit: Unit, udh_octets: usize) -> usize {
    let room = 140usize.saturating_sub(udh_octets);
    match unit {
        Unit::Septet => capacity_septets(udh_octets),
        Unit::Utf16 => room / 2,
        Unit::Octet => room,
    }
}

/// Single-segment and per-part capacities for a method and national tables.
pub(crate) fn capacities(
    unit: Unit,
    method: Concatenation,
    sar_size: SarPartSize,
    shift: NationalShift,
) -> (usize, usize) {
    let single = capacity(unit, udh::header_len(None, shift));
    let multi_udh = match method {
        Concatenation::Udh8 => udh::header_len(Some(false), shift),
        Concatenation::Udh16 => udh::header_len(Some(true), shift),
        Concatenation::Sar => match sar_size {
            SarPartSize::UdhSized => udh::header_len(Some(false), NationalShift::NONE),
            SarPartSize::Full => 0,
        },
        // The SMSC splits with its own UDH; count as it will (8-bit reference).
        Concatenation::MessagePayload => udh::header_len(Some(false), NationalShift::NONE),
    };
    (single, capacity(unit, multi_udh))
}

/// Greedy cutter over `(byte offset, weight, joins previous)` items.
pub(crate) struct Cutter {
    cap: usize,
    used: usize,
    seg_start: usize,
    cluster_start: usize,
    used_before_cluster: usize,
}

impl Cutter {
    pub(crate) fn new(cap: usize) -> Cutter {
        Cutter {
            cap,
            used: 0,
            seg_start: 0,
            cluster_start: 0,
            used_before_cluster: 0,
        }
    }

    /// Feeds one unbreakable item; returns the byte offset of a cut placed before it.
    #[inline]
    pub(crate) fn feed(&mut self, offset: usize, weight: usize, joins: bool) -> Option<usize> {
        if !joins {
            self.cluster_start = offset;
            self.used_before_cluster = self.used;
        }
        if self.used + weight <= self.cap {
            self.used += weight;
            return None;
        }
        let cluster_len = self.used - self.used_before_cluster + weight;
        let cut = if joins && self.cluster_start > self.seg_start && cluster_len <= self.cap {
            // Move the whole cluster to the next part.
            self.used = cluster_len;
            self.cluster_start
        } else {
            self.used = weight;
            self.cluster_start = offset;
            offset
        };
        self.used_before_cluster = 0;
        self.seg_start = cut;
        Some(cut)
    }
}

/// Number of parts for items of `(weight, joins)` at `cap` units per part.
pub(crate) fn count(items: impl Iterator<Item = (usize, bool)>, cap: usize) -> usize {
    let mut cutter = Cutter::new(cap);
    let mut parts = 1;
    // Offsets only need to be distinct and increasing for the cluster logic.
    for (i, (w, joins)) in items.enumerate() {
        if cutter.feed(i + 1, w, joins).is_some() {
            parts += 1;
        }
    }
    parts
}

/// Byte ranges of `text` per part for items of `(byte offset, weight, joins)`.
pub(crate) fn split(
    text_len: usize,
    items: impl Iterator<Item = (usize, usize, bool)>,
    cap: usize,
) -> Vec<Range<usize>> {
    let mut cutter = Cutter::new(cap);
    let mut out = Vec::new();
    let mut start = 0;
    for (offset, w, joins) in items {
        if let Some(cut) = cutter.feed(offset, w, joins) {
            out.push(start..cut);
            start = cut;
        }
    }
    out.push(start..text_len);
    out
}

/// Tracks whether a character belongs to the grapheme cluster before it, for UCS-2 cuts.
/// A deliberately small subset of UAX #29: extend characters, ZWJ sequences and regional
/// indicator (flag) pairs.
#[derive(Default)]
pub(crate) struct Clusters {
    after_zwj: bool,
    odd_regional: bool,
}

impl Clusters {
    #[inline]
    pub(crate) fn joins(&mut self, c: char) -> bool {
        let u = u32::from(c);
        if u < 0x0300 {
            self.after_zwj = false;
            self.odd_regional = false;
            return false;
        }
        let regional = (0x1F1E6..=0x1F1FF).contains(&u);
        let extend = matches!(u,
            0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF
            | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F
            | 0xE0100..=0xE01EF | 0x200D);
        let joins = extend || self.after_zwj || (regional && self.odd_regional);
        self.after_zwj = u == 0x200D;
        self.odd_regional = regional && !self.odd_regional;
        joins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_table() {
        let none = NationalShift::NONE;
        let us = SarPartSize::UdhSized;
        assert_eq!(
            capacities(Unit::Septet, Concatenation::Udh8, us, none),
            (160, 153)
        );
        assert_eq!(
            capacities(Unit::Septet, Concatenation::Udh16, us, none),
            (160, 152)
        );
        assert_eq!(
            capacities(Unit::Utf16, Concatenation::Udh8, us, none),
            (70, 67)
        );
        assert_eq!(
            capacities(Unit::Utf16, Concatenation::Udh16, us, none),
            (70, 66)
        );
        assert_eq!(
            capacities(Unit::Octet, Concatenation::Udh8, us, none),
            (140, 134)
        );
        assert_eq!(
            capacities(Unit::Octet, Concatenation::Udh16, us, none),
            (140, 133)
        );
        assert_eq!(
            capacities(Unit::Septet, Concatenation::Sar, us, none),
            (160, 153)
        );
        let full = SarPartSize::Full;
        assert_eq!(
            capacities(Unit::Septet, Concatenation::Sar, full, none),
            (160, 160)
        );
        assert_eq!(
            capacities(Unit::Utf16, Concatenation::Sar, full, none),
            (70, 70)
        );
    }

    #[test]
    fn national_ies_shrink_capacity() {
        use super::super::shift::NationalLanguage::Turkish;
        let one = NationalShift {
            locking: None,
            single: Some(Turkish),
        };
        let two = NationalShift {
            locking: Some(Turkish),
            single: Some(Turkish),
        };
        let us = SarPartSize::UdhSized;
        assert_eq!(
            capacities(Unit::Septet, Concatenation::Udh8, us, one),
            (155, 149)
        );
        assert_eq!(
            capacities(Unit::Septet, Concatenation::Udh8, us, two),
            (152, 146)
        );
        assert_eq!(
            capacities(Unit::Septet, Concatenation::Udh16, us, one),
            (155, 148)
        );
        assert_eq!(
            capacities(Unit::Septet, Concatenation::Udh16, us, two),
            (152, 145)
        );
    }

    #[test]
    fn cluster_moves_whole() {
        // Four units of cap 3: "ab" + "c" + combining mark; the mark joins "c".
        let items = [(0, 1, false), (1, 1, false), (2, 1, false), (3, 1, true)];
        assert_eq!(split(4, items.into_iter(), 3), vec![0..2, 2..4]);
    }

    #[test]
    fn regional_indicators_pair() {
        let mut cl = Clusters::default();
        let flags: Vec<bool> = "🇵🇱🇹🇷".chars().map(|c| cl.joins(c)).collect();
        assert_eq!(flags, [false, true, false, true]);
    }
}
