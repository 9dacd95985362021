//! Every example line of `docs/events.md` parses, carries the envelope, and
//! uses only the names and values the event model defines; every event type
//! has an example.

use std::collections::BTreeSet;

use audit_core::event::EventType;
use serde_json::Value;

const ALL_TYPES: &[EventType] = &[
    EventType::SessionStart,
    EventType::SessionUpdated,
    EventType::SessionEnd,
    EventType::ToolCall,
    EventType::ToolResult,
    EventType::ToolError,
    EventType::ToolCancelled,
    EventType::ToolAbandoned,
    EventType::ToolsListed,
    EventType::ToolChanged,
    EventType::InputRequired,
    EventType::RpcRequest,
    EventType::RpcError,
    EventType::Notification,
    EventType::ResourceRead,
    EventType::PromptGet,
    EventType::SamplingRequest,
    EventType::ElicitationRequest,
    EventType::RootsList,
    EventType::ServerLog,
    EventType::ProtocolViolation,
    EventType::PolicyBlocked,
    EventType::SecretDetected,
    EventType::AuditDropped,
    EventType::RetentionExceeded,
    EventType::Checkpoint,
];

const ENVELOPE: &[&str] = &[
    "v",
    "event_id",
    "timestamp",
    "type",
    "severity",
    "outcome",
    "session_id",
    "server",
    "user",
    "host",
    "seq",
    "prev_hash",
    "hash",
];
const FIELDS: &[&str] = &[
    "direction",
    "method",
    "tool",
    "jsonrpc_id",
    "call_event_id",
    "parent_event_id",
    "duration_ms",
    "risk_level",
    "compliance_tags",
    "trace_id",
    "span_id",
    "arguments",
    "result",
    "error",
    "excerpt",
    "details",
];

fn example_lines() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md"))
        .expect("docs/events.md is readable");
    let mut lines = Vec::new();
    let mut in_json = false;
    for line in doc.lines() {
        match line.trim() {
            "```json" => in_json = true,
            "```" => in_json = false,
            l if in_json && !l.is_empty() => lines.push(l.to_owned()),
            _ => {}
        }
    }
    lines
}

fn is_hex64(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn one_of(v: &Value, allowed: &[&str]) -> bool {
    v.as_str().is_some_and(|s| allowed.contains(&s))
}

#[test]
fn every_example_line_is_a_valid_event() {
    let lines = example_lines();
    assert!(!lines.is_empty());
    let names: Vec<&str> = ALL_TYPES.iter().map(|t| t.as_str()).collect();
    let mut seen = BTreeSet::new();
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let obj = v.as_object().expect("an object");
        for k in ENVELOPE {
            assert!(obj.contains_key(*k), "missing {k}: {line}");
        }
        for k in obj.keys() {
            assert!(
                ENVELOPE.contains(&k.as_str()) || FIELDS.contains(&k.as_str()),
                "unknown field {k}: {line}"
            );
        }
        assert_eq!(v["v"], 1);
        assert!(one_of(&v["type"], &names), "{line}");
        assert!(one_of(
            &v["severity"],
            &["info", "warning", "error", "critical"]
        ));
        assert!(one_of(
            &v["outcome"],
            &["success", "failure", "blocked", "pending"]
        ));
        assert!(is_hex64(&v["prev_hash"]) && is_hex64(&v["hash"]), "{line}");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        if let Some(r) = obj.get("risk_level") {
            assert!(one_of(r, &["low", "medium", "high", "critical"]), "{line}");
        }
        if let Some(d) = obj.get("direction") {
            assert!(one_of(d, &["client_to_server", "server_to_client"]));
        }
        if let Some(t) = obj.get("trace_id") {
            assert_eq!(t.as_str().unwrap().len(), 32);
            assert_eq!(v["span_id"].as_str().unwrap().len(), 16);
        }
        if let Some(d) = obj.get("duration_ms") {
            assert!(d.as_f64().is_some_and(|d| d >= 0.0));
        }
        seen.insert(v["type"].as_str().unwrap().to_owned());
    }
    for name in names {
        assert!(seen.contains(name), "no example for {name}");
    }
}

#[test]
fn examples_serialise_like_the_event_model() {
    // The documented names of the typed fields are the ones serde writes.
    let mut e =
        audit_core::event::Event::new(EventType::ToolCall, std::time::SystemTime::UNIX_EPOCH);
    e.direction = Some(audit_core::event::Direction::ClientToServer);
    e.risk_level = Some(audit_core::event::RiskLevel::High);
    e.parent_event_id = Some("p".into());
    e.duration_ms = Some(1.0);
    let v = serde_json::to_value(&e).unwrap();
    for k in v.as_object().unwrap().keys() {
        assert!(FIELDS.contains(&k.as_str()), "{k} is not documented");
    }
}
