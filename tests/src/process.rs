//! Waiting on processes without sleeping as synchronisation: poll a condition
//! (a child exited, a pid file appeared, a pid is gone) until it holds, with
//! [`PATIENCE`] as the overall bound.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::PATIENCE;

const POLL: Duration = Duration::from_millis(10);

/// Polls `cond` until it holds; fails the test with `what` after [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < PATIENCE,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// Waits for `child` to exit; kills it and fails the test after [`PATIENCE`].
pub fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} (pid {}) still running after {PATIENCE:?}",
                child.id()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Runs `cmd` to completion with piped stdout and stderr (stdin closed),
/// failing the test after [`PATIENCE`]; returns its status and output.
pub fn run_collect(cmd: &mut Command, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {what} ({cmd:?}): {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).map(|_| v)
    });
    let stderr = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).map(|_| v)
    });
    let status = wait_exit(&mut child, what);
    Output {
        status,
        stdout: stdout.join().unwrap().expect("reading stdout"),
        stderr: stderr.join().unwrap().expect("reading stderr"),
    }
}

/// Waits for a pid file (written whole: the writers rename it into place)
/// and returns the pid in it.
pub fn read_pid_file(path: &Path) -> i32 {
    let mut pid = None;
    wait_until(&format!("pid file {}", path.display()), || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap()
}

/// Whether `pid` names a live process (a zombie counts as dead: it runs no
/// code and holds no pipe).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => state(&stat) != Some('Z') && state(&stat) != Some('X'),
        Err(_) => false,
    }
}

/// Waits until `pid` is no longer alive.
pub fn wait_gone(pid: i32, what: &str) {
    wait_until(&format!("{what} (pid {pid}) to end"), || !alive(pid));
}

/// The process group of `pid`, if it exists.
pub fn pgid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    field_after_comm(&stat, 2)?.parse().ok()
}

/// Live processes in process group `pgid`.
pub fn live_in_group(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| self::pgid(pid) == Some(pgid) && alive(pid))
        .collect()
}

/// Sends `signal` to `pid`.
pub fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// The state letter of a `/proc/<pid>/stat` line.
fn state(stat: &str) -> Option<char> {
    field_after_comm(stat, 0)?.chars().next()
}

/// Field `n` (0 = state) after the `(comm)` of a stat line; comm may hold
/// spaces and parentheses, so split after its last `)`.
fn field_after_comm(stat: &str, n: usize) -> Option<&str> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n)
}

/// Reaps `pid` with `wait4` and returns its raw wait status and `ru_maxrss`
/// (KiB on Linux). The process must be our child and not yet reaped.
pub fn wait_with_rusage(pid: i32) -> (i32, u64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // The watchdog of LineClient bounds this wait: it kills a hung proxy.
    // SAFETY: both pointers are to live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    (status, usage.ru_maxrss as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let stat = "42 (a) b (c) S 1 42 42 0 -1";
        assert_eq!(state(stat), Some('S'));
        assert_eq!(field_after_comm(stat, 2), Some("42"));
    }

    #[test]
    fn this_process_is_alive_and_in_its_group() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        let g = pgid(me).unwrap();
        assert!(live_in_group(g).contains(&me));
    }
}
