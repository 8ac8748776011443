//! The JSON store. Like sops 3.11, every number is a float64, object key order
//! is kept, and the top-level `sops` key holds the metadata.

use serde_json::Value as Json;
use zeroize::Zeroizing;

use super::{Parsed, StoreError, StoreKind};
use crate::secrets::golang;
use crate::secrets::tree::{secret, Branch, Item, Key, Scalar, SecretBytes, Value};

pub fn parse(content: &[u8]) -> Result<Parsed, StoreError> {
    let json: Json = serde_json::from_slice(content).map_err(|e| {
        StoreError(format!("not valid JSON at line {}, column {}: {}", e.line(), e.column(), classify(&e)))
    })?;
    let Json::Object(mut object) = json else {
        return Err(StoreError("not a SOPS document: the top level is not a JSON object".into()));
    };
    let metadata = object
        .shift_remove("sops")
        .ok_or_else(|| StoreError("not a SOPS document: no sops metadata found (is the file encrypted?)".into()))?;
    Ok(Parsed { kind: StoreKind::Json, tree: branch_from(object), metadata })
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

pub fn branch_from(object: serde_json::Map<String, Json>) -> Branch {
    object.into_iter().map(|(k, v)| Item { key: Key::Name(k), value: value_from(v) }).collect()
}

fn value_from(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Scalar(Scalar::Bool(b)),
        Json::Number(n) => Value::Scalar(Scalar::Float(n.as_f64().unwrap_or(f64::NAN))),
        Json::String(s) => Value::Scalar(Scalar::Str(Zeroizing::new(s.into_bytes()))),
        Json::Array(a) => Value::List(a.into_iter().map(value_from).collect()),
        Json::Object(o) => Value::Map(branch_from(o)),
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
    fn errors_carry_position_not_content() {
        let err = parse(b"{\"secret-value\": ").unwrap_err();
        assert!(err.0.contains("line 1"), "{}", err.0);
        assert!(!err.0.contains("secret-value"));
        assert!(parse(b"[1, 2]").unwrap_err().0.contains("not a JSON object"));
        assert!(parse(b"{\"a\": 1}").unwrap_err().0.contains("no sops metadata"));
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
