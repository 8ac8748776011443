//! Decrypt every leaf the crypt rule marks as encrypted and compute the MAC,
//! in one walk in document order — the same walk as sops's `Tree.Decrypt`.

use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::cipher::{self, CipherError, DataKey, Plain};
use super::error::{Error, ErrorKind};
use super::metadata::Metadata;
use super::tree::{Branch, Item, Key, Scalar, SecretBytes, Value};

/// SHA-256("sops"): hashed first when `mac_only_encrypted` is set, so that such
/// a MAC never equals the MAC of the same values without the option.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b, 0x97, 0x5b,
    0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// MAC input is staged and hashed this many bytes at a time: SHA-512's AVX2
/// code compresses two blocks at once only when it is given several, and most
/// values are a few bytes (a 10 000-key decrypt spent 9% of its instructions in
/// one-block compressions, profiled with callgrind).
const MAC_STAGE: usize = 16 * 1024;

struct Walker<'a, 't> {
    meta: &'a Metadata,
    key: &'a DataKey,
    hash: Sha512,
    /// Plaintext waiting to be hashed; zeroized when dropped.
    mac_stage: Zeroizing<Vec<u8>>,
    /// The key path of the current leaf, borrowed from the tree.
    path: Vec<&'t str>,
    /// The AAD of the current leaf (`a:b:`), rebuilt in place for each leaf.
    aad: Vec<u8>,
    /// One run of preceding comments per nesting level, as stored in the file.
    comments: Vec<Vec<SecretBytes>>,
}

/// Decrypt `branch` in place and return the MAC sops would compute for it
/// (upper-case hex of SHA-512).
pub fn decrypt(branch: &mut Branch, meta: &Metadata, key: &DataKey) -> Result<String, Error> {
    let mut walker = Walker {
        meta,
        key,
        hash: Sha512::new(),
        mac_stage: Zeroizing::new(Vec::with_capacity(MAC_STAGE)),
        path: Vec::new(),
        aad: Vec::new(),
        comments: Vec::new(),
    };
    if meta.mac_only_encrypted {
        walker.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    walker.branch(branch)?;
    walker.hash.update(&walker.mac_stage[..]);
    Ok(walker.hash.finalize().iter().map(|b| format!("{b:02X}")).collect())
}

impl<'t> Walker<'_, 't> {
    fn branch(&mut self, branch: &'t mut Branch) -> Result<(), Error> {
        self.comments.push(Vec::new());
        for Item { key, value } in branch.iter_mut() {
            match key {
                Key::Comment(text) => {
                    self.comments.last_mut().expect("pushed above").push(text.clone());
                    self.comment(text)?;
                }
                Key::Name(name) => {
                    let name: &'t String = name;
                    self.path.push(name);
                    let result = self.value(value);
                    self.path.pop();
                    result?;
                    self.comments.last_mut().expect("pushed above").clear();
                }
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn value(&mut self, value: &'t mut Value) -> Result<(), Error> {
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

    /// sops's AAD: the path steps joined by `:`, then one more `:` (so a
    /// top-level comment's AAD is `:`).
    fn build_aad(&mut self) {
        self.aad.clear();
        for (i, step) in self.path.iter().enumerate() {
            if i > 0 {
                self.aad.push(b':');
            }
            self.aad.extend_from_slice(step.as_bytes());
        }
        self.aad.push(b':');
    }

    fn feed_mac(&mut self, bytes: &[u8]) {
        if self.mac_stage.len() + bytes.len() > MAC_STAGE {
            self.hash.update(&self.mac_stage[..]);
            self.mac_stage.clear();
        }
        if bytes.len() >= MAC_STAGE {
            self.hash.update(bytes);
        } else {
            self.mac_stage.extend_from_slice(bytes);
        }
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
            let Scalar::Str(stored) = scalar else {
                return Err(self.fail(CipherError::NotEncrypted));
            };
            let stored = std::mem::take(stored);
            self.build_aad();
            match cipher::decrypt_owned(stored, self.key, &self.aad) {
                Ok(Plain::Value(plain)) => *scalar = plain,
                Ok(Plain::Comment(_)) => return Err(self.fail(CipherError::BadType("comment".into()))),
                Err(cause) => return Err(self.fail(cause)),
            }
        }
        if !self.meta.mac_only_encrypted || encrypted {
            match scalar {
                Scalar::Str(bytes) | Scalar::Bytes(bytes) => self.feed_mac(bytes),
                other => self.feed_mac(&other.mac_bytes()),
            }
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
        self.build_aad();
        match cipher::decrypt(stored, self.key, &self.aad) {
            Ok(Plain::Comment(plain)) => *text = plain,
            // sops 3.11 hashes a "comment" whose ciphertext carries another type
            // tag (it is encrypted here, so mac_only_encrypted includes it too).
            Ok(Plain::Value(value)) => {
                let bytes = value.mac_bytes();
                self.feed_mac(&bytes);
                *text = bytes;
            }
            Err(cause) => return Err(self.fail(cause)),
        }
        Ok(())
    }
}
