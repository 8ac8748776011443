//! Restarts and their limit, as pure functions of the time they are given
//! (no clock read here), so each is unit-tested without sleeping: whether
//! the policy restarts a gateway that ended, the restart limit, the backoff.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::pid1::Ending;
use crate::settings::RestartPolicy;

pub use crate::settings::RestartLimit;

/// When the gateway was started, as far back as the limit looks.
#[derive(Debug, Default)]
pub struct Starts(VecDeque<Instant>);

impl Starts {
    pub fn record(&mut self, at: Instant) {
        self.0.push_back(at);
    }

    /// Whether another start stays within `limit` at `now`: fewer than n+1
    /// starts inside the window ending now.
    pub fn may_restart(&mut self, limit: Option<RestartLimit>, now: Instant) -> bool {
        let Some(limit) = limit else { return true };
        while self.0.front().is_some_and(|t| now.saturating_duration_since(*t) > limit.window) {
            self.0.pop_front();
        }
        self.0.len() <= limit.restarts as usize
    }
}

/// 1 s doubling to 30 s; back to 1 s after a gateway that ran for a minute.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    pub started: Instant,
}

impl Backoff {
    pub fn new(now: Instant) -> Backoff {
        Backoff { next: Duration::from_secs(1), started: now }
    }

    pub fn next(&mut self, now: Instant) -> Duration {
        if now.saturating_duration_since(self.started) > Duration::from_secs(60) {
            self.next = Duration::from_secs(1);
        }
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(Duration::from_secs(30));
        wait
    }
}

/// Whether the policy restarts a gateway that ended this way. Any exit we
/// did not ask for is unexpected, 0 included (OpenClaw's self-restart exits
/// 0). `on-failure` does not retry 78, OpenClaw's "configuration error".
pub fn restarts(policy: RestartPolicy, ending: Ending) -> bool {
    match policy {
        RestartPolicy::Never => false,
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => ending != Ending::Exited(78),
    }
}

/// What a gateway's exit at `now` leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    /// The policy restarts it, but the limit is reached: the run ends.
    GiveUp,
    /// Start it again after the backoff.
    Restart,
    /// The policy does not restart it: the run ends with its code.
    End,
}

/// The policy, then the limit (which counts `starts` at `now`): an exit the
/// policy would not restart never counts against the limit.
pub fn after_gateway_exit(
    policy: RestartPolicy,
    limit: Option<RestartLimit>,
    starts: &mut Starts,
    ending: Ending,
    now: Instant,
) -> AfterExit {
    if !restarts(policy, ending) {
        AfterExit::End
    } else if !starts.may_restart(limit, now) {
        AfterExit::GiveUp
    } else {
        AfterExit::Restart
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn n_restarts_inside_the_window_then_no_more() {
        let t0 = Instant::now();
        let limit = Some(RestartLimit { restarts: 2, window: secs(60) });
        let mut starts = Starts::default();
        starts.record(t0);
        assert!(starts.may_restart(limit, t0 + secs(1)));
        starts.record(t0 + secs(2));
        assert!(starts.may_restart(limit, t0 + secs(3)));
        starts.record(t0 + secs(4));
        assert!(!starts.may_restart(limit, t0 + secs(5)), "three starts in 60 s: the limit");
        assert!(starts.may_restart(limit, t0 + secs(61)), "the first start left the window");
        assert!(Starts::default().may_restart(None, t0), "no limit");
    }

    #[test]
    fn the_backoff_doubles_to_thirty_seconds_and_resets_after_a_minute() {
        let t0 = Instant::now();
        let mut backoff = Backoff::new(t0);
        let waits: Vec<u64> = (0..8).map(|_| backoff.next(t0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff.next(t0 + secs(61)), secs(1), "a gateway that ran a minute starts over");
    }

    #[test]
    fn on_failure_restarts_any_exit_but_a_configuration_error() {
        assert!(restarts(RestartPolicy::OnFailure, Ending::Exited(0)), "OpenClaw's self-restart exits 0");
        assert!(restarts(RestartPolicy::OnFailure, Ending::Signaled(libc::SIGKILL)));
        assert!(!restarts(RestartPolicy::OnFailure, Ending::Exited(78)));
        assert!(restarts(RestartPolicy::Always, Ending::Exited(78)));
        assert!(!restarts(RestartPolicy::Never, Ending::Exited(1)));
    }

    #[test]
    fn the_limit_gives_up_only_on_an_exit_the_policy_would_restart() {
        let t0 = Instant::now();
        let limit = Some(RestartLimit { restarts: 1, window: secs(60) });
        let mut starts = Starts::default();
        starts.record(t0);
        let crash = Ending::Exited(1);
        assert_eq!(
            after_gateway_exit(RestartPolicy::OnFailure, limit, &mut starts, crash, t0 + secs(1)),
            AfterExit::Restart
        );
        starts.record(t0 + secs(2));
        assert_eq!(
            after_gateway_exit(RestartPolicy::OnFailure, limit, &mut starts, crash, t0 + secs(3)),
            AfterExit::GiveUp
        );
        let config_error = Ending::Exited(78);
        assert_eq!(
            after_gateway_exit(RestartPolicy::OnFailure, limit, &mut starts, config_error, t0 + secs(3)),
            AfterExit::End
        );
        assert_eq!(after_gateway_exit(RestartPolicy::Never, None, &mut starts, crash, t0), AfterExit::End);
        assert_eq!(
            after_gateway_exit(RestartPolicy::Always, limit, &mut starts, crash, t0 + secs(70)),
            AfterExit::Restart,
            "both starts left the window"
        );
    }
}
