//! The JSON store. Like sops 3.11, every number is a float64, object key order
//! is kept (repeated keys too), and the top-level `sops` key holds the metadata.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;
use zeroize::Zeroizing;

use super::{Error, Parsed, StoreKind, MAX_DEPTH};
use crate::secrets::golang;
use crate::secrets::tree::{secret, Branch, Item, Key, Scalar, SecretBytes, Value};

pub fn parse(content: &[u8]) -> Result<Parsed, Error> {
    let mut de = serde_json::Deserializer::from_slice(content);
    let root = Seed { depth: 0 }.deserialize(&mut de).and_then(|node| de.end().map(|()| node)).map_err(|e| {
        if e.is_data() && e.to_string().starts_with(&Error::too_deep().message) {
            return Error::too_deep();
        }
        Error::malformed(format!("not valid JSON at line {}, column {}: {}", e.line(), e.column(), classify(&e)))
    })?;
    let Node::Object(entries) = root else {
        return Err(Error::malformed("not a SOPS document: the top level is not a JSON object"));
    };
    let (mut sops, data): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, _)| k == "sops");
    if sops.len() > 1 {
        return Err(Error::malformed("the sops metadata key appears more than once"));
    }
    let (_, metadata) = sops.pop().ok_or_else(Error::no_metadata)?;
    Ok(Parsed { kind: StoreKind::Json, tree: branch_from(data), metadata: metadata.into_json() })
}

/// serde_json's messages can quote input; only its category is kept.
fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of file (truncated?)",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    }
}

/// A JSON value that keeps every object member in order, duplicates included:
/// sops decodes JSON into an ordered tree, so a file with a repeated key is
/// valid and both values are in its MAC (serde_json's `Map` would keep one).
enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// The metadata as a JSON value; a repeated metadata key keeps the last
    /// value, as Go's encoding/json does when sops reads the `sops` block.
    fn into_json(self) -> Json {
        match self {
            Node::Null => Json::Null,
            Node::Bool(b) => Json::Bool(b),
            Node::Number(n) => Json::Number(n),
            Node::String(s) => Json::String(s),
            Node::Array(a) => Json::Array(a.into_iter().map(Node::into_json).collect()),
            Node::Object(o) => Json::Object(o.into_iter().map(|(k, v)| (k, v.into_json())).collect()),
        }
    }
}

fn branch_from(entries: Vec<(String, Node)>) -> Branch {
    entries.into_iter().map(|(k, v)| Item { key: Key::Name(k), value: value_from(v) }).collect()
}

fn value_from(node: Node) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Scalar(Scalar::Bool(b)),
        // Like sops 3.11 (Go's float64), every number is a float.
        Node::Number(n) => Value::Scalar(Scalar::Float(n.as_f64().unwrap_or(f64::NAN))),
        Node::String(s) => Value::Scalar(Scalar::Str(Zeroizing::new(s.into_bytes()))),
        Node::Array(a) => Value::List(a.into_iter().map(value_from).collect()),
        Node::Object(o) => Value::Map(branch_from(o)),
    }
}

/// Deserializes a `Node` at `depth`, refusing to nest past `MAX_DEPTH` (before
/// serde_json's own limit of 128, and before any later recursive walk).
#[derive(Clone, Copy)]
struct Seed {
    depth: usize,
}

impl Seed {
    fn nested<E: de::Error>(self) -> Result<Seed, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(Error::too_deep().message));
        }
        Ok(Seed { depth: self.depth + 1 })
    }
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
        Ok(Node::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
        Ok(Node::Number(n.into()))
    }

    // serde_json never yields a non-finite float.
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Node, E> {
        serde_json::Number::from_f64(n).map(Node::Number).ok_or_else(|| E::custom("a number is not finite"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(Node::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(Node::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let inner = self.nested()?;
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value_seed(inner)?));
        }
        Ok(Node::Object(entries))
    }
}

/// The decrypted document as JSON (tab-indented, like sops). Comments are dropped.
pub fn emit(tree: &Branch) -> Result<SecretBytes, String> {
    let mut out = Zeroizing::new(String::new());
    write_branch(tree, 0, &mut out)?;
    out.push('\n');
    Ok(secret(out.as_bytes()))
}

fn write_branch(branch: &Branch, depth: usize, out: &mut String) -> Result<(), String> {
    let named: Vec<(&String, &Value)> = branch
        .iter()
        .filter_map(|i| match &i.key {
            Key::Name(n) => Some((n, &i.value)),
            Key::Comment(_) => None,
        })
        .collect();
    if named.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    out.push_str("{\n");
    for (i, (name, value)) in named.iter().enumerate() {
        indent(out, depth + 1);
        write_string(name.as_bytes(), name, out)?;
        out.push_str(": ");
        write_value(value, name, depth + 1, out)?;
        out.push_str(if i + 1 < named.len() { ",\n" } else { "\n" });
    }
    indent(out, depth);
    out.push('}');
    Ok(())
}

fn write_value(value: &Value, name: &str, depth: usize, out: &mut String) -> Result<(), String> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Map(b) => write_branch(b, depth, out)?,
        Value::List(items) if items.is_empty() => out.push_str("[]"),
        Value::List(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                write_value(item, name, depth + 1, out)?;
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Scalar(Scalar::Str(b) | Scalar::Bytes(b)) => write_string(b, name, out)?,
        Value::Scalar(Scalar::Time(t)) => write_string(t.as_bytes(), name, out)?,
        Value::Scalar(Scalar::Int(i)) => out.push_str(&i.to_string()),
        Value::Scalar(Scalar::Float(f)) if f.is_finite() => out.push_str(&golang::format_float_plain(*f)),
        Value::Scalar(Scalar::Float(_)) => return Err(format!("the value of {name} is not a finite number")),
        Value::Scalar(Scalar::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
    }
    Ok(())
}

fn write_string(bytes: &[u8], name: &str, out: &mut String) -> Result<(), String> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| format!("the value of {name} is not UTF-8; use dotenv output"))?;
    let quoted = Zeroizing::new(serde_json::to_string(text).expect("a str always serializes"));
    out.push_str(&quoted);
    Ok(())
}

fn indent(out: &mut String, depth: usize) {
    out.extend(std::iter::repeat_n('\t', depth));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_in_order_with_float_numbers() {
        let p = parse(br#"{"b": 8080, "a": [true, null, "x"], "sops": {"version": "3.11.0"}}"#).unwrap();
        assert_eq!(p.tree.len(), 2);
        assert_eq!(p.tree[0].key, Key::Name("b".into()));
        assert_eq!(p.tree[0].value, Value::Scalar(Scalar::Float(8080.0)));
        assert_eq!(p.metadata["version"], "3.11.0");
    }

    #[test]
    fn repeated_keys_are_kept_in_order() {
        let p = parse(br#"{"A": "1", "B": {"x": 1, "x": 2}, "A": "2", "sops": {"v": 1, "v": 2}}"#).unwrap();
        let keys: Vec<_> = p.tree.iter().map(|i| format!("{:?}", i.key)).collect();
        assert_eq!(keys, [r#"Name("A")"#, r#"Name("B")"#, r#"Name("A")"#]);
        assert_eq!(p.tree[2].value, Value::str("2"));
        let Value::Map(inner) = &p.tree[1].value else { panic!() };
        assert_eq!(inner.len(), 2);
        assert_eq!(p.metadata["v"], 2, "metadata: the last repeated key wins, as in Go");
        assert!(parse(br#"{"sops": {}, "sops": {}}"#).unwrap_err().message.contains("more than once"));
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |n: usize| format!(r#"{{"a": {}1{}, "sops": {{}}}}"#, "[".repeat(n - 1), "]".repeat(n - 1));
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(parse(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err(), Error::too_deep());
        assert_eq!(parse(nested(100_000).as_bytes()).unwrap_err(), Error::too_deep());
        let meta = format!(r#"{{"sops": {}1{}}}"#, "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(parse(meta.as_bytes()).unwrap_err(), Error::too_deep());
    }

    #[test]
    fn errors_carry_position_not_content() {
        let err = parse(b"{\"secret-value\": ").unwrap_err();
        assert!(err.message.contains("line 1"), "{}", err.message);
        assert!(!err.message.contains("secret-value"));
        assert!(parse(b"[1, 2]").unwrap_err().message.contains("not a JSON object"));
        assert!(parse(b"{\"a\": 1}").unwrap_err().message.contains("no sops metadata"));
    }

    #[test]
    fn emits_nested_json() {
        let p = parse(br#"{"a": {"b": [1.5, "x"]}, "c": 8080, "sops": {}}"#).unwrap();
        let out = emit(&p.tree).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "{\n\t\"a\": {\n\t\t\"b\": [\n\t\t\t1.5,\n\t\t\t\"x\"\n\t\t]\n\t},\n\t\"c\": 8080\n}\n"
        );
    }
}
