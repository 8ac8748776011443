//! The only code that touches openclaw.json on disk: where it is, whether it
//! can be replaced, the lock, the atomic write and the backups.
//!
//! Files beside the config (`openclaw.json` stands for its name):
//! `openclaw.json.clawinit-state` (what clawinit manages), `-lock`,
//! `-prev.1`..`-prev.3` (the last versions it replaced; OpenClaw's own
//! backups are `openclaw.json.bak*`), `-tmp.<pid>` (a write in progress).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{access, AccessFlags};

use super::json::{parse_json5, SyntaxError};
use super::plan::Lookup;
use super::state::State;
use crate::account::Account;
use crate::exit::{Exit, Failure};

const BACKUPS: usize = 3;
const RENDERED_NAME: &str = "openclaw.rendered.json";

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The file clawinit reads (and OpenClaw would read).
    pub source: PathBuf,
    /// The file clawinit writes: the source, or a copy in the state dir when
    /// the source cannot be replaced.
    pub target: PathBuf,
    /// Why the source is read-only, when it is.
    pub read_only: Option<&'static str>,
}

impl Location {
    /// OpenClaw's resolution: `OPENCLAW_CONFIG_PATH`, else
    /// `$OPENCLAW_STATE_DIR/openclaw.json`, else `~/.openclaw/openclaw.json`
    /// (`~` being `OPENCLAW_HOME`, else `HOME`).
    pub fn resolve(env: &impl Lookup) -> Result<Location, Failure> {
        let var =
            |name: &str| env.raw(name).filter(|v| !v.is_empty()).map(|v| PathBuf::from(OsString::from_vec(v.to_vec())));
        let state_dir = var("OPENCLAW_STATE_DIR")
            .or_else(|| var("OPENCLAW_HOME").or_else(|| var("HOME")).map(|home| home.join(".openclaw")))
            .ok_or_else(|| {
                Failure::new(
                    Exit::Config,
                    "cannot locate openclaw.json: set OPENCLAW_CONFIG_PATH, OPENCLAW_STATE_DIR or HOME",
                )
            })?;
        let source = var("OPENCLAW_CONFIG_PATH").unwrap_or_else(|| state_dir.join("openclaw.json"));
        let read_only = read_only_reason(&source);
        let target = match read_only {
            Some(_) => state_dir.join(RENDERED_NAME),
            None => source.clone(),
        };
        Ok(Location { source, target, read_only })
    }

    fn beside(&self, suffix: &str) -> PathBuf {
        let mut name = self.target.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.target.with_file_name(name)
    }

    pub fn state_file(&self) -> PathBuf {
        self.beside(".clawinit-state")
    }

    pub fn backup(&self, n: usize) -> PathBuf {
        self.beside(&format!(".clawinit-prev.{n}"))
    }

    fn lock_file(&self) -> PathBuf {
        self.beside(".clawinit-lock")
    }

    fn temp_prefix(&self) -> OsString {
        self.beside(".clawinit-tmp.").file_name().unwrap_or_default().to_os_string()
    }
}

/// A source clawinit must not replace: a symlink (a Kubernetes ConfigMap
/// volume, or the user's own link), a file on a read-only file system or
/// bind-mounted on its own (rename onto it fails with EBUSY), or one in a
/// directory clawinit cannot write.
fn read_only_reason(source: &Path) -> Option<&'static str> {
    let meta = fs::symlink_metadata(source).ok()?;
    if meta.file_type().is_symlink() {
        return Some("a symlink");
    }
    if statvfs(source).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
        return Some("on a read-only file system");
    }
    let dir = parent(source);
    if fs::metadata(dir).is_ok_and(|d| d.dev() != meta.dev()) {
        return Some("a file mounted on its own");
    }
    access(dir, AccessFlags::W_OK).is_err().then_some("in a directory clawinit cannot write")
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The exclusive lock serializing concurrent starts on one volume; held
/// from reading the config until the write is done.
pub struct Lock(#[allow(dead_code)] Flock<File>);

pub fn lock(loc: &Location, owner: Option<&Account>) -> Result<Lock, Failure> {
    let path = loc.lock_file();
    create_dir(parent(&path), owner)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| cannot("open the lock", &path, e))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map(Lock)
        .map_err(|(_, errno)| cannot("lock", &path, std::io::Error::from(errno)))
}

/// The config as text, or `None` when there is no file yet.
pub fn read(path: &Path) -> Result<Option<String>, Failure> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Failure::new(Exit::Config, format!("{}: not UTF-8 text", path.display()))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(cannot("read", path, e)),
    }
}

/// Parse JSON5 whose top level must be an object.
pub fn parse(path: &Path, text: &str) -> Result<serde_json::Value, Failure> {
    let value = parse_json5(text).map_err(|SyntaxError { line, column, what }| {
        Failure::new(Exit::Config, format!("{}: line {line}, column {column}: {what}", path.display()))
    })?;
    if !value.is_object() {
        return Err(Failure::new(Exit::Config, format!("{}: the top level is not an object", path.display())));
    }
    Ok(value)
}

pub fn read_state(loc: &Location) -> State {
    fs::read(loc.state_file()).ok().and_then(|b| State::parse(&b)).unwrap_or_default()
}

/// Replace the config: temp file beside it, fsync, keep the old one as
/// `-prev.1`, rename, fsync the directory. A crash at any point leaves either
/// the old or the new file, never a torn one.
pub fn write_config(loc: &Location, bytes: &[u8], owner: Option<&Account>) -> Result<(), Failure> {
    let dir = parent(&loc.target);
    create_dir(dir, owner)?;
    remove_stale_temps(loc);
    let temp = write_temp(loc, bytes, owner)?;
    crate::fault::abort_at("before-rename");
    if loc.target.exists() {
        keep_backup(loc)?;
    }
    fs::rename(&temp, &loc.target).map_err(|e| {
        let _ = fs::remove_file(&temp);
        cannot("replace", &loc.target, e)
    })?;
    sync_dir(dir)
}

/// The state file is written the same way, without backups.
pub fn write_state(loc: &Location, state: &State, owner: Option<&Account>) -> Result<(), Failure> {
    let path = loc.state_file();
    let bytes = state.to_bytes();
    let temp = write_temp(loc, &bytes, owner)?;
    fs::rename(&temp, &path).map_err(|e| {
        let _ = fs::remove_file(&temp);
        cannot("replace", &path, e)
    })?;
    sync_dir(parent(&path))
}

fn write_temp(loc: &Location, bytes: &[u8], owner: Option<&Account>) -> Result<PathBuf, Failure> {
    let mut name = loc.temp_prefix();
    name.push(std::process::id().to_string());
    let temp = loc.target.with_file_name(name);
    let _ = fs::remove_file(&temp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| cannot("create", &temp, e))?;
    let result = file.write_all(bytes).and_then(|()| chown(&file, owner)).and_then(|()| file.sync_all());
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        cannot("write", &temp, e)
    })?;
    Ok(temp)
}

/// Rotate `-prev.N` and hard-link the current file as `-prev.1` (the rename
/// that follows then leaves the old inode there; no copy).
fn keep_backup(loc: &Location) -> Result<(), Failure> {
    for n in (1..BACKUPS).rev() {
        match fs::rename(loc.backup(n), loc.backup(n + 1)) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(cannot("rotate", &loc.backup(n), e)),
            _ => {}
        }
    }
    let first = loc.backup(1);
    let _ = fs::remove_file(&first);
    fs::hard_link(&loc.target, &first)
        .or_else(|_| fs::copy(&loc.target, &first).map(drop))
        .map_err(|e| cannot("back up", &loc.target, e))
}

/// Temp files left by a crash; safe to remove while holding the lock.
fn remove_stale_temps(loc: &Location) {
    let prefix = loc.temp_prefix();
    let Ok(entries) = fs::read_dir(parent(&loc.target)) else { return };
    for entry in entries.flatten() {
        if entry.file_name().as_encoded_bytes().starts_with(prefix.as_encoded_bytes()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn create_dir(dir: &Path, owner: Option<&Account>) -> Result<(), Failure> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| cannot("create", dir, e))?;
    if let Some(account) = owner.filter(|_| nix::unistd::geteuid().is_root()) {
        std::os::unix::fs::chown(dir, Some(account.uid.as_raw()), Some(account.gid.as_raw()))
            .map_err(|e| cannot("chown", dir, e))?;
    }
    Ok(())
}

fn chown(file: &File, owner: Option<&Account>) -> std::io::Result<()> {
    match owner.filter(|_| nix::unistd::geteuid().is_root()) {
        Some(a) => std::os::unix::fs::fchown(file, Some(a.uid.as_raw()), Some(a.gid.as_raw())),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), Failure> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| cannot("sync", dir, e))
}

fn cannot(what: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure::new(Exit::Config, format!("{}: cannot {what}: {e}", path.display()))
}
