//! The server process and its whole process tree.
//!
//! The server starts in a process group of its own, so one `kill(-pgid)`
//! reaches every process it forks (`npx` → `npm exec` → `sh` → `node`). We are
//! also a *child subreaper*: a descendant that double-forks or `setsid`s out
//! of the group is re-parented to us when its parent dies, so the final
//! [`sweep`] can still find and end it. The direct child additionally gets
//! `PR_SET_PDEATHSIG(SIGKILL)`, so even a `kill -9` of the proxy does not leave
//! it running.
//!
//! The server's stderr is passed through untouched, except when the audit
//! trail itself goes to our stderr (`--audit-file -`): then the proxy relays
//! it ([`relay_stderr`]) whole lines at a time under the same lock the audit
//! writer takes, so event lines and the server's lines never glue or split.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use audit_core::pipeline::ChildExit;

/// The spawned server.
pub struct Server {
    pub child: Child,
    pub pid: i32,
    pub stdin: File,
    pub stdout: File,
    /// The server's stderr when we relay it ([`relay_stderr`]).
    pub stderr: Option<File>,
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
/// stdout piped to us, stderr passed through untouched, or piped to us when
/// `pipe_stderr` (for [`relay_stderr`]).
pub fn spawn(command: &[String], pipe_stderr: bool) -> Result<Server, SpawnError> {
    let program = command[0].clone();
    let mut cmd = Command::new(&program);
    cmd.args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(if pipe_stderr {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
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
    let stderr = child
        .stderr
        .take()
        .map(|e| File::from(std::os::fd::OwnedFd::from(e)));
    let pid = child.id() as i32;
    Ok(Server {
        child,
        pid,
        stdin,
        stdout,
        stderr,
    })
}

/// A server line longer than this is relayed in pieces of this size, each
/// ended with a newline, so that it cannot hold our stderr for long.
pub const STDERR_LINE_LIMIT: usize = 64 * 1024;

/// The thread relaying the server's stderr; see [`relay_stderr`].
pub struct StderrRelay {
    done: Receiver<()>,
}

impl StderrRelay {
    /// Waits, at most `timeout`, for the server's stderr to close and be relayed.
    pub fn finish(self, timeout: Duration) {
        let _ = self.done.recv_timeout(timeout);
    }
}

/// Relays `from` (the server's stderr) to our stderr: every complete line
/// read so far in one write under the stderr lock (the audit writer's
/// `--audit-file -` lines take the same lock); a line longer than
/// [`STDERR_LINE_LIMIT`], or a last line without newline, is ended with one.
pub fn relay_stderr(from: File) -> io::Result<StderrRelay> {
    relay_lines_to(from, io::stderr)
}

fn relay_lines_to<W: Write + 'static>(
    mut from: File,
    to: impl Fn() -> W + Send + 'static,
) -> io::Result<StderrRelay> {
    let (tx, done) = mpsc::channel();
    std::thread::Builder::new()
        .name("server-stderr".into())
        .spawn(move || {
            let mut buf = vec![0u8; STDERR_LINE_LIMIT];
            let mut filled = 0;
            loop {
                let n = match from.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                filled += n;
                let whole = match buf[..filled].iter().rposition(|&b| b == b'\n') {
                    Some(last) => last + 1,
                    None if filled == buf.len() => filled, // an over-long line: cut
                    None => continue,
                };
                emit(&mut to(), &buf[..whole]);
                buf.copy_within(whole..filled, 0);
                filled -= whole;
            }
            if filled > 0 {
                emit(&mut to(), &buf[..filled]);
            }
            let _ = tx.send(());
        })?;
    Ok(StderrRelay { done })
}

/// Writes `lines` in one `write_all`, adding the newline a cut piece lacks.
fn emit(to: &mut impl Write, lines: &[u8]) {
    if lines.ends_with(b"\n") {
        let _ = to.write_all(lines);
    } else {
        let mut owned = Vec::with_capacity(lines.len() + 1);
        owned.extend_from_slice(lines);
        owned.push(b'\n');
        let _ = to.write_all(&owned);
    }
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
        let err = spawn(&["/nonexistent/definitely-not-here".into()], false)
            .err()
            .unwrap();
        assert_eq!(err.exit_status(), 127);
        assert!(err.to_string().contains("command not found"), "{err}");
    }

    #[test]
    fn exit_status_of_a_signalled_child() {
        let mut s = spawn(&["sh".into(), "-c".into(), "kill -9 $$".into()], false).unwrap();
        let status = s.child.wait().unwrap();
        assert_eq!(exit_of(status), ChildExit::Signal(9));
        assert_eq!(exit_of(status).shell_status(), 137);
    }

    #[test]
    fn parent_of_reads_proc_stat() {
        let me = std::process::id() as i32;
        let s = spawn(&["cat".into()], false).unwrap();
        assert_eq!(parent_of(s.pid), Some(me));
        signal_group(s.pid, libc::SIGKILL);
        let mut s = s;
        s.child.wait().unwrap();
    }

    /// A `Write` appending to a shared buffer, recording each write.
    #[derive(Clone, Default)]
    struct Writes(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

    impl Write for Writes {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn stderr_is_relayed_in_whole_lines() {
        let script = "{ printf 'a'; printf 'b\\nc'; printf 'd\\n'; head -c 70000 /dev/zero | tr '\\0' x; printf 'tail'; } >&2";
        let mut s = spawn(&["sh".into(), "-c".into(), script.into()], true).unwrap();
        let writes = Writes::default();
        let sink = writes.clone();
        let relay = relay_lines_to(s.stderr.take().unwrap(), move || sink.clone()).unwrap();
        s.child.wait().unwrap();
        relay.finish(Duration::from_secs(60));
        let writes = writes.0.lock().unwrap().clone();
        assert!(
            writes.iter().all(|w| w.ends_with(b"\n")),
            "every write ends a line"
        );
        let all: Vec<u8> = writes.concat();
        let long = "x".repeat(70000);
        let expect = format!(
            "ab\ncd\n{}\n{}tail\n",
            &long[..STDERR_LINE_LIMIT],
            &long[STDERR_LINE_LIMIT..]
        );
        assert_eq!(String::from_utf8(all).unwrap(), expect);
    }
}
