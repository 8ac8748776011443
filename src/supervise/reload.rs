//! Reload in `run`: on SIGHUP, or when `CLAWINIT_SECRETS_WATCH` sees a
//! source change. What the children's environment and openclaw.json are
//! made of is read again through [`Reload`] (the secrets and the config are
//! the caller's business, not the supervisor's); then:
//! - nothing the children see changed: one line;
//! - only openclaw.json changed: it was rewritten, the gateway applies it;
//! - a variable changed: the gateway alone is stopped (TERM, its share of
//!   the stop budget) and started again with the new environment, re-gated;
//!   the worker keeps running, or is restarted once the gateway is ready
//!   again (`CLAWINIT_RELOAD_WORKER=restart`);
//! - the reload failed: one error line, everything keeps running as it was.
//!
//! Requests that arrive while a reload is under way are coalesced into one
//! more reload. Everything else that happens meanwhile (an exit, a stop
//! request) is queued and handled once the reload is done.

use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use super::children::{signal_group, Event, Role, Supervisor};
use super::clock::later;
use super::pid1::Ending;
use super::stop::{self, starts_shutdown};
use super::watch::Watch;
use super::{Command, RunOptions};
use crate::exit::Failure;
use crate::names;
use crate::settings::ReloadWorker;

impl Supervisor<'_> {
    /// The watch's check: whether a reload is due. Schedules the next check.
    pub(super) fn watch_saw_change(&mut self) -> bool {
        let Some(watch) = self.watch.as_mut() else { return false };
        watch.next_at = later(Instant::now(), Watch::pause(watch.period, watch.failures));
        let changed = self.reloader.as_mut().is_some_and(|r| r.sources_changed());
        if changed && self.reload_failing.is_none() {
            tracing::info!("a secrets source or the overlay changed: reloading (CLAWINIT_SECRETS_WATCH)");
        }
        self.watch_triggered = changed;
        changed
    }

    /// Reload, and once more if another request came meanwhile. Returns
    /// when the gateway was stopped for a restart, if it was: a new one
    /// runs then, to be gated (or its failure to start is queued as its exit).
    pub(super) async fn reload(&mut self, gateway: &Command, options: &RunOptions) -> Option<Instant> {
        let mut stopped = None;
        loop {
            self.reload_again = false;
            if let Some(at) = self.reload_once(gateway, options).await {
                stopped.get_or_insert(at);
            }
            if !self.reload_again || self.stop_queued() {
                return stopped;
            }
            tracing::info!("another reload was requested meanwhile: reloading once more");
        }
    }

    async fn reload_once(&mut self, gateway: &Command, options: &RunOptions) -> Option<Instant> {
        let by_watch = std::mem::take(&mut self.watch_triggered);
        let reloader = self.reloader.as_mut()?;
        let started = std::time::Instant::now();
        // Everything that can fail is checked before anything is stopped.
        let fresh = reloader.reload().and_then(|fresh| match fresh.env.fits_exec(&gateway.argv) {
            Ok(()) => Ok(fresh),
            Err(why) => {
                reloader.refused();
                Err(Failure::new(crate::exit::Exit::Usage, format!("no program could be started with it: {why}")))
            }
        });
        let fresh = match fresh {
            Ok(fresh) => fresh,
            Err(_) if crate::interrupt::pending().is_some() => {
                tracing::warn!("reload abandoned: a stop was requested");
                self.board.lock().reloaded("abandoned", None);
                return None;
            }
            Err(failure) => {
                let line = failure.to_string();
                if let Some(watch) = self.watch.as_mut() {
                    watch.reload_failed(Instant::now());
                }
                if by_watch && self.reload_failing.as_ref() == Some(&line) {
                    // The watch's retries: one line for a failure that lasts
                    // (a HUP always gets its line).
                    tracing::debug!("reload failed again: {line}");
                } else {
                    tracing::error!("reload failed; everything keeps running on the old values: {line}");
                    self.board.lock().reloaded("failed", None);
                    self.reload_failing = Some(line);
                }
                return None;
            }
        };
        self.reload_failing = None;
        if let Some(watch) = self.watch.as_mut() {
            watch.failures = 0;
        }
        self.port = fresh.port;
        let changed = self.env.changed_names(&fresh.env);
        let took_us = started.elapsed().as_micros() as u64;
        if changed.is_empty() {
            let outcome = match fresh.config_written {
                true => {
                    tracing::info!(took_us, "reload: openclaw.json rewritten; the gateway applies it itself");
                    "config rewritten"
                }
                false => {
                    tracing::info!(took_us, "reload: nothing changed");
                    "nothing changed"
                }
            };
            self.board.lock().reloaded(outcome, Some(fresh.sources));
            return None;
        }
        self.env = fresh.env;
        // The worker talks to the gateway with the shared token: a new token
        // restarts it too, whatever CLAWINIT_RELOAD_WORKER says.
        if self.pid_of(Role::Worker).is_some() && worker_must_see(&changed, options.reload_worker) {
            self.worker_stale = true;
        }
        let variables = changed.join(",");
        if self.pid_of(Role::Gateway).is_none() {
            tracing::info!(variables = %variables, took_us, "reload: changed; the gateway's next start gets them");
            self.board.lock().reloaded("changed", Some(fresh.sources));
            return None;
        }
        tracing::info!(
            variables = %variables,
            config_rewritten = fresh.config_written,
            took_us,
            "reload: restarting the gateway with the changed variables"
        );
        self.board.lock().reloaded("gateway restarted", Some(fresh.sources));
        let stopped = Instant::now();
        self.stop_alone(Role::Gateway, stop::gateway_reserve(options.stop_timeout)).await;
        if self.stop_queued() {
            return None;
        }
        if !self.respawn(Role::Gateway, gateway) {
            // Its 126/127 is queued: a start under the restart policy and limit.
            self.gateway_starts.record(Instant::now());
            return None;
        }
        Some(stopped)
    }

    /// Once the gateway is ready again after a reload that changed what the
    /// worker must see: the worker is stopped (TERM, its share of the stop
    /// budget) and started with the new environment.
    pub(super) async fn restart_worker(&mut self, worker: &Command, options: &RunOptions) {
        self.worker_stale = false;
        tracing::info!("restarting the worker with the new environment");
        let total = options.stop_timeout;
        self.stop_alone(Role::Worker, total.saturating_sub(stop::gateway_reserve(total))).await;
        if !self.stop_queued() {
            self.respawn(Role::Worker, worker);
        }
    }

    /// Start `role` again; a failure to start is logged and handled as its
    /// exit with that code (126/127), by the same rules as any other exit.
    /// Whether it runs.
    pub(super) fn respawn(&mut self, role: Role, command: &Command) -> bool {
        match self.spawn(role, command) {
            Ok(_) => true,
            Err(failure) => {
                tracing::error!(role = role.name(), "could not be started again: {failure}");
                let ending = Ending::Exited(i32::from(failure.exit).clamp(0, 255) as u8);
                let mut board = self.board.lock();
                board.exited(role.name(), ending);
                if role == Role::Gateway {
                    board.enter(super::status::Phase::Restarting);
                }
                drop(board);
                self.queued.push_back(Event::Exited(role, ending));
                false
            }
        }
    }

    /// Stop one child on its own: TERM to its group, SIGKILL once `share` is
    /// used. What happens meanwhile waits: exits are queued, a HUP becomes
    /// one more reload, other signals are forwarded. A stop request ends the
    /// wait at once (queued, with the child left to the shutdown, which has
    /// the whole stop budget from now and takes the child's exit code).
    async fn stop_alone(&mut self, role: Role, share: Duration) {
        let Some(pid) = self.pid_of(role) else { return };
        tracing::info!(role = role.name(), "stopping for the reload");
        signal_group(pid, libc::SIGTERM);
        let mut held = Vec::new();
        let mut until = later(Instant::now(), share);
        let mut killed = false;
        while self.pid_of(role).is_some() {
            match timeout_at(until, self.next()).await {
                Err(_) if killed => {
                    // Reaped as an orphan if it ever ends; no longer `role`.
                    tracing::error!(role = role.name(), "survives SIGKILL; going on without it");
                    self.table.remove(&pid);
                    break;
                }
                Err(_) => {
                    tracing::warn!(role = role.name(), "its share of CLAWINIT_STOP_TIMEOUT is used: killing it");
                    signal_group(pid, libc::SIGKILL);
                    (killed, until) = (true, later(Instant::now(), Duration::from_secs(5)));
                }
                Ok(Event::Exited(r, _)) if r == role => {}
                Ok(Event::Signal(libc::SIGHUP)) => self.reload_again = true,
                Ok(Event::Signal(signal)) if starts_shutdown(signal) => {
                    held.push(Event::Signal(signal));
                    break;
                }
                Ok(Event::Signal(signal)) => self.forward(signal),
                Ok(Event::Orphans) => {}
                Ok(other) => held.push(other),
            }
        }
        self.queued.extend(held);
    }

    /// A stop request arrived during the reload: nothing new is started, the
    /// stop comes next.
    fn stop_queued(&self) -> bool {
        self.queued.iter().any(|e| matches!(e, Event::Signal(s) if starts_shutdown(*s)))
    }
}

/// Whether a running worker must be restarted for the `changed` variables:
/// a new gateway token always (the worker talks to the gateway with it),
/// any change with `CLAWINIT_RELOAD_WORKER=restart`.
fn worker_must_see(changed: &[String], setting: ReloadWorker) -> bool {
    let token = changed.iter().any(|n| n == names::OPENCLAW_GATEWAY_TOKEN);
    token || setting == ReloadWorker::Restart
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_gateway_token_restarts_the_worker_whatever_the_setting() {
        let token = vec![names::OPENCLAW_GATEWAY_TOKEN.to_string()];
        let other = vec!["OPENAI_API_KEY".to_string()];
        assert!(worker_must_see(&token, ReloadWorker::Keep));
        assert!(!worker_must_see(&other, ReloadWorker::Keep));
        assert!(worker_must_see(&other, ReloadWorker::Restart));
    }
}
