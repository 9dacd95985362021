//! Large answers through the real binary, relayed intact and recorded as
//! their call's `tool_result` by size and hash: a result over the record
//! limit (1 MiB) inside a line kept whole, by the SHA-256 of the result's
//! JSON text; a line over the parse limit (16 MiB), by the SHA-256 of the
//! line exactly as the client received it. Nothing is abandoned or dropped.
//! (All traffic here is ~20 MiB, under the hand-off's 24 MiB: however slowly
//! the auditor runs, nothing can be dropped, so the test needs no timing.)

use std::collections::HashMap;
use std::io::BufRead;

use audit_core::stamp::sha256_hex;
use blackbox_tests::audit::{of_type, only, AuditDir};
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use serde_json::json;
use serde_json::value::RawValue;

const BENCH_SERVER: &str = env!("CARGO_BIN_EXE_bench_server");

#[test]
fn large_results_are_recorded_by_size_and_hash_of_the_relayed_line() {
    let audit = AuditDir::new();
    let mut client = LineClient::spawn(&mut proxy_command(
        audit.path(),
        "bench",
        &[],
        &[BENCH_SERVER],
    ));
    client.send(&initialize(1, "large-results-test"));
    assert_eq!(client.recv()["id"], 1);
    let sizes = [3 << 20, (16 << 20) + 1000];
    let mut lines = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        client.send(&tool_call(10 + i, "blob", json!({"size": size})));
        let mut line = Vec::new();
        client.stdout().read_until(b'\n', &mut line).unwrap();
        assert_eq!(line.pop(), Some(b'\n'));
        let answer: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(answer["id"], 10 + i);
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert_eq!(text.len(), *size, "the result arrives whole");
        lines.push(line);
    }
    client.close_stdin();
    assert!(client.wait().success());

    let events = audit.events();
    let results = of_type(&events, "tool_result");
    assert_eq!(results.len(), 2, "{results:#?}");
    let calls = of_type(&events, "tool_call");
    for (result, call) in results.iter().zip(&calls) {
        assert_eq!(result["call_event_id"], call["event_id"]);
        assert_eq!(result["tool"], "blob");
        assert_eq!(result["details"]["result_omitted"], "over_record_limit");
        assert!(result.get("result").is_none());
    }
    // 3 MiB: parsed whole, the result value hashed.
    let members: HashMap<&str, &RawValue> = serde_json::from_slice(&lines[0]).unwrap();
    let value = members["result"].get(); // as received, not re-serialised
    assert_eq!(results[0]["details"]["result_bytes"], value.len());
    assert_eq!(
        results[0]["details"]["result_sha256"],
        sha256_hex(value.as_bytes())
    );
    // Over 16 MiB: streamed, the whole line hashed.
    assert_eq!(results[1]["details"]["frame_bytes"], lines[1].len());
    assert_eq!(results[1]["details"]["frame_sha256"], sha256_hex(&lines[1]));
    for absent in ["tool_abandoned", "protocol_violation", "audit_dropped"] {
        assert!(of_type(&events, absent).is_empty(), "{absent}: {events:#?}");
    }
    assert_eq!(
        only(&events, "session_end")["details"]["audit_lost_chunks"],
        0
    );
}
