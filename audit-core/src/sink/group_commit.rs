//! When `fsync = batch` syncs: a group commit with a bounded window.
//!
//! Syncing after every append would make `fdatasync` (a journal commit and a
//! device flush) most of the writer's CPU on a steady trickle of events.
//! Instead, an append syncs only
//! if the last sync is at least [`SyncSchedule::interval`] old; an append
//! that does not sync opens a deadline, `interval` after it, by which the
//! writer syncs even if nothing else is written. So every line the writer
//! wrote is on the device within `interval` of its `write` (plus the time of
//! the sync itself), and a busy writer syncs at most once per `interval`.
//! An interval of zero syncs after every append.
//!
//! Pure: the writer passes the time in, so the schedule is unit-tested
//! without waiting.

use std::time::{Duration, Instant};

/// Default [`SyncSchedule::interval`]: 50 ms, at most 20 syncs a second.
pub const DEFAULT_FSYNC_INTERVAL: Duration = Duration::from_millis(50);

/// The group-commit state of one writer.
#[derive(Debug, Clone)]
pub struct SyncSchedule {
    interval: Duration,
    last_sync: Option<Instant>,
    unsynced_since: Option<Instant>,
}

impl SyncSchedule {
    pub fn new(interval: Duration) -> SyncSchedule {
        SyncSchedule {
            interval,
            last_sync: None,
            unsynced_since: None,
        }
    }

    /// Should an append at `now` sync at once?
    pub fn sync_now(&self, now: Instant) -> bool {
        self.interval.is_zero()
            || self
                .last_sync
                .map_or(true, |t| now.saturating_duration_since(t) >= self.interval)
    }

    /// Everything written so far was synced at `now`.
    pub fn synced(&mut self, now: Instant) {
        self.last_sync = Some(now);
        self.unsynced_since = None;
    }

    /// Lines were written at `now` without a sync.
    pub fn wrote_unsynced(&mut self, now: Instant) {
        self.unsynced_since.get_or_insert(now);
    }

    /// When the writer must sync if nothing else happens; `None` when
    /// everything written is synced.
    pub fn deadline(&self) -> Option<Instant> {
        self.unsynced_since.map(|t| t + self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_first_append_syncs_then_one_per_interval() {
        let t0 = Instant::now();
        let mut s = SyncSchedule::new(50 * MS);
        assert!(s.sync_now(t0));
        s.synced(t0);
        assert_eq!(s.deadline(), None);
        // A trickle of appends inside the window: none syncs, the first
        // opens the deadline.
        for k in 1..50 {
            let t = t0 + k * MS;
            assert!(!s.sync_now(t), "append at {k} ms");
            s.wrote_unsynced(t);
        }
        assert_eq!(s.deadline(), Some(t0 + 51 * MS));
        // An append once the window is over syncs, closing the deadline.
        assert!(s.sync_now(t0 + 50 * MS));
        s.synced(t0 + 50 * MS);
        assert_eq!(s.deadline(), None);
    }

    #[test]
    fn an_unsynced_line_is_due_within_the_interval_of_its_write() {
        let t0 = Instant::now();
        let mut s = SyncSchedule::new(50 * MS);
        s.synced(t0);
        s.wrote_unsynced(t0 + 30 * MS);
        // Nothing else is written: the deadline is 50 ms after that write,
        // not after the last sync.
        assert_eq!(s.deadline(), Some(t0 + 80 * MS));
        s.synced(t0 + 80 * MS);
        assert!(!s.sync_now(t0 + 81 * MS));
    }

    #[test]
    fn interval_zero_syncs_every_append() {
        let t0 = Instant::now();
        let mut s = SyncSchedule::new(Duration::ZERO);
        for k in 0..5 {
            assert!(s.sync_now(t0 + k * MS));
            s.synced(t0 + k * MS);
        }
        assert_eq!(s.deadline(), None);
    }
}
