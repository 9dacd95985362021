//! The text that replaces what was removed, and truncation.
//!
//! Markers:
//!
//! - `<redacted:KIND>` for a removed secret, or `<redacted:KIND:hmac:TAG>` in
//!   keyed mode (TAG: 12 hex digits, see [`super::keyed`]);
//! - `…<truncated:N chars>` at the end of a cut string, N being the length of
//!   the string before the cut, in Unicode scalar values.
//!
//! Markers never match a rule: the scanner skips any match that overlaps a
//! marker, so redacting a redacted string changes nothing.

use memchr::memmem;

/// How every redaction marker starts.
pub const REDACTED_OPEN: &str = "<redacted:";

/// How the truncation marker starts (`…` is U+2026).
pub const TRUNCATED_OPEN: &str = "…<truncated:";

/// The marker for a secret of `kind`, tagged with `tag` in keyed mode.
pub fn redacted(kind: &str, tag: Option<&str>) -> String {
    match tag {
        Some(t) => format!("{REDACTED_OPEN}{kind}:hmac:{t}>"),
        None => format!("{REDACTED_OPEN}{kind}>"),
    }
}

/// Longest body of a redaction marker (kind plus keyed tag).
const MAX_BODY: usize = 120;

/// True if `s` is exactly one redaction marker (nothing to redact in it).
pub fn is_redacted(s: &str) -> bool {
    s.starts_with(REDACTED_OPEN) && marker_len(s.as_bytes()) == Some(s.len())
}

/// Length of the well-formed redaction marker at the start of `b`: the
/// opening, 1 to 120 bytes of `[a-z0-9_.:-]`, then `>`. Kinds and tags are
/// made only of those bytes, so a secret (which has upper case, `/`, `+` or
/// `=` in it, or is long) wrapped in a fake marker is not mistaken for one.
fn marker_len(b: &[u8]) -> Option<usize> {
    let body = b.strip_prefix(REDACTED_OPEN.as_bytes())?;
    let n = body
        .iter()
        .take(MAX_BODY + 1)
        .take_while(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b':' | b'-'))
        .count();
    ((1..=MAX_BODY).contains(&n) && body.get(n) == Some(&b'>'))
        .then_some(REDACTED_OPEN.len() + n + 1)
}

/// Byte ranges of the well-formed markers in `s`, in order.
pub fn spans(s: &str, out: &mut Vec<(usize, usize)>) {
    let bytes = s.as_bytes();
    for start in memmem::find_iter(bytes, REDACTED_OPEN.as_bytes()) {
        if let Some(n) = marker_len(&bytes[start..]) {
            out.push((start, start + n));
        }
    }
    if let Some(at) = truncation_at(s) {
        out.push((at, s.len()));
    }
    out.sort_unstable();
}

/// Where a well-formed truncation marker ending `s` starts.
fn truncation_at(s: &str) -> Option<usize> {
    let tail = s.strip_suffix(" chars>")?;
    let at = tail.rfind(TRUNCATED_OPEN)?;
    let digits = &tail[at + TRUNCATED_OPEN.len()..];
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(at)
}

/// `s` cut to at most `max` chars (marker included) if it is longer, or `None`
/// if it is short enough or already cut. `max == 0` disables truncation.
///
/// When `max` is smaller than the marker itself, the result is the marker
/// alone (and a little longer than `max`); it is still left alone the next
/// time, so truncation is idempotent.
pub fn truncate(s: &str, max: usize) -> Option<String> {
    if max == 0 || s.len() <= max {
        return None; // a char is at least one byte
    }
    let chars = count_chars(s);
    if chars <= max {
        return None;
    }
    if let Some(at) = truncation_at(s) {
        // Already cut: the kept part fits, only the marker may overhang.
        let marker_chars = s[at..].chars().count();
        if chars <= max.max(marker_chars) {
            return None;
        }
    }
    let marker = format!("{TRUNCATED_OPEN}{chars} chars>");
    let keep = max.saturating_sub(marker.chars().count());
    let cut = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    let mut out = String::with_capacity(cut + marker.len());
    out.push_str(&s[..cut]);
    out.push_str(&marker);
    Some(out)
}

/// `s.chars().count()` in vectorised blocks: every string longer than `max`
/// is counted whole.
fn count_chars(s: &str) -> usize {
    // Every byte but a UTF-8 continuation byte (`0b10xx_xxxx`) starts a char.
    crate::bytescan::count_where(s.as_bytes(), |b| (b as i8) >= -0x40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn count_chars_is_chars_count(s in ".{0,600}", ascii in "[ -~]{0,300}") {
            let s = format!("{ascii}{s}{ascii}");
            prop_assert_eq!(count_chars(&s), s.chars().count());
        }
    }

    #[test]
    fn markers_are_recognised() {
        assert!(is_redacted("<redacted:jwt>"));
        assert!(is_redacted(&redacted("key:password", Some("0123456789ab"))));
        assert!(!is_redacted("<redacted:jwt> and more>"));
        assert!(!is_redacted("x<redacted:jwt>"));
        assert!(
            !is_redacted("<redacted:ghp_ABCdef0123>"),
            "upper case is no kind"
        );
        let mut v = Vec::new();
        let s = "a <redacted:jwt> b <redacted:x";
        spans(s, &mut v);
        assert_eq!(v, vec![(2, 16)]);
    }

    #[test]
    fn truncation_keeps_within_max_and_records_length() {
        let s = "é".repeat(1000);
        let t = truncate(&s, 100).unwrap();
        assert_eq!(t.chars().count(), 100);
        assert!(t.ends_with("…<truncated:1000 chars>"), "{t}");
        assert!(t.starts_with("éé"));
        assert_eq!(truncate(&t, 100), None);
        assert_eq!(truncate(&s, 1000), None);
        assert_eq!(truncate(&s, 0), None);
    }

    #[test]
    fn tiny_max_is_still_idempotent() {
        let s = "x".repeat(50);
        let t = truncate(&s, 5).unwrap();
        assert_eq!(t, "…<truncated:50 chars>");
        assert_eq!(truncate(&t, 5), None);
    }

    #[test]
    fn a_fake_marker_on_a_long_string_does_not_stop_truncation() {
        let s = format!("{}…<truncated:3 chars>", "y".repeat(500));
        let t = truncate(&s, 100).unwrap();
        assert!(t.chars().count() <= 100);
        assert_eq!(truncate(&t, 100), None);
    }
}
