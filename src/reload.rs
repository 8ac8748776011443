//! What `run` reads again on a reload: the secret sources (SOPS files,
//! `CLAWINIT_SECRETS_DIR`, `<NAME>_FILE`) and the overlay, through the same
//! steps as the start (`commands::children_env`, `config::prepare`), and
//! the watch's fingerprint of their bytes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::account::Account;
use crate::commands;
use crate::config::{self, Mode};
use crate::exit::Failure;
use crate::files::{self, CONFIG_FILE_LIMIT, SECRETS_FILE_LIMIT};
use crate::settings::Settings;
use crate::sources::{self, Loaded};
use crate::supervise::{Reload, Reloaded};

/// The sources of one `run`.
pub struct Sources {
    settings: Settings,
    owner: Option<Account>,
    /// The digest the watch compares with; `None` without a watch.
    fingerprint: Option<[u8; 32]>,
    /// Where the start read relative paths from.
    workdir: PathBuf,
}

/// Relative paths (`CLAWINIT_SECRETS_DIR=secrets`, a relative
/// `OPENCLAW_STATE_DIR`) mean what they meant at the start: the supervisor
/// moved to `/` (it pins no mount), so a reload reads from the start's
/// directory again, and goes back when done.
struct InWorkdir(Option<PathBuf>);

impl InWorkdir {
    fn enter(dir: &Path) -> InWorkdir {
        let before = std::env::current_dir().ok().filter(|now| now != dir);
        if before.is_some() && std::env::set_current_dir(dir).is_err() {
            return InWorkdir(None);
        }
        InWorkdir(before)
    }
}

impl Drop for InWorkdir {
    fn drop(&mut self) {
        if let Some(before) = &self.0 {
            let _ = std::env::set_current_dir(before);
        }
    }
}

impl Sources {
    /// Taken before the start reads the sources, so a change made while
    /// the start reads them is seen by the first check, not missed.
    pub fn new(settings: &Settings) -> Sources {
        let fingerprint = (settings.secrets_watch > 0).then(|| fingerprint(settings));
        let workdir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Sources { settings: settings.clone(), owner: None, fingerprint, workdir }
    }

    /// The account the state dir was handed to: files clawinit writes on a
    /// reload are the user's, as at the start.
    pub fn owned_by(&mut self, owner: Option<Account>) {
        self.owner = owner;
    }
}

impl Reload for Sources {
    fn reload(&mut self) -> Result<Reloaded, Failure> {
        if self.fingerprint.is_some() {
            let _back = InWorkdir::enter(&self.workdir);
            // What is read now is what the next check compares with: a
            // change the reload already took is not reloaded twice.
            self.fingerprint = Some(fingerprint(&self.settings));
        }
        let _back = InWorkdir::enter(&self.workdir);
        let (mut env, sources) = commands::children_env(self.settings.secrets_file.as_deref(), &self.settings, false)?;
        let prepared = config::prepare(&self.settings, &mut env, Mode::Rewrite, self.owner.as_ref())?;
        commands::run_env(&mut env, self.owner.as_ref());
        Ok(Reloaded { env, config_written: prepared.written, port: prepared.port, sources })
    }

    fn sources_changed(&mut self) -> bool {
        let _back = InWorkdir::enter(&self.workdir);
        let now = fingerprint(&self.settings);
        let changed = self.fingerprint.is_some_and(|before| before != now);
        self.fingerprint = Some(now);
        changed
    }
}

/// A digest of every source's bytes as it is now: a file's content (never
/// only its size or mtime: a Kubernetes `..data` swap or an editor's
/// rename-over can keep both), or why it cannot be read. Reads, never
/// decrypts; the digest stays in memory.
fn fingerprint(settings: &Settings) -> [u8; 32] {
    let mut digest = Sha256::new();
    let mut add = |label: &[u8], content: Result<&[u8], String>| {
        digest.update((label.len() as u64).to_le_bytes());
        digest.update(label);
        match content {
            Ok(bytes) => {
                digest.update([1]);
                digest.update((bytes.len() as u64).to_le_bytes());
                digest.update(bytes);
            }
            Err(why) => {
                digest.update([0]);
                digest.update(why.as_bytes());
            }
        }
    };
    let mut add_file = |path: &Path, limit: u64| {
        let read = files::read(path, limit);
        add(path.as_os_str().as_encoded_bytes(), read.as_deref().map(Vec::as_slice).map_err(|e| e.to_string()));
    };
    for file in commands::secrets_files(settings.secrets_file.as_deref()) {
        add_file(&file, SECRETS_FILE_LIMIT);
    }
    if let Some(overlay) = &settings.config_overlay {
        add_file(overlay, CONFIG_FILE_LIMIT);
    }
    let dir = settings.secrets_dir.as_deref().map(sources::from_dir);
    let file_vars = sources::from_file_variables(|name| std::env::var_os(name));
    for loaded in dir.into_iter().chain([file_vars]) {
        match loaded {
            Ok(Loaded { vars, .. }) => {
                for var in vars {
                    add(var.name.as_bytes(), Ok(&var.value));
                }
            }
            Err(failure) => add(b"", Err(failure.message)),
        }
    }
    digest.finalize().into()
}
