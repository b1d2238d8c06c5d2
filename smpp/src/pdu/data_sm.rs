//! data_sm and data_sm_resp (SMPP 3.4 §4.7).

use bytes::Bytes;

use super::Address;
use super::sm::message_id_resp;
use crate::decode::{ADDR_MAX_65, Reader, SERVICE_TYPE_MAX, Step};
use crate::encode::{Sink, put_address, put_cstr};
use crate::tlv::{Tlvs, tlv_accessors};

/// data_sm (SMPP 3.4 §4.7.1): a message whose content travels in TLVs (message_payload).
/// Addresses here may be up to 65 octets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataSm {
    pub service_type: Bytes,
    pub source_addr: Address,
    pub destination_addr: Address,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    pub tlvs: Tlvs,
}

impl DataSm {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<DataSm> {
        Ok(DataSm {
            service_type: r.cstr("service_type", SERVICE_TYPE_MAX)?,
            source_addr: r.address(
                ["source_addr_ton", "source_addr_npi", "source_addr"],
                ADDR_MAX_65,
            )?,
            destination_addr: r.address(
                ["dest_addr_ton", "dest_addr_npi", "destination_addr"],
                ADDR_MAX_65,
            )?,
            esm_class: r.u8("esm_class")?,
            registered_delivery: r.u8("registered_delivery")?,
            data_coding: r.u8("data_coding")?,
            tlvs: r.tlvs()?,
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.service_type.len()
            + 1
            + self.source_addr.encoded_len()
            + self.destination_addr.encoded_len()
            + 3
            + self.tlvs.encoded_len()
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.service_type);
        put_address(dst, &self.source_addr);
        put_address(dst, &self.destination_addr);
        dst.put_slice(&[self.esm_class, self.registered_delivery, self.data_coding]);
        self.tlvs.write(dst);
    }
}

tlv_accessors!(DataSm);

message_id_resp! {
    /// data_sm_resp (SMPP 3.4 §4.7.2): message_id and TLVs (delivery_failure_reason,
    /// network_error_code, additional_status_info_text, dpf_result).
    DataSmResp
}
