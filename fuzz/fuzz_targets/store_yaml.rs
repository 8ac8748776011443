//! The YAML store (event-built tree: no aliases, nesting limited) and its
//! metadata; the output of a YAML document is JSON.
#![no_main]

use clawinit::secrets::store::{self, StoreKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = store::yaml::parse(data) {
        let _ = store::check_metadata(&parsed.metadata, StoreKind::Yaml);
        let _ = store::json::emit(&parsed.tree);
    }
});
