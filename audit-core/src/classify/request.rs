//! Requests, in either direction: what is remembered until the answer, and
//! the `tool_call` event written at once.

use std::time::SystemTime;

use serde_json::value::RawValue;
use serde_json::Value;

use super::budget::{bounded_name, Kept, Parsed};
use super::methods::{request_recording, Recording};
use super::params::{opaque_digest, RequestParams};
use super::payload::ARGUMENTS;
use super::{Classifier, Envelope, Pending, KEPT_PARAMS_BYTES};
use crate::clock::millis_between;
use crate::event::{new_event_id, Direction, Event, EventType, Outcome, Severity};

/// Most in-flight client calls named on a server request's event.
pub const MAX_IN_FLIGHT_NAMED: usize = 8;
/// Client requests a server request may be made on behalf of.
pub const CALL_METHODS: &[&str] = &["tools/call", "prompts/get", "resources/read"];

/// A `tools/call` request's arguments, as the settings record them.
enum CallArguments<'a> {
    /// Recorded on the event: parsed, or over the frame's parse budget.
    Recorded(&'a RawValue, Parsed),
    /// Left out by settings: recorded by digest only.
    Digested(&'a RawValue),
    None,
}

/// What a `tool_call` event carries besides its pending exchange.
struct CallNotes<'a> {
    arguments: CallArguments<'a>,
    traceparent_invalid: bool,
    request_state: Option<Value>,
    input_responses: Option<&'a RawValue>,
}

impl Classifier {
    pub(super) fn request(
        &mut self,
        env: &Envelope<'_>,
        method: &str,
        id: &RawValue,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        self.counts.requests += 1;
        self.counts.method(method);
        let params = RequestParams::parse(env.params);
        let meta = params.meta();
        self.session
            .observe_request(method, &params, &meta, dir, at, out);
        let mut p = Pending::new(id, method, new_event_id(), at);
        p.progress_token = meta
            .progress_token()
            .map(|t| crate::event::id_key(t.get()).into());
        let trace = meta.trace();
        p.trace = trace.clone().and_then(Result::ok);
        p.arguments_bytes = env.params.map_or(0, |r| r.get().len());
        let request_state = params.request_state.map(|s| self.retried(&mut p, s));
        let call_event = match request_recording(method) {
            Recording::ToolCall => {
                let notes = CallNotes {
                    arguments: self.tool_call_arguments(&mut p, &params),
                    traceparent_invalid: matches!(trace, Some(Err(()))),
                    request_state,
                    input_responses: params.input_responses,
                };
                Some(self.tool_call_event(&p, dir, at, notes))
            }
            Recording::ToolsList => {
                p.continued = params.has_cursor();
                None
            }
            Recording::Exchange(_) | Recording::Generic => {
                self.exchange_request(&mut p, env, &params, dir);
                None
            }
            Recording::Session | Recording::Counted => None,
        };
        self.remember(p, call_event, env, dir, at, out);
    }

    /// Links a retried request to the one that asked for input, by the
    /// digest of its opaque request state, and returns that digest.
    fn retried(&mut self, p: &mut Pending, state: &RawValue) -> Value {
        let digest = opaque_digest(state);
        p.parent = self.awaiting_retry.take(&digest);
        digest
    }

    /// Notes a `tools/call`'s tool, argument size and risk on `p`; returns
    /// its arguments as the settings record them.
    fn tool_call_arguments<'a>(
        &mut self,
        p: &mut Pending,
        params: &RequestParams<'a>,
    ) -> CallArguments<'a> {
        p.tool = params.name().map(|n| bounded_name(&n));
        p.arguments_bytes = params.arguments.map_or(0, |a| a.get().len());
        let args = params.arguments.map(|a| (a, self.budget.parse(a.get())));
        let tool = p.tool.clone().unwrap_or_default();
        let hints = self.catalog.hints(&tool);
        let parsed = args.as_ref().and_then(|(_, a)| match a {
            Parsed::Value(v) => Some(v),
            _ => None,
        });
        p.risk = Some(self.names.risk(&tool, parsed, &hints));
        match (args, params.arguments) {
            (Some((raw, parsed)), _) if self.config.include_arguments => {
                CallArguments::Recorded(raw, parsed)
            }
            (_, Some(raw)) if !self.config.include_arguments => CallArguments::Digested(raw),
            _ => CallArguments::None,
        }
    }

    /// Notes any other request's subject, its small parameters (when the
    /// settings keep them), and for a server's request the client calls in
    /// flight it may be made on behalf of.
    fn exchange_request(
        &mut self,
        p: &mut Pending,
        env: &Envelope<'_>,
        params: &RequestParams<'_>,
        dir: Direction,
    ) {
        p.subject = params.uri().or_else(|| params.name());
        p.subject = p.subject.as_deref().map(bounded_name);
        let small = p.arguments_bytes <= KEPT_PARAMS_BYTES;
        if self.config.include_arguments && small {
            p.arguments = env.params.map(|r| Kept::Text(r.get().into()));
        }
        if dir == Direction::ServerToClient {
            p.in_flight_calls = self
                .from_client
                .live_event_ids(CALL_METHODS, MAX_IN_FLIGHT_NAMED);
        }
    }

    /// The `tool_call` event, written at once with the outcome still pending.
    fn tool_call_event(
        &mut self,
        p: &Pending,
        dir: Direction,
        at: SystemTime,
        notes: CallNotes<'_>,
    ) -> Event {
        let mut e = self.event_for(p, EventType::ToolCall, dir, at);
        e.call_event_id = None;
        e.duration_ms = None;
        e.event_id = Some(p.event_id.clone());
        e.outcome = Outcome::Pending;
        match notes.arguments {
            CallArguments::Recorded(_, Parsed::Value(v)) => e.arguments = Some(v),
            CallArguments::Recorded(raw, Parsed::OverBudget) => {
                self.omitted(ARGUMENTS, raw, &mut e);
            }
            CallArguments::Digested(raw) => {
                e.pending_digest = Some(self.digest_later(ARGUMENTS.1, raw.get().as_bytes()));
            }
            CallArguments::Recorded(_, Parsed::Invalid) | CallArguments::None => {}
        }
        if notes.traceparent_invalid {
            e.details.insert("traceparent_invalid".into(), true.into());
        }
        if let Some(s) = notes.request_state {
            e.details.insert("request_state".into(), s);
        }
        if let Some(r) = notes.input_responses {
            let keys = super::params::object_keys(r, 64);
            e.details.insert("input_responses".into(), keys.into());
        }
        e
    }

    /// Remembers `p` until its answer, in its direction's table, and writes
    /// its `tool_call` event; a duplicate in-flight id is a violation.
    fn remember(
        &mut self,
        p: Pending,
        call_event: Option<Event>,
        env: &Envelope<'_>,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let table = match dir {
            Direction::ClientToServer => &mut self.from_client,
            Direction::ServerToClient => &mut self.from_server,
        };
        let rejected = table.insert(p).err();
        if let Some(e) = call_event {
            self.counts.tool_calls += 1;
            self.emit(e, out);
        }
        if rejected.is_some_and(|r| r.duplicate) {
            let raw = env.raw.as_bytes();
            self.violation(out, at, dir, "duplicate_in_flight_id", raw, None);
        }
    }

    /// An event about `p`'s exchange, linked to its request: method, tool, id,
    /// duration so far, trace context, risk, progress, parent.
    pub(super) fn event_for(
        &self,
        p: &Pending,
        event_type: EventType,
        dir: Direction,
        at: SystemTime,
    ) -> Event {
        let mut e = Event::new(event_type, at);
        e.direction = Some(dir);
        e.method = Some(p.method.clone());
        e.tool = p.tool.clone();
        e.set_jsonrpc_id(&p.id);
        e.call_event_id = Some(p.event_id.clone());
        e.parent_event_id = p.parent.clone();
        e.duration_ms = Some(millis_between(p.at, at));
        if let Some(t) = &p.trace {
            e.trace_id = Some(t.trace_id.clone());
            e.span_id = Some(t.span_id.clone());
            if let Some(ts) = &t.tracestate {
                e.details.insert("tracestate".into(), ts.clone().into());
            }
        }
        if let Some(r) = &p.risk {
            e.risk_level = Some(r.level);
            e.compliance_tags = r.tags.clone();
        }
        if p.tool.is_some() || p.arguments_bytes > 0 {
            e.details
                .insert("arguments_bytes".into(), p.arguments_bytes.into());
        }
        if let Some(t) = &p.progress_token {
            let (key, token) = match t.strip_prefix('#') {
                Some(digest) => ("progress_token_sha256", digest.into()),
                None => (
                    "progress_token",
                    serde_json::from_str(t).unwrap_or_default(),
                ),
            };
            e.details.insert(key.into(), token);
        }
        if p.progress.count > 0 {
            e.details.insert(
                "progress".into(),
                serde_json::json!({"count": p.progress.count, "last": p.progress.last, "total": p.progress.total}),
            );
        }
        if let Some(s) = &p.subject {
            let key = if p.method == "resources/read" {
                "uri"
            } else {
                "name"
            };
            e.details.insert(key.into(), s.clone().into());
        }
        if !p.in_flight_calls.is_empty() {
            e.details
                .insert("in_flight_calls".into(), p.in_flight_calls.clone().into());
        }
        e
    }

    /// The event of an exchange that ended without an answer: `status` is
    /// `cancelled` or `abandoned`. None for methods that are only counted.
    pub(super) fn unanswered_event(
        &mut self,
        p: &Pending,
        dir: Direction,
        at: SystemTime,
        status: &str,
    ) -> Option<Event> {
        let event_type = match (request_recording(&p.method), status) {
            (Recording::ToolCall, "cancelled") => EventType::ToolCancelled,
            (Recording::ToolCall, _) => EventType::ToolAbandoned,
            (Recording::Exchange(t), _) => t,
            (Recording::Generic, _) => EventType::RpcRequest,
            _ => return None,
        };
        let mut e = self
            .event_for(p, event_type, dir, at)
            .severity(Severity::Warning)
            .outcome(Outcome::Failure);
        e.details.insert("status".into(), status.into());
        self.kept_arguments(p, &mut e);
        Some(e)
    }

    pub(super) fn abandoned(
        &mut self,
        p: &Pending,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        if let Some(e) = self.unanswered_event(p, dir, at, "abandoned") {
            self.emit(e, out);
        }
    }
}
