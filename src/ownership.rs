//! Before dropping privileges: hand the state dir to `CLAWINIT_USER`, so the
//! gateway can write its sessions, caches and config there. Like
//! `find DIR ! -user U -exec chown U:G {} +`: entries already owned by the
//! user are untouched, symlinks are changed themselves and never followed.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::account::Account;
use crate::config::store::Location;
use crate::exit::{Exit, Failure};

pub fn hand_over(location: &Location, account: &Account) -> Result<(), Failure> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(()); // not ours to change; the children run as we do
    }
    let Some(state_dir) = location.target.parent() else { return Ok(()) };
    let mut changed = 0usize;
    chown_tree(state_dir, account, &mut changed)?;
    if changed > 0 {
        tracing::info!(dir = %state_dir.display(), entries = changed, "state dir handed to CLAWINIT_USER");
    }
    Ok(())
}

fn chown_tree(path: &Path, account: &Account, changed: &mut usize) -> Result<(), Failure> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| cannot(path, e))?;
    if meta.uid() != account.uid.as_raw() || meta.gid() != account.gid.as_raw() {
        std::os::unix::fs::lchown(path, Some(account.uid.as_raw()), Some(account.gid.as_raw()))
            .map_err(|e| cannot(path, e))?;
        *changed += 1;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| cannot(path, e))? {
            let entry = entry.map_err(|e| cannot(path, e))?;
            chown_tree(&entry.path(), account, changed)?;
        }
    }
    Ok(())
}

fn cannot(path: &Path, e: std::io::Error) -> Failure {
    Failure::new(Exit::Config, format!("{}: cannot hand over to CLAWINIT_USER: {e}", path.display()))
}
