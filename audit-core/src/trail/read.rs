//! Audit files, line by line: plain or gzipped, streamed through a fixed
//! buffer, each line at most [`MAX_LINE`] bytes.
//!
//! Files are opened without following a symbolic link and must be regular
//! files. A line that cannot be had (longer than the limit, cut short by a
//! crash, a damaged gzip stream) is reported as an [`Issue`] and skipped;
//! reading goes on with the next line, or the next file.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use super::TrailError;

/// The longest line read (the proxy keeps lines whole up to 16 MiB).
pub const MAX_LINE: usize = 16 << 20;

/// What is called with each line (its number, its bytes); returns why the
/// line is not an event, if it is not.
pub type EachLine<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// The read buffer of one file.
const BUFFER: usize = 256 << 10;

/// A line that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub file: Arc<str>,
    /// 1-based.
    pub line: u64,
    pub why: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}; skipped", self.file, self.line, self.why)
    }
}

/// Opens an audit file for reading: no symbolic link, a regular file.
pub fn open_file(path: &Path) -> Result<File, TrailError> {
    let err = |source| TrailError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(err)?;
    if !file.metadata().map_err(err)?.is_file() {
        return Err(err(io::Error::other("not a regular file")));
    }
    Ok(file)
}

/// Whether `path` names a gzipped file.
pub fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// Calls `each(line_number, line)` for every complete line of `path` (the
/// newline removed, empty lines skipped); `each` returns why a line is not
/// an event, which becomes an issue. Issues go to `issue`.
pub fn for_each_line(
    path: &Path,
    each: &mut EachLine<'_>,
    issue: &mut dyn FnMut(Issue),
) -> Result<(), TrailError> {
    let file = open_file(path)?;
    let name: Arc<str> = path.display().to_string().into();
    let input: Box<dyn Read> = if is_gzip(path) {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    };
    let mut lines = Lines::new(BufReader::with_capacity(BUFFER, input));
    loop {
        match lines.next_line(each) {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(why))) => issue(Issue {
                file: name.clone(),
                line: lines.number,
                why,
            }),
            Ok(None) => return Ok(()),
            Err(e) => {
                issue(Issue {
                    file: name,
                    line: lines.number + 1,
                    why: format!("unreadable from here on: {e}"),
                });
                return Ok(());
            }
        }
    }
}

/// Splits a reader into lines without copying those that lie within one
/// buffer fill.
pub struct Lines<R> {
    input: R,
    /// A line that spans buffer fills.
    long: Vec<u8>,
    /// The current line went over [`MAX_LINE`]; skip to its end.
    over: bool,
    /// Number of the last line handed out.
    pub number: u64,
}

impl<R: BufRead> Lines<R> {
    pub fn new(input: R) -> Lines<R> {
        Lines {
            input,
            long: Vec::new(),
            over: false,
            number: 0,
        }
    }

    /// The next line through `each`: `None` at the end of the input. A last
    /// line without newline is torn (a crash) and reported as such.
    pub fn next_line(&mut self, each: &mut EachLine<'_>) -> io::Result<Option<Result<(), String>>> {
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                if self.long.is_empty() && !self.over {
                    return Ok(None);
                }
                self.number += 1;
                self.long.clear();
                self.over = false;
                return Ok(Some(Err(
                    "torn line (no newline at the end of the file)".into()
                )));
            }
            let Some(i) = memchr::memchr(b'\n', buf) else {
                let n = buf.len();
                if self.long.len() + n > MAX_LINE {
                    self.over = true;
                    self.long.clear();
                } else if !self.over {
                    self.long.extend_from_slice(buf);
                }
                self.input.consume(n);
                continue;
            };
            self.number += 1;
            let result = if self.over {
                Err(format!("line longer than {} MiB", MAX_LINE >> 20))
            } else if self.long.is_empty() {
                line_through(&buf[..i], self.number, each)
            } else if self.long.len() + i > MAX_LINE {
                Err(format!("line longer than {} MiB", MAX_LINE >> 20))
            } else {
                self.long.extend_from_slice(&buf[..i]);
                line_through(&self.long, self.number, each)
            };
            self.input.consume(i + 1);
            self.long.clear();
            self.over = false;
            match result {
                Ok(true) => return Ok(Some(Ok(()))),
                Ok(false) => continue,
                Err(why) => return Ok(Some(Err(why))),
            }
        }
    }
}

/// `each` on a non-empty line; `Ok(false)` for an empty one.
fn line_through(line: &[u8], number: u64, each: &mut EachLine<'_>) -> Result<bool, String> {
    if line.is_empty() {
        return Ok(false);
    }
    each(number, line).map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(path: &Path) -> (Vec<(u64, String)>, Vec<String>) {
        let mut lines = Vec::new();
        let mut issues = Vec::new();
        for_each_line(
            path,
            &mut |n, l| {
                if l.starts_with(b"bad") {
                    return Err("not JSON".into());
                }
                lines.push((n, String::from_utf8_lossy(l).into_owned()));
                Ok(())
            },
            &mut |i| issues.push(i.to_string()),
        )
        .unwrap();
        (lines, issues)
    }

    #[test]
    fn lines_issues_and_numbers_in_plain_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"{\"a\":1}\n\nbad line\n{\"b\":2}\n{\"torn";
        let plain = dir.path().join("audit-2026-01-01.jsonl");
        std::fs::write(&plain, body).unwrap();
        let gz = dir.path().join("audit-2026-01-01.0001.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        enc.write_all(body).unwrap();
        enc.finish().unwrap();
        for path in [&plain, &gz] {
            let (lines, issues) = collect(path);
            assert_eq!(
                lines,
                vec![(1, "{\"a\":1}".into()), (4, "{\"b\":2}".into())]
            );
            assert_eq!(issues.len(), 2, "{issues:?}");
            assert!(issues[0].ends_with(":3: not JSON; skipped"), "{issues:?}");
            assert!(issues[1].contains(":5: torn line"), "{issues:?}");
        }
    }

    #[test]
    fn a_damaged_gzip_stream_is_an_issue_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("audit-2026-01-01.0001.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        enc.write_all(&b"{\"a\":1}\n".repeat(1000)).unwrap();
        let mut bytes = enc.finish().unwrap();
        let mid = bytes.len() / 2;
        bytes[mid..].fill(0xff);
        std::fs::write(&gz, bytes).unwrap();
        let (_, issues) = collect(&gz);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].contains("unreadable from here on"), "{issues:?}");
    }

    #[test]
    fn an_overlong_line_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nok\n");
        let mut lines = Lines::new(BufReader::with_capacity(4096, &input[..]));
        let mut seen = Vec::new();
        let mut each = |n: u64, l: &[u8]| {
            seen.push((n, l.to_vec()));
            Ok(())
        };
        let first = lines.next_line(&mut each).unwrap().unwrap();
        assert!(first.unwrap_err().contains("longer than"));
        lines.next_line(&mut each).unwrap().unwrap().unwrap();
        assert!(lines.next_line(&mut each).unwrap().is_none());
        assert_eq!(seen, vec![(2, b"ok".to_vec())]);
    }

    #[test]
    fn a_symbolic_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, b"{}\n").unwrap();
        let link = dir.path().join("audit-2026-01-01.jsonl");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(open_file(&link).is_err());
    }
}
