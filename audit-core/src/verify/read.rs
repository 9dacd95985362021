//! Reading an audit trail back: which files, in which order, and each line
//! parsed into the few fields verification needs.
//!
//! Files are read in name order (for our names that is write order, see
//! `crate::sink::rotate`); `.gz` files are decompressed as a stream. A
//! last line without newline that does not parse is *torn* (a writer died
//! mid-write) and skipped. Any other line that does not parse is an
//! *inserted or corrupted line*, which counts as damage, unless the seal
//! index recorded that a writer ended a torn line at that byte offset
//! (`crate::sink::seal`).
//!
//! Memory is bounded whatever the input: a line is buffered up to
//! [`MAX_LINE_BYTES`] and a longer one is reported and skipped to its end
//! without being kept, so a decompression bomb costs its inflating, not its
//! size. A line's [`Record`] is small and bounded (about 200 bytes, its
//! `details` strings cut to what a valid value can be, the session id at
//! most [`MAX_SESSION_ID_BYTES`]); where records go is the [`LineSink`]'s
//! business (the streaming check keeps a bounded window of them).

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::VerifyError;
use crate::sink::rotate::parse_name;
use crate::stamp::canonical_split;

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
    /// (`audit_dropped`) the `prev_hash` of the first lost line.
    pub first_prev_hash: Option<String>,
    /// (`audit_dropped`) the `hash` of the last lost line.
    pub last_hash: Option<String>,
}

/// Details of a line that has none of the members above.
static NO_DETAILS: Details = Details {
    chain_seed: None,
    signing_key: None,
    signature: None,
    first_seq: None,
    last_seq: None,
    event_count: None,
    first_prev_hash: None,
    last_hash: None,
};

/// Longest hash-like `details` string kept (a valid one is 64 hex digits).
const MAX_HASH_TEXT: usize = 64;
/// Longest `signature` kept (a valid one is 128 hex digits).
const MAX_SIGNATURE_TEXT: usize = 256;
/// Longest `signing_key` kept as written (a fingerprint is 71 bytes); a
/// longer one is cut (it names no key either way).
const MAX_KEY_TEXT: usize = 128;

impl Details {
    /// Cuts every string to the length a valid value can have: a longer
    /// one is invalid whatever it holds, and is not kept at its length.
    fn bounded(mut self) -> Details {
        for hash in [
            &mut self.chain_seed,
            &mut self.first_prev_hash,
            &mut self.last_hash,
        ] {
            if hash.as_ref().is_some_and(|h| h.len() > MAX_HASH_TEXT) {
                *hash = Some(String::new());
            }
        }
        if (self.signature.as_ref()).is_some_and(|s| s.len() > MAX_SIGNATURE_TEXT) {
            self.signature = Some(String::new());
        }
        if let Some(key) = self.signing_key.as_mut().filter(|k| k.len() > MAX_KEY_TEXT) {
            let mut cut = MAX_KEY_TEXT;
            while !key.is_char_boundary(cut) {
                cut -= 1;
            }
            key.truncate(cut);
            key.push('…');
        }
        self
    }

    fn is_empty(&self) -> bool {
        self.chain_seed.is_none()
            && self.signing_key.is_none()
            && self.signature.is_none()
            && self.first_seq.is_none()
            && self.last_seq.is_none()
            && self.event_count.is_none()
            && self.first_prev_hash.is_none()
            && self.last_hash.is_none()
    }
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

/// A SHA-256 hash, as bytes.
pub type Hash = [u8; 32];

/// 64 hex digits as a [`Hash`](type@Hash).
pub fn parse_hash(hex_text: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).ok()?;
    Some(out)
}

/// The event types verification reads; every other type is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SessionStart,
    SessionEnd,
    Checkpoint,
    AuditDropped,
    Other,
}

impl Kind {
    fn of(name: &str) -> Kind {
        match name {
            "session_start" => Kind::SessionStart,
            "session_end" => Kind::SessionEnd,
            "checkpoint" => Kind::Checkpoint,
            "audit_dropped" => Kind::AuditDropped,
            _ => Kind::Other,
        }
    }

    /// True for the types that carry a signature (`checkpoint`, `session_end`).
    pub fn is_signed(self) -> bool {
        matches!(self, Kind::Checkpoint | Kind::SessionEnd)
    }
}

/// One stamped line, as verification sees it: small and bounded whatever
/// the line held (about 200 bytes).
#[derive(Debug, Clone)]
pub struct Record {
    pub at: Location,
    pub session_id: Arc<str>,
    pub seq: u64,
    pub kind: Kind,
    /// `None` if the line's `prev_hash` is not 64 hex digits.
    pub prev_hash: Option<Hash>,
    /// The `hash` the line claims (`None` if it has none).
    pub hash: Option<Hash>,
    /// Whether `hash` is the SHA-256 of the line's canonical bytes.
    pub hash_ok: bool,
    details: Option<Box<Details>>,
}

impl Record {
    /// The line's `details` members verification reads.
    pub fn details(&self) -> &Details {
        self.details.as_deref().unwrap_or(&NO_DETAILS)
    }
}

/// The longest line read: a longer one is damage, reported and skipped
/// without being buffered. The proxy's lines are far shorter (fields are
/// truncated, oversized frames recorded by size and hash).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// The longest `session_id` read: a longer one is damage (the proxy's are
/// UUIDs), so that what is kept per session stays small.
pub const MAX_SESSION_ID_BYTES: usize = 256;

/// Where the reader puts what it read: each record, and each line that is
/// not one.
pub trait LineSink {
    fn record(&mut self, record: Record);
    fn issue(&mut self, issue: LineIssue);
}

/// A line that is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineIssue {
    /// Cut short by a crash (a last line without newline); skipped.
    Torn(Location),
    /// A torn line a later writer ended with a newline, as the seal index
    /// records; skipped.
    Repaired(Location),
    /// Not a stamped line and not where a crash leaves one: damage.
    Unreadable(Location, String),
    /// Longer than [`MAX_LINE_BYTES`] (its length as read): damage.
    Overlong(Location, u64),
}

impl LineIssue {
    /// True for damage (not a crash's mark).
    pub fn is_damage(&self) -> bool {
        matches!(self, LineIssue::Unreadable(..) | LineIssue::Overlong(..))
    }
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineIssue::Torn(at) => write!(f, "{at}: torn line (a writer died mid-write); skipped"),
            LineIssue::Repaired(at) => write!(
                f,
                "{at}: torn line ended by a later writer (recorded in the seal index); skipped"
            ),
            LineIssue::Unreadable(at, why) => {
                write!(f, "{at}: inserted or corrupted line: {why}")
            }
            LineIssue::Overlong(at, n) => write!(
                f,
                "{at}: inserted or corrupted line: over {MAX_LINE_BYTES} bytes ({n} read); skipped"
            ),
        }
    }
}

/// What the seal index expects of one file, for [`read_file`].
#[derive(Debug, Default, Clone)]
pub struct Expect {
    /// Hash the first this many bytes too (a seal of a file still written).
    pub prefix: Option<u64>,
    /// Byte offsets of the newlines writers added to end torn lines.
    pub repaired: BTreeSet<u64>,
}

/// The content of one file as read (decompressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest256 {
    pub size: u64,
    /// SHA-256 of all of it, as hex.
    pub sha256: String,
    /// SHA-256 of the first [`Expect::prefix`] bytes, if it has that many.
    pub prefix_sha256: Option<String>,
}

/// Everything read from a trail, kept whole (for tests and small inputs;
/// verification streams through [`super::stream::TrailCheck`] instead).
#[derive(Debug, Default)]
pub struct Trail {
    pub files: Vec<PathBuf>,
    pub records: Vec<Record>,
    pub issues: Vec<LineIssue>,
}

impl LineSink for Trail {
    fn record(&mut self, record: Record) {
        self.records.push(record);
    }
    fn issue(&mut self, issue: LineIssue) {
        self.issues.push(issue);
    }
}

/// Takes one line (without newline) that ends at byte `end`; `ended` if a
/// newline followed it.
fn take_line(
    sink: &mut impl LineSink,
    line: &[u8],
    at: Location,
    end: u64,
    ended: bool,
    expect: &Expect,
) {
    if line.is_empty() {
        return;
    }
    match parse_record(line, at.clone()) {
        Ok(record) => sink.record(record),
        Err(_) if !ended => sink.issue(LineIssue::Torn(at)),
        Err(_) if expect.repaired.contains(&end) => sink.issue(LineIssue::Repaired(at)),
        Err(why) => sink.issue(LineIssue::Unreadable(at, why)),
    }
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

/// Opens `path` without following a link: a link planted at an audit
/// file's name is not the trail.
fn open_nofollow(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Most bytes [`read_bytes`] returns: a trail it reads whole is a CI run's,
/// and a larger (or decompression-bomb) file is refused, not buffered.
pub const MAX_WHOLE_FILE: u64 = 256 << 20;

/// The whole bytes of an audit file, gunzipped if its name ends in `.gz`
/// (for `check`, which reads small CI trails whole), at most
/// [`MAX_WHOLE_FILE`]; opened without following a link.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, VerifyError> {
    read_capped(path, MAX_WHOLE_FILE)
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, VerifyError> {
    let read_err = |source| VerifyError::Read {
        path: path.to_owned(),
        source,
    };
    let file = open_nofollow(path).map_err(read_err)?;
    let reader: Box<dyn io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    };
    let mut out = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(reader, cap + 1), &mut out).map_err(read_err)?;
    if out.len() as u64 > cap {
        return Err(read_err(io::Error::other(format!(
            "more than {cap} bytes to read whole"
        ))));
    }
    Ok(out)
}

/// Reads one file's lines into `sink` and returns the digest of its
/// (decompressed) content.
pub fn read_file(
    path: &Path,
    expect: &Expect,
    sink: &mut impl LineSink,
) -> Result<Digest256, VerifyError> {
    let read_err = |source| VerifyError::Read {
        path: path.to_owned(),
        source,
    };
    let file = open_nofollow(path).map_err(read_err)?;
    let name: Arc<str> = path.display().to_string().into();
    if path.extension().is_some_and(|e| e == "gz") {
        let gz = flate2::read::MultiGzDecoder::new(BufReader::new(file));
        read_lines(&name, BufReader::with_capacity(64 * 1024, gz), expect, sink)
    } else {
        read_lines(
            &name,
            BufReader::with_capacity(64 * 1024, file),
            expect,
            sink,
        )
    }
    .map_err(read_err)
}

/// The streaming reader: at most [`MAX_LINE_BYTES`] of a line are held.
pub fn read_lines<R: BufRead>(
    file: &Arc<str>,
    mut input: R,
    expect: &Expect,
    sink: &mut impl LineSink,
) -> io::Result<Digest256> {
    let mut hasher = Sha256::new();
    let (mut offset, mut prefix_sha256) = (0u64, None);
    let (mut line, mut line_len, mut number, mut line_start) = (Vec::new(), 0u64, 0usize, 0u64);
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let newline = memchr::memchr(b'\n', chunk);
        let take = newline.map_or(chunk.len(), |i| i + 1);
        let piece = &chunk[..take];
        // The prefix a seal names may end inside this piece.
        if let Some(p) = expect
            .prefix
            .filter(|p| (offset..offset + take as u64).contains(p))
        {
            let mut at_prefix = hasher.clone();
            at_prefix.update(&piece[..(p - offset) as usize]);
            prefix_sha256 = Some(hex::encode(at_prefix.finalize()));
        }
        hasher.update(piece);
        let content = &piece[..take - usize::from(newline.is_some())];
        if line_len as usize + content.len() <= MAX_LINE_BYTES {
            line.extend_from_slice(content);
        }
        line_len += content.len() as u64;
        offset += take as u64;
        input.consume(take);
        if newline.is_some() {
            number += 1;
            end_line(
                sink, file, number, &mut line, line_len, line_start, true, expect,
            );
            (line_len, line_start) = (0, offset);
        }
    }
    if line_len > 0 {
        number += 1;
        end_line(
            sink, file, number, &mut line, line_len, line_start, false, expect,
        );
    }
    if expect.prefix == Some(offset) {
        prefix_sha256 = Some(hex::encode(hasher.clone().finalize()));
    }
    Ok(Digest256 {
        size: offset,
        sha256: hex::encode(hasher.finalize()),
        prefix_sha256,
    })
}

#[allow(clippy::too_many_arguments)]
fn end_line(
    sink: &mut impl LineSink,
    file: &Arc<str>,
    number: usize,
    line: &mut Vec<u8>,
    len: u64,
    offset: u64,
    ended: bool,
    expect: &Expect,
) {
    let at = Location {
        file: file.clone(),
        line: number,
    };
    if len as usize > MAX_LINE_BYTES {
        sink.issue(LineIssue::Overlong(at, len));
    } else {
        take_line(sink, line, at, offset + len, ended, expect);
    }
    line.clear();
    if line.capacity() > 1 << 20 {
        *line = Vec::new(); // one long line should not stay in memory
    }
}

/// Parses one line (without its newline).
pub fn parse_record(line: &[u8], at: Location) -> Result<Record, String> {
    let fields: Fields =
        serde_json::from_slice(line).map_err(|e| format!("not a stamped line: {e}"))?;
    if fields.session_id.len() > MAX_SESSION_ID_BYTES {
        return Err(format!(
            "session_id over {MAX_SESSION_ID_BYTES} bytes ({})",
            fields.session_id.len()
        ));
    }
    let (hash_ok, hash) = match line_hash(line) {
        Some((ok, claimed)) => (ok, parse_hash(claimed)),
        None => (false, None),
    };
    let details = (!fields.details.is_empty()).then(|| Box::new(fields.details.bounded()));
    Ok(Record {
        at,
        session_id: fields.session_id.into(),
        seq: fields.seq,
        kind: Kind::of(&fields.kind),
        prev_hash: parse_hash(&fields.prev_hash),
        hash,
        hash_ok,
        details,
    })
}

/// Whether the line's canonical bytes hash to the hash it claims (hashed in
/// place, without a copy), and that hash.
fn line_hash(line: &[u8]) -> Option<(bool, &str)> {
    let (prefix_len, claimed) = canonical_split(line)?;
    let mut h = Sha256::new();
    h.update(&line[..prefix_len]);
    h.update(b"}");
    Some((hex::encode(h.finalize()) == claimed, claimed))
}

#[cfg(test)]
mod whole_file_tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_whole_file_read_is_capped_even_when_it_inflates() {
        let tmp = tempfile::tempdir().unwrap();
        let gz = tmp.path().join("audit-2026-01-01.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'a'; 64 * 1024]).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_capped(&gz, 64 * 1024).unwrap().len(), 64 * 1024);
        let err = read_capped(&gz, 1000).unwrap_err().to_string();
        assert!(err.contains("more than 1000 bytes"), "{err}");
        let link = tmp.path().join("audit-2026-01-02.jsonl");
        std::os::unix::fs::symlink(&gz, &link).unwrap();
        assert!(read_bytes(&link).is_err(), "a link is not followed");
    }
}
