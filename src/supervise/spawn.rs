//! Start one child (its command resolved by `start::command`): fork, put the child in its own
//! process group, restore the signal state PID 1 inherited, execve. An exec
//! failure comes back over a close-on-exec pipe as 126/127 with one line.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, getpid, pipe2, read, setpgid, tcsetpgrp, write, ForkResult, Pid};

use super::pid1::Pid1;
use crate::account::Account;
use crate::environment::ChildEnv;
use crate::exit::{Exit, Failure};

/// Everything the forked child needs, prepared before the fork so the child
/// only makes async-signal-safe calls.
struct ExecPlan<'a> {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<zeroize::Zeroizing<Vec<u8>>>,
    workdir: std::os::fd::RawFd,
    user: Option<&'a Account>,
    pid1: &'a Pid1,
}

/// Fork and exec `program`: own process group, the signal state clawinit
/// inherited, clawinit's start directory (by handle), no fds beyond 0/1/2, and the
/// privileges of `user` when given.
pub fn spawn(
    program: &Path,
    argv: &[OsString],
    env: &ChildEnv,
    user: Option<&Account>,
    pid1: &Pid1,
) -> Result<Pid, Failure> {
    let shown = program.display().to_string();
    let internal = |what: &str, e: Errno| Failure::new(Exit::Internal, format!("{shown}: {what}: {e}"));
    let cstring = |s: &OsStr| {
        CString::new(s.as_bytes())
            .map_err(|_| Failure::new(Exit::Usage, format!("{shown}: argument contains a NUL byte")))
    };
    let plan = ExecPlan {
        path: cstring(program.as_os_str())?,
        argv: argv.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?,
        envp: env.to_envp(),
        workdir: pid1.workdir.raw_fd(),
        user,
        pid1,
    };
    // to_envp ends every entry with one NUL; should it not, this is a failure
    // to report, not a panic (the gateway may already run).
    let envp: Vec<&CStr> =
        plan.envp.iter().map(|e| CStr::from_bytes_with_nul(e)).collect::<Result<_, _>>().map_err(|_| {
            Failure::new(Exit::Internal, format!("{shown}: an environment entry is not NUL-terminated"))
        })?;
    let exec = ExecArrays::new(&plan.argv, &envp);

    // A start directory that was removed fails the start, as a chdir by
    // path would: the child never runs in a directory nobody can see.
    if let Some(why) = pid1.workdir.gone() {
        return Err(Failure::new(Exit::NotFound, format!("{shown}: {why}")));
    }
    let (err_read, err_write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| internal("pipe", e))?;
    // SAFETY: the child only makes async-signal-safe calls (setpgid,
    // tcsetpgrp, sigaction, sigprocmask, setrlimit, fchdir, fcntl,
    // setgroups/setgid/setuid, execve, write, _exit) on memory prepared
    // before the fork, so the status thread cannot have left a lock held.
    match unsafe { fork() }.map_err(|e| internal("fork", e))? {
        ForkResult::Child => {
            drop(err_read);
            let errno = exec_child(&plan, &exec);
            let _ = write(&err_write, &(errno as i32).to_ne_bytes());
            // SAFETY: _exit skips atexit handlers and destructors the parent owns.
            unsafe { nix::libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            drop(err_write);
            let mut buf = [0u8; 4];
            let n = loop {
                match read(&err_read, &mut buf) {
                    Err(Errno::EINTR) => continue,
                    other => break other.unwrap_or(0),
                }
            };
            if n == 4 {
                let _ = waitpid(child, None);
                let errno = Errno::from_raw(i32::from_ne_bytes(buf));
                let exit = match errno {
                    Errno::ENOENT => Exit::NotFound,
                    Errno::EPERM if user.is_some() => Exit::Usage,
                    _ => Exit::NotExecutable,
                };
                return Err(Failure::new(exit, format!("{shown}: cannot execute: {}", errno.desc())));
            }
            Ok(child)
        }
    }
}

/// `execve`'s argument and environment arrays, built before the fork: the
/// child allocates nothing (another thread may hold the allocator's lock).
struct ExecArrays {
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

impl ExecArrays {
    fn new(argv: &[CString], envp: &[&CStr]) -> ExecArrays {
        let terminated = |ptrs: Vec<*const libc::c_char>| ptrs.into_iter().chain([std::ptr::null()]).collect();
        ExecArrays {
            argv: terminated(argv.iter().map(|a| a.as_ptr()).collect()),
            envp: terminated(envp.iter().map(|e| e.as_ptr()).collect()),
        }
    }
}

/// In the forked child: isolate, restore, drop privileges, exec. Returns
/// only on failure.
fn exec_child(plan: &ExecPlan, exec: &ExecArrays) -> Errno {
    // Own process group, so signals reach the child's whole tree; hand it the
    // terminal if there is one (as tini does), while TTOU is ignored.
    let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // SAFETY: fd 0 is only borrowed for the call (std's `stdin()` would
    // allocate its buffer here, after the fork).
    let _ = tcsetpgrp(unsafe { BorrowedFd::borrow_raw(0) }, getpid());
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for signal in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        let action = if plan.pid1.inherited_ignored.contains(signal) { &ignore } else { &default };
        // SAFETY: SIG_DFL and SIG_IGN install no handler code.
        let _ = unsafe { sigaction(signal, action) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&plan.pid1.inherited_mask), None);
    crate::hardening::restore_core_limit();
    // The start directory by its handle, not its path (see `workdir`).
    // SAFETY: fchdir on a descriptor that stays open until the exec.
    if unsafe { libc::fchdir(plan.workdir) } != 0 {
        return Errno::last();
    }
    close_inherited_fds();
    if let Some(user) = plan.user {
        if let Err(e) = drop_privileges(user) {
            return e;
        }
    }
    // SAFETY: NUL-terminated arrays of pointers into `plan`, built before the fork.
    unsafe { libc::execve(plan.path.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr()) };
    Errno::last()
}

/// Mark every fd above 2 close-on-exec (the error pipe is already), so the
/// child starts with 0, 1 and 2 only, whatever clawinit's launcher leaked.
fn close_inherited_fds() {
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        // Kernels before 5.11: walk the fd table up to the soft limit.
        // SAFETY: getrlimit/fcntl on plain integers.
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            limit.rlim_cur.min(65536) as i32
        } else {
            1024
        };
        for fd in 3..max {
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// gosu's order: supplementary groups, then gid, then uid (after which the
/// first two are no longer permitted).
fn drop_privileges(user: &Account) -> Result<(), Errno> {
    nix::unistd::setgroups(&user.groups)?;
    nix::unistd::setgid(user.gid)?;
    nix::unistd::setuid(user.uid)
}
