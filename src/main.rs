//! clawinit: PID 1 for OpenClaw gateway containers.
//! Parse the command line, read settings, run, map the outcome to an exit code.

use std::process::ExitCode;

use clawinit::cli::{self, Command};
use clawinit::commands;
use clawinit::exit::{Exit, Failure};
use clawinit::logging;
use clawinit::settings::Settings;

fn main() -> ExitCode {
    clawinit::hardening::protect_memory();
    let cli = match cli::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { i32::from(Exit::Usage) } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(failure) => {
            eprintln!("clawinit: {failure}");
            return exit_code(failure.exit);
        }
    };
    logging::init(&settings);
    match run(cli.command, &settings) {
        Ok(exit) => exit_code(exit),
        Err(failure) => {
            tracing::error!("{failure}");
            exit_code(failure.exit)
        }
    }
}

fn run(command: Command, settings: &Settings) -> Result<Exit, Failure> {
    match command {
        Command::Decrypt { output_type, file } => commands::decrypt(&file, output_type, settings),
        Command::Exec { secrets, command } => commands::exec(secrets, &command, settings),
        Command::Run { worker } => commands::run(&worker, settings),
        Command::Render => commands::render(settings),
        Command::Check => commands::check(settings),
        Command::Status { json } => commands::status(json),
        Command::Probe { live } => commands::probe(live),
    }
}

fn exit_code(exit: Exit) -> ExitCode {
    ExitCode::from(i32::from(exit) as u8)
}
