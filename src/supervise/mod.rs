//! The supervisor: spawn, gate on readiness, forward signals, reap, stop in
//! order. One current-thread tokio runtime; every child's status comes from
//! the one reaping loop in `pid1` through the pid → role table here.

pub mod pid1;
pub mod policy;
pub mod ready;
mod reload;
pub mod spawn;
pub mod status;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use nix::unistd::Pid;
use tokio::time::{sleep_until, timeout_at, Instant};

use crate::account::Account;
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};
use crate::settings::{ReadyProbe, ReloadWorker, RestartPolicy};
use pid1::{signal_name, Ending, Pid1, Signals};

pub use crate::start::command::Command;
pub use crate::start::reload::{Reload, Reloaded};
pub use pid1::init;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    Gateway,
    Worker,
    /// `exec`'s one child.
    Main,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Worker => "worker",
            Role::Main => "child",
        }
    }
}

enum Event {
    Exited(Role, Ending),
    /// Only children clawinit did not start (orphans) were reaped.
    Orphans,
    /// A signal's number: real-time signals have no `nix::sys::signal::Signal`.
    Signal(i32),
}

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
    pub restart_limit: Option<policy::RestartLimit>,
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
        s.watch = options.watch.map(reload::Watch::new);
        s.port = options.port;
        s.spawn(Role::Gateway, gateway)?;
        // Served from its own thread from now on: once it answers, the
        // gateway it reports already runs.
        let allowed = [Some(0), Some(nix::unistd::geteuid().as_raw()), user.map(|u| u.uid.as_raw())];
        let _server = status::serve(&s.board, allowed.into_iter().flatten().collect());
        let started = Instant::now();
        s.gateway_starts.record(started);
        let deadline = || later(Instant::now(), options.stop_timeout);
        match s.gate(gateway, options, later(started, options.ready_timeout)).await {
            Gate::Ready => {
                tracing::info!(after_ms = started.elapsed().as_millis() as u64, "gateway ready");
                s.board.lock().ready(started.elapsed());
            }
            Gate::Exited(ending) => {
                s.board.lock().enter(status::Phase::Stopping);
                tracing::error!("the gateway exited before it was ready");
                s.stop(&[], libc::SIGTERM, deadline()).await;
                return Ok(ending.exit());
            }
            Gate::Signal(signal) => {
                s.board.lock().enter(status::Phase::Stopping);
                s.stop(&[Role::Gateway], signal, deadline()).await;
                return Ok(Exit::signaled(signal));
            }
            Gate::TimedOut if options.ready_required => {
                s.board.lock().enter(status::Phase::Stopping);
                let secs = options.ready_timeout.as_secs();
                tracing::error!("the gateway was not ready within {secs} s (CLAWINIT_READY_TIMEOUT)");
                s.stop(&[Role::Gateway], libc::SIGTERM, deadline()).await;
                return Ok(Exit::NotReady);
            }
            Gate::TimedOut => tracing::warn!(
                "the gateway was not ready within {} s; starting the worker anyway (CLAWINIT_READY_REQUIRED=false)",
                options.ready_timeout.as_secs()
            ),
            // The gateway answered, or the operator chose not to wait for it.
        }
        if let Some(worker) = worker {
            if let Err(failure) = s.spawn(Role::Worker, worker) {
                s.stop(&[Role::Gateway], libc::SIGTERM, deadline()).await;
                return Err(failure);
            }
        }
        s.running(gateway, worker, options).await
    })
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

/// TERM, INT and QUIT stop everything; HUP reloads (`run`) or is forwarded
/// (`exec`); the rest is forwarded.
fn starts_shutdown(signal: i32) -> bool {
    matches!(signal, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT)
}

/// Far enough ahead that no run reaches it, near enough to be representable.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `from + wait` for deadlines: never a panic, whatever `wait` is (the
/// settings are range-checked, but PID 1 must not depend on that): an
/// unrepresentable instant becomes the far future.
fn later(from: Instant, wait: Duration) -> Instant {
    from.checked_add(wait).or_else(|| from.checked_add(FAR_FUTURE)).unwrap_or(from)
}

enum Gate {
    Ready,
    Exited(Ending),
    Signal(i32),
    TimedOut,
}

struct Supervisor<'a> {
    pid1: &'a Pid1,
    /// The children's environment: replaced by a reload that changes it.
    env: ChildEnv,
    user: Option<&'a Account>,
    /// `run` only: HUP and the watch reload through it.
    reloader: Option<&'a mut dyn Reload>,
    /// The gateway's port (a reload can move it).
    port: u16,
    /// A reload changed what the running worker must see (with
    /// `CLAWINIT_RELOAD_WORKER=restart`, or the gateway token): restart it
    /// once the gateway is ready again.
    worker_stale: bool,
    signals: Signals,
    table: HashMap<Pid, Role>,
    /// Events taken but not yet acted on: exits reaped together, and what
    /// arrived while a reload stopped the gateway.
    queued: VecDeque<Event>,
    /// A HUP or a change that arrived while a reload was under way: one
    /// more reload once it is done, however many arrived.
    reload_again: bool,
    /// The last reload failed, with this line: a retry that fails the same
    /// way says so at debug only (the watch retries every period).
    reload_failing: Option<String>,
    /// The reload under way was asked for by the watch (not a HUP).
    watch_triggered: bool,
    watch: Option<reload::Watch>,
    gateway_starts: policy::Starts,
    board: status::Shared,
}

impl<'a> Supervisor<'a> {
    fn new(
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
            gateway_starts: policy::Starts::default(),
            board: status::Board::shared(Vec::new()),
        })
    }

    fn spawn(&mut self, role: Role, command: &Command) -> Result<Pid, Failure> {
        let pid = spawn::spawn(&command.program, &command.argv, &self.env, self.user, self.pid1)?;
        tracing::info!(role = role.name(), pid = pid.as_raw(), program = %command.program.display(), "spawned");
        self.table.insert(pid, role);
        self.board.lock().spawned(role.name(), pid.as_raw(), Instant::now());
        Ok(pid)
    }

    fn pid_of(&self, role: Role) -> Option<Pid> {
        self.table.iter().find(|(_, r)| **r == role).map(|(pid, _)| *pid)
    }

    /// The next thing that needs a decision. Cancel-safe.
    async fn next(&mut self) -> Event {
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
    fn forward(&self, signal: i32) {
        for (pid, role) in &self.table {
            tracing::debug!(signal = signal_name(signal).as_str(), role = role.name(), "forwarding");
            signal_group(*pid, signal);
        }
    }

    /// Wait for the gateway to be ready. A reload that restarts the gateway
    /// starts the wait again for the new one, with a full timeout.
    async fn gate(&mut self, gateway: &Command, options: &RunOptions, mut deadline: Instant) -> Gate {
        let mut ready = Box::pin(ready::wait_ready(options.probe, self.port));
        loop {
            let watch = reload::Watch::due(&self.watch);
            let reload = tokio::select! {
                () = &mut ready => return Gate::Ready,
                () = sleep_until(deadline) => return Gate::TimedOut,
                () = reload::watch_due(&watch) => self.watch_saw_change(),
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
                if restarted {
                    deadline = later(Instant::now(), options.ready_timeout);
                }
                if restarted || self.port != port {
                    ready = Box::pin(ready::wait_ready(options.probe, self.port));
                }
            }
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
        let mut backoff = policy::Backoff::new(Instant::now());
        let mut restart_at: Option<Instant> = None;
        let mut regate: Option<Pin<Box<dyn Future<Output = ()>>>> = None;
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
            let watch = reload::Watch::due(&self.watch);
            tokio::select! {
                () = reload::watch_due(&watch) => reload = self.watch_saw_change(),
                () = respawn => {
                    restart_at = None;
                    // A start that fails counts under the limit like one that
                    // exits at once: its 126/127 is queued as the gateway's exit.
                    backoff.started = Instant::now();
                    self.gateway_starts.record(backoff.started);
                    if self.respawn(Role::Gateway, gateway) {
                        self.board.lock().enter(status::Phase::Gating);
                        regate = Some(Box::pin(ready::wait_ready(options.probe, self.port)));
                    }
                }
                () = ready_again => {
                    regate = None;
                    if let Some(stopped) = reloading.take() {
                        // The window is the old gateway's stop plus the new
                        // one's start (spawn to ready): what is left is ours.
                        let not_ready_ms = stopped.elapsed().as_millis() as u64;
                        let start_ms = backoff.started.elapsed().as_millis() as u64;
                        tracing::info!(not_ready_ms, start_ms, "gateway ready again after the reload");
                        self.board.lock().ready(stopped.elapsed());
                    } else {
                        tracing::info!(after_ms = backoff.started.elapsed().as_millis() as u64, "gateway ready again");
                        self.board.lock().ready(backoff.started.elapsed());
                    }
                    if let Some(worker) = worker.filter(|_| self.worker_stale) {
                        self.restart_worker(worker, options).await;
                    }
                }
                event = self.next() => match event {
                    Event::Exited(Role::Worker, ending) => {
                        self.stop(&[Role::Gateway], libc::SIGTERM, deadline()).await;
                        return Ok(ending.exit());
                    }
                    Event::Exited(_, ending)
                        if restarts(options.restart, ending)
                            && !self.gateway_starts.may_restart(options.restart_limit, Instant::now()) =>
                    {
                        tracing::error!("the gateway keeps exiting: giving up (CLAWINIT_GATEWAY_RESTART_LIMIT)");
                        self.stop(&[Role::Worker], libc::SIGTERM, deadline()).await;
                        return Ok(ending.exit());
                    }
                    Event::Exited(_, ending) if restarts(options.restart, ending) => {
                        regate = None;
                        reloading = None;
                        let wait = backoff.next(Instant::now());
                        tracing::warn!(in_ms = wait.as_millis() as u64, "restarting the gateway (CLAWINIT_GATEWAY_RESTART)");
                        self.board.lock().enter(status::Phase::Restarting);
                        restart_at = Some(later(Instant::now(), wait));
                    }
                    Event::Exited(_, ending) => {
                        self.stop(&[Role::Worker], libc::SIGTERM, deadline()).await;
                        return Ok(ending.exit());
                    }
                    Event::Signal(signal) if starts_shutdown(signal) => {
                        if matches!(signal, libc::SIGTERM | libc::SIGINT) && !options.stop_delay.is_zero() {
                            self.drain(options.stop_delay).await;
                        }
                        self.board.lock().enter(status::Phase::Stopping);
                        let had_worker = self.pid_of(Role::Worker).is_some();
                        let endings = self.stop(&[Role::Worker, Role::Gateway], signal, deadline()).await;
                        let decisive = if had_worker { Role::Worker } else { Role::Gateway };
                        return Ok(endings.get(&decisive).map_or(Exit::signaled(signal), |e| e.exit()));
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
                    regate = Some(Box::pin(ready::wait_ready(options.probe, self.port)));
                } else if self.port != port && regate.is_some() {
                    regate = Some(Box::pin(ready::wait_ready(options.probe, self.port)));
                }
            }
        }
    }

    /// `CLAWINIT_STOP_DELAY`: report not-ready (probe reads the phase) for
    /// `delay` while the children keep serving, so a load balancer or a
    /// Kubernetes endpoint stops sending traffic first. A second TERM or
    /// INT (or a QUIT), or a child's exit, ends the wait early.
    async fn drain(&mut self, delay: Duration) {
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
    async fn stop(&mut self, order: &[Role], signal: i32, deadline: Instant) -> HashMap<Role, Ending> {
        let mut endings = self.queued_endings();
        let now = Instant::now();
        let total = deadline.saturating_duration_since(now);
        for (i, &role) in order.iter().enumerate() {
            let Some(pid) = self.pid_of(role) else { continue };
            // Every role but the last leaves the last one its reserve: the
            // gateway always gets its stop signal and time to use it, even
            // when the worker ignores TERM.
            let last = i + 1 == order.len();
            let own = if last { deadline } else { later(now, total.saturating_sub(policy::gateway_reserve(total))) };
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
    fn queued_endings(&mut self) -> HashMap<Role, Ending> {
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
    async fn wait_event(&mut self, deadline: Instant, endings: &mut HashMap<Role, Ending>) -> bool {
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
    fn signal_descendants(&self, signal: i32) {
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

/// `signal` (any number: nix's `kill` cannot send real-time signals) to the
/// process group `pid` leads, or to `pid` alone if it leads none yet.
fn signal_group(pid: Pid, signal: i32) {
    // SAFETY: killpg(2) and kill(2) on plain integers.
    if unsafe { libc::killpg(pid.as_raw(), signal) } != 0 {
        let _ = unsafe { libc::kill(pid.as_raw(), signal) };
    }
}

/// Whether the policy restarts a gateway that ended this way. Any exit we
/// did not ask for is unexpected, 0 included (OpenClaw's self-restart exits
/// 0). `on-failure` does not retry 78, OpenClaw's "configuration error".
fn restarts(policy: RestartPolicy, ending: Ending) -> bool {
    match policy {
        RestartPolicy::Never => false,
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => ending != Ending::Exited(78),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_saturate_instead_of_panicking() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) >= later(now, FAR_FUTURE));
        assert!(later(now, Duration::from_secs(u64::MAX)) > now + Duration::from_secs(86_400 * 365));
        assert_eq!(later(now, Duration::from_secs(9)), now + Duration::from_secs(9));
    }
}
