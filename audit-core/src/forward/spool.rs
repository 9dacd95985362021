//! The spool: what a forwarder could not deliver, kept on disk until the
//! collector is back, then replayed in order (at least once: a line whose
//! delivery is uncertain is sent again; `event_id` lets receivers drop
//! duplicates).
//!
//! A spool directory (0700) holds segments `KEY.NANOS.PID.jsonl` (0600, the
//! stamped lines as written to the trail), `KEY` naming the destination.
//! Segments are created with `O_EXCL | O_NOFOLLOW`, opened for replay with
//! `O_NOFOLLOW` and checked to be regular files, and locked with `flock`
//! while written or replayed, so several proxies can share one directory:
//! a segment another process holds is left to it, and a dead process's
//! segments are replayed by the next forwarder to the same destination.
//! Segments replay oldest first (by the creation time in their name); a
//! replayed segment is deleted.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::sink::storage::FlockGuard;

/// Most bytes one spool holds; lines past it are counted as lost.
pub const MAX_SPOOL_BYTES: u64 = 1 << 30;

/// A segment open for writing or replay, locked while open.
struct Segment {
    path: PathBuf,
    file: File,
    _lock: FlockGuard,
    /// Replay position (bytes already sent).
    offset: u64,
}

/// The spool of one destination.
pub struct Spool {
    dir: PathBuf,
    key: String,
    writing: Option<Segment>,
    reading: Option<Segment>,
    /// Bytes spooled and not yet replayed (approximate across processes).
    bytes: u64,
    backlog: bool,
}

impl Spool {
    /// Opens (creating, 0700) the spool `dir` for destination `key`.
    pub fn open(dir: &Path, key: &str) -> io::Result<Spool> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = std::fs::symlink_metadata(dir)?;
        if !meta.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        // SAFETY: geteuid cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(io::Error::other(format!(
                "{} must be ours and writable by no one else (mode 0700)",
                dir.display()
            )));
        }
        let mut spool = Spool {
            dir: dir.to_owned(),
            key: key.to_owned(),
            writing: None,
            reading: None,
            bytes: 0,
            backlog: false,
        };
        for path in spool.segments()? {
            spool.bytes += std::fs::symlink_metadata(&path)
                .map(|m| m.len())
                .unwrap_or(0);
            spool.backlog = true;
        }
        Ok(spool)
    }

    /// True while lines wait to be replayed.
    pub fn has_backlog(&self) -> bool {
        self.backlog
    }

    /// Appends `lines`; false (nothing written) when the spool is full.
    pub fn append(&mut self, lines: &[Bytes]) -> io::Result<bool> {
        let size: u64 = lines.iter().map(|l| l.len() as u64).sum();
        if self.bytes + size > MAX_SPOOL_BYTES {
            return Ok(false);
        }
        if self.writing.is_none() {
            self.writing = Some(self.create_segment()?);
        }
        let seg = self.writing.as_mut().expect("opened above");
        let mut buf = Vec::with_capacity(size as usize);
        for line in lines {
            buf.extend_from_slice(line);
        }
        seg.file.write_all(&buf)?;
        self.bytes += size;
        self.backlog = true;
        Ok(true)
    }

    /// The next lines to replay (about `max_bytes`), oldest first; empty
    /// when the backlog is gone. Call [`Spool::replayed`] once they are sent.
    pub fn next_chunk(&mut self, max_bytes: usize) -> io::Result<Vec<Bytes>> {
        loop {
            if self.reading.is_none() {
                match self.open_oldest()? {
                    Some(seg) => self.reading = Some(seg),
                    None => {
                        self.backlog = self.writing.is_some();
                        return Ok(Vec::new());
                    }
                }
            }
            let seg = self.reading.as_mut().expect("opened above");
            let lines = read_lines(seg, max_bytes)?;
            if !lines.is_empty() {
                return Ok(lines);
            }
            // Fully replayed.
            let seg = self.reading.take().expect("present");
            std::fs::remove_file(&seg.path)?;
        }
    }

    /// Marks the lines of the last [`Spool::next_chunk`] as delivered.
    pub fn replayed(&mut self, lines: &[Bytes]) {
        let size: u64 = lines.iter().map(|l| l.len() as u64).sum();
        if let Some(seg) = &mut self.reading {
            seg.offset += size;
        }
        self.bytes = self.bytes.saturating_sub(size);
    }

    /// Segment files of this destination, oldest first.
    fn segments(&self) -> io::Result<Vec<PathBuf>> {
        let prefix = format!("{}.", self.key);
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                is_segment_of(&name, &prefix)
            })
            .map(|e| e.path())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Opens the oldest segment no one else holds; our own open segment is
    /// closed first when it is the oldest (later lines start a new one).
    fn open_oldest(&mut self) -> io::Result<Option<Segment>> {
        for path in self.segments()? {
            if self.writing.as_ref().is_some_and(|w| w.path == path) {
                self.writing = None;
            }
            let file = match OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(f) => f,
                // Gone, a symlink (ELOOP), unreadable: not ours to replay.
                Err(_) => continue,
            };
            if !file.metadata()?.file_type().is_file() {
                continue;
            }
            let Some(lock) = FlockGuard::try_exclusive(&file)? else {
                continue; // another process writes or replays it
            };
            if file.metadata()?.nlink() == 0 {
                continue; // replayed and deleted meanwhile
            }
            return Ok(Some(Segment {
                path,
                file,
                _lock: lock,
                offset: 0,
            }));
        }
        Ok(None)
    }

    fn create_segment(&self) -> io::Result<Segment> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let path = self.dir.join(format!(
            "{}.{nanos:020}.{}.jsonl",
            self.key,
            std::process::id()
        ));
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)?;
        let lock = FlockGuard::exclusive(&file)?;
        Ok(Segment {
            path,
            file,
            _lock: lock,
            offset: 0,
        })
    }
}

/// Whether `name` is `PREFIX<20 digits>.<pid>.jsonl` (another destination's
/// key may start with this one's).
fn is_segment_of(name: &str, prefix: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(".jsonl"))
    else {
        return false;
    };
    let Some((nanos, pid)) = rest.split_once('.') else {
        return false;
    };
    nanos.len() == 20
        && nanos.bytes().all(|b| b.is_ascii_digit())
        && !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
}

/// Complete lines of `seg` from its offset, about `max_bytes` of them. A torn
/// last line (a crash mid-write) is returned with a newline added.
fn read_lines(seg: &mut Segment, max_bytes: usize) -> io::Result<Vec<Bytes>> {
    let len = seg.file.metadata()?.len();
    if seg.offset >= len {
        return Ok(Vec::new());
    }
    let want = ((len - seg.offset) as usize).min(max_bytes.max(1));
    let mut buf = vec![0u8; want];
    seg.file.seek(SeekFrom::Start(seg.offset))?;
    seg.file.read_exact(&mut buf)?;
    let whole = match memchr::memrchr(b'\n', &buf) {
        Some(i) => i + 1,
        None if seg.offset + want as u64 == len => {
            // A torn line is replayed whole; its added newline moves the
            // offset one past the end, which reads as fully replayed.
            buf.push(b'\n');
            buf.len()
        }
        None => {
            // One line longer than max_bytes: read it whole.
            let mut rest = Vec::new();
            seg.file.read_to_end(&mut rest)?;
            buf.extend_from_slice(&rest);
            return read_lines_from(buf);
        }
    };
    buf.truncate(whole);
    let bytes = Bytes::from(buf);
    Ok(split_lines(&bytes))
}

fn read_lines_from(mut buf: Vec<u8>) -> io::Result<Vec<Bytes>> {
    match memchr::memchr(b'\n', &buf) {
        Some(i) => buf.truncate(i + 1),
        None => buf.push(b'\n'),
    }
    Ok(vec![Bytes::from(buf)])
}

/// `bytes` cut into lines (each with its newline), sharing its buffer.
pub fn split_lines(bytes: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        out.push(bytes.slice(start..=end));
        start = end + 1;
    }
    if start < bytes.len() {
        out.push(bytes.slice(start..));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&'static str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from_static(s.as_bytes())).collect()
    }

    fn drain(s: &mut Spool) -> Vec<Bytes> {
        let mut all = Vec::new();
        loop {
            let chunk = s.next_chunk(8).unwrap();
            if chunk.is_empty() {
                return all;
            }
            s.replayed(&chunk);
            all.extend(chunk);
        }
    }

    #[test]
    fn replays_in_order_across_segments_and_deletes_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), "k").unwrap();
        assert!(!s.has_backlog());
        s.append(&lines(&["a\n", "bb\n"])).unwrap();
        let first = s.next_chunk(3).unwrap();
        assert_eq!(first, lines(&["a\n"]));
        s.replayed(&first);
        s.append(&lines(&["c\n"])).unwrap(); // a new segment
        assert_eq!(drain(&mut s), lines(&["bb\n", "c\n"]));
        assert!(!s.has_backlog());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_later_forwarder_replays_what_an_earlier_one_left() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Spool::open(dir.path(), "k").unwrap();
            s.append(&lines(&["one\n", "two\n"])).unwrap();
            let other = Spool::open(dir.path(), "other").unwrap();
            assert!(!other.has_backlog());
        }
        let seg = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(seg.metadata().unwrap().mode() & 0o777, 0o600);
        let mut again = Spool::open(dir.path(), "k").unwrap();
        assert!(again.has_backlog());
        assert_eq!(drain(&mut again), lines(&["one\n", "two\n"]));
    }

    #[test]
    fn only_this_destinations_segments_and_only_a_private_dir() {
        assert!(is_segment_of("k-1.00000000000000000001.7.jsonl", "k-1."));
        assert!(!is_segment_of(
            "k-1.b-2.00000000000000000001.7.jsonl",
            "k-1."
        ));
        assert!(!is_segment_of(
            "k-1.00000000000000000001.7.jsonl.tmp",
            "k-1."
        ));
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o777);
        std::fs::set_permissions(&open, mode).unwrap();
        assert!(Spool::open(&open, "k").is_err());
    }

    #[test]
    fn a_torn_last_line_and_a_long_line_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), "k").unwrap();
        s.append(&lines(&["a-long-line-over-max\n", "torn"]))
            .unwrap();
        assert_eq!(drain(&mut s), lines(&["a-long-line-over-max\n", "torn\n"]));
    }

    #[test]
    fn a_symlinked_segment_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "private\n").unwrap();
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir.path().join("spool"))
            .unwrap();
        std::os::unix::fs::symlink(
            &secret,
            dir.path().join(format!("spool/k.{:020}.1.jsonl", 1)),
        )
        .unwrap();
        let mut s = Spool::open(&dir.path().join("spool"), "k").unwrap();
        assert!(drain(&mut s).is_empty());
    }
}
