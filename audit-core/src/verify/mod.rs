//! Verifying an audit trail: every session's hash chain, across plain and
//! gzipped files, and (with a public key) its signed checkpoints.
//!
//! Lines are grouped by `session_id` and ordered by `seq`; each session is
//! checked by [`chain::check_session`] and gets a [`SessionReport`]: OK, or
//! the list of [`Break`]s found, each naming the file and line. What each
//! mode proves is written down in `docs/audit-files.md`.

pub mod chain;
pub mod read;
mod report;
pub mod seals;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

pub use chain::{check_session, Break, SessionReport};
pub use read::{LineIssue, Location, MAX_LINE_BYTES};
pub use report::Seqs;
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
    Ok(assemble(trail, seals, key))
}

/// Verifies one trail read from `input` (plain or gzipped JSONL), called
/// `name` in the report (stdin, for instance); no seal index applies.
pub fn verify_reader(
    name: &str,
    input: impl io::Read,
    key: Option<&PublicKey>,
) -> Result<VerifyReport, VerifyError> {
    let read_err = |source| VerifyError::Read {
        path: name.into(),
        source,
    };
    let mut input = io::BufReader::with_capacity(64 * 1024, input);
    let gz = io::BufRead::fill_buf(&mut input)
        .map_err(read_err)?
        .starts_with(&[0x1f, 0x8b]);
    let mut trail = read::Trail::default();
    let (file, expect) = (name.into(), read::Expect::default());
    if gz {
        let gz = io::BufReader::new(flate2::read::MultiGzDecoder::new(input));
        read::read_lines(&file, gz, &expect, &mut trail)
    } else {
        read::read_lines(&file, input, &expect, &mut trail)
    }
    .map_err(read_err)?;
    trail.files = vec![name.into()];
    Ok(assemble(trail, Vec::new(), key))
}

/// The report on what was read: sessions grouped and checked in order of
/// their first line.
fn assemble(trail: read::Trail, seals: Vec<IndexCheck>, key: Option<&PublicKey>) -> VerifyReport {
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
    VerifyReport {
        files: trail.files,
        sessions,
        issues: trail.issues,
        seals,
        with_key: key.is_some(),
    }
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

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod seal_tests;
#[cfg(test)]
mod tests;
