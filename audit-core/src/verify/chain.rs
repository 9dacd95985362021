//! Checking one session's chain: a pure function of its records (in the
//! order they were read) and, optionally, the public key.

use std::fmt;

use super::read::{parse_hash, Location, Record};
use crate::sign::PublicKey;

/// One way a session's trail is broken. Each names where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The line's content does not hash to its `hash`: it was edited.
    Modified { at: Location, seq: u64 },
    /// The line's `prev_hash` is not the previous line's `hash` (or, for the
    /// first line, the session's `chain_seed`).
    BrokenLink { at: Location, seq: u64 },
    /// Events missing and no `audit_dropped` announces them.
    Missing {
        first: u64,
        last: u64,
        after: Option<Location>,
    },
    /// Lines missing where an `audit_dropped` announces a loss, but the chain
    /// does not continue across the gap through the announcement's hashes
    /// (`first_prev_hash`, `last_hash`): deleted lines under a forged
    /// announcement, or an announcement written before the gap.
    Unbridged {
        first: u64,
        last: u64,
        after: Option<Location>,
    },
    /// Two lines claim the same `seq`.
    Duplicate {
        seq: u64,
        at: Location,
        first_at: Location,
    },
    /// The line comes after a line with a higher `seq`.
    Reordered {
        seq: u64,
        at: Location,
        after_seq: u64,
    },
    /// No `session_end`.
    Truncated { last_seq: u64 },
    /// Lines after `session_end`, or an `event_count` that disagrees.
    CountMismatch { event_count: u64, last_seq: u64 },
    /// (`--key`) `session_start` names no key or another key.
    NotSignedByKey { found: Option<String> },
    /// (`--key`) A `checkpoint` or `session_end` without a valid signature.
    BadSignature { at: Location, seq: u64 },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Modified { at, seq } => {
                write!(f, "line modified: {at} (seq {seq}) does not match its hash")
            }
            Break::BrokenLink { at, seq } => write!(
                f,
                "chain broken at {at} (seq {seq}): prev_hash is not the hash of seq {}",
                seq.saturating_sub(1)
            ),
            Break::Missing { first, last, after } => {
                write!(f, "events missing: {}", super::Seqs(*first, *last))?;
                match after {
                    Some(at) => write!(f, " (after {at})"),
                    None => write!(f, " (before the first line read; deleted by retention?)"),
                }
            }
            Break::Unbridged { first, last, after } => {
                write!(f, "events missing: {} is announced by audit_dropped, but the chain does not continue across it (forged announcement?)", super::Seqs(*first, *last))?;
                if let Some(at) = after {
                    write!(f, " (after {at})")?;
                }
                Ok(())
            }
            Break::Duplicate { seq, at, first_at } => {
                write!(f, "seq {seq} appears twice: {first_at} and {at}")
            }
            Break::Reordered { seq, at, after_seq } => {
                write!(
                    f,
                    "reordered: seq {seq} at {at} comes after seq {after_seq}"
                )
            }
            Break::Truncated { last_seq } => {
                write!(f, "truncated: no session_end after seq {last_seq}")
            }
            Break::CountMismatch {
                event_count,
                last_seq,
            } => write!(
                f,
                "session_end says {event_count} events but the last seq is {last_seq}"
            ),
            Break::NotSignedByKey { found: None } => {
                write!(f, "not signed: session_start names no signing key")
            }
            Break::NotSignedByKey { found: Some(k) } => {
                write!(f, "signed with another key ({k})")
            }
            Break::BadSignature { at, seq } => {
                write!(f, "signature missing or invalid at {at} (seq {seq})")
            }
        }
    }
}

/// The verdict on one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    pub session_id: String,
    /// Lines read for the session.
    pub events: u64,
    pub last_seq: u64,
    /// Seq ranges lost and announced by `audit_dropped` (not breaks).
    pub announced_losses: Vec<(u64, u64)>,
    /// (`--key`) the last seq covered by a valid signature.
    pub signed_through: Option<u64>,
    /// Seq range before the first line read that the seal index shows
    /// retention deleted (set by [`super::verify_paths`], not a break).
    pub retention_gap: Option<(u64, u64)>,
    pub breaks: Vec<Break>,
}

impl SessionReport {
    /// True if nothing is broken.
    pub fn is_ok(&self) -> bool {
        self.breaks.is_empty()
    }

    /// Takes the events missing before the first line read as deleted by
    /// retention (the caller knows the seal index recorded deletions).
    pub fn excuse_retention(&mut self) {
        let pos = self
            .breaks
            .iter()
            .position(|b| matches!(b, Break::Missing { after: None, .. }));
        if let Some(Break::Missing { first, last, .. }) = pos.map(|i| self.breaks.remove(i)) {
            self.retention_gap = Some((first, last));
        }
    }
}

/// Checks one session; `records` in read order.
pub fn check_session(
    session_id: &str,
    mut records: Vec<Record>,
    key: Option<&PublicKey>,
) -> SessionReport {
    let mut breaks = Vec::new();
    find_reordering(&records, &mut breaks);
    records.sort_by_key(|r| r.seq);
    let announced = announced_losses(&records);
    let mut prev: Option<&Record> = None;
    for r in &records {
        if !r.hash_ok {
            breaks.push(Break::Modified {
                at: r.at.clone(),
                seq: r.seq,
            });
        }
        let expected_from = prev.map_or(1, |p| p.seq.saturating_add(1));
        match prev {
            Some(p) if p.seq == r.seq => {
                breaks.push(Break::Duplicate {
                    seq: r.seq,
                    at: r.at.clone(),
                    first_at: p.at.clone(),
                });
                continue;
            }
            Some(p)
                if r.seq == expected_from && (r.prev_hash.is_none() || r.prev_hash != p.hash) =>
            {
                breaks.push(Break::BrokenLink {
                    at: r.at.clone(),
                    seq: r.seq,
                });
            }
            None if r.seq == 1 && !starts_at_seed(r) => {
                breaks.push(Break::BrokenLink {
                    at: r.at.clone(),
                    seq: r.seq,
                });
            }
            _ => {}
        }
        if r.seq > expected_from {
            gap_break(&records, prev, r, &announced, &mut breaks);
        }
        prev = Some(r);
    }
    let last_seq = records.last().map_or(0, |r| r.seq);
    match records.iter().find(|r| &*r.kind == "session_end") {
        None => breaks.push(Break::Truncated { last_seq }),
        Some(end) => {
            let count = end.details().event_count.unwrap_or(end.seq);
            if count != last_seq || end.seq != last_seq {
                breaks.push(Break::CountMismatch {
                    event_count: count,
                    last_seq,
                });
            }
        }
    }
    let signed_through = key.and_then(|k| check_signatures(session_id, &records, k, &mut breaks));
    SessionReport {
        session_id: session_id.to_owned(),
        events: records.len() as u64,
        last_seq,
        announced_losses: announced,
        signed_through,
        retention_gap: None,
        breaks,
    }
}

fn find_reordering(records: &[Record], breaks: &mut Vec<Break>) {
    let mut highest = 0;
    for r in records {
        if r.seq < highest {
            breaks.push(Break::Reordered {
                seq: r.seq,
                at: r.at.clone(),
                after_seq: highest,
            });
        }
        highest = highest.max(r.seq);
    }
}

/// Whether the first line's `prev_hash` is its session's `chain_seed`.
fn starts_at_seed(r: &Record) -> bool {
    let seed = r.details().chain_seed.as_deref().and_then(parse_hash);
    seed.is_some() && seed == r.prev_hash
}

/// `[first_seq, last_seq]` of every `audit_dropped` with both, merged.
fn announced_losses(records: &[Record]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = records
        .iter()
        .filter(|r| &*r.kind == "audit_dropped")
        .filter_map(|r| Some((r.details().first_seq?, r.details().last_seq?)))
        .filter(|(a, b)| a <= b)
        .collect();
    ranges.sort();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

fn covered(ranges: &[(u64, u64)], first: u64, last: u64) -> bool {
    ranges.iter().any(|&(a, b)| a <= first && last <= b)
}

/// Judges the gap between `prev` (the line before, if any) and `next`. A
/// gap is a real, announced loss only if `audit_dropped` lines written after
/// it chain from `prev`'s hash to `next`'s `prev_hash` in contiguous steps.
/// Before the first line read there is no hash to start from, and the
/// announced range alone is accepted.
fn gap_break(
    records: &[Record],
    prev: Option<&Record>,
    next: &Record,
    announced: &[(u64, u64)],
    breaks: &mut Vec<Break>,
) {
    let (first, last) = (prev.map_or(1, |p| p.seq.saturating_add(1)), next.seq - 1);
    let after = prev.map(|p| p.at.clone());
    if !covered(announced, first, last) {
        breaks.push(Break::Missing { first, last, after });
        return;
    }
    let Some(prev) = prev else {
        return;
    };
    let (mut at, mut head) = (first, prev.hash);
    while at <= last && head.is_some() {
        let step = records.iter().find(|a| {
            let d = a.details();
            &*a.kind == "audit_dropped"
                && a.seq > last
                && d.first_seq == Some(at)
                && d.first_prev_hash.as_deref().and_then(parse_hash) == head
                && d.last_seq.is_some_and(|l| l >= at && l <= last)
        });
        let Some(step) = step else { break };
        at = step.details().last_seq.unwrap_or(last).saturating_add(1);
        head = step.details().last_hash.as_deref().and_then(parse_hash);
    }
    if at != last.saturating_add(1) || head.is_none() || next.prev_hash != head {
        breaks.push(Break::Unbridged { first, last, after });
    }
}

/// Checks the key named in `session_start` and every signature; returns the
/// last seq covered by a valid one.
fn check_signatures(
    session_id: &str,
    records: &[Record],
    key: &PublicKey,
    breaks: &mut Vec<Break>,
) -> Option<u64> {
    if let Some(start) = records.iter().find(|r| &*r.kind == "session_start") {
        let found = start.details().signing_key.clone();
        if found.as_deref() != Some(key.fingerprint().as_str()) {
            breaks.push(Break::NotSignedByKey { found });
        }
    }
    let mut signed_through = None;
    for r in records
        .iter()
        .filter(|r| matches!(&*r.kind, "checkpoint" | "session_end"))
    {
        let head = r.prev_hash.map(hex::encode).unwrap_or_default();
        let valid = (r.details().signature.as_deref())
            .is_some_and(|sig| key.verify_head(session_id, r.seq, &head, sig));
        if valid {
            signed_through = Some(r.seq.saturating_sub(1));
            if &*r.kind == "session_end" {
                signed_through = Some(r.seq);
            }
        } else {
            breaks.push(Break::BadSignature {
                at: r.at.clone(),
                seq: r.seq,
            });
        }
    }
    signed_through
}
