//! OTLP/HTTP logs, JSON encoding: one `ExportLogsServiceRequest` per batch
//! of stamped lines, one log record per line. Pure: unit-tested without a
//! socket.
//!
//! A record carries the event's timestamp (`timeUnixNano`), its severity
//! mapped to OTel's numbers (info 9, warning 13, error 17, critical 21), the
//! stamped line as its string body, every top-level event field except the
//! trace ids as an attribute (scalars typed, objects and arrays as their JSON
//! text), and the event's `trace_id` / `span_id` (taken from the request's
//! `params._meta.traceparent`) as the record's trace context, lower-case hex
//! as OTLP/JSON wants, so events join the agent's traces.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::head::trim_newline;

/// OTel severity number and text of an event severity.
pub fn severity(severity: Option<&str>) -> (u8, &'static str) {
    match severity {
        Some("critical") => (21, "FATAL"),
        Some("error") => (17, "ERROR"),
        Some("warning") => (13, "WARN"),
        Some("info") => (9, "INFO"),
        _ => (0, ""),
    }
}

/// The request body for `lines`; `service` names the resource.
pub fn encode(lines: &[Bytes], service: &str) -> Vec<u8> {
    let records: Vec<Value> = lines.iter().map(|l| record(trim_newline(l))).collect();
    let body = json!({
        "resourceLogs": [{
            "resource": {"attributes": [attr("service.name", &Value::from(service))]},
            "scopeLogs": [{
                "scope": {"name": "mcp-blackbox", "version": env!("CARGO_PKG_VERSION")},
                "logRecords": records,
            }],
        }],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// One log record.
fn record(line: &[u8]) -> Value {
    let body = String::from_utf8_lossy(line);
    let fields: Map<String, Value> = serde_json::from_slice(line).unwrap_or_default();
    let text = |k: &str| fields.get(k).and_then(Value::as_str);
    let (number, name) = severity(text("severity"));
    let mut rec = Map::new();
    if let Some(nanos) = text("timestamp").and_then(unix_nanos) {
        rec.insert("timeUnixNano".into(), nanos.to_string().into());
    }
    rec.insert("severityNumber".into(), number.into());
    if !name.is_empty() {
        rec.insert("severityText".into(), name.into());
    }
    rec.insert("body".into(), json!({"stringValue": body}));
    let attributes: Vec<Value> = fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "trace_id" | "span_id"))
        .map(|(k, v)| attr(k, v))
        .collect();
    rec.insert("attributes".into(), attributes.into());
    if let Some(t) = text("trace_id").filter(|t| is_hex_id(t, 32)) {
        rec.insert("traceId".into(), t.into());
        if let Some(s) = text("span_id").filter(|s| is_hex_id(s, 16)) {
            rec.insert("spanId".into(), s.into());
        }
    }
    rec.into()
}

/// A `KeyValue`: scalars typed (integers as strings, as OTLP/JSON encodes
/// 64-bit integers), objects and arrays as their JSON text.
fn attr(key: &str, value: &Value) -> Value {
    let any = match value {
        Value::String(s) => json!({"stringValue": s}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n.as_f64()}),
        Value::Null => json!({}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": any})
}

fn is_hex_id(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Nanoseconds since the epoch of an RFC 3339 timestamp.
fn unix_nanos(t: &str) -> Option<i128> {
    let parsed =
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    Some(parsed.unix_timestamp_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"v":1,"event_id":"e-1","timestamp":"2026-11-23T16:12:40.123Z","type":"tool_call","severity":"warning","seq":4,"tool":"echo","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","arguments":{"x":1},"duration_ms":1.5,"hash":"bb"}"#;

    #[test]
    fn encodes_a_record_with_attributes_and_trace_context() {
        let body = encode(&[Bytes::from(format!("{LINE}\n"))], "svc");
        let v: Value = serde_json::from_slice(&body).unwrap();
        let rl = &v["resourceLogs"][0];
        assert_eq!(
            rl["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
        let rec = &rl["scopeLogs"][0]["logRecords"][0];
        assert_eq!(rec["timeUnixNano"], "1795450360123000000");
        assert_eq!(rec["severityNumber"], 13);
        assert_eq!(rec["severityText"], "WARN");
        assert_eq!(rec["body"]["stringValue"], LINE);
        assert_eq!(rec["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(rec["spanId"], "00f067aa0ba902b7");
        let attrs = rec["attributes"].as_array().unwrap();
        let get = |k: &str| {
            attrs
                .iter()
                .find(|a| a["key"] == k)
                .map(|a| a["value"].clone())
        };
        assert_eq!(get("event_id").unwrap()["stringValue"], "e-1");
        assert_eq!(get("seq").unwrap()["intValue"], "4");
        assert_eq!(get("duration_ms").unwrap()["doubleValue"], 1.5);
        assert_eq!(get("arguments").unwrap()["stringValue"], r#"{"x":1}"#);
        assert!(get("trace_id").is_none());
    }

    #[test]
    fn a_line_without_trace_context_or_json_is_still_a_record() {
        let body = encode(&[Bytes::from_static(b"junk\n")], "svc");
        let v: Value = serde_json::from_slice(&body).unwrap();
        let rec = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(rec["body"]["stringValue"], "junk");
        assert!(rec.get("traceId").is_none());
        assert_eq!(rec["severityNumber"], 0);
    }
}
