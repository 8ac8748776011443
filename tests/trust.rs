//! Trust, second round (issue 21): what a hostile side gets from the reload,
//! the watch, the secret sources, the status socket and the restart limit,
//! with clawinit as a real PID 1. Each test failed on 111cfe5 (the commit
//! before the fixes) and names what the attacker got there.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::ns::*;
use support::reload::*;
use support::*;

/// Run a namespace that should end by itself; a run that does not end within
/// `limit` is killed (its PID 1, which ends the namespace) and fails the test.
fn within(limit: Duration, mut cmd: Command) -> std::process::Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let unshare = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if started.elapsed() > limit {
            let pid1 = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).unwrap_or_default();
            for pid in pid1.split_whitespace().filter_map(|p| p.parse().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
            let out = waiter.join().unwrap();
            panic!("still running after {limit:?}: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().unwrap()
}

fn mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A directory only root can enter, like `/root` or `/etc/ssl/private`.
fn root_only(home: &Scratch) -> PathBuf {
    let dir = home.0.join("root-only");
    std::fs::create_dir(&dir).unwrap();
    mode(&dir, 0o700);
    dir
}

fn gateway_env_value(running: &Running, name: &str) -> Option<String> {
    child_pid(running, "fake_gateway.py").and_then(|g| environ(g).get(name).cloned())
}

// ---- 1. a secret source never decides where root reads or writes ----

/// The gateway's user owns the secrets dir and writes `OPENCLAW_CONFIG_PATH`
/// into it: on 111cfe5 the watch's reload made root create a subtree inside
/// a root-only directory, owned by the user. Now such a dir is refused at
/// the start with 78, and nothing is written anywhere.
#[test]
fn a_secrets_dir_the_user_can_write_is_refused_at_the_start() {
    let home = Scratch::new("t-dir-owner");
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-user-dir");
    let victim = root_only(&home);
    write_secret(&dir, "OPENCLAW_CONFIG_PATH", &victim.join("sub/openclaw.json").display().to_string());
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let log = home.0.join("log");
    let dir_s = dir.display().to_string();
    let out = within(
        Duration::from_secs(10),
        run_pair(&home.0, &log, &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_SECRETS_WATCH", "1")]),
    );
    assert_eq!(code(&out), 78, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("CLAWINIT_SECRETS_DIR"), "{}", text(&out.stderr));
    assert!(!victim.join("sub").exists(), "root created a subtree the user chose");
    assert!(!home.0.join("state").exists() && log_lines(&log).is_empty(), "nothing written, nothing spawned");

    // Group-writable (not sticky) is the same: anyone in the group can add a file.
    std::os::unix::fs::chown(&dir, Some(0), Some(0)).unwrap();
    mode(&dir, 0o775);
    let out = within(Duration::from_secs(10), run_pair(&home.0, &log, &[("CLAWINIT_SECRETS_DIR", &dir_s)]));
    assert_eq!(code(&out), 78, "{}", text(&out.stderr));
}

/// Even in a root-owned dir (or a SOPS file, or `<NAME>_FILE`), the names
/// that say where clawinit reads and writes are dropped with one warning
/// naming the source: the config lands where clawinit's own environment
/// says, the root-only directory stays empty, the children never see them.
#[test]
fn names_that_steer_root_are_dropped_from_every_source() {
    let home = Scratch::new("t-steer");
    let victim = root_only(&home);
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-dir");
    write_secret(&dir, "OPENCLAW_STATE_DIR", &victim.join("state").display().to_string());
    write_secret(&dir, "HOME", &victim.display().to_string());
    write_secret(&dir, "CLAWINIT_SECRETS_DIR", &victim.display().to_string());
    let sops = home.0.join("s.env");
    let moved = victim.join("cfg/openclaw.json").display().to_string();
    sops_encrypt_dotenv(&format!("OPENCLAW_CONFIG_PATH={moved}\nOPENCLAW_GATEWAY_PORT=1\n"), &sops);
    let key = fixtures().join("keys/key1.txt").display().to_string();
    let (dir_s, sops_s) = (dir.display().to_string(), sops.display().to_string());
    let (running, _log) = start(
        &home,
        &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_SECRETS_FILE", &sops_s), ("SOPS_AGE_KEY_FILE", &key)],
    );
    let gateway = environ(gateway_pid(&running));
    // A reload reads the sources again: still dropped.
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 1), "nothing changed");
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0, "root wrote into the root-only dir");
    assert!(home.0.join("state/openclaw.json").is_file(), "the config is where clawinit's environment says");
    assert_eq!(gateway["OPENAI_API_KEY"], "sk-dir");
    assert_eq!(gateway["OPENCLAW_STATE_DIR"], home.0.join("state").display().to_string());
    assert_eq!(gateway["HOME"], home.0.display().to_string());
    assert!(!gateway.contains_key("OPENCLAW_CONFIG_PATH"), "{gateway:?}");
    assert_eq!(gateway["CLAWINIT_SECRETS_DIR"], dir_s, "clawinit's own setting, not the source's");
    assert!(!gateway.contains_key("OPENCLAW_GATEWAY_PORT"), "{gateway:?}");
    let warned: Vec<&str> = stderr.lines().filter(|l| l.contains("where clawinit reads and writes")).collect();
    assert_eq!(warned.len(), 4, "one warning per source, at the start and the reload: {stderr}");
    assert!(warned.iter().any(|l| l.contains("CLAWINIT_SECRETS_DIR (") && l.contains("HOME")), "{stderr}");
    assert!(warned.iter().any(|l| l.contains("CLAWINIT_SECRETS_FILE (") && l.contains("OPENCLAW_CONFIG_PATH")));
    assert!(!stderr.contains(&victim.display().to_string()), "values are never logged: {stderr}");
}

// ---- 2. the start directory by handle ----

/// WORKDIR `/home/node/app` with `/home/node` the user's: the user swaps
/// `app` for a link to a root-only directory. On 111cfe5 the next reload read
/// that directory's `secrets/` into the gateway's environment and wrote
/// `state/openclaw.json` inside it. Now the reload reads the start
/// directory it holds open; once that is deleted, a reload fails in one line.
#[test]
fn a_reload_reads_the_start_directory_it_holds_not_what_its_path_names_now() {
    let home = Scratch::new("t-workdir");
    let user_home = home.0.join("node");
    let app = user_home.join("app");
    std::fs::create_dir_all(app.join("secrets")).unwrap();
    write_secret(&app.join("secrets"), "OPENAI_API_KEY", "sk-app");
    std::os::unix::fs::chown(&user_home, Some(65534), Some(65534)).unwrap();
    let victim = root_only(&home);
    std::fs::create_dir(victim.join("secrets")).unwrap();
    write_secret(&victim.join("secrets"), "OPENAI_API_KEY", "sk-root-only");

    let log = home.0.join("log");
    let mut cmd = run_pair(&home.0, &log, &[("CLAWINIT_SECRETS_DIR", "secrets"), ("OPENCLAW_STATE_DIR", "state")]);
    cmd.current_dir(&app);
    let running = Running::start(cmd);
    wait_for_line(&log, "worker start");
    assert_eq!(gateway_env_value(&running, "OPENAI_API_KEY").as_deref(), Some("sk-app"));

    // The user (owner of the parent) swaps the start directory for a link.
    std::fs::rename(&app, user_home.join("app.old")).unwrap();
    std::os::unix::fs::symlink(&victim, &app).unwrap();
    write_secret(&user_home.join("app.old/secrets"), "OPENAI_API_KEY", "sk-app-2");
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 1), "gateway restarted");
    assert!(eventually(Duration::from_secs(6), || gateway_env_value(&running, "OPENAI_API_KEY").as_deref()
        == Some("sk-app-2")));
    assert!(!victim.join("state").exists(), "root wrote the config inside the root-only directory");

    // The start directory is deleted: the reload fails in one line.
    std::fs::remove_dir_all(user_home.join("app.old")).unwrap();
    running.signal(Signal::SIGHUP);
    assert_eq!(wait_for_reloads(&running, 2), "failed");
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert!(!stderr.contains("sk-root-only") && !stderr.contains("sk-app"), "{stderr}");
    let failed: Vec<&str> = stderr.lines().filter(|l| l.contains("reload failed")).collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    assert!(failed[0].contains("start directory"), "{stderr}");
}

// ---- 3. the age identity never reaches a child through the dir ----

/// The compose layout: one root-only dir holds the age key, the SOPS file
/// and a token file, and all three settings point into it. On 111cfe5 both
/// children got `age_key=AGE-SECRET-KEY-…` and the encrypted file.
#[test]
fn the_secrets_dir_skips_the_identity_and_sops_files_and_any_age_identity() {
    let home = Scratch::new("t-age-dir");
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    mode(&dir, 0o700);
    let identity = std::fs::read_to_string(fixtures().join("keys/key1.txt")).unwrap();
    std::fs::write(dir.join("age_key"), &identity).unwrap();
    sops_encrypt_dotenv(&format!("OPENAI_API_KEY=sk-{}\n", canary()), &dir.join("openclaw_env"));
    write_secret(&dir, "gateway_token", "token-from-dir");
    // The same identity under another name, or inside another value.
    let line = identity.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap().to_string();
    write_secret(&dir, "backup_key", &format!("note {line}"));
    let key_s = dir.join("age_key").display().to_string();
    let (dir_s, sops_s) = (dir.display().to_string(), dir.join("openclaw_env").display().to_string());
    let (running, _log) = start(
        &home,
        &[("CLAWINIT_SECRETS_DIR", &dir_s), ("CLAWINIT_SECRETS_FILE", &sops_s), ("SOPS_AGE_KEY_FILE", &key_s)],
    );
    let gateway = environ(gateway_pid(&running));
    let worker = environ(worker_pid(&running));
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    for env in [&gateway, &worker] {
        assert!(!env.values().any(|v| v.contains("AGE-SECRET-KEY-")), "an age identity reached a child");
        assert!(!env.contains_key("age_key") && !env.contains_key("openclaw_env") && !env.contains_key("backup_key"));
        assert_eq!(env["gateway_token"], "token-from-dir");
        assert_eq!(env["OPENAI_API_KEY"], format!("sk-{}", canary()));
    }
    assert!(stderr.contains("backup_key") && stderr.contains("age identity"), "{stderr}");
    assert!(!stderr.contains("AGE-SECRET-KEY-") && !stderr.contains(&canary()), "{stderr}");
}

// ---- 4. the watch retries a failed reload ----

/// The gateway's user holds clawinit's config lock while the overlay
/// changes: the watch's reload fails. On 111cfe5 the change was then lost
/// until a manual HUP. Now the next periods retry (one log line, not one per
/// period) and the change lands once the lock is free.
#[test]
fn a_failed_watch_reload_is_retried_until_it_succeeds() {
    let home = Scratch::new("t-watch-retry");
    let overlay = home.0.join("overlay.json5");
    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 100 } } }").unwrap();
    let overlay_s = overlay.display().to_string();
    let (running, _log) = start(
        &home,
        &[("CLAWINIT_CONFIG_OVERLAY", &overlay_s), ("OPENAI_API_KEY", "sk-x"), ("CLAWINIT_SECRETS_WATCH", "1")],
    );
    // The lock is a flock on the state dir itself.
    let file = std::fs::File::open(home.0.join("state")).unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e).unwrap();
    std::fs::write(&overlay, "{ agents: { defaults: { timeoutSeconds: 200 } } }").unwrap();
    assert_eq!(wait_for_reloads(&running, 1), "failed");
    std::thread::sleep(Duration::from_millis(3500)); // three more periods, still held
    drop(held);
    let config = home.0.join("state/openclaw.json");
    let landed = eventually(Duration::from_secs(6), || {
        std::fs::read_to_string(&config).is_ok_and(|t| t.contains("\"timeoutSeconds\": 200"))
    });
    let last = status(&running).unwrap();
    let (stderr, code) = stop(running);
    assert!(landed, "the change was never retried: {stderr}");
    assert_eq!(last["last_reload"], "config rewritten", "{last}");
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(stderr.matches("reload failed").count(), 1, "one line for a failure that lasts: {stderr}");
}

// ---- 5. a respawn that cannot start is seen and counted ----

/// The gateway exits, and its program is gone when the restart comes. On
/// 111cfe5 the spawn error was dropped: no line, no start counted, `status`
/// said `ready` with no gateway, forever. Now each failed start is logged,
/// counts (127) under the limit, and `status` says `restarting`.
#[test]
fn a_gateway_that_cannot_be_started_again_is_logged_counted_and_shown() {
    let home = Scratch::new("t-respawn");
    let script = home.0.join("gateway.sh");
    std::fs::write(&script, format!("#!/bin/sh\nexec {PY} {} \"$@\"\n", helper("fake_gateway.py"))).unwrap();
    mode(&script, 0o755);
    let log = home.0.join("log");
    let script_s = script.display().to_string();
    let mut cmd = run_pair(
        &home.0,
        &log,
        &[
            ("CLAWINIT_GATEWAY_RESTART", "on-failure"),
            ("CLAWINIT_GATEWAY_RESTART_LIMIT", "2/60"),
            ("FAKE_EXIT_AFTER", "1.5"),
            ("FAKE_EXIT_CODE", "3"),
        ],
    );
    cmd.env("CLAWINIT_GATEWAY_CMD", &script_s);
    let running = Running::start(cmd);
    wait_for_line(&log, "worker start");
    std::fs::remove_file(&script).unwrap();
    let restarting = eventually(Duration::from_secs(5), || {
        status(&running).is_some_and(|s| s["phase"] == "restarting" && s["children"]["gateway"]["pid"].is_null())
    });
    let (out, _) = running.finish(Duration::from_secs(20));
    let stderr = text(&out.stderr);
    assert!(restarting, "status never said restarting: {stderr}");
    assert_eq!(code(&out), 127, "{stderr}");
    assert_eq!(stderr.matches("could not be started again").count(), 2, "{stderr}");
    assert!(stderr.contains("giving up"), "{stderr}");
}

// ---- 6. QUIT during the drain ----

/// On 111cfe5 QUIT during `CLAWINIT_STOP_DELAY` went to both children at
/// once. Now it ends the drain like a second TERM: the ordered stop follows.
#[test]
fn quit_during_the_drain_skips_the_rest_of_it_and_stops_in_order() {
    let home = Scratch::new("t-quit-drain");
    let (running, log) = start(&home, &[("CLAWINIT_STOP_DELAY", "20")]);
    running.signal(Signal::SIGTERM);
    assert!(eventually(Duration::from_secs(5), || status(&running).is_some_and(|s| s["phase"] == "draining")));
    let asked = Instant::now();
    running.signal(Signal::SIGQUIT);
    let (out, _) = running.finish(Duration::from_secs(15));
    assert!(asked.elapsed() < Duration::from_secs(8), "the drain went on");
    assert_eq!(code(&out), 143, "the ordered stop's TERM decides: {}", text(&out.stderr));
    let lines = log_lines(&log);
    let at = |p: &str| lines.iter().position(|l| l.starts_with(p));
    assert!(at("worker term").is_some() && at("worker term") < at("gateway term"), "{lines:?}");
}

// ---- 7. a second clawinit leaves the first one's status socket alone ----

/// A second `clawinit run` in the same PID namespace (an operator's `exec`
/// gone wrong) deleted the live socket on 111cfe5, and `status` then said
/// "not running" for the real supervisor.
#[test]
fn a_second_run_in_the_namespace_does_not_take_the_status_socket() {
    let home = Scratch::new("t-socket");
    let (running, _log) = start(&home, &[]);
    assert!(status(&running).is_some());
    let second = home.0.join("second");
    let target = running.host_pid.as_raw().to_string();
    let out = Command::new("nsenter")
        .args(["-t", &target, "-p", "-m", "-n"])
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .arg("run")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &second)
        .env("OPENCLAW_STATE_DIR", second.join("state"))
        .env("CLAWINIT_GATEWAY_CMD", "/bin/sh -c 'sleep 0.5; exit 3'")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("another clawinit"), "{}", text(&out.stderr));
    let answered = status(&running);
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert!(answered.is_some_and(|s| s["phase"] == "ready"), "the first supervisor lost its socket");
}

// ---- 8. status and probe answer during a slow reload ----

/// A reload whose key command takes 5 s: on 111cfe5 `status` gave up after
/// 2 s ("not running") and `probe` fell back after 2 s, past a Kubernetes
/// probe's default 1 s timeout. Both answer at once now.
#[test]
fn status_and_probe_answer_during_a_slow_reload() {
    let home = Scratch::new("t-slow-status");
    let file = home.0.join("secrets.env");
    sops_encrypt_dotenv("OPENAI_API_KEY=sk-slow\n", &file);
    let key = fixtures().join("keys/key1.txt").display().to_string();
    let mark = home.0.join("slow");
    let script = home.0.join("key.sh");
    std::fs::write(&script, format!("#!/bin/sh\n[ -e {} ] && sleep 5\ncat {key}\n", mark.display())).unwrap();
    mode(&script, 0o755);
    let (file_s, script_s) = (file.display().to_string(), script.display().to_string());
    let (running, _log) = start(&home, &[("CLAWINIT_SECRETS_FILE", &file_s), ("SOPS_AGE_KEY_CMD", &script_s)]);
    std::fs::write(&mark, "").unwrap();
    running.signal(Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    let answered = status(&running);
    let status_took = asked.elapsed();
    let target = running.host_pid.as_raw().to_string();
    let asked = Instant::now();
    let probe = Command::new("nsenter")
        .args(["-t", &target, "-p", "-m", "-n"])
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .arg("probe")
        .env_clear()
        .env("OPENCLAW_GATEWAY_PORT", "18789")
        .output()
        .unwrap();
    let probe_took = asked.elapsed();
    let reloads = wait_for_reloads(&running, 1);
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert!(answered.is_some_and(|s| s["phase"] == "ready"), "status during the reload: {stderr}");
    assert!(status_took < Duration::from_secs(1), "status took {status_took:?}");
    assert!(probe.status.success() && probe_took < Duration::from_secs(1), "probe took {probe_took:?}");
    assert_eq!(reloads, "nothing changed");
}

#[test]
fn the_start_directory_owned_by_nobody_else_is_still_fine() {
    // The everyday case stays quiet: a root-owned secrets dir, relative paths.
    let home = Scratch::new("t-everyday");
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-ok");
    let log = home.0.join("log");
    let mut cmd = run_pair(&home.0, &log, &[("CLAWINIT_SECRETS_DIR", "secrets")]);
    cmd.current_dir(&home.0);
    let running = Running::start(cmd);
    wait_for_line(&log, "worker start");
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", gateway_pid(&running))).unwrap();
    let (stderr, code) = stop(running);
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(cwd, home.0, "the children start in the start directory");
    assert!(!stderr.contains("WARN"), "{stderr}");
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 0);
}

/// Without root (an arbitrary uid, OpenShift's group-0 directories) the
/// children run as clawinit's own uid: an unsafe secrets dir is read, with a
/// warning that says why, instead of being refused.
#[test]
fn without_root_an_unsafe_secrets_dir_is_a_warning() {
    let home = Scratch::new("t-nonroot");
    mode(&home.0, 0o755);
    let dir = home.0.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    write_secret(&dir, "OPENAI_API_KEY", "sk-nonroot");
    mode(&dir, 0o777);
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_clawinit"))
        .arg("check")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home.0)
        .env("OPENCLAW_STATE_DIR", home.0.join("state"))
        .env("CLAWINIT_SECRETS_DIR", &dir)
        .env("CLAWINIT_GATEWAY_CMD", "/bin/true")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(stderr.contains("writable by its group or others") && stderr.contains("clawinit is not root"), "{stderr}");
    assert!(!stderr.contains("sk-nonroot"), "{stderr}");
}
