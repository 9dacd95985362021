//! [`ResultSummary::read`]'s fast path: the same summary read by
//! [`scan`], in one pass that passes long strings by `memchr`. `None`
//! wherever the scan is surprised, and `read` falls back to `serde_json`.

use serde_json::value::RawValue;

use super::{input_requests, scan, PartKind, ResultSummary};
use crate::classify::params::opaque_digest;

impl ResultSummary {
    /// [`ResultSummary::read`] by [`scan`], the same summary in a pass that
    /// passes long strings by `memchr`; `None` if the text is not an object
    /// (or surprises the scan).
    pub(super) fn read_scanned(text: &str) -> Option<ResultSummary> {
        let b = text.as_bytes();
        // The last of each part list, and of each other member as its JSON
        // text (`null` is absent).
        let mut lists: [Vec<PartKind<'_>>; 3] = Default::default();
        let mut f: [Option<&str>; 5] = [None; 5];
        let end = scan::walk_members(text, 0, |quoted, i| {
            let at = match &*scan::name(quoted)? {
                "content" => 0,
                "contents" => 1,
                "messages" => 2,
                "structuredContent" => 3,
                "isError" => 4,
                "resultType" => 5,
                "requestState" => 6,
                "inputRequests" => 7,
                _ => return scan::value_end(b, i),
            };
            if at < 3 {
                let (parts, end) = scanned_parts(text, i)?;
                lists[at] = parts;
                return Some(end);
            }
            let end = scan::value_end(b, i)?;
            let value = text.get(i..end)?;
            f[at - 3] = (value != "null").then_some(value);
            Some(end)
        })?;
        if end != text.len() {
            return None;
        }
        let mut s = ResultSummary {
            is_error: f[1] == Some("true"),
            result_type: f[2].and_then(|t| serde_json::from_str(t).ok()),
            ..Default::default()
        };
        if let Some(state) = f[3] {
            s.request_state = Some(opaque_digest(raw(state)?));
        }
        for parts in lists {
            s.add_parts(parts);
        }
        if f[0].is_some() {
            s.add_type("structuredContent");
        }
        if let Some(reqs) = f[4] {
            s.input_requests = input_requests(raw(reqs)?);
        }
        Some(s)
    }
}

/// `text`, JSON already validated, as a [`RawValue`].
fn raw(text: &str) -> Option<&RawValue> {
    serde_json::from_str(text).ok()
}

impl<'a> PartKind<'a> {
    /// The part that the object at `text[i]` is, as [`Part`] reads it, and
    /// where it ends.
    fn scanned(text: &'a str, i: usize) -> Option<(PartKind<'a>, usize)> {
        let mut f: [Option<&str>; 4] = [None; 4];
        let end = scan::walk_members(text, i, |quoted, i| {
            let end = scan::value_end(text.as_bytes(), i)?;
            let at = match &*scan::name(quoted)? {
                "type" => 0,
                "text" => 1,
                "blob" => 2,
                "content" => 3,
                _ => return Some(end),
            };
            let value = text.get(i..end)?;
            f[at] = (value != "null").then_some(value);
            Some(end)
        })?;
        let part = PartKind {
            kind: f[0],
            text: f[1].is_some(),
            blob: f[2].is_some(),
            content: f[3],
        };
        Some((part, end))
    }
}

/// The parts a part list at `text[i]` holds, as [`Parts`] reads them, and
/// where it ends.
fn scanned_parts(text: &str, i: usize) -> Option<(Vec<PartKind<'_>>, usize)> {
    let b = text.as_bytes();
    let mut parts = Vec::new();
    let end = match b.get(i)? {
        b'[' => scan::walk_items(text, i, |j| {
            if b.get(j) != Some(&b'{') {
                return scan::value_end(b, j);
            }
            let (part, end) = PartKind::scanned(text, j)?;
            parts.push(part);
            Some(end)
        })?,
        b'{' => {
            let (part, end) = PartKind::scanned(text, i)?;
            parts.push(part);
            end
        }
        _ => scan::value_end(b, i)?,
    };
    Some((parts, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// JSON text of a value with members named as results and parts name
    /// them, repeated at times, names escaped at times, white space between.
    fn json_text() -> impl Strategy<Value = String> {
        let names = prop_oneof![
            Just("content"),
            Just("contents"),
            Just("messages"),
            Just("isError"),
            Just("resultType"),
            Just("requestState"),
            Just("inputRequests"),
            Just("structuredContent"),
            Just("type"),
            Just("text"),
            Just("blob"),
            Just("method"),
            Just("params"),
            Just("other"),
        ];
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("-1.5e3".to_owned()),
            Just(r#""input_required""#.to_owned()),
            Just(r#""text""#.to_owned()),
            Just(r#""image""#.to_owned()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            "[a-z\\\"\\]}{, ]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            let ws = prop_oneof![Just(""), Just(" "), Just("\n\t ")];
            prop_oneof![
                (proptest::collection::vec(inner.clone(), 0..5), ws.clone())
                    .prop_map(|(v, w)| format!("[{w}{}{w}]", v.join(&format!("{w},{w}")))),
                (
                    proptest::collection::vec((names.clone(), any::<bool>(), inner), 0..6),
                    ws
                )
                    .prop_map(|(m, w)| {
                        let members: Vec<String> = m
                            .into_iter()
                            .map(|(n, esc, v)| {
                                let n = if esc {
                                    n.replacen('t', "\\u0074", 1)
                                } else {
                                    n.into()
                                };
                                format!("{w}\"{n}\"{w}:{w}{v}")
                            })
                            .collect();
                        format!("{{{}{w}}}", members.join(","))
                    }),
            ]
        })
    }

    proptest::proptest! {
        /// The scan reads what `serde_json` reads, from any JSON text.
        #[test]
        fn the_scan_reads_what_serde_reads(text in json_text()) {
            let raw = RawValue::from_string(text.clone()).unwrap();
            let parsed = format!("{:?}", ResultSummary::read_parsed(&raw));
            match ResultSummary::read_scanned(&text) {
                Some(s) => proptest::prop_assert_eq!(format!("{s:?}"), parsed, "{}", text),
                None => proptest::prop_assert!(!text.starts_with('{'), "{}", text),
            }
        }
    }
}
