//! Benchmark peers shared by `bench_server`, `loadgen`, the bare relays and
//! `bench_pipeline`.
//!
//! - [`wire`]: the exact bytes the bench server writes and loadgen expects;
//! - [`check`]: does a response answer its request (id and content)?
//! - [`stats`]: percentiles and medians;
//! - [`procstat`]: RSS and CPU time of a process, from `/proc`;
//! - [`scenario`]: loadgen's scenarios against a spawned MCP server;
//! - [`report`]: medians over rounds and ratios against the bare relays;
//! - [`pinned`]: the targets of a run on one CPU, against SHA-256's cost.

pub mod check;
pub mod pinned;
pub mod procstat;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod wire;

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use anyhow::{Context, Result};

/// This process's standard input as a plain file: no `Stdin` lock or buffer
/// between the caller and `read(2)`.
pub fn raw_stdin() -> io::Result<File> {
    Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
}

/// This process's standard output as a plain file: `Stdout` is line-buffered,
/// which would split large writes at every newline.
pub fn raw_stdout() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

/// The status a shell reports for a finished child: its code, or 128 + signal.
pub fn shell_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

/// Parses `64K:256` into (65536, 256) and its label `64KiB` (K/M suffixes
/// are KiB/MiB).
pub fn parse_size_count(spec: &str) -> Result<(usize, u64, String)> {
    let (size, count) = spec
        .split_once(':')
        .with_context(|| format!("{spec}: expected SIZE:COUNT, e.g. 1M:32"))?;
    let (digits, unit, scale) = match size.as_bytes().last() {
        Some(b'K' | b'k') => (&size[..size.len() - 1], "KiB", 1024),
        Some(b'M' | b'm') => (&size[..size.len() - 1], "MiB", 1024 * 1024),
        _ => (size, "B", 1),
    };
    let n: usize = digits
        .parse()
        .with_context(|| format!("{spec}: bad size"))?;
    let count = count
        .parse()
        .with_context(|| format!("{spec}: bad count"))?;
    Ok((n * scale, count, format!("{n}{unit}")))
}

/// How many CPUs this process may run on (1 under `taskset -c 0`).
pub fn allowed_cpus() -> Result<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the pointer and size
    // describe it for the duration of the call.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error()).context("sched_getaffinity");
    }
    // SAFETY: `set` was filled by the kernel.
    Ok(unsafe { libc::CPU_COUNT(&set) } as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_size_count_specs() {
        assert_eq!(
            parse_size_count("64K:256").unwrap(),
            (65536, 256, "64KiB".into())
        );
        assert_eq!(
            parse_size_count("16M:4").unwrap(),
            (16 << 20, 4, "16MiB".into())
        );
        assert_eq!(parse_size_count("100:2").unwrap(), (100, 2, "100B".into()));
        assert!(parse_size_count("1M").is_err());
        assert!(parse_size_count("xM:1").is_err());
    }

    #[test]
    fn counts_the_cpus_this_process_may_use() {
        assert!(allowed_cpus().unwrap() >= 1);
    }
}
