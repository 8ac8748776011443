//! Supervision you can see and steer, with clawinit as a real PID 1: the
//! stop budget that always reaches the gateway, the drain delay seen by
//! `probe`, the restart limit, and `clawinit status` in each phase.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use support::ns::*;
use support::*;

/// `clawinit ARGS` inside the namespaces of the running clawinit, as `uid`.
fn inside(running: &Running, uid: u32, args: &[&str]) -> Output {
    let target = running.host_pid.as_raw().to_string();
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &target, "-p", "-m", "-n"]);
    if uid != 0 {
        cmd.args(["-S", &uid.to_string(), "-G", &uid.to_string()]);
    }
    cmd.arg(env!("CARGO_BIN_EXE_clawinit")).args(args).env_clear().env("PATH", "/usr/bin:/bin");
    cmd.output().unwrap()
}

fn try_status(running: &Running) -> Option<Value> {
    let out = inside(running, 0, &["status", "--json"]);
    serde_json::from_slice(&out.stdout).ok().filter(|_| out.status.success())
}

fn status(running: &Running) -> Value {
    try_status(running).expect("clawinit status answers")
}

/// Poll `status` until the phase is `phase` (the socket appears just after
/// clawinit starts).
fn wait_for_phase(running: &Running, phase: &str) -> Value {
    let started = Instant::now();
    loop {
        let now = try_status(running);
        if now.as_ref().is_some_and(|s| s["phase"] == phase) {
            return now.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(15), "never {phase}: {now:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(log: &Path, prefix: &str) -> usize {
    log_lines(log).iter().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn a_worker_ignoring_term_leaves_the_gateway_its_term_and_reserve() {
    let home = Scratch::new("s-budget");
    let log = home.0.join("log");
    // T = 6 s: the gateway's reserve is 2 s, the worker is killed after 4.
    let env = [("WORKER_IGNORE_TERM", "1"), ("CLAWINIT_STOP_TIMEOUT", "6")];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_line(&log, "worker start");
    running.signal(Signal::SIGTERM);
    let (out, took) = running.finish(Duration::from_secs(15));
    assert_eq!(code(&out), 137, "the worker's code: killed at its share: {}", text(&out.stderr));
    assert!(log_lines(&log).iter().any(|l| l == "gateway term"), "the gateway got TERM: {:?}", log_lines(&log));
    assert!(took >= Duration::from_millis(3500) && took < Duration::from_secs(6), "took {took:?}");
    assert!(!text(&out.stderr).contains("killing what is left"), "the gateway stopped within its reserve");
}

#[test]
fn the_restart_limit_gives_up_with_the_gateways_last_code() {
    let home = Scratch::new("s-limit");
    let log = home.0.join("log");
    let env = [
        ("CLAWINIT_GATEWAY_RESTART", "always"),
        ("CLAWINIT_GATEWAY_RESTART_LIMIT", "2/60"),
        ("FAKE_EXIT_AFTER", "1"),
        ("FAKE_EXIT_CODE", "3"),
    ];
    let running = Running::start(run_pair(&home.0, &log, &env));
    let (out, _) = running.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    assert_eq!(count(&log, "gateway start"), 3, "the first start and 2 restarts: {:?}", log_lines(&log));
    assert!(log_lines(&log).iter().any(|l| l == "worker term"), "the worker was stopped");
    assert!(text(&out.stderr).contains("CLAWINIT_GATEWAY_RESTART_LIMIT"));
}

#[test]
fn status_and_probe_follow_gating_ready_draining_stopping() {
    let home = Scratch::new("s-phases");
    let log = home.0.join("log");
    let env = [
        ("FAKE_READY_AFTER", "1.5"),
        ("CLAWINIT_STOP_DELAY", "3"),
        ("WORKER_TERM_DELAY", "2"),
        ("WORKER_TERM_CODE", "0"),
        ("CLAWINIT_STOP_TIMEOUT", "20"),
    ];
    let running = Running::start(run_pair(&home.0, &log, &env));
    let gating = wait_for_phase(&running, "gating");
    assert!(gating["children"]["gateway"]["pid"].is_i64(), "{gating}");
    assert_eq!(inside(&running, 0, &["probe"]).status.code(), Some(1), "not ready while gating");

    let ready = wait_for_phase(&running, "ready");
    assert!(ready["ready_after_ms"].as_u64().unwrap() >= 1000, "{ready}");
    wait_for_line(&log, "worker start");
    let ready = status(&running);
    for role in ["gateway", "worker"] {
        let child = &ready["children"][role];
        assert!(child["pid"].is_i64() && child["uptime_s"].is_u64(), "{role}: {ready}");
        assert_eq!(child["restarts"], 0);
        assert!(child["last_exit"].is_null());
    }
    assert_eq!(inside(&running, 0, &["probe"]).status.code(), Some(0), "ready");
    let text_status = text(&inside(&running, 0, &["status"]).stdout);
    assert!(text_status.starts_with("phase: ready\n") && text_status.contains("gateway: pid "), "{text_status}");

    running.signal(Signal::SIGTERM);
    wait_for_phase(&running, "draining");
    assert_eq!(inside(&running, 0, &["probe"]).status.code(), Some(1), "not ready while draining");
    assert!(!log_lines(&log).iter().any(|l| l == "worker term"), "the children keep serving during the delay");
    let stopping = wait_for_phase(&running, "stopping");
    assert_eq!(inside(&running, 0, &["probe"]).status.code(), Some(1), "not ready while stopping");
    assert!(stopping["children"]["worker"]["pid"].is_i64(), "the worker lingers on TERM: {stopping}");
    let (out, took) = running.finish(Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_second_term_skips_the_rest_of_the_drain() {
    let home = Scratch::new("s-second");
    let log = home.0.join("log");
    let env = [("CLAWINIT_STOP_DELAY", "30")];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_line(&log, "worker start");
    running.signal(Signal::SIGTERM);
    wait_for_phase(&running, "draining");
    let second = Instant::now();
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(15));
    assert!(second.elapsed() < Duration::from_secs(5), "{:?}", second.elapsed());
    assert_eq!(code(&out), 143, "the worker's code (dies of TERM): {}", text(&out.stderr));
}

#[test]
fn status_answers_root_and_clawinit_user_only() {
    let home = Scratch::new("s-peers");
    let log = home.0.join("log");
    std::fs::create_dir_all(home.0.join("state")).unwrap();
    // The user's home (for the helpers' log) and its state dir.
    std::os::unix::fs::chown(&home.0, Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::chown(home.0.join("state"), Some(1000), Some(1000)).unwrap();
    let env = [("CLAWINIT_USER", "1000:1000")];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_phase(&running, "ready");
    assert_eq!(inside(&running, 1000, &["status", "--json"]).status.code(), Some(0), "CLAWINIT_USER");
    let stranger = inside(&running, 4242, &["status", "--json"]);
    assert_eq!(stranger.status.code(), Some(1), "another uid: {}", text(&stranger.stdout));
    assert!(stranger.stdout.is_empty());
    running.signal(Signal::SIGTERM);
    running.finish(Duration::from_secs(15));
}

#[test]
fn status_without_a_supervisor_is_one_line_and_1() {
    let home = Scratch::new("s-none");
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc"]).arg(env!("CARGO_BIN_EXE_clawinit")).arg("status");
    cmd.env_clear().env("HOME", &home.0);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line(&out).contains("no clawinit supervisor answers"));
}
