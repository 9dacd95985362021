//! Frames over the parse limit: only a prefix and a hash of them are kept.
//!
//! The framer keeps the first [`crate::frame::OVERSIZED_PREFIX`] bytes of
//! such a line and the SHA-256 of all of it. Here the prefix is *sniffed*: a
//! lenient scan of the top-level members that fit in it (`jsonrpc`, `id`,
//! `method`, and whether `result` or `error` starts), without parsing the
//! cut value. Where the serialiser writes `jsonrpc` and `id` before
//! `result` (serde's sorted maps, the Python SDK's models), a large answer is
//! still matched to its request and recorded as that request's completion
//! (`tool_result` with `result_omitted`); the TypeScript SDK writes `result`
//! first, and its over-limit answers stay unmatched. Any other oversized
//! frame is a `protocol_violation` (`frame_over_parse_limit`), with the
//! hash. A `tools/list` too large to read is a violation too: the catalog
//! cannot compare what it cannot read, and says so.

use std::time::SystemTime;

use serde_json::value::RawValue;

use super::methods::{request_recording, Recording};
use super::results::scan;
use super::Classifier;
use crate::event::{Direction, Event, EventType, Outcome, Severity};
use crate::frame::Frame;

/// The top-level members of a message's prefix that fit in it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Sniffed<'a> {
    pub jsonrpc: Option<&'a str>,
    /// The id's exact text (a number, a string with its quotes, `null`).
    pub id: Option<&'a str>,
    pub method: Option<&'a str>,
    pub result: bool,
    pub error: bool,
}

/// Scans the members of a JSON object that begin in `prefix`; stops at the
/// first value the prefix cuts (or at anything that is not JSON).
pub(super) fn sniff(prefix: &[u8]) -> Sniffed<'_> {
    let mut s = Sniffed::default();
    let mut at = skip_ws(prefix, 0);
    if prefix.get(at) != Some(&b'{') {
        return s;
    }
    at += 1;
    loop {
        at = skip_ws(prefix, at);
        let Some(key_end) = string_end(prefix, at) else {
            return s;
        };
        let key = &prefix[at + 1..key_end - 1];
        at = skip_ws(prefix, key_end);
        if prefix.get(at) != Some(&b':') {
            return s;
        }
        let start = skip_ws(prefix, at + 1);
        match key {
            b"result" => s.result = true,
            b"error" => s.error = true,
            _ => {}
        }
        let Some(end) = value_end(prefix, start) else {
            return s; // the cut value: nothing after it is in the prefix
        };
        let text = std::str::from_utf8(&prefix[start..end]).ok();
        let unquoted = || text.and_then(|t| t.strip_prefix('"')?.strip_suffix('"'));
        match key {
            b"jsonrpc" => s.jsonrpc = unquoted(),
            b"id" => s.id = text,
            b"method" => s.method = unquoted(),
            _ => {}
        }
        at = skip_ws(prefix, end);
        match prefix.get(at) {
            Some(b',') => at += 1,
            _ => return s,
        }
    }
}

fn skip_ws(b: &[u8], mut at: usize) -> usize {
    while matches!(b.get(at), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        at += 1;
    }
    at
}

/// End (exclusive) of the string whose opening quote is `b[at]`.
fn string_end(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    scan::string_end(b, at)
}

/// End (exclusive) of the value starting at `at`, if it is whole.
fn value_end(b: &[u8], at: usize) -> Option<usize> {
    match b.get(at)? {
        b'"' => string_end(b, at),
        b'{' | b'[' => scan::container_end(b, at),
        _ => {
            let len = b[at..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))?;
            Some(at + len)
        }
    }
}

impl Classifier {
    /// An oversized frame: the completion of its request when the prefix
    /// names one, else a violation. Both carry the whole line's size and hash.
    pub(super) fn oversized(
        &mut self,
        frame: &Frame,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let digest = frame.sha256.map(hex::encode).unwrap_or_default();
        let sniffed = sniff(&frame.bytes);
        match self.oversized_answer(&sniffed, frame.len, dir, at) {
            Some(Some(e)) => {
                let e = e.detail("frame_sha256", digest);
                self.emit(e, out);
                return;
            }
            Some(None) => return, // after a cancellation: already ended
            None => {}
        }
        let e = self
            .violation_event(
                at,
                dir,
                "frame_over_parse_limit",
                &frame.bytes,
                Some(frame.len),
            )
            .detail("frame_sha256", digest);
        self.emit(e, out);
    }

    /// The completion event of the request this oversized answer is for;
    /// `Some(None)` for an answer to a cancelled request (its terminal event
    /// is written already); `None`, and the request stays pending, when it
    /// is not an answer we can record without its body.
    fn oversized_answer(
        &mut self,
        s: &Sniffed<'_>,
        len: usize,
        dir: Direction,
        at: SystemTime,
    ) -> Option<Option<Event>> {
        if s.jsonrpc != Some("2.0") || s.method.is_some() || !(s.result || s.error) {
            return None;
        }
        let id = RawValue::from_string(s.id?.to_owned()).ok()?;
        let table = match dir {
            Direction::ServerToClient => &mut self.from_client,
            Direction::ClientToServer => &mut self.from_server,
        };
        let recording = request_recording(&table.get(&id)?.method);
        // As `response` names them; an error whose body is cut is still a
        // failure, though its code and message are not read.
        let event_type = match (recording, s.error) {
            (Recording::ToolCall | Recording::Generic, true) => EventType::RpcError,
            (Recording::ToolCall, false) => EventType::ToolResult,
            (Recording::Exchange(t), _) => t,
            (Recording::Generic, false) => EventType::RpcRequest,
            (Recording::ToolsList | Recording::Session | Recording::Counted, _) => return None,
        };
        let p = table.remove(&id)?;
        self.counts.responses += 1;
        if p.cancelled.is_some() {
            self.counts.answers_after_cancel += 1;
            return Some(None);
        }
        let mut e = self.event_for(&p, event_type, dir, at);
        if s.error {
            self.counts.rpc_errors += 1;
            e = e.severity(Severity::Warning).outcome(Outcome::Failure);
        }
        self.kept_arguments(&p, &mut e);
        Some(Some(
            e.detail("frame_bytes", len)
                .detail("result_omitted", "over_record_limit"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_members_before_the_cut_value() {
        let s = sniff(br#" { "jsonrpc" : "2.0", "id":"a\"b", "result":{"content":[{"text":"xx"#);
        assert_eq!(s.jsonrpc, Some("2.0"));
        assert_eq!(s.id, Some(r#""a\"b""#));
        assert!(s.result && !s.error && s.method.is_none());
        let s = sniff(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"#);
        assert_eq!((s.id, s.method), (Some("7"), Some("tools/call")));
        let s = sniff(br#"{"result":{"big":"#);
        assert!(s.result && s.id.is_none(), "an id after the cut is unknown");
        assert_eq!(sniff(b"[1,2"), Sniffed::default());
        assert_eq!(sniff(b"\xff\xfe garbage"), Sniffed::default());
        let s = sniff(br#"{"jsonrpc":"2.0","id":[1,{"x":"}"}],"error":{"#);
        assert_eq!(s.id, Some(r#"[1,{"x":"}"}]"#));
        assert!(s.error);
    }
}
