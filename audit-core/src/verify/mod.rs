//! Verifying an audit trail: every session's hash chain, across plain and
//! gzipped files, and (with a public key) its signed checkpoints.
//!
//! Lines are grouped by `session_id` and ordered by `seq`; each session is
//! checked by [`chain::check_session`] and gets a [`SessionReport`]: OK, or
//! the list of [`Break`]s found, each naming the file and line. What each
//! mode proves is written down in `docs/audit-files.md`.

pub mod chain;
pub mod read;
pub mod seals;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use chain::{check_session, Break, SessionReport};
pub use read::{LineIssue, Location, MAX_LINE_BYTES};
pub use seals::{IndexCheck, SealFinding};

use crate::sign::PublicKey;

/// Errors that stop verification before any verdict.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("no audit files found in {0}")]
    NoFiles(String),
}

/// The verdict on a whole trail.
#[derive(Debug)]
pub struct VerifyReport {
    pub files: Vec<PathBuf>,
    /// Sessions in order of their first line read.
    pub sessions: Vec<SessionReport>,
    /// Torn lines (skipped) and unreadable lines (damage).
    pub issues: Vec<LineIssue>,
    /// Each directory given, checked against its seal index.
    pub seals: Vec<IndexCheck>,
    /// Whether signatures were checked.
    pub with_key: bool,
}

impl VerifyReport {
    /// True if no session is broken and no line is unreadable (torn lines
    /// are a crash's mark, not damage).
    pub fn is_ok(&self) -> bool {
        self.sessions.iter().all(SessionReport::is_ok)
            && !self.issues.iter().any(LineIssue::is_damage)
            && self.seals.iter().all(|c| c.is_ok(self.with_key))
    }
}

/// Verifies the trail in `paths` (files, or directories of audit files).
pub fn verify_paths(
    paths: &[PathBuf],
    key: Option<&PublicKey>,
) -> Result<VerifyReport, VerifyError> {
    let files = read::trail_files(paths)?;
    if files.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(VerifyError::NoFiles(names.join(", ")));
    }
    let (trail, seals) = read_checked(paths, files, key)?;
    let mut order: Vec<std::sync::Arc<str>> = Vec::new();
    let mut by_session: BTreeMap<std::sync::Arc<str>, Vec<read::Record>> = BTreeMap::new();
    for r in trail.records {
        if !by_session.contains_key(&r.session_id) {
            order.push(r.session_id.clone());
        }
        by_session.entry(r.session_id.clone()).or_default().push(r);
    }
    // An intact index that records retention deletions explains events
    // missing before a session's first line read.
    let retention = seals
        .iter()
        .any(|c| c.is_ok(key.is_some()) && c.retention_deleted());
    let sessions = order
        .into_iter()
        .map(|id| {
            let records = by_session.remove(&id).unwrap_or_default();
            let mut report = check_session(&id, records, key);
            if retention {
                report.excuse_retention();
            }
            report
        })
        .collect();
    Ok(VerifyReport {
        files: trail.files,
        sessions,
        issues: trail.issues,
        seals,
        with_key: key.is_some(),
    })
}

/// Reads `files`, each directory among `paths` checked against its seal
/// index (what the index expects of a file is checked as it is read).
fn read_checked(
    paths: &[PathBuf],
    files: Vec<PathBuf>,
    key: Option<&PublicKey>,
) -> Result<(read::Trail, Vec<IndexCheck>), VerifyError> {
    let mut checks: Vec<(IndexCheck, Vec<_>)> = paths
        .iter()
        .filter(|p| p.is_dir())
        .map(|d| (IndexCheck::load(d, key), Vec::new()))
        .collect();
    let mut trail = read::Trail::default();
    for path in &files {
        let dir = path.parent().unwrap_or(Path::new(""));
        let check = checks.iter_mut().find(|(c, _)| c.dir == dir);
        let expect = check
            .as_ref()
            .map(|(c, _)| c.expect(path))
            .unwrap_or_default();
        let digest = read::read_file(path, &expect, &mut trail)?;
        if let Some((_, read)) = check {
            read.push((path.clone(), digest));
        }
    }
    trail.files = files;
    let checks = checks
        .into_iter()
        .map(|(mut c, read)| {
            c.compare(&read);
            c
        })
        .collect();
    Ok((trail, checks))
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for issue in &self.issues {
            writeln!(f, "{issue}")?;
        }
        for s in &self.sessions {
            let verdict = if s.is_ok() { "OK" } else { "BROKEN" };
            write!(
                f,
                "session {}: {verdict}, {} events (last seq {})",
                s.session_id, s.events, s.last_seq
            )?;
            if self.with_key {
                match s.signed_through {
                    Some(n) if n >= s.last_seq => write!(f, ", signed")?,
                    Some(n) => write!(
                        f,
                        ", signed through seq {n}; seq {}..={} unsigned",
                        n + 1,
                        s.last_seq
                    )?,
                    None => write!(f, ", no valid signature")?,
                }
            }
            writeln!(f)?;
            if let Some((a, b)) = s.retention_gap {
                writeln!(
                    f,
                    "  - note: seq {a}..={b} deleted by retention (seal index)"
                )?;
            }
            for (a, b) in &s.announced_losses {
                writeln!(f, "  - note: seq {a}..={b} announced lost by audit_dropped")?;
            }
            for b in &s.breaks {
                writeln!(f, "  - {b}")?;
            }
        }
        for c in &self.seals {
            if c.entries > 0 {
                let signed = if self.with_key { ", signed" } else { "" };
                writeln!(
                    f,
                    "seal index {}: {} entries{signed}",
                    c.dir.join(crate::sink::seal::SEAL_FILE).display(),
                    c.entries
                )?;
            }
            for finding in &c.findings {
                writeln!(f, "  - {finding}")?;
            }
        }
        let broken = self.sessions.iter().filter(|s| !s.is_ok()).count();
        write!(
            f,
            "verify: {} files, {} sessions, {broken} broken: {}",
            self.files.len(),
            self.sessions.len(),
            if self.is_ok() { "OK" } else { "FAILED" }
        )
    }
}

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod seal_tests;
#[cfg(test)]
mod tests;
