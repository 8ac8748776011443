//! clawinit holds every decrypted secret for its whole life, so its memory
//! must never reach a core file: it makes itself non-dumpable and sets its
//! own core size limit to 0 first thing, before any secret is read. The
//! children get their own defaults back (the kernel resets "dumpable" on
//! exec; the core limit is restored in the child between fork and exec).

use std::sync::OnceLock;

/// The core limit clawinit was started with, for the children.
static INHERITED_CORE_LIMIT: OnceLock<libc::rlimit> = OnceLock::new();

pub fn protect_memory() {
    // SAFETY: plain prctl/getrlimit/setrlimit calls on values we own.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            let _ = INHERITED_CORE_LIMIT.set(limit);
            // Only the soft limit: the hard one stays, so a child can get the
            // inherited limit back even when clawinit is not root.
            libc::setrlimit(libc::RLIMIT_CORE, &libc::rlimit { rlim_cur: 0, rlim_max: limit.rlim_max });
        }
    }
}

/// In a child between fork and exec (async-signal-safe): the core limit
/// clawinit inherited.
pub fn restore_core_limit() {
    if let Some(limit) = INHERITED_CORE_LIMIT.get() {
        // SAFETY: setrlimit is async-signal-safe; `limit` is plain data.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, limit) };
    }
}
