//! The gate refuses what it cannot judge, and judges arguments as servers
//! read them.

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::pin::ServerPins;
use crate::policy::tests::rules;
use crate::policy::{Policy, PolicyOptions};

const RULES: &str = "[[rules]]\nname = \"no-danger\"\ntool = \"danger\"\naction = \"deny\"\n\
    [[rules]]\nname = \"no-etc\"\ntool = \"write\"\naction = \"deny\"\n[rules.arguments]\n\"/a/b/path\" = \"^/etc\"\n";

fn gate(options: PolicyOptions, pins: Option<ServerPins>) -> Gate {
    let policy = Policy::new(rules(RULES), options, pins).unwrap();
    Gate::new(Arc::new(policy), "marker")
}

/// The replies of a refusal (one JSON value per line) and its rule.
fn refusal(v: Verdict) -> (Vec<Value>, String) {
    let Verdict::Refuse { reply, rule } = v else {
        panic!("expected a refusal, got {v:?}")
    };
    let lines = reply
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    (lines, rule)
}

#[test]
fn unjudgeable_frames_are_refused_with_an_error_per_readable_id() {
    let g = gate(PolicyOptions::default(), None);
    let split = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r{\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"danger\"}}";
    let (replies, rule) = refusal(g.check_request(split));
    assert_eq!(rule, "unjudgeable_frame:line_separator");
    let ids: Vec<&Value> = replies.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2)]);
    assert_eq!(replies[0]["error"]["code"], POLICY_ERROR_CODE);
    assert_eq!(
        replies[0]["error"]["data"],
        json!({"rule": "unjudgeable_frame:line_separator"})
    );

    let nan = br#"{"id":"n","method":"tools/call","params":{"name":"echo","arguments":{"x":NaN}}}"#;
    let (replies, rule) = refusal(g.check_request(nan));
    assert_eq!(rule, "unjudgeable_frame:not_strict_json");
    assert_eq!(replies[0]["id"], "n");

    let utf8 =
        b"{\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"x\":\"\xff\"}}";
    assert_eq!(
        refusal(g.check_request(utf8)).1,
        "unjudgeable_frame:invalid_utf8"
    );
    // No id that can be read: refused without an answer.
    let (replies, _) = refusal(g.check_request(b"[{\"method\":\"tools/call\",\"id\":NaN}]"));
    assert!(replies.is_empty());
    // A CRLF line end is an ordinary line end.
    let crlf = b"{\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}\r";
    assert_eq!(g.check_request(crlf), Verdict::Forward);
}

#[test]
fn malformed_calls_are_refused() {
    let g = gate(PolicyOptions::default(), None);
    for params in [
        r#""danger""#,
        r#"{"name":7}"#,
        r#"{"arguments":{}}"#,
        "null",
    ] {
        let frame = format!(r#"{{"id":5,"method":"tools/call","params":{params}}}"#);
        let (replies, rule) = refusal(g.check_request(frame.as_bytes()));
        assert_eq!(rule, "unjudgeable_frame:malformed_call", "{params}");
        assert_eq!(replies[0]["id"], 5);
    }
    let no_params = br#"{"id":6,"method":"tools/call"}"#;
    assert_eq!(
        refusal(g.check_request(no_params)).1,
        "unjudgeable_frame:malformed_call"
    );
}

#[test]
fn argument_rules_see_every_depth_and_the_last_duplicate() {
    let g = gate(PolicyOptions::default(), None);
    let call = |args: &str| {
        format!(
            r#"{{"id":7,"method":"tools/call","params":{{"name":"write","arguments":{args}}}}}"#
        )
    };
    let deep = call(r#"{"a":{"b":{"path":"/etc/passwd"}}}"#);
    assert_eq!(refusal(g.check_request(deep.as_bytes())).1, "no-etc");
    let escaped = call(r#"{"a":{"b":{"p\u0061th":"\/etc\/passwd"}}}"#);
    assert_eq!(refusal(g.check_request(escaped.as_bytes())).1, "no-etc");
    let dup = call(r#"{"a":{"b":{"path":"/tmp","path":"/etc/x"}}}"#);
    assert_eq!(refusal(g.check_request(dup.as_bytes())).1, "no-etc");
    let allowed = call(r#"{"a":{"b":{"path":"/tmp/x"}}}"#);
    assert_eq!(g.check_request(allowed.as_bytes()), Verdict::Forward);
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // Message, params and arguments take three levels.
    let at_limit = call(&format!(r#"{{"x":{}}}"#, nested(strict::MAX_DEPTH - 3)));
    assert_eq!(g.check_request(at_limit.as_bytes()), Verdict::Forward);
    let too_deep = call(&format!(r#"{{"x":{}}}"#, nested(strict::MAX_DEPTH - 2)));
    assert_eq!(
        refusal(g.check_request(too_deep.as_bytes())).1,
        "unjudgeable_frame:too_deep"
    );
}

#[test]
fn oversized_requests_are_refused_naming_the_limit() {
    let g = gate(PolicyOptions::default(), None);
    let (replies, rule) =
        refusal(g.refuse_oversized(br#"{"jsonrpc":"2.0","id":8,"params":{"x":"aaaa"#, 1024));
    assert_eq!(rule, OVERSIZED_RULE);
    assert_eq!(replies[0]["id"], 8);
    let message = replies[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("parse limit of 1024 bytes"), "{message}");
    // In a dry run the line is only noted.
    let dry = gate(
        PolicyOptions {
            dry_run: true,
            ..PolicyOptions::default()
        },
        None,
    );
    assert_eq!(
        dry.refuse_oversized(b"{", 1),
        Verdict::DryRun {
            rule: OVERSIZED_RULE.into()
        }
    );
    assert_eq!(
        dry.check_request(b"{\"method\":\"tools/call\",\"x\":NaN}"),
        Verdict::DryRun {
            rule: "unjudgeable_frame:not_strict_json".into()
        }
    );
}

#[test]
fn an_unreadable_listing_unpins_every_tool_until_one_is_read() {
    let def = json!({"name": "echo", "inputSchema": {"type": "object"}});
    let pins = ServerPins::from_tools(std::slice::from_ref(&def), String::new(), vec![]).unwrap();
    let g = gate(PolicyOptions::default(), Some(pins));
    let call = br#"{"id":9,"method":"tools/call","params":{"name":"echo"}}"#;
    assert_eq!(g.check_request(call), Verdict::Forward);
    assert_eq!(
        g.check_request(br#"{"id":1,"method":"tools/list"}"#),
        Verdict::Forward
    );
    let nan = br#"{"id":1,"result":{"tools":[{"name":"echo","inputSchema":{"default":NaN}}]}}"#;
    assert_eq!(g.observe_response(nan), None);
    assert_eq!(refusal(g.check_request(call)).1, UNREADABLE_LIST_RULE);
    assert_eq!(g.stats().lists_unreadable.load(Ordering::Relaxed), 1);
    // A listing read strictly re-establishes the pins.
    let readable = serde_json::to_vec(&json!({"id": 1, "result": {"tools": [def]}})).unwrap();
    assert_eq!(g.observe_response(&readable), None);
    assert_eq!(g.check_request(call), Verdict::Forward);
    // An over-limit answer while a listing is awaited counts as unreadable;
    // strict JSON that is no listing (a batch answer) does not.
    assert_eq!(
        g.check_request(br#"{"id":2,"method":"tools/list"}"#),
        Verdict::Forward
    );
    assert_eq!(
        g.observe_response(br#"[{"id":5,"result":{"tools":[]}}]"#),
        None
    );
    assert_eq!(g.check_request(call), Verdict::Forward);
    g.observe_oversized_response();
    assert_eq!(refusal(g.check_request(call)).1, UNREADABLE_LIST_RULE);
}
