//! Classification: what an MCP frame means, as audit events.
//!
//! The [`Classifier`] owns the session's protocol state: the era and versions
//! learned so far, the correlation tables of requests in flight in each
//! direction, and the tool catalog (one owner per piece of
//! state). It is a pure function of the frames it is fed (time comes in with
//! each frame), so it is unit-tested without any I/O.
//!
//! Malformed input is never an error here: it is a `protocol_violation` event.
//!
//! Every message of a JSON-RPC batch (a JSON array, 2025-03-26) is classified
//! as if it came alone; a batch holds at most [`MAX_BATCH_ELEMENTS`] classified
//! messages. Bound: one frame yields at most
//! `2 + MAX_BATCH_ELEMENTS * MAX_EVENTS_PER_MESSAGE` events (one
//! `session_start`, the messages' events, one violation for an over-long batch).
//!
//! The files: [`envelope`] and [`params`] read frames, [`methods`] decides what
//! each method is worth, `request`, `response` and `notify` make the events,
//! [`correlate`] pairs answers with requests, [`catalog`] watches tool
//! definitions, [`risk`] rates tool calls, [`session`] knows the era,
//! [`budget`] bounds what is parsed and kept (the memory bound: a per-frame
//! parse budget, bounded summaries of requests in flight) and `payload`
//! puts payloads on events within it.

pub mod budget;
pub mod catalog;
mod correlate;
mod counts;
mod envelope;
mod members;
mod methods;
mod notify;
mod oversized;
pub mod params;
mod payload;
mod request;
mod response;
pub mod results;
pub mod risk;
#[cfg(any(test, feature = "test-support"))]
pub mod selfcheck;
mod session;

use std::time::SystemTime;

use bytes::Bytes;

use crate::clock::{millis_between, SessionClock};
use crate::event::{Direction, Event, EventType, Outcome, PendingDigest, Severity};
use crate::frame::Frame;
use crate::handoff::{ChildExit, SessionEnd};

pub use catalog::Catalog;
pub use correlate::{Pending, PendingTable, DEFAULT_MAX_PENDING};
pub use counts::SessionCounts;
pub use envelope::{Envelope, Message};
pub use session::{SessionFacts, SessionState};

/// Longest excerpt of a malformed frame kept in a `protocol_violation` event.
pub const EXCERPT_CHARS: usize = 256;
/// Most messages of one batch that are classified.
pub const MAX_BATCH_ELEMENTS: usize = 1024;
/// Most events one message yields: `session_updated`, `tools_listed` and up
/// to [`response::MAX_TOOL_CHANGES`] `tool_changed`, or an `input_required`
/// with its embedded requests, plus a violation.
#[cfg(test)]
pub const MAX_EVENTS_PER_MESSAGE: usize = 3 + response::MAX_TOOL_CHANGES;
/// Request params larger than this are not kept for events written when the
/// exchange ends (`resource_read`, `sampling_request`, ...); their size is.
/// Smaller ones are kept as text, within [`budget::PENDING_KEPT_BYTES`].
pub const KEPT_PARAMS_BYTES: usize = 64 * 1024;
/// Results larger than this are recorded by size and SHA-256
/// (`details.result_sha256`) rather than parsed whole: redaction would cut
/// their strings to `max_field_chars` anyway, and parsing them is most of the
/// auditor's cost and memory on large results.
pub const KEPT_RESULT_BYTES: usize = 1024 * 1024;

/// Knobs of the classifier.
#[derive(Debug, Clone)]
pub struct ClassifyConfig {
    /// Most requests in flight tracked per direction.
    pub max_pending: usize,
    /// Record tool arguments (and other request params) on events.
    pub include_arguments: bool,
    /// Record results on events.
    pub include_results: bool,
    /// Approved tool definitions (from a pin file): the session's first
    /// `tools/list` is compared with them, so a change since approval is a
    /// `tool_changed` event.
    pub pinned_tools: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            max_pending: DEFAULT_MAX_PENDING,
            include_arguments: true,
            include_results: true,
            pinned_tools: None,
        }
    }
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
    catalog: Catalog,
    /// What each called tool's name says about its risk.
    names: risk::NameTags,
    /// Stateless era: calls answered `input_required`, awaiting their retry.
    awaiting_retry: response::AwaitingRetry,
    counts: SessionCounts,
    started: SystemTime,
    /// The frame being classified, while [`Classifier::observe`] runs, if it
    /// is large enough to hold a result over [`KEPT_RESULT_BYTES`]: what
    /// such a result's [`PendingDigest`] shares.
    large_frame: Option<Bytes>,
    /// What the frame being classified may still parse.
    budget: budget::ParseBudget,
}

impl Classifier {
    /// A classifier for a session described by `facts`.
    pub fn new(config: ClassifyConfig, facts: SessionFacts, clock: SessionClock) -> Classifier {
        let max = config.max_pending;
        let catalog = match &config.pinned_tools {
            Some(pins) => Catalog::from_pinned(pins.iter().map(|(n, d)| (n.as_str(), d))),
            None => Catalog::new(),
        };
        Classifier {
            config,
            // The session's start, not this classifier's: the auditor thread
            // may begin after a server that exits at once has already ended.
            started: clock.started(),
            clock,
            session: SessionState::new(facts),
            from_client: PendingTable::new(max),
            from_server: PendingTable::new(max),
            catalog,
            names: risk::NameTags::default(),
            awaiting_retry: response::AwaitingRetry::default(),
            counts: SessionCounts::default(),
            large_frame: None,
            budget: budget::ParseBudget::default(),
        }
    }

    /// Classifies one frame, appending its events to `out`.
    pub fn observe(&mut self, frame: &Frame, out: &mut Vec<Event>) {
        self.counts.frames += 1;
        self.budget.reset();
        let at = self.clock.wall(frame.at);
        let dir = frame.direction;
        if frame.oversized() {
            self.oversized(frame, dir, at, out);
            return;
        }
        self.large_frame = (frame.bytes.len() > KEPT_RESULT_BYTES).then(|| frame.bytes.clone());
        match envelope::parse(&frame.bytes) {
            Ok(Message::Single(env)) => self.message(&env, dir, at, out),
            Ok(Message::Batch(items)) => {
                self.counts.batches += 1;
                for item in items.iter().take(MAX_BATCH_ELEMENTS) {
                    match envelope::parse_element(item) {
                        Ok(env) => self.message(&env, dir, at, out),
                        Err(reason) => {
                            self.violation(out, at, dir, reason, item.get().as_bytes(), None)
                        }
                    }
                }
                if items.len() > MAX_BATCH_ELEMENTS {
                    let e = self
                        .violation_event(at, dir, "batch_too_large", &frame.bytes, None)
                        .detail("batch_elements", items.len());
                    self.emit(e, out);
                }
            }
            Err(reason) => {
                let mut e = self.violation_event(at, dir, reason, &frame.bytes, None);
                if frame.after_gap {
                    e.details.insert("after_gap".into(), true.into());
                }
                self.emit(e, out);
            }
        }
        self.large_frame = None;
    }

    /// The session is over: exchanges still in flight are abandoned, then
    /// `session_end` (after `session_start`, if it was still held back).
    pub fn end(&mut self, end: &SessionEnd, out: &mut Vec<Event>) {
        let at = self.clock.wall(end.at);
        self.budget.reset();
        self.session.flush_start(at, out);
        let client: Vec<Pending> = self.from_client.drain().collect();
        let server: Vec<Pending> = self.from_server.drain().collect();
        for (pending, dir) in client
            .into_iter()
            .map(|p| (p, Direction::ClientToServer))
            .chain(server.into_iter().map(|p| (p, Direction::ServerToClient)))
        {
            if pending.cancelled.is_none() {
                self.abandoned(&pending, dir, at, out);
            }
        }
        let failed = !matches!(end.exit, ChildExit::Code(0));
        let (severity, outcome) = if failed {
            (Severity::Warning, Outcome::Failure)
        } else {
            (Severity::Info, Outcome::Success)
        };
        let mut e = Event::new(EventType::SessionEnd, at)
            .severity(severity)
            .outcome(outcome);
        e.duration_ms = Some(millis_between(self.started, at));
        e.details.insert("reason".into(), end.reason.clone().into());
        if let Some(error) = self.session.fact("spawn_error") {
            // The server never ran: its start's failure is the session's end.
            e.details.insert("spawn_error".into(), error.clone());
        }
        match end.exit {
            ChildExit::Code(c) => {
                e.details.insert("exit_code".into(), c.into());
            }
            ChildExit::Signal(s) => {
                e.details.insert("exit_signal".into(), s.into());
            }
            ChildExit::Unknown => {}
        }
        e.details
            .insert("exit_status".into(), end.exit.shell_status().into());
        self.counts.pending_overflow =
            self.from_client.overflowed() + self.from_server.overflowed();
        e.details.insert("counts".into(), self.counts.to_json());
        out.push(e);
    }

    /// A request the policy refused: it never reached the server, and the
    /// client got `reply` (a JSON-RPC error) from the proxy instead.
    pub fn refused(
        &mut self,
        at: SystemTime,
        frame: &[u8],
        reply: &[u8],
        rule: &str,
        dry_run: bool,
        out: &mut Vec<Event>,
    ) {
        // A dry run relayed the call: the refusal is only pending review.
        let outcome = if dry_run {
            Outcome::Pending
        } else {
            Outcome::Blocked
        };
        let mut e = Event::new(EventType::PolicyBlocked, at)
            .severity(Severity::Warning)
            .outcome(outcome);
        if dry_run {
            e.details.insert("dry_run".into(), true.into());
        }
        e.direction = Some(Direction::ClientToServer);
        e.details.insert("rule".into(), rule.into());
        self.budget.reset();
        if let Ok(Message::Single(env)) = envelope::parse(frame) {
            e.method = env.method.as_deref().map(str::to_owned);
            if let Some(id) = env.id {
                e.set_jsonrpc_id(&crate::event::id_key(id.get()));
            }
            let params = params::RequestParams::parse(env.params);
            e.tool = params.name().map(|n| budget::bounded_name(&n));
            let args = params
                .arguments
                .and_then(|a| self.payload(payload::ARGUMENTS, a, &mut e));
            if let Some(tool) = &e.tool {
                let hints = self.catalog.hints(tool);
                let risk = self.names.risk(tool, args.as_ref(), &hints);
                e.risk_level = Some(risk.level);
                e.compliance_tags = risk.tags;
            }
            if self.config.include_arguments {
                e.arguments = args;
            }
        }
        if let Ok(Message::Single(env)) = envelope::parse(reply) {
            e.error = env.error_info(&mut self.budget);
        }
        self.emit(e, out);
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

    /// The digest of `part`, a piece of the frame being classified, for the
    /// auditor to compute ([`PendingDigest`]).
    fn digest_later(&self, field: &'static str, part: &[u8]) -> Box<PendingDigest> {
        let within = |frame: &Bytes| {
            let (outer, inner) = (frame.as_ptr_range(), part.as_ptr_range());
            outer.start <= inner.start && inner.end <= outer.end
        };
        let of = match &self.large_frame {
            Some(frame) if within(frame) => frame.slice_ref(part),
            // Not a piece of a large frame (no caller passes one): a copy.
            _ => Bytes::copy_from_slice(part),
        };
        Box::new(PendingDigest { field, of })
    }

    /// Pushes `e` after `session_start` (written first if still held back).
    fn emit(&mut self, e: Event, out: &mut Vec<Event>) {
        self.session.flush_start(e.at, out);
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
        let e = self.violation_event(at, dir, reason, bytes, len);
        self.emit(e, out);
    }

    fn violation_event(
        &mut self,
        at: SystemTime,
        dir: Direction,
        reason: &str,
        bytes: &[u8],
        len: Option<usize>,
    ) -> Event {
        self.counts.protocol_violations += 1;
        let mut e = Event::new(EventType::ProtocolViolation, at)
            .severity(Severity::Warning)
            .outcome(Outcome::Failure);
        e.direction = Some(dir);
        e.details.insert("reason".into(), reason.into());
        e.details
            .insert("frame_bytes".into(), len.unwrap_or(bytes.len()).into());
        e.excerpt = Some(excerpt(bytes));
        e
    }
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
