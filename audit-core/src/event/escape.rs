//! JSON for one trail line that every line reader reads as one line.
//!
//! serde_json escapes `"`, `\` and the C0 controls (U+0000–U+001F). A peer's
//! string may still hold DEL, the C1 controls (U+0080–U+009F, NEL U+0085
//! among them) and the Unicode line and paragraph separators (U+2028,
//! U+2029): valid inside a JSON string, but line breaks to Python's
//! `str.splitlines`, to JavaScript before ES2019 and to terminals. Here they
//! are written as `\uXXXX` escapes too, in every string of the line, keys
//! included, so a line holds no raw control or separator character at all.
//! Escaping changes no value: a JSON reader gets the same string back.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

/// Compact JSON, with the extra escapes of this module.
#[derive(Debug, Default, Clone, Copy)]
struct LineSafe;

impl Formatter for LineSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // What this escapes starts with a byte of 0x7F or above; most
        // fragments (keys, ASCII text) have none and are written whole.
        if !has_byte_from_7f(fragment.as_bytes()) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (at, c) in escapes(fragment) {
            writer.write_all(&fragment.as_bytes()[start..at])?;
            write!(writer, "\\u{:04x}", c as u32)?;
            start = at + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_raw_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Raw JSON text: its strings are re-escaped by parsing it again.
        match serde_json::from_str::<serde_json::Value>(fragment) {
            Ok(v) => v
                .serialize(&mut Serializer::with_formatter(writer, LineSafe))
                .map_err(io::Error::other),
            Err(_) => writer.write_all(b"null"),
        }
    }
}

/// True for a character this module escapes beyond serde_json's own.
pub fn needs_escape(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}')
}

/// Whether any byte of `bytes` is 0x7F or above. One pass without an early
/// exit, which the compiler vectorises; cheaper than a searcher's set-up on
/// the short strings most fragments are.
fn has_byte_from_7f(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |any, &b| any | (b >= 0x7f))
}

/// The characters of `s` to escape, with their byte offsets. Their UTF-8
/// forms start with 0x7F, 0xC2 or 0xE2, so other bytes are skipped fast.
fn escapes(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    memchr::memchr3_iter(0x7f, 0xc2, 0xe2, s.as_bytes()).filter_map(move |at| {
        let c = s[at..].chars().next()?;
        needs_escape(c).then_some((at, c))
    })
}

/// Appends `value` to `out` as compact JSON with no raw control or line
/// separator character in it (see the module docs).
pub fn write_line_safe<T: ?Sized + Serialize>(
    out: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<()> {
    value.serialize(&mut Serializer::with_formatter(out, LineSafe))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn line(v: &Value) -> String {
        let mut out = Vec::new();
        write_line_safe(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn separators_and_controls_are_escaped_in_keys_and_values() {
        let v = json!({"k\u{2028}": ["a\u{2029}b\u{85}c\u{7f}d\u{9f}\r\n\u{1b}é€"]});
        let s = line(&v);
        assert_eq!(
            s,
            r#"{"k\u2028":["a\u2029b\u0085c\u007fd\u009f\r\n\u001bé€"]}"#
        );
        assert!(!s.chars().any(|c| c.is_control() || needs_escape(c)));
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
    }

    #[test]
    fn everything_else_is_as_serde_json_writes_it() {
        let v = json!({"a": 1, "b": [true, null, 2.5], "c": "plain \"q\" \\ é ☃ 😀"});
        assert_eq!(line(&v), serde_json::to_string(&v).unwrap());
    }

    #[test]
    fn the_fast_test_sees_every_byte_from_7f() {
        for b in 0..=255u8 {
            let mut bytes = vec![b'a'; 40];
            bytes[37] = b;
            assert_eq!(has_byte_from_7f(&bytes), b >= 0x7f, "{b:#x}");
        }
        let v = json!(["\u{7f}", "x\u{2028}", "é"]);
        assert_eq!(line(&v), r#"["\u007f","x\u2028","é"]"#);
    }

    #[test]
    fn raw_fragments_are_re_escaped() {
        let raw = serde_json::value::RawValue::from_string("{\"x\":\"\u{2028}\"}".into()).unwrap();
        let mut out = Vec::new();
        write_line_safe(&mut out, &raw).unwrap();
        assert_eq!(out, br#"{"x":"\u2028"}"#);
    }
}
