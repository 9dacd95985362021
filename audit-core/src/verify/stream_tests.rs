//! The streaming check against what a sort of each session would give:
//! disorder within the look-back window is judged as sorted, disorder
//! beyond it fails closed, and every kept list stays within its cap.

use std::sync::Arc;
use std::time::SystemTime;

use proptest::prelude::*;

use super::read::{parse_record, LineSink, Location};
use super::session::{MAX_BREAKS, WINDOW};
use super::stream::{TrailCheck, MAX_ISSUES, MAX_OPEN_SESSIONS};
use super::tests::identity;
use super::*;
use crate::event::{Event, EventType};
use crate::stamp::Stamper;

/// A session of `tool_call`s between its start and end (`events` lines in
/// all); `lines[i]` holds seq `i + 1`.
fn long_session(id: &str, events: u64) -> Vec<Vec<u8>> {
    let mut stamper = Stamper::new(identity(id), [7; 32]);
    let at = SystemTime::UNIX_EPOCH;
    let mut lines = Vec::new();
    let mut emit = |stamper: &mut Stamper, e: Event| {
        let mut out = Vec::new();
        stamper.stamp(&e, &mut out);
        lines.push(out);
    };
    let start = Event::new(EventType::SessionStart, at).detail("chain_seed", stamper.seed_hex());
    emit(&mut stamper, start);
    for n in 2..events {
        emit(
            &mut stamper,
            Event::new(EventType::ToolCall, at).detail("n", n),
        );
    }
    let end = Event::new(EventType::SessionEnd, at).detail("event_count", events);
    emit(&mut stamper, end);
    lines
}

/// Reads `lines` (of any sessions, in this order) as one file.
fn feed(check: &mut TrailCheck, lines: &[Vec<u8>]) {
    let file: Arc<str> = "f".into();
    for (i, line) in lines.iter().enumerate() {
        let at = Location {
            file: file.clone(),
            line: i + 1,
        };
        match parse_record(line.trim_ascii_end(), at.clone()) {
            Ok(r) => check.record(r),
            Err(why) => check.issue(LineIssue::Unreadable(at, why)),
        }
    }
}

fn sessions_of(lines: &[Vec<u8>]) -> Vec<SessionReport> {
    let mut check = TrailCheck::new(None);
    feed(&mut check, lines);
    check.finish().sessions
}

/// Moves the line at `from` to `to`.
fn moved(mut lines: Vec<Vec<u8>>, from: usize, to: usize) -> Vec<Vec<u8>> {
    let line = lines.remove(from);
    lines.insert(to, line);
    lines
}

fn only_reordered(s: &SessionReport) -> bool {
    (s.breaks.iter()).all(|b| matches!(b, Break::Reordered { .. })) && s.breaks_omitted == 0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Lines moved, one line deleted or not: the chain is judged in `seq`
    /// order (the only breaks besides `Reordered` are the deletion's), as a
    /// sort of the session would. Up to 6 moves of at most `(WINDOW - 8) / 6`
    /// each keep even a line moved again (and shifted by the others) within
    /// the window.
    #[test]
    fn disorder_within_the_window_is_judged_as_sorted(
        moves in prop::collection::vec((1usize..299, 0usize..(WINDOW - 8) / 6), 0..6),
        deleted in prop::option::of(2usize..298),
    ) {
        let mut lines = long_session("a", 300);
        if let Some(i) = deleted {
            lines.remove(i);
        }
        for (from, by) in moves {
            let from = from.min(lines.len() - 2);
            let to = (from + by).min(lines.len() - 1);
            lines = moved(lines, from, to);
        }
        let s = &sessions_of(&lines)[0];
        let others: Vec<&Break> = (s.breaks.iter())
            .filter(|b| !matches!(b, Break::Reordered { .. }))
            .collect();
        match deleted {
            None => prop_assert!(others.is_empty() && s.breaks_omitted == 0, "{:?}", s.breaks),
            Some(i) => {
                let seq = i as u64 + 1;
                prop_assert!(
                    matches!(others[..], [Break::Missing { first, last, .. }] if *first == seq && *last == seq),
                    "{:?}", s.breaks
                );
            }
        }
    }
}

#[test]
fn a_line_moved_beyond_the_window_fails_closed() {
    let lines = long_session("a", 300);
    let within = sessions_of(&moved(lines.clone(), 10, 10 + WINDOW));
    assert!(
        !within[0].is_ok() && only_reordered(&within[0]),
        "{within:?}"
    );
    let beyond = sessions_of(&moved(lines, 10, 12 + WINDOW));
    let s = &beyond[0];
    assert!(
        s.breaks
            .iter()
            .any(|b| matches!(b, Break::Unchecked { seq: 11, .. })),
        "{s:?}"
    );
    assert!(s
        .to_owned()
        .breaks
        .iter()
        .any(|b| b.to_string().contains("too far out of order: seq 11")));
}

#[test]
fn a_session_end_swapped_with_the_line_before_is_still_put_in_order() {
    let mut lines = long_session("a", 100);
    lines.swap(98, 99);
    let s = &sessions_of(&lines)[0];
    assert!(only_reordered(s) && s.breaks.len() == 1, "{s:?}");
}

/// More sessions interleaved than windows are held: in-order lines all
/// verify, and at most [`MAX_OPEN_SESSIONS`] windows are open at a time.
#[test]
fn interleaved_sessions_beyond_the_open_cap_verify_in_bounded_windows() {
    let n = MAX_OPEN_SESSIONS + 44;
    let sessions: Vec<_> = (0..n).map(|i| long_session(&format!("s{i}"), 20)).collect();
    let mut check = TrailCheck::new(None);
    let mut most_open = 0;
    for k in 0..20 {
        for s in &sessions {
            feed(&mut check, std::slice::from_ref(&s[k]));
            most_open = most_open.max(check.open_sessions());
        }
    }
    assert!(most_open <= MAX_OPEN_SESSIONS, "{most_open} windows open");
    let reports = check.finish().sessions;
    assert_eq!(reports.len(), n);
    assert!(reports.iter().all(|s| s.is_ok() && s.events == 20));
}

#[test]
fn breaks_and_line_issues_are_kept_up_to_their_caps_and_counted_beyond() {
    let mut lines = long_session("a", 200);
    for line in lines.iter_mut().take(150).skip(1) {
        let at = line.windows(3).position(|w| w == b"\"n\"").unwrap() + 4;
        line[at] = b'9'; // an edited digit: the line no longer matches its hash
    }
    let s = &sessions_of(&lines)[0];
    assert_eq!(s.breaks.len(), MAX_BREAKS);
    assert!(s.breaks_omitted > 0 && !s.is_ok());
    let garbage = vec![b"not a line\n".to_vec(); MAX_ISSUES + 7];
    let mut check = TrailCheck::new(None);
    feed(&mut check, &garbage);
    let checked = check.finish();
    assert_eq!(checked.issues.len(), MAX_ISSUES);
    assert_eq!(
        checked.omitted,
        OmittedIssues {
            total: 7,
            damage: 7
        }
    );
    let report = super::verify_reader("stdin", &garbage.concat()[..], None).unwrap();
    assert!(!report.is_ok());
    assert!(report
        .to_string()
        .contains("… and 7 more line issues not listed (7 of them damage)"));
}
