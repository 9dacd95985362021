//! The JSON-RPC error lines the gate sends back for refused requests.

use serde::Serialize;

/// JSON-RPC error code of a refused request (server-defined range).
pub const POLICY_ERROR_CODE: i64 = -32001;

/// Why a request is refused.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub rule: String,
    /// The tool called; empty when the frame could not be read.
    pub tool: String,
    pub message: String,
}

#[derive(Serialize)]
struct ErrorReply<'a> {
    jsonrpc: &'static str,
    id: &'a serde_json::value::RawValue,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: i64,
    message: String,
    data: ErrorData<'a>,
}

#[derive(Serialize)]
struct ErrorData<'a> {
    rule: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    tool: &'a str,
}

/// The error line answering a refused request whose id has the raw bytes
/// `id` (a strict JSON string or number); empty without an id (a
/// notification, or an id that could not be read), which gets no answer.
pub(crate) fn line(id: Option<&[u8]>, refusal: &Refusal) -> Vec<u8> {
    let Some(id) = id
        .and_then(|raw| std::str::from_utf8(raw).ok())
        .and_then(|raw| serde_json::from_str::<&serde_json::value::RawValue>(raw).ok())
    else {
        return Vec::new();
    };
    let reply = ErrorReply {
        jsonrpc: "2.0",
        id,
        error: ErrorBody {
            code: POLICY_ERROR_CODE,
            message: format!("mcp-blackbox policy: {}", refusal.message),
            data: ErrorData {
                rule: &refusal.rule,
                tool: &refusal.tool,
            },
        },
    };
    let mut line = serde_json::to_vec(&reply).unwrap_or_default();
    line.push(b'\n');
    line
}
