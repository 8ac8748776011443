//! The metadata reader on any JSON value, in both field spellings, and on
//! whatever the store detection makes of the bytes.
#![no_main]

use clawinit::secrets::store::{self, StoreKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = store::check_metadata(&json, StoreKind::Dotenv);
        let _ = store::check_metadata(&json, StoreKind::Json);
    }
    if let Ok(parsed) = store::parse(data) {
        let _ = store::check_metadata(&parsed.metadata, parsed.kind);
    }
});
