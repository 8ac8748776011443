//! End to end with the real gateway: clawinit as PID 1 of a fresh PID
//! namespace decrypts a SOPS file made by the real sops, seeds openclaw.json,
//! starts the pinned OpenClaw gateway, holds the worker until `/readyz` says
//! ready, and stops everything on SIGTERM.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};
use support::*;

const PORT: &str = "28789";

/// The worker: records that it started, what /readyz said at that moment,
/// what `clawinit probe` said, and the config's hash; then waits for TERM.
const WORKER: &str = r#"
import hashlib, json, os, signal, subprocess, sys, time, urllib.request
out = sys.argv[1]
def note(key, value):
    with open(out, "a") as f:
        f.write(json.dumps({key: value}) + "\n")
try:
    body = urllib.request.urlopen(f"http://127.0.0.1:{os.environ['OPENCLAW_GATEWAY_PORT']}/readyz", timeout=5).read()
    note("readyz", json.loads(body))
except Exception as e:
    note("readyz", str(e))
note("probe", subprocess.run([sys.argv[2], "probe"]).returncode)
note("config_sha256", hashlib.sha256(open(os.environ["OPENCLAW_STATE_DIR"] + "/openclaw.json", "rb").read()).hexdigest())
note("token_set", bool(os.environ.get("OPENCLAW_GATEWAY_TOKEN")))
note("identity_vars", sorted(k for k in os.environ if k.startswith("SOPS_AGE")))
signal.signal(signal.SIGTERM, lambda *a: (note("term", time.time()), sys.exit(0)))
while True:
    time.sleep(0.1)
"#;

#[test]
fn the_real_gateway_under_clawinit_as_pid1() {
    let home = Scratch::new("e2e");
    let state = home.0.join("state");
    let report = home.0.join("worker.jsonl");
    let worker = home.0.join("worker.py");
    std::fs::write(&worker, WORKER).unwrap();
    let secrets = home.0.join("secrets.env.enc");
    let canary = canary();
    sops_encrypt_dotenv(&format!("OPENAI_API_KEY=sk-{canary}\nANTHROPIC_API_KEY=sk-ant-{canary}\n"), &secrets);
    let gateway = format!("{} gateway run", openclaw().display());

    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .args(["run", "--", "/usr/bin/python3"])
        .arg(&worker)
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", &home.0)
        .env("OPENCLAW_STATE_DIR", &state)
        .env("OPENCLAW_GATEWAY_PORT", PORT)
        .env("OPENCLAW_GATEWAY_BIND", "loopback")
        .env("OPENCLAW_AGENT_MODEL", "anthropic/claude-opus-5")
        .env("CLAWINIT_SECRETS_FILE", &secrets)
        .env("SOPS_AGE_KEY_FILE", fixtures().join("keys/key1.txt"))
        .env("CLAWINIT_GATEWAY_CMD", &gateway)
        .env("CLAWINIT_READY_TIMEOUT", "240")
        .env("CLAWINIT_STOP_TIMEOUT", "20")
        // No general internet here: the gateway must not try to fetch plugins.
        .env("npm_config_offline", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();

    // Wait for the worker's report (it runs only after the gate opened).
    let lines = loop {
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        if text.contains("identity_vars") {
            break text;
        }
        if started.elapsed() > Duration::from_secs(300) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("the worker never reported: {}", support::text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let facts: serde_json::Map<String, serde_json::Value> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?.as_object().cloned())
        .flatten()
        .collect();
    assert_eq!(facts["readyz"]["ready"], true, "the worker started before the gateway was ready: {facts:?}");
    assert_eq!(facts["probe"], 0, "clawinit probe while ready");
    assert_eq!(facts["token_set"], true);
    assert_eq!(facts["identity_vars"], serde_json::json!([]), "the age identity never reaches the children");

    let clawinit_pid = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).unwrap();
    let clawinit_pid: i32 = clawinit_pid.split_whitespace().next().unwrap().parse().unwrap();

    // Rotation: a new key in the SOPS file, then HUP. The gateway alone is
    // restarted with the new value and is ready again; the worker stays.
    let (gateway_before, worker_before) = children(clawinit_pid);
    let rotated = format!("sk-{canary}-rotated");
    sops_encrypt_dotenv(&format!("OPENAI_API_KEY={rotated}\nANTHROPIC_API_KEY=sk-ant-{canary}\n"), &secrets);
    let hup = Instant::now();
    kill(Pid::from_raw(clawinit_pid), Signal::SIGHUP).unwrap();
    let gateway_after = loop {
        let (gateway, _) = children(clawinit_pid);
        if gateway != gateway_before && ready(PORT) && phase(clawinit_pid).as_deref() == Some("ready") {
            break gateway;
        }
        assert!(hup.elapsed() < Duration::from_secs(240), "the gateway was not ready again after the reload");
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("rotation: HUP to ready again in {} ms (seen from outside)", hup.elapsed().as_millis());
    let value = environ_value(gateway_after, "OPENAI_API_KEY");
    assert!(value.as_deref() == Some(rotated.as_bytes()), "the new gateway has the rotated key");
    assert_eq!(children(clawinit_pid).1, worker_before, "the worker was not restarted");

    // SIGTERM to PID 1: worker, then gateway, within the stop timeout.
    let stopping = Instant::now();
    kill(Pid::from_raw(clawinit_pid), Signal::SIGTERM).unwrap();
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(stopping.elapsed() < Duration::from_secs(25), "no exit within the stop timeout");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = support::text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the worker's code on a requested shutdown: {stderr}");
    let worker_term = stderr.find("role=\"worker\" signal=\"SIGTERM\"").expect("worker stopped");
    let gateway_term = stderr.find("role=\"gateway\" signal=\"SIGTERM\"").expect("gateway stopped");
    assert!(worker_term < gateway_term, "worker first, then gateway");
    assert!(!stderr.contains("killing what is left"), "everything stopped before the deadline: {stderr}");
    let window = stderr.lines().find(|l| l.contains("gateway ready again after the reload")).expect("reload logged");
    eprintln!("rotation, clawinit's log: {window}");
    assert!(stderr.contains("variables=OPENAI_API_KEY "), "only the rotated name: {stderr}");

    // The gateway did not rewrite the config clawinit seeded.
    let config = std::fs::read(state.join("openclaw.json")).unwrap();
    assert_eq!(facts["config_sha256"], hex(&Sha256::digest(&config)), "the gateway rewrote openclaw.json");
    // No secret value in any output or any file under the state dir.
    assert!(!contains(&out.stdout, &canary) && !contains(&out.stderr, &canary));
    for file in all_files(&state) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!contains(&bytes, &canary), "a secret value is in {}", file.display());
    }
    // And the gateway is gone: probe fails now.
    let probe = clawinit(&home.0).env("OPENCLAW_GATEWAY_PORT", PORT).arg("probe").output().unwrap();
    assert_eq!(probe.status.code(), Some(1));
    assert_openclaw_accepts(&state.join("openclaw.json"), &[("OPENAI_API_KEY", "x"), ("ANTHROPIC_API_KEY", "y")]);
}

/// clawinit's direct children: (the gateway, the worker), by program.
fn children(clawinit: i32) -> (i32, i32) {
    let list = std::fs::read_to_string(format!("/proc/{clawinit}/task/{clawinit}/children")).unwrap_or_default();
    let (mut gateway, mut worker) = (0, 0);
    for pid in list.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if contains(&cmdline, "worker.py") {
            worker = pid;
        } else {
            gateway = pid;
        }
    }
    (gateway, worker)
}

/// One variable of `pid`'s environment, as the kernel holds it.
fn environ_value(pid: i32, name: &str) -> Option<Vec<u8>> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{name}=");
    raw.split(|b| *b == 0).find_map(|e| e.strip_prefix(prefix.as_bytes()).map(<[u8]>::to_vec))
}

/// The supervisor's phase, from `clawinit status` inside its namespaces.
fn phase(clawinit: i32) -> Option<String> {
    let out = Command::new("nsenter")
        .args(["-t", &clawinit.to_string(), "-p", "-m"])
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .args(["status", "--json"])
        .env_clear()
        .output()
        .ok()?;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    status["phase"].as_str().map(String::from)
}

/// `/readyz` answers 200.
fn ready(port: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_end(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.1 200")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// clawinit as PID 1 of a new PID namespace, supervising the real gateway
/// `cli gateway run` alone, on `port`.
fn start_gateway_alone(
    home: &Scratch,
    cli: &std::path::Path,
    port: &str,
    extra: &[(&str, &str)],
) -> std::process::Child {
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", &home.0)
        .env("OPENCLAW_STATE_DIR", home.0.join("state"))
        .env("OPENCLAW_GATEWAY_PORT", port)
        .env("OPENCLAW_GATEWAY_BIND", "loopback")
        .env("CLAWINIT_GATEWAY_CMD", format!("{} gateway run", cli.display()))
        .env("CLAWINIT_READY_TIMEOUT", "240")
        .env("CLAWINIT_STOP_TIMEOUT", "20")
        .env("npm_config_offline", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Wait for `/readyz` (at most 300 s), then TERM clawinit (PID 1 in its
/// namespace) and collect its output. Returns the time to ready.
fn ready_then_stop(
    child: std::process::Child,
    port: &str,
    while_ready: impl FnOnce(),
) -> (Duration, std::process::Output) {
    let mut child = child;
    let started = Instant::now();
    let unshare = child.id();
    let pid1 = || -> Option<i32> {
        let list = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).ok()?;
        list.split_whitespace().next()?.parse().ok()
    };
    // Ready as the gateway says, and as clawinit's own gate says (a TERM
    // before the gate opens is a stop during the start: 143).
    while !(ready(port) && pid1().and_then(phase).as_deref() == Some("ready")) {
        if started.elapsed() > Duration::from_secs(300) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("the gateway was never ready: {}", support::text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let to_ready = started.elapsed();
    while_ready();
    kill(Pid::from_raw(pid1().unwrap()), Signal::SIGTERM).unwrap();
    let stopping = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (to_ready, child.wait_with_output().unwrap());
        }
        assert!(stopping.elapsed() < Duration::from_secs(25), "no exit within the stop timeout");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The oldest tested release's real gateway starts, and stays ready, with the
/// config clawinit writes for it (aliases without `modelPolicy`, which it
/// would refuse), seen by clawinit from its package.json.
#[test]
fn the_oldest_tested_release_starts_with_clawinits_config() {
    let oldest = clawinit::openclaw_version::OLDEST_TESTED;
    let cli = openclaw_release(oldest);
    let home = Scratch::new("e2e-oldest");
    let canary = canary();
    let key = format!("sk-ant-{canary}");
    let env = [
        ("ANTHROPIC_API_KEY", key.as_str()),
        ("OPENCLAW_MODEL_ALIASES", "opus=anthropic/claude-opus-4-5"),
        ("CLAWINIT_OPENCLAW_VERSIONS", "strict"),
    ];
    const OLD_PORT: &str = "28791";
    let config = home.0.join("state/openclaw.json");
    let mut seen = Vec::new();
    let (to_ready, out) = ready_then_stop(start_gateway_alone(&home, &cli, OLD_PORT, &env), OLD_PORT, || {
        seen = std::fs::read(&config).unwrap();
    });
    eprintln!("openclaw@{oldest}: ready {} ms after the start", to_ready.as_millis());
    assert_eq!(out.status.code(), Some(0), "the gateway's code on a requested stop: {}", support::text(&out.stderr));
    let stderr = support::text(&out.stderr);
    assert!(stderr.contains(&format!("OpenClaw {oldest} (")) && stderr.contains("tested"), "{stderr}");
    assert!(
        stderr.contains("OPENCLAW_MODEL_ALIASES: OpenClaw 2026.6.35 has no agents.defaults.modelPolicy"),
        "{stderr}"
    );
    assert!(!stderr.contains("Invalid config"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&seen).unwrap();
    assert_eq!(doc["agents"]["defaults"]["models"]["anthropic/claude-opus-4-5"]["alias"], "opus");
    assert!(doc["agents"]["defaults"].get("modelPolicy").is_none(), "{doc}");
    assert_eq!(std::fs::read(&config).unwrap(), seen, "the gateway did not rewrite the config");
    assert!(!contains(&out.stdout, &canary) && !contains(&out.stderr, &canary));
    assert_release_accepts(&cli, &config, &[("ANTHROPIC_API_KEY", "x")]);
    // The 2026.9.6 form of the same aliases is what this release refuses.
    let pinned_form = home.0.join("pinned-form.json");
    let mut newest = doc.clone();
    newest["agents"]["defaults"]["modelPolicy"] = serde_json::json!({});
    std::fs::write(&pinned_form, serde_json::to_vec_pretty(&newest).unwrap()).unwrap();
    let report = validate_report(&cli, &pinned_form, &[("ANTHROPIC_API_KEY", "x")]);
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["issues"][0]["path"], "agents.defaults", "{report}");
}

/// `openclaw config set` of `cli` on the state dir's config, with `extra` in its environment.
fn config_set(cli: &std::path::Path, state: &std::path::Path, extra: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(cli);
    cmd.args(["config", "set", "agents.defaults.timeoutSeconds", "900"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", state)
        .env("OPENCLAW_STATE_DIR", state)
        .env("npm_config_offline", "true");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Why clawinit does not set `OPENCLAW_CONFIG_READONLY=1` for the gateway,
/// and what a user who sets it gets. With it, the real gateway starts ready on
/// the config clawinit wrote (clawinit is not an OpenClaw writer: it still
/// seeds and merges), and OpenClaw's own writers refuse. Without it (the
/// default), an OpenClaw write lands and clawinit's next start keeps it: the
/// merge already owns only what clawinit wrote, so the switch would only take
/// `config set`, doctor repairs and plugin installs away (the gateway's own
/// start writes nothing either way: see the test above).
#[test]
fn readonly_config_is_the_users_choice_and_clawinit_merges_openclaws_writes() {
    let cli = openclaw();
    let home = Scratch::new("e2e-readonly");
    let state = home.0.join("state");
    let config = state.join("openclaw.json");
    const RO_PORT: &str = "28793";
    let readonly = [("OPENCLAW_CONFIG_READONLY", "1"), ("OPENAI_API_KEY", "sk-x")];
    let mut refused = None;
    let (_, out) = ready_then_stop(start_gateway_alone(&home, cli, RO_PORT, &readonly), RO_PORT, || {
        let before = std::fs::read(&config).unwrap();
        refused = Some((config_set(cli, &state, &[("OPENCLAW_CONFIG_READONLY", "1")]), before));
    });
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out.stderr));
    let (refused, before) = refused.unwrap();
    assert!(!refused.status.success(), "config set refused under OPENCLAW_CONFIG_READONLY=1");
    let said = format!("{}{}", support::text(&refused.stdout), support::text(&refused.stderr));
    assert!(said.contains("externally managed"), "{said}");
    assert_eq!(std::fs::read(&config).unwrap(), before, "the file is unchanged");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&before).unwrap()["agents"]["defaults"]["model"]["primary"],
        "openai/gpt-6-astra"
    );

    // The default: OpenClaw's write lands, and clawinit's next start keeps it.
    let set = config_set(cli, &state, &[]);
    assert!(set.status.success(), "{}", support::text(&set.stderr));
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(written["agents"]["defaults"]["timeoutSeconds"], 900);
    assert_eq!(written["meta"]["lastTouchedVersion"], "2026.9.6", "OpenClaw stamps the file it writes");
    let restarted = clawinit(&home.0)
        .env("OPENCLAW_STATE_DIR", &state)
        .env("OPENAI_API_KEY", "sk-x")
        .env("ANTHROPIC_API_KEY", "sk-y")
        .env("CLAWINIT_GATEWAY_CMD", "true")
        .arg("run")
        .output()
        .unwrap();
    assert!(restarted.status.success(), "{}", support::text(&restarted.stderr));
    let merged: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(merged["agents"]["defaults"]["timeoutSeconds"], 900, "OpenClaw's write is kept");
    assert_eq!(merged["meta"], written["meta"], "and its stamp");
    // clawinit's own defaults still follow the keys (a new provider, a new chain).
    assert_eq!(
        merged["agents"]["defaults"]["model"],
        serde_json::json!({"primary": "anthropic/claude-opus-5", "fallbacks": ["openai/gpt-6-astra"]})
    );
    assert_openclaw_accepts(&config, &[("OPENAI_API_KEY", "x"), ("ANTHROPIC_API_KEY", "y")]);
}
