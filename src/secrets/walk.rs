//! Decrypt every leaf the crypt rule marks as encrypted and compute the MAC,
//! in one walk in document order — the same walk as sops's `Tree.Decrypt`.

use sha2::{Digest, Sha512};

use super::cipher::{self, CipherError, DataKey, Plain};
use super::error::{Error, ErrorKind};
use super::metadata::Metadata;
use super::tree::{Branch, Key, Scalar, SecretBytes, Value};

/// SHA-256("sops"): hashed first when `mac_only_encrypted` is set, so that such
/// a MAC never equals the MAC of the same values without the option.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b, 0x97, 0x5b,
    0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

struct Walker<'a> {
    meta: &'a Metadata,
    key: &'a DataKey,
    hash: Sha512,
    path: Vec<String>,
    /// One run of preceding comments per nesting level, as stored in the file.
    comments: Vec<Vec<SecretBytes>>,
}

/// Decrypt `branch` in place and return the MAC sops would compute for it
/// (upper-case hex of SHA-512).
pub fn decrypt(branch: &mut Branch, meta: &Metadata, key: &DataKey) -> Result<String, Error> {
    let mut walker = Walker { meta, key, hash: Sha512::new(), path: Vec::new(), comments: Vec::new() };
    if meta.mac_only_encrypted {
        walker.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    walker.branch(branch)?;
    Ok(walker.hash.finalize().iter().map(|b| format!("{b:02X}")).collect())
}

impl Walker<'_> {
    fn branch(&mut self, branch: &mut Branch) -> Result<(), Error> {
        self.comments.push(Vec::new());
        for item in branch.iter_mut() {
            match &mut item.key {
                Key::Comment(text) => {
                    self.comments.last_mut().expect("pushed above").push(text.clone());
                    self.comment(text)?;
                }
                Key::Name(name) => {
                    self.path.push(name.clone());
                    let result = self.value(&mut item.value);
                    self.path.pop();
                    result?;
                    self.comments.last_mut().expect("pushed above").clear();
                }
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn value(&mut self, value: &mut Value) -> Result<(), Error> {
        match value {
            Value::Null => Ok(()),
            Value::Map(branch) => self.branch(branch),
            Value::List(items) => {
                self.comments.push(Vec::new());
                let result = items.iter_mut().try_for_each(|v| self.value(v));
                self.comments.pop();
                result
            }
            Value::Scalar(scalar) => self.leaf(scalar),
        }
    }

    fn encrypts(&self, is_comment: bool) -> bool {
        self.meta.rule.encrypts(&self.path, &self.comments, is_comment)
    }

    fn aad(&self) -> Vec<u8> {
        let mut aad = self.path.join(":").into_bytes();
        aad.push(b':');
        aad
    }

    fn fail(&self, cause: CipherError) -> Error {
        // Keys come from the file: escaped, so a key cannot forge a log line.
        let path = match self.path.is_empty() {
            true => "(comment)".to_string(),
            false => crate::names::shown_name(self.path.join(".").as_bytes()),
        };
        Error::new(ErrorKind::Integrity, format!("key {path}: {cause}"))
    }

    fn leaf(&mut self, scalar: &mut Scalar) -> Result<(), Error> {
        let encrypted = self.encrypts(false);
        if encrypted {
            let Scalar::Str(stored) = &*scalar else {
                return Err(self.fail(CipherError::NotEncrypted));
            };
            let stored = std::str::from_utf8(stored).map_err(|_| self.fail(CipherError::NotEncrypted))?;
            match cipher::decrypt(stored, self.key, &self.aad()) {
                Ok(Plain::Value(plain)) => *scalar = plain,
                Ok(Plain::Comment(_)) => return Err(self.fail(CipherError::BadType("comment".into()))),
                Err(cause) => return Err(self.fail(cause)),
            }
        }
        if !self.meta.mac_only_encrypted || encrypted {
            scalar.feed_mac(&mut self.hash);
        }
        Ok(())
    }

    /// Comments are decrypted but never hashed. sops tolerates a comment that
    /// does not decrypt (files from sops < 3.0 kept comments plain); clawinit
    /// only tolerates one that is not an `ENC[...]` string at all, and rejects
    /// an `ENC[...]` comment that fails to authenticate as tampering.
    fn comment(&mut self, text: &mut SecretBytes) -> Result<(), Error> {
        if !self.encrypts(true) || text.is_empty() {
            return Ok(());
        }
        if !text.starts_with(b"ENC[") {
            tracing::debug!("a plaintext comment where sops writes encrypted ones was kept as is");
            return Ok(());
        }
        let stored = std::str::from_utf8(text).map_err(|_| self.fail(CipherError::NotEncrypted))?;
        match cipher::decrypt(stored, self.key, &self.aad()) {
            Ok(Plain::Comment(plain)) => *text = plain,
            // sops 3.11 hashes a "comment" whose ciphertext carries another type
            // tag (it is encrypted here, so mac_only_encrypted includes it too).
            Ok(Plain::Value(value)) => {
                let bytes = value.mac_bytes();
                self.hash.update(&bytes);
                *text = bytes;
            }
            Err(cause) => return Err(self.fail(cause)),
        }
        Ok(())
    }
}
