//! Classifier tests over frames captured from real peers: the harness, and
//! the first scenarios. The other files group scenarios by concern.

mod exchanges;
mod lines;
mod memory;
mod prop;
mod tools;

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::*;
use crate::frame::Frame;
use crate::handoff::ChildExit;

pub(super) struct Harness {
    c: Classifier,
    t0: Instant,
    n: u64,
    events: Vec<Event>,
}

impl Harness {
    pub(super) fn new() -> Harness {
        let t0 = Instant::now();
        let clock = SessionClock::anchored(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            t0,
        );
        let facts = SessionFacts {
            command: vec!["srv".into()],
            pid: Some(42),
            ..Default::default()
        };
        Harness {
            c: Classifier::new(ClassifyConfig::default(), facts, clock),
            t0,
            n: 0,
            events: Vec::new(),
        }
    }

    pub(super) fn feed(&mut self, dir: Direction, line: &str) -> Vec<Event> {
        self.feed_bytes(dir, line.as_bytes())
    }

    pub(super) fn feed_bytes(&mut self, dir: Direction, line: &[u8]) -> Vec<Event> {
        self.n += 1;
        let frame = Frame {
            direction: dir,
            at: self.t0 + Duration::from_millis(self.n * 10),
            bytes: Bytes::copy_from_slice(line),
            len: line.len(),
            sha256: None,
            terminated: true,
            after_gap: false,
        };
        let mut out = Vec::new();
        self.c.observe(&frame, &mut out);
        self.events.extend(out.iter().cloned());
        out
    }

    pub(super) fn c2s(&mut self, line: &str) -> Vec<Event> {
        self.feed(Direction::ClientToServer, line)
    }

    pub(super) fn s2c(&mut self, line: &str) -> Vec<Event> {
        self.feed(Direction::ServerToClient, line)
    }

    pub(super) fn end(&mut self, exit: ChildExit) -> Vec<Event> {
        let mut out = Vec::new();
        let end = SessionEnd {
            at: self.t0 + Duration::from_secs(5),
            exit,
            reason: "client_eof".into(),
        };
        self.c.end(&end, &mut out);
        self.events.extend(out.iter().cloned());
        out
    }
}

pub(super) fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

#[test]
fn handshake_era_with_discover_fallback() {
    let mut h = Harness::new();
    h.c2s(r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"mcp","version":"0.1.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#);
    assert!(h
        .s2c(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#)
        .is_empty());
    h.c2s(r#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp","version":"0.1.0"}}}"#);
    let start = h.s2c(r#"{"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"mcp-servers/everything","version":"2.0.0"}},"jsonrpc":"2.0","id":2}"#);
    assert_eq!(types(&start), ["session_start"]);
    let d = &start[0].details;
    assert_eq!(d["era"], "handshake");
    assert_eq!(d["protocol_version"], "2025-11-25");
    assert_eq!(d["client"]["name"], "mcp");
    assert_eq!(d["server_info"]["name"], "mcp-servers/everything");
    assert_eq!(d["discover_probe"], "legacy_fallback");
    assert_eq!(d["pid"], 42);
}

#[test]
fn stateless_era_from_discover() {
    let mut h = Harness::new();
    h.c2s(r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"mcp","version":"0.1.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#);
    let start = h.s2c(r#"{"jsonrpc":"2.0","id":1,"result":{"capabilities":{"tools":{}},"resultType":"complete","supportedVersions":["2026-07-28"],"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"mcp-time","version":"2026.10.19"}}}}"#);
    assert_eq!(types(&start), ["session_start"]);
    let d = &start[0].details;
    assert_eq!(d["era"], "stateless");
    assert_eq!(d["protocol_version"], "2026-07-28");
    assert_eq!(d["client"]["name"], "mcp");
    assert_eq!(d["server_info"]["name"], "mcp-time");
}

#[test]
fn tool_call_result_error_and_links() {
    let mut h = Harness::new();
    let call = h.c2s(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}"#);
    assert_eq!(types(&call), ["session_start", "tool_call"]);
    let call = &call[1];
    assert_eq!(call.tool.as_deref(), Some("echo"));
    assert_eq!(call.outcome, Outcome::Pending);
    assert_eq!(call.arguments.as_ref().unwrap()["message"], "hi");
    let res = h.s2c(
        r#"{"result":{"content":[{"type":"text","text":"Echo: hi"}]},"jsonrpc":"2.0","id":4}"#,
    );
    assert_eq!(types(&res), ["tool_result"]);
    assert_eq!(res[0].call_event_id, call.event_id);
    assert_eq!(res[0].duration_ms, Some(10.0));
    assert_eq!(res[0].jsonrpc_id, Some(4.into()));

    h.c2s(r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get-sum","arguments":{"a":1,"b":"x"}}}"#);
    let err = h.s2c(r#"{"result":{"content":[{"type":"text","text":"bad"}],"isError":true},"jsonrpc":"2.0","id":5}"#);
    assert_eq!(types(&err), ["tool_error"]);
    assert_eq!(err[0].outcome, Outcome::Failure);

    h.c2s(r#"{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"boom"}}"#);
    let rpc = h.s2c(
        r#"{"jsonrpc":"2.0","id":"x","error":{"code":-32602,"message":"Tool boom not found"}}"#,
    );
    assert_eq!(types(&rpc), ["rpc_error"]);
    assert_eq!(rpc[0].error.as_ref().unwrap().code, -32602);
    assert_eq!(rpc[0].tool.as_deref(), Some("boom"));
}

#[test]
fn string_and_number_ids_are_different_calls() {
    let mut h = Harness::new();
    h.c2s(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}"#);
    h.c2s(r#"{"jsonrpc":"2.0","id":"1","method":"tools/call","params":{"name":"b"}}"#);
    let r = h.s2c(r#"{"jsonrpc":"2.0","id":"1","result":{"content":[]}}"#);
    assert_eq!(r[0].tool.as_deref(), Some("b"));
    let r = h.s2c(r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#);
    assert_eq!(r[0].tool.as_deref(), Some("a"));
}

#[test]
fn malformed_frames_are_violations_and_unknown_ids_too() {
    let mut h = Harness::new();
    let v = h.c2s("this is not json");
    assert_eq!(types(&v), ["session_start", "protocol_violation"]);
    let v = &v[1..];
    assert_eq!(v[0].details["reason"], "not_json");
    assert_eq!(v[0].excerpt.as_deref(), Some("this is not json"));
    let v = h.s2c(r#"{"jsonrpc":"2.0","id":99,"result":{}}"#);
    assert_eq!(v[0].details["reason"], "response_to_unknown_id");
}

#[test]
fn batches_are_classified_element_by_element() {
    let mut h = Harness::new();
    let out = h.c2s(r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"b"}}, 7]"#);
    assert_eq!(
        types(&out),
        [
            "session_start",
            "tool_call",
            "tool_call",
            "protocol_violation"
        ]
    );
}

#[test]
fn unanswered_calls_are_abandoned_at_end() {
    let mut h = Harness::new();
    h.c2s(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}"#);
    let out = h.end(ChildExit::Signal(9));
    assert_eq!(types(&out), ["tool_abandoned", "session_end"]);
    assert_eq!(out[1].details["exit_status"], 137);
    assert_eq!(out[1].details["counts"]["tool_calls"], 1);
    assert_eq!(out[1].outcome, Outcome::Failure);
}

/// `session_end.duration_ms` runs from the session's start, even when the
/// classifier is built later (a server that exited at once ended before).
#[test]
fn session_duration_counts_from_the_session_start() {
    let t0 = Instant::now();
    let began = t0.checked_sub(Duration::from_secs(2)).unwrap_or(t0);
    let clock = SessionClock::anchored(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        began,
    );
    let mut c = Classifier::new(ClassifyConfig::default(), SessionFacts::default(), clock);
    let mut out = Vec::new();
    let end = SessionEnd {
        at: t0,
        exit: ChildExit::Code(127),
        reason: "server_exit".into(),
    };
    c.end(&end, &mut out);
    let e = out.last().unwrap();
    assert_eq!(e.event_type, EventType::SessionEnd);
    let expected = t0.duration_since(began).as_micros() as f64 / 1000.0;
    assert_eq!(e.duration_ms, Some(expected));
}
