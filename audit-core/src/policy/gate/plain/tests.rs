use proptest::prelude::*;

use super::*;
use crate::policy::gate::message::read_fully;

/// The plain reader either declines or agrees with the full reader.
fn agrees(text: &str, arguments: bool) -> bool {
    let Some(plain) = read(text, arguments) else {
        return false;
    };
    let full = read_fully(text, arguments);
    assert!(
        full.is_ok(),
        "plain accepted what the full reader refuses: {text}"
    );
    assert_eq!(
        format!("{plain:?}"),
        format!("{:?}", full.unwrap()),
        "{text}"
    );
    true
}

#[test]
fn reads_what_clients_write() {
    for text in [
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"call-7-abc"}}}"#,
        r#"{"jsonrpc":"2.0","id":"a-1","method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#" { "id" : -0 , "method" : "x" , "params" : [ 1 , true , null , { } , [ ] ] } "#,
        r#"{"params":{"name":5,"arguments":[{"a":{"b":[false]}}],"name":"é~"},"params":{"name":"y"}}"#,
        r#"{"id":123456789012345678,"method":"m","method":null}"#,
        r#"{}"#,
        "{\"a\":\"x\u{7f}\"}",
    ] {
        assert!(agrees(text, true), "declined {text}");
        assert!(agrees(text, false), "declined {text}");
    }
    let deep = format!(
        r#"{{"params":{{"arguments":{}1{}}}}}"#,
        "[".repeat(MAX_DEPTH - 3),
        "]".repeat(MAX_DEPTH - 3)
    );
    assert!(agrees(&deep, true));
}

#[test]
fn declines_everything_else() {
    for text in [
        r#"{"method":"tools\/call"}"#,
        r#"{"a":"\u0041"}"#,
        "{\"a\":\"x\ty\"}",
        "{\"a\":1,\t\"b\":2}",
        r#"{"a":1.5}"#,
        r#"{"a":1e3}"#,
        r#"{"a":1234567890123456789}"#,
        r#"{"a":01}"#,
        r#"{"a":-}"#,
        r#"{"a":NaN}"#,
        r#"{"a":Infinity}"#,
        r#"{"a":tru}"#,
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{"a":1}x"#,
        r#"{"a":1}{"b":2}"#,
        r#"[{"id":1}]"#,
        r#""tools""#,
        r#"{"a":"unterminated}"#,
        r#"{"a":[1,2}"#,
    ] {
        assert!(!agrees(text, true), "accepted {text}");
    }
    let nested = |n: usize| format!(r#"{{"a":{}{}}}"#, "[".repeat(n - 1), "]".repeat(n - 1));
    assert!(agrees(&nested(MAX_DEPTH), false));
    assert!(!agrees(&nested(MAX_DEPTH + 1), false));
}

proptest! {
    /// Frames built from JSON-ish pieces: plain accepts only what the full
    /// reader accepts, and reads it the same.
    #[test]
    fn never_disagrees_with_the_full_reader(
        pieces in prop::collection::vec(prop::sample::select(vec![
            "{", "}", "[", "]", ",", ":", " ", "\"method\"", "\"id\"", "\"params\"",
            "\"name\"", "\"arguments\"", "\"tools/call\"", "\"x\"", "1", "-0", "01",
            "1.5", "true", "null", "\\u0041", "\"", "\t", "e", "NaN",
        ]), 0..40),
        arguments in any::<bool>(),
    ) {
        let text: String = pieces.concat();
        agrees(&text, arguments);
    }
}
