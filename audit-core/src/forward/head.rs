//! The envelope fields of a stamped line that the wire formats put in their
//! own headers (syslog structured data, OTLP record fields), read from the
//! line with borrowed types. A line that is not an event object yields an
//! empty head: it is still forwarded, whole, as the message.

use std::borrow::Cow;

/// The fields of one event line that forwarding looks at.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Head<'a> {
    #[serde(borrow, default)]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub severity: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub outcome: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub server: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub tool: Option<Cow<'a, str>>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(borrow, default)]
    pub prev_hash: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub hash: Option<Cow<'a, str>>,
}

impl<'a> Head<'a> {
    /// The head of `line` (without its newline); empty if it is not an object.
    pub fn parse(line: &'a [u8]) -> Head<'a> {
        serde_json::from_slice(line).unwrap_or_default()
    }
}

/// `line` without its trailing newline.
pub fn trim_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_envelope_fields_and_tolerates_junk() {
        let h = Head::parse(br#"{"v":1,"event_id":"e1","type":"tool_call","seq":4,"tool":"a\"b","arguments":{"x":1}}"#);
        assert_eq!(h.event_id.as_deref(), Some("e1"));
        assert_eq!(h.kind.as_deref(), Some("tool_call"));
        assert_eq!(h.tool.as_deref(), Some("a\"b"));
        assert_eq!(h.seq, Some(4));
        assert!(Head::parse(b"not json").event_id.is_none());
        assert!(Head::parse(b"[1,2]").kind.is_none());
    }
}
