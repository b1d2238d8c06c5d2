//! deliver_sm and deliver_sm_resp (SMPP 3.4 §4.6).

use super::sm::{message_id_resp, short_message_pdu};

short_message_pdu! {
    /// deliver_sm (SMPP 3.4 §4.6.1): a mobile-originated message or a delivery receipt from
    /// the SMSC. Same layout as submit_sm; schedule_delivery_time and validity_period are
    /// unused and sent empty, replace_if_present_flag and sm_default_msg_id are unused.
    DeliverSm
}

impl DeliverSm {
    /// esm_class message type bits 2-5 (SMPP 3.4 §5.2.12): 0x04 is an SMSC delivery receipt.
    /// 5.0 adds 0x08 (SME delivery ack), 0x10 (manual ack), 0x20 (intermediate notification).
    pub fn is_receipt(&self) -> bool {
        self.esm_class & 0x3C == 0x04
    }
}

message_id_resp! {
    /// deliver_sm_resp (SMPP 3.4 §4.6.2): message_id is unused and sent as a lone NUL.
    DeliverSmResp
}
