//! Which OpenClaw release the gateway command starts, known without starting
//! Node: the `package.json` beside the resolved command. Compared with the
//! releases clawinit is tested against (`schema/releases/`, the version
//! matrix of `tests/versions.rs`), and the rules where those releases accept
//! different configs.
//!
//! Parsing and the rules are pure; `installed` and `record` are the I/O.

use std::cmp::Ordering;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::exit::{Exit, Failure};
use crate::files;
use crate::settings::OpenclawVersions;

/// The tested range, as `clawinit --version` prints it (a literal, for
/// `concat!`); `OLDEST_TESTED` and `NEWEST_TESTED` are its ends, and
/// `tests/versions.rs` checks both against the committed schemas.
#[macro_export]
macro_rules! tested_openclaw_range {
    () => {
        "2026.6.35 to 2026.9.6"
    };
}
pub const OLDEST_TESTED: &str = "2026.6.35";
pub const NEWEST_TESTED: &str = "2026.9.6";

/// An OpenClaw release: `YYYY.M.N`, with an optional pre-release tail
/// (`2026.7.1-beta.1`, `2026.7.1-1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    numbers: [u32; 3],
    pre: Option<String>,
}

impl Release {
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// A stable release from the oldest to the newest tested one. A
    /// pre-release inside the range was not tested: it is outside.
    pub fn is_tested(&self) -> bool {
        !self.is_prerelease() && (&oldest()..=&newest()).contains(&self)
    }
}

fn oldest() -> Release {
    OLDEST_TESTED.parse().expect("a valid release")
}

fn newest() -> Release {
    NEWEST_TESTED.parse().expect("a valid release")
}

impl FromStr for Release {
    type Err = String;

    fn from_str(text: &str) -> Result<Release, String> {
        let bad = || format!("not an OpenClaw version (YYYY.M.N): {:?}", text.chars().take(40).collect::<String>());
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let mut numbers = [0u32; 3];
        let mut parts = core.split('.');
        for slot in &mut numbers {
            // npm's rule: digits, no leading zero (so a version prints back as itself).
            let number = |p: &&str| {
                !p.is_empty()
                    && p.len() <= 9
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == &"0" || !p.starts_with('0'))
            };
            let part = parts.next().filter(number);
            *slot = part.ok_or_else(bad)?.parse().map_err(|_| bad())?;
        }
        let pre_ok = |p: &str| {
            !p.is_empty() && p.len() <= 64 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        };
        if parts.next().is_some() || pre.is_some_and(|p| !pre_ok(p)) {
            return Err(bad());
        }
        Ok(Release { numbers, pre: pre.map(String::from) })
    }
}

impl Ord for Release {
    /// By number; a pre-release before its release (pre-releases of one
    /// number compare as text, which is all the range check needs).
    fn cmp(&self, other: &Release) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(b),
        })
    }
}

impl PartialOrd for Release {
    fn partial_cmp(&self, other: &Release) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [year, month, n] = self.numbers;
        write!(f, "{year}.{month}.{n}")?;
        match &self.pre {
            Some(pre) => write!(f, "-{pre}"),
            None => Ok(()),
        }
    }
}

// ---- Where releases differ (each rule found by the version matrix) ----

/// `agents.defaults.modelPolicy` exists from 2026.8 on: 2026.6.35 and
/// 2026.7.35 reject it as an unknown key (the gateway exits 78). There, a
/// non-empty `agents.defaults.models` map is always an allowlist for `/model`.
/// Unknown release: the pinned (newest) form.
pub fn has_model_policy(release: Option<&Release>) -> bool {
    release.is_none_or(|r| r.numbers >= [2026, 8, 0])
}

/// A file OpenClaw last wrote (`meta.lastTouchedVersion`, stamped on every
/// OpenClaw write) with a release newer than the installed one: OpenClaw does
/// not migrate it back, and keys it added may be unknown here (2026.8+
/// writes `meta.migrations`, which 2026.6.35 and 2026.7.35 refuse). clawinit
/// keeps OpenClaw's keys like a user's, so it can only say so.
pub fn written_by_newer(existing: &serde_json::Value, release: Option<&Release>) -> Option<String> {
    let release = release?;
    let stamp = existing.pointer("/meta/lastTouchedVersion")?.as_str()?;
    let writer: Release = stamp.parse().ok()?;
    (writer > *release).then(|| {
        format!(
            "openclaw.json was last written by OpenClaw {writer} (meta.lastTouchedVersion), newer than the \
             installed {release}: OpenClaw does not migrate it back, and keys that release added may be refused"
        )
    })
}

// ---- Reading the installed release ----

/// What the start learned about the OpenClaw it is about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// The gateway command is not OpenClaw (`CLAWINIT_GATEWAY_CMD`): nothing read.
    NotOpenclaw,
    /// OpenClaw, but its version could not be read from `file`.
    Unknown {
        file: PathBuf,
        why: String,
    },
    Found {
        file: PathBuf,
        release: Release,
    },
}

impl Installed {
    pub fn release(&self) -> Option<&Release> {
        match self {
            Installed::Found { release, .. } => Some(release),
            _ => None,
        }
    }

    /// For `check`: the release and whether it is tested.
    pub fn describe(&self) -> String {
        match self {
            Installed::NotOpenclaw => "not OpenClaw (CLAWINIT_GATEWAY_CMD)".into(),
            Installed::Unknown { .. } => "unknown".into(),
            Installed::Found { release, .. } if release.is_tested() => format!("{release} (tested)"),
            Installed::Found { release, .. } => {
                format!("{release} (outside the tested range {})", tested_openclaw_range!())
            }
        }
    }
}

/// The largest `package.json` read (OpenClaw's is about 140 KiB).
const PACKAGE_JSON_LIMIT: u64 = 1 << 20;

/// The file a gateway command runs, when it is OpenClaw: the program itself
/// (`openclaw`, or the `openclaw.mjs` an npm bin link points at), or the
/// script a `node` program is given (`node /app/openclaw.mjs gateway run`).
/// `real` resolves symlinks (the I/O); `None`: not OpenClaw.
pub fn openclaw_entry(program: &Path, argv: &[OsString], real: impl Fn(&Path) -> Option<PathBuf>) -> Option<PathBuf> {
    let program = real(program)?;
    let name = program.file_name()?.to_str()?;
    let entry = if name == "node" || name == "nodejs" {
        let script = argv.iter().skip(1).find(|a| !a.as_encoded_bytes().starts_with(b"-"))?;
        real(Path::new(script))?
    } else {
        program
    };
    matches!(entry.file_name()?.to_str()?, "openclaw" | "openclaw.mjs").then_some(entry)
}

/// Where OpenClaw's `package.json` can be, in order: beside the entry (an
/// npm package: `openclaw.mjs`, or a global bin link resolved to it), then in
/// the `node_modules` beside it (a local npm prefix whose `openclaw` is a
/// wrapper, as `scripts/install-openclaw.sh` makes).
pub fn package_json_candidates(entry: &Path) -> Vec<PathBuf> {
    let dir = entry.parent().unwrap_or(Path::new("/"));
    vec![dir.join("package.json"), dir.join("node_modules/openclaw/package.json")]
}

#[derive(Deserialize)]
struct Package {
    name: Option<String>,
    version: Option<String>,
}

/// What a `package.json` says: `Ok(None)` when it is another package's.
pub fn parse_package_json(bytes: &[u8]) -> Result<Option<Release>, String> {
    let package: Package = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    if package.name.as_deref() != Some("openclaw") {
        return Ok(None);
    }
    let version = package.version.ok_or("no \"version\"")?;
    version.parse().map(Some)
}

/// Read the release of the gateway command. Never fails: a missing or bad
/// file is `Unknown`, reported in one line by `record`.
pub fn installed(program: &Path, argv: &[OsString]) -> Installed {
    let real = |p: &Path| std::fs::canonicalize(p).ok();
    let Some(entry) = openclaw_entry(program, argv, real) else { return Installed::NotOpenclaw };
    let candidates = package_json_candidates(&entry);
    let mut first_problem = None;
    for file in &candidates {
        let outcome = match files::read(file, PACKAGE_JSON_LIMIT) {
            Err(files::FileError::NotFound) => continue,
            Err(e) => Err(e.to_string()),
            Ok(bytes) => parse_package_json(&bytes),
        };
        match outcome {
            Ok(Some(release)) => return Installed::Found { file: file.clone(), release },
            Ok(None) => first_problem = first_problem.or(Some((file, "another package's, not OpenClaw's".into()))),
            Err(why) => first_problem = first_problem.or(Some((file, why))),
        }
    }
    let (file, why) = first_problem.unwrap_or((&candidates[0], "no such file".into()));
    Installed::Unknown { file: file.clone(), why }
}

static INSTALLED: OnceLock<Option<Release>> = OnceLock::new();

/// The release the config is written for: set once at start by `record`
/// (the gateway's files do not change under a running container, so a
/// reload writes for the same one); `None`: the newest form.
pub fn target() -> Option<&'static Release> {
    INSTALLED.get().and_then(Option::as_ref)
}

/// Log what was found (one line) and remember it for the config step; with
/// `CLAWINIT_OPENCLAW_VERSIONS=strict`, a release outside the tested range
/// is exit 78, before anything is written.
pub fn record(found: &Installed, policy: OpenclawVersions) -> Result<(), Failure> {
    let range = tested_openclaw_range!();
    match found {
        Installed::NotOpenclaw => {
            tracing::debug!("the gateway command is not OpenClaw: its version is not read");
        }
        Installed::Unknown { file, why } => {
            tracing::warn!(
                "cannot tell which OpenClaw release the gateway is: {}: {why}; writing the config for {NEWEST_TESTED}",
                file.display()
            );
        }
        Installed::Found { file, release } if release.is_tested() => {
            tracing::info!("OpenClaw {release} ({}): tested ({range})", file.display());
        }
        Installed::Found { file, release } => {
            let text = format!("{}: OpenClaw {release} is outside the tested range {range}", file.display());
            if policy == OpenclawVersions::Strict {
                return Err(Failure::new(Exit::Config, format!("{text} (CLAWINIT_OPENCLAW_VERSIONS=strict)")));
            }
            tracing::warn!("{text}; the config may not be valid for it (CLAWINIT_OPENCLAW_VERSIONS=strict refuses)");
        }
    }
    let _ = INSTALLED.set(found.release().cloned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Release {
        text.parse().unwrap()
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(r("2026.9.6").to_string(), "2026.9.6");
        assert_eq!(r("2026.7.1-beta.1").to_string(), "2026.7.1-beta.1");
        assert!(r("2026.6.35") < r("2026.7.1-1"));
        assert!(r("2026.7.1-1") < r("2026.7.1"));
        assert!(r("2026.8.2") < r("2026.9.1") && r("2026.9.6") < r("2026.10.1"));
        assert!(r("2026.7.1-beta.1") < r("2026.7.1-beta.2"));
        for bad in [
            "",
            "2026",
            "2026.9",
            "2026.9.6.1",
            "2026.9.x",
            "v2026.9.6",
            "2026.9.6-",
            "2026..6",
            " 2026.9.6",
            "2026.09.6",
            "2026.9.+6",
        ] {
            assert!(bad.parse::<Release>().is_err(), "{bad:?}");
        }
        assert!("99999999999.1.1".parse::<Release>().is_err(), "too many digits");
        assert!(format!("2026.9.6-{}", "b".repeat(65)).parse::<Release>().is_err(), "bounded tail");
        let message = format!("{}\n", "x".repeat(1000)).parse::<Release>().unwrap_err();
        assert!(message.len() < 100, "the value is cut in the message: {message}");
    }

    #[test]
    fn the_tested_range_is_stable_releases_between_the_ends() {
        assert_eq!(tested_openclaw_range!(), format!("{OLDEST_TESTED} to {NEWEST_TESTED}"));
        for inside in [OLDEST_TESTED, NEWEST_TESTED, "2026.8.1", "2026.9.3"] {
            assert!(r(inside).is_tested(), "{inside}");
        }
        for outside in ["2026.6.34", "2026.9.7", "2026.10.1", "2026.9.1-beta.1", "2025.12.1"] {
            assert!(!r(outside).is_tested(), "{outside}");
        }
    }

    #[test]
    fn model_policy_exists_from_2026_8() {
        assert!(!has_model_policy(Some(&r("2026.6.35"))));
        assert!(!has_model_policy(Some(&r("2026.7.35"))));
        assert!(has_model_policy(Some(&r("2026.8.1"))));
        assert!(has_model_policy(Some(&r("2026.8.1-beta.1"))), "the 2026.8 betas are 2026.8");
        assert!(has_model_policy(Some(&r("2026.9.6"))));
        assert!(has_model_policy(None), "unknown: the pinned release's form");
    }

    #[test]
    fn a_file_written_by_a_newer_release_is_named() {
        let doc = |stamp: &str| serde_json::json!({"meta": {"lastTouchedVersion": stamp}});
        let warning = written_by_newer(&doc("2026.9.6"), Some(&r("2026.7.35"))).unwrap();
        assert!(warning.contains("2026.9.6") && warning.contains("installed 2026.7.35"), "{warning}");
        assert_eq!(written_by_newer(&doc("2026.9.6"), Some(&r("2026.9.6"))), None);
        assert_eq!(written_by_newer(&doc("2026.7.35"), Some(&r("2026.9.6"))), None, "older writers migrate forward");
        assert_eq!(written_by_newer(&doc("2026.9.6"), None), None, "unknown release: nothing to compare");
        assert_eq!(written_by_newer(&doc("not a version"), Some(&r("2026.7.35"))), None);
        assert_eq!(
            written_by_newer(&serde_json::json!({"meta": {"lastTouchedVersion": 7}}), Some(&r("2026.7.35"))),
            None
        );
        assert_eq!(written_by_newer(&serde_json::json!({}), Some(&r("2026.7.35"))), None);
    }

    #[test]
    fn package_json_names_the_release_or_is_another_package() {
        let found = parse_package_json(br#"{"name": "openclaw", "version": "2026.9.6", "bin": {}}"#).unwrap();
        assert_eq!(found, Some(r("2026.9.6")));
        assert_eq!(parse_package_json(br#"{"private": true, "dependencies": {"openclaw": "^2026.9.6"}}"#), Ok(None));
        assert_eq!(parse_package_json(br#"{"name": "left-pad", "version": "1.0.0"}"#), Ok(None));
        assert!(parse_package_json(br#"{"name": "openclaw"}"#).unwrap_err().contains("version"));
        assert!(parse_package_json(br#"{"name": "openclaw", "version": "latest"}"#).is_err());
        assert!(parse_package_json(br#"{"name": "openclaw", "version": 7}"#).is_err());
        assert!(parse_package_json(b"{\"name\": ").is_err());
        assert!(parse_package_json(b"[]").is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_package_json(deep.as_bytes()).is_err(), "depth is bounded, no stack overflow");
    }

    #[test]
    fn the_entry_is_the_program_or_nodes_script_when_it_is_openclaw() {
        let real = |p: &Path| {
            Some(match p.to_str().unwrap() {
                "/usr/local/bin/openclaw" => PathBuf::from("/usr/local/lib/node_modules/openclaw/openclaw.mjs"),
                "/usr/bin/nodejs" => PathBuf::from("/usr/bin/node"),
                other => PathBuf::from(other),
            })
        };
        let argv = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        let entry = |program: &str, args: &[&str]| openclaw_entry(Path::new(program), &argv(args), real);
        assert_eq!(
            entry("/usr/local/bin/openclaw", &["openclaw", "gateway", "run"]),
            Some(PathBuf::from("/usr/local/lib/node_modules/openclaw/openclaw.mjs"))
        );
        assert_eq!(
            entry("/usr/bin/nodejs", &["node", "--max-old-space-size=512", "/app/openclaw.mjs", "gateway"]),
            Some(PathBuf::from("/app/openclaw.mjs"))
        );
        assert_eq!(
            entry("/c/openclaw/2026.9.6/openclaw", &["x"]),
            Some(PathBuf::from("/c/openclaw/2026.9.6/openclaw"))
        );
        assert_eq!(entry("/bin/sh", &["sh", "-c", "openclaw gateway run"]), None, "not OpenClaw: nothing read");
        assert_eq!(entry("/usr/bin/node", &["node", "/srv/server.js"]), None);
        assert_eq!(entry("/usr/bin/node", &["node"]), None);
        assert_eq!(openclaw_entry(Path::new("/gone/openclaw"), &[], |_| None), None);
    }

    #[test]
    fn package_json_beside_the_entry_then_in_its_node_modules() {
        assert_eq!(
            package_json_candidates(Path::new("/usr/lib/node_modules/openclaw/openclaw.mjs")),
            [
                PathBuf::from("/usr/lib/node_modules/openclaw/package.json"),
                PathBuf::from("/usr/lib/node_modules/openclaw/node_modules/openclaw/package.json")
            ]
        );
    }

    #[test]
    fn describe_says_whether_it_is_tested() {
        let found = |v: &str| Installed::Found { file: PathBuf::from("/p/package.json"), release: r(v) };
        assert_eq!(found("2026.9.6").describe(), "2026.9.6 (tested)");
        assert_eq!(
            found("2026.5.1").describe(),
            format!("2026.5.1 (outside the tested range {})", tested_openclaw_range!())
        );
        let unknown = Installed::Unknown { file: PathBuf::from("/p/package.json"), why: "no such file".into() };
        assert_eq!((unknown.describe(), unknown.release()), ("unknown".to_string(), None));
    }
}
