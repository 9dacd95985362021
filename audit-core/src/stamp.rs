//! The envelope and the hash chain: turns an [`Event`] into one JSONL line.
//!
//! A [`Stamper`] owns one session's sequence counter and chain head. Every line
//! is written as
//!
//! ```text
//! {"v":1,"event_id":…,"timestamp":…,"type":…,"severity":…,"outcome":…,
//!  "session_id":…,"server":…,"user":…,"host":…,"seq":N, <event fields>,
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

use sha2::{Digest, Sha256};

use crate::clock::Rfc3339Millis;
use crate::event::{new_event_id, write_line_safe, Event, SCHEMA_VERSION};

/// SHA-256 of `bytes`, as hex (the digest of every hash in the trail).
pub use crate::digest::sha256_hex;

/// The suffix every stamped line ends with, before the newline: `,"hash":"` +
/// 64 hex digits + `"}`.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// Who and what a session is, stamped on each of its lines.
#[derive(Debug, Clone)]
pub struct SessionIdentity {
    pub session_id: Arc<str>,
    pub server: Arc<str>,
    pub user: Arc<str>,
    /// The machine's hostname (see `local_hostname`).
    pub host: Arc<str>,
}

/// This machine's hostname, as `gethostname(2)` gives it (invalid UTF-8
/// replaced; escaped like every string when stamped). Empty if unavailable.
pub(crate) fn local_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `len` bytes; gethostname writes at most
    // that many and we read only up to the first NUL within them.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Stamps and chains one session's events.
#[derive(Debug)]
pub struct Stamper {
    identity: SessionIdentity,
    /// `,"session_id":…,"server":…,"user":…` as JSON, escaped once.
    identity_json: Vec<u8>,
    timestamps: Rfc3339Millis,
    seq: u64,
    head: [u8; 32],
    seed: [u8; 32],
}

impl Stamper {
    /// A stamper whose chain starts at `seed`.
    pub fn new(identity: SessionIdentity, seed: [u8; 32]) -> Stamper {
        let mut identity_json = Vec::new();
        for (key, value) in [
            (&b",\"session_id\":"[..], &identity.session_id),
            (b",\"server\":", &identity.server),
            (b",\"user\":", &identity.user),
            (b",\"host\":", &identity.host),
        ] {
            identity_json.extend_from_slice(key);
            json_str(&mut identity_json, value);
        }
        Stamper {
            identity,
            identity_json,
            timestamps: Rfc3339Millis::default(),
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

    /// Appends `event` as one line (with its newline) to `out`. An event
    /// without a pre-assigned `event_id` gets a fresh one.
    pub fn stamp(&mut self, event: &Event, out: &mut Vec<u8>) {
        self.seq += 1;
        let fresh;
        let event_id = match &event.event_id {
            Some(id) => id.as_str(),
            None => {
                fresh = new_event_id();
                fresh.as_str()
            }
        };
        let start = out.len();
        self.write_head(event, event_id, out);
        let body_at = out.len();
        if write_line_safe(out, event).is_err() {
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
        let tail = chain_tail(&mut self.head, &[&out[start..]]);
        out.extend_from_slice(&tail);
    }

    /// The envelope, without its closing brace: `{"v":1,"event_id":…,"seq":N`.
    /// Written by hand (the members are fixed and the identity is escaped
    /// once): it is per-event work and byte for byte what serde_json wrote
    /// for it before (a test below compares them).
    fn write_head(&mut self, event: &Event, event_id: &str, out: &mut Vec<u8>) {
        let mut num = itoa::Buffer::new();
        out.extend_from_slice(b"{\"v\":");
        out.extend_from_slice(num.format(SCHEMA_VERSION).as_bytes());
        out.extend_from_slice(b",\"event_id\":");
        json_str(out, event_id);
        out.extend_from_slice(b",\"timestamp\":\"");
        self.timestamps.write(event.at, out);
        for (key, value) in [
            (&b"\",\"type\":\""[..], event.event_type.as_str()),
            (b"\",\"severity\":\"", event.severity.as_str()),
            (b"\",\"outcome\":\"", event.outcome.as_str()),
        ] {
            out.extend_from_slice(key);
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'"');
        out.extend_from_slice(&self.identity_json);
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(num.format(self.seq).as_bytes());
    }
}

/// Length of `,"prev_hash":"<64 hex>"`.
const PREV_MEMBER_LEN: usize = 14 + 64 + 1;

/// Length of what [`chain_tail`] returns.
pub(crate) const CHAIN_TAIL_LEN: usize = PREV_MEMBER_LEN + HASH_SUFFIX_LEN + 1;

/// Links one line into a hash chain: `body` is the line's JSON object without
/// its closing brace (in pieces, so that a large payload is hashed where it
/// lies). Returns what follows it, `,"prev_hash":"<head>","hash":"<hash>"}`
/// and the newline, and moves `head` to the new hash: SHA-256 over `body`
/// followed by `,"prev_hash":"<head>"}`, the line's [`canonical_bytes`].
pub(crate) fn chain_tail(head: &mut [u8; 32], body: &[&[u8]]) -> [u8; CHAIN_TAIL_LEN] {
    let mut tail = [0u8; CHAIN_TAIL_LEN];
    let mut hex_buf = [0u8; 64];
    // `,"prev_hash":"<head>"}` on the stack: a heap copy per line is not needed.
    let mut prev = [0u8; PREV_MEMBER_LEN + 1];
    let mut at = 0;
    for part in [b",\"prev_hash\":\"", hex_of(head, &mut hex_buf), b"\"}"] {
        prev[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    debug_assert_eq!(at, prev.len());
    let mut hasher = Sha256::new();
    for piece in body {
        hasher.update(piece);
    }
    hasher.update(prev);
    let hash: [u8; 32] = hasher.finalize().into();
    let mut at = 0;
    for part in [
        &prev[..prev.len() - 1], // `}` again: the hash member follows
        b",\"hash\":\"",
        hex_of(&hash, &mut hex_buf),
        b"\"}\n",
    ] {
        tail[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    debug_assert_eq!(at, CHAIN_TAIL_LEN);
    *head = hash;
    tail
}

/// `s` as a JSON string, escaped as every string of a line is
/// ([`write_line_safe`]).
fn json_str(out: &mut Vec<u8>, s: &str) {
    write_line_safe(out, s).expect("serialising to a Vec cannot fail");
}

/// Lower-case hex of a hash, in a caller's buffer (no allocation).
fn hex_of<'b>(bytes: &[u8; 32], buf: &'b mut [u8; 64]) -> &'b [u8] {
    hex::encode_to_slice(bytes, buf).expect("64 hex digits for 32 bytes");
    &buf[..]
}

/// The canonical bytes of a stamped line (newline already removed): the line
/// without its `,"hash":"…"` member, and the hash it claims. `None` if the line
/// does not end the way [`Stamper::stamp`] writes lines.
pub fn canonical_bytes(line: &[u8]) -> Option<(Vec<u8>, &str)> {
    let (split, claimed) = canonical_split(line)?;
    let mut canon = Vec::with_capacity(split + 1);
    canon.extend_from_slice(&line[..split]);
    canon.push(b'}');
    Some((canon, claimed))
}

/// Where a stamped line's `,"hash":"…"}` suffix starts, and the hash it
/// claims: the canonical bytes are `line[..split]` followed by `}`.
pub(crate) fn canonical_split(line: &[u8]) -> Option<(usize, &str)> {
    if line.len() < HASH_SUFFIX_LEN + 2 {
        return None;
    }
    let split = line.len() - HASH_SUFFIX_LEN;
    Some((split, canonical_suffix(&line[split..])?))
}

/// The `prev_hash` and `hash` a stamped line (newline removed) ends with,
/// read from their fixed places at its end: `,"prev_hash":"<64>","hash":"<64>"}`.
/// `None` if the line does not end that way.
pub(crate) fn chain_hashes(line: &[u8]) -> Option<(&str, &str)> {
    const PREV: &[u8] = b",\"prev_hash\":\"";
    let tail_len = PREV.len() + 64 + 1 + HASH_SUFFIX_LEN;
    let tail = line.get(line.len().checked_sub(tail_len)?..)?;
    let (prev_part, hash_part) = tail.split_at(PREV.len() + 65);
    if !prev_part.starts_with(PREV) || prev_part[prev_part.len() - 1] != b'"' {
        return None;
    }
    let hash = canonical_suffix(hash_part)?;
    let prev = std::str::from_utf8(&prev_part[PREV.len()..PREV.len() + 64]).ok()?;
    prev.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then_some((prev, hash))
}

/// The hash in `suffix` if it is `,"hash":"<64 hex>"}`.
fn canonical_suffix(suffix: &[u8]) -> Option<&str> {
    if suffix.len() != HASH_SUFFIX_LEN
        || !suffix.starts_with(b",\"hash\":\"")
        || !suffix.ends_with(b"\"}")
    {
        return None;
    }
    let claimed = std::str::from_utf8(&suffix[9..9 + 64]).ok()?;
    claimed
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then_some(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use serde_json::Value;

    fn stamper() -> Stamper {
        Stamper::new(
            SessionIdentity {
                session_id: "s1".into(),
                server: "fs".into(),
                user: "alice".into(),
                host: "build-01".into(),
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

    /// The envelope as it was first written, with serde: the hand-written
    /// head must produce the same bytes.
    #[derive(serde::Serialize)]
    struct SerdeHead<'a> {
        v: u32,
        event_id: &'a str,
        timestamp: &'a str,
        #[serde(rename = "type")]
        event_type: crate::event::EventType,
        severity: crate::event::Severity,
        outcome: crate::event::Outcome,
        session_id: &'a str,
        server: &'a str,
        user: &'a str,
        host: &'a str,
        seq: u64,
    }

    #[test]
    fn local_hostname_is_the_systems() {
        let ours = local_hostname();
        assert!(!ours.is_empty());
        if let Ok(theirs) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            assert_eq!(ours, theirs.trim_end());
        }
    }

    #[test]
    fn hand_written_head_matches_serde() {
        use crate::event::{Outcome, Severity};
        let identity = SessionIdentity {
            session_id: "0199-ab".into(),
            server: "srv \"quoted\" \\ é \u{1}\n".into(),
            user: "ünïcode/user".into(),
            host: "host\t\"x\" é".into(),
        };
        let mut s = Stamper::new(identity.clone(), [1u8; 32]);
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_763_914_360_045);
        for (n, (t, sev, out)) in [
            (EventType::ToolCall, Severity::Info, Outcome::Pending),
            (
                EventType::ProtocolViolation,
                Severity::Warning,
                Outcome::Failure,
            ),
            (EventType::ToolChanged, Severity::Critical, Outcome::Blocked),
            (EventType::SessionEnd, Severity::Error, Outcome::Success),
        ]
        .into_iter()
        .enumerate()
        {
            let mut e = Event::new(t, at).severity(sev).outcome(out);
            e.event_id = Some(format!("id-{n}"));
            s.seq += 1;
            let mut ours = Vec::new();
            s.write_head(&e, e.event_id.as_deref().unwrap(), &mut ours);
            let mut theirs = serde_json::to_vec(&SerdeHead {
                v: SCHEMA_VERSION,
                event_id: e.event_id.as_deref().unwrap(),
                timestamp: &crate::clock::rfc3339_millis(at),
                event_type: t,
                severity: sev,
                outcome: out,
                session_id: &identity.session_id,
                server: &identity.server,
                user: &identity.user,
                host: &identity.host,
                seq: s.seq,
            })
            .unwrap();
            theirs.pop();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }

    #[test]
    fn chain_hashes_are_read_from_the_line_end() {
        let mut s = stamper();
        let mut out = Vec::new();
        s.stamp(
            &Event::new(EventType::ToolCall, SystemTime::now()),
            &mut out,
        );
        let first_head = s.head_hex();
        s.stamp(
            &Event::new(EventType::ToolCall, SystemTime::now()),
            &mut out,
        );
        let second = out.split(|b| *b == b'\n').nth(1).unwrap();
        assert_eq!(
            chain_hashes(second),
            Some((first_head.as_str(), s.head_hex().as_str()))
        );
        assert_eq!(chain_hashes(b"{\"seq\":1}"), None);
        assert_eq!(chain_hashes(&second[1..second.len() - 1]), None);
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
