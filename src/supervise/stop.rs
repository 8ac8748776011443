//! Drain and shutdown. On TERM or INT with `CLAWINIT_STOP_DELAY`, report
//! not-ready first while the children keep serving; then stop the roles in
//! order under one deadline, the worker's share of it leaving the gateway
//! its reserve; then TERM, and at the deadline KILL, whatever is left.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use super::children::{signal_group, Event, Role, Supervisor};
use super::clock::later;
use super::pid1::{self, signal_name, Ending};
use super::{status, RunOptions};
use crate::exit::Exit;

/// TERM, INT and QUIT stop everything; HUP reloads (`run`) or is forwarded
/// (`exec`); the rest is forwarded.
pub(super) fn starts_shutdown(signal: i32) -> bool {
    matches!(signal, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT)
}

/// The part of the stop budget `total` kept for the gateway when the worker
/// is stopped first: `min(max(2 s, total/3), total/2)`. The worker gets the
/// rest and is killed when it is used.
pub fn gateway_reserve(total: Duration) -> Duration {
    (total / 3).max(Duration::from_secs(2)).min(total / 2)
}

/// The deadline of one role's stop, begun at `now` under the run's
/// `deadline`: the last role stopped has it all; one before it has what is
/// left once the gateway's reserve is kept back.
fn share_deadline(now: Instant, deadline: Instant, last: bool) -> Instant {
    let total = deadline.saturating_duration_since(now);
    if last {
        deadline
    } else {
        later(now, total.saturating_sub(gateway_reserve(total)))
    }
}

/// Whose ending is `run`'s exit code after a stop: the worker's when there
/// was one, else the gateway's.
fn decisive(had_worker: bool) -> Role {
    if had_worker {
        Role::Worker
    } else {
        Role::Gateway
    }
}

impl Supervisor<'_> {
    /// A shutdown signal while both run: drain (TERM or INT, with a stop
    /// delay), stop the worker, then the gateway, and end with the worker's
    /// code.
    pub(super) async fn shutdown(&mut self, signal: i32, options: &RunOptions) -> Exit {
        let deadline = || later(Instant::now(), options.stop_timeout);
        if matches!(signal, libc::SIGTERM | libc::SIGINT) && !options.stop_delay.is_zero() {
            self.drain(options.stop_delay).await;
        }
        self.board.lock().enter(status::Phase::Stopping);
        let had_worker = self.pid_of(Role::Worker).is_some();
        let endings = self.stop(&[Role::Worker, Role::Gateway], signal, deadline()).await;
        let decisive = decisive(had_worker);
        endings.get(&decisive).map_or(Exit::signaled(signal), |e| e.exit())
    }

    /// `CLAWINIT_STOP_DELAY`: report not-ready (probe reads the phase) for
    /// `delay` while the children keep serving, so a load balancer or a
    /// Kubernetes endpoint stops sending traffic first. A second TERM or
    /// INT (or a QUIT), or a child's exit, ends the wait early.
    pub(super) async fn drain(&mut self, delay: Duration) {
        self.board.lock().enter(status::Phase::Draining);
        tracing::info!(
            delay_s = delay.as_secs(),
            "draining: reporting not-ready before stopping (CLAWINIT_STOP_DELAY)"
        );
        let until = later(Instant::now(), delay);
        loop {
            match timeout_at(until, self.next()).await {
                Err(_) => return,
                // QUIT stops at once outside the drain; inside, it ends it.
                Ok(Event::Signal(libc::SIGTERM | libc::SIGINT | libc::SIGQUIT)) => {
                    tracing::info!("a second stop request: stopping now");
                    return;
                }
                // Moot while stopping.
                Ok(Event::Signal(libc::SIGHUP)) => {}
                Ok(Event::Signal(signal)) => self.forward(signal),
                Ok(Event::Exited(role, ending)) => {
                    // Queued again for `stop`, which decides the exit code.
                    self.queued.push_front(Event::Exited(role, ending));
                    return;
                }
                Ok(Event::Orphans) => {}
            }
        }
    }

    /// The shutdown state machine, under one deadline: `signal` to each role
    /// in `order`, waiting for each; then TERM to every remaining descendant;
    /// SIGKILL to whatever is left at the deadline. Returns once clawinit has
    /// no child left, with how each role ended.
    pub(super) async fn stop(&mut self, order: &[Role], signal: i32, deadline: Instant) -> HashMap<Role, Ending> {
        let mut endings = self.queued_endings();
        let now = Instant::now();
        for (i, &role) in order.iter().enumerate() {
            let Some(pid) = self.pid_of(role) else { continue };
            // Every role but the last leaves the last one its reserve: the
            // gateway always gets its stop signal and time to use it, even
            // when the worker ignores TERM.
            let last = i + 1 == order.len();
            let own = share_deadline(now, deadline, last);
            tracing::info!(role = role.name(), signal = signal_name(signal).as_str(), "stopping");
            signal_group(pid, signal);
            while self.pid_of(role).is_some() && !self.wait_event(own, &mut endings).await {}
            if !last && self.pid_of(role).is_some() {
                tracing::warn!(role = role.name(), "its share of CLAWINIT_STOP_TIMEOUT is used: killing it");
                signal_group(pid, libc::SIGKILL);
                while self.pid_of(role).is_some() && !self.wait_event(deadline, &mut endings).await {}
            }
        }
        if !pid1::children().is_empty() && Instant::now() < deadline {
            tracing::info!("stopping the remaining descendants");
            self.signal_descendants(libc::SIGTERM);
            while !pid1::children().is_empty() && !self.wait_event(deadline, &mut endings).await {}
        }
        if !pid1::children().is_empty() {
            tracing::warn!("the stop timeout (CLAWINIT_STOP_TIMEOUT) is reached: killing what is left");
            let hard_deadline = later(Instant::now(), Duration::from_secs(5));
            while !pid1::children().is_empty() {
                self.signal_descendants(libc::SIGKILL);
                if self.wait_event(hard_deadline, &mut endings).await {
                    tracing::error!("children survive SIGKILL; exiting anyway");
                    break;
                }
            }
        }
        // One reaping drain can end several children (both SIGKILLed at the
        // deadline); those not yet returned as events are still queued, and
        // the caller's exit code depends on every one of them.
        endings.extend(self.queued_endings());
        endings
    }

    /// The exits still queued (other queued events no longer matter once
    /// everything stops).
    pub(super) fn queued_endings(&mut self) -> HashMap<Role, Ending> {
        self.queued
            .drain(..)
            .filter_map(|event| match event {
                Event::Exited(role, ending) => Some((role, ending)),
                _ => None,
            })
            .collect()
    }

    /// Wait for one event until `deadline`; returns true when the deadline
    /// passed. Signals other than shutdown ones are still forwarded.
    pub(super) async fn wait_event(&mut self, deadline: Instant, endings: &mut HashMap<Role, Ending>) -> bool {
        match timeout_at(deadline, self.next()).await {
            Err(_) => true,
            Ok(Event::Exited(role, ending)) => {
                endings.insert(role, ending);
                false
            }
            // A reload request while stopping is moot.
            Ok(Event::Signal(libc::SIGHUP)) if self.reloader.is_some() => false,
            Ok(Event::Signal(signal)) if !starts_shutdown(signal) => {
                self.forward(signal);
                false
            }
            Ok(_) => false,
        }
    }

    /// As PID 1, every process in the namespace is ours: `kill(-1)`. As a
    /// subreaper, our direct children (adopted orphans included) and their
    /// process groups.
    pub(super) fn signal_descendants(&self, signal: i32) {
        if self.pid1.is_pid1 {
            // SAFETY: kill(2) on plain integers.
            let _ = unsafe { libc::kill(-1, signal) };
            return;
        }
        for pid in pid1::children() {
            signal_group(pid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_gateway_keeps_a_third_of_the_budget_between_2_s_and_half() {
        assert_eq!(gateway_reserve(secs(9)), secs(3));
        assert_eq!(gateway_reserve(secs(30)), secs(10));
        assert_eq!(gateway_reserve(secs(5)), secs(2), "at least 2 s");
        assert_eq!(gateway_reserve(secs(3)), Duration::from_millis(1500), "at most half");
        assert_eq!(gateway_reserve(secs(0)), secs(0));
    }

    #[test]
    fn the_worker_is_stopped_by_the_budget_minus_the_gateways_reserve() {
        let now = Instant::now();
        let deadline = now + secs(30);
        assert_eq!(share_deadline(now, deadline, false), now + secs(20), "30 s: the gateway keeps 10");
        assert_eq!(share_deadline(now, deadline, true), deadline, "the last role has it all");
        let later_on = now + secs(27);
        assert_eq!(share_deadline(later_on, deadline, false), later_on + Duration::from_millis(1500), "3 s left: half");
        assert_eq!(share_deadline(deadline + secs(1), deadline, false), deadline + secs(1), "past the deadline: now");
    }

    #[test]
    fn the_worker_decides_the_exit_code_when_there_was_one() {
        assert_eq!(decisive(true), Role::Worker);
        assert_eq!(decisive(false), Role::Gateway);
    }

    #[test]
    fn term_int_and_quit_stop_everything_hup_does_not() {
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT] {
            assert!(starts_shutdown(signal), "{signal}");
        }
        for signal in [libc::SIGHUP, libc::SIGUSR1, libc::SIGWINCH] {
            assert!(!starts_shutdown(signal), "{signal}");
        }
    }
}
