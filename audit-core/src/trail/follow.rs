//! `tail -f`: what the writers append, as they append it, across rotation
//! and several processes writing one directory.
//!
//! Each poll lists the audit files and reads every plain file from where it
//! was left to its end, in name order (write order). Files are known by
//! inode, so a rotated file (renamed to a part) is read on from the same
//! offset, and a new active file is read from its start. Once a file is
//! gone from the directory it is read to its end through the handle held
//! (a rotated file is never written again) and let go. A `.gz` part is
//! the compressed copy of a file already read when its first line is one
//! already seen (lines carry their unique hash); otherwise (it was
//! created, rotated and compressed between two polls) it is read whole.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::read::{for_each_line, is_gzip, open_file, Issue, MAX_LINE};
use super::TrailError;
use crate::sink::rotate::parse_name;

/// The end of a line that identifies it: its `hash` member.
const IDENTITY: usize = 80;

/// A plain file's (device, inode).
type FileKey = (u64, u64);

struct Tracked {
    file: File,
    name: Arc<str>,
    partial: Vec<u8>,
    over: bool,
    line: u64,
    first_seen: bool,
}

/// Follows audit files in directories (or single files).
pub struct Follower {
    paths: Vec<PathBuf>,
    tracked: HashMap<(u64, u64), Tracked>,
    first_lines: HashSet<Vec<u8>>,
    buf: Vec<u8>,
}

impl Follower {
    /// Follows `paths`: directories (their audit files) or files.
    pub fn new(paths: Vec<PathBuf>) -> Follower {
        Follower {
            paths,
            tracked: HashMap::new(),
            first_lines: HashSet::new(),
            buf: vec![0; 64 << 10],
        }
    }

    /// Hands every complete line written since the last poll to `each`
    /// (the first poll: every line there is); `each` says why a line is
    /// not an event.
    pub fn poll(
        &mut self,
        each: &mut dyn FnMut(&[u8]) -> Result<(), String>,
        issue: &mut dyn FnMut(Issue),
    ) -> Result<(), TrailError> {
        let listing = self.list()?;
        let present: HashSet<(u64, u64)> = listing.iter().filter_map(|(_, k)| *k).collect();
        let gone: Vec<(u64, u64)> = self
            .tracked
            .keys()
            .filter(|k| !present.contains(k))
            .copied()
            .collect();
        let mut gone: Vec<((u64, u64), Tracked)> = gone
            .into_iter()
            .filter_map(|k| self.tracked.remove(&k).map(|t| (k, t)))
            .collect();
        gone.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        for (_, mut t) in gone {
            self.drain(&mut t, each, issue);
        }
        for (path, key) in listing {
            match key {
                Some(key) => self.read_plain(&path, key, each, issue)?,
                None => self.read_gzip(&path, each, issue)?,
            }
        }
        Ok(())
    }

    /// The audit files in name order, with the (device, inode) of plain ones.
    fn list(&self) -> Result<Vec<(PathBuf, Option<FileKey>)>, TrailError> {
        let files = super::trail_files(&self.paths).or_else(|e| match e {
            TrailError::NoFiles(_) => Ok(Vec::new()),
            e => Err(e),
        })?;
        Ok(files
            .into_iter()
            .filter_map(|p| {
                let meta = std::fs::symlink_metadata(&p).ok().filter(|m| m.is_file())?;
                let key = (!is_gzip(&p)).then(|| (meta.dev(), meta.ino()));
                Some((p, key))
            })
            .collect())
    }

    fn read_plain(
        &mut self,
        path: &Path,
        key: (u64, u64),
        each: &mut dyn FnMut(&[u8]) -> Result<(), String>,
        issue: &mut dyn FnMut(Issue),
    ) -> Result<(), TrailError> {
        let name: Arc<str> = path.display().to_string().into();
        let mut t = match self.tracked.remove(&key) {
            Some(mut t) => {
                t.name = name;
                t
            }
            None => {
                let Ok(file) = open_file(path) else {
                    return Ok(()); // rotated away since the listing: next poll
                };
                let meta = file.metadata().map_err(|source| TrailError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                if (meta.dev(), meta.ino()) != key {
                    return Ok(()); // replaced since the listing: next poll
                }
                Tracked {
                    file,
                    name,
                    partial: Vec::new(),
                    over: false,
                    line: 0,
                    first_seen: false,
                }
            }
        };
        self.drain(&mut t, each, issue);
        self.tracked.insert(key, t);
        Ok(())
    }

    fn read_gzip(
        &mut self,
        path: &Path,
        each: &mut dyn FnMut(&[u8]) -> Result<(), String>,
        issue: &mut dyn FnMut(Issue),
    ) -> Result<(), TrailError> {
        let logical = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_name);
        if logical.is_none() {
            return Ok(());
        }
        let mut first = true;
        let mut known = false;
        let firsts = &mut self.first_lines;
        for_each_line(
            path,
            &mut |_, line| {
                if std::mem::take(&mut first) {
                    known = !firsts.insert(identity(line));
                }
                if known {
                    return Ok(());
                }
                each(line)
            },
            issue,
        )
    }

    /// Reads `t` from where it was left to its end.
    fn drain(
        &mut self,
        t: &mut Tracked,
        each: &mut dyn FnMut(&[u8]) -> Result<(), String>,
        issue: &mut dyn FnMut(Issue),
    ) {
        loop {
            let n = match t.file.read(&mut self.buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    issue(Issue {
                        file: t.name.clone(),
                        line: t.line + 1,
                        why: format!("unreadable: {e}"),
                    });
                    return;
                }
            };
            let mut chunk = &self.buf[..n];
            while let Some(i) = memchr::memchr(b'\n', chunk) {
                t.line += 1;
                let over = t.over || t.partial.len() + i > MAX_LINE;
                t.partial.extend_from_slice(&chunk[..i]);
                chunk = &chunk[i + 1..];
                let line = std::mem::take(&mut t.partial);
                t.over = false;
                let result = if over {
                    Err(format!("line longer than {} MiB", MAX_LINE >> 20))
                } else if line.is_empty() {
                    Ok(())
                } else {
                    if !std::mem::replace(&mut t.first_seen, true) {
                        self.first_lines.insert(identity(&line));
                    }
                    each(&line)
                };
                if let Err(why) = result {
                    issue(Issue {
                        file: t.name.clone(),
                        line: t.line,
                        why,
                    });
                }
                t.partial = line;
                t.partial.clear();
            }
            if t.partial.len() + chunk.len() > MAX_LINE {
                t.over = true;
                t.partial.clear();
            } else if !t.over {
                t.partial.extend_from_slice(chunk);
            }
        }
    }
}

/// What identifies a line: its last bytes, which hold its unique hash.
fn identity(line: &[u8]) -> Vec<u8> {
    line[line.len().saturating_sub(IDENTITY)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn poll(f: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        f.poll(
            &mut |l| {
                out.push(String::from_utf8_lossy(l).into_owned());
                Ok(())
            },
            &mut |i| panic!("{i}"),
        )
        .unwrap();
        out
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follows_appends_rotation_and_compression() {
        let dir = tempfile::tempdir().unwrap();
        let active = dir.path().join("audit-2026-01-01.jsonl");
        append(&active, "{\"n\":1}\n{\"n\":2");
        let mut f = Follower::new(vec![dir.path().to_owned()]);
        assert_eq!(poll(&mut f), ["{\"n\":1}"]);
        append(&active, "}\n{\"n\":3}\n");
        // Rotated, a new active file, more lines in both before the next poll.
        let part = dir.path().join("audit-2026-01-01.0001.jsonl");
        std::fs::rename(&active, &part).unwrap();
        append(&active, "{\"n\":4}\n");
        assert_eq!(poll(&mut f), ["{\"n\":2}", "{\"n\":3}", "{\"n\":4}"]);
        // The part is compressed and removed: nothing read twice.
        let gz = dir.path().join("audit-2026-01-01.0001.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        enc.write_all(&std::fs::read(&part).unwrap()).unwrap();
        enc.finish().unwrap();
        std::fs::remove_file(&part).unwrap();
        append(&active, "{\"n\":5}\n");
        assert_eq!(poll(&mut f), ["{\"n\":5}"]);
        // A part created, rotated and compressed between two polls is read whole.
        let gz2 = dir.path().join("audit-2026-01-01.0002.jsonl.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz2).unwrap(), Default::default());
        enc.write_all(b"{\"n\":6}\n").unwrap();
        enc.finish().unwrap();
        assert_eq!(poll(&mut f), ["{\"n\":6}"]);
        assert!(poll(&mut f).is_empty());
    }
}
