//! Borrowed reading of request and notification params, and of the `_meta`
//! members events record: progress tokens, W3C trace context, the stateless
//! era's per-request protocol version / client info / capabilities, and the
//! opaque `requestState` (recorded by size and hash only: it is
//! attacker-controlled and meaningless to us).
//!
//! Every member is first taken as `&RawValue`, which accepts any JSON, so a
//! member of the wrong type never makes the whole params unreadable.

use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::members::members;

/// Longest `tracestate` kept (the W3C limit is 512 characters).
pub const TRACESTATE_MAX: usize = 512;

members! {
    /// The params members of any request that events look at.
    pub struct RequestParams<'a> {
        pub name: Option<&'a RawValue> = "name",
        pub arguments: Option<&'a RawValue> = "arguments",
        pub uri: Option<&'a RawValue> = "uri",
        pub cursor: Option<&'a RawValue> = "cursor",
        pub request_state: Option<&'a RawValue> = "requestState",
        pub input_responses: Option<&'a RawValue> = "inputResponses",
        pub meta: Option<&'a RawValue> = "_meta",
        /// `initialize` only.
        pub protocol_version: Option<&'a RawValue> = "protocolVersion",
        pub client_info: Option<&'a RawValue> = "clientInfo",
        pub capabilities: Option<&'a RawValue> = "capabilities",
    }
}

impl<'a> RequestParams<'a> {
    /// The params of a request (empty if absent or not an object).
    pub fn parse(params: Option<&'a RawValue>) -> RequestParams<'a> {
        params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or_default()
    }

    /// `name` as a string.
    pub fn name(&self) -> Option<String> {
        string(self.name?)
    }

    /// `uri` as a string.
    pub fn uri(&self) -> Option<String> {
        string(self.uri?)
    }

    /// True when the request asks for a further page.
    pub fn has_cursor(&self) -> bool {
        self.cursor.is_some_and(|c| c.get() != "null")
    }

    /// `_meta`, read.
    pub fn meta(&self) -> RequestMeta<'a> {
        self.meta
            .and_then(|m| serde_json::from_str(m.get()).ok())
            .unwrap_or_default()
    }
}

members! {
    /// The `_meta` members of a request that events look at.
    pub struct RequestMeta<'a> {
        pub progress_token: Option<&'a RawValue> = "progressToken",
        pub traceparent: Option<&'a RawValue> = "traceparent",
        pub tracestate: Option<&'a RawValue> = "tracestate",
        pub protocol_version: Option<&'a RawValue> = "io.modelcontextprotocol/protocolVersion",
        pub client_info: Option<&'a RawValue> = "io.modelcontextprotocol/clientInfo",
        pub client_capabilities: Option<&'a RawValue> = "io.modelcontextprotocol/clientCapabilities",
    }
}

impl RequestMeta<'_> {
    /// The progress token, if it is a string or a number (the only valid kinds).
    pub fn progress_token(&self) -> Option<Box<RawValue>> {
        let t = self.progress_token?;
        let first = t.get().as_bytes().first()?;
        (*first == b'"' || *first == b'-' || first.is_ascii_digit()).then(|| t.to_owned())
    }

    /// The trace context, or `Err(())` when a `traceparent` is present but malformed.
    pub fn trace(&self) -> Option<Result<TraceContext, ()>> {
        let tp = string(self.traceparent?);
        let Some((trace_id, span_id)) = tp.as_deref().and_then(parse_traceparent) else {
            return Some(Err(()));
        };
        let tracestate = self
            .tracestate
            .and_then(string)
            .filter(|s| s.len() <= TRACESTATE_MAX);
        Some(Ok(TraceContext {
            trace_id,
            span_id,
            tracestate,
        }))
    }
}

/// W3C trace context carried in a request's `_meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
    pub tracestate: Option<String>,
}

/// `(trace_id, span_id)` of a valid W3C `traceparent`
/// (`version-traceid-parentid-flags`, lower-case hex, ids not all zero,
/// version not `ff`; version `00` has exactly four fields, later versions may
/// append more after a `-`).
pub fn parse_traceparent(tp: &str) -> Option<(String, String)> {
    let b = tp.as_bytes();
    let hex = |s: &[u8]| s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let (version, trace, span, flags) = (&b[..2], &b[3..35], &b[36..52], &b[53..55]);
    if !hex(version) || version == b"ff" || !hex(trace) || !hex(span) || !hex(flags) {
        return None;
    }
    if (version == b"00" && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    if trace.iter().all(|c| *c == b'0') || span.iter().all(|c| *c == b'0') {
        return None;
    }
    Some((tp[3..35].to_owned(), tp[36..52].to_owned()))
}

/// An opaque value recorded by size and hash only: `{"bytes": n, "sha256": hex}`
/// over the decoded string (or the raw JSON text, if it is not a string).
pub fn opaque_digest(raw: &RawValue) -> Value {
    let decoded = string(raw);
    let bytes = decoded.as_deref().unwrap_or(raw.get()).as_bytes();
    serde_json::json!({ "bytes": bytes.len(), "sha256": hex::encode(Sha256::digest(bytes)) })
}

/// The keys of an `inputResponses` / `inputRequests` object (at most `max`).
pub fn object_keys(raw: &RawValue, max: usize) -> Vec<String> {
    serde_json::from_str::<std::collections::BTreeMap<String, &RawValue>>(raw.get())
        .map(|m| m.into_keys().take(max).collect())
        .unwrap_or_default()
}

/// A JSON string member, decoded.
pub fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

members! {
    /// `params` of a notification: the members events look at.
    pub struct NotificationParams<'a> {
        pub request_id: Option<&'a RawValue> = "requestId",
        pub reason: Option<&'a RawValue> = "reason",
        pub progress_token: Option<&'a RawValue> = "progressToken",
        pub progress: Option<&'a RawValue> = "progress",
        pub total: Option<&'a RawValue> = "total",
        pub level: Option<&'a RawValue> = "level",
        pub logger: Option<&'a RawValue> = "logger",
        pub data: Option<&'a RawValue> = "data",
    }
}

impl<'a> NotificationParams<'a> {
    /// The params of a notification (empty if absent or not an object).
    pub fn parse(params: Option<&'a RawValue>) -> NotificationParams<'a> {
        params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_validation() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse_traceparent(ok),
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                "00f067aa0ba902b7".into()
            ))
        );
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
        // A later version may carry more fields.
        assert!(parse_traceparent(&format!("01{}-zz", &ok[2..])).is_some());
    }

    #[test]
    fn members_of_the_wrong_type_do_not_spoil_the_rest() {
        let raw = RawValue::from_string(
            r#"{"name":7,"uri":"file:///x","_meta":{"progressToken":{"no":1},"traceparent":5}}"#
                .into(),
        )
        .unwrap();
        let p = RequestParams::parse(Some(&raw));
        assert_eq!(p.name(), None);
        assert_eq!(p.uri().as_deref(), Some("file:///x"));
        let m = p.meta();
        assert!(m.progress_token().is_none());
        assert_eq!(m.trace(), Some(Err(())));
    }

    #[test]
    fn opaque_state_is_size_and_hash() {
        let raw = RawValue::from_string(r#""abc""#.into()).unwrap();
        let d = opaque_digest(&raw);
        assert_eq!(d["bytes"], 3);
        assert_eq!(
            d["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
