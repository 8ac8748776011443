//! Where age identities come from, merged like sops 3.11 (`age/keysource.go`):
//! every source that exists is loaded and the union is tried. A source that
//! fails to load is remembered and reported only if nothing decrypts. Never
//! prompts: passphrase-protected keys are reported as unsupported.

use std::io::{Cursor, Read};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;

use crate::files::{self, FileError, KEY_FILE_LIMIT};
use crate::interrupt;
use crate::names;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use zeroize::Zeroizing;

/// The identity-related environment, read once. Empty variables count as unset.
#[derive(Clone)]
pub struct IdentitySources {
    pub age_key: Option<Zeroizing<String>>,
    pub age_key_file: Option<PathBuf>,
    pub age_key_cmd: Option<String>,
    pub ssh_key_file: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    /// How long `SOPS_AGE_KEY_CMD` may run (`CLAWINIT_KEY_CMD_TIMEOUT`).
    pub key_cmd_timeout: Duration,
}

/// `CLAWINIT_KEY_CMD_TIMEOUT`'s default.
pub const KEY_CMD_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for IdentitySources {
    fn default() -> Self {
        IdentitySources {
            age_key: None,
            age_key_file: None,
            age_key_cmd: None,
            ssh_key_file: None,
            home: None,
            xdg_config_home: None,
            key_cmd_timeout: KEY_CMD_TIMEOUT,
        }
    }
}

/// Variables that carry identities; removed from every child's environment.
pub const IDENTITY_VARIABLE_PREFIX: &str = "SOPS_AGE_";

impl IdentitySources {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let path = |name: &str| var(name).map(PathBuf::from);
        IdentitySources {
            age_key: var(names::SOPS_AGE_KEY).map(|v| Zeroizing::new(v.to_string_lossy().into_owned())),
            age_key_file: path(names::SOPS_AGE_KEY_FILE),
            age_key_cmd: var(names::SOPS_AGE_KEY_CMD).map(|v| v.to_string_lossy().into_owned()),
            ssh_key_file: path(names::SOPS_AGE_SSH_PRIVATE_KEY_FILE),
            home: path("HOME"),
            // Go's os.UserConfigDir ignores a relative XDG_CONFIG_HOME.
            xdg_config_home: path("XDG_CONFIG_HOME").filter(|p| p.is_absolute()),
            key_cmd_timeout: KEY_CMD_TIMEOUT,
        }
    }

    /// Every file an identity may be read from: a secrets dir that holds
    /// one must not pass it to the children as a variable.
    pub fn files(&self) -> Vec<PathBuf> {
        let ssh = self.home.iter().flat_map(|h| ["id_ed25519", "id_rsa"].map(|n| h.join(".ssh").join(n)));
        let named = [self.age_key_file.clone(), self.ssh_key_file.clone(), self.default_keys_file()];
        named.into_iter().flatten().chain(ssh).collect()
    }

    fn default_keys_file(&self) -> Option<PathBuf> {
        let config = self.xdg_config_home.clone().or_else(|| self.home.as_ref().map(|h| h.join(".config")))?;
        Some(config.join("sops/age/keys.txt"))
    }
}

/// The loaded identities, what was tried, and what could not be loaded.
#[derive(Default)]
pub struct Identities {
    pub keys: Vec<Key>,
    /// Sources that yielded at least one identity, and which of `keys` each gave.
    loaded: Vec<(String, std::ops::Range<usize>)>,
    /// One line per source that failed, naming the source, never its content.
    pub problems: Vec<String>,
}

/// One identity, kept by kind so its public recipient can be named later.
pub enum Key {
    Age(age::x25519::Identity),
    Ssh(age::ssh::Identity),
}

impl Key {
    pub fn as_identity(&self) -> &dyn age::Identity {
        match self {
            Key::Age(key) => key,
            Key::Ssh(key) => key,
        }
    }
}

impl Identities {
    /// The sources that yielded identities, each with the public recipient of
    /// its age identities: `SOPS_AGE_KEY_FILE (/keys.txt): age1...`, so a 67
    /// can say "the file is for X, you have Y" (a recipient is public, the key
    /// is never shown). Derived only for that message: a derivation is a
    /// scalar multiplication, a sixth of a 10-key decrypt's instructions.
    pub fn loaded(&self) -> Vec<String> {
        let describe = |(label, range): &(String, std::ops::Range<usize>)| {
            let recipients: Vec<String> = self.keys[range.clone()]
                .iter()
                .filter_map(|key| match key {
                    Key::Age(key) => Some(key.to_public().to_string()),
                    Key::Ssh(_) => None,
                })
                .collect();
            match recipients.is_empty() {
                true => label.clone(),
                false => format!("{label}: {}", recipients.join(", ")),
            }
        };
        self.loaded.iter().map(describe).collect()
    }

    pub fn load(sources: &IdentitySources) -> Identities {
        let mut ids = Identities::default();
        if let Some(file) = &sources.ssh_key_file {
            ids.ssh_file(&format!("SOPS_AGE_SSH_PRIVATE_KEY_FILE ({})", file.display()), file, true);
        }
        if let Some(home) = &sources.home {
            for name in ["id_ed25519", "id_rsa"] {
                let file = home.join(".ssh").join(name);
                ids.ssh_file(&file.display().to_string(), &file, false);
            }
        }
        if let Some(text) = &sources.age_key {
            ids.age_text(names::SOPS_AGE_KEY, text.as_bytes());
        }
        if let Some(file) = &sources.age_key_file {
            let label = format!("SOPS_AGE_KEY_FILE ({})", file.display());
            match read_secret(file) {
                Ok(text) => ids.age_text(&label, &text),
                Err(e) => ids.problems.push(format!("{label}: {e}")),
            }
        }
        if let Some(cmd) = &sources.age_key_cmd {
            match run_key_cmd(cmd, sources.key_cmd_timeout) {
                Ok(text) => ids.age_text(names::SOPS_AGE_KEY_CMD, &text),
                Err(e) => ids.problems.push(format!("SOPS_AGE_KEY_CMD: {e}")),
            }
        }
        if let Some(file) = sources.default_keys_file() {
            match read_secret(&file) {
                Ok(text) => ids.age_text(&file.display().to_string(), &text),
                Err(FileError::NotFound) => {}
                Err(e) => ids.problems.push(format!("{}: {e}", file.display())),
            }
        }
        ids
    }

    fn age_text(&mut self, label: &str, text: &[u8]) {
        match parse_age_identities(text) {
            Ok(keys) if keys.is_empty() => self.problems.push(format!("{label}: contains no identity")),
            Ok(keys) => {
                let first = self.keys.len();
                self.keys.extend(keys.into_iter().map(Key::Age));
                self.loaded.push((label.to_string(), first..self.keys.len()));
            }
            Err(e) => self.problems.push(format!("{label}: {e}")),
        }
    }

    fn ssh_file(&mut self, label: &str, path: &Path, required: bool) {
        let bytes = match read_secret(path) {
            Ok(bytes) => bytes,
            Err(FileError::NotFound) if !required => return,
            Err(e) => return self.problems.push(format!("{label}: {e}")),
        };
        match age::ssh::Identity::from_buffer(Cursor::new(&bytes[..]), Some(path.display().to_string())) {
            Ok(identity @ age::ssh::Identity::Unencrypted(_)) => {
                self.keys.push(Key::Ssh(identity));
                self.loaded.push((label.to_string(), self.keys.len() - 1..self.keys.len()));
            }
            Ok(age::ssh::Identity::Encrypted(_)) => self
                .problems
                .push(format!("{label}: passphrase-protected SSH keys are unsupported (clawinit never prompts)")),
            Ok(age::ssh::Identity::Unsupported(_)) => self.problems.push(format!("{label}: unsupported SSH key type")),
            Err(_) => self.problems.push(format!("{label}: not an OpenSSH private key")),
        }
    }
}

fn read_secret(path: &Path) -> Result<Zeroizing<Vec<u8>>, FileError> {
    files::read(path, KEY_FILE_LIMIT)
}

/// sops's `parseIdentities`: line by line, `#` comments and blank lines skipped,
/// every other line an `AGE-SECRET-KEY-1…`; one bad line fails the whole source.
fn parse_age_identities(text: &[u8]) -> Result<Vec<age::x25519::Identity>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "not a text identity file".to_string())?;
    if text.starts_with("age-encryption") || text.starts_with("-----BEGIN AGE") {
        return Err("passphrase-protected identity files are unsupported (clawinit never prompts)".into());
    }
    let mut keys = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("AGE-PLUGIN-") {
            return Err(format!("line {}: age plugin identities are unsupported", i + 1));
        }
        if !line.starts_with("AGE-SECRET-KEY-1") {
            return Err(format!("line {}: not an age identity (unknown identity type)", i + 1));
        }
        let key =
            line.parse::<age::x25519::Identity>().map_err(|_| format!("line {}: malformed age identity", i + 1))?;
        keys.push(key);
    }
    Ok(keys)
}

/// Run `SOPS_AGE_KEY_CMD`, split with shell-like rules and executed without a
/// shell (as sops does); its stdout holds identities. Unlike sops it is
/// bounded: the timeout, the output size, and a stop request end it, and its
/// whole process group is killed afterwards, so nothing it started in the
/// background outlives it holding clawinit's environment.
fn run_key_cmd(cmd: &str, timeout: Duration) -> Result<Zeroizing<Vec<u8>>, String> {
    let argv = shlex::split(cmd).ok_or("unbalanced quotes")?;
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let mut child = Command::new(program);
    child.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).process_group(0);
    // SAFETY: the hook only calls setrlimit, which is async-signal-safe.
    unsafe {
        child.pre_exec(|| {
            crate::hardening::restore_core_limit();
            Ok(())
        })
    };
    let mut child = child.spawn().map_err(|e| format!("cannot run {program}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let stdout = child.stdout.take().expect("stdout is piped");
    let result = collect_output(stdout, deadline, timeout)
        .and_then(|out| wait_exit(&mut child, deadline, timeout).map(|s| (out, s)));
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
    let (stdout, status) = result?;
    if !status.success() {
        return Err(format!("{program} failed ({status})"));
    }
    Ok(stdout)
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {} s (CLAWINIT_KEY_CMD_TIMEOUT)", timeout.as_secs())
}

/// Read the command's stdout to its end, at most `KEY_FILE_LIMIT` bytes.
fn collect_output(mut stdout: ChildStdout, deadline: Instant, timeout: Duration) -> Result<Zeroizing<Vec<u8>>, String> {
    let stop = interrupt::watch();
    let mut out = Zeroizing::new(Vec::new());
    let mut chunk = Zeroizing::new([0u8; 4096]);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(timeout));
        }
        let mut fds = vec![PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
        fds.extend(stop.as_ref().map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN)));
        let wait = PollTimeout::try_from(left.as_millis().min(60_000) as i32 + 1).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, wait) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        if fds.get(1).and_then(PollFd::revents).is_some_and(|r| !r.is_empty()) {
            return Err("interrupted by a stop request".into());
        }
        let n = stdout.read(&mut chunk[..]).map_err(|e| format!("reading its output: {e}"))?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() as u64 > KEY_FILE_LIMIT {
            return Err(format!("its output is larger than {} MiB", KEY_FILE_LIMIT >> 20));
        }
    }
}

/// Wait for the command to exit (it closed its stdout), within the deadline.
fn wait_exit(child: &mut Child, deadline: Instant, timeout: Duration) -> Result<ExitStatus, String> {
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            return Err(timed_out(timeout));
        }
        if interrupt::pending().is_some() {
            return Err("interrupted by a stop request".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AGE-SECRET-KEY-15GHM8HS4FJ2CCMRYGX0XZPL6MGJ25Z6005RE48Z2DKY9YE20886SQ3JATA";

    #[test]
    fn parses_like_sops() {
        let text = format!("# created: today\r\n# public key: age1...\r\n{KEY}\r\n\n");
        assert_eq!(parse_age_identities(text.as_bytes()).unwrap().len(), 1);
        let err = parse_age_identities(format!("{KEY}\nnot a key\n").as_bytes()).err().unwrap();
        assert_eq!(err, "line 2: not an age identity (unknown identity type)");
        assert!(parse_age_identities(b"AGE-PLUGIN-YUBIKEY-1XYZ\n").err().unwrap().contains("plugin"));
        assert!(parse_age_identities(b"-----BEGIN AGE ENCRYPTED FILE-----\n").err().unwrap().contains("passphrase"));
        assert!(parse_age_identities(b"AGE-SECRET-KEY-1NOTBECH32\n").err().unwrap().contains("malformed"));
    }

    #[test]
    fn default_keys_file_honours_xdg() {
        let mut s = IdentitySources { home: Some("/home/u".into()), ..Default::default() };
        assert_eq!(s.default_keys_file().unwrap(), PathBuf::from("/home/u/.config/sops/age/keys.txt"));
        s.xdg_config_home = Some("/xdg".into());
        assert_eq!(s.default_keys_file().unwrap(), PathBuf::from("/xdg/sops/age/keys.txt"));
    }
}
