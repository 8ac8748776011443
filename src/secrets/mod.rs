//! Decrypt SOPS files with age identities, exactly as sops 3.11 does, without
//! the sops binary. The pipeline: read → detect the store and parse (format)
//! → metadata → data key (age) → decrypt leaves and compute the MAC → verify.

pub mod cipher;
mod datakey;
mod env;
mod error;
mod golang;
pub mod identities;
mod metadata;
pub mod store;
pub mod tree;
mod walk;

use std::path::Path;

use crate::exit::{Exit, Failure};
pub use env::{environment_items, SecretVar};
pub use error::{Error, ErrorKind};
pub use identities::{IdentitySources, IDENTITY_VARIABLE_PREFIX};
use metadata::Metadata;
pub use store::StoreKind;
use tree::{Branch, Scalar};

/// A decrypted document. Its values are wiped from memory when it is dropped.
pub struct Document {
    pub kind: StoreKind,
    pub tree: Branch,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let exit = match e.kind {
            ErrorKind::Missing => Exit::SecretsMissing,
            ErrorKind::Malformed => Exit::SecretsMalformed,
            ErrorKind::NoIdentity => Exit::NoIdentity,
            ErrorKind::Integrity => Exit::Integrity,
        };
        Failure::new(exit, e.message)
    }
}

/// Read and decrypt the SOPS file at `path`.
pub fn decrypt_file(path: &Path, sources: &IdentitySources) -> Result<Document, Error> {
    let file = path.display().to_string();
    // The file holds ciphertext (and values the user chose not to encrypt);
    // the buffer is wiped anyway, as is every decrypted value.
    let content = crate::files::read(path, crate::files::SECRETS_FILE_LIMIT)
        .map_err(|e| Error::new(ErrorKind::Missing, format!("{file}: cannot read secrets file: {e}")))?;
    decrypt_bytes(&content, &file, sources)
}

/// Decrypt a SOPS document held in memory; `file` names it in errors.
pub fn decrypt_bytes(content: &[u8], file: &str, sources: &IdentitySources) -> Result<Document, Error> {
    decrypt_parts(content, sources).map_err(|e| e.in_file(file)).inspect(|doc| {
        tracing::debug!(file, store = doc.kind.name(), "decrypted and verified");
    })
}

/// parse → metadata → data key → values and MAC → verify.
fn decrypt_parts(content: &[u8], sources: &IdentitySources) -> Result<Document, Error> {
    let parsed = store::parse(content)?;
    let meta = Metadata::parse(&parsed.metadata, parsed.kind.field_style())?;
    let identities = identities::Identities::load(sources);
    let key = datakey::recover(&meta, &identities)?;
    drop(identities);
    let mut tree = parsed.tree;
    let computed = walk::decrypt(&mut tree, &meta, &key)?;
    verify_mac(&meta, &key, &computed).map_err(|d| Error::new(ErrorKind::Integrity, d))?;
    Ok(Document { kind: parsed.kind, tree })
}

/// The stored MAC, decrypted with the lastmodified AAD, must equal the computed one.
fn verify_mac(meta: &Metadata, key: &cipher::DataKey, computed: &str) -> Result<(), String> {
    let field = meta.style.name("mac");
    if meta.mac.is_empty() {
        return Err(format!("{field}: missing (the file has no MAC)"));
    }
    match cipher::decrypt(&meta.mac, key, meta.mac_aad.as_bytes()) {
        Ok(cipher::Plain::Value(Scalar::Str(stored))) if stored.as_slice() == computed.as_bytes() => Ok(()),
        Ok(_) => Err(format!("{field}: MAC mismatch (values were changed, reordered, added or removed)")),
        Err(e) => {
            Err(format!("{field}: cannot decrypt the MAC ({e}; was {} changed?)", meta.style.name("lastmodified")))
        }
    }
}
