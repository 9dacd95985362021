//! The in-line gate: the one piece of policy on the relay's hot path.
//!
//! The relay calls [`Gate::check_request`] on every client→server frame and
//! [`Gate::observe_response`] on every server→client frame, but only when
//! [`Policy::needs_gate`] says some call can be refused. Costs, in order:
//!
//! 1. A frame that mentions neither `tools` nor a `\u` escape is forwarded
//!    after two `memmem` scans — no parsing. (`\u` and `\/` escapes could
//!    spell `tools/call` differently; frames holding them are parsed.)
//! 2. Other frames are parsed with borrowed `&RawValue`s, only the top level
//!    and `params`. Duplicate members: the last one wins, as in Python's and
//!    JavaScript's JSON parsers, so the gate sees what the server would.
//! 3. Arguments are parsed into a `Value` only if some rule has argument
//!    patterns.
//!
//! State shared by the two relay threads is small and bounded: the ids of
//! `tools/list` requests awaiting their answer (at most [`MAX_TRACKED_LISTS`];
//! the oldest is forgotten, and counted, beyond that) and the names of pinned
//! tools seen changed (at most the number of pins). It sits behind one
//! `Mutex`, taken only for `tools/*` frames.
//!
//! A refused call gets a JSON-RPC error with code [`POLICY_ERROR_CODE`],
//! echoing the request's id bytes exactly. A `tools/list` result is rewritten
//! only when `filter_tools_list` removed a tool from it: the only frame whose
//! bytes the proxy ever changes.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use memchr::memmem;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::Policy;
use crate::pin::{definition_hash, PinStatus};

/// JSON-RPC error code of a refused `tools/call` (server-defined range).
pub const POLICY_ERROR_CODE: i64 = -32001;
/// Most `tools/list` requests tracked while awaiting their answers.
pub const MAX_TRACKED_LISTS: usize = 64;

/// What the relay does with a client→server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Relay it unchanged.
    Forward,
    /// Do not relay it; write `reply` to the client (a complete JSON-RPC error
    /// line with `\n`; empty when the call was a notification, which gets no
    /// answer) and hand `AuditMsg::Refused` to the auditor.
    Refuse { reply: Vec<u8>, rule: String },
    /// Relay it, and record that `rule` would have refused it (dry run).
    DryRun { rule: String },
}

/// Counters of what the gate did.
#[derive(Debug, Default)]
pub struct GateStats {
    pub refused: AtomicU64,
    pub dry_run: AtomicU64,
    pub lists_rewritten: AtomicU64,
    /// `tools/list` ids forgotten because [`MAX_TRACKED_LISTS`] were pending.
    pub list_ids_evicted: AtomicU64,
}

#[derive(Debug, Default)]
struct GateState {
    /// Canonical ids of `tools/list` requests awaiting their answer.
    list_ids: VecDeque<Box<str>>,
    /// Pinned tools whose listed definition no longer matches.
    changed: HashSet<String>,
}

/// Why a call is refused.
struct Refusal {
    rule: String,
    tool: String,
    message: String,
}

/// The gate of one session, shared by both relay threads (`Arc<Gate>`).
#[derive(Debug)]
pub struct Gate {
    policy: Arc<Policy>,
    server: String,
    track_lists: bool,
    pending_lists: AtomicUsize,
    state: Mutex<GateState>,
    stats: GateStats,
}

impl Gate {
    /// A gate enforcing `policy` for the server named `server`.
    pub fn new(policy: Arc<Policy>, server: impl Into<String>) -> Gate {
        let o = policy.options();
        let track_lists = policy.pins().is_some() || (o.filter_tools_list && !o.dry_run);
        Gate {
            policy,
            server: server.into(),
            track_lists,
            pending_lists: AtomicUsize::new(0),
            state: Mutex::new(GateState::default()),
            stats: GateStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &GateStats {
        &self.stats
    }

    /// Whether the gate needs to see server→client lines (to learn tool
    /// definitions for pins, or to filter `tools/list`); otherwise the relay
    /// passes them through unframed.
    pub fn reads_responses(&self) -> bool {
        let o = self.policy.options();
        o.filter_tools_list || self.policy.pins().is_some()
    }

    /// Whether a frame starting with `prefix` could be refused, for a line too
    /// long to be judged whole (the relay discards such a line: fail closed).
    pub fn may_refuse_prefix(&self, prefix: &[u8]) -> bool {
        might_mention_tools(prefix)
    }

    /// Decides what to do with one complete client→server frame.
    pub fn check_request(&self, frame: &[u8]) -> Verdict {
        if !might_mention_tools(frame) {
            return Verdict::Forward;
        }
        let Ok(text) = std::str::from_utf8(frame) else {
            return Verdict::Forward;
        };
        let refusal = if text.trim_start().starts_with('[') {
            self.check_batch(text)
        } else {
            self.check_one(text)
                .map(|(r, id)| (reply_line(id, &r), r.rule))
        };
        let Some((reply, rule)) = refusal else {
            return Verdict::Forward;
        };
        if self.policy.options().dry_run {
            self.stats.dry_run.fetch_add(1, Ordering::Relaxed);
            return Verdict::DryRun { rule };
        }
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        Verdict::Refuse { reply, rule }
    }

    /// Looks at one complete server→client frame: learns changed tools from
    /// `tools/list` results, and returns the rewritten line when filtering
    /// removed tools from one. `None`: relay the frame as it is.
    pub fn observe_response(&self, frame: &[u8]) -> Option<Vec<u8>> {
        if self.pending_lists.load(Ordering::Acquire) == 0 || !might_mention_tools(frame) {
            return None;
        }
        let text = std::str::from_utf8(frame).ok()?;
        let mut message: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
        let id = canonical_id(message.get("id")?)?;
        if !self.take_list_id(&id) {
            return None;
        }
        let mut result: Value = serde_json::from_str(message.get("result")?.get()).ok()?;
        let tools = result.get_mut("tools")?.as_array_mut()?;
        self.learn_pins(tools);
        if !self.policy.options().filter_tools_list || self.policy.options().dry_run {
            return None;
        }
        let before = tools.len();
        tools.retain(|t| {
            let name = t.get("name").and_then(Value::as_str).unwrap_or("");
            !self.refuses_tool(name)
        });
        if tools.len() == before {
            return None;
        }
        let raw = serde_json::value::to_raw_value(&result).ok()?;
        message.insert("result".into(), &raw);
        let mut line = serde_json::to_vec(&message).ok()?;
        line.push(b'\n');
        self.stats.lists_rewritten.fetch_add(1, Ordering::Relaxed);
        Some(line)
    }

    /// A single message: its refusal, if any, with its id.
    fn check_one<'a>(&self, text: &'a str) -> Option<(Refusal, Option<&'a RawValue>)> {
        let message: BTreeMap<String, &'a RawValue> = serde_json::from_str(text).ok()?;
        let id = message.get("id").copied();
        let method: String = serde_json::from_str(message.get("method")?.get()).ok()?;
        match method.as_str() {
            "tools/list" => {
                if let Some(id) = id.and_then(canonical_id) {
                    self.track_list_id(&id);
                }
                None
            }
            "tools/call" => self
                .check_call(message.get("params").copied())
                .map(|r| (r, id)),
            _ => None,
        }
    }

    /// A batch: refused whole if any call in it is refused; the reply holds
    /// an error for each request in it.
    fn check_batch(&self, text: &str) -> Option<(Vec<u8>, String)> {
        let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
        let mut ids = Vec::new();
        let mut first: Option<Refusal> = None;
        let mut own: Vec<Option<Refusal>> = Vec::new();
        for item in items {
            let (refusal, id) = match self.check_one(item.get()) {
                Some((r, id)) => (Some(r), id),
                None => (None, id_of(item.get())),
            };
            if first.is_none() {
                first = refusal.as_ref().map(|r| Refusal {
                    rule: r.rule.clone(),
                    tool: r.tool.clone(),
                    message: format!("batch refused: {}", r.message),
                });
            }
            ids.push(id);
            own.push(refusal);
        }
        let first = first?;
        let mut reply = Vec::new();
        for (id, refusal) in ids.into_iter().zip(own) {
            let Some(id) = id else { continue };
            let line = reply_line(Some(id), refusal.as_ref().unwrap_or(&first));
            reply.push(if reply.is_empty() { b'[' } else { b',' });
            reply.extend_from_slice(&line[..line.len() - 1]);
        }
        if !reply.is_empty() {
            reply.extend_from_slice(b"]\n");
        }
        Some((reply, first.rule))
    }

    /// Rules first, then pins.
    fn check_call(&self, params: Option<&RawValue>) -> Option<Refusal> {
        let params: BTreeMap<String, &RawValue> = serde_json::from_str(params?.get()).ok()?;
        let tool: String = serde_json::from_str(params.get("name")?.get()).ok()?;
        let arguments: Option<Value> = if self.policy.uses_arguments() {
            params
                .get("arguments")
                .and_then(|a| serde_json::from_str(a.get()).ok())
        } else {
            None
        };
        if let Some(rule) = self
            .policy
            .denying_rule(&self.server, &tool, arguments.as_ref())
        {
            let message = format!("tools/call of {tool:?} denied by rule {rule:?}");
            return Some(Refusal {
                rule: rule.to_owned(),
                tool,
                message,
            });
        }
        match self.pin_status(&tool)? {
            PinStatus::Matches => None,
            status => Some(Refusal {
                rule: format!("pins:{}", status.as_str()),
                message: match status {
                    PinStatus::New => format!("tool {tool:?} is not pinned for server {:?}; review it and run `mcp-blackbox pin --update`", self.server),
                    _ => format!("tool {tool:?} changed since it was pinned; review it and run `mcp-blackbox pin --update`"),
                },
                tool,
            }),
        }
    }

    fn pin_status(&self, tool: &str) -> Option<PinStatus> {
        self.policy.pins()?;
        let seen_changed = self.lock().changed.contains(tool);
        self.policy.pin_status(tool, seen_changed)
    }

    /// Whether a call of `name` is always refused (for list filtering).
    fn refuses_tool(&self, name: &str) -> bool {
        self.policy.denies_unconditionally(&self.server, name)
            || matches!(
                self.pin_status(name),
                Some(PinStatus::New | PinStatus::Changed)
            )
    }

    fn learn_pins(&self, tools: &[Value]) {
        let Some(pins) = self.policy.pins() else {
            return;
        };
        let mut state = self.lock();
        for def in tools {
            let Some(name) = def.get("name").and_then(Value::as_str) else {
                continue;
            };
            match pins.status(name, &definition_hash(def)) {
                PinStatus::Changed => {
                    state.changed.insert(name.to_owned());
                }
                PinStatus::Matches => {
                    state.changed.remove(name);
                }
                PinStatus::New => {} // refused at call time: not in the pins
            }
        }
    }

    fn track_list_id(&self, id: &str) {
        if !self.track_lists {
            return;
        }
        let mut state = self.lock();
        if state.list_ids.len() >= MAX_TRACKED_LISTS {
            state.list_ids.pop_front();
            self.stats.list_ids_evicted.fetch_add(1, Ordering::Relaxed);
        }
        state.list_ids.push_back(id.into());
        self.pending_lists
            .store(state.list_ids.len(), Ordering::Release);
    }

    fn take_list_id(&self, id: &str) -> bool {
        let mut state = self.lock();
        let Some(i) = state.list_ids.iter().position(|x| &**x == id) else {
            return false;
        };
        state.list_ids.remove(i);
        self.pending_lists
            .store(state.list_ids.len(), Ordering::Release);
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // The state stays consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The cheap pre-check: can this frame be about tools at all (a `tools/*`
/// request, a `tools` result), however its JSON escapes spell it?
fn might_mention_tools(frame: &[u8]) -> bool {
    // Built once: constructing a searcher costs more than running it.
    static FINDERS: OnceLock<[memmem::Finder<'static>; 2]> = OnceLock::new();
    let [tools, escape] =
        FINDERS.get_or_init(|| [memmem::Finder::new(b"tools"), memmem::Finder::new(b"\\u")]);
    tools.find(frame).is_some() || escape.find(frame).is_some()
}

/// An id as text that does not depend on how it was escaped (`"\u004c1"`
/// and `"L1"` are the same id to the client).
fn canonical_id(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<Value>(raw.get())
        .ok()
        .map(|v| v.to_string())
}

fn id_of(text: &str) -> Option<&RawValue> {
    let message: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
    message.get("id").copied()
}

#[derive(Serialize)]
struct ErrorReply<'a> {
    jsonrpc: &'static str,
    id: &'a RawValue,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: i64,
    message: String,
    data: ErrorData<'a>,
}

#[derive(Serialize)]
struct ErrorData<'a> {
    rule: &'a str,
    tool: &'a str,
}

/// The error line answering a refused request (empty for a notification).
fn reply_line(id: Option<&RawValue>, refusal: &Refusal) -> Vec<u8> {
    let Some(id) = id else { return Vec::new() };
    let reply = ErrorReply {
        jsonrpc: "2.0",
        id,
        error: ErrorBody {
            code: POLICY_ERROR_CODE,
            message: format!("mcp-blackbox policy: {}", refusal.message),
            data: ErrorData {
                rule: &refusal.rule,
                tool: &refusal.tool,
            },
        },
    };
    let mut line = serde_json::to_vec(&reply).unwrap_or_default();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests;
