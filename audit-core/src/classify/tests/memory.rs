//! The memory bound: what a request in flight keeps, and payloads over the
//! frame's parse budget recorded by size and SHA-256.

use super::Harness;
use crate::classify::budget::{FRAME_PARSE_BUDGET, PENDING_KEPT_BYTES};
use crate::classify::KEPT_PARAMS_BYTES;
use crate::event::{EventType, MAX_ID_BYTES};
use crate::handoff::ChildExit;

/// `[0,0,…]` of about `bytes` bytes of text.
fn zeros(bytes: usize) -> String {
    format!("[{}0]", "0,".repeat(bytes / 2))
}

#[test]
fn requests_in_flight_keep_params_text_up_to_the_table_budget() {
    let mut h = Harness::new();
    let params = zeros(KEPT_PARAMS_BYTES - 64);
    let n = 2 * PENDING_KEPT_BYTES / params.len();
    for id in 0..n {
        h.c2s(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"x/unknown","params":{params}}}"#
        ));
    }
    let ended = h.end(ChildExit::Code(0));
    let abandoned: Vec<_> = ended
        .iter()
        .filter(|e| e.event_type == EventType::RpcRequest)
        .collect();
    assert_eq!(abandoned.len(), n);
    let reason = |e: &&&crate::event::Event| e.details.get("arguments_omitted").cloned();
    let over_table = abandoned
        .iter()
        .filter(|e| reason(e).is_some_and(|r| r == "over_pending_budget"))
        .count();
    assert_eq!(over_table, n - PENDING_KEPT_BYTES / params.len());
    // The kept ones are parsed within the budget of the frame that ends
    // them (here the session's end): the first few whole, the rest by digest.
    let parsed = abandoned.iter().filter(|e| e.arguments.is_some()).count();
    assert!(parsed >= 1);
    let digest = crate::stamp::sha256_hex(params.as_bytes());
    for e in abandoned.iter().filter(|e| e.arguments.is_none()) {
        assert_eq!(e.details["arguments_sha256"], digest.as_str());
    }
}

#[test]
fn arguments_over_the_parse_budget_are_recorded_by_digest() {
    let mut h = Harness::new();
    let args = zeros(FRAME_PARSE_BUDGET / 16);
    let call = h.c2s(&format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"t","arguments":{args}}}}}"#
    ));
    let e = call.last().unwrap();
    assert_eq!(e.event_type, EventType::ToolCall);
    assert!(e.arguments.is_none());
    assert_eq!(e.details["arguments_omitted"], "over_parse_budget");
    let digest = e.pending_digest.as_ref().expect("a digest to compute");
    assert_eq!(digest.field, "arguments_sha256");
    assert_eq!(&digest.of[..], args.as_bytes());
    // A result of the same shape, in its own frame.
    let res = h.s2c(&format!(r#"{{"jsonrpc":"2.0","id":1,"result":{args}}}"#));
    assert_eq!(res[0].details["result_omitted"], "over_parse_budget");
    assert!(res[0].result.is_none());
}

#[test]
fn long_ids_are_kept_and_recorded_by_digest_and_still_correlate() {
    let mut h = Harness::new();
    let id = format!("\"{}\"", "i".repeat(4 * MAX_ID_BYTES));
    h.c2s(&format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"t"}}}}"#
    ));
    let res = h.s2c(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#));
    assert_eq!(res[0].event_type, EventType::ToolResult);
    assert!(res[0].jsonrpc_id.is_none());
    let digest = crate::stamp::sha256_hex(id.as_bytes());
    assert_eq!(res[0].details["jsonrpc_id_sha256"], digest.as_str());
}
