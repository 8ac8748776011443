//! Fault injection for tests. In debug builds (what `cargo test` runs),
//! `CLAWINIT_FAULT=<point>` makes clawinit misbehave at that named point, so
//! a test can show what a crash or a failing syscall there leaves behind.
//! Release builds compile every check to `false`.

/// Whether the fault named `point` is requested.
pub fn requested(point: &str) -> bool {
    cfg!(debug_assertions) && std::env::var_os("CLAWINIT_FAULT").is_some_and(|v| v == point)
}

/// Abort at `point` when that fault is requested.
pub fn abort_at(point: &str) {
    if requested(point) {
        std::process::abort();
    }
}
