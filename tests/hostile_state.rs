//! clawinit as root against a hostile state dir and hostile inputs: what the
//! unprivileged user (uid 1000 here) can plant or race must never make root
//! read, create or chown anything outside the state dir, block, or leak a
//! secret. Each test asserts what happens on disk outside the state dir,
//! exit codes, time and peak memory. Run as root (CI is).

mod support;

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

const USER: u32 = 1000;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `clawinit run` with a gateway that exits at once and no readiness wait:
/// it runs the whole start-up (secrets, config, hand-over) and stops.
fn run_once(home: &Path, state: &Path) -> Command {
    let mut cmd = clawinit(home);
    cmd.env("OPENCLAW_STATE_DIR", state)
        .env("CLAWINIT_USER", format!("{USER}:{USER}"))
        .env("CLAWINIT_GATEWAY_CMD", "true")
        .env("CLAWINIT_READY_PROBE", "none")
        .env("CLAWINIT_LOG", "warn")
        .arg("run");
    cmd
}

/// Run `cmd`, killing it after `limit`: a hang is a test failure, not a
/// stuck CI job. Returns the output and how long it took.
fn run_bounded(cmd: &mut Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("no exit within {limit:?}: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn owner(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().uid()
}

/// Peak RSS of `cmd` in KiB, measured by GNU time (installed by
/// scripts/install-peers.sh), with its exit code.
fn peak_rss_kib(cmd: &Command, limit: Duration) -> (i32, u64, String) {
    let report = std::env::temp_dir().join(format!("clawinit-rss-{}-{:?}", std::process::id(), Instant::now()));
    let mut timed = Command::new("/usr/bin/time");
    timed.arg("-f").arg("%M").arg("-o").arg(&report).arg(cmd.get_program()).args(cmd.get_args());
    timed.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            timed.env(k, v);
        }
    }
    let (out, _) = run_bounded(&mut timed, limit);
    let kib =
        std::fs::read_to_string(&report).unwrap_or_default().lines().last().unwrap_or("0").trim().parse().unwrap();
    let _ = std::fs::remove_file(&report);
    (out.status.code().unwrap_or(-1), kib, text(&out.stderr))
}

#[test]
fn hand_over_is_the_state_dir_never_the_config_files_parent() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("handover-scope");
    let conf = home.0.join("etc-like");
    let state = home.0.join("state");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(state.join("sessions")).unwrap();
    std::fs::write(conf.join("unrelated.conf"), "root's").unwrap();
    std::fs::write(state.join("sessions/a.json"), "{}").unwrap();
    let (out, _) = run_bounded(
        run_once(&home.0, &state).env("OPENCLAW_CONFIG_PATH", conf.join("openclaw.json")),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(owner(&conf), 0, "the config file's directory is not handed over");
    assert_eq!(owner(&conf.join("unrelated.conf")), 0);
    for path in [&state, &state.join("sessions"), &state.join("sessions/a.json")] {
        assert_eq!(owner(path), USER, "{} is handed over", path.display());
    }
}

#[test]
fn system_directories_are_refused() {
    if !is_root() {
        return;
    }
    // In a private mount namespace with a fresh tmpfs on /run, so that even a
    // broken refusal could only chown that tmpfs.
    let home = Scratch::new("handover-system");
    let script = "mount -t tmpfs tmpfs /run && touch /run/someone-elses && exec \"$0\" \"$@\"";
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "sh", "-c", script]).arg(env!("CARGO_BIN_EXE_clawinit")).arg("run");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home.0)
        .env("OPENCLAW_STATE_DIR", "/run")
        .env("CLAWINIT_USER", format!("{USER}:{USER}"))
        .env("CLAWINIT_GATEWAY_CMD", "true")
        .env("CLAWINIT_READY_PROBE", "none");
    let (out, _) = run_bounded(&mut cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    let line = one_line(&out);
    assert!(line.contains("/run") && line.contains("refusing"), "{line}");
}

/// A hard link in the state dir to a root file outside (what a user can
/// make where fs.protected_hardlinks is off) is not handed over.
#[test]
fn hard_links_to_files_outside_are_not_handed_over() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("handover-hardlink");
    let state = home.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(home.0.join("root-file"), "root's").unwrap();
    std::fs::hard_link(home.0.join("root-file"), state.join("hardlink")).unwrap();
    let (out, _) = run_bounded(&mut run_once(&home.0, &state), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(owner(&home.0.join("root-file")), 0, "the linked file changed owner");
    assert!(text(&out.stderr).contains("more than one hard link"), "{}", text(&out.stderr));
    assert_eq!(owner(&state.join("openclaw.json")), USER);
}

/// A racing process running as the user swaps directories of the state dir
/// for symlinks to a root-owned directory outside, while root hands the
/// state dir over, 100 starts in a row. Nothing outside may change owner.
#[test]
fn racing_symlink_swaps_never_lead_outside() {
    const DIRS: usize = 8;
    if !is_root() {
        return;
    }
    let home = Scratch::new("handover-race");
    let outside = home.0.join("outside");
    let state = home.0.join("state");
    std::fs::create_dir_all(&outside).unwrap();
    for i in 0..20 {
        std::fs::write(outside.join(format!("root-{i}")), "root's").unwrap();
    }
    std::fs::create_dir_all(&state).unwrap();
    for d in 0..DIRS {
        let dir = state.join(format!("d{d}"));
        std::fs::create_dir_all(dir.join("inner")).unwrap();
        std::fs::write(dir.join("inner/f"), "").unwrap();
        // The user's own directories (it can only rename those).
        std::os::unix::fs::chown(&dir, Some(USER), Some(USER)).unwrap();
    }
    std::os::unix::fs::chown(&state, Some(USER), Some(USER)).unwrap();
    // Everything under the state dir already the user's, so the race runs
    // while root walks (entries it still has to look at, owned by root,
    // are re-created each round below).
    // One racer per directory: swap it atomically (renameat2 EXCHANGE, so
    // the name never goes missing) with a symlink to `outside`, hold that a
    // moment (long enough for a walker that followed it to chown what is
    // there), swap back, again and again.
    let racer = format!(
        r#"
import ctypes, os, sys, time
os.setgid({USER}); os.setuid({USER})
libc = ctypes.CDLL(None, use_errno=True)
p, outside = sys.argv[1].encode(), sys.argv[2]
link = p + b".link"
os.symlink(outside, link)
def swap():
    libc.renameat2(-100, p, -100, link, 2)
while True:
    swap()
    time.sleep(0.0003)
    swap()
    time.sleep(0.0001)
"#
    );
    let _racers: Vec<KillOnDrop> = (0..DIRS)
        .map(|d| {
            let dir = state.join(format!("d{d}"));
            KillOnDrop(Command::new("/usr/bin/python3").arg("-c").arg(&racer).arg(dir).arg(&outside).spawn().unwrap())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for round in 0..100 {
        // Give root entries to chown on every round.
        for d in 0..DIRS {
            let f = state.join(format!("d{d}/inner/f"));
            let _ = std::os::unix::fs::lchown(&f, Some(0), Some(0));
        }
        let (out, _) = run_bounded(&mut run_once(&home.0, &state), Duration::from_secs(30));
        assert!(out.status.code().is_some(), "round {round}: {:?}", out.status);
        for i in 0..20 {
            let f = outside.join(format!("root-{i}"));
            assert_eq!(owner(&f), 0, "round {round}: {} changed owner", f.display());
        }
        assert_eq!(owner(&outside), 0, "round {round}: the outside dir changed owner");
    }
}

/// A helper process that must not outlive its test, even a failed one.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_planted_config_symlink_never_makes_root_read_its_target() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("planted-config");
    let secret_dir = home.0.join("root-only");
    let state = home.0.join("state");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let secret = secret_dir.join("secret.json");
    std::fs::write(&secret, r#"{"gateway": {"auth": {"token": "ROOT-ONLY-CANARY-7f3a"}}}"#).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&state, Some(USER), Some(USER)).unwrap();
    symlink(&secret, state.join("openclaw.json")).unwrap();
    std::os::unix::fs::lchown(state.join("openclaw.json"), Some(USER), Some(USER)).unwrap();
    let (out, _) = run_bounded(&mut run_once(&home.0, &state), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(one_line(&out).contains("symlink owned by uid 1000"), "{}", text(&out.stderr));
    assert!(!state.join("openclaw.rendered.json").exists(), "nothing was rendered from the target");
    for file in all_files(&state) {
        if file.is_symlink() {
            continue;
        }
        assert!(!contains(&std::fs::read(&file).unwrap(), "ROOT-ONLY-CANARY-7f3a"), "{} leaks", file.display());
    }
    assert!(!contains(&out.stderr, "ROOT-ONLY-CANARY-7f3a"));
}

/// Where the lock is a file (a config outside the state dir, in a
/// directory the user owns), a symlink the user planted as it is replaced,
/// never followed. In the state dir the lock is the directory itself: the
/// same planted name is left alone.
#[test]
fn a_planted_lock_symlink_creates_nothing_outside() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("planted-lock");
    let (state, conf, outside) = (home.0.join("state"), home.0.join("conf"), home.0.join("outside"));
    for dir in [&state, &conf, &outside] {
        std::fs::create_dir_all(dir).unwrap();
    }
    for dir in [&state, &conf] {
        std::os::unix::fs::chown(dir, Some(USER), Some(USER)).unwrap();
        let lock = dir.join("openclaw.json.clawinit-lock");
        symlink(outside.join("created-by-root"), &lock).unwrap();
        std::os::unix::fs::lchown(&lock, Some(USER), Some(USER)).unwrap();
    }
    let (out, _) = run_bounded(&mut run_once(&home.0, &state), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(state.join("openclaw.json.clawinit-lock")).unwrap().is_symlink());
    let mut elsewhere = run_once(&home.0, &state);
    elsewhere.env("OPENCLAW_CONFIG_PATH", conf.join("openclaw.json"));
    let (out, _) = run_bounded(&mut elsewhere, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!outside.join("created-by-root").exists(), "root created a file where the symlink pointed");
    let lock = conf.join("openclaw.json.clawinit-lock");
    assert!(std::fs::symlink_metadata(&lock).unwrap().is_file(), "the lock is a regular file now");
    assert!(state.join("openclaw.json").is_file() && conf.join("openclaw.json").is_file());
}

#[test]
fn a_read_only_bind_mount_inside_the_state_dir_does_not_stop_the_start() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("handover-ro");
    let state = home.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let source = home.0.join("mounted.json");
    std::fs::write(&source, "{}").unwrap();
    std::fs::write(state.join("mounted.json"), "").unwrap();
    let script = "mount --bind \"$1\" \"$2\" && mount -o remount,bind,ro \"$2\" && shift 2 && exec \"$@\"";
    let inner = run_once(&home.0, &state);
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "sh", "-c", script, "sh"])
        .arg(&source)
        .arg(state.join("mounted.json"))
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear()
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let (out, _) = run_bounded(&mut cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(owner(&state), USER);
    assert_eq!(owner(&state.join("openclaw.json")), USER);
}

/// /dev/zero behind every file clawinit reads, and FIFOs with no writer:
/// each ends at once with the contract code for that input, in little
/// memory, naming the file.
#[test]
fn devices_and_fifos_are_refused_at_once_in_bounded_memory() {
    let home = Scratch::new("zero-fifo");
    let key = fixtures().join("keys/key1.txt");
    let secrets = fixtures().join("ok/basic.enc");
    let fifo = home.0.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let zero = home.0.join("zero");
    symlink("/dev/zero", &zero).unwrap();
    for bad in [&zero, &fifo] {
        let state = home.0.join("state");
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).unwrap();
        let base = |cmd: &mut Command| {
            cmd.env("OPENCLAW_STATE_DIR", &state).env("CLAWINIT_GATEWAY_CMD", "true").arg("check");
        };
        type Setup<'a> = Box<dyn Fn(&mut Command) + 'a>;
        let cases: [(&str, i32, Setup); 4] = [
            (
                "secrets file",
                66,
                Box::new(|c: &mut Command| {
                    c.env("CLAWINIT_SECRETS_FILE", bad).env("SOPS_AGE_KEY_FILE", &key);
                }),
            ),
            (
                "key file",
                67,
                Box::new(|c: &mut Command| {
                    c.env("CLAWINIT_SECRETS_FILE", &secrets).env("SOPS_AGE_KEY_FILE", bad);
                }),
            ),
            (
                "overlay",
                78,
                Box::new(|c: &mut Command| {
                    c.env("CLAWINIT_CONFIG_OVERLAY", bad);
                }),
            ),
            (
                "openclaw.json",
                78,
                Box::new(|c: &mut Command| {
                    c.env("OPENCLAW_CONFIG_PATH", bad);
                }),
            ),
        ];
        for (what, expect, setup) in &cases {
            let mut cmd = clawinit(&home.0);
            setup(&mut cmd);
            base(&mut cmd);
            let (code, kib, stderr) = peak_rss_kib(&cmd, Duration::from_secs(10));
            assert_eq!(code, *expect, "{what} -> {}: {stderr}", bad.display());
            assert!(stderr.contains(&bad.display().to_string()), "{what}: the line names the file: {stderr}");
            assert!(kib < 64 * 1024, "{what} -> {}: peak RSS {kib} KiB", bad.display());
        }
    }
}

/// The state file is clawinit's own bookkeeping: one behind a symlink to
/// /dev/zero counts as damaged, the start goes on, and it is replaced.
#[test]
fn a_state_file_pointing_at_dev_zero_is_replaced_not_read() {
    let home = Scratch::new("zero-state");
    let state = home.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let state_file = state.join("openclaw.json.clawinit-state");
    symlink("/dev/zero", &state_file).unwrap();
    let mut cmd = clawinit(&home.0);
    cmd.env("OPENCLAW_STATE_DIR", &state)
        .env("CLAWINIT_GATEWAY_CMD", "true")
        .env("CLAWINIT_READY_PROBE", "none")
        .arg("run");
    let (code, kib, stderr) = peak_rss_kib(&cmd, Duration::from_secs(10));
    assert_eq!(code, 0, "{stderr}");
    assert!(kib < 64 * 1024, "peak RSS {kib} KiB");
    assert!(std::fs::symlink_metadata(&state_file).unwrap().is_file(), "replaced by a regular file");
}

fn set_core_unlimited(cmd: &mut Command) {
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
            libc::setrlimit(libc::RLIMIT_CORE, &unlimited);
            Ok(())
        });
    }
}

/// An abort right after decryption (a fault point of test builds), with the
/// core limit raised by the caller and no system-wide setting changed: no
/// core is dumped and no file holds the canary. A control process in the
/// same directory shows that this machine does dump cores where allowed.
#[test]
fn an_abort_after_decryption_dumps_no_core() {
    let home = Scratch::new("core");
    let canary = canary();
    let mut control = Command::new("sh");
    control.args(["-c", "kill -ABRT $$"]).current_dir(&home.0);
    set_core_unlimited(&mut control);
    let control = control.status().unwrap();
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    cmd.env("CLAWINIT_FAULT", "after-decrypt")
        .args(["exec", "--secrets"])
        .arg(fixtures().join("ok/canary.enc"))
        .args(["--", "true"])
        .current_dir(&home.0);
    set_core_unlimited(&mut cmd);
    let status = cmd.status().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT), "the fault point aborts: {status:?}");
    assert!(!status.core_dumped(), "clawinit dumped a core");
    for file in all_files(&home.0) {
        assert!(!contains(&std::fs::read(&file).unwrap_or_default(), &canary), "{} holds the canary", file.display());
    }
    if !control.core_dumped() {
        eprintln!("note: this machine dumps no core even for the control (core_pattern); the check above still holds");
    }

    // The children get their own defaults back: the caller's core limit,
    // and dumpable again (the kernel resets it at exec).
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    let probe = "import ctypes, resource; print(resource.getrlimit(resource.RLIMIT_CORE)[0], ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))";
    cmd.args(["exec", "--secrets"]).arg(fixtures().join("ok/canary.enc")).args(["--", "/usr/bin/python3", "-c", probe]);
    set_core_unlimited(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(text(&out.stdout).trim(), format!("{} 1", libc::RLIM_INFINITY as i64), "{}", text(&out.stderr));
}

#[test]
fn loader_variables_from_the_secrets_file_never_reach_children() {
    let home = Scratch::new("loader");
    let enc = home.0.join("loader.enc");
    sops_encrypt_dotenv("LD_PRELOAD=/nonexistent/evil.so\nLD_LIBRARY_PATH=/nonexistent\nSAFE=1\n", &enc);
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    let (out, _) = run_bounded(cmd.args(["exec", "--secrets"]).arg(&enc).args(["--", "env"]), Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let env = text(&out.stdout);
    assert!(env.lines().any(|l| l == "SAFE=1"), "{env}");
    assert!(!env.lines().any(|l| l.starts_with("LD_")), "a loader variable reached the child: {env}");
    let err = text(&out.stderr);
    assert!(err.contains("LD_PRELOAD") && err.contains("dynamic-loader"), "one warning names them: {err}");
}

/// A key with a newline (JSON allows it, sops encrypts it) is no variable
/// name: it is not passed, and the warning shows it escaped, so it cannot
/// forge a log line.
#[test]
fn a_name_with_a_newline_is_not_passed_and_cannot_forge_a_log_line() {
    let home = Scratch::new("forged-name");
    let enc = home.0.join("forged.enc");
    sops_encrypt(r#"{"SAFE": "1", "X\nERROR forged line": "v"}"#, "json", &enc);
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    let (out, _) =
        run_bounded(cmd.args(["exec", "--secrets"]).arg(&enc).args(["--", "env", "-0"]), Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names: Vec<String> =
        out.stdout.split(|b| *b == 0).map(|e| text(e).split('=').next().unwrap_or("").to_string()).collect();
    assert!(names.iter().any(|n| n == "SAFE"));
    assert!(!names.iter().any(|n| n.contains("forged")), "the forged name reached the child: {names:?}");
    let err = text(&out.stderr);
    assert!(!err.lines().any(|l| l.starts_with("ERROR forged")), "a forged log line: {err}");
    assert!(err.contains("X\\nERROR forged line"), "the warning shows the name escaped: {err}");
}

#[test]
fn decrypt_into_a_closed_pipe_exits_like_other_unix_tools() {
    let home = Scratch::new("epipe");
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    drop(read_end);
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    let out = cmd
        .arg("decrypt")
        .arg(fixtures().join("ok/keys_10000.enc"))
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "no error line for a reader that went away");
}

/// `SOPS_AGE_KEY_CMD` is bounded: a command that never ends, and one that
/// leaves a background child holding its stdout, are killed with their
/// whole process group after `CLAWINIT_KEY_CMD_TIMEOUT`.
#[test]
fn the_key_command_times_out_and_its_group_is_killed() {
    let home = Scratch::new("keycmd");
    let marker = format!("{}.25", 900 + std::process::id() % 90);
    for cmd_line in [format!("sleep {marker}"), format!("sh -c 'sleep {marker} & echo AGE-SECRET-KEY-1'")] {
        let mut cmd = clawinit(&home.0);
        cmd.env("SOPS_AGE_KEY_CMD", &cmd_line)
            .env("CLAWINIT_KEY_CMD_TIMEOUT", "1")
            .args(["decrypt"])
            .arg(fixtures().join("ok/basic.enc"));
        let (out, took) = run_bounded(&mut cmd, Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(67), "{cmd_line}: {}", text(&out.stderr));
        assert!(took < Duration::from_secs(5), "{cmd_line}: took {took:?}");
        let err = text(&out.stderr);
        assert!(err.contains("timed out after 1 s"), "{cmd_line}: {err}");
        std::thread::sleep(Duration::from_millis(100));
        assert!(!processes_with(&marker), "{cmd_line}: a process of the key command survived");
    }
}

fn processes_with(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|p| std::fs::read(p.path().join("cmdline")).is_ok_and(|c| contains(&c, needle) && !contains(&c, "cargo")))
}

/// SIGTERM while the key command runs: clawinit ends at once with 143,
/// spawns nothing and writes nothing.
#[test]
fn sigterm_during_start_up_ends_at_once_with_nothing_started() {
    let home = Scratch::new("term-startup");
    let state = home.0.join("state");
    let marker = home.0.join("gateway-started");
    let mut cmd = clawinit(&home.0);
    cmd.env("SOPS_AGE_KEY_CMD", "sleep 60")
        .env("CLAWINIT_SECRETS_FILE", fixtures().join("ok/basic.enc"))
        .env("OPENCLAW_STATE_DIR", &state)
        .env("CLAWINIT_GATEWAY_CMD", format!("touch {}", marker.display()))
        .env("CLAWINIT_READY_PROBE", "none")
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(3), "took {:?}", sent.elapsed());
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    assert!(!marker.exists(), "the gateway was spawned");
    assert!(!state.exists() || all_files(&state).is_empty(), "files were written: {:?}", all_files(&state));
}

/// A root-owned symlink as openclaw.json inside the state dir: once the
/// state dir is the user's it could point anywhere, so it is refused on
/// every boot (not followed on the first and refused after the hand-over).
#[test]
fn a_root_symlink_in_the_state_dir_is_refused_on_every_boot() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("root-link");
    let state = home.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(home.0.join("real.json"), "{}").unwrap();
    symlink(home.0.join("real.json"), state.join("openclaw.json")).unwrap();
    for boot in 0..2 {
        let (out, _) = run_bounded(&mut run_once(&home.0, &state), Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(78), "boot {boot}: {}", text(&out.stderr));
        assert!(one_line(&out).contains("OPENCLAW_CONFIG_PATH"), "boot {boot}");
    }
    assert_eq!(owner(&state.join("openclaw.json")), 0, "the link itself is left alone");
}

/// The user holds the lock on openclaw.json: clawinit does not block in
/// flock; a SIGTERM ends the start at once, with the config unwritten.
#[test]
fn a_lock_held_by_the_user_cannot_hang_the_start() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("held-lock");
    let state = home.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(USER), Some(USER)).unwrap();
    let holder = format!(
        "import fcntl, os, time\nos.setgid({USER}); os.setuid({USER})\n\
         d = os.open('{}', os.O_RDONLY); fcntl.flock(d, fcntl.LOCK_EX); open('{}', 'w').close(); time.sleep(60)",
        state.display(),
        state.join("held").display()
    );
    let _holder = KillOnDrop(Command::new("/usr/bin/python3").arg("-c").arg(holder).spawn().unwrap());
    let started = Instant::now();
    while !state.join("held").exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "the holder never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut cmd = run_once(&home.0, &state);
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(3), "took {:?}", sent.elapsed());
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    assert!(!state.join("openclaw.json").exists(), "the config was written after the stop request");
}

/// The user owns the state dir's parent and renames a root-only directory
/// into the state dir's place: clawinit refuses to hand it over.
#[test]
fn a_directory_swapped_in_as_the_state_dir_is_not_handed_over() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("swapped-state");
    let data = home.0.join("data");
    let state = data.join("openclaw");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("secret"), "root only").unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&data, Some(USER), Some(USER)).unwrap();
    let (out, _) = run_bounded(&mut run_once(&home.0, &state), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(one_line(&out).contains("parent directory can be written by others"), "{}", text(&out.stderr));
    assert_eq!(owner(&state), 0);
    assert_eq!(owner(&state.join("secret")), 0);
}

/// Many hard links: the warning names ten and counts the rest, so the user
/// cannot make clawinit build a line of any size.
#[test]
fn the_hard_link_warning_is_bounded() {
    if !is_root() {
        return;
    }
    let home = Scratch::new("many-links");
    let state = home.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(home.0.join("target"), "").unwrap();
    for i in 0..200 {
        std::fs::hard_link(home.0.join("target"), state.join(format!("link-{i:03}-{}", "x".repeat(200)))).unwrap();
    }
    let (out, _) = run_bounded(&mut run_once(&home.0, &state), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let line = err.lines().find(|l| l.contains("more than one hard link")).expect("one warning");
    assert!(line.contains("entries=200"), "{line}");
    assert!(line.len() < 4096, "{} bytes", line.len());
}
