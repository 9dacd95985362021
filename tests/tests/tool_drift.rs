//! A server whose tool catalog drifts
//! between two listings (the "rug pull") leaves `tool_changed` events, and a
//! JSON-RPC batch is relayed byte for byte and classified element by element.
//!
//! A line client speaks raw JSON-RPC to the proxy in front of
//! `fake_server mcp`: `--drift` changes `echo`'s description and adds `upload`
//! from the second `tools/list` on; `--batches` answers a JSON array with an
//! array; `--record` keeps every line the server read, as it read it.

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;

use blackbox_tests::audit::{check_call_links, check_sessions, kind, of_type, only, AuditDir};
use blackbox_tests::client::{initialize, proxy_command, request, LineClient};
use serde_json::{json, Value};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");

/// Starts the proxy in front of `fake_server mcp FLAGS...` and initializes.
fn start(audit: &AuditDir, name: &str, flags: &[&str]) -> LineClient {
    let mut server = vec![FAKE_SERVER, "mcp"];
    server.extend_from_slice(flags);
    let mut proxy =
        LineClient::spawn(proxy_command(audit.path(), name, &[], &server).stderr(Stdio::inherit()));
    proxy.send(&initialize(0, name));
    assert_eq!(proxy.recv()["id"], 0);
    proxy
}

/// Closes the client side, waits for the proxy and returns the trail.
fn finish(mut proxy: LineClient, audit: &AuditDir) -> Vec<Value> {
    proxy.close_stdin();
    assert!(proxy.wait().success());
    let events = audit.events();
    check_sessions(&events);
    events
}

fn list_tools(proxy: &mut LineClient, id: u64) -> Vec<String> {
    proxy.send(&request(id, "tools/list", json!({})));
    let reply = proxy.recv();
    assert_eq!(reply["id"], id);
    let tools = reply["result"]["tools"].as_array().expect("tools");
    tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_changed_tool_description_is_a_critical_tool_changed() {
    let audit = AuditDir::new();
    let mut proxy = start(&audit, "drift", &["--drift"]);
    assert_eq!(list_tools(&mut proxy, 1), ["echo", "fail"]);
    assert_eq!(list_tools(&mut proxy, 2), ["echo", "fail", "upload"]);
    assert_eq!(list_tools(&mut proxy, 3), ["echo", "fail", "upload"]);
    let events = finish(proxy, &audit);

    let listed = of_type(&events, "tools_listed");
    let summary: Vec<(Value, Value, Value)> = listed
        .iter()
        .map(|e| {
            let d = &e["details"];
            (
                e["jsonrpc_id"].clone(),
                d["first_listing"].clone(),
                d["changes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!(1), json!(true), json!(0)),
            (json!(2), json!(false), json!(2)),
            (json!(3), json!(false), json!(0)),
        ]
    );
    let (before, after) = (&listed[0]["details"], &listed[1]["details"]);
    let hash = |d: &Value, tool: &str| d["definition_hashes"][tool].clone();
    assert_ne!(hash(before, "echo"), hash(after, "echo"));
    assert_eq!(hash(before, "fail"), hash(after, "fail"));

    let changed = of_type(&events, "tool_changed");
    assert_eq!(changed.len(), 2, "{changed:#?}");
    let echo = changed
        .iter()
        .find(|e| e["tool"] == "echo")
        .expect("echo changed");
    assert_eq!(echo["severity"], "critical", "{echo}");
    assert_eq!(echo["details"]["change"], "modified", "{echo}");
    assert_eq!(
        echo["details"]["changed_fields"],
        json!(["description"]),
        "{echo}"
    );
    assert_eq!(echo["details"]["old_hash"], hash(before, "echo"), "{echo}");
    assert_eq!(echo["details"]["new_hash"], hash(after, "echo"), "{echo}");
    let upload = changed
        .iter()
        .find(|e| e["tool"] == "upload")
        .expect("upload added");
    assert_eq!(upload["severity"], "warning", "{upload}");
    assert_eq!(upload["details"]["change"], "added", "{upload}");
    assert_eq!(
        upload["details"]["new_hash"],
        hash(after, "upload"),
        "{upload}"
    );
    assert!(upload["details"].get("old_hash").is_none(), "{upload}");
    for e in &changed {
        // Written with the second listing, linked to its request.
        assert_eq!(e["jsonrpc_id"], 2, "{e}");
        assert_eq!(e["call_event_id"], listed[1]["call_event_id"], "{e}");
        assert_eq!(e["method"], "tools/list", "{e}");
        assert_eq!(e["direction"], "server_to_client", "{e}");
        assert!(e["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
        assert!(e["risk_level"].is_string(), "{e}");
        assert!(e["seq"].as_u64() > listed[1]["seq"].as_u64(), "{e}");
        assert!(e["seq"].as_u64() < listed[2]["seq"].as_u64(), "{e}");
    }
    let end = only(&events, "session_end");
    assert_eq!(
        end["details"]["counts"]["methods"]["tools/list"], 3,
        "{end}"
    );
}

/// A batch with odd whitespace: two tool calls (one failing), a ping, a
/// notification, and an element that is not JSON-RPC.
const BATCH: &str = concat!(
    "[ {\"jsonrpc\":\"2.0\",\"id\":\"b-1\",\"method\":\"tools/call\",",
    "\"params\":{\"name\":\"echo\",\"arguments\":{\"word\":\"ünïcode\"}}} ,\t",
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"fail\"}},",
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/roots/list_changed\"},",
    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}, 42 ]\n",
);

fn recorded_lines(record: &Path) -> Vec<u8> {
    std::fs::read(record).expect("reading the server's record")
}

#[test]
fn a_batch_is_relayed_byte_exact_and_classified_element_by_element() {
    let audit = AuditDir::new();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("server-read.jsonl");
    let record_arg = record.to_str().unwrap();
    let mut proxy = start(&audit, "batch", &["--batches", "--record", record_arg]);
    proxy.send_raw(BATCH.as_bytes());
    let mut line = String::new();
    proxy
        .stdout()
        .read_line(&mut line)
        .expect("reading the batch reply");
    let replies: Value = serde_json::from_str(&line).expect("the batch reply is JSON");
    // The server writes compact serde_json: its bytes came through unchanged.
    assert_eq!(line, format!("{replies}\n"));
    let ids: Vec<&Value> = replies
        .as_array()
        .expect("a batch reply")
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&json!("b-1"), &json!(7), &json!(8)]);
    // The server answered, so it has recorded the batch line.
    let read = recorded_lines(&record);
    let batch_line = read
        .split_inclusive(|&b| b == b'\n')
        .nth(1)
        .expect("the batch line");
    assert_eq!(batch_line, BATCH.as_bytes(), "the server read other bytes");
    let events = finish(proxy, &audit);

    let calls = of_type(&events, "tool_call");
    let tools: Vec<(&Value, &Value)> = calls
        .iter()
        .map(|c| (&c["jsonrpc_id"], &c["tool"]))
        .collect();
    assert_eq!(
        tools,
        [(&json!("b-1"), &json!("echo")), (&json!(7), &json!("fail"))]
    );
    assert_eq!(calls[0]["arguments"], json!({"word": "ünïcode"}));
    let violation = only(&events, "protocol_violation");
    assert_eq!(violation["details"]["reason"], "not_jsonrpc", "{violation}");
    assert_eq!(violation["excerpt"], "42", "{violation}");
    assert_eq!(violation["direction"], "client_to_server", "{violation}");
    let note = only(&events, "notification");
    assert_eq!(note["method"], "notifications/roots/list_changed", "{note}");

    // The server's batch answer is classified element by element too.
    let result = only(&events, "tool_result");
    assert_eq!(result["call_event_id"], calls[0]["event_id"], "{result}");
    let error = only(&events, "tool_error");
    assert_eq!(error["call_event_id"], calls[1]["event_id"], "{error}");
    assert_eq!(check_call_links(&events), 2);
    let order: Vec<&str> = events
        .iter()
        .map(kind)
        .filter(|k| *k != "session_start")
        .collect();
    assert_eq!(
        order,
        [
            "tool_call",
            "tool_call",
            "notification",
            "protocol_violation",
            "tool_result",
            "tool_error",
            "session_end"
        ]
    );
    let c = &only(&events, "session_end")["details"]["counts"];
    assert_eq!(c["batches"], 2, "{c}");
    assert_eq!(c["methods"]["ping"], 1, "{c}");
    assert_eq!(c["requests"], 4, "initialize, two calls, ping: {c}");
    assert_eq!(c["responses"], 4, "{c}");
    assert_eq!(c["protocol_violations"], 1, "{c}");
}
