//! The supervisor's rules as pure functions of the time they are given (no
//! clock read here), so each is unit-tested without sleeping: the stop
//! budget, the restart backoff and the restart limit.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

pub use crate::settings::RestartLimit;

/// The part of the stop budget `total` kept for the gateway when the worker
/// is stopped first: `min(max(2 s, total/3), total/2)`. The worker gets the
/// rest and is killed when it is used.
pub fn gateway_reserve(total: Duration) -> Duration {
    (total / 3).max(Duration::from_secs(2)).min(total / 2)
}

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
}
