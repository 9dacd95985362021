//! Reading an audit trail back: which files, in which order, and each line
//! parsed into the few fields verification needs.
//!
//! Files are read in name order (for our names that is write order, see
//! [`crate::sink::rotate`]); `.gz` files are decompressed. A last line
//! without newline that does not parse is *torn* (a writer died mid-write)
//! and skipped; so is a fragment inside a file that a later writer ended with
//! a newline (it does not end like a line does). Any other line that does not
//! parse is *unreadable*, which counts as damage.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::VerifyError;
use crate::sink::rotate::parse_name;
use crate::stamp::{canonical_bytes, sha256_hex};

/// A line of a file (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<str>,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The `details` members verification reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Details {
    pub chain_seed: Option<String>,
    pub signing_key: Option<String>,
    pub signature: Option<String>,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub event_count: Option<u64>,
}

#[derive(Deserialize)]
struct Fields {
    session_id: String,
    seq: u64,
    #[serde(rename = "type")]
    kind: String,
    prev_hash: String,
    #[serde(default)]
    details: Details,
}

/// One stamped line, as verification sees it.
#[derive(Debug, Clone)]
pub struct Record {
    pub at: Location,
    pub session_id: String,
    pub seq: u64,
    pub kind: String,
    pub prev_hash: String,
    /// The `hash` the line claims.
    pub hash: String,
    /// Whether `hash` is the SHA-256 of the line's canonical bytes.
    pub hash_ok: bool,
    pub details: Details,
}

/// A line that is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineIssue {
    /// Cut short by a crash; skipped.
    Torn(Location),
    /// Complete but not a stamped line: damage.
    Unreadable(Location, String),
}

/// Everything read from the trail.
#[derive(Debug, Default)]
pub struct Trail {
    pub files: Vec<PathBuf>,
    pub records: Vec<Record>,
    pub issues: Vec<LineIssue>,
}

/// The files to read for `paths` (files as given, directories by our names),
/// in write order.
pub fn trail_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, VerifyError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| VerifyError::Read {
                path: path.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                let name = entry.file_name();
                if name.to_str().and_then(parse_name).is_some() {
                    files.push(entry.path());
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    let key = |p: &PathBuf| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.strip_suffix(".gz").map(str::to_owned).unwrap_or(name)
    };
    files.sort_by_key(key);
    Ok(files)
}

/// Reads and parses every line of `files`.
pub fn read_trail(files: Vec<PathBuf>) -> Result<Trail, VerifyError> {
    let mut trail = Trail::default();
    for path in &files {
        let bytes = read_file(path)?;
        let name: Arc<str> = path.display().to_string().into();
        read_lines(&name, &bytes, &mut trail);
    }
    trail.files = files;
    Ok(trail)
}

/// The bytes of an audit file, gunzipped if its name ends in `.gz`.
pub fn read_file(path: &Path) -> Result<Vec<u8>, VerifyError> {
    let read_err = |source| VerifyError::Read {
        path: path.to_owned(),
        source,
    };
    let raw = std::fs::read(path).map_err(read_err)?;
    if !path.extension().is_some_and(|e| e == "gz") {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(read_err)?;
    Ok(out)
}

fn read_lines(file: &Arc<str>, bytes: &[u8], trail: &mut Trail) {
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let (line, ended) = match memchr::memchr(b'\n', &bytes[start..]) {
            Some(i) => (&bytes[start..start + i], true),
            None => (&bytes[start..], false),
        };
        start += line.len() + 1;
        let at = Location {
            file: file.clone(),
            line: number,
        };
        if line.is_empty() {
            continue;
        }
        match parse_record(line, at.clone()) {
            Ok(record) => trail.records.push(record),
            Err(_) if !ended || !line.ends_with(b"\"}") => trail.issues.push(LineIssue::Torn(at)),
            Err(why) => trail.issues.push(LineIssue::Unreadable(at, why)),
        }
    }
}

/// Parses one line (without its newline).
pub fn parse_record(line: &[u8], at: Location) -> Result<Record, String> {
    let fields: Fields =
        serde_json::from_slice(line).map_err(|e| format!("not a stamped line: {e}"))?;
    let (hash_ok, hash) = match canonical_bytes(line) {
        Some((canon, claimed)) => (sha256_hex(&canon) == claimed, claimed.to_owned()),
        None => (false, String::new()),
    };
    Ok(Record {
        at,
        session_id: fields.session_id,
        seq: fields.seq,
        kind: fields.kind,
        prev_hash: fields.prev_hash,
        hash,
        hash_ok,
        details: fields.details,
    })
}
