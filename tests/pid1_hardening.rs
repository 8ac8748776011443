//! Hardening of clawinit as PID 1: inputs and failures that used to panic
//! (and, with `panic = "abort"`, kill the container), real-time signals that
//! were dropped, an exit-code race at the stop deadline, and uid −1. Each test
//! runs clawinit as a real PID 1 in new PID, mount and network namespaces,
//! with the launcher in tests/support/ns.rs.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use support::ns::*;
use support::*;

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
    running.wait_for_descendants(1);
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
