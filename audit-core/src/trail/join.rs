//! `--join`: each answer to a tool call with its call, in one object.
//!
//! Calls are remembered (their time, arguments and risk) until their answer
//! is read; at most [`MAX_PENDING_CALLS`] at once, the oldest forgotten
//! first (an answer whose call was forgotten, or is in no file read, has
//! `"call_found": false`).

use std::collections::{HashMap, VecDeque};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::view::EventView;

/// Calls awaiting their answer, at most.
pub const MAX_PENDING_CALLS: usize = 65_536;

#[derive(Debug)]
struct Call {
    timestamp: String,
    arguments: Option<Box<RawValue>>,
    risk_level: Option<String>,
}

/// Remembers calls and joins answers to them.
#[derive(Debug, Default)]
pub struct Joiner {
    pending: HashMap<String, Call>,
    order: VecDeque<String>,
}

impl Joiner {
    /// Remembers `e` if it is a `tool_call`.
    pub fn see(&mut self, e: &EventView<'_>) {
        if e.kind != "tool_call" || e.event_id.is_empty() {
            return;
        }
        while self.pending.len() >= MAX_PENDING_CALLS {
            match self.order.pop_front() {
                Some(old) => {
                    self.pending.remove(&old);
                }
                None => break,
            }
        }
        if self.order.len() > 2 * MAX_PENDING_CALLS {
            // Ids of calls already answered: drop them from the order.
            let pending = &self.pending;
            self.order.retain(|id| pending.contains_key(id));
        }
        let call = Call {
            timestamp: e.timestamp.to_string(),
            arguments: e.arguments.map(RawValue::to_owned),
            risk_level: e.risk_level.as_deref().map(str::to_owned),
        };
        self.pending.insert(e.event_id.to_string(), call);
        self.order.push_back(e.event_id.to_string());
    }

    /// The answer `e` joined to its call (`None` if `e` ends no tool call):
    /// `call_event_id`, `session_id`, `server`, `user`, `tool`,
    /// `called_at`, `answered_at`, `type` (the answer's), `outcome`,
    /// `severity`, `duration_ms`, `risk_level`, `arguments`, `result`,
    /// `error`, `call_found`.
    pub fn join(&mut self, e: &EventView<'_>) -> Option<Map<String, Value>> {
        if !e.is_tool_answer() {
            return None;
        }
        let id = e.call_event_id.as_deref()?;
        let call = self.pending.remove(id);
        let raw = |r: Option<&RawValue>| {
            r.and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
                .unwrap_or(Value::Null)
        };
        let text = |s: &str| Value::String(s.to_owned());
        let mut o = Map::new();
        o.insert("call_event_id".into(), text(id));
        o.insert("session_id".into(), text(&e.session_id));
        o.insert("server".into(), text(&e.server));
        o.insert("user".into(), text(&e.user));
        o.insert("tool".into(), text(e.tool()));
        o.insert(
            "called_at".into(),
            call.as_ref().map_or(Value::Null, |c| text(&c.timestamp)),
        );
        o.insert("answered_at".into(), text(&e.timestamp));
        o.insert("type".into(), text(&e.kind));
        o.insert("outcome".into(), text(&e.outcome));
        o.insert("severity".into(), text(&e.severity));
        o.insert("duration_ms".into(), e.duration_ms.into());
        let risk = e
            .risk_level
            .as_deref()
            .or(call.as_ref().and_then(|c| c.risk_level.as_deref()));
        o.insert("risk_level".into(), risk.map_or(Value::Null, text));
        o.insert(
            "arguments".into(),
            raw(call.as_ref().and_then(|c| c.arguments.as_deref())),
        );
        o.insert("result".into(), raw(e.result));
        o.insert("error".into(), raw(e.error));
        o.insert("call_found".into(), Value::Bool(call.is_some()));
        Some(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_carries_its_calls_arguments() {
        let call = br#"{"event_id":"c1","timestamp":"t1","type":"tool_call","tool":"read","risk_level":"low","arguments":{"path":"/a"}}"#;
        let answer = br#"{"event_id":"r1","timestamp":"t2","type":"tool_result","outcome":"success","tool":"read","call_event_id":"c1","duration_ms":1.5,"result":{"content":[]}}"#;
        let mut j = Joiner::default();
        j.see(&EventView::parse(call).unwrap());
        let o = j.join(&EventView::parse(answer).unwrap()).unwrap();
        assert_eq!(o["arguments"]["path"], "/a");
        assert_eq!(o["called_at"], "t1");
        assert_eq!(o["result"]["content"], Value::Array(vec![]));
        assert_eq!(o["call_found"], true);
        // Answered once: a repeat finds no call.
        let o = j.join(&EventView::parse(answer).unwrap()).unwrap();
        assert_eq!(o["call_found"], false);
        assert!(j.join(&EventView::parse(call).unwrap()).is_none());
    }

    #[test]
    fn pending_calls_are_bounded() {
        let mut j = Joiner::default();
        for i in 0..MAX_PENDING_CALLS + 10 {
            let line = format!(r#"{{"event_id":"c{i}","timestamp":"t","type":"tool_call"}}"#);
            j.see(&EventView::parse(line.as_bytes()).unwrap());
        }
        assert_eq!(j.pending.len(), MAX_PENDING_CALLS);
        assert!(!j.pending.contains_key("c0"));
    }
}
