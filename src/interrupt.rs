//! Stop requests that arrive before any child exists. `run` and `exec` block
//! every signal first thing (`supervise::init`), so a SIGTERM sent during
//! start-up stays pending: the one slow pre-spawn step (`SOPS_AGE_KEY_CMD`)
//! waits for it beside its own output, and the steps in between check for it,
//! so `docker stop` during start-up ends clawinit at once (128+N), with
//! nothing spawned and no file half-written.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::exit::{Exit, Failure};

const STOP: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGQUIT];

fn stop_set() -> SigSet {
    STOP.into_iter().collect()
}

/// A pending stop request, if any (left pending for the supervisor).
pub fn pending() -> Option<Signal> {
    let pending = sigpending()?;
    STOP.into_iter().find(|s| pending.contains(*s))
}

fn sigpending() -> Option<SigSet> {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending fills the set we own.
    if unsafe { libc::sigpending(set.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialized by sigpending above.
    Some(unsafe { SigSet::from_sigset_t_unchecked(set.assume_init()) })
}

/// Fail with 128+N when a stop request is pending.
pub fn check() -> Result<(), Failure> {
    match pending() {
        Some(signal) => Err(Failure::new(
            Exit::signaled(signal as i32),
            format!("stopped by {} during start-up; nothing was started", signal.as_str()),
        )),
        None => Ok(()),
    }
}

/// A descriptor that becomes readable when a stop request is pending (only
/// while the stop signals are blocked, as in `run` and `exec`). Polling it
/// does not take the signal: it stays pending for `check`.
pub fn watch() -> Option<SignalFd> {
    SignalFd::with_flags(&stop_set(), SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok()
}
