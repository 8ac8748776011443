//! The children and what happens to them: the pid → role table, the
//! spawn, and the events the supervisor decides on (exits from the one
//! reaping loop in `pid1`, signals), in order, with those taken but not yet
//! acted on queued.

use std::collections::{HashMap, VecDeque};

use nix::unistd::Pid;
use tokio::time::Instant;

use super::pid1::{self, signal_name, Ending, Pid1, Signals};
use super::{restart, spawn, status, watch, Command, Reload};
use crate::account::Account;
use crate::environment::ChildEnv;
use crate::exit::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Role {
    Gateway,
    Worker,
    /// `exec`'s one child.
    Main,
}

impl Role {
    pub(super) fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Worker => "worker",
            Role::Main => "child",
        }
    }
}

pub(super) enum Event {
    Exited(Role, Ending),
    /// Only children clawinit did not start (orphans) were reaped.
    Orphans,
    /// A signal's number: real-time signals have no `nix::sys::signal::Signal`.
    Signal(i32),
}

/// One supervision: the children, their events, and what `run` keeps
/// between them (the fields are the parts' shared state).
pub(super) struct Supervisor<'a> {
    pub(super) pid1: &'a Pid1,
    /// The children's environment: replaced by a reload that changes it.
    pub(super) env: ChildEnv,
    pub(super) user: Option<&'a Account>,
    /// `run` only: HUP and the watch reload through it.
    pub(super) reloader: Option<&'a mut dyn Reload>,
    /// The gateway's port (a reload can move it).
    pub(super) port: u16,
    /// A reload changed what the running worker must see (with
    /// `CLAWINIT_RELOAD_WORKER=restart`, or the gateway token): restart it
    /// once the gateway is ready again.
    pub(super) worker_stale: bool,
    pub(super) signals: Signals,
    pub(super) table: HashMap<Pid, Role>,
    /// Events taken but not yet acted on: exits reaped together, and what
    /// arrived while a reload stopped the gateway.
    pub(super) queued: VecDeque<Event>,
    /// A HUP or a change that arrived while a reload was under way: one
    /// more reload once it is done, however many arrived.
    pub(super) reload_again: bool,
    /// The last reload failed, with this line: a retry that fails the same
    /// way says so at debug only (the watch retries every period).
    pub(super) reload_failing: Option<String>,
    /// The reload under way was asked for by the watch (not a HUP).
    pub(super) watch_triggered: bool,
    pub(super) watch: Option<watch::Watch>,
    pub(super) gateway_starts: restart::Starts,
    pub(super) board: status::Shared,
    /// When the state file a first start kept back is written at the
    /// latest (`config::Deferred`); `None` once written.
    pub(super) settle_at: Option<tokio::time::Instant>,
}

impl<'a> Supervisor<'a> {
    pub(super) fn new(
        pid1: &'a Pid1,
        env: ChildEnv,
        user: Option<&'a Account>,
        reloader: Option<&'a mut dyn Reload>,
    ) -> Result<Self, Failure> {
        pid1::leave_workdir();
        Ok(Supervisor {
            pid1,
            env,
            user,
            reloader,
            port: 0,
            worker_stale: false,
            signals: Signals::new(pid1)?,
            table: HashMap::new(),
            queued: VecDeque::new(),
            reload_again: false,
            reload_failing: None,
            watch_triggered: false,
            watch: None,
            gateway_starts: restart::Starts::default(),
            board: status::Board::shared(Vec::new()),
            settle_at: None,
        })
    }

    pub(super) fn spawn(&mut self, role: Role, command: &Command) -> Result<Pid, Failure> {
        let pid = spawn::spawn(&command.program, &command.argv, &self.env, self.user, self.pid1)?;
        tracing::info!(role = role.name(), pid = pid.as_raw(), program = %command.program.display(), "spawned");
        self.table.insert(pid, role);
        self.board.lock().spawned(role.name(), pid.as_raw(), Instant::now());
        Ok(pid)
    }

    pub(super) fn pid_of(&self, role: Role) -> Option<Pid> {
        self.table.iter().find(|(_, r)| **r == role).map(|(pid, _)| *pid)
    }

    /// The next thing that needs a decision. Cancel-safe.
    pub(super) async fn next(&mut self) -> Event {
        if let Some(event) = self.queued.pop_front() {
            return event;
        }
        let signal = self.signals.recv().await;
        if signal != libc::SIGCHLD {
            return Event::Signal(signal);
        }
        for (pid, ending) in pid1::reap_all() {
            match self.table.remove(&pid) {
                Some(role) => {
                    match ending {
                        Ending::Exited(code) => tracing::info!(role = role.name(), pid = pid.as_raw(), code, "exited"),
                        Ending::Signaled(s) => {
                            tracing::info!(
                                role = role.name(),
                                pid = pid.as_raw(),
                                signal = signal_name(s).as_str(),
                                "killed by a signal"
                            )
                        }
                    }
                    self.board.lock().exited(role.name(), ending);
                    self.queued.push_back(Event::Exited(role, ending));
                }
                None => tracing::debug!(pid = pid.as_raw(), "orphan reaped"),
            }
        }
        self.queued.pop_front().unwrap_or(Event::Orphans)
    }

    /// Every other signal goes to every child's process group.
    pub(super) fn forward(&self, signal: i32) {
        for (pid, role) in &self.table {
            tracing::debug!(signal = signal_name(signal).as_str(), role = role.name(), "forwarding");
            signal_group(*pid, signal);
        }
    }
}

/// `signal` (any number: nix's `kill` cannot send real-time signals) to the
/// process group `pid` leads, or to `pid` alone if it leads none yet.
pub(super) fn signal_group(pid: Pid, signal: i32) {
    // SAFETY: killpg(2) and kill(2) on plain integers.
    if unsafe { libc::killpg(pid.as_raw(), signal) } != 0 {
        let _ = unsafe { libc::kill(pid.as_raw(), signal) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_named_as_the_status_and_the_log_show_them() {
        assert_eq!(Role::Gateway.name(), "gateway");
        assert_eq!(Role::Worker.name(), "worker");
        assert_eq!(Role::Main.name(), "child", "exec's one child");
    }
}
