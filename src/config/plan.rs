//! What clawinit wants in openclaw.json, from the environment: gateway
//! defaults, provider blocks, model chains, aliases and the overlay. Pure: the
//! environment comes in through `Lookup`, nothing is read or written here.

use serde_json::{json, Value};

use super::catalog::{self, KeyPolicy, Provider, PROVIDERS};
use super::json::{self, path, Path};
use super::state::State;
pub use crate::environment::Lookup;
use crate::exit::{Exit, Failure};
use crate::names;
use crate::openclaw_version::{self, Release};
use crate::settings::KeyRefs;

/// How an entry meets what is already in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Set by an environment variable or the overlay: wins over the file.
    Wins,
    /// A default clawinit derives: written where the path is absent, updated
    /// while the file still holds what clawinit wrote, otherwise left alone.
    Default,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub path: Path,
    pub value: Value,
    pub rule: Rule,
    /// Why, for the summary: a variable name or "default".
    pub why: String,
    /// Entries that are removed together or not at all (a provider block).
    pub group: Option<Path>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub entries: Vec<Entry>,
    /// Paths the overlay deletes (`null`).
    pub deletes: Vec<Path>,
    /// One line per enabled provider, for the summary.
    pub providers: Vec<String>,
    /// What the target release cannot express, one line each.
    pub warnings: Vec<String>,
}

impl Plan {
    fn add(&mut self, dotted: &str, value: Value, rule: Rule, why: &str) {
        self.entries.push(Entry { path: path(dotted), value, rule, why: why.into(), group: None });
    }
}

/// A provider that is available, and the variable that made it so.
pub struct Enabled {
    pub provider: &'static Provider,
    pub by: String,
    /// Its model for derived chains: the first of `<P>_MODELS`, else the
    /// catalog's default.
    pub model: String,
}

pub const DEFAULT_PORT: u16 = 18789;
const BINDS: [&str; 5] = ["auto", "lan", "loopback", "custom", "tailnet"];

pub fn plan(
    env: &impl Lookup,
    existing: &Value,
    owned: &State,
    overlay: Option<&Value>,
    refs: KeyRefs,
    release: Option<&Release>,
) -> Result<Plan, Failure> {
    let mut plan = Plan::default();
    plan.warnings.extend(openclaw_version::written_by_newer(existing, release));
    gateway(env, existing, &mut plan)?;
    let enabled = enabled_providers(env);
    for e in &enabled {
        provider_block(env, e, refs, &mut plan)?;
    }
    models(env, existing, owned, &enabled, release, &mut plan)?;
    if let Some(overlay) = overlay {
        flatten_overlay(overlay, &mut Vec::new(), &mut plan);
    }
    Ok(plan)
}

/// Catalog providers with a credential, in catalog order. A keyless local
/// provider (Ollama) is also enabled by its base URL alone.
pub fn enabled_providers(env: &impl Lookup) -> Vec<Enabled> {
    let mut out = Vec::new();
    for provider in PROVIDERS {
        let by = match provider.key_vars.iter().find(|v| env.present(v)) {
            Some(var) => var.to_string(),
            None if matches!(provider.key, KeyPolicy::Optional { .. }) && env.present(&base_url_var(provider)) => {
                base_url_var(provider)
            }
            None => continue,
        };
        let listed = setting(env, &models_var(provider)).ok().flatten().and_then(|l| split_list(&l).into_iter().next());
        let model = format!("{}/{}", provider.id, listed.as_deref().unwrap_or(provider.default_model()));
        out.push(Enabled { provider, by, model });
    }
    out
}

fn base_url_var(provider: &Provider) -> String {
    format!("{}_BASE_URL", provider.env_prefix)
}

fn models_var(provider: &Provider) -> String {
    format!("{}_MODELS", provider.env_prefix)
}

fn gateway(env: &impl Lookup, existing: &Value, plan: &mut Plan) -> Result<(), Failure> {
    plan.add("gateway.mode", json!("local"), Rule::Default, "default");
    let env_port = setting(env, names::OPENCLAW_GATEWAY_PORT)?
        .map(|p| {
            p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad(names::OPENCLAW_GATEWAY_PORT, "a port number"))
        })
        .transpose()?;
    match env_port {
        Some(port) => plan.add("gateway.port", json!(port), Rule::Wins, names::OPENCLAW_GATEWAY_PORT),
        None => plan.add("gateway.port", json!(DEFAULT_PORT), Rule::Default, "default"),
    }
    let env_bind = setting(env, names::OPENCLAW_GATEWAY_BIND)?;
    if let Some(bind) = &env_bind {
        if !BINDS.contains(&bind.as_str()) {
            return Err(bad(names::OPENCLAW_GATEWAY_BIND, "one of auto, lan, loopback, custom, tailnet"));
        }
        plan.add("gateway.bind", json!(bind), Rule::Wins, names::OPENCLAW_GATEWAY_BIND);
    }
    // The gateway persists a generated token when auth is "token" and no token
    // exists anywhere; clawinit always passes OPENCLAW_GATEWAY_TOKEN, so the
    // mode alone is written. A password without a mode is left to the user:
    // with our token beside it OpenClaw would need the mode chosen explicitly.
    let auth = json::get(existing, &path("gateway.auth"));
    if auth.and_then(|a| a.get("password")).is_none() {
        plan.add("gateway.auth.mode", json!("token"), Rule::Default, "default");
    }
    // Without allowedOrigins a non-loopback gateway writes them itself on
    // start; writing them first keeps the file stable across a start.
    let bind =
        env_bind.or_else(|| json::get(existing, &path("gateway.bind")).and_then(Value::as_str).map(String::from));
    if bind.as_deref() != Some("loopback") {
        let port =
            env_port.map(u64::from).or_else(|| json::get(existing, &path("gateway.port")).and_then(Value::as_u64));
        let port = port.unwrap_or(u64::from(DEFAULT_PORT));
        let origins = json!([format!("http://localhost:{port}"), format!("http://127.0.0.1:{port}")]);
        plan.add("gateway.controlUi.allowedOrigins", origins, Rule::Default, "default");
    }
    Ok(())
}

fn provider_block(env: &impl Lookup, enabled: &Enabled, refs: KeyRefs, plan: &mut Plan) -> Result<(), Failure> {
    let p = enabled.provider;
    let url_var = base_url_var(p);
    let env_url = setting(env, &url_var)?;
    if p.builtin && env_url.is_none() {
        plan.providers.push(format!("{} enabled by {} (built in)", p.id, enabled.by));
        return Ok(());
    }
    let group = path(&format!("models.providers.{}", p.id));
    let mut add = |field: &str, value: Value, rule: Rule, why: &str| {
        let mut path = group.clone();
        path.push(field.into());
        plan.entries.push(Entry { path, value, rule, why: why.into(), group: Some(group.clone()) });
    };
    match env_url {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            add("baseUrl", json!(url), Rule::Wins, &url_var)
        }
        Some(_) => return Err(bad(&url_var, "an http:// or https:// URL")),
        None => add("baseUrl", json!(p.base_url), Rule::Default, "default"),
    }
    add("api", json!(p.api), Rule::Default, "default");
    let key = match (p.key, p.key_vars.contains(&enabled.by.as_str())) {
        (_, true) => key_ref(&enabled.by, refs),
        (KeyPolicy::Optional { marker }, false) => json!(marker),
        (KeyPolicy::Required, false) => unreachable!("a required-key provider is only enabled by its key"),
    };
    add("apiKey", key, Rule::Default, &enabled.by);
    let models_var = models_var(p);
    match setting(env, &models_var)? {
        Some(list) => {
            let ids = split_list(&list);
            if ids.is_empty() {
                return Err(bad(&models_var, "a comma-separated list of model ids"));
            }
            add("models", model_list(&ids), Rule::Wins, &models_var);
        }
        None => add("models", model_list(p.models), Rule::Default, "default"),
    }
    plan.providers.push(format!("{} enabled by {} (models.providers.{})", p.id, enabled.by, p.id));
    Ok(())
}

pub fn key_ref(var: &str, refs: KeyRefs) -> Value {
    match refs {
        KeyRefs::Secretref => json!({"source": "env", "provider": "default", "id": var}),
        KeyRefs::EnvString => json!(format!("${{{var}}}")),
    }
}

fn model_list(ids: &[impl AsRef<str>]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"id": id.as_ref(), "name": id.as_ref()})).collect())
}

fn models(
    env: &impl Lookup,
    existing: &Value,
    owned: &State,
    enabled: &[Enabled],
    release: Option<&Release>,
    plan: &mut Plan,
) -> Result<(), Failure> {
    let env_primary = setting(env, names::OPENCLAW_AGENT_MODEL)?;
    if let Some(model) = &env_primary {
        check_ref(names::OPENCLAW_AGENT_MODEL, model)?;
    }
    let env_fallbacks = setting(env, names::OPENCLAW_AGENT_FALLBACKS)?.map(|l| split_list(&l));
    for model in env_fallbacks.iter().flatten() {
        check_ref(names::OPENCLAW_AGENT_FALLBACKS, model)?;
    }
    // The file's own values count only where the user wrote them.
    let user_value = |dotted: &str| {
        let p = path(dotted);
        json::get(existing, &p).filter(|v| owned.recorded(&p) != Some(*v)).cloned()
    };
    let file_model = json::get(existing, &path("agents.defaults.model"));
    let user_primary = match file_model {
        Some(Value::String(s)) => Some(s.clone()),
        _ => user_value("agents.defaults.model.primary").and_then(|v| v.as_str().map(String::from)),
    };
    let primary = match (&env_primary, &user_primary) {
        (Some(m), _) => {
            plan.add("agents.defaults.model.primary", json!(m), Rule::Wins, names::OPENCLAW_AGENT_MODEL);
            Some(m.clone())
        }
        (None, Some(m)) => Some(m.clone()),
        (None, None) => enabled.first().map(|e| {
            plan.add("agents.defaults.model.primary", json!(e.model), Rule::Default, &e.by);
            e.model.clone()
        }),
    };
    match env_fallbacks {
        Some(list) => {
            plan.add("agents.defaults.model.fallbacks", json!(list), Rule::Wins, names::OPENCLAW_AGENT_FALLBACKS)
        }
        None if user_value("agents.defaults.model.fallbacks").is_none() => {
            let primary_provider = primary.as_deref().and_then(catalog::provider_of);
            let derived: Vec<(String, &str)> = enabled
                .iter()
                .filter(|e| Some(e.provider.id) != primary_provider.as_deref())
                .map(|e| (e.model.clone(), e.by.as_str()))
                .collect();
            if !derived.is_empty() {
                let why = derived.iter().map(|(_, by)| *by).collect::<Vec<_>>().join(",");
                let list: Vec<String> = derived.into_iter().map(|(m, _)| m).collect();
                plan.add("agents.defaults.model.fallbacks", json!(list), Rule::Default, &why);
            }
        }
        None => {}
    }
    if let Some(model) = setting(env, names::OPENCLAW_SUBAGENT_MODEL)? {
        check_ref(names::OPENCLAW_SUBAGENT_MODEL, &model)?;
        plan.add("agents.defaults.subagents.model", json!(model), Rule::Wins, names::OPENCLAW_SUBAGENT_MODEL);
    }
    aliases(env, existing, owned, release, plan)
}

fn aliases(
    env: &impl Lookup,
    existing: &Value,
    owned: &State,
    release: Option<&Release>,
    plan: &mut Plan,
) -> Result<(), Failure> {
    const VAR: &str = names::OPENCLAW_MODEL_ALIASES;
    let Some(list) = setting(env, VAR)? else { return Ok(()) };
    for (i, item) in split_list(&list).iter().enumerate() {
        let (alias, model) = item
            .split_once('=')
            .map(|(a, m)| (a.trim(), m.trim()))
            .filter(|(a, m)| !a.is_empty() && catalog::provider_of(m).is_some())
            .ok_or_else(|| bad(VAR, &format!("alias=provider/model entries (entry {} is not)", i + 1)))?;
        let mut p = path("agents.defaults.models");
        p.extend([model.to_string(), "alias".to_string()]);
        plan.entries.push(Entry { path: p, value: json!(alias), rule: Rule::Wins, why: VAR.into(), group: None });
    }
    // In openclaw 2026.9 a `models` map without `modelPolicy` is read as the
    // legacy allowlist: aliases alone would restrict /model to the aliased
    // models. An empty policy keeps them plain aliases, unless the user
    // already keeps a legacy map of their own (then its meaning is theirs).
    let policy = path("agents.defaults.modelPolicy");
    if !user_models_map(existing, owned) || owned.recorded(&policy).is_some() {
        if openclaw_version::has_model_policy(release) {
            plan.add("agents.defaults.modelPolicy", json!({}), Rule::Default, VAR);
        } else {
            // Before 2026.8 the key is unknown (the gateway would refuse the
            // file) and the map is always an allowlist: say so.
            let release = release.map(ToString::to_string).unwrap_or_default();
            plan.warnings.push(format!(
                "{VAR}: OpenClaw {release} has no agents.defaults.modelPolicy, so the aliased models are also \
                 the only ones /model allows (2026.8 and later: aliases only)"
            ));
        }
    }
    Ok(())
}

/// Whether `agents.defaults.models` holds an entry of the user's: anything
/// but an alias clawinit recorded. (A map of clawinit's aliases alone, e.g.
/// written for a release without `modelPolicy`, is not a legacy allowlist
/// the user chose.)
fn user_models_map(existing: &Value, owned: &State) -> bool {
    let models = path("agents.defaults.models");
    let Some(map) = json::get(existing, &models).and_then(Value::as_object) else { return false };
    map.iter().any(|(model, entry)| {
        let mut alias = models.clone();
        alias.extend([model.clone(), "alias".to_string()]);
        let clawinits = entry.as_object().is_some_and(|o| o.len() == 1)
            && owned.recorded(&alias).is_some_and(|recorded| entry.get("alias") == Some(recorded));
        !clawinits
    })
}

/// Overlay leaves (non-objects and empty objects) become winning entries;
/// `null` becomes a delete.
fn flatten_overlay(node: &Value, at: &mut Path, plan: &mut Plan) {
    match node {
        Value::Object(map) if !map.is_empty() || at.is_empty() => {
            for (key, value) in map {
                at.push(key.clone());
                flatten_overlay(value, at, plan);
                at.pop();
            }
        }
        Value::Null => plan.deletes.push(at.clone()),
        value => plan.entries.push(Entry {
            path: at.clone(),
            value: value.clone(),
            rule: Rule::Wins,
            why: "CLAWINIT_CONFIG_OVERLAY".into(),
            group: None,
        }),
    }
}

pub fn split_list(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

fn check_ref(var: &str, model: &str) -> Result<(), Failure> {
    match catalog::provider_of(model) {
        Some(_) => Ok(()),
        None => Err(bad(var, "provider/model references")),
    }
}

/// A plain (non-secret) setting; empty counts as unset, as for CLAWINIT_*.
fn setting(env: &impl Lookup, name: &str) -> Result<Option<String>, Failure> {
    match env.raw(name) {
        None | Some([]) => Ok(None),
        Some(raw) => std::str::from_utf8(raw)
            .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
            .map_err(|_| bad(name, "valid UTF-8")),
    }
}

fn bad(name: &str, expected: &str) -> Failure {
    Failure::new(Exit::Usage, format!("{name}: invalid value (expected {expected})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with_aliases(release: Option<&str>) -> Plan {
        let env: HashMap<String, String> = [("OPENAI_API_KEY", "k"), ("OPENCLAW_MODEL_ALIASES", "gpt=openai/gpt-5.4")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let release: Option<Release> = release.map(|r| r.parse().unwrap());
        plan(&env, &Value::Null, &State::default(), None, KeyRefs::Secretref, release.as_ref()).unwrap()
    }

    fn writes_model_policy(plan: &Plan) -> bool {
        plan.entries.iter().any(|e| e.path == path("agents.defaults.modelPolicy"))
    }

    #[test]
    fn aliases_get_an_empty_model_policy_from_2026_8_on() {
        for release in [Some("2026.8.1"), Some("2026.9.6"), None] {
            let plan = with_aliases(release);
            assert!(writes_model_policy(&plan), "{release:?}");
            assert!(plan.warnings.is_empty(), "{release:?}: {:?}", plan.warnings);
        }
    }

    #[test]
    fn a_map_of_clawinits_own_aliases_is_not_the_users() {
        let existing = json!({"agents": {"defaults": {"models": {"openai/gpt-5.4": {"alias": "gpt"}}}}});
        let mut owned = State::default();
        assert!(user_models_map(&existing, &owned), "unrecorded: the user's");
        let rendered =
            crate::config::render::render(Some(json!({})), &State::default(), &with_aliases(Some("2026.7.35")));
        owned = rendered.state;
        assert!(!user_models_map(&rendered.doc, &owned), "clawinit's aliases alone");
        let mut edited = rendered.doc.clone();
        edited["agents"]["defaults"]["models"]["openai/gpt-5.4"]["params"] = json!({"temperature": 0.2});
        assert!(user_models_map(&edited, &owned), "an entry the user extended");
        edited["agents"]["defaults"]["models"]["openai/gpt-5.4"] = json!({"alias": "mine"});
        assert!(user_models_map(&edited, &owned), "an alias the user changed");
        assert!(!user_models_map(&json!({}), &owned));
    }

    #[test]
    fn before_2026_8_no_model_policy_and_a_warning_that_aliases_restrict() {
        for release in ["2026.6.35", "2026.7.35"] {
            let plan = with_aliases(Some(release));
            assert!(!writes_model_policy(&plan), "{release} rejects the key");
            assert_eq!(plan.warnings.len(), 1);
            assert!(
                plan.warnings[0].contains(release) && plan.warnings[0].contains("modelPolicy"),
                "{:?}",
                plan.warnings
            );
            let aliased = path("agents.defaults.models");
            assert!(plan.entries.iter().any(|e| e.path.starts_with(&aliased)), "the aliases are still written");
        }
    }
}
