//! PID-1 duties taken from the first instruction: every asynchronous signal
//! blocked (and later read from a signalfd), the inherited signal state
//! recorded for the children, subreaper when not PID 1, `/` as our cwd,
//! and one reaping loop that owns every `waitpid`.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::signal::{sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, Pid};
use tokio::io::unix::AsyncFd;

use crate::exit::{Exit, Failure};

/// Signals that report a fault in clawinit itself; never blocked.
const SYNCHRONOUS: [Signal; 6] =
    [Signal::SIGSEGV, Signal::SIGBUS, Signal::SIGFPE, Signal::SIGILL, Signal::SIGABRT, Signal::SIGTRAP];

/// What clawinit inherited and what every child gets back.
pub struct Pid1 {
    /// The signal mask clawinit was started with.
    pub inherited_mask: SigSet,
    /// Signals that were ignored when clawinit started (tini keeps those
    /// ignored in the child). SIGPIPE is not among them: Rust's runtime
    /// ignores it before `main`, Docker starts PID 1 with it at default.
    pub inherited_ignored: SigSet,
    /// The signals clawinit reads from its signalfd.
    pub waited: SigSet,
    /// The working directory clawinit was started in; the children's.
    pub workdir: PathBuf,
    pub is_pid1: bool,
}

/// Block every catchable asynchronous signal, so none is lost or acts on
/// clawinit before the supervisor reads it; ignore TTIN/TTOU so handing the
/// terminal to a child cannot stop us; become a child subreaper when not PID 1
/// so orphans still come to us. (The start directory is left only when the
/// supervisor starts: relative paths in the settings are read before.)
pub fn init() -> Result<Pid1, Failure> {
    let mut waited = SigSet::all();
    for s in SYNCHRONOUS {
        waited.remove(s);
    }
    let mut inherited_mask = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&waited), Some(&mut inherited_mask))
        .map_err(|e| Failure::new(Exit::Internal, format!("sigprocmask: {e}")))?;
    let inherited_ignored = ignored_now();
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for s in [Signal::SIGTTIN, Signal::SIGTTOU] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { sigaction(s, &ignore) };
    }
    let is_pid1 = getpid().as_raw() == 1;
    if !is_pid1 {
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!("cannot become a child subreaper ({e}); orphans will not be reaped");
        }
    }
    let workdir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    Ok(Pid1 { inherited_mask, inherited_ignored, waited, workdir, is_pid1 })
}

fn ignored_now() -> SigSet {
    let mut ignored = SigSet::empty();
    for signal in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP | Signal::SIGPIPE)) {
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a query (null new action) into a zeroed struct we own.
        let rc = unsafe { libc::sigaction(signal as i32, std::ptr::null(), &mut old) };
        if rc == 0 && old.sa_sigaction == libc::SIG_IGN {
            ignored.add(signal);
        }
    }
    ignored
}

/// clawinit's own working directory from here on: `/`, so it pins no mount.
/// The children still start in `Pid1::workdir`.
pub fn leave_workdir() {
    let _ = std::env::set_current_dir("/");
}

/// The blocked signals, read asynchronously through a signalfd.
pub struct Signals {
    fd: AsyncFd<SignalFd>,
    /// Reads that still fail on purpose (`CLAWINIT_FAULT=signalfd-read`).
    injected_failures: std::cell::Cell<u32>,
}

/// How many signalfd reads the `signalfd-read` fault makes fail.
const INJECTED_READ_FAILURES: u32 = 3;

impl Signals {
    pub fn new(pid1: &Pid1) -> Result<Signals, Failure> {
        let fd = SignalFd::with_flags(&pid1.waited, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| Failure::new(Exit::Internal, format!("signalfd: {e}")))?;
        // SAFETY: SignalFd owns its fd and always returns that same fd, open
        // until the SignalFd is dropped with the AsyncFd.
        let injected = if crate::fault::requested("signalfd-read") { INJECTED_READ_FAILURES } else { 0 };
        unsafe { AsyncFd::register(fd) }
            .map(|fd| Signals { fd, injected_failures: std::cell::Cell::new(injected) })
            .map_err(|e| Failure::new(Exit::Internal, format!("signalfd: {}", e.into_parts().1)))
    }

    /// The next signal. Cancel-safe: a signal is only taken off the fd when
    /// it is returned.
    pub async fn recv(&self) -> Signal {
        loop {
            let mut guard = match self.fd.readable().await {
                Ok(g) => g,
                Err(e) => panic!("signalfd {} failed: {e}", self.fd.get_ref().as_raw_fd()),
            };
            match self.read() {
                Ok(Some(info)) => {
                    if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                        return signal;
                    }
                }
                Ok(None) | Err(Errno::EAGAIN) => guard.clear_ready(),
                Err(e) => panic!("reading the signalfd failed: {e}"),
            }
        }
    }
}

impl Signals {
    /// One read off the signalfd, or an injected failure.
    fn read(&self) -> nix::Result<Option<libc::signalfd_siginfo>> {
        let left = self.injected_failures.get();
        if left > 0 {
            self.injected_failures.set(left - 1);
            return Err(Errno::EIO);
        }
        self.fd.get_ref().read_signal()
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(u8),
    Signaled(Signal),
}

impl Ending {
    pub fn exit(self) -> Exit {
        match self {
            Ending::Exited(code) => Exit::Child(code),
            Ending::Signaled(signal) => Exit::signaled(signal as i32),
        }
    }
}

/// Reap every child that has exited: `(pid, ending)` for each. The only
/// `waitpid` in clawinit once children run (no std or tokio `Child::wait`,
/// which would race it for statuses).
pub fn reap_all() -> Vec<(Pid, Ending)> {
    let mut reaped = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => reaped.push((pid, Ending::Exited(code as u8))),
            Ok(WaitStatus::Signaled(pid, signal, _)) => reaped.push((pid, Ending::Signaled(signal))),
            Ok(WaitStatus::StillAlive) | Err(_) => return reaped,
            Ok(_) => {} // stopped/continued: not an ending
        }
    }
}

/// The direct children clawinit has now (after the gateway and worker are
/// gone these are adopted orphans), from /proc.
pub fn children() -> Vec<Pid> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(list.split_whitespace().filter_map(|p| p.parse().ok()).map(Pid::from_raw));
        }
    }
    pids
}
