//! One function per subcommand; each returns how clawinit should exit.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::OutputType;
use crate::config::{self, Mode, Prepared};
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::interrupt;
use crate::ownership;
use crate::secrets::{self, store, StoreKind};
use crate::settings::Settings;
use crate::start::reload::{self, Reload};
use crate::start::{children_env, identity_sources, preflight, resolve_command, run_env, Preflight, Until};
use crate::supervise;
use crate::writable_dirs;

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

/// `clawinit run`: preflight → hand the state dir over → the gateway →
/// readiness → the worker → supervision. Everything that can fail before
/// the gateway is spawned does, leaving no child and no file changed.
pub fn run(worker: &[OsString], settings: &Settings) -> Result<Exit, Failure> {
    let pid1 = supervise::init()?;
    let mut sources_again = reload::Sources::new(settings)?;
    let Preflight { mut env, sources, owner, gateway, worker, mut prepared, .. } =
        preflight(settings, worker, Mode::Write, Until::Spawn)?;
    let gateway = gateway.expect("preflight until the spawn resolves the gateway");
    log_summary(&prepared);
    // However the run ends from here, the state file a first start kept
    // back is written (`config::Deferred`).
    sources_again.owned_by(owner.clone(), prepared.deferred.take());
    let supervised = || {
        if let Some(account) = &owner {
            ownership::hand_over(&prepared.location.state_dir, account)?;
        }
        let writable = writable_dirs::prepare(&prepared.location.state_dir, owner.as_ref());
        run_env(&mut env, owner.as_ref(), &writable);
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
        sources_again.gives(writable);
        supervise::run(&pid1, &gateway, worker.as_ref(), env, owner.as_ref(), &options, &mut sources_again)
    };
    let exit = supervised();
    sources_again.settle();
    exit
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
        match supervise::status::unavailable_because(&path) {
            Some(why) => tracing::error!("{why}: the supervisor serves no status (mount a tmpfs on /run for it)"),
            None => tracing::error!(
                "no clawinit supervisor answers at {} (not running, or not for this user)",
                path.display()
            ),
        }
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
