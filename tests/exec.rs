//! `clawinit exec`: the child's environment, exit codes, signal forwarding,
//! nothing spawned on bad input, and the canary never leaking.

mod support;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn child_env(out: &[u8]) -> HashMap<String, String> {
    out.split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| text(e).split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn exec(home: &std::path::Path, fixture: &str) -> Command {
    let mut cmd = clawinit(home);
    with_identity(&mut cmd, "key1.txt");
    cmd.arg("exec").arg("--secrets").arg(fixtures().join(fixture)).arg("--");
    cmd
}

#[test]
fn child_sees_secrets_and_never_the_identity() {
    let home = Scratch::new("exec-env");
    let out = exec(&home.0, "ok/basic.enc")
        .env("SOPS_AGE_KEY", "AGE-SECRET-KEY-1NOTUSED")
        .args(["env", "-0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let env = child_env(&out.stdout);
    assert_eq!(env["OPENAI_API_KEY"], "sk-test-0123456789abcdef");
    assert_eq!(env["WITH_EQUALS"], "a=b=c==");
    assert_eq!(env["MULTILINE"], "line one\nline two\nline three");
    assert_eq!(env["UNICODE"], "héllo wörld ✓ 日本語 🦀");
    assert_eq!(env["EMPTY"], "");
    assert_eq!(env["DUP"], "second", "the last duplicate wins, as with sops exec-env");
    // Names a shell would drop survive because there is no shell.
    assert_eq!(env["KEY WITH SPACE"], "spaced");
    assert_eq!(env["my.dotted-key"], "dotted");
    for name in env.keys() {
        assert!(!name.starts_with("SOPS_AGE_"), "{name} reached the child");
    }
}

#[test]
fn existing_variables_win_unless_override() {
    let home = Scratch::new("exec-override");
    let run = |override_: Option<&str>| {
        let mut cmd = exec(&home.0, "ok/basic.enc");
        cmd.env("OPENAI_API_KEY", "from-environment");
        if let Some(v) = override_ {
            cmd.env("CLAWINIT_SECRETS_OVERRIDE", v);
        }
        child_env(&cmd.args(["env", "-0"]).output().unwrap().stdout)["OPENAI_API_KEY"].clone()
    };
    assert_eq!(run(None), "from-environment");
    assert_eq!(run(Some("false")), "from-environment");
    assert_eq!(run(Some("true")), "sk-test-0123456789abcdef");
}

#[test]
fn secrets_file_from_setting_and_typed_json_values() {
    let home = Scratch::new("exec-json");
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    let out = cmd
        .env("CLAWINIT_SECRETS_FILE", fixtures().join("ok/flat_json.enc"))
        .args(["exec", "env", "-0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let env = child_env(&out.stdout);
    // sops exec-env stringification: JSON numbers are floats.
    assert_eq!(env["PORT"], "8080.0");
    assert_eq!(env["RATIO"], "1E+21");
    assert_eq!(env["DEBUG"], "true");
    // Nested values cannot become variables: the same error as sops, exit 65.
    let mut cmd = exec(&home.0, "ok/nested_json.enc");
    let out = cmd.arg("true").output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(one_line(&out).contains("complex value"));
}

#[test]
fn exit_codes_pass_through() {
    let home = Scratch::new("exec-codes");
    let code = |args: &[&str]| exec(&home.0, "ok/canary.enc").args(args).output().unwrap().status.code();
    assert_eq!(code(&["true"]), Some(0));
    assert_eq!(code(&["sh", "-c", "exit 7"]), Some(7));
    assert_eq!(code(&["sh", "-c", "kill -TERM $$"]), Some(143));
    assert_eq!(code(&["sh", "-c", "kill -KILL $$"]), Some(137));
    assert_eq!(code(&["definitely-not-a-command-xyz"]), Some(127));
    assert_eq!(code(&["/nonexistent/bin/tool"]), Some(127));
    assert_eq!(code(&[fixtures().join("manifest.json").to_str().unwrap()]), Some(126));
}

#[test]
fn bad_input_spawns_nothing() {
    let home = Scratch::new("exec-bad");
    let marker = home.0.join("spawned");
    for entry in manifest()["fixtures"].as_array().unwrap() {
        let Some(expect) = entry["expect"].as_i64() else { continue };
        let out =
            exec(&home.0, entry["file"].as_str().unwrap()).args(["touch", marker.to_str().unwrap()]).output().unwrap();
        assert_eq!(out.status.code(), Some(expect as i32), "{}", entry["file"]);
        assert!(!marker.exists(), "{}: the child was spawned", entry["file"]);
    }
    let out = clawinit(&home.0)
        .args(["exec", "--secrets", "/nonexistent.env", "--", "touch", marker.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(66));
    assert!(!marker.exists());
}

#[test]
fn sigterm_is_forwarded_and_the_child_code_returned() {
    let home = Scratch::new("exec-signal");
    let ready = home.0.join("ready");
    let script = format!("trap 'exit 42' TERM; touch {}; while :; do sleep 0.05; done", ready.display());
    let mut child = exec(&home.0, "ok/canary.enc").args(["sh", "-c", &script]).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "child never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42), "the child's TERM trap decides the exit code");
}

#[test]
fn canary_never_appears_in_logs_errors_or_argv() {
    let home = Scratch::new("canary");
    let canary = canary();
    let canary_file = fixtures().join("ok/canary.enc");
    let mut outputs = Vec::new();
    // Success paths at the most verbose level, text and JSON logs.
    for format in ["text", "json"] {
        let out = exec(&home.0, "ok/canary.enc")
            .env("CLAWINIT_LOG", "trace")
            .env("CLAWINIT_LOG_FORMAT", format)
            .args(["sh", "-c", "exit 3"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        outputs.push(("exec", out.stdout, out.stderr));
    }
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    let out = cmd.env("CLAWINIT_LOG", "trace").arg("decrypt").arg(&canary_file).output().unwrap();
    assert!(contains(&out.stdout, &canary), "decrypt must print the value it was asked for");
    outputs.push(("decrypt stderr", Vec::new(), out.stderr));
    // Every failure path, made from the canary fixture.
    let bytes = std::fs::read(&canary_file).unwrap();
    let text_file = text(&bytes);
    let tampered = [
        ("flip", text_file.replacen("data:", "data:A", 1)),
        ("mac", text_file.replace("sops_mac=ENC[AES256_GCM,data:", "sops_mac=ENC[AES256_GCM,data:AAAA")),
        ("lastmodified", text_file.replace("sops_lastmodified=20", "sops_lastmodified=19")),
        ("swap", {
            let a: Vec<&str> = text_file.lines().collect();
            let (x, y) = (a[0].split_once('=').unwrap(), a[1].split_once('=').unwrap());
            let mut b = a.clone();
            let (l0, l1) = (format!("{}={}", x.0, y.1), format!("{}={}", y.0, x.1));
            b[0] = &l0;
            b[1] = &l1;
            b.join("\n") + "\n"
        }),
    ];
    for (name, content) in tampered {
        let path = home.0.join(format!("{name}.env.enc"));
        std::fs::write(&path, content).unwrap();
        for sub in [vec!["decrypt"], vec!["exec", "--secrets"]] {
            let mut cmd = clawinit(&home.0);
            with_identity(&mut cmd, "key1.txt");
            cmd.env("CLAWINIT_LOG", "trace").args(&sub);
            if sub[0] == "decrypt" {
                cmd.arg(&path);
            } else {
                cmd.arg(&path).args(["--", "true"]);
            }
            let out = cmd.output().unwrap();
            assert_eq!(out.status.code(), Some(68), "{name} {sub:?}: {}", text(&out.stderr));
            outputs.push(("failure", out.stdout, out.stderr));
        }
    }
    for (what, stdout, stderr) in &outputs {
        assert!(!contains(stdout, &canary) && !contains(stderr, &canary), "{what}: canary leaked");
    }
    // argv of a running exec: the secret is in the child's environment only.
    let ready = home.0.join("argv-ready");
    let mut child = exec(&home.0, "ok/canary.enc")
        .args(["sh", "-c", &format!("touch {}; sleep 5", ready.display())])
        .spawn()
        .unwrap();
    while !ready.exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    assert!(!contains(&cmdline, &canary));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn usage_errors_exit_64() {
    let home = Scratch::new("usage");
    let out = clawinit(&home.0).arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let out = clawinit(&home.0).env("CLAWINIT_SECRETS_OVERRIDE", "maybe").args(["exec", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(one_line(&out).contains("CLAWINIT_SECRETS_OVERRIDE"));
    let out = clawinit(&home.0).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    for sub in ["run", "exec", "decrypt", "render", "check", "probe"] {
        assert!(contains(&out.stdout, sub), "--help lacks {sub}");
    }
    let out = clawinit(&home.0).arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The version, commit, target triple and libc, so a bug report says which binary it is.
    let line = String::from_utf8(out.stdout).unwrap();
    let want = format!("clawinit {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(
        line.starts_with(&want)
            && line.contains(std::env::consts::ARCH)
            && (line.contains("glibc") || line.contains("musl")),
        "{line}"
    );
}

/// `CLAWINIT_SECRETS_FILE` takes a comma-separated list: each file is
/// decrypted and MAC-verified on its own, a later one wins, blanks are
/// ignored, and a missing one is 66 naming it, with nothing spawned.
#[test]
fn several_secrets_files_later_wins_and_a_missing_one_is_66() {
    let home = Scratch::new("exec-several");
    let (a, b) = (home.0.join("a.enc"), home.0.join("b.enc"));
    sops_encrypt_dotenv("A=1\nB=first\n", &a);
    sops_encrypt_dotenv("B=second\nC=3\n", &b);
    let list = format!(" {} , ,{} ", a.display(), b.display());
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    let out = cmd.env("CLAWINIT_SECRETS_FILE", &list).args(["exec", "env", "-0"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let env = child_env(&out.stdout);
    assert_eq!((env["A"].as_str(), env["B"].as_str(), env["C"].as_str()), ("1", "second", "3"));

    let marker = home.0.join("spawned");
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key1.txt");
    let list = format!("{},/nonexistent/two.enc", a.display());
    let out =
        cmd.env("CLAWINIT_SECRETS_FILE", &list).args(["exec", "touch", marker.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(66));
    assert!(one_line(&out).contains("/nonexistent/two.enc"));
    assert!(!marker.exists());
}

/// The plain-file sources, as a Kubernetes Secret volume lays them out
/// (`..data` and a timestamped directory, one symlink per key) and as
/// Docker's `<NAME>_FILE`: precedence SOPS file < directory < `_FILE` <
/// the process environment (unless CLAWINIT_SECRETS_OVERRIDE=true); one
/// trailing newline trimmed; the children get NAME, not NAME_FILE.
#[test]
fn secrets_dir_and_name_file_sources_in_order() {
    let home = Scratch::new("exec-sources");
    let canary = canary();
    let sops_file = home.0.join("base.enc");
    sops_encrypt_dotenv("OPENAI_API_KEY=from-sops\nMOONSHOT_API_KEY=from-sops\nONLY_SOPS=1\n", &sops_file);
    let dir = home.0.join("secret-volume");
    let data = dir.join("..2026_12_03_08_00_00.123");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("OPENAI_API_KEY"), "from-dir\n").unwrap();
    std::fs::write(data.join("ANTHROPIC_API_KEY"), format!("{canary}\n")).unwrap();
    std::fs::write(data.join("bad-name"), "x").unwrap();
    std::os::unix::fs::symlink("..2026_12_03_08_00_00.123", dir.join("..data")).unwrap();
    for name in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "bad-name"] {
        std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).unwrap();
    }
    std::fs::write(dir.join(".hidden"), "x").unwrap();
    let token_file = home.0.join("telegram");
    std::fs::write(&token_file, "from-file\r\n").unwrap();
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = clawinit(&home.0);
        with_identity(&mut cmd, "key1.txt");
        cmd.env("CLAWINIT_SECRETS_FILE", &sops_file)
            .env("CLAWINIT_SECRETS_DIR", &dir)
            .env("MOONSHOT_API_KEY_FILE", &token_file)
            .env("TELEGRAM_BOT_TOKEN_FILE", &token_file)
            .envs(extra.iter().copied())
            .args(["exec", "env", "-0"])
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let env = child_env(&out.stdout);
    assert_eq!(env["ONLY_SOPS"], "1");
    assert_eq!(env["OPENAI_API_KEY"], "from-dir", "the directory wins over the SOPS file");
    assert_eq!(env["MOONSHOT_API_KEY"], "from-file", "NAME_FILE wins over both; one CRLF trimmed");
    assert_eq!(env["TELEGRAM_BOT_TOKEN"], "from-file");
    assert_eq!(env["ANTHROPIC_API_KEY"], canary);
    for absent in ["TELEGRAM_BOT_TOKEN_FILE", "MOONSHOT_API_KEY_FILE", "bad-name", ".hidden", "..data"] {
        assert!(!env.contains_key(absent), "{absent} reached the child");
    }
    assert!(!contains(&out.stderr, &canary), "a value in the log");
    let err = text(&out.stderr);
    assert!(err.contains("CLAWINIT_SECRETS_DIR") && err.contains("TELEGRAM_BOT_TOKEN_FILE"), "sources named: {err}");
    assert!(err.contains("base.enc): OPENAI_API_KEY,MOONSHOT_API_KEY,ONLY_SOPS"), "each file's names: {err}");

    let out = run(&[("OPENAI_API_KEY", "from-env")]);
    assert_eq!(child_env(&out.stdout)["OPENAI_API_KEY"], "from-env", "the environment wins");
    let out = run(&[("OPENAI_API_KEY", "from-env"), ("CLAWINIT_SECRETS_OVERRIDE", "true")]);
    assert_eq!(child_env(&out.stdout)["OPENAI_API_KEY"], "from-dir", "unless CLAWINIT_SECRETS_OVERRIDE=true");

    let out = run(&[("TELEGRAM_BOT_TOKEN", "also-set")]);
    assert_eq!(out.status.code(), Some(64));
    assert!(one_line(&out).contains("TELEGRAM_BOT_TOKEN_FILE"));
}
