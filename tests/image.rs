//! The image, run: the real gateway in real containers (podman + runc), asserting what
//! the engine reports (exit codes, `podman healthcheck run`, `podman top`, files in the
//! volume). `scripts/test-image.sh` builds the image and sets `CLAWINIT_IMAGE`; without
//! it every test here says so and passes (plain `cargo test` has no engine).
//!
//! Containers run with `--network none` unless a test says otherwise: the image must
//! start with no registry, its plugins pre-installed.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::*;

/// Every container, volume and pod these tests make starts with this, so a trap in
/// scripts/test-image.sh can remove leftovers of an aborted run.
const PREFIX: &str = "clawinit-test-";
const WORKER: &str = "/usr/local/lib/clawinit/worker.mjs";
/// What that worker says once it has seen /readyz ready and got the gateway token.
const READY_LINE: &str = "worker: gateway on port 18789 ready=true; token set";

fn image() -> Option<String> {
    match std::env::var("CLAWINIT_IMAGE") {
        Ok(image) if !image.is_empty() => Some(image),
        _ => {
            eprintln!("skipped: CLAWINIT_IMAGE is not set (scripts/test-image.sh builds the image and sets it)");
            None
        }
    }
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).output().expect("run podman")
}

/// podman's stdout, asserting success.
fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(out.status.success(), "podman {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// A named container and its volume, removed on drop (also when a test fails).
struct Container {
    name: String,
    volume: String,
    scratch: Scratch,
}

impl Container {
    fn new(test: &str) -> Container {
        let name = format!("{PREFIX}{test}-{}", std::process::id());
        let _ = podman(&["rm", "--force", "--volumes", &name]);
        let volume = format!("{name}-data");
        let _ = podman(&["volume", "rm", "--force", &volume]);
        Container { scratch: Scratch::new(test), name, volume }
    }

    /// A SOPS file (the real sops 3.11, fixture key1) and the age key, in a directory
    /// mounted read-only at /run/secrets; every file readable by any uid (the test's
    /// arbitrary uid too).
    fn secrets(&self, plain: &str) -> String {
        let dir = self.scratch.0.join("secrets");
        std::fs::create_dir_all(&dir).unwrap();
        sops_encrypt_dotenv(plain, &dir.join("secrets.env.enc"));
        std::fs::copy(fixtures().join("keys/key1.txt"), dir.join("age-key.txt")).unwrap();
        for file in ["", "secrets.env.enc", "age-key.txt"] {
            let mode = if file.is_empty() { 0o755 } else { 0o644 };
            std::fs::set_permissions(dir.join(file), std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        }
        format!("{}:/run/secrets:ro", dir.display())
    }

    /// `podman run -d` with the volume at /data, the secrets mounted and pointed at.
    fn start(&self, image: &str, options: &[&str], command: &[&str]) {
        let data = format!("{}:/data", self.volume);
        let mut args = vec!["run", "--detach", "--name", &self.name, "--network", "none", "--volume", &data];
        args.extend(options);
        args.push(image);
        args.extend(command);
        podman_ok(&args);
    }

    fn logs(&self) -> String {
        let out = podman(&["logs", &self.name]);
        text(&out.stdout) + &text(&out.stderr)
    }

    /// `podman healthcheck run`: the image's HEALTHCHECK (`clawinit probe`), on demand.
    fn healthy(&self) -> bool {
        podman(&["healthcheck", "run", &self.name]).status.success()
    }

    /// Polls the health check; the time it took, or a panic with the logs.
    fn wait_healthy(&self, since: Instant) -> Duration {
        self.wait_until(since, || self.healthy())
    }

    /// Polls `clawinit probe` run inside the container (a Kubernetes exec readiness probe).
    fn wait_probe(&self, since: Instant) -> Duration {
        self.wait_until(since, || podman(&["exec", &self.name, "clawinit", "probe"]).status.success())
    }

    fn wait_until(&self, since: Instant, ready: impl Fn() -> bool) -> Duration {
        while since.elapsed() < Duration::from_secs(180) {
            if ready() {
                return since.elapsed();
            }
            if self.state("{{.State.Running}}") != "true" {
                panic!("{} exited before it was healthy:\n{}", self.name, self.logs());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("{} not healthy within 180 s:\n{}", self.name, self.logs());
    }

    /// The worker starts just after the gateway turns ready: waits (bounded) for its line.
    fn wait_worker_line(&self) {
        let since = Instant::now();
        while !self.logs().contains(READY_LINE) {
            assert!(since.elapsed() < Duration::from_secs(15), "no worker line:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn state(&self, format: &str) -> String {
        podman_ok(&["inspect", "--format", format, &self.name]).trim().to_string()
    }

    /// Waits for the container to exit (bounded) and returns its exit code.
    fn wait_exit(&self, within: Duration) -> i32 {
        let since = Instant::now();
        while self.state("{{.State.Running}}") == "true" {
            assert!(since.elapsed() < within, "{} still running after {within:?}:\n{}", self.name, self.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
        self.state("{{.State.ExitCode}}").parse().unwrap()
    }

    /// `podman top`: (user, args) per process, PID 1 first.
    fn processes(&self) -> Vec<(String, String, String)> {
        podman_ok(&["top", &self.name, "pid", "user", "args"])
            .lines()
            .skip(1)
            .map(|l| {
                let mut f = l.split_whitespace();
                let (pid, user) = (f.next().unwrap_or("").to_string(), f.next().unwrap_or("").to_string());
                (pid, user, f.collect::<Vec<_>>().join(" "))
            })
            .collect()
    }

    fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["exec", &self.name];
        all.extend(args);
        podman_ok(&all)
    }

    /// The volume's directory on this machine (podman runs as root here).
    fn volume_dir(&self) -> PathBuf {
        PathBuf::from(podman_ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", &self.volume]).trim())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--volumes", "--time", "0", &self.name]);
        let _ = podman(&["volume", "rm", "--force", &self.volume]);
    }
}

/// A stop must end before the image's CLAWINIT_STOP_TIMEOUT (9 s, inside Docker's 10 s)
/// with a second to spare: one that needed the SIGKILL deadline fails. The gateway's own
/// shutdown took 0.3-3.7 s here (longer with the OpenRouter/perplexity set).
const STOP_BOUND: Duration = Duration::from_secs(8);

/// The secrets file and age key as clawinit reads them inside the container.
const SECRETS_ENV: [&str; 4] = [
    "--env",
    "CLAWINIT_SECRETS_FILE=/run/secrets/secrets.env.enc",
    "--env",
    "SOPS_AGE_KEY_FILE=/run/secrets/age-key.txt",
];

/// The run's stop: worker first, then the gateway, nothing killed at the deadline.
fn assert_ordered_stop(logs: &str) {
    let worker = logs.find(r#"stopping role="worker""#).unwrap_or_else(|| panic!("worker not stopped:\n{logs}"));
    let gateway = logs.find(r#"stopping role="gateway""#).unwrap_or_else(|| panic!("gateway not stopped:\n{logs}"));
    assert!(worker < gateway, "worker first, then the gateway:\n{logs}");
    assert!(logs.contains("worker: SIGTERM: stopping"), "the worker got SIGTERM:\n{logs}");
    assert!(logs.contains(r#"exited role="gateway""#) && !logs.contains("killing what is left"), "{logs}");
}

/// No registry was needed: the pre-installed plugins covered the provider.
fn assert_no_plugin_install(logs: &str) {
    for needle in ["npm view", "Failed to install", "npm error"] {
        assert!(!logs.contains(needle), "the gateway tried to install a plugin ({needle}):\n{logs}");
    }
}

fn stat(container: &Container, path: &str) -> String {
    container.exec(&["stat", "--format", "%U %a %i %Y", path]).trim().to_string()
}

#[test]
fn pid1_is_clawinit_the_children_are_node_the_config_is_private_valid_and_survives_a_restart() {
    let Some(image) = image() else { return };
    let c = Container::new("lifecycle");
    let canary = canary();
    let secrets = c.secrets(&format!("OPENAI_API_KEY=sk-{canary}\n"));
    let mut options = vec!["--volume", &secrets];
    options.extend(SECRETS_ENV);
    let started = Instant::now();
    c.start(&image, &options, &["node", WORKER]);
    // The gateway needs seconds to start: the first check must say unhealthy.
    assert!(!c.healthy(), "healthy before the gateway could be ready:\n{}", c.logs());
    let ready = c.wait_healthy(started);
    eprintln!("healthy {:.1} s after `podman run` (offline, OpenAI key)", ready.as_secs_f64());

    let ps = c.processes();
    assert_eq!((ps[0].0.as_str(), ps[0].1.as_str()), ("1", "root"), "{ps:?}");
    assert!(ps[0].2.starts_with("clawinit "), "PID 1 is clawinit: {ps:?}");
    let gateway = ps.iter().find(|p| p.2.starts_with("openclaw-gateway")).unwrap_or_else(|| panic!("{ps:?}"));
    let worker = ps[1..].iter().find(|p| p.2.contains(WORKER)).unwrap_or_else(|| panic!("{ps:?}"));
    assert_eq!((gateway.1.as_str(), worker.1.as_str()), ("node", "node"), "{ps:?}");
    assert!(ps[1..].iter().all(|p| p.1 == "node"), "only PID 1 is root: {ps:?}");

    let data = stat(&c, "/data");
    assert!(data.starts_with("node "), "/data is node's: {data}");
    let before = stat(&c, "/data/openclaw.json");
    assert!(before.starts_with("node 600 "), "openclaw.json is node's, 0600: {before}");
    let report = c.exec(&[
        "env",
        "HOME=/tmp/validate",
        "OPENCLAW_STATE_DIR=/tmp/validate",
        "OPENCLAW_CONFIG_PATH=/data/openclaw.json",
        "OPENAI_API_KEY=x",
        "setpriv",
        "--reuid=node",
        "--regid=node",
        "--init-groups",
        "openclaw",
        "config",
        "validate",
        "--json",
    ]);
    let report: serde_json::Value =
        report.lines().rev().find_map(|l| serde_json::from_str(l).ok()).unwrap_or_else(|| panic!("{report}"));
    assert_eq!((&report["valid"], &report["warnings"]), (&serde_json::json!(true), &serde_json::json!([])), "{report}");
    c.wait_worker_line();

    // podman restart: the same volume, nothing rewritten, ready again.
    let restarted = Instant::now();
    podman_ok(&["restart", &c.name]);
    c.wait_healthy(restarted);
    assert_eq!(stat(&c, "/data/openclaw.json"), before, "openclaw.json rewritten across a restart (inode, mtime)");

    // podman stop: SIGTERM, Docker's 10 s; worker first, exit 0, well inside the grace period.
    let stopping = Instant::now();
    podman_ok(&["stop", &c.name]);
    let took = stopping.elapsed();
    assert_eq!(c.state("{{.State.ExitCode}}"), "0", "{}", c.logs());
    assert!(took < STOP_BOUND, "podman stop took {took:?}");
    eprintln!("podman stop: exit 0 after {:.1} s", took.as_secs_f64());
    let logs = c.logs();
    assert_ordered_stop(&logs);
    assert_no_plugin_install(&logs);

    // The secret value is nowhere the engine or the volume shows.
    assert!(!logs.contains(&canary), "a secret value is in podman logs");
    assert!(!podman_ok(&["inspect", &c.name]).contains(&canary), "a secret value is in podman inspect");
    for file in all_files(&c.volume_dir()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!contains(&bytes, &canary), "a secret value is in {}", file.display());
    }
}

#[test]
fn podman_kill_sigint_fly_s_kill_signal_stops_worker_then_gateway_with_0() {
    let Some(image) = image() else { return };
    let c = Container::new("sigint");
    let started = Instant::now();
    c.start(
        &image,
        &["--env", "ANTHROPIC_API_KEY=sk-ant-fake", "--env", "OPENROUTER_API_KEY=sk-or-fake"],
        &["node", WORKER],
    );
    c.wait_healthy(started);
    c.wait_worker_line();
    let stopping = Instant::now();
    podman_ok(&["kill", "--signal", "INT", &c.name]);
    assert_eq!(c.wait_exit(Duration::from_secs(9)), 0, "{}", c.logs());
    assert!(stopping.elapsed() < STOP_BOUND, "SIGINT stop took {:?}", stopping.elapsed());
    eprintln!("podman kill -s INT: exit 0 after {:.1} s", stopping.elapsed().as_secs_f64());
    let logs = c.logs().replace("worker: SIGINT", "worker: SIGTERM");
    assert_ordered_stop(&logs);
    assert_no_plugin_install(&logs);
}

/// Docker's `--read-only` (podman's extra tmpfs mounts turned off to match): the
/// writable paths the README lists, and nothing else.
#[test]
fn a_read_only_root_file_system_starts_and_stops_cleanly_with_the_documented_tmpfs_mounts() {
    let Some(image) = image() else { return };
    let c = Container::new("read-only");
    let started = Instant::now();
    let options = [
        "--read-only",
        "--read-only-tmpfs=false",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/home/node/.cache:mode=1777",
        "--env",
        "LITELLM_API_KEY=sk-fake",
        "--env",
        "LITELLM_BASE_URL=http://litellm.invalid:4000/v1",
    ];
    c.start(&image, &options, &["node", WORKER]);
    c.wait_healthy(started);
    c.wait_worker_line();
    let status = c.exec(&["clawinit", "status", "--json"]);
    assert!(status.contains(r#""phase":"ready""#), "clawinit status over /run: {status}");
    podman_ok(&["stop", &c.name]);
    assert_eq!(c.state("{{.State.ExitCode}}"), "0", "{}", c.logs());
    let logs = c.logs();
    assert_ordered_stop(&logs);
    for needle in ["Read-only file system", "EROFS"] {
        assert!(!logs.contains(needle), "something wrote outside the writable paths ({needle}):\n{logs}");
    }
}

/// A field of /proc/1/status (clawinit's) inside the container: what the kernel applies.
fn pid1_status(c: &Container, field: &str) -> String {
    let status = c.exec(&["cat", "/proc/1/status"]);
    let prefix = format!("{field}:");
    let line = status.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {field}"));
    line[prefix.len()..].trim().to_string()
}

/// The hardened settings of both examples, as the kernel applies them to PID 1.
fn assert_hardened(c: &Container) {
    assert_eq!(c.state("{{.HostConfig.ReadonlyRootfs}}"), "true", "read-only root");
    assert_eq!(pid1_status(c, "CapEff"), "00000000000000e3", "only the five capabilities");
    assert_eq!(pid1_status(c, "NoNewPrivs"), "1", "no new privileges");
    assert_eq!(pid1_status(c, "Seccomp"), "2", "a seccomp filter");
}

/// The capabilities the root start needs (README "Hardened containers"); everything
/// else dropped.
const MINIMUM_CAPS: [&str; 5] = ["CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"];

fn cap_options(caps: &[&str]) -> Vec<String> {
    let mut options = vec!["--cap-drop".to_string(), "ALL".to_string()];
    for cap in caps {
        options.extend(["--cap-add".to_string(), (*cap).to_string()]);
    }
    options
}

/// Starts `options` with the image's worker, waits healthy, runs `check` on the running
/// container, stops: exit 0, in order. The logs and what `clawinit status` said.
fn healthy_and_stops(test: &str, image: &str, options: &[&str], check: &dyn Fn(&Container)) -> String {
    let c = Container::new(test);
    let started = Instant::now();
    let mut all = options.to_vec();
    all.extend(["--env", "LITELLM_API_KEY=sk-fake", "--env", "LITELLM_BASE_URL=http://litellm.invalid:4000/v1"]);
    c.start(image, &all, &["node", WORKER]);
    c.wait_healthy(started);
    c.wait_worker_line();
    let ps = c.processes();
    assert!(ps[1..].iter().all(|p| p.1 == "node"), "the children run as node: {ps:?}");
    let status = podman(&["exec", &c.name, "clawinit", "status"]);
    check(&c);
    podman_ok(&["stop", &c.name]);
    assert_eq!(c.state("{{.State.ExitCode}}"), "0", "{}", c.logs());
    let logs = c.logs();
    assert_ordered_stop(&logs);
    logs + "\n--- clawinit status:\n" + &text(&status.stdout) + &text(&status.stderr)
}

/// Docker's `--read-only` with a tmpfs on /tmp only (podman's own tmpfs mounts on /run
/// and /var/tmp turned off): the gateway's cache goes to the state volume, made 0700 and
/// node's by clawinit; the status socket is off with one warning, and `status` says why.
#[test]
fn read_only_with_a_tmpfs_on_tmp_only_is_healthy_the_cache_in_the_volume() {
    let Some(image) = image() else { return };
    let options = ["--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp"];
    let out = healthy_and_stops("ro-tmp", &image, &options, &|c| {
        assert!(stat(c, "/data/.cache").starts_with("node 700 "), "the cache: node's, 0700");
        assert_eq!(c.state("{{.HostConfig.ReadonlyRootfs}}"), "true");
    });
    assert_eq!(out.matches("status socket unavailable: /run is read-only").count(), 2, "one warning + status:\n{out}");
    assert!(out.contains("XDG_CACHE_HOME") && out.contains("/data/.cache"), "{out}");
    assert!(!out.contains("TMPDIR"), "/tmp is writable: TMPDIR is not set:\n{out}");
}

#[test]
fn all_capabilities_dropped_but_the_documented_minimum_is_healthy() {
    let Some(image) = image() else { return };
    let options = cap_options(&MINIMUM_CAPS);
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    healthy_and_stops("caps-min", &image, &options, &|c| {
        assert_eq!(pid1_status(c, "CapEff"), "00000000000000e3", "PID 1 has exactly the five");
    });
}

#[test]
fn no_new_privileges_is_healthy() {
    let Some(image) = image() else { return };
    healthy_and_stops("nnp", &image, &["--security-opt", "no-new-privileges"], &|c| {
        assert_eq!(pid1_status(c, "NoNewPrivs"), "1");
    });
}

/// One of the minimum left out: one error line naming it (not a raw EPERM), 64, no
/// child, nothing in the volume.
#[test]
fn too_few_capabilities_end_with_one_line_naming_the_missing_one() {
    let Some(image) = image() else { return };
    let c = Container::new("caps-few");
    let options = cap_options(&MINIMUM_CAPS[..4]); // no SETUID
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    c.start(&image, &options, &["node", WORKER]);
    assert_eq!(c.wait_exit(Duration::from_secs(30)), 64, "{}", c.logs());
    let logs = c.logs();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(lines.len(), 1, "one error line:\n{logs}");
    assert!(lines[0].contains("cap_setuid") && lines[0].contains("add SETUID"), "{logs}");
    assert!(!logs.contains("Operation not permitted") && !logs.contains("EPERM"), "{logs}");
    assert!(all_files(&c.volume_dir()).is_empty(), "nothing written");
}

/// OpenShift runs images as an arbitrary uid in group 0. clawinit cannot switch users
/// then: with the image's CLAWINIT_USER=node it refuses (64, one line, nothing
/// written); with CLAWINIT_USER empty both children run as that uid.
#[test]
fn an_arbitrary_uid_is_refused_clearly_with_clawinit_user_and_runs_without_it() {
    let Some(image) = image() else { return };
    let refused = Container::new("uid-refused");
    refused.start(&image, &["--user", "12345:0", "--env", "OPENAI_API_KEY=sk-fake"], &[]);
    assert_eq!(refused.wait_exit(Duration::from_secs(30)), 64, "{}", refused.logs());
    let logs = refused.logs();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(lines.len(), 1, "one error line:\n{logs}");
    assert!(lines[0].contains("CLAWINIT_USER") && lines[0].contains("uid 12345"), "{logs}");
    let left: Vec<PathBuf> = all_files(&refused.volume_dir());
    assert!(left.is_empty(), "nothing written before the refusal: {left:?}");

    let c = Container::new("uid-runs");
    let started = Instant::now();
    // HOME=/tmp: an uid without a passwd entry gets HOME=/, where OpenClaw cannot make its cache.
    let options =
        ["--user", "12345:0", "--env", "CLAWINIT_USER=", "--env", "HOME=/tmp", "--env", "OPENAI_API_KEY=sk-fake"];
    c.start(&image, &options, &["node", WORKER]);
    c.wait_healthy(started);
    c.wait_worker_line();
    let ps = c.processes();
    assert!(ps.iter().all(|p| p.1 == "12345"), "every process runs as the given uid: {ps:?}");
    assert!(ps[1..].iter().any(|p| p.2.contains(WORKER)) && ps[0].2.starts_with("clawinit "), "{ps:?}");
    assert!(stat(&c, "/data/openclaw.json").starts_with("12345 600 "), "the config is the uid's, 0600");
    podman_ok(&["stop", &c.name]);
    assert_eq!(c.state("{{.State.ExitCode}}"), "0", "{}", c.logs());
    assert_ordered_stop(&c.logs());
}

/// A broken secrets file or a wrong key: the contract's code, one line in podman logs
/// naming the file, no secret value, and no config written.
#[test]
fn a_bad_secrets_file_or_a_wrong_age_key_exits_with_the_contract_code() {
    let Some(image) = image() else { return };
    let canary = canary();
    let cases = [
        ("ok/canary.enc", "other.txt", 67),
        ("bad/flip_data.enc", "key1.txt", 68),
        ("bad/garbage.enc", "key1.txt", 65),
        ("missing.enc", "key1.txt", 66),
    ];
    for (file, key, code) in cases {
        let c = Container::new(&format!("secrets-{code}"));
        let fixtures_mount = format!("{}:/fixtures:ro", fixtures().display());
        let secrets = format!("CLAWINIT_SECRETS_FILE=/fixtures/{file}");
        let identity = format!("SOPS_AGE_KEY_FILE=/fixtures/keys/{key}");
        c.start(&image, &["--volume", &fixtures_mount, "--env", &secrets, "--env", &identity], &["node", WORKER]);
        assert_eq!(c.wait_exit(Duration::from_secs(30)), code, "{file} with {key}:\n{}", c.logs());
        let logs = c.logs();
        let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{file}: one line:\n{logs}");
        assert!(lines[0].contains(Path::new(file).file_name().unwrap().to_str().unwrap()), "{file}: {logs}");
        assert!(!logs.contains(&canary), "{file}: a secret value in podman logs");
        assert!(all_files(&c.volume_dir()).is_empty(), "{file}: nothing written");
    }
}

/// The examples name the image `clawinit-openclaw:<pinned>`: the tested image under that
/// name while a test runs (podman resolves the short name to localhost/ first).
struct ExampleTag(String);

impl ExampleTag {
    fn new(image: &str) -> ExampleTag {
        let tag = format!("localhost/clawinit-openclaw:{}", pinned_openclaw());
        podman_ok(&["tag", image, &tag]);
        ExampleTag(tag)
    }
}

impl Drop for ExampleTag {
    fn drop(&mut self) {
        // With no name, `podman untag` would remove every name of the image.
        let _ = podman(&["untag", &self.0, &self.0]);
    }
}

/// The two files the examples' comments tell a user to create, made as they say (real
/// sops, an age key), in `dir`.
fn user_files(dir: &Path, plain: &str) {
    sops_encrypt_dotenv(plain, &dir.join("secrets.env.enc"));
    std::fs::copy(fixtures().join("keys/key1.txt"), dir.join("age-key.txt")).unwrap();
}

fn example(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker").join(name)).unwrap()
}

/// docker/compose.yaml as given, under podman-compose (the Debian package, 1.0.3), with
/// the two files its comments list; its own network, ports and secrets.
#[test]
fn the_compose_example_runs_as_written_under_podman_compose() {
    let Some(image) = image() else { return };
    let _tag = ExampleTag::new(&image);
    let dir = Scratch::new("compose");
    std::fs::write(dir.0.join("compose.yaml"), example("compose.yaml")).unwrap();
    let canary = canary();
    user_files(&dir.0, &format!("ANTHROPIC_API_KEY=sk-ant-{canary}\nOPENROUTER_API_KEY=sk-or-{canary}\n"));
    let project = format!("{PREFIX}compose-{}", std::process::id());
    let compose = |args: &[&str]| {
        Command::new("podman-compose")
            .args(["--project-name", &project, "--file", "compose.yaml"])
            .args(args)
            .current_dir(&dir.0)
            .output()
            .expect("run podman-compose")
    };
    struct Down<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down", "--volumes"]);
        }
    }
    let _down = Down(&compose);
    let started = Instant::now();
    let up = compose(&["up", "--detach"]);
    assert!(up.status.success(), "podman-compose up: {}{}", text(&up.stdout), text(&up.stderr));
    let c = Container { name: format!("{project}_openclaw_1"), volume: String::new(), scratch: Scratch::new("unused") };
    let ready = c.wait_healthy(started);
    eprintln!("compose: healthy {:.1} s after `up`", ready.as_secs_f64());
    c.wait_worker_line();
    assert_hardened(&c);
    let stop = compose(&["stop"]);
    assert!(stop.status.success(), "podman-compose stop: {}", text(&stop.stderr));
    assert_eq!(c.state("{{.State.ExitCode}}"), "0", "{}", c.logs());
    let logs = c.logs();
    assert_ordered_stop(&logs);
    assert_no_plugin_install(&logs);
    assert!(!logs.contains(&canary), "a secret value is in podman logs");
    std::mem::forget(c); // down removes it
}

/// docker/k8s.yaml under `podman kube play` (4.3: Deployment, ConfigMap volumes and the
/// liveness probe; no Secret objects or volumes, no ephemeral volumes). The documented
/// equivalent, changed in a copy and nothing else: the ephemeral state volume becomes
/// an emptyDir (per pod, deleted with it: the same promise), the two Secrets hostPath
/// directories holding the same keys, the Deployment a test name, one replica and no
/// `ports` (kube play publishes a containerPort on the host, so a second replica or a
/// running gateway would collide; in a cluster each pod has its own address).
#[test]
fn the_kubernetes_example_runs_under_podman_kube_play_with_the_documented_equivalents() {
    use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};
    let Some(image) = image() else { return };
    let _tag = ExampleTag::new(&image);
    let dir = Scratch::new("kube");
    let (sops_dir, age_dir) = (dir.0.join("sops"), dir.0.join("age"));
    std::fs::create_dir_all(&sops_dir).unwrap();
    std::fs::create_dir_all(&age_dir).unwrap();
    user_files(&dir.0, "LITELLM_MASTER_KEY=sk-litellm-fake\n");
    std::fs::rename(dir.0.join("secrets.env.enc"), sops_dir.join("secrets.env.enc")).unwrap();
    std::fs::rename(dir.0.join("age-key.txt"), age_dir.join("key.txt")).unwrap();

    let key = |s: &str| Yaml::String(s.to_string());
    let host_path = |name: &str, path: &Path| {
        let mut spec = yaml_rust2::yaml::Hash::new();
        spec.insert(key("path"), key(path.to_str().unwrap()));
        spec.insert(key("type"), key("Directory"));
        let mut volume = yaml_rust2::yaml::Hash::new();
        volume.insert(key("name"), key(name));
        volume.insert(key("hostPath"), Yaml::Hash(spec));
        Yaml::Hash(volume)
    };
    let name = format!("{PREFIX}kube-{}", std::process::id());
    let mut out = String::new();
    // kube play makes a volume named after the ConfigMap, which `kube down` leaves: a
    // test name, so the test and scripts/test-image.sh remove it.
    let config_map = format!("{name}-base");
    for mut doc in YamlLoader::load_from_str(&example("k8s.yaml")).unwrap() {
        if doc["kind"].as_str() == Some("ConfigMap") {
            let Yaml::Hash(top) = &mut doc else { unreachable!() };
            let Some(Yaml::Hash(meta)) = top.get_mut(&key("metadata")) else { unreachable!() };
            meta.insert(key("name"), key(&config_map));
        }
        if doc["kind"].as_str() == Some("Deployment") {
            let Yaml::Hash(top) = &mut doc else { unreachable!() };
            let Some(Yaml::Hash(meta)) = top.get_mut(&key("metadata")) else { unreachable!() };
            meta.insert(key("name"), key(&name));
            let Some(Yaml::Hash(spec)) = top.get_mut(&key("spec")) else { unreachable!() };
            spec.insert(key("replicas"), Yaml::Integer(1));
            let Some(Yaml::Hash(template)) = spec.get_mut(&key("template")) else { unreachable!() };
            let Some(Yaml::Hash(pod)) = template.get_mut(&key("spec")) else { unreachable!() };
            let Some(Yaml::Array(containers)) = pod.get_mut(&key("containers")) else { unreachable!() };
            let Some(Yaml::Hash(container)) = containers.get_mut(0) else { unreachable!() };
            container.remove(&key("ports"));
            let Some(Yaml::Array(volumes)) = pod.get_mut(&key("volumes")) else { unreachable!() };
            for volume in volumes.iter_mut() {
                let Yaml::Hash(v) = volume else { unreachable!() };
                if v.contains_key(&key("ephemeral")) {
                    v.remove(&key("ephemeral"));
                    v.insert(key("emptyDir"), Yaml::Hash(Default::default()));
                }
                if let Some(Yaml::Hash(source)) = v.get_mut(&key("configMap")) {
                    source.insert(key("name"), key(&config_map));
                }
                match v[&key("name")].as_str() {
                    Some("sops") => *volume = host_path("sops", &sops_dir),
                    Some("age") => *volume = host_path("age", &age_dir),
                    _ => {}
                }
            }
        }
        let mut text = String::new();
        YamlEmitter::new(&mut text).dump(&doc).unwrap();
        out.push_str(&text);
        out.push('\n');
    }
    let file = dir.0.join("k8s.yaml");
    std::fs::write(&file, out).unwrap();
    let file = file.to_str().unwrap().to_string();
    struct Down(String, String);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = podman(&["kube", "down", &self.0]);
            let _ = podman(&["volume", "rm", "--force", &self.1]);
        }
    }
    let _down = Down(file.clone(), config_map.clone());
    let started = Instant::now();
    podman_ok(&["kube", "play", &file]);
    let names = podman_ok(&["ps", "--all", "--format", "{{.Names}}"]);
    let containers: Vec<&str> = names.lines().filter(|n| n.starts_with(&name) && n.ends_with("-openclaw")).collect();
    assert!(!containers.is_empty(), "no openclaw container from kube play: {names}");
    for container in containers {
        let c = Container { name: container.to_string(), volume: String::new(), scratch: Scratch::new("unused") };
        // Not `podman healthcheck run`: kube play turns the livenessProbe into the health
        // check with restart-on-failure (and ignores the startupProbe that would hold it
        // off in a cluster), so checking it before the gateway is live restarts the pod.
        let ready = c.wait_probe(started);
        eprintln!("kube play: {container} ready {:.1} s after `kube play`", ready.as_secs_f64());
        c.wait_worker_line();
        assert_hardened(&c);
        let logs = c.logs();
        assert!(logs.contains("openclaw.rendered.json"), "the read-only ConfigMap rendered into /data:\n{logs}");
        podman_ok(&["stop", &c.name]);
        assert_eq!(c.state("{{.State.ExitCode}}"), "0", "{}", c.logs());
        assert_ordered_stop(&c.logs());
        std::mem::forget(c); // kube down removes it
    }
}

/// The smallest Anthropic Messages endpoint, in Node (the image has no Python): records each
/// request (path, `x-api-key`, model) to /tmp/requests.jsonl and streams one text reply.
const ENDPOINT: &str = r#"
import http from "node:http";
import fs from "node:fs";
http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
        let model = null;
        try { model = JSON.parse(body).model; } catch {}
        fs.appendFileSync("/tmp/requests.jsonl", JSON.stringify({ path: req.url, key: req.headers["x-api-key"] ?? null, model }) + "\n");
        if (req.method !== "POST") return res.end("{}");
        const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
        const text = `pong from the container model=${model}`;
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(
            ev("message_start", { message: { id: "m", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } } }) +
            ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) +
            ev("content_block_delta", { index: 0, delta: { type: "text_delta", text } }) +
            ev("content_block_stop", { index: 0 }) +
            ev("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 3 } }) +
            ev("message_stop", {}),
        );
    });
}).listen(19001, "127.0.0.1");
"#;

/// One message through the image's worker (its one WebSocket, messages on stdin) and the
/// real gateway to a local endpoint inside the container (`--network none`): the endpoint
/// saw exactly the decrypted key for the catalog's model, and the reply came back.
#[test]
fn the_worker_sends_one_message_through_the_gateway_to_a_local_endpoint() {
    let Some(image) = image() else { return };
    let c = Container::new("message");
    let canary = canary();
    let key = format!("sk-ant-{canary}");
    let secrets = c.secrets(&format!("ANTHROPIC_API_KEY={key}\n"));
    let endpoint = c.scratch.0.join("endpoint");
    std::fs::create_dir_all(&endpoint).unwrap();
    std::fs::write(endpoint.join("endpoint.mjs"), ENDPOINT).unwrap();
    std::fs::set_permissions(&endpoint, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(endpoint.join("endpoint.mjs"), std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .unwrap();
    let mount = format!("{}:/opt/endpoint:ro", endpoint.display());
    let data = format!("{}:/data", c.volume);
    // Attached with stdin open: podman's stdin is PID 1's, and clawinit hands it to the worker.
    let mut args = vec!["run", "--interactive", "--name", &c.name, "--network", "none", "--volume", &data];
    args.extend(["--volume", &secrets, "--volume", &mount, "--env", "ANTHROPIC_BASE_URL=http://127.0.0.1:19001"]);
    args.extend(SECRETS_ENV);
    args.extend([image.as_str(), "node", WORKER]);
    let mut run = Command::new("podman")
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = run.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |prefix: &str, limit: Duration| -> String {
        let since = Instant::now();
        while since.elapsed() < limit {
            if let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) {
                seen.push(line.clone());
                if line.starts_with(prefix) {
                    return line;
                }
            }
        }
        panic!("no {prefix:?} within {limit:?}:\n{}", seen.join("\n"));
    };
    wait_for("worker: connected", Duration::from_secs(240));
    c.exec(&["sh", "-c", "node /opt/endpoint/endpoint.mjs >/dev/null 2>&1 &"]);
    std::thread::sleep(Duration::from_secs(1));
    let mut stdin = run.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"hello from the image test\n").unwrap();
    let reply: serde_json::Value =
        serde_json::from_str(wait_for("reply ", Duration::from_secs(240)).strip_prefix("reply ").unwrap()).unwrap();
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["text"], "pong from the container model=claude-opus-5", "{reply}");
    let requests = c.exec(&["cat", "/tmp/requests.jsonl"]);
    let call = requests
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["model"] == "claude-opus-5")
        .unwrap_or_else(|| panic!("no model call: {requests}"));
    assert_eq!(call["path"], "/v1/messages");
    assert_eq!(call["key"], key.as_str(), "exactly the decrypted key");
    eprintln!("one message through the image's worker: {} ms", reply["ms"]);

    drop(stdin);
    let stopping = Instant::now();
    podman_ok(&["stop", &c.name]);
    assert_eq!(run.wait().unwrap().code(), Some(0));
    assert!(stopping.elapsed() < STOP_BOUND + Duration::from_secs(2));
    let logs = c.logs();
    assert_ordered_stop(&logs);
    assert!(!logs.contains(&canary), "a secret value is in podman logs");
}
