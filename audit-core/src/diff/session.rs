//! A session as `diff` compares it: its tool calls (name, arguments,
//! outcome, result), in order but with concurrent calls in a canonical
//! order, and its tool definitions. Ids, timestamps and `_meta` are left out.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::replay::normalise;
use crate::transcript::{Dir, Transcript};

/// One tool call as a person reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `{"tool","arguments","outcome","result"}`; `outcome` is `result`,
    /// `tool_error`, `rpc_error` or `no_answer`.
    pub record: Value,
    /// Where the call and its answer were in the session (frame or event
    /// index): calls whose spans overlap were concurrent.
    start: usize,
    end: usize,
}

/// What `diff` compares of a session.
#[derive(Debug, Default)]
pub struct Session {
    pub calls: Vec<Call>,
    /// Tool definitions by name: whole definitions from a transcript, their
    /// hashes from audit files.
    pub tools: BTreeMap<String, Value>,
}

impl Session {
    /// From a transcript's frames (whole results).
    pub fn from_transcript(t: &Transcript) -> Session {
        let mut s = Session::default();
        let mut calls: HashMap<String, usize> = HashMap::new();
        let mut listings: HashMap<String, ()> = HashMap::new();
        for (i, f) in t.frames.iter().enumerate() {
            let Ok(v) = serde_json::from_slice::<Value>(&f.bytes) else {
                continue;
            };
            let id = v.get("id").map(Value::to_string);
            match (f.dir, v["method"].as_str(), id) {
                (Dir::C2s, Some("tools/call"), Some(id)) => {
                    calls.insert(id, s.calls.len());
                    let p = normalise(v["params"].clone());
                    s.calls.push(call(
                        &p["name"],
                        &p["arguments"],
                        "no_answer",
                        Value::Null,
                        i,
                    ));
                }
                (Dir::C2s, Some("tools/list"), Some(id)) => {
                    listings.insert(id, ());
                }
                (Dir::S2c, None, Some(id)) => {
                    if let Some(at) = calls.remove(&id) {
                        answer(&mut s.calls[at], &v, i);
                    } else if listings.remove(&id).is_some() {
                        for tool in v["result"]["tools"].as_array().into_iter().flatten() {
                            if let Some(name) = tool["name"].as_str() {
                                s.tools.insert(name.to_owned(), normalise(tool.clone()));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        s.order();
        s
    }

    /// From audit events (results as recorded: possibly cut or redacted).
    pub fn from_events(events: &[Value]) -> Session {
        let mut s = Session::default();
        let mut calls: HashMap<&str, usize> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            match e["type"].as_str().unwrap_or("") {
                "tool_call" => {
                    if let Some(id) = e["event_id"].as_str() {
                        calls.insert(id, s.calls.len());
                    }
                    s.calls.push(call(
                        &e["tool"],
                        &e["arguments"],
                        "no_answer",
                        Value::Null,
                        i,
                    ));
                }
                kind @ ("tool_result" | "tool_error" | "rpc_error") => {
                    let Some(at) = e["call_event_id"].as_str().and_then(|c| calls.remove(c)) else {
                        continue;
                    };
                    let c = &mut s.calls[at];
                    let content = if e["error"].is_null() {
                        &e["result"]
                    } else {
                        &e["error"]
                    };
                    c.record["outcome"] = kind.into();
                    c.record["result"] = normalise(content.clone());
                    c.end = i;
                }
                "tools_listed" => {
                    if let Some(m) = e["details"]["definition_hashes"].as_object() {
                        for (name, hash) in m {
                            s.tools
                                .insert(name.clone(), json!({ "definition_sha256": hash }));
                        }
                    }
                }
                _ => {}
            }
        }
        s.order();
        s
    }

    /// Concurrent calls (overlapping spans) in a canonical order.
    fn order(&mut self) {
        self.calls.sort_by_key(|c| c.start);
        let mut out = Vec::with_capacity(self.calls.len());
        let mut group: Vec<Call> = Vec::new();
        let mut group_end = 0;
        for c in self.calls.drain(..) {
            if !group.is_empty() && c.start > group_end {
                flush(&mut group, &mut out);
            }
            group_end = if group.is_empty() {
                c.end
            } else {
                group_end.max(c.end)
            };
            group.push(c);
        }
        flush(&mut group, &mut out);
        self.calls = out;
    }
}

fn flush(group: &mut Vec<Call>, out: &mut Vec<Call>) {
    group.sort_by_cached_key(|c| c.record.to_string());
    out.append(group);
}

fn call(tool: &Value, arguments: &Value, outcome: &str, result: Value, at: usize) -> Call {
    Call {
        record: json!({"tool": tool, "arguments": arguments, "outcome": outcome, "result": result}),
        start: at,
        end: usize::MAX,
    }
}

/// Fills in a call's outcome from its JSON-RPC response.
fn answer(c: &mut Call, response: &Value, at: usize) {
    let (outcome, content) = if !response["error"].is_null() {
        ("rpc_error", &response["error"])
    } else if response["result"]["isError"] == true {
        ("tool_error", &response["result"])
    } else {
        ("result", &response["result"])
    };
    c.record["outcome"] = outcome.into();
    c.record["result"] = normalise(content.clone());
    c.end = at;
}
