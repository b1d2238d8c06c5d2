//! `gannet pdu decode`: a dissector for PDUs pasted from a capture or a carrier's log.
//!
//! One model, two views: [`dissect`] builds a JSON value with the SMPP 3.4 field names in
//! snake_case, in wire order, numbers as numbers; the text view prints the same fields with the
//! names of codes beside them. For a delivery receipt it adds the parsed receipt fields.

use std::fmt::Write as _;
use std::path::PathBuf;

use bytes::Bytes;
use gannet_smpp::hex::parse_spaced_hex;
use gannet_smpp::{
    Address, Body, CommandId, CommandStatus, DecodeMode, DestAddress, Header, Pdu, Tlv, TlvTag,
    Tlvs, parse_receipt,
};
use serde_json::{Map, Value, json};

/// Arguments of `gannet pdu decode`.
#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// The PDU as hex; spaces, `0x` prefixes and `#` comments are ignored.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub hex: Option<String>,
    /// Read the hex from a file (e.g. a proto-fixtures/ file) instead; `-` for standard input.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print JSON instead of the text view.
    #[arg(long)]
    pub json: bool,
    /// Decode strictly to SMPP 3.4 (field maximums, NULs, no trailing octets).
    #[arg(long)]
    pub strict: bool,
}

/// Why a PDU could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum DissectError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad hex: {0}")]
    Hex(#[from] gannet_smpp::hex::HexError),
    #[error("{len} octets is shorter than the 16-octet PDU header")]
    Short { len: usize },
    #[error("command_length says {command_length} octets but {len} were given")]
    Length { command_length: u32, len: usize },
    #[error("invalid PDU: {0} (would be answered with {status})", status = .0.status())]
    Decode(#[from] gannet_smpp::DecodeError),
}

/// Runs `gannet pdu decode`, writing the view to `out`.
pub fn run_decode(args: &DecodeArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let text = match (&args.hex, &args.file) {
        (Some(hex), _) => hex.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())
            .map_err(|source| DissectError::Read {
                path: path.clone(),
                source,
            })?,
        (None, Some(path)) => {
            std::fs::read_to_string(path).map_err(|source| DissectError::Read {
                path: path.clone(),
                source,
            })?
        }
        (None, None) => anyhow::bail!("give the PDU as hex or with --file"),
    };
    let mode = if args.strict {
        DecodeMode::Strict
    } else {
        DecodeMode::Lenient
    };
    let value = dissect_hex(&text, mode)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
    } else {
        out.write_all(render_text(&value).as_bytes())?;
    }
    Ok(())
}

/// Parses hex text and dissects the PDU in it.
pub fn dissect_hex(text: &str, mode: DecodeMode) -> Result<Value, DissectError> {
    let bytes = parse_spaced_hex(text)?;
    dissect(&Bytes::from(bytes), mode)
}

/// Dissects one complete PDU.
pub fn dissect(frame: &Bytes, mode: DecodeMode) -> Result<Value, DissectError> {
    let header = Header::peek(frame).ok_or(DissectError::Short { len: frame.len() })?;
    if header.command_length as usize != frame.len() {
        return Err(DissectError::Length {
            command_length: header.command_length,
            len: frame.len(),
        });
    }
    let pdu = Pdu::decode(frame, mode)?;
    let mut m = Map::new();
    m.insert("command_length".into(), json!(header.command_length));
    m.insert("command_id".into(), json!(header.command_id.0));
    m.insert(
        "command_name".into(),
        json!(command_name(header.command_id)),
    );
    m.insert("command_status".into(), json!(header.command_status.0));
    m.insert(
        "command_status_name".into(),
        json!(status_name(header.command_status)),
    );
    m.insert("sequence_number".into(), json!(header.sequence_number));
    body_fields(&pdu.body, &mut m);
    Ok(Value::Object(m))
}

fn command_name(id: CommandId) -> String {
    id.name()
        .map_or_else(|| format!("unknown_0x{:08x}", id.0), str::to_string)
}

fn status_name(status: CommandStatus) -> String {
    status
        .name()
        .map_or_else(|| format!("0x{:08X}", status.0), str::to_string)
}

fn body_fields(body: &Body, m: &mut Map<String, Value>) {
    match body {
        Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
            put_str(m, "system_id", &b.system_id);
            put_str(m, "password", &b.password);
            put_str(m, "system_type", &b.system_type);
            m.insert("interface_version".into(), json!(b.interface_version));
            m.insert("addr_ton".into(), json!(b.addr_ton));
            m.insert("addr_npi".into(), json!(b.addr_npi));
            put_str(m, "address_range", &b.address_range);
        }
        Body::BindTransmitterResp(r) | Body::BindReceiverResp(r) | Body::BindTransceiverResp(r) => {
            if let Some(r) = r {
                put_str(m, "system_id", &r.system_id);
                put_tlvs(m, &r.tlvs);
            }
        }
        Body::Outbind(o) => {
            put_str(m, "system_id", &o.system_id);
            put_str(m, "password", &o.password);
        }
        Body::Unbind
        | Body::UnbindResp
        | Body::GenericNack
        | Body::EnquireLink
        | Body::EnquireLinkResp
        | Body::CancelSmResp
        | Body::ReplaceSmResp => {}
        Body::SubmitSm(s) => short_message_fields(m, sm_view!(s)),
        Body::DeliverSm(s) => {
            short_message_fields(m, sm_view!(s));
            receipt_fields(m, s.esm_class, &s.short_message, &s.tlvs);
        }
        Body::SubmitSmResp(r) => {
            if let Some(r) = r {
                put_str(m, "message_id", &r.message_id);
                put_tlvs(m, &r.tlvs);
            }
        }
        Body::DeliverSmResp(r) => {
            if let Some(r) = r {
                put_str(m, "message_id", &r.message_id);
                put_tlvs(m, &r.tlvs);
            }
        }
        Body::DataSmResp(r) => {
            if let Some(r) = r {
                put_str(m, "message_id", &r.message_id);
                put_tlvs(m, &r.tlvs);
            }
        }
        Body::SubmitMulti(s) => {
            put_str(m, "service_type", &s.service_type);
            put_address(m, "source_addr", &s.source_addr);
            m.insert("number_of_dests".into(), json!(s.dest_addresses.len()));
            let dests: Vec<Value> = s
                .dest_addresses
                .iter()
                .map(|d| match d {
                    DestAddress::Sme(a) => {
                        json!({"dest_flag": 1, "dest_addr_ton": a.ton, "dest_addr_npi": a.npi,
                               "destination_addr": lossy(&a.addr)})
                    }
                    DestAddress::DistributionList(name) => {
                        json!({"dest_flag": 2, "dl_name": lossy(name)})
                    }
                })
                .collect();
            m.insert("dest_address".into(), Value::Array(dests));
            m.insert("esm_class".into(), json!(s.esm_class));
            m.insert("protocol_id".into(), json!(s.protocol_id));
            m.insert("priority_flag".into(), json!(s.priority_flag));
            put_str(m, "schedule_delivery_time", &s.schedule_delivery_time);
            put_str(m, "validity_period", &s.validity_period);
            m.insert("registered_delivery".into(), json!(s.registered_delivery));
            m.insert(
                "replace_if_present_flag".into(),
                json!(s.replace_if_present_flag),
            );
            m.insert("data_coding".into(), json!(s.data_coding));
            m.insert("sm_default_msg_id".into(), json!(s.sm_default_msg_id));
            put_message(m, s.esm_class, s.data_coding, &s.short_message);
            put_tlvs(m, &s.tlvs);
        }
        Body::SubmitMultiResp(r) => {
            if let Some(r) = r {
                put_str(m, "message_id", &r.message_id);
                m.insert("no_unsuccess".into(), json!(r.unsuccess_smes.len()));
                let list: Vec<Value> = r
                    .unsuccess_smes
                    .iter()
                    .map(|u| {
                        json!({"dest_addr_ton": u.addr.ton, "dest_addr_npi": u.addr.npi,
                               "destination_addr": lossy(&u.addr.addr),
                               "error_status_code": u.error_status_code.0,
                               "error_status_name": status_name(u.error_status_code)})
                    })
                    .collect();
                m.insert("unsuccess_sme".into(), Value::Array(list));
                put_tlvs(m, &r.tlvs);
            }
        }
        Body::DataSm(d) => {
            put_str(m, "service_type", &d.service_type);
            put_address(m, "source_addr", &d.source_addr);
            put_address(m, "dest_addr", &d.destination_addr);
            m.insert("esm_class".into(), json!(d.esm_class));
            m.insert("registered_delivery".into(), json!(d.registered_delivery));
            m.insert("data_coding".into(), json!(d.data_coding));
            put_tlvs(m, &d.tlvs);
            if let Some(payload) = d.tlvs.message_payload() {
                receipt_fields(m, d.esm_class, payload, &d.tlvs);
            } else {
                receipt_fields(m, d.esm_class, &Bytes::new(), &d.tlvs);
            }
        }
        Body::QuerySm(q) => {
            put_str(m, "message_id", &q.message_id);
            put_address(m, "source_addr", &q.source_addr);
        }
        Body::QuerySmResp(r) => {
            if let Some(r) = r {
                put_str(m, "message_id", &r.message_id);
                put_str(m, "final_date", &r.final_date);
                m.insert("message_state".into(), json!(r.message_state.0));
                if let Some(name) = r.message_state.name() {
                    m.insert("message_state_name".into(), json!(name));
                }
                m.insert("error_code".into(), json!(r.error_code));
            }
        }
        Body::CancelSm(c) => {
            put_str(m, "service_type", &c.service_type);
            put_str(m, "message_id", &c.message_id);
            put_address(m, "source_addr", &c.source_addr);
            put_address(m, "dest_addr", &c.destination_addr);
        }
        Body::ReplaceSm(r) => {
            put_str(m, "message_id", &r.message_id);
            put_address(m, "source_addr", &r.source_addr);
            put_str(m, "schedule_delivery_time", &r.schedule_delivery_time);
            put_str(m, "validity_period", &r.validity_period);
            m.insert("registered_delivery".into(), json!(r.registered_delivery));
            m.insert("sm_default_msg_id".into(), json!(r.sm_default_msg_id));
            // replace_sm has no data_coding: SMPP 3.4 §4.10.1 keeps the original's.
            m.insert("sm_length".into(), json!(r.short_message.len()));
            m.insert(
                "short_message_hex".into(),
                json!(to_spaced_hex(&r.short_message)),
            );
            put_tlvs(m, &r.tlvs);
        }
        Body::AlertNotification(a) => {
            put_address(m, "source_addr", &a.source_addr);
            put_address(m, "esme_addr", &a.esme_addr);
            put_tlvs(m, &a.tlvs);
        }
        Body::Raw { body, .. } => {
            m.insert("body_hex".into(), json!(to_spaced_hex(body)));
        }
    }
}

/// Borrows the fields of a submit_sm or deliver_sm: two types with one layout.
macro_rules! sm_view {
    ($s:expr) => {
        ShortMessageView {
            service_type: &$s.service_type,
            source: &$s.source_addr,
            dest: &$s.destination_addr,
            esm_class: $s.esm_class,
            protocol_id: $s.protocol_id,
            priority_flag: $s.priority_flag,
            schedule_delivery_time: &$s.schedule_delivery_time,
            validity_period: &$s.validity_period,
            registered_delivery: $s.registered_delivery,
            replace_if_present_flag: $s.replace_if_present_flag,
            data_coding: $s.data_coding,
            sm_default_msg_id: $s.sm_default_msg_id,
            short_message: &$s.short_message,
            tlvs: &$s.tlvs,
        }
    };
}
use sm_view;

/// The submit_sm / deliver_sm layout (SMPP 3.4 §4.4.1, §4.6.1), borrowed.
struct ShortMessageView<'a> {
    service_type: &'a Bytes,
    source: &'a Address,
    dest: &'a Address,
    esm_class: u8,
    protocol_id: u8,
    priority_flag: u8,
    schedule_delivery_time: &'a Bytes,
    validity_period: &'a Bytes,
    registered_delivery: u8,
    replace_if_present_flag: u8,
    data_coding: u8,
    sm_default_msg_id: u8,
    short_message: &'a Bytes,
    tlvs: &'a Tlvs,
}

fn short_message_fields(m: &mut Map<String, Value>, v: ShortMessageView<'_>) {
    put_str(m, "service_type", v.service_type);
    put_address(m, "source_addr", v.source);
    put_address(m, "dest_addr", v.dest);
    m.insert("esm_class".into(), json!(v.esm_class));
    m.insert("protocol_id".into(), json!(v.protocol_id));
    m.insert("priority_flag".into(), json!(v.priority_flag));
    put_str(m, "schedule_delivery_time", v.schedule_delivery_time);
    put_str(m, "validity_period", v.validity_period);
    m.insert("registered_delivery".into(), json!(v.registered_delivery));
    m.insert(
        "replace_if_present_flag".into(),
        json!(v.replace_if_present_flag),
    );
    m.insert("data_coding".into(), json!(v.data_coding));
    m.insert("sm_default_msg_id".into(), json!(v.sm_default_msg_id));
    put_message(m, v.esm_class, v.data_coding, v.short_message);
    put_tlvs(m, v.tlvs);
}

/// `source_addr_ton`, `source_addr_npi`, `source_addr` (the prefix is the spec's: `dest_addr`
/// gives `dest_addr_ton`, `dest_addr_npi`, and the address itself as `destination_addr`).
fn put_address(m: &mut Map<String, Value>, prefix: &str, a: &Address) {
    m.insert(format!("{prefix}_ton"), json!(a.ton));
    m.insert(format!("{prefix}_npi"), json!(a.npi));
    let name = if prefix == "dest_addr" {
        "destination_addr".to_string()
    } else {
        prefix.to_string()
    };
    m.insert(name, json!(lossy(&a.addr)));
}

fn put_str(m: &mut Map<String, Value>, name: &str, v: &[u8]) {
    m.insert(name.into(), json!(lossy(v)));
}

/// The short_message: its length, the octets in hex, the UDH when esm_class says there is one,
/// and the text decoded by data_coding.
fn put_message(m: &mut Map<String, Value>, esm_class: u8, data_coding: u8, sm: &[u8]) {
    m.insert("sm_length".into(), json!(sm.len()));
    m.insert("short_message_hex".into(), json!(to_spaced_hex(sm)));
    // SMPP 3.4 §5.2.12: esm_class bit 6 (0x40) = UDH indicator.
    let udhi = esm_class & 0x40 != 0;
    if udhi
        && let Some(&udhl) = sm.first()
        && sm.len() > udhl as usize
    {
        m.insert("udh".into(), udh_json(&sm[..=udhl as usize]));
    }
    if let Some(text) = decode_text(data_coding, sm, udhi) {
        m.insert("short_message".into(), json!(text));
    }
}

/// Information elements of a UDH (3GPP TS 23.040 §9.2.3.24).
fn udh_json(udh: &[u8]) -> Value {
    let mut ies = Vec::new();
    let mut rest = &udh[1..];
    while rest.len() >= 2 {
        let (iei, len) = (rest[0], rest[1] as usize);
        let Some(data) = rest.get(2..2 + len) else {
            break;
        };
        let mut ie = Map::new();
        ie.insert("iei".into(), json!(iei));
        ie.insert("data_hex".into(), json!(to_spaced_hex(data)));
        match (iei, data) {
            (0x00, [r, t, s]) => {
                ie.insert("concat_ref".into(), json!(r));
                ie.insert("total".into(), json!(t));
                ie.insert("seq".into(), json!(s));
            }
            (0x08, [r1, r2, t, s]) => {
                ie.insert("concat_ref".into(), json!(u16::from_be_bytes([*r1, *r2])));
                ie.insert("total".into(), json!(t));
                ie.insert("seq".into(), json!(s));
            }
            _ => {}
        }
        ies.push(Value::Object(ie));
        rest = &rest[2 + len..];
    }
    json!({"udhl": udh[0], "ies": ies})
}

/// Text by data_coding (SMPP 3.4 §5.2.19), for display only; data_coding 0 is shown as GSM
/// 03.38 unpacked, what most carriers mean by "SMSC default alphabet".
fn decode_text(data_coding: u8, short_message: &[u8], udhi: bool) -> Option<String> {
    crate::text::decode(
        data_coding,
        short_message,
        udhi,
        crate::text::DefaultAlphabet::GsmUnpacked,
    )
    .ok()
    .map(|d| d.text)
}

fn put_tlvs(m: &mut Map<String, Value>, tlvs: &Tlvs) {
    if tlvs.is_empty() {
        return;
    }
    let list: Vec<Value> = tlvs.iter().map(tlv_json).collect();
    m.insert("tlvs".into(), Value::Array(list));
}

fn tlv_json(t: &Tlv) -> Value {
    let mut o = Map::new();
    o.insert("tag".into(), json!(t.tag.0));
    o.insert(
        "tag_name".into(),
        json!(
            t.tag
                .name()
                .map_or_else(|| format!("0x{:04x}", t.tag.0), str::to_string)
        ),
    );
    o.insert("length".into(), json!(t.value.len()));
    o.insert("value_hex".into(), json!(to_spaced_hex(&t.value)));
    if let Some(v) = tlv_value(t) {
        o.insert("value".into(), v);
    }
    Value::Object(o)
}

/// A readable value for the TLVs whose type is known.
fn tlv_value(t: &Tlv) -> Option<Value> {
    match t.tag {
        TlvTag::RECEIPTED_MESSAGE_ID => Some(json!(lossy(t.as_cstr()))),
        TlvTag::MESSAGE_STATE => {
            let state = gannet_smpp::MessageState(t.as_u8()?);
            Some(json!(state.name().unwrap_or("?")))
        }
        TlvTag::NETWORK_ERROR_CODE if t.value.len() == 3 => Some(json!({
            "network_type": t.value[0],
            "error_code": u16::from_be_bytes([t.value[1], t.value[2]]),
        })),
        TlvTag::SAR_MSG_REF_NUM | TlvTag::USER_MESSAGE_REFERENCE => Some(json!(t.as_u16()?)),
        TlvTag::SAR_TOTAL_SEGMENTS | TlvTag::SAR_SEGMENT_SEQNUM | TlvTag::SC_INTERFACE_VERSION => {
            Some(json!(t.as_u8()?))
        }
        _ if t.value.len() > 1
            && t.value.last() == Some(&0)
            && t.value[..t.value.len() - 1]
                .iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ') =>
        {
            Some(json!(lossy(t.as_cstr())))
        }
        _ => None,
    }
}

/// For a receipt (esm_class bits 2-5 = 0x04 SMSC delivery receipt, or 0x08/0x20 notifications,
/// SMPP 3.4 §5.2.12), the parsed text and TLVs.
fn receipt_fields(m: &mut Map<String, Value>, esm_class: u8, text: &[u8], tlvs: &Tlvs) {
    let kind = esm_class & 0x3C;
    if kind == 0 && tlvs.receipted_message_id().is_none() {
        return;
    }
    let mut r = Map::new();
    if let Ok(p) = parse_receipt(text) {
        if let Some(id) = p.id {
            r.insert("id".into(), json!(lossy(id)));
        }
        if let Some(v) = p.sub {
            r.insert("sub".into(), json!(lossy(v)));
        }
        if let Some(v) = p.dlvrd {
            r.insert("dlvrd".into(), json!(lossy(v)));
        }
        if let Some(v) = p.submit_date_raw {
            r.insert("submit_date".into(), json!(lossy(v)));
        }
        if let Some(v) = p.done_date_raw {
            r.insert("done_date".into(), json!(lossy(v)));
        }
        if let Some(stat) = p.stat {
            r.insert("stat".into(), json!(stat_text(stat)));
            r.insert("final".into(), json!(stat.is_final()));
        }
        if let Some(v) = p.err {
            r.insert("err".into(), json!(lossy(v)));
        }
        if let Some(v) = p.text {
            r.insert("text".into(), json!(lossy(v)));
        }
        for (k, v) in &p.extras {
            r.insert(lossy(k), json!(lossy(v)));
        }
    }
    if let Some(id) = tlvs.receipted_message_id() {
        r.insert("receipted_message_id".into(), json!(lossy(id)));
    }
    if let Some(state) = tlvs.message_state() {
        r.insert(
            "message_state".into(),
            json!(state.name().unwrap_or("?").to_string()),
        );
    }
    if let Some((network_type, code)) = tlvs.network_error_code() {
        r.insert(
            "network_error_code".into(),
            json!({"network_type": network_type, "error_code": code}),
        );
    }
    if !r.is_empty() {
        m.insert("receipt".into(), Value::Object(r));
    }
}

/// Octets as one line of spaced lowercase hex (`to_spaced_hex` wraps lines for fixtures).
fn to_spaced_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// The Appendix B spelling of a receipt state.
fn stat_text(stat: gannet_smpp::ReceiptStat<'_>) -> String {
    use gannet_smpp::ReceiptStat as S;
    match stat {
        S::Enroute => "ENROUTE",
        S::Delivered => "DELIVRD",
        S::Expired => "EXPIRED",
        S::Deleted => "DELETED",
        S::Undeliverable => "UNDELIV",
        S::Accepted => "ACCEPTD",
        S::Unknown => "UNKNOWN",
        S::Rejected => "REJECTD",
        S::Skipped => "SKIPPED",
        S::Other(s) => return lossy(s),
    }
    .to_string()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The text view: one `name: value` line per field, nested values indented, codes named.
pub fn render_text(v: &Value) -> String {
    let mut out = String::new();
    if let Value::Object(m) = v {
        render_map(m, 0, &mut out);
    }
    out
}

fn render_map(m: &Map<String, Value>, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for (k, v) in m {
        match v {
            Value::Object(inner) => {
                let _ = writeln!(out, "{pad}{k}:");
                render_map(inner, depth + 1, out);
            }
            Value::Array(items) => {
                let _ = writeln!(out, "{pad}{k}: ({} item(s))", items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(inner) => {
                            let _ = writeln!(out, "{pad}  [{i}]");
                            render_map(inner, depth + 2, out);
                        }
                        other => {
                            let _ = writeln!(out, "{pad}  [{i}] {other}");
                        }
                    }
                }
            }
            Value::Number(n) => {
                let hex = n
                    .as_u64()
                    .filter(|_| matches!(k.as_str(), "command_id" | "command_status" | "tag"));
                match hex {
                    Some(x) if k == "tag" => {
                        let _ = writeln!(out, "{pad}{k}: 0x{x:04x}");
                    }
                    Some(x) => {
                        let _ = writeln!(out, "{pad}{k}: 0x{x:08x}");
                    }
                    None => {
                        let _ = writeln!(out, "{pad}{k}: {n}");
                    }
                }
            }
            Value::String(s) => {
                let _ = writeln!(out, "{pad}{k}: {s:?}");
            }
            other => {
                let _ = writeln!(out, "{pad}{k}: {other}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // enquire_link, sequence 1.
    const ENQUIRE_LINK: &str = "00 00 00 10  00 00 00 15  00 00 00 00  00 00 00 01";

    #[test]
    fn header_fields_are_numbers_with_names_beside() {
        let v = dissect_hex(ENQUIRE_LINK, DecodeMode::Strict).unwrap();
        assert_eq!(v["command_length"], json!(16));
        assert_eq!(v["command_id"], json!(0x15));
        assert_eq!(v["command_name"], json!("enquire_link"));
        assert_eq!(v["command_status_name"], json!("ESME_ROK"));
        assert_eq!(v["sequence_number"], json!(1));
        let text = render_text(&v);
        assert!(text.contains("command_id: 0x00000015"), "{text}");
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(matches!(
            dissect_hex("zz", DecodeMode::Lenient),
            Err(DissectError::Hex(_))
        ));
        assert!(matches!(
            dissect_hex("00 00 00 10", DecodeMode::Lenient),
            Err(DissectError::Short { len: 4 })
        ));
        let e = dissect_hex(
            "00 00 00 20  00 00 00 15  00 00 00 00  00 00 00 01",
            DecodeMode::Lenient,
        )
        .unwrap_err();
        assert!(e.to_string().contains("command_length says 32"), "{e}");
    }
}
