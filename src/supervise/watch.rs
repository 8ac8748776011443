//! `CLAWINIT_SECRETS_WATCH`: when the sources are checked for a change
//! next, and how retries of a failing reload back off. Pure: every time is
//! given (`now`), so the tests pass instants.

use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::clock::later;

/// `CLAWINIT_SECRETS_WATCH`: when the sources are checked next.
pub struct Watch {
    pub(super) period: Duration,
    pub(super) next_at: Instant,
    /// Reloads failed in a row: retries back off, so a failure that lasts
    /// (the user holding the config lock on purpose) cannot keep PID 1 busy
    /// decrypting, or a key command running, every period.
    pub(super) failures: u32,
}

/// The longest pause between retries of a failing reload (unless the
/// period itself is longer).
const RETRY_LONGEST: Duration = Duration::from_secs(300);

impl Watch {
    pub fn new(period: Duration) -> Watch {
        Watch { period, next_at: later(Instant::now(), period), failures: 0 }
    }

    /// The pause before the next check after `failures` failed reloads in a
    /// row: the period, doubling per failure, up to `RETRY_LONGEST`.
    pub(super) fn pause(period: Duration, failures: u32) -> Duration {
        period.saturating_mul(1 << failures.min(16)).min(period.max(RETRY_LONGEST))
    }

    pub(super) fn reload_failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.next_at = later(now, Watch::pause(self.period, self.failures));
    }

    /// When the next check is due, if there is a watch: a copy, so waiting
    /// for it borrows nothing from the supervisor.
    pub fn due(watch: &Option<Watch>) -> Option<Instant> {
        watch.as_ref().map(|w| w.next_at)
    }
}

/// Resolves when the watch's next check is due (`Watch::due`); never
/// without a watch. A timer: the supervisor sleeps between checks.
pub async fn watch_due(at: &Option<Instant>) {
    match at {
        Some(at) => sleep_until(*at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_reloads_back_off_from_the_period_to_five_minutes() {
        let second = Duration::from_secs(1);
        let pauses: Vec<u64> = (0..12).map(|n| Watch::pause(second, n).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(Watch::pause(Duration::from_secs(600), 3), Duration::from_secs(600), "never below the period");
        assert_eq!(Watch::pause(Duration::MAX, u32::MAX), Duration::MAX, "no overflow");
    }

    #[test]
    fn a_failed_reload_moves_the_next_check_by_the_backed_off_pause() {
        let now = Instant::now();
        let mut watch = Watch::new(Duration::from_secs(2));
        watch.reload_failed(now);
        assert_eq!(Watch::due(&Some(watch)), Some(now + Duration::from_secs(4)), "one failure: twice the period");
        assert_eq!(Watch::due(&None), None, "no watch, no check");
    }
}
