//! OpenClaw's package.json as PID 1 reads it at start (the gateway's
//! release), and any text as a release version: no panic, and a parsed
//! version prints back as itself.
#![no_main]

use clawinit::openclaw_version::{parse_package_json, Release};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(release)) = parse_package_json(data) {
        let _ = release.is_tested();
        let _ = clawinit::openclaw_version::has_model_policy(Some(&release));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(release) = text.parse::<Release>() {
            assert_eq!(release.to_string(), text, "a parsed version prints back as itself");
        }
    }
});
