//! The supervisor's clock. Time is read (`Instant::now()`) only where an
//! event is handled; every decision in the parts is a pure function of the
//! `now` it is given (the injected clock), so their unit tests pass instants
//! instead of sleeping. Deadlines are made here, never with a bare `+`.

use std::time::Duration;

use tokio::time::Instant;

/// Far enough ahead that no run reaches it, near enough to be representable.
pub(super) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `from + wait` for deadlines: never a panic, whatever `wait` is (the
/// settings are range-checked, but PID 1 must not depend on that): an
/// unrepresentable instant becomes the far future.
pub(super) fn later(from: Instant, wait: Duration) -> Instant {
    from.checked_add(wait).or_else(|| from.checked_add(FAR_FUTURE)).unwrap_or(from)
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
