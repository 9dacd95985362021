//! The pace measure and the stand-aside decisions, without an auditor.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::event::Direction;

#[test]
fn pace_is_unknown_until_a_slice_large_enough_to_count() {
    let mut pace = Pace::default();
    let ms = Duration::from_millis(1);
    pace.worked(PACE_SAMPLE_BYTES - 1, 1 << 20, ms);
    pace.worked(1 << 20, 1 << 20, Duration::ZERO);
    assert_eq!(pace, Pace::default());
    assert!(!pace.outpaced(usize::MAX, ms), "no measure: never waits");
    // 32 KiB per ms worked; 64 KiB per ms arrived meanwhile, so only
    // twice its pace outpaces it.
    pace.worked(64 * 1024, 128 * 1024, Duration::from_millis(2));
    assert!(pace.outpaced(66_000, ms), "over twice its pace");
    assert!(!pace.outpaced(65_000, ms));
    assert!(!pace.outpaced(130_000, Duration::from_millis(2)));
}

#[test]
fn a_stream_its_work_slowed_outpaces_the_auditor_sooner() {
    let ms = Duration::from_millis(1);
    // Worked 50k per ms while 50k per ms arrived: 1.25x that, and more
    // than its pace, arriving while it waits is the stream it held back.
    let mut held_back = Pace::default();
    held_back.worked(50_000, 50_000, ms);
    assert!(held_back.outpaced(62_600, ms));
    assert!(!held_back.outpaced(62_400, ms));
    // 80k per ms arrived while it worked: a stream as fast while it
    // waits was not held back, and is only outpacing at twice its pace.
    let mut alongside = Pace::default();
    alongside.worked(50_000, 80_000, ms);
    assert!(!alongside.outpaced(90_000, ms));
    assert!(alongside.outpaced(100_200, ms));
    // Sped up, but still no faster than the auditor works: no wait.
    let mut slow = Pace::default();
    slow.worked(50_000, 20_000, ms);
    assert!(!slow.outpaced(49_000, ms));
    assert!(slow.outpaced(50_200, ms));
}

#[test]
fn once_outpaced_the_auditor_waits_while_the_stream_is_faster_than_it() {
    let ms = Duration::from_millis(1);
    let mut pace = Pace::default();
    assert!(!pace.keeps_outpacing(usize::MAX, ms), "no measure");
    pace.worked(50_000, 50_000, ms);
    // 55k per ms would not start a wait (under 1.25x what arrived)...
    assert!(!pace.outpaced(55_000, ms));
    // ...but keeps one going: the stream is still faster than the auditor.
    assert!(pace.keeps_outpacing(55_000, ms));
    assert!(!pace.keeps_outpacing(49_000, ms));
}

#[test]
fn pace_follows_recent_slices() {
    let mut pace = Pace::default();
    let ms = Duration::from_millis(1);
    pace.worked(40_000, 400_000, ms);
    pace.worked(80_000, 400_000, ms); // 40k * 0.75 + 80k * 0.25 = 50k per ms
    assert!(pace.outpaced(100_200, ms));
    assert!(!pace.outpaced(99_800, ms));
    // What arrived follows too: 40k * 0.75 + 80k * 0.25 = 50k per ms,
    // of which 1.25x is 62.5k.
    let mut pace = Pace::default();
    pace.worked(50_000, 40_000, ms);
    pace.worked(50_000, 80_000, ms);
    assert!(pace.outpaced(62_600, ms));
    assert!(!pace.outpaced(62_400, ms));
}

/// The auditor waits only with a backlog (or when probing), a measured
/// pace and room left below the high-water mark; lacking any of them it
/// does not wait at all (every wait is counted).
#[test]
fn the_auditor_stands_aside_only_below_high_water_with_a_backlog_and_a_pace() {
    let at = Instant::now();
    let chunk = || Bytes::from_static(b"{}\n");
    // No backlog, pace known.
    let (mut h, inbox) = crate::handoff::channel(1 << 20, 1 << 30);
    let mut a = Pacing::default();
    a.pace.worked(
        PACE_SAMPLE_BYTES,
        PACE_SAMPLE_BYTES,
        Duration::from_secs(1000),
    );
    h.offer(Direction::ClientToServer, at, chunk());
    assert!(!inbox.backlogged());
    a.stand_aside(&inbox, false);
    // A backlog, pace unknown.
    let mut b = Pacing::default();
    for _ in 0..(1 << 20) / crate::handoff::BACKLOG_FRACTION {
        h.offer(Direction::ClientToServer, at, chunk());
    }
    assert!(inbox.backlogged() && !inbox.high_water());
    b.stand_aside(&inbox, false);
    b.stand_aside(&inbox, true);
    // A backlog and a pace, at high water.
    let (mut h, inbox) = crate::handoff::channel(8, 1 << 30);
    for _ in 0..6 {
        h.offer(Direction::ClientToServer, at, chunk());
    }
    assert!(inbox.backlogged() && inbox.high_water());
    a.stand_aside(&inbox, false);
    a.stand_aside(&inbox, true);
    assert_eq!((a.stood_aside, b.stood_aside), (0, 0));
    // All three: it waits (once: nothing arrives while it does).
    let (mut h, inbox) = crate::handoff::channel(1 << 20, 1 << 30);
    h.offer(Direction::ClientToServer, at, chunk());
    // A probe needs no backlog: working alongside a burst can keep the
    // queue short.
    a.stand_aside(&inbox, true);
    assert_eq!(a.stood_aside, 1);
    for _ in 0..(1 << 20) / crate::handoff::BACKLOG_FRACTION {
        h.offer(Direction::ClientToServer, at, chunk());
    }
    a.stand_aside(&inbox, false);
    assert_eq!(a.stood_aside, 2);
}

#[test]
fn the_auditor_looks_when_the_queue_grew_and_every_few_slices() {
    let mut a = Pacing::default();
    for _ in 1..PROBE_EVERY {
        assert!(!a.time_to_look(1000, 2000), "grew by what it took");
    }
    assert!(a.time_to_look(1000, 1000), "the last slice before a look");
    let (_h, inbox) = crate::handoff::channel(16, 1 << 20);
    a.stand_aside(&inbox, true); // looking resets the count
    assert!(!a.time_to_look(1000, 1500));
    assert!(a.time_to_look(1000, 2001), "grew by more than it took");
}
