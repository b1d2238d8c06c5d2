//! `gannet pdu decode` as an operator runs it: the real binary, real files, exit codes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn gannet(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gannet"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// A deliver_sm receipt: text body plus receipted_message_id, message_state and
// network_error_code TLVs (SMPP 3.4 §4.6.1, Appendix B, §5.3.2.12/.35/.31).
const RECEIPT: &str = "00 00 00 b5 00 00 00 05 00 00 00 00 00 00 00 2a \
    00 01 01 39 31 39 38 31 32 33 34 35 36 37 38 00 05 00 47 41 4e 4e 45 54 00 \
    04 00 00 00 00 00 00 00 00 6b \
    69 64 3a 31 61 32 62 33 63 20 73 75 62 3a 30 30 31 20 64 6c 76 72 64 3a 30 30 31 20 \
    73 75 62 6d 69 74 20 64 61 74 65 3a 32 36 31 31 32 31 31 32 30 30 20 64 6f 6e 65 20 \
    64 61 74 65 3a 32 36 31 31 32 31 31 32 30 31 20 73 74 61 74 3a 44 45 4c 49 56 52 44 \
    20 65 72 72 3a 30 30 30 20 74 65 78 74 3a 59 6f 75 72 20 63 6f 64 65 \
    00 1e 00 07 31 61 32 62 33 63 00 04 27 00 01 02 04 23 00 03 03 00 00";

#[test]
fn receipt_as_json_uses_spec_names_and_parses_the_receipt() {
    let (code, out, err) = gannet(&["pdu", "decode", "--json", RECEIPT]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["command_length"], 181);
    assert_eq!(v["command_id"], 5);
    assert_eq!(v["command_name"], "deliver_sm");
    assert_eq!(v["sequence_number"], 42);
    assert_eq!(v["source_addr"], "919812345678");
    assert_eq!(v["destination_addr"], "GANNET");
    assert_eq!(v["esm_class"], 4);
    assert_eq!(v["data_coding"], 0);
    assert_eq!(v["sm_length"], 107);
    assert_eq!(v["tlvs"][0]["tag"], 0x001e);
    assert_eq!(v["tlvs"][0]["length"], 7);
    assert_eq!(v["tlvs"][0]["value"], "1a2b3c");
    assert_eq!(v["tlvs"][1]["tag_name"], "message_state");
    assert_eq!(v["receipt"]["id"], "1a2b3c");
    assert_eq!(v["receipt"]["stat"], "DELIVRD");
    assert_eq!(v["receipt"]["final"], true);
    assert_eq!(v["receipt"]["err"], "000");
    assert_eq!(v["receipt"]["text"], "Your code");
    assert_eq!(v["receipt"]["network_error_code"]["network_type"], 3);
}

#[test]
fn text_view_names_codes() {
    let (code, out, _) = gannet(&["pdu", "decode", RECEIPT]);
    assert_eq!(code, 0);
    assert!(out.contains("command_name: \"deliver_sm\""), "{out}");
    assert!(out.contains("tag_name: \"receipted_message_id\""), "{out}");
    assert!(out.contains("  stat: \"DELIVRD\""), "{out}");
}

#[test]
fn bad_hex_and_bad_pdus_exit_non_zero_with_a_reason() {
    let (code, _, err) = gannet(&["pdu", "decode", "00 0g"]);
    assert_ne!(code, 0);
    assert!(err.contains("bad hex"), "{err}");

    // command_length 0x20 but only 16 octets given.
    let (code, _, err) = gannet(&["pdu", "decode", "00000020 00000015 00000000 00000001"]);
    assert_ne!(code, 0);
    assert!(err.contains("command_length says 32"), "{err}");

    // submit_sm whose destination_addr never ends (no NUL before the end of the PDU).
    let (code, _, err) = gannet(&[
        "pdu",
        "decode",
        "--strict",
        "00000015 00000004 00000000 00000001 00 01 01 39 39",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("invalid PDU"), "{err}");

    let (code, _, err) = gannet(&["pdu", "decode", "--file", "/nonexistent/x.hex"]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot read"), "{err}");
}

/// Every golden fixture dissects, and its command_length is its octet count.
#[test]
fn every_fixture_dissects() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto-fixtures");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("no proto-fixtures/ directory");
    };
    let mut seen = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("hex") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let octets = gannet_smpp::hex::parse_spaced_hex(&text).unwrap().len();
        let (code, out, err) =
            gannet(&["pdu", "decode", "--json", "--file", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {err}", path.display());
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["command_length"], octets, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} fixtures");
}
