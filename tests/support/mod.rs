//! Shared helpers for the integration tests: the fixture manifest and running
//! the real clawinit binary with a clean, isolated environment.
#![allow(dead_code)]

pub mod live;
pub mod ns;
pub mod reload;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn manifest() -> Value {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest is JSON")
}

pub fn canary() -> String {
    manifest()["canary"].as_str().unwrap().to_string()
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// Unique per call, even for the same name in one test binary.
    pub fn new(name: &str) -> Scratch {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("clawinit-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// clawinit with an empty environment except PATH and a HOME without keys,
/// so nothing on the machine (a real ~/.config/sops/age/keys.txt) leaks in.
pub fn clawinit(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawinit"));
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", home);
    cmd
}

/// Point the command at a fixture identity: `key1.txt` or `ssh:id_ed25519`.
pub fn with_identity(cmd: &mut Command, identity: &str) {
    let keys = fixtures().join("keys");
    match identity.strip_prefix("ssh:") {
        Some(name) => cmd.env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", keys.join(name)),
        None => cmd.env("SOPS_AGE_KEY_FILE", keys.join(identity)),
    };
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Exactly one non-empty stderr line.
pub fn one_line(out: &Output) -> String {
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    lines[0].to_string()
}

/// The pinned OpenClaw CLI (installed into .cache/ by the project's script on
/// first use; later calls only print the path).
pub fn openclaw() -> &'static Path {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-openclaw.sh");
        let out = Command::new(&script).output().expect("run scripts/install-openclaw.sh");
        assert!(out.status.success(), "install-openclaw.sh failed: {}", text(&out.stderr));
        PathBuf::from(text(&out.stdout).trim().lines().last().expect("the script prints the CLI path"))
    })
}

/// Another OpenClaw release (the version matrix, the oldest's e2e start),
/// installed beside the pinned one by the same script on first use.
pub fn openclaw_release(version: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-openclaw.sh");
    let out = Command::new(&script).arg(version).output().expect("run scripts/install-openclaw.sh");
    assert!(out.status.success(), "install-openclaw.sh {version} failed: {}", text(&out.stderr));
    PathBuf::from(text(&out.stdout).trim().lines().last().expect("the script prints the CLI path"))
}

/// `openclaw config validate --json` on `config` with `env` (the variables the
/// config references): must be valid with no warnings.
pub fn assert_openclaw_accepts(config: &Path, env: &[(&str, &str)]) {
    assert_release_accepts(openclaw(), config, env)
}

/// `assert_openclaw_accepts` with the CLI of any installed release.
pub fn assert_release_accepts(cli: &Path, config: &Path, env: &[(&str, &str)]) {
    let report = validate_report(cli, config, env);
    assert_eq!(report["valid"], true, "OpenClaw rejects {}: {report}", config.display());
    assert_eq!(report["warnings"], serde_json::json!([]), "OpenClaw warns about {}: {report}", config.display());
}

/// The report of `cli config validate --json` on `config`.
pub fn validate_report(cli: &Path, config: &Path, env: &[(&str, &str)]) -> Value {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let state = Scratch::new(&format!("validate-{}", RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
    let mut cmd = Command::new(cli);
    cmd.args(["config", "validate", "--json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &state.0)
        .env("OPENCLAW_STATE_DIR", &state.0)
        .env("OPENCLAW_CONFIG_PATH", config)
        .env("npm_config_offline", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run openclaw config validate");
    let stdout = text(&out.stdout);
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        // Older releases print a rejection over several lines.
        .or_else(|| stdout.find("{\n").and_then(|at| serde_json::from_str(stdout[at..].trim_end()).ok()))
        .unwrap_or_else(|| panic!("no JSON from openclaw config validate: {stdout} {}", text(&out.stderr)));
    report
}

/// Every file under `dir`, for canary scans.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The real sops 3.11 ELF, installed by the project's script once per test binary.
pub fn sops() -> &'static Path {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let install =
            Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-peers.sh")).output().unwrap();
        assert!(install.status.success(), "install-peers.sh: {}", text(&install.stderr));
        PathBuf::from(text(&install.stdout).trim().lines().last().unwrap())
    })
}

/// Encrypt a dotenv document with the real sops 3.11 for fixture key1.
pub fn sops_encrypt_dotenv(plain: &str, out: &Path) {
    sops_encrypt(plain, "dotenv", out)
}

/// Encrypt a `store` ("dotenv", "json", "yaml") document with the real sops
/// 3.11 for fixture key1.
pub fn sops_encrypt(plain: &str, store: &str, out: &Path) {
    let sops = sops();
    let plain_file = out.with_extension(format!("plain.{store}"));
    std::fs::write(&plain_file, plain).unwrap();
    let key = std::fs::read_to_string(fixtures().join("keys/key1.txt")).unwrap();
    let recipient = key.lines().find_map(|l| l.strip_prefix("# public key: ")).unwrap().to_string();
    let enc = Command::new(sops)
        .args(["encrypt", "--age", &recipient, "--input-type", store, "--output-type", store])
        .arg(&plain_file)
        .env_clear()
        .env("HOME", out.parent().unwrap())
        .output()
        .unwrap();
    assert!(enc.status.success(), "sops: {}", text(&enc.stderr));
    std::fs::remove_file(&plain_file).unwrap();
    std::fs::write(out, enc.stdout).unwrap();
}

/// The pinned OpenClaw version, as scripts/install-openclaw.sh sets it.
pub fn pinned_openclaw() -> String {
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-openclaw.sh")).unwrap();
    script.lines().find_map(|l| l.strip_prefix("OPENCLAW_VERSION=")).unwrap().trim_matches('"').to_string()
}
