//! The children's environment: the inherited environment without age
//! identities, plus the decrypted secrets. Existing variables win unless
//! `CLAWINIT_SECRETS_OVERRIDE=true`. Values live in zeroizing buffers.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use zeroize::Zeroizing;

pub use crate::names::shown_name;
use crate::secrets::{SecretVar, IDENTITY_VARIABLE_PREFIX};

/// Read access to the children's environment. Values may be secrets: the
/// plan only tests key variables for presence and reads plain settings.
pub trait Lookup {
    fn raw(&self, name: &str) -> Option<&[u8]>;

    fn present(&self, name: &str) -> bool {
        self.raw(name).is_some_and(|v| !v.is_empty())
    }
}

impl<S: std::hash::BuildHasher> Lookup for std::collections::HashMap<String, String, S> {
    fn raw(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(String::as_bytes)
    }
}

/// `NAME=VALUE` entries in the order the child will see them.
#[derive(Default)]
pub struct ChildEnv {
    entries: Vec<(Vec<u8>, Zeroizing<Vec<u8>>)>,
}

/// What merging did, for the one log line (counts and names only).
#[derive(Debug, Default, PartialEq)]
pub struct MergeReport {
    pub added: usize,
    pub overridden: Vec<String>,
    pub kept_existing: Vec<String>,
    pub dropped_identity: Vec<String>,
    /// Dynamic-loader variables (`LD_PRELOAD`, ...): a secrets file never
    /// chooses what code the children load.
    pub dropped_loader: Vec<String>,
    /// Names no program could read back as a variable (escaped for the log).
    pub dropped_invalid: Vec<String>,
}

/// Non-empty, no `=` and no control character: `execve` takes anything
/// else, and like `sops exec-env` clawinit passes names a shell would not
/// (`my.key`, `KEY WITH SPACE`) because no shell is involved.
fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| *b != b'=' && !b.is_ascii_control())
}

impl ChildEnv {
    /// The inherited environment minus every `SOPS_AGE_*` variable: the private
    /// key never reaches the gateway or the worker.
    pub fn inherit(parent: impl IntoIterator<Item = (OsString, OsString)>) -> ChildEnv {
        let entries = parent
            .into_iter()
            .filter(|(name, _)| !name.as_bytes().starts_with(IDENTITY_VARIABLE_PREFIX.as_bytes()))
            .map(|(name, value)| (name.as_bytes().to_vec(), Zeroizing::new(value.as_bytes().to_vec())))
            .collect();
        ChildEnv { entries }
    }

    /// Add the secrets; a later duplicate in the file wins over an earlier one.
    pub fn merge_secrets(&mut self, secrets: Vec<SecretVar>, override_existing: bool) -> MergeReport {
        let mut report = MergeReport::default();
        let inherited = self.entries.len();
        let mut index: std::collections::HashMap<Vec<u8>, usize> =
            self.entries.iter().enumerate().map(|(i, (name, _))| (name.clone(), i)).collect();
        for var in secrets {
            let name = var.name.into_bytes();
            let label = shown_name(&name);
            if !is_valid_name(&name) {
                report.dropped_invalid.push(label);
                continue;
            }
            if name.starts_with(IDENTITY_VARIABLE_PREFIX.as_bytes()) {
                report.dropped_identity.push(label);
                continue;
            }
            if name.starts_with(b"LD_") {
                report.dropped_loader.push(label);
                continue;
            }
            match index.get(&name).copied() {
                Some(i) if i < inherited && !override_existing => report.kept_existing.push(label),
                Some(i) => {
                    if i < inherited {
                        report.overridden.push(label);
                    }
                    self.entries[i].1 = var.value;
                }
                None => {
                    report.added += 1;
                    index.insert(name.clone(), self.entries.len());
                    self.entries.push((name, var.value));
                }
            }
        }
        report.kept_existing.dedup();
        report.overridden.dedup();
        report
    }

    /// Set a variable clawinit itself provides (the gateway token, the
    /// rendered config's path), replacing any inherited value.
    pub fn set(&mut self, name: &str, value: Zeroizing<Vec<u8>>) {
        match self.entries.iter_mut().find(|(n, _)| n == name.as_bytes()) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name.as_bytes().to_vec(), value)),
        }
    }

    /// Remove a variable (a `<NAME>_FILE` whose content became `NAME`).
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| n != name.as_bytes());
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries.iter().find(|(n, _)| n == name.as_bytes()).map(|(_, v)| v.as_slice())
    }

    /// The names whose value differs between `self` and `other`, or that
    /// only one of them has, sorted and escaped for the log: what a reload
    /// changed for the children. Values are compared, never shown.
    pub fn changed_names(&self, other: &ChildEnv) -> Vec<String> {
        let index = |env: &ChildEnv| -> std::collections::HashMap<Vec<u8>, usize> {
            env.entries.iter().enumerate().map(|(i, (name, _))| (name.clone(), i)).collect()
        };
        let (mine, theirs) = (index(self), index(other));
        let mut changed: Vec<String> = mine
            .iter()
            .filter(|(name, i)| theirs.get(*name).is_none_or(|j| self.entries[**i].1 != other.entries[*j].1))
            .chain(theirs.iter().filter(|(name, _)| !mine.contains_key(*name)))
            .map(|(name, _)| shown_name(name))
            .collect();
        changed.sort();
        changed
    }

    /// Whether `execve` would take this environment with `argv`: each
    /// `NAME=VALUE` within the kernel's limit for one string (32 pages), and
    /// all of them with `argv` within `ARG_MAX`. A reload checks it before it
    /// stops the gateway (E2BIG would come only after). No value is shown.
    pub fn fits_exec(&self, argv: &[OsString]) -> Result<(), String> {
        // SAFETY: sysconf(3) reads a constant.
        let (page, arg_max) = unsafe { (libc::sysconf(libc::_SC_PAGESIZE), libc::sysconf(libc::_SC_ARG_MAX)) };
        let one = usize::try_from(page).unwrap_or(4096).saturating_mul(32);
        let mut total = 0usize;
        for (name, value) in &self.entries {
            let len = name.len() + value.len() + 2;
            if len > one {
                return Err(format!("{} is {len} bytes; the kernel takes at most {one}", shown_name(name)));
            }
            total += len + std::mem::size_of::<usize>();
        }
        total += argv.iter().map(|a| a.len() + 1 + std::mem::size_of::<usize>()).sum::<usize>();
        match usize::try_from(arg_max) {
            Ok(max) if total > max => Err(format!("the environment and arguments are {total} bytes; ARG_MAX is {max}")),
            _ => Ok(()),
        }
    }

    /// `NAME=VALUE\0` strings for `execve`, wiped when dropped.
    pub fn to_envp(&self) -> Vec<Zeroizing<Vec<u8>>> {
        self.entries
            .iter()
            .map(|(name, value)| {
                let mut entry = Zeroizing::new(Vec::with_capacity(name.len() + value.len() + 2));
                entry.extend_from_slice(name);
                entry.push(b'=');
                entry.extend_from_slice(value);
                entry.push(0);
                entry
            })
            .collect()
    }
}

impl Lookup for ChildEnv {
    fn raw(&self, name: &str) -> Option<&[u8]> {
        self.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names;
    use crate::secrets::tree::secret;

    fn parent(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        list.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect()
    }

    fn var(name: &str, value: &str) -> SecretVar {
        SecretVar { name: name.into(), value: secret(value.as_bytes()) }
    }

    #[test]
    fn identities_never_reach_children() {
        let mut env = ChildEnv::inherit(parent(&[
            (names::SOPS_AGE_KEY, "AGE-SECRET"),
            (names::SOPS_AGE_KEY_FILE, "/k"),
            ("PATH", "/bin"),
        ]));
        let report = env.merge_secrets(vec![var(names::SOPS_AGE_KEY, "x")], true);
        assert_eq!(env.get(names::SOPS_AGE_KEY), None);
        assert_eq!(env.get(names::SOPS_AGE_KEY_FILE), None);
        assert_eq!(env.get("PATH"), Some(&b"/bin"[..]));
        assert_eq!(report.dropped_identity, [names::SOPS_AGE_KEY]);
    }

    #[test]
    fn existing_wins_unless_override() {
        let base = parent(&[("A", "env"), ("B", "env")]);
        let mut env = ChildEnv::inherit(base.clone());
        let report = env.merge_secrets(vec![var("A", "file"), var("C", "1"), var("C", "2")], false);
        assert_eq!(env.get("A"), Some(&b"env"[..]));
        assert_eq!(env.get("C"), Some(&b"2"[..]), "the last duplicate in the file wins");
        assert_eq!(report.kept_existing, ["A"]);
        assert_eq!(report.added, 1);

        let mut env = ChildEnv::inherit(base);
        let report = env.merge_secrets(vec![var("A", "file")], true);
        assert_eq!(env.get("A"), Some(&b"file"[..]));
        assert_eq!(report.overridden, ["A"]);
    }

    #[test]
    fn loader_variables_and_invalid_names_are_dropped_and_shown_escaped() {
        let mut env = ChildEnv::inherit(parent(&[("LD_LIBRARY_PATH", "/usr/lib")]));
        let vars = vec![var("LD_PRELOAD", "/tmp/evil.so"), var("A\nINFO forged", "x"), var("", "x"), var("B C", "ok")];
        let report = env.merge_secrets(vars, true);
        assert_eq!(report.dropped_loader, ["LD_PRELOAD"]);
        assert_eq!(report.dropped_invalid, ["A\\nINFO forged", ""]);
        assert_eq!(env.get("LD_PRELOAD"), None);
        assert_eq!(env.get("LD_LIBRARY_PATH"), Some(&b"/usr/lib"[..]), "the platform's own are kept");
        assert_eq!(env.get("B C"), Some(&b"ok"[..]));
        assert_eq!(report.added, 1);
    }

    #[test]
    fn changed_names_compare_values_whatever_the_order_and_show_no_value() {
        let old = ChildEnv::inherit(parent(&[("A", "1"), ("B", "2"), ("GONE", "x"), ("SAME", "s")]));
        let new = ChildEnv::inherit(parent(&[("SAME", "s"), ("B", "3"), ("A", "1"), ("NEW\n", "y")]));
        assert_eq!(old.changed_names(&new), ["B", "GONE", "NEW\\n"]);
        assert_eq!(new.changed_names(&old), ["B", "GONE", "NEW\\n"]);
        assert!(old
            .changed_names(&ChildEnv::inherit(parent(&[("SAME", "s"), ("A", "1"), ("B", "2"), ("GONE", "x")])))
            .is_empty());
    }

    #[test]
    fn an_environment_execve_would_refuse_is_named_without_its_value() {
        let mut env = ChildEnv::inherit(parent(&[("SMALL", "x")]));
        assert_eq!(env.fits_exec(&[OsString::from("gateway")]), Ok(()));
        env.set("HUGE", Zeroizing::new(vec![b'v'; 200_000]));
        let why = env.fits_exec(&[]).unwrap_err();
        assert!(why.starts_with("HUGE is 200006 bytes"), "{why}");
        assert!(!why.contains("vvv"));
    }

    #[test]
    fn envp_is_nul_terminated() {
        let env = ChildEnv::inherit(parent(&[("A", "1=2")]));
        assert_eq!(env.to_envp()[0].as_slice(), b"A=1=2\0");
    }
}
