//! Receipt text parsing never panics, and a parsed receipt has an id or a stat.
#![no_main]

use gannet_smpp::parse_receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_receipt(data) {
        assert!(r.id.is_some() || r.stat.is_some());
    }
});
