//! Benchmark peers shared by `bench_server`, `loadgen`, the bare relays and
//! `bench_pipeline`.
//!
//! - [`wire`]: the exact bytes the bench server writes and loadgen expects;
//! - [`check`]: does a response answer its request (id and content)?
//! - [`stats`]: percentiles and medians;
//! - [`procstat`]: RSS and CPU time of a process, from `/proc`;
//! - [`scenario`]: loadgen's scenarios against a spawned MCP server;
//! - [`report`]: medians over rounds and ratios against the bare relays.

pub mod check;
pub mod procstat;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod wire;

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

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
