//! Layouts shared by several operations, written once.
//!
//! submit_sm (SMPP 3.4 §4.4.1) and deliver_sm (§4.6.1) have the same mandatory fields in the
//! same order; submit_sm_resp (§4.4.2), deliver_sm_resp (§4.6.2) and data_sm_resp (§4.7.2) are a
//! message_id and, from SMPP 5.0 on (and for data_sm_resp already in 3.4), TLVs.

/// Defines a submit_sm-shaped body type with its decoder and encoder.
macro_rules! short_message_pdu {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            pub service_type: bytes::Bytes,
            pub source_addr: $crate::pdu::Address,
            pub destination_addr: $crate::pdu::Address,
            pub esm_class: u8,
            pub protocol_id: u8,
            pub priority_flag: u8,
            /// Empty, or 16 characters in SMPP time format (SMPP 3.4 §7.1.1).
            pub schedule_delivery_time: bytes::Bytes,
            /// Empty, or 16 characters in SMPP time format (SMPP 3.4 §7.1.1).
            pub validity_period: bytes::Bytes,
            pub registered_delivery: u8,
            pub replace_if_present_flag: u8,
            pub data_coding: u8,
            pub sm_default_msg_id: u8,
            /// The message octets as sent; sm_length is its length. Empty when the text travels
            /// in the message_payload TLV.
            pub short_message: bytes::Bytes,
            pub tlvs: $crate::tlv::Tlvs,
        }

        impl $name {
            pub(crate) fn decode(
                r: &mut $crate::decode::Reader<'_>,
            ) -> $crate::decode::Step<Self> {
                use $crate::decode::{ADDR_MAX, SERVICE_TYPE_MAX};
                let service_type = r.cstr("service_type", SERVICE_TYPE_MAX)?;
                let source_addr =
                    r.address(["source_addr_ton", "source_addr_npi", "source_addr"], ADDR_MAX)?;
                let destination_addr =
                    r.address(["dest_addr_ton", "dest_addr_npi", "destination_addr"], ADDR_MAX)?;
                let [esm_class, protocol_id, priority_flag] =
                    r.octets_n(["esm_class", "protocol_id", "priority_flag"])?;
                let schedule_delivery_time = r.time("schedule_delivery_time")?;
                let validity_period = r.time("validity_period")?;
                let [
                    registered_delivery,
                    replace_if_present_flag,
                    data_coding,
                    sm_default_msg_id,
                    sm_length,
                ] = r.octets_n([
                    "registered_delivery",
                    "replace_if_present_flag",
                    "data_coding",
                    "sm_default_msg_id",
                    "sm_length",
                ])?;
                let short_message = r.short_message_of(sm_length)?;
                let tlvs = r.tlvs()?;
                r.check_payload(&short_message, &tlvs)?;
                Ok($name {
                    service_type,
                    source_addr,
                    destination_addr,
                    esm_class,
                    protocol_id,
                    priority_flag,
                    schedule_delivery_time,
                    validity_period,
                    registered_delivery,
                    replace_if_present_flag,
                    data_coding,
                    sm_default_msg_id,
                    short_message,
                    tlvs,
                })
            }

            pub(crate) fn encoded_len(&self) -> usize {
                // 8 one-octet fields (ton/npi counted by Address) and 3 NULs for the
                // service_type and time strings.
                self.service_type.len()
                    + self.source_addr.encoded_len()
                    + self.destination_addr.encoded_len()
                    + self.schedule_delivery_time.len()
                    + self.validity_period.len()
                    + 3
                    + 7
                    + $crate::encode::short_message_len(&self.short_message)
                    + self.tlvs.encoded_len()
            }

            pub(crate) fn encode(&self, dst: &mut impl $crate::encode::Sink) {
                use $crate::encode::{put_address, put_cstr, put_short_message};
                put_cstr(dst, &self.service_type);
                put_address(dst, &self.source_addr);
                put_address(dst, &self.destination_addr);
                dst.put_slice(&[self.esm_class, self.protocol_id, self.priority_flag]);
                put_cstr(dst, &self.schedule_delivery_time);
                put_cstr(dst, &self.validity_period);
                dst.put_slice(&[
                    self.registered_delivery,
                    self.replace_if_present_flag,
                    self.data_coding,
                    self.sm_default_msg_id,
                ]);
                put_short_message(dst, &self.short_message);
                self.tlvs.write(dst);
            }

            /// The user data header indicator (esm_class bit 6, SMPP 3.4 §5.2.12): the
            /// short_message (or message_payload) starts with a UDH.
            pub fn has_udh(&self) -> bool {
                self.esm_class & 0x40 != 0
            }

            /// The message octets: short_message, or message_payload when short_message is
            /// empty (SMPP 3.4 §5.3.2.32).
            pub fn payload(&self) -> &bytes::Bytes {
                match self.tlvs.message_payload() {
                    Some(p) if self.short_message.is_empty() => p,
                    _ => &self.short_message,
                }
            }
        }

        $crate::tlv::tlv_accessors!($name);
    };
}
pub(crate) use short_message_pdu;

/// Defines a response body that is a message_id and TLVs.
macro_rules! message_id_resp {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            pub message_id: bytes::Bytes,
            pub tlvs: $crate::tlv::Tlvs,
        }

        impl $name {
            pub fn new(message_id: impl Into<bytes::Bytes>) -> Self {
                $name {
                    message_id: message_id.into(),
                    tlvs: $crate::tlv::Tlvs::new(),
                }
            }

            pub(crate) fn decode(
                r: &mut $crate::decode::Reader<'_>,
            ) -> $crate::decode::Step<Self> {
                let message_id = r.final_cstr("message_id", $crate::decode::MESSAGE_ID_MAX)?;
                let tlvs = r.tlvs()?;
                Ok($name { message_id, tlvs })
            }

            pub(crate) fn encoded_len(&self) -> usize {
                self.message_id.len() + 1 + self.tlvs.encoded_len()
            }

            pub(crate) fn encode(&self, dst: &mut impl $crate::encode::Sink) {
                $crate::encode::put_cstr(dst, &self.message_id);
                self.tlvs.write(dst);
            }
        }

        $crate::tlv::tlv_accessors!($name);
    };
}
pub(crate) use message_id_resp;
