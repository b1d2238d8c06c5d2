//! alert_notification (SMPP 3.4 §4.12). It takes no response.

use super::Address;
use crate::decode::{ADDR_MAX_65, Reader, Step};
use crate::encode::{Sink, put_address};
use crate::tlv::{Tlv, Tlvs};

/// alert_notification (SMPP 3.4 §4.12.1): a mobile subscriber (source_addr) has become
/// available; esme_addr is the ESME that asked to be told (set_dpf).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertNotification {
    pub source_addr: Address,
    pub esme_addr: Address,
    /// ms_availability_status (0 available, 1 denied, 2 unavailable).
    pub tlvs: Tlvs,
}

impl AlertNotification {
    /// Appends a TLV (builder form).
    #[must_use]
    pub fn with_tlv(mut self, tlv: Tlv) -> AlertNotification {
        self.tlvs.push(tlv);
        self
    }

    /// ms_availability_status TLV (SMPP 3.4 §5.3.2.30).
    pub fn ms_availability_status(&self) -> Option<u8> {
        self.tlvs.ms_availability_status()
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<AlertNotification> {
        Ok(AlertNotification {
            source_addr: r.address(
                ["source_addr_ton", "source_addr_npi", "source_addr"],
                ADDR_MAX_65,
            )?,
            esme_addr: r
                .final_address(["esme_addr_ton", "esme_addr_npi", "esme_addr"], ADDR_MAX_65)?,
            tlvs: r.tlvs()?,
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.source_addr.encoded_len() + self.esme_addr.encoded_len() + self.tlvs.encoded_len()
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_address(dst, &self.source_addr);
        put_address(dst, &self.esme_addr);
        self.tlvs.write(dst);
    }
}
