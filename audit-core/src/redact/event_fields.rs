//! Redacting a whole [`Event`]: which fields are payload, which are ours, and
//! the `secret_detected` event a secret in a tool result raises.

use serde_json::Value;

use crate::event::{Event, EventType, Severity};

use super::{walk, Redactions, Redactor};

/// `details` keys written by the pipeline itself that must reach disk as they
/// are (hashes and seeds are verified byte for byte; `redactions` is ours).
const PROTECTED_DETAILS: &[&str] = &["chain_seed", "redactions"];

/// True for a `details` key left untouched: the listed ones, and any hash
/// (`…hash`, `…sha256`, `…seed`).
pub(crate) fn is_protected(key: &str) -> bool {
    PROTECTED_DETAILS.contains(&key)
        || key.ends_with("hash")
        || key.ends_with("sha256")
        || key.ends_with("seed")
}

impl Redactor {
    /// Redacts every field of `e` that carries peer data, in place: `method`,
    /// `tool`, `jsonrpc_id`, `arguments`, `result`, `error.message`,
    /// `error.data`, `excerpt`, and the values of `details` (resource URIs,
    /// prompt names, client and server info, tool names, tokens, ...)
    /// (except `chain_seed`, `redactions` and keys ending in `hash`, `sha256` or `seed`; the top-level keys of
    /// `details` are our own names and not matched as secret names). Long
    /// strings are cut. When anything was removed, `details.redactions` lists
    /// the kinds (sorted, each once, merged with any already there).
    ///
    /// Returns a `secret_detected` event (severity `warning`) when `e` is a
    /// `tool_result` or `tool_error` whose `result` carried a secret; it links
    /// to the call like the result does (`call_event_id`, `tool`,
    /// `jsonrpc_id`, `method`, `direction`) and lists the kinds found in the
    /// result. The caller stamps it right after `e`.
    pub fn redact_event(&self, e: &mut Event) -> Option<Event> {
        let mut found = Redactions::default();
        for name in [&mut e.method, &mut e.tool].into_iter().flatten() {
            self.redact_string_field(name, &mut found);
        }
        if let Some(id) = &mut e.jsonrpc_id {
            self.redact_value(id, &mut found);
        }
        if let Some(a) = &mut e.arguments {
            self.redact_value(a, &mut found);
        }
        let mut in_result = Redactions::default();
        if let Some(r) = &mut e.result {
            self.redact_value(r, &mut in_result);
        }
        found.merge(&in_result);
        if let Some(err) = &mut e.error {
            self.redact_string_field(&mut err.message, &mut found);
            if let Some(d) = &mut err.data {
                self.redact_value(d, &mut found);
            }
        }
        if let Some(x) = &mut e.excerpt {
            self.redact_string_field(x, &mut found);
        }
        for (key, value) in e.details.iter_mut() {
            if !is_protected(key) {
                walk::redact(self, value, &mut found);
            }
        }
        if !found.is_empty() {
            record_kinds(e, &found);
        }
        let from_tool = matches!(e.event_type, EventType::ToolResult | EventType::ToolError);
        (from_tool && !in_result.is_empty()).then(|| secret_detected(e, &in_result))
    }

    fn redact_string_field(&self, s: &mut String, found: &mut Redactions) {
        let mut v = Value::String(std::mem::take(s));
        walk::redact(self, &mut v, found);
        if let Value::String(done) = v {
            *s = done;
        }
    }
}

/// Merges the kinds of `found` into `details.redactions`.
fn record_kinds(e: &mut Event, found: &Redactions) {
    let mut kinds: Vec<String> = match e.details.get("redactions") {
        Some(Value::Array(old)) => old
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    kinds.extend(found.kinds().map(str::to_owned));
    kinds.sort_unstable();
    kinds.dedup();
    e.details.insert("redactions".into(), kinds.into());
}

fn secret_detected(result: &Event, in_result: &Redactions) -> Event {
    let mut e = Event::new(EventType::SecretDetected, result.at).severity(Severity::Warning);
    e.direction = result.direction;
    e.method = result.method.clone();
    e.tool = result.tool.clone();
    e.jsonrpc_id = result.jsonrpc_id.clone();
    e.call_event_id = result.call_event_id.clone();
    let kinds: Vec<&str> = in_result.kinds().collect();
    e.details.insert("redactions".into(), kinds.into());
    e.details.insert("count".into(), in_result.count().into());
    e.details.insert("field".into(), "result".into());
    e.details
        .insert("source_type".into(), result.event_type.as_str().into());
    e
}
