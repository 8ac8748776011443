//! The start pipeline: the steps from the settings to the children's
//! environment and the written config, in `run`'s order (secret sources →
//! secrets → account → gateway and worker commands → openclaw.json →
//! what `run` adds to the environment). `run`, `check`, `render` and the
//! reload (`reload.rs`) all go through these functions, so `check` equals
//! `run` up to the spawn and a reload reads what the start read.

pub mod command;
pub mod gateway;
pub mod reload;
pub mod sources;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::account::Account;
use crate::config::{self, Mode, Prepared};
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::interrupt;
use crate::names;
use crate::openclaw_version::{self, Installed};
use crate::secrets::{self, IdentitySources};
use crate::settings::Settings;
use crate::writable_dirs::WritableDirs;
use command::Command;

/// The identity sources of the environment, with the key command's time limit.
pub fn identity_sources(settings: &Settings) -> IdentitySources {
    IdentitySources { key_cmd_timeout: Duration::from_secs(settings.key_cmd_timeout), ..IdentitySources::from_env() }
}

/// A command line as the children's `PATH` resolves its program.
pub fn resolve_command(argv: &[OsString], env: &ChildEnv) -> Result<Command, Failure> {
    let (program, _) = argv.split_first().ok_or_else(|| Failure::new(Exit::Usage, "no command given"))?;
    Ok(Command { program: command::resolve(program, env)?, argv: argv.to_vec() })
}

/// The SOPS files of `CLAWINIT_SECRETS_FILE` (or `--secrets`): a
/// comma-separated list, entries trimmed, empty ones ignored, in order.
pub fn secrets_files(setting: Option<&Path>) -> Vec<PathBuf> {
    let Some(setting) = setting else { return Vec::new() };
    let text = setting.as_os_str().to_string_lossy();
    text.split(',').map(str::trim).filter(|f| !f.is_empty()).map(PathBuf::from).collect()
}

/// The environment every child gets: inherited (minus identities) + the
/// secrets of every source, in order (later wins): the SOPS files, then
/// `CLAWINIT_SECRETS_DIR`, then `<NAME>_FILE`. With it, which sources were
/// used (names and paths only), for the log (at info when `announce`, at
/// debug on a reload, which says in one line what changed) and `status`.
pub fn children_env(
    secrets_file: Option<&Path>,
    settings: &Settings,
    announce: bool,
) -> Result<(ChildEnv, Vec<String>), Failure> {
    let mut env = ChildEnv::inherit(std::env::vars_os());
    let (mut vars, mut sources) = (Vec::new(), Vec::new());
    let files = secrets_files(secrets_file);
    for file in &files {
        // A stop request during a slow key command surfaces as a failed
        // identity: the stop is what to report.
        let doc = secrets::decrypt_file(file, &identity_sources(settings)).map_err(|e| match interrupt::check() {
            Err(stopped) => stopped,
            Ok(()) => Failure::from(e),
        })?;
        crate::fault::abort_at("after-decrypt");
        let mut items = secrets::environment_items(&doc, &file.display().to_string())?;
        let label = format!("CLAWINIT_SECRETS_FILE ({})", file.display());
        warn_screened(&label, &sources::screen(&mut items));
        sources.push(format!("{label}: {}", sources::names_of(&items)));
        vars.extend(items);
    }
    // The identity files and the SOPS files, should the dir hold them.
    let own_files: Vec<sources::Inode> =
        IdentitySources::from_env().files().iter().chain(&files).filter_map(|f| sources::inode(f)).collect();
    let from_dir = settings.secrets_dir.as_deref().map(|dir| sources::from_dir(dir, &own_files)).transpose()?;
    let from_file_vars = sources::from_file_variables(|name| std::env::var_os(name))?;
    for loaded in from_dir.into_iter().chain([from_file_vars]) {
        if !loaded.own_files.is_empty() {
            let names = sources::shown_names(loaded.own_files.iter().map(String::as_str));
            tracing::debug!(names = %names, "{}: the age identity or SOPS files there are not variables: skipped", loaded.label);
        }
        if let Some(why) = &loaded.unsafe_dir {
            tracing::warn!(
                "{}: {why}; read anyway: clawinit is not root, its children run as its own uid",
                loaded.label
            );
        }
        if !loaded.untrusted.is_empty() {
            let names = sources::shown_names(loaded.untrusted.iter().map(String::as_str));
            tracing::warn!(names = %names, "{}: entries of a shared directory that are not root's: skipped", loaded.label);
        }
        warn_screened(&loaded.label, &loaded.screened);
        vars.extend(loaded.vars);
        sources.extend(loaded.sources);
        for name in loaded.consumed {
            env.remove(&name);
        }
    }
    if sources.is_empty() {
        return Ok((env, sources));
    }
    let file = sources.join("; ");
    let total = vars.len();
    let report = env.merge_secrets(vars, settings.secrets_override);
    let (added, overridden, kept) = (report.added, report.overridden.len(), report.kept_existing.len());
    if announce {
        tracing::info!(sources = %file, variables = total, added, overridden, kept_from_environment = kept, "secrets loaded");
    } else {
        tracing::debug!(sources = %file, variables = total, added, overridden, kept_from_environment = kept, "secrets loaded");
    }
    if !report.kept_existing.is_empty() {
        tracing::debug!(names = %report.kept_existing.join(","), "environment kept over the secrets file (CLAWINIT_SECRETS_OVERRIDE=false)");
    }
    if !report.dropped_identity.is_empty() {
        tracing::warn!(names = %report.dropped_identity.join(","), "identity variables in the secrets file are never passed to children");
    }
    if !report.dropped_loader.is_empty() {
        tracing::warn!(names = %report.dropped_loader.join(","), "dynamic-loader variables in the secrets file are never passed to children");
    }
    if !report.dropped_invalid.is_empty() {
        tracing::warn!(names = %report.dropped_invalid.join(","), "names in the secrets file that are not valid variable names were not passed");
    }
    Ok((env, sources))
}

/// One warning per source for what it may not pass (names only).
fn warn_screened(source: &str, screened: &sources::Screened) {
    if !screened.steering.is_empty() {
        tracing::warn!(
            names = %screened.steering.join(","),
            "{source}: these say where clawinit reads and writes; they come from clawinit's own environment only: not passed"
        );
    }
    if !screened.age_identities.is_empty() {
        tracing::warn!(
            names = %screened.age_identities.join(","),
            "{source}: these values hold an age identity, which never reaches a child: not passed"
        );
    }
}

/// How far the shared preflight goes: `render` stops once openclaw.json is
/// rendered; `check` and `run` go up to the spawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Rendered,
    Spawn,
}

/// Everything decided before a child exists.
pub struct Preflight {
    pub env: ChildEnv,
    /// The secret sources in use (names and paths only).
    pub sources: Vec<String>,
    pub owner: Option<Account>,
    pub gateway: Option<Command>,
    pub worker: Option<Command>,
    /// The OpenClaw release the gateway command runs, from its package.json.
    pub openclaw: Installed,
    pub prepared: Prepared,
}

/// The one preflight of `run`, `check` and `render`, in `run`'s order:
/// secrets → user → gateway and worker commands → openclaw.json (written in
/// `Mode::Write`). `check` is `run` up to the spawn by construction; every
/// failure comes before any write (the config write is the last step).
pub fn preflight(settings: &Settings, worker: &[OsString], mode: Mode, until: Until) -> Result<Preflight, Failure> {
    let (mut env, sources) = children_env(settings.secrets_file.as_deref(), settings, true)?;
    interrupt::check()?;
    let (mut owner, mut gateway, mut worker_command) = (None, None, None);
    if until == Until::Spawn {
        owner = settings.user.as_deref().map(Account::resolve).transpose()?;
        gateway = Some(gateway::resolve(settings.gateway_cmd.as_deref(), &env)?);
        if !worker.is_empty() {
            worker_command = Some(resolve_command(worker, &env)?);
        }
    }
    // `render` writes for the same release as `run`: the gateway, if it resolves.
    let of = |c: &Command| openclaw_version::installed(&c.program, &c.argv);
    let openclaw = match &gateway {
        Some(command) => of(command),
        None => gateway::resolve(settings.gateway_cmd.as_deref(), &env).map_or(Installed::NotOpenclaw, |c| of(&c)),
    };
    openclaw_version::record(&openclaw, settings.openclaw_versions)?;
    let prepared = config::prepare(settings, &mut env, mode, owner.as_ref())?;
    Ok(Preflight { env, sources, owner, gateway, worker: worker_command, openclaw, prepared })
}

/// What `run` adds to the children's environment after the config step,
/// at the start and on every reload alike: `writable` is decided once, at
/// the start, so a reload gives the same cache and temp dirs.
pub fn run_env(env: &mut ChildEnv, owner: Option<&Account>, writable: &WritableDirs) {
    if let Some(account) = owner {
        env.set("HOME", zeroize::Zeroizing::new(account.home.as_os_str().as_encoded_bytes().to_vec()));
    }
    // A value from clawinit's environment or a secret source is never replaced.
    for (name, dir) in writable.vars() {
        if env.get(name).is_none_or(<[u8]>::is_empty) {
            env.set(name, zeroize::Zeroizing::new(dir.as_os_str().as_encoded_bytes().to_vec()));
        }
    }
    // OpenClaw's self-restart otherwise spawns a detached copy and exits 0.
    env.set(names::OPENCLAW_NO_RESPAWN, zeroize::Zeroizing::new(b"1".to_vec()));
}
