//! Decryption against fixtures made by the real sops 3.11 and age: byte parity
//! with `sops -d`, every failure class with its contract exit code, and no
//! secret value in any output.

mod support;

use std::process::Command;

use support::*;

fn run_decrypt(entry: &serde_json::Value, home: &std::path::Path) -> std::process::Output {
    let file = fixtures().join(entry["file"].as_str().unwrap());
    let mut cmd = clawinit(home);
    with_identity(&mut cmd, entry["identity"].as_str().unwrap());
    cmd.arg("decrypt");
    if let Some(t) = entry["output_type"].as_str().filter(|t| *t == "json") {
        cmd.args(["--output-type", t]);
    }
    cmd.arg(file).output().unwrap()
}

#[test]
fn decrypt_matches_recorded_sops_output_byte_for_byte() {
    let home = Scratch::new("parity");
    let manifest = manifest();
    let mut checked = 0;
    for entry in manifest["fixtures"].as_array().unwrap() {
        let Some(expected) = entry["expected_output"].as_str() else {
            continue;
        };
        let out = run_decrypt(entry, &home.0);
        assert!(out.status.success(), "{}: {}", entry["file"], text(&out.stderr));
        let expected = std::fs::read(fixtures().join(expected)).unwrap();
        let dotenv_out = entry["output_type"] == "dotenv";
        if dotenv_out {
            assert!(out.stdout == expected, "{}: output differs from sops -d", entry["file"]);
        } else {
            // JSON/YAML: sops formats these its own way; compare the documents.
            let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let theirs: serde_json::Value = if entry["store"] == "yaml" {
                yaml_to_json(&text(&expected))
            } else {
                serde_json::from_slice(&expected).unwrap()
            };
            assert_eq!(ours, theirs, "{}", entry["file"]);
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}

/// A YAML `sops -d` output as JSON, via the same parser clawinit uses.
fn yaml_to_json(yaml: &str) -> serde_json::Value {
    fn conv(y: &yaml_rust2::Yaml) -> serde_json::Value {
        use yaml_rust2::Yaml;
        match y {
            Yaml::Hash(h) => {
                serde_json::Value::Object(h.iter().map(|(k, v)| (k.as_str().unwrap().to_string(), conv(v))).collect())
            }
            Yaml::Array(a) => a.iter().map(conv).collect(),
            Yaml::String(s) => s.clone().into(),
            Yaml::Integer(i) => (*i).into(),
            Yaml::Real(r) => r.parse::<f64>().unwrap().into(),
            Yaml::Boolean(b) => (*b).into(),
            _ => serde_json::Value::Null,
        }
    }
    conv(&yaml_rust2::YamlLoader::load_from_str(yaml).unwrap()[0])
}

#[test]
fn live_parity_with_sops_when_installed() {
    let Ok(probe) = Command::new("sops").arg("--version").output() else {
        eprintln!("sops not installed: live parity skipped (recorded parity still checked)");
        return;
    };
    assert!(probe.status.success());
    let home = Scratch::new("live");
    for entry in manifest()["fixtures"].as_array().unwrap() {
        if entry["store"] != "dotenv" || entry["expect"] != "ok" || entry["output_type"] != "dotenv" {
            continue;
        }
        let file = fixtures().join(entry["file"].as_str().unwrap());
        let mut sops = Command::new("sops");
        sops.env_clear().env("PATH", std::env::var_os("PATH").unwrap()).env("HOME", &home.0);
        with_identity(&mut sops, entry["identity"].as_str().unwrap());
        let theirs =
            sops.args(["decrypt", "--input-type", "dotenv", "--output-type", "dotenv"]).arg(&file).output().unwrap();
        assert!(theirs.status.success(), "sops failed on {}", entry["file"]);
        let ours = run_decrypt(entry, &home.0);
        assert!(ours.stdout == theirs.stdout, "{}: differs from live sops -d", entry["file"]);
    }
}

#[test]
fn every_failure_class_gets_its_contract_code_and_one_line() {
    let home = Scratch::new("failures");
    let canary = canary();
    let manifest = manifest();
    for entry in manifest["fixtures"].as_array().unwrap() {
        if entry["expect"] == "ok" {
            if entry["file"].as_str().unwrap().starts_with("bad/") {
                let out = run_decrypt(entry, &home.0);
                assert!(out.status.success(), "{} should be accepted: {}", entry["file"], text(&out.stderr));
            }
            continue;
        }
        let expect = entry["expect"].as_i64().unwrap() as i32;
        let out = run_decrypt(entry, &home.0);
        let line = one_line(&out);
        assert_eq!(out.status.code(), Some(expect), "{} ({}): {line}", entry["file"], entry["why"]);
        let name = entry["file"].as_str().unwrap();
        assert!(line.contains(name), "{name}: error line does not name the file: {line}");
        assert!(out.stdout.is_empty(), "{name}: printed plaintext on failure");
        assert!(!contains(&out.stderr, &canary), "{name}: canary in stderr");
        assert!(!contains(&out.stderr, "sk-test-0123456789abcdef"), "{name}: secret in stderr");
    }
}

#[test]
fn missing_unreadable_and_directory_exit_66() {
    let home = Scratch::new("missing");
    for path in ["/nonexistent/secrets.env.enc", "/"] {
        let out = clawinit(&home.0).args(["decrypt", path]).output().unwrap();
        assert_eq!(out.status.code(), Some(66), "{path}");
        assert!(one_line(&out).contains(path));
    }
}

#[test]
fn identities_no_match_garbage_and_union() {
    let home = Scratch::new("identities");
    let keys = fixtures().join("keys");
    let file = fixtures().join("ok/basic.enc");
    let code = |cmd: &mut Command| {
        let out = cmd.arg("decrypt").arg(&file).output().unwrap();
        (out.status.code(), text(&out.stderr))
    };
    // No identity at all, a non-matching one, a garbage file: 67 naming the source.
    let (c, err) = code(&mut clawinit(&home.0));
    assert_eq!(c, Some(67), "{err}");
    let (c, err) = code(clawinit(&home.0).env("SOPS_AGE_KEY_FILE", keys.join("other.txt")));
    assert_eq!(c, Some(67), "{err}");
    assert!(err.contains("other.txt"));
    let (c, err) = code(clawinit(&home.0).env("SOPS_AGE_KEY_FILE", keys.join("garbage.txt")));
    assert_eq!(c, Some(67));
    assert!(err.contains("garbage.txt") && err.contains("line 1"), "{err}");
    assert!(!err.contains("this is not an age identity"), "identity file content leaked: {err}");
    // Union like sops 3.11: a garbage source does not stop a good one.
    let key1 = std::fs::read_to_string(keys.join("key1.txt")).unwrap();
    let (c, err) =
        code(clawinit(&home.0).env("SOPS_AGE_KEY_FILE", keys.join("garbage.txt")).env("SOPS_AGE_KEY", &key1));
    assert_eq!(c, Some(0), "{err}");
    // SOPS_AGE_KEY_CMD, split like a shell and run without one.
    let cmd = format!("cat '{}'", keys.join("key1.txt").display());
    assert_eq!(code(clawinit(&home.0).env("SOPS_AGE_KEY_CMD", cmd)).0, Some(0));
    // The default keys.txt under $XDG_CONFIG_HOME, then under $HOME/.config.
    let xdg = home.0.join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    std::fs::copy(keys.join("key1.txt"), xdg.join("sops/age/keys.txt")).unwrap();
    assert_eq!(code(clawinit(&home.0).env("XDG_CONFIG_HOME", &xdg)).0, Some(0));
    std::fs::create_dir_all(home.0.join(".config/sops/age")).unwrap();
    std::fs::copy(keys.join("key1.txt"), home.0.join(".config/sops/age/keys.txt")).unwrap();
    assert_eq!(code(&mut clawinit(&home.0)).0, Some(0));
}

#[test]
fn ssh_key_from_home_is_used() {
    let home = Scratch::new("sshhome");
    std::fs::create_dir_all(home.0.join(".ssh")).unwrap();
    std::fs::copy(fixtures().join("keys/id_ed25519"), home.0.join(".ssh/id_ed25519")).unwrap();
    let out = clawinit(&home.0).arg("decrypt").arg(fixtures().join("ok/ssh_recipient.enc")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"VIA_SSH=ed25519\n");
}

#[test]
fn store_is_detected_from_content_not_name() {
    let home = Scratch::new("detect");
    for (fixture, renamed) in
        [("ok/nested_json.enc", "secrets.env"), ("ok/nested_yaml.enc", "x.json"), ("ok/basic.enc", "y.yaml")]
    {
        let target = home.0.join(renamed);
        std::fs::copy(fixtures().join(fixture), &target).unwrap();
        let mut cmd = clawinit(&home.0);
        with_identity(&mut cmd, "key1.txt");
        let out = cmd.arg("decrypt").arg(&target).output().unwrap();
        assert!(out.status.success(), "{fixture} as {renamed}: {}", text(&out.stderr));
    }
}

/// A 67 says what the file is encrypted to and what was tried (public
/// recipients and sources), never a private key.
#[test]
fn a_wrong_key_names_the_files_recipients_and_yours() {
    let home = Scratch::new("wrong-key");
    let mut cmd = clawinit(&home.0);
    with_identity(&mut cmd, "key2.txt");
    let out = cmd.arg("decrypt").arg(fixtures().join("ok/basic.enc")).output().unwrap();
    assert_eq!(out.status.code(), Some(67));
    let line = one_line(&out);
    let public = |name: &str| {
        let text = std::fs::read_to_string(fixtures().join("keys").join(name)).unwrap();
        text.lines().find_map(|l| l.strip_prefix("# public key: ")).unwrap().to_string()
    };
    assert!(line.contains(&format!("the file is for {}", public("key1.txt"))), "{line}");
    assert!(line.contains(&format!("key2.txt): {}", public("key2.txt"))), "{line}");
    let private = std::fs::read_to_string(fixtures().join("keys/key2.txt")).unwrap();
    let private = private.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap();
    assert!(!contains(&out.stderr, private) && !contains(&out.stdout, private));
}
