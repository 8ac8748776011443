//! openclaw.json and overlays: the JSON5 reader (depth pre-scan, serde_json,
//! then json5) and the writer on whatever it accepts.
#![no_main]

use std::path::Path;

use clawinit::config::{json, store};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(value) = json::parse_json5(text) {
        let _ = json::to_openclaw_bytes(&value);
    }
    let _ = store::parse(Path::new("openclaw.json"), text);
});
