//! One function per subcommand; each returns how clawinit should exit.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::account::Account;
use crate::cli::OutputType;
use crate::config::{self, Mode, Prepared};
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::interrupt;
use crate::names;
use crate::openclaw_version::{self, Installed};
use crate::ownership;
use crate::reload;
use crate::secrets::{self, store, IdentitySources, StoreKind};
use crate::settings::Settings;
use crate::sources;
use crate::supervise::{self, Command};

/// `clawinit decrypt`: print the decrypted document.
pub fn decrypt(file: &Path, output: Option<OutputType>, settings: &Settings) -> Result<Exit, Failure> {
    let doc = secrets::decrypt_file(file, &identity_sources(settings))?;
    let output = output.unwrap_or(match doc.kind {
        StoreKind::Dotenv => OutputType::Dotenv,
        StoreKind::Json | StoreKind::Yaml => OutputType::Json,
    });
    let bytes = match output {
        OutputType::Dotenv => store::dotenv::emit(&doc.tree),
        OutputType::Json => store::json::emit(&doc.tree),
    }
    .map_err(|e| Failure::new(Exit::SecretsMalformed, format!("{}: {e}", file.display())))?;
    write_out(&bytes)
}

/// `clawinit exec`: decrypt, then run the command with the secrets in its
/// environment under PID-1 supervision.
pub fn exec(secrets_flag: Option<PathBuf>, command: &[OsString], settings: &Settings) -> Result<Exit, Failure> {
    let pid1 = supervise::init()?;
    let (env, _) = children_env(secrets_flag.as_deref().or(settings.secrets_file.as_deref()), settings, true)?;
    let command = resolve_command(command, &env)?;
    interrupt::check()?;
    supervise::exec(&pid1, &command, env, Duration::from_secs(settings.stop_timeout))
}

fn identity_sources(settings: &Settings) -> IdentitySources {
    IdentitySources { key_cmd_timeout: Duration::from_secs(settings.key_cmd_timeout), ..IdentitySources::from_env() }
}

fn resolve_command(argv: &[OsString], env: &ChildEnv) -> Result<Command, Failure> {
    let (program, _) = argv.split_first().ok_or_else(|| Failure::new(Exit::Usage, "no command given"))?;
    Ok(Command { program: supervise::spawn::resolve(program, env)?, argv: argv.to_vec() })
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
enum Until {
    Rendered,
    Spawn,
}

/// Everything decided before a child exists.
struct Preflight {
    env: ChildEnv,
    /// The secret sources in use (names and paths only).
    sources: Vec<String>,
    owner: Option<Account>,
    gateway: Option<Command>,
    worker: Option<Command>,
    /// The OpenClaw release the gateway command runs, from its package.json.
    openclaw: Installed,
    prepared: Prepared,
}

/// The one preflight of `run`, `check` and `render`, in `run`'s order:
/// secrets → user → gateway and worker commands → openclaw.json (written in
/// `Mode::Write`). `check` is `run` up to the spawn by construction; every
/// failure comes before any write (the config write is the last step).
fn preflight(settings: &Settings, worker: &[OsString], mode: Mode, until: Until) -> Result<Preflight, Failure> {
    let (mut env, sources) = children_env(settings.secrets_file.as_deref(), settings, true)?;
    interrupt::check()?;
    let (mut owner, mut gateway, mut worker_command) = (None, None, None);
    if until == Until::Spawn {
        owner = settings.user.as_deref().map(Account::resolve).transpose()?;
        gateway = Some(supervise::gateway::resolve(settings.gateway_cmd.as_deref(), &env)?);
        if !worker.is_empty() {
            worker_command = Some(resolve_command(worker, &env)?);
        }
    }
    // `render` writes for the same release as `run`: the gateway, if it resolves.
    let of = |c: &Command| openclaw_version::installed(&c.program, &c.argv);
    let openclaw = match &gateway {
        Some(command) => of(command),
        None => supervise::gateway::resolve(settings.gateway_cmd.as_deref(), &env)
            .map_or(Installed::NotOpenclaw, |c| of(&c)),
    };
    openclaw_version::record(&openclaw, settings.openclaw_versions)?;
    let prepared = config::prepare(settings, &mut env, mode, owner.as_ref())?;
    Ok(Preflight { env, sources, owner, gateway, worker: worker_command, openclaw, prepared })
}

/// `clawinit run`: preflight → hand the state dir over → the gateway →
/// readiness → the worker → supervision. Everything that can fail before
/// the gateway is spawned does, leaving no child and no file changed.
pub fn run(worker: &[OsString], settings: &Settings) -> Result<Exit, Failure> {
    let pid1 = supervise::init()?;
    let mut sources_again = reload::Sources::new(settings)?;
    let Preflight { mut env, sources, owner, gateway, worker, prepared, .. } =
        preflight(settings, worker, Mode::Write, Until::Spawn)?;
    let gateway = gateway.expect("preflight until the spawn resolves the gateway");
    log_summary(&prepared);
    if let Some(account) = &owner {
        ownership::hand_over(&prepared.location.state_dir, account)?;
    }
    run_env(&mut env, owner.as_ref());
    interrupt::check()?;
    let options = supervise::RunOptions {
        probe: settings.ready_probe,
        port: prepared.port,
        ready_timeout: Duration::from_secs(settings.ready_timeout),
        ready_required: settings.ready_required,
        stop_timeout: Duration::from_secs(settings.stop_timeout),
        stop_delay: Duration::from_secs(settings.stop_delay),
        restart: settings.gateway_restart,
        restart_limit: settings.restart_limit(),
        secret_sources: sources,
        watch: (settings.secrets_watch > 0).then(|| Duration::from_secs(settings.secrets_watch)),
        reload_worker: settings.reload_worker,
    };
    sources_again.owned_by(owner.clone());
    supervise::run(&pid1, &gateway, worker.as_ref(), env, owner.as_ref(), &options, &mut sources_again)
}

/// What `run` adds to the children's environment after the config step,
/// at the start and on every reload alike.
pub fn run_env(env: &mut ChildEnv, owner: Option<&Account>) {
    if let Some(account) = owner {
        env.set("HOME", zeroize::Zeroizing::new(account.home.as_os_str().as_encoded_bytes().to_vec()));
    }
    // OpenClaw's self-restart otherwise spawns a detached copy and exits 0.
    env.set(names::OPENCLAW_NO_RESPAWN, zeroize::Zeroizing::new(b"1".to_vec()));
}

/// `clawinit probe [--live]`: 0 when the gateway answers ready (live) within
/// 2 s, 1 otherwise (Docker reserves other codes for HEALTHCHECK).
pub fn probe(live: bool) -> Result<Exit, Failure> {
    // The supervisor knows first that the gateway is to stop (draining):
    // not ready then, whatever the gateway still answers.
    if let Some(phase) = supervise::status::query().and_then(|s| s["phase"].as_str().map(String::from)) {
        if !live && phase != "ready" {
            tracing::warn!(phase = %phase, "the supervisor is not ready");
            return Ok(Exit::Child(1));
        }
    }
    let env = ChildEnv::inherit(std::env::vars_os());
    let port = config::gateway_port(&env);
    let check = if live { supervise::ready::Check::Live } else { supervise::ready::Check::Ready };
    let ok = supervise::block_on(async { Ok(supervise::ready::http_once(port, check, Duration::from_secs(2)).await) })?;
    if !ok {
        tracing::warn!(port, "the gateway is not {}", if live { "live" } else { "ready" });
    }
    Ok(Exit::Child(if ok { 0 } else { 1 }))
}

/// `clawinit status [--json]`: what the supervisor of this container knows.
/// 1 when none answers (not running, or not reachable by this user).
pub fn status(as_json: bool) -> Result<Exit, Failure> {
    let Some(status) = supervise::status::query() else {
        let path = supervise::status::socket_path();
        tracing::error!("no clawinit supervisor answers at {} (not running, or not for this user)", path.display());
        return Ok(Exit::Child(1));
    };
    let text = if as_json { format!("{status}\n") } else { status_lines(&status) };
    write_out(text.as_bytes())
}

fn status_lines(status: &serde_json::Value) -> String {
    let field =
        |v: &serde_json::Value| if v.is_null() { "-".to_string() } else { v.to_string().trim_matches('"').to_string() };
    let mut out = format!("phase: {}\n", field(&status["phase"]));
    for (role, child) in status["children"].as_object().into_iter().flatten() {
        out.push_str(&format!(
            "{role}: pid {}, up {} s, restarts {}, last exit {}\n",
            field(&child["pid"]),
            field(&child["uptime_s"]),
            field(&child["restarts"]),
            field(&child["last_exit"])
        ));
    }
    out.push_str(&format!("ready after: {} ms\n", field(&status["ready_after_ms"])));
    out.push_str(&format!("reloads: {} (last: {})\n", field(&status["reloads"]), field(&status["last_reload"])));
    let sources: Vec<String> = status["secret_sources"].as_array().into_iter().flatten().map(field).collect();
    out.push_str(&format!("secret sources: {}\n", if sources.is_empty() { "none".into() } else { sources.join(", ") }));
    out
}

fn log_summary(p: &Prepared) {
    for line in summary(p) {
        match line {
            Line::Info(text) => tracing::info!("{text}"),
            Line::Warning(text) => tracing::warn!("{text}"),
        }
    }
}

/// One line of the config summary, typed until it is printed: a log line
/// at its level, or a `render` line on stderr.
pub enum Line {
    Info(String),
    Warning(String),
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Line::Info(text) => f.write_str(text),
            Line::Warning(text) => write!(f, "warning: {text}"),
        }
    }
}

/// `clawinit render`: print the openclaw.json `run` would write to stdout and
/// what would change, and why, to stderr. Writes nothing.
pub fn render(settings: &Settings) -> Result<Exit, Failure> {
    let prepared = preflight(settings, &[], Mode::DryRun, Until::Rendered)?.prepared;
    let written = write_out(&prepared.bytes)?;
    if written != Exit::Child(0) {
        return Ok(written);
    }
    let mut err = std::io::stderr().lock();
    for line in summary(&prepared) {
        let _ = writeln!(err, "{line}");
    }
    Ok(Exit::Child(0))
}

/// `clawinit check`: `run`'s preflight (secrets, user, commands, config,
/// references), writing nothing, spawning nothing.
pub fn check(settings: &Settings) -> Result<Exit, Failure> {
    let done = preflight(settings, &[], Mode::DryRun, Until::Spawn)?;
    log_summary(&done.prepared);
    let gateway = done.gateway.as_ref().map(|g| g.program.display().to_string()).unwrap_or_default();
    let openclaw = done.openclaw.describe();
    tracing::info!(gateway = %gateway, openclaw = %openclaw, config = %done.prepared.location.target.display(), "check passed");
    Ok(Exit::Child(0))
}

/// What the config step did or would do, one line each; no values.
pub fn summary(p: &Prepared) -> Vec<Line> {
    let state = match (p.changed, p.written) {
        (false, _) => "unchanged",
        (true, true) => "written",
        (true, false) if !p.location.target.exists() => "would be created",
        (true, false) => "would change",
    };
    let mut lines = vec![Line::Info(format!("openclaw.json: {} ({state})", p.location.target.display()))];
    if let Some(why) = p.location.read_only {
        let (source, reads) = (p.location.source.display(), p.gateway_reads.display());
        lines.push(Line::Info(format!("{source} is {why}: the gateway reads {reads}")));
    }
    lines.extend(p.providers.iter().map(|l| Line::Info(format!("provider {l}"))));
    lines.extend(p.changes.iter().map(|c| Line::Info(c.to_string())));
    lines.extend(p.warnings.iter().map(|w| Line::Warning(w.clone())));
    lines
}

/// Print to stdout. A reader that went away (`| head`) ends clawinit as it
/// ends other Unix tools: quietly, with 128+SIGPIPE.
fn write_out(bytes: &[u8]) -> Result<Exit, Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(Exit::Child(0)),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::signaled(libc::SIGPIPE)),
        Err(e) => Err(Failure::new(Exit::Internal, format!("cannot write to stdout: {e}"))),
    }
}
