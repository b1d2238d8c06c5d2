//! What a receipt PDU says: whose id, which state, which error.

use bytes::Bytes;
use gannet_smpp::{Body, Pdu, Tlvs, parse_receipt};

use crate::dlr::{DlrState, network_error_code};

/// The fields of a delivery receipt that matching needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptFields {
    /// The carrier's message id, as sent.
    pub id: Bytes,
    pub state: DlrState,
    /// The carrier's error code: the network_error_code TLV, else the text's `err:`.
    pub error: Option<u32>,
    /// `stat:` as sent, or the message_state name: kept on the attempt.
    pub status: String,
}

/// Reads a receipt from a deliver_sm or data_sm: the receipted_message_id / message_state
/// TLVs when present (SMPP 3.4 §5.3.2.12, §5.3.2.35), the `id: … stat: … err:` text otherwise,
/// each filling what the other lacks. `None` when no id can be found.
pub fn fields(pdu: &Pdu) -> Option<ReceiptFields> {
    let (short_message, tlvs): (&[u8], &Tlvs) = match &pdu.body {
        Body::DeliverSm(sm) => (&sm.short_message, &sm.tlvs),
        Body::DataSm(sm) => (&[], &sm.tlvs),
        _ => return None,
    };
    let text_src: &[u8] = if short_message.is_empty() {
        tlvs.message_payload().map_or(&[][..], |p| &p[..])
    } else {
        short_message
    };
    let text = parse_receipt(text_src).ok();
    let id = match tlvs.receipted_message_id() {
        Some(id) if !id.is_empty() => Bytes::copy_from_slice(trim_nul(id)),
        _ => Bytes::copy_from_slice(text.as_ref()?.id?),
    };
    if id.is_empty() {
        return None;
    }
    let (state, status) = match (tlvs.message_state(), text.as_ref().and_then(|t| t.stat)) {
        (_, Some(stat)) => (
            DlrState::from_stat(stat),
            String::from_utf8_lossy(stat_text(stat)).into_owned(),
        ),
        (Some(ms), None) => (
            DlrState::from_message_state(ms.0),
            format!("{:?}", DlrState::from_message_state(ms.0)).to_uppercase(),
        ),
        (None, None) => (DlrState::Other, String::from("UNKNOWN")),
    };
    let error = tlvs
        .value(gannet_smpp::TlvTag::NETWORK_ERROR_CODE)
        .and_then(network_error_code)
        .or_else(|| {
            let e = text.as_ref()?.err?;
            std::str::from_utf8(e).ok()?.trim().parse().ok()
        });
    Some(ReceiptFields {
        id,
        state,
        error,
        status,
    })
}

fn trim_nul(id: &[u8]) -> &[u8] {
    let end = id.iter().position(|&b| b == 0).unwrap_or(id.len());
    &id[..end]
}

/// The `stat:` word as the carrier wrote it.
fn stat_text(stat: gannet_smpp::ReceiptStat<'_>) -> &[u8] {
    match stat {
        gannet_smpp::ReceiptStat::Other(s) => s,
        gannet_smpp::ReceiptStat::Delivered => b"DELIVRD",
        gannet_smpp::ReceiptStat::Undeliverable => b"UNDELIV",
        gannet_smpp::ReceiptStat::Expired => b"EXPIRED",
        gannet_smpp::ReceiptStat::Deleted => b"DELETED",
        gannet_smpp::ReceiptStat::Accepted => b"ACCEPTD",
        gannet_smpp::ReceiptStat::Unknown => b"UNKNOWN",
        gannet_smpp::ReceiptStat::Rejected => b"REJECTD",
        gannet_smpp::ReceiptStat::Enroute => b"ENROUTE",
        gannet_smpp::ReceiptStat::Skipped => b"SKIPPED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gannet_smpp::{DeliverSm, Tlv, TlvTag};

    fn deliver(text: &str, tlvs: Vec<Tlv>) -> Pdu {
        let mut sm = DeliverSm {
            esm_class: 0x04,
            short_message: Bytes::copy_from_slice(text.as_bytes()),
            ..DeliverSm::default()
        };
        for t in tlvs {
            sm.tlvs.push(t);
        }
        Pdu::new(1, Body::DeliverSm(sm))
    }

    #[test]
    fn text_receipt() {
        let p = deliver(
            "id:0A1B sub:001 dlvrd:000 submit date:2611221200 done date:2611221201 stat:UNDELIV err:034 text:hi",
            vec![],
        );
        let f = fields(&p).unwrap();
        assert_eq!(&f.id[..], b"0A1B");
        assert_eq!(f.state, DlrState::Undeliverable);
        assert_eq!(f.error, Some(34));
        assert_eq!(f.status, "UNDELIV");
    }

    #[test]
    fn tlvs_win_for_the_id_and_fill_the_state() {
        let p = deliver(
            "",
            vec![
                Tlv::cstr(TlvTag::RECEIPTED_MESSAGE_ID, b"abc-1"),
                Tlv::u8(TlvTag::MESSAGE_STATE, 2),
            ],
        );
        let f = fields(&p).unwrap();
        assert_eq!(&f.id[..], b"abc-1");
        assert_eq!(f.state, DlrState::Delivered);
        assert_eq!(f.status, "DELIVERED");
    }

    #[test]
    fn no_id_is_none() {
        assert!(fields(&deliver("hello", vec![])).is_none());
    }
}
