//! Recover the file's data key from its age stanzas with the loaded identities.

use std::io::Read;

use age::armor::ArmoredReader;
use zeroize::Zeroizing;

use super::cipher::DataKey;
use super::error::{Error, ErrorKind};
use super::identities::Identities;
use super::metadata::Metadata;

/// Try every age stanza with every identity; the first that opens wins.
pub fn recover(meta: &Metadata, identities: &Identities) -> Result<DataKey, Error> {
    if meta.age.is_empty() {
        let detail = if meta.other_key_types.is_empty() {
            format!("{}: no age recipient in the metadata", meta.style.name("age"))
        } else {
            format!(
                "only {} master keys, which clawinit does not support (add an age recipient with `sops updatekeys`)",
                meta.other_key_types.join(", ")
            )
        };
        return Err(Error::malformed(detail));
    }
    let mut corrupted = Vec::new();
    for (index, entry) in meta.age.iter().enumerate() {
        let field = meta.style.age_field(index, "enc");
        let decryptor = match age::Decryptor::new_buffered(ArmoredReader::new(entry.enc.as_bytes())) {
            Ok(d) if !d.is_scrypt() => d,
            other => {
                tracing::debug!(stanza = index, error = ?other.err(), "age stanza does not parse");
                corrupted.push(field);
                continue;
            }
        };
        let ids = identities.keys.iter().map(|k| k.as_identity());
        match decryptor.decrypt(ids) {
            Ok(mut reader) => {
                let mut key = Zeroizing::new(Vec::with_capacity(32));
                let bad = || integrity(format!("{field}: the age payload failed authentication"));
                reader.read_to_end(&mut key).map_err(|_| bad())?;
                tracing::debug!(stanza = index, recipient = %entry.recipient, "data key recovered");
                return DataKey::from_slice(&key)
                    .ok_or_else(|| Error::malformed(format!("{field}: the data key is not 32 bytes")));
            }
            Err(age::DecryptError::NoMatchingKeys) => {}
            Err(age::DecryptError::InvalidMac) => {
                return Err(integrity(format!("{field}: the age header MAC does not verify")));
            }
            Err(e) => {
                tracing::debug!(stanza = index, error = %e, "age stanza did not open");
                corrupted.push(field)
            }
        }
    }
    if corrupted.len() == meta.age.len() {
        return Err(Error::malformed(format!("corrupted age stanza: {}", corrupted.join(", "))));
    }
    Err(no_identity(no_identity_message(meta, identities)))
}

fn no_identity_message(meta: &Metadata, identities: &Identities) -> String {
    let recipients: Vec<&str> = meta.age.iter().map(|a| a.recipient.as_str()).filter(|r| !r.is_empty()).collect();
    let mut msg = match recipients.is_empty() {
        true => format!("no age identity can decrypt the data key ({} recipient(s))", meta.age.len()),
        false => format!("no age identity can decrypt the data key: the file is for {}", recipients.join(", ")),
    };
    if identities.keys.is_empty() {
        msg.push_str("; no identity found: set SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or SOPS_AGE_KEY_CMD");
    } else {
        msg.push_str(&format!("; you have {}", identities.loaded().join("; ")));
    }
    if !identities.problems.is_empty() {
        msg.push_str(&format!("; could not load {}", identities.problems.join("; ")));
    }
    msg
}

/// No identity matched any stanza (67).
fn no_identity(detail: String) -> Error {
    Error::new(ErrorKind::NoIdentity, detail)
}

/// A stanza matched but its content failed authentication (68).
fn integrity(detail: String) -> Error {
    Error::new(ErrorKind::Integrity, detail)
}
