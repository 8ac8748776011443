//! openclaw.json end to end: the real binary renders and writes, the real
//! OpenClaw (pinned) validates every file it writes, and the bytes on disk,
//! the exit codes and the state dir are checked.

mod support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use support::*;

/// A container start: a HOME with a state dir, an environment, a gateway
/// command that only records what it was given.
struct Boot {
    home: std::rc::Rc<Scratch>,
    env: Vec<(String, String)>,
}

impl Boot {
    fn new(name: &str) -> Boot {
        Boot { home: std::rc::Rc::new(Scratch::new(&format!("config-{name}"))), env: Vec::new() }
    }

    /// The same container restarted with a different environment.
    fn restart(&self, pairs: &[(&str, &str)]) -> Boot {
        Boot { home: self.home.clone(), env: Vec::new() }.with(pairs)
    }

    fn with(mut self, pairs: &[(&str, &str)]) -> Boot {
        self.env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    fn state_dir(&self) -> PathBuf {
        self.home.0.join(".openclaw")
    }

    fn config(&self) -> PathBuf {
        self.state_dir().join("openclaw.json")
    }

    /// Where the fake gateway records that it ran (outside the state dir).
    fn gateway_ran(&self) -> PathBuf {
        self.home.0.join("gateway-ran")
    }

    fn clawinit(&self, args: &[&str]) -> Output {
        let mut cmd = clawinit(&self.home.0);
        cmd.env(
            "CLAWINIT_GATEWAY_CMD",
            format!("sh -c 'echo \"$OPENCLAW_CONFIG_PATH\" > {}'", self.gateway_ran().display()),
        );
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.args(args).output().expect("run clawinit")
    }

    fn run(&self) -> Output {
        let out = self.clawinit(&["run"]);
        assert_canary_free(&out);
        out
    }

    fn run_ok(&self) -> Output {
        let out = self.run();
        assert!(out.status.success(), "run failed: {}", text(&out.stderr));
        out
    }

    fn written(&self) -> Value {
        serde_json::from_slice(&fs::read(self.config()).expect("config written")).expect("config is JSON")
    }

    fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

fn secret(name: &str) -> String {
    format!("{name}-{}", canary())
}

fn assert_canary_free(out: &Output) {
    let c = canary();
    assert!(!contains(&out.stdout, &c) && !contains(&out.stderr, &c), "a secret value reached the output");
}

fn assert_state_dir_canary_free(boot: &Boot) {
    for file in all_files(&boot.state_dir()) {
        assert!(!contains(&fs::read(&file).unwrap(), &canary()), "a secret value is in {}", file.display());
    }
}

/// Compare with `tests/golden/NAME.json`; `CLAWINIT_BLESS=1` rewrites it.
fn assert_golden(name: &str, bytes: &[u8]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.json"));
    if std::env::var_os("CLAWINIT_BLESS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
    }
    let expected = fs::read(&path).unwrap_or_else(|_| panic!("no golden file {} (CLAWINIT_BLESS=1)", path.display()));
    assert_eq!(text(bytes), text(&expected), "differs from {}", path.display());
}

/// render, then run twice: the second run must not touch the file.
fn render_run_twice(boot: &Boot, golden: &str) -> Value {
    let rendered = boot.clawinit(&["render"]);
    assert_canary_free(&rendered);
    assert!(rendered.status.success(), "render: {}", text(&rendered.stderr));
    assert_golden(golden, &rendered.stdout);
    boot.run_ok();
    assert_eq!(fs::read(boot.config()).unwrap(), rendered.stdout, "run writes what render printed");
    let before = fs::metadata(boot.config()).unwrap();
    let again = boot.run_ok();
    let after = fs::metadata(boot.config()).unwrap();
    assert_eq!((before.ino(), before.mtime_nsec()), (after.ino(), after.mtime_nsec()), "a second run rewrote the file");
    assert!(text(&again.stderr).contains("(unchanged)"), "{}", text(&again.stderr));
    assert_eq!(after.mode() & 0o777, 0o600);
    assert_openclaw_accepts(&boot.config(), &boot.env_pairs());
    assert_state_dir_canary_free(boot);
    boot.written()
}

#[test]
fn scenario_1_fly_machine_seeds_a_file() {
    let boot = Boot::new("fly").with(&[
        ("MOONSHOT_API_KEY", &secret("moonshot")),
        ("OPENAI_API_KEY", &secret("openai")),
        ("OPENCLAW_AGENT_MODEL", "moonshot/kimi-k2.5"),
    ]);
    let doc = render_run_twice(&boot, "1-fly");
    assert_eq!(doc["gateway"]["mode"], "local");
    assert_eq!(doc["gateway"]["auth"], json!({"mode": "token"}), "no token is ever written");
    assert_eq!(
        doc["agents"]["defaults"]["model"],
        json!({"primary": "moonshot/kimi-k2.5", "fallbacks": ["openai/gpt-6-astra"]})
    );
    assert!(doc.get("models").is_none(), "built-in providers need no block");
}

const K8S_FILE: &str = r#"// Edited by hand over SSH. clawinit merges into it.
{
  auth: {
    // credentials live in auth-profiles.json
    profiles: {
      'anthropic:work': { provider: 'anthropic', mode: 'token', },
    },
  },
  gateway: { mode: 'local', port: 18789, bind: 'lan', },
  agents: {
    defaults: {
      workspace: '/data/workspace',
      timeoutSeconds: 600,
      /* keep this */ thinkingDefault: 'low',
    },
  },
}
"#;

#[test]
fn scenario_2_kubernetes_litellm_merges_into_commented_json5() {
    let boot = Boot::new("k8s").with(&[
        ("LITELLM_MASTER_KEY", &secret("litellm")),
        ("LITELLM_BASE_URL", "http://litellm.ml.svc.cluster.local:4000/v1"),
        ("LITELLM_MODELS", "cloud-kimi,cloud-minimax,cloud-qwen3-coder,vllm-qwen,ollama-qwen"),
        ("OPENCLAW_AGENT_MODEL", "litellm/cloud-kimi"),
        ("OPENCLAW_AGENT_FALLBACKS", "litellm/cloud-minimax,litellm/vllm-qwen,litellm/ollama-qwen"),
        ("OPENCLAW_SUBAGENT_MODEL", "litellm/cloud-qwen3-coder"),
    ]);
    fs::create_dir_all(boot.state_dir()).unwrap();
    fs::write(boot.config(), K8S_FILE).unwrap();
    let doc = render_run_twice(&boot, "2-k8s-litellm");
    let litellm = &doc["models"]["providers"]["litellm"];
    assert_eq!(litellm["baseUrl"], "http://litellm.ml.svc.cluster.local:4000/v1");
    assert_eq!(litellm["apiKey"], json!({"source": "env", "provider": "default", "id": "LITELLM_MASTER_KEY"}));
    assert_eq!(litellm["models"].as_array().unwrap().len(), 5);
    let defaults = &doc["agents"]["defaults"];
    assert_eq!(defaults["subagents"]["model"], "litellm/cloud-qwen3-coder");
    // The user's settings survive.
    assert_eq!(doc["auth"]["profiles"]["anthropic:work"], json!({"provider": "anthropic", "mode": "token"}));
    assert_eq!(
        (&defaults["workspace"], &defaults["timeoutSeconds"], &defaults["thinkingDefault"]),
        (&json!("/data/workspace"), &json!(600), &json!("low"))
    );
    assert_eq!(doc["gateway"]["bind"], "lan");
    let backup = fs::read_to_string(boot.state_dir().join("openclaw.json.clawinit-prev.1")).unwrap();
    assert_eq!(backup, K8S_FILE, "the hand-edited original is kept");
}

#[test]
fn scenario_3_home_server_sops_aliases_and_overlay() {
    let boot = Boot::new("compose");
    let secrets = boot.home.0.join("secrets.env.enc");
    sops_encrypt_dotenv(
        &format!(
            "OPENROUTER_API_KEY={}\nGEMINI_API_KEY={}\nOPENAI_API_KEY={}\nANTHROPIC_API_KEY={}\n",
            secret("or"),
            secret("gem"),
            secret("oai"),
            secret("ant")
        ),
        &secrets,
    );
    let overlay = boot.home.0.join("overlay.json5");
    fs::write(&overlay, "{ plugins: { entries: { 'llm-task': { enabled: true } } } }\n").unwrap();
    let boot = boot.with(&[
        ("CLAWINIT_SECRETS_FILE", secrets.to_str().unwrap()),
        ("SOPS_AGE_KEY_FILE", fixtures().join("keys/key1.txt").to_str().unwrap()),
        ("CLAWINIT_CONFIG_OVERLAY", overlay.to_str().unwrap()),
        ("OPENCLAW_AGENT_MODEL", "anthropic/claude-opus-4-5"),
        ("OPENCLAW_AGENT_FALLBACKS", "openrouter/moonshotai/kimi-k2.5,google/gemini-2.5-pro,openai/gpt-5.2"),
        (
            "OPENCLAW_MODEL_ALIASES",
            "opus=anthropic/claude-opus-4-5,kimi=openrouter/moonshotai/kimi-k2.5,gemini=google/gemini-2.5-pro,gpt=openai/gpt-5.2",
        ),
    ]);
    let doc = render_run_twice(&boot, "3-compose-sops");
    let defaults = &doc["agents"]["defaults"];
    assert_eq!(defaults["models"]["openrouter/moonshotai/kimi-k2.5"]["alias"], "kimi");
    assert_eq!(defaults["modelPolicy"], json!({}), "aliases must not become an allowlist");
    assert_eq!(doc["plugins"]["entries"]["llm-task"]["enabled"], true);
    let out = boot.run_ok();
    assert!(!text(&out.stderr).contains("warning"), "every chain model has a key: {}", text(&out.stderr));
}

#[test]
fn scenario_4_ec2_with_a_local_ollama_fallback() {
    let boot = Boot::new("ec2").with(&[
        ("GEMINI_API_KEY", &secret("gem")),
        ("OLLAMA_BASE_URL", "http://host.docker.internal:11434"),
        ("OLLAMA_MODELS", "qwen2.5:3b,qwen2.5:1.5b"),
    ]);
    let doc = render_run_twice(&boot, "4-ec2-ollama");
    assert_eq!(
        doc["agents"]["defaults"]["model"],
        json!({"primary": "google/gemini-3.1-pro-preview", "fallbacks": ["ollama/qwen2.5:3b"]})
    );
    let ollama = &doc["models"]["providers"]["ollama"];
    assert_eq!((&ollama["api"], &ollama["apiKey"]), (&json!("ollama"), &json!("ollama-local")));
}

#[test]
fn scenario_5_user_fallback_without_credential_is_kept_with_a_warning() {
    let boot = Boot::new("minimax").with(&[("MINIMAX_API_KEY", &secret("mm"))]);
    fs::create_dir_all(boot.state_dir()).unwrap();
    let user = json!({"gateway": {"mode": "local"}, "agents": {"defaults": {"model": {"primary": "minimax/MiniMax-M3", "fallbacks": ["openrouter/auto"]}}}});
    fs::write(boot.config(), serde_json::to_string_pretty(&user).unwrap()).unwrap();
    let doc = render_run_twice(&boot, "5-minimax-openrouter");
    assert_eq!(doc["agents"]["defaults"]["model"]["fallbacks"], json!(["openrouter/auto"]));
    let out = boot.run_ok();
    let warning = text(&out.stderr).lines().find(|l| l.contains("WARN")).map(String::from).unwrap_or_default();
    assert!(warning.contains("openrouter/auto") && warning.contains("OPENROUTER_API_KEY"), "{}", text(&out.stderr));
}

#[test]
fn a_removed_key_removes_what_clawinit_added_and_keeps_what_the_user_edited() {
    let boot = Boot::new("ownership").with(&[
        ("LITELLM_API_KEY", &secret("l")),
        ("VLLM_API_KEY", &secret("v")),
        ("OPENAI_API_KEY", &secret("o")),
    ]);
    boot.run_ok();
    let first = boot.written();
    assert_eq!(first["agents"]["defaults"]["model"]["primary"], "openai/gpt-6-astra");
    // The user adds a header to the vLLM block and a setting of their own.
    let mut edited = first.clone();
    edited["models"]["providers"]["vllm"]["headers"] = json!({"X-Team": "ml"});
    edited["agents"]["defaults"]["timeoutSeconds"] = json!(900);
    fs::write(boot.config(), serde_json::to_vec_pretty(&edited).unwrap()).unwrap();

    let out = boot.restart(&[("OPENAI_API_KEY", &secret("o"))]).clawinit(&["run"]);
    // The edited vLLM block is kept, and it references VLLM_API_KEY, now gone.
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(one_line(&out).contains("models.providers.vllm.apiKey references VLLM_API_KEY"), "{}", text(&out.stderr));
    assert_eq!(boot.written(), edited, "a failed start changes nothing");

    let out = boot.restart(&[("OPENAI_API_KEY", &secret("o")), ("VLLM_API_KEY", &secret("v"))]).run_ok();
    let doc = boot.written();
    assert!(doc["models"]["providers"].get("litellm").is_none(), "clawinit's untouched block is removed");
    assert_eq!(doc["models"]["providers"]["vllm"]["headers"], json!({"X-Team": "ml"}));
    assert_eq!(doc["agents"]["defaults"]["timeoutSeconds"], 900);
    assert_eq!(
        doc["agents"]["defaults"]["model"],
        json!({"primary": "openai/gpt-6-astra", "fallbacks": ["vllm/default"]})
    );
    assert!(text(&out.stderr).contains("- models.providers.litellm"), "{}", text(&out.stderr));
    assert_openclaw_accepts(&boot.config(), &[("OPENAI_API_KEY", "x"), ("VLLM_API_KEY", "y")]);
}

#[test]
fn environment_wins_over_the_file_for_the_paths_it_sets() {
    let boot = Boot::new("env-wins").with(&[
        ("OPENAI_API_KEY", &secret("o")),
        ("OPENCLAW_AGENT_MODEL", "openai/gpt-5.4"),
        ("OPENCLAW_GATEWAY_PORT", "3000"),
    ]);
    fs::create_dir_all(boot.state_dir()).unwrap();
    fs::write(
        boot.config(),
        r#"{gateway: {mode: "local", port: 18789}, agents: {defaults: {model: "anthropic/claude-opus-5"}}}"#,
    )
    .unwrap();
    boot.run_ok();
    let doc = boot.written();
    assert_eq!(doc["gateway"]["port"], 3000);
    assert_eq!(doc["agents"]["defaults"]["model"]["primary"], "openai/gpt-5.4");
    assert_openclaw_accepts(&boot.config(), &boot.env_pairs());
}

#[test]
fn unparseable_file_exits_78_with_line_and_column_and_touches_nothing() {
    let boot = Boot::new("unparseable").with(&[("OPENAI_API_KEY", &secret("o"))]);
    fs::create_dir_all(boot.state_dir()).unwrap();
    let broken = "{\n  gateway: { mode: 'local' },\n  agents: { defaults: [1, 2 }\n}\n";
    fs::write(boot.config(), broken).unwrap();
    for command in ["run", "render", "check"] {
        let out = boot.clawinit(&[command]);
        assert_eq!(out.status.code(), Some(78), "{command}: {}", text(&out.stderr));
        let line = one_line(&out);
        assert!(line.contains("openclaw.json: line 3, column 29"), "{line}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(fs::read_to_string(boot.config()).unwrap(), broken);
    assert_eq!(fs::read_dir(boot.state_dir()).unwrap().count(), 1, "no lock, state or backup file");
    assert!(!boot.gateway_ran().exists(), "nothing spawned");
}

#[test]
fn a_missing_referenced_variable_exits_78_naming_it_and_the_path() {
    let boot = Boot::new("missing-ref");
    fs::create_dir_all(boot.state_dir()).unwrap();
    let user = r#"{gateway: {mode: "local"}, models: {providers: {corp: {baseUrl: "https://llm.corp/v1", apiKey: "${CORP_LLM_KEY}", models: []}}}}"#;
    fs::write(boot.config(), user).unwrap();
    let out = boot.clawinit(&["run"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(one_line(&out).contains("models.providers.corp.apiKey references CORP_LLM_KEY"), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(boot.config()).unwrap(), user);
    assert!(!boot.gateway_ran().exists());
    let empty = boot.with(&[("CORP_LLM_KEY", "")]);
    assert_eq!(empty.clawinit(&["check"]).status.code(), Some(78), "empty counts as missing");
}

#[test]
fn an_unwritable_directory_exits_78_and_changes_nothing() {
    let boot = Boot::new("unwritable").with(&[("OPENAI_API_KEY", &secret("o"))]);
    fs::create_dir_all(boot.state_dir()).unwrap();
    let user = "{gateway: {mode: 'local'}}\n";
    fs::write(boot.config(), user).unwrap();
    // As an unprivileged user, the root-owned state dir is not writable.
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_clawinit"), "run"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", &boot.home.0)
        .env("OPENAI_API_KEY", secret("o"))
        .env("CLAWINIT_GATEWAY_CMD", "true");
    fs::set_permissions(&boot.home.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(one_line(&out).contains(".openclaw"), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(boot.config()).unwrap(), user);
    assert_eq!(fs::read_dir(boot.state_dir()).unwrap().count(), 1);
}

#[test]
fn eight_concurrent_starts_on_one_state_dir_serialize() {
    let boot = Boot::new("concurrent").with(&[("OPENAI_API_KEY", &secret("o")), ("GROQ_API_KEY", &secret("g"))]);
    fs::create_dir_all(boot.state_dir()).unwrap();
    fs::write(boot.config(), "{gateway: {mode: 'local'}, agents: {defaults: {timeoutSeconds: 321}}}").unwrap();
    boot.eight_runs_at_once();
    let doc = boot.written();
    assert_eq!(doc["agents"]["defaults"]["timeoutSeconds"], 321);
    assert_eq!(doc["agents"]["defaults"]["model"]["primary"], "openai/gpt-6-astra");
    let names: Vec<String> =
        fs::read_dir(boot.state_dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!names.iter().any(|n| n.contains("tmp")), "{names:?}");
    assert!(names.contains(&"openclaw.json.clawinit-prev.1".to_string()), "one writer changed it: {names:?}");
    assert!(
        !names.contains(&"openclaw.json.clawinit-prev.2".to_string()),
        "the other seven found it current: {names:?}"
    );
    assert_openclaw_accepts(&boot.config(), &boot.env_pairs());
}

#[test]
fn a_crash_between_temp_write_and_rename_leaves_the_old_file() {
    let boot = Boot::new("crash").with(&[("OPENAI_API_KEY", &secret("o"))]);
    fs::create_dir_all(boot.state_dir()).unwrap();
    let user = "{gateway: {mode: 'local'}}\n";
    fs::write(boot.config(), user).unwrap();
    let crashed = boot.clawinit_with_fault("before-rename");
    assert!(!crashed.status.success());
    assert_eq!(fs::read_to_string(boot.config()).unwrap(), user, "the old file is intact");
    let leftovers = fs::read_dir(boot.state_dir())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("clawinit-tmp"))
        .count();
    assert_eq!(leftovers, 1, "the crash left its temp file");
    boot.run_ok();
    let names: Vec<String> =
        fs::read_dir(boot.state_dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!names.iter().any(|n| n.contains("tmp")), "the next start cleans up: {names:?}");
    assert_eq!(boot.written()["agents"]["defaults"]["model"]["primary"], "openai/gpt-6-astra");
}

impl Boot {
    /// Eight `run`s started together (gateway `true`), each must succeed.
    fn eight_runs_at_once(&self) {
        let children: Vec<_> = (0..8)
            .map(|_| {
                let mut cmd = clawinit(&self.home.0);
                cmd.env("CLAWINIT_GATEWAY_CMD", "true").envs(self.env.iter().map(|(k, v)| (k, v))).arg("run");
                cmd.stderr(std::process::Stdio::piped()).spawn().unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
    }

    fn clawinit_with_fault(&self, point: &str) -> Output {
        let mut cmd = clawinit(&self.home.0);
        cmd.env("CLAWINIT_GATEWAY_CMD", "true").env("CLAWINIT_FAULT", point);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.arg("run").output().unwrap()
    }
}

#[test]
fn backups_keep_the_last_three_versions_beside_openclaws_own() {
    let boot = Boot::new("backups");
    fs::create_dir_all(boot.state_dir()).unwrap();
    fs::write(boot.config(), "{gateway: {mode: 'local'}}").unwrap();
    fs::write(boot.state_dir().join("openclaw.json.bak"), "openclaw's own").unwrap();
    let mut versions = vec![fs::read(boot.config()).unwrap()];
    for port in ["3001", "3002", "3003", "3004"] {
        boot.restart(&[("OPENCLAW_GATEWAY_PORT", port)]).run_ok();
        versions.push(fs::read(boot.config()).unwrap());
    }
    for n in 1..=3 {
        let backup = fs::read(boot.state_dir().join(format!("openclaw.json.clawinit-prev.{n}"))).unwrap();
        assert_eq!(backup, versions[versions.len() - 1 - n], "prev.{n}");
    }
    assert!(!boot.state_dir().join("openclaw.json.clawinit-prev.4").exists());
    assert_eq!(fs::read_to_string(boot.state_dir().join("openclaw.json.bak")).unwrap(), "openclaw's own");
}

#[test]
fn a_read_only_source_is_rendered_into_the_state_dir() {
    let boot = Boot::new("readonly").with(&[("ANTHROPIC_API_KEY", &secret("a"))]);
    let configmap = boot.home.0.join("configmap");
    fs::create_dir_all(configmap.join("..data")).unwrap();
    let base = "{gateway: {mode: 'local', bind: 'lan'}, agents: {defaults: {timeoutSeconds: 120}}}\n";
    fs::write(configmap.join("..data/openclaw.json"), base).unwrap();
    std::os::unix::fs::symlink("..data/openclaw.json", configmap.join("openclaw.json")).unwrap();
    let source = configmap.join("openclaw.json");
    let boot = boot.with(&[("OPENCLAW_CONFIG_PATH", source.to_str().unwrap())]);
    boot.run_ok();
    let rendered = boot.state_dir().join("openclaw.rendered.json");
    assert_eq!(fs::read_to_string(&source).unwrap(), base, "the source is never written");
    assert!(fs::symlink_metadata(&source).unwrap().file_type().is_symlink());
    let doc: Value = serde_json::from_slice(&fs::read(&rendered).unwrap()).unwrap();
    assert_eq!(doc["agents"]["defaults"]["timeoutSeconds"], 120);
    assert_eq!(doc["agents"]["defaults"]["model"]["primary"], "anthropic/claude-opus-5");
    let seen = fs::read_to_string(boot.gateway_ran()).unwrap();
    assert_eq!(seen.trim(), rendered.to_str().unwrap(), "the gateway is pointed at the rendered copy");
    let before = fs::metadata(&rendered).unwrap().mtime_nsec();
    boot.run_ok();
    assert_eq!(fs::metadata(&rendered).unwrap().mtime_nsec(), before, "same source, same bytes, no write");
    assert_openclaw_accepts(&rendered, &boot.env_pairs());
}

#[test]
fn config_write_false_renders_and_checks_only() {
    let boot = Boot::new("nowrite").with(&[("OPENAI_API_KEY", &secret("o")), ("CLAWINIT_CONFIG_WRITE", "false")]);
    boot.run_ok();
    assert!(!boot.state_dir().exists(), "nothing is created");
    assert!(boot.gateway_ran().exists());
}

#[test]
fn the_overlay_merges_last_and_null_deletes() {
    let boot = Boot::new("overlay").with(&[("OPENAI_API_KEY", &secret("o"))]);
    fs::create_dir_all(boot.state_dir()).unwrap();
    fs::write(
        boot.config(),
        "{gateway: {mode: 'local'}, agents: {defaults: {timeoutSeconds: 5, thinkingDefault: 'low'}}}",
    )
    .unwrap();
    let overlay = boot.home.0.join("overlay.json5");
    fs::write(&overlay, "// team defaults\n{agents: {defaults: {thinkingDefault: null, timeoutSeconds: 60}}, gateway: {controlUi: {allowedOrigins: ['https://bot.example.com']}}}").unwrap();
    let boot = boot.with(&[("CLAWINIT_CONFIG_OVERLAY", overlay.to_str().unwrap())]);
    boot.run_ok();
    let doc = boot.written();
    assert_eq!(doc["agents"]["defaults"]["timeoutSeconds"], 60);
    assert!(doc["agents"]["defaults"].get("thinkingDefault").is_none());
    assert_eq!(doc["gateway"]["controlUi"]["allowedOrigins"], json!(["https://bot.example.com"]));
    assert_openclaw_accepts(&boot.config(), &boot.env_pairs());

    fs::write(&overlay, "{agents: {defaults: {timeoutSeconds: 60,}}, oops}").unwrap();
    let out = boot.clawinit(&["run"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(one_line(&out).contains("overlay.json5: line 1"), "{}", text(&out.stderr));
}

#[test]
fn bad_model_settings_are_usage_errors_before_anything_happens() {
    for (var, value) in [
        ("OPENCLAW_MODEL_ALIASES", "opus"),
        ("OPENCLAW_AGENT_MODEL", "no-provider"),
        ("OPENCLAW_GATEWAY_PORT", "http"),
        ("OPENCLAW_GATEWAY_BIND", "0.0.0.0"),
        ("LITELLM_BASE_URL", "litellm:4000"),
    ] {
        let boot = Boot::new("bad-setting").with(&[("LITELLM_API_KEY", &secret("l")), (var, value)]);
        let out = boot.clawinit(&["run"]);
        assert_eq!(out.status.code(), Some(64), "{var}");
        assert!(one_line(&out).contains(var), "{}", text(&out.stderr));
        assert!(!boot.state_dir().exists() && !boot.gateway_ran().exists(), "{var}");
    }
}

#[test]
fn the_gateway_token_is_generated_per_boot_and_never_written() {
    let boot = Boot::new("token").with(&[("CLAWINIT_GATEWAY_CMD", "")]);
    let record = boot.home.0.join("token");
    let mut cmd = clawinit(&boot.home.0);
    cmd.env("CLAWINIT_GATEWAY_CMD", format!("sh -c 'printf %s \"$OPENCLAW_GATEWAY_TOKEN\" > {}'", record.display()))
        .arg("run");
    assert!(cmd.output().unwrap().status.success());
    let token = fs::read_to_string(&record).unwrap();
    assert_eq!(token.len(), 64);
    for file in all_files(&boot.state_dir()) {
        assert!(!contains(&fs::read(&file).unwrap(), &token), "{}", file.display());
    }
    assert!(cmd.output().unwrap().status.success());
    assert_ne!(fs::read_to_string(&record).unwrap(), token, "a new token each boot");
    assert_openclaw_accepts(&boot.config(), &[]);
}

#[test]
fn check_resolves_the_gateway_and_writes_nothing() {
    let boot = Boot::new("check").with(&[("OPENAI_API_KEY", &secret("o"))]);
    let out = boot.clawinit(&["check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!boot.state_dir().exists() && !boot.gateway_ran().exists());
    let missing = boot.with(&[("CLAWINIT_GATEWAY_CMD", "no-such-gateway run")]);
    let mut cmd = clawinit(&missing.home.0);
    cmd.envs(missing.env.iter().map(|(k, v)| (k, v))).arg("check");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
}

#[test]
fn relative_setting_paths_are_read_from_the_start_directory() {
    let boot = Boot::new("relative");
    sops_encrypt_dotenv(&format!("OPENAI_API_KEY={}\n", secret("o")), &boot.home.0.join("secrets.env.enc"));
    fs::write(boot.home.0.join("overlay.json5"), "{agents: {defaults: {timeoutSeconds: 77}}}").unwrap();
    let mut cmd = clawinit(&boot.home.0);
    cmd.current_dir(&boot.home.0)
        .env("CLAWINIT_SECRETS_FILE", "secrets.env.enc")
        .env("SOPS_AGE_KEY_FILE", fixtures().join("keys/key1.txt"))
        .env("CLAWINIT_CONFIG_OVERLAY", "overlay.json5")
        .env("CLAWINIT_GATEWAY_CMD", "true")
        .arg("run");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = boot.written();
    assert_eq!(doc["agents"]["defaults"]["timeoutSeconds"], 77);
    assert_eq!(doc["agents"]["defaults"]["model"]["primary"], "openai/gpt-6-astra", "the key came from the SOPS file");
}

/// The state dir's entries as the gateway saw them when it started.
fn listing(path: &Path) -> Vec<String> {
    fs::read_to_string(path).expect("the gateway listed the state dir").lines().map(String::from).collect()
}

/// OpenClaw takes a state dir holding only openclaw.json for a new install
/// and skips its legacy-state migrations (~2 s of a first start). clawinit's
/// lock is the directory's own `flock` and its state file waits until the
/// gateway is ready, so a first start shows the gateway exactly that; the
/// state file is there once the gateway is ready, while it runs.
#[test]
fn a_first_start_shows_the_gateway_a_state_dir_holding_only_openclaw_json() {
    use support::ns::{run_pair, wait_for_line, Running};
    let home = Scratch::new("config-pristine");
    let (log, seen) = (home.0.join("log"), home.0.join("seen"));
    let seen_s = seen.display().to_string();
    let env = [("OPENAI_API_KEY", "sk-not-a-real-key"), ("FAKE_STATE_LISTING", &seen_s), ("FAKE_READY_AFTER", "1")];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_line(&log, "worker start");
    assert_eq!(listing(&seen), ["openclaw.json"]);
    let state = home.0.join("state/openclaw.json.clawinit-state");
    let recorded = fs::read_to_string(&state).expect("the state file is written once the gateway is ready");
    assert!(recorded.contains(r#"{"path":["agents","defaults","model","primary"],"value":"openai/gpt-6-astra"}"#));
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let (out, _) = running.finish(std::time::Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));

    // The next start knows its entries: a key gone takes the model it chose.
    let log = home.0.join("log-again");
    let again = Running::start(run_pair(&home.0, &log, &[("GROQ_API_KEY", "gsk-not-a-real-key")]));
    wait_for_line(&log, "worker start");
    again.signal(nix::sys::signal::Signal::SIGTERM);
    let (out, _) = again.finish(std::time::Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&fs::read(home.0.join("state/openclaw.json")).unwrap()).unwrap();
    assert!(doc["agents"]["defaults"]["model"]["primary"].as_str().unwrap().starts_with("groq/"), "{doc}");
}

/// A start that never gets the gateway ready still writes the state file
/// when it ends; a state dir holding anything else gets it at once.
#[test]
fn the_kept_back_state_file_is_written_when_the_run_ends_and_only_on_a_new_state_dir() {
    use support::ns::{run_pair, wait_for_line, Running};
    let home = Scratch::new("config-pristine-stop");
    let (log, seen) = (home.0.join("log"), home.0.join("seen"));
    let seen_s = seen.display().to_string();
    let env = [("OPENAI_API_KEY", "sk-not-a-real-key"), ("FAKE_STATE_LISTING", &seen_s), ("FAKE_READY_AFTER", "never")];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_line(&log, "gateway start");
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let (out, _) = running.finish(std::time::Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    assert_eq!(listing(&seen), ["openclaw.json"]);
    assert!(home.0.join("state/openclaw.json.clawinit-state").is_file(), "written when the run ended");

    let used = Scratch::new("config-pristine-used");
    fs::create_dir_all(used.0.join("state/state")).unwrap();
    let (log, seen) = (used.0.join("log"), used.0.join("seen"));
    let seen_s = seen.display().to_string();
    let env = [("OPENAI_API_KEY", "sk-not-a-real-key"), ("FAKE_STATE_LISTING", &seen_s), ("FAKE_READY_AFTER", "never")];
    let running = Running::start(run_pair(&used.0, &log, &env));
    wait_for_line(&log, "gateway start");
    assert_eq!(listing(&seen), ["openclaw.json", "openclaw.json.clawinit-state", "state"]);
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let (out, _) = running.finish(std::time::Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
}

/// A HUP before the gateway is ready re-renders with the state file the
/// start kept back (written first), not from nothing: the seeded entries
/// stay clawinit's.
#[test]
fn a_reload_before_the_gateway_is_ready_keeps_what_the_first_start_seeded() {
    use support::ns::{run_pair, wait_for_line, Running};
    let home = Scratch::new("config-pristine-hup");
    let log = home.0.join("log");
    let env = [("OPENAI_API_KEY", "sk-not-a-real-key"), ("FAKE_READY_AFTER", "2")];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_line(&log, "gateway start");
    running.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for_line(&log, "worker start");
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let (out, _) = running.finish(std::time::Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("reload") && !stderr.contains("reload failed"), "the HUP was taken: {stderr}");
    let recorded = fs::read_to_string(home.0.join("state/openclaw.json.clawinit-state")).unwrap();
    assert!(recorded.contains(r#"{"path":["agents","defaults","model","primary"],"value":"openai/gpt-6-astra"}"#));
}

/// Eight starts at once on an empty state dir: the first keeps its state
/// file back with the lock held, so the others wait for it and read it,
/// and the entries stay clawinit's.
#[test]
fn eight_concurrent_first_starts_keep_the_seeded_entries_clawinits() {
    let boot = Boot::new("concurrent-new").with(&[("OPENAI_API_KEY", &secret("o"))]);
    boot.eight_runs_at_once();
    let recorded = fs::read_to_string(boot.state_dir().join("openclaw.json.clawinit-state")).unwrap();
    assert!(recorded.contains(r#"{"path":["agents","defaults","model","primary"],"value":"openai/gpt-6-astra"}"#));
    let names: Vec<String> =
        fs::read_dir(boot.state_dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!names.iter().any(|n| n.contains("lock") || n.contains("prev")), "{names:?}");
}
