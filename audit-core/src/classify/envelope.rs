//! Borrowed parsing of JSON-RPC frames: only the fields events need, straight
//! from the frame's bytes (`&RawValue`, no copies of payloads).

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::Value;

use super::budget::{ParseBudget, Parsed};
use super::members::members;
use crate::event::RpcErrorInfo;

members! {
    /// The members of one JSON-RPC message that classification looks at.
    pub struct Envelope<'a> {
        /// The message's own text (one element, for a batch).
        pub raw: &'a str,
        pub jsonrpc: Option<Cow<'a, str>> = "jsonrpc",
        pub id: Option<&'a RawValue> = "id",
        pub method: Option<Cow<'a, str>> = "method",
        pub params: Option<&'a RawValue> = "params",
        pub result: Option<&'a RawValue> = "result",
        pub error: Option<&'a RawValue> = "error",
    }
}

/// A frame is one message or a batch (JSON array, 2025-03-26) of them.
#[derive(Debug)]
pub enum Message<'a> {
    Single(Envelope<'a>),
    Batch(Vec<&'a RawValue>),
}

/// Parses a frame. The error is the `reason` of a `protocol_violation`.
pub fn parse(bytes: &[u8]) -> Result<Message<'_>, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not_utf8")?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|_| "not_json")?;
        if items.is_empty() {
            return Err("empty_batch");
        }
        return Ok(Message::Batch(items));
    }
    parse_text(text).map(Message::Single)
}

/// Parses one element of a batch (text the batch's parse has checked).
pub fn parse_element<'a>(item: &'a RawValue) -> Result<Envelope<'a>, &'static str> {
    parse_text(item.get())
}

/// Parses one message from text already known to be UTF-8: `parse` checks
/// a frame once, and a batch's elements come out of its checked text.
fn parse_text(text: &str) -> Result<Envelope<'_>, &'static str> {
    if text.trim().is_empty() {
        return Err("empty_frame");
    }
    match serde_json::from_str::<Envelope<'_>>(text) {
        Ok(mut env) => {
            if env.jsonrpc.as_deref() != Some("2.0") {
                return Err("not_jsonrpc");
            }
            env.raw = text;
            Ok(env)
        }
        Err(_) if serde_json::from_str::<&RawValue>(text).is_ok() => Err("not_jsonrpc"),
        Err(_) => Err("not_json"),
    }
}

impl<'a> Envelope<'a> {
    /// The `error` member as an event records it; its `data` is parsed
    /// within `budget`, and left out (`data_omitted`) when over it.
    pub fn error_info(&self, budget: &mut ParseBudget) -> Option<RpcErrorInfo> {
        members! {
            struct ErrorMembers<'b> {
                code: Option<&'b RawValue> = "code",
                message: Option<Cow<'b, str>> = "message",
                data: Option<&'b RawValue> = "data",
            }
        }
        let m: ErrorMembers<'_> = serde_json::from_str(self.error?.get()).ok()?;
        let code = m.code.and_then(|c| c.get().parse::<i64>().ok());
        let message = m.message.unwrap_or_default().into_owned();
        let data = m.data.map(|d| budget.parse(d.get()));
        Some(RpcErrorInfo {
            code: code.unwrap_or(0),
            message,
            data_omitted: matches!(data, Some(Parsed::OverBudget)),
            data: data.and_then(Parsed::value),
        })
    }

    /// `result._meta` parsed, if present.
    pub fn result_meta(&self) -> Option<Value> {
        meta_of(self.result?)
    }
}

fn meta_of(raw: &RawValue) -> Option<Value> {
    members! {
        struct WithMeta<'b> {
            meta: Option<&'b RawValue> = "_meta",
        }
    }
    let w: WithMeta<'_> = serde_json::from_str(raw.get()).ok()?;
    super::budget::parse_kept(w.meta?.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_for_bad_frames() {
        assert_eq!(parse(b"hello").unwrap_err(), "not_json");
        assert_eq!(parse(b"42").unwrap_err(), "not_jsonrpc");
        assert_eq!(parse(b"{\"id\":1}").unwrap_err(), "not_jsonrpc");
        assert_eq!(parse(b"[]").unwrap_err(), "empty_batch");
        assert_eq!(parse(b"   ").unwrap_err(), "empty_frame");
        assert_eq!(parse(&[0xff, 0xfe]).unwrap_err(), "not_utf8");
    }

    #[test]
    fn ids_keep_their_exact_text() {
        let Message::Single(e) = parse(br#"{"jsonrpc":"2.0","id":"1","method":"x"}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(e.id.unwrap().get(), "\"1\"");
        let Message::Single(e) = parse(br#"{"result":{},"jsonrpc":"2.0","id":1}"#).unwrap() else {
            panic!()
        };
        assert_eq!(e.id.unwrap().get(), "1");
    }

    #[test]
    fn escaped_method_names_parse() {
        let Message::Single(e) =
            parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call"}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(e.method.as_deref(), Some("tools/call"));
    }
}
