//! cancel_sm (SMPP 3.4 §4.9). cancel_sm_resp has no body (`Body::CancelSmResp`).

use bytes::Bytes;

use super::Address;
use crate::decode::{ADDR_MAX, MESSAGE_ID_MAX, Reader, SERVICE_TYPE_MAX, Step};
use crate::encode::{Sink, put_address, put_cstr};

/// cancel_sm (SMPP 3.4 §4.9.1): cancel one message (message_id set) or every pending message
/// from source_addr to destination_addr with this service_type (message_id empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CancelSm {
    pub service_type: Bytes,
    pub message_id: Bytes,
    pub source_addr: Address,
    pub destination_addr: Address,
}

impl CancelSm {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<CancelSm> {
        let b = CancelSm {
            service_type: r.cstr("service_type", SERVICE_TYPE_MAX)?,
            message_id: r.cstr("message_id", MESSAGE_ID_MAX)?,
            source_addr: r.address(
                ["source_addr_ton", "source_addr_npi", "source_addr"],
                ADDR_MAX,
            )?,
            destination_addr: r.final_address(
                ["dest_addr_ton", "dest_addr_npi", "destination_addr"],
                ADDR_MAX,
            )?,
        };
        r.finish()?;
        Ok(b)
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.service_type.len()
            + self.message_id.len()
            + 2
            + self.source_addr.encoded_len()
            + self.destination_addr.encoded_len()
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.service_type);
        put_cstr(dst, &self.message_id);
        put_address(dst, &self.source_addr);
        put_address(dst, &self.destination_addr);
    }
}
