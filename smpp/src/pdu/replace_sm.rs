//! replace_sm (SMPP 3.4 §4.10). replace_sm_resp has no body (`Body::ReplaceSmResp`).

use bytes::Bytes;

use super::Address;
use crate::decode::{ADDR_MAX, MESSAGE_ID_MAX, Reader, Step};
use crate::encode::{Sink, put_address, put_cstr, put_short_message, short_message_len};
use crate::tlv::{Tlvs, tlv_accessors};

/// replace_sm (SMPP 3.4 §4.10.1): replace a message that is still pending. SMPP 5.0 §4.5.1
/// allows a message_payload TLV, so TLVs are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaceSm {
    pub message_id: Bytes,
    pub source_addr: Address,
    pub schedule_delivery_time: Bytes,
    pub validity_period: Bytes,
    pub registered_delivery: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Bytes,
    pub tlvs: Tlvs,
}

impl ReplaceSm {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<ReplaceSm> {
        let message_id = r.cstr("message_id", MESSAGE_ID_MAX)?;
        let source_addr = r.address(
            ["source_addr_ton", "source_addr_npi", "source_addr"],
            ADDR_MAX,
        )?;
        let schedule_delivery_time = r.time("schedule_delivery_time")?;
        let validity_period = r.time("validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        let sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let short_message = r.short_message()?;
        let tlvs = r.tlvs()?;
        r.check_payload(&short_message, &tlvs)?;
        Ok(ReplaceSm {
            message_id,
            source_addr,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            sm_default_msg_id,
            short_message,
            tlvs,
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.message_id.len()
            + self.source_addr.encoded_len()
            + self.schedule_delivery_time.len()
            + self.validity_period.len()
            + 3
            + 2
            + short_message_len(&self.short_message)
            + self.tlvs.encoded_len()
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.message_id);
        put_address(dst, &self.source_addr);
        put_cstr(dst, &self.schedule_delivery_time);
        put_cstr(dst, &self.validity_period);
        dst.put_slice(&[self.registered_delivery, self.sm_default_msg_id]);
        put_short_message(dst, &self.short_message);
        self.tlvs.write(dst);
    }
}

tlv_accessors!(ReplaceSm);
