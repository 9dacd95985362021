//! Transcript lines as bytes: pure functions from a frame (or the header, or
//! the end) to the pieces of its line, so that the writer hashes and writes a
//! large payload where it lies, without copying it into the line.

use std::io::{self, Write};
use std::time::SystemTime;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::clock::rfc3339_millis;
use crate::event::Direction;
use crate::stamp::chain_tail;

/// A frame's direction as written in a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dir {
    /// Client to server.
    #[serde(rename = "c2s")]
    C2s,
    /// Server to client.
    #[serde(rename = "s2c")]
    S2c,
}

impl From<Direction> for Dir {
    fn from(d: Direction) -> Dir {
        match d {
            Direction::ClientToServer => Dir::C2s,
            Direction::ServerToClient => Dir::S2c,
        }
    }
}

/// The metadata of a frame line.
#[derive(Debug, Clone, Serialize)]
pub struct FrameLine {
    pub kind: &'static str,
    pub seq: u64,
    pub dir: Dir,
    pub wall: String,
    pub mono_us: u64,
    /// Length of the whole frame on the wire (newline excluded).
    pub len: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub after_gap: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redactions: Option<usize>,
    /// The line has no newline at the end of the stream.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unterminated: bool,
    /// The policy rule that refused this client frame (it never reached
    /// the server), or that this reply of the proxy's answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<String>,
}

impl FrameLine {
    /// A frame line's metadata; `seq` counts frames from 1.
    pub fn new(seq: u64, dir: Direction, wall: SystemTime, mono_us: u64, len: usize) -> FrameLine {
        FrameLine {
            kind: "frame",
            seq,
            dir: dir.into(),
            wall: rfc3339_millis(wall),
            mono_us,
            len,
            after_gap: false,
            truncated: false,
            sha256: None,
            redactions: None,
            unterminated: false,
            refused_by: None,
        }
    }
}

/// What a frame line carries.
#[derive(Debug)]
pub enum Payload<'a> {
    /// JSON text, written as it is.
    Json(&'a [u8]),
    /// Any bytes, written as base64.
    Bytes(&'a [u8]),
}

/// True if `bytes` is one JSON value with no white space around it: then it
/// is written as `json` and read back as exactly these bytes.
pub fn is_exact_json(bytes: &[u8]) -> bool {
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| !b.is_ascii_whitespace());
    edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && serde_json::from_slice::<&serde_json::value::RawValue>(bytes).is_ok()
}

/// Writes one chained line: `meta`'s members, then the payload member, then
/// the chain members. `head` moves to the line's hash.
pub fn write_line(
    head: &mut [u8; 32],
    meta: &impl Serialize,
    payload: Option<Payload<'_>>,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut before = serde_json::to_vec(meta).map_err(io::Error::other)?;
    before.pop(); // the closing brace: members follow
    let encoded;
    let (member, bytes, after): (&[u8], &[u8], &[u8]) = match payload {
        None => (b"", b"", b""),
        Some(Payload::Json(b)) => (b",\"json\":", b, b""),
        Some(Payload::Bytes(b)) => {
            encoded = base64::engine::general_purpose::STANDARD.encode(b);
            (b",\"b64\":\"", encoded.as_bytes(), b"\"")
        }
    };
    before.extend_from_slice(member);
    let tail = chain_tail(head, &[&before, bytes, after]);
    out.write_all(&before)?;
    out.write_all(bytes)?;
    out.write_all(after)?;
    out.write_all(&tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::canonical_bytes;
    use serde_json::Value;

    #[test]
    fn exact_json_has_no_white_space_around_it() {
        assert!(is_exact_json(br#"{"a":[1, 2]}"#));
        assert!(!is_exact_json(br#" {"a":1}"#));
        assert!(!is_exact_json(b"{\"a\":1}\r"));
        assert!(!is_exact_json(b"not json"));
        assert!(!is_exact_json(b"\"\xff\""));
        assert!(!is_exact_json(b""));
    }

    #[test]
    fn a_line_carries_its_payload_and_verifies() {
        let mut head = [1u8; 32];
        let mut out = Vec::new();
        let meta = FrameLine::new(1, Direction::ServerToClient, SystemTime::UNIX_EPOCH, 5, 7);
        write_line(
            &mut head,
            &meta,
            Some(Payload::Json(br#"{"x":1}"#)),
            &mut out,
        )
        .unwrap();
        write_line(
            &mut head,
            &meta,
            Some(Payload::Bytes(b"\xff\x00")),
            &mut out,
        )
        .unwrap();
        let lines: Vec<&[u8]> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let first: Value = serde_json::from_slice(lines[0]).unwrap();
        assert_eq!(first["json"], serde_json::json!({"x": 1}));
        assert_eq!(first["dir"], "s2c");
        let second: Value = serde_json::from_slice(lines[1]).unwrap();
        assert_eq!(second["b64"], "/wA=");
        assert_eq!(second["prev_hash"], first["hash"]);
        for l in lines {
            let (canon, claimed) = canonical_bytes(l).unwrap();
            assert_eq!(crate::stamp::sha256_hex(&canon), claimed);
        }
        assert_eq!(hex::encode(head), second["hash"].as_str().unwrap());
    }
}
