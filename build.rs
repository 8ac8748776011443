//! Record what `clawinit --version` prints so a bug report names the binary: the git
//! commit (or $CLAWINIT_GIT_COMMIT, e.g. a Docker build context without .git; else
//! "unknown"), the target triple and the libc with its linking.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=CLAWINIT_GIT_COMMIT");
    let from_env = std::env::var("CLAWINIT_GIT_COMMIT").ok().filter(|c| !c.is_empty());
    let commit = from_env.or_else(|| git(&["rev-parse", "--short=10", "HEAD"])).unwrap_or_else(|| "unknown".into());
    // Rebuild when HEAD moves, and only then: watch only files that exist (a missing
    // one would make cargo rerun this script, and rebuild clawinit, every time).
    let mut watched = vec!["HEAD".to_string()];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.extend([reference, "packed-refs".into()]);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]).map(PathBuf::from) {
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");

    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let libc = match std::env::var("CARGO_CFG_TARGET_ENV").as_deref() {
        Ok("gnu") => "glibc",
        Ok("musl") => "musl",
        Ok("") | Err(_) => "no libc",
        Ok(other) => other,
    }
    .to_string();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let linking = if features.split(',').any(|f| f == "crt-static") { "static" } else { "dynamic" };
    println!("cargo:rustc-env=CLAWINIT_BUILD=commit {commit}, {target}, {libc} {linking}");
}
