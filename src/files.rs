//! Every file clawinit opens while it is root goes through here, because the
//! state dir (and any directory the unprivileged user can write) is hostile:
//!
//! - paths are walked one component at a time from an open directory handle
//!   (`openat` with `O_PATH|O_NOFOLLOW`), and a symlink is followed only when
//!   root or clawinit's own uid owns it (the image's links, a Kubernetes
//!   ConfigMap's `..data` links): a link the user planted is refused, so it
//!   can never point a root read or a root create elsewhere;
//! - a file to read must be a regular file (a FIFO, device or directory is
//!   refused before it is opened for reading, so nothing blocks), and is read
//!   up to a cap, never to the end of whatever it is.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag, AT_FDCWD};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};
use zeroize::Zeroizing;

/// The most bytes read from a SOPS file.
pub const SECRETS_FILE_LIMIT: u64 = 64 << 20;
/// The most bytes read from openclaw.json, its state file and the overlay.
pub const CONFIG_FILE_LIMIT: u64 = 16 << 20;
/// The most bytes read from an age or SSH identity file (or a key command).
pub const KEY_FILE_LIMIT: u64 = 1 << 20;

/// Symlinks followed while resolving one path, as the kernel's ELOOP limit.
const MAX_SYMLINKS: usize = 40;

/// Why a file could not be opened or read. Names the path, never content.
#[derive(Debug)]
pub enum FileError {
    NotFound,
    /// A symlink someone other than root could have planted or moved.
    UntrustedSymlink {
        link: PathBuf,
        why: UntrustedBecause,
    },
    /// Not a regular file: "a FIFO", "a directory", "a device", ...
    NotRegular(&'static str),
    TooLarge(u64),
    /// The entry changed between the check and the open (a racing process).
    Changed,
    Io(Errno),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotFound => f.write_str("no such file"),
            FileError::UntrustedSymlink { link, why: UntrustedBecause::Owner(uid) } => {
                write!(f, "{} is a symlink owned by uid {uid}; clawinit follows only root's symlinks", link.display())
            }
            FileError::UntrustedSymlink { link, why: UntrustedBecause::WritableDir } => write!(
                f,
                "{} is a symlink in a directory others can write; clawinit follows symlinks only in \
                 directories only root can change (or on a read-only mount)",
                link.display()
            ),
            FileError::NotRegular(kind) => write!(f, "{kind}, not a regular file"),
            FileError::TooLarge(limit) => write!(f, "larger than {} MiB", limit >> 20),
            FileError::Changed => f.write_str("changed while being opened (refused)"),
            FileError::Io(e) => f.write_str(e.desc()),
        }
    }
}

/// Why a symlink is not followed.
#[derive(Debug, PartialEq)]
pub enum UntrustedBecause {
    /// Its owner (someone else than root or clawinit).
    Owner(u32),
    /// Root's, but in a directory someone else can write: they could have
    /// moved it there, or moved a relative link's target.
    WritableDir,
}

impl From<Errno> for FileError {
    fn from(e: Errno) -> FileError {
        match e {
            Errno::ENOENT => FileError::NotFound,
            other => FileError::Io(other),
        }
    }
}

/// A resolved path: the directory that holds the last component, that
/// component's name, and (when it exists) an `O_PATH` handle on it.
pub struct Resolved {
    pub dir: OwnedFd,
    pub name: OsString,
    pub entry: Option<(OwnedFd, FileStat)>,
}

/// Read the regular file at `path`, at most `limit` bytes. The bytes may be
/// secret: they are wiped when dropped.
pub fn read(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, FileError> {
    let resolved = resolve(path)?;
    let (_, stat) = resolved.entry.as_ref().ok_or(FileError::NotFound)?;
    read_entry(&resolved.dir, &resolved.name, stat, limit)
}

/// The type and owner of `name` in `dir`, without following a symlink.
pub fn lstat_at(dir: &OwnedFd, name: &OsStr) -> Result<FileStat, FileError> {
    let handle = openat(dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
    Ok(fstat(&handle)?)
}

fn read_entry(dir: &OwnedFd, name: &OsStr, checked: &FileStat, limit: u64) -> Result<Zeroizing<Vec<u8>>, FileError> {
    if kind(checked) != SFlag::S_IFREG {
        return Err(FileError::NotRegular(kind_name(checked)));
    }
    // O_NONBLOCK: should a FIFO be swapped in after the check, the open
    // returns at once; the inode comparison below then refuses it.
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let fd = openat(dir, name, flags, Mode::empty()).map_err(|e| match e {
        Errno::ELOOP => FileError::Changed,
        other => other.into(),
    })?;
    let opened = fstat(&fd)?;
    if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino) {
        return Err(FileError::Changed);
    }
    read_capped(std::fs::File::from(fd), opened.st_size.max(0) as u64, limit)
}

fn read_capped(file: std::fs::File, size_hint: u64, limit: u64) -> Result<Zeroizing<Vec<u8>>, FileError> {
    if size_hint > limit {
        return Err(FileError::TooLarge(limit));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(size_hint as usize));
    // One byte more than the limit tells "too large" from "exactly the limit"
    // for files whose size the kernel does not report (procfs, sysfs).
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| FileError::Io(io_errno(&e)))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge(limit));
    }
    Ok(bytes)
}

fn io_errno(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

/// Open the directory at `path` for reading (a handle for `*at` calls),
/// following only trusted symlinks.
pub fn open_dir(path: &Path) -> Result<OwnedFd, FileError> {
    let resolved = resolve(path)?;
    let (_, stat) = resolved.entry.as_ref().ok_or(FileError::NotFound)?;
    open_subdir(&resolved.dir, &resolved.name, stat)
}

/// Open `name` in `dir` as a directory, checking it is the inode `checked`.
pub fn open_subdir(dir: &OwnedFd, name: &OsStr, checked: &FileStat) -> Result<OwnedFd, FileError> {
    if kind(checked) != SFlag::S_IFDIR {
        return Err(FileError::NotRegular(kind_name(checked)));
    }
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir, name, flags, Mode::empty()).map_err(|e| match e {
        Errno::ELOOP | Errno::ENOTDIR => FileError::Changed,
        other => other.into(),
    })?;
    let opened = fstat(&fd)?;
    if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino) {
        return Err(FileError::Changed);
    }
    Ok(fd)
}

/// Walk `path` from `/` (or the working directory) one component at a time.
/// Every directory on the way and the last component's own symlinks are
/// followed only when trusted. The last component need not exist.
pub fn resolve(path: &Path) -> Result<Resolved, FileError> {
    let mut pending: Vec<OsString> = Vec::new();
    let mut dir = start(path, &mut pending)?;
    let mut walked = if path.is_absolute() { PathBuf::from("/") } else { PathBuf::new() };
    let mut hops = 0;
    // `pending` is a stack: the next component is last.
    while let Some(name) = pending.pop() {
        if name == ".." {
            dir = openat(&dir, "..", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
            walked.pop();
            continue;
        }
        let is_last = pending.is_empty();
        let entry =
            match openat(&dir, name.as_os_str(), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) if is_last => return Ok(Resolved { dir, name, entry: None }),
                Err(e) => return Err(e.into()),
            };
        let stat = fstat(&entry)?;
        walked.push(&name);
        if kind(&stat) == SFlag::S_IFLNK {
            if !trusted_owner(stat.st_uid) {
                return Err(FileError::UntrustedSymlink { link: walked, why: UntrustedBecause::Owner(stat.st_uid) });
            }
            if !only_trusted_can_change(&dir)? {
                return Err(FileError::UntrustedSymlink { link: walked, why: UntrustedBecause::WritableDir });
            }
            hops += 1;
            if hops > MAX_SYMLINKS {
                return Err(FileError::Io(Errno::ELOOP));
            }
            let target = PathBuf::from(readlinkat(&entry, "")?);
            walked.pop();
            if target.is_absolute() {
                dir = openat(AT_FDCWD, "/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
                walked = PathBuf::from("/");
            }
            push_components(&target, &mut pending);
            continue;
        }
        if is_last {
            return Ok(Resolved { dir, name, entry: Some((entry, stat)) });
        }
        if kind(&stat) != SFlag::S_IFDIR {
            return Err(FileError::Io(Errno::ENOTDIR));
        }
        dir = entry;
    }
    // The path named a directory itself ("/", ".", "a/.."): its parent holds it.
    let stat = fstat(&dir)?;
    let parent = openat(&dir, "..", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let name = dot_name(&parent, &stat)?;
    let entry = openat(&parent, name.as_os_str(), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
    Ok(Resolved { dir: parent, name, entry: Some((entry, stat)) })
}

fn start(path: &Path, pending: &mut Vec<OsString>) -> Result<OwnedFd, FileError> {
    push_components(path, pending);
    let origin = if path.is_absolute() { "/" } else { "." };
    Ok(openat(AT_FDCWD, origin, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?)
}

/// Push `path`'s components so that the first one is popped first.
fn push_components(path: &Path, pending: &mut Vec<OsString>) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    pending.extend(parts.into_iter().rev());
}

/// The name under which `parent` holds the directory `stat` ("/" is its
/// own parent: "." then).
fn dot_name(parent: &OwnedFd, stat: &FileStat) -> Result<OsString, FileError> {
    let parent_stat = fstat(parent)?;
    if (parent_stat.st_dev, parent_stat.st_ino) == (stat.st_dev, stat.st_ino) {
        return Ok(OsString::from("."));
    }
    let listing =
        nix::dir::Dir::openat(parent, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    for entry in listing.into_iter().flatten() {
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        if lstat_at(parent, name).is_ok_and(|s| (s.st_dev, s.st_ino) == (stat.st_dev, stat.st_ino)) {
            return Ok(name.to_os_string());
        }
    }
    Err(FileError::Changed)
}

/// Root's symlinks and clawinit's own are trusted; nobody else's.
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// A directory in which nobody but root (or clawinit) can replace root's
/// entries: owned by them and not writable by group or others, or sticky
/// (others may add entries but not rename or remove root's), or on a
/// read-only mount (a Kubernetes ConfigMap or Secret volume).
fn only_trusted_can_change(dir: &OwnedFd) -> Result<bool, FileError> {
    let stat = fstat(dir)?;
    let sticky = stat.st_mode & 0o1000 != 0;
    if trusted_owner(stat.st_uid) && (stat.st_mode & 0o022 == 0 || sticky) {
        return Ok(true);
    }
    Ok(nix::sys::statvfs::fstatvfs(dir)?.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

pub fn kind(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT
}

fn kind_name(stat: &FileStat) -> &'static str {
    match kind(stat) {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFCHR | SFlag::S_IFBLK => "a device",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFLNK => "a symlink",
        _ => "a regular file",
    }
}

/// The mount an open file is on (statx, Linux 5.8+): tells a bind mount from
/// the same file system apart, which `st_dev` cannot. None where unknown.
pub fn mount_id(fd: &impl AsRawFd) -> Option<u64> {
    // SAFETY: statx on an owned fd with an empty path, into a zeroed struct we own.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statx(fd.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, libc::STATX_MNT_ID, &mut buf) };
    (rc == 0 && buf.stx_mask & libc::STATX_MNT_ID != 0).then_some(buf.stx_mnt_id)
}

/// Flush a directory's entries (after a rename in it) to disk.
pub fn sync(fd: &impl AsFd) -> Result<(), FileError> {
    Ok(nix::unistd::fsync(fd)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("clawinit-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn follows_own_symlinks_and_reads_regular_files() {
        let dir = scratch("own");
        std::fs::write(dir.join("real.json"), b"{}").unwrap();
        symlink("real.json", dir.join("link.json")).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        symlink("../link.json", dir.join("sub/up.json")).unwrap();
        assert_eq!(&read(&dir.join("sub/up.json"), 10).unwrap()[..], b"{}");
        assert_eq!(&read(&dir.join("sub/../real.json"), 10).unwrap()[..], b"{}");
        assert!(matches!(read(&dir.join("missing"), 10), Err(FileError::NotFound)));
        assert!(matches!(read(&dir.join("real.json"), 1), Err(FileError::TooLarge(1))));
        assert!(matches!(read(&dir.join("sub"), 10), Err(FileError::NotRegular("a directory"))));
        assert!(matches!(read(Path::new("/dev/zero"), 10), Err(FileError::NotRegular("a device"))));
        let resolved = resolve(&dir.join("sub/new.json")).unwrap();
        assert!(resolved.entry.is_none() && resolved.name == "new.json");
        assert!(open_dir(Path::new("/")).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_fifos_without_blocking() {
        let dir = scratch("fifo");
        nix::unistd::mkfifo(&dir.join("pipe"), Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(read(&dir.join("pipe"), 10), Err(FileError::NotRegular("a FIFO"))));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_symlinks_owned_by_others() {
        if !nix::unistd::geteuid().is_root() {
            return; // needs lchown to another uid
        }
        let dir = scratch("foreign");
        std::fs::write(dir.join("real.json"), b"{}").unwrap();
        symlink(dir.join("real.json"), dir.join("link.json")).unwrap();
        std::os::unix::fs::lchown(dir.join("link.json"), Some(4242), Some(4242)).unwrap();
        match read(&dir.join("link.json"), 10) {
            Err(FileError::UntrustedSymlink { why: UntrustedBecause::Owner(4242), link }) => {
                assert_eq!(link, dir.join("link.json"))
            }
            other => panic!("{:?}", other.map(|b| b.len())),
        }
        // Root's own link, in a directory someone else can write: not followed.
        std::fs::remove_file(dir.join("link.json")).unwrap();
        symlink(dir.join("real.json"), dir.join("link.json")).unwrap();
        assert!(read(&dir.join("link.json"), 10).is_ok());
        use std::os::unix::fs::PermissionsExt;
        let mode = |m: u32| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m)).unwrap();
        mode(0o777);
        assert!(
            matches!(read(&dir.join("link.json"), 10), Err(FileError::UntrustedSymlink { .. })),
            "root's directory, but anyone can replace the link"
        );
        mode(0o1777);
        assert!(read(&dir.join("link.json"), 10).is_ok(), "sticky: nobody else can replace root's link");
        mode(0o755);
        std::os::unix::fs::chown(&dir, Some(4242), Some(4242)).unwrap();
        assert!(matches!(
            read(&dir.join("link.json"), 10),
            Err(FileError::UntrustedSymlink { why: UntrustedBecause::WritableDir, .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
