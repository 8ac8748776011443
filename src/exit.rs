//! The exit codes of the contract (`docs/contract.md`), in one place.

use std::fmt;

/// Why clawinit stopped. Child exit codes and signal deaths pass through as
/// [`Exit::Child`]; everything else is one of the contract's fixed codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The code of the child whose exit ended the run (128+N for a signal death).
    Child(u8),
    /// 64: bad flag or bad setting value.
    Usage,
    /// 65: secrets file malformed, unparseable, or uses an unsupported feature.
    SecretsMalformed,
    /// 66: secrets file configured but missing or unreadable.
    SecretsMissing,
    /// 67: no identity can decrypt the data key.
    NoIdentity,
    /// 68: a value's tag or the MAC does not verify.
    Integrity,
    /// 69: the gateway was not ready within the timeout.
    NotReady,
    /// 70: internal error (a bug), or a command that is not available yet.
    Internal,
    /// 78: openclaw.json problem.
    Config,
    /// 126: command found but not executable.
    NotExecutable,
    /// 127: command not found.
    NotFound,
}

impl Exit {
    /// The exit code for a child that died of signal `signo`.
    pub fn signaled(signo: i32) -> Exit {
        Exit::Child((128 + signo).clamp(0, 255) as u8)
    }
}

impl From<Exit> for i32 {
    fn from(exit: Exit) -> i32 {
        match exit {
            Exit::Child(code) => i32::from(code),
            Exit::Usage => 64,
            Exit::SecretsMalformed => 65,
            Exit::SecretsMissing => 66,
            Exit::NoIdentity => 67,
            Exit::Integrity => 68,
            Exit::NotReady => 69,
            Exit::Internal => 70,
            Exit::Config => 78,
            Exit::NotExecutable => 126,
            Exit::NotFound => 127,
        }
    }
}

/// A failure that ends the run: the code to exit with and one line for the user.
/// The message names files, variables and JSON paths, never a secret value.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure { exit, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_contract() {
        let table = [
            (Exit::Usage, 64),
            (Exit::SecretsMalformed, 65),
            (Exit::SecretsMissing, 66),
            (Exit::NoIdentity, 67),
            (Exit::Integrity, 68),
            (Exit::NotReady, 69),
            (Exit::Internal, 70),
            (Exit::Config, 78),
            (Exit::NotExecutable, 126),
            (Exit::NotFound, 127),
            (Exit::Child(3), 3),
        ];
        for (exit, code) in table {
            assert_eq!(i32::from(exit), code, "{exit:?}");
        }
    }

    #[test]
    fn signal_deaths_are_128_plus_n() {
        assert_eq!(i32::from(Exit::signaled(15)), 143);
        assert_eq!(i32::from(Exit::signaled(9)), 137);
    }
}
