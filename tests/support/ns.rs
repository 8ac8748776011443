//! clawinit as a real PID 1 in fresh PID, mount and network namespaces
//! (`unshare --pid --fork --mount-proc --net`, loopback up), with the helper
//! programs of tests/helpers/ as gateway and worker: one launcher, shared by
//! the namespace test files.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::text;

pub fn helper(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers").join(name).display().to_string()
}

pub const PY: &str = "/usr/bin/python3";

/// clawinit ARGS as PID 1 of fresh namespaces, with a clean environment.
pub fn pid1(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--net", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", home)
        .env("OPENCLAW_STATE_DIR", home.join("state"))
        .envs(env.iter().copied());
    cmd
}

/// `run` with the fake gateway and the stand-in worker, logging to `log`.
pub fn run_pair(home: &Path, log: &Path, env: &[(&str, &str)]) -> Command {
    let gateway = format!("{PY} {}", helper("fake_gateway.py"));
    let mut cmd = pid1(home, &["run", "--", PY, &helper("worker.py")], env);
    cmd.env("CLAWINIT_GATEWAY_CMD", gateway).env("FAKE_LOG", log);
    cmd
}

/// A running namespace: the unshare process and clawinit's host pid; its
/// output drained by threads.
pub struct Running {
    child: Child,
    pub host_pid: Pid,
    /// A test that fails before `finish` still ends its namespace.
    _reaper: KillOnDrop,
    stdout_lines: Option<mpsc::Receiver<String>>,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Running {
    pub fn start(mut cmd: Command) -> Running {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("unshare");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut all = Vec::new();
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                all.extend_from_slice(line.as_bytes());
                all.push(b'\n');
                let _ = tx.send(line);
            }
            all
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err, &mut all);
            all
        });
        let children = format!("/proc/{0}/task/{0}/children", child.id());
        let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_clawinit")).unwrap();
        let started = Instant::now();
        let host_pid = loop {
            let pid = std::fs::read_to_string(&children).ok().and_then(|s| s.split_whitespace().next()?.parse().ok());
            if let Some(pid) = pid.filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == exe))
            {
                break Pid::from_raw(pid);
            }
            if started.elapsed() > Duration::from_secs(5) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("clawinit did not start");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Running { child, host_pid, _reaper: KillOnDrop(Some(host_pid)), stdout_lines: Some(rx), stdout, stderr }
    }

    pub fn lines(&mut self) -> mpsc::Receiver<String> {
        self.stdout_lines.take().expect("stdout lines taken once")
    }

    /// Poll until clawinit has at least `n` descendants (instead of a fixed
    /// sleep before signalling).
    pub fn wait_for_descendants(&self, n: usize) {
        let started = Instant::now();
        while descendants(self.host_pid.as_raw()) < n {
            assert!(started.elapsed() < Duration::from_secs(10), "fewer than {n} descendants after 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.host_pid, signal).expect("signal clawinit");
    }

    /// Any signal number, real-time ones included (nix's `Signal` has none).
    pub fn signal_raw(&self, signo: i32) {
        // SAFETY: kill(2) on plain integers.
        assert_eq!(unsafe { libc::kill(self.host_pid.as_raw(), signo) }, 0, "signal {signo} to clawinit");
    }

    pub fn finish(mut self, limit: Duration) -> (Output, Duration) {
        self._reaper.0 = None;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                // SIGKILL to the namespace's PID 1 ends every process in it
                // (killing unshare alone would leave them holding stderr).
                let _ = kill(self.host_pid, Signal::SIGKILL);
                let _ = self.child.kill();
                panic!("no exit within {limit:?}: {}", text(&self.stderr.join().unwrap()));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = started.elapsed();
        drop(self.stdout_lines);
        let out = Output { status, stdout: self.stdout.join().unwrap(), stderr: self.stderr.join().unwrap() };
        (out, took)
    }
}

/// SIGKILL to a namespace's PID 1 (which ends everything in it) when the
/// test lets go of it without `finish`: a failed assertion leaks nothing.
struct KillOnDrop(Option<Pid>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

/// How many processes descend from `pid` (through /proc's children lists).
fn descendants(pid: i32) -> usize {
    let mut count = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        let list = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        for child in list.split_whitespace().filter_map(|c| c.parse().ok()) {
            count += 1;
            stack.push(child);
        }
    }
    count
}

/// The exit code; a PID 1 that died of a signal (an abort is SIGABRT, 134)
/// makes unshare die of it too, and is reported as 128+N.
pub fn code(out: &Output) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    out.status.code().or(out.status.signal().map(|s| 128 + s)).unwrap()
}

pub fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(String::from).collect()
}

pub fn wait_for_line(path: &Path, prefix: &str) {
    let started = Instant::now();
    while !log_lines(path).iter().any(|l| l.starts_with(prefix)) {
        assert!(started.elapsed() < Duration::from_secs(15), "no {prefix:?} in {:?}", log_lines(path));
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn expect_line(lines: &mpsc::Receiver<String>, expected: &str) {
    match lines.recv_timeout(Duration::from_secs(5)) {
        Ok(got) => assert_eq!(got, expected),
        Err(_) => panic!("no {expected:?} on stdout within 5 s"),
    }
}
