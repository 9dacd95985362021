//! The command line: flags a user puts in front of their MCP server command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A transparent MCP proxy that records every tool call to a tamper-evident audit trail.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-blackbox",
    version,
    about = "A transparent MCP stdio proxy that records every tool call to a tamper-evident audit trail.",
    long_about = "A transparent MCP stdio proxy that records every tool call to a tamper-evident audit trail.\n\n\
Put it in front of any MCP server command, e.g. in a client's config:\n\n    \
mcp-blackbox --server-name fs -- npx -y @modelcontextprotocol/server-filesystem /tmp\n\n\
The client and the server see exactly the bytes the other side wrote. Audit events go to\n\
~/.mcp-blackbox/audit/audit-YYYY-MM-DD.jsonl (private to the user); diagnostics go to stderr.\n\
mcp-blackbox exits with the server's exit status.",
    args_conflicts_with_subcommands = true,
    after_help = "Event schema and file formats: see docs/ in the source distribution."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands besides running a server.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the hash chains (and, with --key, the signatures) of audit files.
    Verify(crate::verify_cmd::VerifyArgs),
    /// Create an Ed25519 key pair for signing audit checkpoints.
    Keygen(crate::keygen_cmd::KeygenArgs),
}

/// When the writer calls fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fsync {
    /// Leave it to the kernel.
    Never,
    /// Once per batch of lines written together.
    Batch,
    /// After every write.
    Always,
}

/// What the auditor does when the writer's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueuePolicy {
    /// Wait for the writer (lossless; the relay never waits either way).
    Block,
    /// Drop the batch, count it, and record an audit_dropped event.
    Drop,
}

/// Flags of the default mode: run a server behind the proxy.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Name of the server in the audit trail [default: derived from the command].
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,

    /// Directory of the daily audit files [default: ~/.mcp-blackbox/audit].
    #[arg(long, value_name = "DIR", env = "MCP_BLACKBOX_DIR")]
    pub audit_dir: Option<PathBuf>,

    /// Write events to this one file instead, or to stderr with `-`.
    #[arg(long, value_name = "PATH|-", conflicts_with = "audit_dir")]
    pub audit_file: Option<String>,

    /// User recorded on every event [default: the OS user].
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Lines longer than this are relayed as they stream but recorded by size only.
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub parse_limit_mb: u64,

    /// After the client closes stdin, wait this long for the server to exit before SIGTERM.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub grace_ms: u64,

    /// After SIGTERM, wait this long before SIGKILL.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub kill_grace_ms: u64,

    /// Longest wait for the audit trail to reach disk at exit.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub flush_timeout_ms: u64,

    /// Rotate the audit file when it passes this size.
    #[arg(long, value_name = "MIB", env = "MCP_BLACKBOX_MAX_SIZE_MB", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_file_size_mb: u64,

    /// Audit files kept in the directory (older ones are deleted; 0 keeps all).
    #[arg(
        long,
        value_name = "N",
        env = "MCP_BLACKBOX_MAX_FILES",
        default_value_t = 30
    )]
    pub max_files: usize,

    /// When the writer calls fsync.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "batch")]
    pub fsync: Fsync,

    /// What happens when the writer falls behind.
    #[arg(long, value_enum, value_name = "POLICY", default_value = "block")]
    pub queue_policy: QueuePolicy,

    /// Ed25519 key (from `mcp-blackbox keygen`) signing checkpoints and session_end.
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<PathBuf>,

    /// Write a signed checkpoint every N events (with --signing-key).
    #[arg(long, value_name = "N", default_value_t = audit_core::sign::DEFAULT_CHECKPOINT_EVENTS, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_events: u64,

    /// ... or every N seconds, whichever comes first.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_seconds: u64,

    /// Leave tool arguments out of the trail (names, sizes and hashes stay).
    #[arg(long)]
    pub no_arguments: bool,

    /// Leave tool results out of the trail (sizes and content types stay).
    #[arg(long)]
    pub no_results: bool,

    /// Record nothing: be a pure relay.
    #[arg(long, env = "MCP_BLACKBOX_ENABLED", value_name = "BOOL", default_value = "true", value_parser = clap::builder::BoolishValueParser::new(), hide_env_values = true)]
    pub enabled: bool,

    /// Diagnostics level on stderr: error, warn, info, debug, trace (or RUST_LOG).
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// The MCP server command and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_server_command_after_double_dash() {
        let cli = Cli::try_parse_from([
            "mcp-blackbox",
            "--server-name",
            "fs",
            "--",
            "npx",
            "-y",
            "pkg",
            "--flag",
        ])
        .unwrap();
        assert_eq!(cli.run.server_name.as_deref(), Some("fs"));
        assert_eq!(cli.run.command, ["npx", "-y", "pkg", "--flag"]);
    }

    #[test]
    fn rejects_bad_parse_limit() {
        let err =
            Cli::try_parse_from(["mcp-blackbox", "--parse-limit-mb", "0", "--", "x"]).unwrap_err();
        assert!(err.to_string().contains("--parse-limit-mb"), "{err}");
    }
}
