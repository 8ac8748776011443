//! PID-1 supervision. Today: one child (`exec`) — signals blocked before the
//! spawn and taken synchronously with sigwait, forwarded to the child's process
//! group, every child and orphan reaped, the child's status passed on.

pub mod gateway;
pub mod spawn;

use std::ffi::OsString;

use nix::sys::signal::{killpg, sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, Pid};

use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};

/// Signals that report a fault in clawinit itself; never blocked.
const SYNCHRONOUS: [Signal; 6] =
    [Signal::SIGSEGV, Signal::SIGBUS, Signal::SIGFPE, Signal::SIGILL, Signal::SIGABRT, Signal::SIGTRAP];

/// The signal state clawinit inherited, restored in every child.
pub struct SignalGuard {
    inherited_mask: SigSet,
    waited: SigSet,
}

/// Block every catchable asynchronous signal so none is lost or acts on
/// clawinit before the supervisor loop takes it; ignore TTIN/TTOU so handing
/// the terminal to a child cannot stop us. Also become a child subreaper when
/// not PID 1, so orphans still come to us.
pub fn take_signals() -> Result<SignalGuard, Failure> {
    let mut waited = SigSet::all();
    for s in SYNCHRONOUS {
        waited.remove(s);
    }
    let mut inherited_mask = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&waited), Some(&mut inherited_mask))
        .map_err(|e| Failure::new(Exit::Internal, format!("sigprocmask: {e}")))?;
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for s in [Signal::SIGTTIN, Signal::SIGTTOU] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { sigaction(s, &ignore) };
    }
    if getpid().as_raw() != 1 {
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!("cannot become a child subreaper ({e}); orphans will not be reaped");
        }
    }
    Ok(SignalGuard { inherited_mask, waited })
}

/// Run one command under supervision and return how it ended.
pub fn run_single(guard: &SignalGuard, command: &[OsString], env: &ChildEnv) -> Result<Exit, Failure> {
    let (program, _) = command.split_first().ok_or_else(|| Failure::new(Exit::Usage, "no command given"))?;
    let path = spawn::resolve(program, env)?;
    let child = spawn::spawn(&path, command, env, &guard.inherited_mask)?;
    tracing::info!(pid = child.as_raw(), command = %program.to_string_lossy(), "spawned");
    loop {
        let signal = guard.waited.wait().map_err(|e| Failure::new(Exit::Internal, format!("sigwait: {e}")))?;
        if signal == Signal::SIGCHLD {
            if let Some(exit) = reap(child) {
                return Ok(exit);
            }
        } else {
            tracing::debug!(signal = signal.as_str(), "forwarding");
            if killpg(child, signal).is_err() {
                let _ = nix::sys::signal::kill(child, signal);
            }
        }
    }
}

/// Reap every exited child; return the main child's exit when it is among them.
fn reap(main: Pid) -> Option<Exit> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => {
                tracing::info!(pid = pid.as_raw(), code, "child exited");
                result = Some(Exit::Child(code as u8));
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == main => {
                tracing::info!(pid = pid.as_raw(), signal = signal.as_str(), "child killed by signal");
                result = Some(Exit::signaled(signal as i32));
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(status) => tracing::debug!(pid = ?status.pid(), "orphan reaped"),
        }
    }
}
