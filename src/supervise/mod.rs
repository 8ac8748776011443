//! The supervisor: spawn, gate on readiness, forward signals, reap, stop in
//! order. One current-thread tokio runtime; every child's status comes from
//! the one reaping loop in `pid1` through the pid → role table (`children`).
//! This file holds the event loops of `exec` and `run`, which dispatch each
//! event to the part that decides on it: the readiness gate (`gate`),
//! restarts and their limit (`restart`), reloads (`reload`), drain and
//! shutdown (`stop`); their deadlines come from `clock`.

mod children;
mod clock;
mod gate;
pub mod pid1;
pub mod ready;
mod reload;
pub mod restart;
pub mod spawn;
pub mod status;
mod stop;
mod watch;

use std::future::Future;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use crate::account::Account;
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::settings::{ReadyProbe, ReloadWorker, RestartPolicy};
use children::{Event, Role, Supervisor};
use clock::later;
use gate::Regate;
use pid1::{Ending, Pid1};
use restart::AfterExit;
use stop::starts_shutdown;

pub use crate::start::command::Command;
pub use crate::start::reload::{Reload, Reloaded};
pub use pid1::init;

/// What `run` needs besides the commands.
pub struct RunOptions {
    pub probe: ReadyProbe,
    pub port: u16,
    pub ready_timeout: Duration,
    pub ready_required: bool,
    pub stop_timeout: Duration,
    /// How long to report not-ready before stopping on TERM/INT.
    pub stop_delay: Duration,
    pub restart: RestartPolicy,
    pub restart_limit: Option<restart::RestartLimit>,
    /// Which secret sources are in use (names only), for `clawinit status`.
    pub secret_sources: Vec<String>,
    /// `CLAWINIT_SECRETS_WATCH`: how often the sources are checked for a change.
    pub watch: Option<Duration>,
    pub reload_worker: ReloadWorker,
}

/// `exec`: one child under PID-1 supervision.
pub fn exec(pid1: &Pid1, command: &Command, env: ChildEnv, stop_timeout: Duration) -> Result<Exit, Failure> {
    block_on(async {
        let mut s = Supervisor::new(pid1, env, None, None)?;
        s.spawn(Role::Main, command)?;
        loop {
            match s.next().await {
                Event::Exited(_, ending) => {
                    // Leftover descendants get TERM, then KILL at the deadline;
                    // clawinit exits only once they are gone.
                    s.stop(&[], libc::SIGTERM, later(Instant::now(), stop_timeout)).await;
                    return Ok(ending.exit());
                }
                // HUP is forwarded like any other signal: `exec` is tini-like.
                Event::Signal(signal) if starts_shutdown(signal) => {
                    let endings = s.stop(&[Role::Main], signal, later(Instant::now(), stop_timeout)).await;
                    return Ok(endings.get(&Role::Main).map_or(Exit::signaled(signal), |e| e.exit()));
                }
                Event::Signal(signal) => s.forward(signal),
                Event::Orphans => {}
            }
        }
    })
}

/// `run`: the gateway, the readiness gate, the worker, and both supervised;
/// SIGHUP (or a change the watch sees) reloads through `reloader`.
pub fn run(
    pid1: &Pid1,
    gateway: &Command,
    worker: Option<&Command>,
    env: ChildEnv,
    user: Option<&Account>,
    options: &RunOptions,
    reloader: &mut dyn Reload,
) -> Result<Exit, Failure> {
    block_on(async {
        let mut s = Supervisor::new(pid1, env, user, Some(reloader))?;
        s.board = status::Board::shared(options.secret_sources.clone());
        s.watch = options.watch.map(watch::Watch::new);
        s.port = options.port;
        s.spawn(Role::Gateway, gateway)?;
        // Served from its own thread from now on: once it answers, the
        // gateway it reports already runs.
        let allowed = [Some(0), Some(nix::unistd::geteuid().as_raw()), user.map(|u| u.uid.as_raw())];
        let _server = status::serve(&s.board, allowed.into_iter().flatten().collect());
        let started = Instant::now();
        s.gateway_starts.record(started);
        s.settle_at = Some(later(started, crate::config::SETTLE_AFTER));
        if let Some(exit) = s.first_gate(gateway, options, started).await {
            return Ok(exit);
        }
        // A gateway that answers has looked at its state dir; without a
        // probe, `settle_at` decides.
        if options.probe != ReadyProbe::None {
            s.settle();
        }
        if let Some(worker) = worker {
            if let Err(failure) = s.spawn(Role::Worker, worker) {
                s.stop(&[Role::Gateway], libc::SIGTERM, later(Instant::now(), options.stop_timeout)).await;
                return Err(failure);
            }
        }
        s.running(gateway, worker, options).await
    })
}

/// Resolves at `at`; never without one.
pub(super) async fn settle_due(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Run `future` on clawinit's one runtime shape: current-thread, IO and time.
/// A `LocalSet`, so the status server can share the supervisor's state
/// without locks.
pub fn block_on<T, F: Future<Output = Result<T, Failure>>>(future: F) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Failure::new(Exit::Internal, format!("cannot start the runtime: {e}")))?;
    tokio::task::LocalSet::new().block_on(&runtime, future)
}

impl Supervisor<'_> {
    /// Write the state file the start kept back (`config::Deferred`), once.
    fn settle(&mut self) {
        self.settle_at = None;
        if let Some(reloader) = self.reloader.as_mut() {
            reloader.settle();
        }
    }

    /// Both run: the first unexpected exit ends the run with its code, unless
    /// the restart policy brings the gateway back; a shutdown signal stops
    /// the worker, then the gateway, and ends with the worker's code.
    async fn running(
        &mut self,
        gateway: &Command,
        worker: Option<&Command>,
        options: &RunOptions,
    ) -> Result<Exit, Failure> {
        let deadline = || later(Instant::now(), options.stop_timeout);
        let mut backoff = restart::Backoff::new(Instant::now());
        let mut restart_at: Option<Instant> = None;
        let mut regate: Regate = None;
        // When a reload stopped the gateway, while its successor is not ready.
        let mut reloading: Option<Instant> = None;
        loop {
            let respawn = async {
                match restart_at {
                    Some(at) => sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let ready_again = async {
                match regate.as_mut() {
                    Some(gate) => gate.await,
                    None => std::future::pending().await,
                }
            };
            let mut reload = false;
            let watch = watch::Watch::due(&self.watch);
            tokio::select! {
                () = watch::watch_due(&watch) => reload = self.watch_saw_change(),
                () = settle_due(self.settle_at) => self.settle(),
                () = respawn => {
                    restart_at = None;
                    // A start that fails counts under the limit like one that
                    // exits at once: its 126/127 is queued as the gateway's exit.
                    backoff.started = Instant::now();
                    self.gateway_starts.record(backoff.started);
                    if self.respawn(Role::Gateway, gateway) {
                        self.board.lock().enter(status::Phase::Gating);
                        regate = Some(self.regate(options));
                    }
                }
                () = ready_again => {
                    regate = None;
                    self.ready_again(reloading.take(), backoff.started);
                    if let Some(worker) = worker.filter(|_| self.worker_stale) {
                        self.restart_worker(worker, options).await;
                    }
                }
                event = self.next() => match event {
                    Event::Exited(Role::Worker, ending) => {
                        self.stop(&[Role::Gateway], libc::SIGTERM, deadline()).await;
                        return Ok(ending.exit());
                    }
                    Event::Exited(_, ending) => match self.gateway_exited(ending, options) {
                        AfterExit::GiveUp => {
                            tracing::error!("the gateway keeps exiting: giving up (CLAWINIT_GATEWAY_RESTART_LIMIT)");
                            self.stop(&[Role::Worker], libc::SIGTERM, deadline()).await;
                            return Ok(ending.exit());
                        }
                        AfterExit::Restart => {
                            regate = None;
                            reloading = None;
                            let wait = backoff.next(Instant::now());
                            tracing::warn!(in_ms = wait.as_millis() as u64, "restarting the gateway (CLAWINIT_GATEWAY_RESTART)");
                            self.board.lock().enter(status::Phase::Restarting);
                            restart_at = Some(later(Instant::now(), wait));
                        }
                        AfterExit::End => {
                            self.stop(&[Role::Worker], libc::SIGTERM, deadline()).await;
                            return Ok(ending.exit());
                        }
                    },
                    Event::Signal(signal) if starts_shutdown(signal) => {
                        return Ok(self.shutdown(signal, options).await);
                    }
                    Event::Signal(libc::SIGHUP) if self.reloader.is_some() => reload = true,
                    Event::Signal(signal) => self.forward(signal),
                    Event::Orphans => {}
                },
            }
            // A HUP that came while the worker was being restarted is due too.
            if reload || std::mem::take(&mut self.reload_again) {
                let port = self.port;
                if let Some(stopped) = self.reload(gateway, options).await {
                    restart_at = None;
                    reloading = Some(reloading.unwrap_or(stopped));
                    backoff.started = Instant::now();
                    self.board.lock().enter(status::Phase::Gating);
                    regate = Some(self.regate(options));
                } else if self.port != port && regate.is_some() {
                    regate = Some(self.regate(options));
                }
            }
        }
    }

    /// The gateway ended while `run` supervises it: what the policy and
    /// the limit make of it now.
    fn gateway_exited(&mut self, ending: Ending, options: &RunOptions) -> AfterExit {
        restart::after_gateway_exit(
            options.restart,
            options.restart_limit,
            &mut self.gateway_starts,
            ending,
            Instant::now(),
        )
    }
}
