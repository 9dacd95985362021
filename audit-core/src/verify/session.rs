//! One session's chain, checked as its lines are read.
//!
//! The verdict is the one a sort of all the session's lines by `seq` would
//! give ([`super::check_session`]), kept in bounded memory: lines wait in a
//! look-back window of [`WINDOW`] lines sorted by `seq`, and the lowest is
//! checked (*committed*) against the line before it when the window is
//! full. A line read after a higher `seq` was committed cannot be put back
//! in order: it is a [`Break::Unchecked`] (besides its `Reordered`), so a
//! trail too disordered for the window fails, never passes. Gaps wait for
//! the `audit_dropped` lines that bridge them (`super::gaps`).
//!
//! What a session keeps besides its window is fixed: the last committed
//! line's `seq`, hash and place, the `session_end` seen, counters, at most
//! [`MAX_BREAKS`] breaks of each kind, and the gaps' bounded state.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::chain::{Break, SessionReport};
use super::gaps::Gaps;
use super::read::{parse_hash, Hash, Kind, Location, Record};
use crate::sign::PublicKey;

/// Lines of a session held to be put in `seq` order: a line may come up to
/// this many of its session's lines later than its place and still be
/// checked in order.
pub const WINDOW: usize = 64;

/// Breaks kept per kind (reordering, chain, signatures) and per session
/// report; the rest are counted.
pub const MAX_BREAKS: usize = 32;

/// Breaks kept, the rest counted.
#[derive(Debug, Default)]
pub(super) struct Breaks {
    pub(super) kept: Vec<Break>,
    pub(super) omitted: u64,
}

impl Breaks {
    pub(super) fn push(&mut self, b: Break) {
        let at = self.kept.len();
        self.insert(at, b);
    }

    /// Puts `b` at `at` (where a sorted check would have found it).
    pub(super) fn insert(&mut self, at: usize, b: Break) {
        if self.kept.len() < MAX_BREAKS {
            self.kept.insert(at.min(self.kept.len()), b);
        } else if at < self.kept.len() {
            self.kept.insert(at, b);
            self.kept.pop();
            self.omitted += 1;
        } else {
            self.omitted += 1;
        }
    }

    fn append(&mut self, other: Breaks) {
        self.omitted += other.omitted;
        for b in other.kept {
            self.push(b);
        }
    }
}

/// The last line committed (in `seq` order).
#[derive(Debug)]
struct Prev {
    seq: u64,
    hash: Option<Hash>,
    at: Location,
}

/// The streaming check of one session.
#[derive(Debug)]
pub struct SessionCheck {
    id: Arc<str>,
    /// Lines read.
    read: u64,
    /// The highest `seq` read so far (read order).
    highest: u64,
    /// Lines waiting, by (`seq`, read number): read order among equal seqs.
    window: BTreeMap<(u64, u64), Record>,
    prev: Option<Prev>,
    /// The first `session_end` committed: its `seq` and `event_count`.
    end: Option<(u64, u64)>,
    started: bool,
    signed_through: Option<u64>,
    gaps: Gaps,
    reordered: Breaks,
    chain: Breaks,
    key_break: Option<Break>,
    signatures: Breaks,
}

impl SessionCheck {
    pub fn new(id: Arc<str>) -> SessionCheck {
        SessionCheck {
            id,
            read: 0,
            highest: 0,
            window: BTreeMap::new(),
            prev: None,
            end: None,
            started: false,
            signed_through: None,
            gaps: Gaps::default(),
            reordered: Breaks::default(),
            chain: Breaks::default(),
            key_break: None,
            signatures: Breaks::default(),
        }
    }

    pub fn id(&self) -> &Arc<str> {
        &self.id
    }

    /// True while lines wait in the window.
    pub fn is_open(&self) -> bool {
        !self.window.is_empty()
    }

    /// Takes the session's next line in read order.
    pub fn push(&mut self, r: Record, key: Option<&PublicKey>) {
        self.read += 1;
        if r.seq < self.highest {
            self.reordered.push(Break::Reordered {
                seq: r.seq,
                at: r.at.clone(),
                after_seq: self.highest,
            });
        }
        self.highest = self.highest.max(r.seq);
        match &self.prev {
            Some(p) if r.seq < p.seq => self.late(r, p.seq, key),
            _ => {
                self.window.insert((r.seq, self.read), r);
                if self.window.len() > WINDOW {
                    self.commit_first(key);
                }
            }
        }
    }

    /// Commits every waiting line (the session ended, or too many are open).
    pub fn flush(&mut self, key: Option<&PublicKey>) {
        while self.is_open() {
            self.commit_first(key);
        }
        // An emptied map keeps its root node (about 2 KiB of records' room).
        self.window = BTreeMap::new();
    }

    /// The verdict, once every line was read.
    pub fn finish(mut self, key: Option<&PublicKey>) -> SessionReport {
        self.flush(key);
        let last_seq = self.prev.as_ref().map_or(0, |p| p.seq);
        self.gaps.judge_all(&mut self.chain);
        let mut breaks = self.reordered;
        breaks.append(self.chain);
        match self.end {
            None => breaks.push(Break::Truncated { last_seq }),
            Some((seq, count)) if count != last_seq || seq != last_seq => {
                breaks.push(Break::CountMismatch {
                    event_count: count,
                    last_seq,
                })
            }
            Some(_) => {}
        }
        if let Some(b) = self.key_break {
            breaks.push(b);
        }
        breaks.append(self.signatures);
        let (announced_losses, losses_omitted) = self.gaps.into_losses();
        SessionReport {
            session_id: self.id.to_string(),
            events: self.read,
            last_seq,
            announced_losses,
            losses_omitted,
            signed_through: key.and(self.signed_through),
            retention_gap: None,
            breaks: breaks.kept,
            breaks_omitted: breaks.omitted,
        }
    }

    fn commit_first(&mut self, key: Option<&PublicKey>) {
        if let Some((_, r)) = self.window.pop_first() {
            self.commit(r, key);
        }
    }

    /// Checks `r` against the line before it in `seq` order.
    fn commit(&mut self, r: Record, key: Option<&PublicKey>) {
        if !r.hash_ok {
            self.chain.push(Break::Modified {
                at: r.at.clone(),
                seq: r.seq,
            });
        }
        let expected = self.prev.as_ref().map_or(1, |p| p.seq.saturating_add(1));
        match &self.prev {
            Some(p) if p.seq == r.seq => {
                self.chain.push(Break::Duplicate {
                    seq: r.seq,
                    at: r.at.clone(),
                    first_at: p.at.clone(),
                });
                self.take_details(&r, key);
                return;
            }
            Some(p) if r.seq == expected && (r.prev_hash.is_none() || r.prev_hash != p.hash) => {
                self.chain.push(Break::BrokenLink {
                    at: r.at.clone(),
                    seq: r.seq,
                });
            }
            None if r.seq == 1 && !starts_at_seed(&r) => {
                self.chain.push(Break::BrokenLink {
                    at: r.at.clone(),
                    seq: r.seq,
                });
            }
            _ => {}
        }
        if r.seq > expected {
            let after = self.prev.as_ref().map(|p| (p.at.clone(), p.hash));
            self.gaps
                .open(expected, &r, after, self.chain.kept.len(), &mut self.chain);
        }
        self.prev = Some(Prev {
            seq: r.seq,
            hash: r.hash,
            at: r.at.clone(),
        });
        self.take_details(&r, key);
    }

    /// A line read after a higher `seq` was committed: what can be checked
    /// of it alone is, and it is reported as not checked against the chain.
    fn late(&mut self, r: Record, after_seq: u64, key: Option<&PublicKey>) {
        if !r.hash_ok {
            self.chain.push(Break::Modified {
                at: r.at.clone(),
                seq: r.seq,
            });
        }
        self.chain.push(Break::Unchecked {
            seq: r.seq,
            at: r.at.clone(),
            after_seq,
        });
        if let Some(k) = key.filter(|_| r.kind.is_signed()) {
            if !self.signature_valid(&r, k) {
                self.signatures.push(Break::BadSignature {
                    at: r.at,
                    seq: r.seq,
                });
            }
        }
    }

    /// What every committed line tells beyond its link: announced losses,
    /// the end, the key, signatures.
    fn take_details(&mut self, r: &Record, key: Option<&PublicKey>) {
        match r.kind {
            Kind::AuditDropped => self.gaps.announce(r),
            Kind::SessionEnd if self.end.is_none() => {
                self.end = Some((r.seq, r.details().event_count.unwrap_or(r.seq)));
            }
            Kind::SessionStart if !self.started => {
                self.started = true;
                let found = r.details().signing_key.clone();
                if key.is_some_and(|k| found.as_deref() != Some(k.fingerprint().as_str())) {
                    self.key_break = Some(Break::NotSignedByKey { found });
                }
            }
            _ => {}
        }
        let Some(k) = key.filter(|_| r.kind.is_signed()) else {
            return;
        };
        if self.signature_valid(r, k) {
            let through = if r.kind == Kind::SessionEnd {
                r.seq
            } else {
                r.seq.saturating_sub(1)
            };
            self.signed_through = Some(through);
        } else {
            self.signatures.push(Break::BadSignature {
                at: r.at.clone(),
                seq: r.seq,
            });
        }
    }

    fn signature_valid(&self, r: &Record, key: &PublicKey) -> bool {
        let head = r.prev_hash.map(hex::encode).unwrap_or_default();
        (r.details().signature.as_deref())
            .is_some_and(|sig| key.verify_head(&self.id, r.seq, &head, sig))
    }
}

/// Whether the first line's `prev_hash` is its session's `chain_seed`.
fn starts_at_seed(r: &Record) -> bool {
    let seed = r.details().chain_seed.as_deref().and_then(parse_hash);
    seed.is_some() && seed == r.prev_hash
}
