//! Hostile inputs against the real binary: clawinit runs as root holding every
//! secret, so a crafted secrets file, openclaw.json or overlay must end in one
//! error line and the contract's exit code, fast and in bounded memory, never
//! in a crash (SIGSEGV from a stack overflow, SIGABRT from an allocation).

mod support;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use support::*;

/// Address-space cap for the child: a regression must fail the test, not
/// take the shared machine down with it.
const ADDRESS_SPACE_LIMIT: u64 = 1 << 30;

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    seconds: f64,
    peak_rss_mb: f64,
}

impl Run {
    /// The single stderr line, asserted to be one line.
    fn line(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "expected one error line, got: {}", self.stderr);
        lines[0].to_string()
    }

    fn assert_exit(&self, code: i32) {
        assert_eq!(
            (self.code, self.signal),
            (Some(code), None),
            "expected exit {code}; stderr: {}",
            self.stderr.chars().take(500).collect::<String>()
        );
    }
}

/// Run to completion with wait4, which also reports the child's peak RSS.
// The child is reaped by wait4, not `Child::wait`, which discards the rusage.
#[allow(clippy::zombie_processes)]
fn run(mut cmd: Command) -> Run {
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: ADDRESS_SPACE_LIMIT, rlim_max: ADDRESS_SPACE_LIMIT };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn clawinit");
    let mut err_pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let mut stdout = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; the pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let seconds = start.elapsed().as_secs_f64();
    let exited = libc::WIFEXITED(status);
    Run {
        code: exited.then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout,
        stderr: text(&stderr.join().unwrap()),
        seconds,
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
    }
}

fn decrypt(home: &Path, name: &str, content: &[u8]) -> Run {
    let file = home.join(name);
    std::fs::write(&file, content).unwrap();
    let mut cmd = clawinit(home);
    with_identity(&mut cmd, "key1.txt");
    cmd.arg("decrypt").arg(&file);
    run(cmd)
}

/// Malformed (65), naming the file, the problem, and no input text.
fn assert_malformed(run: &Run, file: &str, what: &str) {
    run.assert_exit(65);
    let line = run.line();
    assert!(line.contains(file) && line.contains(what), "{line}");
}

/// Fast and small: the parser refused early instead of expanding or
/// recursing. The file itself is read into memory, so it counts once.
fn assert_cheap(run: &Run, input_bytes: usize) {
    assert!(run.seconds < 3.0, "took {:.2} s", run.seconds);
    let budget = 32.0 + input_bytes as f64 / (1 << 20) as f64;
    assert!(run.peak_rss_mb < budget, "peak RSS {:.0} MB > {budget:.0} MB", run.peak_rss_mb);
}

const SOPS_YAML_TAIL: &str = "sops:\n    version: 3.11.0\n";

#[test]
fn yaml_alias_bomb_is_rejected_at_the_first_alias() {
    let home = Scratch::new("hostile-alias-bomb");
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        bomb.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 9].join(", ")));
    }
    bomb.push_str(SOPS_YAML_TAIL);
    assert_eq!(bomb.lines().count(), 11);
    let run = decrypt(&home.0, "bomb.yaml", bomb.as_bytes());
    assert_malformed(&run, "bomb.yaml", "alias");
    assert_cheap(&run, bomb.len());
}

#[test]
fn yaml_deep_flow_sequence_is_rejected() {
    let home = Scratch::new("hostile-yaml-flow");
    let doc = format!("a: {}{}\n{SOPS_YAML_TAIL}", "[".repeat(20_000), "]".repeat(20_000));
    let run = decrypt(&home.0, "flow.yaml", doc.as_bytes());
    assert_malformed(&run, "flow.yaml", "nested deeper than 64 levels");
    assert_cheap(&run, doc.len());
}

#[test]
fn yaml_deep_block_map_is_rejected() {
    let home = Scratch::new("hostile-yaml-block");
    let mut doc = String::from(SOPS_YAML_TAIL);
    for depth in 0..10_000 {
        doc.push_str(&" ".repeat(depth));
        doc.push_str("k:\n");
    }
    let run = decrypt(&home.0, "block.yaml", doc.as_bytes());
    assert_malformed(&run, "block.yaml", "nested deeper than 64 levels");
    assert_cheap(&run, doc.len());
}

#[test]
fn yaml_at_the_depth_limit_is_still_read() {
    let home = Scratch::new("hostile-yaml-limit");
    // 63 levels of data under the top-level map: not refused for depth (the
    // file has no age key, so it fails later, at the metadata).
    let doc = format!("a: {}1{}\n{SOPS_YAML_TAIL}", "[".repeat(63), "]".repeat(63));
    let run = decrypt(&home.0, "limit.yaml", doc.as_bytes());
    run.assert_exit(65);
    assert!(!run.line().contains("nested deeper"), "{}", run.line());
}

#[test]
fn dotenv_deep_metadata_key_is_rejected() {
    let home = Scratch::new("hostile-dotenv-deep");
    let key: String = (0..20_000).map(|i| format!("__map_k{i}")).collect();
    let doc = format!("A=1\nsops_version=3.11.0\nsops_a{key}=x\n");
    let run = decrypt(&home.0, "deep.env", doc.as_bytes());
    assert_malformed(&run, "deep.env", "nested deeper than 64 levels");
    assert_cheap(&run, doc.len());
}

#[test]
fn json_secrets_nested_beyond_the_limit_is_rejected() {
    let home = Scratch::new("hostile-json-deep");
    for depth in [100, 20_000] {
        let doc = format!("{{\"a\": {}1{}, \"sops\": {{}}}}", "[".repeat(depth), "]".repeat(depth));
        let run = decrypt(&home.0, "deep.json", doc.as_bytes());
        assert_malformed(&run, "deep.json", "nested deeper than 64 levels");
        assert_cheap(&run, doc.len());
    }
}

/// `clawinit render` with this HOME's openclaw.json and optional overlay.
fn render(home: &Path, overlay: Option<&Path>) -> Run {
    let mut cmd = clawinit(home);
    cmd.env("CLAWINIT_GATEWAY_CMD", "true");
    if let Some(o) = overlay {
        cmd.env("CLAWINIT_CONFIG_OVERLAY", o);
    }
    cmd.arg("render");
    run(cmd)
}

fn deep_json5(depth: usize) -> String {
    format!("// deep\n{{a: {}1{}}}\n", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn deep_openclaw_json_is_a_config_error_not_a_crash() {
    let home = Scratch::new("hostile-config-deep");
    let state = home.0.join(".openclaw");
    std::fs::create_dir_all(&state).unwrap();
    let doc = deep_json5(30_000);
    std::fs::write(state.join("openclaw.json"), &doc).unwrap();
    let run = render(&home.0, None);
    run.assert_exit(78);
    let line = run.line();
    assert!(line.contains("openclaw.json") && line.contains("nested deeper than 128 levels"), "{line}");
    assert_cheap(&run, doc.len());
}

#[test]
fn deep_overlay_is_a_config_error_not_a_crash() {
    let home = Scratch::new("hostile-overlay-deep");
    let overlay = home.0.join("overlay.json5");
    let doc = deep_json5(30_000);
    std::fs::write(&overlay, &doc).unwrap();
    let run = render(&home.0, Some(&overlay));
    run.assert_exit(78);
    let line = run.line();
    assert!(line.contains("overlay.json5") && line.contains("nested deeper than 128 levels"), "{line}");
    assert_cheap(&run, doc.len());
}

#[test]
fn json_duplicate_keys_decrypt_like_sops() {
    let home = Scratch::new("hostile-json-dup");
    // Both fixtures were written by the real sops 3.11, which keeps repeated
    // keys (top level and nested) in order and in the MAC.
    for name in ["duplicate_key_json", "duplicate_key_nested_json"] {
        let expected = std::fs::read(fixtures().join(format!("ok/{name}.expected"))).unwrap();
        let mut cmd = clawinit(&home.0);
        with_identity(&mut cmd, "key1.txt");
        cmd.arg("decrypt").arg(fixtures().join(format!("ok/{name}.enc")));
        let run = run(cmd);
        run.assert_exit(0);
        assert!(run.stdout == expected, "{name} differs from sops -d:\n{}", text(&run.stdout));
    }
}

#[test]
fn json_duplicate_key_exec_gets_the_later_value() {
    let home = Scratch::new("hostile-json-dup-exec");
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    cmd.arg("exec").arg("--secrets").arg(fixtures().join("ok/duplicate_key_json.enc"));
    cmd.args(["--", "sh", "-c", "printf %s \"$DUP\""]);
    let run = run(cmd);
    run.assert_exit(0);
    assert_eq!(text(&run.stdout), "second", "sops exec-env: the last duplicate wins");
}
