//! Reading the trail back for people: the engine of `tail`, `query`,
//! `sessions` and `stats`.
//!
//! - [`read`]: which files, in write order, and their lines, streamed from
//!   plain and gzipped files with a bounded line length; a bad line is an
//!   [`Issue`] (file:line), never the end of a scan.
//! - [`view`]: one line parsed into the few fields a reader needs, borrowed.
//! - [`filter`]: the flags shared by every reader (`--since`, `--tool`, …);
//!   [`jq`]: `--where`, a jq filter run by the embedded jaq interpreter.
//! - [`scan`]: every file of a trail through a per-file fold, files in
//!   parallel, with a progress count.
//! - [`stats`], [`sessions`], [`join`]: what the subcommands compute;
//!   [`format`](mod@format): how their rows are written; [`follow`]: `tail -f`.
//!
//! Memory is bounded per line ([`read::MAX_LINE`]) and by what is kept
//! between lines: calls awaiting their answer ([`join::MAX_PENDING_CALLS`]),
//! one accumulator per group or session, and the durations of each group,
//! kept whole for exact percentiles (8 bytes per answer).

pub mod filter;
pub mod follow;
pub mod format;
pub mod join;
pub mod jq;
pub mod query;
pub mod read;
pub mod scan;
pub mod sessions;
pub mod stats;
pub mod view;

use std::io;
use std::path::PathBuf;

pub use filter::{Filter, FilterSpec};
pub use read::Issue;
pub use view::EventView;

/// Errors that stop a reader before or outside its scan (a bad line never
/// does: it is an [`Issue`]).
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("no audit files found in {0}")]
    NoFiles(String),
    #[error("invalid {flag} `{value}`: {why}")]
    BadFlag {
        flag: &'static str,
        value: String,
        why: String,
    },
}

/// The audit files of `paths` (files as given, directories by our names),
/// in write order; an error if there are none.
pub fn trail_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TrailError> {
    let files = crate::verify::read::trail_files(paths).map_err(|e| match e {
        crate::verify::VerifyError::Read { path, source } => TrailError::Read { path, source },
        crate::verify::VerifyError::NoFiles(s) => TrailError::NoFiles(s),
    })?;
    if files.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(TrailError::NoFiles(names.join(", ")));
    }
    Ok(files)
}
