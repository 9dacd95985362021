//! Replay: answering an MCP client from a transcript, as the recorded server
//! did. Pure: the stdio loop around it is the binary's.
//!
//! Each client request is matched to a recorded one by method and params,
//! ignoring `_meta` everywhere (`script::normalise`): the first unused
//! recorded request that matches, else (a request asked again) the last
//! used one, else, for the handshake and the listings (`initialize`,
//! `server/discover`, `ping`, `*/list`), the first recorded one of the same
//! method. The answer is every server line recorded for that request, in
//! order, with the response's id rewritten to the client's (byte for byte
//! when the ids are the same). Server lines recorded before any request are
//! sent before the first answer. With `strict`, a request must match the
//! next recorded request in order. An unmatched request gets a JSON-RPC
//! error naming the closest recorded request.

mod closest;
mod script;

use serde_json::{json, Value};

use crate::redact::{Redactions, Redactor};

pub(crate) use closest::leaves;
pub(crate) use script::normalise;
pub use script::{Exchange, Reply, Script};

use script::Message;

/// The JSON-RPC error code of a request that matches no recording.
pub const NO_MATCH: i64 = -32601;

/// Answers a client from a [`Script`].
#[derive(Debug)]
pub struct Replayer {
    script: Script,
    used: Vec<bool>,
    strict: bool,
    preamble_sent: bool,
    /// Redacts each request before matching, when the transcript is
    /// redacted: its recorded params hold placeholders where the client's
    /// hold secrets.
    redactor: Option<Redactor>,
}

/// One line to write to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Out {
    pub bytes: Vec<u8>,
    /// Write a newline after it.
    pub newline: bool,
}

impl Replayer {
    pub fn new(script: Script, strict: bool) -> Replayer {
        Replayer {
            used: vec![false; script.exchanges.len()],
            script,
            strict,
            preamble_sent: false,
            redactor: None,
        }
    }

    /// Matches requests after removing their secrets with `redactor`, as the
    /// recording proxy removed them from the transcript.
    pub fn redacting(mut self, redactor: Redactor) -> Replayer {
        self.redactor = Some(redactor);
        self
    }

    /// What to write for one line from the client (nothing for a
    /// notification, an answer to a server request, or a line that is not JSON).
    pub fn answer(&mut self, line: &[u8]) -> Vec<Out> {
        let Some(Message {
            id: Some(id),
            method: Some(method),
            params,
        }) = Message::parse(line)
        else {
            return Vec::new();
        };
        let mut params = normalise(params);
        if let Some(r) = &self.redactor {
            r.redact_value(&mut params, &mut Redactions::default());
        }
        let mut out = Vec::new();
        if !self.preamble_sent {
            self.preamble_sent = true;
            out.extend(self.script.preamble.iter().map(|r| Out {
                bytes: r.bytes.clone(),
                newline: !r.unterminated,
            }));
        }
        let Some(i) = self.find(&method, &params) else {
            out.push(self.no_match(id.get(), &method, &params));
            return out;
        };
        self.used[i] = true;
        for r in &self.script.exchanges[i].replies {
            let bytes = if r.is_response && r.truncated {
                error_line(id.get(), "replay: the recorded response was truncated (over the transcript's max_frame_bytes)", Value::Null)
            } else if r.is_response {
                with_id(&r.bytes, id.get())
            } else {
                r.bytes.clone()
            };
            out.push(Out {
                bytes,
                newline: !r.unterminated,
            });
        }
        out
    }

    /// The recorded exchange that answers `method` with `params`.
    fn find(&self, method: &str, params: &Value) -> Option<usize> {
        let ex = &self.script.exchanges;
        let same = |i: &usize| ex[*i].method == method && ex[*i].params == *params;
        if self.strict {
            let next = self.used.iter().position(|u| !u)?;
            return same(&next).then_some(next);
        }
        let all = 0..ex.len();
        all.clone()
            .find(|i| !self.used[*i] && same(i))
            .or_else(|| all.clone().rfind(same))
            .or_else(|| {
                let listing = matches!(method, "initialize" | "server/discover" | "ping")
                    || method.ends_with("/list");
                all.clone().find(|i| listing && ex[*i].method == method)
            })
    }

    fn no_match(&self, id: &str, method: &str, params: &Value) -> Out {
        let asked = json!({"method": method, "params": params});
        let (message, data) = if self.strict {
            let next = self.used.iter().position(|u| !u);
            let expected = next.map(|i| describe(&self.script.exchanges[i]));
            (
                format!(
                    "replay --strict: {} is not the next recorded request; expected {}",
                    asked,
                    expected
                        .clone()
                        .unwrap_or_else(|| Value::from("none (all were answered)"))
                ),
                json!({"expected": expected}),
            )
        } else {
            let near = closest::closest(&self.script.exchanges, method, params);
            let near = near.map(|i| describe(&self.script.exchanges[i]));
            (
                format!(
                    "replay: no recorded request matches {}; closest recorded: {}",
                    asked,
                    near.clone().unwrap_or_else(|| Value::from("none"))
                ),
                json!({"closest": near}),
            )
        };
        Out {
            bytes: error_line(id, &message, data),
            newline: true,
        }
    }
}

fn describe(e: &Exchange) -> Value {
    json!({"method": e.method, "params": e.params})
}

/// A JSON-RPC error response to `id` (raw JSON).
fn error_line(id: &str, message: &str, data: Value) -> Vec<u8> {
    let id: Value = serde_json::from_str(id).unwrap_or(Value::Null);
    let mut error = json!({"code": NO_MATCH, "message": message});
    if !data.is_null() {
        error["data"] = data;
    }
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "error": error}))
        .expect("serialising a Value cannot fail")
}

/// `response` with its top-level `id` replaced by `id` (raw JSON), every
/// other byte as recorded.
pub(crate) fn with_id(response: &[u8], id: &str) -> Vec<u8> {
    let Some(Message { id: Some(old), .. }) = Message::parse(response) else {
        return response.to_vec();
    };
    if old.get() == id {
        return response.to_vec();
    }
    // The raw id borrows from `response`: its offset is where to splice.
    let start = old.get().as_ptr() as usize - response.as_ptr() as usize;
    let end = start + old.get().len();
    [&response[..start], id.as_bytes(), &response[end..]].concat()
}

#[cfg(test)]
mod tests;
