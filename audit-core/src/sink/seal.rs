//! The seal index: `.seals` in an audit directory, one entry per line, each
//! hash chained to the one before and signed when a signing key is
//! configured (in the manner of AWS CloudTrail's digest files).
//!
//! Writers append entries under the directory's `flock` (`.lock`, see
//! [`super::append`]), so the chain is one sequence across every process
//! writing to the directory:
//!
//! - `closed`: a file was rotated away (full, or its day is over): its new
//!   `file` name, the name it had (`from`), its `size` and `sha256`;
//! - `exit`: a writer stopped; the active `file`'s first `size` bytes hash
//!   to `sha256` (others may append after them);
//! - `deleted`: retention deleted `file`;
//! - `repaired`: a writer ended a torn line (a crashed writer's) in `file`
//!   with a newline at byte `offset`.
//!
//! Names are logical (without `.gz`); sizes and hashes are of the
//! uncompressed content, so compressing a part changes nothing. An entry is
//! the JSON object `{"v":1,"n":…,"time":…,"op":…,"file":…,…,"prev":…}`
//! followed, before its closing brace, by `"hash"` (SHA-256 of the object as
//! written without `hash` and `signature`) and, when signed,
//! `"signature"` (Ed25519 over [`crate::sign::seal_message`] of the hash).
//! `prev` is the previous entry's hash (64 zeros for the first), `n` its
//! number plus one. The file is opened without following links and checked
//! after opening (a regular file of ours, mode 0600). The format and what
//! `verify` concludes from it are in `docs/verify.md`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::running::RunningDigest;
use super::storage::file_identity;
use crate::clock::rfc3339_millis;
use crate::sign::SecretKey;
use crate::stamp::{canonical_split, sha256_hex};

/// Name of the seal index in an audit directory.
pub const SEAL_FILE: &str = ".seals";

/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `,"signature":"` + 128 hex digits + `"}`.
const SIGNATURE_SUFFIX_LEN: usize = 14 + 128 + 2;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealOp {
    Closed,
    Exit,
    Deleted,
    Repaired,
}

/// One entry of the index, in the order its members are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealEntry {
    pub v: u32,
    pub n: u64,
    pub time: String,
    pub op: SealOp,
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Fingerprint of the key that signs the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub pid: u32,
    pub prev: String,
}

/// An entry as read back.
#[derive(Debug, Clone)]
pub struct ReadEntry {
    pub entry: SealEntry,
    /// The hash the line claims.
    pub hash: String,
    /// Whether the line hashes to it.
    pub hash_ok: bool,
    pub signature: Option<String>,
}

/// Parses one line of the index (without newline).
pub fn parse_entry(line: &[u8]) -> Result<ReadEntry, String> {
    let entry: SealEntry =
        serde_json::from_slice(line).map_err(|e| format!("not a seal entry: {e}"))?;
    let mut signature = None;
    let mut unsigned = line.to_vec();
    if line.len() > SIGNATURE_SUFFIX_LEN {
        let split = line.len() - SIGNATURE_SUFFIX_LEN;
        if line[split..].starts_with(b",\"signature\":\"") {
            signature = Some(String::from_utf8_lossy(&line[split + 14..line.len() - 2]).into());
            unsigned.truncate(split);
            unsigned.push(b'}');
        }
    }
    let (split, claimed) = canonical_split(&unsigned).ok_or("no hash member at its end")?;
    let mut h = Sha256::new();
    h.update(&unsigned[..split]);
    h.update(b"}");
    Ok(ReadEntry {
        hash_ok: hex::encode(h.finalize()) == claimed,
        hash: claimed.to_owned(),
        entry,
        signature,
    })
}

/// What a writer asks to seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seal {
    Closed { file: String, from: String },
    Exit { file: String },
    Deleted { file: String },
    Repaired { file: String, offset: u64 },
}

/// A file this writer wrote: the name it wrote it under, its inode, and the
/// digest it kept while appending ([`RunningDigest`]). A seal of that same inode uses
/// the digest (caught up to what others appended) instead of reading the
/// whole file back.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) file: String,
    pub(crate) id: (u64, u64),
    pub(crate) digest: RunningDigest,
}

/// The writer's side: appends entries, signing them with `key` if given.
#[derive(Debug, Default)]
pub struct SealLog {
    key: Option<Arc<SecretKey>>,
    warned: bool,
}

impl SealLog {
    pub fn new(key: Option<Arc<SecretKey>>) -> SealLog {
        SealLog { key, warned: false }
    }

    /// Appends one entry per seal to `dir/.seals`. The caller holds the
    /// directory lock. A failure is logged once: the trail goes on.
    pub fn append(&mut self, dir: &Path, seals: &[Seal], now: SystemTime) {
        self.append_written(dir, seals, now, None);
    }

    /// [`SealLog::append`], with the digest kept for a file this writer
    /// wrote.
    pub(crate) fn append_written(
        &mut self,
        dir: &Path,
        seals: &[Seal],
        now: SystemTime,
        written: Option<&Written>,
    ) {
        if seals.is_empty() {
            return;
        }
        if let Err(e) = self.try_append(dir, seals, now, written) {
            if !self.warned {
                self.warned = true;
                tracing::warn!("audit trail: cannot write the seal index {SEAL_FILE}: {e}");
            }
        }
    }

    fn try_append(
        &self,
        dir: &Path,
        seals: &[Seal],
        now: SystemTime,
        written: Option<&Written>,
    ) -> io::Result<()> {
        let mut file = open_index(&dir.join(SEAL_FILE))?;
        let (mut n, mut prev, torn) = last_entry(&file)?;
        let mut out = Vec::new();
        if torn {
            out.push(b'\n');
        }
        let time = rfc3339_millis(now);
        for seal in seals {
            n += 1;
            let entry = self.entry(dir, seal, n, &time, prev, written)?;
            prev = self.write_entry(&entry, &mut out);
        }
        file.write_all(&out)
    }

    fn entry(
        &self,
        dir: &Path,
        seal: &Seal,
        n: u64,
        time: &str,
        prev: String,
        written: Option<&Written>,
    ) -> io::Result<SealEntry> {
        let mut e = SealEntry {
            v: 1,
            n,
            time: time.to_owned(),
            op: SealOp::Deleted,
            file: String::new(),
            from: None,
            size: None,
            sha256: None,
            offset: None,
            key: self.key.as_ref().map(|k| k.public().fingerprint()),
            pid: std::process::id(),
            prev,
        };
        // `written` is matched by the name it was written under; the inode
        // check in digest_written decides.
        let digest = |file: &str, was: &str| -> io::Result<(u64, String)> {
            digest_written(&dir.join(file), written.filter(|w| w.file == was))
        };
        match seal {
            Seal::Closed { file, from } => {
                let (size, sha) = digest(file, from)?;
                (e.op, e.file, e.from) = (SealOp::Closed, file.clone(), Some(from.clone()));
                (e.size, e.sha256) = (Some(size), Some(sha));
            }
            Seal::Exit { file } => {
                let (size, sha) = digest(file, file)?;
                (e.op, e.file, e.size, e.sha256) =
                    (SealOp::Exit, file.clone(), Some(size), Some(sha));
            }
            Seal::Deleted { file } => e.file = file.clone(),
            Seal::Repaired { file, offset } => {
                (e.op, e.file, e.offset) = (SealOp::Repaired, file.clone(), Some(*offset));
            }
        }
        Ok(e)
    }

    /// Writes `entry` as one line to `out`; returns its hash.
    fn write_entry(&self, entry: &SealEntry, out: &mut Vec<u8>) -> String {
        let body = serde_json::to_vec(entry).expect("a seal entry serialises");
        let hash = sha256_hex(&body);
        out.extend_from_slice(&body[..body.len() - 1]);
        out.extend_from_slice(format!(",\"hash\":\"{hash}\"").as_bytes());
        if let Some(key) = &self.key {
            let sig = key.sign_seal(&hash);
            out.extend_from_slice(format!(",\"signature\":\"{sig}\"").as_bytes());
        }
        out.extend_from_slice(b"}\n");
        hash
    }
}

/// Opens the index for appending without following a link, then checks what
/// was opened: a regular file owned by us, made 0600 if it was not.
fn open_index(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if !meta.file_type().is_file() || meta.uid() != uid {
        return Err(io::Error::other(format!(
            "{} is not a regular file owned by uid {uid}",
            path.display()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// The number and hash of the index's last complete entry ((0, GENESIS) for
/// an empty index), and whether the file ends in a torn line.
fn last_entry(file: &File) -> io::Result<(u64, String, bool)> {
    let size = file.metadata()?.len();
    let tail_len = size.min(64 * 1024);
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact_at(&mut tail, size - tail_len)?;
    let torn = tail.last().is_some_and(|b| *b != b'\n');
    let complete = match memchr::memrchr(b'\n', &tail) {
        Some(end) => &tail[..end],
        None => return Ok((0, GENESIS.to_owned(), torn)),
    };
    let line = match memchr::memrchr(b'\n', complete) {
        Some(start) => &complete[start + 1..],
        None => complete,
    };
    // An entry that does not parse leaves the chain broken right there,
    // which is where verify reports it.
    Ok(match parse_entry(line) {
        Ok(e) => (e.entry.n, e.hash, torn),
        Err(_) => (0, GENESIS.to_owned(), torn),
    })
}

/// Size and SHA-256 (hex) of a plain audit file, read without following a
/// link; from `written`'s digest if the file is the inode it describes and
/// still holds what it hashed.
fn digest_written(path: &Path, written: Option<&Written>) -> io::Result<(u64, String)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    if let Some(w) = written {
        if file_identity(&file)? == w.id {
            if let Ok(digest) = w.digest.of_file(&file) {
                return Ok(digest);
            }
        }
    }
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let (mut h, mut size) = (Sha256::new(), 0u64);
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        h.update(chunk);
        let n = chunk.len();
        size += n as u64;
        reader.consume(n);
    }
    Ok((size, hex::encode(h.finalize())))
}

/// Reads every line of an index (each at most 64 KiB; a longer one is
/// returned as an error string in its place).
pub fn read_index(path: &Path) -> io::Result<Vec<Result<ReadEntry, String>>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = (&mut reader).take(64 * 1024).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n == 64 * 1024 {
            entries.push(Err("entry over 64 KiB".to_owned()));
            // Skip to the end of that line.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let n = (&mut reader).take(64 * 1024).read_until(b'\n', &mut rest)?;
                if n == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
            }
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if !text.is_empty() {
            entries.push(parse_entry(text));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_chain_sign_and_parse_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("audit-2026-01-01.0001.jsonl"), b"line\n").unwrap();
        let key = Arc::new(SecretKey::generate().unwrap());
        let mut log = SealLog::new(Some(key.clone()));
        let closed = Seal::Closed {
            file: "audit-2026-01-01.0001.jsonl".into(),
            from: "audit-2026-01-01.jsonl".into(),
        };
        log.append(dir, &[closed], SystemTime::UNIX_EPOCH);
        let deleted = Seal::Deleted {
            file: "audit-2025-12-01.0001.jsonl".into(),
        };
        SealLog::new(None).append(dir, &[deleted], SystemTime::UNIX_EPOCH);
        let entries: Vec<ReadEntry> = read_index(&dir.join(SEAL_FILE))
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(entries.len(), 2);
        let (a, b) = (&entries[0], &entries[1]);
        assert!(a.hash_ok && b.hash_ok);
        assert_eq!((a.entry.n, a.entry.prev.as_str()), (1, GENESIS));
        assert_eq!((b.entry.n, &b.entry.prev), (2, &a.hash));
        assert_eq!(a.entry.size, Some(5));
        assert_eq!(
            a.entry.sha256.as_deref(),
            Some(sha256_hex(b"line\n").as_str())
        );
        let public = key.public();
        assert!(public.verify_seal(&a.hash, a.signature.as_deref().unwrap()));
        assert_eq!(b.signature, None);
        assert_eq!(b.entry.op, SealOp::Deleted);
        let mode = std::fs::metadata(dir.join(SEAL_FILE)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_link_at_the_index_name_is_refused_and_the_victim_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join(SEAL_FILE)).unwrap();
        let seal = Seal::Deleted { file: "x".into() };
        let err = SealLog::default()
            .try_append(tmp.path(), &[seal], SystemTime::UNIX_EPOCH, None)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn an_edited_entry_fails_its_hash() {
        let tmp = tempfile::tempdir().unwrap();
        let seal = Seal::Deleted {
            file: "audit-2026-01-01.jsonl".into(),
        };
        SealLog::default().append(tmp.path(), &[seal], SystemTime::UNIX_EPOCH);
        let path = tmp.path().join(SEAL_FILE);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("01-01", "01-02");
        std::fs::write(&path, text).unwrap();
        let entries = read_index(&path).unwrap();
        assert!(!entries[0].as_ref().unwrap().hash_ok);
    }
}
