use super::*;
use crate::transcript::{Dir, Transcript, TranscriptFrame};

fn frame(dir: Dir, bytes: &[u8]) -> TranscriptFrame {
    TranscriptFrame::new(dir, bytes)
}

fn replayer(strict: bool) -> Replayer {
    let c = |b: &str| frame(Dir::C2s, b.as_bytes());
    let s = |b: &[u8]| frame(Dir::S2c, b);
    let t = Transcript {
        frames: vec![
            s(b"banner \xff"),
            c(
                r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","_meta":{"x":1}}}"#,
            ),
            s(br#"{"jsonrpc":"2.0","id":0,"result":{"serverInfo":{"name":"rec"}}}"#),
            c(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            c(
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a"}}}"#,
            ),
            c(
                r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"b"}}}"#,
            ),
            s(br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info"}}"#),
            s(br#"{"result":{"content":[{"type":"text","text":"b"}]},"jsonrpc":"2.0","id":2}"#),
            s(br#"{"result":{"content":[{"type":"text","text":"a"}]},"jsonrpc":"2.0","id":1}"#),
        ],
        ..Transcript::default()
    };
    Replayer::new(Script::from_transcript(&t), strict)
}

fn texts(out: &[Out]) -> Vec<String> {
    out.iter()
        .map(|o| String::from_utf8_lossy(&o.bytes).into_owned())
        .collect()
}

#[test]
fn answers_are_the_recorded_bytes_with_the_clients_id() {
    let mut r = replayer(false);
    let init = r.answer(br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","_meta":{"other":2}}}"#);
    assert_eq!(
        init[0].bytes, b"banner \xff",
        "the preamble first, byte for byte"
    );
    assert_eq!(
        init[1].bytes,
        br#"{"jsonrpc":"2.0","id":0,"result":{"serverInfo":{"name":"rec"}}}"#
    );
    assert!(r
        .answer(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .is_empty());
    // Asked in the other order, with other ids: matched by params.
    let b = r.answer(br#"{"jsonrpc":"2.0","id":"x-7","method":"tools/call","params":{"name":"echo","arguments":{"message":"b"}}}"#);
    assert_eq!(
        texts(&b),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info"}}"#,
            r#"{"result":{"content":[{"type":"text","text":"b"}]},"jsonrpc":"2.0","id":"x-7"}"#,
        ]
    );
    let a = r.answer(br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a"}}}"#);
    assert_eq!(
        texts(&a),
        [r#"{"result":{"content":[{"type":"text","text":"a"}]},"jsonrpc":"2.0","id":9}"#]
    );
    // Asked again: the same answer.
    let again = r.answer(br#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a"}}}"#);
    assert!(texts(&again)[0].ends_with(r#""id":10}"#));
}

#[test]
fn an_unmatched_request_gets_an_error_naming_the_closest_recording() {
    let mut r = replayer(false);
    let out = r.answer(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"message":"c"}}}"#);
    let v: Value = serde_json::from_slice(&out.last().unwrap().bytes).unwrap();
    assert_eq!(v["id"], 5);
    assert_eq!(v["error"]["code"], NO_MATCH);
    assert_eq!(
        v["error"]["data"]["closest"]["params"]["arguments"]["message"],
        "a"
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("closest recorded"));
}

#[test]
fn strict_replay_requires_the_recorded_order() {
    let mut r = replayer(true);
    r.answer(br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}"#);
    let out = r.answer(br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"b"}}}"#);
    let v: Value = serde_json::from_slice(&out[0].bytes).unwrap();
    assert_eq!(
        v["error"]["data"]["expected"]["params"]["arguments"]["message"],
        "a"
    );
    let ok = r.answer(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a"}}}"#);
    assert!(texts(&ok)[0].contains(r#""text":"a""#));
}

#[test]
fn an_id_is_spliced_without_touching_other_bytes() {
    let rec = br#"{"id" : 1 ,"result":{"id":1,"x":"  spaced  "}}"#;
    assert_eq!(
        with_id(rec, r#""abc""#),
        br#"{"id" : "abc" ,"result":{"id":1,"x":"  spaced  "}}"#
    );
    assert_eq!(with_id(rec, "1"), rec);
}
