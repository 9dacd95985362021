//! Where stamped lines go: the writer thread, its files, their rotation,
//! retention and compression.
//!
//! - [`writer`]: the bounded queue, the writer thread, loss accounting and
//!   the [`WriterHandle`] the auditor holds.
//! - [`append`]: the on-disk protocol shared by several processes writing to
//!   one directory (an `flock` on `.lock`, inode checks, torn-line repair).
//! - [`rotate`] and [`retention`]: pure functions naming files and choosing
//!   what to rotate and delete.
//! - [`gzip`]: background compression of rotated files.
//! - [`storage`]: the file operations, behind a trait for fault injection.
//! - [`private_file`]: every open in the audit directory (`O_NOFOLLOW`, then
//!   `fstat`: a regular file of ours, mode 0600).
//! - [`target`]: the start check of the target ([`prepare`]).
//!
//! Files are created 0600 in a 0700 directory.

mod append;
pub mod group_commit;
pub mod gzip;
pub mod losses;
pub mod private_file;
pub mod retention;
pub mod rotate;
mod running;
pub mod seal;
pub mod storage;
pub mod target;
pub mod writer;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub use group_commit::DEFAULT_FSYNC_INTERVAL;
pub use losses::{LossReason, Losses};
pub use retention::RetentionLimits;
pub use rotate::RotationPolicy;
pub use storage::{OsStorage, Storage};
pub use target::{prepare, PreparedTarget, TargetError, TargetOptions};
pub use writer::{system_clock, WriterHandle, WriterReport};

use crate::clock::utc_date;

/// Default number of batches the writer queue holds. The auditor hands over
/// a batch once it reaches 64 KiB and small batches at their exact size, so
/// a full queue pins at most ~4 MiB; past that the auditor waits (policy
/// `block`), and the hand-off queue, bounded in bytes, absorbs the rest.
/// The writer coalesces whatever is queued into one append, so a short
/// queue costs no extra writes.
pub const DEFAULT_WRITER_QUEUE: usize = 64;

/// Where the audit lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkTarget {
    /// Daily, size-rotated files `audit-YYYY-MM-DD.jsonl` in this directory.
    Dir(PathBuf),
    /// One file, appended to, never rotated.
    File(PathBuf),
    /// Standard error (stdout belongs to the protocol).
    Stderr,
}

/// What `WriterHandle::write` does when the queue is full.
///
/// The default is [`QueueFullPolicy::Block`]: the auditor waits for the disk,
/// the relay does not (it hands chunks to the auditor without ever waiting,
/// and the hand-off counts what it drops). Blocking therefore keeps every
/// stamped event and moves any overload to one place that already reports it;
/// `Drop` keeps the auditor classifying at full speed and loses stamped lines
/// instead, which the auditor announces with `audit_dropped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueFullPolicy {
    #[default]
    Block,
    Drop,
}

/// When the writer calls `fsync` (`fdatasync`).
///
/// The default is [`FsyncPolicy::Batch`]: a group commit, so a busy writer
/// syncs at most once per `WriterConfig::fsync_interval` and every line is
/// on the device within that interval of its write
/// (`group_commit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// Never: the kernel writes back when it likes.
    Never,
    /// After a coalesced append when the last sync is at least
    /// `WriterConfig::fsync_interval` old, else at most that long after it
    /// (an interval of zero: after each coalesced append).
    #[default]
    Batch,
    /// After each queued batch (no coalescing).
    Always,
}

/// Reads the wall clock (injected in tests to cross midnight at will).
/// A sink fed every batch of stamped lines the trail writer takes, by
/// reference count, before the batch is written (the forwarders: the
/// writer does not know what is behind it, so forwarding depends on the
/// sink and not the other way round).
pub trait LineFeed: fmt::Debug + Send + Sync {
    /// Takes the complete lines of one batch; never blocks for long.
    fn offer(&self, batch: &bytes::Bytes);
    /// Lines lost since the last call, one reason at a time.
    fn take_losses(&self) -> Option<Losses>;
    /// Asks the feed to be done by `deadline` (the session is ending).
    fn stop_by(&self, deadline: std::time::Instant);
    /// Waits for the feed to stop, after the last batch.
    fn finish(&self);
}

pub type WallClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How the writer behaves.
#[derive(Clone)]
pub struct WriterConfig {
    /// Batches the queue holds.
    pub queue: usize,
    pub when_full: QueueFullPolicy,
    pub fsync: FsyncPolicy,
    /// The group-commit window of [`FsyncPolicy::Batch`].
    pub fsync_interval: std::time::Duration,
    pub rotation: RotationPolicy,
    /// Retention beyond the file count: age, total size, minimum age.
    pub retention: RetentionLimits,
    /// Decides the day of the file a batch goes to.
    pub clock: WallClock,
    /// Signs the seal index's entries (`seal`), when set.
    pub seal_key: Option<Arc<crate::sign::SecretKey>>,
    /// Collectors that also get every stamped line (the forwarders).
    pub forward: Option<Arc<dyn LineFeed>>,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            queue: DEFAULT_WRITER_QUEUE,
            when_full: QueueFullPolicy::default(),
            fsync: FsyncPolicy::default(),
            fsync_interval: DEFAULT_FSYNC_INTERVAL,
            rotation: RotationPolicy::default(),
            retention: RetentionLimits::default(),
            clock: system_clock(),
            seal_key: None,
            forward: None,
        }
    }
}

impl fmt::Debug for WriterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterConfig")
            .field("queue", &self.queue)
            .field("when_full", &self.when_full)
            .field("fsync", &self.fsync)
            .field("fsync_interval", &self.fsync_interval)
            .field("rotation", &self.rotation)
            .field("forward", &self.forward)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
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
    #[error("cannot sync audit file {path} (lines written since its last sync may not survive a power loss): {source}")]
    Sync { path: PathBuf, source: io::Error },
    #[error("cannot start the audit writer thread: {0}")]
    Thread(io::Error),
}

/// Starts a writer with the default policies and a queue of `queue` batches.
pub fn spawn_writer(target: SinkTarget, queue: usize) -> Result<WriterHandle, SinkError> {
    let config = WriterConfig {
        queue,
        ..WriterConfig::default()
    };
    spawn_writer_with(target, config)
}

/// Checks the target is writable (creating its directory 0700) and starts
/// the writer thread.
pub fn spawn_writer_with(
    target: SinkTarget,
    config: WriterConfig,
) -> Result<WriterHandle, SinkError> {
    spawn_writer_on(target, config, Box::new(OsStorage))
}

/// [`spawn_writer_with`] over given file operations (the fault-injection seam).
pub fn spawn_writer_on(
    target: SinkTarget,
    config: WriterConfig,
    mut storage: Box<dyn Storage>,
) -> Result<WriterHandle, SinkError> {
    prepare_target_on(&target, storage.as_mut())?;
    writer::spawn(target, config, storage)
}

/// Makes `target` ready to be written: its directory (0700) exists and a
/// single file can be opened for appending (created 0600).
fn prepare_target_on(target: &SinkTarget, storage: &mut dyn Storage) -> Result<(), SinkError> {
    match target {
        SinkTarget::Dir(dir) => ensure_private_dir(dir),
        SinkTarget::File(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                ensure_private_dir(parent)?;
            }
            storage
                .open_append(path)
                .map(|_| ())
                .map_err(|source| SinkError::Open {
                    path: path.clone(),
                    source,
                })
        }
        SinkTarget::Stderr => Ok(()),
    }
}

/// Creates `dir` and its parents with mode 0700.
pub fn ensure_private_dir(dir: &Path) -> Result<(), SinkError> {
    OsStorage
        .create_dir(dir)
        .map_err(|source| SinkError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

/// The active daily file for time `t` in `dir`.
pub fn daily_path(dir: &Path, t: SystemTime) -> PathBuf {
    dir.join(rotate::active_name(&utc_date(t)))
}

#[cfg(test)]
mod flood_tests;
#[cfg(test)]
mod rotation_tests;
#[cfg(test)]
mod tests;
