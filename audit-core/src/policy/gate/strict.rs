//! Strict reading of a client→server frame: the gate judges a frame only if
//! it reads the same way in every official SDK's reader, else it refuses it.
//!
//! A frame is read only when it is valid UTF-8, holds no byte sequence that
//! some reader treats as a line end (one trailing `\r` of a CRLF line end
//! aside), and is strict JSON (RFC 8259, as `serde_json` reads it: no `NaN` or
//! `Infinity`, no lone surrogate escapes, no number beyond `f64`, no raw
//! control characters in strings) nested at most [`MAX_DEPTH`] levels. The
//! SDKs read more leniently (the Python SDK splits lines at `\r` and accepts
//! `NaN`, `Infinity` and `1e400`; the TypeScript SDK decodes invalid UTF-8 as
//! U+FFFD and keeps lone surrogates), so each of those is a frame whose
//! meaning the gate cannot be sure of.

use memchr::memchr3_iter;
use serde_json::Value;

/// Deepest nesting of arrays and objects read: `serde_json`'s recursion
/// limit (a frame nested 128 levels deep is refused).
pub const MAX_DEPTH: usize = 127;

/// Why a frame cannot be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unjudgeable {
    /// Not valid UTF-8 (the SDKs decode it with replacement characters).
    InvalidUtf8,
    /// Holds a line end of some reader: CR, NEL, U+2028 or U+2029.
    LineSeparator,
    /// Not strict JSON.
    NotStrictJson,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A `tools/call` whose `params` or `name` is not what the protocol says.
    MalformedCall,
}

impl Unjudgeable {
    /// The rule name recorded and sent back: `unjudgeable_frame:<reason>`.
    pub fn rule(self) -> &'static str {
        match self {
            Unjudgeable::InvalidUtf8 => "unjudgeable_frame:invalid_utf8",
            Unjudgeable::LineSeparator => "unjudgeable_frame:line_separator",
            Unjudgeable::NotStrictJson => "unjudgeable_frame:not_strict_json",
            Unjudgeable::TooDeep => "unjudgeable_frame:too_deep",
            Unjudgeable::MalformedCall => "unjudgeable_frame:malformed_call",
        }
    }

    /// What the client is told.
    pub fn message(self) -> String {
        let why = match self {
            Unjudgeable::InvalidUtf8 => "it is not valid UTF-8".to_owned(),
            Unjudgeable::LineSeparator => {
                "it holds a line separator (CR, NEL, U+2028 or U+2029) that some MCP readers split at"
                    .to_owned()
            }
            Unjudgeable::NotStrictJson => {
                "it is not strict JSON (NaN, Infinity, out-of-range numbers and lone surrogates are not)".to_owned()
            }
            Unjudgeable::TooDeep => format!("it is nested deeper than {MAX_DEPTH} levels"),
            Unjudgeable::MalformedCall => "its tools/call params or tool name are malformed".to_owned(),
        };
        format!("frame refused because the gate cannot judge it: {why}")
    }
}

/// The frame (without its `\n`) read strictly, or why it cannot be.
pub fn read(frame: &[u8]) -> Result<Value, Unjudgeable> {
    serde_json::from_str(text(frame)?).map_err(|e| unjudgeable(&e))
}

/// The frame as text a strict reader may parse: valid UTF-8 without line
/// separators (one trailing `\r` removed).
pub fn text(frame: &[u8]) -> Result<&str, Unjudgeable> {
    let frame = frame.strip_suffix(b"\r").unwrap_or(frame);
    let text = std::str::from_utf8(frame).map_err(|_| Unjudgeable::InvalidUtf8)?;
    if holds_line_separator(frame) {
        return Err(Unjudgeable::LineSeparator);
    }
    Ok(text)
}

/// Why `serde_json` could not read a frame.
pub fn unjudgeable(e: &serde_json::Error) -> Unjudgeable {
    // serde_json reports its recursion limit only through the message.
    if e.to_string().starts_with("recursion limit exceeded") {
        Unjudgeable::TooDeep
    } else {
        Unjudgeable::NotStrictJson
    }
}

/// Whether valid UTF-8 `text` holds CR, NEL (C2 85), U+2028 or U+2029
/// (E2 80 A8/A9). Other splitting characters (VT, FF, FS, GS, RS) are control
/// characters that strict JSON refuses anyway.
pub fn holds_line_separator(text: &[u8]) -> bool {
    memchr3_iter(b'\r', 0xC2, 0xE2, text).any(|i| match text[i] {
        b'\r' => true,
        0xC2 => text.get(i + 1) == Some(&0x85),
        _ => matches!(text.get(i + 1..i + 3), Some([0x80, 0xA8 | 0xA9])),
    })
}

/// The pieces some reader would see in `frame`: split at every separator
/// [`holds_line_separator`] looks for (bytewise; pieces may be empty).
pub fn pieces(frame: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < frame.len() {
        let len = match frame[i] {
            b'\r' => 1,
            0xC2 if frame.get(i + 1) == Some(&0x85) => 2,
            0xE2 if matches!(frame.get(i + 1..i + 3), Some([0x80, 0xA8 | 0xA9])) => 3,
            _ => 0,
        };
        if len > 0 {
            out.push(&frame[start..i]);
            i += len;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&frame[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json_only() {
        assert!(read(br#"{"a":[1,"x",{"b":null}]}"#).is_ok());
        assert!(read(b"{\"a\":1}\r").is_ok(), "a CRLF line end is fine");
        for bad in [
            &br#"{"a":NaN}"#[..],
            br#"{"a":Infinity}"#,
            br#"{"a":-Infinity}"#,
            br#"{"a":1e400}"#,
            br#"{"a":"\ud800"}"#,
            br#"{"a":"\udc00x"}"#,
            b"{\"a\":\"\x01\"}",
            b"{\"a\":1}\x0b",
            b"\xef\xbb\xbf{}",
            br#"{"a":1}{"b":2}"#,
        ] {
            assert_eq!(
                read(bad),
                Err(Unjudgeable::NotStrictJson),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(read(b"{\"a\":\"\xff\"}"), Err(Unjudgeable::InvalidUtf8));
    }

    #[test]
    fn separators_of_any_reader_are_refused() {
        for sep in ["\r", "\u{85}", "\u{2028}", "\u{2029}"] {
            let frame = format!("{{\"a\":1}}{sep}{{\"b\":2}}");
            assert_eq!(read(frame.as_bytes()), Err(Unjudgeable::LineSeparator));
            let inside = format!("{{\"a\":\"x{sep}y\"}}");
            assert_eq!(read(inside.as_bytes()), Err(Unjudgeable::LineSeparator));
            assert_eq!(pieces(frame.as_bytes()), [&b"{\"a\":1}"[..], b"{\"b\":2}"]);
        }
        // Escaped, they are ordinary characters.
        assert!(read(br#"{"a":"\r\u2028\u0085"}"#).is_ok());
        // Other characters starting with C2 or E2 pass.
        assert!(read("{\"a\":\"\u{a9}\u{2022}\"}".as_bytes()).is_ok());
    }

    #[test]
    fn depth_up_to_the_limit() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(read(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            read(nested(MAX_DEPTH + 1).as_bytes()),
            Err(Unjudgeable::TooDeep)
        );
        assert_eq!(read(nested(10_000).as_bytes()), Err(Unjudgeable::TooDeep));
    }
}
