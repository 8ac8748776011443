//! The one error of the secrets engine: a kind (one exit code of the
//! contract each) and one line for the user that names the file, the key
//! path or the metadata field, never a value.

use std::fmt;

/// What went wrong, as the contract's exit codes tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 66: the file is missing or unreadable.
    Missing,
    /// 65: not a SOPS document, unparseable, or an unsupported feature.
    Malformed,
    /// 67: no identity opens the data key.
    NoIdentity,
    /// 68: a value's tag or the MAC does not verify.
    Integrity,
}

#[derive(Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

/// Said when a file has no `sops` metadata, whatever the store.
pub const NO_METADATA: &str = "not a SOPS document: no sops metadata found (is the file encrypted?)";

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }

    pub fn malformed(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Malformed, message)
    }

    pub fn no_metadata() -> Error {
        Error::malformed(NO_METADATA)
    }

    pub fn too_deep() -> Error {
        Error::malformed(format!("nested deeper than {} levels", super::tree::MAX_DEPTH))
    }

    /// The same error, its line prefixed with the file it is about.
    pub fn in_file(self, file: &str) -> Error {
        Error { kind: self.kind, message: format!("{file}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
