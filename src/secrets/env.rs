//! The environment view of a decrypted document: its top-level scalars, as
//! `sops exec-env` builds them.

use super::tree::{Key, SecretBytes, Value};
use super::{Document, Error};

/// One variable from the secrets file. The value is wiped when dropped.
pub struct SecretVar {
    pub name: String,
    pub value: SecretBytes,
}

/// Top-level items in file order (a later duplicate wins when applied);
/// comments skipped; non-strings stringified like sops's `ValToString`.
pub fn environment_items(doc: &Document, file: &str) -> Result<Vec<SecretVar>, Error> {
    let fail = |detail: String| Error::malformed(detail).in_file(file);
    let mut vars = Vec::new();
    for item in &doc.tree {
        let Key::Name(name) = &item.key else { continue };
        let value = match &item.value {
            Value::Scalar(scalar) => scalar.to_env_bytes(),
            Value::Null => super::tree::secret(b"<nil>"),
            Value::Map(_) | Value::List(_) => {
                let name = crate::names::shown_name(name.as_bytes());
                return Err(fail(format!("cannot use complex value in environment; offending key {name}")));
            }
        };
        if value.contains(&0) {
            let name = crate::names::shown_name(name.as_bytes());
            return Err(fail(format!("the value of {name} contains a NUL byte")));
        }
        vars.push(SecretVar { name: name.clone(), value });
    }
    Ok(vars)
}
