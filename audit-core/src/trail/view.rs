//! One audit line as a reader sees it: the envelope and the fields readers
//! filter, group and show, borrowed from the line (strings with escapes are
//! the only copies), everything else skipped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The fields of an event that the readers use.
#[derive(Debug, Deserialize)]
pub struct EventView<'a> {
    #[serde(borrow, default)]
    pub event_id: Cow<'a, str>,
    #[serde(borrow)]
    pub timestamp: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub severity: Cow<'a, str>,
    #[serde(borrow, default)]
    pub outcome: Cow<'a, str>,
    #[serde(borrow, default)]
    pub session_id: Cow<'a, str>,
    #[serde(borrow, default)]
    pub server: Cow<'a, str>,
    #[serde(borrow, default)]
    pub user: Cow<'a, str>,
    #[serde(default)]
    pub seq: u64,
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub tool: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub call_event_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub duration_ms: Option<f64>,
    #[serde(borrow, default)]
    pub risk_level: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub compliance_tags: Tags<'a>,
    #[serde(borrow, default)]
    pub arguments: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub error: Option<&'a RawValue>,
    #[serde(default)]
    pub details: DetailsView,
}

/// An event's `compliance_tags`, kept as written and decoded only when
/// asked for: most readers never look at them, and a list per event would
/// be an allocation per event.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(transparent)]
pub struct Tags<'a>(#[serde(borrow)] Option<&'a RawValue>);

impl<'a> Tags<'a> {
    /// The tags, in order (none if the member is not a list of strings).
    pub fn iter(&self) -> impl Iterator<Item = Cow<'a, str>> {
        self.0
            .and_then(|raw| serde_json::from_str::<Vec<Cow<'a, str>>>(raw.get()).ok())
            .unwrap_or_default()
            .into_iter()
    }
}

/// The `details` members the readers use.
#[derive(Debug, Default, Deserialize)]
pub struct DetailsView {
    pub arguments_bytes: Option<u64>,
    pub result_bytes: Option<u64>,
}

impl<'a> EventView<'a> {
    /// Parses one line (without its newline).
    pub fn parse(line: &'a [u8]) -> Result<EventView<'a>, String> {
        serde_json::from_slice(line).map_err(|e| format!("not an audit event: {e}"))
    }

    /// The tool, or `""`.
    pub fn tool(&self) -> &str {
        self.tool.as_deref().unwrap_or("")
    }

    /// The event ends a tool call: its answer, or how it ended unanswered.
    pub fn is_tool_answer(&self) -> bool {
        is_answer_type(&self.kind)
            && self.call_event_id.is_some()
            && (self.kind != "rpc_error" || self.method.as_deref() == Some("tools/call"))
    }

    /// The `YYYY-MM-DD` of the timestamp.
    pub fn day(&self) -> &str {
        self.timestamp.get(..10).unwrap_or(&self.timestamp)
    }

    /// The duration in whole microseconds (`duration_ms` has microsecond
    /// precision), for exact percentiles.
    pub fn duration_us(&self) -> Option<u64> {
        self.duration_ms
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| (d * 1000.0).round() as u64)
    }
}

/// The event types that end a `tools/call`.
pub fn is_answer_type(kind: &str) -> bool {
    matches!(
        kind,
        "tool_result"
            | "tool_error"
            | "rpc_error"
            | "tool_cancelled"
            | "tool_abandoned"
            | "input_required"
    )
}

/// The rank of a severity (`info` 0 … `critical` 3), `None` if unknown.
pub fn severity_rank(s: &str) -> Option<u8> {
    ["info", "warning", "error", "critical"]
        .iter()
        .position(|n| *n == s)
        .map(|p| p as u8)
}

/// The rank of a risk level (`low` 0 … `critical` 3), `None` if unknown.
pub fn risk_rank(s: &str) -> Option<u8> {
    ["low", "medium", "high", "critical"]
        .iter()
        .position(|n| *n == s)
        .map(|p| p as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_tool_error_line() {
        let line = br#"{"v":1,"event_id":"e6","timestamp":"2026-11-23T16:12:40.123Z","type":"tool_error","severity":"warning","outcome":"failure","session_id":"s","server":"everything","user":"alice","seq":6,"direction":"server_to_client","method":"tools/call","tool":"get-sum","jsonrpc_id":5,"call_event_id":"e4","duration_ms":3.2,"risk_level":"low","compliance_tags":["data_access"],"result":{"content":[{"type":"text","text":"Invalid arguments"}],"isError":true},"details":{"arguments_bytes":15,"result_bytes":74,"content_types":["text"]},"prev_hash":"58","hash":"f1"}"#;
        let e = EventView::parse(line).unwrap();
        assert_eq!(e.kind, "tool_error");
        assert_eq!(e.tool(), "get-sum");
        assert!(e.is_tool_answer());
        assert_eq!(e.duration_us(), Some(3200));
        assert_eq!(e.details.result_bytes, Some(74));
        assert_eq!(e.day(), "2026-11-23");
        assert_eq!(
            e.compliance_tags.iter().collect::<Vec<_>>(),
            ["data_access"]
        );
        assert!(e.result.unwrap().get().contains("isError"));
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let e = EventView::parse(br#"{"timestamp":"t","type":"tool_call","tool":"a\/b\u00e9"}"#)
            .unwrap();
        assert_eq!(e.tool(), "a/bé");
        assert!(!e.is_tool_answer());
    }
}
