//! What a session's check finds: the [`Break`]s and the [`SessionReport`],
//! and [`check_session`] over a session's records (in the order they were
//! read) with, optionally, the public key.

use std::fmt;

use super::read::{Location, Record};
use super::session::SessionCheck;
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
    /// The line comes so far out of order (more than
    /// [`super::session::WINDOW`] lines of its session) that `after_seq` was
    /// already checked: its link, gap or duplicate are not judged.
    Unchecked {
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
            Break::Unchecked { seq, at, after_seq } => write!(
                f,
                "too far out of order: seq {seq} at {at} comes after seq {after_seq} was checked (more than {} lines of its session); not checked against the chain",
                super::session::WINDOW
            ),
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
    /// Seq ranges lost and announced by `audit_dropped` (not breaks), at
    /// most `super::gaps::MAX_LOSS_RANGES` merged ranges.
    pub announced_losses: Vec<(u64, u64)>,
    /// Announcements whose range was not kept in `announced_losses`.
    pub losses_omitted: u64,
    /// (`--key`) the last seq covered by a valid signature.
    pub signed_through: Option<u64>,
    /// Seq range before the first line read that the seal index shows
    /// retention deleted (set by [`super::verify_paths`], not a break).
    pub retention_gap: Option<(u64, u64)>,
    /// The first breaks found, at most [`super::session::MAX_BREAKS`].
    pub breaks: Vec<Break>,
    /// Breaks found beyond those in `breaks`.
    pub breaks_omitted: u64,
}

impl SessionReport {
    /// True if nothing is broken.
    pub fn is_ok(&self) -> bool {
        self.breaks.is_empty() && self.breaks_omitted == 0
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

/// Checks one session; `records` in read order. The same streaming check
/// as [`super::verify_paths`]: a line more than [`super::session::WINDOW`]
/// lines out of place is [`Break::Unchecked`].
pub fn check_session(
    session_id: &str,
    records: Vec<Record>,
    key: Option<&PublicKey>,
) -> SessionReport {
    let mut check = SessionCheck::new(session_id.into());
    for r in records {
        check.push(r, key);
    }
    check.finish(key)
}
