//! Tagged optional parameters (SMPP 3.4 §5.3, SMPP 5.0 §4.8).
//!
//! A TLV is kept exactly as it came: its tag (known or not) and its value as a zero-copy slice of
//! the frame. Order is preserved, so a decoded PDU encodes back to the same bytes. Unknown tags,
//! including vendor tags in 0x1400..=0x3FFF (India's DLT entity and template ids among them), are
//! kept, never dropped: SMPP 3.4 §5.3 has a receiver ignore a TLV it does not support, and a
//! gateway that relays or logs a PDU must not lose it.
//!
//! This module is not a validator of TLV *values*: typed accessors ([`Tlvs::message_state`] …)
//! answer `None` when a value has the wrong size. Strict decoding checks sizes against
//! [`TlvTag::len_bounds`].

use std::fmt;
use std::ops::Deref;

use bytes::{BufMut, Bytes};

use crate::encode::{Sink, ToBuf};

/// A TLV tag (`u16` on the wire). Unknown tags are kept as they came; [`TlvTag::name`] answers
/// `None` for them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlvTag(pub u16);

macro_rules! tlv_tags {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal, $min:literal ..= $max:literal;)*) => {
        impl TlvTag {
            $($(#[$doc])* pub const $name: TlvTag = TlvTag($value);)*

            /// Every tag this crate names, SMPP 3.4 and 5.0.
            pub const ALL: &'static [TlvTag] = &[$(TlvTag::$name),*];

            /// The spec's snake_case name (`receipted_message_id`), or `None` for an unknown tag.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }

            /// The value lengths the spec allows for this tag, `(min, max)` inclusive, or `None`
            /// for an unknown tag. Strict decoding rejects a value outside these bounds with
            /// ESME_RINVTLVLEN.
            pub const fn len_bounds(self) -> Option<(u16, u16)> {
                match self.0 {
                    $($value => Some(($min, $max)),)*
                    _ => None,
                }
            }
        }
    };
}

// Sizes from SMPP 3.4 §5.3.2 and SMPP 5.0 §4.8.4. Where 3.4 and 5.0 disagree the union is
// allowed (source_telematics_id is 1 octet in 3.4 and 2 in 5.0; ms_validity grew to 4 octets and
// alert_on_message_delivery gained an optional 1-octet value in 5.0).
tlv_tags! {
    DEST_ADDR_SUBUNIT = 0x0005, "dest_addr_subunit", 1..=1;
    DEST_NETWORK_TYPE = 0x0006, "dest_network_type", 1..=1;
    DEST_BEARER_TYPE = 0x0007, "dest_bearer_type", 1..=1;
    DEST_TELEMATICS_ID = 0x0008, "dest_telematics_id", 2..=2;
    SOURCE_ADDR_SUBUNIT = 0x000D, "source_addr_subunit", 1..=1;
    SOURCE_NETWORK_TYPE = 0x000E, "source_network_type", 1..=1;
    SOURCE_BEARER_TYPE = 0x000F, "source_bearer_type", 1..=1;
    SOURCE_TELEMATICS_ID = 0x0010, "source_telematics_id", 1..=2;
    QOS_TIME_TO_LIVE = 0x0017, "qos_time_to_live", 4..=4;
    PAYLOAD_TYPE = 0x0019, "payload_type", 1..=1;
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D, "additional_status_info_text", 1..=256;
    RECEIPTED_MESSAGE_ID = 0x001E, "receipted_message_id", 1..=65;
    MS_MSG_WAIT_FACILITIES = 0x0030, "ms_msg_wait_facilities", 1..=1;
    PRIVACY_INDICATOR = 0x0201, "privacy_indicator", 1..=1;
    SOURCE_SUBADDRESS = 0x0202, "source_subaddress", 2..=23;
    DEST_SUBADDRESS = 0x0203, "dest_subaddress", 2..=23;
    USER_MESSAGE_REFERENCE = 0x0204, "user_message_reference", 2..=2;
    USER_RESPONSE_CODE = 0x0205, "user_response_code", 1..=1;
    SOURCE_PORT = 0x020A, "source_port", 2..=2;
    DESTINATION_PORT = 0x020B, "destination_port", 2..=2;
    SAR_MSG_REF_NUM = 0x020C, "sar_msg_ref_num", 2..=2;
    LANGUAGE_INDICATOR = 0x020D, "language_indicator", 1..=1;
    SAR_TOTAL_SEGMENTS = 0x020E, "sar_total_segments", 1..=1;
    SAR_SEGMENT_SEQNUM = 0x020F, "sar_segment_seqnum", 1..=1;
    SC_INTERFACE_VERSION = 0x0210, "sc_interface_version", 1..=1;
    CALLBACK_NUM_PRES_IND = 0x0302, "callback_num_pres_ind", 1..=1;
    CALLBACK_NUM_ATAG = 0x0303, "callback_num_atag", 0..=65;
    NUMBER_OF_MESSAGES = 0x0304, "number_of_messages", 1..=1;
    CALLBACK_NUM = 0x0381, "callback_num", 4..=19;
    DPF_RESULT = 0x0420, "dpf_result", 1..=1;
    SET_DPF = 0x0421, "set_dpf", 1..=1;
    MS_AVAILABILITY_STATUS = 0x0422, "ms_availability_status", 1..=1;
    NETWORK_ERROR_CODE = 0x0423, "network_error_code", 3..=3;
    MESSAGE_PAYLOAD = 0x0424, "message_payload", 0..=65535;
    DELIVERY_FAILURE_REASON = 0x0425, "delivery_failure_reason", 1..=1;
    MORE_MESSAGES_TO_SEND = 0x0426, "more_messages_to_send", 1..=1;
    MESSAGE_STATE = 0x0427, "message_state", 1..=1;
    /// SMPP 5.0 §4.8.4.19.
    CONGESTION_STATE = 0x0428, "congestion_state", 1..=1;
    USSD_SERVICE_OP = 0x0501, "ussd_service_op", 1..=1;
    /// SMPP 5.0 §4.8.4.5 (broadcast tags 0x0600..=0x060A).
    BROADCAST_CHANNEL_INDICATOR = 0x0600, "broadcast_channel_indicator", 1..=1;
    BROADCAST_CONTENT_TYPE = 0x0601, "broadcast_content_type", 3..=3;
    BROADCAST_CONTENT_TYPE_INFO = 0x0602, "broadcast_content_type_info", 0..=255;
    BROADCAST_MESSAGE_CLASS = 0x0603, "broadcast_message_class", 1..=1;
    BROADCAST_REP_NUM = 0x0604, "broadcast_rep_num", 2..=2;
    BROADCAST_FREQUENCY_INTERVAL = 0x0605, "broadcast_frequency_interval", 3..=3;
    BROADCAST_AREA_IDENTIFIER = 0x0606, "broadcast_area_identifier", 0..=100;
    BROADCAST_ERROR_STATUS = 0x0607, "broadcast_error_status", 4..=4;
    BROADCAST_AREA_SUCCESS = 0x0608, "broadcast_area_success", 1..=1;
    BROADCAST_END_TIME = 0x0609, "broadcast_end_time", 0..=17;
    BROADCAST_SERVICE_GROUP = 0x060A, "broadcast_service_group", 0..=255;
    /// SMPP 5.0 §4.8.4.3.
    BILLING_IDENTIFICATION = 0x060B, "billing_identification", 0..=1024;
    SOURCE_NETWORK_ID = 0x060D, "source_network_id", 1..=65;
    DEST_NETWORK_ID = 0x060E, "dest_network_id", 1..=65;
    SOURCE_NODE_ID = 0x060F, "source_node_id", 6..=6;
    DEST_NODE_ID = 0x0610, "dest_node_id", 6..=6;
    DEST_ADDR_NP_RESOLUTION = 0x0611, "dest_addr_np_resolution", 1..=1;
    DEST_ADDR_NP_INFORMATION = 0x0612, "dest_addr_np_information", 10..=10;
    DEST_ADDR_NP_COUNTRY = 0x0613, "dest_addr_np_country", 5..=5;
    DISPLAY_TIME = 0x1201, "display_time", 1..=1;
    SMS_SIGNAL = 0x1203, "sms_signal", 2..=2;
    MS_VALIDITY = 0x1204, "ms_validity", 1..=4;
    ALERT_ON_MESSAGE_DELIVERY = 0x130C, "alert_on_message_delivery", 0..=1;
    ITS_REPLY_TYPE = 0x1380, "its_reply_type", 1..=1;
    ITS_SESSION_INFO = 0x1383, "its_session_info", 2..=2;
}

impl TlvTag {
    /// India DLT principal entity id, a vendor TLV (TRAI, carried in 0x1400 by most Indian SMSCs).
    pub const DLT_PE_ID: TlvTag = TlvTag(0x1400);
    /// India DLT content template id, a vendor TLV (0x1401 by most Indian SMSCs).
    pub const DLT_TEMPLATE_ID: TlvTag = TlvTag(0x1401);

    /// True for the range SMPP 3.4 §5.3.2 reserves for SMSC vendors (0x1400..=0x3FFF).
    pub const fn is_vendor(self) -> bool {
        self.0 >= 0x1400 && self.0 <= 0x3FFF
    }

    /// True when this crate names the tag.
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Debug for TlvTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}(0x{:04X})", self.0),
            None if self.is_vendor() => write!(f, "vendor(0x{:04X})", self.0),
            None => write!(f, "unknown(0x{:04X})", self.0),
        }
    }
}

impl fmt::Display for TlvTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:04X}", self.0),
        }
    }
}

/// message_state values (SMPP 3.4 §5.2.28, SMPP 5.0 §4.7.15), used by the message_state TLV and
/// query_sm_resp. A newtype so values outside the spec are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MessageState(pub u8);

impl MessageState {
    /// SMPP 5.0 names 0 SCHEDULED; 3.4 leaves it unused.
    pub const SCHEDULED: MessageState = MessageState(0);
    pub const ENROUTE: MessageState = MessageState(1);
    pub const DELIVERED: MessageState = MessageState(2);
    pub const EXPIRED: MessageState = MessageState(3);
    pub const DELETED: MessageState = MessageState(4);
    pub const UNDELIVERABLE: MessageState = MessageState(5);
    pub const ACCEPTED: MessageState = MessageState(6);
    pub const UNKNOWN: MessageState = MessageState(7);
    pub const REJECTED: MessageState = MessageState(8);
    /// SMPP 5.0 only.
    pub const SKIPPED: MessageState = MessageState(9);

    /// The spec's name (`DELIVERED`), or `None` for a value outside the spec.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "SCHEDULED",
            1 => "ENROUTE",
            2 => "DELIVERED",
            3 => "EXPIRED",
            4 => "DELETED",
            5 => "UNDELIVERABLE",
            6 => "ACCEPTED",
            7 => "UNKNOWN",
            8 => "REJECTED",
            9 => "SKIPPED",
            _ => return None,
        })
    }

    /// True for the states SMPP 5.0 Table 4-28 marks final (UNKNOWN is not: it may still change).
    pub const fn is_final(self) -> bool {
        matches!(self.0, 2..=6 | 8 | 9)
    }
}

impl fmt::Debug for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "MessageState({})", self.0),
        }
    }
}

/// One TLV: its tag and its value, a slice of the frame when decoded.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tlv {
    pub tag: TlvTag,
    pub value: Bytes,
}

impl Tlv {
    /// A TLV with the value as given (octet string, or a C-string that already ends in NUL).
    pub fn new(tag: TlvTag, value: impl Into<Bytes>) -> Tlv {
        Tlv {
            tag,
            value: value.into(),
        }
    }

    /// A 1-octet integer TLV.
    pub fn u8(tag: TlvTag, v: u8) -> Tlv {
        Tlv::new(tag, Bytes::copy_from_slice(&[v]))
    }

    /// A 2-octet big-endian integer TLV.
    pub fn u16(tag: TlvTag, v: u16) -> Tlv {
        Tlv::new(tag, Bytes::copy_from_slice(&v.to_be_bytes()))
    }

    /// A 4-octet big-endian integer TLV.
    pub fn u32(tag: TlvTag, v: u32) -> Tlv {
        Tlv::new(tag, Bytes::copy_from_slice(&v.to_be_bytes()))
    }

    /// A C-octet string TLV (receipted_message_id …): `s` without its NUL, which is added.
    pub fn cstr(tag: TlvTag, s: &[u8]) -> Tlv {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        Tlv::new(tag, v)
    }

    /// The value as a 1-octet integer, or `None` if it is not exactly 1 octet.
    pub fn as_u8(&self) -> Option<u8> {
        match *self.value {
            [v] => Some(v),
            _ => None,
        }
    }

    /// The value as a 2-octet big-endian integer, or `None` if it is not exactly 2 octets.
    pub fn as_u16(&self) -> Option<u16> {
        match *self.value {
            [a, b] => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }
    }

    /// The value as a 4-octet big-endian integer, or `None` if it is not exactly 4 octets.
    pub fn as_u32(&self) -> Option<u32> {
        match *self.value {
            [a, b, c, d] => Some(u32::from_be_bytes([a, b, c, d])),
            _ => None,
        }
    }

    /// The value as a C-octet string without its trailing NUL (a missing NUL is tolerated).
    pub fn as_cstr(&self) -> &[u8] {
        strip_nul(&self.value)
    }

    /// Encoded size: 4 header octets plus the value, capped at what a u16 length can say.
    pub fn encoded_len(&self) -> usize {
        4 + self.value.len().min(usize::from(u16::MAX))
    }

    /// Writes tag, length and value. A value longer than 65,535 octets cannot be expressed and
    /// is cut to that length rather than producing a corrupt stream.
    pub fn encode(&self, dst: &mut impl BufMut) {
        self.write(&mut ToBuf(dst));
    }

    #[inline]
    pub(crate) fn write(&self, dst: &mut impl Sink) {
        let len = self.value.len().min(usize::from(u16::MAX));
        let [t0, t1] = self.tag.0.to_be_bytes();
        let [l0, l1] = (len as u16).to_be_bytes();
        dst.put_slice(&[t0, t1, l0, l1]);
        dst.put_slice(&self.value[..len]);
    }
}

impl fmt::Debug for Tlv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}={:?}", self.tag, self.value)
    }
}

/// The TLVs of one PDU in wire order; each value is a zero-copy slice of the frame. Decoding
/// sizes the Vec exactly (one allocation when the PDU has TLVs, none when it has not). Derefs
/// to `[Tlv]`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Tlvs(Vec<Tlv>);

impl Tlvs {
    pub const fn new() -> Tlvs {
        Tlvs(Vec::new())
    }

    pub(crate) fn with_capacity(n: usize) -> Tlvs {
        Tlvs(Vec::with_capacity(n))
    }

    pub fn as_slice(&self) -> &[Tlv] {
        &self.0
    }

    /// Appends a TLV (after any already there: wire order is insertion order).
    pub fn push(&mut self, tlv: Tlv) {
        self.0.push(tlv);
    }

    /// Builder form of [`Tlvs::push`].
    #[must_use]
    pub fn with(mut self, tlv: Tlv) -> Tlvs {
        self.0.push(tlv);
        self
    }

    /// The first TLV with this tag.
    pub fn get(&self, tag: TlvTag) -> Option<&Tlv> {
        self.0.iter().find(|t| t.tag == tag)
    }

    /// The value of the first TLV with this tag.
    pub fn value(&self, tag: TlvTag) -> Option<&[u8]> {
        self.get(tag).map(|t| &t.value[..])
    }

    /// Removes every TLV with this tag, returning the first one removed.
    pub fn remove(&mut self, tag: TlvTag) -> Option<Tlv> {
        let first = self.0.iter().position(|t| t.tag == tag)?;
        let out = self.0.remove(first);
        self.0.retain(|t| t.tag != tag);
        Some(out)
    }

    /// The TLVs as a Vec, for callers that want to edit them freely.
    pub fn into_vec(self) -> Vec<Tlv> {
        self.0
    }

    /// Encoded size of every TLV.
    pub fn encoded_len(&self) -> usize {
        self.0.iter().map(Tlv::encoded_len).sum()
    }

    pub fn encode(&self, dst: &mut impl BufMut) {
        self.write(&mut ToBuf(dst));
    }

    #[inline]
    pub(crate) fn write(&self, dst: &mut impl Sink) {
        for t in &self.0 {
            t.write(dst);
        }
    }

    /// receipted_message_id (SMPP 3.4 §5.3.2.12) without its trailing NUL (a missing NUL is
    /// tolerated).
    pub fn receipted_message_id(&self) -> Option<&[u8]> {
        self.get(TlvTag::RECEIPTED_MESSAGE_ID).map(Tlv::as_cstr)
    }

    /// message_state (SMPP 3.4 §5.3.2.35); `None` when absent or not 1 octet.
    pub fn message_state(&self) -> Option<MessageState> {
        self.get(TlvTag::MESSAGE_STATE)?.as_u8().map(MessageState)
    }

    /// network_error_code (SMPP 3.4 §5.3.2.31) as (network_type, error_code): network_type 1 =
    /// ANSI-136, 2 = IS-95, 3 = GSM, …; `None` when absent or not 3 octets.
    pub fn network_error_code(&self) -> Option<(u8, u16)> {
        match *self.get(TlvTag::NETWORK_ERROR_CODE)?.value {
            [kind, hi, lo] => Some((kind, u16::from_be_bytes([hi, lo]))),
            _ => None,
        }
    }

    /// The SAR triple (SMPP 3.4 §5.3.2.22-24): (sar_msg_ref_num, sar_total_segments,
    /// sar_segment_seqnum), only when all three are present and well sized.
    pub fn sar(&self) -> Option<(u16, u8, u8)> {
        Some((
            self.get(TlvTag::SAR_MSG_REF_NUM)?.as_u16()?,
            self.get(TlvTag::SAR_TOTAL_SEGMENTS)?.as_u8()?,
            self.get(TlvTag::SAR_SEGMENT_SEQNUM)?.as_u8()?,
        ))
    }

    /// message_payload (SMPP 3.4 §5.3.2.32), a zero-copy slice of the frame.
    pub fn message_payload(&self) -> Option<&Bytes> {
        self.get(TlvTag::MESSAGE_PAYLOAD).map(|t| &t.value)
    }

    /// sc_interface_version (SMPP 3.4 §5.3.2.25), as carried by bind_*_resp.
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.get(TlvTag::SC_INTERFACE_VERSION)?.as_u8()
    }

    /// ms_availability_status (SMPP 3.4 §5.3.2.30), as carried by alert_notification.
    pub fn ms_availability_status(&self) -> Option<u8> {
        self.get(TlvTag::MS_AVAILABILITY_STATUS)?.as_u8()
    }
}

fn strip_nul(v: &[u8]) -> &[u8] {
    match v.split_last() {
        Some((0, head)) => head,
        _ => v,
    }
}

impl Deref for Tlvs {
    type Target = [Tlv];

    fn deref(&self) -> &[Tlv] {
        &self.0
    }
}

impl From<Vec<Tlv>> for Tlvs {
    fn from(v: Vec<Tlv>) -> Tlvs {
        Tlvs(v)
    }
}

impl FromIterator<Tlv> for Tlvs {
    fn from_iter<I: IntoIterator<Item = Tlv>>(iter: I) -> Tlvs {
        Tlvs(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Tlvs {
    type Item = &'a Tlv;
    type IntoIter = std::slice::Iter<'a, Tlv>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Debug for Tlvs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

/// Forwards the typed TLV accessors and a `with_tlv` builder from a PDU body to its `tlvs` field.
macro_rules! tlv_accessors {
    ($ty:ty) => {
        impl $ty {
            /// Appends a TLV (builder form).
            #[must_use]
            pub fn with_tlv(mut self, tlv: $crate::tlv::Tlv) -> Self {
                self.tlvs.push(tlv);
                self
            }

            /// See [`Tlvs::receipted_message_id`](crate::tlv::Tlvs::receipted_message_id).
            pub fn receipted_message_id(&self) -> Option<&[u8]> {
                self.tlvs.receipted_message_id()
            }

            /// See [`Tlvs::message_state`](crate::tlv::Tlvs::message_state).
            pub fn message_state(&self) -> Option<$crate::tlv::MessageState> {
                self.tlvs.message_state()
            }

            /// See [`Tlvs::network_error_code`](crate::tlv::Tlvs::network_error_code).
            pub fn network_error_code(&self) -> Option<(u8, u16)> {
                self.tlvs.network_error_code()
            }

            /// See [`Tlvs::sar`](crate::tlv::Tlvs::sar).
            pub fn sar(&self) -> Option<(u16, u8, u8)> {
                self.tlvs.sar()
            }

            /// See [`Tlvs::message_payload`](crate::tlv::Tlvs::message_payload).
            pub fn message_payload(&self) -> Option<&bytes::Bytes> {
                self.tlvs.message_payload()
            }
        }
    };
}
pub(crate) use tlv_accessors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_named() {
        let mut seen = std::collections::HashSet::new();
        for t in TlvTag::ALL {
            assert!(seen.insert(t.0), "duplicate {t:?}");
            let (min, max) = t.len_bounds().unwrap();
            assert!(min <= max, "{t:?}");
        }
        assert_eq!(TlvTag(0x001E).name(), Some("receipted_message_id"));
        assert_eq!(TlvTag(0x0427), TlvTag::MESSAGE_STATE);
        assert_eq!(TlvTag::BILLING_IDENTIFICATION.0, 0x060B);
        assert_eq!(TlvTag::CONGESTION_STATE.0, 0x0428);
        assert_eq!(format!("{:?}", TlvTag(0x1400)), "vendor(0x1400)");
        assert_eq!(format!("{:?}", TlvTag(0x0999)), "unknown(0x0999)");
        assert_eq!(format!("{}", TlvTag::SAR_MSG_REF_NUM), "sar_msg_ref_num");
        assert!(TlvTag::DLT_TEMPLATE_ID.is_vendor());
        assert!(!TlvTag::MESSAGE_PAYLOAD.is_vendor());
    }

    #[test]
    fn typed_accessors() {
        let tlvs = Tlvs::new()
            .with(Tlv::cstr(TlvTag::RECEIPTED_MESSAGE_ID, b"abc123"))
            .with(Tlv::u8(TlvTag::MESSAGE_STATE, 2))
            .with(Tlv::new(TlvTag::NETWORK_ERROR_CODE, &[3u8, 0x00, 0x22][..]))
            .with(Tlv::u16(TlvTag::SAR_MSG_REF_NUM, 0x1234))
            .with(Tlv::u8(TlvTag::SAR_TOTAL_SEGMENTS, 3))
            .with(Tlv::u8(TlvTag::SAR_SEGMENT_SEQNUM, 2));
        assert_eq!(tlvs.receipted_message_id(), Some(&b"abc123"[..]));
        assert_eq!(tlvs.message_state(), Some(MessageState::DELIVERED));
        assert_eq!(tlvs.network_error_code(), Some((3, 0x22)));
        assert_eq!(tlvs.sar(), Some((0x1234, 3, 2)));
        assert_eq!(tlvs.message_payload(), None);
        assert_eq!(tlvs.len(), 6);
        assert_eq!(tlvs.encoded_len(), 6 * 4 + 7 + 1 + 3 + 2 + 1 + 1);
    }

    #[test]
    fn wrong_sizes_read_as_none() {
        let tlvs = Tlvs::new()
            .with(Tlv::new(TlvTag::MESSAGE_STATE, &[2u8, 0][..]))
            .with(Tlv::new(TlvTag::NETWORK_ERROR_CODE, &[3u8][..]))
            .with(Tlv::new(TlvTag::RECEIPTED_MESSAGE_ID, &b"no-nul"[..]));
        assert_eq!(tlvs.message_state(), None);
        assert_eq!(tlvs.network_error_code(), None);
        // A receipted_message_id without its NUL is still readable.
        assert_eq!(tlvs.receipted_message_id(), Some(&b"no-nul"[..]));
        assert_eq!(tlvs.sar(), None);
    }

    #[test]
    fn remove_takes_every_copy() {
        let mut tlvs = Tlvs::new()
            .with(Tlv::u8(TlvTag::PAYLOAD_TYPE, 0))
            .with(Tlv::u8(TlvTag::MESSAGE_STATE, 1))
            .with(Tlv::u8(TlvTag::PAYLOAD_TYPE, 1));
        assert_eq!(
            tlvs.remove(TlvTag::PAYLOAD_TYPE),
            Some(Tlv::u8(TlvTag::PAYLOAD_TYPE, 0))
        );
        assert_eq!(tlvs.len(), 1);
        assert_eq!(tlvs.remove(TlvTag::PAYLOAD_TYPE), None);
    }

    #[test]
    fn push_keeps_wire_order() {
        let all: Vec<Tlv> = (0..7)
            .map(|i| Tlv::u8(TlvTag(0x1400 + i), i as u8))
            .collect();
        let mut tlvs = Tlvs::new();
        for (i, t) in all.iter().enumerate() {
            tlvs.push(t.clone());
            assert_eq!(tlvs.as_slice(), &all[..=i]);
        }
        assert_eq!(Tlvs::from(all.clone()), tlvs);
        assert_eq!(all[..2].iter().cloned().collect::<Tlvs>().len(), 2);
        assert_eq!(tlvs.clone().into_vec(), all);
        assert_eq!(Tlvs::from(all[..2].to_vec()).into_vec(), all[..2]);
        assert_eq!(tlvs.encoded_len(), 7 * 5);
    }

    #[test]
    fn encode_writes_tag_len_value() {
        let mut out = Vec::new();
        Tlv::u16(TlvTag::USER_MESSAGE_REFERENCE, 0x0102).encode(&mut out);
        assert_eq!(out, [0x02, 0x04, 0x00, 0x02, 0x01, 0x02]);
    }

    #[test]
    fn message_state_names() {
        assert_eq!(MessageState::SKIPPED.name(), Some("SKIPPED"));
        assert_eq!(MessageState(42).name(), None);
        assert!(MessageState::DELIVERED.is_final());
        assert!(!MessageState::ENROUTE.is_final());
        assert!(MessageState::ACCEPTED.is_final());
        assert!(!MessageState::UNKNOWN.is_final());
    }
}
