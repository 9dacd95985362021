//! What a result says, read without copying its payload: whether a tool
//! reported an error, the stateless era's `resultType`, the kinds of content
//! it carries, and an `input_required` result's embedded input requests and
//! opaque `requestState`.

use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::members::{members, Member};
use super::params::{opaque_digest, string};

pub(super) mod scan;
mod scanned;

/// Most distinct content types listed on one event.
pub const MAX_CONTENT_TYPES: usize = 16;
/// Most input requests read from one `input_required` result.
pub const MAX_INPUT_REQUESTS: usize = 16;

members! {
    /// The members of a result, read in one pass: the part lists are read as
    /// they are met, not captured whole and scanned again.
    /// A repeated member keeps the last ([`super::members`]: a derived
    /// `Deserialize` refused the object, which lost `isError`: a tool error
    /// recorded as a success).
    struct ResultFields<'a> {
        content: Parts<'a> = "content",
        structured_content: Option<&'a RawValue> = "structuredContent",
        is_error: Option<&'a RawValue> = "isError",
        result_type: Option<&'a RawValue> = "resultType",
        request_state: Option<&'a RawValue> = "requestState",
        input_requests: Option<&'a RawValue> = "inputRequests",
        /// `resources/read`.
        contents: Parts<'a> = "contents",
        /// `prompts/get`.
        messages: Parts<'a> = "messages",
    }
}

/// A list of content parts, or one part (a sampling result's `content`).
/// Lenient like the rest of the result: what is not a part (a string, a
/// number, a nested list) holds none and hides none of the others, so no
/// content can make the result unreadable.
#[derive(Debug, Default)]
struct Parts<'a>(Vec<Part<'a>>);

members! {
    /// The members of one part that say its kind.
    struct Part<'a> {
        kind: Option<&'a RawValue> = "type",
        text: Option<&'a RawValue> = "text",
        blob: Option<&'a RawValue> = "blob",
        content: Option<&'a RawValue> = "content",
    }
}

impl<'de: 'a, 'a> Member<'de> for Parts<'a> {
    fn read<A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        map.next_value()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Parts<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PartsVisitor {
            list: true,
            borrowed: PhantomData,
        })
    }
}

/// One item of a part list: a part, or something else that holds none.
struct Item<'a>(Parts<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Item<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let visitor = PartsVisitor {
            list: false,
            borrowed: PhantomData,
        };
        d.deserialize_any(visitor).map(Item)
    }
}

/// Reads a part list (`list`) or one item of it: a map is one part, a list
/// holds the parts of its items (an item that is itself a list holds
/// none), and anything else (see [`Parts`]) none.
struct PartsVisitor<'a> {
    list: bool,
    borrowed: PhantomData<&'a ()>,
}

impl<'de: 'a, 'a> Visitor<'de> for PartsVisitor<'a> {
    type Value = Parts<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of content parts or one part")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parts<'a>, A::Error> {
        let mut parts = Vec::new();
        if self.list {
            while let Some(Item(item)) = seq.next_element()? {
                parts.extend(item.0);
            }
        } else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
        }
        Ok(Parts(parts))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Parts<'a>, A::Error> {
        Ok(Parts(vec![Part::deserialize(MapAccessDeserializer::new(
            map,
        ))?]))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Parts<'a>, E> {
        Ok(Parts::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Parts<'a>, E> {
        Ok(Parts::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Parts<'a>, E> {
        Ok(Parts::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Parts<'a>, E> {
        Ok(Parts::default())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Parts<'a>, E> {
        Ok(Parts::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Parts<'a>, E> {
        Ok(Parts::default())
    }
}

/// One input request embedded in an `input_required` result.
#[derive(Debug, Clone)]
pub struct InputRequest {
    /// The server-assigned key.
    pub key: String,
    /// `sampling/createMessage`, `elicitation/create`, `roots/list`, ...
    pub method: String,
    pub params: Option<Box<RawValue>>,
}

/// What a result says.
#[derive(Debug, Default)]
pub struct ResultSummary {
    pub is_error: bool,
    /// `resultType` when present (absent means `complete`).
    pub result_type: Option<String>,
    /// Distinct content types, in order of first appearance:
    /// `text`, `image`, `audio`, `resource`, `resource_link`, and
    /// `structuredContent` when that member is present (`blob` for a
    /// `resources/read` blob).
    pub content_types: Vec<String>,
    /// `requestState` as `{bytes, sha256}`.
    pub request_state: Option<Value>,
    pub input_requests: Vec<InputRequest>,
}

impl ResultSummary {
    /// Reads a result (an unreadable one says nothing).
    pub fn read(result: &RawValue) -> ResultSummary {
        ResultSummary::read_scanned(result.get())
            .unwrap_or_else(|| ResultSummary::read_parsed(result))
    }

    /// [`ResultSummary::read`] with `serde_json`.
    fn read_parsed(result: &RawValue) -> ResultSummary {
        let Ok(f) = serde_json::from_str::<ResultFields<'_>>(result.get()) else {
            return ResultSummary::default();
        };
        let mut s = ResultSummary {
            is_error: f.is_error.is_some_and(|v| v.get() == "true"),
            result_type: f.result_type.and_then(string),
            request_state: f.request_state.map(opaque_digest),
            ..Default::default()
        };
        for parts in [f.content, f.contents, f.messages] {
            s.add_parts(parts.0.iter().map(PartKind::of));
        }
        if f.structured_content.is_some() {
            s.add_type("structuredContent");
        }
        if let Some(reqs) = f.input_requests {
            s.input_requests = input_requests(reqs);
        }
        s
    }

    /// True for the stateless era's "call again with more input" answer.
    pub fn input_required(&self) -> bool {
        self.result_type.as_deref() == Some("input_required")
    }

    fn add_parts<'p>(&mut self, parts: impl IntoIterator<Item = PartKind<'p>>) {
        for p in parts {
            if let Some(k) = p.kind.and_then(|k| serde_json::from_str::<String>(k).ok()) {
                self.add_type(&k);
            } else if p.text {
                self.add_type("text");
            } else if p.blob {
                self.add_type("blob");
            } else if let Some(inner) = p.content {
                // A prompt message: its `content` is one part.
                if let Ok(part) = serde_json::from_str::<Part<'_>>(inner) {
                    if let Some(k) = part.kind.and_then(string) {
                        self.add_type(&k);
                    }
                }
            }
        }
    }

    fn add_type(&mut self, t: &str) {
        let t: String = t.chars().take(32).collect();
        if self.content_types.len() < MAX_CONTENT_TYPES && !self.content_types.contains(&t) {
            self.content_types.push(t);
        }
    }
}

/// What of a part says its kind: members as JSON text, `null` absent.
struct PartKind<'a> {
    kind: Option<&'a str>,
    text: bool,
    blob: bool,
    content: Option<&'a str>,
}

impl<'a> PartKind<'a> {
    fn of(p: &Part<'a>) -> PartKind<'a> {
        PartKind {
            kind: p.kind.map(RawValue::get),
            text: p.text.is_some(),
            blob: p.blob.is_some(),
            content: p.content.map(RawValue::get),
        }
    }
}

fn input_requests(raw: &RawValue) -> Vec<InputRequest> {
    members! {
        struct Req<'a> {
            method: Option<&'a RawValue> = "method",
            params: Option<&'a RawValue> = "params",
        }
    }
    let map: std::collections::BTreeMap<String, &RawValue> =
        serde_json::from_str(raw.get()).unwrap_or_default();
    map.into_iter()
        .take(MAX_INPUT_REQUESTS)
        .map(|(key, v)| {
            let req: Option<Req<'_>> = serde_json::from_str(v.get()).ok();
            InputRequest {
                key,
                method: req
                    .as_ref()
                    .and_then(|r| r.method)
                    .and_then(string)
                    .unwrap_or_default(),
                params: req.and_then(|r| r.params).map(ToOwned::to_owned),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> ResultSummary {
        ResultSummary::read(&RawValue::from_string(s.to_owned()).unwrap())
    }

    #[test]
    fn content_types_in_order_without_repeats() {
        let s = read(
            r#"{"content":[{"type":"text","text":"a"},{"type":"image","data":""},{"type":"text"},{"type":"resource_link","uri":"x"}],"structuredContent":{"t":1}}"#,
        );
        assert_eq!(
            s.content_types,
            ["text", "image", "resource_link", "structuredContent"]
        );
        assert!(!s.is_error);
    }

    #[test]
    fn resources_and_prompts_have_types_too() {
        let s = read(r#"{"contents":[{"uri":"a","text":"x"},{"uri":"b","blob":"AA=="}]}"#);
        assert_eq!(s.content_types, ["text", "blob"]);
        let s = read(r#"{"messages":[{"role":"user","content":{"type":"text","text":"hi"}}]}"#);
        assert_eq!(s.content_types, ["text"]);
    }

    #[test]
    fn input_required_lists_requests_and_hashes_state() {
        let s = read(
            r#"{"resultType":"input_required","requestState":"opaque","inputRequests":{"b":{"method":"elicitation/create","params":{"message":"?"}},"a":{"method":"sampling/createMessage"}}}"#,
        );
        assert!(s.input_required());
        assert_eq!(s.request_state.as_ref().unwrap()["bytes"], 6);
        let keys: Vec<_> = s
            .input_requests
            .iter()
            .map(|r| (r.key.as_str(), r.method.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("a", "sampling/createMessage"), ("b", "elicitation/create")]
        );
        assert!(s.input_requests[1].params.is_some());
    }

    #[test]
    fn what_is_not_a_part_hides_no_other_part_nor_the_error_flag() {
        let s = read(
            r#"{"content":["junk",7,null,[{"type":"x"}],{"type":"image"},true,{"text":"t"}],"isError":true}"#,
        );
        assert_eq!(s.content_types, ["image", "text"]);
        assert!(s.is_error);
        for content in [r#""text""#, "42", "null", "{}", "[]"] {
            let s = read(&format!(r#"{{"content":{content},"isError":true}}"#));
            assert!(s.is_error, "{content}");
            assert!(s.content_types.is_empty(), "{content}");
        }
    }

    #[test]
    fn a_repeated_member_of_the_result_keeps_the_last() {
        let s = read(r#"{"isError":false,"content":[{"type":"text"}],"isError":true}"#);
        assert!(s.is_error, "a repeated member must not lose the result");
        assert_eq!(s.content_types, ["text"]);
        let s = read(r#"{"content":[{"type":"text"}],"content":[{"type":"image"}]}"#);
        assert_eq!(s.content_types, ["image"]);
        assert!(!read(r#"{"isError":true,"isError":false}"#).is_error);
    }

    #[test]
    fn a_repeated_member_of_a_part_keeps_the_last() {
        let s = read(r#"{"content":[{"type":"text","type":"audio","data":""}],"isError":true}"#);
        assert_eq!(s.content_types, ["audio"]);
        assert!(s.is_error);
    }

    #[test]
    fn one_part_as_content_and_escaped_member_names() {
        let s = read(r#"{"content":{"type":"image","data":""}}"#);
        assert_eq!(s.content_types, ["image"]);
        let s = read(r#"{"content":[{"\u0074ype":"audio"}]}"#);
        assert_eq!(s.content_types, ["audio"]);
    }

    #[test]
    fn is_error_only_when_true() {
        assert!(read(r#"{"content":[],"isError":true}"#).is_error);
        assert!(!read(r#"{"content":[],"isError":"true"}"#).is_error);
    }
}
