//! bind_transmitter / bind_receiver / bind_transceiver, their responses, and outbind
//! (SMPP 3.4 §4.1).

use bytes::Bytes;

use crate::decode::{
    ADDRESS_RANGE_MAX, PASSWORD_MAX, Reader, SYSTEM_ID_MAX, SYSTEM_TYPE_MAX, Step,
};
use crate::encode::{Sink, put_cstr};
use crate::tlv::{Tlv, Tlvs};

/// The body of all three bind requests (SMPP 3.4 §4.1.1, §4.1.3, §4.1.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bind {
    pub system_id: Bytes,
    pub password: Bytes,
    pub system_type: Bytes,
    /// 0x34 for SMPP 3.4, 0x50 for 5.0 (SMPP 3.4 §5.2.4).
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    /// A regular expression of the addresses served (SMPP 3.4 §4.1.1, Var. max 41).
    pub address_range: Bytes,
}

impl Bind {
    /// A bind with the given credentials, interface_version 0x34 and an empty address_range.
    pub fn new(system_id: impl Into<Bytes>, password: impl Into<Bytes>) -> Bind {
        Bind {
            system_id: system_id.into(),
            password: password.into(),
            interface_version: 0x34,
            ..Bind::default()
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<Bind> {
        let b = Bind {
            system_id: r.cstr("system_id", SYSTEM_ID_MAX)?,
            password: r.cstr("password", PASSWORD_MAX)?,
            system_type: r.cstr("system_type", SYSTEM_TYPE_MAX)?,
            interface_version: r.u8("interface_version")?,
            addr_ton: r.u8("addr_ton")?,
            addr_npi: r.u8("addr_npi")?,
            address_range: r.final_cstr("address_range", ADDRESS_RANGE_MAX)?,
        };
        r.finish()?;
        Ok(b)
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.system_id.len()
            + self.password.len()
            + self.system_type.len()
            + self.address_range.len()
            + 4
            + 3
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.system_id);
        put_cstr(dst, &self.password);
        put_cstr(dst, &self.system_type);
        dst.put_slice(&[self.interface_version, self.addr_ton, self.addr_npi]);
        put_cstr(dst, &self.address_range);
    }
}

/// The body of the three bind responses (SMPP 3.4 §4.1.2, §4.1.4, §4.1.6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindResp {
    /// The SMSC's identity.
    pub system_id: Bytes,
    /// sc_interface_version and, in 5.0, congestion_state and others.
    pub tlvs: Tlvs,
}

impl BindResp {
    pub fn new(system_id: impl Into<Bytes>) -> BindResp {
        BindResp {
            system_id: system_id.into(),
            tlvs: Tlvs::new(),
        }
    }

    /// Appends a TLV (builder form).
    #[must_use]
    pub fn with_tlv(mut self, tlv: Tlv) -> BindResp {
        self.tlvs.push(tlv);
        self
    }

    /// The SMSC's SMPP version, from the sc_interface_version TLV (SMPP 3.4 §5.3.2.25).
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.tlvs.sc_interface_version()
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<BindResp> {
        Ok(BindResp {
            system_id: r.final_cstr("system_id", SYSTEM_ID_MAX)?,
            tlvs: r.tlvs()?,
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.system_id.len() + 1 + self.tlvs.encoded_len()
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.system_id);
        self.tlvs.write(dst);
    }
}

/// outbind (SMPP 3.4 §4.1.7): the SMSC asks the ESME to bind as a receiver.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outbind {
    pub system_id: Bytes,
    pub password: Bytes,
}

impl Outbind {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<Outbind> {
        let b = Outbind {
            system_id: r.cstr("system_id", SYSTEM_ID_MAX)?,
            password: r.final_cstr("password", PASSWORD_MAX)?,
        };
        r.finish()?;
        Ok(b)
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.system_id.len() + self.password.len() + 2
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.system_id);
        put_cstr(dst, &self.password);
    }
}
