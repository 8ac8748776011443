//! The dotenv store and its flattened `sops_*` metadata: any bytes may be
//! rejected, never panic, hang, or allocate without bound.
#![no_main]

use clawinit::secrets::store::{self, StoreKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = store::dotenv::parse(data) {
        let _ = store::check_metadata(&parsed.metadata, StoreKind::Dotenv);
        let _ = store::dotenv::emit(&parsed.tree);
    }
});
