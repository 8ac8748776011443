//! `CLAWINIT_USER`: the account the children run as, resolved like gosu does
//! (`name`, `uid`, `name:group`, `uid:gid`; a numeric uid need not exist in
//! /etc/passwd, and then HOME is `/`). clawinit's own files are chowned to it.
//!
//! Like gosu (runc's libcontainer/user), this reads /etc/passwd and /etc/group
//! itself instead of going through NSS: a static glibc binary that loads NSS
//! modules (systemd, ldap) from the image crashes or misbehaves, and inside a
//! container the files are the truth.

use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};

use crate::exit::{Exit, Failure};

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups: the primary group and every group in
    /// /etc/group that lists the user.
    pub groups: Vec<Gid>,
    pub home: PathBuf,
}

const VAR: &str = "CLAWINIT_USER";

/// One /etc/passwd entry.
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// One /etc/group entry.
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

impl Account {
    /// Resolve `spec` for this process. Switching users needs root: started
    /// as any other uid (`--user 12345:0`, OpenShift's arbitrary uid), the
    /// children would fail in `setgroups` only after openclaw.json was
    /// written, so this refuses at once, before anything is written, naming
    /// the way out (unset `CLAWINIT_USER`: the children then run as this uid).
    pub fn resolve(spec: &str) -> Result<Account, Failure> {
        let account = Self::resolve_in(spec, Path::new("/etc/passwd"), Path::new("/etc/group"))?;
        switchable(spec, &account, nix::unistd::geteuid())?;
        if nix::unistd::geteuid().is_root() {
            capable(spec, &account, &crate::capabilities::missing_here())?;
        }
        Ok(account)
    }

    fn resolve_in(spec: &str, passwd: &Path, group: &Path) -> Result<Account, Failure> {
        let (user_part, group_part) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        if user_part.is_empty() || group_part == Some("") {
            return Err(usage("expected name, uid, name:group or uid:gid".into()));
        }
        let users = read_passwd(passwd);
        let groups = read_group(group);
        let numeric = user_part.parse::<u32>().ok();
        let user = users.iter().find(|u| match numeric {
            Some(n) => u.uid == n,
            None => u.name == user_part,
        });
        let uid = match (user, numeric) {
            (Some(u), _) => u.uid,
            (None, Some(n)) => n,
            (None, None) => return Err(usage(format!("no user named {user_part} in {}", passwd.display()))),
        };
        let gid = match group_part {
            Some(g) => match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => groups
                    .iter()
                    .find(|e| e.name == g)
                    .map(|e| e.gid)
                    .ok_or_else(|| usage(format!("no group named {g} in {}", group.display())))?,
            },
            None => user.map_or(uid, |u| u.gid),
        };
        reject_no_change("uid", uid)?;
        reject_no_change("gid", gid)?;
        let mut supplementary = vec![gid];
        if let Some(u) = user {
            for g in groups.iter().filter(|g| g.members.contains(&u.name)) {
                reject_no_change(&format!("group {}: gid", g.name), g.gid)?;
                if !supplementary.contains(&g.gid) {
                    supplementary.push(g.gid);
                }
            }
        }
        Ok(Account {
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
            groups: supplementary.into_iter().map(Gid::from_raw).collect(),
            home: user.map_or_else(|| PathBuf::from("/"), |u| PathBuf::from(&u.home)),
        })
    }
}

/// Only root can switch to `account`; without root even "switching" to
/// one's own uid fails (`setgroups` needs CAP_SETGID).
fn switchable(spec: &str, account: &Account, euid: Uid) -> Result<(), Failure> {
    if euid.is_root() {
        return Ok(());
    }
    Err(usage(format!(
        "clawinit runs as uid {euid}, not root, so it cannot switch to {spec} (uid {}); start the container as \
         root, or set CLAWINIT_USER= (empty) to run the gateway and the worker as uid {euid}",
        account.uid
    )))
}

/// Root in a hardened container may lack what the hand-over needs; without
/// this the start would end in a raw EPERM from a chown or `setgroups`.
fn capable(spec: &str, account: &Account, missing: &[String]) -> Result<(), Failure> {
    if missing.is_empty() {
        return Ok(());
    }
    let add: Vec<String> = missing.iter().map(|c| c.trim_start_matches("cap_").to_ascii_uppercase()).collect();
    Err(usage(format!(
        "clawinit runs as root without {}, which switching to {spec} (uid {}) needs; add {} to the container's \
         capabilities (README \"Hardened containers\"), or set CLAWINIT_USER= (empty) to run the children as root",
        missing.join(", "),
        account.uid,
        add.join(", ")
    )))
}

/// (uid_t)-1 and (gid_t)-1 mean "leave unchanged" to setuid, setgid and
/// chown: a child would keep root, a chown would do nothing (the kernel
/// rejects it as a setuid target, so the exec failed only after the config was
/// written). Refused while nothing is written yet.
const NO_CHANGE: u32 = u32::MAX;

fn reject_no_change(what: &str, id: u32) -> Result<(), Failure> {
    if id == NO_CHANGE {
        return Err(usage(format!("{what} {id} is -1, which means \"no change\" to setuid and chown")));
    }
    Ok(())
}

fn lines(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').map(String::from).collect())
        .collect()
}

fn read_passwd(path: &Path) -> Vec<PasswdEntry> {
    lines(path)
        .into_iter()
        .filter_map(|f| {
            let [name, _, uid, gid, _, home, ..] = f.as_slice() else { return None };
            Some(PasswdEntry { name: name.clone(), uid: uid.parse().ok()?, gid: gid.parse().ok()?, home: home.clone() })
        })
        .collect()
}

fn read_group(path: &Path) -> Vec<GroupEntry> {
    lines(path)
        .into_iter()
        .filter_map(|f| {
            let [name, _, gid, rest @ ..] = f.as_slice() else { return None };
            let members = rest.first().map(|m| m.split(',').filter(|s| !s.is_empty()).map(String::from).collect());
            Some(GroupEntry { name: name.clone(), gid: gid.parse().ok()?, members: members.unwrap_or_default() })
        })
        .collect()
}

fn usage(what: String) -> Failure {
    Failure::new(Exit::Usage, format!("{VAR}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> (tempdir::Dir, PathBuf, PathBuf) {
        let dir = tempdir::Dir::new();
        let passwd = dir.0.join("passwd");
        let group = dir.0.join("group");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\n# comment\nnode:x:1000:1000::/home/node:/bin/sh\nbroken:line\n",
        )
        .unwrap();
        std::fs::write(&group, "root:x:0:\nnode:x:1000:\ndocker:x:999:node,other\naudio:x:29:node\n").unwrap();
        (dir, passwd, group)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let p = std::env::temp_dir().join(format!("clawinit-account-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn the_gosu_matrix() {
        let (_dir, passwd, group) = files();
        let resolve = |spec: &str| Account::resolve_in(spec, &passwd, &group);
        let node = resolve("node").unwrap();
        assert_eq!((node.uid.as_raw(), node.gid.as_raw()), (1000, 1000));
        assert_eq!(node.groups.iter().map(|g| g.as_raw()).collect::<Vec<_>>(), [1000, 999, 29]);
        assert_eq!(node.home, PathBuf::from("/home/node"));
        assert_eq!(resolve("1000").unwrap(), node, "a known uid is the named user");
        let root = resolve("0:0").unwrap();
        assert_eq!((root.uid.as_raw(), root.gid.as_raw(), root.home.clone()), (0, 0, PathBuf::from("/root")));
        assert_eq!(resolve("node:docker").unwrap().gid.as_raw(), 999);
        let numeric = resolve("4242:4343").unwrap();
        assert_eq!((numeric.uid.as_raw(), numeric.gid.as_raw(), numeric.home), (4242, 4343, PathBuf::from("/")));
        assert_eq!(numeric.groups, [Gid::from_raw(4343)]);
    }

    #[test]
    fn uid_or_gid_minus_one_is_a_usage_error_naming_the_variable() {
        let (_dir, passwd, group) = files();
        let users =
            ["ghost:x:4294967295:0::/:/bin/sh", "odd:x:1001:4294967295::/:/bin/sh", "member:x:1002:1002::/:/bin/sh"];
        std::fs::write(&passwd, users.join("\n")).unwrap();
        std::fs::write(&group, "minus:x:4294967295:member\n").unwrap();
        for spec in ["4294967295", "4294967295:0", "0:4294967295", "ghost", "odd", "0:minus", "member"] {
            let err = Account::resolve_in(spec, &passwd, &group).unwrap_err();
            assert_eq!(err.exit, Exit::Usage, "{spec}");
            assert!(err.message.starts_with("CLAWINIT_USER: "), "{}", err.message);
        }
        assert!(Account::resolve_in("4294967294:4294967294", &passwd, &group).is_ok(), "the largest real ids");
    }

    #[test]
    fn only_root_can_switch_users_and_others_get_a_usage_error_saying_what_to_do() {
        let (_dir, passwd, group) = files();
        let node = Account::resolve_in("node", &passwd, &group).unwrap();
        assert!(switchable("node", &node, Uid::from_raw(0)).is_ok());
        for euid in [12345, 1000] {
            let err = switchable("node", &node, Uid::from_raw(euid)).unwrap_err();
            assert_eq!(err.exit, Exit::Usage, "uid {euid}");
            assert!(err.message.starts_with("CLAWINIT_USER: "), "{}", err.message);
            assert!(err.message.contains(&format!("runs as uid {euid}")), "{}", err.message);
            assert!(err.message.contains("CLAWINIT_USER= (empty)"), "{}", err.message);
        }
    }

    #[test]
    fn root_without_a_needed_capability_gets_one_line_naming_it() {
        let (_dir, passwd, group) = files();
        let node = Account::resolve_in("node", &passwd, &group).unwrap();
        assert!(capable("node", &node, &[]).is_ok());
        let err = capable("node", &node, &["cap_setuid".into()]).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(!err.message.contains('\n'), "one line: {}", err.message);
        assert!(err.message.starts_with("CLAWINIT_USER: clawinit runs as root without cap_setuid,"), "{}", err.message);
        assert!(err.message.contains("add SETUID "), "{}", err.message);
        let err = capable("node", &node, &["cap_chown".into(), "cap_setgid".into()]).unwrap_err();
        assert!(err.message.contains("without cap_chown, cap_setgid,") && err.message.contains("add CHOWN, SETGID "));
    }

    #[test]
    fn unknown_names_are_usage_errors_naming_the_variable() {
        let (_dir, passwd, group) = files();
        for spec in ["nobody-here", "node:nogroup-here", "", ":1", "node:"] {
            let err = Account::resolve_in(spec, &passwd, &group).unwrap_err();
            assert_eq!(err.exit, Exit::Usage, "{spec}");
            assert!(err.message.starts_with("CLAWINIT_USER: "), "{}", err.message);
        }
    }
}
