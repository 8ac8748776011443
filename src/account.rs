//! `CLAWINIT_USER`: the account the children run as, resolved like gosu
//! does (`name`, `uid`, `name:group`, `uid:gid`; a numeric uid need not
//! exist in /etc/passwd). clawinit's own files are chowned to it.

use std::ffi::CString;
use std::path::PathBuf;

use nix::unistd::{Gid, Group, Uid, User};

use crate::exit::{Exit, Failure};

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups (from /etc/group for a named user).
    pub groups: Vec<Gid>,
    pub home: PathBuf,
}

const VAR: &str = "CLAWINIT_USER";

impl Account {
    pub fn resolve(spec: &str) -> Result<Account, Failure> {
        let (user_part, group_part) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let user = lookup_user(user_part)?;
        let uid = match (&user, user_part.parse::<u32>()) {
            (Some(u), _) => u.uid,
            (None, Ok(n)) => Uid::from_raw(n),
            (None, Err(_)) => return Err(usage(format!("no user named {user_part}"))),
        };
        let gid = match group_part {
            Some(g) => lookup_group(g)?,
            None => user.as_ref().map_or(Gid::from_raw(uid.as_raw()), |u| u.gid),
        };
        let groups = match &user {
            Some(u) => supplementary_groups(&u.name, gid)?,
            None => Vec::new(),
        };
        let home = user.map_or_else(|| PathBuf::from("/"), |u| u.dir);
        Ok(Account { uid, gid, groups, home })
    }
}

fn lookup_user(part: &str) -> Result<Option<User>, Failure> {
    if part.is_empty() {
        return Err(usage("the user is empty".into()));
    }
    let found = match part.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)),
        Err(_) => User::from_name(part),
    };
    found.map_err(|e| usage(format!("cannot look up user {part}: {e}")))
}

fn lookup_group(part: &str) -> Result<Gid, Failure> {
    if let Ok(n) = part.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(part) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(usage(format!("no group named {part}"))),
        Err(e) => Err(usage(format!("cannot look up group {part}: {e}"))),
    }
}

fn supplementary_groups(name: &str, gid: Gid) -> Result<Vec<Gid>, Failure> {
    let name = CString::new(name).map_err(|_| usage("the user name contains NUL".into()))?;
    nix::unistd::getgrouplist(&name, gid).map_err(|e| usage(format!("cannot list the groups of the user: {e}")))
}

fn usage(what: String) -> Failure {
    Failure::new(Exit::Usage, format!("{VAR}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_numbers_and_groups() {
        let root = Account::resolve("root").unwrap();
        assert_eq!((root.uid.as_raw(), root.gid.as_raw()), (0, 0));
        assert_eq!(root.home, PathBuf::from("/root"));
        let numeric = Account::resolve("4242:4343").unwrap();
        assert_eq!((numeric.uid.as_raw(), numeric.gid.as_raw()), (4242, 4343));
        assert_eq!(numeric.home, PathBuf::from("/"));
        assert_eq!(Account::resolve("0:root").unwrap().gid.as_raw(), 0);
    }

    #[test]
    fn unknown_names_are_usage_errors_naming_the_variable() {
        for spec in ["no-such-user-here", "root:no-such-group-here", ""] {
            let err = Account::resolve(spec).unwrap_err();
            assert_eq!(err.exit, Exit::Usage);
            assert!(err.message.starts_with("CLAWINIT_USER: "), "{}", err.message);
        }
    }
}
