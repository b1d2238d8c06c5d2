//! submit_multi and submit_multi_resp (SMPP 3.4 §4.5).

use bytes::Bytes;

use super::Address;
use crate::CommandStatus;
use crate::decode::{ADDR_MAX, MESSAGE_ID_MAX, Reader, SERVICE_TYPE_MAX, Step};
use crate::encode::{Sink, put_address, put_cstr, put_short_message, short_message_len};
use crate::error::DecodeErrorKind;
use crate::tlv::{Tlvs, tlv_accessors};

/// SMPP 3.4 §4.5.1: "A maximum of 254 destination addresses are allowed." number_of_dests is
/// one octet, so encoding writes at most 255 whatever the Vec holds.
const MAX_DESTS: usize = 254;

/// One entry of submit_multi's dest_address list (SMPP 3.4 §4.5.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DestAddress {
    /// dest_flag 1: an SME address.
    Sme(Address),
    /// dest_flag 2: the name of a distribution list held by the SMSC.
    DistributionList(Bytes),
}

impl DestAddress {
    const SME: u8 = 1;
    const DISTRIBUTION_LIST: u8 = 2;

    fn decode(r: &mut Reader<'_>) -> Step<DestAddress> {
        match r.u8("dest_flag")? {
            Self::SME => Ok(DestAddress::Sme(r.address(
                ["dest_addr_ton", "dest_addr_npi", "destination_addr"],
                ADDR_MAX,
            )?)),
            Self::DISTRIBUTION_LIST => {
                Ok(DestAddress::DistributionList(r.cstr("dl_name", ADDR_MAX)?))
            }
            _ => Err(r.fail("dest_flag", DecodeErrorKind::InvalidValue)),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            DestAddress::Sme(a) => 1 + a.encoded_len(),
            DestAddress::DistributionList(name) => 2 + name.len(),
        }
    }

    fn encode(&self, dst: &mut impl Sink) {
        match self {
            DestAddress::Sme(a) => {
                dst.put_u8(Self::SME);
                put_address(dst, a);
            }
            DestAddress::DistributionList(name) => {
                dst.put_u8(Self::DISTRIBUTION_LIST);
                put_cstr(dst, name);
            }
        }
    }
}

/// submit_multi (SMPP 3.4 §4.5.1): one message to up to 254 SME addresses or distribution
/// lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitMulti {
    pub service_type: Bytes,
    pub source_addr: Address,
    /// number_of_dests is this list's length.
    pub dest_addresses: Vec<DestAddress>,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: Bytes,
    pub validity_period: Bytes,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Bytes,
    pub tlvs: Tlvs,
}

impl SubmitMulti {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<SubmitMulti> {
        let service_type = r.cstr("service_type", SERVICE_TYPE_MAX)?;
        let source_addr = r.address(
            ["source_addr_ton", "source_addr_npi", "source_addr"],
            ADDR_MAX,
        )?;
        let n = usize::from(r.u8("number_of_dests")?);
        if r.strict() && (n == 0 || n > MAX_DESTS) {
            return Err(r.fail("number_of_dests", DecodeErrorKind::InvalidValue));
        }
        // Each entry takes at least 2 octets (dest_flag 2 and an empty dl_name), so capping the
        // capacity at half of what is left bounds the allocation by the PDU's size.
        let mut dest_addresses = Vec::with_capacity(n.min(r.remaining() / 2));
        for _ in 0..n {
            dest_addresses.push(DestAddress::decode(r)?);
        }
        let esm_class = r.u8("esm_class")?;
        let protocol_id = r.u8("protocol_id")?;
        let priority_flag = r.u8("priority_flag")?;
        let schedule_delivery_time = r.time("schedule_delivery_time")?;
        let validity_period = r.time("validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        let replace_if_present_flag = r.u8("replace_if_present_flag")?;
        let data_coding = r.u8("data_coding")?;
        let sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let short_message = r.short_message()?;
        let tlvs = r.tlvs()?;
        r.check_payload(&short_message, &tlvs)?;
        Ok(SubmitMulti {
            service_type,
            source_addr,
            dest_addresses,
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

    fn dests(&self) -> &[DestAddress] {
        &self.dest_addresses[..self.dest_addresses.len().min(usize::from(u8::MAX))]
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.service_type.len()
            + 1
            + self.source_addr.encoded_len()
            + 1
            + self
                .dests()
                .iter()
                .map(DestAddress::encoded_len)
                .sum::<usize>()
            + 3
            + self.schedule_delivery_time.len()
            + self.validity_period.len()
            + 2
            + 4
            + short_message_len(&self.short_message)
            + self.tlvs.encoded_len()
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.service_type);
        put_address(dst, &self.source_addr);
        let dests = self.dests();
        dst.put_u8(dests.len() as u8);
        for d in dests {
            d.encode(dst);
        }
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
}

tlv_accessors!(SubmitMulti);

/// A destination the SMSC could not accept (SMPP 3.4 §4.5.2.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UnsuccessSme {
    pub addr: Address,
    /// Why this destination failed.
    pub error_status_code: CommandStatus,
}

/// submit_multi_resp (SMPP 3.4 §4.5.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitMultiResp {
    pub message_id: Bytes,
    /// no_unsuccess is this list's length.
    pub unsuccess_smes: Vec<UnsuccessSme>,
    /// SMPP 5.0 §4.2.3.2 allows TLVs here.
    pub tlvs: Tlvs,
}

impl SubmitMultiResp {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Step<SubmitMultiResp> {
        let message_id = r.final_cstr("message_id", MESSAGE_ID_MAX)?;
        // Lenient: some SMSCs stop after message_id when every destination succeeded.
        let n = if r.is_empty() && !r.strict() {
            0
        } else {
            usize::from(r.u8("no_unsuccess")?)
        };
        // Each entry takes at least 7 octets; see SubmitMulti::decode.
        let mut unsuccess_smes = Vec::with_capacity(n.min(r.remaining() / 7));
        for _ in 0..n {
            unsuccess_smes.push(UnsuccessSme {
                addr: r.address(
                    ["dest_addr_ton", "dest_addr_npi", "destination_addr"],
                    ADDR_MAX,
                )?,
                error_status_code: CommandStatus(r.u32("error_status_code")?),
            });
        }
        Ok(SubmitMultiResp {
            message_id,
            unsuccess_smes,
            tlvs: r.tlvs()?,
        })
    }

    fn smes(&self) -> &[UnsuccessSme] {
        &self.unsuccess_smes[..self.unsuccess_smes.len().min(usize::from(u8::MAX))]
    }

    pub(crate) fn encoded_len(&self) -> usize {
        self.message_id.len()
            + 2
            + self
                .smes()
                .iter()
                .map(|s| s.addr.encoded_len() + 4)
                .sum::<usize>()
            + self.tlvs.encoded_len()
    }

    pub(crate) fn encode(&self, dst: &mut impl Sink) {
        put_cstr(dst, &self.message_id);
        let smes = self.smes();
        dst.put_u8(smes.len() as u8);
        for s in smes {
            put_address(dst, &s.addr);
            dst.put_u32(s.error_status_code.0);
        }
        self.tlvs.write(dst);
    }
}

tlv_accessors!(SubmitMultiResp);
