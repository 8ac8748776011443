//! The model chains clawinit seeds, as the seeds wrote them, through the real
//! pinned gateway and the worker's one WebSocket, to the local endpoints
//! (tests/support/live.rs): the primary answers; when it fails (HTTP 500,
//! and separately 429) the next in the chain gets the same turn with its own
//! key; a chain entry without a key; a key rotated with SIGHUP reaches the
//! endpoint on the next turn while the worker reconnects by itself.
//! Failover times (first failed request → the fallback's request, and the
//! whole turn) are printed for the README. OpenClaw retries a 500 on the same
//! model for up to 90 s and a 429 up to 10 attempts before it falls back
//! (docs/concepts/model-failover.md of the pinned package), so those turns
//! take minutes by design; a 401 falls back at once.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;
use support::live::*;
use support::*;

fn env(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn base(api: &str) -> String {
    endpoint(api).1
}

/// The turn's model calls: (port, model, credential, failed mode, time).
fn calls(live: &Live, marker: &str) -> Vec<(u64, String, String, Option<String>, f64)> {
    live.turn_requests(marker)
        .iter()
        .map(|r: &Value| {
            (
                r["port"].as_u64().unwrap(),
                r["model"].as_str().unwrap_or_default().to_string(),
                r["credential"].as_str().unwrap_or_default().to_string(),
                r["failed"].as_str().map(String::from),
                r["t"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Send a turn and assert who answered it: the reply names the endpoint's
/// port and the model, and that endpoint saw the turn with `key`.
fn answered_by(live: &mut Live, marker: &str, port: u16, model: &str, key: &str) -> (Value, Duration) {
    let (reply, took) = live.send(marker, None);
    let seen = calls(live, marker);
    assert_eq!(reply["ok"], true, "{marker}: {reply}; calls {seen:?}");
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains(&format!(":{port} model={model}")), "{marker}: answered by {text:?}; calls {seen:?}");
    assert!(
        seen.iter().any(|(p, m, k, failed, _)| *p == port as u64 && m == model && k == key && failed.is_none()),
        "{marker}: no answered call on {port} for {model} with its own key: {seen:?}"
    );
    (reply, took)
}

/// The primary fails with `mode` (every attempt) and `fallback` answers the
/// same turn; returns (first failure → fallback's request, whole turn).
fn fails_over(
    live: &mut Live,
    marker: &str,
    primary: (u16, &str),
    mode: &str,
    fallback: (u16, &str, &str),
) -> (Duration, Duration) {
    live.fail_next(primary.0, mode, 1000);
    let (_, took) = answered_by(live, marker, fallback.0, fallback.1, fallback.2);
    live.fail_next(primary.0, mode, 0);
    let seen = calls(live, marker);
    let failed = seen
        .iter()
        .find(|(p, m, _, f, _)| *p == primary.0 as u64 && m == primary.1 && f.as_deref() == Some(mode))
        .unwrap_or_else(|| panic!("{marker}: the primary never saw the turn: {seen:?}"));
    let answered = seen.iter().find(|(p, m, ..)| *p == fallback.0 as u64 && m == fallback.1).unwrap();
    let gap = Duration::from_secs_f64((answered.4 - failed.4).max(0.0));
    let attempts = seen.iter().filter(|(p, m, ..)| *p == primary.0 as u64 && m == primary.1).count();
    eprintln!(
        "failover {marker}: {mode} from {}:{} ({attempts} attempts) -> {}:{} in {} ms; whole turn {} ms",
        primary.0,
        primary.1,
        fallback.0,
        fallback.1,
        gap.as_millis(),
        took.as_millis()
    );
    (gap, took)
}

/// The seed's chain: anthropic → openrouter/moonshotai/kimi-k2.5 → google →
/// openai, four keys. Rotation first (a fresh gateway has no cooldowns), then
/// 500, 429, and both of the first two failing.
#[test]
fn the_seed_chain_answers_fails_over_and_takes_a_rotated_key() {
    let home = Scratch::new("chain-seed");
    let canary = canary();
    let secrets = home.0.join("keys.env.enc");
    let keys = |anthropic: &str| {
        format!(
            "ANTHROPIC_API_KEY={anthropic}\nOPENROUTER_API_KEY=sk-or-{canary}\nGEMINI_API_KEY=g-{canary}\nOPENAI_API_KEY=sk-oa-{canary}\n"
        )
    };
    let first = format!("sk-ant-{canary}");
    sops_encrypt_dotenv(&keys(&first), &secrets);
    let mut live = Live::start(
        home,
        &env(&[
            ("CLAWINIT_SECRETS_FILE", secrets.display().to_string()),
            ("OPENCLAW_AGENT_MODEL", "anthropic/claude-opus-5".into()),
            (
                "OPENCLAW_AGENT_FALLBACKS",
                "openrouter/moonshotai/kimi-k2.5,google/gemini-3.1-pro-preview,openai/gpt-6-astra".into(),
            ),
            ("ANTHROPIC_BASE_URL", base("anthropic-messages")),
            ("OPENROUTER_BASE_URL", base("openai-completions")),
            ("GEMINI_BASE_URL", base("google-generative-ai")),
            ("OPENAI_BASE_URL", base("openai-responses")),
        ]),
    );
    answered_by(&mut live, "seed-primary", ANTHROPIC, "claude-opus-5", &first);

    // Rotation: a new key in the SOPS file, HUP; the worker keeps its pid and
    // reconnects its WebSocket to the new gateway by itself.
    let worker = live.worker();
    let rotated = format!("sk-ant-rotated-{canary}");
    sops_encrypt_dotenv(&keys(&rotated), &live.home.0.join("keys.env.enc"));
    live.signal(Signal::SIGHUP);
    live.wait_for_stdout("worker: connected", 2, Duration::from_secs(300));
    assert_eq!(live.worker(), worker, "the worker was not restarted");
    answered_by(&mut live, "seed-rotated", ANTHROPIC, "claude-opus-5", &rotated);
    let old_key_after = calls(&live, "seed-rotated").iter().filter(|c| c.2 == first).count();
    assert_eq!(old_key_after, 0, "the old key after the rotation");

    let or = (COMPLETIONS, "moonshotai/kimi-k2.5", format!("sk-or-{canary}"));
    fails_over(&mut live, "seed-500", (ANTHROPIC, "claude-opus-5"), "500", (or.0, or.1, &or.2));
    fails_over(&mut live, "seed-429", (ANTHROPIC, "claude-opus-5"), "429", (or.0, or.1, &or.2));
    // The first two refuse the key (401: no transient retries): the third
    // (google) answers with its own key, in the chain's order.
    live.fail_next(COMPLETIONS, "401", 1000);
    fails_over(
        &mut live,
        "seed-401-twice",
        (ANTHROPIC, "claude-opus-5"),
        "401",
        (GOOGLE, "gemini-3.1-pro-preview", &format!("g-{canary}")),
    );
    live.fail_next(COMPLETIONS, "401", 0);
    let refused = calls(&live, "seed-401-twice");
    assert!(
        refused.iter().any(|(p, m, _, f, _)| *p == COMPLETIONS as u64
            && m == "moonshotai/kimi-k2.5"
            && f.as_deref() == Some("401")),
        "openrouter was tried before google: {refused:?}"
    );
    let (code, stdout, stderr) = live.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.contains(&canary) && !stderr.contains(&canary), "a key in the logs");
}

/// MiniMax primary, a Moonshot entry without a key, OpenRouter behind it.
#[test]
fn minimax_fails_over_past_a_keyless_entry_to_openrouter() {
    let home = Scratch::new("chain-minimax");
    let canary = canary();
    let secrets = home.0.join("keys.env.enc");
    sops_encrypt_dotenv(&format!("MINIMAX_API_KEY=mm-{canary}\nOPENROUTER_API_KEY=sk-or-{canary}\n"), &secrets);
    let mut live = Live::start(
        home,
        &env(&[
            ("CLAWINIT_SECRETS_FILE", secrets.display().to_string()),
            ("OPENCLAW_AGENT_MODEL", "minimax/MiniMax-M3".into()),
            ("OPENCLAW_AGENT_FALLBACKS", "moonshot/kimi-k2.5,openrouter/moonshotai/kimi-k2.5".into()),
            ("MINIMAX_BASE_URL", base("anthropic-messages")),
            ("OPENROUTER_BASE_URL", base("openai-completions")),
        ]),
    );
    answered_by(&mut live, "minimax-primary", ANTHROPIC, "MiniMax-M3", &format!("mm-{canary}"));
    fails_over(
        &mut live,
        "minimax-500",
        (ANTHROPIC, "MiniMax-M3"),
        "500",
        (COMPLETIONS, "moonshotai/kimi-k2.5", &format!("sk-or-{canary}")),
    );
    // The keyless Moonshot entry never reached an endpoint (none is
    // configured for it, and no request for its model arrived anywhere).
    assert!(
        live.requests().iter().all(|r| r["model"] != "kimi-k2.5"),
        "a request for the keyless moonshot entry reached an endpoint"
    );
    let (code, stdout, stderr) = live.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.lines().any(|l| l.contains("moonshot/kimi-k2.5") && l.contains("MOONSHOT_API_KEY")),
        "clawinit warns about the keyless chain entry: {stderr}"
    );
    let skipped: Vec<&str> = stdout.lines().filter(|l| l.contains("moonshot") && !l.starts_with("reply")).collect();
    eprintln!("the gateway on the keyless moonshot entry:\n{}", skipped.join("\n"));
}

/// Moonshot primary with OpenAI behind it (429 on the primary).
#[test]
fn moonshot_fails_over_to_openai() {
    let home = Scratch::new("chain-moonshot");
    let canary = canary();
    let secrets = home.0.join("keys.env.enc");
    sops_encrypt_dotenv(&format!("MOONSHOT_API_KEY=ms-{canary}\nOPENAI_API_KEY=sk-oa-{canary}\n"), &secrets);
    let mut live = Live::start(
        home,
        &env(&[
            ("CLAWINIT_SECRETS_FILE", secrets.display().to_string()),
            ("OPENCLAW_AGENT_MODEL", "moonshot/kimi-k2.5".into()),
            ("OPENCLAW_AGENT_FALLBACKS", "openai/gpt-6-astra".into()),
            ("MOONSHOT_BASE_URL", base("openai-completions")),
            ("OPENAI_BASE_URL", base("openai-responses")),
        ]),
    );
    answered_by(&mut live, "moonshot-primary", COMPLETIONS, "kimi-k2.5", &format!("ms-{canary}"));
    fails_over(
        &mut live,
        "moonshot-429",
        (COMPLETIONS, "kimi-k2.5"),
        "429",
        (RESPONSES, "gpt-6-astra", &format!("sk-oa-{canary}")),
    );
    let (code, _, stderr) = live.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

/// LiteLLM alone (its key and `LITELLM_BASE_URL`), then Ollama with no key
/// (`OLLAMA_BASE_URL` only): each the derived primary of its own gateway.
#[test]
fn litellm_alone_and_ollama_without_a_key() {
    let canary = canary();
    let home = Scratch::new("chain-litellm");
    let secrets = home.0.join("keys.env.enc");
    sops_encrypt_dotenv(&format!("LITELLM_API_KEY=sk-litellm-{canary}\n"), &secrets);
    let mut live = Live::start(
        home,
        &env(&[
            ("CLAWINIT_SECRETS_FILE", secrets.display().to_string()),
            ("LITELLM_BASE_URL", base("openai-completions")),
        ]),
    );
    assert_eq!(live.config()["agents"]["defaults"]["model"]["primary"], "litellm/claude-opus-4-6");
    answered_by(&mut live, "litellm-alone", COMPLETIONS, "claude-opus-4-6", &format!("sk-litellm-{canary}"));
    let (code, _, stderr) = live.stop();
    assert_eq!(code, Some(0), "{stderr}");

    let mut live = Live::start(Scratch::new("chain-ollama"), &env(&[("OLLAMA_BASE_URL", base("ollama"))]));
    assert_eq!(live.config()["agents"]["defaults"]["model"]["primary"], "ollama/gemma4");
    answered_by(&mut live, "ollama-keyless", OLLAMA, "gemma4", "ollama-local");
    let (code, _, stderr) = live.stop();
    assert_eq!(code, Some(0), "{stderr}");
}
