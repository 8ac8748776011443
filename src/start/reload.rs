//! What `run` reads again on a reload: the secret sources (SOPS files,
//! `CLAWINIT_SECRETS_DIR`, `<NAME>_FILE`) and the overlay, through the same
//! steps as the start (`start::children_env`, `config::prepare`, `start::run_env`), and
//! the watch's fingerprint of their bytes.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::sources::{self, Loaded};
use crate::account::Account;
use crate::config::{self, Mode};
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::files::{self, CONFIG_FILE_LIMIT, SECRETS_FILE_LIMIT};
use crate::settings::Settings;
use crate::start;
use crate::workdir::StartDir;
use crate::writable_dirs::WritableDirs;

/// Reads the sources again; what the supervisor asks of the start pipeline
/// on a HUP or a change the watch saw; `Sources` below is the one implementation.
pub trait Reload {
    /// Every secrets source and the overlay read again, openclaw.json
    /// re-rendered (and written if it changed). An error changes nothing.
    fn reload(&mut self) -> Result<Reloaded, Failure>;

    /// Whether any source's content differs from what the children run on,
    /// or the last reload failed: the watch's check. Cheap: reads bytes,
    /// decrypts nothing.
    fn sources_changed(&mut self) -> bool;

    /// The supervisor refused what the last `reload` returned (`execve`
    /// would not take it): the watch must try again.
    fn refused(&mut self);

    /// The gateway is past its own start-up (ready, or
    /// `config::SETTLE_AFTER` since its spawn), or `run` ends: write the
    /// state file the start kept back (`config::Deferred`).
    fn settle(&mut self);
}

/// A successful reload: the environment the children would get now.
pub struct Reloaded {
    pub env: ChildEnv,
    pub config_written: bool,
    /// The gateway's port now (the readiness gate follows it).
    pub port: u16,
    /// Which secret sources are in use (names and paths only).
    pub sources: Vec<String>,
}

/// The sources of one `run`.
pub struct Sources {
    settings: Settings,
    owner: Option<Account>,
    /// The digest of the sources the children run on (the last successful
    /// reload's, or the start's); `None` without a watch. Only a success
    /// moves it: a failed reload is retried at the next check.
    fingerprint: Option<[u8; 32]>,
    /// The cache and temp dirs the start gave the children.
    writable: WritableDirs,
    /// The directory the start read relative paths from, held open.
    workdir: StartDir,
    /// The last reload failed: the watch retries it.
    failing: bool,
    /// The state file the start kept back until the gateway is up.
    deferred: Option<config::Deferred>,
}

impl Sources {
    /// Taken before the start reads the sources, so a change made while
    /// the start reads them is seen by the first check, not missed.
    pub fn new(settings: &Settings) -> Result<Sources, Failure> {
        let fingerprint = (settings.secrets_watch > 0).then(|| fingerprint(settings));
        let workdir = StartDir::here()
            .map_err(|e| Failure::new(Exit::Internal, format!("cannot hold the start directory: {e}")))?;
        Ok(Sources {
            settings: settings.clone(),
            owner: None,
            writable: WritableDirs::default(),
            fingerprint,
            workdir,
            failing: false,
            deferred: None,
        })
    }

    /// The account the state dir is handed to: files clawinit writes on a
    /// reload are the user's, as at the start; and the state file the start
    /// kept back (`settle` writes it).
    pub fn owned_by(&mut self, owner: Option<Account>, deferred: Option<config::Deferred>) {
        self.owner = owner;
        self.deferred = deferred;
    }

    /// The cache and temp dirs the start gave the children, which a reload
    /// gives them again. Made in the state dir, they end its newness: the
    /// state file kept back for it is written now.
    pub fn gives(&mut self, writable: WritableDirs) {
        self.writable = writable;
        if self.deferred.as_ref().is_some_and(|d| !d.still_new()) {
            self.settle();
        }
    }
}

impl Reload for Sources {
    fn reload(&mut self) -> Result<Reloaded, Failure> {
        let result = self.read_again();
        self.failing = result.is_err();
        result
    }

    fn sources_changed(&mut self) -> bool {
        // A start directory that is gone is a change: the reload says why.
        let Ok(_back) = self.workdir.enter() else { return true };
        // A failed reload is retried until one succeeds, even when the
        // sources went back to what the children run on (the status then
        // says so, instead of "failed" for good).
        self.failing || self.fingerprint.is_some_and(|applied| applied != fingerprint(&self.settings))
    }

    fn refused(&mut self) {
        self.failing = true;
    }

    fn settle(&mut self) {
        if let Some(deferred) = self.deferred.take() {
            deferred.write(self.owner.as_ref());
        }
    }
}

impl Sources {
    fn read_again(&mut self) -> Result<Reloaded, Failure> {
        // The render below needs the state file a first start kept back
        // (without it, every entry would look like the user's), and the lock
        // it holds.
        self.settle();
        let _back = self.workdir.enter().map_err(|why| Failure::new(Exit::NotFound, why))?;
        // What is read now is what the next check compares with, once this
        // reload has succeeded: a change it took is not reloaded twice.
        let seen = self.fingerprint.is_some().then(|| fingerprint(&self.settings));
        let (mut env, sources) = start::children_env(self.settings.secrets_file.as_deref(), &self.settings, false)?;
        let prepared = config::prepare(&self.settings, &mut env, Mode::Rewrite, self.owner.as_ref())?;
        start::run_env(&mut env, self.owner.as_ref(), &self.writable);
        if seen.is_some() {
            self.fingerprint = seen;
        }
        Ok(Reloaded { env, config_written: prepared.written, port: prepared.port, sources })
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
    for file in start::secrets_files(settings.secrets_file.as_deref()) {
        add_file(&file, SECRETS_FILE_LIMIT);
    }
    if let Some(overlay) = &settings.config_overlay {
        add_file(overlay, CONFIG_FILE_LIMIT);
    }
    let dir = settings.secrets_dir.as_deref().map(|dir| sources::from_dir(dir, &[]));
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
