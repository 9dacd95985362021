//! Escaping for the HTML reports: every string that comes from the trail
//! (peer-controlled tool names, users, servers, error text) goes through
//! [`escape`] before it is written into a page, in element text or in a
//! quoted attribute value.

use html_escape::encode_safe;

use crate::trail::format::safe;

/// `s` made safe as HTML text and as a quoted attribute value: `&`, `<`,
/// `>`, `"`, `'` and `/` become character references, and control
/// characters are shown as Rust escapes (`\n`, `\u{1b}`), so no byte of a
/// peer string can open a tag, close an attribute or hide as a control.
pub fn escape(s: &str) -> String {
    encode_safe(&safe(s)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_cannot_be_injected() {
        let hostile = r#"<script>alert(1)</script><img src=x onerror="a('b')">&amp;"#;
        let out = escape(hostile);
        for c in ['<', '>', '"', '\''] {
            assert!(!out.contains(c), "{c} survived in {out}");
        }
        assert!(out.starts_with("&lt;script&gt;"), "{out}");
        assert!(out.ends_with("&amp;amp;"), "{out}");
    }

    #[test]
    fn controls_are_shown_and_plain_text_is_kept() {
        assert_eq!(escape("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(escape("get-sum é"), "get-sum é");
    }
}
