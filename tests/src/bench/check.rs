//! Does a response answer its request? Loadgen checks every one.
//!
//! A text result is accepted if its `id` is the request's and its first
//! content item is the expected text. The fast path compares the line with
//! the exact bytes [`crate::bench::wire`] writes (a `memcmp`, so checking a
//! 16 MiB result costs little next to relaying it); any other spelling of the
//! same JSON falls back to parsing it.

use serde_json::Value;

use crate::bench::wire;

/// Why a response does not answer its request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Mismatch {
    #[error("response to id {id} is not JSON: {excerpt}")]
    NotJson { id: u64, excerpt: String },
    #[error("expected the response to id {expected}, got id {got}")]
    WrongId { expected: u64, got: String },
    #[error("response to id {id} is an error: {error}")]
    Error { id: u64, error: String },
    #[error("response to id {id} has no text content: {excerpt}")]
    NoText { id: u64, excerpt: String },
    #[error("response to id {id}: text of {got_len} bytes differs from the {expected_len} expected at byte {first_diff}")]
    WrongText {
        id: u64,
        expected_len: usize,
        got_len: usize,
        first_diff: usize,
    },
}

/// Checks that `line` (its newline optional) is the text result `text` for
/// request `id`.
pub fn check_text_response(line: &[u8], id: u64, text: &[u8]) -> Result<(), Mismatch> {
    let line = trim_newline(line);
    if is_exact_text_result(line, id, text) {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(line).map_err(|_| Mismatch::NotJson {
        id,
        excerpt: excerpt(line),
    })?;
    if v.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(Mismatch::WrongId {
            expected: id,
            got: v.get("id").map(Value::to_string).unwrap_or_default(),
        });
    }
    if let Some(error) = v.get("error") {
        return Err(Mismatch::Error {
            id,
            error: error.to_string(),
        });
    }
    let got = v
        .pointer("/result/content/0/text")
        .and_then(Value::as_str)
        .ok_or_else(|| Mismatch::NoText {
            id,
            excerpt: excerpt(line),
        })?;
    if got.as_bytes() != text {
        return Err(Mismatch::WrongText {
            id,
            expected_len: text.len(),
            got_len: got.len(),
            first_diff: first_difference(got.as_bytes(), text),
        });
    }
    Ok(())
}

/// Checks that `line` is a successful response to `id` and returns its result.
pub fn check_result(line: &[u8], id: u64) -> Result<Value, Mismatch> {
    let line = trim_newline(line);
    let mut v: Value = serde_json::from_slice(line).map_err(|_| Mismatch::NotJson {
        id,
        excerpt: excerpt(line),
    })?;
    if v.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(Mismatch::WrongId {
            expected: id,
            got: v.get("id").map(Value::to_string).unwrap_or_default(),
        });
    }
    if let Some(error) = v.get("error") {
        return Err(Mismatch::Error {
            id,
            error: error.to_string(),
        });
    }
    Ok(v["result"].take())
}

fn is_exact_text_result(line: &[u8], id: u64, text: &[u8]) -> bool {
    let prefix = wire::text_result_prefix(id);
    let Some(rest) = line.strip_prefix(prefix.as_bytes()) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(b"\"") else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(text) else {
        return false;
    };
    // The text must not need escaping for the raw comparison to be exact.
    rest == b"\"}]}}" && !text.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20)
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_exact_line_and_an_equivalent_spelling() {
        let line = wire::text_result(7, "call-7-abc");
        assert_eq!(check_text_response(&line, 7, b"call-7-abc"), Ok(()));
        let spaced = br#"{ "id": 7, "jsonrpc": "2.0", "result": {"content": [{"text": "call-7-abc", "type": "text"}]} }"#;
        assert_eq!(check_text_response(spaced, 7, b"call-7-abc"), Ok(()));
    }

    #[test]
    fn rejects_a_wrong_id() {
        let line = wire::text_result(8, "x");
        assert_eq!(
            check_text_response(&line, 7, b"x"),
            Err(Mismatch::WrongId {
                expected: 7,
                got: "8".into()
            })
        );
    }

    #[test]
    fn rejects_changed_or_truncated_text_and_says_where() {
        let blob = wire::blob_text(1000);
        let mut bad = blob.clone();
        bad[500] = b'!';
        let line = wire::text_result(1, std::str::from_utf8(&bad).unwrap());
        assert_eq!(
            check_text_response(&line, 1, &blob),
            Err(Mismatch::WrongText {
                id: 1,
                expected_len: 1000,
                got_len: 1000,
                first_diff: 500
            })
        );
        let short = wire::text_result(1, std::str::from_utf8(&blob[..999]).unwrap());
        assert!(matches!(
            check_text_response(&short, 1, &blob),
            Err(Mismatch::WrongText { got_len: 999, .. })
        ));
    }

    #[test]
    fn rejects_errors_and_garbage() {
        let err = br#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"no"}}"#;
        assert!(matches!(
            check_text_response(err, 3, b"x"),
            Err(Mismatch::Error { id: 3, .. })
        ));
        assert!(matches!(
            check_text_response(b"{\"id\":3", 3, b"x"),
            Err(Mismatch::NotJson { .. })
        ));
        assert!(matches!(check_result(err, 3), Err(Mismatch::Error { .. })));
    }

    #[test]
    fn text_needing_escapes_goes_through_the_parser() {
        let line = wire::text_result(2, "a\"b");
        assert_eq!(check_text_response(&line, 2, b"a\"b"), Ok(()));
        assert!(check_text_response(&line, 2, b"a\\\"b").is_err());
    }
}
