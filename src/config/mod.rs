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
mod token;

use std::path::PathBuf;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::account::Account;
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::names;
use crate::settings::Settings;
use render::Change;
use store::Location;

/// Whether `prepare` may write (`run`) or only renders and checks
/// (`render`, `check`, and `run` with `CLAWINIT_CONFIG_WRITE=false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    /// `run`'s reload: write, but never wait for a lock someone holds (the
    /// user can hold it, and the supervisor must not freeze meanwhile).
    Rewrite,
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
    /// The state file this start kept back, if any (`Deferred`).
    pub deferred: Option<Deferred>,
}

/// The state file of a first start, kept back so the gateway finds a new
/// state dir holding only openclaw.json (OpenClaw then skips its legacy
/// migrations: `store::only_config`), with the lock still held: another
/// start on the volume waits for it (and then reads it) instead of taking
/// the seeded entries for the user's. `run` writes it once the gateway is
/// ready or has had `SETTLE_AFTER`, before a reload, when the run ends, or
/// at once when the state dir is not new anyway. Only a kill of PID 1
/// in between loses it; the next start then takes the seeded entries for
/// the user's: it keeps them as they are and no longer updates them.
pub struct Deferred {
    locked: store::Locked,
    location: Location,
    state: state::State,
}

/// How long after the gateway's spawn a kept-back state file waits at most
/// for its readiness: OpenClaw looks at its state dir within its first
/// seconds (~1-2 s on a 2-core machine).
pub const SETTLE_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

impl Deferred {
    /// The state dir still holds only openclaw.json (keeping the state
    /// file back still buys something).
    pub fn still_new(&self) -> bool {
        store::only_config(&self.locked, &self.location)
    }

    /// Write the state file (unless one appeared) and release the lock. A
    /// failure is one warning; the file then stays missing (see above).
    pub fn write(self, owner: Option<&Account>) {
        if store::has_state(&self.locked, &self.location) {
            return;
        }
        if let Err(failure) = store::write_state(&self.locked, &self.location, &self.state, owner) {
            tracing::warn!("{}; the next start takes the entries clawinit wrote for the user's", failure.message);
        }
    }
}

/// Render openclaw.json for the children's environment and, in `Write` mode,
/// write it. Adds `OPENCLAW_GATEWAY_TOKEN` (generated when unset) and, for a
/// read-only source, `OPENCLAW_CONFIG_PATH` to `env`. Every failure happens
/// before anything is written.
pub fn prepare(
    settings: &Settings,
    env: &mut ChildEnv,
    mode: Mode,
    owner: Option<&Account>,
) -> Result<Prepared, Failure> {
    let started = std::time::Instant::now();
    let write = mode != Mode::DryRun && settings.config_write;
    let location = Location::resolve(env)?;
    if owner.is_some() {
        crate::ownership::check_state_dir(&location.state_dir)?;
        // Once the state dir is the user's, a link in it could point
        // anywhere; refusing it on every boot beats following it on the first.
        if location.read_only == Some("a symlink") && location.source.starts_with(&location.state_dir) {
            return Err(Failure::new(
                Exit::Config,
                format!(
                    "{}: a symlink inside the state dir CLAWINIT_USER owns; set OPENCLAW_CONFIG_PATH to its target",
                    location.source.display()
                ),
            ));
        }
    }
    let overlay = read_overlay(settings)?;
    // Decide without the lock first: a failure or a no-op leaves no trace,
    // not even a lock file. Renames are atomic, so this read is consistent.
    let mut outcome = compute(&location, settings, env, overlay.as_ref())?;
    let (mut written, mut deferred) = (false, None);
    if write && (outcome.changed || outcome.state_stale) {
        let wait = if mode == Mode::Rewrite { std::time::Duration::ZERO } else { store::LOCK_WAIT };
        let locked = store::lock(&location, owner, wait)?;
        // Another start may have written meanwhile: decide again on what is
        // on disk now, and write only what is still needed.
        outcome = compute(&location, settings, env, overlay.as_ref())?;
        if outcome.changed {
            store::write_config(&locked, &location, &outcome.bytes, owner)?;
            written = true;
        }
        let first_start = mode == Mode::Write
            && outcome.state_stale
            && location.target.parent() == Some(location.state_dir.as_path())
            && store::only_config(&locked, &location);
        if first_start {
            let state = outcome.rendered.state.clone();
            deferred = Some(Deferred { locked, location: location.clone(), state });
        } else if outcome.state_stale {
            store::write_state(&locked, &location, &outcome.rendered.state, owner)?;
        }
    }
    if let Err(failure) = token::provide(&outcome.rendered.doc, env) {
        if let Some(kept_back) = deferred {
            kept_back.write(owner);
        }
        return Err(failure);
    }
    tracing::debug!(
        elapsed_us = started.elapsed().as_micros() as u64,
        bytes = outcome.bytes.len(),
        "openclaw.json rendered"
    );
    let gateway_reads = if write { location.target.clone() } else { location.source.clone() };
    if gateway_reads != location.source {
        env.set(names::OPENCLAW_CONFIG_PATH, Zeroizing::new(gateway_reads.as_os_str().as_encoded_bytes().to_vec()));
    }
    Ok(Prepared {
        port: effective_port(env, &outcome.rendered.doc),
        location,
        gateway_reads,
        bytes: outcome.bytes,
        changed: outcome.changed,
        written,
        changes: outcome.rendered.changes,
        providers: outcome.providers,
        warnings: outcome.warnings,
        deferred,
    })
}

fn read_overlay(settings: &Settings) -> Result<Option<Value>, Failure> {
    let Some(path) = &settings.config_overlay else { return Ok(None) };
    let text = store::read(path)?.ok_or_else(|| {
        Failure::new(Exit::Config, format!("{}: CLAWINIT_CONFIG_OVERLAY: no such file", path.display()))
    })?;
    store::parse(path, &text).map(Some)
}

struct Outcome {
    rendered: render::Rendered,
    bytes: Vec<u8>,
    /// The bytes differ from the target file.
    changed: bool,
    /// The state file does not record what this render manages.
    state_stale: bool,
    providers: Vec<String>,
    warnings: Vec<String>,
}

/// Read, plan, render and check; no writes.
fn compute(
    location: &Location,
    settings: &Settings,
    env: &ChildEnv,
    overlay: Option<&Value>,
) -> Result<Outcome, Failure> {
    let source_text = store::read(&location.source)?;
    let existing = source_text.as_deref().map(|t| store::parse(&location.source, t)).transpose()?;
    // A read-only source is rendered afresh each time: it is the truth, and
    // nothing clawinit wrote is in it.
    let previous = if location.read_only.is_some() { Default::default() } else { store::read_state(location) };

    let release = crate::openclaw_version::target();
    let plan =
        plan::plan(env, existing.as_ref().unwrap_or(&Value::Null), &previous, overlay, settings.config_refs, release)?;
    let rendered = render::render(existing, &previous, &plan);
    let bytes = json::to_openclaw_bytes(&rendered.doc);

    let refs = refs::references(&rendered.doc);
    // clawinit always provides the gateway token (generated when unset).
    let refs: Vec<_> = refs.into_iter().filter(|r| r.var != token::VAR).collect();
    if let Some(missing) = refs::first_missing(&refs, &rendered.doc, env) {
        let file = location.target.display();
        return Err(Failure::new(
            Exit::Config,
            format!(
                "{file}: {} references {}, which is not set or is empty in the environment",
                missing.at, missing.var
            ),
        ));
    }
    let mut warnings = refs::uncredentialed_models(&rendered.doc, env);
    warnings.extend(plan.warnings);

    let on_disk = match location.target == location.source {
        true => source_text.map(String::into_bytes),
        false => store::read_own(&location.target),
    };
    let changed = on_disk.as_deref() != Some(&bytes[..]);
    let state_stale =
        location.read_only.is_none() && store::read_own(&location.state_file()) != Some(rendered.state.to_bytes());
    Ok(Outcome { rendered, bytes, changed, state_stale, providers: plan.providers, warnings })
}

/// The port the gateway listens on, for `probe`: from the environment, else
/// the config the gateway reads (the rendered copy of a read-only source
/// first), else OpenClaw's default.
pub fn gateway_port(env: &ChildEnv) -> u16 {
    let doc = Location::resolve(env)
        .ok()
        .and_then(|loc| {
            [&loc.target, &loc.source].into_iter().find_map(|p| store::read(p).ok().flatten().map(|t| (p.clone(), t)))
        })
        .and_then(|(path, text)| store::parse(&path, &text).ok())
        .unwrap_or(Value::Null);
    effective_port(env, &doc)
}

/// OpenClaw's precedence: `OPENCLAW_GATEWAY_PORT`, then `gateway.port`.
fn effective_port(env: &ChildEnv, doc: &Value) -> u16 {
    let from_env = env.get(names::OPENCLAW_GATEWAY_PORT).and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok());
    let from_file = doc.pointer("/gateway/port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok());
    from_env.or(from_file).unwrap_or(plan::DEFAULT_PORT)
}
