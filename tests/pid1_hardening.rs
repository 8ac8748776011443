//! Hardening of clawinit as PID 1: inputs and failures that used to panic
//! (and, with `panic = "abort"`, kill the container), real-time signals that
//! were dropped, an exit-code race at the stop deadline, and uid −1. Each test
//! runs clawinit as a real PID 1 in new PID, mount and network namespaces,
//! like tests/pid1.rs (whose small helpers are copied here).

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::*;

fn helper(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers").join(name).display().to_string()
}

const PY: &str = "/usr/bin/python3";

/// clawinit ARGS as PID 1 of fresh namespaces, with a clean environment.
fn pid1(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
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
fn run_pair(home: &Path, log: &Path, env: &[(&str, &str)]) -> Command {
    let gateway = format!("{PY} {}", helper("fake_gateway.py"));
    let mut cmd = pid1(home, &["run", "--", PY, &helper("worker.py")], env);
    cmd.env("CLAWINIT_GATEWAY_CMD", gateway).env("FAKE_LOG", log);
    cmd
}

/// A running namespace: the unshare process and clawinit's host pid; its
/// output drained by threads.
struct Running {
    child: Child,
    host_pid: Pid,
    stdout_lines: Option<mpsc::Receiver<String>>,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
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
        Running { child, host_pid, stdout_lines: Some(rx), stdout, stderr }
    }

    fn lines(&mut self) -> mpsc::Receiver<String> {
        self.stdout_lines.take().expect("stdout lines taken once")
    }

    fn signal(&self, signal: Signal) {
        kill(self.host_pid, signal).expect("signal clawinit");
    }

    /// Any signal number, real-time ones included (nix's `Signal` has none).
    fn signal_raw(&self, signo: i32) {
        // SAFETY: kill(2) on plain integers.
        assert_eq!(unsafe { libc::kill(self.host_pid.as_raw(), signo) }, 0, "signal {signo} to clawinit");
    }

    fn finish(mut self, limit: Duration) -> (Output, Duration) {
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

/// The exit code; a PID 1 that died of a signal (an abort is SIGABRT, 134)
/// makes unshare die of it too, and is reported as 128+N.
fn code(out: &Output) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    out.status.code().or(out.status.signal().map(|s| 128 + s)).unwrap()
}

fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(String::from).collect()
}

fn wait_for_line(path: &Path, prefix: &str) {
    let started = Instant::now();
    while !log_lines(path).iter().any(|l| l.starts_with(prefix)) {
        assert!(started.elapsed() < Duration::from_secs(15), "no {prefix:?} in {:?}", log_lines(path));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn expect_line(lines: &mpsc::Receiver<String>, expected: &str) {
    match lines.recv_timeout(Duration::from_secs(5)) {
        Ok(got) => assert_eq!(got, expected),
        Err(_) => panic!("no {expected:?} on stdout within 5 s"),
    }
}

// ------------------------------------------------ 1. timeouts out of range

#[test]
fn timeouts_beyond_their_maximum_exit_64_naming_the_variable_before_any_spawn() {
    let home = Scratch::new("h-timeouts");
    let log = home.0.join("log");
    for name in ["CLAWINIT_READY_TIMEOUT", "CLAWINIT_STOP_TIMEOUT"] {
        for value in ["18446744073709551615", "86401000"] {
            let env = [(name, value), ("WORKER_EXIT_AFTER", "0.2")];
            let out = run_pair(&home.0, &log, &env).output().unwrap();
            assert_eq!(code(&out), 64, "{name}={value}: {}", text(&out.stderr));
            assert!(one_line(&out).contains(&format!("{name}: ")), "{name}={value}: {}", text(&out.stderr));
            assert!(log_lines(&log).is_empty(), "{name}={value}: a child was spawned: {:?}", log_lines(&log));
        }
    }
}

#[test]
fn the_largest_stop_timeout_is_accepted_and_a_shutdown_still_ends_promptly() {
    let home = Scratch::new("h-maxstop");
    let log = home.0.join("log");
    let env = [("CLAWINIT_STOP_TIMEOUT", "3600"), ("CLAWINIT_READY_TIMEOUT", "86400")];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_line(&log, "worker start");
    running.signal(Signal::SIGTERM);
    let (out, took) = running.finish(Duration::from_secs(10));
    assert_eq!(code(&out), 143, "{}", text(&out.stderr));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

// ------------------------------------------------ 3. signalfd read failure

#[test]
fn a_failing_signalfd_read_is_logged_and_supervision_goes_on() {
    let home = Scratch::new("h-sigfd");
    let log = home.0.join("log");
    let worker = helper("worker.py");
    for mode in ["exec", "run"] {
        let args = [mode, "--", PY, &worker];
        let _ = std::fs::remove_file(&log);
        let gateway = format!("{PY} {}", helper("fake_gateway.py"));
        let env = [
            ("CLAWINIT_FAULT", "signalfd-read"),
            ("CLAWINIT_GATEWAY_CMD", gateway.as_str()),
            ("FAKE_LOG", log.to_str().unwrap()),
        ];
        let running = Running::start(pid1(&home.0, &args, &env));
        wait_for_line(&log, "worker start");
        running.signal(Signal::SIGTERM);
        let (out, took) = running.finish(Duration::from_secs(15));
        let stderr = text(&out.stderr);
        assert_eq!(code(&out), 143, "{mode}: the worker's death by TERM, not an abort: {stderr}");
        assert!(log_lines(&log).contains(&"worker term".to_string()), "{mode}: {:?}", log_lines(&log));
        assert!(stderr.contains("signalfd"), "{mode}: the failure is logged: {stderr}");
        assert!(took < Duration::from_secs(5), "{mode}: {took:?}");
    }
}

// ------------------------------------------------ 4. real-time signals

fn sigrtmin() -> i32 {
    libc::SIGRTMIN()
}

#[test]
fn real_time_signals_reach_the_child_under_exec() {
    let home = Scratch::new("h-rt-exec");
    let env = [("CLAWINIT_LOG", "debug")];
    let mut running = Running::start(pid1(&home.0, &["exec", "--", PY, &helper("print_rt_signals.py")], &env));
    let stdout = running.lines();
    expect_line(&stdout, "ready");
    for n in [3, 0, 10] {
        running.signal_raw(sigrtmin() + n);
        expect_line(&stdout, &(sigrtmin() + n).to_string());
    }
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(10));
    assert_eq!(code(&out), 143, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("signal=\"SIGRTMIN+3\""), "logged by name: {}", text(&out.stderr));
}

#[test]
fn real_time_signals_reach_both_children_under_run() {
    let home = Scratch::new("h-rt-run");
    let rt = format!("{PY} {}", helper("print_rt_signals.py"));
    let env = [("CLAWINIT_GATEWAY_CMD", rt.as_str()), ("CLAWINIT_READY_PROBE", "none")];
    let mut running = Running::start(pid1(&home.0, &["run", "--", PY, &helper("print_rt_signals.py")], &env));
    let stdout = running.lines();
    expect_line(&stdout, "ready");
    expect_line(&stdout, "ready");
    running.signal_raw(sigrtmin() + 3);
    expect_line(&stdout, &(sigrtmin() + 3).to_string());
    expect_line(&stdout, &(sigrtmin() + 3).to_string());
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(10));
    assert_eq!(code(&out), 143, "{}", text(&out.stderr));
}

#[test]
fn a_child_killed_by_a_real_time_signal_exits_128_plus_n() {
    let home = Scratch::new("h-rt-kill");
    // A real-time signal's default action terminates; clawinit must still
    // get the status (nix's WaitStatus cannot represent it).
    let running = Running::start(pid1(&home.0, &["exec", "--", "sleep", "60"], &[]));
    std::thread::sleep(Duration::from_millis(300));
    running.signal_raw(sigrtmin() + 5);
    let (out, _) = running.finish(Duration::from_secs(10));
    assert_eq!(code(&out), 128 + sigrtmin() + 5, "{}", text(&out.stderr));
}

// ------------------------------------------------ 5. exit-code race

#[test]
fn a_shutdown_killed_at_the_deadline_always_ends_with_the_workers_137() {
    // Both children survive TERM, so both are SIGKILLed together and often
    // reaped in one drain: the worker's code must win however they queue.
    let home = Scratch::new("h-race");
    let log = home.0.join("log");
    let env = [("WORKER_IGNORE_TERM", "1"), ("FAKE_TERM_DELAY", "30"), ("CLAWINIT_STOP_TIMEOUT", "1")];
    for round in 0..10 {
        let _ = std::fs::remove_file(&log);
        let running = Running::start(run_pair(&home.0, &log, &env));
        wait_for_line(&log, "worker start");
        running.signal(Signal::SIGTERM);
        let (out, took) = running.finish(Duration::from_secs(15));
        assert_eq!(code(&out), 137, "round {round}: {}", text(&out.stderr));
        assert!(took < Duration::from_secs(3), "round {round}: {took:?}");
    }
}

// ------------------------------------------------ 6. uid −1

#[test]
fn uid_or_gid_minus_one_is_64_and_nothing_is_written() {
    let home = Scratch::new("h-uid");
    let state = home.0.join("state");
    for spec in ["4294967295", "0:4294967295", "4294967295:0", "nobody:4294967295"] {
        let env = [("CLAWINIT_USER", spec), ("CLAWINIT_GATEWAY_CMD", "sleep 60"), ("CLAWINIT_READY_PROBE", "none")];
        for args in [&["check"][..], &["run", "--", "true"]] {
            let command = args[0];
            let out = pid1(&home.0, args, &env).output().unwrap();
            assert_eq!(code(&out), 64, "{command} {spec}: {}", text(&out.stderr));
            assert!(one_line(&out).contains("CLAWINIT_USER"), "{command} {spec}");
            let written: Vec<_> = std::fs::read_dir(&state).into_iter().flatten().flatten().map(|e| e.path()).collect();
            assert!(written.is_empty(), "{command} {spec}: {written:?}");
        }
    }
}
