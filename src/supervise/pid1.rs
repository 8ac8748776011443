//! PID-1 duties taken from the first instruction: every asynchronous signal
//! blocked (and later read from a signalfd), the inherited signal state
//! recorded for the children, subreaper when not PID 1, `/` as our cwd,
//! and one reaping loop that owns every `waitpid`.

use std::cell::Cell;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{getpid, Pid};
use tokio::io::unix::AsyncFd;

use crate::exit::{Exit, Failure};
use crate::workdir::StartDir;

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
    /// The working directory clawinit was started in, held open; the children's.
    pub workdir: StartDir,
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
    let workdir =
        StartDir::here().map_err(|e| Failure::new(Exit::Internal, format!("cannot hold the start directory: {e}")))?;
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
/// The children still start in `Pid1::workdir` (by its handle).
pub fn leave_workdir() {
    let _ = std::env::set_current_dir("/");
}

/// The blocked signals, read asynchronously through a signalfd.
pub struct Signals {
    fd: AsyncFd<SignalFd>,
    /// Reads that still fail on purpose (`CLAWINIT_FAULT=signalfd-read`).
    injected_failures: Cell<u32>,
    /// Failed reads in a row, so a lasting failure is one log line, not one per retry.
    failing: Cell<u32>,
}

/// How many signalfd reads the `signalfd-read` fault makes fail.
const INJECTED_READ_FAILURES: u32 = 3;
/// The pause after a failed read, doubling up to the longest: a failure that
/// lasts must not spin PID 1 on a core, nor delay signals by more than a second.
const RETRY_FIRST: Duration = Duration::from_millis(10);
const RETRY_LONGEST: Duration = Duration::from_secs(1);

impl Signals {
    pub fn new(pid1: &Pid1) -> Result<Signals, Failure> {
        let fd = SignalFd::with_flags(&pid1.waited, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| Failure::new(Exit::Internal, format!("signalfd: {e}")))?;
        let injected = if crate::fault::requested("signalfd-read") { INJECTED_READ_FAILURES } else { 0 };
        // SAFETY: SignalFd owns its fd and always returns that same fd, open
        // until the SignalFd is dropped with the AsyncFd.
        unsafe { AsyncFd::register(fd) }
            .map(|fd| Signals { fd, injected_failures: Cell::new(injected), failing: Cell::new(0) })
            .map_err(|e| Failure::new(Exit::Internal, format!("signalfd: {}", e.into_parts().1)))
    }

    /// The next signal's number (real-time signals included, which nix's
    /// `Signal` cannot represent). Cancel-safe: a signal is only taken off the
    /// fd when it is returned. Never fails: children exist by now, and as
    /// catatonit puts it, PID 1 is then no longer allowed to bail; a failed
    /// read is logged and retried after a pause (the signal stays queued).
    pub async fn recv(&self) -> i32 {
        let mut pause = RETRY_FIRST;
        loop {
            match self.try_recv().await {
                Ok(signo) => {
                    self.recovered();
                    return signo;
                }
                Err(e) => {
                    self.failed(&e, pause);
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2).min(RETRY_LONGEST);
                }
            }
        }
    }

    async fn try_recv(&self) -> std::io::Result<i32> {
        loop {
            let mut guard = self.fd.readable().await?;
            match self.read() {
                Ok(Some(info)) => return Ok(info.ssi_signo as i32),
                Ok(None) | Err(Errno::EAGAIN) => guard.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One read off the signalfd, or an injected failure.
    fn read(&self) -> nix::Result<Option<libc::signalfd_siginfo>> {
        let left = self.injected_failures.get();
        if left > 0 {
            self.injected_failures.set(left - 1);
            return Err(Errno::EIO);
        }
        self.fd.get_ref().read_signal()
    }

    fn failed(&self, error: &std::io::Error, pause: Duration) {
        let streak = self.failing.get().saturating_add(1);
        self.failing.set(streak);
        if streak == 1 {
            tracing::error!("reading the signalfd failed ({error}); retrying, signals wait until it reads again");
        } else {
            tracing::debug!(streak, in_ms = pause.as_millis() as u64, "signalfd read failed again ({error})");
        }
    }

    fn recovered(&self) {
        let streak = self.failing.replace(0);
        if streak > 0 {
            tracing::info!(failures = streak, "the signalfd reads again");
        }
    }
}

/// A signal's name for the logs: `SIGTERM`, `SIGRTMIN+3`, or its number.
pub fn signal_name(signo: i32) -> String {
    if let Ok(signal) = Signal::try_from(signo) {
        return signal.as_str().to_string();
    }
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    match signo {
        n if n == min => "SIGRTMIN".to_string(),
        n if n == max => "SIGRTMAX".to_string(),
        n if n > min && n < max => format!("SIGRTMIN+{}", n - min),
        n => format!("signal {n}"),
    }
}

/// How a child ended: its exit code, or the number of the signal that
/// killed it (any signal, real-time ones included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(u8),
    Signaled(i32),
}

impl Ending {
    pub fn exit(self) -> Exit {
        match self {
            Ending::Exited(code) => Exit::Child(code),
            Ending::Signaled(signo) => Exit::signaled(signo),
        }
    }
}

/// Reap every child that has exited: `(pid, ending)` for each. The only
/// `waitpid` in clawinit once children run (no std or tokio `Child::wait`,
/// which would race it for statuses). libc's, not nix's: nix turns a death by
/// a real-time signal into an error after the child is already reaped, and
/// its status would be lost.
pub fn reap_all() -> Vec<(Pid, Ending)> {
    let mut reaped = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) writes one int we own.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid < 0 && Errno::last() == Errno::EINTR {
            continue;
        }
        if pid <= 0 {
            return reaped; // 0: nothing more has exited; ECHILD: no child left
        }
        if libc::WIFEXITED(status) {
            reaped.push((Pid::from_raw(pid), Ending::Exited(libc::WEXITSTATUS(status) as u8)));
        } else if libc::WIFSIGNALED(status) {
            reaped.push((Pid::from_raw(pid), Ending::Signaled(libc::WTERMSIG(status))));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_named_real_time_ones_relative_to_sigrtmin() {
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(libc::SIGRTMIN()), "SIGRTMIN");
        assert_eq!(signal_name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
        assert_eq!(signal_name(libc::SIGRTMAX()), "SIGRTMAX");
        assert_eq!(signal_name(0), "signal 0");
    }

    #[test]
    fn a_death_by_a_real_time_signal_is_128_plus_n() {
        let signo = libc::SIGRTMIN() + 3;
        assert_eq!(i32::from(Ending::Signaled(signo).exit()), 128 + signo);
    }
}
