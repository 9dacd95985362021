//! RFC 5424 messages for stamped lines, and their framing: octet counting
//! (RFC 6587 §3.4.1, `LEN SP MSG`) over TCP and TLS, one datagram per
//! message over UDP. Pure: unit-tested without a socket.
//!
//! A message is `<PRI>1 TIMESTAMP HOST mcp-blackbox PROCID TYPE [SD] JSON`:
//! facility 13 (log audit), severity mapped from the event's, the event's own
//! timestamp, structured data `[mcp@32473 …]` with `type`, `severity`,
//! `outcome`, `session`, `tool`, `event_id` and `seq`, and the stamped JSON
//! line as the message. A message over the configured maximum (rsyslog's
//! default is 8 KiB; it cuts a longer one and reads the rest as bogus
//! messages) carries the truncated form instead of the line: the envelope's
//! ids and both hashes, `"truncated":true` and the line's size, and a
//! `truncated="BYTES"` structured-data parameter.

use std::borrow::Cow;
use std::io::Write as _;

use super::head::{trim_newline, Head};

/// The structured-data ID: `mcp` under the documentation enterprise number
/// (RFC 5612), as RFC 5424 §7.2.2 asks for private SD-IDs.
pub const SD_ID: &str = "mcp@32473";
/// Facility 13, "log audit".
const FACILITY: u8 = 13;
/// Longest structured-data parameter value kept (cut on a character boundary).
const MAX_PARAM: usize = 256;
/// The smallest maximum message size accepted: room for the header, the
/// structured data and the truncated form.
pub const MIN_MESSAGE_BYTES: usize = 2048;
/// The default maximum message size (rsyslog's default `maxMessageSize`).
pub const DEFAULT_MESSAGE_BYTES: usize = 8192;

/// How messages are delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `LEN SP MSG` (TCP, TLS).
    OctetCounted,
    /// The message alone (one UDP datagram).
    Datagram,
}

/// The fixed parts of every message of one forwarder.
#[derive(Debug, Clone)]
pub struct SyslogFormat {
    /// HOSTNAME (printable ASCII; `-` when unknown).
    pub hostname: String,
    /// PROCID: the proxy's process id.
    pub procid: u32,
    /// The largest message (without the octet count) sent whole.
    pub max_message: usize,
}

impl SyslogFormat {
    /// Appends the framed message for `line` to `out`; true if the line was
    /// replaced by its truncated form.
    pub fn encode(&self, line: &[u8], framing: Framing, out: &mut Vec<u8>) -> bool {
        let line = trim_newline(line);
        let head = Head::parse(line);
        let mut msg = self.header(&head, None);
        let truncated = msg.len() + line.len() > self.max_message;
        if truncated {
            msg = self.header(&head, Some(line.len()));
            msg.extend_from_slice(&truncated_form(&head, line.len()));
        } else {
            msg.extend_from_slice(line);
        }
        if framing == Framing::OctetCounted {
            let mut len = itoa::Buffer::new();
            out.extend_from_slice(len.format(msg.len()).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&msg);
        truncated
    }

    /// Everything before the message: PRI, header fields, structured data, SP.
    fn header(&self, head: &Head<'_>, truncated: Option<usize>) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let pri = FACILITY * 8 + severity_code(head.severity.as_deref());
        let ts = head
            .timestamp
            .as_deref()
            .filter(|t| is_timestamp(t))
            .unwrap_or("-");
        let msgid = head
            .kind
            .as_deref()
            .filter(|k| is_token(k, 32))
            .unwrap_or("-");
        let host = Some(self.hostname.as_str())
            .filter(|h| is_token(h, 255))
            .unwrap_or("-");
        let _ = write!(
            out,
            "<{pri}>1 {ts} {host} mcp-blackbox {} {msgid} [{SD_ID}",
            self.procid
        );
        let params: [(&str, Option<Cow<'_, str>>); 7] = [
            ("type", head.kind.clone()),
            ("severity", head.severity.clone()),
            ("outcome", head.outcome.clone()),
            ("session", head.session_id.clone()),
            ("tool", head.tool.clone()),
            ("event_id", head.event_id.clone()),
            ("seq", head.seq.map(|s| s.to_string().into())),
        ];
        for (name, value) in params.iter().filter_map(|(n, v)| Some((n, v.as_deref()?))) {
            let _ = write!(out, " {name}=\"");
            escape_param(value, &mut out);
            out.push(b'"');
        }
        if let Some(bytes) = truncated {
            let _ = write!(out, " truncated=\"{bytes}\"");
        }
        out.extend_from_slice(b"] ");
        out
    }
}

/// The message of an event too large to send whole: its ids and hashes.
pub fn truncated_form(head: &Head<'_>, bytes: usize) -> Vec<u8> {
    let cut = |v: &Option<Cow<'_, str>>| v.as_deref().map(|s| cap(s).to_owned());
    let value = serde_json::json!({
        "v": 1,
        "event_id": cut(&head.event_id),
        "timestamp": cut(&head.timestamp),
        "type": cut(&head.kind),
        "severity": cut(&head.severity),
        "outcome": cut(&head.outcome),
        "session_id": cut(&head.session_id),
        "server": cut(&head.server),
        "user": cut(&head.user),
        "tool": cut(&head.tool),
        "seq": head.seq,
        "prev_hash": cut(&head.prev_hash),
        "hash": cut(&head.hash),
        "truncated": true,
        "bytes": bytes,
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

/// Syslog severity (RFC 5424 §6.2.1) of an event severity.
pub fn severity_code(severity: Option<&str>) -> u8 {
    match severity {
        Some("critical") => 2,
        Some("error") => 3,
        Some("warning") => 4,
        Some("info") => 6,
        _ => 5,
    }
}

/// An RFC 3339 timestamp as the trail writes them (digits and `-:.TZ+`).
fn is_timestamp(t: &str) -> bool {
    (20..=32).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b"-:.TZ+".contains(&b))
}

/// PRINTUSASCII, 1 to `max` characters.
fn is_token(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(|b| (33..=126).contains(&b))
}

/// `s` cut to at most [`MAX_PARAM`] bytes, on a character boundary.
fn cap(s: &str) -> &str {
    if s.len() <= MAX_PARAM {
        return s;
    }
    let mut end = MAX_PARAM;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash (§6.3.3).
fn escape_param(value: &str, out: &mut Vec<u8>) {
    for b in cap(value).bytes() {
        if matches!(b, b'"' | b'\\' | b']') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(max: usize) -> SyslogFormat {
        SyslogFormat {
            hostname: "laptop".into(),
            procid: 42,
            max_message: max,
        }
    }

    const LINE: &str = r#"{"v":1,"event_id":"e-1","timestamp":"2026-11-23T16:12:40.123Z","type":"tool_call","severity":"warning","outcome":"pending","session_id":"s-1","seq":4,"tool":"rm \"x]\\","arguments":{"path":"/tmp"},"prev_hash":"aa","hash":"bb"}"#;

    #[test]
    fn formats_an_octet_counted_rfc5424_message() {
        let mut out = Vec::new();
        assert!(!format(8192).encode(
            format!("{LINE}\n").as_bytes(),
            Framing::OctetCounted,
            &mut out
        ));
        let text = String::from_utf8(out).unwrap();
        let (len, msg) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len());
        let expected = format!(
            "<108>1 2026-11-23T16:12:40.123Z laptop mcp-blackbox 42 tool_call [mcp@32473 type=\"tool_call\" severity=\"warning\" outcome=\"pending\" session=\"s-1\" tool=\"rm \\\"x\\]\\\\\" event_id=\"e-1\" seq=\"4\"] {LINE}"
        );
        assert_eq!(msg, expected);
    }

    #[test]
    fn a_datagram_has_no_count_and_junk_gets_nil_fields() {
        let mut out = Vec::new();
        format(8192).encode(b"not json\n", Framing::Datagram, &mut out);
        assert_eq!(
            out,
            b"<109>1 - laptop mcp-blackbox 42 - [mcp@32473] not json"
        );
    }

    #[test]
    fn an_oversized_event_keeps_ids_and_hashes() {
        let big = LINE.replace("/tmp", &"x".repeat(10_000));
        let mut out = Vec::new();
        assert!(format(2048).encode(big.as_bytes(), Framing::OctetCounted, &mut out));
        let text = String::from_utf8(out).unwrap();
        let (len, msg) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len());
        assert!(msg.len() <= 2048);
        assert!(msg.contains(&format!(" truncated=\"{}\"]", big.len())));
        let json: serde_json::Value =
            serde_json::from_str(&msg[msg.find("] {").unwrap() + 2..]).unwrap();
        assert_eq!(json["event_id"], "e-1");
        assert_eq!(json["hash"], "bb");
        assert_eq!(json["prev_hash"], "aa");
        assert_eq!(json["seq"], 4);
        assert_eq!(json["truncated"], true);
        assert_eq!(json["bytes"], big.len());
    }

    #[test]
    fn long_params_are_cut_on_a_char_boundary() {
        let tool = "é".repeat(300);
        let line = format!(r#"{{"tool":"{tool}"}}"#);
        let mut out = Vec::new();
        format(8192).encode(line.as_bytes(), Framing::Datagram, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("tool=\"{}\"", "é".repeat(128))));
    }
}
