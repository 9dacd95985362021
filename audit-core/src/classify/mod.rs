//! Classification: what an MCP frame means, as audit events.
//!
//! The [`Classifier`] owns the session's protocol state: the era and versions
//! learned so far, and the correlation tables of requests in flight in each
//! direction (STYLE habit 2: one owner per piece of state). It is a pure
//! function of the frames it is fed (time comes in with each frame), so it is
//! unit-tested without any I/O.
//!
//! Malformed input is never an error here: it is a `protocol_violation` event.

mod correlate;
mod envelope;
mod session;

use std::time::{Instant, SystemTime};

use serde_json::value::RawValue;
use serde_json::Value;

use crate::clock::{millis_between, SessionClock};
use crate::event::{new_event_id, Direction, Event, EventType, Outcome, Severity};
use crate::frame::Frame;
use crate::handoff::SessionEnd;

pub use correlate::{Pending, PendingTable, DEFAULT_MAX_PENDING};
pub use envelope::{Envelope, Message};
pub use session::{Era, SessionFacts, SessionState};

/// Longest excerpt of a malformed frame kept in a `protocol_violation` event.
pub const EXCERPT_CHARS: usize = 256;

/// Knobs of the classifier.
#[derive(Debug, Clone)]
pub struct ClassifyConfig {
    /// Most requests in flight tracked per direction.
    pub max_pending: usize,
    /// Record tool arguments on `tool_call`.
    pub include_arguments: bool,
    /// Record tool results on `tool_result` / `tool_error`.
    pub include_results: bool,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            max_pending: DEFAULT_MAX_PENDING,
            include_arguments: true,
            include_results: true,
        }
    }
}

/// Counters the classifier keeps for `session_end`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionCounts {
    pub frames: u64,
    pub tool_calls: u64,
    pub tool_errors: u64,
    pub rpc_errors: u64,
    pub protocol_violations: u64,
}

/// Turns frames into audit events for one session.
#[derive(Debug)]
pub struct Classifier {
    config: ClassifyConfig,
    clock: SessionClock,
    session: SessionState,
    /// Requests sent by the client, awaiting the server's answer.
    from_client: PendingTable,
    /// Requests sent by the server, awaiting the client's answer.
    from_server: PendingTable,
    counts: SessionCounts,
    started: SystemTime,
}

impl Classifier {
    /// A classifier for a session described by `facts`.
    pub fn new(config: ClassifyConfig, facts: SessionFacts, clock: SessionClock) -> Classifier {
        let max = config.max_pending;
        Classifier {
            config,
            started: clock.wall(Instant::now()),
            clock,
            session: SessionState::new(facts),
            from_client: PendingTable::new(max),
            from_server: PendingTable::new(max),
            counts: SessionCounts::default(),
        }
    }

    /// The counters so far.
    pub fn counts(&self) -> &SessionCounts {
        &self.counts
    }

    /// Classifies one frame, appending its events to `out`.
    pub fn observe(&mut self, frame: &Frame, out: &mut Vec<Event>) {
        self.counts.frames += 1;
        let at = self.clock.wall(frame.at);
        if frame.oversized {
            self.violation(
                out,
                at,
                frame.direction,
                "frame_over_parse_limit",
                &frame.bytes,
                Some(frame.len),
            );
            return;
        }
        match envelope::parse(&frame.bytes) {
            Ok(Message::Single(env)) => self.message(&env, frame.direction, at, out),
            Ok(Message::Batch(items)) => {
                for item in items {
                    match envelope::parse_single(item.get().as_bytes()) {
                        Ok(env) => self.message(&env, frame.direction, at, out),
                        Err(reason) => self.violation(
                            out,
                            at,
                            frame.direction,
                            reason,
                            item.get().as_bytes(),
                            None,
                        ),
                    }
                }
            }
            Err(reason) => self.violation(out, at, frame.direction, reason, &frame.bytes, None),
        }
    }

    /// The session is over: calls still in flight are abandoned, then
    /// `session_end` (after `session_start`, if it was still held back).
    pub fn end(&mut self, end: &SessionEnd, out: &mut Vec<Event>) {
        let at = self.clock.wall(end.at);
        self.session.flush_start(at, out);
        for pending in self.from_client.drain().chain(self.from_server.drain()) {
            let mut e = Event::new(EventType::ToolAbandoned, at)
                .severity(Severity::Warning)
                .outcome(Outcome::Failure);
            e.method = Some(pending.method.clone());
            e.tool = pending.tool.clone();
            e.jsonrpc_id = Some(pending.id.clone());
            e.call_event_id = Some(pending.event_id.clone());
            e.duration_ms = Some(millis_between(pending.at, at));
            if pending.tool.is_some() {
                out.push(e);
            }
        }
        let failed = !matches!(end.exit, crate::handoff::ChildExit::Code(0));
        let mut e = Event::new(EventType::SessionEnd, at)
            .severity(if failed {
                Severity::Warning
            } else {
                Severity::Info
            })
            .outcome(if failed {
                Outcome::Failure
            } else {
                Outcome::Success
            });
        e.duration_ms = Some(millis_between(self.started, at));
        e.details.insert("reason".into(), end.reason.clone().into());
        match end.exit {
            crate::handoff::ChildExit::Code(c) => {
                e.details.insert("exit_code".into(), c.into());
            }
            crate::handoff::ChildExit::Signal(s) => {
                e.details.insert("exit_signal".into(), s.into());
            }
            crate::handoff::ChildExit::Unknown => {}
        }
        e.details
            .insert("exit_status".into(), end.exit.shell_status().into());
        let c = &self.counts;
        e.details.insert(
            "counts".into(),
            serde_json::json!({
                "frames": c.frames, "tool_calls": c.tool_calls, "tool_errors": c.tool_errors,
                "rpc_errors": c.rpc_errors, "protocol_violations": c.protocol_violations,
            }),
        );
        out.push(e);
    }

    /// A `tools/call` the policy refused: it never reached the server, and the
    /// client got `reply` (a JSON-RPC error) from the proxy instead.
    pub fn refused(
        &mut self,
        at: SystemTime,
        frame: &[u8],
        reply: &[u8],
        rule: &str,
        out: &mut Vec<Event>,
    ) {
        self.session.flush_start(at, out);
        let mut e = Event::new(EventType::PolicyBlocked, at)
            .severity(Severity::Warning)
            .outcome(Outcome::Blocked);
        e.direction = Some(Direction::ClientToServer);
        e.details.insert("rule".into(), rule.into());
        if let Ok(Message::Single(env)) = envelope::parse(frame) {
            e.method = env.method.as_deref().map(str::to_owned);
            e.jsonrpc_id = env.id.map(ToOwned::to_owned);
            let call = env.tool_call();
            e.tool = call.name;
            if self.config.include_arguments {
                e.arguments = call
                    .arguments
                    .and_then(|a| serde_json::from_str(a.get()).ok());
            }
        }
        if let Ok(Message::Single(env)) = envelope::parse(reply) {
            e.error = env.error_info();
        }
        out.push(e);
    }

    fn message(
        &mut self,
        env: &Envelope<'_>,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        match (env.method.as_deref(), env.id) {
            (Some(method), Some(id)) => self.request(env, method, id, dir, at, out),
            (Some(method), None) => self.notification(env, method, dir, at, out),
            (None, Some(id)) if env.result.is_some() || env.error.is_some() => {
                self.response(env, id, dir, at, out)
            }
            (None, None) if env.error.is_some() => self.response_without_id(env, dir, at, out),
            _ => self.violation(out, at, dir, "not_jsonrpc", env.raw.as_bytes(), None),
        }
    }

    fn request(
        &mut self,
        env: &Envelope<'_>,
        method: &str,
        id: &RawValue,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        self.session.observe_request(method, env.params, dir);
        let table = match dir {
            Direction::ClientToServer => &mut self.from_client,
            Direction::ServerToClient => &mut self.from_server,
        };
        let event_id = new_event_id();
        let mut tool = None;
        let mut arguments = None;
        if method == "tools/call" {
            let call = env.tool_call();
            tool = call.name;
            arguments = call.arguments;
        }
        let pending = Pending {
            id: id.to_owned(),
            method: method.to_owned(),
            tool: tool.clone(),
            event_id: event_id.clone(),
            at,
        };
        if let Err(rejected) = table.insert(pending) {
            let reason = if rejected.duplicate {
                "duplicate_in_flight_id"
            } else {
                "pending_table_full"
            };
            self.violation(out, at, dir, reason, env.raw.as_bytes(), None);
        }
        if method == "tools/call" {
            self.session.flush_start(at, out);
            self.counts.tool_calls += 1;
            let mut e = Event::new(EventType::ToolCall, at).outcome(Outcome::Pending);
            e.event_id = Some(event_id);
            e.direction = Some(dir);
            e.method = Some(method.to_owned());
            e.tool = tool;
            e.jsonrpc_id = Some(id.to_owned());
            if self.config.include_arguments {
                e.arguments = arguments.and_then(|a| serde_json::from_str(a.get()).ok());
            }
            if let Some(a) = arguments {
                e.details
                    .insert("arguments_bytes".into(), a.get().len().into());
            }
            out.push(e);
        }
    }

    fn notification(
        &mut self,
        _env: &Envelope<'_>,
        _method: &str,
        _dir: Direction,
        _at: SystemTime,
        _out: &mut Vec<Event>,
    ) {
    }

    fn response(
        &mut self,
        env: &Envelope<'_>,
        id: &RawValue,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let table = match dir {
            Direction::ServerToClient => &mut self.from_client,
            Direction::ClientToServer => &mut self.from_server,
        };
        let Some(pending) = table.remove(id) else {
            self.violation(
                out,
                at,
                dir,
                "response_to_unknown_id",
                env.raw.as_bytes(),
                None,
            );
            return;
        };
        let held = self.session.observe_response(&pending.method, env, at, out);
        let duration = millis_between(pending.at, at);
        if let Some(err) = env.error_info() {
            if held {
                return; // the discover probe's -32601 is the normal legacy fallback
            }
            self.session.flush_start(at, out);
            self.counts.rpc_errors += 1;
            let mut e = Event::new(EventType::RpcError, at)
                .severity(Severity::Warning)
                .outcome(Outcome::Failure);
            link(&mut e, &pending, dir, duration);
            e.error = Some(err);
            out.push(e);
            return;
        }
        if pending.method != "tools/call" {
            return;
        }
        self.session.flush_start(at, out);
        let result = env
            .result
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok());
        let is_error = result
            .as_ref()
            .and_then(|r| r.get("isError"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut e = if is_error {
            self.counts.tool_errors += 1;
            Event::new(EventType::ToolError, at)
                .severity(Severity::Warning)
                .outcome(Outcome::Failure)
        } else {
            Event::new(EventType::ToolResult, at)
        };
        link(&mut e, &pending, dir, duration);
        if let Some(r) = env.result {
            e.details
                .insert("result_bytes".into(), r.get().len().into());
        }
        if self.config.include_results {
            e.result = result;
        }
        out.push(e);
    }

    fn response_without_id(
        &mut self,
        env: &Envelope<'_>,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        self.session.flush_start(at, out);
        self.counts.rpc_errors += 1;
        let mut e = Event::new(EventType::RpcError, at)
            .severity(Severity::Warning)
            .outcome(Outcome::Failure);
        e.direction = Some(dir);
        e.error = env.error_info();
        out.push(e);
    }

    fn violation(
        &mut self,
        out: &mut Vec<Event>,
        at: SystemTime,
        dir: Direction,
        reason: &str,
        bytes: &[u8],
        len: Option<usize>,
    ) {
        self.counts.protocol_violations += 1;
        let mut e = Event::new(EventType::ProtocolViolation, at)
            .severity(Severity::Warning)
            .outcome(Outcome::Failure);
        e.direction = Some(dir);
        e.details.insert("reason".into(), reason.into());
        e.details
            .insert("frame_bytes".into(), len.unwrap_or(bytes.len()).into());
        e.excerpt = Some(excerpt(bytes));
        out.push(e);
    }
}

fn link(e: &mut Event, pending: &Pending, dir: Direction, duration: f64) {
    e.direction = Some(dir);
    e.method = Some(pending.method.clone());
    e.tool = pending.tool.clone();
    e.jsonrpc_id = Some(pending.id.clone());
    e.call_event_id = Some(pending.event_id.clone());
    e.duration_ms = Some(duration);
}

/// The first [`EXCERPT_CHARS`] characters of `bytes`, lossily decoded.
pub fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.len().min(EXCERPT_CHARS * 4);
    String::from_utf8_lossy(&bytes[..cut])
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests;
