//! A payload's text, valid JSON (a [`RawValue`]'s), made into the `Value`
//! `serde_json` would make of it, in one pass that goes over a string with
//! no escape by `memchr` and copies it whole. Whatever needs decoding (an
//! escape, a number) is handed to `serde_json`; where it errs, or nesting
//! is deep, `None` leaves the whole payload to `serde_json`, so that what
//! it refuses stays refused.
//!
//! [`RawValue`]: serde_json::value::RawValue

use serde_json::{Map, Value};

use crate::classify::results::scan::{self, skip_ws, string_span};

/// Deepest nesting built here (`serde_json` refuses past 127).
const MAX_DEPTH: usize = 64;

/// `text` as `serde_json::from_str` reads it, or `None` (see the module).
pub(super) fn value(text: &str) -> Option<Value> {
    let (v, end) = value_at(text, skip_ws(text.as_bytes(), 0), 0)?;
    (skip_ws(text.as_bytes(), end) == text.len()).then_some(v)
}

/// The value that starts at `text[i]`, and where it ends.
fn value_at(text: &str, i: usize, depth: usize) -> Option<(Value, usize)> {
    let b = text.as_bytes();
    match *b.get(i)? {
        b'"' => {
            let (end, escaped) = string_span(b, i)?;
            Some((Value::String(string(text.get(i..end)?, escaped)?), end))
        }
        b'[' | b'{' if depth >= MAX_DEPTH => None,
        b'[' => array_at(text, i, depth),
        b'{' => object_at(text, i, depth),
        b't' if text[i..].starts_with("true") => Some((Value::Bool(true), i + 4)),
        b'f' if text[i..].starts_with("false") => Some((Value::Bool(false), i + 5)),
        b'n' if text[i..].starts_with("null") => Some((Value::Null, i + 4)),
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .unwrap_or(b.len() - i);
            let number = serde_json::from_str::<Value>(text.get(i..i + len)?).ok()?;
            number.is_number().then_some((number, i + len))
        }
    }
}

fn array_at(text: &str, i: usize, depth: usize) -> Option<(Value, usize)> {
    let mut items = Vec::new();
    let end = scan::walk_items(text, i, |j| {
        let (v, end) = value_at(text, j, depth + 1)?;
        items.push(v);
        Some(end)
    })?;
    Some((Value::Array(items), end))
}

fn object_at(text: &str, i: usize, depth: usize) -> Option<(Value, usize)> {
    let mut map = Map::new();
    let end = scan::walk_members(text, i, |quoted, j| {
        let (v, end) = value_at(text, j, depth + 1)?;
        // As serde_json's map visitor: a repeated member keeps the last.
        map.insert(scan::name(quoted)?.into_owned(), v);
        Some(end)
    })?;
    Some((Value::Object(map), end))
}

/// A string's JSON text (quotes included) decoded: without an escape, its
/// bytes are the string (valid JSON holds no control byte in one).
fn string(quoted: &str, escaped: bool) -> Option<String> {
    if escaped {
        serde_json::from_str(quoted).ok()
    } else {
        quoted.get(1..quoted.len() - 1).map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    /// True if `text` was built (as serde_json builds it), false if left
    /// to serde_json.
    fn same_as_serde(text: &str) -> bool {
        let raw = RawValue::from_string(text.to_owned()).unwrap();
        let serde = serde_json::from_str::<Value>(raw.get()).ok();
        let built = value(raw.get());
        if built.is_some() {
            assert_eq!(built, serde, "{text}");
        }
        built.is_some()
    }

    #[test]
    fn builds_what_serde_builds() {
        for text in [
            r#"{"content":[{"type":"text","text":"plain"}],"isError":false}"#,
            r#" { "a" : [ 1 , -2.5e3 , true , false , null , "\u00e9\n\"" ] , "a" : {} } "#,
            r#"{"\u0074ype":"x","n":18446744073709551615,"m":-9223372036854775808,"f":0.1}"#,
            r#""é ✓""#,
            "[]",
            "7",
        ] {
            assert!(same_as_serde(text), "{text}");
        }
        // What serde_json refuses is left to it.
        assert!(!same_as_serde("[1e400]"));
        assert!(!same_as_serde(r#"["\ud800"]"#));
    }

    #[test]
    fn deep_nesting_is_left_to_serde() {
        for depth in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 127, 128, 129] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let Ok(raw) = RawValue::from_string(text.clone()) else {
                continue;
            };
            same_as_serde(raw.get());
            assert_eq!(value(&text).is_some(), depth <= MAX_DEPTH, "{depth}");
        }
    }

    fn json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            "-?[0-9]{1,3}(\\.[0-9]{1,3})?([eE][-+]?[0-9]{1,3})?",
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            "[a-z\\\\\"]{0,8}".prop_map(|s| format!("\"{s}\"")),
            "\\\\u[0-9a-fA-F]{4}".prop_map(|s| format!("\"{s}\"")),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let ws = prop_oneof![Just(""), Just(" "), Just("\n\t ")];
            let name = prop_oneof![
                Just("\"a\"".to_owned()),
                Just("\"\\u0061\"".to_owned()),
                any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            ];
            prop_oneof![
                (proptest::collection::vec(inner.clone(), 0..5), ws.clone())
                    .prop_map(|(v, w)| format!("[{w}{}{w}]", v.join(&format!("{w},{w}")))),
                (proptest::collection::vec((name, inner), 0..5), ws).prop_map(|(m, w)| {
                    let m: Vec<String> =
                        m.iter().map(|(n, v)| format!("{w}{n}{w}:{w}{v}")).collect();
                    format!("{{{}{w}}}", m.join(","))
                }),
            ]
        })
    }

    proptest! {
        /// Valid JSON is built as serde_json builds it, or left to it.
        #[test]
        fn the_built_value_is_serdes(text in json()) {
            if let Ok(raw) = RawValue::from_string(text) {
                let serde = serde_json::from_str::<Value>(raw.get()).ok();
                if let Some(v) = value(raw.get()) {
                    prop_assert_eq!(Some(v), serde, "{}", raw.get());
                }
            }
        }
    }
}
