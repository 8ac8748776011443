//! The dotenv store, byte for byte as sops 3.11's `stores/dotenv`: lines split on
//! `\n` only, `#` comments in column 0, key before the first `=`, `\n` escapes in
//! values, every `sops_*` line (anywhere) is flattened metadata.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use zeroize::Zeroizing;

use super::{Error, Parsed, StoreKind, MAX_DEPTH};
use crate::secrets::tree::{secret, Branch, Item, Key, Scalar, SecretBytes, Value};

const METADATA_PREFIX: &str = "sops_";

pub fn parse(content: &[u8]) -> Result<Parsed, Error> {
    // Sized once: growing a 10 000-item tree copied it about 14 times.
    let mut tree = Branch::with_capacity(memchr::memchr_iter(b'\n', content).count() + 1);
    let mut flat = BTreeMap::new();
    for (index, line) in lines(content).enumerate() {
        let line_no = index + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix(b"#") {
            tree.push(Item { key: Key::Comment(secret(comment)), value: Value::Null });
            continue;
        }
        let eq = memchr::memchr(b'=', line)
            .ok_or_else(|| Error::malformed(format!("line {line_no}: not a KEY=VALUE line")))?;
        let key = std::str::from_utf8(&line[..eq])
            .map_err(|_| Error::malformed(format!("line {line_no}: the key is not valid UTF-8")))?;
        let value = unescape(&line[eq + 1..]);
        if let Some(field) = key.strip_prefix(METADATA_PREFIX) {
            let text = String::from_utf8(value.to_vec())
                .map_err(|_| Error::malformed(format!("line {line_no}: {key} is not valid UTF-8")))?;
            if flat.insert(field.to_string(), text).is_some() {
                return Err(Error::malformed(format!("line {line_no}: {key} appears twice")));
            }
        } else {
            tree.push(Item { key: Key::Name(key.to_string()), value: Value::Scalar(Scalar::Str(value)) });
        }
    }
    if flat.is_empty() {
        return Err(Error::no_metadata());
    }
    Ok(Parsed { kind: StoreKind::Dotenv, tree, metadata: unflatten(flat)? })
}

/// The content split on `\n`, as `split` would, with a vectorised search.
fn lines(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(content);
    std::iter::from_fn(move || {
        let text = rest?;
        match memchr::memchr(b'\n', text) {
            Some(end) => {
                rest = Some(&text[end + 1..]);
                Some(&text[..end])
            }
            None => rest.take(),
        }
    })
}

/// `\n` (backslash, n) becomes a newline; nothing else is an escape.
fn unescape(value: &[u8]) -> SecretBytes {
    if memchr::memchr(b'\\', value).is_none() {
        return secret(value);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(value.len()));
    let mut rest = value;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..at]);
        if rest.get(at + 1) == Some(&b'n') {
            out.push(b'\n');
            rest = &rest[at + 2..];
        } else {
            out.push(b'\\');
            rest = &rest[at + 1..];
        }
    }
    out.extend_from_slice(rest);
    out
}

/// One step of a flattened metadata key: `__map_<name>` or `__list_<index>`.
#[derive(Debug, PartialEq)]
enum Step {
    Map(String),
    List(usize),
}

/// Split `age__list_0__map_enc` into `age`, `List(0)`, `Map("enc")`.
fn split_flat_key(key: &str) -> Option<(String, Vec<Step>)> {
    const MAP: &str = "__map_";
    const LIST: &str = "__list_";
    let next_marker = |s: &str| [s.find(MAP), s.find(LIST)].into_iter().flatten().min();
    let first_end = next_marker(key).unwrap_or(key.len());
    let mut steps = Vec::new();
    let mut rest = &key[first_end..];
    // Past the depth limit the caller refuses the key; stopping here also keeps
    // the marker searches (each to the end of the key) from going quadratic.
    while !rest.is_empty() && steps.len() <= MAX_DEPTH {
        let (is_map, body) = match rest.strip_prefix(MAP) {
            Some(body) => (true, body),
            None => (false, rest.strip_prefix(LIST)?),
        };
        let end = next_marker(body).unwrap_or(body.len());
        let name = &body[..end];
        steps.push(if is_map { Step::Map(name.to_string()) } else { Step::List(name.parse().ok()?) });
        rest = &body[end..];
    }
    Some((key[..first_end].to_string(), steps))
}

/// Intermediate tree: lists are keyed by index because sops writes the lines
/// sorted as strings (`list_10` before `list_2`).
enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

fn unflatten(flat: BTreeMap<String, String>) -> Result<Json, Error> {
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for (key, value) in flat {
        let bad = || Error::malformed(format!("{METADATA_PREFIX}{key}: malformed metadata key"));
        let (first, steps) = split_flat_key(&key).ok_or_else(bad)?;
        // Checked before building: `to_json` and the drop of the tree recurse.
        if steps.len() >= MAX_DEPTH {
            return Err(Error::too_deep());
        }
        let mut slot = root.entry(first).or_insert_with(|| empty_for(steps.first()));
        for (i, step) in steps.iter().enumerate() {
            let next = empty_for(steps.get(i + 1));
            slot = match (slot, step) {
                (Node::Map(m), Step::Map(name)) => m.entry(name.clone()).or_insert(next),
                (Node::List(l), Step::List(index)) => l.entry(*index).or_insert(next),
                _ => return Err(bad()),
            };
        }
        match slot {
            Node::Leaf(existing) if existing.is_empty() => *existing = value,
            _ => return Err(bad()),
        }
    }
    Ok(Json::Object(root.into_iter().map(|(k, v)| (k, to_json(v))).collect()))
}

fn empty_for(step: Option<&Step>) -> Node {
    match step {
        None => Node::Leaf(String::new()),
        Some(Step::Map(_)) => Node::Map(BTreeMap::new()),
        Some(Step::List(_)) => Node::List(BTreeMap::new()),
    }
}

fn to_json(node: Node) -> Json {
    match node {
        Node::Leaf(s) => Json::String(s),
        Node::Map(m) => Json::Object(m.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        Node::List(l) => Json::Array(l.into_values().map(to_json).collect()),
    }
}

/// The plaintext file exactly as `sops -d` prints it.
pub fn emit(tree: &Branch) -> Result<SecretBytes, String> {
    // Reserved up front: a growing buffer would leave unzeroized copies of
    // the plaintext behind each reallocation (escapes may still add a few).
    let mut out = Zeroizing::new(Vec::with_capacity(emitted_len(tree)));
    for item in tree {
        match (&item.key, &item.value) {
            (Key::Comment(text), _) => {
                out.push(b'#');
                out.extend_from_slice(text);
            }
            (Key::Name(name), Value::Scalar(scalar)) => {
                out.extend_from_slice(name.as_bytes());
                out.push(b'=');
                match scalar {
                    Scalar::Str(bytes) | Scalar::Bytes(bytes) => escape_into(&mut out, bytes),
                    other => escape_into(&mut out, &other.to_env_bytes()),
                }
            }
            (Key::Name(name), Value::Null) => {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"=<nil>");
            }
            (Key::Name(name), _) => return Err(format!("cannot write the complex value of {name} as dotenv")),
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// The output size before escapes: every item's key, `=`, value and newline.
fn emitted_len(tree: &Branch) -> usize {
    let item_len = |item: &Item| {
        let key = match &item.key {
            Key::Comment(text) => text.len(),
            Key::Name(name) => name.len(),
        };
        let value = match &item.value {
            Value::Scalar(Scalar::Str(bytes) | Scalar::Bytes(bytes)) => bytes.len(),
            _ => 24,
        };
        key + value + 2
    };
    tree.iter().map(item_len).sum()
}

/// A value with each newline written as `\n`, as sops's dotenv store does.
fn escape_into(out: &mut Vec<u8>, value: &[u8]) {
    let mut rest = value;
    while let Some(at) = memchr::memchr(b'\n', rest) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"\\n");
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(parsed: &Parsed) -> Vec<String> {
        parsed
            .tree
            .iter()
            .map(|i| match &i.key {
                Key::Name(n) => n.clone(),
                Key::Comment(_) => "#".into(),
            })
            .collect()
    }

    #[test]
    fn line_grammar() {
        let p = parse(b"A=x=y\n#c\n\n  # k=v\nB=1\\n2\\t\r\nsops_version=3.11.0\n").unwrap();
        assert_eq!(names(&p), ["A", "#", "  # k", "B"]);
        assert_eq!(p.tree[0].value, Value::str("x=y"));
        assert_eq!(p.tree[3].value, Value::str("1\n2\\t\r"));
        assert_eq!(p.metadata, json!({"version": "3.11.0"}));
    }

    #[test]
    fn only_backslash_n_is_an_escape() {
        assert_eq!(&unescape(b"a\\nb\\\\n\\tc\\")[..], b"a\nb\\\n\\tc\\");
        assert_eq!(&unescape(b"plain")[..], b"plain");
    }

    #[test]
    fn rejects_lines_without_equals_without_quoting_them() {
        let err = parse(b"sops_version=3.11.0\nsk-live-secret\n").unwrap_err();
        assert_eq!(err.message, "line 2: not a KEY=VALUE line");
        let err = parse(b"A=1\n \n").unwrap_err();
        assert_eq!(err.message, "line 2: not a KEY=VALUE line");
    }

    #[test]
    fn unflattens_metadata_with_numeric_indices() {
        let mut text = String::new();
        for i in [10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9] {
            text.push_str(&format!("sops_age__list_{i}__map_recipient=r{i}\n"));
        }
        text.push_str("sops_age__list_0__map_enc=-----BEGIN\\nX\\n\nsops_mac_only_encrypted=true\n");
        let p = parse(text.as_bytes()).unwrap();
        let age = p.metadata["age"].as_array().unwrap();
        assert_eq!(age.len(), 11);
        assert_eq!(age[2]["recipient"], "r2");
        assert_eq!(age[10]["recipient"], "r10");
        assert_eq!(age[0]["enc"], "-----BEGIN\nX\n");
        assert_eq!(p.metadata["mac_only_encrypted"], "true");
    }

    #[test]
    fn duplicate_or_conflicting_metadata_is_rejected() {
        assert!(parse(b"sops_mac=a\nsops_mac=b\n").unwrap_err().message.contains("sops_mac appears twice"));
        assert!(parse(b"sops_age=a\nsops_age__list_0__map_enc=b\n").is_err());
    }

    #[test]
    fn metadata_nesting_is_limited() {
        let key = |n: usize| format!("sops_a{}=x\n", "__map_k".repeat(n));
        assert!(parse(key(MAX_DEPTH - 1).as_bytes()).is_ok());
        assert_eq!(parse(key(MAX_DEPTH).as_bytes()).unwrap_err(), Error::too_deep());
        assert_eq!(parse(key(50_000).as_bytes()).unwrap_err(), Error::too_deep());
    }

    #[test]
    fn emit_round_trips_sops_output() {
        let input = b"#c\nA=x=y\nB=1\\n2\r\nA=dup\nE=\n";
        let mut with_meta = input.to_vec();
        with_meta.extend_from_slice(b"sops_version=3.11.0\n");
        let p = parse(&with_meta).unwrap();
        assert_eq!(&emit(&p.tree).unwrap()[..], &input[..]);
    }
}
