//! "Never write a key the pinned OpenClaw lacks": every path clawinit can
//! write, with every provider and every setting turned on, must exist in the
//! JSON Schema of the pinned version (`schema/openclaw.schema.json`).

use std::collections::HashMap;
use std::path::Path;

use clawinit::config::catalog::PROVIDERS;
use clawinit::config::json::Shown;
use clawinit::config::plan::plan;
use clawinit::config::render::render;
use clawinit::config::state::State;
use clawinit::settings::KeyRefs;
use serde_json::Value;
use support::pinned_openclaw;

mod support;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn schema() -> Value {
    serde_json::from_slice(&std::fs::read(repo("schema/openclaw.schema.json")).unwrap()).unwrap()
}

/// The subschemas that may hold `key` below `node`.
fn children<'a>(root: &'a Value, node: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    let node = match node.get("$ref").and_then(Value::as_str) {
        Some(r) => r.strip_prefix("#/").map(|p| p.split('/').fold(root, |n, k| &n[k])).unwrap_or(node),
        None => node,
    };
    if let Some(child) = node.get("properties").and_then(|p| p.get(key)) {
        out.push(child);
    } else if let Some(extra) = node.get("additionalProperties").filter(|a| a.is_object()) {
        out.push(extra);
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        for branch in node.get(combinator).and_then(Value::as_array).into_iter().flatten() {
            children(root, branch, key, out);
        }
    }
}

/// Whether `path` can exist under the schema, stepping into `items` where
/// an array stands (a provider's `models[]`).
fn allows(root: &Value, path: &[String]) -> bool {
    let mut nodes = vec![root];
    for key in path {
        let mut next = Vec::new();
        for node in nodes {
            children(root, node, key, &mut next);
        }
        if next.is_empty() {
            return false;
        }
        let arrays: Vec<&Value> = next
            .iter()
            .flat_map(|n| std::iter::once(*n).chain(n.get("anyOf").and_then(Value::as_array).into_iter().flatten()))
            .filter_map(|n| n.get("items"))
            .collect();
        next.extend(arrays);
        nodes = next;
    }
    true
}

#[test]
fn every_path_clawinit_writes_exists_in_the_pinned_schema() {
    let mut env: HashMap<String, String> = HashMap::new();
    for p in PROVIDERS {
        env.insert(p.key_vars[0].to_string(), "k".into());
        env.insert(format!("{}_BASE_URL", p.env_prefix), "https://example.com/v1".into());
        env.insert(format!("{}_MODELS", p.env_prefix), "m1,m2".into());
    }
    for (k, v) in [
        ("OPENCLAW_AGENT_MODEL", "openai/gpt-5.4"),
        ("OPENCLAW_AGENT_FALLBACKS", "anthropic/claude-opus-5"),
        ("OPENCLAW_SUBAGENT_MODEL", "groq/llama"),
        ("OPENCLAW_MODEL_ALIASES", "a=openai/gpt-5.4"),
        ("OPENCLAW_GATEWAY_PORT", "3000"),
        ("OPENCLAW_GATEWAY_BIND", "lan"),
    ] {
        env.insert(k.into(), v.into());
    }
    let root = schema();
    for refs in [KeyRefs::Secretref, KeyRefs::EnvString] {
        let plan = plan(&env, &Value::Null, &State::default(), None, refs, None).unwrap();
        let rendered = render(None, &State::default(), &plan);
        assert_eq!(rendered.state.managed.len(), plan.entries.len());
        for owned in &rendered.state.managed {
            assert!(
                allows(&root, &owned.path),
                "{} is not in openclaw@{}'s schema",
                Shown(&owned.path),
                pinned_openclaw()
            );
            // Objects written whole (a provider's models, a SecretRef): every key in them too.
            let mut stack = vec![(owned.path.clone(), &owned.value)];
            while let Some((path, value)) = stack.pop() {
                let items: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for (k, v) in items.into_iter().filter_map(Value::as_object).flatten() {
                    let mut p = path.clone();
                    p.push(k.clone());
                    assert!(allows(&root, &p), "{} is not in openclaw@{}'s schema", Shown(&p), pinned_openclaw());
                    stack.push((p, v));
                }
            }
        }
    }
}

#[test]
fn the_schema_rejects_what_it_should() {
    let root = schema();
    let p = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
    assert!(allows(&root, &p("models.providers.anything.baseUrl")));
    assert!(!allows(&root, &p("auth.cooldowns")), "gone in 2026.9 (see the notes)");
    assert!(!allows(&root, &p("bogus")));
    assert!(!allows(&root, &p("models.providers.x.bogus")));
    assert!(allows(&root, &p("models.providers.x.models.id")), "through the array's items");
    assert!(!allows(&root, &p("models.providers.x.models.bogus")));
}

#[test]
fn the_schema_is_the_pinned_versions() {
    let recorded = std::fs::read_to_string(repo("schema/VERSION")).unwrap();
    assert_eq!(recorded.trim(), pinned_openclaw(), "run scripts/update-openclaw.sh after changing the pin");
}
