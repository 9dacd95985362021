//! The server process and its whole process tree.
//!
//! The server starts in a process group of its own, so one `kill(-pgid)`
//! reaches every process it forks (`npx` → `npm exec` → `sh` → `node`). We are
//! also a *child subreaper*: a descendant that double-forks or `setsid`s out
//! of the group is re-parented to us when its parent dies, so the final
//! [`sweep`] can still find and end it. The direct child additionally gets
//! `PR_SET_PDEATHSIG(SIGKILL)`, so even a `kill -9` of the proxy does not leave
//! it running.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};

use audit_core::handoff::ChildExit;

/// The spawned server.
pub struct Server {
    pub child: Child,
    pub pid: i32,
    pub stdin: File,
    pub stdout: File,
}

/// Why the server could not be started, with the status a shell would give.
#[derive(Debug)]
pub struct SpawnError {
    pub program: String,
    pub source: io::Error,
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source.kind() {
            io::ErrorKind::NotFound => write!(
                f,
                "cannot start server `{}`: command not found",
                self.program
            ),
            io::ErrorKind::PermissionDenied => {
                write!(
                    f,
                    "cannot start server `{}`: permission denied (not executable?)",
                    self.program
                )
            }
            _ => write!(f, "cannot start server `{}`: {}", self.program, self.source),
        }
    }
}

impl SpawnError {
    /// 127 for a missing command, 126 for one that cannot be executed, as a shell does.
    pub fn exit_status(&self) -> i32 {
        match self.source.kind() {
            io::ErrorKind::NotFound => 127,
            _ => 126,
        }
    }
}

/// Makes this process a child subreaper and asks for `signal` when our parent dies.
pub fn watch_parent(signal: i32) {
    // SAFETY: plain prctl calls with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0);
    }
}

/// Starts `command` with our environment and working directory, stdin and
/// stdout piped to us, stderr passed through untouched.
pub fn spawn(command: &[String]) -> Result<Server, SpawnError> {
    let program = command[0].clone();
    let mut cmd = Command::new(&program);
    cmd.args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|source| SpawnError { program, source })?;
    let stdin = File::from(std::os::fd::OwnedFd::from(
        child.stdin.take().expect("piped stdin"),
    ));
    let stdout = File::from(std::os::fd::OwnedFd::from(
        child.stdout.take().expect("piped stdout"),
    ));
    let pid = child.id() as i32;
    Ok(Server {
        child,
        pid,
        stdin,
        stdout,
    })
}

/// Sends `signal` to the server's whole process group. False if nobody is left.
pub fn signal_group(pgid: i32, signal: i32) -> bool {
    // SAFETY: kill with a negative pid signals the group; no memory involved.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// SIGKILLs the group, then every process re-parented to us (descendants that
/// left the group), and reaps them. Returns how many stragglers it killed.
pub fn sweep(pgid: i32) -> usize {
    signal_group(pgid, libc::SIGKILL);
    let mut killed = 0;
    // Each round may re-parent grandchildren of the ones just killed to us.
    for _ in 0..8 {
        let orphans = children_of(std::process::id() as i32);
        if orphans.is_empty() {
            break;
        }
        for pid in orphans {
            // SAFETY: signalling and reaping our own children.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            killed += 1;
        }
    }
    reap_zombies();
    killed
}

/// Reaps any exited children without waiting.
pub fn reap_zombies() {
    // SAFETY: non-blocking waitpid on any child.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}

/// Pids whose parent is `ppid`, from /proc.
fn children_of(ppid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| parent_of(*pid) == Some(ppid))
        .collect()
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: skip past it.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

/// How the server ended.
pub fn exit_of(status: ExitStatus) -> ChildExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ChildExit::Code(code),
        (None, Some(sig)) => ChildExit::Signal(sig),
        _ => ChildExit::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_command_maps_to_127() {
        let err = spawn(&["/nonexistent/definitely-not-here".into()])
            .err()
            .unwrap();
        assert_eq!(err.exit_status(), 127);
        assert!(err.to_string().contains("command not found"), "{err}");
    }

    #[test]
    fn exit_status_of_a_signalled_child() {
        let mut s = spawn(&["sh".into(), "-c".into(), "kill -9 $$".into()]).unwrap();
        let status = s.child.wait().unwrap();
        assert_eq!(exit_of(status), ChildExit::Signal(9));
        assert_eq!(exit_of(status).shell_status(), 137);
    }

    #[test]
    fn parent_of_reads_proc_stat() {
        let me = std::process::id() as i32;
        let s = spawn(&["cat".into()]).unwrap();
        assert_eq!(parent_of(s.pid), Some(me));
        signal_group(s.pid, libc::SIGKILL);
        let mut s = s;
        s.child.wait().unwrap();
    }
}
