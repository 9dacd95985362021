//! The in-line gate: the one piece of policy on the relay's hot path.
//!
//! The relay calls [`Gate::check_request`] on every client→server frame and
//! [`Gate::observe_response`] on every server→client frame, but only when
//! [`Policy::needs_gate`] says some call can be refused. Under a gate the
//! client→server direction is **fail-closed**: a frame reaches the server only
//! if the gate judged it and allowed it. Costs, in order:
//!
//! 1. A frame that mentions neither `tools` nor a `\u` escape is forwarded
//!    after two `memmem` scans: no reader can take it for a `tools/*`
//!    request (`\u` escapes could spell `tools` differently; invalid UTF-8
//!    decodes to U+FFFD, never to a letter; frames holding them are read).
//! 2. Other frames are read strictly ([`strict`]): one that is not valid
//!    UTF-8, holds a line separator some SDK reader splits at, is not strict
//!    JSON or is nested deeper than [`strict::MAX_DEPTH`] is refused with
//!    rule `unjudgeable_frame:<reason>`. Duplicate members: the last one wins,
//!    as in the SDKs' parsers, so the gate sees what the server would. A
//!    plain frame (no escapes, only short integers: what clients write) is
//!    read by checking its grammar alone (`plain`); any other goes to
//!    `serde_json`.
//! 3. A `tools/call` is judged by the rules (arguments as the server reads
//!    them, at every depth), then the pins.
//!
//! A line longer than the parse limit cannot be read whole: the relay asks
//! [`Gate::refuse_oversized`] for its refusal (rule `oversized_request`).
//!
//! State shared by the two relay threads is small and bounded: the ids of
//! `tools/list` requests awaiting their answer (at most [`MAX_TRACKED_LISTS`];
//! the oldest is forgotten, and counted, beyond that), the names of pinned
//! tools seen changed (at most the number of pins) and whether a listing
//! could not be read. It sits behind one `Mutex`, taken only for `tools/*`
//! frames.
//!
//! A refused request gets a JSON-RPC error with code [`POLICY_ERROR_CODE`],
//! echoing the request's id bytes exactly; a frame that could not be read
//! gets one when an id can be read from its beginning ([`prefix`]). A
//! `tools/list` result is rewritten only when `filter_tools_list` removed a
//! tool from it: the only frame whose bytes the proxy ever changes.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use memchr::memmem;
use serde_json::value::RawValue;
use serde_json::Value;

use super::Policy;
use crate::pin::PinStatus;

mod message;
mod pins;
mod plain;
pub mod prefix;
mod reply;
pub mod strict;

use message::{Frame, Params};
use reply::Refusal;
pub use reply::POLICY_ERROR_CODE;
pub use strict::Unjudgeable;

/// Most `tools/list` requests tracked while awaiting their answers.
pub const MAX_TRACKED_LISTS: usize = 64;
/// Rule name of a request line longer than the parse limit.
pub const OVERSIZED_RULE: &str = "oversized_request";
/// Rule name of calls refused after a `tools/list` answer could not be read
/// strictly under enforced pins (its tools count as changed).
pub const UNREADABLE_LIST_RULE: &str = "pins:unreadable_list";

/// What the relay does with a client→server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Relay it unchanged.
    Forward,
    /// Do not relay it; write `reply` to the client (complete JSON-RPC error
    /// lines with `\n`; empty when no id could be read or the call was a
    /// notification, which gets no answer) and hand `AuditMsg::Refused` to
    /// the auditor.
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
    /// `tools/list` answers that could not be read strictly.
    pub lists_unreadable: AtomicU64,
}

#[derive(Debug, Default)]
struct GateState {
    /// Canonical ids of `tools/list` requests awaiting their answer.
    list_ids: VecDeque<Box<str>>,
    /// Pinned tools whose listed definition no longer matches.
    changed: HashSet<String>,
    /// The last answer to a pending `tools/list` could not be read strictly:
    /// under enforced pins every tool counts as changed until one can.
    unreadable_list: bool,
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

    /// Decides what to do with one complete client→server frame (without
    /// its `\n`).
    pub fn check_request(&self, frame: &[u8]) -> Verdict {
        if !might_mention_tools(frame) {
            return Verdict::Forward;
        }
        let refusal = match message::read(frame, self.policy.uses_arguments()) {
            Err(why) => Some(unjudgeable(frame, why)),
            Ok(Frame::Batch(items)) => self.check_batch(frame, &items),
            Ok(one) => self
                .check_one(&one)
                .map(|r| (reply::line(prefix::id(frame), &r), r.rule)),
        };
        self.verdict(refusal)
    }

    /// The refusal of a client→server line longer than `limit` bytes, of
    /// which `prefix` was read: it cannot be judged whole.
    pub fn refuse_oversized(&self, prefix: &[u8], limit: usize) -> Verdict {
        let refusal = Refusal {
            rule: OVERSIZED_RULE.into(),
            tool: String::new(),
            message: format!(
                "request line longer than the parse limit of {limit} bytes (parse_limit_mb)"
            ),
        };
        self.verdict(Some((
            reply::line(prefix::id(prefix), &refusal),
            refusal.rule,
        )))
    }

    /// Looks at one complete server→client frame: learns changed tools from
    /// `tools/list` results, and returns the rewritten line when filtering
    /// removed tools from one. `None`: relay the frame as it is.
    pub fn observe_response(&self, frame: &[u8]) -> Option<Vec<u8>> {
        if self.pending_lists.load(Ordering::Acquire) == 0 || !might_mention_tools(frame) {
            return None;
        }
        let Value::Object(mut message) = strict::read(frame)
            .inspect_err(|_| self.unreadable_answer())
            .ok()?
        else {
            return None;
        };
        let id = message.get("id")?.to_string();
        if !self.take_list_id(&id) {
            return None;
        }
        let tools = message
            .get_mut("result")?
            .get_mut("tools")?
            .as_array_mut()?;
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
        let mut line = serde_json::to_vec(&message).ok()?;
        line.push(b'\n');
        self.stats.lists_rewritten.fetch_add(1, Ordering::Relaxed);
        Some(line)
    }

    /// A server→client line longer than the parse limit: if a `tools/list`
    /// answer is awaited, it may be one, and it cannot be read.
    pub fn observe_oversized_response(&self) {
        if self.pending_lists.load(Ordering::Acquire) > 0 {
            self.unreadable_answer();
        }
    }

    /// Counts a refusal (or, in a dry run, what would have been one).
    fn verdict(&self, refusal: Option<(Vec<u8>, String)>) -> Verdict {
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

    /// A single message: its refusal, if any.
    fn check_one(&self, frame: &Frame<'_>) -> Option<Refusal> {
        let Frame::One(message) = frame else {
            return None;
        };
        match message.method.as_deref()? {
            "tools/list" => {
                if let Some(id) = &message.id {
                    self.track_list_id(&id.to_string());
                }
                None
            }
            "tools/call" => self.check_call(&message.params),
            _ => None,
        }
    }

    /// A batch: refused whole if any call in it is refused; the reply holds
    /// an error for each request in it.
    fn check_batch(&self, frame: &[u8], items: &[Frame<'_>]) -> Option<(Vec<u8>, String)> {
        let own: Vec<Option<Refusal>> = items.iter().map(|i| self.check_one(i)).collect();
        let first = own.iter().flatten().next().map(|r| Refusal {
            rule: r.rule.clone(),
            tool: r.tool.clone(),
            message: format!("batch refused: {}", r.message),
        })?;
        // The frame was read strictly, so its items can be cut out raw.
        let raw: Vec<&RawValue> = serde_json::from_slice(frame).unwrap_or_default();
        let mut reply = Vec::new();
        for (item, refusal) in raw.iter().zip(&own) {
            let line = reply::line(
                prefix::id(item.get().as_bytes()),
                refusal.as_ref().unwrap_or(&first),
            );
            if line.is_empty() {
                continue;
            }
            reply.push(if reply.is_empty() { b'[' } else { b',' });
            reply.extend_from_slice(&line[..line.len() - 1]);
        }
        if !reply.is_empty() {
            reply.extend_from_slice(b"]\n");
        }
        Some((reply, first.rule))
    }

    /// Rules first, then pins.
    fn check_call(&self, params: &Params<'_>) -> Option<Refusal> {
        let Params::Object {
            name: Some(tool),
            arguments,
        } = params
        else {
            let why = Unjudgeable::MalformedCall;
            return Some(Refusal {
                rule: why.rule().into(),
                tool: String::new(),
                message: why.message(),
            });
        };
        let tool = &**tool;
        if let Some(rule) = self
            .policy
            .denying_rule(&self.server, tool, arguments.as_ref())
        {
            let message = format!("tools/call of {tool:?} denied by rule {rule:?}");
            return Some(Refusal {
                rule: rule.to_owned(),
                tool: tool.to_owned(),
                message,
            });
        }
        self.pin_refusal(tool)
    }

    /// Whether a call of `name` is always refused (for list filtering).
    fn refuses_tool(&self, name: &str) -> bool {
        self.policy.denies_unconditionally(&self.server, name)
            || matches!(
                self.pin_status(name),
                Some(PinStatus::New | PinStatus::Changed)
            )
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

/// The refusal of a frame that cannot be read: an error for every id that
/// can be read from it (from each piece a line-splitting reader would see).
fn unjudgeable(frame: &[u8], why: Unjudgeable) -> (Vec<u8>, String) {
    let refusal = Refusal {
        rule: why.rule().into(),
        tool: String::new(),
        message: why.message(),
    };
    let pieces = match why {
        Unjudgeable::LineSeparator => strict::pieces(frame),
        _ => vec![frame],
    };
    let reply = pieces
        .into_iter()
        .flat_map(|p| reply::line(prefix::id(p), &refusal))
        .collect();
    (reply, refusal.rule)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fail_closed;
