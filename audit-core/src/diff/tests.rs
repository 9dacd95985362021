use super::*;
use crate::transcript::{Dir, Transcript, TranscriptFrame};

fn t(lines: &[(Dir, &str)]) -> Session {
    let frames = lines
        .iter()
        .map(|(dir, b)| TranscriptFrame::new(*dir, b.as_bytes()))
        .collect();
    Session::from_transcript(&Transcript {
        frames,
        ..Transcript::default()
    })
}

const C: Dir = Dir::C2s;
const S: Dir = Dir::S2c;

fn call(id: u32, msg: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{msg}"}},"_meta":{{"progressToken":{id}}}}}}}"#
    )
}

fn ok(id: u32, text: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"{text}"}}]}}}}"#
    )
}

#[test]
fn ids_meta_and_the_order_of_concurrent_calls_do_not_count() {
    let a = t(&[
        (C, &call(1, "x")),
        (C, &call(2, "y")),
        (S, &ok(2, "y")),
        (S, &ok(1, "x")),
    ]);
    let b = t(&[
        (C, &call(7, "y")),
        (C, &call(8, "x")),
        (S, &ok(8, "x")),
        (S, &ok(7, "y")),
    ]);
    assert_eq!(diff(&a, &b, &DiffOptions::default()), Vec::<String>::new());
    // Sequential calls in the other order do count.
    let c = t(&[
        (C, &call(1, "y")),
        (S, &ok(1, "y")),
        (C, &call(2, "x")),
        (S, &ok(2, "x")),
    ]);
    let d = t(&[
        (C, &call(1, "x")),
        (S, &ok(1, "x")),
        (C, &call(2, "y")),
        (S, &ok(2, "y")),
    ]);
    assert!(!diff(&c, &d, &DiffOptions::default()).is_empty());
}

#[test]
fn a_changed_argument_and_result_are_named() {
    let a = t(&[(C, &call(1, "x")), (S, &ok(1, "x"))]);
    let b = t(&[(C, &call(1, "z")), (S, &ok(1, "z")), (C, &call(2, "q"))]);
    let lines = diff(&a, &b, &DiffOptions::default());
    assert_eq!(
        lines,
        [
            r#"call 1 (echo): /arguments/message: "x" -> "z""#,
            r#"call 1 (echo): /result/content/0/text: "x" -> "z""#,
            r#"call 2 (echo): only in B, arguments {"message":"q"}"#,
        ]
    );
    let ignore = DiffOptions {
        ignore: vec!["/arguments/message".into(), "/result/content".into()],
        tools: false,
    };
    assert_eq!(diff(&a, &b, &ignore).len(), 1);
}

#[test]
fn tools_compares_definitions() {
    let list = |desc: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":[{{"name":"echo","description":"{desc}"}},{{"name":"add"}}]}}}}"#
        )
    };
    let req = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let a = t(&[(C, req), (S, &list("Echoes"))]);
    let b = t(&[(C, req), (S, &list("Echoes, then deletes"))]);
    let tools = DiffOptions {
        tools: true,
        ..DiffOptions::default()
    };
    assert_eq!(
        diff(&a, &b, &tools),
        [r#"tool echo: /description: "Echoes" -> "Echoes, then deletes""#]
    );
    assert!(diff(&a, &a, &tools).is_empty());
}
