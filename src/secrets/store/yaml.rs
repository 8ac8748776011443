//! The YAML store: one document, a map at the top with the `sops` key holding
//! the metadata. Scalars resolve by the YAML 1.2 core schema, as go-yaml v3
//! does for sops. Comments are not kept: they never enter the MAC, and output
//! of a YAML document is JSON.

use serde_json::Value as Json;
use yaml_rust2::{Yaml, YamlLoader};
use zeroize::Zeroizing;

use super::{Parsed, StoreError, StoreKind};
use crate::secrets::tree::{Branch, Item, Key, Scalar, Value};

pub fn parse(content: &[u8]) -> Result<Parsed, StoreError> {
    let text = std::str::from_utf8(content).map_err(|_| StoreError("YAML file is not valid UTF-8".into()))?;
    let mut docs = YamlLoader::load_from_str(text).map_err(|e| {
        let m = e.marker();
        StoreError(format!("not valid YAML at line {}, column {}", m.line(), m.col() + 1))
    })?;
    if docs.len() != 1 {
        return Err(StoreError(format!("{} YAML documents: only single-document files are supported", docs.len())));
    }
    let Yaml::Hash(hash) = docs.remove(0) else {
        return Err(StoreError("not a SOPS document: the top level is not a YAML map".into()));
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
    let metadata = metadata
        .ok_or_else(|| StoreError("not a SOPS document: no sops metadata found (is the file encrypted?)".into()))?;
    if let Some(rule) = ["unencrypted_comment_regex", "encrypted_comment_regex"]
        .into_iter()
        .find(|r| metadata.get(*r).and_then(Json::as_str).is_some_and(|v| !v.is_empty()))
    {
        return Err(StoreError(format!("sops.{rule}: comment-based crypt rules are unsupported for YAML files")));
    }
    Ok(Parsed { kind: StoreKind::Yaml, tree, metadata })
}

fn key_name(key: Yaml) -> Result<String, StoreError> {
    match key {
        Yaml::String(s) => Ok(s),
        _ => Err(StoreError("a map key is not a string (sops supports only string keys)".into())),
    }
}

fn to_value(yaml: Yaml) -> Result<Value, StoreError> {
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
                .collect::<Result<_, StoreError>>()?,
        ),
        Yaml::Alias(_) | Yaml::BadValue => return Err(StoreError("unsupported YAML node (alias or bad value)".into())),
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

fn to_json(yaml: Yaml) -> Result<Json, StoreError> {
    Ok(match yaml {
        Yaml::Null => Json::Null,
        Yaml::Boolean(b) => Json::Bool(b),
        Yaml::Integer(i) => Json::from(i),
        Yaml::Real(r) => Json::String(r),
        Yaml::String(s) => Json::String(s),
        Yaml::Array(a) => Json::Array(a.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => Json::Object(
            h.into_iter().map(|(k, v)| Ok((key_name(k)?, to_json(v)?))).collect::<Result<_, StoreError>>()?,
        ),
        Yaml::Alias(_) | Yaml::BadValue => return Err(StoreError("unsupported YAML node in sops metadata".into())),
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
    fn rejects_multi_document_and_bad_yaml() {
        assert!(parse(b"a: 1\n---\nb: 2\n").unwrap_err().0.contains("2 YAML documents"));
        assert!(parse(b"a: [1\nsops: x\n").unwrap_err().0.contains("not valid YAML"));
    }
}
