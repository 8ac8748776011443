//! The three SOPS stores. Each turns file bytes into the document tree plus the
//! `sops` metadata (as a nested JSON value), and back into plaintext output.
//! The store is detected from the content, never from the file name.

pub mod dotenv;
pub mod json;
pub mod yaml;

use serde_json::Value as Json;

pub use super::error::Error;
use super::metadata::FieldStyle;
use super::tree::Branch;
pub use super::tree::MAX_DEPTH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Dotenv,
    Json,
    Yaml,
}

impl StoreKind {
    pub fn field_style(self) -> FieldStyle {
        match self {
            StoreKind::Dotenv => FieldStyle::Flat,
            StoreKind::Json | StoreKind::Yaml => FieldStyle::Nested,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Dotenv => "dotenv",
            StoreKind::Json => "JSON",
            StoreKind::Yaml => "YAML",
        }
    }
}

/// A parsed, still encrypted document.
pub struct Parsed {
    pub kind: StoreKind,
    pub tree: Branch,
    pub metadata: Json,
}

impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Parsed({}, {} items)", self.kind.name(), self.tree.len())
    }
}

/// Detect the store from the content and parse it.
pub fn parse(content: &[u8]) -> Result<Parsed, Error> {
    if content.is_empty() {
        return Err(Error::malformed("empty file, not a SOPS document"));
    }
    if memchr::memchr(0, content).is_some() {
        return Err(Error::malformed("binary data, not a SOPS document"));
    }
    match detect(content) {
        Some(StoreKind::Json) => json::parse(content),
        Some(StoreKind::Dotenv) => dotenv::parse(content),
        Some(StoreKind::Yaml) => yaml::parse(content),
        None => Err(Error::no_metadata()),
    }
}

/// Read a metadata block as decryption does, with the field spelling of
/// `kind`; nothing else depends on it. Public for the fuzz targets, which
/// cannot reach the private metadata module.
pub fn check_metadata(metadata: &Json, kind: StoreKind) -> Result<(), String> {
    super::metadata::Metadata::parse(metadata, kind.field_style()).map(drop).map_err(|e| e.message)
}

fn detect(content: &[u8]) -> Option<StoreKind> {
    let first = content.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first == b'{' {
        return Some(StoreKind::Json);
    }
    // From the end: sops writes its metadata last, so a real file answers
    // in a few lines instead of a scan of every value.
    let has_line = |prefix: &[u8]| content.rsplit(|b| *b == b'\n').any(|line| line.starts_with(prefix));
    if has_line(b"sops_") {
        return Some(StoreKind::Dotenv);
    }
    if has_line(b"sops:") {
        return Some(StoreKind::Yaml);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(detect(b"A=ENC[x]\nsops_version=3.11.0\n"), Some(StoreKind::Dotenv));
        assert_eq!(detect(b"  {\"a\": 1}"), Some(StoreKind::Json));
        assert_eq!(detect(b"a: 1\nsops:\n    version: 3.11.0\n"), Some(StoreKind::Yaml));
        assert_eq!(detect(b"A=1\nB=2\n"), None);
    }

    #[test]
    fn rejects_empty_binary_and_plaintext() {
        assert!(parse(b"").unwrap_err().message.contains("empty"));
        assert!(parse(b"\x00\x01\x02sops_").unwrap_err().message.contains("binary"));
        assert!(parse(b"OPENAI_API_KEY=sk-live\n").unwrap_err().message.contains("no sops metadata"));
    }
}
