//! Answers: the terminal event of each exchange, tool listings and their
//! drift, and the stateless era's `input_required` results.

use std::collections::VecDeque;
use std::time::SystemTime;

use serde_json::value::RawValue;
use serde_json::Value;

use super::catalog::Listing;
use super::methods::{input_request_event, request_recording, Recording};
use super::payload::{ARGUMENTS, RESULT};
use super::results::ResultSummary;
use super::{Classifier, Envelope, Pending, KEPT_RESULT_BYTES};
use crate::event::{new_event_id, Direction, Event, EventType, Outcome, Severity};

/// Most `tool_changed` events one listing yields; the rest are counted in
/// `tools_listed.details.changes_not_listed`.
pub const MAX_TOOL_CHANGES: usize = 256;
/// Most calls remembered while they await their `input_required` retry.
pub const MAX_AWAITING_RETRY: usize = 256;

/// Calls answered `input_required`, by the digest of their `requestState`,
/// so that the retry carrying it links back (`parent_event_id`). Bounded:
/// the oldest is forgotten first.
#[derive(Debug, Default)]
pub struct AwaitingRetry {
    entries: VecDeque<(String, String)>,
}

impl AwaitingRetry {
    fn remember(&mut self, state_digest: &Value, event_id: &str) {
        let Some(h) = state_digest.get("sha256").and_then(Value::as_str) else {
            return;
        };
        if self.entries.len() >= MAX_AWAITING_RETRY {
            self.entries.pop_front();
        }
        self.entries.push_back((h.to_owned(), event_id.to_owned()));
    }

    /// The call whose `requestState` had this digest. A state may be echoed
    /// over several rounds, so it is kept (the link names the first call).
    pub fn take(&mut self, state_digest: &Value) -> Option<String> {
        let h = state_digest.get("sha256").and_then(Value::as_str)?;
        self.entries
            .iter()
            .find(|(k, _)| k == h)
            .map(|(_, id)| id.clone())
    }
}

impl Classifier {
    pub(super) fn response(
        &mut self,
        env: &Envelope<'_>,
        id: &RawValue,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        self.counts.responses += 1;
        let table = match dir {
            Direction::ServerToClient => &mut self.from_client,
            Direction::ClientToServer => &mut self.from_server,
        };
        let Some(p) = table.remove(id) else {
            let raw = env.raw.as_bytes();
            self.violation(out, at, dir, "response_to_unknown_id", raw, None);
            return;
        };
        if p.cancelled.is_some() {
            // Its terminal event (`tool_cancelled`, ...) is already written.
            self.counts.answers_after_cancel += 1;
            return;
        }
        let held = self.session.observe_response(&p.method, env, at, out);
        let recording = request_recording(&p.method);
        if let Some(err) = env.error_info(&mut self.budget) {
            if held {
                return; // the discover probe's -32601 is the normal legacy fallback
            }
            self.counts.rpc_errors += 1;
            let event_type = match recording {
                Recording::Exchange(t) => t,
                _ => EventType::RpcError,
            };
            let severity = if is_routine_refusal(&p.method, err.code) {
                Severity::Info
            } else {
                Severity::Warning
            };
            let mut e = self
                .event_for(&p, event_type, dir, at)
                .severity(severity)
                .outcome(Outcome::Failure);
            e.error = Some(err);
            self.kept_arguments(&p, &mut e);
            self.emit(e, out);
            return;
        }
        let Some(result) = env.result else { return };
        match recording {
            Recording::ToolsList => {
                if let Some(listing) = self.catalog.page(p.continued, result) {
                    self.listed(&p, listing, dir, at, out);
                }
            }
            Recording::ToolCall | Recording::Exchange(_) | Recording::Generic => {
                self.answered(&p, recording, result, dir, at, out)
            }
            Recording::Session | Recording::Counted => {}
        }
    }

    fn answered(
        &mut self,
        p: &Pending,
        recording: Recording,
        result: &RawValue,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let summary = ResultSummary::read(result);
        if summary.input_required() {
            self.input_required(p, &summary, dir, at, out);
            return;
        }
        let event_type = match recording {
            Recording::ToolCall if summary.is_error => EventType::ToolError,
            Recording::ToolCall => EventType::ToolResult,
            Recording::Exchange(t) => t,
            _ => EventType::RpcRequest,
        };
        let mut e = self.event_for(p, event_type, dir, at);
        if event_type == EventType::ToolError {
            self.counts.tool_errors += 1;
            e = e.severity(Severity::Warning).outcome(Outcome::Failure);
        }
        e.details
            .insert("result_bytes".into(), result.get().len().into());
        if !summary.content_types.is_empty() {
            e.details
                .insert("content_types".into(), summary.content_types.into());
        }
        if let Some(t) = summary.result_type {
            e.details.insert("result_type".into(), t.into());
        }
        self.kept_arguments(p, &mut e);
        if result.get().len() > KEPT_RESULT_BYTES {
            e.pending_digest = Some(self.digest_later("result_sha256", result.get().as_bytes()));
            e.details
                .insert("result_omitted".into(), "over_record_limit".into());
        } else if self.config.include_results {
            e.result = self.payload(RESULT, result, &mut e);
        } else {
            // Left out by settings: recorded by digest only.
            e.pending_digest = Some(self.digest_later(RESULT.1, result.get().as_bytes()));
        }
        self.emit(e, out);
    }

    /// `input_required`: the call is not over; the client will retry it with
    /// the embedded requests answered. Each embedded request gets its own
    /// event (pending: its answer travels on the retry), linked by parent.
    fn input_required(
        &mut self,
        p: &Pending,
        summary: &ResultSummary,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let parent = p.parent.clone().unwrap_or_else(|| p.event_id.clone());
        let mut e = self
            .event_for(p, EventType::InputRequired, dir, at)
            .outcome(Outcome::Pending);
        let keys: Vec<Value> = summary
            .input_requests
            .iter()
            .map(|r| serde_json::json!({"key": r.key, "method": r.method}))
            .collect();
        e.details.insert("input_requests".into(), keys.into());
        if let Some(s) = &summary.request_state {
            e.details.insert("request_state".into(), s.clone());
            self.awaiting_retry.remember(s, &parent);
        }
        self.emit(e, out);
        for r in &summary.input_requests {
            let mut e = Event::new(input_request_event(&r.method), at).outcome(Outcome::Pending);
            e.event_id = Some(new_event_id());
            e.direction = Some(dir);
            e.method = Some(r.method.clone());
            e.parent_event_id = Some(parent.clone());
            e.details.insert("embedded".into(), true.into());
            e.details.insert("input_key".into(), r.key.clone().into());
            if let Some(params) = &r.params {
                e.details
                    .insert("arguments_bytes".into(), params.get().len().into());
                if self.config.include_arguments {
                    e.arguments = self.payload(ARGUMENTS, params, &mut e);
                }
            }
            self.emit(e, out);
        }
    }

    fn listed(
        &mut self,
        p: &Pending,
        listing: Listing,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let mut e = self.event_for(p, EventType::ToolsListed, dir, at);
        let names: Vec<&str> = listing.tools.keys().map(String::as_str).collect();
        let hashes: serde_json::Map<String, Value> = listing
            .tools
            .iter()
            .map(|(n, t)| (n.clone(), t.hash.clone().into()))
            .collect();
        let d = &mut e.details;
        d.insert("count".into(), names.len().into());
        d.insert("tools".into(), names.into());
        d.insert("definition_hashes".into(), hashes.into());
        d.insert("pages".into(), listing.pages.into());
        d.insert("first_listing".into(), listing.first.into());
        if listing.against_pins {
            d.insert("compared_with".into(), "pins".into());
        }
        d.insert("changes".into(), listing.changes.len().into());
        if listing.changes.len() > MAX_TOOL_CHANGES {
            let over = listing.changes.len() - MAX_TOOL_CHANGES;
            d.insert("changes_not_listed".into(), over.into());
        }
        for (k, v) in [
            ("over_limit", listing.over_limit),
            ("unnamed", listing.unnamed),
        ] {
            if v > 0 {
                d.insert(k.into(), v.into());
            }
        }
        self.emit(e, out);
        for c in listing.changes.iter().take(MAX_TOOL_CHANGES) {
            let severity = if c.description_changed() {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let mut e = self
                .event_for(p, EventType::ToolChanged, dir, at)
                .severity(severity);
            e.tool = Some(c.name.clone());
            let hints = self.catalog.hints(&c.name);
            let risk = self.names.risk(&c.name, None, &hints);
            e.risk_level = Some(risk.level);
            e.compliance_tags = risk.tags;
            let d = &mut e.details;
            d.insert("change".into(), c.change.into());
            d.insert("changed_fields".into(), c.changed_fields.clone().into());
            if let Some(h) = &c.old_hash {
                d.insert("old_hash".into(), h.clone().into());
            }
            if let Some(h) = &c.new_hash {
                d.insert("new_hash".into(), h.clone().into());
            }
            self.emit(e, out);
        }
    }

    pub(super) fn response_without_id(
        &mut self,
        env: &Envelope<'_>,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        self.counts.responses += 1;
        self.counts.rpc_errors += 1;
        let mut e = Event::new(EventType::RpcError, at)
            .severity(Severity::Warning)
            .outcome(Outcome::Failure);
        e.direction = Some(dir);
        e.error = env.error_info(&mut self.budget);
        self.emit(e, out);
    }
}

/// JSON-RPC "method not found".
const METHOD_NOT_FOUND: i64 = -32601;

/// Whether an error answer is routine: a server without resources or prompts
/// answers their optional listing methods "method not found".
fn is_routine_refusal(method: &str, code: i64) -> bool {
    code == METHOD_NOT_FOUND
        && matches!(
            method,
            "resources/list" | "resources/templates/list" | "prompts/list"
        )
}
