//! `mcp-blackbox`: thin glue between the command line, the server process,
//! the relay pumps and `audit-core`.
//!
//! # Threads
//! - `relay-c2s`: our stdin → the server's stdin ([`relay::client_to_server`]).
//! - `relay-s2c`: the server's stdout → our stdout ([`relay::server_to_client`]).
//! - `auditor` and `audit-writer`: frames → events → JSONL (in `audit-core`).
//! - `child-wait`, `signals`: report the server's exit and our signals.
//! - the main thread runs the lifecycle loop ([`lifecycle::run`]).
//!
//! # Shutdown protocol
//! 1. Something ends the session: the client closes stdin (or our stdout
//!    breaks, or our parent dies), a signal arrives, or the server exits.
//! 2. Client gone: the server's stdin is closed; after `--grace-ms` the
//!    server's whole process group gets SIGTERM, after `--kill-grace-ms` more,
//!    SIGKILL. A signal to us (SIGINT/SIGTERM/SIGHUP) is forwarded to the group
//!    first; a second one goes straight to SIGKILL.
//! 3. Once the server has exited, the rest of its group gets SIGTERM, and
//!    then SIGKILL together with any descendant that left the group (we are a
//!    child subreaper), once its stdout is closed or `--kill-grace-ms` passes.
//! 4. The server→client pump has relayed everything the server wrote and is
//!    joined; the auditor gets `End` and writes `session_end` after every
//!    event already seen.
//! 5. The writer flushes last (bounded by `--flush-timeout-ms`).
//! 6. We exit with the server's status (128 + N if it died of signal N).

mod child;
mod cli;
mod config_cmd;
mod fdio;
mod gated;
mod identity;
mod keygen_cmd;
mod lifecycle;
mod pin_client;
mod pin_cmd;
mod read_cmd;
mod relay;
mod run;
mod stats_cmd;
mod verify_cmd;

use clap::Parser;

fn main() {
    // Buffers over 128 KiB (a framer's long line, large batches) are mapped
    // on their own and unmapped when freed, instead of fragmenting per-thread
    // malloc arenas: with 1 MiB here and 256 KiB relay reads, a burst that
    // filled the hand-off queue left the peak RSS at ~95 MiB; with 128 KiB,
    // ~54 MiB. The relay's read buffers stay under it (relay::READ_SIZE), so
    // they are reused without page faults (docs/performance.md).
    // SAFETY: mallopt with a valid parameter, before any other thread exists.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10) };
    let cli = cli::Cli::parse();
    let status = match cli.command {
        Some(command) => {
            init_tracing(cli.run.log_level.as_deref());
            match command {
                cli::Command::Verify(args) => report(verify_cmd::run(args)),
                cli::Command::Keygen(args) => report(keygen_cmd::run(args)),
                cli::Command::Config(args) => report(config_cmd::run(args)),
                cli::Command::Pin(args) => report(pin_cmd::run(args)),
                cli::Command::Tail(args) => report(read_cmd::run_tail(args)),
                cli::Command::Query(args) => report(read_cmd::run_query(args)),
                cli::Command::Sessions(args) => report(stats_cmd::run_sessions(args)),
                cli::Command::Stats(args) => report(stats_cmd::run_stats(args)),
            }
        }
        // Running a server: tracing starts once the settings are loaded.
        None => run::run(cli.run),
    };
    std::process::exit(status);
}

/// The exit status of a subcommand; its error, if any, goes to stderr.
fn report(result: anyhow::Result<i32>) -> i32 {
    result.unwrap_or_else(|e| {
        eprintln!("mcp-blackbox: {e:#}");
        2
    })
}

/// Diagnostics to stderr at `level`, else `RUST_LOG`, else `warn`.
pub(crate) fn init_tracing(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).unwrap_or_else(|_| {
            eprintln!(
                "mcp-blackbox: invalid --log-level `{l}`; valid: error, warn, info, debug, trace"
            );
            std::process::exit(2);
        }),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
