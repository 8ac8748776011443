//! sops's value encryption: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`,
//! AES-256-GCM with a 32-byte nonce and the key path as AAD.

use std::sync::OnceLock;

use aes_gcm::aead::{generic_array::GenericArray, AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use regex_lite::Regex;
use zeroize::Zeroizing;

use super::golang;
use super::tree::{secret, Scalar, SecretBytes};

/// AES-256-GCM with sops's 32-byte IV (GHASH-derived J0, NIST SP 800-38D).
type SopsGcm = AesGcm<Aes256, aes_gcm::aead::consts::U32>;

const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// The 32-byte data key of a file.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(DataKey(Zeroizing::new(array)))
    }
}

/// What a decrypted `ENC[...]` value turned out to be.
#[derive(Debug, PartialEq)]
pub enum Plain {
    Value(Scalar),
    Comment(SecretBytes),
}

/// Why a value did not decrypt. Messages never contain the value.
#[derive(Debug, PartialEq)]
pub enum CipherError {
    /// Not of the form `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
    NotEncrypted,
    /// A field is not valid base64 or has the wrong length.
    BadField(&'static str),
    /// The GCM tag does not verify: wrong key, wrong AAD, or changed bytes.
    Authentication,
    /// The plaintext does not parse as its `type:` tag says.
    BadType(String),
}

impl std::fmt::Display for CipherError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CipherError::NotEncrypted => f.write_str("value is not an ENC[AES256_GCM,...] string"),
            CipherError::BadField(field) => {
                write!(f, "the {field} field of the ENC[...] value is corrupted")
            }
            CipherError::Authentication => f.write_str(
                "authentication failed (the value was changed, moved to another key, or corrupted)",
            ),
            CipherError::BadType(t) => write!(
                f,
                "the decrypted value does not parse as its type tag {t:?}"
            ),
        }
    }
}

fn enc_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    // The exact expression of sops's aes/cipher.go: anchored at the start only,
    // greedy groups; bytes after the closing bracket are ignored.
    PATTERN.get_or_init(|| {
        Regex::new(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
            .expect("static regex")
    })
}

/// Decrypt one stored value. `aad` is the key path joined by `:` plus a
/// trailing `:` (or the lastmodified string for the MAC). An empty value is
/// never encrypted by sops and decrypts to an empty string.
pub fn decrypt(stored: &str, key: &DataKey, aad: &[u8]) -> Result<Plain, CipherError> {
    if stored.is_empty() {
        return Ok(Plain::Value(Scalar::Str(secret(b""))));
    }
    let caps = enc_pattern()
        .captures(stored)
        .ok_or(CipherError::NotEncrypted)?;
    let field = |i: usize, name: &'static str| {
        STANDARD
            .decode(&caps[i])
            .map_err(|_| CipherError::BadField(name))
    };
    let mut data = Zeroizing::new(field(1, "data")?);
    let iv = field(2, "iv")?;
    let tag = field(3, "tag")?;
    if iv.len() != IV_LEN {
        return Err(CipherError::BadField("iv"));
    }
    if tag.len() != TAG_LEN {
        return Err(CipherError::BadField("tag"));
    }
    let cipher = SopsGcm::new(GenericArray::from_slice(&key.0[..]));
    cipher
        .decrypt_in_place_detached(
            GenericArray::from_slice(&iv),
            aad,
            &mut data,
            GenericArray::from_slice(&tag),
        )
        .map_err(|_| CipherError::Authentication)?;
    decode_typed(&caps[4], data)
}

/// Turn decrypted bytes into a value as sops's `aes/cipher.go` does per type tag.
/// The tag is outside the AEAD, so a parse failure is treated like tampering.
fn decode_typed(type_tag: &str, bytes: SecretBytes) -> Result<Plain, CipherError> {
    let bad = || CipherError::BadType(type_tag.to_string());
    let text = || std::str::from_utf8(&bytes).map_err(|_| bad());
    let scalar = match type_tag {
        "str" => Scalar::Str(bytes.clone()),
        "bytes" => Scalar::Bytes(bytes.clone()),
        "comment" => return Ok(Plain::Comment(bytes)),
        "int" => Scalar::Int(golang::parse_int(text()?).ok_or_else(bad)?),
        "float" => Scalar::Float(text()?.parse().map_err(|_| bad())?),
        "bool" => Scalar::Bool(golang::parse_bool(text()?).ok_or_else(bad)?),
        "time" => {
            let t = text()?;
            golang::reformat_rfc3339(t).ok_or_else(bad)?;
            Scalar::Time(t.to_string())
        }
        _ => return Err(bad()),
    };
    Ok(Plain::Value(scalar))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::Aead;

    fn encrypt(plain: &[u8], key: &[u8; 32], iv: &[u8; 32], aad: &[u8], type_tag: &str) -> String {
        let cipher = SopsGcm::new(GenericArray::from_slice(key));
        let mut out = cipher
            .encrypt(
                GenericArray::from_slice(iv),
                aes_gcm::aead::Payload { msg: plain, aad },
            )
            .unwrap();
        let tag = out.split_off(out.len() - TAG_LEN);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{type_tag}]",
            STANDARD.encode(&out),
            STANDARD.encode(iv),
            STANDARD.encode(&tag)
        )
    }

    const KEY: [u8; 32] = [7; 32];
    const IV: [u8; 32] = [9; 32];

    fn key() -> DataKey {
        DataKey::from_slice(&KEY).unwrap()
    }

    #[test]
    fn round_trip_with_path_aad() {
        let enc = encrypt(b"hunter2", &KEY, &IV, b"PASSWORD:", "str");
        assert_eq!(
            decrypt(&enc, &key(), b"PASSWORD:").unwrap(),
            Plain::Value(Scalar::Str(secret(b"hunter2")))
        );
        assert_eq!(
            decrypt(&enc, &key(), b"OTHER:"),
            Err(CipherError::Authentication)
        );
    }

    #[test]
    fn typed_values_decode_like_go() {
        let enc = encrypt(b"8080", &KEY, &IV, b"p:", "int");
        assert_eq!(
            decrypt(&enc, &key(), b"p:").unwrap(),
            Plain::Value(Scalar::Int(8080))
        );
        let enc = encrypt(b"True", &KEY, &IV, b"p:", "bool");
        assert_eq!(
            decrypt(&enc, &key(), b"p:").unwrap(),
            Plain::Value(Scalar::Bool(true))
        );
        let enc = encrypt(b"abc", &KEY, &IV, b"p:", "int");
        assert!(matches!(
            decrypt(&enc, &key(), b"p:"),
            Err(CipherError::BadType(_))
        ));
        let enc = encrypt(b"x", &KEY, &IV, b"p:", "weird");
        assert!(matches!(
            decrypt(&enc, &key(), b"p:"),
            Err(CipherError::BadType(_))
        ));
    }

    #[test]
    fn every_flipped_bit_fails() {
        let enc = encrypt(b"secret value", &KEY, &IV, b"K:", "str");
        let start = enc.find("data:").unwrap() + 5;
        let end = enc.find(",type:").unwrap();
        for i in start..end {
            for bit in 0..7 {
                let mut bytes = enc.clone().into_bytes();
                bytes[i] ^= 1 << bit;
                let Ok(tampered) = String::from_utf8(bytes) else {
                    continue;
                };
                assert!(
                    decrypt(&tampered, &key(), b"K:").is_err(),
                    "byte {i} bit {bit} accepted"
                );
            }
        }
    }

    #[test]
    fn empty_and_malformed() {
        assert_eq!(
            decrypt("", &key(), b"K:").unwrap(),
            Plain::Value(Scalar::Str(secret(b"")))
        );
        assert_eq!(
            decrypt("plain", &key(), b"K:"),
            Err(CipherError::NotEncrypted)
        );
        assert_eq!(
            decrypt(
                "ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]",
                &key(),
                b"K:"
            ),
            Err(CipherError::BadField("data"))
        );
        let short_iv = encrypt(b"x", &KEY, &IV, b"K:", "str").replace(&STANDARD.encode(IV), "AAAA");
        assert_eq!(
            decrypt(&short_iv, &key(), b"K:"),
            Err(CipherError::BadField("iv"))
        );
    }
}
