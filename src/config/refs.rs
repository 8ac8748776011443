//! Checks on a rendered config: every environment variable it references
//! must be set (OpenClaw itself would only warn and run degraded), and every
//! model in the chains should have a provider with a credential.

use serde_json::Value;

use super::catalog;
use super::json::{self, path};
use super::plan::{enabled_providers, Lookup};

/// A variable the config reads from the environment, and where.
#[derive(Debug, PartialEq)]
pub struct Reference {
    pub var: String,
    pub at: String,
}

/// Every SecretRef `{"source":"env","id":VAR}` and `${VAR}` in string values,
/// in document order. `$${VAR}` is OpenClaw's escape for a literal.
pub fn references(doc: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), &mut out);
    out
}

/// A step of the path being walked; formatted only when a reference is found.
enum Step<'a> {
    Key(&'a String),
    Index(usize),
}

fn shown(at: &[Step]) -> String {
    let mut out = String::new();
    for step in at {
        match step {
            Step::Key(key) => {
                let part = json::Shown(std::slice::from_ref(*key)).to_string();
                if !out.is_empty() && !part.starts_with('[') {
                    out.push('.');
                }
                out.push_str(&part);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn walk<'a>(node: &'a Value, at: &mut Vec<Step<'a>>, out: &mut Vec<Reference>) {
    match node {
        Value::Object(map) => {
            if map.get("source").and_then(Value::as_str) == Some("env") {
                if let Some(id) = map.get("id").and_then(Value::as_str) {
                    out.push(Reference { var: id.to_string(), at: shown(at) });
                    return;
                }
            }
            for (key, value) in map {
                at.push(Step::Key(key));
                walk(value, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                at.push(Step::Index(i));
                walk(value, at, out);
                at.pop();
            }
        }
        Value::String(s) if s.contains("${") => {
            for var in template_vars(s) {
                out.push(Reference { var, at: shown(at) });
            }
        }
        _ => {}
    }
}

/// Names in `${NAME}` (NAME as OpenClaw accepts it: `[A-Z_][A-Z0-9_]*`).
fn template_vars(s: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let escaped = rest[..i].ends_with('$');
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        let valid = name.bytes().next().is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if valid && !escaped {
            vars.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    vars
}

/// The first reference whose variable is missing or empty. Variables the
/// config's own `env` block defines count as set (OpenClaw applies that
/// block before substituting).
pub fn first_missing<'a>(refs: &'a [Reference], doc: &Value, env: &impl Lookup) -> Option<&'a Reference> {
    let env_block = doc.get("env");
    let defined_in_file = |var: &str| {
        let from = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| !s.is_empty() && !s.contains("${"));
        from(env_block.and_then(|e| e.get("vars")).and_then(|v| v.get(var))) || from(env_block.and_then(|e| e.get(var)))
    };
    refs.iter().find(|r| !env.present(&r.var) && !defined_in_file(&r.var))
}

/// One warning per chain model whose provider has no credential: no key in
/// the environment, no `models.providers` block, no auth profile.
pub fn uncredentialed_models(doc: &Value, env: &impl Lookup) -> Vec<String> {
    let enabled: Vec<&str> = enabled_providers(env).iter().map(|e| e.provider.id).collect();
    let has_block = |p: &str| json::get(doc, &path("models.providers")).and_then(|m| m.get(p)).is_some();
    let has_profile = |p: &str| {
        json::get(doc, &path("auth.profiles"))
            .and_then(Value::as_object)
            .is_some_and(|profiles| profiles.values().any(|v| v.get("provider").and_then(Value::as_str) == Some(p)))
    };
    let mut warnings = Vec::new();
    for (at, model) in chain_models(doc) {
        let Some(provider) = catalog::provider_of(&model) else { continue };
        if enabled.contains(&provider.as_str()) || has_block(&provider) || has_profile(&provider) {
            continue;
        }
        let hint = match catalog::find(&provider) {
            Some(p) => format!("set {}", p.key_vars.join(" or ")),
            None => "unknown provider: add a models.providers block".to_string(),
        };
        warnings.push(format!("{at}: {model}: provider {provider} has no credential ({hint})"));
    }
    warnings
}

fn chain_models(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for base in ["agents.defaults.model", "agents.defaults.subagents.model"] {
        match json::get(doc, &path(base)) {
            Some(Value::String(m)) => out.push((base.to_string(), m.clone())),
            Some(Value::Object(o)) => {
                if let Some(m) = o.get("primary").and_then(Value::as_str) {
                    out.push((format!("{base}.primary"), m.to_string()));
                }
                for (i, m) in o.get("fallbacks").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    if let Some(m) = m.as_str() {
                        out.push((format!("{base}.fallbacks[{i}]"), m.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn env(list: &[(&str, &str)]) -> HashMap<String, String> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn finds_secretrefs_and_templates_but_not_escapes() {
        let doc = json!({
            "models": {"providers": {"x": {"apiKey": {"source": "env", "provider": "default", "id": "X_KEY"},
                                            "headers": {"A": "Bearer ${TOKEN_A}", "B": "$${NOT_A_REF}", "C": "${lower}"}}}},
            "list": ["${IN_ARRAY}"],
            "file": {"source": "file", "provider": "default", "id": "/run/x"}
        });
        let refs = references(&doc);
        let got: Vec<(&str, &str)> = refs.iter().map(|r| (r.var.as_str(), r.at.as_str())).collect();
        assert_eq!(
            got,
            [
                ("X_KEY", "models.providers.x.apiKey"),
                ("TOKEN_A", "models.providers.x.headers.A"),
                ("IN_ARRAY", "list[0]")
            ]
        );
    }

    #[test]
    fn missing_means_unset_or_empty_unless_the_env_block_defines_it() {
        let doc = json!({"a": "${A}", "b": "${B}", "c": "${C}", "env": {"vars": {"C": "x"}}});
        let refs = references(&doc);
        assert_eq!(first_missing(&refs, &doc, &env(&[("A", "1"), ("B", "")])).unwrap().var, "B");
        assert!(first_missing(&refs, &doc, &env(&[("A", "1"), ("B", "2")])).is_none());
    }

    #[test]
    fn warns_for_chain_models_without_credentials() {
        let doc = json!({
            "agents": {"defaults": {"model": {"primary": "minimax/MiniMax-M3", "fallbacks": ["openrouter/auto", "anthropic/claude-opus-5", "own/m"]},
                                    "subagents": {"model": "mystery/m"}}},
            "models": {"providers": {"own": {"baseUrl": "http://own", "models": []}}},
            "auth": {"profiles": {"anthropic:me": {"provider": "anthropic", "mode": "token"}}}
        });
        let warnings = uncredentialed_models(&doc, &env(&[("MINIMAX_API_KEY", "k")]));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("fallbacks[0]: openrouter/auto") && warnings[0].contains("OPENROUTER_API_KEY"));
        assert!(warnings[1].contains("mystery") && warnings[1].contains("unknown provider"));
    }
}
