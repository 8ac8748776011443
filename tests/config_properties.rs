//! Properties of plan + render over random files, environments and restarts:
//! rendering is idempotent, no user key is ever lost, no secret value ever
//! reaches the output or the state. Seeded, so a failure names its case.

use std::collections::HashMap;

use clawinit::config::json::{self, to_openclaw_bytes, Path};
use clawinit::config::plan::{plan, Entry, Rule};
use clawinit::config::render::render;
use clawinit::config::state::State;
use clawinit::settings::KeyRefs;
use serde_json::{json, Map, Value};

const SECRET: &str = "CANARY-c1aw1n1t-5ecret-9f8e7d";
const CASES: u64 = 1000;

/// xorshift64*: small, seedable, good enough to pick shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Keys that collide with what clawinit writes, and some that do not.
const KEYS: [&str; 16] = [
    "gateway",
    "mode",
    "port",
    "auth",
    "controlUi",
    "allowedOrigins",
    "agents",
    "defaults",
    "model",
    "primary",
    "fallbacks",
    "models",
    "providers",
    "openai",
    "litellm",
    "userSetting",
];

fn random_leaf(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0 => json!(rng.below(1000)),
        1 => json!(format!("user-{}", rng.below(50))),
        2 => json!(rng.chance(50)),
        3 => json!([rng.below(9), "x"]),
        _ => json!({}),
    }
}

fn random_object(rng: &mut Rng, depth: usize) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.below(4) + 1 {
        let key = rng.pick(&KEYS).to_string();
        let value = if depth < 4 && rng.chance(55) { random_object(rng, depth + 1) } else { random_leaf(rng) };
        map.insert(key, value);
    }
    Value::Object(map)
}

/// A user file: structured around the real paths, with random content.
fn random_user_file(rng: &mut Rng) -> Value {
    let mut doc = random_object(rng, 2);
    if rng.chance(60) {
        let model = match rng.below(3) {
            0 => json!("anthropic/claude-opus-5"),
            1 => json!({"primary": "openai/gpt-5.4"}),
            _ => json!({"fallbacks": ["openrouter/auto"], "extra": rng.below(5)}),
        };
        json::set(&mut doc, &json::path("agents.defaults.model"), model);
    }
    if rng.chance(40) {
        json::set(&mut doc, &json::path("models.providers.litellm.headers"), json!({"X-Team": "t"}));
    }
    if rng.chance(30) {
        json::set(&mut doc, &json::path("gateway.port"), json!(4000 + rng.below(10)));
    }
    doc
}

fn random_env(rng: &mut Rng) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for var in [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "LITELLM_MASTER_KEY",
        "GROQ_API_KEY",
        "VLLM_API_KEY",
        "MOONSHOT_API_KEY",
    ] {
        if rng.chance(40) {
            env.insert(var.to_string(), format!("{var}={SECRET}"));
        }
    }
    let optional: [(&str, &[&str]); 7] = [
        ("LITELLM_BASE_URL", &["http://litellm:4000/v1"]),
        ("MOONSHOT_BASE_URL", &["https://api.moonshot.cn/v1"]),
        ("LITELLM_MODELS", &["a,b", "c"]),
        ("OPENCLAW_AGENT_MODEL", &["openai/gpt-5.4", "litellm/a"]),
        ("OPENCLAW_AGENT_FALLBACKS", &["groq/x,openai/y", ""]),
        ("OPENCLAW_SUBAGENT_MODEL", &["anthropic/claude-sonnet-4-6"]),
        ("OPENCLAW_MODEL_ALIASES", &["fast=groq/x,big=openai/gpt-5.4", "k=moonshot/kimi-k2.5"]),
    ];
    for (var, values) in optional {
        if rng.chance(35) {
            env.insert(var.to_string(), rng.pick(values).to_string());
        }
    }
    if rng.chance(20) {
        env.insert("OLLAMA_BASE_URL".into(), "http://host.docker.internal:11434".into());
    }
    env
}

fn leaves(value: &Value, at: &mut Path, out: &mut Vec<(Path, Value)>) {
    match value.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, v) in map {
                at.push(k.clone());
                leaves(v, at, out);
                at.pop();
            }
        }
        _ => out.push((at.clone(), value.clone())),
    }
}

/// A user leaf may change only where the environment sets a path at or
/// above it (env wins), or where a string model became `{primary}`.
fn may_change(leaf: &Path, wins: &[&Entry]) -> bool {
    wins.iter().any(|e| leaf.starts_with(&e.path) || e.path.starts_with(leaf))
}

fn one_run(existing: Option<&Value>, previous: &State, env: &HashMap<String, String>, refs: KeyRefs) -> (Value, State) {
    let first = plan(env, existing.unwrap_or(&Value::Null), previous, None, refs, None).expect("valid settings");
    let rendered = render(existing.cloned(), previous, &first);

    // No user key lost.
    let mut user = Vec::new();
    if let Some(doc) = existing {
        leaves(doc, &mut Vec::new(), &mut user);
    }
    let wins: Vec<&Entry> = first.entries.iter().filter(|e| e.rule == Rule::Wins).collect();
    let model = json::path("agents.defaults.model");
    for (path, value) in user {
        let ours = previous.managed.iter().any(|o| path.starts_with(&o.path));
        if ours || may_change(&path, &wins) {
            continue; // clawinit's own, or overridden by the environment
        }
        let mut now = json::get(&rendered.doc, &path);
        if path == model && value.is_string() && now.is_some_and(Value::is_object) {
            now = json::get(&rendered.doc, &json::path("agents.defaults.model.primary"));
            // the object form
        }
        if json::is_empty_object(Some(&value)) {
            // An empty object may gain clawinit's entries; it must not go.
            assert!(now.is_some_and(Value::is_object), "user object at {} lost", json::Shown(&path));
        } else {
            assert_eq!(now, Some(&value), "user value at {} lost", json::Shown(&path));
        }
    }

    // Idempotent: the same inputs again change nothing.
    let again_plan = plan(env, &rendered.doc, &rendered.state, None, refs, None).unwrap();
    let again = render(Some(rendered.doc.clone()), &rendered.state, &again_plan);
    let text = |v: &Value| String::from_utf8(to_openclaw_bytes(v)).unwrap();
    assert_eq!(
        text(&again.doc),
        text(&rendered.doc),
        "second render differs; env {env:?}, input {existing:?}, state {previous:?}"
    );
    assert_eq!(again.state, rendered.state, "second render changes the state");
    assert!(
        again.changes.iter().all(|c| c.kind == clawinit::config::render::ChangeKind::KeptUser),
        "{:?}",
        again.changes
    );

    // No secret value anywhere.
    for bytes in [to_openclaw_bytes(&rendered.doc), rendered.state.to_bytes()] {
        assert!(!String::from_utf8_lossy(&bytes).contains(SECRET), "a secret value was rendered");
    }
    (rendered.doc, rendered.state)
}

#[test]
fn idempotent_lossless_and_secret_free_across_restarts() {
    for case in 0..CASES {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (case + 1).wrapping_mul(0x1000_0000_01B3));
        let refs = if rng.chance(50) { KeyRefs::Secretref } else { KeyRefs::EnvString };
        let result = std::panic::catch_unwind(|| {
            let mut rng = Rng(rng.0);
            let mut doc = if rng.chance(70) { Some(random_user_file(&mut rng)) } else { None };
            let mut state = State::default();
            for _restart in 0..3 {
                let env = random_env(&mut rng);
                let (next, next_state) = one_run(doc.as_ref(), &state, &env, refs);
                // Between restarts the user edits the file.
                let mut edited = next;
                if rng.chance(60) {
                    let extra = random_object(&mut rng, 3);
                    let key = format!("userEdit{}", rng.below(5));
                    json::set(&mut edited, &json::path(&format!("agents.defaults.{key}")), extra);
                }
                doc = Some(edited);
                state = next_state;
            }
        });
        assert!(result.is_ok(), "property failed for case {case}");
    }
}
