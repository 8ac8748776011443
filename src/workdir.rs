//! The directory clawinit was started in, held open (`O_PATH`) from the
//! first instruction. Relative paths in the settings (`CLAWINIT_SECRETS_DIR=
//! secrets`, a relative `OPENCLAW_STATE_DIR`) and the children's working
//! directory always mean that directory, never what its path names later:
//! when a parent belongs to the gateway's user (WORKDIR `/home/node/app`),
//! the user can swap the path for a link to a root-only directory, and a
//! reload that entered it by path would read and write there as root.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, Mode};

pub struct StartDir {
    handle: OwnedFd,
    /// Where it was at the start, for messages only.
    shown: PathBuf,
}

impl StartDir {
    /// The current directory, held open. `O_PATH` needs no read permission.
    pub fn here() -> std::io::Result<StartDir> {
        let handle = open_path(".")?;
        let shown = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Ok(StartDir { handle, shown })
    }

    /// For `fchdir` in a forked child (the descriptor is close-on-exec).
    pub fn raw_fd(&self) -> RawFd {
        self.handle.as_raw_fd()
    }

    /// Why it can no longer be entered: removed, or unreadable. A removed
    /// directory has no link left; on overlayfs (a container's root) its
    /// count stays 1, and the kernel's name for the handle says "(deleted)".
    pub fn gone(&self) -> Option<String> {
        let removed = || format!("the start directory {} was removed", self.shown.display());
        match fstat(&self.handle) {
            Ok(stat) if stat.st_nlink == 0 => Some(removed()),
            Ok(_) if self.unlinked_by_name() => Some(removed()),
            Ok(_) => None,
            Err(e) => Some(format!("the start directory {}: {e}", self.shown.display())),
        }
    }

    fn unlinked_by_name(&self) -> bool {
        std::fs::read_link(format!("/proc/self/fd/{}", self.handle.as_raw_fd()))
            .is_ok_and(|name| name.as_os_str().as_encoded_bytes().ends_with(b" (deleted)"))
    }

    /// Make it the current directory until the guard is dropped, which goes
    /// back to the directory that was current before (the supervisor's `/`).
    pub fn enter(&self) -> Result<Back, String> {
        if let Some(why) = self.gone() {
            return Err(why);
        }
        let before = open_path(".").ok();
        nix::unistd::fchdir(&self.handle).map_err(|e| format!("the start directory {}: {e}", self.shown.display()))?;
        Ok(Back(before))
    }
}

/// Returns to the directory that was current before `StartDir::enter`.
pub struct Back(Option<OwnedFd>);

impl Drop for Back {
    fn drop(&mut self) {
        match &self.0 {
            Some(before) => {
                let _ = nix::unistd::fchdir(before);
            }
            None => {
                let _ = std::env::set_current_dir("/");
            }
        }
    }
}

fn open_path(path: &str) -> std::io::Result<OwnedFd> {
    Ok(open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_directory_is_gone_and_not_entered() {
        let dir = std::env::temp_dir().join(format!("clawinit-startdir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let handle = open_path(dir.to_str().unwrap()).unwrap();
        let start = StartDir { handle, shown: dir.clone() };
        assert_eq!(start.gone(), None);
        std::fs::remove_dir(&dir).unwrap();
        let why = start.gone().unwrap();
        assert!(why.contains("was removed"), "{why}");
        assert!(start.enter().is_err());
    }
}
