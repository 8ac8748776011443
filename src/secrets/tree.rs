//! The document model shared by every store, mirroring sops's `TreeBranch`:
//! an ordered list of items whose keys are names or comments (duplicates kept,
//! order preserved, because both enter the MAC).

use zeroize::Zeroizing;

use super::golang;

/// How deep maps and lists may nest in a secrets document, metadata included.
/// sops's own metadata is 4 deep (`sops.age[0].enc`) and env-style documents are
/// 1-2; 64 leaves room for any real nested config while keeping every recursive
/// walk (conversion, MAC, emit, drop) far from the stack limit on hostile input.
/// Here with the tree (not with the stores) so the error below the stores can
/// name it without a circle.
pub const MAX_DEPTH: usize = 64;

/// Bytes that may hold decrypted material; wiped when dropped.
pub type SecretBytes = Zeroizing<Vec<u8>>;

pub fn secret(bytes: &[u8]) -> SecretBytes {
    Zeroizing::new(bytes.to_vec())
}

/// A leaf value, with sops's type (the `type:` tag of an `ENC[...]` value).
/// Its `Debug` never shows string contents.
#[derive(Clone, PartialEq)]
pub enum Scalar {
    Str(SecretBytes),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(SecretBytes),
    /// An RFC 3339 timestamp, kept as written.
    Time(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Scalar(Scalar),
    Map(Branch),
    List(Vec<Value>),
}

#[derive(Clone, PartialEq)]
pub enum Key {
    Name(String),
    /// A comment line (dotenv `#...`); its item's value is `Null`.
    Comment(SecretBytes),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub value: Value,
}

pub type Branch = Vec<Item>;

impl Scalar {
    /// sops's `ToBytes`: what a leaf contributes to the MAC.
    pub fn mac_bytes(&self) -> SecretBytes {
        match self {
            Scalar::Str(b) | Scalar::Bytes(b) => b.clone(),
            Scalar::Int(i) => secret(i.to_string().as_bytes()),
            Scalar::Float(f) => secret(golang::format_float_plain(*f).as_bytes()),
            Scalar::Bool(true) => secret(b"True"),
            Scalar::Bool(false) => secret(b"False"),
            Scalar::Time(t) => secret(t.as_bytes()),
        }
    }

    /// sops's `stores.ValToString`: how a non-string value is written into the
    /// environment (`exec-env`) or a dotenv file.
    pub fn to_env_bytes(&self) -> SecretBytes {
        match self {
            Scalar::Str(b) | Scalar::Bytes(b) => b.clone(),
            Scalar::Int(i) => secret(i.to_string().as_bytes()),
            Scalar::Float(f) => secret(golang::format_float_for_env(*f).as_bytes()),
            Scalar::Bool(b) => secret(b.to_string().as_bytes()),
            Scalar::Time(t) => secret(t.as_bytes()),
        }
    }
}

#[cfg(test)]
impl Value {
    pub fn str(s: &str) -> Value {
        Value::Scalar(Scalar::Str(secret(s.as_bytes())))
    }
}

impl std::fmt::Debug for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Str(b) => write!(f, "Str(<{} bytes>)", b.len()),
            Scalar::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_) | Scalar::Time(_) => f.write_str("Scalar(<redacted>)"),
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Name(n) => write!(f, "Name({n:?})"),
            Key::Comment(c) => write!(f, "Comment(<{} bytes>)", c.len()),
        }
    }
}
