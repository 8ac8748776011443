//! Reload at its edges, with clawinit as a real PID 1 (found by an
//! adversarial review; each failed on the first reload commit, d633b03, or
//! holds up a promise): stop requests, exits and HUPs during a reload, a
//! gateway or worker that will not go, hostile sources, the privileged write.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::ns::*;
use support::reload::*;
use support::*;

// ---- helpers ----

fn secrets_dir(home: &Scratch, name: &str, value: &str) -> (PathBuf, String) {
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, name, value);
    let s = dir.display().to_string();
    (dir, s)
}

fn alive(running: &Running) -> bool {
    // clawinit's host pid is alive and not a zombie.
    std::fs::read_to_string(format!("/proc/{}/stat", running.host_pid))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with(|c| c != 'Z')))
        .unwrap_or(false)
}

// ---- findings: each failed on d633b03 ----

/// A HUP that arrives while `CLAWINIT_RELOAD_WORKER=restart` stops the worker
/// sets `reload_again`, which nothing reads any more: the rotation is lost.
#[test]
fn a_hup_during_the_worker_restart_is_not_lost() {
    let home = Scratch::new("rr-hup-lost");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let (running, log) = start(
        &home,
        &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_RELOAD_WORKER", "restart"), ("WORKER_TERM_DELAY", "2")],
    );
    write_secret(&dir, "OPENAI_API_KEY", "sk-v2");
    running.signal(Signal::SIGHUP);
    // The new gateway is ready; the worker now lingers 2 s after its TERM.
    wait_for_line(&log, "worker term");
    write_secret(&dir, "OPENAI_API_KEY", "sk-v3");
    running.signal(Signal::SIGHUP);
    let got_v3 = eventually(Duration::from_secs(10), || {
        child_pid(&running, "fake_gateway.py")
            .is_some_and(|g| environ(g).get("OPENAI_API_KEY").map(String::as_str) == Some("sk-v3"))
    });
    let (stderr, _) = stop(running);
    assert!(got_v3, "the second HUP (sk-v3) was never acted on: {stderr}");
}

/// With `CLAWINIT_RELOAD_WORKER=restart`, a reload that changes a value while
/// the gateway is in restart backoff updates only the next gateway: the
/// worker is never restarted, and every later HUP says "nothing changed".
#[test]
fn reload_worker_restart_also_applies_when_the_reload_came_during_the_restart_backoff() {
    let home = Scratch::new("rr-backoff");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let (running, log) = start(
        &home,
        &[
            ("CLAWINIT_SECRETS_DIR", &dir_s),
            ("CLAWINIT_RELOAD_WORKER", "restart"),
            ("CLAWINIT_GATEWAY_RESTART", "on-failure"),
        ],
    );
    wait_for_count(&log, "gateway ready ", 1);
    let gateway = gateway_pid(&running);
    kill(Pid::from_raw(gateway), Signal::SIGKILL).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || status(&running)
            .is_some_and(|s| s["children"]["gateway"]["pid"].is_null())),
        "the gateway's death was seen"
    );
    write_secret(&dir, "OPENAI_API_KEY", "sk-v2");
    running.signal(Signal::SIGHUP); // within the 1 s backoff
    wait_for_count(&log, "gateway ready ", 2);
    let again = gateway_pid(&running);
    assert_eq!(environ(again)["OPENAI_API_KEY"], "sk-v2");
    let worker_has_v2 = eventually(Duration::from_secs(5), || {
        child_pid(&running, "worker.py")
            .is_some_and(|w| environ(w).get("OPENAI_API_KEY").map(String::as_str) == Some("sk-v2"))
    });
    let (stderr, _) = stop(running);
    assert!(worker_has_v2, "CLAWINIT_RELOAD_WORKER=restart: the worker still runs with sk-v1: {stderr}");
}

/// The gateway and the worker share one token (config/token.rs). Rotating
/// OPENCLAW_GATEWAY_TOKEN in a source restarts the gateway alone (keep):
/// the worker keeps the old token and can no longer talk to the gateway.
#[test]
fn a_rotated_gateway_token_keeps_the_gateway_and_the_worker_matching() {
    let home = Scratch::new("rr-token");
    let (dir, dir_s) = secrets_dir(&home, "OPENCLAW_GATEWAY_TOKEN", "tok-aaaa");
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s)]);
    let gateway = gateway_pid(&running);
    assert_eq!(environ(gateway)["OPENCLAW_GATEWAY_TOKEN"], environ(worker_pid(&running))["OPENCLAW_GATEWAY_TOKEN"]);
    write_secret(&dir, "OPENCLAW_GATEWAY_TOKEN", "tok-bbbb");
    running.signal(Signal::SIGHUP);
    wait_for_count(&log, "gateway ready ", 2);
    // The worker is restarted once the new gateway is ready: wait for its
    // successor (between the two, no worker runs).
    let restarted = eventually(Duration::from_secs(10), || count(&log, "worker start") >= 2);
    let (g, w) = (environ(gateway_pid(&running)), environ(worker_pid(&running)));
    let _ = stop(running);
    assert!(restarted, "the worker was not restarted with the new token");
    assert_eq!(g["OPENCLAW_GATEWAY_TOKEN"], "tok-bbbb");
    assert_eq!(
        g["OPENCLAW_GATEWAY_TOKEN"], w["OPENCLAW_GATEWAY_TOKEN"],
        "the worker must hold the gateway's token after a reload"
    );
}

/// A reload that changes the gateway's port (OPENCLAW_GATEWAY_PORT from a
/// source) restarts the gateway on the new port, but the supervisor keeps
/// probing the start's port (`options.port`): the re-gate never completes,
/// `status` says `gating` forever.
#[test]
fn a_reload_that_moves_the_gateway_port_re_gates_on_the_new_port() {
    // The port comes from clawinit's own environment or the config, never
    // from a secret source (tests/trust.rs): moved here by the overlay, with
    // a key change that restarts the gateway.
    let home = Scratch::new("rr-port");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-1");
    let overlay = home.0.join("overlay.json5");
    std::fs::write(&overlay, "{ gateway: { port: 18789 } }").unwrap();
    let overlay_s = overlay.display().to_string();
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_CONFIG_OVERLAY", &overlay_s)]);
    std::fs::write(&overlay, "{ gateway: { port: 18790 } }").unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-2");
    running.signal(Signal::SIGHUP);
    wait_for_count(&log, "gateway start", 2);
    let ready = eventually(Duration::from_secs(6), || status(&running).is_some_and(|s| s["phase"] == "ready"));
    let phase = status(&running).map(|s| s["phase"].clone());
    let _ = stop(running);
    assert!(ready, "the new gateway listens on 18790 and is ready, but the supervisor says {phase:?}");
}

/// A value that execve cannot take (one variable > 128 KiB: E2BIG) passes
/// every reload check; the old gateway is stopped first, then the spawn
/// fails and clawinit ends the whole run (126), whatever the restart policy:
/// "any failure → everything keeps running on the old values".
#[test]
fn a_value_execve_refuses_on_reload_keeps_the_run_going() {
    let home = Scratch::new("rr-e2big");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_GATEWAY_RESTART", "on-failure")]);
    let _ = log;
    write_secret(&dir, "BIG_BLOB", &"x".repeat(200_000)); // under the 1 MiB file cap
    running.signal(Signal::SIGHUP);
    std::thread::sleep(Duration::from_secs(3));
    let still_running = alive(&running) && child_pid(&running, "fake_gateway.py").is_some();
    if still_running {
        let (stderr, code) = stop(running);
        assert_eq!(code, 143, "{stderr}");
    } else {
        let (out, _) = running.finish(Duration::from_secs(15));
        panic!("clawinit ended the run ({}) on a reload: {}", code(&out), text(&out.stderr));
    }
}

/// Relative source paths work at the start (read before the supervisor
/// leaves the start directory) but a reload reads them relative to `/`:
/// every reload fails, and the watch sees a "change" one period after the
/// start with nothing changed.
#[test]
fn relative_source_paths_are_read_from_the_same_place_on_reload() {
    let home = Scratch::new("rr-relative");
    let (dir, _) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let log = home.0.join("log");
    let mut cmd = run_pair(&home.0, &log, &[("CLAWINIT_SECRETS_DIR", "secrets"), ("CLAWINIT_SECRETS_WATCH", "1")]);
    cmd.current_dir(&home.0);
    let running = Running::start(cmd);
    wait_for_line(&log, "worker start");
    let gateway = gateway_pid(&running);
    assert_eq!(environ(gateway)["OPENAI_API_KEY"], "sk-v1");
    std::thread::sleep(Duration::from_millis(2500)); // two watch periods, nothing changed
    write_secret(&dir, "OPENAI_API_KEY", "sk-v2");
    running.signal(Signal::SIGHUP);
    let got_v2 = eventually(Duration::from_secs(6), || {
        child_pid(&running, "fake_gateway.py")
            .is_some_and(|g| environ(g).get("OPENAI_API_KEY").map(String::as_str) == Some("sk-v2"))
    });
    let (stderr, _) = stop(running);
    assert!(!stderr.contains("reload failed"), "{stderr}");
    assert!(got_v2, "{stderr}");
}

/// TERM that arrives while `CLAWINIT_RELOAD_WORKER=restart` stops the worker
/// waits for the worker's share, then the shutdown starts a fresh
/// `CLAWINIT_STOP_TIMEOUT`: "seconds for the whole shutdown" is exceeded
/// (Docker's SIGKILL comes first with the defaults 9 s / 10 s).
#[test]
fn term_during_the_worker_restart_stays_within_the_stop_timeout() {
    let home = Scratch::new("rr-term-budget");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let (running, log) = start(
        &home,
        &[
            ("CLAWINIT_SECRETS_DIR", &dir_s),
            ("CLAWINIT_RELOAD_WORKER", "restart"),
            ("CLAWINIT_STOP_TIMEOUT", "6"),
            ("WORKER_IGNORE_TERM", "1"),
            ("FAKE_TERM_DELAY", "60"),
        ],
    );
    write_secret(&dir, "OPENAI_API_KEY", "sk-v2");
    running.signal(Signal::SIGHUP);
    wait_for_line(&log, "worker ignores term");
    let asked = Instant::now();
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(30));
    let took = asked.elapsed();
    assert!(
        took < Duration::from_millis(6500),
        "TERM → exit took {took:?} with CLAWINIT_STOP_TIMEOUT=6: {}",
        text(&out.stderr)
    );
}

/// On a requested shutdown the exit code is the worker's. A TERM during the
/// worker's reload restart: the worker dies of TERM (its ending is dropped
/// by `stop_alone`), no new worker is started, and the run ends with the
/// gateway's code (0 here) instead of 143.
#[test]
fn term_during_the_worker_restart_exits_with_the_workers_code() {
    let home = Scratch::new("rr-term-code");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let (running, log) = start(
        &home,
        &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_RELOAD_WORKER", "restart"), ("WORKER_TERM_DELAY", "1")],
    );
    write_secret(&dir, "OPENAI_API_KEY", "sk-v2");
    running.signal(Signal::SIGHUP);
    wait_for_line(&log, "worker term");
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "the worker died of TERM on a requested shutdown: {stderr}");
}

/// The config write on reload takes the lock in the state dir, which the
/// unprivileged gateway can hold: the supervisor then polls it for 30 s in
/// a synchronous sleep loop. Meanwhile PID 1 reaps nothing and decides
/// nothing: here the worker dies and the run is not ended for ~30 s.
#[test]
fn a_held_config_lock_on_reload_does_not_freeze_the_supervisor() {
    let home = Scratch::new("rr-lock");
    let overlay = home.0.join("overlay.json5");
    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 100 } } }").unwrap();
    let overlay_s = overlay.display().to_string();
    let (running, _log) =
        start(&home, &[("CLAWINIT_CONFIG_OVERLAY", &overlay_s), ("OPENAI_API_KEY", "sk-not-a-real-key")]);
    let worker = worker_pid(&running);
    // The gateway's user (here: the test) holds clawinit's lock.
    // The lock is a flock on the state dir itself.
    let file = std::fs::File::open(home.0.join("state")).unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e).unwrap();
    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 200 } } }").unwrap();
    running.signal(Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(worker), Signal::SIGKILL).unwrap();
    let died = Instant::now();
    let ended = eventually(Duration::from_secs(5), || !alive(&running));
    drop(held);
    let (out, _) = running.finish(Duration::from_secs(40));
    assert!(ended, "the worker's death went unhandled for {:?}: {}", died.elapsed(), text(&out.stderr));
    assert_eq!(code(&out), 137);
}

// ---- probes that held up from the start ----

/// A gateway that ignores TERM on a reload is SIGKILLed after its share
/// (gateway_reserve(3 s) = 1.5 s) and the new one starts.
#[test]
fn a_gateway_ignoring_term_on_reload_is_killed_after_its_share() {
    let home = Scratch::new("rr-kill");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let (running, log) =
        start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_STOP_TIMEOUT", "3"), ("FAKE_TERM_DELAY", "60")]);
    let worker = worker_pid(&running);
    write_secret(&dir, "OPENAI_API_KEY", "sk-v2");
    let asked = Instant::now();
    running.signal(Signal::SIGHUP);
    wait_for_count(&log, "gateway start", 2);
    let took = asked.elapsed();
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_millis(3000), "{took:?}");
    wait_for_count(&log, "gateway ready ", 2);
    assert_eq!(worker_pid(&running), worker);
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(10));
    assert_eq!(code(&out), 143, "{}", text(&out.stderr));
}

/// TERM while the reload's gateway stop is under way: a clean shutdown, no
/// new gateway, the worker's code.
#[test]
fn term_during_the_gateway_stop_of_a_reload_shuts_down_cleanly() {
    let home = Scratch::new("rr-term-gw");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let (running, log) =
        start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_STOP_TIMEOUT", "6"), ("FAKE_TERM_DELAY", "1")]);
    write_secret(&dir, "OPENAI_API_KEY", "sk-v2");
    running.signal(Signal::SIGHUP);
    wait_for_line(&log, "gateway term");
    let asked = Instant::now();
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(15));
    assert!(asked.elapsed() < Duration::from_secs(6), "{:?}", asked.elapsed());
    assert_eq!(code(&out), 143, "{}", text(&out.stderr));
    assert_eq!(count(&log, "gateway start"), 1, "no new gateway once a stop is queued: {:?}", log_lines(&log));
}

/// A slow SOPS_AGE_KEY_CMD on reload: TERM still ends clawinit promptly.
#[test]
fn term_during_a_slow_key_command_on_reload_exits_promptly() {
    let home = Scratch::new("rr-keycmd");
    let file = home.0.join("secrets.env");
    sops_encrypt_dotenv(&format!("OPENAI_API_KEY={}\n", canary()), &file);
    let key = fixtures().join("keys/key1.txt").display().to_string();
    let mark = home.0.join("slow");
    let script = home.0.join("key.sh");
    std::fs::write(&script, format!("#!/bin/sh\n[ -e {} ] && sleep 25\ncat {key}\n", mark.display())).unwrap();
    std::fs::set_permissions(&script, <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755))
        .unwrap();
    let (file_s, script_s) = (file.display().to_string(), script.display().to_string());
    let (running, _log) = start(&home, &[("CLAWINIT_SECRETS_FILE", &file_s), ("SOPS_AGE_KEY_CMD", &script_s)]);
    std::fs::write(&mark, "").unwrap();
    running.signal(Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(700));
    let asked = Instant::now();
    running.signal(Signal::SIGTERM);
    let (out, _) = running.finish(Duration::from_secs(30));
    assert!(asked.elapsed() < Duration::from_secs(4), "{:?}: {}", asked.elapsed(), text(&out.stderr));
    assert_eq!(code(&out), 143, "{}", text(&out.stderr));
    assert!(!contains(&out.stderr, &canary()));
}

/// A FIFO planted in the secrets dir, a file over the cap, and the dir
/// vanishing: the watch and the reload never hang PID 1, a failure is one
/// line, the values are never logged.
#[test]
fn hostile_secrets_dir_contents_on_watch_never_hang_and_never_leak() {
    let home = Scratch::new("rr-fifo");
    let value = format!("{}-v1", canary());
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", &value);
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_SECRETS_WATCH", "1")]);
    nix::unistd::mkfifo(&dir.join("FIFO_SECRET"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", &format!("{}-v2", canary()));
    wait_for_count(&log, "gateway ready ", 2);
    assert!(status(&running).is_some(), "the supervisor answers");
    std::fs::write(dir.join("HUGE"), vec![b'x'; (1 << 20) + 1]).unwrap();
    assert_eq!(wait_for_reloads(&running, 2), "failed");
    std::fs::remove_file(dir.join("HUGE")).unwrap();
    assert_eq!(wait_for_reloads(&running, 3), "nothing changed");
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(stderr.matches("reload failed").count(), 1, "{stderr}");
    assert!(!stderr.contains(&canary()), "{stderr}");
}

/// A value from the process environment wins over a source (override
/// false): changing it in the source is no change for the children.
#[test]
fn a_source_change_shadowed_by_the_environment_is_nothing_changed() {
    let home = Scratch::new("rr-shadow");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-file-1");
    let (running, _log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("OPENAI_API_KEY", "sk-env")]);
    let gateway = gateway_pid(&running);
    write_secret(&dir, "OPENAI_API_KEY", "sk-file-2");
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 1), "nothing changed");
    assert_eq!(gateway_pid(&running), gateway);
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
}

/// With CLAWINIT_USER the state dir is the user's: a config rewritten on
/// reload is the user's file, and a symlink the user plants as
/// openclaw.json never makes root write its target.
#[test]
fn the_privileged_config_write_on_reload_respects_the_users_state_dir() {
    use std::os::unix::fs::MetadataExt;
    let home = Scratch::new("rr-user");
    let overlay = home.0.join("overlay.json5");
    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 100 } } }").unwrap();
    let log = home.0.join("log");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666))
        .unwrap();
    let overlay_s = overlay.display().to_string();
    let env = [
        ("CLAWINIT_CONFIG_OVERLAY", overlay_s.as_str()),
        ("OPENAI_API_KEY", "sk-not-a-real-key"),
        ("CLAWINIT_USER", "65534:65534"),
    ];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_line(&log, "worker start");
    let config = home.0.join("state/openclaw.json");
    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 200 } } }").unwrap();
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 1), "config rewritten");
    let meta = std::fs::symlink_metadata(&config).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "the rewritten config is the user's");

    // The user swaps openclaw.json for a link to a root file.
    let target = home.0.join("root-owned.json");
    std::fs::write(&target, "{}\n").unwrap();
    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink(&target, &config).unwrap();
    std::os::unix::fs::lchown(&config, Some(65534), Some(65534)).unwrap();
    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 300 } } }").unwrap();
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 2), "failed");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}\n", "root never wrote through the user's link");
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("reload failed") && stderr.contains("symlink"), "{stderr}");
}

/// The worker dies while a reload stops the gateway: once the gateway is
/// down the run ends with the worker's code, no orphan left.
#[test]
fn the_worker_dying_during_the_reloads_gateway_stop_ends_the_run_with_its_code() {
    let home = Scratch::new("rr-worker-dies");
    let (dir, dir_s) = secrets_dir(&home, "OPENAI_API_KEY", "sk-v1");
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("FAKE_TERM_DELAY", "1")]);
    let worker = worker_pid(&running);
    write_secret(&dir, "OPENAI_API_KEY", "sk-v2");
    running.signal(Signal::SIGHUP);
    wait_for_line(&log, "gateway term");
    let died = Instant::now();
    kill(Pid::from_raw(worker), Signal::SIGKILL).unwrap();
    let (out, _) = running.finish(Duration::from_secs(15));
    assert!(died.elapsed() < Duration::from_secs(4), "{:?}", died.elapsed());
    assert_eq!(code(&out), 137, "{}", text(&out.stderr));
}
