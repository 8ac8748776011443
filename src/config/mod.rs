//! openclaw.json: seed or merge providers, model chains and aliases from the
//! keys present, keep the user's settings, never write a secret value.
//!
//! `prepare` runs the steps in order: locate → lock → read → plan (pure) →
//! render (pure) → check references → write if the bytes changed.

pub mod catalog;
pub mod json;
pub mod plan;
pub mod refs;
pub mod render;
pub mod state;
pub mod store;

use std::path::PathBuf;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::account::Account;
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::settings::Settings;
use plan::Lookup;
use render::Change;
use store::Location;

/// Whether `prepare` may write (`run`) or only renders and checks
/// (`render`, `check`, and `run` with `CLAWINIT_CONFIG_WRITE=false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    DryRun,
}

pub struct Prepared {
    pub location: Location,
    /// The file the gateway will read.
    pub gateway_reads: PathBuf,
    pub port: u16,
    pub bytes: Vec<u8>,
    /// The bytes differ from the file on disk (written unless dry run).
    pub changed: bool,
    pub written: bool,
    pub changes: Vec<Change>,
    pub providers: Vec<String>,
    pub warnings: Vec<String>,
}

/// Render openclaw.json for the children's environment and, in `Write` mode,
/// write it. Adds `OPENCLAW_GATEWAY_TOKEN` (generated when unset) and, for a
/// read-only source, `OPENCLAW_CONFIG_PATH` to `env`. Every failure happens
/// before anything is written.
pub fn prepare(settings: &Settings, env: &mut ChildEnv, mode: Mode, owner: Option<&Account>) -> Result<Prepared, Failure> {
    let write = mode == Mode::Write && settings.config_write;
    let location = Location::resolve(env)?;
    let overlay = match &settings.config_overlay {
        Some(path) => {
            let text = store::read(path)?
                .ok_or_else(|| Failure::new(Exit::Config, format!("{}: CLAWINIT_CONFIG_OVERLAY: no such file", path.display())))?;
            Some(store::parse(path, &text)?)
        }
        None => None,
    };
    let _lock = if write { Some(store::lock(&location, owner)?) } else { None };

    let source_text = store::read(&location.source)?;
    let existing = source_text.as_deref().map(|t| store::parse(&location.source, t)).transpose()?;
    // A read-only source is rendered afresh each time: it is the truth, and
    // nothing clawinit wrote is in it.
    let previous = if location.read_only.is_some() { Default::default() } else { store::read_state(&location) };

    let plan = plan::plan(&*env, existing.as_ref().unwrap_or(&Value::Null), &previous, overlay.as_ref(), settings.config_refs)?;
    let rendered = render::render(existing.as_ref(), &previous, &plan);
    let bytes = json::to_openclaw_bytes(&rendered.doc);

    provide_token(&rendered.doc, env);
    let refs = refs::references(&rendered.doc);
    if let Some(missing) = refs::first_missing(&refs, &rendered.doc, &*env) {
        let file = location.target.display();
        return Err(Failure::new(
            Exit::Config,
            format!("{file}: {} references {}, which is not set or is empty in the environment", missing.at, missing.var),
        ));
    }
    let warnings = refs::uncredentialed_models(&rendered.doc, &*env);

    let on_disk = if location.target == location.source { source_text.map(String::into_bytes) } else { std::fs::read(&location.target).ok() };
    let changed = on_disk.as_deref() != Some(&bytes[..]);
    if write {
        if changed {
            store::write_config(&location, &bytes, owner)?;
        }
        if location.read_only.is_none() {
            store::write_state(&location, &rendered.state, owner)?;
        }
    }
    let gateway_reads = if write { location.target.clone() } else { location.source.clone() };
    if gateway_reads != location.source {
        env.set("OPENCLAW_CONFIG_PATH", Zeroizing::new(gateway_reads.as_os_str().as_encoded_bytes().to_vec()));
    }
    Ok(Prepared {
        port: effective_port(env, &rendered.doc),
        location,
        gateway_reads,
        bytes,
        changed,
        written: write && changed,
        changes: rendered.changes,
        providers: plan.providers,
        warnings,
    })
}

/// The gateway and the worker share one token. When the environment has
/// none: the file's literal token if it has one (OpenClaw reads the config
/// first), else a random one for this boot, never written anywhere.
fn provide_token(doc: &Value, env: &mut ChildEnv) {
    const VAR: &str = "OPENCLAW_GATEWAY_TOKEN";
    if env.present(VAR) {
        if doc.pointer("/gateway/auth/token").is_some_and(Value::is_string) {
            tracing::warn!("gateway.auth.token in openclaw.json takes precedence over {VAR} in OpenClaw; the worker gets {VAR}");
        }
        return;
    }
    if let Some(Value::String(literal)) = doc.pointer("/gateway/auth/token") {
        if !literal.contains("${") {
            env.set(VAR, Zeroizing::new(literal.as_bytes().to_vec()));
            return;
        }
    }
    env.set(VAR, random_token());
}

fn random_token() -> Zeroizing<Vec<u8>> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(raw.as_mut()).expect("the kernel provides random bytes");
    let mut hex = Zeroizing::new(Vec::with_capacity(64));
    for b in raw.iter() {
        hex.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    hex
}

/// OpenClaw's precedence: `OPENCLAW_GATEWAY_PORT`, then `gateway.port`.
fn effective_port(env: &ChildEnv, doc: &Value) -> u16 {
    let from_env = env.get("OPENCLAW_GATEWAY_PORT").and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok());
    let from_file = doc.pointer("/gateway/port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok());
    from_env.or(from_file).unwrap_or(plan::DEFAULT_PORT)
}

impl Lookup for ChildEnv {
    fn raw(&self, name: &str) -> Option<&[u8]> {
        self.get(name)
    }
}
