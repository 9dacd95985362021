//! Reading a transcript back: its frames, its header and end, and whether
//! its hash chain holds.

use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::line::Dir;
use crate::stamp::{canonical_bytes, sha256_hex};

/// Why a transcript cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("line {line}: {why}")]
    Line { line: usize, why: String },
    #[error("not a transcript: the first line is not a transcript header")]
    NoHeader,
}

/// One recorded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptFrame {
    pub seq: u64,
    pub dir: Dir,
    pub wall: String,
    pub mono_us: u64,
    /// The frame's bytes as recorded (a prefix if `truncated`).
    pub bytes: Vec<u8>,
    /// Length on the wire.
    pub len: usize,
    pub truncated: bool,
    /// Secrets were removed from this frame.
    pub redacted: bool,
    /// The frame had no newline (the last line of a stream).
    pub unterminated: bool,
    /// The policy rule that refused this client frame, or that the proxy's
    /// reply (this server-side frame) answered for.
    pub refused_by: Option<String>,
}

impl TranscriptFrame {
    /// A whole frame of `bytes` (sequence number and times zero).
    pub fn new(dir: Dir, bytes: &[u8]) -> TranscriptFrame {
        TranscriptFrame {
            seq: 0,
            dir,
            wall: String::new(),
            mono_us: 0,
            bytes: bytes.to_vec(),
            len: bytes.len(),
            truncated: false,
            redacted: false,
            unterminated: false,
            refused_by: None,
        }
    }
}

/// A whole transcript.
#[derive(Debug, Default)]
pub struct Transcript {
    pub redacted: bool,
    pub max_frame_bytes: usize,
    pub session_id: String,
    pub server: String,
    pub frames: Vec<TranscriptFrame>,
    /// The end line was read (the writer finished the session).
    pub ended: bool,
    pub lost_frames: u64,
    pub truncated_frames: u64,
}

#[derive(Deserialize)]
struct Line<'a> {
    kind: &'a str,
    #[serde(default)]
    redacted: serde_json::Value,
    #[serde(default)]
    max_frame_bytes: usize,
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    server: String,
    #[serde(default)]
    seq: u64,
    dir: Option<Dir>,
    #[serde(default)]
    wall: String,
    #[serde(default)]
    mono_us: u64,
    #[serde(default)]
    len: usize,
    #[serde(default)]
    truncated: bool,
    #[serde(default)]
    unterminated: bool,
    refused_by: Option<String>,
    redactions: Option<usize>,
    #[serde(borrow)]
    json: Option<&'a RawValue>,
    b64: Option<&'a str>,
    #[serde(default)]
    lost_frames: u64,
    #[serde(default)]
    truncated_frames: u64,
}

/// True if `bytes` starts like a transcript (its first line is a header).
pub fn looks_like_transcript(bytes: &[u8]) -> bool {
    bytes.starts_with(b"{\"kind\":\"header\",\"transcript\":")
}

/// Parses a transcript (the file's bytes).
pub fn read_transcript(bytes: &[u8]) -> Result<Transcript, ReadError> {
    if !looks_like_transcript(bytes) {
        return Err(ReadError::NoHeader);
    }
    let mut t = Transcript::default();
    for (i, raw) in lines(bytes).enumerate() {
        let err = |why: String| ReadError::Line { line: i + 1, why };
        let line: Line = serde_json::from_slice(raw).map_err(|e| err(e.to_string()))?;
        match line.kind {
            "header" => {
                t.redacted = line.redacted.as_bool().unwrap_or(true);
                t.max_frame_bytes = line.max_frame_bytes;
                t.session_id = line.session_id;
                t.server = line.server;
            }
            "frame" => {
                let bytes = match (line.json, line.b64) {
                    (Some(j), _) => j.get().as_bytes().to_vec(),
                    (None, Some(b)) => base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|e| err(format!("b64: {e}")))?,
                    (None, None) => return Err(err("a frame without json or b64".into())),
                };
                t.frames.push(TranscriptFrame {
                    seq: line.seq,
                    dir: line.dir.ok_or_else(|| err("a frame without dir".into()))?,
                    wall: line.wall,
                    mono_us: line.mono_us,
                    bytes,
                    len: line.len,
                    truncated: line.truncated,
                    redacted: line.redactions.is_some(),
                    unterminated: line.unterminated,
                    refused_by: line.refused_by,
                });
            }
            "end" => {
                t.ended = true;
                t.lost_frames = line.lost_frames;
                t.truncated_frames = line.truncated_frames;
            }
            other => return Err(err(format!("unknown kind `{other}`"))),
        }
    }
    Ok(t)
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty())
}

/// Checks the hash chain of a transcript: every line's hash, and that each
/// line's `prev_hash` is the hash of the line before. Returns the number of
/// lines, or the first broken one (1-based) and why.
pub fn verify_chain(bytes: &[u8]) -> Result<usize, (usize, String)> {
    let mut prev: Option<String> = None;
    let mut count = 0;
    for (i, line) in lines(bytes).enumerate() {
        let n = i + 1;
        let (canon, claimed) =
            canonical_bytes(line).ok_or((n, "no hash at the end of the line".to_string()))?;
        if sha256_hex(&canon) != claimed {
            return Err((n, "the line does not match its hash".into()));
        }
        // The canonical bytes end with `,"prev_hash":"<64 hex>"}`.
        let at = canon.len().saturating_sub(67);
        let prev_hash = std::str::from_utf8(&canon[at + 1..canon.len() - 2]).unwrap_or("");
        if !canon[..at].ends_with(b",\"prev_hash\":") {
            return Err((n, "no prev_hash".into()));
        }
        if let Some(p) = &prev {
            if p != prev_hash {
                return Err((n, "prev_hash is not the hash of the line before".into()));
            }
        }
        prev = Some(claimed.to_owned());
        count = n;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::super::line::{write_line, FrameLine, Payload};
    use super::*;
    use crate::event::Direction;
    use std::time::SystemTime;

    fn sample() -> Vec<u8> {
        let mut head = [3u8; 32];
        let mut out = Vec::new();
        // Members in the writer's order (serde_json::json! would sort them).
        let header_text =
            br#"{"kind":"header","transcript":1,"redacted":false,"max_frame_bytes":64}"#;
        let raw: &RawValue = serde_json::from_slice(header_text).unwrap();
        write_line(&mut head, &raw, None, &mut out).unwrap();
        let meta = FrameLine::new(1, Direction::ClientToServer, SystemTime::UNIX_EPOCH, 1, 12);
        write_line(
            &mut head,
            &meta,
            Some(Payload::Json(br#"{"a": [1,2]}"#)),
            &mut out,
        )
        .unwrap();
        let meta = FrameLine::new(2, Direction::ServerToClient, SystemTime::UNIX_EPOCH, 2, 2);
        write_line(&mut head, &meta, Some(Payload::Bytes(b"\xff\n")), &mut out).unwrap();
        let end = serde_json::json!({"kind":"end","lost_frames":0});
        write_line(&mut head, &end, None, &mut out).unwrap();
        out
    }

    #[test]
    fn frames_come_back_byte_for_byte() {
        let t = read_transcript(&sample()).unwrap();
        assert!(!t.redacted && t.ended);
        assert_eq!(t.frames.len(), 2);
        assert_eq!(t.frames[0].bytes, br#"{"a": [1,2]}"#);
        assert_eq!(t.frames[1].bytes, b"\xff\n");
        assert_eq!(t.frames[1].dir, Dir::S2c);
        assert_eq!(verify_chain(&sample()), Ok(4));
    }

    #[test]
    fn an_edited_or_removed_line_breaks_the_chain() {
        let good = sample();
        let mut edited = good.clone();
        let at = edited.windows(5).position(|w| w == b"[1,2]").unwrap();
        edited[at + 1] = b'7';
        assert_eq!(verify_chain(&edited).unwrap_err().0, 2);
        let lines: Vec<&[u8]> = lines(&good).collect();
        let mut removed = [lines[0], lines[2], lines[3]].join(&b'\n');
        removed.push(b'\n');
        assert_eq!(verify_chain(&removed).unwrap_err().0, 2);
    }
}
