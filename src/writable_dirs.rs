//! A writable cache and temp dir for the children on a read-only root file
//! system (`--read-only`, Kubernetes `readOnlyRootFilesystem`), where the
//! state volume may be the only place they can write.
//!
//! OpenClaw 2026.9.6 stages SQLite snapshots under `$XDG_CACHE_HOME/openclaw`
//! (else `~/.cache/openclaw`, then `<that>/openclaw-<uid>`), and keeps its
//! gateway lock, logs and Node's compile cache under `os.tmpdir()` (`TMPDIR`,
//! else `/tmp`). With `~/.cache` on a read-only image it exits 78 at once
//! ("Unable to create fallback OpenClaw temp dir: /home/node/.cache/openclaw-1000").
//! So when the user the children run as cannot write `~/.cache` (or `/tmp`),
//! they get `XDG_CACHE_HOME` (or `TMPDIR`) pointing into the state dir,
//! created there 0700 and owned by that user. A variable set in clawinit's
//! own environment is never replaced. Decided once at the start: a reload
//! gives the children the same values.
//!
//! As root this writes into the state dir, which the user owns and can race:
//! the directory is made with `mkdirat` in a handle on the state dir, opened
//! without following a symlink and checked to be the one just made before it
//! is chowned by handle; an entry already there is used only when it is a
//! real directory of the user's own.

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{fstat, mkdirat, FileStat, Mode, SFlag};
use nix::sys::statvfs::{fstatvfs, FsFlags};

use crate::account::Account;
use crate::files::{self, FileError};

pub const CACHE_VAR: &str = "XDG_CACHE_HOME";
pub const TEMP_VAR: &str = "TMPDIR";

/// The variables the children get, decided at the start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WritableDirs {
    vars: Vec<(&'static str, PathBuf)>,
}

impl WritableDirs {
    /// Each variable and the directory it names, to set when unset.
    pub fn vars(&self) -> &[(&'static str, PathBuf)] {
        &self.vars
    }
}

/// Who the children run as: what decides whether they can write a directory.
#[derive(Debug, Clone)]
pub struct User {
    pub uid: u32,
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

impl User {
    /// `CLAWINIT_USER`'s account, else clawinit's own uid and `HOME`.
    pub fn of(owner: Option<&Account>) -> User {
        match owner {
            Some(a) => User {
                uid: a.uid.as_raw(),
                groups: a.groups.iter().map(|g| g.as_raw()).collect(),
                home: a.home.clone(),
            },
            None => {
                let mut groups: Vec<u32> =
                    nix::unistd::getgroups().unwrap_or_default().iter().map(|g| g.as_raw()).collect();
                groups.push(nix::unistd::getegid().as_raw());
                let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
                User { uid: nix::unistd::geteuid().as_raw(), groups, home }
            }
        }
    }
}

/// What clawinit saw of a directory: enough to tell whether a user can
/// create entries in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub read_only: bool,
}

/// Whether `user` can create entries in a directory seen as `dir` (write
/// and search permission, on a writable mount). Root needs only the mount.
pub fn can_create_in(dir: &Seen, user: &User) -> bool {
    if dir.read_only {
        return false;
    }
    let needed = if user.uid == 0 {
        return true;
    } else if dir.uid == user.uid {
        0o300
    } else if user.groups.contains(&dir.gid) {
        0o030
    } else {
        0o003
    };
    dir.mode & needed == needed
}

/// Whether the children can use their cache without help: `~/.cache` when
/// it exists, else its parent `HOME` (where they would make it).
pub fn cache_usable(cache: Option<Seen>, home: Option<Seen>, user: &User) -> bool {
    match (cache, home) {
        (Some(cache), _) => can_create_in(&cache, user),
        (None, Some(home)) => can_create_in(&home, user),
        (None, None) => false,
    }
}

/// Which variables to set: those unset in clawinit's environment whose
/// default location the children cannot write.
pub fn needed(cache_ok: bool, temp_ok: bool, is_set: impl Fn(&str) -> bool) -> Vec<(&'static str, &'static str)> {
    [(CACHE_VAR, ".cache", cache_ok), (TEMP_VAR, ".tmp", temp_ok)]
        .into_iter()
        .filter(|(var, _, ok)| !ok && !is_set(var))
        .map(|(var, name, _)| (var, name))
        .collect()
}

/// Decide and make the directories in `state_dir` for the children of this
/// run. Never fails the start: a directory that cannot be made is one
/// warning, and the children get the defaults they would have had.
pub fn prepare(state_dir: &Path, owner: Option<&Account>) -> WritableDirs {
    let user = User::of(owner);
    let cache_ok = cache_usable(seen(&user.home.join(".cache")), seen(&user.home), &user);
    let temp_ok = seen(Path::new("/tmp")).is_some_and(|tmp| can_create_in(&tmp, &user));
    let mut dirs = WritableDirs::default();
    for (var, name) in needed(cache_ok, temp_ok, |var| std::env::var_os(var).is_some_and(|v| !v.is_empty())) {
        let path = state_dir.join(name);
        match make(state_dir, OsStr::new(name), owner) {
            Ok(()) => {
                tracing::info!(variable = var, dir = %path.display(), "the children's default location is not writable: using the state dir");
                dirs.vars.push((var, path));
            }
            Err(why) => {
                tracing::warn!(variable = var, dir = %path.display(), "cannot make a writable directory for the children: {why}")
            }
        }
    }
    dirs
}

/// A directory as the children would meet it; `None` when missing or not
/// reachable by trusted links (then it is not counted on).
fn seen(path: &Path) -> Option<Seen> {
    let dir = files::open_dir(path).ok()?;
    let stat = fstat(&dir).ok()?;
    let read_only = fstatvfs(&dir).is_ok_and(|v| v.flags().contains(FsFlags::ST_RDONLY));
    Some(Seen { uid: stat.st_uid, gid: stat.st_gid, mode: stat.st_mode & 0o7777, read_only })
}

/// `name` in `state_dir`: made 0700 and handed to `owner`, or an existing
/// real directory the children's user already owns that only they can write.
fn make(state_dir: &Path, name: &OsStr, owner: Option<&Account>) -> Result<(), MakeError> {
    let parent = files::open_dir(state_dir)?;
    let me = nix::unistd::geteuid();
    let user = owner.map_or(me, |a| a.uid);
    let made = match mkdirat(&parent, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) => true,
        Err(Errno::EEXIST) => false,
        Err(e) => return Err(e.into()),
    };
    let (dir, stat) = open_checked(&parent, name)?;
    if made && stat.st_uid == me.as_raw() {
        if let Some(account) = owner.filter(|a| a.uid != me) {
            nix::unistd::fchown(&dir, Some(account.uid), Some(account.gid))?;
        }
        return Ok(());
    }
    // Someone else's, or swapped in between the mkdir and the open.
    if stat.st_uid != user.as_raw() {
        return Err(MakeError::NotTheirs(stat.st_uid));
    }
    // Not tightened: a chmod of the user's entry would need CAP_FOWNER,
    // which the documented minimum leaves out. Others' write access would
    // let them plant files in the children's cache: refused instead.
    if stat.st_mode & 0o022 != 0 {
        return Err(MakeError::NotPrivate(stat.st_mode & 0o7777));
    }
    Ok(())
}

/// `name` in `dir`, a directory reached without following a symlink.
fn open_checked(dir: &OwnedFd, name: &OsStr) -> Result<(OwnedFd, FileStat), MakeError> {
    let stat = files::lstat_at(dir, name)?;
    if files::kind(&stat) != SFlag::S_IFDIR {
        return Err(MakeError::NotADirectory);
    }
    Ok((files::open_subdir(dir, name, &stat)?, stat))
}

/// Why a directory for the children was not made (names no content).
#[derive(Debug)]
enum MakeError {
    File(FileError),
    /// A symlink or other entry is there: never followed, never replaced.
    NotADirectory,
    /// A directory of someone else than the children's user.
    NotTheirs(u32),
    /// The children's, but others can write it (its mode).
    NotPrivate(u32),
}

impl From<FileError> for MakeError {
    fn from(e: FileError) -> MakeError {
        MakeError::File(e)
    }
}

impl From<Errno> for MakeError {
    fn from(e: Errno) -> MakeError {
        MakeError::File(e.into())
    }
}

impl fmt::Display for MakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MakeError::File(e) => write!(f, "{e}"),
            MakeError::NotADirectory => f.write_str("something else than a directory is there (not followed)"),
            MakeError::NotTheirs(uid) => write!(f, "a directory of uid {uid} is there, not the children's"),
            MakeError::NotPrivate(mode) => write!(f, "others can write the directory there (mode {mode:o})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> User {
        User { uid: 1000, groups: vec![1000, 0], home: PathBuf::from("/home/node") }
    }

    fn dir(uid: u32, gid: u32, mode: u32) -> Seen {
        Seen { uid, gid, mode, read_only: false }
    }

    #[test]
    fn write_and_search_by_owner_group_or_others_on_a_writable_mount() {
        let user = node();
        assert!(can_create_in(&dir(1000, 1000, 0o700), &user));
        assert!(!can_create_in(&dir(1000, 1000, 0o500), &user), "no write bit");
        assert!(!can_create_in(&dir(1000, 1000, 0o600), &user), "no search bit");
        assert!(can_create_in(&dir(0, 0, 0o775), &user), "group 0 (OpenShift's /data)");
        assert!(!can_create_in(&dir(0, 5, 0o775), &user), "not in that group");
        assert!(can_create_in(&dir(0, 0, 0o1777), &User { groups: vec![], ..node() }), "/tmp");
        assert!(!can_create_in(&dir(0, 0, 0o755), &user), "root's directory");
        assert!(!can_create_in(&Seen { read_only: true, ..dir(1000, 1000, 0o700) }, &user), "a read-only mount");
        let root = User { uid: 0, groups: vec![0], home: PathBuf::from("/root") };
        assert!(can_create_in(&dir(1000, 1000, 0o700), &root));
        assert!(!can_create_in(&Seen { read_only: true, ..dir(0, 0, 0o700) }, &root), "not even root");
    }

    #[test]
    fn the_cache_is_judged_by_itself_else_by_home() {
        let user = node();
        let ro_home = Seen { read_only: true, ..dir(1000, 1000, 0o755) };
        assert!(!cache_usable(None, Some(ro_home), &user), "the image's HOME, read-only, no ~/.cache");
        assert!(cache_usable(Some(dir(0, 0, 0o1777)), Some(ro_home), &user), "a tmpfs on ~/.cache");
        assert!(cache_usable(None, Some(dir(1000, 1000, 0o755)), &user));
        assert!(!cache_usable(None, None, &user), "HOME missing (HOME=/nonexistent)");
    }

    #[test]
    fn only_unset_variables_whose_default_is_not_writable_are_set() {
        let unset = |_: &str| false;
        assert_eq!(needed(true, true, unset), vec![]);
        assert_eq!(needed(false, true, unset), vec![(CACHE_VAR, ".cache")]);
        assert_eq!(needed(false, false, unset), vec![(CACHE_VAR, ".cache"), (TEMP_VAR, ".tmp")]);
        assert_eq!(needed(false, false, |v: &str| v == TEMP_VAR), vec![(CACHE_VAR, ".cache")], "TMPDIR kept");
        assert_eq!(needed(false, false, |_: &str| true), vec![], "nothing replaced");
    }

    #[test]
    fn made_in_the_state_dir_0700_and_an_open_or_foreign_entry_is_refused() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let state = std::env::temp_dir().join(format!("clawinit-wd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).unwrap();
        make(&state, OsStr::new(".cache"), None).unwrap();
        let meta = std::fs::symlink_metadata(state.join(".cache")).unwrap();
        assert!(meta.is_dir() && meta.mode() & 0o7777 == 0o700 && meta.uid() == nix::unistd::geteuid().as_raw());
        // An existing one of ours: used; one others can write: refused, left as it is.
        make(&state, OsStr::new(".cache"), None).unwrap();
        std::fs::set_permissions(state.join(".cache"), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(make(&state, OsStr::new(".cache"), None), Err(MakeError::NotPrivate(0o777))));
        assert_eq!(std::fs::metadata(state.join(".cache")).unwrap().mode() & 0o7777, 0o777);
        // A symlink planted under the name is not followed.
        std::os::unix::fs::symlink("/etc", state.join(".tmp")).unwrap();
        assert!(make(&state, OsStr::new(".tmp"), None).is_err());
        assert!(std::fs::symlink_metadata(state.join(".tmp")).unwrap().file_type().is_symlink());
        std::fs::remove_dir_all(&state).unwrap();
    }
}
