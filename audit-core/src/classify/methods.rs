//! What each MCP method is worth in the trail.
//!
//! A compliance reader must be able to answer "what happened" without the
//! trail drowning in pings, so each method is either recorded as an event or
//! only counted (per method, in `session_end`'s `details.counts.methods`).
//! Every method is counted; an error answer to any request is always an
//! event. See `docs/events.md` ("What is recorded, what is counted").

use crate::event::EventType;

/// How a request and its answer are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// `tools/call`: `tool_call` at the request, and one terminal event
    /// (`tool_result`, `tool_error`, `rpc_error`, `input_required`,
    /// `tool_cancelled` or `tool_abandoned`).
    ToolCall,
    /// `tools/list`: `tools_listed` (and `tool_changed`) when a listing completes.
    ToolsList,
    /// One event of this type when the exchange ends (answered, failed,
    /// cancelled or abandoned), carrying request and answer together.
    Exchange(EventType),
    /// The handshake / discovery: `session_start` or `session_updated`.
    Session,
    /// A generic `rpc_request` event when the exchange ends: rare requests
    /// that change state (`logging/setLevel`, subscriptions, `tasks/cancel`)
    /// and methods this version does not know.
    Generic,
    /// Only counted (successful answers make no event): chatty or
    /// read-only housekeeping.
    Counted,
}

/// How a request of `method` is recorded.
pub fn request_recording(method: &str) -> Recording {
    match method {
        "tools/call" => Recording::ToolCall,
        "tools/list" => Recording::ToolsList,
        "resources/read" => Recording::Exchange(EventType::ResourceRead),
        "prompts/get" => Recording::Exchange(EventType::PromptGet),
        "sampling/createMessage" => Recording::Exchange(EventType::SamplingRequest),
        "elicitation/create" => Recording::Exchange(EventType::ElicitationRequest),
        "roots/list" => Recording::Exchange(EventType::RootsList),
        "initialize" | "server/discover" => Recording::Session,
        "ping"
        | "completion/complete"
        | "resources/list"
        | "resources/templates/list"
        | "prompts/list"
        | "tasks/get"
        | "tasks/list"
        | "tasks/result" => Recording::Counted,
        _ => Recording::Generic,
    }
}

/// The event type of an input request embedded in an `input_required` result.
pub fn input_request_event(method: &str) -> EventType {
    match request_recording(method) {
        Recording::Exchange(t) => t,
        _ => EventType::RpcRequest,
    }
}

/// How a notification is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// Ends the request it names (`tool_cancelled`, ...).
    Cancelled,
    /// Aggregated on the request's terminal event (`details.progress`).
    Progress,
    /// `server_log` at `warning` or above, counted below.
    Log,
    /// A generic `notification` event: rare and meaningful (list changes,
    /// elicitation completion, unknown notifications).
    Recorded,
    /// Only counted.
    Counted,
}

/// How a notification of `method` is recorded.
pub fn notification_kind(method: &str) -> NotificationKind {
    match method {
        "notifications/cancelled" => NotificationKind::Cancelled,
        "notifications/progress" => NotificationKind::Progress,
        "notifications/message" => NotificationKind::Log,
        "notifications/initialized"
        | "notifications/resources/updated"
        | "notifications/subscriptions/acknowledged"
        | "notifications/tasks/status" => NotificationKind::Counted,
        _ => NotificationKind::Recorded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_method_has_a_recording() {
        assert_eq!(request_recording("tools/call"), Recording::ToolCall);
        assert_eq!(request_recording("ping"), Recording::Counted);
        assert_eq!(request_recording("logging/setLevel"), Recording::Generic);
        assert_eq!(request_recording("x/custom"), Recording::Generic);
        assert_eq!(
            input_request_event("elicitation/create"),
            EventType::ElicitationRequest
        );
        assert_eq!(
            notification_kind("notifications/tools/list_changed"),
            NotificationKind::Recorded
        );
        assert_eq!(
            notification_kind("notifications/initialized"),
            NotificationKind::Counted
        );
    }
}
