//! What the supervisor knows, for `clawinit status` and `clawinit probe`:
//! the phase, each child, the time to ready. Served as one JSON object on a
//! unix socket private to this clawinit: named after its PID namespace under
//! `/run/clawinit/` (two containers, or two PID namespaces sharing a mount,
//! never meet), answering only root, clawinit's own uid and `CLAWINIT_USER`
//! (checked with SO_PEERCRED on every connection); the client checks the
//! server is root's or its own the same way.
//!
//! The server is a thread of its own, answering from the board under a
//! mutex: a reload's slow parts (a key command of several seconds) block the
//! supervisor's loop, and a probe with a 1 s timeout must still get an answer.
//! A lock file beside the socket makes the socket one clawinit's: a second
//! clawinit in the same PID namespace leaves a live one alone.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::pid1::{signal_name, Ending};

/// The supervisor's phase, named as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The gateway runs, not yet ready (at start, or after a restart).
    Gating,
    Ready,
    /// The gateway ended and waits for its restart (the backoff), or could
    /// not be started again.
    Restarting,
    /// A stop was requested; not-ready is reported for `CLAWINIT_STOP_DELAY`.
    Draining,
    Stopping,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Gating => "gating",
            Phase::Ready => "ready",
            Phase::Restarting => "restarting",
            Phase::Draining => "draining",
            Phase::Stopping => "stopping",
        }
    }
}

#[derive(Debug, Default)]
struct Child {
    pid: Option<i32>,
    started: Option<Instant>,
    restarts: u32,
    last_exit: Option<Ending>,
}

/// The state the supervisor updates and the socket serves.
#[derive(Debug)]
pub struct Board {
    phase: Phase,
    children: BTreeMap<&'static str, Child>,
    ready_after: Option<Duration>,
    sources: Vec<String>,
    /// Reloads done (SIGHUP or the watch), and how the last one ended.
    reloads: u32,
    last_reload: Option<&'static str>,
}

/// The board, shared by the supervisor and the status thread.
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Board>>);

impl Shared {
    /// The board; a panic elsewhere while it was held leaves it readable.
    pub fn lock(&self) -> MutexGuard<'_, Board> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Board {
    pub fn shared(sources: Vec<String>) -> Shared {
        Shared(Arc::new(Mutex::new(Board {
            phase: Phase::Gating,
            children: BTreeMap::new(),
            ready_after: None,
            sources,
            reloads: 0,
            last_reload: None,
        })))
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Move to `phase`; a stop is never undone.
    pub fn enter(&mut self, phase: Phase) {
        let stopping = matches!(self.phase, Phase::Draining | Phase::Stopping);
        if !(stopping && matches!(phase, Phase::Gating | Phase::Ready | Phase::Restarting)) {
            self.phase = phase;
        }
    }

    pub fn spawned(&mut self, role: &'static str, pid: i32, at: Instant) {
        let child = self.children.entry(role).or_default();
        if child.started.is_some() {
            child.restarts += 1;
        }
        child.pid = Some(pid);
        child.started = Some(at);
    }

    pub fn exited(&mut self, role: &'static str, ending: Ending) {
        let child = self.children.entry(role).or_default();
        child.pid = None;
        child.last_exit = Some(ending);
    }

    /// A reload ended with `outcome`; a successful one names the sources.
    pub fn reloaded(&mut self, outcome: &'static str, sources: Option<Vec<String>>) {
        self.reloads += 1;
        self.last_reload = Some(outcome);
        if let Some(sources) = sources {
            self.sources = sources;
        }
    }

    pub fn ready(&mut self, after: Duration) {
        self.ready_after = Some(after);
        self.enter(Phase::Ready);
    }

    /// The JSON `clawinit status --json` prints.
    pub fn snapshot(&self, now: Instant) -> Value {
        let children: serde_json::Map<String, Value> = self
            .children
            .iter()
            .map(|(role, c)| {
                let uptime = c.pid.and(c.started).map(|s| now.saturating_duration_since(s).as_secs());
                let last_exit = c.last_exit.map(|e| match e {
                    Ending::Exited(code) => json!(code),
                    Ending::Signaled(s) => json!(signal_name(s)),
                });
                let child = json!({"pid": c.pid, "uptime_s": uptime, "restarts": c.restarts, "last_exit": last_exit});
                (role.to_string(), child)
            })
            .collect();
        json!({
            "phase": self.phase.name(),
            "children": children,
            "ready_after_ms": self.ready_after.map(|d| d.as_millis() as u64),
            "secret_sources": self.sources,
            "reloads": self.reloads,
            "last_reload": self.last_reload,
        })
    }
}

/// Where this clawinit's socket is: `/run/clawinit/pid-<namespace>.sock`.
pub fn socket_path() -> PathBuf {
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|l| l.to_str().and_then(|s| s.strip_prefix("pid:[")?.strip_suffix(']').map(String::from)))
        .unwrap_or_else(|| "unknown".into());
    Path::new("/run/clawinit").join(format!("pid-{ns}.sock"))
}

/// The socket, removed when dropped (clawinit's exit) if it is still the
/// one this clawinit made; the lock is released after.
pub struct Server {
    path: PathBuf,
    inode: u64,
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Serve `board` to the allowed uids from a thread of its own. A socket
/// that cannot be made (a read-only /run, another clawinit's) is a warning:
/// status and the drain signal for probe are then unavailable, nothing else
/// changes. Call after `pid1::init`: the thread inherits its blocked signal
/// mask, so no signal is ever delivered to it.
pub fn serve(board: &Shared, allowed: Vec<u32>) -> Option<Server> {
    let path = socket_path();
    let (listener, server) = bind(&path)
        .map_err(|e| match unavailable_because(&path) {
            // A read-only root with no tmpfs on /run (Kubernetes'
            // readOnlyRootFilesystem): expected, and `status` says so.
            Some(why) => tracing::warn!("{why}; clawinit status and the drain signal for probe are off"),
            None => tracing::warn!("cannot serve clawinit status at {}: {e}", path.display()),
        })
        .ok()?;
    let board = board.clone();
    let spawned = std::thread::Builder::new()
        .name("status".into())
        .stack_size(256 << 10)
        .spawn(move || answer_forever(&listener, &board, &allowed));
    if let Err(e) = spawned {
        tracing::warn!("cannot serve clawinit status: no thread: {e}");
        return None;
    }
    Some(server)
}

fn answer_forever(listener: &UnixListener, board: &Shared, allowed: &[u32]) {
    loop {
        let Ok((mut stream, _)) = listener.accept() else {
            // Out of descriptors, say: no busy loop.
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let peer = peer_uid(&stream);
        if !peer.is_some_and(|uid| allowed.contains(&uid)) {
            tracing::debug!(uid = ?peer, "status refused to this uid");
            continue;
        }
        let mut body = board.lock().snapshot(Instant::now()).to_string();
        body.push('\n');
        // One small write; a client that does not read is dropped after 1 s.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = stream.write_all(body.as_bytes());
    }
}

fn bind(path: &Path) -> std::io::Result<(UnixListener, Server)> {
    let dir = path.parent().unwrap_or(Path::new("/run"));
    std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || !(meta.uid() == 0 || meta.uid() == me) || meta.mode() & 0o022 != 0 {
        return Err(std::io::Error::other("the directory is not root's own"));
    }
    // Whoever holds the lock owns the socket: a live one is never replaced.
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path.with_extension("lock"))?;
    let lock =
        nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| match e {
            nix::errno::Errno::EWOULDBLOCK => std::io::Error::other("another clawinit in this PID namespace serves it"),
            other => std::io::Error::from(other),
        })?;
    // A socket left by an earlier clawinit in this namespace (a crash).
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    // Anyone may connect; the peer's uid decides whether it is answered.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    let inode = std::fs::symlink_metadata(path)?.ino();
    Ok((listener, Server { path: path.to_path_buf(), inode, _lock: lock }))
}

/// Why no socket can be at `path`: the nearest of its directories that
/// exists (`/run/clawinit`, else `/run`) is on a read-only mount. `None` otherwise
/// (then the supervisor is not running, or not answering this user).
pub fn unavailable_because(path: &Path) -> Option<String> {
    let mut dir = path.parent()?;
    while std::fs::symlink_metadata(dir).is_err() {
        dir = dir.parent()?;
    }
    read_only(dir).then(|| format!("status socket unavailable: {} is read-only", dir.display()))
}

fn read_only(dir: &Path) -> bool {
    nix::sys::statvfs::statvfs(dir).is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// Ask the supervisor of this PID namespace for its state; `None` when none
/// answers, or when the socket is not root's or our own.
pub fn query() -> Option<Value> {
    let path = socket_path();
    let stream = UnixStream::connect(&path).ok()?;
    let server = peer_uid(&stream)?;
    let me = nix::unistd::geteuid().as_raw();
    if server != 0 && server != me {
        return None;
    }
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut body = Vec::new();
    stream.take(1 << 20).read_to_end(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn peer_uid(stream: &UnixStream) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt(SO_PEERCRED) fills a ucred we own, of the given size.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_move_forward_and_a_stop_is_never_undone() {
        let board = Board::shared(vec![]);
        let mut b = board.lock();
        assert_eq!(b.phase(), Phase::Gating);
        b.ready(Duration::from_millis(1200));
        assert_eq!(b.phase(), Phase::Ready);
        b.enter(Phase::Gating); // a restart re-gates
        assert_eq!(b.phase(), Phase::Gating);
        b.enter(Phase::Draining);
        b.ready(Duration::from_millis(5));
        assert_eq!(b.phase(), Phase::Draining, "a late ready does not undo the drain");
        b.enter(Phase::Stopping);
        b.enter(Phase::Gating);
        assert_eq!(b.phase(), Phase::Stopping);
    }

    #[test]
    fn restarting_is_shown_until_the_next_start_and_never_undoes_a_stop() {
        let board = Board::shared(vec![]);
        let mut b = board.lock();
        b.ready(Duration::from_millis(10));
        b.enter(Phase::Restarting);
        assert_eq!(b.snapshot(Instant::now())["phase"], "restarting");
        b.enter(Phase::Gating);
        assert_eq!(b.phase(), Phase::Gating);
        b.enter(Phase::Stopping);
        b.enter(Phase::Restarting);
        assert_eq!(b.phase(), Phase::Stopping);
    }

    #[test]
    fn the_snapshot_has_the_contract_fields() {
        let t0 = Instant::now();
        let board = Board::shared(vec!["CLAWINIT_SECRETS_FILE".into()]);
        let mut b = board.lock();
        b.spawned("gateway", 10, t0);
        b.exited("gateway", Ending::Exited(3));
        b.spawned("gateway", 11, t0 + Duration::from_secs(2));
        b.spawned("worker", 12, t0 + Duration::from_secs(3));
        b.exited("worker", Ending::Signaled(libc::SIGKILL));
        b.ready(Duration::from_millis(1500));
        let s = b.snapshot(t0 + Duration::from_secs(12));
        assert_eq!(s["phase"], "ready");
        assert_eq!(s["children"]["gateway"], json!({"pid": 11, "uptime_s": 10, "restarts": 1, "last_exit": 3}));
        assert_eq!(
            s["children"]["worker"],
            json!({"pid": null, "uptime_s": null, "restarts": 0, "last_exit": "SIGKILL"})
        );
        assert_eq!(s["ready_after_ms"], 1500);
        assert_eq!(s["secret_sources"], json!(["CLAWINIT_SECRETS_FILE"]));
    }
}
