//! The trail's line invariant as a function, for the property test and the
//! fuzz target (`fuzz/fuzz_targets/classify.rs`): frames in, in either
//! direction, through the classifier, the redactor and the stamper; every
//! line out must be one JSON object with no raw control or line separator
//! character, ending where the stamper ends lines.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::{Classifier, ClassifyConfig, SessionFacts};
use crate::clock::SessionClock;
use crate::event::{needs_escape, Direction};
use crate::frame::Frame;
use crate::handoff::{ChildExit, SessionEnd};
use crate::redact::{RedactConfig, Redactor};
use crate::stamp::{canonical_bytes, SessionIdentity, Stamper};

/// The stamped lines (each with its newline) that `frames` yield, session
/// end included.
pub fn trail_of(frames: &[(Direction, &[u8])]) -> Vec<Vec<u8>> {
    let t0 = Instant::now();
    let clock = SessionClock::anchored(SystemTime::UNIX_EPOCH, t0);
    let mut c = Classifier::new(ClassifyConfig::default(), SessionFacts::default(), clock);
    // Built once: compiling the patterns is most of a small input's cost.
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    let redactor = REDACTOR
        .get_or_init(|| Redactor::new(&RedactConfig::default()).expect("default redaction"));
    let identity = SessionIdentity {
        session_id: "s".into(),
        server: "srv\u{2028}".into(),
        user: "u\r".into(),
        host: "host-1".into(),
    };
    let mut stamper = Stamper::new(identity, [1; 32]);
    let mut events = Vec::new();
    for (n, (direction, bytes)) in frames.iter().enumerate() {
        let frame = Frame {
            direction: *direction,
            at: t0 + Duration::from_millis(n as u64),
            bytes: Bytes::copy_from_slice(bytes),
            len: bytes.len(),
            sha256: None,
            terminated: true,
            after_gap: false,
        };
        c.observe(&frame, &mut events);
    }
    let end = SessionEnd {
        at: t0 + Duration::from_secs(1),
        exit: ChildExit::Code(0),
        reason: "client_eof".into(),
    };
    c.end(&end, &mut events);
    let mut lines = Vec::new();
    for mut e in events {
        let alert = redactor.redact_event(&mut e);
        for e in std::iter::once(e).chain(alert) {
            let mut line = Vec::new();
            stamper.stamp(&e, &mut line);
            lines.push(line);
        }
    }
    lines
}

/// Why `line` breaks the invariant, if it does.
pub fn line_fault(line: &[u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(line) else {
        return Some("not UTF-8".into());
    };
    let Some(body) = text.strip_suffix('\n') else {
        return Some(format!("no newline at the end: {text:?}"));
    };
    if let Some(c) = body.chars().find(|&c| c.is_control() || needs_escape(c)) {
        return Some(format!("raw {c:?} in {body:?}"));
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) if v.is_object() => {}
        _ => return Some(format!("not a JSON object: {body}")),
    }
    canonical_bytes(body.as_bytes())
        .is_none()
        .then(|| format!("no hash member at the end: {body}"))
}
