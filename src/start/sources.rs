//! Secrets that arrive as plain files, beside the SOPS files:
//! `CLAWINIT_SECRETS_DIR` (a Kubernetes Secret volume, a compose secrets
//! dir: one file per variable) and `<NAME>_FILE` for the variables clawinit
//! treats as secrets (Docker's convention). Read through `files` (trusted
//! symlinks only, regular files, capped), one trailing newline trimmed.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
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
#[derive(Default)]
pub struct Loaded {
    pub vars: Vec<SecretVar>,
    /// `CLAWINIT_SECRETS_DIR (/run/secrets)` or `<NAME>_FILE`: what a
    /// warning about one of `vars` names.
    pub label: String,
    /// `CLAWINIT_SECRETS_DIR (/run/secrets): A,B` and the like.
    pub sources: Vec<String>,
    /// `<NAME>_FILE` variables to remove from the children's environment.
    pub consumed: Vec<String>,
    /// Entries of a shared (sticky) dir that are not root's: skipped.
    pub untrusted: Vec<String>,
    /// Entries that are the identity files or the SOPS files: skipped.
    pub own_files: Vec<String>,
    /// What `screen` removed from `vars`.
    pub screened: Screened,
    /// Why the dir is not safe, when clawinit (not root) reads it anyway.
    pub unsafe_dir: Option<String>,
}

/// The most entries a secrets dir may hold (a Kubernetes Secret holds at
/// most 1 MiB in all): listing a shared dir stays bounded.
const DIR_ENTRIES_LIMIT: usize = 4096;

/// A file's identity, to recognise the same file under another name.
pub type Inode = (u64, u64);

pub fn inode(path: &Path) -> Option<Inode> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Every regular file in `dir` whose name is a variable name; dotfiles
/// (Kubernetes' `..data` and its timestamped directory) are skipped, and so
/// are the files in `skip` (the identity and SOPS files, by inode: the
/// compose layout keeps them in the same dir). The dir decides what root's
/// children run with, so only root (or clawinit's uid) may change it: one
/// owned by anyone else, or writable by others, is refused (78), unless it
/// is sticky (a shared directory like `/tmp`): then only root's entries are
/// read. A read-only mount (a Kubernetes Secret volume) is trusted as it is.
/// Without root, an unsafe dir is read with a warning (`unsafe_dir`).
pub fn from_dir(dir: &Path, skip: &[Inode]) -> Result<Loaded, Failure> {
    let fail =
        |e: FileError| Failure::new(Exit::SecretsMissing, format!("{}: CLAWINIT_SECRETS_DIR: {e}", dir.display()));
    let handle = files::open_dir(dir).map_err(fail)?;
    let label = format!("CLAWINIT_SECRETS_DIR ({})", dir.display());
    let mut loaded = Loaded { label, ..Loaded::default() };
    let shared = match check_dir(&handle) {
        Ok(shared) => shared,
        // Without root, the children run as clawinit's own uid: a warning
        // (OpenShift's group-0 directories), not a refusal.
        Err(why) if !nix::unistd::geteuid().is_root() => {
            loaded.unsafe_dir = Some(why);
            false
        }
        Err(why) => return Err(Failure::new(Exit::Config, format!("{}: CLAWINIT_SECRETS_DIR: {why}", dir.display()))),
    };
    let copy = nix::unistd::dup(&handle).map_err(|e| fail(e.into()))?;
    let entries = nix::dir::Dir::from_fd(copy).map_err(|e| fail(e.into()))?;
    let mut names = Vec::new();
    for (n, entry) in entries.into_iter().flatten().enumerate() {
        if n >= DIR_ENTRIES_LIMIT {
            let why = format!("more than {DIR_ENTRIES_LIMIT} entries");
            return Err(Failure::new(Exit::SecretsMissing, format!("{}: CLAWINIT_SECRETS_DIR: {why}", dir.display())));
        }
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name.to_str().is_some_and(is_variable_name) {
            names.push(name.to_os_string());
        }
    }
    names.sort();
    for name in names {
        let shown = name.to_string_lossy().into_owned();
        if shared && !root_entry(&handle, &name) {
            loaded.untrusted.push(shown);
            continue;
        }
        let target = nix::sys::stat::fstatat(&handle, name.as_os_str(), nix::fcntl::AtFlags::empty());
        if target.is_ok_and(|st| skip.contains(&(st.st_dev, st.st_ino))) {
            loaded.own_files.push(shown);
            continue;
        }
        let path = dir.join(&name);
        match files::read(&path, KEY_FILE_LIMIT) {
            Ok(bytes) => loaded.vars.push(SecretVar { name: shown, value: trim_newline(bytes) }),
            Err(FileError::NotRegular(_)) => continue,
            Err(e) => return Err(Failure::new(Exit::SecretsMissing, format!("{}: {e}", path.display()))),
        }
    }
    loaded.screened = screen(&mut loaded.vars);
    loaded.sources = vec![format!("{}: {}", loaded.label, names_of(&loaded.vars))];
    Ok(loaded)
}

/// Whether nobody but root (or clawinit's uid) can add to the dir; a sticky
/// one others can write is "shared" (`Ok(true)`): only root's entries count.
fn check_dir(dir: &std::os::fd::OwnedFd) -> Result<bool, String> {
    let stat = nix::sys::stat::fstat(dir).map_err(|e| e.to_string())?;
    let read_only =
        nix::sys::statvfs::fstatvfs(dir).is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    if read_only {
        return Ok(false);
    }
    if !trusted_uid(stat.st_uid) {
        return Err(format!(
            "owned by uid {}; a secrets dir must be root's (or clawinit's) and writable by nobody else",
            stat.st_uid
        ));
    }
    let others_write = stat.st_mode & 0o022 != 0;
    if others_write && stat.st_mode & 0o1000 == 0 {
        return Err(format!(
            "writable by its group or others (mode {:o}); a secrets dir must be writable by nobody but its owner",
            stat.st_mode & 0o7777
        ));
    }
    Ok(others_write)
}

/// An entry of a shared dir that root (or clawinit) made: its owner, and
/// for a regular file one link only (a hard link to a root file elsewhere
/// would carry that file's content into a child).
fn root_entry(dir: &std::os::fd::OwnedFd, name: &OsStr) -> bool {
    files::lstat_at(dir, name).is_ok_and(|st| {
        trusted_uid(st.st_uid) && (files::kind(&st) != nix::sys::stat::SFlag::S_IFREG || st.st_nlink == 1)
    })
}

fn trusted_uid(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// The names that say where clawinit itself reads and writes (the config,
/// the state dir, the home it derives them from), which port the gate
/// probes, and clawinit's own settings: these come from clawinit's own
/// environment only. From a secret source (which the gateway's user may be
/// able to write) they could point root's writes anywhere.
pub fn steers_clawinit(name: &str) -> bool {
    const PLACES: [&str; 5] =
        ["OPENCLAW_CONFIG_PATH", "OPENCLAW_STATE_DIR", "OPENCLAW_HOME", "HOME", "OPENCLAW_GATEWAY_PORT"];
    PLACES.contains(&name) || name.starts_with("CLAWINIT_")
}

/// What `screen` removed from one source, by name (never a value).
#[derive(Debug, Default, PartialEq)]
pub struct Screened {
    pub steering: Vec<String>,
    pub age_identities: Vec<String>,
}

/// Remove from `vars` what a secret source must never pass: the names that
/// steer clawinit, and any value holding an age identity (the private key
/// decrypts every secret; a dir that holds the key file passes it otherwise).
pub fn screen(vars: &mut Vec<SecretVar>) -> Screened {
    let mut screened = Screened::default();
    vars.retain(|var| {
        let shown = crate::names::shown_name(var.name.as_bytes());
        if steers_clawinit(&var.name) {
            screened.steering.push(shown);
            false
        } else if contains(&var.value, AGE_IDENTITY) {
            screened.age_identities.push(shown);
            false
        } else {
            true
        }
    });
    screened
}

/// How every age identity begins (bech32, upper case as age writes it).
const AGE_IDENTITY: &[u8] = b"AGE-SECRET-KEY-";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// `<NAME>_FILE` for every secret name set in `lookup`; `NAME` set as well
/// is a usage error (64): which one should win would be a guess.
pub fn from_file_variables(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Loaded, Failure> {
    let mut loaded = Loaded { label: "<NAME>_FILE".into(), ..Loaded::default() };
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
    loaded.screened = screen(&mut loaded.vars);
    Ok(loaded)
}

/// The names a source provides, for the log and `status`: escaped (a name
/// from a file cannot forge a line), at most 32, then how many more.
pub fn names_of(vars: &[SecretVar]) -> String {
    shown_names(vars.iter().map(|v| v.name.as_str()))
}

/// Names for one log line: escaped, at most 32, then how many more.
pub fn shown_names<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 32;
    let total = names.len();
    let mut text: Vec<String> = names.take(SHOWN).map(|n| crate::names::shown_name(n.as_bytes())).collect();
    if total > SHOWN {
        text.push(format!("and {} more", total - SHOWN));
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

    fn var(name: &str, value: &str) -> SecretVar {
        SecretVar { name: name.into(), value: Zeroizing::new(value.as_bytes().to_vec()) }
    }

    #[test]
    fn screening_drops_what_steers_clawinit_and_age_identities_by_name() {
        for steering in ["OPENCLAW_CONFIG_PATH", "OPENCLAW_STATE_DIR", "OPENCLAW_HOME", "HOME", "OPENCLAW_GATEWAY_PORT"]
        {
            assert!(steers_clawinit(steering), "{steering}");
        }
        assert!(steers_clawinit("CLAWINIT_USER") && steers_clawinit("CLAWINIT_SECRETS_DIR"));
        assert!(!steers_clawinit("OPENAI_API_KEY") && !steers_clawinit("OPENCLAW_GATEWAY_TOKEN"));
        assert!(!steers_clawinit("HOMEPAGE") && !steers_clawinit("PATH"));
        let mut vars = vec![
            var("OPENAI_API_KEY", "sk"),
            var("HOME", "/root"),
            var("CLAWINIT_USER", "0"),
            var("backup", "x age-secret-key-1qqqq y"),
            var("NOTE", "AGE-SECRET-KEY"),
        ];
        let screened = screen(&mut vars);
        assert_eq!(screened.steering, ["HOME", "CLAWINIT_USER"]);
        assert_eq!(screened.age_identities, ["backup"]);
        let kept: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(kept, ["OPENAI_API_KEY", "NOTE"], "a prefix without the dash is no identity");
    }

    /// As root (the tests run as root): a dir someone else owns or can write
    /// is refused with 78; a sticky one is read, root's entries only.
    #[test]
    fn a_secrets_dir_others_can_change_is_refused_or_read_for_roots_entries_only() {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("clawinit-sources-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("A"), "root\n").unwrap();
        std::fs::write(dir.join("B"), "nobody\n").unwrap();
        std::os::unix::fs::chown(dir.join("B"), Some(65534), None).unwrap();
        std::fs::write(dir.join("SKIPPED"), "key\n").unwrap();
        let skip = [inode(&dir.join("SKIPPED")).unwrap()];
        let names = |l: &Loaded| l.vars.iter().map(|v| v.name.clone()).collect::<Vec<_>>();

        let loaded = from_dir(&dir, &skip).unwrap();
        assert_eq!(names(&loaded), ["A", "B"]);
        assert_eq!(loaded.own_files, ["SKIPPED"]);

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let loaded = from_dir(&dir, &skip).unwrap();
        assert_eq!((names(&loaded), loaded.untrusted), (vec!["A".to_string()], vec!["B".to_string()]));

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        let refused = from_dir(&dir, &skip).err().unwrap();
        assert_eq!(refused.exit, Exit::Config);
        assert!(refused.message.contains("writable by its group or others"), "{}", refused.message);

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
        let refused = from_dir(&dir, &skip).err().unwrap();
        assert_eq!(refused.exit, Exit::Config);
        assert!(refused.message.contains("owned by uid 65534"), "{}", refused.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dir_with_too_many_entries_is_refused_before_any_is_read() {
        let dir = std::env::temp_dir().join(format!("clawinit-sources-many-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        for n in 0..DIR_ENTRIES_LIMIT - 2 {
            std::fs::write(dir.join(format!("V{n}")), "x").unwrap();
        }
        assert_eq!(from_dir(&dir, &[]).unwrap().vars.len(), DIR_ENTRIES_LIMIT - 2, "with . and ..");
        for n in 0..3 {
            std::fs::write(dir.join(format!("W{n}")), "x").unwrap();
        }
        let refused = from_dir(&dir, &[]).err().unwrap();
        assert!(refused.message.ends_with("more than 4096 entries"), "{}", refused.message);
        std::fs::remove_dir_all(&dir).unwrap();
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
