//! Any bytes through store detection, the dotenv/JSON/YAML parsers, metadata
//! parsing and the ENC[...] parser: they may reject, never panic or hang.
#![no_main]

use clawinit::secrets::{cipher, store, IdentitySources};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = store::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let key = cipher::DataKey::from_slice(&[7; 32]).unwrap();
        let _ = cipher::decrypt(text, &key, b"K:");
    }
    // The whole pipeline with no identities: must fail cleanly at the data key.
    let _ = clawinit::secrets::decrypt_bytes(data, "fuzz", &IdentitySources::default());
});
