//! Property: whatever the frames, in either direction, every event the
//! classifier yields becomes (redacted, stamped) one line of valid JSON with
//! no raw control or line separator character in it.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::Harness;
use crate::event::{needs_escape, Direction};
use crate::handoff::ChildExit;
use crate::redact::{RedactConfig, Redactor};
use crate::stamp::{canonical_bytes, SessionIdentity, Stamper};

/// Strings made of what breaks line readers, and a little text.
fn nasty() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        Just('a'),
        Just('"'),
        Just('\\'),
        Just('\r'),
        Just('\n'),
        Just('\u{0}'),
        Just('\u{1b}'),
        Just('\u{7f}'),
        Just('\u{85}'),
        Just('\u{9f}'),
        Just('\u{2028}'),
        Just('\u{2029}'),
        Just('é'),
        any::<char>(),
    ];
    proptest::collection::vec(c, 0..12).prop_map(|v| v.into_iter().collect())
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    let id = prop_oneof![
        any::<i64>().prop_map(Value::from),
        nasty().prop_map(Value::from),
        nasty().prop_map(|s| json!({ s.clone(): [s] })),
    ];
    let method = prop_oneof![
        Just("tools/call".to_owned()),
        Just("resources/read".to_owned()),
        Just("initialize".to_owned()),
        Just("notifications/message".to_owned()),
        nasty(),
    ];
    let v = prop_oneof![
        (id.clone(), method, nasty(), nasty()).prop_map(|(id, m, s, t)| json!({
            "jsonrpc": "2.0", "id": id, "method": m,
            "params": {"name": s, "uri": t, "arguments": {t.clone(): s}, "data": s,
                       "clientInfo": {"name": t}, "_meta": {"progressToken": s}}
        })),
        (id.clone(), nasty()).prop_map(|(id, s)| json!({
            "jsonrpc": "2.0", "id": id,
            "result": {"content": [{"type": "text", "text": s}], "serverInfo": {"name": s}}
        })),
        (id, nasty()).prop_map(|(id, s)| json!({
            "jsonrpc": "2.0", "id": id, "error": {"code": 1, "message": s, "data": {s.clone(): s}}
        })),
    ];
    // Raw control bytes in JSON white space, or in place of any byte.
    (v, any::<u8>(), any::<prop::sample::Index>(), any::<bool>()).prop_map(|(v, b, at, ws)| {
        let mut bytes = serde_json::to_vec(&v).unwrap();
        let i = at.index(bytes.len());
        if ws {
            bytes.insert(i, b'\r');
        } else {
            bytes[i] = b;
        }
        bytes
    })
}

fn check_line(line: &[u8]) -> Result<(), TestCaseError> {
    let text = std::str::from_utf8(line).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let body = text
        .strip_suffix('\n')
        .expect("a line ends with its newline");
    prop_assert!(
        !body.chars().any(|c| c.is_control() || needs_escape(c)),
        "raw control or separator in {:?}",
        body
    );
    prop_assert!(
        serde_json::from_str::<Value>(body).is_ok(),
        "not JSON: {}",
        body
    );
    prop_assert!(canonical_bytes(body.as_bytes()).is_some());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn every_event_is_one_clean_json_line(frames in proptest::collection::vec((any::<bool>(), message()), 1..12)) {
        let redactor = Redactor::new(&RedactConfig::default()).unwrap();
        let identity = SessionIdentity {
            session_id: "s".into(),
            server: "srv\u{2028}".into(),
            user: "u\r".into(),
        };
        let mut stamper = Stamper::new(identity, [1; 32]);
        let mut h = Harness::new();
        let mut events = Vec::new();
        for (c2s, bytes) in &frames {
            let dir = if *c2s { Direction::ClientToServer } else { Direction::ServerToClient };
            events.extend(h.feed_bytes(dir, bytes));
        }
        events.extend(h.end(ChildExit::Code(0)));
        for mut e in events {
            let alert = redactor.redact_event(&mut e);
            for e in std::iter::once(e).chain(alert) {
                let mut line = Vec::new();
                stamper.stamp(&e, &mut line);
                check_line(&line)?;
            }
        }
    }
}
