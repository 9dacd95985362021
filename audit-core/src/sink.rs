//! Where stamped lines go: the writer thread and its files.
//!
//! The writer owns the file handle (STYLE habit 2). The auditor hands it
//! batches of complete lines through a bounded queue; the writer coalesces
//! whatever is queued into one `write` under an exclusive `flock`, so several
//! mcp-blackbox processes appending to the same daily file never interleave
//! lines. Files are created 0600 in a 0700 directory.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::clock::utc_date;

/// Default number of batches the writer queue holds.
pub const DEFAULT_WRITER_QUEUE: usize = 1024;

/// Where the audit lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkTarget {
    /// Daily files `audit-YYYY-MM-DD.jsonl` in this directory.
    Dir(PathBuf),
    /// One file, appended to.
    File(PathBuf),
    /// Standard error (stdout belongs to the protocol).
    Stderr,
}

/// Errors opening or writing the audit trail.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot create audit directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot open audit file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot write audit file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// What the writer did, reported when it stops.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriterReport {
    pub lines_written: u64,
    pub bytes_written: u64,
    pub write_errors: u64,
    pub lines_lost: u64,
}

/// The sending side of the writer queue.
#[derive(Debug)]
pub struct WriterHandle {
    tx: SyncSender<Vec<u8>>,
    join: JoinHandle<WriterReport>,
}

impl WriterHandle {
    /// Queues a batch of complete lines, waiting for room (the auditor may
    /// wait; the relay never calls this).
    pub fn write(&self, batch: Vec<u8>) {
        let _ = self.tx.send(batch);
    }

    /// Closes the queue and waits for everything queued to be written, for at
    /// most `timeout`. `None` if the writer did not finish in time.
    pub fn finish(self, timeout: Duration) -> Option<WriterReport> {
        drop(self.tx);
        let deadline = Instant::now() + timeout;
        while !self.join.is_finished() {
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.join.join().ok()
    }
}

/// Creates the target's directory (0700) and starts the writer thread.
pub fn spawn_writer(target: SinkTarget, queue: usize) -> Result<WriterHandle, SinkError> {
    if let SinkTarget::Dir(dir) = &target {
        ensure_private_dir(dir)?;
    }
    if let SinkTarget::File(path) = &target {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            ensure_private_dir(parent)?;
        }
        open_append(path)?;
    }
    let (tx, rx) = sync_channel(queue.max(1));
    let join = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || run_writer(target, rx))
        .expect("spawning the audit writer thread");
    Ok(WriterHandle { tx, join })
}

/// Creates `dir` and its parents with mode 0700.
pub fn ensure_private_dir(dir: &Path) -> Result<(), SinkError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| SinkError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

/// Opens `path` for appending, creating it 0600.
pub fn open_append(path: &Path) -> Result<File, SinkError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| SinkError::Open {
            path: path.to_owned(),
            source,
        })
}

/// The daily file for time `t` in `dir`.
pub fn daily_path(dir: &Path, t: SystemTime) -> PathBuf {
    dir.join(format!("audit-{}.jsonl", utc_date(t)))
}

fn run_writer(target: SinkTarget, rx: Receiver<Vec<u8>>) -> WriterReport {
    let mut report = WriterReport::default();
    let mut open: Option<(PathBuf, File)> = None;
    let mut warned = false;
    loop {
        let mut batch = match rx.recv_timeout(Duration::from_secs(3600)) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        while let Ok(more) = rx.try_recv() {
            batch.extend_from_slice(&more);
            if batch.len() > 1 << 20 {
                break;
            }
        }
        let lines = memchr::memchr_iter(b'\n', &batch).count() as u64;
        match write_batch(&target, &mut open, &batch) {
            Ok(()) => {
                report.lines_written += lines;
                report.bytes_written += batch.len() as u64;
            }
            Err(e) => {
                report.write_errors += 1;
                report.lines_lost += lines;
                if !warned {
                    tracing::error!(
                        "audit trail: {e}; the MCP session goes on, lost events are counted"
                    );
                    warned = true;
                }
                open = None;
            }
        }
    }
    report
}

fn write_batch(
    target: &SinkTarget,
    open: &mut Option<(PathBuf, File)>,
    batch: &[u8],
) -> Result<(), SinkError> {
    let path = match target {
        SinkTarget::Stderr => {
            let mut err = io::stderr().lock();
            return err.write_all(batch).map_err(|source| SinkError::Write {
                path: "<stderr>".into(),
                source,
            });
        }
        SinkTarget::File(p) => p.clone(),
        SinkTarget::Dir(d) => daily_path(d, SystemTime::now()),
    };
    if open.as_ref().map(|(p, _)| p != &path).unwrap_or(true) {
        *open = Some((path.clone(), open_append(&path)?));
    }
    let (_, file) = open.as_mut().expect("opened above");
    let fd = file.as_raw_fd();
    // SAFETY: flock on a descriptor we own; the lock is released below or when
    // the file is closed.
    unsafe { libc::flock(fd, libc::LOCK_EX) };
    let res = file.write_all(batch);
    unsafe { libc::flock(fd, libc::LOCK_UN) };
    res.map_err(|source| SinkError::Write { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_private_daily_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        let w = spawn_writer(SinkTarget::Dir(dir.clone()), 4).unwrap();
        w.write(b"{\"a\":1}\n".to_vec());
        w.write(b"{\"a\":2}\n".to_vec());
        let report = w.finish(Duration::from_secs(10)).unwrap();
        assert_eq!(report.lines_written, 2);
        let path = daily_path(&dir, SystemTime::now());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
    }
}
