//! Counters the classifier keeps for `session_end`: what was only counted
//! (pings, progress, list pages, ...) is still answerable from the trail.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Most distinct method names counted; further names count under `"(other)"`.
pub const MAX_METHOD_NAMES: usize = 64;
/// Longest method name kept as a counter key.
const METHOD_NAME_CHARS: usize = 64;

/// Counters the classifier keeps for `session_end`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionCounts {
    pub frames: u64,
    pub batches: u64,
    pub requests: u64,
    pub notifications: u64,
    pub responses: u64,
    pub tool_calls: u64,
    pub tool_errors: u64,
    pub rpc_errors: u64,
    pub protocol_violations: u64,
    pub cancelled: u64,
    /// Answers that arrived after their request was cancelled (no event).
    pub answers_after_cancel: u64,
    /// `notifications/cancelled` naming no request in flight (a normal race).
    pub cancel_unknown_id: u64,
    pub progress_notifications: u64,
    /// Progress for a token no request in flight asked for.
    pub progress_unmatched: u64,
    /// `notifications/message` below `warning` (no event).
    pub log_messages_below_warning: u64,
    /// Requests not tracked because the correlation table was full.
    pub pending_overflow: u64,
    /// Requests and notifications by method.
    pub methods: BTreeMap<String, u64>,
}

impl SessionCounts {
    /// Counts one message of `method`.
    pub fn method(&mut self, method: &str) {
        // A name already counted costs no allocation (the common case).
        if let Some(n) = self.methods.get_mut(method) {
            *n += 1;
            return;
        }
        if self.methods.len() < MAX_METHOD_NAMES {
            let key: String = method.chars().take(METHOD_NAME_CHARS).collect();
            *self.methods.entry(key).or_default() += 1;
        } else {
            *self.methods.entry("(other)".into()).or_default() += 1;
        }
    }

    /// The `details.counts` object of `session_end`.
    pub fn to_json(&self) -> Value {
        json!({
            "frames": self.frames, "batches": self.batches, "requests": self.requests,
            "notifications": self.notifications, "responses": self.responses,
            "tool_calls": self.tool_calls, "tool_errors": self.tool_errors,
            "rpc_errors": self.rpc_errors, "protocol_violations": self.protocol_violations,
            "cancelled": self.cancelled, "answers_after_cancel": self.answers_after_cancel,
            "cancel_unknown_id": self.cancel_unknown_id,
            "progress_notifications": self.progress_notifications,
            "progress_unmatched": self.progress_unmatched,
            "log_messages_below_warning": self.log_messages_below_warning,
            "pending_overflow": self.pending_overflow,
            "methods": self.methods,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_are_bounded() {
        let mut c = SessionCounts::default();
        for i in 0..(MAX_METHOD_NAMES + 10) {
            c.method(&format!("m{i}"));
        }
        c.method("m0");
        assert_eq!(c.methods.len(), MAX_METHOD_NAMES + 1);
        assert_eq!(c.methods["(other)"], 10);
        assert_eq!(c.methods["m0"], 2);
    }
}
