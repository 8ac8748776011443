//! The deployment examples must not rot: the Dockerfile, docker/compose.yaml,
//! docker/fly.toml and docker/k8s.yaml are parsed, and every variable they set
//! for clawinit is one it reads, every path points where the file is mounted,
//! every grace period outlasts `CLAWINIT_STOP_TIMEOUT`, every health check is
//! `clawinit probe`, and the OpenClaw version is the pinned one.

use std::collections::HashMap;
use std::path::Path;

use clawinit::config::catalog::PROVIDERS;
use support::pinned_openclaw;
use yaml_rust2::YamlLoader;

mod support;

/// The example worker the Dockerfile installs.
const WORKER: &str = "/usr/local/lib/clawinit/worker.mjs";

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Whether clawinit reads `name`: a `CLAWINIT_*` setting (a field of
/// `Settings`), an OpenClaw variable it uses, an age identity variable, or a
/// catalog provider's key / base URL / model list. Others pass through.
fn check_variable(name: &str) {
    let fields = clawinit::settings::Settings::names();
    use clawinit::names::{IDENTITY, OPENCLAW};
    let provider = PROVIDERS.iter().any(|p| {
        p.key_vars.contains(&name)
            || name == format!("{}_BASE_URL", p.env_prefix)
            || name == format!("{}_MODELS", p.env_prefix)
    });
    let known = if name.starts_with("CLAWINIT_") {
        fields.iter().any(|f| f == name)
    } else if name.starts_with("OPENCLAW_") {
        OPENCLAW.contains(&name)
    } else if name.starts_with("SOPS_AGE_") {
        IDENTITY.contains(&name)
    } else {
        provider || !name.ends_with("_API_KEY") && !name.ends_with("_BASE_URL")
    };
    assert!(known, "{name} is set in an example but clawinit does not read it");
}

fn seconds(text: &str) -> u64 {
    text.trim_end_matches('s').parse().unwrap_or_else(|_| panic!("not seconds: {text}"))
}

#[test]
fn dockerfile_is_pid1_root_then_node_pinned_and_healthchecked() {
    let dockerfile = read("Dockerfile");
    let lines: Vec<&str> = dockerfile.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    assert!(lines.contains(&r#"ENTRYPOINT ["clawinit"]"#), "exec-form ENTRYPOINT");
    assert!(lines.iter().any(|l| l.starts_with("HEALTHCHECK") && l.ends_with(r#"CMD ["clawinit", "probe"]"#)));
    assert!(!lines.iter().any(|l| l.starts_with("USER ")), "clawinit starts as root and drops to CLAWINIT_USER itself");
    assert!(dockerfile.contains("CLAWINIT_USER=node"));
    assert!(lines.contains(&format!("ARG OPENCLAW_VERSION={}", pinned_openclaw()).as_str()), "the pinned OpenClaw");
    assert!(lines.contains(&"FROM scratch AS binary"), "a binary-only stage");
    for image in lines.iter().filter_map(|l| l.strip_prefix("ARG ").filter(|a| a.contains("_IMAGE="))) {
        let tag = image.split_once('=').unwrap().1;
        assert!(tag.contains(':') && !tag.ends_with(":latest"), "{image} is not pinned");
    }
    let env: Vec<&str> =
        dockerfile.split("ENV ").nth(1).unwrap().split('\n').take_while(|l| !l.trim().is_empty()).collect();
    for pair in env.iter().flat_map(|l| l.split_whitespace()).filter(|w| w.contains('=')) {
        check_variable(pair.split('=').next().unwrap());
    }
    assert!(lines.contains(&r#"VOLUME ["/data"]"#) && dockerfile.contains("OPENCLAW_STATE_DIR=/data"));
    assert!(lines.contains(&format!("COPY docker/worker.mjs {WORKER}").as_str()), "the example worker ships");
    assert!(lines.contains(&"COPY --from=binary /clawinit /usr/local/bin/clawinit"), "a prebuilt binary can stand in");
    let plugins = lines.iter().find_map(|l| l.strip_prefix("ARG OPENCLAW_PLUGINS=")).expect("ARG OPENCLAW_PLUGINS");
    assert!(plugins.contains("@openclaw/codex@"), "the default plugins cover OPENAI_API_KEY");
}

#[test]
fn dockerfile_builds_for_the_platform_it_is_built_for() {
    let dockerfile = read("Dockerfile");
    let build = dockerfile.split(" AS build").nth(1).unwrap().split("\nFROM ").next().unwrap();
    assert!(build.lines().any(|l| l.trim() == "ARG TARGETARCH"), "buildx's TARGETARCH, no default to shadow it");
    for (platform, target) in [("amd64", "x86_64-unknown-linux-gnu"), ("arm64", "aarch64-unknown-linux-gnu")] {
        assert!(build.contains(&format!("{platform}) target={target} ;;")), "{platform} -> {target}");
    }
    assert!(build.contains("cargo build --release --locked --target \"$target\""));
    // build.rs makes the --version line; without it in the context the build fails.
    assert!(build.lines().any(|l| l.starts_with("COPY ") && l.contains(" build.rs ")), "build.rs is copied");
}

#[test]
fn compose_mounts_what_its_variables_point_at() {
    let doc = &YamlLoader::load_from_str(&read("docker/compose.yaml")).unwrap()[0];
    let service = &doc["services"]["openclaw"];
    let env: HashMap<String, String> = service["environment"]
        .as_hash()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.as_str().unwrap().to_string()))
        .collect();
    env.keys().for_each(|k| check_variable(k));
    let secrets: Vec<&str> = service["secrets"].as_vec().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for var in ["CLAWINIT_SECRETS_FILE", "SOPS_AGE_KEY_FILE"] {
        let name = env[var].strip_prefix("/run/secrets/").unwrap_or_else(|| panic!("{var} is not a compose secret"));
        assert!(
            secrets.contains(&name) && !doc["secrets"][name]["file"].is_badvalue(),
            "{var} -> undefined secret {name}"
        );
    }
    // podman-compose 1.0.3 ignores top-level `configs:`; tests/image.rs runs this file.
    assert!(doc["configs"].is_badvalue() && service["configs"].is_badvalue(), "no compose configs");
    let worker: Vec<&str> = service["command"].as_vec().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(worker, ["node", WORKER], "the worker the image ships");
    assert!(
        service["volumes"].as_vec().unwrap().iter().any(|v| v.as_str().unwrap().ends_with(":/data")),
        "the state dir is a volume"
    );
    let grace = seconds(service["stop_grace_period"].as_str().unwrap());
    assert!(
        grace > env["CLAWINIT_STOP_TIMEOUT"].parse().unwrap(),
        "stop_grace_period must outlast CLAWINIT_STOP_TIMEOUT"
    );
    let test: Vec<&str> =
        service["healthcheck"]["test"].as_vec().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(test, ["CMD", "clawinit", "probe"]);
    assert!(service["image"].as_str().unwrap().ends_with(&pinned_openclaw()));
}

#[test]
fn fly_keeps_keys_in_secrets_and_checks_healthz_on_the_gateway_port() {
    let doc: toml::Table = read("docker/fly.toml").parse().unwrap();
    let env = doc["env"].as_table().unwrap();
    for (name, _) in env {
        check_variable(name);
        assert!(!name.ends_with("_API_KEY") && name != "OPENCLAW_GATEWAY_TOKEN", "{name} belongs in `fly secrets`");
    }
    let mounts = &doc["mounts"].as_array().unwrap()[0];
    assert_eq!(mounts["destination"].as_str(), env["OPENCLAW_STATE_DIR"].as_str());
    let http = doc["http_service"].as_table().unwrap();
    assert_eq!(http["internal_port"].as_integer().unwrap().to_string(), env["OPENCLAW_GATEWAY_PORT"].as_str().unwrap());
    let check = &http["checks"].as_array().unwrap()[0];
    assert_eq!(check["path"].as_str(), Some("/healthz"));
    let stop: i64 = env["CLAWINIT_STOP_TIMEOUT"].as_str().unwrap().parse().unwrap();
    assert!(doc["kill_timeout"].as_integer().unwrap() > stop, "kill_timeout must outlast CLAWINIT_STOP_TIMEOUT");
    assert_eq!(doc["build"]["build-target"].as_str(), Some("gateway"));
}

#[test]
fn kubernetes_mounts_match_paths_probes_and_replicas_share_no_state() {
    let docs = YamlLoader::load_from_str(&read("docker/k8s.yaml")).unwrap();
    let by_kind = |kind: &str, name: &str| {
        docs.iter().find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name)).cloned()
    };
    let deployment = docs.iter().find(|d| d["kind"].as_str() == Some("Deployment")).unwrap();
    assert_eq!(deployment["spec"]["replicas"].as_i64(), Some(2));
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let env: HashMap<String, String> = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["value"].as_str().unwrap().to_string()))
        .collect();
    env.keys().for_each(|k| check_variable(k));
    let mounts: Vec<(&str, &str)> = container["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["mountPath"].as_str().unwrap()))
        .collect();
    let volume = |name: &str| {
        pod["volumes"].as_vec().unwrap().iter().find(|v| v["name"].as_str() == Some(name)).unwrap().clone()
    };
    // Every file variable points into a mounted volume, at a key that exists.
    for var in ["CLAWINIT_SECRETS_FILE", "SOPS_AGE_KEY_FILE", "OPENCLAW_CONFIG_PATH"] {
        let path = Path::new(&env[var]);
        let (dir, file) = (path.parent().unwrap().to_str().unwrap(), path.file_name().unwrap().to_str().unwrap());
        let (name, _) = mounts.iter().find(|(_, p)| *p == dir).unwrap_or_else(|| panic!("{var}: {dir} is not mounted"));
        let v = volume(name);
        let source = match (&v["secret"], &v["configMap"]) {
            (s, _) if !s.is_badvalue() => {
                by_kind("Secret", s["secretName"].as_str().unwrap()).map(|d| d["stringData"].clone())
            }
            (_, c) => by_kind("ConfigMap", c["name"].as_str().unwrap()).map(|d| d["data"].clone()),
        };
        if let Some(data) = source {
            assert!(!data[file].is_badvalue(), "{var}: no key {file} in the volume's source");
        }
    }
    let (state_name, state_path) =
        mounts.iter().find(|(_, p)| *p == env["OPENCLAW_STATE_DIR"]).expect("the state dir is mounted");
    let state = volume(state_name);
    assert!(!state["ephemeral"]["volumeClaimTemplate"].is_badvalue(), "{state_path}: one PVC per pod, never shared");
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let command: Vec<&str> =
            container[probe]["exec"]["command"].as_vec().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert_eq!(&command[..2], ["clawinit", "probe"], "{probe}");
    }
    let startup = &container["startupProbe"];
    let budget = startup["periodSeconds"].as_i64().unwrap() * startup["failureThreshold"].as_i64().unwrap();
    assert!(
        budget >= env["CLAWINIT_READY_TIMEOUT"].parse::<i64>().unwrap(),
        "the startup probe outlasts the readiness timeout"
    );
    let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap();
    assert!(
        grace > env["CLAWINIT_STOP_TIMEOUT"].parse::<i64>().unwrap(),
        "terminationGracePeriodSeconds must outlast CLAWINIT_STOP_TIMEOUT"
    );
    assert!(container["image"].as_str().unwrap().ends_with(&pinned_openclaw()));
    let worker: Vec<&str> = container["args"].as_vec().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(worker, ["node", WORKER], "the worker the image ships");
}

/// Both examples run hardened (README "Hardened containers"): a read-only root with a
/// tmpfs (emptyDir) on /tmp, every capability dropped but exactly the ones clawinit
/// checks for (`capabilities::NEEDED`), no new privileges; tests/image.rs runs them.
#[test]
fn both_examples_are_hardened_with_the_capabilities_clawinit_checks_for() {
    let needed: Vec<&str> = clawinit::capabilities::NEEDED.iter().map(|(name, _, _)| *name).collect();
    let names = |list: &yaml_rust2::Yaml| -> Vec<String> {
        list.as_vec().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect()
    };
    let doc = &YamlLoader::load_from_str(&read("docker/compose.yaml")).unwrap()[0];
    let service = &doc["services"]["openclaw"];
    assert_eq!(service["read_only"].as_bool(), Some(true));
    assert_eq!(names(&service["tmpfs"]), ["/tmp"]);
    assert_eq!(names(&service["cap_drop"]), ["ALL"]);
    assert_eq!(names(&service["cap_add"]), needed);
    assert_eq!(names(&service["security_opt"]), ["no-new-privileges:true"]);

    let docs = YamlLoader::load_from_str(&read("docker/k8s.yaml")).unwrap();
    let deployment = docs.iter().find(|d| d["kind"].as_str() == Some("Deployment")).unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"].as_str(), Some("RuntimeDefault"));
    let container = &pod["containers"][0];
    let context = &container["securityContext"];
    assert_eq!(context["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(context["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(names(&context["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(names(&context["capabilities"]["add"]), needed);
    let tmp = container["volumeMounts"].as_vec().unwrap().iter().find(|m| m["mountPath"].as_str() == Some("/tmp"));
    let tmp = tmp.expect("/tmp is mounted")["name"].as_str().unwrap();
    let volume = pod["volumes"].as_vec().unwrap().iter().find(|v| v["name"].as_str() == Some(tmp)).unwrap();
    assert!(!volume["emptyDir"].is_badvalue(), "/tmp is an emptyDir");
}

#[test]
fn the_checks_catch_a_wrong_variable() {
    let result = std::panic::catch_unwind(|| check_variable("CLAWINIT_SECRET_FILE"));
    assert!(result.is_err(), "a misspelt setting must fail the example checks");
    let result = std::panic::catch_unwind(|| check_variable("OPENCLAW_AGENT_MODELS"));
    assert!(result.is_err());
    check_variable("LITELLM_MASTER_KEY");
    check_variable("NODE_OPTIONS");
}
