//! What a result says, read without copying its payload: whether a tool
//! reported an error, the stateless era's `resultType`, the kinds of content
//! it carries, and an `input_required` result's embedded input requests and
//! opaque `requestState`.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::params::{opaque_digest, string};

/// Most distinct content types listed on one event.
pub const MAX_CONTENT_TYPES: usize = 16;
/// Most input requests read from one `input_required` result.
pub const MAX_INPUT_REQUESTS: usize = 16;

#[derive(Debug, Default, Deserialize)]
struct ResultFields<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "structuredContent")]
    structured_content: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "isError")]
    is_error: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "resultType")]
    result_type: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "requestState")]
    request_state: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "inputRequests")]
    input_requests: Option<&'a RawValue>,
    /// `resources/read`.
    #[serde(borrow, default)]
    contents: Option<&'a RawValue>,
    /// `prompts/get`.
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct Part<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    blob: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
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
        let Ok(f) = serde_json::from_str::<ResultFields<'_>>(result.get()) else {
            return ResultSummary::default();
        };
        let mut s = ResultSummary {
            is_error: f.is_error.is_some_and(|v| v.get() == "true"),
            result_type: f.result_type.and_then(string),
            request_state: f.request_state.map(opaque_digest),
            ..Default::default()
        };
        for list in [f.content, f.contents, f.messages].into_iter().flatten() {
            s.add_parts(list);
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

    fn add_parts(&mut self, list: &RawValue) {
        // An array of parts, or one part (a sampling result's `content`).
        let parts: Vec<Part<'_>> = serde_json::from_str(list.get())
            .or_else(|_| serde_json::from_str(list.get()).map(|p| vec![p]))
            .unwrap_or_default();
        for p in parts {
            if let Some(k) = p.kind.and_then(string) {
                self.add_type(&k);
            } else if p.text.is_some() {
                self.add_type("text");
            } else if p.blob.is_some() {
                self.add_type("blob");
            } else if let Some(inner) = p.content {
                // A prompt message: its `content` is one part.
                if let Ok(part) = serde_json::from_str::<Part<'_>>(inner.get()) {
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

fn input_requests(raw: &RawValue) -> Vec<InputRequest> {
    #[derive(Deserialize)]
    struct Req<'a> {
        #[serde(borrow, default)]
        method: Option<&'a RawValue>,
        #[serde(borrow, default)]
        params: Option<&'a RawValue>,
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
    fn is_error_only_when_true() {
        assert!(read(r#"{"content":[],"isError":true}"#).is_error);
        assert!(!read(r#"{"content":[],"isError":"true"}"#).is_error);
    }
}
