//! The YAML store: one document, a map at the top with the `sops` key holding
//! the metadata. Scalars resolve by the YAML 1.2 core schema, as go-yaml v3
//! does for sops. Comments are not kept: they never enter the MAC, and output
//! of a YAML document is JSON.
//!
//! The tree is built here from the parser's events, not by `YamlLoader`: the
//! loader expands aliases (an 11-line "billion laughs" file grew to gigabytes
//! before any check could run) and nests without limit (every recursive walk
//! and the drop of the tree then overflow the stack). sops 3.11 never writes
//! an alias (it expands them on encrypt), so any alias is refused at once;
//! anchors alone change nothing and are ignored.

use serde_json::Value as Json;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};
use yaml_rust2::yaml::Hash;
use yaml_rust2::Yaml;
use zeroize::Zeroizing;

use super::{Error, Parsed, StoreKind, MAX_DEPTH};
use crate::secrets::tree::{Branch, Item, Key, Scalar, Value};

pub fn parse(content: &[u8]) -> Result<Parsed, Error> {
    let text = std::str::from_utf8(content).map_err(|_| Error::malformed("YAML file is not valid UTF-8"))?;
    let mut docs = load(text)?;
    if docs.len() != 1 {
        return Err(Error::malformed(format!(
            "{} YAML documents: only single-document files are supported",
            docs.len()
        )));
    }
    let Yaml::Hash(hash) = docs.remove(0) else {
        return Err(Error::malformed("not a SOPS document: the top level is not a YAML map"));
    };
    let mut tree = Branch::new();
    let mut metadata = None;
    for (key, value) in hash {
        let key = key_name(key)?;
        if key == "sops" {
            metadata = Some(to_json(value)?);
        } else {
            tree.push(Item { key: Key::Name(key), value: to_value(value)? });
        }
    }
    let metadata = metadata.ok_or_else(Error::no_metadata)?;
    if let Some(rule) = ["unencrypted_comment_regex", "encrypted_comment_regex"]
        .into_iter()
        .find(|r| metadata.get(*r).and_then(Json::as_str).is_some_and(|v| !v.is_empty()))
    {
        return Err(Error::malformed(format!("sops.{rule}: comment-based crypt rules are unsupported for YAML files")));
    }
    Ok(Parsed { kind: StoreKind::Yaml, tree, metadata })
}

/// A map or sequence still being read, with a map's pending key.
struct Open {
    node: Yaml,
    key: Option<Yaml>,
}

/// Every document of the stream, built iteratively from the parser's events.
fn load(text: &str) -> Result<Vec<Yaml>, Error> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut root = None;
    let mut open: Vec<Open> = Vec::new();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| syntax(&e))?;
        let node = match event {
            Event::StreamEnd => return Ok(docs),
            Event::DocumentEnd => {
                docs.push(root.take().unwrap_or(Yaml::BadValue));
                continue;
            }
            Event::Alias(_) => {
                let place = at(mark, "a YAML alias").message;
                return Err(Error::malformed(format!("{place}: refused (sops never writes aliases)")));
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if open.len() >= MAX_DEPTH {
                    return Err(Error::too_deep());
                }
                let node = if matches!(event, Event::MappingStart(..)) {
                    Yaml::Hash(Hash::new())
                } else {
                    Yaml::Array(Vec::new())
                };
                open.push(Open { node, key: None });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                open.pop().ok_or_else(|| at(mark, "unbalanced YAML events"))?.node
            }
            Event::Scalar(value, style, _anchor, tag) => resolve(value, style, tag),
            Event::Nothing | Event::StreamStart | Event::DocumentStart => continue,
        };
        match open.last_mut() {
            None => root = Some(node),
            Some(parent) => insert(parent, node, mark)?,
        }
    }
}

fn insert(parent: &mut Open, node: Yaml, mark: Marker) -> Result<(), Error> {
    match &mut parent.node {
        Yaml::Array(items) => items.push(node),
        Yaml::Hash(hash) => match parent.key.take() {
            None => parent.key = Some(node),
            // sops (go-yaml v3) refuses a repeated key: "mapping key already defined".
            Some(key) => {
                if hash.insert(key, node).is_some() {
                    return Err(at(mark, "duplicate key in a map"));
                }
            }
        },
        _ => return Err(at(mark, "unbalanced YAML events")),
    }
    Ok(())
}

/// A scalar's value exactly as `YamlLoader` resolves it (yaml-rust2 0.11), so
/// the typed leaves and the MAC do not change with the loader.
fn resolve(value: String, style: TScalarStyle, tag: Option<Tag>) -> Yaml {
    if style != TScalarStyle::Plain {
        return Yaml::String(value);
    }
    let Some(Tag { handle, suffix }) = tag else {
        return Yaml::from_str(&value);
    };
    if handle != "tag:yaml.org,2002:" {
        return Yaml::String(value);
    }
    match suffix.as_str() {
        "bool" => match value.as_str() {
            "true" | "True" | "TRUE" => Yaml::Boolean(true),
            "false" | "False" | "FALSE" => Yaml::Boolean(false),
            _ => Yaml::BadValue,
        },
        "int" => value.parse::<i64>().map_or(Yaml::BadValue, Yaml::Integer),
        "float" if loader_parses_f64(&value) => Yaml::Real(value),
        "float" => Yaml::BadValue,
        "null" if value == "~" || value == "null" => Yaml::Null,
        "null" => Yaml::BadValue,
        _ => Yaml::String(value),
    }
}

/// yaml-rust2's private `parse_f64` test, for `!!float`.
fn loader_parses_f64(v: &str) -> bool {
    match v {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => true,
        _ => v.bytes().any(|b| b.is_ascii_digit()) && v.parse::<f64>().is_ok(),
    }
}

fn syntax(e: &ScanError) -> Error {
    // The scanner caps flow nesting (`[[[...`) at 255 and may hit that cap
    // while looking ahead, before the parser hands over the first event.
    if e.info() == "recursion limit exceeded" {
        return Error::too_deep();
    }
    at(*e.marker(), "not valid YAML")
}

/// Position only: messages from the scanner can quote the input.
fn at(mark: Marker, what: &str) -> Error {
    Error::malformed(format!("{what} at line {}, column {}", mark.line(), mark.col() + 1))
}

fn key_name(key: Yaml) -> Result<String, Error> {
    match key {
        Yaml::String(s) => Ok(s),
        _ => Err(Error::malformed("a map key is not a string (sops supports only string keys)")),
    }
}

fn to_value(yaml: Yaml) -> Result<Value, Error> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Scalar(Scalar::Bool(b)),
        Yaml::Integer(i) => Value::Scalar(Scalar::Int(i)),
        Yaml::Real(r) => Value::Scalar(Scalar::Float(parse_real(&r))),
        Yaml::String(s) => Value::Scalar(Scalar::Str(Zeroizing::new(s.into_bytes()))),
        Yaml::Array(a) => Value::List(a.into_iter().map(to_value).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => Value::Map(
            h.into_iter()
                .map(|(k, v)| Ok(Item { key: Key::Name(key_name(k)?), value: to_value(v)? }))
                .collect::<Result<_, Error>>()?,
        ),
        Yaml::Alias(_) | Yaml::BadValue => return Err(Error::malformed("unsupported YAML node (alias or bad value)")),
    })
}

fn parse_real(r: &str) -> f64 {
    match r.trim_start_matches('+') {
        ".inf" | ".Inf" | ".INF" => f64::INFINITY,
        "-.inf" | "-.Inf" | "-.INF" => f64::NEG_INFINITY,
        ".nan" | ".NaN" | ".NAN" => f64::NAN,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

fn to_json(yaml: Yaml) -> Result<Json, Error> {
    Ok(match yaml {
        Yaml::Null => Json::Null,
        Yaml::Boolean(b) => Json::Bool(b),
        Yaml::Integer(i) => Json::from(i),
        Yaml::Real(r) => Json::String(r),
        Yaml::String(s) => Json::String(s),
        Yaml::Array(a) => Json::Array(a.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            Json::Object(h.into_iter().map(|(k, v)| Ok((key_name(k)?, to_json(v)?))).collect::<Result<_, Error>>()?)
        }
        Yaml::Alias(_) | Yaml::BadValue => return Err(Error::malformed("unsupported YAML node in sops metadata")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typed_scalars_in_order() {
        let p = parse(b"z: 8080\na: [true, 1.5, ~, x]\nsops:\n    version: 3.11.0\n").unwrap();
        assert_eq!(p.tree[0].value, Value::Scalar(Scalar::Int(8080)));
        let Value::List(items) = &p.tree[1].value else { panic!() };
        assert_eq!(items[0], Value::Scalar(Scalar::Bool(true)));
        assert_eq!(items[1], Value::Scalar(Scalar::Float(1.5)));
        assert_eq!(items[2], Value::Null);
        assert_eq!(p.metadata["version"], "3.11.0");
    }

    #[test]
    fn scalars_resolve_exactly_as_yaml_loader_does() {
        let doc = "a: [1, +2, -3, 0x1f, 0o17, 1.5, 1e3, .inf, -.Inf, .nan, inf, ~, null, '', true, True, TRUE, \
                   yes, 'true', \"1\", 12:30, 0b1, 9223372036854775808, !!str 5, !!int 7, !!int x, !!float 2, \
                   !!float y, !!bool True, !!null ~, !!null x, !custom 5, !!binary aGk=]\nb: |\n  block\n";
        let ours = load(doc).unwrap();
        let theirs = yaml_rust2::YamlLoader::load_from_str(doc).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn aliases_are_refused_and_anchors_ignored() {
        let err = parse(b"a: &x 1\nb: *x\nsops:\n    version: 3.11.0\n").unwrap_err();
        assert_eq!(err.message, "a YAML alias at line 2, column 4: refused (sops never writes aliases)");
        let p = parse(b"a: &x 1\nb: &y [2]\nsops: &z\n    version: 3.11.0\n").unwrap();
        assert_eq!(p.tree[0].value, Value::Scalar(Scalar::Int(1)));
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |n: usize| format!("a: {}1{}\nsops: {{}}\n", "[".repeat(n - 1), "]".repeat(n - 1));
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(parse(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err(), Error::too_deep());
        assert_eq!(parse(nested(300).as_bytes()).unwrap_err(), Error::too_deep());
        let block: String = (0..MAX_DEPTH + 1).map(|d| format!("{}k:\n", " ".repeat(d))).collect();
        assert_eq!(parse(format!("sops: {{}}\n{block}").as_bytes()).unwrap_err(), Error::too_deep());
    }

    #[test]
    fn duplicate_keys_are_refused_like_sops() {
        let err = parse(b"a: 1\nb: 2\na: 3\nsops: {}\n").unwrap_err();
        assert!(err.message.starts_with("duplicate key in a map at line 3"), "{}", err.message);
    }

    #[test]
    fn rejects_multi_document_and_bad_yaml() {
        assert!(parse(b"a: 1\n---\nb: 2\n").unwrap_err().message.contains("2 YAML documents"));
        assert!(parse(b"a: [1\nsops: x\n").unwrap_err().message.contains("not valid YAML"));
    }
}
