//! Checking an audit directory against its seal index
//! (`crate::sink::seal`): the index's own chain and signatures, then each
//! file against what the index says of it.
//!
//! Replaying the entries in order gives each logical file name a state:
//! sealed whole (`closed`), sealed up to a size (`exit`), or deleted by
//! retention (`deleted`); a rename moves a name's state to its new name.
//! A sealed file that is gone, shorter, longer or different is tampering; a
//! rotated part the index does not know was added (or the index cut short);
//! a file deleted by retention is a note, not a break.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::read::{Digest256, Expect};
use crate::sign::PublicKey;
use crate::sink::rotate::parse_name;
use crate::sink::seal::{read_index, ReadEntry, SealOp, GENESIS, SEAL_FILE};

/// What one index entry said of a file.
#[derive(Debug, Clone, Default)]
struct FileState {
    /// `(size, sha256, whole, entry n)`.
    sealed: Option<(u64, String, bool, u64)>,
    /// The entry that recorded its deletion by retention.
    deleted: Option<u64>,
    expect: Expect,
}

/// One finding about the files of a directory or its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealFinding {
    /// No `.seals` though audit files exist (a break with `--key`).
    IndexMissing,
    /// Line `line` of the index is not an entry.
    BadEntry { line: usize, why: String },
    /// Entry `n` does not hash to its `hash`.
    EntryModified { n: u64 },
    /// Entry `n` does not follow the entry before it (`prev`, `n`).
    EntryChainBroken { n: u64 },
    /// (`--key`) entry `n` is unsigned or not signed by the key.
    EntryNotSigned { n: u64 },
    /// A sealed file is gone and no entry says retention deleted it.
    FileMissing { file: String, n: u64 },
    /// A sealed file now holds other content (swapped or modified).
    FileChanged { file: String, n: u64 },
    /// A sealed file is shorter than sealed.
    FileTruncated {
        file: String,
        size: u64,
        sealed: u64,
    },
    /// A file sealed as closed has grown.
    FileGrew {
        file: String,
        size: u64,
        sealed: u64,
    },
    /// A rotated part the index does not know (added, or the index cut short).
    NotSealed { file: String },
    /// A file the index says retention deleted is there again.
    Reappeared { file: String, n: u64 },
    /// Note: retention deleted the file (entry `n`).
    DeletedByRetention { file: String, n: u64 },
    /// Note: the active file has no seal yet (a writer still runs, or crashed).
    ActiveNotSealed { file: String },
}

impl SealFinding {
    /// True for tampering (false for notes). `with_key`: a missing index
    /// is a break only when the trail is meant to be signed.
    pub fn is_break(&self, with_key: bool) -> bool {
        match self {
            SealFinding::IndexMissing => with_key,
            SealFinding::DeletedByRetention { .. } | SealFinding::ActiveNotSealed { .. } => false,
            _ => true,
        }
    }
}

impl fmt::Display for SealFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SealFinding::*;
        match self {
            IndexMissing => write!(
                f,
                "no seal index ({SEAL_FILE}) though audit files exist: deleted, added or swapped files cannot be detected"
            ),
            BadEntry { line, why } => write!(f, "seal index line {line}: {why}"),
            EntryModified { n } => write!(f, "seal entry {n} modified: does not match its hash"),
            EntryChainBroken { n } => {
                write!(f, "seal index broken at entry {n}: entries deleted, inserted or reordered")
            }
            EntryNotSigned { n } => write!(f, "seal entry {n}: signature missing or invalid"),
            FileMissing { file, n } => write!(
                f,
                "file deleted: {file} (sealed by entry {n}; no entry says retention deleted it)"
            ),
            FileChanged { file, n } => {
                write!(f, "file swapped or modified: {file} does not match seal entry {n}")
            }
            FileTruncated { file, size, sealed } => {
                write!(f, "file truncated: {file} has {size} bytes, sealed with {sealed}")
            }
            FileGrew { file, size, sealed } => write!(
                f,
                "file appended to after it was closed: {file} has {size} bytes, sealed with {sealed}"
            ),
            NotSealed { file } => write!(
                f,
                "file not in the seal index: {file} (added, or the index was cut short)"
            ),
            Reappeared { file, n } => {
                write!(f, "file present though deleted by retention (entry {n}): {file}")
            }
            DeletedByRetention { file, n } => {
                write!(f, "note: {file} deleted by retention (seal entry {n})")
            }
            ActiveNotSealed { file } => write!(
                f,
                "note: {file} not sealed yet (a writer is still running, or crashed)"
            ),
        }
    }
}

/// The verdict on one directory's files.
#[derive(Debug, Clone)]
pub struct IndexCheck {
    pub dir: PathBuf,
    /// Entries read (0 if there is no index).
    pub entries: u64,
    pub findings: Vec<SealFinding>,
    files: BTreeMap<String, FileState>,
}

/// The logical name of an audit file path (`.gz` removed).
pub fn logical_name(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.strip_suffix(".gz").unwrap_or(&name).to_owned()
}

impl IndexCheck {
    /// Reads and checks `dir/.seals` (an unreadable index counts as missing).
    pub fn load(dir: &Path, key: Option<&PublicKey>) -> IndexCheck {
        let mut check = IndexCheck {
            dir: dir.to_owned(),
            entries: 0,
            findings: Vec::new(),
            files: BTreeMap::new(),
        };
        match read_index(&dir.join(SEAL_FILE)) {
            Ok(lines) => check.replay(lines, key),
            Err(_) => check.findings.push(SealFinding::IndexMissing),
        }
        check
    }

    fn replay(&mut self, lines: Vec<Result<ReadEntry, String>>, key: Option<&PublicKey>) {
        let (mut n, mut prev) = (0u64, GENESIS.to_owned());
        for (i, line) in lines.into_iter().enumerate() {
            let e = match line {
                Ok(e) => e,
                Err(why) => {
                    self.findings
                        .push(SealFinding::BadEntry { line: i + 1, why });
                    continue;
                }
            };
            self.entries += 1;
            let this = e.entry.n;
            if !e.hash_ok {
                self.findings.push(SealFinding::EntryModified { n: this });
            }
            if e.entry.prev != prev || this != n + 1 {
                self.findings
                    .push(SealFinding::EntryChainBroken { n: this });
            }
            if let Some(k) = key {
                let signed = e.entry.key.as_deref() == Some(k.fingerprint().as_str())
                    && e.signature
                        .as_deref()
                        .is_some_and(|s| k.verify_seal(&e.hash, s));
                if !signed {
                    self.findings.push(SealFinding::EntryNotSigned { n: this });
                }
            }
            (n, prev) = (this, e.hash.clone());
            self.apply(e);
        }
    }

    fn apply(&mut self, e: ReadEntry) {
        let entry = e.entry;
        let sealed = || {
            Some((
                entry.size?,
                entry.sha256.clone()?,
                entry.op == SealOp::Closed,
                entry.n,
            ))
        };
        match entry.op {
            SealOp::Closed => {
                let moved = entry.from.as_ref().and_then(|f| self.files.remove(f));
                let state = self.files.entry(entry.file.clone()).or_default();
                if let Some(moved) = moved {
                    state.expect.repaired.extend(moved.expect.repaired);
                }
                (state.sealed, state.deleted) = (sealed(), None);
            }
            SealOp::Exit => {
                let state = self.files.entry(entry.file.clone()).or_default();
                (state.sealed, state.deleted) = (sealed(), None);
            }
            SealOp::Deleted => {
                let state = self.files.entry(entry.file.clone()).or_default();
                (state.sealed, state.deleted) = (None, Some(entry.n));
            }
            SealOp::Repaired => {
                let state = self.files.entry(entry.file.clone()).or_default();
                state.expect.repaired.extend(entry.offset);
            }
        }
    }

    /// What the reader should check of the file at `path`.
    pub fn expect(&self, path: &Path) -> Expect {
        let Some(state) = self.files.get(&logical_name(path)) else {
            return Expect::default();
        };
        let mut expect = state.expect.clone();
        expect.prefix = state.sealed.as_ref().map(|s| s.0);
        expect
    }

    /// Compares the files read (`path`, digest) with the index.
    pub fn compare(&mut self, read: &[(PathBuf, Digest256)]) {
        let no_index = self.findings.first() == Some(&SealFinding::IndexMissing);
        if no_index {
            if read.is_empty() {
                self.findings.clear();
            }
            return;
        }
        for (path, digest) in read {
            let file = logical_name(path);
            let state = self.files.get(&file).cloned().unwrap_or_default();
            if let Some(finding) = judge(&file, &state, digest) {
                self.findings.push(finding);
            }
        }
        for (file, state) in &self.files {
            if read.iter().any(|(p, _)| logical_name(p) == *file) {
                continue;
            }
            match (&state.sealed, state.deleted) {
                (Some(s), _) => self.findings.push(SealFinding::FileMissing {
                    file: file.clone(),
                    n: s.3,
                }),
                (None, Some(n)) => self.findings.push(SealFinding::DeletedByRetention {
                    file: file.clone(),
                    n,
                }),
                (None, None) => {}
            }
        }
    }

    /// True if the index records files deleted by retention.
    pub fn retention_deleted(&self) -> bool {
        (self.findings.iter()).any(|f| matches!(f, SealFinding::DeletedByRetention { .. }))
    }

    /// True if no finding is a break.
    pub fn is_ok(&self, with_key: bool) -> bool {
        !self.findings.iter().any(|f| f.is_break(with_key))
    }
}

/// The finding for one present file, if any.
fn judge(file: &str, state: &FileState, digest: &Digest256) -> Option<SealFinding> {
    let file = file.to_owned();
    let Some((sealed, sha, whole, n)) = state.sealed.clone() else {
        return match (state.deleted, parse_name(&file).and_then(|p| p.part)) {
            (Some(n), _) => Some(SealFinding::Reappeared { file, n }),
            (None, Some(_)) => Some(SealFinding::NotSealed { file }),
            (None, None) => Some(SealFinding::ActiveNotSealed { file }),
        };
    };
    let size = digest.size;
    if size < sealed {
        return Some(SealFinding::FileTruncated { file, size, sealed });
    }
    if digest.prefix_sha256.as_deref() != Some(sha.as_str()) {
        return Some(SealFinding::FileChanged { file, n });
    }
    (whole && size > sealed).then_some(SealFinding::FileGrew { file, size, sealed })
}
