//! From healthy to answering: for each of the catalog's 21 providers, a real
//! agent turn through the real pinned gateway, started by clawinit `run` as
//! PID 1, reaches a local endpoint of the provider's API family with exactly
//! the key clawinit decrypted, in that API's header, for the model id
//! clawinit wrote; and the reply comes back over the worker's one WebSocket.
//!
//! Each provider's key is in its own SOPS file holding nothing else
//! (`CLAWINIT_SECRETS_FILE` lists them); its `<P>_BASE_URL` points at the
//! endpoint of its family. The providers share two gateway starts (half the
//! catalog each, run in parallel) so the file stays within minutes; each turn
//! names its provider's model (`agent` with a `model` override; the test's
//! overlay opens `modelPolicy` for that), and each key is distinct, so a turn
//! that reached the wrong provider or carried another provider's key fails.

mod support;

use std::collections::BTreeMap;

use clawinit::config::catalog::{KeyPolicy, Provider, PROVIDERS};
use serde_json::Value;
use support::live::*;
use support::*;

/// The path a model call of `api` takes for `model` under the local base URL.
fn expected_path(api: &str, model: &str) -> String {
    match api {
        "anthropic-messages" => "/v1/messages".into(),
        "openai-completions" => "/v1/chat/completions".into(),
        "openai-responses" => "/v1/responses".into(),
        "google-generative-ai" => format!("/v1beta/models/{model}:streamGenerateContent"),
        "ollama" => "/api/chat".into(),
        other => panic!("unknown API family {other}"),
    }
}

/// Where the API carries the key (as the endpoint records it).
fn expected_header(api: &str) -> &'static str {
    match api {
        "anthropic-messages" => "x-api-key",
        "google-generative-ai" => "x-goog-api-key",
        _ => "authorization-bearer",
    }
}

/// The model id OpenClaw sends for the configured one: its own normalization
/// makes OpenRouter's `auto` the wire id `openrouter/auto`.
fn wire_model(provider: &str, model: &str) -> String {
    match (provider, model) {
        ("openrouter", "auto") => "openrouter/auto".into(),
        _ => model.into(),
    }
}

fn key_for(p: &Provider, canary: &str) -> Option<String> {
    match p.key {
        // Ollama with no key at all: `OLLAMA_BASE_URL` alone enables it.
        KeyPolicy::Optional { .. } => None,
        KeyPolicy::Required => Some(format!("sk-{}-{canary}", p.id)),
    }
}

/// One gateway for `providers`: every key in its own SOPS file, every base URL
/// on the local endpoints, one turn per provider; returns the table rows.
fn one_turn_each(name: &str, providers: &[&'static Provider], models: &[(&str, &str)]) -> Vec<String> {
    let home = Scratch::new(name);
    let canary = canary();
    let mut files = Vec::new();
    let mut env: Vec<(String, String)> = Vec::new();
    for p in providers {
        if let Some(key) = key_for(p, &canary) {
            let file = home.0.join(format!("{}.env.enc", p.id));
            sops_encrypt_dotenv(&format!("{}={key}\n", p.key_vars[0]), &file);
            files.push(file.display().to_string());
        }
        env.push((format!("{}_BASE_URL", p.env_prefix), endpoint(p.api).1));
    }
    for (var, value) in models {
        env.push((var.to_string(), value.to_string()));
    }
    let overlay = home.0.join("overlay.json");
    // Per-turn model overrides need an open policy (OpenClaw otherwise only
    // allows the configured chain for an override).
    std::fs::write(&overlay, r#"{"agents":{"defaults":{"modelPolicy":{"allow":[]}}}}"#).unwrap();
    env.push(("CLAWINIT_SECRETS_FILE".into(), files.join(",")));
    env.push(("CLAWINIT_CONFIG_OVERLAY".into(), overlay.display().to_string()));
    let mut live = Live::start(home, &env);

    let config = live.config();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for p in providers {
        let block = &config["models"]["providers"][p.id];
        let model = block["models"][0]["id"].as_str().unwrap_or_else(|| panic!("no model written for {}", p.id));
        let wanted = models
            .iter()
            .find(|(var, _)| *var == format!("{}_MODELS", p.env_prefix))
            .map_or(p.default_model(), |(_, m)| m.split(',').next().unwrap());
        assert_eq!(model, wanted, "{}: the model clawinit wrote", p.id);
        assert_eq!(block["api"], p.api, "{}: the API clawinit wrote", p.id);
        let marker = format!("turn-for-{}", p.id);
        let (reply, took) = live.send(&marker, Some(&format!("{}/{model}", p.id)));
        let (port, _) = endpoint(p.api);
        let key = key_for(p, &canary);
        let wire = wire_model(p.id, model);
        // The provider's own call: the one carrying its credential for its model.
        let calls: Vec<Value> = live
            .turn_requests(&marker)
            .into_iter()
            .filter(|r| r["model"] == wire.as_str() && r["port"] == port)
            .collect();
        let problem = match (calls.first(), reply["ok"].as_bool()) {
            (None, _) => Some(format!("no request for {wire} on port {port}; reply {reply}")),
            (Some(_), Some(false) | None) => Some(format!("the reply was an error: {reply}")),
            (Some(call), Some(true)) => {
                let mut wrong = Vec::new();
                if call["path"] != expected_path(p.api, &wire).as_str() {
                    wrong.push(format!("path {}", call["path"]));
                }
                match &key {
                    Some(key) => {
                        if call["credential_header"] != expected_header(p.api) {
                            wrong.push(format!("header {}", call["credential_header"]));
                        }
                        if call["credential"] != key.as_str() {
                            wrong.push("not exactly the decrypted key".into());
                        }
                    }
                    // No key: OpenClaw sends clawinit's non-secret marker.
                    None => {
                        let KeyPolicy::Optional { marker } = p.key else { unreachable!() };
                        if call["credential"] != marker {
                            wrong.push(format!("credential {}", call["credential"]));
                        }
                    }
                }
                let text = reply["text"].as_str().unwrap_or_default();
                if !text.contains(&format!(":{port} model={wire}")) {
                    wrong.push(format!("reply text {text:?}"));
                }
                (!wrong.is_empty()).then(|| wrong.join(", "))
            }
        };
        let header = if key.is_some() { expected_header(p.api) } else { "Bearer ollama-local (no key)" };
        rows.push(format!(
            "| {} | {} | {} | {} | `{}` | {} | {} ms |",
            p.id,
            p.key_vars[0],
            p.api,
            header,
            wire,
            if problem.is_none() { "✓" } else { "✗" },
            took.as_millis()
        ));
        if let Some(problem) = problem {
            failures.push(format!("{}: {problem}", p.id));
        }
    }
    let worker_env = std::fs::read(format!("/proc/{}/environ", live.worker())).unwrap_or_default();
    let config_bytes = std::fs::read(live.home.0.join("state/openclaw.json")).unwrap();
    let state = live.home.0.join("state");
    let (code, stdout, stderr) = live.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(failures.is_empty(), "providers that did not answer as they should:\n{}", failures.join("\n"));
    // The canary (part of every key) is nowhere clawinit or the gateway writes.
    assert!(!contains(&config_bytes, &canary), "a key in openclaw.json");
    assert!(!stdout.contains(&canary), "a key on stdout (gateway logs, worker replies)");
    assert!(!stderr.contains(&canary), "a key in clawinit's log");
    for file in all_files(&state) {
        assert!(!contains(&std::fs::read(&file).unwrap_or_default(), &canary), "a key in {}", file.display());
    }
    // The worker gets the secrets like the gateway (the contract: every
    // child's environment, as `sops exec-env`); it never prints them (above).
    if providers.iter().any(|p| p.key == KeyPolicy::Required) {
        assert!(contains(&worker_env, &canary), "the worker's environment is the children's environment");
    }
    rows
}

fn print_table(rows: &[String]) {
    eprintln!("| provider | key | API | header | model on the wire | request | round trip |");
    eprintln!("|---|---|---|---|---|---|---|");
    for row in rows {
        eprintln!("{row}");
    }
}

#[test]
fn the_first_half_of_the_catalog_answers_through_the_real_gateway() {
    let half: Vec<&Provider> = PROVIDERS.iter().take(PROVIDERS.len() / 2).collect();
    // One `<P>_MODELS` override: the seed's OpenRouter model.
    print_table(&one_turn_each("providers-a", &half, &[("OPENROUTER_MODELS", "moonshotai/kimi-k2.5")]));
}

#[test]
fn the_second_half_of_the_catalog_answers_through_the_real_gateway() {
    let half: Vec<&Provider> = PROVIDERS.iter().skip(PROVIDERS.len() / 2).collect();
    print_table(&one_turn_each("providers-b", &half, &[("VLLM_MODELS", "qwen3-coder-local,other")]));
}

#[test]
fn the_catalog_covers_21_providers_in_five_api_families() {
    assert_eq!(PROVIDERS.len(), 21);
    let families: BTreeMap<&str, usize> = PROVIDERS.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(p.api).or_default() += 1;
        m
    });
    for api in families.keys() {
        endpoint(api); // every family has a local endpoint
    }
}

/// Every default model id the catalog names is one the pinned OpenClaw's own
/// registry knows (scripts/check-model-ids.py; update-openclaw.sh runs it too).
#[test]
fn catalog_model_ids_are_known_to_the_pinned_openclaw() {
    let package = openclaw().parent().unwrap().join("node_modules/openclaw");
    let out =
        std::process::Command::new(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-model-ids.py"))
            .arg(&package)
            .output()
            .unwrap();
    let report = text(&out.stdout);
    assert!(out.status.success(), "stale model ids:\n{}{report}", text(&out.stderr));
    // The check is not empty: the built-in providers with a static catalog are checked.
    for checked in ["anthropic/claude-opus-5", "openai/gpt-6-astra", "google/gemini-3.1-pro-preview", "together/"] {
        assert!(report.lines().any(|l| l.starts_with(&format!("ok {checked}"))), "{checked} not checked: {report}");
    }
}
