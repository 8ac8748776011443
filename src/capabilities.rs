//! The capabilities clawinit needs as root with `CLAWINIT_USER`: for the
//! hand-over and for supervising children of another uid. A hardened
//! container (`--cap-drop ALL`, Kubernetes `capabilities: drop: [ALL]`) runs
//! clawinit as root with only what is added back; one missing would surface
//! as a raw EPERM halfway through the start (a chown, `setgroups`) or as a
//! stop that hangs (a signal). Checked first, so a start with too few ends
//! with one line naming what to add, before anything is written.

/// Each capability clawinit uses as root, its bit in `CapEff`, and why.
/// FOWNER is not among them: the backup hard link of the user's openclaw.json
/// passes `fs.protected_hardlinks` with DAC_OVERRIDE (root can read and write
/// it), and clawinit never chmods an entry it did not make (tests/read_only_root.rs:
/// `the_five_capabilities_suffice_and_each_is_needed`).
pub const NEEDED: [(&str, u32, &str); 5] = [
    ("CHOWN", 0, "hands the state dir and the files it writes to CLAWINIT_USER"),
    ("DAC_OVERRIDE", 1, "reads, backs up and replaces openclaw.json in a state dir the user made private"),
    ("KILL", 5, "signals the children, which run as another uid (forwarding, the stop, the SIGKILL)"),
    ("SETGID", 6, "sets the children's groups"),
    ("SETUID", 7, "sets the children's uid"),
];

/// The effective set from `/proc/self/status` (its `CapEff:` line, hex).
pub fn effective_from_status(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

/// The needed capabilities missing from `effective`, as `cap_chown` names.
pub fn missing(effective: u64) -> Vec<String> {
    NEEDED
        .iter()
        .filter(|(_, bit, _)| effective & (1 << bit) == 0)
        .map(|(name, _, _)| format!("cap_{}", name.to_ascii_lowercase()))
        .collect()
}

/// The missing capabilities of this process (empty when they cannot be
/// read: nothing is refused on a guess).
pub fn missing_here() -> Vec<String> {
    // Lets a test show each one is needed: the start then fails without it.
    if crate::fault::requested("skip-capability-check") {
        return Vec::new();
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| effective_from_status(&s))
        .map(missing)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_set_is_read_from_the_status_line() {
        let status =
            "Name:\tclawinit\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n";
        assert_eq!(effective_from_status(status), Some(0xa80425fb));
        assert_eq!(effective_from_status("Name:\tx\n"), None);
        assert_eq!(effective_from_status("CapEff:\tzz\n"), None);
    }

    #[test]
    fn each_missing_capability_is_named() {
        // Docker's and podman's default set has all five.
        assert!(missing(0xa80425fb).is_empty());
        assert!(missing(0x00000000000000e3).is_empty(), "exactly the five");
        assert_eq!(missing(0), ["cap_chown", "cap_dac_override", "cap_kill", "cap_setgid", "cap_setuid"]);
        assert_eq!(missing(0xe3 & !(1 << 7)), ["cap_setuid"]);
        assert_eq!(missing(0xe3 & !1), ["cap_chown"]);
        assert_eq!(missing(0xe3 & !(1 << 5)), ["cap_kill"]);
    }
}
