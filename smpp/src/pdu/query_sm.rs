//! query_sm and query_sm_resp (SMPP 3.4 §4.8).

use bytes::Bytes;

use super::Address;
use crate::decode::{ADDR_MAX, MESSAGE_ID_MAX, Reader, Step};
use crate::encode::{Sink, put_address, put_cstr};
use crate::tlv::MessageState;

/// query_sm (SMPP 3.4 §4.8.1): the state of a previously submitted message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySm {
    pub message_id: Bytes,
    /// The source address the message was submitted with.
    pub source_addr: Address,
}

impl QuerySm {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<QuerySm> {
        let b = QuerySm {
            message_id: r.cstr("message_id", MESSAGE_ID_MAX)?,
            source_addr: r.final_address(
                ["source_addr_ton", "source_addr_npi", "source_addr"],
                ADDR_MAX,
            )?,
        };
        r.finish()?;
        Ok(b)
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.message_id.len() + 1 + self.source_addr.encoded_len()
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.message_id);
        put_address(dst, &self.source_addr);
    }
}

/// query_sm_resp (SMPP 3.4 §4.8.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySmResp {
    pub message_id: Bytes,
    /// When the message reached its final state; empty if it has not (SMPP 3.4 §7.1.1 format).
    pub final_date: Bytes,
    pub message_state: MessageState,
    /// Network-specific error code (SMPP 3.4 §5.2.29).
    pub error_code: u8,
}

impl QuerySmResp {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<QuerySmResp> {
        let b = QuerySmResp {
            message_id: r.cstr("message_id", MESSAGE_ID_MAX)?,
            final_date: r.time("final_date")?,
            message_state: MessageState(r.u8("message_state")?),
            error_code: r.u8("error_code")?,
        };
        r.finish()?;
        Ok(b)
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.message_id.len() + self.final_date.len() + 4
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.message_id);
        put_cstr(dst, &self.final_date);
        dst.put_slice(&[self.message_state.0, self.error_code]);
    }
}
