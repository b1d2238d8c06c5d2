//! submit_sm and submit_sm_resp (SMPP 3.4 §4.4).

use super::sm::{message_id_resp, short_message_pdu};

short_message_pdu! {
    /// submit_sm (SMPP 3.4 §4.4.1): one short message from the ESME to one destination.
    SubmitSm
}

message_id_resp! {
    /// submit_sm_resp (SMPP 3.4 §4.4.2): the SMSC's id for the message. TLVs are SMPP 5.0
    /// (§4.2.5.2: additional_status_info_text, delivery_failure_reason, network_error_code …).
    SubmitSmResp
}
