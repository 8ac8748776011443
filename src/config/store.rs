//! The only code that touches openclaw.json on disk: where it is, whether it
//! can be replaced, the lock, the atomic write and the backups.
//!
//! Files beside the config (`openclaw.json` stands for its name):
//! `openclaw.json.clawinit-state` (what clawinit manages),
//! `-prev.1`..`-prev.3` (the last versions it replaced; OpenClaw's own
//! backups are `openclaw.json.bak*`), `-tmp.<pid>` (a write in progress),
//! `-lock` (only where the directory itself is not the lock: `lock_handle`).

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, Flock, FlockArg, OFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{access, linkat, unlinkat, AccessFlags, UnlinkatFlags};

use super::json::{parse_json5, SyntaxError};
use super::plan::Lookup;
use super::state::State;
use crate::account::Account;
use crate::exit::{Exit, Failure};
use crate::files::{self, FileError, CONFIG_FILE_LIMIT};
use crate::names;

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
    /// OpenClaw's state dir: what `CLAWINIT_USER` is handed.
    pub state_dir: PathBuf,
}

impl Location {
    /// OpenClaw's resolution: `OPENCLAW_CONFIG_PATH`, else
    /// `$OPENCLAW_STATE_DIR/openclaw.json`, else `~/.openclaw/openclaw.json`
    /// (`~` being `OPENCLAW_HOME`, else `HOME`).
    pub fn resolve(env: &impl Lookup) -> Result<Location, Failure> {
        let var =
            |name: &str| env.raw(name).filter(|v| !v.is_empty()).map(|v| PathBuf::from(OsString::from_vec(v.to_vec())));
        let state_dir = var(names::OPENCLAW_STATE_DIR)
            .or_else(|| var(names::OPENCLAW_HOME).or_else(|| var("HOME")).map(|home| home.join(".openclaw")))
            .ok_or_else(|| {
                Failure::new(
                    Exit::Config,
                    "cannot locate openclaw.json: set OPENCLAW_CONFIG_PATH, OPENCLAW_STATE_DIR or HOME",
                )
            })?;
        let source = var(names::OPENCLAW_CONFIG_PATH).unwrap_or_else(|| state_dir.join("openclaw.json"));
        let read_only = read_only_reason(&source)?;
        let target = match read_only {
            Some(_) => state_dir.join(RENDERED_NAME),
            None => source.clone(),
        };
        Ok(Location { source, target, read_only, state_dir })
    }

    fn name(&self, suffix: &str) -> OsString {
        let mut name = self.target.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        name
    }

    pub fn state_file(&self) -> PathBuf {
        self.target.with_file_name(self.name(".clawinit-state"))
    }

    pub fn backup(&self, n: usize) -> PathBuf {
        self.target.with_file_name(self.name(&format!(".clawinit-prev.{n}")))
    }

    fn target_name(&self) -> OsString {
        self.name("")
    }
}

/// A source clawinit must not replace: a symlink (a Kubernetes ConfigMap
/// volume, or root's own link), a file on a read-only file system or
/// bind-mounted on its own (rename onto it fails with EBUSY), or one in a
/// directory clawinit cannot write. A symlink anyone else planted is an
/// error: following it would let them choose what root reads.
fn read_only_reason(source: &Path) -> Result<Option<&'static str>, Failure> {
    let resolved = match files::resolve(source) {
        Ok(resolved) => resolved,
        Err(FileError::NotFound) => return Ok(None),
        Err(e) => return Err(cannot("open", source, e)),
    };
    let Some((handle, _)) = &resolved.entry else { return Ok(None) };
    let Ok(meta) = fs::symlink_metadata(source) else { return Ok(None) };
    if meta.file_type().is_symlink() {
        return Ok(Some("a symlink"));
    }
    if statvfs(source).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
        return Ok(Some("on a read-only file system"));
    }
    let dir = parent(source);
    let own_mount = files::mount_id(&resolved.dir) != files::mount_id(handle);
    if own_mount || fs::metadata(dir).is_ok_and(|d| d.dev() != meta.dev()) {
        return Ok(Some("a file mounted on its own"));
    }
    Ok(access(dir, AccessFlags::W_OK).is_err().then_some("in a directory clawinit cannot write"))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The exclusive lock serializing concurrent starts on one volume, held from
/// reading the config until the write is done (a first start's until its
/// state file is written: `config::Deferred`), with the handle on the
/// directory every later step works in by name (never by full path).
pub struct Locked {
    dir: OwnedFd,
    _lock: Flock<File>,
}

/// What is locked. In the state dir, the directory itself: a lock file
/// there would be an entry besides openclaw.json (`only_config`), and the
/// user who owns the directory can hold either. Elsewhere (a directory the
/// user may only read), and where `flock` on the directory fails, the file
/// `openclaw.json.clawinit-lock`. A network file system (NFS, CIFS) takes a
/// host-local `flock` on a directory without failing: there the lock only
/// serializes starts on one host.
fn lock_handle(dir: &OwnedFd, loc: &Location, on_dir: bool) -> Result<(File, PathBuf), Failure> {
    let dir_path = parent(&loc.target);
    if on_dir {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let handle = openat(dir, ".", flags, Mode::empty()).map_err(|e| cannot("open", dir_path, e.into()))?;
        return Ok((File::from(handle), dir_path.to_path_buf()));
    }
    let name = loc.name(".clawinit-lock");
    let shown = dir_path.join(&name);
    let file = open_lock_file(dir, &name).map_err(|e| cannot("open the lock", &shown, e.into()))?;
    Ok((file, shown))
}

pub fn lock(loc: &Location, owner: Option<&Account>, wait: std::time::Duration) -> Result<Locked, Failure> {
    let dir_path = parent(&loc.target);
    let dir = create_dir(dir_path, owner)?;
    let mut on_dir = dir_path == loc.state_dir;
    let (mut handle, mut shown) = lock_handle(&dir, loc, on_dir)?;
    // Never a blocking wait: the lock is in a directory the user can
    // write (or read), so the user can hold it. Another start holds it for
    // milliseconds (a first start until its gateway is up, at most
    // SETTLE_AFTER); a stop request or `wait` ends the wait.
    let deadline = std::time::Instant::now() + wait;
    loop {
        match Flock::lock(handle, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Locked { dir, _lock: lock }),
            Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) => handle = back,
            Err((_, _)) if on_dir => {
                on_dir = false;
                (handle, shown) = lock_handle(&dir, loc, on_dir)?;
                continue;
            }
            Err((_, errno)) => return Err(cannot("lock", &shown, errno.into())),
        }
        crate::interrupt::check()?;
        if std::time::Instant::now() >= deadline {
            return Err(Failure::new(
                Exit::Config,
                match wait.as_secs() {
                    0 => format!("{}: locked by another process", shown.display()),
                    secs => format!("{}: locked by another process for {secs} s", shown.display()),
                },
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// How long a start waits for another one's lock on openclaw.json.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Open (or create) the lock file without following a symlink; anything but
/// a regular file planted there is removed first (it is only a lock).
fn open_lock_file(dir: &OwnedFd, name: &OsStr) -> Result<File, Errno> {
    let flags = OFlag::O_CREAT | OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    for _ in 0..2 {
        match openat(dir, name, flags, Mode::from_bits_truncate(0o600)) {
            Ok(fd) if files::kind(&fstat(&fd)?) == SFlag::S_IFREG => return Ok(File::from(fd)),
            Ok(_) | Err(Errno::ELOOP | Errno::ENXIO) => unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?,
            Err(e) => return Err(e),
        }
    }
    Err(Errno::ELOOP)
}

/// Whether openclaw.json is the only entry of its directory. OpenClaw
/// 2026.9 takes that as a new install (`stateDirHasOnlyConfig`) and skips
/// its legacy-state migrations, about 2 s of a first start; any other entry,
/// clawinit's state file included, sends it down the full migration path.
/// Stops at the first other entry.
pub fn only_config(locked: &Locked, loc: &Location) -> bool {
    let target = loc.target_name();
    listing(&locked.dir).is_ok_and(|mut names| names.all(|name| name.is_ok_and(|n| n == target)))
}

/// The names in `dir` but `.` and `..`, read through a description of its
/// own (a `dup` would share the handle's offset: a second listing through
/// one would find nothing).
fn listing(dir: &OwnedFd) -> Result<impl Iterator<Item = Result<OsString, Errno>>, Errno> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let listing = nix::dir::Dir::from_fd(openat(dir, ".", flags, Mode::empty())?)?;
    Ok(listing
        .into_iter()
        .map(|entry| entry.map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string()))
        .filter(|name| !name.as_ref().is_ok_and(|n| n == "." || n == "..")))
}

/// Whether the state file exists (as anything at all).
pub fn has_state(locked: &Locked, loc: &Location) -> bool {
    files::lstat_at(&locked.dir, &loc.name(".clawinit-state")).is_ok()
}

/// The config as text, or `None` when there is no file yet.
pub fn read(path: &Path) -> Result<Option<String>, Failure> {
    match files::read(path, CONFIG_FILE_LIMIT) {
        Ok(bytes) => String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Failure::new(Exit::Config, format!("{}: not UTF-8 text", path.display()))),
        Err(FileError::NotFound) => Ok(None),
        Err(e) => Err(cannot("read", path, e)),
    }
}

/// The bytes of a file clawinit wrote, for comparison; `None` when absent or
/// not readable as a regular file (then it is rewritten).
pub fn read_own(path: &Path) -> Option<Vec<u8>> {
    files::read(path, CONFIG_FILE_LIMIT).ok().map(|b| b.to_vec())
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
    read_own(&loc.state_file()).and_then(|b| State::parse(&b)).unwrap_or_default()
}

/// Replace the config: temp file beside it, fsync, keep the old one as
/// `-prev.1`, rename, fsync the directory. A crash at any point leaves either
/// the old or the new file, never a torn one.
pub fn write_config(locked: &Locked, loc: &Location, bytes: &[u8], owner: Option<&Account>) -> Result<(), Failure> {
    let dir = &locked.dir;
    let target = loc.target_name();
    remove_stale_temps(dir, loc);
    let temp = write_temp(dir, loc, bytes, owner)?;
    crate::fault::abort_at("before-rename");
    if files::lstat_at(dir, &target).is_ok() {
        keep_backup(dir, loc)?;
    }
    replace(dir, &temp, &target, &loc.target)?;
    files::sync(dir).map_err(|e| cannot("sync", parent(&loc.target), e))
}

/// The state file is written the same way, without backups.
pub fn write_state(locked: &Locked, loc: &Location, state: &State, owner: Option<&Account>) -> Result<(), Failure> {
    let temp = write_temp(&locked.dir, loc, &state.to_bytes(), owner)?;
    replace(&locked.dir, &temp, &loc.name(".clawinit-state"), &loc.state_file())?;
    files::sync(&locked.dir).map_err(|e| cannot("sync", parent(&loc.target), e))
}

fn replace(dir: &OwnedFd, temp: &OsStr, name: &OsStr, shown: &Path) -> Result<(), Failure> {
    renameat(dir, temp, dir, name).map_err(|e| {
        let _ = unlinkat(dir, temp, UnlinkatFlags::NoRemoveDir);
        cannot("replace", shown, e.into())
    })
}

fn write_temp(dir: &OwnedFd, loc: &Location, bytes: &[u8], owner: Option<&Account>) -> Result<OsString, Failure> {
    let mut name = loc.name(".clawinit-tmp.");
    name.push(std::process::id().to_string());
    let shown = loc.target.with_file_name(&name);
    let _ = unlinkat(dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir);
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir, name.as_os_str(), flags, Mode::from_bits_truncate(0o600))
        .map_err(|e| cannot("create", &shown, e.into()))?;
    let mut file = File::from(fd);
    let result = file.write_all(bytes).and_then(|()| chown(&file, owner)).and_then(|()| file.sync_all());
    result.map_err(|e| {
        let _ = unlinkat(dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir);
        cannot("write", &shown, FileError::Io(e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)))
    })?;
    Ok(name)
}

/// Rotate `-prev.N` and hard-link the current file as `-prev.1` (the rename
/// that follows then leaves the old inode there; no copy).
fn keep_backup(dir: &OwnedFd, loc: &Location) -> Result<(), Failure> {
    let prev = |n: usize| loc.name(&format!(".clawinit-prev.{n}"));
    for n in (1..BACKUPS).rev() {
        match renameat(dir, prev(n).as_os_str(), dir, prev(n + 1).as_os_str()) {
            Err(e) if e != Errno::ENOENT => return Err(cannot("rotate", &loc.backup(n), e.into())),
            _ => {}
        }
    }
    let first = prev(1);
    let _ = unlinkat(dir, first.as_os_str(), UnlinkatFlags::NoRemoveDir);
    // Without AT_SYMLINK_FOLLOW: a symlink is linked as itself, never its target.
    linkat(dir, loc.target_name().as_os_str(), dir, first.as_os_str(), AtFlags::empty())
        .map_err(|e| cannot("back up", &loc.target, e.into()))
}

/// Temp files left by a crash; safe to remove while holding the lock.
fn remove_stale_temps(dir: &OwnedFd, loc: &Location) {
    let prefix = loc.name(".clawinit-tmp.");
    let Ok(names) = listing(dir) else { return };
    let stale: Vec<OsString> = names.flatten().filter(|n| n.as_bytes().starts_with(prefix.as_bytes())).collect();
    for name in stale {
        let _ = unlinkat(dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir);
    }
}

/// Open the directory `path`, creating what is missing (mode 0700, owned by
/// `owner`) one component at a time, never through an untrusted symlink.
fn create_dir(path: &Path, owner: Option<&Account>) -> Result<OwnedFd, Failure> {
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        let resolved = files::resolve(&prefix).map_err(|e| cannot("create", &prefix, e))?;
        if resolved.entry.is_some() {
            continue;
        }
        match mkdirat(&resolved.dir, resolved.name.as_os_str(), Mode::from_bits_truncate(0o700)) {
            Ok(()) => {}
            Err(Errno::EEXIST) => continue, // made meanwhile: not ours to chown
            Err(e) => return Err(cannot("create", &prefix, e.into())),
        }
        if let Some(account) = owner.filter(|_| nix::unistd::geteuid().is_root()) {
            // By handle, after checking it is the directory just made (owned
            // by clawinit), not whatever was swapped in under that name.
            let made = files::lstat_at(&resolved.dir, &resolved.name)
                .and_then(|stat| files::open_subdir(&resolved.dir, &resolved.name, &stat).map(|fd| (fd, stat)))
                .map_err(|e| cannot("open", &prefix, e))?;
            if made.1.st_uid != nix::unistd::geteuid().as_raw() {
                return Err(cannot("create", &prefix, FileError::Changed));
            }
            nix::unistd::fchown(&made.0, Some(account.uid), Some(account.gid))
                .map_err(|e| cannot("chown", &prefix, e.into()))?;
        }
    }
    files::open_dir(path).map_err(|e| cannot("open", path, e))
}

fn chown(file: &File, owner: Option<&Account>) -> std::io::Result<()> {
    match owner.filter(|_| nix::unistd::geteuid().is_root()) {
        Some(a) => std::os::unix::fs::fchown(file, Some(a.uid.as_raw()), Some(a.gid.as_raw())),
        None => Ok(()),
    }
}

fn cannot(what: &str, path: &Path, e: FileError) -> Failure {
    Failure::new(Exit::Config, format!("{}: cannot {what}: {e}", path.display()))
}
