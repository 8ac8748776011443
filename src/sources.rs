//! Secrets that arrive as plain files, beside the SOPS files:
//! `CLAWINIT_SECRETS_DIR` (a Kubernetes Secret volume, a compose secrets
//! dir: one file per variable) and `<NAME>_FILE` for the variables clawinit
//! treats as secrets (Docker's convention). Read through `files` (trusted
//! symlinks only, regular files, capped), one trailing newline trimmed.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::config::catalog::PROVIDERS;
use crate::exit::{Exit, Failure};
use crate::files::{self, FileError, KEY_FILE_LIMIT};
use crate::names;
use crate::secrets::SecretVar;

/// The channel tokens OpenClaw reads from its environment (found in its
/// bundled code, 2026.9.6), besides the catalog's keys and the gateway's own.
const CHANNEL_SECRETS: [&str; 13] = [
    "TELEGRAM_BOT_TOKEN",
    "DISCORD_BOT_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_USER_TOKEN",
    "SLACK_SIGNING_SECRET",
    "MATTERMOST_BOT_TOKEN",
    "MATRIX_ACCESS_TOKEN",
    "MSTEAMS_APP_PASSWORD",
    "FEISHU_APP_SECRET",
    "ZALO_BOT_TOKEN",
    "CLICKCLACK_BOT_TOKEN",
    "OPENCLAW_GATEWAY_PASSWORD",
];

/// The variables that may come from `<NAME>_FILE`.
pub fn secret_names() -> impl Iterator<Item = &'static str> {
    PROVIDERS
        .iter()
        .flat_map(|p| p.key_vars.iter().copied())
        .chain([names::OPENCLAW_GATEWAY_TOKEN])
        .chain(CHANNEL_SECRETS)
}

/// Secrets read from plain files, with where each came from (for the log).
pub struct Loaded {
    pub vars: Vec<SecretVar>,
    /// `CLAWINIT_SECRETS_DIR (/run/secrets): A,B` and the like.
    pub sources: Vec<String>,
    /// `<NAME>_FILE` variables to remove from the children's environment.
    pub consumed: Vec<String>,
}

/// Every regular file in `dir` whose name is a variable name; dotfiles
/// (Kubernetes' `..data` and its timestamped directory) are skipped.
pub fn from_dir(dir: &Path) -> Result<Loaded, Failure> {
    let fail =
        |e: FileError| Failure::new(Exit::SecretsMissing, format!("{}: CLAWINIT_SECRETS_DIR: {e}", dir.display()));
    let handle = files::open_dir(dir).map_err(fail)?;
    let listing = nix::dir::Dir::from_fd(handle).map_err(|e| fail(e.into()))?;
    let mut names: Vec<OsString> = listing
        .into_iter()
        .flatten()
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n.to_str().is_some_and(is_variable_name))
        .collect();
    names.sort();
    let mut vars = Vec::new();
    for name in names {
        let path = dir.join(&name);
        match files::read(&path, KEY_FILE_LIMIT) {
            Ok(bytes) => vars.push(SecretVar { name: name.to_string_lossy().into_owned(), value: trim_newline(bytes) }),
            Err(FileError::NotRegular(_)) => continue,
            Err(e) => return Err(Failure::new(Exit::SecretsMissing, format!("{}: {e}", path.display()))),
        }
    }
    let sources = vec![format!("CLAWINIT_SECRETS_DIR ({}): {}", dir.display(), names_of(&vars))];
    Ok(Loaded { vars, sources, consumed: Vec::new() })
}

/// `<NAME>_FILE` for every secret name set in `lookup`; `NAME` set as well
/// is a usage error (64): which one should win would be a guess.
pub fn from_file_variables(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Loaded, Failure> {
    let mut loaded = Loaded { vars: Vec::new(), sources: Vec::new(), consumed: Vec::new() };
    for name in secret_names() {
        let file_var = format!("{name}_FILE");
        let Some(path) = lookup(&file_var).filter(|p| !p.is_empty()).map(PathBuf::from) else { continue };
        if lookup(name).is_some_and(|v| !v.is_empty()) {
            return Err(Failure::new(Exit::Usage, format!("{name} and {file_var} are both set: set one")));
        }
        let bytes = files::read(&path, KEY_FILE_LIMIT)
            .map_err(|e| Failure::new(Exit::SecretsMissing, format!("{}: {file_var}: {e}", path.display())))?;
        loaded.sources.push(format!("{file_var} ({})", path.display()));
        loaded.consumed.push(file_var);
        loaded.vars.push(SecretVar { name: name.to_string(), value: trim_newline(bytes) });
    }
    Ok(loaded)
}

/// The names a source provides, for the log and `status`: escaped (a name
/// from a file cannot forge a line), at most 32, then how many more.
pub fn names_of(vars: &[SecretVar]) -> String {
    const SHOWN: usize = 32;
    let mut text: Vec<String> =
        vars.iter().take(SHOWN).map(|v| crate::environment::shown_name(v.name.as_bytes())).collect();
    if vars.len() > SHOWN {
        text.push(format!("and {} more", vars.len() - SHOWN));
    }
    text.join(",")
}

/// A shell-style variable name: what a file in a secrets dir must be called.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One trailing newline (`\n` or `\r\n`), as `echo secret > file` adds.
fn trim_newline(mut bytes: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_newlines() {
        for ok in ["OPENAI_API_KEY", "_X", "a1"] {
            assert!(is_variable_name(ok), "{ok}");
        }
        for bad in ["..data", ".hidden", "1A", "A-B", "", "A B"] {
            assert!(!is_variable_name(bad), "{bad}");
        }
        let trim = |b: &[u8]| trim_newline(Zeroizing::new(b.to_vec())).to_vec();
        assert_eq!(trim(b"sk\n"), b"sk");
        assert_eq!(trim(b"sk\r\n"), b"sk");
        assert_eq!(trim(b"sk\n\n"), b"sk\n", "one newline only");
        assert_eq!(trim(b"sk"), b"sk");
    }

    #[test]
    fn both_name_and_name_file_is_a_usage_error() {
        let env = |n: &str| match n {
            "OPENAI_API_KEY" => Some(OsString::from("sk")),
            "OPENAI_API_KEY_FILE" => Some(OsString::from("/run/secrets/openai")),
            _ => None,
        };
        let err = from_file_variables(env).err().unwrap();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.message.contains("OPENAI_API_KEY_FILE"));
        assert!(secret_names().any(|n| n == "TELEGRAM_BOT_TOKEN") && secret_names().any(|n| n == "OPENAI_API_KEY"));
    }
}
