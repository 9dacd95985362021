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

fn identity() -> SessionIdentity {
    SessionIdentity {
        session_id: "s".into(),
        server: "everything".into(),
        user: "u".into(),
        host: "host-1".into(),
    }
}

fn chunk(direction: Direction, line: &str) -> AuditMsg {
    AuditMsg::Chunk {
        direction,
        at: Instant::now(),
        bytes: Bytes::from(format!("{line}\n")),
        lost_before: None,
        slack: 0,
    }
}

/// A rule matching a call by its arguments classifies the call's answers too
/// (they carry no arguments to match); another call of the tool does not.
#[test]
fn an_answer_carries_its_calls_rule_annotation() {
    let rules = r#"
[[rules]]
name = "sum-big"
tool = "get-sum"
risk_level = "critical"
compliance_tags = ["pci_dss"]
[rules.arguments]
"/a" = "^[0-9]{3}$"
"#;
    let policy = crate::policy::tests::policy(rules, Default::default());
    let mut config = AuditorConfig::new(identity(), SessionFacts::default());
    config.policy = Some(Arc::new(policy));
    let mut auditor = Auditor::new(config);
    let call = |id: u32, a: u32| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"get-sum","arguments":{{"a":{a},"b":1}}}}}}"#
        )
    };
    auditor.handle(chunk(Direction::ClientToServer, &call(1, 100)));
    auditor.handle(chunk(Direction::ClientToServer, &call(2, 5)));
    let ok = r#"{"content":[{"type":"text","text":"6"}]}"#;
    let failed = r#"{"content":[{"type":"text","text":"bad"}],"isError":true}"#;
    for (id, result) in [(1, failed), (2, ok)] {
        let line = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#);
        auditor.handle(chunk(Direction::ServerToClient, &line));
    }
    let events = events_of(&auditor.take_batch());
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "session_start",
            "tool_call",
            "tool_call",
            "tool_error",
            "tool_result"
        ]
    );
    let (big, error) = (&events[1], &events[3]);
    assert_eq!(error["call_event_id"], big["event_id"]);
    for e in [big, error] {
        assert_eq!(e["risk_level"], "critical", "{e}");
        assert_eq!(e["details"]["rule"], "sum-big", "{e}");
        assert!(
            e["compliance_tags"]
                .as_array()
                .unwrap()
                .contains(&"pci_dss".into()),
            "{e}"
        );
    }
    for e in [&events[2], &events[4]] {
        assert!(e["details"].get("rule").is_none(), "{e}");
        assert_ne!(e["risk_level"], "critical", "{e}");
    }
}

/// Under `filter_tools_list` the listing records what the server offered and
/// which tools the client was not shown.
#[test]
fn a_filtered_listing_names_the_hidden_tools() {
    let rules = "[[rules]]\nname = \"no-echo\"\ntool = \"echo\"\naction = \"deny\"\n";
    let options = crate::policy::PolicyOptions {
        filter_tools_list: true,
        ..Default::default()
    };
    let mut config = AuditorConfig::new(identity(), SessionFacts::default());
    config.policy = Some(Arc::new(crate::policy::tests::policy(rules, options)));
    let mut auditor = Auditor::new(config);
    auditor.handle(chunk(
        Direction::ClientToServer,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    ));
    let tools = r#"[{"name":"echo","inputSchema":{"type":"object"}},{"name":"get-sum","inputSchema":{"type":"object"}}]"#;
    let answer = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":{tools}}}}}"#);
    auditor.handle(chunk(Direction::ServerToClient, &answer));
    let events = events_of(&auditor.take_batch());
    let listed = events.iter().find(|e| e["type"] == "tools_listed").unwrap();
    assert_eq!(
        listed["details"]["tools"],
        serde_json::json!(["echo", "get-sum"])
    );
    assert_eq!(
        listed["details"]["hidden_tools"],
        serde_json::json!(["echo"])
    );
}

/// Arguments and results left out by settings are recorded by SHA-256.
#[test]
fn left_out_arguments_and_results_are_recorded_by_digest() {
    let mut config = AuditorConfig::new(identity(), SessionFacts::default());
    config.classify.include_arguments = false;
    config.classify.include_results = false;
    let mut auditor = Auditor::new(config);
    let args = r#"{"a":1,"b":2}"#;
    let result = r#"{"content":[{"type":"text","text":"3"}]}"#;
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"get-sum","arguments":{args}}}}}"#
    );
    auditor.handle(chunk(Direction::ClientToServer, &call));
    let answer = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{result}}}"#);
    auditor.handle(chunk(Direction::ServerToClient, &answer));
    let events = events_of(&auditor.take_batch());
    let (call, answer) = (&events[1], &events[2]);
    assert_eq!(call["type"], "tool_call");
    assert!(call.get("arguments").is_none(), "{call}");
    assert_eq!(
        call["details"]["arguments_sha256"],
        sha256_hex(args.as_bytes())
    );
    assert_eq!(answer["type"], "tool_result");
    assert!(answer.get("result").is_none(), "{answer}");
    assert_eq!(
        answer["details"]["result_sha256"],
        sha256_hex(result.as_bytes())
    );
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
        host: "host-1".into(),
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
        slack: 0,
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
