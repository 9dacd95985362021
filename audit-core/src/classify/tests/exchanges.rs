//! Every other method, both directions: frames captured from
//! server-everything driven by the Python SDK 2.3 client (handshake era),
//! and stateless-era frames shaped like the SDK's.

use super::{types, Harness};
use crate::event::{Direction, Outcome, Severity};
use crate::handoff::ChildExit;

#[test]
fn server_requests_during_a_call_have_durations_and_name_the_calls_in_flight() {
    let mut h = Harness::new();
    let call = h.c2s(r#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"trigger-sampling-request","arguments":{"prompt":"hello","maxTokens":10}}}"#);
    let call_id = call.last().unwrap().event_id.clone().unwrap();
    assert!(h.s2c(r#"{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"Resource trigger-sampling-request context: hello"}}],"systemPrompt":"You are a helpful test server.","maxTokens":10,"temperature":0.7},"jsonrpc":"2.0","id":2}"#).is_empty());
    let s = h.c2s(r#"{"jsonrpc":"2.0","id":2,"result":{"role":"assistant","content":{"type":"text","text":"sampled reply"},"model":"fake-model","stopReason":"endTurn"}}"#);
    assert_eq!(types(&s), ["sampling_request"]);
    let s = &s[0];
    assert_eq!(s.direction, Some(Direction::ClientToServer));
    assert_eq!(s.method.as_deref(), Some("sampling/createMessage"));
    assert_eq!(s.duration_ms, Some(10.0));
    assert_eq!(s.details["in_flight_calls"], serde_json::json!([call_id]));
    assert_eq!(
        s.arguments.as_ref().unwrap()["systemPrompt"],
        "You are a helpful test server."
    );
    assert_eq!(s.result.as_ref().unwrap()["model"], "fake-model");
    assert_eq!(s.details["content_types"], serde_json::json!(["text"]));

    h.s2c(r#"{"method":"elicitation/create","params":{"message":"Please provide inputs","requestedSchema":{"type":"object"}},"jsonrpc":"2.0","id":1}"#);
    let e = h
        .c2s(r#"{"jsonrpc":"2.0","id":1,"result":{"action":"accept","content":{"color":"blue"}}}"#);
    assert_eq!(types(&e), ["elicitation_request"]);
    h.s2c(r#"{"method":"roots/list","jsonrpc":"2.0","id":0}"#);
    let r = h
        .c2s(r#"{"jsonrpc":"2.0","id":0,"result":{"roots":[{"uri":"file:///tmp/x","name":"x"}]}}"#);
    assert_eq!(types(&r), ["roots_list"]);
    // The server's id 1 and the client's id 1 live in different tables.
    h.c2s(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#);
    h.s2c(r#"{"method":"elicitation/create","params":{"message":"?"},"jsonrpc":"2.0","id":1}"#);
    let e = h.c2s(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"User rejected"}}"#);
    assert_eq!(types(&e), ["elicitation_request"]);
    assert_eq!(e[0].outcome, Outcome::Failure);
    assert_eq!(e[0].error.as_ref().unwrap().message, "User rejected");
    assert_eq!(
        types(&h.s2c(r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#)),
        ["tool_result"]
    );
}

#[test]
fn resources_prompts_and_logging() {
    let mut h = Harness::new();
    h.c2s(r#"{"jsonrpc":"2.0","id":18,"method":"resources/read","params":{"uri":"demo://resource/static/document/architecture.md"}}"#);
    let r = h.s2c(r#"{"result":{"contents":[{"uri":"demo://resource/static/document/architecture.md","mimeType":"text/markdown","text":"Everything"}]},"jsonrpc":"2.0","id":18}"#);
    let r = r.last().unwrap();
    assert_eq!(r.event_type.as_str(), "resource_read");
    assert_eq!(
        r.details["uri"],
        "demo://resource/static/document/architecture.md"
    );
    assert_eq!(r.details["content_types"], serde_json::json!(["text"]));
    h.c2s(r#"{"jsonrpc":"2.0","id":21,"method":"prompts/get","params":{"name":"simple-prompt"}}"#);
    let p = h.s2c(r#"{"result":{"messages":[{"role":"user","content":{"type":"text","text":"This is a simple prompt."}}]},"jsonrpc":"2.0","id":21}"#);
    assert_eq!(types(&p), ["prompt_get"]);
    assert_eq!(p[0].details["name"], "simple-prompt");

    assert!(h.s2c(r#"{"method":"notifications/message","params":{"level":"info","logger":"everything-server","data":"Roots updated"},"jsonrpc":"2.0"}"#).is_empty());
    let w = h.s2c(r#"{"method":"notifications/message","params":{"level":"error","logger":"db","data":{"msg":"disk full"}},"jsonrpc":"2.0"}"#);
    assert_eq!(types(&w), ["server_log"]);
    assert_eq!(w[0].severity, Severity::Error);
    assert_eq!(w[0].details["logger"], "db");
    assert_eq!(w[0].excerpt.as_deref(), Some(r#"{"msg":"disk full"}"#));

    let set =
        h.c2s(r#"{"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"debug"}}"#);
    assert!(set.is_empty(), "written when answered");
    let set = h.s2c(r#"{"result":{},"jsonrpc":"2.0","id":4}"#);
    assert_eq!(types(&set), ["rpc_request"]);
    assert_eq!(set[0].arguments.as_ref().unwrap()["level"], "debug");
}

#[test]
fn housekeeping_is_counted_not_recorded() {
    let mut h = Harness::new();
    for (c, s) in [
        (
            r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
            r#"{"result":{},"jsonrpc":"2.0","id":5}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","id":17,"method":"resources/list"}"#,
            r#"{"result":{"resources":[]},"jsonrpc":"2.0","id":17}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","id":22,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"city","value":"Ne"}}}"#,
            r#"{"result":{"completion":{"values":[],"hasMore":false}},"jsonrpc":"2.0","id":22}"#,
        ),
    ] {
        assert!(h.c2s(c).is_empty());
        assert!(h.s2c(s).is_empty());
    }
    assert!(h
        .c2s(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .is_empty());
    let lc = h.s2c(r#"{"method":"notifications/tools/list_changed","jsonrpc":"2.0"}"#);
    assert_eq!(types(&lc), ["session_start", "notification"]);
    // An error answer to a counted method is still an event.
    h.c2s(r#"{"jsonrpc":"2.0","id":6,"method":"ping"}"#);
    let e = h.s2c(r#"{"jsonrpc":"2.0","id":6,"error":{"code":-32603,"message":"x"}}"#);
    assert_eq!(types(&e), ["rpc_error"]);
    assert_eq!(e[0].method.as_deref(), Some("ping"));
    assert_eq!(e[0].severity, Severity::Warning);
    // "Method not found" for an optional listing is routine; elsewhere not.
    for (id, method, severity) in [
        (7, "resources/list", Severity::Info),
        (8, "prompts/list", Severity::Info),
        (9, "tools/list", Severity::Warning),
    ] {
        h.c2s(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}"}}"#
        ));
        let e = h.s2c(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"Method not found"}}}}"#
        ));
        assert_eq!(types(&e), ["rpc_error"], "{method}");
        assert_eq!(e[0].severity, severity, "{method}");
    }
    let end = h.end(ChildExit::Code(0));
    let m = &end[0].details["counts"]["methods"];
    assert_eq!(m["ping"], 2);
    assert_eq!(m["notifications/initialized"], 1);
}

#[test]
fn stateless_client_changing_its_info_is_a_session_update() {
    let mut h = Harness::new();
    let meta = |name: &str| {
        format!(
            r#""_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{{"name":"{name}","version":"1"}},"io.modelcontextprotocol/clientCapabilities":{{}}}}"#
        )
    };
    h.c2s(&format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"t",{}}}}}"#,
        meta("a")
    ));
    let same = h.c2s(&format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"t",{}}}}}"#,
        meta("a")
    ));
    assert_eq!(types(&same), ["tool_call"]);
    let other = h.c2s(&format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"t",{}}}}}"#,
        meta("b")
    ));
    assert_eq!(types(&other), ["session_updated", "tool_call"]);
    assert_eq!(other[0].details["changed"], serde_json::json!(["client"]));
    assert_eq!(other[0].details["client"]["name"], "b");
    assert_eq!(other[0].details["era"], "stateless");
}

#[test]
fn batches_mix_requests_notifications_and_answers() {
    let mut h = Harness::new();
    h.c2s(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}"#);
    let out = h.s2c(r#"[{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}},{"jsonrpc":"2.0","id":1,"result":{"content":[]}},{"jsonrpc":"2.0","id":77,"result":{}},{"jsonrpc":"2.0","method":"roots/list","id":"r"}]"#);
    assert_eq!(types(&out), ["tool_result", "protocol_violation"]);
    assert_eq!(out[1].details["reason"], "response_to_unknown_id");
    let abandoned = h.end(ChildExit::Code(0));
    assert_eq!(types(&abandoned), ["roots_list", "session_end"]);
    assert_eq!(abandoned[0].details["status"], "abandoned");
    assert_eq!(abandoned[0].direction, Some(Direction::ServerToClient));
    assert_eq!(abandoned[1].details["counts"]["batches"], 1);
}

/// A server line of `len` bytes over the parse limit: its `prefix` and hash.
fn oversized_answer(
    at: std::time::Instant,
    prefix: &'static [u8],
    len: usize,
    sha256: [u8; 32],
) -> crate::frame::Frame {
    crate::frame::Frame {
        direction: Direction::ServerToClient,
        at,
        bytes: bytes::Bytes::from_static(prefix),
        len,
        sha256: Some(sha256),
        terminated: true,
        after_gap: false,
    }
}

#[test]
fn oversized_frames_are_violations_with_their_true_length_and_hash() {
    let mut h = Harness::new();
    let mut frame = oversized_answer(
        h.t0,
        br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"xxxx"#,
        20_000_000,
        [0xab; 32],
    );
    let mut out = Vec::new();
    h.c.observe(&frame, &mut out);
    // No request 1 is pending: nothing to complete.
    assert_eq!(types(&out), ["session_start", "protocol_violation"]);
    assert_eq!(out[1].details["reason"], "frame_over_parse_limit");
    assert_eq!(out[1].details["frame_bytes"], 20_000_000);
    assert_eq!(out[1].details["frame_sha256"], "ab".repeat(32));
    frame.sha256 = None;
    frame.bytes = bytes::Bytes::from_static(b"\"half a line");
    frame.after_gap = true;
    out.clear();
    h.c.observe(&frame, &mut out);
    assert_eq!(out[0].details["after_gap"], true);
}

#[test]
fn an_oversized_answer_completes_its_call_by_size_and_hash() {
    let mut h = Harness::new();
    let call = h.c2s(r#"{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"read_file","arguments":{"path":"/x"}}}"#);
    let frame = oversized_answer(
        h.t0 + std::time::Duration::from_millis(5),
        br#"{"jsonrpc":"2.0","id":"big","result":{"content":[{"type":"text","text":"xxxx"#,
        20_000_000,
        [0x01; 32],
    );
    let mut out = Vec::new();
    h.c.observe(&frame, &mut out);
    assert_eq!(types(&out), ["tool_result"]);
    let e = &out[0];
    assert_eq!(e.tool.as_deref(), Some("read_file"));
    assert_eq!(
        e.call_event_id,
        call.last().and_then(|c| c.event_id.clone())
    );
    assert!(e.call_event_id.is_some());
    assert_eq!(e.details["frame_bytes"], 20_000_000);
    assert_eq!(e.details["frame_sha256"], "01".repeat(32));
    assert_eq!(e.details["result_omitted"], "over_record_limit");
    // It is answered: the end of the session abandons nothing.
    assert!(!types(&h.end(ChildExit::Code(0))).contains(&"tool_abandoned"));
}

#[test]
fn an_oversized_answer_after_cancellation_adds_nothing() {
    let mut h = Harness::new();
    h.c2s(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"read_file"}}"#);
    let cancelled =
        h.c2s(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}"#);
    assert!(types(&cancelled).contains(&"tool_cancelled"));
    let frame = oversized_answer(
        h.t0,
        br#"{"jsonrpc":"2.0","id":4,"result":{"content":[{"#,
        5_000_000,
        [0; 32],
    );
    let mut out = Vec::new();
    h.c.observe(&frame, &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn an_oversized_error_answer_is_a_failure_not_a_result() {
    let mut h = Harness::new();
    h.c2s(r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"read_file"}}"#);
    let frame = oversized_answer(
        h.t0,
        br#"{"jsonrpc":"2.0","id":5,"error":{"code":-32000,"message":"xxxx"#,
        18_000_000,
        [2; 32],
    );
    let mut out = Vec::new();
    h.c.observe(&frame, &mut out);
    assert_eq!(types(&out), ["rpc_error"]);
    assert_eq!(out[0].outcome, Outcome::Failure);
    assert_eq!(out[0].details["frame_sha256"], "02".repeat(32));
}
