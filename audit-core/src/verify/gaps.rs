//! Gaps in a session's `seq` and the `audit_dropped` lines that explain
//! them, judged as the session's lines are committed in `seq` order.
//!
//! A gap is a real, announced loss only if `audit_dropped` lines written
//! after it chain from the hash before it to the `prev_hash` after it in
//! contiguous steps (`first_prev_hash` … `last_hash`). Those lines come
//! later in `seq` than the gap, so a gap waits: it is settled as soon as
//! it is bridged, and judged at the session's end otherwise. Before the
//! first line read there is no hash to start from, and the announced range
//! alone is accepted.
//!
//! Bounded: at most [`MAX_PENDING_GAPS`] gaps wait (the oldest is judged
//! when one more opens), each keeping at most [`MAX_STEPS`] announcements
//! that may continue its bridge later, and at most [`MAX_LOSS_RANGES`]
//! merged announced ranges are kept (more are counted). Anything not kept
//! can only turn a bridged gap into a break, never a break into a pass.

use super::chain::Break;
use super::read::{parse_hash, Hash, Location, Record};
use super::session::Breaks;

/// Gaps of one session waiting for their announcements.
pub const MAX_PENDING_GAPS: usize = 64;
/// Merged announced loss ranges kept per session.
pub const MAX_LOSS_RANGES: usize = 64;
/// Announcements kept per gap that do not continue its bridge yet.
pub const MAX_STEPS: usize = 16;

/// One `audit_dropped` line: the range it announces and its edge hashes.
#[derive(Debug, Clone, Copy)]
struct Step {
    first: u64,
    last: u64,
    first_prev_hash: Option<Hash>,
    last_hash: Option<Hash>,
}

/// A gap `first..=last` and how far its bridge reached.
#[derive(Debug)]
struct Gap {
    first: u64,
    last: u64,
    /// The line before the gap (`None`: before the first line read).
    after: Option<Location>,
    /// The next `seq` the bridge must cover, and the hash it starts from.
    at: u64,
    head: Option<Hash>,
    /// The `prev_hash` of the line after the gap.
    next_prev: Option<Hash>,
    /// Announcements that start further in the gap, in `seq` order.
    waiting: Vec<Step>,
    /// Where in the chain breaks a sorted check would report it.
    slot: usize,
}

impl Gap {
    fn done(&self) -> bool {
        self.at > self.last || self.head.is_none()
    }

    fn continues(&self, s: &Step) -> bool {
        s.first == self.at
            && s.first_prev_hash == self.head
            && (self.at..=self.last).contains(&s.last)
    }

    fn offer(&mut self, s: Step) {
        if self.after.is_none() || self.done() {
            return;
        }
        if !self.continues(&s) {
            let later = s.first > self.at && s.first <= s.last && s.last <= self.last;
            if later && self.waiting.len() < MAX_STEPS {
                self.waiting.push(s);
            }
            return;
        }
        let mut step = Some(s);
        while let Some(s) = step.take() {
            (self.at, self.head) = (s.last.saturating_add(1), s.last_hash);
            if self.done() {
                break;
            }
            if let Some(i) = self.waiting.iter().position(|w| self.continues(w)) {
                step = Some(self.waiting.remove(i));
            }
        }
    }

    fn bridged(&self) -> bool {
        self.after.is_some()
            && self.at == self.last.saturating_add(1)
            && self.head.is_some()
            && self.next_prev == self.head
    }

    fn verdict(&self, losses: &[(u64, u64)]) -> Option<Break> {
        let (first, last, after) = (self.first, self.last, self.after.clone());
        if !covered(losses, first, last) {
            return Some(Break::Missing { first, last, after });
        }
        (self.after.is_some() && !self.bridged()).then_some(Break::Unbridged { first, last, after })
    }
}

/// One session's waiting gaps and announced losses.
#[derive(Debug, Default)]
pub(super) struct Gaps {
    pending: Vec<Gap>,
    /// Announced ranges, merged and sorted.
    losses: Vec<(u64, u64)>,
    losses_omitted: u64,
}

impl Gaps {
    /// Opens the gap from `first` to just before `next`; `after` is the line
    /// before it and its hash; its break would go at `slot` of `chain`.
    pub(super) fn open(
        &mut self,
        first: u64,
        next: &Record,
        after: Option<(Location, Option<Hash>)>,
        slot: usize,
        chain: &mut Breaks,
    ) {
        if self.pending.len() >= MAX_PENDING_GAPS {
            let oldest = self.pending.remove(0);
            self.judge(oldest, chain);
        }
        let (after, head) = after.map_or((None, None), |(at, hash)| (Some(at), hash));
        self.pending.push(Gap {
            first,
            last: next.seq - 1,
            after,
            at: first,
            head,
            next_prev: next.prev_hash,
            waiting: Vec::new(),
            slot,
        });
    }

    /// Takes an `audit_dropped` line (committed in `seq` order).
    pub(super) fn announce(&mut self, r: &Record) {
        let d = r.details();
        let (Some(first), Some(last)) = (d.first_seq, d.last_seq) else {
            return;
        };
        if first <= last {
            self.add_loss(first, last);
        }
        let step = Step {
            first,
            last,
            first_prev_hash: d.first_prev_hash.as_deref().and_then(parse_hash),
            last_hash: d.last_hash.as_deref().and_then(parse_hash),
        };
        for gap in self.pending.iter_mut().filter(|g| r.seq > g.last) {
            gap.offer(step);
        }
        self.pending.retain(|g| !g.bridged());
    }

    fn add_loss(&mut self, first: u64, last: u64) {
        let mut ranges = self.losses.clone();
        ranges.push((first, last));
        ranges.sort();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(m) if a <= m.1.saturating_add(1) => m.1 = m.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        if merged.len() > MAX_LOSS_RANGES {
            self.losses_omitted += 1;
        } else {
            self.losses = merged;
        }
    }

    /// Reports `gap`'s break, if any, where a sorted check would have.
    fn judge(&mut self, gap: Gap, chain: &mut Breaks) {
        if let Some(b) = gap.verdict(&self.losses) {
            chain.insert(gap.slot, b);
            for g in self.pending.iter_mut().filter(|g| g.slot >= gap.slot) {
                g.slot += 1;
            }
        }
    }

    /// Judges every gap still waiting (the session's lines are all read).
    pub(super) fn judge_all(&mut self, chain: &mut Breaks) {
        while !self.pending.is_empty() {
            let gap = self.pending.remove(0);
            self.judge(gap, chain);
        }
    }

    /// The announced ranges kept, and how many announcements were not.
    pub(super) fn into_losses(self) -> (Vec<(u64, u64)>, u64) {
        (self.losses, self.losses_omitted)
    }
}

fn covered(ranges: &[(u64, u64)], first: u64, last: u64) -> bool {
    ranges.iter().any(|&(a, b)| a <= first && last <= b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_ranges_merge_and_stay_bounded() {
        let mut gaps = Gaps::default();
        gaps.add_loss(4, 5);
        gaps.add_loss(6, 7);
        gaps.add_loss(1, 1);
        assert_eq!(gaps.losses, vec![(1, 1), (4, 7)]);
        for n in 0..(MAX_LOSS_RANGES as u64 * 2) {
            gaps.add_loss(100 + 3 * n, 100 + 3 * n);
        }
        assert_eq!(gaps.losses.len(), MAX_LOSS_RANGES);
        assert_eq!(gaps.losses_omitted, MAX_LOSS_RANGES as u64 + 2);
        assert!(covered(&gaps.losses, 5, 7) && !covered(&gaps.losses, 2, 4));
    }
}
