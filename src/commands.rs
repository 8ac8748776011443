//! One function per subcommand; each returns how clawinit should exit.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::OutputType;
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::secrets::{self, store, IdentitySources, StoreKind};
use crate::settings::Settings;
use crate::supervise;

/// `clawinit decrypt`: print the decrypted document.
pub fn decrypt(file: &Path, output: Option<OutputType>) -> Result<Exit, Failure> {
    let doc = secrets::decrypt_file(file, &IdentitySources::from_env())?;
    let output = output.unwrap_or(match doc.kind {
        StoreKind::Dotenv => OutputType::Dotenv,
        StoreKind::Json | StoreKind::Yaml => OutputType::Json,
    });
    let bytes = match output {
        OutputType::Dotenv => store::dotenv::emit(&doc.tree),
        OutputType::Json => store::json::emit(&doc.tree),
    }
    .map_err(|e| Failure::new(Exit::SecretsMalformed, format!("{}: {e}", file.display())))?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::new(Exit::Internal, format!("cannot write to stdout: {e}")))?;
    Ok(Exit::Child(0))
}

/// `clawinit exec`: decrypt, then run the command with the secrets in its
/// environment under PID-1 supervision.
pub fn exec(secrets_flag: Option<PathBuf>, command: &[OsString], settings: &Settings) -> Result<Exit, Failure> {
    let guard = supervise::take_signals()?;
    let env = children_env(secrets_flag.as_deref().or(settings.secrets_file.as_deref()), settings)?;
    supervise::run_single(&guard, command, &env)
}

/// The environment every child gets: inherited (minus identities) + secrets.
pub fn children_env(secrets_file: Option<&Path>, settings: &Settings) -> Result<ChildEnv, Failure> {
    let mut env = ChildEnv::inherit(std::env::vars_os());
    let Some(file) = secrets_file else {
        return Ok(env);
    };
    let doc = secrets::decrypt_file(file, &IdentitySources::from_env())?;
    let vars = secrets::environment_items(&doc, &file.display().to_string())?;
    let total = vars.len();
    let report = env.merge_secrets(vars, settings.secrets_override);
    tracing::info!(
        file = %file.display(),
        variables = total,
        added = report.added,
        overridden = report.overridden.len(),
        kept_from_environment = report.kept_existing.len(),
        "secrets loaded"
    );
    if !report.kept_existing.is_empty() {
        tracing::debug!(names = %report.kept_existing.join(","), "environment kept over the secrets file (CLAWINIT_SECRETS_OVERRIDE=false)");
    }
    if !report.dropped_identity.is_empty() {
        tracing::warn!(names = %report.dropped_identity.join(","), "identity variables in the secrets file are never passed to children");
    }
    Ok(env)
}

/// Subcommands that later issues fill in.
pub fn not_yet(name: &str) -> Result<Exit, Failure> {
    Err(Failure::new(Exit::Internal, format!("`clawinit {name}` is not yet available in this version")))
}
