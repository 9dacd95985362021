//! The envelope and the hash chain: turns an [`Event`] into one JSONL line.
//!
//! A [`Stamper`] owns one session's sequence counter and chain head. Every line
//! is written as
//!
//! ```text
//! {"v":1,"event_id":…,"timestamp":…,"type":…,"severity":…,"outcome":…,
//!  "session_id":…,"server":…,"user":…,"seq":N, <event fields>,
//!  "prev_hash":"<hex>","hash":"<hex>"}
//! ```
//!
//! `hash` is SHA-256 over the line's *canonical bytes*: the line exactly as
//! written, minus the trailing `,"hash":"<64 hex>"` member. Since
//! `prev_hash` is inside the canonical bytes, each line commits to the whole
//! chain before it. A verifier recomputes it from the raw line without
//! re-serialising anything (see [`canonical_bytes`]). The first event's
//! `prev_hash` is the session's random seed, recorded in `session_start` as
//! `details.chain_seed`.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::rfc3339_millis;
use crate::event::{new_event_id, Event, EventType, Outcome, Severity, SCHEMA_VERSION};

/// The suffix every stamped line ends with, before the newline: `,"hash":"` +
/// 64 hex digits + `"}`.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// Who and what a session is, stamped on each of its lines.
#[derive(Debug, Clone)]
pub struct SessionIdentity {
    pub session_id: Arc<str>,
    pub server: Arc<str>,
    pub user: Arc<str>,
}

#[derive(Serialize)]
struct Head<'a> {
    v: u32,
    event_id: &'a str,
    timestamp: &'a str,
    #[serde(rename = "type")]
    event_type: EventType,
    severity: Severity,
    outcome: Outcome,
    session_id: &'a str,
    server: &'a str,
    user: &'a str,
    seq: u64,
}

/// Stamps and chains one session's events.
#[derive(Debug)]
pub struct Stamper {
    identity: SessionIdentity,
    seq: u64,
    head: [u8; 32],
    seed: [u8; 32],
}

impl Stamper {
    /// A stamper whose chain starts at `seed`.
    pub fn new(identity: SessionIdentity, seed: [u8; 32]) -> Stamper {
        Stamper {
            identity,
            seq: 0,
            head: seed,
            seed,
        }
    }

    /// A stamper with a fresh random seed.
    pub fn with_random_seed(identity: SessionIdentity) -> Stamper {
        let mut seed = [0u8; 32];
        // A seed is not a secret; if the OS cannot give randomness, a
        // time-derived one still makes chains distinct per session.
        if getrandom::fill(&mut seed).is_err() {
            let t = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            seed = Sha256::digest(format!("{t:?}{}", identity.session_id)).into();
        }
        Stamper::new(identity, seed)
    }

    /// The chain's seed, as hex.
    pub fn seed_hex(&self) -> String {
        hex::encode(self.seed)
    }

    /// The current chain head (hash of the last line), as hex.
    pub fn head_hex(&self) -> String {
        hex::encode(self.head)
    }

    /// Number of lines stamped so far.
    pub fn count(&self) -> u64 {
        self.seq
    }

    /// The identity stamped on every line.
    pub fn identity(&self) -> &SessionIdentity {
        &self.identity
    }

    /// Appends `event` as one line (with its newline) to `out`; returns its `event_id`.
    pub fn stamp(&mut self, event: &Event, out: &mut Vec<u8>) -> String {
        self.seq += 1;
        let event_id = event.event_id.clone().unwrap_or_else(new_event_id);
        let timestamp = rfc3339_millis(event.at);
        let head = Head {
            v: SCHEMA_VERSION,
            event_id: &event_id,
            timestamp: &timestamp,
            event_type: event.event_type,
            severity: event.severity,
            outcome: event.outcome,
            session_id: &self.identity.session_id,
            server: &self.identity.server,
            user: &self.identity.user,
            seq: self.seq,
        };
        let start = out.len();
        serde_json::to_writer(&mut *out, &head).expect("serialising to a Vec cannot fail");
        out.pop(); // the closing brace
        let body_at = out.len();
        if serde_json::to_writer(&mut *out, event).is_err() {
            // A payload that cannot be serialised (it cannot happen with
            // serde_json::Value, but never lose the event over it).
            out.truncate(body_at);
            out.extend_from_slice(b"{\"details\":{\"serialisation_error\":true}}");
        }
        // Turn `{…}` of the body into `,…` after the head, or drop an empty `{}`.
        if out.len() - body_at == 2 {
            out.truncate(body_at);
        } else {
            out[body_at] = b',';
            out.pop();
        }
        out.extend_from_slice(b",\"prev_hash\":\"");
        out.extend_from_slice(hex::encode(self.head).as_bytes());
        out.extend_from_slice(b"\"}");
        let hash: [u8; 32] = Sha256::digest(&out[start..]).into();
        out.pop(); // `}` again: the hash member follows
        out.extend_from_slice(b",\"hash\":\"");
        out.extend_from_slice(hex::encode(hash).as_bytes());
        out.extend_from_slice(b"\"}\n");
        self.head = hash;
        event_id
    }
}

/// The canonical bytes of a stamped line (newline already removed): the line
/// without its `,"hash":"…"` member, and the hash it claims. `None` if the line
/// does not end the way [`Stamper::stamp`] writes lines.
pub fn canonical_bytes(line: &[u8]) -> Option<(Vec<u8>, &str)> {
    if line.len() < HASH_SUFFIX_LEN + 2 {
        return None;
    }
    let split = line.len() - HASH_SUFFIX_LEN;
    let suffix = &line[split..];
    if !suffix.starts_with(b",\"hash\":\"") || !suffix.ends_with(b"\"}") {
        return None;
    }
    let claimed = std::str::from_utf8(&suffix[9..9 + 64]).ok()?;
    if !claimed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut canon = Vec::with_capacity(split + 1);
    canon.extend_from_slice(&line[..split]);
    canon.push(b'}');
    Some((canon, claimed))
}

/// SHA-256 of `bytes`, as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn stamper() -> Stamper {
        Stamper::new(
            SessionIdentity {
                session_id: "s1".into(),
                server: "fs".into(),
                user: "alice".into(),
            },
            [7u8; 32],
        )
    }

    #[test]
    fn lines_are_json_with_envelope_first_and_hash_last() {
        let mut s = stamper();
        let mut out = Vec::new();
        let ev = Event::new(EventType::ToolCall, SystemTime::UNIX_EPOCH).detail("k", 1);
        s.stamp(&ev, &mut out);
        let line = std::str::from_utf8(&out).unwrap();
        assert!(line.ends_with("\"}\n"));
        assert!(line.starts_with("{\"v\":1,\"event_id\":\""));
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["type"], "tool_call");
        assert_eq!(v["seq"], 1);
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["details"]["k"], 1);
        assert_eq!(v["prev_hash"], hex::encode([7u8; 32]));
    }

    #[test]
    fn chain_links_and_canonical_bytes_verify() {
        let mut s = stamper();
        let mut out = Vec::new();
        for _ in 0..3 {
            s.stamp(
                &Event::new(EventType::RpcRequest, SystemTime::now()),
                &mut out,
            );
        }
        let mut prev = hex::encode([7u8; 32]);
        for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let (canon, claimed) = canonical_bytes(line).unwrap();
            assert_eq!(sha256_hex(&canon), claimed);
            let v: Value = serde_json::from_slice(line).unwrap();
            assert_eq!(v["prev_hash"], prev.as_str());
            prev = claimed.to_owned();
        }
        assert_eq!(prev, s.head_hex());
    }

    #[test]
    fn an_edited_byte_breaks_the_hash() {
        let mut s = stamper();
        let mut out = Vec::new();
        s.stamp(
            &Event::new(EventType::ToolCall, SystemTime::now()).detail("x", "abc"),
            &mut out,
        );
        out.pop();
        let pos = out.windows(3).position(|w| w == b"abc").unwrap();
        out[pos] = b'X';
        let (canon, claimed) = canonical_bytes(&out).unwrap();
        assert_ne!(sha256_hex(&canon), claimed);
    }
}
