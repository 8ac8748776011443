//! What the reload tests look at: clawinit's children by program (their
//! host pids and the environment the kernel holds for them), the fake
//! gateway's log, and `clawinit status` from inside the namespaces.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use super::ns::*;
use super::*;

/// The host pid of the one descendant of clawinit whose command line
/// mentions `marker` (the helper script's name).
pub fn child_pid(running: &Running, marker: &str) -> Option<i32> {
    let mut stack = vec![running.host_pid.as_raw()];
    while let Some(pid) = stack.pop() {
        let list = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in list.split_whitespace().filter_map(|c| c.parse::<i32>().ok()) {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            if contains(&cmdline, marker) {
                return Some(child);
            }
            stack.push(child);
        }
    }
    None
}

pub fn gateway_pid(running: &Running) -> i32 {
    child_pid(running, "fake_gateway.py").expect("a gateway runs")
}

pub fn worker_pid(running: &Running) -> i32 {
    child_pid(running, "worker.py").expect("a worker runs")
}

/// The environment the kernel holds for `pid`.
pub fn environ(pid: i32) -> HashMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (name, value) = entry.split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Poll `cond` for up to `limit`; whether it became true.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

pub fn count(log: &Path, prefix: &str) -> usize {
    log_lines(log).iter().filter(|l| l.starts_with(prefix)).count()
}

/// Wait until the fake log has `n` lines starting with `prefix`.
pub fn wait_for_count(log: &Path, prefix: &str, n: usize) {
    let started = Instant::now();
    while count(log, prefix) < n {
        assert!(started.elapsed() < Duration::from_secs(15), "fewer than {n} {prefix:?} in {:?}", log_lines(log));
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn write_secret(dir: &Path, name: &str, value: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, format!("{value}\n")).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

/// A started pair whose worker runs (so the gate has passed).
pub fn start(home: &Scratch, env: &[(&str, &str)]) -> (Running, std::path::PathBuf) {
    let log = home.0.join("log");
    let running = Running::start(run_pair(&home.0, &log, env));
    wait_for_line(&log, "worker start");
    (running, log)
}

pub fn stop(running: Running) -> (String, i32) {
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(15));
    (text(&out.stderr), code(&out))
}

/// `clawinit status --json` from inside the running clawinit's namespaces.
pub fn status(running: &Running) -> Option<Value> {
    let target = running.host_pid.as_raw().to_string();
    let out = Command::new("nsenter")
        .args(["-t", &target, "-p", "-m", "-n"])
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .args(["status", "--json"])
        .env_clear()
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).ok().filter(|_| out.status.success())
}

/// Wait until the supervisor has done `n` reloads (a reload that changes
/// nothing leaves no other trace), returning how the last one ended.
pub fn wait_for_reloads(running: &Running, n: u64) -> String {
    let started = Instant::now();
    loop {
        if let Some(now) = status(running).filter(|s| s["reloads"].as_u64() >= Some(n)) {
            return now["last_reload"].as_str().unwrap_or_default().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(15), "fewer than {n} reloads: {:?}", status(running));
        std::thread::sleep(Duration::from_millis(20));
    }
}
