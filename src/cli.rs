//! The command line of the contract. `clawinit WORKER...` (no subcommand) means
//! `clawinit run WORKER...`, so `ENTRYPOINT ["clawinit"]` + `CMD [...]` works.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// `clawinit --version`: the version, git commit, target triple and libc (from build.rs),
/// so a bug report says which binary it is, and the OpenClaw releases it is tested with.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("CLAWINIT_BUILD"),
    "); tested with OpenClaw ",
    crate::tested_openclaw_range!()
);

#[derive(Debug, Parser)]
#[command(
    name = "clawinit",
    version = VERSION,
    about = "PID 1 for OpenClaw gateway containers: SOPS+age secrets, openclaw.json, readiness-gated supervision",
    after_help = "With no subcommand, `clawinit [--] WORKER...` is `clawinit run -- WORKER...`.\nSettings are environment variables (CLAWINIT_*); see the README."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decrypt secrets, write openclaw.json, start the gateway, wait until it is ready, start WORKER, supervise both.
    Run {
        /// The worker command (the container's CMD); none: supervise the gateway alone.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "WORKER")]
        worker: Vec<OsString>,
    },
    /// Decrypt a SOPS file and run CMD (no shell) with the secrets in its environment, as PID 1.
    Exec {
        /// SOPS file to decrypt (default: $CLAWINIT_SECRETS_FILE).
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
        /// The command to run.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
    /// Print the decrypted document (for dotenv the bytes equal `sops -d FILE`).
    Decrypt {
        /// Output format (default: dotenv for dotenv files, JSON otherwise).
        #[arg(long, value_enum, value_name = "TYPE")]
        output_type: Option<OutputType>,
        /// The SOPS file (dotenv, JSON or YAML; detected from the content).
        file: PathBuf,
    },
    /// Print the openclaw.json that `run` would write; change nothing.
    Render,
    /// Everything `run` does before it spawns, with no writes and no spawns.
    Check,
    /// Print what the running supervisor knows: phase, children, time to ready.
    Status {
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 iff the gateway answers ready (or live with --live).
    Probe {
        /// Check liveness (/healthz) instead of readiness (/readyz).
        #[arg(long)]
        live: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputType {
    Dotenv,
    Json,
}

/// Parse argv. A first argument that is a subcommand name or a flag goes to
/// clap; anything else (or `--`) is the worker of an implicit `run`.
pub fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    let subcommand = Cli::command().get_subcommands().any(|c| c.get_name() == first);
    let explicit = args.len() < 2 || subcommand || (first.starts_with('-') && first != "--");
    if explicit {
        return Cli::try_parse_from(args);
    }
    let skip = if first == "--" { 2 } else { 1 };
    Ok(Cli { command: Command::Run { worker: args.into_iter().skip(skip).collect() } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(list: &[&str]) -> Vec<OsString> {
        std::iter::once("clawinit").chain(list.iter().copied()).map(OsString::from).collect()
    }

    #[test]
    fn bare_worker_means_run() {
        let cli = parse(argv(&["node", "/app/worker.mjs", "--port", "1"])).unwrap();
        let Command::Run { worker } = cli.command else { panic!() };
        assert_eq!(worker, argv(&["node", "/app/worker.mjs", "--port", "1"])[1..]);
        let cli = parse(argv(&["--", "decrypt", "x"])).unwrap();
        assert!(matches!(cli.command, Command::Run { worker } if worker == argv(&["decrypt", "x"])[1..]));
    }

    #[test]
    fn subcommands_and_flags() {
        let cli = parse(argv(&["exec", "--secrets", "f.env", "--", "env", "-0"])).unwrap();
        let Command::Exec { secrets, command } = cli.command else { panic!() };
        assert_eq!(secrets.unwrap(), PathBuf::from("f.env"));
        assert_eq!(command, argv(&["env", "-0"])[1..]);
        let cli = parse(argv(&["decrypt", "--output-type", "json", "f"])).unwrap();
        assert!(matches!(cli.command, Command::Decrypt { output_type: Some(OutputType::Json), .. }));
        assert!(parse(argv(&["--bogus"])).is_err());
        assert!(parse(argv(&["exec"])).is_err(), "exec needs a command");
    }

    #[test]
    fn version_names_commit_target_and_libc() {
        let (env, libc) = if cfg!(target_env = "musl") { ("musl", "musl") } else { ("gnu", "glibc") };
        let linking = if cfg!(target_feature = "crt-static") { "static" } else { "dynamic" };
        let tail = format!(", {}-unknown-linux-{env}, {libc} {linking})", std::env::consts::ARCH);
        assert!(VERSION.starts_with(concat!(env!("CARGO_PKG_VERSION"), " (commit ")), "{VERSION}");
        let (build, openclaw) = VERSION.split_once("; ").unwrap();
        assert!(build.ends_with(&tail), "{VERSION}");
        let range = format!(
            "tested with OpenClaw {} to {}",
            crate::openclaw_version::OLDEST_TESTED,
            crate::openclaw_version::NEWEST_TESTED
        );
        assert_eq!(openclaw, range);
    }
}
