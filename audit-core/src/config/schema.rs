//! The list of settings: every key, its type, default and environment
//! variable, declared once. The `settings!` macro below turns the list into the
//! section structs, the key table and the generic setter, so a key cannot be
//! documented, parsed and shown in three places that drift apart.

use std::num::NonZeroU64;
use std::path::PathBuf;

use super::value::OnAuditFailure;
use super::value::{
    DefaultAction, FsyncPolicy, Input, LogLevel, PatternTable, QueueFullPolicy, SettingValue,
    Source, Sourced, ValueError,
};

/// One key of the settings, as listed for help and error messages.
#[derive(Debug, Clone, Copy)]
pub struct KeyInfo {
    /// The section: `audit`, `proxy`, `policy` or `forward`.
    pub section: &'static str,
    /// The key inside its section.
    pub field: &'static str,
    /// The environment variable without its `MCP_BLACKBOX_` prefix, if any.
    pub env: Option<&'static str>,
    /// What the key does.
    pub doc: &'static str,
}

/// Why a key could not be set.
#[derive(Debug)]
pub(crate) enum SetError {
    UnknownSection,
    UnknownField,
    Bad(ValueError),
}

macro_rules! settings {
    ($( $(#[doc = $sdoc:literal])* [$section:ident] $sty:ident {
        $( #[doc = $doc:literal] $field:ident : $ty:ty = $default:expr, env $env:expr ; )*
    } )*) => {
        $(
            $(#[doc = $sdoc])*
            #[derive(Debug, Clone, PartialEq, Eq)]
            pub struct $sty { $( #[doc = $doc] pub $field: Sourced<$ty>, )* }

            impl Default for $sty {
                fn default() -> Self {
                    $sty { $( $field: Sourced::default_value($default), )* }
                }
            }
        )*

        /// The settings of the three sections, without rules.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Sections { $( pub $section: $sty, )* }

        /// Every key, in the order `config show` prints them.
        pub const KEYS: &[KeyInfo] = &[
            $( $( KeyInfo {
                section: stringify!($section),
                field: stringify!($field),
                env: $env,
                doc: $doc,
            }, )* )*
        ];

        impl Sections {
            /// Sets `section.field` from `input`, remembering `source`.
            pub(crate) fn set(
                &mut self,
                section: &str,
                field: &str,
                input: Input<'_, '_>,
                source: Source,
            ) -> Result<(), SetError> {
                match section {
                    $( stringify!($section) => match field {
                        $( stringify!($field) => {
                            let value = <$ty as SettingValue>::from_input(input).map_err(SetError::Bad)?;
                            self.$section.$field = Sourced { value, source };
                            Ok(())
                        } )*
                        _ => Err(SetError::UnknownField),
                    }, )*
                    _ => Err(SetError::UnknownSection),
                }
            }

            /// Each key with its value as TOML (`None` when unset) and source.
            pub fn entries(&self) -> Vec<(KeyInfo, Option<String>, &Source)> {
                let mut out = Vec::with_capacity(KEYS.len());
                let mut keys = KEYS.iter();
                $( $(
                    let info = *keys.next().expect("KEYS lists every field");
                    out.push((info, self.$section.$field.value.to_toml(), &self.$section.$field.source));
                )* )*
                out
            }
        }
    };
}

settings! {
    /// `[audit]`: what is recorded, where, and how.
    [audit] AuditSettings {
        /// Record audit events; false makes the proxy a pure relay.
        enabled: bool = true, env Some("ENABLED");
        /// Directory of the rotating audit files (default `~/.mcp-blackbox/audit`).
        dir: PathBuf = PathBuf::from(".mcp-blackbox/audit"), env Some("DIR");
        /// Write every event to this one file instead of daily files in `dir`; `-` is stderr.
        file: Option<String> = None, env Some("FILE");
        /// Rotate the audit file when it reaches this many MiB.
        max_size_mb: NonZeroU64 = NonZeroU64::new(10).expect("non-zero"), env Some("MAX_SIZE_MB");
        /// Keep at most this many rotated files.
        max_files: NonZeroU64 = NonZeroU64::new(30).expect("non-zero"), env Some("MAX_FILES");
        /// When to fsync the audit file: never, batch (group commit, see fsync_interval_ms), always.
        fsync: FsyncPolicy = FsyncPolicy::Batch, env Some("FSYNC");
        /// Under fsync = batch: sync at most this often, and every line within this long of its write (0: after every write batch).
        fsync_interval_ms: u64 = 50, env Some("FSYNC_INTERVAL_MS");
        /// When the audit writer's queue is full: block (the auditor waits for the disk) or drop (lose stamped lines, counted and recorded).
        queue_policy: QueueFullPolicy = QueueFullPolicy::Block, env Some("QUEUE_POLICY");
        /// Record tool-call arguments.
        include_arguments: bool = true, env Some("INCLUDE_ARGUMENTS");
        /// Record tool results.
        include_results: bool = true, env Some("INCLUDE_RESULTS");
        /// Redact secrets (by key name and value pattern) before writing.
        redact_sensitive: bool = true, env Some("REDACT_SENSITIVE");
        /// Truncate recorded string fields longer than this many characters.
        max_field_chars: NonZeroU64 = NonZeroU64::new(500).expect("non-zero"), env Some("MAX_FIELD_CHARS");
        /// Extra key names whose values are always redacted.
        redact_keys: Vec<String> = Vec::new(), env Some("REDACT_KEYS");
        /// Extra value patterns to redact: name = "regex" (settings file only).
        redact_patterns: PatternTable = PatternTable::default(), env None;
        /// File holding the key of keyed redaction: secrets become `hmac:<12 hex>` (unset: a fixed marker).
        hmac_key_file: Option<PathBuf> = None, env Some("HMAC_KEY_FILE");
        /// File holding the key that signs checkpoints (unset: checkpoints unsigned).
        signing_key: Option<PathBuf> = None, env Some("SIGNING_KEY");
        /// Write a checkpoint every this many events (0: never by count).
        checkpoint_events: u64 = 1000, env Some("CHECKPOINT_EVENTS");
        /// Write a checkpoint every this many seconds (0: never by time).
        checkpoint_seconds: u64 = 60, env Some("CHECKPOINT_SECONDS");
        /// Longest wait, in milliseconds, for the trail to reach disk at exit.
        flush_timeout_ms: u64 = 5000, env Some("FLUSH_TIMEOUT_MS");
        /// Also write a transcript of every frame (for replay, check and diff) to this file.
        transcript: Option<PathBuf> = None, env Some("TRANSCRIPT");
        /// Keep exact bytes in the transcript instead of redacting it (a warning is printed).
        transcript_raw: bool = false, env Some("TRANSCRIPT_RAW");
        /// An unusable audit target at start: closed (exit 2 before the server starts) or open (run unaudited).
        on_failure: OnAuditFailure = OnAuditFailure::Closed, env Some("ON_AUDIT_FAILURE");
        /// Accept an audit directory owned by another user or writable by group or others.
        allow_shared_dir: bool = false, env Some("ALLOW_SHARED_DIR");
        /// Delete audit files last written more than this many days ago (0: never by age).
        max_age_days: u64 = 0, env Some("MAX_AGE_DAYS");
        /// Keep at most this many MiB of audit files (0: no size limit).
        max_total_size_mb: u64 = 0, env Some("MAX_TOTAL_SIZE_MB");
        /// Never delete a file younger than this many hours to meet max_files or max_total_size_mb.
        min_age_hours: u64 = 24, env Some("MIN_AGE_HOURS");
    }
    /// `[proxy]`: the session and the child process.
    [proxy] ProxySettings {
        /// Stable name of the server (selects `[servers.NAME]`, keys pins; unset: from the command).
        server_name: Option<String> = None, env Some("SERVER_NAME");
        /// User recorded on every event (unset: the login name).
        user: Option<String> = None, env Some("USER");
        /// Frames larger than this many MiB are relayed but not parsed.
        parse_limit_mb: NonZeroU64 = NonZeroU64::new(16).expect("non-zero"), env Some("PARSE_LIMIT_MB");
        /// After the client's EOF, wait this long for the server to exit.
        grace_ms: u64 = 2000, env Some("GRACE_MS");
        /// After SIGTERM, wait this long before SIGKILL.
        kill_grace_ms: u64 = 2000, env Some("KILL_GRACE_MS");
        /// Diagnostics on stderr: error, warn, info, debug, trace.
        log_level: LogLevel = LogLevel::Warn, env Some("LOG_LEVEL");
    }
    /// `[policy]`: rules enforcement and tool pinning.
    [policy] PolicySettings {
        /// Record `policy_blocked` (outcome pending) instead of refusing.
        dry_run: bool = false, env Some("DRY_RUN_POLICY");
        /// What no rule decides: audit (forward) or deny (deny-by-default; allow rules are the allow-list).
        default_action: DefaultAction = DefaultAction::Audit, env Some("DEFAULT_ACTION");
        /// Remove denied tools from `tools/list` results (rewrites that frame).
        filter_tools_list: bool = false, env Some("FILTER_TOOLS_LIST");
        /// Pin file (default `~/.mcp-blackbox/pins.json`).
        pins: PathBuf = PathBuf::from(".mcp-blackbox/pins.json"), env Some("PINS");
        /// Refuse calls to tools whose definition changed since pinning, or that are new.
        enforce_pins: bool = false, env Some("ENFORCE_PINS");
    }
    /// `[forward]`: shipping every event to syslog or OTLP collectors.
    [forward] ForwardSettings {
        /// Collectors: syslog+tcp://, syslog+tls://, syslog+udp://HOST:PORT, otlp+http://HOST:PORT[/PATH].
        urls: Vec<String> = Vec::new(), env Some("FORWARD");
        /// Directory keeping what a collector missed, replayed when it is back (unset: memory only).
        spool: Option<PathBuf> = None, env Some("FORWARD_SPOOL");
        /// Largest syslog message sent whole; a larger event goes in its truncated form (ids and hashes).
        max_message_bytes: NonZeroU64 = NonZeroU64::new(8192).expect("non-zero"), env Some("FORWARD_MAX_MESSAGE_BYTES");
        /// PEM CA certificates trusted for syslog+tls (unset: the system bundle).
        ca_file: Option<PathBuf> = None, env Some("FORWARD_CA_FILE");
        /// PEM client certificate for syslog+tls collectors that ask for one.
        client_cert: Option<PathBuf> = None, env Some("FORWARD_CLIENT_CERT");
        /// PEM private key of the client certificate.
        client_key: Option<PathBuf> = None, env Some("FORWARD_CLIENT_KEY");
        /// When a forwarder's queue is full: drop (count) or block (wait up to block_ms, then drop and count).
        queue_policy: QueueFullPolicy = QueueFullPolicy::Block, env Some("FORWARD_QUEUE_POLICY");
        /// Under queue_policy = block: the longest wait for room, per batch.
        block_ms: u64 = 1000, env Some("FORWARD_BLOCK_MS");
    }
}

/// The environment variable prefix.
pub const ENV_PREFIX: &str = "MCP_BLACKBOX_";

/// Names of the keys of `section`, for "valid keys are ..." messages.
pub fn fields_of(section: &str) -> Vec<&'static str> {
    KEYS.iter()
        .filter(|k| k.section == section)
        .map(|k| k.field)
        .collect()
}

/// The key whose environment variable is `MCP_BLACKBOX_<suffix>`.
pub fn key_for_env(suffix: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|k| k.env == Some(suffix))
}
