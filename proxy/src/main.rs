//! `mcp-blackbox`: thin glue between the command line, the server process,
//! the relay pumps and `audit-core`.
//!
//! # Threads
//! - `relay-c2s`: our stdin → the server's stdin ([`relay::Pump::client_to_server`]).
//! - `relay-s2c`: the server's stdout → our stdout ([`relay::Pump::server_to_client`]).
//! - `auditor` and `audit-writer`: frames → events → JSONL (in `audit-core`).
//! - `child-wait`, `signals`: report the server's exit and our signals.
//! - the main thread runs the lifecycle loop ([`lifecycle::supervise`]).
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

// Functions stay short enough to read as their steps (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

mod anomalies_cmd;
mod audit_secrets_cmd;
mod check_cmd;
mod child;
mod cli;
mod client_config;
mod compliance_cmd;
mod config_cmd;
mod diff_cmd;
mod document;
mod fdio;
mod gated;
mod identity;
mod install_cmd;
mod keygen_cmd;
mod lifecycle;
mod pin_client;
mod pin_cmd;
mod read_cmd;
mod relay;
mod replay_cmd;
mod report_cmd;
mod run;
mod start_failure;
mod stats_cmd;
mod verify_cmd;

use clap::Parser;

fn main() {
    // Buffers over 128 KiB are mapped on their own and unmapped when freed,
    // so a burst does not leave per-thread malloc arenas fragmented (peak
    // memory); the relay's read buffers stay under it (relay::READ_SIZE).
    // One arena, not eight per core: each relay thread holding its own arena
    // of freed pieces of long lines costs its size again in peak memory.
    // SAFETY: mallopt with valid parameters, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let cli = parse_command_line();
    let status = match cli.command {
        Some(command) => {
            init_tracing(cli.run.log_level.as_deref());
            match command {
                cli::Command::Verify(args) => report(verify_cmd::run(args)),
                cli::Command::Keygen(args) => report(keygen_cmd::run(args)),
                cli::Command::Config(args) => report(config_cmd::run(args)),
                cli::Command::Pin(args) => report(pin_cmd::run(args)),
                cli::Command::Install(args) => report(install_cmd::install(args)),
                cli::Command::Uninstall(args) => report(install_cmd::uninstall(args)),
                cli::Command::Replay(args) => report(replay_cmd::run(args)),
                cli::Command::Check(args) => report(check_cmd::run(args)),
                cli::Command::Diff(args) => report(diff_cmd::run(args)),
                cli::Command::Tail(args) => report(read_cmd::run_tail(args)),
                cli::Command::Query(args) => report(read_cmd::run_query(args)),
                cli::Command::Sessions(args) => report(stats_cmd::run_sessions(args)),
                cli::Command::Stats(args) => report(stats_cmd::run_stats(args)),
                cli::Command::Anomalies(args) => report(anomalies_cmd::run(args)),
                cli::Command::Report(args) => report(report_cmd::run(args)),
                cli::Command::Compliance(args) => report(compliance_cmd::run(args)),
                cli::Command::AuditSecrets(args) => report(audit_secrets_cmd::run(args)),
            }
        }
        // Running a server: tracing starts once the settings are loaded.
        None => run::run(cli.run),
    };
    std::process::exit(status);
}

/// The command line, or exit 2 with clap's message and what to do about it.
fn parse_command_line() -> cli::Cli {
    use clap::error::ErrorKind;
    cli::Cli::try_parse().unwrap_or_else(|e| {
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            e.exit();
        }
        let _ = e.print();
        eprintln!(
            "\nmcp-blackbox takes its own options first, then the server command:\n    \
             mcp-blackbox --server-name fs -- npx -y @modelcontextprotocol/server-filesystem /tmp\n\
             `mcp-blackbox --help` lists the options."
        );
        std::process::exit(2);
    })
}

/// The exit status of a subcommand; its error, if any, goes to stderr.
fn report(result: anyhow::Result<i32>) -> i32 {
    result.unwrap_or_else(|e| {
        eprintln!("mcp-blackbox: {}", error_chain(&e));
        2
    })
}

/// The error and its causes, `: `-separated, each said once: many errors
/// already quote their cause (`cannot read x: No such file…`), and `{:#}`
/// would print it again.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
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
    // Colour only for a person at a terminal: clients keep our stderr in log files.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && !std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let quoted = anyhow::Error::new(std::io::Error::other(format!("cannot read x: {io}")))
            .context("while writing --out y");
        assert_eq!(
            error_chain(&quoted),
            format!("while writing --out y: cannot read x: {io}")
        );
        let e = anyhow::Error::new(io).context("while reading z");
        assert_eq!(error_chain(&e), "while reading z: entity not found");
    }
}
