//! A recorded session as `check` and `diff` read it: its audit events (as
//! JSON), whether its hash chain holds and whether it ended cleanly, from a
//! transcript or from audit files alike.
//!
//! A transcript's events are made by running its frames through the same
//! [`Auditor`] the proxy runs (with default redaction, so that
//! `secret_detected` is found), so a rule means the same on both.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use crate::auditor::{Auditor, AuditorConfig};
use crate::classify::SessionFacts;
use crate::event::Direction;
use crate::handoff::{AuditMsg, ChildExit, Refusal, SessionEnd};
use crate::redact::{RedactConfig, Redactor};
use crate::stamp::SessionIdentity;
use crate::transcript::{looks_like_transcript, read_transcript, verify_chain, Dir, Transcript};
use crate::verify::{read, verify_paths};

/// Why a session cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {why}")]
    Unreadable { path: PathBuf, why: String },
}

/// One session (a transcript, or the audit files given).
#[derive(Debug)]
pub struct Loaded {
    /// What was read, for messages.
    pub label: String,
    pub events: Vec<Value>,
    /// `Err` names where the hash chain breaks.
    pub chain: Result<(), String>,
    /// `Err` says why the session did not end cleanly.
    pub clean_end: Result<(), String>,
    /// The transcript, when the input was one.
    pub transcript: Option<Transcript>,
}

/// Loads `paths`: one transcript, or audit files and directories.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    if let [path] = paths {
        if path.is_file() {
            let bytes = read_bytes(path)?;
            if looks_like_transcript(&bytes) {
                return load_transcript(path, &bytes);
            }
        }
    }
    load_audit(paths)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, LoadError> {
    read::read_bytes(path).map_err(|e| LoadError::Unreadable {
        path: path.to_owned(),
        why: e.to_string(),
    })
}

fn load_transcript(path: &Path, bytes: &[u8]) -> Result<Loaded, LoadError> {
    let t = read_transcript(bytes).map_err(|e| LoadError::Unreadable {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    let chain = verify_chain(bytes)
        .map(|_| ())
        .map_err(|(line, why)| format!("line {line}: {why}"));
    let clean_end = if !t.ended {
        Err("the transcript has no end line (the proxy did not finish it)".to_string())
    } else if t.lost_frames > 0 {
        Err(format!("{} frames were not recorded", t.lost_frames))
    } else {
        Ok(())
    };
    let mut events = transcript_events(&t);
    events.extend(redacted_frames(&t));
    Ok(Loaded {
        label: path.display().to_string(),
        events,
        chain,
        clean_end,
        transcript: Some(t),
    })
}

/// The audit events the proxy would have written for `t`'s frames.
pub fn transcript_events(t: &Transcript) -> Vec<Value> {
    let identity = SessionIdentity {
        session_id: t.session_id.as_str().into(),
        server: t.server.as_str().into(),
        user: "transcript".into(),
        host: "host-1".into(),
    };
    let mut config = AuditorConfig::new(identity, SessionFacts::default());
    config.parse_limit = t.max_frame_bytes.max(crate::frame::DEFAULT_PARSE_LIMIT);
    config.redactor = Redactor::new(&RedactConfig::default()).ok();
    let mut auditor = Auditor::new(config);
    let start = Instant::now();
    let at = |us: u64| start + Duration::from_micros(us);
    let mut last = 0;
    let mut frames = t.frames.iter().peekable();
    while let Some(f) = frames.next() {
        last = last.max(f.mono_us);
        if let (Dir::C2s, Some(rule)) = (f.dir, &f.refused_by) {
            // The proxy's reply to a refused frame follows it, marked alike.
            let reply = frames.next_if(|r| r.dir == Dir::S2c && r.refused_by.is_some());
            let line = |b: &[u8]| Bytes::from([b, b"\n"].concat());
            auditor.handle(AuditMsg::Refused(Box::new(Refusal {
                at: at(f.mono_us),
                frame: line(&f.bytes),
                reply: reply.map(|r| line(&r.bytes)).unwrap_or_default(),
                rule: rule.clone(),
                dry_run: false,
            })));
            continue;
        }
        let mut bytes = f.bytes.clone();
        if !f.unterminated {
            bytes.push(b'\n');
        }
        let direction = match f.dir {
            Dir::C2s => Direction::ClientToServer,
            Dir::S2c => Direction::ServerToClient,
        };
        auditor.handle(AuditMsg::Chunk {
            direction,
            at: at(f.mono_us),
            bytes: Bytes::from(bytes),
            lost_before: None,
            slack: 0,
        });
    }
    auditor.handle(AuditMsg::End(SessionEnd {
        at: at(last),
        exit: ChildExit::Unknown,
        reason: "transcript_end".into(),
    }));
    parse_lines(&auditor.take_batch())
}

/// A `secret_detected` event for each frame the recording proxy removed
/// secrets from: in a redacted transcript they are placeholders already, so
/// classifying the frames again would not find them.
fn redacted_frames(t: &Transcript) -> impl Iterator<Item = Value> + '_ {
    t.frames.iter().filter(|f| f.redacted).map(|f| {
        serde_json::json!({
            "type": "secret_detected",
            "event_id": format!("transcript-frame-{}", f.seq),
            "details": {"source": "transcript", "frame_seq": f.seq},
        })
    })
}

fn parse_lines(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

fn load_audit(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let unreadable = |why: String| LoadError::Unreadable {
        path: paths.first().cloned().unwrap_or_default(),
        why,
    };
    let files = read::trail_files(paths).map_err(|e| unreadable(e.to_string()))?;
    let mut events = Vec::new();
    for f in &files {
        events.extend(parse_lines(&read_bytes(f)?));
    }
    let report = verify_paths(paths, None).map_err(|e| unreadable(e.to_string()))?;
    let chain = if report.is_ok() {
        Ok(())
    } else {
        Err(report.to_string().trim().replace('\n', "; "))
    };
    Ok(Loaded {
        label: files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        clean_end: audit_clean_end(&events),
        events,
        chain,
        transcript: None,
    })
}

/// Every session ended with status 0 and nothing was lost.
fn audit_clean_end(events: &[Value]) -> Result<(), String> {
    let starts = events
        .iter()
        .filter(|e| e["type"] == "session_start")
        .count();
    let ends: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "session_end")
        .collect();
    if ends.len() < starts.max(1) {
        return Err(format!("{} sessions started, {} ended", starts, ends.len()));
    }
    if let Some(e) = ends.iter().find(|e| e["details"]["exit_status"] != 0) {
        return Err(format!(
            "session_end {} has exit_status {}",
            e["event_id"], e["details"]["exit_status"]
        ));
    }
    if let Some(e) = events.iter().find(|e| e["type"] == "audit_dropped") {
        return Err(format!("audit_dropped {}", e["event_id"]));
    }
    Ok(())
}
