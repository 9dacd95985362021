//! Verifying an audit trail: every session's hash chain, across plain and
//! gzipped files, and (with a public key) its signed checkpoints.
//!
//! The trail is read once, in write order, and each line goes to its
//! session's streaming check ([`stream::TrailCheck`]), which judges it as a
//! sort of the session's lines by `seq` would, in bounded memory. Each
//! session gets a [`SessionReport`]: OK, or the [`Break`]s found, each
//! naming the file and line. What each mode proves, and the memory bound,
//! are written down in `docs/verify.md`.

pub mod chain;
mod gaps;
pub mod read;
mod report;
pub mod seals;
pub mod session;
pub mod stream;

use std::io;
use std::path::{Path, PathBuf};

pub use chain::{check_session, Break, SessionReport};
pub use read::{LineIssue, Location, MAX_LINE_BYTES};
pub use report::Seqs;
pub use seals::{IndexCheck, SealFinding};
pub use stream::OmittedIssues;

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
    /// Torn lines (skipped) and unreadable lines (damage): the first
    /// [`stream::MAX_ISSUES`].
    pub issues: Vec<LineIssue>,
    /// Line issues beyond those in `issues`.
    pub issues_omitted: OmittedIssues,
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
            && self.issues_omitted.damage == 0
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
    let mut check = stream::TrailCheck::new(key);
    let seals = read_checked(paths, &files, &mut check, key)?;
    Ok(assemble(files, check, seals, key))
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
    let mut check = stream::TrailCheck::new(key);
    let (file, expect) = (name.into(), read::Expect::default());
    if gz {
        let gz = io::BufReader::new(flate2::read::MultiGzDecoder::new(input));
        read::read_lines(&file, gz, &expect, &mut check)
    } else {
        read::read_lines(&file, input, &expect, &mut check)
    }
    .map_err(read_err)?;
    Ok(assemble(vec![name.into()], check, Vec::new(), key))
}

/// The report on what was read.
fn assemble(
    files: Vec<PathBuf>,
    check: stream::TrailCheck,
    seals: Vec<IndexCheck>,
    key: Option<&PublicKey>,
) -> VerifyReport {
    let mut checked = check.finish();
    // An intact index that records retention deletions explains events
    // missing before a session's first line read.
    let retention = seals
        .iter()
        .any(|c| c.is_ok(key.is_some()) && c.retention_deleted());
    if retention {
        checked
            .sessions
            .iter_mut()
            .for_each(SessionReport::excuse_retention);
    }
    VerifyReport {
        files,
        sessions: checked.sessions,
        issues: checked.issues,
        issues_omitted: checked.omitted,
        seals,
        with_key: key.is_some(),
    }
}

/// Reads `files` into `check`, each directory among `paths` checked against
/// its seal index (what the index expects of a file is checked as it is
/// read).
fn read_checked(
    paths: &[PathBuf],
    files: &[PathBuf],
    check: &mut stream::TrailCheck,
    key: Option<&PublicKey>,
) -> Result<Vec<IndexCheck>, VerifyError> {
    let mut checks: Vec<(IndexCheck, Vec<_>)> = paths
        .iter()
        .filter(|p| p.is_dir())
        .map(|d| (IndexCheck::load(d, key), Vec::new()))
        .collect();
    for path in files {
        let dir = path.parent().unwrap_or(Path::new(""));
        let seal = checks.iter_mut().find(|(c, _)| c.dir == dir);
        let expect = seal
            .as_ref()
            .map(|(c, _)| c.expect(path))
            .unwrap_or_default();
        let digest = read::read_file(path, &expect, check)?;
        if let Some((_, read)) = seal {
            read.push((path.clone(), digest));
        }
    }
    Ok(checks
        .into_iter()
        .map(|(mut c, read)| {
            c.compare(&read);
            c
        })
        .collect())
}

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod seal_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
