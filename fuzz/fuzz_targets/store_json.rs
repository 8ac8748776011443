//! The JSON store (repeated keys kept, nesting limited) and its metadata.
#![no_main]

use clawinit::secrets::store::{self, StoreKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = store::json::parse(data) {
        let _ = store::check_metadata(&parsed.metadata, StoreKind::Json);
        let _ = store::json::emit(&parsed.tree);
    }
});
