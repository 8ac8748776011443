//! sops's value encryption: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`,
//! AES-256-GCM with a 32-byte nonce and the key path as AAD.

use aes_gcm::aead::{generic_array::GenericArray, AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::golang;
use super::tree::{secret, Scalar, SecretBytes};

/// AES-256-GCM with sops's 32-byte IV (GHASH-derived J0, NIST SP 800-38D).
type SopsGcm = AesGcm<Aes256, aes_gcm::aead::consts::U32>;

const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// The 32-byte data key of a file, with its AES key schedule built once.
pub struct DataKey {
    cipher: SopsGcm,
}

impl DataKey {
    pub fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        let key: Zeroizing<[u8; 32]> = Zeroizing::new(bytes.try_into().ok()?);
        Some(DataKey { cipher: SopsGcm::new(GenericArray::from_slice(&key[..])) })
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
            CipherError::Authentication => {
                f.write_str("authentication failed (the value was changed, moved to another key, or corrupted)")
            }
            CipherError::BadType(t) => write!(f, "the decrypted value does not parse as its type tag {t:?}"),
        }
    }
}

/// The fields of an `ENC[...]` string, split exactly as sops's expression
/// `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]` (Go RE2) does:
/// anchored at the start only, `.` stops at a newline, every group greedy (so
/// each takes the rightmost separator that still lets the rest match), and
/// bytes after the last `]` are ignored. Hand-written because a regex engine's
/// capture search was 89% of a decrypt's instructions (profiled with callgrind).
fn split_enc(stored: &str) -> Option<[&str; 4]> {
    let line = match memchr::memchr(b'\n', stored.as_bytes()) {
        Some(newline) => &stored[..newline],
        None => stored,
    };
    let body = line.strip_prefix("ENC[AES256_GCM,data:")?;
    let body = &body[..memchr::memrchr(b']', body.as_bytes())?];
    split_plain(body).or_else(|| split_greedy(body))
}

/// What sops writes: base64 fields, so exactly three commas, each separator
/// once; the greedy match is then that one split. One pass over the bytes
/// (the greedy search was 14% of a 10 000-key decrypt, profiled with callgrind).
fn split_plain(body: &str) -> Option<[&str; 4]> {
    let mut commas = memchr::memchr_iter(b',', body.as_bytes());
    let (first, second, third) = (commas.next()?, commas.next()?, commas.next()?);
    if commas.next().is_some() {
        return None;
    }
    let fields = [
        &body[..first],
        body[first + 1..second].strip_prefix("iv:")?,
        body[second + 1..third].strip_prefix("tag:")?,
        body[third + 1..].strip_prefix("type:")?,
    ];
    fields.iter().all(|f| !f.is_empty()).then_some(fields)
}

/// Any other body, as RE2's greedy groups split it.
fn split_greedy(body: &str) -> Option<[&str; 4]> {
    let mut iv_at = body.len();
    while let Some(iv) = body[..iv_at].rfind(",iv:") {
        iv_at = iv;
        let after_iv = &body[iv + 4..];
        let mut tag_at = after_iv.len();
        while let Some(tag) = after_iv[..tag_at].rfind(",tag:") {
            tag_at = tag;
            let after_tag = &after_iv[tag + 5..];
            if let Some(ty) = after_tag.rfind(",type:") {
                let fields = [&body[..iv], &after_iv[..tag], &after_tag[..ty], &after_tag[ty + 6..]];
                if fields.iter().all(|f| !f.is_empty()) {
                    return Some(fields);
                }
            }
        }
    }
    None
}

/// Decrypt one stored value. `aad` is the key path joined by `:` plus a
/// trailing `:` (or the lastmodified string for the MAC). An empty value is
/// never encrypted by sops and decrypts to an empty string.
pub fn decrypt(stored: &str, key: &DataKey, aad: &[u8]) -> Result<Plain, CipherError> {
    decrypt_owned(secret(stored.as_bytes()), key, aad)
}

/// [`decrypt`], with the plaintext written over the stored value's own buffer:
/// no allocation per value, and the heap does not grow by a plaintext copy of
/// the document (a 10 000-key decrypt's page faults were mostly heap growth).
pub fn decrypt_owned(mut stored: SecretBytes, key: &DataKey, aad: &[u8]) -> Result<Plain, CipherError> {
    if stored.is_empty() {
        return Ok(Plain::Value(Scalar::Str(stored)));
    }
    let text = std::str::from_utf8(&stored).map_err(|_| CipherError::NotEncrypted)?;
    let [data, iv, tag, type_tag] = split_enc(text).ok_or(CipherError::NotEncrypted)?;
    // Decoded now, before the buffer is overwritten; reported after `data`,
    // the order of sops's checks.
    let iv: Result<[u8; IV_LEN], _> = fixed(iv, "iv");
    let tag: Result<[u8; TAG_LEN], _> = fixed(tag, "tag");
    let type_tag = TypeTag::of(type_tag);
    // The base64 text is ciphertext, not secret: copied aside (on the stack
    // when small) so the buffer it sits in can take the decoded bytes.
    let mut on_stack = [0u8; 1024];
    let on_heap: Vec<u8>;
    let encoded: &[u8] = match on_stack.get_mut(..data.len()) {
        Some(slot) => {
            slot.copy_from_slice(data.as_bytes());
            slot
        }
        None => {
            on_heap = data.as_bytes().to_vec();
            &on_heap
        }
    };
    // At most 3 bytes per 4 of base64: never more than the buffer holds
    // already, so this resize does not reallocate (and leave a copy behind).
    stored.clear();
    stored.resize(encoded.len().div_ceil(4) * 3, 0);
    let len = STANDARD.decode_slice(encoded, &mut stored[..]).map_err(|_| CipherError::BadField("data"))?;
    stored.truncate(len);
    let (iv, tag) = (iv?, tag?);
    key.cipher
        .decrypt_in_place_detached(GenericArray::from_slice(&iv), aad, &mut stored, GenericArray::from_slice(&tag))
        .map_err(|_| CipherError::Authentication)?;
    decode_typed(type_tag.as_str(), stored)
}

/// The `type:` field, held past the point where its bytes are overwritten.
enum TypeTag {
    Known(&'static str),
    Other(String),
}

impl TypeTag {
    fn of(text: &str) -> TypeTag {
        const KNOWN: [&str; 7] = ["str", "bytes", "comment", "int", "float", "bool", "time"];
        match KNOWN.into_iter().find(|known| *known == text) {
            Some(known) => TypeTag::Known(known),
            None => TypeTag::Other(text.to_string()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            TypeTag::Known(known) => known,
            TypeTag::Other(text) => text,
        }
    }
}

/// A base64 field of exactly `N` bytes, decoded on the stack (no allocation
/// per value for the IV and the tag).
fn fixed<const N: usize>(text: &str, name: &'static str) -> Result<[u8; N], CipherError> {
    let mut buf = [0u8; 64];
    match STANDARD.decode_slice(text, &mut buf) {
        Ok(n) if n == N => buf[..N].try_into().map_err(|_| CipherError::BadField(name)),
        _ => Err(CipherError::BadField(name)),
    }
}

/// Turn decrypted bytes into a value as sops's `aes/cipher.go` does per type tag.
/// The tag is outside the AEAD, so a parse failure is treated like tampering.
fn decode_typed(type_tag: &str, bytes: SecretBytes) -> Result<Plain, CipherError> {
    let bad = || CipherError::BadType(type_tag.to_string());
    let text = || std::str::from_utf8(&bytes).map_err(|_| bad());
    let scalar = match type_tag {
        // Moved, not copied: one allocation per value, and no second plaintext copy.
        "str" => return Ok(Plain::Value(Scalar::Str(bytes))),
        "bytes" => return Ok(Plain::Value(Scalar::Bytes(bytes))),
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
        let mut out = cipher.encrypt(GenericArray::from_slice(iv), aes_gcm::aead::Payload { msg: plain, aad }).unwrap();
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
        assert_eq!(decrypt(&enc, &key(), b"PASSWORD:").unwrap(), Plain::Value(Scalar::Str(secret(b"hunter2"))));
        assert_eq!(decrypt(&enc, &key(), b"OTHER:"), Err(CipherError::Authentication));
    }

    #[test]
    fn typed_values_decode_like_go() {
        let enc = encrypt(b"8080", &KEY, &IV, b"p:", "int");
        assert_eq!(decrypt(&enc, &key(), b"p:").unwrap(), Plain::Value(Scalar::Int(8080)));
        let enc = encrypt(b"True", &KEY, &IV, b"p:", "bool");
        assert_eq!(decrypt(&enc, &key(), b"p:").unwrap(), Plain::Value(Scalar::Bool(true)));
        let enc = encrypt(b"abc", &KEY, &IV, b"p:", "int");
        assert!(matches!(decrypt(&enc, &key(), b"p:"), Err(CipherError::BadType(_))));
        let enc = encrypt(b"x", &KEY, &IV, b"p:", "weird");
        assert!(matches!(decrypt(&enc, &key(), b"p:"), Err(CipherError::BadType(_))));
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
                assert!(decrypt(&tampered, &key(), b"K:").is_err(), "byte {i} bit {bit} accepted");
            }
        }
    }

    #[test]
    fn the_plain_split_agrees_with_the_greedy_one_whenever_it_applies() {
        let bodies = [
            "d,iv:i,tag:t,type:str",
            "d,iv:i,tag:t,type:",
            "d,iv:,tag:t,type:s",
            "a,iv:b,iv:i,tag:t,type:s",
            "d,tag:t,iv:i,type:s",
            "d,iv:i,tag:t",
        ];
        for body in bodies {
            if let Some(plain) = split_plain(body) {
                assert_eq!(Some(plain), split_greedy(body), "{body}");
            }
        }
        assert_eq!(split_plain("d,iv:i,tag:t,type:str"), Some(["d", "i", "t", "str"]));
        assert_eq!(split_plain("a,iv:b,iv:i,tag:t,type:s"), None, "left to the greedy split");
    }

    #[test]
    fn splits_like_the_sops_regex() {
        assert_eq!(split_enc("ENC[AES256_GCM,data:d,iv:i,tag:t,type:str]"), Some(["d", "i", "t", "str"]));
        assert_eq!(split_enc("ENC[AES256_GCM,data:d,iv:i,tag:t,type:str]trailing"), Some(["d", "i", "t", "str"]));
        // Greedy: a later separator wins, as in Go.
        assert_eq!(split_enc("ENC[AES256_GCM,data:a,iv:b,iv:i,tag:t,type:s]"), Some(["a,iv:b", "i", "t", "s"]));
        assert_eq!(split_enc("ENC[AES256_GCM,data:d,iv:i,tag:t,type:s]x]"), Some(["d", "i", "t", "s]x"]));
        // A later ",iv:" that leaves no ",tag:" after it falls back to an earlier one.
        assert_eq!(split_enc("ENC[AES256_GCM,data:d,iv:i,tag:t,type:s,iv:z]"), Some(["d", "i", "t", "s,iv:z"]));
        for bad in [
            "ENC[AES256_GCM,data:,iv:i,tag:t,type:s]",
            "ENC[AES256_GCM,data:d,iv:i,tag:t,type:s",
            "ENC[AES256_GCM,data:d\n,iv:i,tag:t,type:s]",
            "ENC[AES128_GCM,data:d,iv:i,tag:t,type:s]",
            " ENC[AES256_GCM,data:d,iv:i,tag:t,type:s]",
            "ENC[AES256_GCM,data:d,tag:t,type:s]",
        ] {
            assert_eq!(split_enc(bad), None, "{bad}");
        }
    }

    #[test]
    fn empty_and_malformed() {
        assert_eq!(decrypt("", &key(), b"K:").unwrap(), Plain::Value(Scalar::Str(secret(b""))));
        assert_eq!(decrypt("plain", &key(), b"K:"), Err(CipherError::NotEncrypted));
        assert_eq!(
            decrypt("ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]", &key(), b"K:"),
            Err(CipherError::BadField("data"))
        );
        let short_iv = encrypt(b"x", &KEY, &IV, b"K:", "str").replace(&STANDARD.encode(IV), "AAAA");
        assert_eq!(decrypt(&short_iv, &key(), b"K:"), Err(CipherError::BadField("iv")));
    }
}
