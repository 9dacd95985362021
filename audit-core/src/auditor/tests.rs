//! The auditor driven message by message.

use super::*;
use crate::stamp::sha256_hex;
use bytes::Bytes;
use serde_json::Value;

fn events_of(batch: &[u8]) -> Vec<Value> {
    batch
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// The TypeScript SDK writes `result` before `id`: a large answer must be
/// read whole to be matched, so the server's lines are kept whole up to
/// the parse limit, not only up to the record limit.
#[test]
fn a_large_result_written_before_its_id_completes_its_call() {
    let identity = SessionIdentity {
        session_id: "s".into(),
        server: "ts".into(),
        user: "u".into(),
    };
    let mut auditor = Auditor::new(AuditorConfig::new(identity, SessionFacts::default()));
    let t = Instant::now();
    let call = br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"read_file"}}"#;
    let mut c2s = call.to_vec();
    c2s.push(b'\n');
    let result = format!(
        r#"{{"content":[{{"type":"text","text":"{}"}}]}}"#,
        "x".repeat(3 << 20)
    );
    let line = format!(r#"{{"result":{result},"jsonrpc":"2.0","id":9}}"#);
    let chunk = |direction, bytes: Vec<u8>| AuditMsg::Chunk {
        direction,
        at: t,
        bytes: Bytes::from(bytes),
        lost_before: None,
    };
    auditor.handle(chunk(Direction::ClientToServer, c2s));
    // The answer arrives in pipe-sized pieces, its newline last.
    let mut s2c = line.clone().into_bytes();
    s2c.push(b'\n');
    for piece in s2c.chunks(64 * 1024) {
        auditor.handle(chunk(Direction::ServerToClient, piece.to_vec()));
    }
    let events = events_of(&auditor.take_batch());
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["session_start", "tool_call", "tool_result"]);
    let r = &events[2];
    assert_eq!(r["details"]["result_sha256"], sha256_hex(result.as_bytes()));
    assert_eq!(r["details"]["result_omitted"], "over_record_limit");
    assert_eq!(r["call_event_id"], events[1]["event_id"]);
}
