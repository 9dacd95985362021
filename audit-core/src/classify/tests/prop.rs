//! Property: whatever the bytes, the classifier neither panics nor yields
//! more than `2 + MAX_BATCH_ELEMENTS * MAX_EVENTS_PER_MESSAGE` events a frame
//! (in practice, for frames without tool listings, a handful).

use proptest::prelude::*;

use super::Harness;
use crate::classify::{MAX_BATCH_ELEMENTS, MAX_EVENTS_PER_MESSAGE};
use crate::event::Direction;
use crate::handoff::ChildExit;

const BOUND: usize = 2 + MAX_BATCH_ELEMENTS * MAX_EVENTS_PER_MESSAGE;

fn json_ish() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        Just("1".to_owned()),
        Just("\"1\"".to_owned()),
        Just("2".to_owned()),
        Just("null".to_owned()),
        Just("{}".to_owned())
    ];
    let method = prop_oneof![
        Just("tools/call"),
        Just("tools/list"),
        Just("resources/read"),
        Just("prompts/get"),
        Just("sampling/createMessage"),
        Just("elicitation/create"),
        Just("roots/list"),
        Just("notifications/cancelled"),
        Just("notifications/progress"),
        Just("notifications/message"),
        Just("initialize"),
        Just("server/discover"),
        Just("ping"),
        Just("x/y"),
    ];
    let params = prop_oneof![
        Just("{}".to_owned()),
        Just(r#"{"name":"delete_x","arguments":{"cmd":"rm -rf /"},"_meta":{"progressToken":1,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}"#.to_owned()),
        Just(r#"{"requestId":1,"progressToken":1,"progress":"x","level":"error","data":[1]}"#.to_owned()),
        Just(r#"{"cursor":"c","requestState":7,"inputResponses":[]}"#.to_owned()),
        Just("[1,2]".to_owned()),
        "[a-z{}\":,]{0,20}",
    ];
    let result = prop_oneof![
        Just(r#"{"tools":[{"name":"a","description":"d"},{"name":3}],"nextCursor":null}"#.to_owned()),
        Just(r#"{"resultType":"input_required","requestState":"s","inputRequests":{"k":{"method":"roots/list"}}}"#.to_owned()),
        Just(r#"{"content":[{"type":"text"},{"type":7}],"isError":true}"#.to_owned()),
        Just("{}".to_owned()),
        Just("\"x\"".to_owned()),
    ];
    let one = prop_oneof![
        (id.clone(), method.clone(), params.clone()).prop_map(|(i, m, p)| format!(
            r#"{{"jsonrpc":"2.0","id":{i},"method":"{m}","params":{p}}}"#
        )),
        (method, params)
            .prop_map(|(m, p)| format!(r#"{{"jsonrpc":"2.0","method":"{m}","params":{p}}}"#)),
        (id.clone(), result)
            .prop_map(|(i, r)| format!(r#"{{"jsonrpc":"2.0","id":{i},"result":{r}}}"#)),
        id.prop_map(|i| format!(
            r#"{{"jsonrpc":"2.0","id":{i},"error":{{"code":-32601,"message":"m"}}}}"#
        )),
    ];
    prop_oneof![
        3 => one.clone(),
        1 => proptest::collection::vec(one, 0..5).prop_map(|v| format!("[{}]", v.join(","))),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(frames in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..20)) {
        let mut h = Harness::new();
        for (c2s, bytes) in frames {
            let dir = if c2s { Direction::ClientToServer } else { Direction::ServerToClient };
            prop_assert!(h.feed_bytes(dir, &bytes).len() <= BOUND);
        }
        h.end(ChildExit::Code(0));
    }

    #[test]
    fn json_ish_frames_never_panic_and_stay_small(frames in proptest::collection::vec((any::<bool>(), json_ish()), 0..40)) {
        let mut h = Harness::new();
        for (c2s, line) in frames {
            let dir = if c2s { Direction::ClientToServer } else { Direction::ServerToClient };
            let n = h.feed(dir, &line).len();
            // At most 5 messages a frame here; each yields few events.
            prop_assert!(n <= 2 + 5 * 8, "{} events for {}", n, line);
        }
        let end = h.end(ChildExit::Code(0));
        prop_assert_eq!(end.last().unwrap().event_type.as_str(), "session_end");
    }
}
