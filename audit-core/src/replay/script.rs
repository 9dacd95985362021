//! A transcript as a script for replay: the client's requests in order, each
//! with what the server sent for it.
//!
//! A server line that answers a recorded request (a response with its id)
//! belongs to that request. Any other server line (a notification, a request
//! of the server's own, a line that is not JSON) belongs to the client
//! request recorded last before it, or to the preamble if none was. Client
//! notifications and the client's answers to server requests need no reply
//! and are not part of the script.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::transcript::{Dir, Transcript};

/// One server line to send.
#[derive(Debug, Clone)]
pub struct Reply {
    pub bytes: Vec<u8>,
    /// The response to the exchange's request: its id is the client's.
    pub is_response: bool,
    /// Recorded over the transcript's frame limit: only a prefix is known.
    pub truncated: bool,
    /// Recorded without a newline (the server's last line).
    pub unterminated: bool,
}

/// A client request and the server lines that belong to it, in order.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// The request's params with every `_meta` removed (`normalise`).
    pub params: Value,
    pub replies: Vec<Reply>,
}

/// The replayable part of a transcript.
#[derive(Debug, Default)]
pub struct Script {
    /// Server lines recorded before the client's first request.
    pub preamble: Vec<Reply>,
    pub exchanges: Vec<Exchange>,
}

/// The members of a JSON-RPC message replay looks at.
#[derive(Deserialize)]
pub(crate) struct Message<'a> {
    #[serde(borrow)]
    pub id: Option<&'a RawValue>,
    pub method: Option<String>,
    #[serde(default)]
    pub params: Value,
}

impl Message<'_> {
    pub(crate) fn parse(bytes: &[u8]) -> Option<Message<'_>> {
        serde_json::from_slice(bytes).ok()
    }
}

/// `v` without any `_meta` member at any depth: what a request is matched by
/// (protocol version, client info and progress tokens travel there).
pub fn normalise(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("_meta");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

impl Script {
    /// The script of `t`.
    pub fn from_transcript(t: &Transcript) -> Script {
        let mut script = Script::default();
        // The exchange index of each request still unanswered, by raw id.
        let mut pending: HashMap<String, usize> = HashMap::new();
        for f in &t.frames {
            let message = Message::parse(&f.bytes);
            match f.dir {
                Dir::C2s => {
                    let Some(Message {
                        id: Some(id),
                        method: Some(method),
                        params,
                    }) = message
                    else {
                        continue;
                    };
                    pending.insert(id.get().to_owned(), script.exchanges.len());
                    script.exchanges.push(Exchange {
                        method,
                        params: normalise(params),
                        replies: Vec::new(),
                    });
                }
                Dir::S2c => {
                    let answers = match &message {
                        Some(m) if m.method.is_none() => {
                            m.id.and_then(|id| pending.remove(id.get()))
                        }
                        _ => None,
                    };
                    let reply = Reply {
                        bytes: f.bytes.clone(),
                        is_response: answers.is_some(),
                        truncated: f.truncated,
                        unterminated: f.unterminated,
                    };
                    let owner = answers.or(script.exchanges.len().checked_sub(1));
                    match owner {
                        Some(i) => script.exchanges[i].replies.push(reply),
                        None => script.preamble.push(reply),
                    }
                }
            }
        }
        script
    }
}
