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
    /// Show the effective configuration, or check a settings file.
    Config(crate::config_cmd::ConfigArgs),
    /// Record (or re-approve) the hashes of a server's tool definitions.
    Pin(crate::pin_cmd::PinArgs),
    /// Wrap every stdio server in an MCP client's configuration with mcp-blackbox.
    Install(crate::install_cmd::InstallArgs),
    /// Undo `install`: restore each wrapped server's own command.
    Uninstall(crate::install_cmd::UninstallArgs),
    /// Act as the MCP server on stdio, answering from a recorded transcript.
    Replay(crate::replay_cmd::ReplayArgs),
    /// Check a recorded session (transcript or audit files) against CI rules.
    Check(crate::check_cmd::CheckArgs),
    /// Compare two recorded sessions' tool calls (or, with --tools, tool definitions).
    Diff(crate::diff_cmd::DiffArgs),
    /// Show the latest events, one readable line each; with -f, follow what the proxies write.
    Tail(crate::read_cmd::TailArgs),
    /// Find events by time, server, tool, type, user, session, severity, outcome, risk, tag, text or a jq filter.
    Query(crate::read_cmd::QueryArgs),
    /// One row per session: who, when, calls, errors, blocked, how it ended, whether it verifies.
    Sessions(crate::stats_cmd::SessionsArgs),
    /// Calls, errors, blocked calls, duration percentiles and bytes per tool (or --by server, user, day, session).
    Stats(crate::stats_cmd::StatsArgs),
    /// Findings for triage: new tools, error and call spikes, slow calls, unusual hours, bursts, tool changes, secrets, refusals.
    Anomalies(crate::anomalies_cmd::AnomaliesArgs),
    /// A usage report: summary, per tool, server and user, findings, sessions (md or json).
    Report(crate::report_cmd::ReportArgs),
    /// Compliance evidence per control (gdpr, hipaa, pci-dss, soc2): what the trail shows and what the settings lack.
    Compliance(crate::compliance_cmd::ComplianceArgs),
    /// Re-scan audit files with today's redaction rules: file:line, field and kind of every secret let through (exit 1 if any).
    AuditSecrets(crate::audit_secrets_cmd::AuditSecretsArgs),
}

/// Flags of the default mode: run a server behind the proxy.
///
/// Every setting flag is passed as text to `audit_core::config::Settings`,
/// which validates it and remembers that it came from the flag (for `config
/// show`); defaults and environment variables live there, not here.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Settings file (TOML) [default: ~/.mcp-blackbox/config.toml if it exists; env MCP_BLACKBOX_CONFIG].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Name of the server in the trail; selects its [servers.NAME] section and pins [default: from the command].
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,

    /// Directory of the daily audit files [default: ~/.mcp-blackbox/audit].
    #[arg(long, value_name = "DIR")]
    pub audit_dir: Option<String>,

    /// Write events to this one file instead, or to stderr with `-`.
    #[arg(long, value_name = "PATH|-")]
    pub audit_file: Option<String>,

    /// User recorded on every event [default: the OS user].
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Lines longer than this are relayed as they stream but recorded by size only [16].
    #[arg(long, value_name = "MIB")]
    pub parse_limit_mb: Option<String>,

    /// After the client closes stdin, wait this long for the server before SIGTERM [2000].
    #[arg(long, value_name = "MS")]
    pub grace_ms: Option<String>,

    /// After SIGTERM, wait this long before SIGKILL [2000].
    #[arg(long, value_name = "MS")]
    pub kill_grace_ms: Option<String>,

    /// Longest wait for the audit trail to reach disk at exit [5000].
    #[arg(long, value_name = "MS")]
    pub flush_timeout_ms: Option<String>,

    /// Rotate the audit file when it passes this size [10].
    #[arg(long, value_name = "MIB")]
    pub max_file_size_mb: Option<String>,

    /// Audit files kept in the directory; older ones are deleted [30].
    #[arg(long, value_name = "N")]
    pub max_files: Option<String>,

    /// When the writer calls fsync: never, batch, always [batch].
    #[arg(long, value_name = "WHEN")]
    pub fsync: Option<String>,

    /// Under --fsync batch: sync at most this often, and every line within
    /// this long of its write; 0 syncs after every write batch [50].
    #[arg(long, value_name = "MS")]
    pub fsync_interval_ms: Option<String>,

    /// When the writer falls behind: block (lossless) or drop (counted) [block].
    #[arg(long, value_name = "POLICY")]
    pub queue_policy: Option<String>,

    /// Ed25519 key (from `mcp-blackbox keygen`) signing checkpoints and session_end.
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<String>,

    /// A signed checkpoint every N events [1000].
    #[arg(long, value_name = "N")]
    pub checkpoint_events: Option<String>,

    /// ... or every N seconds, whichever comes first [60].
    #[arg(long, value_name = "SECONDS")]
    pub checkpoint_seconds: Option<String>,

    /// Leave tool arguments out of the trail (names, sizes and hashes stay).
    #[arg(long)]
    pub no_arguments: bool,

    /// Leave tool results out of the trail (sizes, content types and hashes stay).
    #[arg(long)]
    pub no_results: bool,

    /// Turn off secret redaction (a warning is printed).
    #[arg(long)]
    pub no_redact: bool,

    /// Strings longer than this are cut in the trail, with their length recorded [500].
    #[arg(long, value_name = "N")]
    pub max_field_chars: Option<String>,

    /// Extra key names whose values are always redacted (comma-separated).
    #[arg(long, value_name = "KEYS")]
    pub redact_keys: Option<String>,

    /// Key file for keyed redaction: secrets become `hmac:<12 hex>` instead of a marker.
    #[arg(long, value_name = "PATH")]
    pub hmac_key_file: Option<String>,

    /// Record nothing and enforce nothing: be a pure relay (true/false).
    #[arg(long, value_name = "BOOL")]
    pub enabled: Option<String>,

    /// Record refusals as policy_blocked (outcome pending) without refusing anything.
    #[arg(long)]
    pub dry_run_policy: bool,

    /// What a tools/call no rule decides gets: audit (forward) or deny (allow-list mode) [audit].
    #[arg(long, value_name = "ACTION")]
    pub default_action: Option<String>,

    /// Remove always-denied tools from tools/list results (the one rewrite of server bytes).
    #[arg(long)]
    pub filter_tools_list: bool,

    /// Pin file (from `mcp-blackbox pin`) [~/.mcp-blackbox/pins.json].
    #[arg(long, value_name = "FILE")]
    pub pins: Option<String>,

    /// Refuse calls to tools whose definition no longer matches its pin, or that are new.
    #[arg(long)]
    pub enforce_pins: bool,

    /// Also write a transcript of every frame to this file (redacted unless --transcript-raw).
    #[arg(long, value_name = "PATH")]
    pub transcript: Option<String>,

    /// Keep exact bytes in the transcript (secrets included; a warning is printed).
    #[arg(long)]
    pub transcript_raw: bool,

    /// Diagnostics level on stderr: error, warn, info, debug, trace [warn; or RUST_LOG].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// An unusable audit target at start: closed (exit 2 before the server
    /// starts) or open (run the server unaudited) [closed].
    #[arg(long, value_name = "closed|open")]
    pub on_audit_failure: Option<String>,

    /// Accept an audit directory owned by another user or writable by group or others.
    #[arg(long)]
    pub allow_shared_dir: bool,

    /// Delete audit files last written more than N days ago; 0 never by age [0].
    #[arg(long, value_name = "N")]
    pub max_age_days: Option<String>,

    /// Keep at most this many MiB of audit files; 0 is no limit [0].
    #[arg(long, value_name = "MIB")]
    pub max_total_size_mb: Option<String>,

    /// Never delete a file younger than this to meet --max-files or --max-total-size-mb [24].
    #[arg(long, value_name = "HOURS")]
    pub min_age_hours: Option<String>,

    #[command(flatten)]
    pub forward: ForwardArgs,

    /// The MCP server command and its arguments. Everything from the first
    /// argument that is not one of our options belongs to it; a `--` before
    /// it is optional.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

impl RunArgs {
    /// The setting flags given, as `(key, raw value, flag)` for `Settings::load`.
    pub fn setting_flags(&self) -> Vec<(&'static str, String, &'static str)> {
        let mut flags = self.value_flags();
        flags.extend(self.switch_flags());
        flags.extend(self.forward.setting_flags());
        flags.extend(self.trail_file_flags());
        flags
    }

    /// The flags that take a value.
    fn value_flags(&self) -> Vec<(&'static str, String, &'static str)> {
        let text = [
            ("audit.dir", &self.audit_dir, "--audit-dir"),
            ("audit.file", &self.audit_file, "--audit-file"),
            ("proxy.user", &self.user, "--user"),
            (
                "proxy.parse_limit_mb",
                &self.parse_limit_mb,
                "--parse-limit-mb",
            ),
            ("proxy.grace_ms", &self.grace_ms, "--grace-ms"),
            (
                "proxy.kill_grace_ms",
                &self.kill_grace_ms,
                "--kill-grace-ms",
            ),
            (
                "audit.max_size_mb",
                &self.max_file_size_mb,
                "--max-file-size-mb",
            ),
            ("audit.max_files", &self.max_files, "--max-files"),
            ("audit.fsync", &self.fsync, "--fsync"),
            (
                "audit.fsync_interval_ms",
                &self.fsync_interval_ms,
                "--fsync-interval-ms",
            ),
            ("audit.queue_policy", &self.queue_policy, "--queue-policy"),
            ("audit.signing_key", &self.signing_key, "--signing-key"),
            (
                "audit.flush_timeout_ms",
                &self.flush_timeout_ms,
                "--flush-timeout-ms",
            ),
            (
                "audit.checkpoint_events",
                &self.checkpoint_events,
                "--checkpoint-events",
            ),
            (
                "audit.checkpoint_seconds",
                &self.checkpoint_seconds,
                "--checkpoint-seconds",
            ),
            (
                "audit.max_field_chars",
                &self.max_field_chars,
                "--max-field-chars",
            ),
            ("audit.redact_keys", &self.redact_keys, "--redact-keys"),
            (
                "audit.hmac_key_file",
                &self.hmac_key_file,
                "--hmac-key-file",
            ),
            ("audit.enabled", &self.enabled, "--enabled"),
            (
                "policy.default_action",
                &self.default_action,
                "--default-action",
            ),
            ("policy.pins", &self.pins, "--pins"),
            ("proxy.log_level", &self.log_level, "--log-level"),
            ("audit.transcript", &self.transcript, "--transcript"),
        ];
        text.into_iter()
            .filter_map(|(key, value, flag)| Some((key, value.clone()?, flag)))
            .collect()
    }

    /// The switches set, with the value each one stands for.
    fn switch_flags(&self) -> Vec<(&'static str, String, &'static str)> {
        let switches = [
            (
                "audit.include_arguments",
                self.no_arguments,
                "false",
                "--no-arguments",
            ),
            (
                "audit.include_results",
                self.no_results,
                "false",
                "--no-results",
            ),
            (
                "audit.redact_sensitive",
                self.no_redact,
                "false",
                "--no-redact",
            ),
            (
                "policy.dry_run",
                self.dry_run_policy,
                "true",
                "--dry-run-policy",
            ),
            (
                "policy.filter_tools_list",
                self.filter_tools_list,
                "true",
                "--filter-tools-list",
            ),
            (
                "policy.enforce_pins",
                self.enforce_pins,
                "true",
                "--enforce-pins",
            ),
            (
                "audit.transcript_raw",
                self.transcript_raw,
                "true",
                "--transcript-raw",
            ),
        ];
        switches
            .into_iter()
            .filter(|s| s.1)
            .map(|(key, _, value, flag)| (key, value.to_owned(), flag))
            .collect()
    }

    /// The flags of the audit target's start check and of retention.
    fn trail_file_flags(&self) -> Vec<(&'static str, String, &'static str)> {
        let text = [
            (
                "audit.on_failure",
                &self.on_audit_failure,
                "--on-audit-failure",
            ),
            ("audit.max_age_days", &self.max_age_days, "--max-age-days"),
            (
                "audit.max_total_size_mb",
                &self.max_total_size_mb,
                "--max-total-size-mb",
            ),
            (
                "audit.min_age_hours",
                &self.min_age_hours,
                "--min-age-hours",
            ),
        ];
        let mut flags: Vec<_> = text
            .into_iter()
            .filter_map(|(key, value, flag)| Some((key, value.clone()?, flag)))
            .collect();
        if self.allow_shared_dir {
            flags.push((
                "audit.allow_shared_dir",
                "true".into(),
                "--allow-shared-dir",
            ));
        }
        flags
    }
}

/// Flags of forwarding to collectors (`[forward]` in the settings file).
#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// Also ship every event to a collector: syslog+tcp://, syslog+tls://,
    /// syslog+udp://HOST:PORT or otlp+http://HOST:PORT (repeatable).
    #[arg(long = "forward", value_name = "URL")]
    pub urls: Vec<String>,

    /// Keep what a collector missed in this directory and send it when it is back.
    #[arg(long, value_name = "DIR")]
    pub forward_spool: Option<String>,

    /// Largest syslog message sent whole; larger events go truncated (ids and hashes kept) [8192].
    #[arg(long, value_name = "N")]
    pub forward_max_message_bytes: Option<String>,

    /// PEM CA certificates trusted for syslog+tls [the system bundle].
    #[arg(long, value_name = "PATH")]
    pub forward_ca_file: Option<String>,

    /// PEM client certificate for syslog+tls.
    #[arg(long, value_name = "PATH")]
    pub forward_client_cert: Option<String>,

    /// PEM key of the client certificate.
    #[arg(long, value_name = "PATH")]
    pub forward_client_key: Option<String>,

    /// When a forwarder falls behind: block (wait up to --forward-block-ms, then drop) or drop [block].
    #[arg(long, value_name = "POLICY")]
    pub forward_queue_policy: Option<String>,

    /// Under --forward-queue-policy block: longest wait for room, per batch [1000].
    #[arg(long, value_name = "MS")]
    pub forward_block_ms: Option<String>,
}

impl ForwardArgs {
    /// The forwarding flags given, as `(key, raw value, flag)`.
    fn setting_flags(&self) -> Vec<(&'static str, String, &'static str)> {
        let urls = (!self.urls.is_empty()).then(|| self.urls.join(","));
        [
            ("forward.urls", &urls, "--forward"),
            ("forward.spool", &self.forward_spool, "--forward-spool"),
            (
                "forward.max_message_bytes",
                &self.forward_max_message_bytes,
                "--forward-max-message-bytes",
            ),
            (
                "forward.ca_file",
                &self.forward_ca_file,
                "--forward-ca-file",
            ),
            (
                "forward.client_cert",
                &self.forward_client_cert,
                "--forward-client-cert",
            ),
            (
                "forward.client_key",
                &self.forward_client_key,
                "--forward-client-key",
            ),
            (
                "forward.queue_policy",
                &self.forward_queue_policy,
                "--forward-queue-policy",
            ),
            (
                "forward.block_ms",
                &self.forward_block_ms,
                "--forward-block-ms",
            ),
        ]
        .into_iter()
        .filter_map(|(key, value, flag)| Some((key, value.clone()?, flag)))
        .collect()
    }
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
    fn the_double_dash_is_optional() {
        let cli = Cli::try_parse_from([
            "mcp-blackbox",
            "--server-name",
            "fs",
            "node",
            "server.js",
            "--verbose",
            "--",
            "-x",
        ])
        .unwrap();
        assert_eq!(cli.run.server_name.as_deref(), Some("fs"));
        assert_eq!(
            cli.run.command,
            ["node", "server.js", "--verbose", "--", "-x"]
        );
        let cli = Cli::try_parse_from(["mcp-blackbox", "npx", "-y", "pkg"]).unwrap();
        assert_eq!(cli.run.command, ["npx", "-y", "pkg"]);
    }

    #[test]
    fn setting_flags_name_their_keys() {
        let cli = Cli::try_parse_from([
            "mcp-blackbox",
            "--max-files",
            "7",
            "--no-redact",
            "--enforce-pins",
            "--",
            "x",
        ])
        .unwrap();
        let flags = cli.run.setting_flags();
        assert!(flags.contains(&("audit.max_files", "7".into(), "--max-files")));
        assert!(flags.contains(&("audit.redact_sensitive", "false".into(), "--no-redact")));
        assert!(flags.contains(&("policy.enforce_pins", "true".into(), "--enforce-pins")));
        assert_eq!(flags.len(), 3);
    }

    #[test]
    fn repeated_forward_flags_become_one_list() {
        let cli = Cli::try_parse_from([
            "mcp-blackbox",
            "--forward",
            "syslog+tcp://a:1",
            "--forward",
            "otlp+http://b:2",
            "--forward-spool",
            "/s",
            "--",
            "x",
        ])
        .unwrap();
        let flags = cli.run.setting_flags();
        assert!(flags.contains(&(
            "forward.urls",
            "syslog+tcp://a:1,otlp+http://b:2".into(),
            "--forward"
        )));
        assert!(flags.contains(&("forward.spool", "/s".into(), "--forward-spool")));
    }

    #[test]
    fn transcript_flags_name_their_keys() {
        let cli = Cli::try_parse_from([
            "mcp-blackbox",
            "--transcript",
            "/tmp/t.jsonl",
            "--transcript-raw",
            "--",
            "x",
        ])
        .unwrap();
        let flags = cli.run.setting_flags();
        assert!(flags.contains(&("audit.transcript", "/tmp/t.jsonl".into(), "--transcript")));
        assert!(flags.contains(&("audit.transcript_raw", "true".into(), "--transcript-raw")));
    }

    #[test]
    fn subcommands_parse() {
        let cli = Cli::try_parse_from(["mcp-blackbox", "verify", "/tmp/x"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Verify(_))));
        let cli = Cli::try_parse_from(["mcp-blackbox", "config", "show"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Config(_))));
        let cli =
            Cli::try_parse_from(["mcp-blackbox", "config", "show", "--max-files", "3"]).unwrap();
        let Some(Command::Config(config)) = cli.command else {
            panic!("config subcommand")
        };
        let crate::config_cmd::ConfigCommand::Show(run) = config.command else {
            panic!("config show")
        };
        assert_eq!(
            run.setting_flags(),
            [("audit.max_files", "3".into(), "--max-files")]
        );
        for (args, what) in [
            (&["replay", "t.jsonl", "--strict"][..], "replay"),
            (&["check", "t.jsonl", "--rules", "ci.toml"], "check"),
            (&["diff", "a", "b", "--tools"], "diff"),
            (
                &["compliance", "--framework", "soc2", "--format", "html"],
                "compliance",
            ),
            (
                &["audit-secrets", "a.jsonl", "--format", "json"],
                "audit-secrets",
            ),
        ] {
            let cli =
                Cli::try_parse_from(std::iter::once("mcp-blackbox").chain(args.iter().copied()))
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(cli.command.is_some(), "{what}");
        }
    }
}
