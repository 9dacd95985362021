//! Memory and CPU time of one process, read from `/proc`.
//!
//! Loadgen samples its direct child (the server, a relay or the proxy) so each
//! figure belongs to that one process: its threads are included, its own
//! children (the MCP server behind a relay) are not.

use std::io;
use std::time::Duration;

/// One reading of a process's resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcSample {
    /// Resident set size now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident set size so far (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// User + system CPU time of all its threads so far (exited ones
    /// included), to the nanosecond where the kernel's process clock is
    /// readable, else in clock ticks.
    pub cpu: Duration,
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/stat`.
pub fn sample(pid: u32) -> io::Result<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}: no {what}"),
        )
    };
    // SAFETY: sysconf has no preconditions.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(ProcSample {
        rss_kib: status_kib(&status, "VmRSS:").ok_or_else(|| bad("VmRSS"))?,
        peak_rss_kib: status_kib(&status, "VmHWM:").ok_or_else(|| bad("VmHWM"))?,
        cpu: match process_clock(pid) {
            Some(cpu) => cpu,
            None => cpu_ticks(&stat)
                .map(|t| Duration::from_micros(t * 1_000_000 / ticks_per_s))
                .ok_or_else(|| bad("utime/stime"))?,
        },
    })
}

/// The CPU time of process `pid` from its CPU-time clock
/// (`clock_getcpuclockid`): nanoseconds, where `/proc/<pid>/stat` counts
/// ticks of 10 ms, too coarse for a relay's few milliseconds per scenario.
pub fn process_clock(pid: u32) -> Option<Duration> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a valid out-pointer.
    if unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) } != 0 {
        return None;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// The value in kB of `field` (e.g. `VmRSS:`) in a `/proc/<pid>/status` text.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// utime + stime, in clock ticks, of a `/proc/<pid>/stat` line. The command
/// name in parentheses may hold spaces, so fields are counted after the last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // Fields after `)` start at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_fields() {
        let status = "Name:\tx\nVmHWM:\t   10240 kB\nVmRSS:\t    5120 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(5120));
        assert_eq!(status_kib(status, "VmHWM:"), Some(10240));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn parses_cpu_ticks_with_spaces_in_the_name() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 3 0 1 2 3";
        assert_eq!(cpu_ticks(stat), Some(12));
    }

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_kib > 0 && s.peak_rss_kib >= s.rss_kib);
    }

    #[test]
    fn reads_a_child_process_clock() {
        use std::io::{Read, Write};
        let mut child = std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Once it has echoed a line it has surely run: a spawned child not
        // yet scheduled after its exec can read 0 ns on a loaded machine.
        child.stdin.as_mut().unwrap().write_all(b"x\n").unwrap();
        let mut echo = [0u8; 2];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut echo)
            .unwrap();
        let cpu = process_clock(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(cpu.is_some_and(|c| c > Duration::ZERO), "{cpu:?}");
    }
}
