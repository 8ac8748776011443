//! The gateway's command line: `CLAWINIT_GATEWAY_CMD` split like a shell
//! splits words (no shell runs it), else `openclaw gateway run` when
//! `openclaw` is on the children's PATH, else the official image's
//! `node /app/openclaw.mjs gateway run`.

use std::ffi::OsString;

use super::command::{self, Command};
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};

const IMAGE_ENTRY: &str = "/app/openclaw.mjs";

pub fn resolve(configured: Option<&str>, env: &ChildEnv) -> Result<Command, Failure> {
    let argv: Vec<OsString> = match configured {
        Some(line) => shlex::split(line)
            .filter(|words| !words.is_empty())
            .ok_or_else(|| {
                Failure::new(Exit::Usage, "CLAWINIT_GATEWAY_CMD: invalid value (unbalanced quotes or empty)")
            })?
            .into_iter()
            .map(OsString::from)
            .collect(),
        None if command::resolve("openclaw".as_ref(), env).is_ok() => words(&["openclaw", "gateway", "run"]),
        None => {
            if !std::path::Path::new(IMAGE_ENTRY).is_file() {
                return Err(Failure::new(
                    Exit::NotFound,
                    format!("openclaw: not found in PATH and no {IMAGE_ENTRY} (set CLAWINIT_GATEWAY_CMD)"),
                ));
            }
            words(&["node", IMAGE_ENTRY, "gateway", "run"])
        }
    };
    let program = command::resolve(&argv[0], env)?;
    Ok(Command { program, argv })
}

fn words(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}
