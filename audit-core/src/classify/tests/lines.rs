//! Property: whatever the frames, in either direction, every event the
//! classifier yields becomes (redacted, stamped) one line of valid JSON with
//! no raw control or line separator character in it.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::classify::selfcheck::{line_fault, trail_of};
use crate::event::Direction;

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn every_event_is_one_clean_json_line(frames in proptest::collection::vec((any::<bool>(), message()), 1..12)) {
        let frames: Vec<(Direction, &[u8])> = frames
            .iter()
            .map(|(c2s, b)| {
                let dir = if *c2s { Direction::ClientToServer } else { Direction::ServerToClient };
                (dir, b.as_slice())
            })
            .collect();
        for line in trail_of(&frames) {
            prop_assert_eq!(line_fault(&line), None);
        }
    }
}
