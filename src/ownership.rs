//! Before dropping privileges: hand the state dir to `CLAWINIT_USER`, so the
//! gateway can write its sessions, caches and config there. Like
//! `find DIR -xdev ! -user U -exec chown -h U:G {} +`, but safe while the
//! user races it: the walk holds a handle on every directory it enters and
//! opens each entry by name inside it without following symlinks, so a
//! directory swapped for a symlink mid-walk leads nowhere; it stays on the
//! state dir's mount, skips files with more than one link (a hard link to a
//! file outside) and entries on a read-only mount (a bind-mounted source).

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

use crate::account::Account;
use crate::exit::{Exit, Failure};
use crate::files::{self, FileError};

/// Directories that are never handed over, nor anything that contains one:
/// they hold the system or other users' files.
const REFUSED: [&str; 18] = [
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run",
    "/sbin", "/sys", "/tmp", "/usr", "/var",
];

/// Deeper than this, the walk stops (with a warning): a hostile tree cannot
/// exhaust clawinit's stack or file descriptors.
const MAX_DEPTH: usize = 128;

/// Names of skipped hard-linked files shown in the warning (the rest counted).
const SHOWN_NAMES: usize = 10;

#[derive(Default)]
struct Walk {
    changed: usize,
    linked: usize,
    linked_names: Vec<String>,
    read_only: usize,
    other_mounts: usize,
    too_deep: usize,
}

/// Refuse a state dir that is a system directory or contains one (78),
/// before anything is written: handing it over would give the user the
/// system. A state dir that does not exist yet is fine.
pub fn check_state_dir(state_dir: &Path) -> Result<(), Failure> {
    match files::open_dir(state_dir) {
        Err(FileError::NotFound) => Ok(()),
        Err(e) => Err(cannot(state_dir, e)),
        Ok(dir) => refuse_system_dir(state_dir, &fstat(&dir).map_err(|e| cannot(state_dir, e.into()))?),
    }
}

fn refuse_system_dir(state_dir: &Path, stat: &FileStat) -> Result<(), Failure> {
    match system_dir(stat) {
        None => Ok(()),
        Some(system) => Err(Failure::new(
            Exit::Config,
            format!(
                "{}: refusing to hand {system} to CLAWINIT_USER; set OPENCLAW_STATE_DIR to a directory of its own",
                state_dir.display()
            ),
        )),
    }
}

pub fn hand_over(state_dir: &Path, account: &Account) -> Result<(), Failure> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(()); // not ours to change; the children run as we do
    }
    let fail = |e: FileError| cannot(state_dir, e);
    let dir = match files::open_dir(state_dir) {
        Err(FileError::NotFound) => return Ok(()), // nothing to hand over yet
        other => other.map_err(fail)?,
    };
    let top = fstat(&dir).map_err(|e| fail(e.into()))?;
    refuse_system_dir(state_dir, &top)?;
    if top.st_uid != account.uid.as_raw() && parent_writable_by_others(&dir).map_err(fail)? {
        return Err(Failure::new(
            Exit::Config,
            format!(
                "{}: not CLAWINIT_USER's yet, and its parent directory can be written by others, who could have \
                 swapped another directory in; chown it in the image or use a state dir whose parent only root can write",
                state_dir.display()
            ),
        ));
    }
    let mount = files::mount_id(&dir);
    let mut walk = Walk::default();
    chown_entry(&dir, &top, account, &mut walk).map_err(fail)?;
    walk_dir(&dir, (top.st_dev, mount), account, 1, &mut walk).map_err(fail)?;
    report(state_dir, &walk);
    Ok(())
}

/// Whether someone other than root can rename entries of `dir`'s parent:
/// its owner is not root, or it is group/other-writable without the sticky
/// bit.
fn parent_writable_by_others(dir: &OwnedFd) -> Result<bool, FileError> {
    let parent = openat(dir, "..", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let stat = fstat(&parent)?;
    let sticky = stat.st_mode & 0o1000 != 0;
    Ok(stat.st_uid != 0 || (stat.st_mode & 0o022 != 0 && !sticky))
}

/// The refused directory `dir` is, or one it contains (only `/` contains any).
fn system_dir(dir: &FileStat) -> Option<&'static str> {
    let same = |p: &str| nix::sys::stat::stat(p).is_ok_and(|s| (s.st_dev, s.st_ino) == (dir.st_dev, dir.st_ino));
    REFUSED.into_iter().find(|p| same(p))
}

fn walk_dir(
    dir: &OwnedFd,
    mount: (u64, Option<u64>),
    account: &Account,
    depth: usize,
    walk: &mut Walk,
) -> Result<(), FileError> {
    let listing = nix::dir::Dir::from_fd(nix::unistd::dup(dir)?)?;
    for entry in listing.into_iter() {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let handle = match openat(dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue, // removed meanwhile
            Err(e) => return Err(e.into()),
        };
        let stat = fstat(&handle)?;
        if stat.st_dev != mount.0 || files::mount_id(&handle) != mount.1 {
            walk.other_mounts += 1;
            continue;
        }
        let kind = files::kind(&stat);
        // Owning a symlink grants nothing, and a root-owned one stays one
        // root placed (clawinit follows only those, in directories only
        // root can change).
        if kind == SFlag::S_IFLNK {
            continue;
        }
        if kind == SFlag::S_IFREG && stat.st_nlink > 1 {
            walk.linked += 1;
            if walk.linked_names.len() < SHOWN_NAMES {
                walk.linked_names.push(crate::names::shown_name(name.as_bytes()));
            }
            continue;
        }
        chown_entry(&handle, &stat, account, walk)?;
        if kind != SFlag::S_IFDIR {
            continue;
        }
        if depth >= MAX_DEPTH {
            walk.too_deep += 1;
            continue;
        }
        match files::open_subdir(dir, name, &stat) {
            Ok(sub) => walk_dir(&sub, mount, account, depth + 1, walk)?,
            Err(FileError::NotFound | FileError::Changed) => {} // moved or swapped meanwhile: not ours to follow
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// chown the entry `handle` refers to (a symlink itself, never its target).
fn chown_entry(handle: &OwnedFd, stat: &FileStat, account: &Account, walk: &mut Walk) -> Result<(), FileError> {
    if stat.st_uid == account.uid.as_raw() && stat.st_gid == account.gid.as_raw() {
        return Ok(());
    }
    match nix::unistd::fchownat(handle, "", Some(account.uid), Some(account.gid), AtFlags::AT_EMPTY_PATH) {
        Ok(()) => walk.changed += 1,
        Err(Errno::EROFS) => walk.read_only += 1,
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

fn report(state_dir: &Path, walk: &Walk) {
    let dir = state_dir.display();
    if walk.changed > 0 {
        tracing::info!(dir = %dir, entries = walk.changed, "state dir handed to CLAWINIT_USER");
    }
    if walk.linked > 0 {
        let names = walk.linked_names.join(",");
        tracing::warn!(dir = %dir, entries = walk.linked, first = %names, "files with more than one hard link were not handed over");
    }
    if walk.read_only > 0 {
        tracing::info!(dir = %dir, entries = walk.read_only, "entries on a read-only mount were left as they are");
    }
    if walk.other_mounts > 0 {
        tracing::info!(dir = %dir, entries = walk.other_mounts, "mount points inside the state dir were not crossed");
    }
    if walk.too_deep > 0 {
        tracing::warn!(dir = %dir, entries = walk.too_deep, "directories deeper than {MAX_DEPTH} levels were not handed over");
    }
}

fn cannot(path: &Path, e: FileError) -> Failure {
    Failure::new(Exit::Config, format!("{}: cannot hand over to CLAWINIT_USER: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_and_system_directories_are_recognised() {
        for dir in ["/", "/etc", "/usr", "/proc"] {
            let stat = nix::sys::stat::stat(dir).unwrap();
            assert_eq!(system_dir(&stat), Some(dir), "{dir}");
        }
        let own = std::env::temp_dir().join(format!("clawinit-own-{}", std::process::id()));
        std::fs::create_dir_all(&own).unwrap();
        assert_eq!(system_dir(&nix::sys::stat::stat(&own).unwrap()), None);
        assert!(check_state_dir(&own).is_ok() && check_state_dir(&own.join("not-yet")).is_ok());
        assert_eq!(check_state_dir(Path::new("/")).unwrap_err().exit, Exit::Config);
        std::fs::remove_dir_all(own).unwrap();
    }
}
