//! The whole trail checked in one pass, in bounded memory: each record goes
//! to its session's [`SessionCheck`] as it is read.
//!
//! Sessions interleave when several proxies share a directory, so several
//! are open at once. A session's window ([`WINDOW`] lines) is committed
//! [`WINDOW`] trail lines after its `session_end` is read (a line swapped
//! with its end is still put in order), and at most [`MAX_OPEN_SESSIONS`]
//! windows are held: when one more opens, the oldest-opened is committed.
//! Either way a line of that session read later and out of place is a
//! [`Break::Unchecked`](super::Break::Unchecked): fail closed, never grown.
//!
//! What stays for every session until the end is its small state (no
//! lines); line issues are kept up to [`MAX_ISSUES`] and counted beyond.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::chain::SessionReport;
use super::read::{Kind, LineIssue, LineSink, Record};
use super::session::{SessionCheck, WINDOW};
use crate::sign::PublicKey;

/// Sessions whose lines are held in a window at once.
pub const MAX_OPEN_SESSIONS: usize = 256;

/// Line issues (torn, unreadable, overlong lines) kept in the report; the
/// rest are counted.
pub const MAX_ISSUES: usize = 1000;

/// Line issues read beyond those kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OmittedIssues {
    pub total: u64,
    /// Of them, damage (not a crash's mark).
    pub damage: u64,
}

/// The streaming check of a trail: a [`LineSink`] for the reader.
pub struct TrailCheck<'k> {
    key: Option<&'k PublicKey>,
    /// In order of their first line read.
    sessions: Vec<SessionCheck>,
    index: HashMap<Arc<str>, usize>,
    issues: Vec<LineIssue>,
    omitted: OmittedIssues,
    /// Records read.
    read: u64,
    /// Sessions whose window opened (read number, session), oldest first;
    /// entries of sessions since committed are skipped when met.
    opened: VecDeque<(u64, usize)>,
    opened_at: Vec<u64>,
    open: usize,
    /// Sessions whose `session_end` was read (read number, session).
    ending: VecDeque<(u64, usize)>,
}

/// What the streaming check found.
pub struct Checked {
    pub sessions: Vec<SessionReport>,
    pub issues: Vec<LineIssue>,
    pub omitted: OmittedIssues,
}

impl<'k> TrailCheck<'k> {
    pub fn new(key: Option<&'k PublicKey>) -> TrailCheck<'k> {
        TrailCheck {
            key,
            sessions: Vec::new(),
            index: HashMap::new(),
            issues: Vec::new(),
            omitted: OmittedIssues::default(),
            read: 0,
            opened: VecDeque::new(),
            opened_at: Vec::new(),
            open: 0,
            ending: VecDeque::new(),
        }
    }

    /// Sessions whose lines are held now (at most [`MAX_OPEN_SESSIONS`]).
    pub fn open_sessions(&self) -> usize {
        self.open
    }

    /// Every session's verdict, in order of its first line read.
    pub fn finish(self) -> Checked {
        let key = self.key;
        Checked {
            sessions: (self.sessions.into_iter()).map(|s| s.finish(key)).collect(),
            issues: self.issues,
            omitted: self.omitted,
        }
    }

    fn session(&mut self, id: &Arc<str>) -> usize {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        self.sessions.push(SessionCheck::new(id.clone()));
        self.opened_at.push(0);
        self.index.insert(id.clone(), self.sessions.len() - 1);
        self.sessions.len() - 1
    }

    /// Commits session `i`'s window.
    fn close(&mut self, i: usize) {
        if self.sessions[i].is_open() {
            self.sessions[i].flush(self.key);
            self.open -= 1;
        }
    }

    /// Closes the windows due: sessions ended [`WINDOW`] lines ago, and the
    /// oldest-opened beyond [`MAX_OPEN_SESSIONS`].
    fn close_due(&mut self) {
        while let Some(&(at, i)) = self.ending.front() {
            if at + WINDOW as u64 > self.read {
                break;
            }
            self.ending.pop_front();
            self.close(i);
        }
        while self.open > MAX_OPEN_SESSIONS {
            let Some((at, i)) = self.opened.pop_front() else {
                break;
            };
            if self.opened_at[i] == at {
                self.close(i);
            }
        }
        if self.opened.len() > 4 * MAX_OPEN_SESSIONS {
            let (sessions, opened_at) = (&self.sessions, &self.opened_at);
            (self.opened).retain(|&(at, i)| sessions[i].is_open() && opened_at[i] == at);
        }
    }
}

impl LineSink for TrailCheck<'_> {
    fn record(&mut self, mut r: Record) {
        self.read += 1;
        let i = self.session(&r.session_id);
        r.session_id = self.sessions[i].id().clone();
        let (kind, was_open) = (r.kind, self.sessions[i].is_open());
        self.sessions[i].push(r, self.key);
        if !was_open && self.sessions[i].is_open() {
            self.open += 1;
            self.opened_at[i] = self.read;
            self.opened.push_back((self.read, i));
        }
        if kind == Kind::SessionEnd {
            self.ending.push_back((self.read, i));
        }
        self.close_due();
    }

    fn issue(&mut self, issue: LineIssue) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(issue);
        } else {
            self.omitted.total += 1;
            self.omitted.damage += u64::from(issue.is_damage());
        }
    }
}
