//! The readiness gate: the worker starts once the gateway answers ready
//! (or the timeout passes, as `CLAWINIT_READY_REQUIRED` says); a reload
//! that restarts the gateway starts the wait again for the new one, and a
//! gateway back after a restart or a reload is gated again.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::children::{Event, Role, Supervisor};
use super::clock::later;
use super::pid1::Ending;
use super::stop::starts_shutdown;
use super::{ready, status, watch, Command, RunOptions};
use crate::exit::Exit;

/// How the wait for readiness ended.
pub(super) enum Gate {
    Ready,
    Exited(Ending),
    Signal(i32),
    TimedOut,
}

/// A wait for readiness under way, once the gateway is running again.
pub(super) type Regate = Option<Pin<Box<dyn Future<Output = ()>>>>;

impl Supervisor<'_> {
    /// `run`'s first gate, from the gateway's start at `started`: `Some`
    /// with the exit code when the run ends there (the gateway exited, a
    /// stop was asked for, or it was not ready in time and must be).
    pub(super) async fn first_gate(
        &mut self,
        gateway: &Command,
        options: &RunOptions,
        started: Instant,
    ) -> Option<Exit> {
        let deadline = || later(Instant::now(), options.stop_timeout);
        match self.gate(gateway, options, later(started, options.ready_timeout)).await {
            Gate::Ready => {
                tracing::info!(after_ms = started.elapsed().as_millis() as u64, "gateway ready");
                self.board.lock().ready(started.elapsed());
            }
            Gate::Exited(ending) => {
                self.board.lock().enter(status::Phase::Stopping);
                tracing::error!("the gateway exited before it was ready");
                self.stop(&[], libc::SIGTERM, deadline()).await;
                return Some(ending.exit());
            }
            Gate::Signal(signal) => {
                self.board.lock().enter(status::Phase::Stopping);
                self.stop(&[Role::Gateway], signal, deadline()).await;
                return Some(Exit::signaled(signal));
            }
            Gate::TimedOut if options.ready_required => {
                self.board.lock().enter(status::Phase::Stopping);
                let secs = options.ready_timeout.as_secs();
                tracing::error!("the gateway was not ready within {secs} s (CLAWINIT_READY_TIMEOUT)");
                self.stop(&[Role::Gateway], libc::SIGTERM, deadline()).await;
                return Some(Exit::NotReady);
            }
            Gate::TimedOut => tracing::warn!(
                "the gateway was not ready within {} s; starting the worker anyway (CLAWINIT_READY_REQUIRED=false)",
                options.ready_timeout.as_secs()
            ),
            // The gateway answered, or the operator chose not to wait for it.
        }
        None
    }

    /// Wait for the gateway to be ready. A reload that restarts the gateway
    /// starts the wait again for the new one, with a full timeout.
    pub(super) async fn gate(&mut self, gateway: &Command, options: &RunOptions, mut deadline: Instant) -> Gate {
        let mut ready = self.regate(options);
        loop {
            let watch = watch::Watch::due(&self.watch);
            let reload = tokio::select! {
                () = &mut ready => return Gate::Ready,
                () = sleep_until(deadline) => return Gate::TimedOut,
                () = super::settle_due(self.settle_at) => {
                    self.settle();
                    false
                }
                () = watch::watch_due(&watch) => self.watch_saw_change(),
                event = self.next() => match event {
                    Event::Exited(_, ending) => return Gate::Exited(ending),
                    Event::Signal(signal) if starts_shutdown(signal) => return Gate::Signal(signal),
                    Event::Signal(libc::SIGHUP) if self.reloader.is_some() => true,
                    Event::Signal(signal) => {
                        self.forward(signal);
                        false
                    }
                    Event::Orphans => false,
                },
            };
            if reload {
                let port = self.port;
                let restarted = self.reload(gateway, options).await.is_some();
                deadline = deadline_after_reload(deadline, restarted, Instant::now(), options.ready_timeout);
                if restarted || self.port != port {
                    ready = self.regate(options);
                }
            }
        }
    }

    /// A new wait for the gateway at its current port (a reload can move it).
    pub(super) fn regate(&self, options: &RunOptions) -> Pin<Box<dyn Future<Output = ()>>> {
        Box::pin(ready::wait_ready(options.probe, self.port))
    }

    /// The gateway answers again after a restart, or after a reload that
    /// stopped it at `reloading`; `started` is when the running one started.
    pub(super) fn ready_again(&mut self, reloading: Option<Instant>, started: Instant) {
        if let Some(stopped) = reloading {
            // The window is the old gateway's stop plus the new
            // one's start (spawn to ready): what is left is ours.
            let not_ready_ms = stopped.elapsed().as_millis() as u64;
            let start_ms = started.elapsed().as_millis() as u64;
            tracing::info!(not_ready_ms, start_ms, "gateway ready again after the reload");
            self.board.lock().ready(stopped.elapsed());
        } else {
            tracing::info!(after_ms = started.elapsed().as_millis() as u64, "gateway ready again");
            self.board.lock().ready(started.elapsed());
        }
    }
}

/// The gate's deadline once a reload is done at `now`: a gateway the
/// reload restarted gets the full `ready_timeout` from now; otherwise the
/// wait keeps its deadline.
fn deadline_after_reload(deadline: Instant, restarted: bool, now: Instant, ready_timeout: Duration) -> Instant {
    if restarted {
        later(now, ready_timeout)
    } else {
        deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_restarted_by_a_reload_gets_a_full_timeout_from_then() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        let now = t0 + Duration::from_secs(25);
        let after = deadline_after_reload(deadline, true, now, Duration::from_secs(30));
        assert_eq!(after, now + Duration::from_secs(30));
    }

    #[test]
    fn a_reload_that_keeps_the_gateway_keeps_the_deadline() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        let now = t0 + Duration::from_secs(25);
        assert_eq!(deadline_after_reload(deadline, false, now, Duration::from_secs(30)), deadline);
    }

    #[test]
    fn a_timeout_too_large_for_the_clock_never_panics() {
        let t0 = Instant::now();
        assert!(deadline_after_reload(t0, true, t0, Duration::MAX) > t0);
    }
}
