//! Reload in `run`, with clawinit as a real PID 1: SIGHUP (and the watch of
//! `CLAWINIT_SECRETS_WATCH`) reads every source again. Asserted on what the
//! processes are: the gateway's and the worker's pids and the environment
//! the kernel holds for them (`/proc/<pid>/environ`), the bytes of
//! openclaw.json, and clawinit's log; a canary value never appears in it.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::ns::*;
use support::reload::*;
use support::*;

/// Wait until the gateway's pid differs from `old` and that gateway is
/// ready again (its "ready" line in the fake log), returning the new pid.
fn wait_for_new_gateway(running: &Running, log: &Path, old: i32, ready_lines: usize) -> i32 {
    wait_for_count(log, "gateway ready ", ready_lines);
    let new = gateway_pid(running);
    assert_ne!(new, old, "the gateway was restarted");
    new
}

#[test]
fn a_changed_value_restarts_the_gateway_alone_with_the_new_environment() {
    let home = Scratch::new("r-value");
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    let (old, new) = (format!("{}-old", canary()), format!("{}-new", canary()));
    write_secret(&dir, "OPENAI_API_KEY", &old);
    let dir_s = dir.display().to_string();
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s)]);
    let (gateway, worker) = (gateway_pid(&running), worker_pid(&running));
    assert_eq!(environ(gateway)["OPENAI_API_KEY"], old);

    write_secret(&dir, "OPENAI_API_KEY", &new);
    running.signal(Signal::SIGHUP);
    let again = wait_for_new_gateway(&running, &log, gateway, 2);
    assert_eq!(environ(again)["OPENAI_API_KEY"], new, "the new gateway has the new value");
    assert_eq!(worker_pid(&running), worker, "the worker kept running");
    assert_eq!(environ(worker)["OPENAI_API_KEY"], old, "the worker was not restarted (CLAWINIT_RELOAD_WORKER=keep)");
    assert_eq!(count(&log, "gateway term"), 1, "the old gateway was stopped with TERM");
    assert_eq!(count(&log, "worker start"), 1);

    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert!(
        stderr.contains("reload: restarting the gateway") && stderr.contains("variables=OPENAI_API_KEY"),
        "{stderr}"
    );
    assert!(stderr.contains("gateway ready again after the reload") && stderr.contains("not_ready_ms="), "{stderr}");
    assert!(!stderr.contains(&canary()), "no value in the log: {stderr}");
}

#[test]
fn a_sops_file_re_encrypted_with_the_same_values_is_nothing_changed() {
    let home = Scratch::new("r-same");
    let file = home.0.join("secrets.env");
    let plain = format!("ANTHROPIC_API_KEY={}\n", canary());
    sops_encrypt_dotenv(&plain, &file);
    let key = fixtures().join("keys/key1.txt").display().to_string();
    let file_s = file.display().to_string();
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_FILE", &file_s), ("SOPS_AGE_KEY_FILE", &key)]);
    let (gateway, worker) = (gateway_pid(&running), worker_pid(&running));
    let config = home.0.join("state/openclaw.json");
    let before = std::fs::read(&config).unwrap();

    let encrypted_before = std::fs::read(&file).unwrap();
    sops_encrypt_dotenv(&plain, &file);
    assert_ne!(std::fs::read(&file).unwrap(), encrypted_before, "sops re-encrypted with a new data key");
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 1), "nothing changed");
    assert_eq!((gateway_pid(&running), worker_pid(&running)), (gateway, worker), "nothing was restarted");
    assert_eq!(std::fs::read(&config).unwrap(), before, "openclaw.json untouched");
    assert_eq!(count(&log, "gateway start"), 1);
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    let reload_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("reload")).collect();
    assert_eq!(reload_lines.len(), 1, "one line: {reload_lines:?}");
    assert!(reload_lines[0].contains("reload: nothing changed"), "{stderr}");
    assert!(!stderr.contains(&canary()), "{stderr}");
}

#[test]
fn a_config_only_change_rewrites_openclaw_json_and_restarts_nothing() {
    let home = Scratch::new("r-config");
    let overlay = home.0.join("overlay.json5");
    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 100 } } }").unwrap();
    let overlay_s = overlay.display().to_string();
    let (running, log) =
        start(&home, &[("CLAWINIT_CONFIG_OVERLAY", &overlay_s), ("OPENAI_API_KEY", "sk-not-a-real-key")]);
    let (gateway, worker) = (gateway_pid(&running), worker_pid(&running));
    let config = home.0.join("state/openclaw.json");
    assert!(text(&std::fs::read(&config).unwrap()).contains("100"));

    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 200 } } }").unwrap();
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 1), "config rewritten");
    assert!(text(&std::fs::read(&config).unwrap()).contains("200"), "openclaw.json rewritten");
    assert_eq!((gateway_pid(&running), worker_pid(&running)), (gateway, worker), "nothing was restarted");
    assert_eq!(count(&log, "gateway start"), 1);
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("reload: openclaw.json rewritten"), "{stderr}");
    assert_openclaw_accepts(&config, &[("OPENAI_API_KEY", "sk-not-a-real-key")]);
}

#[test]
fn a_tampered_file_on_reload_keeps_everything_on_the_old_values_and_the_next_reload_works() {
    let home = Scratch::new("r-tamper");
    let file = home.0.join("secrets.env");
    let (old, new) = (format!("{}-old", canary()), format!("{}-new", canary()));
    sops_encrypt_dotenv(&format!("OPENAI_API_KEY={old}\n"), &file);
    let key = fixtures().join("keys/key1.txt").display().to_string();
    let file_s = file.display().to_string();
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_FILE", &file_s), ("SOPS_AGE_KEY_FILE", &key)]);
    let (gateway, worker) = (gateway_pid(&running), worker_pid(&running));
    let config = home.0.join("state/openclaw.json");
    let config_before = std::fs::read(&config).unwrap();

    // A valid file for another value, with the MAC of the first: 68 at start.
    let good = std::fs::read_to_string(&file).unwrap();
    sops_encrypt_dotenv(&format!("OPENAI_API_KEY={new}\n"), &file);
    let other = std::fs::read_to_string(&file).unwrap();
    let mac = |doc: &str| doc.lines().find(|l| l.starts_with("sops_mac=")).unwrap().to_string();
    std::fs::write(&file, other.replace(&mac(&other), &mac(&good))).unwrap();
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 1), "failed");
    assert_eq!((gateway_pid(&running), worker_pid(&running)), (gateway, worker), "everything kept running");
    assert_eq!(environ(gateway)["OPENAI_API_KEY"], old);
    assert_eq!(std::fs::read(&config).unwrap(), config_before, "openclaw.json untouched");

    // The next reload, on a good file, goes through.
    std::fs::write(&file, &other).unwrap();
    running.signal(Signal::SIGHUP);
    let again = wait_for_new_gateway(&running, &log, gateway, 2);
    assert_eq!(environ(again)["OPENAI_API_KEY"], new);
    assert_eq!(worker_pid(&running), worker);
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    let failed: Vec<&str> = stderr.lines().filter(|l| l.contains("reload failed")).collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    assert!(failed[0].contains("keeps running on the old values") && failed[0].contains("secrets.env"), "{stderr}");
    assert!(!stderr.contains(&canary()), "{stderr}");
}

#[test]
fn a_reload_during_the_readiness_gate_gates_the_new_gateway_and_then_starts_the_worker() {
    let home = Scratch::new("r-gate");
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-old");
    let dir_s = dir.display().to_string();
    let log = home.0.join("log");
    let env = [("CLAWINIT_SECRETS_DIR", dir_s.as_str()), ("FAKE_READY_AFTER", "2")];
    let running = Running::start(run_pair(&home.0, &log, &env));
    wait_for_line(&log, "gateway ready-at");
    let gateway = gateway_pid(&running);
    write_secret(&dir, "OPENAI_API_KEY", "sk-new");
    running.signal(Signal::SIGHUP);
    wait_for_line(&log, "worker start");
    let lines = log_lines(&log);
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap();
    assert_eq!(count(&log, "gateway start"), 2, "{lines:?}");
    assert!(at("gateway term") < at("worker start"), "{lines:?}");
    assert_eq!(count(&log, "gateway ready "), 1, "only the new gateway was ever ready: {lines:?}");
    assert!(at("gateway ready ") < at("worker start"), "the worker waited for the new gateway: {lines:?}");
    let again = gateway_pid(&running);
    assert_ne!(again, gateway);
    assert_eq!(environ(again)["OPENAI_API_KEY"], "sk-new");
    assert_eq!(environ(worker_pid(&running))["OPENAI_API_KEY"], "sk-new", "the worker starts with the new values");
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
}

#[test]
fn a_hup_storm_restarts_the_gateway_once() {
    let home = Scratch::new("r-storm");
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-old");
    let dir_s = dir.display().to_string();
    // A gateway that takes its time to stop: the storm arrives mid-reload.
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("FAKE_TERM_DELAY", "0.5")]);
    let (gateway, worker) = (gateway_pid(&running), worker_pid(&running));
    write_secret(&dir, "OPENAI_API_KEY", "sk-new");
    for _ in 0..50 {
        running.signal(Signal::SIGHUP);
        std::thread::sleep(Duration::from_millis(10));
    }
    let again = wait_for_new_gateway(&running, &log, gateway, 2);
    // Every HUP that arrived after the restart is a reload of its own, and
    // finds nothing changed; those during it were one more reload.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(gateway_pid(&running), again, "no second restart");
    assert_eq!(count(&log, "gateway start"), 2, "{:?}", log_lines(&log));
    assert_eq!(worker_pid(&running), worker);
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(stderr.matches("reload: restarting the gateway").count(), 1, "{stderr}");
}

#[test]
fn reload_worker_restart_restarts_the_worker_once_the_gateway_is_ready_again() {
    let home = Scratch::new("r-worker");
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-old");
    let dir_s = dir.display().to_string();
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_RELOAD_WORKER", "restart")]);
    let (gateway, worker) = (gateway_pid(&running), worker_pid(&running));
    write_secret(&dir, "OPENAI_API_KEY", "sk-new");
    running.signal(Signal::SIGHUP);
    wait_for_count(&log, "worker start", 2);
    let lines = log_lines(&log);
    let last = |prefix: &str| lines.iter().rposition(|l| l.starts_with(prefix)).unwrap();
    assert!(last("gateway ready ") < last("worker start"), "the worker after the new gateway is ready: {lines:?}");
    assert_ne!(gateway_pid(&running), gateway);
    let again = worker_pid(&running);
    assert_ne!(again, worker);
    assert_eq!(environ(again)["OPENAI_API_KEY"], "sk-new");
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "the run goes on after the worker's restart: {stderr}");
}

#[test]
fn the_watch_sees_a_kubernetes_symlink_swap_once() {
    let home = Scratch::new("r-k8s");
    let dir = home.0.join("secret-volume");
    std::fs::create_dir(&dir).unwrap();
    // Kubernetes' layout: the files are links through `..data`, a link to a
    // timestamped directory that an update replaces atomically.
    let version = |name: &str, value: &str| {
        let v = dir.join(name);
        std::fs::create_dir(&v).unwrap();
        std::fs::write(v.join("OPENAI_API_KEY"), value).unwrap();
        let stamp = filetime_of(&dir.join("..2026_12_03_a/OPENAI_API_KEY"));
        set_mtime(&v.join("OPENAI_API_KEY"), stamp);
    };
    let v1 = dir.join("..2026_12_03_a");
    std::fs::create_dir(&v1).unwrap();
    std::fs::write(v1.join("OPENAI_API_KEY"), "sk-aaaa").unwrap();
    std::os::unix::fs::symlink("..2026_12_03_a", dir.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/OPENAI_API_KEY", dir.join("OPENAI_API_KEY")).unwrap();
    let dir_s = dir.display().to_string();
    let (running, log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_SECRETS_WATCH", "1")]);
    let gateway = gateway_pid(&running);
    assert_eq!(environ(gateway)["OPENAI_API_KEY"], "sk-aaaa");

    // The same size and mtime: only the content tells.
    version("..2026_12_03_b", "sk-bbbb");
    std::os::unix::fs::symlink("..2026_12_03_b", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    let swapped = Instant::now();
    let again = wait_for_new_gateway(&running, &log, gateway, 2);
    assert!(swapped.elapsed() < Duration::from_secs(4), "seen within two periods and a restart");
    assert_eq!(environ(again)["OPENAI_API_KEY"], "sk-bbbb");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(count(&log, "gateway start"), 2, "exactly one reload: {:?}", log_lines(&log));
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(stderr.matches("CLAWINIT_SECRETS_WATCH").count(), 1, "{stderr}");
}

#[test]
fn the_watch_sees_a_rename_over_with_the_same_size_and_mtime_once() {
    let home = Scratch::new("r-rename");
    let key_file = home.0.join("anthropic.key");
    std::fs::write(&key_file, "sk-ant-aaaa\n").unwrap();
    let stamp = filetime_of(&key_file);
    let key_s = key_file.display().to_string();
    let (running, log) = start(&home, &[("ANTHROPIC_API_KEY_FILE", &key_s), ("CLAWINIT_SECRETS_WATCH", "1")]);
    let gateway = gateway_pid(&running);
    assert_eq!(environ(gateway)["ANTHROPIC_API_KEY"], "sk-ant-aaaa");
    assert!(!environ(gateway).contains_key("ANTHROPIC_API_KEY_FILE"));

    let tmp = home.0.join("anthropic.key.swp");
    std::fs::write(&tmp, "sk-ant-bbbb\n").unwrap();
    set_mtime(&tmp, stamp);
    std::fs::rename(&tmp, &key_file).unwrap();
    let again = wait_for_new_gateway(&running, &log, gateway, 2);
    assert_eq!(environ(again)["ANTHROPIC_API_KEY"], "sk-ant-bbbb");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(count(&log, "gateway start"), 2, "exactly one reload: {:?}", log_lines(&log));
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
}

#[test]
fn the_watch_does_not_spin_between_checks() {
    let home = Scratch::new("r-idle");
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-idle");
    let dir_s = dir.display().to_string();
    let (running, _log) = start(&home, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_SECRETS_WATCH", "1")]);
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", running.host_pid)).unwrap();
        let fields: Vec<u64> =
            stat.rsplit_once(')').unwrap().1.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        fields[10] + fields[11] // utime + stime, in clock ticks (after state and ppid…)
    };
    let before = ticks();
    std::thread::sleep(Duration::from_secs(3));
    let used = ticks() - before;
    // Three checks of one small file: well under a tick each; a busy loop
    // would use ~300 ticks.
    assert!(used <= 5, "clawinit used {used} ticks in 3 s of watching");
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
}

#[test]
fn exec_still_forwards_hup() {
    let home = Scratch::new("r-exec");
    let out =
        pid1(&home.0, &["exec", "--", "sh", "-c", "trap 'echo got-hup; exit 7' HUP; kill -HUP 1; sleep 5 & wait"], &[])
            .output()
            .unwrap();
    assert_eq!(code(&out), 7, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("got-hup"));
}

fn filetime_of(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn set_mtime(path: &Path, when: std::time::SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
}
