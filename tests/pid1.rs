//! clawinit as a real PID 1: each test runs it in a new PID, mount and
//! network namespace (`unshare --pid --fork --mount-proc --net`, loopback
//! up), with small helper programs (tests/helpers/) as gateway and worker.
//! Scenario numbers refer to pid1-scenarios.md. The launcher is shared
//! (tests/support/ns.rs).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::ns::*;
use support::*;

fn timestamp(lines: &[String], prefix: &str) -> Option<f64> {
    lines.iter().find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
}

// ---------------------------------------------------------------- A. core

#[test]
fn s01_every_exit_code_passes_through() {
    let home = Scratch::new("s01");
    for n in 0..=255 {
        let out = pid1(&home.0, &["exec", "--", "sh", "-c", &format!("exit {n}")], &[("CLAWINIT_LOG", "warn")])
            .output()
            .unwrap();
        assert_eq!(code(&out), n, "exit {n}: {}", text(&out.stderr));
    }
}

#[test]
fn s02_death_by_signal_is_128_plus_n() {
    let home = Scratch::new("s02");
    for (signal, expected) in [("SIGTERM", 143), ("SIGHUP", 129), ("SIGQUIT", 131), ("SIGKILL", 137), ("SIGUSR2", 140)]
    {
        let reset = if signal == "SIGKILL" {
            String::new()
        } else {
            format!("signal.signal(signal.{signal}, signal.SIG_DFL); ")
        };
        let script = format!("import os, signal; {reset}os.kill(os.getpid(), signal.{signal})");
        let out = pid1(&home.0, &["exec", "--", PY, "-c", &script], &[]).output().unwrap();
        assert_eq!(code(&out), expected, "{signal}");
    }
}

#[test]
fn s03_exec_failures_are_127_and_126_naming_the_path() {
    let home = Scratch::new("s03");
    let not_exec = home.0.join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    let out = pid1(&home.0, &["exec", "--", "/nonexistent/worker"], &[]).output().unwrap();
    assert_eq!(code(&out), 127);
    assert!(one_line(&out).contains("/nonexistent/worker"));
    let out = pid1(&home.0, &["exec", "--", not_exec.to_str().unwrap()], &[]).output().unwrap();
    assert_eq!(code(&out), 126);
    assert!(one_line(&out).contains("not-executable"));
    // `run` with a missing worker: nothing is spawned at all.
    let log = home.0.join("log");
    let gateway = format!("{PY} {}", helper("fake_gateway.py"));
    let out = pid1(
        &home.0,
        &["run", "--", "/nonexistent/worker"],
        &[("CLAWINIT_GATEWAY_CMD", &gateway), ("FAKE_LOG", log.to_str().unwrap())],
    )
    .output()
    .unwrap();
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));
    assert!(log_lines(&log).is_empty(), "the gateway was never started");
}

#[test]
fn s05_every_catchable_signal_is_forwarded_in_order() {
    let home = Scratch::new("s05");
    let mut running = Running::start(pid1(
        &home.0,
        &["exec", "--", PY, &helper("print_signals.py")],
        &[("CLAWINIT_STOP_TIMEOUT", "1")],
    ));
    let stdout = running.lines();
    assert_eq!(stdout.recv_timeout(Duration::from_secs(5)).unwrap(), "ready");
    // Not KILL/STOP (uncatchable), CHLD (ours), TSTP/TTIN/TTOU (they stop the
    // child, see S18), the fault signals clawinit never blocks, nor INT and
    // QUIT, which like TERM start the shutdown (sent last).
    let skip = [9, 19, 17, 20, 21, 22, 4, 5, 6, 7, 8, 11, 2, 3];
    let sent: Vec<i32> = (1..32).filter(|n| !skip.contains(n) && *n != 15).chain([15]).collect();
    for n in &sent {
        running.signal(Signal::try_from(*n).unwrap());
        match stdout.recv_timeout(Duration::from_secs(5)) {
            Ok(got) => assert_eq!(got, n.to_string()),
            Err(_) => {
                let (out, _) = running.finish(Duration::from_secs(10));
                panic!("signal {n} not forwarded: {:?} {}", out.status, text(&out.stderr));
            }
        }
    }
    // TERM started the shutdown; print_signals survives it and is killed at the stop timeout.
    let (out, took) = running.finish(Duration::from_secs(10));
    assert_eq!(code(&out), 137);
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn s08_the_whole_process_group_gets_the_signal() {
    let home = Scratch::new("s08");
    let running = Running::start(pid1(
        &home.0,
        &["exec", "--", "sh", "-c", "yes 'oh, hi' | tail & yes error | tail >&2; wait"],
        &[],
    ));
    running.wait_for_descendants(5);
    running.signal(Signal::SIGTERM);
    let (out, took) = running.finish(Duration::from_secs(5));
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(code(&out), 143, "{}", text(&out.stderr));
}

#[test]
fn s09_s20_leftover_descendants_get_term_and_time_to_clean_up() {
    let home = Scratch::new("s09");
    let marker = home.0.join("cleaned-up");
    // The main child exits at once, leaving a grandchild that needs 1 s after TERM.
    let grandchild = format!(
        "import signal, time, sys\ndef bye(*a):\n    time.sleep(1)\n    open({:?}, 'w').write('done')\n    sys.exit(0)\nsignal.signal(signal.SIGTERM, bye)\ntime.sleep(60)",
        marker.to_str().unwrap()
    );
    let script = home.0.join("grandchild.py");
    std::fs::write(&script, grandchild).unwrap();
    let cmd = format!("{PY} {} & sleep 0.3; exit 7", script.display());
    let (out, took) =
        Running::start(pid1(&home.0, &["exec", "--", "sh", "-c", &cmd], &[])).finish(Duration::from_secs(15));
    assert_eq!(code(&out), 7, "the main child's code: {}", text(&out.stderr));
    assert!(marker.exists(), "clawinit exited before the grandchild finished cleaning up");
    assert!(took >= Duration::from_millis(1000) && took < Duration::from_secs(9), "{took:?}");
}

#[test]
fn s10_s11_two_thousand_orphans_are_reaped_and_the_harness_can_tell() {
    let home = Scratch::new("s10");
    // Fork 2000 children that exit at once, then leave them to PID 1, wait,
    // and count zombies and leftovers in the namespace.
    let burst = "import os, time\nfor _ in range(2000):\n    if os.fork() == 0:\n        os._exit(0)\n";
    let count = "import os\nz = 0\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n        try:\n            z += open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0] == 'Z'\n        except OSError:\n            pass\nprint(z)";
    let script = format!("{PY} -c \"$BURST\" & wait; sleep 1; {PY} -c \"$COUNT\"");
    let with = |mut cmd: Command| cmd.env("BURST", burst).env("COUNT", count).output().unwrap();
    let out = with(pid1(&home.0, &["exec", "--", "sh", "-c", &script], &[]));
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "0", "zombies left under clawinit");
    // Negative control: a PID 1 that waits only for its own child (Python's
    // subprocess) leaves the orphans as zombies, and the harness sees them.
    let mut control = Command::new("unshare");
    let naive = "import subprocess, sys; subprocess.run(['sh', '-c', sys.argv[1]])";
    control.args(["--pid", "--fork", "--mount-proc", PY, "-c", naive, &script]).env("PATH", "/usr/bin:/bin");
    let out = with(control);
    assert!(
        text(&out.stdout).trim().parse::<u32>().unwrap() >= 1900,
        "the harness does not see zombies: {}",
        text(&out.stdout)
    );
}

#[test]
fn s12_not_pid1_it_is_a_subreaper() {
    let home = Scratch::new("s12");
    // The child orphans a grandchild; it must be adopted by clawinit (its
    // PPID becomes clawinit's pid) and reaped.
    let script = "sleep 0.5 & echo $!; exit 0";
    let out = clawinit(&home.0).args(["exec", "--", "sh", "-c", script]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let orphan: i32 = text(&out.stdout).trim().parse().unwrap();
    assert!(!Path::new(&format!("/proc/{orphan}")).exists(), "the orphan was not waited for and reaped");
}

#[test]
fn s14_the_child_gets_the_signal_state_clawinit_inherited() {
    let home = Scratch::new("s14");
    // A launcher that ignores INT and TTOU and blocks TTIN and TERM, prints
    // its own state, then execs clawinit; the child prints its state.
    let launcher = format!(
        "import os, signal, sys\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nsignal.signal(signal.SIGTTOU, signal.SIG_IGN)\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTTIN, signal.SIGTERM])\nsys.stdout.write(''.join('launcher ' + l for l in open('/proc/self/status') if l.startswith(('SigBlk', 'SigIgn'))))\nsys.stdout.flush()\nos.execv({:?}, [{:?}, 'exec', '--', 'grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status'])",
        env!("CARGO_BIN_EXE_clawinit"),
        env!("CARGO_BIN_EXE_clawinit")
    );
    let out = pid1(&home.0, &["exec", "--", PY, "-c", &launcher], &[]).output().unwrap();
    let status = text(&out.stdout);
    let field = |prefix: &str| {
        let line = status.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("{prefix}: {status}"));
        u64::from_str_radix(line.trim(), 16).unwrap()
    };
    let bit = |signal: i32| 1u64 << (signal - 1);
    let (blocked, ignored) = (field("launcher SigBlk:"), field("launcher SigIgn:"));
    assert_eq!(blocked & (bit(21) | bit(15)), bit(21) | bit(15), "{status}");
    assert_eq!(ignored & (bit(2) | bit(22)), bit(2) | bit(22), "{status}");
    assert_eq!(field("SigBlk:"), blocked, "the child is blocked as clawinit's launcher was: {status}");
    // Everything ignored stays ignored, except SIGPIPE: Python (like Rust)
    // ignores it itself, and clawinit gives children the default.
    assert_eq!(field("SigIgn:"), ignored & !bit(13), "{status}");
    // Docker-like start (nothing blocked, no classic signal ignored): the
    // child has nothing blocked and nothing ignored beyond what the launcher
    // had (the test harness's spawn leaves glibc's RT signals 32/33 ignored).
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "sh",
        "-c",
        "grep SigIgn /proc/$$/status; exec \"$0\" exec -- grep -E '^Sig(Blk|Ign)' /proc/self/status",
    ])
    .arg(env!("CARGO_BIN_EXE_clawinit"))
    .env_clear()
    .env("PATH", "/usr/bin:/bin");
    let status = text(&cmd.output().unwrap().stdout);
    let first = status.lines().next().and_then(|l| l.strip_prefix("SigIgn:")).expect("the launcher's SigIgn");
    let launcher = u64::from_str_radix(first.trim(), 16).unwrap();
    assert_eq!(launcher & 0x7fff_ffff, 0, "signals 1-31 are not ignored by the launcher: {status}");
    let child: Vec<&str> = status.lines().skip(1).collect();
    assert_eq!(child, ["SigBlk:\t0000000000000000".to_string(), format!("SigIgn:\t{launcher:016x}")], "{status}");
}

#[test]
fn s16_children_keep_the_start_directory_clawinit_moves_to_root() {
    let home = Scratch::new("s16");
    let out = pid1(&home.0, &["exec", "--", "sh", "-c", "readlink /proc/self/cwd; readlink /proc/1/cwd"], &[])
        .current_dir(&home.0)
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), format!("{}\n/\n", home.0.display()));
}

#[test]
fn s19_the_stop_timeout_kills_what_ignores_term() {
    let home = Scratch::new("s19");
    let log = home.0.join("log");
    let running = Running::start(pid1(
        &home.0,
        &["exec", "--", PY, &helper("worker.py")],
        &[("WORKER_IGNORE_TERM", "1"), ("CLAWINIT_STOP_TIMEOUT", "2"), ("FAKE_LOG", log.to_str().unwrap())],
    ));
    wait_for_line(&log, "worker start");
    running.signal(Signal::SIGTERM);
    let (out, took) = running.finish(Duration::from_secs(10));
    assert_eq!(code(&out), 137);
    assert!(took >= Duration::from_millis(1900) && took < Duration::from_millis(3000), "{took:?}");
}

#[test]
fn s21_children_inherit_no_fds_beyond_stdio() {
    let home = Scratch::new("s21");
    // The launcher leaks fd 7 (no CLOEXEC) into clawinit.
    let launcher = format!(
        "import os\nfd = os.open('/dev/null', os.O_RDONLY)\nos.dup2(fd, 7, inheritable=True)\nos.execv({:?}, [{:?}, 'exec', '--', 'sh', '-c', 'ls /proc/$$/fd'])",
        env!("CARGO_BIN_EXE_clawinit"),
        env!("CARGO_BIN_EXE_clawinit")
    );
    let out = pid1(&home.0, &["exec", "--", PY, "-c", &launcher], &[]).output().unwrap();
    assert_eq!(text(&out.stdout).split_whitespace().collect::<Vec<_>>(), ["0", "1", "2"], "{}", text(&out.stderr));
}

// ------------------------------------------------ B. gateway and worker

/// `run` with the fake gateway and worker, logging to `log`.
fn run_pair(home: &Path, log: &Path, env: &[(&str, &str)], worker: bool) -> Command {
    let gateway = format!("{PY} {}", helper("fake_gateway.py"));
    let worker_py = helper("worker.py");
    let mut args = vec!["run"];
    if worker {
        args.extend(["--", PY, &worker_py]);
    }
    let mut cmd = pid1(home, &args, env);
    cmd.env("CLAWINIT_GATEWAY_CMD", gateway).env("FAKE_LOG", log).env("CLAWINIT_READY_TIMEOUT", "20");
    cmd
}

#[test]
fn s33_the_worker_starts_only_after_the_gateway_is_ready() {
    let home = Scratch::new("s33");
    let log = home.0.join("log");
    let env = [
        ("FAKE_LISTEN_AFTER", "0.5"),
        ("FAKE_READY_AFTER", "1"),
        ("WORKER_EXIT_AFTER", "0.2"),
        ("WORKER_EXIT_CODE", "5"),
    ];
    let (out, _) = Running::start(run_pair(&home.0, &log, &env, true)).finish(Duration::from_secs(20));
    assert_eq!(code(&out), 5, "the worker's code: {}", text(&out.stderr));
    let lines = log_lines(&log);
    let ready = timestamp(&lines, "gateway ready").expect("gateway became ready");
    let worker = timestamp(&lines, "worker start").expect("worker started");
    assert!(worker >= ready, "worker started {:.3}s before ready", ready - worker);
    assert!(worker - ready < 0.5, "readiness noticed {:.0} ms late", (worker - ready) * 1000.0);
    assert!(lines.contains(&"gateway term".to_string()), "the gateway was stopped after the worker: {lines:?}");
    assert!(text(&out.stderr).contains("gateway ready"), "{}", text(&out.stderr));
}

#[test]
fn s34_not_ready_in_time_is_69_and_the_worker_never_starts() {
    for (name, env) in [("s34", vec![("FAKE_READY_AFTER", "never")]), ("s34html", vec![("FAKE_HTML", "1")])] {
        let home = Scratch::new(name);
        let log = home.0.join("log");
        let mut cmd = run_pair(&home.0, &log, &env, true);
        cmd.env("CLAWINIT_READY_TIMEOUT", "2");
        let (out, took) = Running::start(cmd).finish(Duration::from_secs(20));
        assert_eq!(code(&out), 69, "{name}: {}", text(&out.stderr));
        assert!(took < Duration::from_secs(5), "{took:?}");
        let lines = log_lines(&log);
        assert!(!lines.iter().any(|l| l.starts_with("worker")), "{name}: {lines:?}");
        assert!(lines.contains(&"gateway term".to_string()), "{name}: the gateway was stopped: {lines:?}");
    }
}

#[test]
fn s35_a_gateway_exiting_before_ready_ends_the_run_with_its_code() {
    let home = Scratch::new("s35");
    let log = home.0.join("log");
    let env = [("FAKE_LISTEN_AFTER", "never"), ("FAKE_EXIT_AFTER", "0.3"), ("FAKE_EXIT_CODE", "3")];
    let (out, took) = Running::start(run_pair(&home.0, &log, &env, true)).finish(Duration::from_secs(10));
    assert_eq!(code(&out), 3);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(!log_lines(&log).iter().any(|l| l.starts_with("worker")));
}

#[test]
fn s36_a_gateway_dying_later_stops_the_worker_and_passes_its_code() {
    let home = Scratch::new("s36");
    let log = home.0.join("log");
    let env = [("FAKE_EXIT_AFTER", "1.5"), ("FAKE_EXIT_CODE", "9")];
    let (out, _) = Running::start(run_pair(&home.0, &log, &env, true)).finish(Duration::from_secs(15));
    assert_eq!(code(&out), 9, "{}", text(&out.stderr));
    assert!(log_lines(&log).contains(&"worker term".to_string()));
}

#[test]
fn s38_shutdown_stops_the_worker_then_the_gateway() {
    let home = Scratch::new("s38");
    let log = home.0.join("log");
    let env = [("WORKER_TERM_DELAY", "0.3"), ("WORKER_TERM_CODE", "0"), ("FAKE_TERM_DELAY", "0.3")];
    let running = Running::start(run_pair(&home.0, &log, &env, true));
    let started = Instant::now();
    while !log_lines(&log).iter().any(|l| l.starts_with("worker start")) {
        assert!(started.elapsed() < Duration::from_secs(15), "worker never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(15));
    assert_eq!(code(&out), 0, "the worker's own code on a requested shutdown: {}", text(&out.stderr));
    let order: Vec<String> =
        log_lines(&log).into_iter().filter(|l| l.ends_with("term") || l == "gateway done").collect();
    assert_eq!(order, ["worker term", "gateway term", "gateway done"]);
}

#[test]
fn s39_term_during_the_readiness_wait_stops_at_once() {
    let home = Scratch::new("s39");
    let log = home.0.join("log");
    let running = Running::start(run_pair(&home.0, &log, &[("FAKE_READY_AFTER", "never")], true));
    wait_for_line(&log, "gateway start");
    running.signal(Signal::SIGTERM);
    let (out, took) = running.finish(Duration::from_secs(10));
    assert_eq!(code(&out), 143);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(!log_lines(&log).iter().any(|l| l.starts_with("worker")));
}

#[test]
fn s40_privilege_drop_matches_passwd_and_group() {
    let home = Scratch::new("s40");
    std::fs::set_permissions(&home.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let report = "echo $(id -u) $(id -g) \"$(id -G)\" $HOME";
    for (spec, expected) in [
        ("0", "0 0 0 /root".to_string()),
        ("0:0", "0 0 0 /root".to_string()),
        ("nobody", format!("65534 65534 65534 {}", passwd_home("nobody"))),
        ("nobody:4343", format!("65534 4343 4343 {}", passwd_home("nobody"))),
        ("4242:4343", "4242 4343 4343 /".to_string()),
    ] {
        let env = [("CLAWINIT_USER", spec), ("CLAWINIT_GATEWAY_CMD", "sleep 60"), ("CLAWINIT_READY_PROBE", "none")];
        let out = pid1(&home.0, &["run", "--", "sh", "-c", report], &env).output().unwrap();
        assert_eq!(code(&out), 0, "{spec}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), expected, "{spec}");
    }
    for bogus in ["no-such-user-here", "nobody:no-such-group"] {
        let env = [("CLAWINIT_USER", bogus), ("CLAWINIT_GATEWAY_CMD", "sleep 60"), ("CLAWINIT_READY_PROBE", "none")];
        let out = pid1(&home.0, &["run", "--", "true"], &env).output().unwrap();
        assert_eq!(code(&out), 64, "{bogus}");
        assert!(!text(&out.stderr).contains("spawned"), "nothing spawned");
    }
}

fn passwd_home(user: &str) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd.lines().find(|l| l.starts_with(&format!("{user}:"))).unwrap().split(':').nth(5).unwrap().to_string()
}

#[test]
fn s41_the_state_dir_is_handed_to_the_user() {
    let home = Scratch::new("s41");
    let state = home.0.join("state");
    std::fs::create_dir_all(state.join("agents")).unwrap();
    std::fs::write(state.join("agents/sessions.json"), "{}").unwrap();
    std::fs::set_permissions(&home.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = [("CLAWINIT_USER", "nobody"), ("CLAWINIT_GATEWAY_CMD", "sleep 60"), ("CLAWINIT_READY_PROBE", "none")];
    let probe = format!("touch {0}/agents/new && stat -c %U {0}/agents/sessions.json", state.display());
    let out = pid1(&home.0, &["run", "--", "sh", "-c", &probe], &env).output().unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "nobody");
}

#[test]
fn s43_orphans_while_both_run_do_not_steal_statuses() {
    let home = Scratch::new("s43");
    let log = home.0.join("log");
    let env = [("FAKE_DAEMONS", "50"), ("WORKER_EXIT_AFTER", "2"), ("WORKER_EXIT_CODE", "42")];
    let mut cmd = run_pair(&home.0, &log, &env, true);
    cmd.env("CLAWINIT_LOG", "debug");
    let (out, _) = Running::start(cmd).finish(Duration::from_secs(20));
    assert_eq!(code(&out), 42, "the worker's status reached clawinit: {}", text(&out.stderr));
    let reaped = text(&out.stderr).matches("orphan reaped").count();
    assert!(reaped >= 20, "orphans reaped: {reaped}");
}

#[test]
fn restart_policy_brings_the_gateway_back_and_keeps_the_worker() {
    let home = Scratch::new("restart");
    let log = home.0.join("log");
    let env = [
        ("FAKE_EXIT_AFTER", "1"),
        ("FAKE_EXIT_CODE", "0"),
        ("CLAWINIT_GATEWAY_RESTART", "on-failure"),
        ("WORKER_EXIT_AFTER", "4"),
        ("WORKER_EXIT_CODE", "0"),
    ];
    let (out, _) = Running::start(run_pair(&home.0, &log, &env, true)).finish(Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let lines = log_lines(&log);
    let starts = lines.iter().filter(|l| *l == "gateway start").count();
    assert!(starts >= 2, "the gateway was restarted: {lines:?}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("worker start")).count(), 1, "the worker kept running");
    assert!(text(&out.stderr).contains("gateway ready again"), "{}", text(&out.stderr));
}

#[test]
fn probe_answers_for_ready_live_html_and_nothing() {
    let home = Scratch::new("probe");
    let probe = |env: &[(&str, &str)]| {
        let script = format!(
            "{PY} {} & for i in $(seq 40); do \"$0\" probe {} && exit 0; sleep 0.05; done; exit 1",
            helper("fake_gateway.py"),
            env.iter().find(|(k, _)| *k == "ARG").map_or("", |(_, v)| *v)
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--net", "sh", "-c", &format!("ip link set lo up && {script}")])
            .arg(env!("CARGO_BIN_EXE_clawinit"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &home.0)
            .envs(env.iter().copied().filter(|(k, _)| *k != "ARG"));
        code(&cmd.output().unwrap())
    };
    assert_eq!(probe(&[]), 0);
    assert_eq!(probe(&[("FAKE_READY_AFTER", "never")]), 1, "503 is not ready");
    assert_eq!(probe(&[("FAKE_READY_AFTER", "never"), ("ARG", "--live")]), 0, "but it is live");
    assert_eq!(probe(&[("FAKE_HTML", "1")]), 1, "an HTML 200 is not ready");
    let out = clawinit(&home.0).env("OPENCLAW_GATEWAY_PORT", "1").arg("probe").output().unwrap();
    assert_eq!(code(&out), 1, "nothing listening");
}
