//! Background compression of rotated files.
//!
//! A rotated `audit-…NNNN.jsonl` becomes `audit-…NNNN.jsonl.gz`: compressed
//! into a hidden temporary file with a random name, created `O_EXCL`
//! ([`super::private_file`]; the source is opened without following links
//! too) (outside the directory lock, so writers are
//! not held up), then — under the directory lock, so that retention cannot
//! delete the source in between — renamed into place and the source removed.
//! An exclusive non-blocking `flock` on the source keeps two processes from
//! compressing the same file. A crash at any point leaves either the source or
//! the `.gz` (or both, when the `.gz` is complete), never neither.

use std::fs::File;
use std::io::{self, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::private_file::{open_private, temporary_name, Access};
use super::storage::{DirLock, FlockGuard};

/// What became of one compression request.
#[derive(Debug, PartialEq, Eq)]
pub enum Compressed {
    /// The `.gz` is in place and the source is gone.
    Done(PathBuf),
    /// Another process is compressing it, or it is already gone.
    NotMine,
}

/// Compresses the rotated file `name` in `dir` (see the module docs).
pub fn compress_rotated(dir: &Path, name: &str, lock: &mut DirLock) -> io::Result<Compressed> {
    let src_path = dir.join(name);
    let gz_path = dir.join(format!("{name}.gz"));
    let src = match open_private(&src_path, Access::Read) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Compressed::NotMine),
        Err(e) => return Err(e),
    };
    let Some(_busy) = FlockGuard::try_exclusive(&src)? else {
        return Ok(Compressed::NotMine);
    };
    if src.metadata()?.nlink() == 0 {
        return Ok(Compressed::NotMine); // finished by someone else meanwhile
    }
    let tmp_path = temporary_name(dir, &format!("{name}.gz"))?;
    let out = open_private(&tmp_path, Access::CreateNew)?;
    if let Err(e) = write_gzip(&src, out) {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(e);
    }
    let _dir_guard = lock.acquire(dir)?;
    if src.metadata()?.nlink() == 0 {
        // Retention deleted the source while we compressed: follow it.
        std::fs::remove_file(&tmp_path)?;
        return Ok(Compressed::NotMine);
    }
    std::fs::rename(&tmp_path, &gz_path)?;
    std::fs::remove_file(&src_path)?;
    Ok(Compressed::Done(gz_path))
}

fn write_gzip(src: &File, out: File) -> io::Result<()> {
    // Level 1: rotated audit JSONL still shrinks several-fold, at a fraction
    // of the CPU of the default level, which on a small machine competes
    // with the relay and the auditor.
    let mut enc = GzEncoder::new(out, Compression::fast());
    // Reads of 256 KiB: a tenth of the syscalls of the default 8 KiB.
    io::copy(&mut BufReader::with_capacity(256 * 1024, src), &mut enc)?;
    let out = enc.finish()?;
    out.sync_all()
}

/// A background thread compressing the files it is given, in order.
#[derive(Debug)]
pub struct Compressor {
    tx: Sender<(PathBuf, String)>,
    join: JoinHandle<()>,
}

impl Compressor {
    /// Starts the thread.
    pub fn spawn() -> io::Result<Compressor> {
        let (tx, rx) = channel::<(PathBuf, String)>();
        let join = std::thread::Builder::new()
            .name("audit-gzip".into())
            .spawn(move || {
                crate::sched::lower_thread_priority(crate::sched::BACKGROUND_NICE);
                let mut lock = DirLock::default();
                let mut warned = false;
                for (dir, name) in rx {
                    if let Err(e) = compress_rotated(&dir, &name, &mut lock) {
                        if !warned {
                            tracing::warn!(
                                "audit trail: cannot compress {}: {e}; it stays uncompressed",
                                dir.join(&name).display()
                            );
                            warned = true;
                        }
                    }
                }
            })?;
        Ok(Compressor { tx, join })
    }

    /// Queues `dir/name` for compression (the queue holds names only, and at
    /// most one per rotation, so it needs no bound of its own).
    pub fn submit(&self, dir: &Path, name: &str) {
        let _ = self.tx.send((dir.to_owned(), name.to_owned()));
    }

    /// Finishes the queued work and stops the thread.
    pub fn finish(self) {
        drop(self.tx);
        let _ = self.join.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn compresses_replaces_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let name = "audit-2026-01-01.0001.jsonl";
        std::fs::write(tmp.path().join(name), b"{\"a\":1}\n{\"a\":2}\n").unwrap();
        let mut lock = DirLock::default();
        let got = compress_rotated(tmp.path(), name, &mut lock).unwrap();
        let gz = tmp.path().join(format!("{name}.gz"));
        assert_eq!(got, Compressed::Done(gz.clone()));
        assert!(!tmp.path().join(name).exists());
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(File::open(&gz).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "{\"a\":1}\n{\"a\":2}\n");
        // Asking again is harmless.
        assert_eq!(
            compress_rotated(tmp.path(), name, &mut lock).unwrap(),
            Compressed::NotMine
        );
    }

    #[test]
    fn links_at_the_source_or_a_temporary_name_leave_their_targets_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let name = "audit-2026-01-01.0001.jsonl";
        // A link at the rotated name: not compressed, the victim not read.
        std::os::unix::fs::symlink(&victim, tmp.path().join(name)).unwrap();
        let mut lock = DirLock::default();
        assert!(compress_rotated(tmp.path(), name, &mut lock).is_err());
        std::fs::remove_file(tmp.path().join(name)).unwrap();
        // Links at the temporary names a pid-based scheme would have used.
        for pid in [std::process::id(), 1, 2] {
            let guess = tmp.path().join(format!(".{name}.gz.tmp-{pid}"));
            std::os::unix::fs::symlink(&victim, guess).unwrap();
        }
        std::fs::write(tmp.path().join(name), b"{\"a\":1}\n").unwrap();
        let got = compress_rotated(tmp.path(), name, &mut lock).unwrap();
        let gz = tmp.path().join(format!("{name}.gz"));
        assert_eq!(got, Compressed::Done(gz.clone()));
        assert!(!std::fs::symlink_metadata(&gz)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }
}
