//! The file operations the writer performs, behind a trait so that tests can
//! inject disk trouble (ENOSPC, EACCES, a vanished directory) and recovery
//! deterministically. [`OsStorage`] is the real thing.
//!
//! Also here: the `flock` guard and file identity helpers the writer and the
//! compressor share.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::Path;

use super::private_file::{open_private, Access};

/// What the writer does to files. Every method may fail; the writer counts
/// the failure and retries on the next batch.
pub trait Storage: Send {
    /// Creates `dir` and its parents, mode 0700.
    fn create_dir(&mut self, dir: &Path) -> io::Result<()>;
    /// Opens `path` for reading and appending, creating it 0600, never
    /// through a link ([`super::private_file`]).
    fn open_append(&mut self, path: &Path) -> io::Result<File>;
    /// Appends all of `bytes` to `file`.
    fn append(&mut self, file: &mut File, bytes: &[u8]) -> io::Result<()>;
    /// Flushes `file`'s data to the device.
    fn sync(&mut self, file: &File) -> io::Result<()>;
}

/// The operating system's files.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsStorage;

impl Storage for OsStorage {
    fn create_dir(&mut self, dir: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }

    fn open_append(&mut self, path: &Path) -> io::Result<File> {
        // Readable too: the writer checks the last byte before appending.
        open_private(path, Access::ReadAppend)
    }

    fn append(&mut self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }

    fn sync(&mut self, file: &File) -> io::Result<()> {
        file.sync_data()
    }
}

/// An exclusive `flock` held until dropped. The guard does not own the
/// file: keep the file open while the guard lives (a closed descriptor
/// releases the lock anyway, so the worst case is an early unlock).
#[derive(Debug)]
pub struct FlockGuard {
    fd: RawFd,
}

impl FlockGuard {
    /// Waits for an exclusive lock on `file`.
    pub fn exclusive(file: &File) -> io::Result<FlockGuard> {
        flock(file.as_raw_fd(), libc::LOCK_EX)?;
        Ok(FlockGuard {
            fd: file.as_raw_fd(),
        })
    }

    /// Takes an exclusive lock on `file` if nobody holds one; `None` otherwise.
    pub fn try_exclusive(file: &File) -> io::Result<Option<FlockGuard>> {
        match flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => Ok(Some(FlockGuard {
                fd: file.as_raw_fd(),
            })),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Drop for FlockGuard {
    fn drop(&mut self) {
        let _ = flock(self.fd, libc::LOCK_UN);
    }
}

/// The directory lock of one writer: `.lock`, reopened when someone deleted
/// or replaced it (else two writers could each hold "the" lock on different
/// inodes).
#[derive(Debug, Default)]
pub struct DirLock {
    file: Option<File>,
}

impl DirLock {
    /// Waits for the exclusive lock on `dir/.lock`, creating it if needed.
    pub fn acquire(&mut self, dir: &Path) -> io::Result<FlockGuard> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..3 {
            let file = match &self.file {
                Some(f) => f,
                None => self.file.insert(open_lock_file(dir)?),
            };
            let guard = FlockGuard::exclusive(file)?;
            if path_identity(&path) == Some(file_identity(file)?) {
                return Ok(guard);
            }
            drop(guard);
            self.file = None;
        }
        Err(io::Error::other(format!(
            "{} keeps being replaced",
            path.display()
        )))
    }
}

fn flock(fd: RawFd, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock takes any descriptor number; on a closed one it fails
        // with EBADF, which we report.
        if unsafe { libc::flock(fd, op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Device and inode of an open file.
pub fn file_identity(file: &File) -> io::Result<(u64, u64)> {
    let m = file.metadata()?;
    Ok((m.dev(), m.ino()))
}

/// Device and inode of whatever is at `path` now (`None` if nothing is); a
/// symbolic link is itself, never its target.
pub fn path_identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Opens (creating) the directory's `.lock` file, which serialises appends,
/// rotation and retention among every writer of the directory.
pub(crate) fn open_lock_file(dir: &Path) -> io::Result<File> {
    open_private(&dir.join(LOCK_FILE), Access::Append)
}

/// Name of the lock file in an audit directory.
pub const LOCK_FILE: &str = ".lock";
