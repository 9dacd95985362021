//! The audit event model: what one line of the audit trail says.
//!
//! An [`Event`] is what the classifier (and the other stages) produce: its type,
//! severity, outcome, the typed fields a reader filters on, and a free-form
//! `details` object for what is specific to one event type. The envelope that
//! every line carries (`v`, `event_id`, `timestamp`, `session_id`, `server`,
//! `user`, `seq`, `prev_hash`, `hash`) is added later by [`crate::stamp`], which
//! owns the per-session counters and the hash chain.
//!
//! The schema is an API: fields are only ever added, never renamed or retyped,
//! and `docs/events.md` documents each of them with an example line.
//!
//! Every string an event holds from a peer is re-encoded when the line is
//! written (`write_line_safe`): no line holds a raw control or line
//! separator character. A request id is recorded as a parsed JSON value (its
//! text normalised), or by SHA-256 when it is longer than `MAX_ID_BYTES`.

mod escape;

use std::borrow::Cow;
use std::time::SystemTime;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

#[cfg(any(test, feature = "test-support"))]
pub(crate) use escape::needs_escape;
pub(crate) use escape::write_line_safe;

/// Version of the event schema, written as `"v"` on every line.
pub const SCHEMA_VERSION: u32 = 1;

/// Which way a frame travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the MCP client (our stdin) to the server (the child's stdin).
    ClientToServer,
    /// From the server (the child's stdout) to the client (our stdout).
    ServerToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }
}

/// The `type` of an event. Serialised in `snake_case` (`tool_call`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    SessionStart,
    SessionUpdated,
    SessionEnd,
    ToolCall,
    ToolResult,
    ToolError,
    ToolCancelled,
    ToolAbandoned,
    ToolsListed,
    ToolChanged,
    InputRequired,
    RpcRequest,
    RpcResponse,
    RpcError,
    Notification,
    ResourceRead,
    PromptGet,
    SamplingRequest,
    ElicitationRequest,
    RootsList,
    ServerLog,
    ProtocolViolation,
    PolicyBlocked,
    SecretDetected,
    AuditDropped,
    RetentionExceeded,
    Checkpoint,
}

impl EventType {
    /// The name written in the `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SessionStart => "session_start",
            EventType::SessionUpdated => "session_updated",
            EventType::SessionEnd => "session_end",
            EventType::ToolCall => "tool_call",
            EventType::ToolResult => "tool_result",
            EventType::ToolError => "tool_error",
            EventType::ToolCancelled => "tool_cancelled",
            EventType::ToolAbandoned => "tool_abandoned",
            EventType::ToolsListed => "tools_listed",
            EventType::ToolChanged => "tool_changed",
            EventType::InputRequired => "input_required",
            EventType::RpcRequest => "rpc_request",
            EventType::RpcResponse => "rpc_response",
            EventType::RpcError => "rpc_error",
            EventType::Notification => "notification",
            EventType::ResourceRead => "resource_read",
            EventType::PromptGet => "prompt_get",
            EventType::SamplingRequest => "sampling_request",
            EventType::ElicitationRequest => "elicitation_request",
            EventType::RootsList => "roots_list",
            EventType::ServerLog => "server_log",
            EventType::ProtocolViolation => "protocol_violation",
            EventType::PolicyBlocked => "policy_blocked",
            EventType::SecretDetected => "secret_detected",
            EventType::AuditDropped => "audit_dropped",
            EventType::RetentionExceeded => "retention_exceeded",
            EventType::Checkpoint => "checkpoint",
        }
    }
}

/// How much a reader should care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    /// The name written in the `severity` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// What became of the thing the event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Blocked,
    Pending,
}

impl Outcome {
    /// The name written in the `outcome` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Blocked => "blocked",
            Outcome::Pending => "pending",
        }
    }
}

/// Risk of a call, from built-in defaults or a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

/// A JSON-RPC error as an event records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RpcErrorInfo {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// `data` was too large to parse within the frame's budget
    /// (`crate::classify::budget`) and is left out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub data_omitted: bool,
}

/// One audit event before the envelope is stamped on it.
///
/// Fields that are `None` (or empty) are left out of the line. `arguments`,
/// `result`, `error` and `excerpt` carry payload from the wire and are what the
/// redaction stage rewrites; `details` holds metadata of our own (counts,
/// sizes, hashes, names) and is redacted by value pattern only.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// `type`, `severity` and `outcome` are written in the envelope, before the
    /// session fields (see [`crate::stamp`]).
    #[serde(skip)]
    pub event_type: EventType,
    #[serde(skip)]
    pub severity: Severity,
    #[serde(skip)]
    pub outcome: Outcome,
    /// When the frame that caused the event was read (not when it was classified).
    #[serde(skip)]
    pub at: SystemTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The JSON-RPC id as a JSON value (`1` and `"1"` differ), re-encoded:
    /// see [`Event::set_jsonrpc_id`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonrpc_id: Option<Value>,
    /// For results, errors, cancellations: the `event_id` of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_event_id: Option<String>,
    /// The `event_id` of the client call this event belongs to when the link
    /// is certain: an input request embedded in that call's `input_required`
    /// result, or a retry of that call carrying its `requestState`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_event_id: Option<String>,
    /// Pre-assigned `event_id` (the classifier assigns ids to requests so that
    /// their answers can link to them); the stamp stage fills it otherwise.
    #[serde(skip)]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<RiskLevel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compliance_tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcErrorInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
    /// A digest for `details` that the auditor computes before redacting
    /// and stamping the event (boxed: rare, and events are many).
    #[serde(skip)]
    pub pending_digest: Option<Box<PendingDigest>>,
}

/// The SHA-256 (hex) of `of`, to be written as `details[field]`.
///
/// A large result's digest is most of the CPU its event costs. The classifier names what to hash; the
/// auditor hashes it in pieces, between which it can yield its core to the
/// relay and the peers, where the classifier would have held it for the
/// whole result.
#[derive(Debug, Clone)]
pub struct PendingDigest {
    pub field: &'static str,
    /// The bytes, shared with the frame they are part of (no copy).
    pub of: Bytes,
}

impl Event {
    /// A new event of `event_type` at `at`, with severity `info`, outcome
    /// `success` and no optional fields.
    pub fn new(event_type: EventType, at: SystemTime) -> Event {
        Event {
            event_type,
            severity: Severity::Info,
            outcome: Outcome::Success,
            at,
            direction: None,
            method: None,
            tool: None,
            jsonrpc_id: None,
            call_event_id: None,
            parent_event_id: None,
            event_id: None,
            duration_ms: None,
            risk_level: None,
            compliance_tags: Vec::new(),
            trace_id: None,
            span_id: None,
            arguments: None,
            result: None,
            error: None,
            excerpt: None,
            details: Map::new(),
            pending_digest: None,
        }
    }

    /// Builder: set the severity.
    pub fn severity(mut self, severity: Severity) -> Event {
        self.severity = severity;
        self
    }

    /// Builder: set the outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Event {
        self.outcome = outcome;
        self
    }

    /// Records the request id whose key (`id_key`) is `key`: the id's
    /// value, or for a long id `details.jsonrpc_id_sha256`.
    pub fn set_jsonrpc_id(&mut self, key: &str) {
        match key.strip_prefix('#') {
            Some(digest) => {
                self.details
                    .insert("jsonrpc_id_sha256".into(), digest.into());
            }
            None => self.jsonrpc_id = serde_json::from_str(key).ok(),
        }
    }

    /// Builder: set one `details` entry.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// Longest request id (JSON text) kept and recorded as it is.
pub(crate) const MAX_ID_BYTES: usize = 256;

/// What identifies a request id of JSON text `raw` while it is in flight:
/// its normalised text (white space and escapes as serde_json writes them,
/// so an answer echoing the id re-serialised still matches; `1` and `"1"`
/// stay different), or `#` and the SHA-256 (hex) of the raw text when it is
/// longer than [`MAX_ID_BYTES`] (JSON text never starts with `#`), so a
/// table of ids in flight holds at most that much per id.
pub(crate) fn id_key(raw: &str) -> Cow<'_, str> {
    if raw.len() > MAX_ID_BYTES {
        return Cow::Owned(format!("#{}", crate::digest::sha256_hex(raw.as_bytes())));
    }
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'"' | b'-' | b'_' | b'.');
    if raw.bytes().all(|b| plain(&b)) {
        return Cow::Borrowed(raw);
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v) => Cow::Owned(v.to_string()),
        Err(_) => Cow::Borrowed(raw),
    }
}

/// A new time-sortable unique event id (UUID v7, RFC 9562): lower-case,
/// hyphenated. Its random bits come from a user-space CSPRNG seeded by the
/// OS (uuid's `fast-rng`), not from a `getrandom` call per event.
pub(crate) fn new_event_id() -> String {
    let mut buf = uuid::Uuid::encode_buffer();
    uuid::Uuid::now_v7()
        .hyphenated()
        .encode_lower(&mut buf)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_match_serde() {
        for t in [
            EventType::SessionStart,
            EventType::ToolCall,
            EventType::ProtocolViolation,
            EventType::AuditDropped,
        ] {
            let s = serde_json::to_value(t).unwrap();
            assert_eq!(s, Value::String(t.as_str().to_owned()));
        }
        for s in [
            Severity::Info,
            Severity::Warning,
            Severity::Error,
            Severity::Critical,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for o in [
            Outcome::Success,
            Outcome::Failure,
            Outcome::Blocked,
            Outcome::Pending,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }

    #[test]
    fn empty_optionals_are_left_out() {
        let e = Event::new(EventType::ToolCall, SystemTime::UNIX_EPOCH);
        assert_eq!(serde_json::to_string(&e).unwrap(), "{}");
        let e = e.detail("n", 1);
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"details":{"n":1}}"#);
    }

    #[test]
    fn ids_are_normalised_values_or_digests() {
        let mut e = Event::new(EventType::ToolCall, SystemTime::UNIX_EPOCH);
        e.set_jsonrpc_id(&id_key("{\"a\":\r\"\\u2028\"}"));
        assert_eq!(e.jsonrpc_id, Some(serde_json::json!({"a": "\u{2028}"})));
        let long = format!("\"{}\"", "x".repeat(MAX_ID_BYTES));
        let mut e = Event::new(EventType::ToolCall, SystemTime::UNIX_EPOCH);
        e.set_jsonrpc_id(&id_key(&long));
        assert!(e.jsonrpc_id.is_none());
        let digest = crate::digest::sha256_hex(long.as_bytes());
        assert_eq!(e.details["jsonrpc_id_sha256"], digest.as_str());
    }

    #[test]
    fn id_keys_ignore_white_space_and_escapes_not_types() {
        assert_eq!(id_key("{\"a\" :\r\"\\u0078\"}"), id_key("{\"a\":\"x\"}"));
        assert_ne!(id_key("1"), id_key("\"1\""));
        assert_eq!(id_key("\"req-1\""), "\"req-1\"");
    }

    #[test]
    fn event_ids_sort_by_time() {
        let a = new_event_id();
        let b = new_event_id();
        assert!(a < b, "{a} !< {b}");
    }
}
