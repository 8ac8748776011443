//! The commands the children run, resolved before anything starts: the
//! program found as execvp would find it, on the PATH the child will see.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};

/// A command ready to run: the resolved program and its argv.
pub struct Command {
    pub program: PathBuf,
    pub argv: Vec<OsString>,
}

/// Find `program` as execvp would, using the PATH the child will see.
pub fn resolve(program: &OsStr, env: &ChildEnv) -> Result<PathBuf, Failure> {
    let shown = program.to_string_lossy();
    if program.as_bytes().contains(&b'/') {
        let path = PathBuf::from(program);
        return match std::fs::metadata(&path) {
            Err(_) => Err(Failure::new(Exit::NotFound, format!("{shown}: no such file"))),
            Ok(m) if m.is_dir() || m.permissions().mode() & 0o111 == 0 => {
                Err(Failure::new(Exit::NotExecutable, format!("{shown}: not executable")))
            }
            Ok(_) => Ok(path),
        };
    }
    let search = env
        .get("PATH")
        .map(|p| OsStr::from_bytes(p).to_os_string())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    which::which_in(program, Some(search), cwd)
        .map_err(|_| Failure::new(Exit::NotFound, format!("{shown}: command not found in PATH")))
}
