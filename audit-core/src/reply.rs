//! JSON-RPC answers the proxy writes on its own behalf when it cannot start:
//! a GUI client shows an error reply's message, where a server that just
//! exits only shows "disconnected".

use serde::Deserialize;
use serde_json::Value;

/// JSON-RPC error code of a proxy that could not start (server-defined range).
pub const START_FAILURE_CODE: i64 = -32000;

#[derive(Deserialize)]
struct Request {
    id: Option<Value>,
    method: Option<String>,
}

/// The error reply (one line, newline included) to `line` and the request's
/// method, if `line` is a JSON-RPC request with a usable id (a string or a
/// number), else `None`. The id is re-encoded from its parsed value, never
/// copied as raw bytes.
pub fn error_reply(line: &[u8], code: i64, message: &str) -> Option<(Vec<u8>, String)> {
    let request: Request = serde_json::from_slice(line.trim_ascii()).ok()?;
    let method = request.method?;
    let id = request.id.filter(|id| id.is_string() || id.is_number())?;
    let reply = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    });
    let mut out = serde_json::to_vec(&reply).ok()?;
    out.push(b'\n');
    Some((out, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_a_request_with_its_id() {
        let line = br#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}"#;
        let (reply, method) = error_reply(line, START_FAILURE_CODE, "bad \"x\"\nthing").unwrap();
        assert_eq!(method, "initialize");
        let v: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["error"]["code"], START_FAILURE_CODE);
        assert_eq!(v["error"]["message"], "bad \"x\"\nthing");
        assert_eq!(reply.iter().filter(|&&b| b == b'\n').count(), 1);
        let line = br#"{"jsonrpc":"2.0","id":"a","method":"server/discover"}"#;
        let v: Value = serde_json::from_slice(&error_reply(line, 1, "m").unwrap().0).unwrap();
        assert_eq!(v["id"], "a");
    }

    #[test]
    fn no_answer_to_notifications_responses_or_junk() {
        for line in [
            &br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            br#"{"jsonrpc":"2.0","id":{"x":1},"method":"m"}"#,
            b"not json",
            b"",
        ] {
            assert!(error_reply(line, 1, "m").is_none(), "{line:?}");
        }
    }
}
