//! Appending a batch to the audit trail on disk, safely shared by several
//! mcp-blackbox processes.
//!
//! Protocol for a directory (every writer, every batch):
//!
//! 1. take the exclusive `flock` on `dir/.lock` (recreating the directory and
//!    the lock file if they vanished);
//! 2. read the clock (under the lock, so dates only move forward in lock
//!    order) and drop the open handle if its day is over or if the inode at
//!    its path is no longer the open one (another writer rotated it);
//! 3. when opening, or when the batch would take the file past the size limit,
//!    plan the rotation ([`plan_rotation`]) and apply it: renames, retention
//!    deletes, and rotated names handed back for background compression;
//! 4. append the batch in one `write`, first ending a torn line (left by a
//!    crashed writer) with a newline so the batch starts on a line of its own;
//!    on failure, cut the file back to its size before the write.
//!
//! A single file (`SinkTarget::File`) follows steps 2 and 4 under an `flock`
//! on the file itself.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::retention::{OverBudget, RetentionLimits};
use super::rotate::{
    active_name, plan_rotation, FileEntry, RotationInput, RotationPlan, RotationPolicy,
};
use super::running::RunningDigest;
use super::seal::{Seal, SealLog, Written};
use super::storage::{file_identity, path_identity, DirLock, FlockGuard, Storage};
use super::SinkError;
use crate::clock::utc_date;
use crate::sign::SecretKey;

/// Whether an append syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncMode {
    /// `fdatasync` after the write.
    Now,
    /// Not now: the writer syncs later ([`super::group_commit`]), and the
    /// file is synced before its handle is dropped.
    Later,
    /// Never (`fsync = never`): the kernel writes back when it likes.
    Never,
}

/// An open audit file and the inode it was opened as.
#[derive(Debug)]
struct OpenFile {
    path: PathBuf,
    date: String,
    file: File,
    id: (u64, u64),
    /// Written to with [`SyncMode::Later`] since its last sync.
    unsynced: bool,
    /// Offset of the newline that ended a torn line, for the seal index.
    repaired: Option<u64>,
    /// The file's digest while it holds only what this handle appended
    /// (its seal then need not read it back); `None` once anything else
    /// was found in it, or when nothing seals it.
    running: Option<RunningDigest>,
}

impl OpenFile {
    fn open(
        storage: &mut dyn Storage,
        path: PathBuf,
        date: String,
        sealed: bool,
    ) -> Result<OpenFile, SinkError> {
        let open_err = |source| SinkError::Open {
            path: path.clone(),
            source,
        };
        let file = storage.open_append(&path).map_err(open_err)?;
        let id = file_identity(&file).map_err(open_err)?;
        Ok(OpenFile {
            path,
            date,
            file,
            id,
            unsynced: false,
            repaired: None,
            running: sealed.then(RunningDigest::default),
        })
    }

    /// Syncs what [`SyncMode::Later`] appends left unsynced (counted in
    /// `syncs`).
    fn sync_pending(
        &mut self,
        storage: &mut dyn Storage,
        syncs: &mut u64,
    ) -> Result<(), SinkError> {
        if !self.unsynced {
            return Ok(());
        }
        self.unsynced = false;
        *syncs += 1;
        storage.sync(&self.file).map_err(|source| SinkError::Sync {
            path: self.path.clone(),
            source,
        })
    }

    /// What the seal of this file, under its active name, may take from the
    /// digest kept while appending.
    fn written(&self) -> Option<Written> {
        Some(Written {
            file: active_name(&self.date),
            id: self.id,
            digest: self.running.clone()?,
        })
    }

    /// Still the file at its path?
    fn is_current(&self) -> bool {
        path_identity(&self.path) == Some(self.id)
    }

    fn size(&self) -> Result<u64, SinkError> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|source| SinkError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// Steps 4 of the protocol; `sync` says whether it flushes to the device
    /// afterwards.
    fn append(
        &mut self,
        storage: &mut dyn Storage,
        batch: &[u8],
        sync: SyncMode,
        syncs: &mut u64,
    ) -> Result<(), SinkError> {
        let res = (|| {
            let mut size = self.file.metadata()?.len();
            if self.running.as_ref().is_some_and(|r| r.len() != size) {
                self.running = None; // not only ours: its seal reads it
            }
            if size > 0 {
                let mut last = [0u8];
                self.file.read_at(&mut last, size - 1)?;
                if last[0] != b'\n' {
                    storage.append(&mut self.file, b"\n")?;
                    self.repaired = Some(size);
                    self.running = None;
                    size += 1;
                }
            }
            if let Err(e) = storage.append(&mut self.file, batch) {
                // Leave no fragment behind (if we can): the batch is lost whole.
                let _ = self.file.set_len(size);
                return Err(e);
            }
            if let Some(r) = &mut self.running {
                r.update(batch);
            }
            match sync {
                SyncMode::Now => {
                    storage.sync(&self.file)?;
                    self.unsynced = false;
                }
                SyncMode::Later => self.unsynced = true,
                SyncMode::Never => {}
            }
            Ok(())
        })();
        if sync == SyncMode::Now {
            *syncs += 1;
        }
        res.map_err(|source| SinkError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

/// Daily, size-rotated files in one directory.
#[derive(Debug)]
pub(crate) struct DailyFiles {
    dir: PathBuf,
    policy: RotationPolicy,
    limits: RetentionLimits,
    lock: DirLock,
    open: Option<OpenFile>,
    rotate_warned: bool,
    /// Set by a rotation whose retention left the budget exceeded, cleared
    /// by one that did not ([`DailyFiles::over_budget`]).
    over_budget: Option<OverBudget>,
    /// `fdatasync` calls made so far.
    pub(crate) syncs: u64,
    seals: SealLog,
}

impl DailyFiles {
    pub(crate) fn new(dir: PathBuf, policy: RotationPolicy, limits: RetentionLimits) -> DailyFiles {
        DailyFiles {
            dir,
            policy,
            limits,
            lock: DirLock::default(),
            open: None,
            rotate_warned: false,
            over_budget: None,
            syncs: 0,
            seals: SealLog::default(),
        }
    }

    /// Seal entries signed with `key` (see [`super::seal`]).
    pub(crate) fn with_seal_key(mut self, key: Option<Arc<SecretKey>>) -> DailyFiles {
        self.seals = SealLog::new(key);
        self
    }

    /// Seals the active file as this writer leaves it (`exit`), under the
    /// lock.
    pub(crate) fn seal_on_exit(&mut self, now: SystemTime) {
        let Some(open) = self.open.as_ref().filter(|o| o.is_current()) else {
            return;
        };
        let file = active_name(&open.date);
        let Ok(_guard) = self.lock.acquire(&self.dir) else {
            return;
        };
        let written = open.written();
        let seal = Seal::Exit { file };
        self.seals
            .append_written(&self.dir, &[seal], now, written.as_ref());
    }

    /// Appends `batch` at time `now()` (read under the lock); names of files
    /// rotated on the way are pushed to `rotated` for compression.
    pub(crate) fn append(
        &mut self,
        storage: &mut dyn Storage,
        now: &dyn Fn() -> SystemTime,
        batch: &[u8],
        sync: SyncMode,
        rotated: &mut Vec<String>,
    ) -> Result<(), SinkError> {
        let _guard = self.lock_dir(storage)?;
        let now = now();
        let today = utc_date(now);
        // The file this writer lets go here, if it rotates it.
        let mut left = None;
        if let Some(open) = &self.open {
            if open.date != today || !open.is_current() {
                left = open.written();
                log_sync_error(close(&mut self.open, storage, &mut self.syncs));
            }
        }
        let incoming = batch.len() as u64;
        let size = match &self.open {
            Some(open) => Some(open.size()?),
            None => std::fs::symlink_metadata(self.dir.join(active_name(&today)))
                .ok()
                .map(|m| m.len()),
        };
        let full = size.is_some_and(|s| s > 0 && s + incoming > self.policy.max_file_size);
        if self.open.is_none() || full {
            if let Some(open) = &self.open {
                left = open.written();
            }
            log_sync_error(close(&mut self.open, storage, &mut self.syncs));
            let input = RotationInput {
                today: &today,
                active_size: size,
                incoming,
                now,
            };
            self.rotate(&input, rotated, left.as_ref());
            let path = self.dir.join(active_name(&today));
            self.open = Some(OpenFile::open(storage, path, today, true)?);
        }
        let open = self.open.as_mut().expect("opened above");
        let res = open.append(storage, batch, sync, &mut self.syncs);
        if let Some(offset) = open.repaired.take() {
            let file = active_name(&open.date);
            self.seals
                .append(&self.dir, &[Seal::Repaired { file, offset }], now);
        }
        if res.is_err() {
            // Reopen (and re-check the directory) next time. A sync failing
            // here is part of the outage the caller reports.
            let _ = close(&mut self.open, storage, &mut self.syncs);
        }
        res
    }

    /// Syncs the open file if appends left it unsynced.
    pub(crate) fn sync_pending(&mut self, storage: &mut dyn Storage) -> Result<(), SinkError> {
        match self.open.as_mut() {
            Some(open) => open.sync_pending(storage, &mut self.syncs),
            None => Ok(()),
        }
    }

    fn lock_dir(&mut self, storage: &mut dyn Storage) -> Result<FlockGuard, SinkError> {
        if let Ok(guard) = self.lock.acquire(&self.dir) {
            return Ok(guard);
        }
        // The directory may have been deleted: recreate it and try again.
        storage
            .create_dir(&self.dir)
            .map_err(|source| SinkError::CreateDir {
                path: self.dir.clone(),
                source,
            })?;
        self.lock
            .acquire(&self.dir)
            .map_err(|source| SinkError::Open {
                path: self.dir.join(super::storage::LOCK_FILE),
                source,
            })
    }

    /// Whether the last rotation left the retention budget exceeded, and by
    /// what (files younger than the minimum age are kept, not deleted).
    pub(crate) fn over_budget(&self) -> Option<OverBudget> {
        self.over_budget
    }

    /// Step 3: plans and applies rotation and retention (under the lock).
    fn rotate(
        &mut self,
        input: &RotationInput<'_>,
        rotated: &mut Vec<String>,
        left: Option<&Written>,
    ) {
        let plan = match list_entries(&self.dir) {
            Ok(entries) => plan_rotation(&entries, input, &self.policy, &self.limits),
            Err(e) => {
                self.warn_rotation(&self.dir.clone(), e);
                return;
            }
        };
        if let Err((path, e)) = apply(&self.dir, &plan) {
            self.warn_rotation(&path, e);
        }
        let seals = seals_of(&self.dir, &plan);
        self.seals
            .append_written(&self.dir, &seals, input.now, left);
        self.over_budget = plan.over_budget;
        rotated.extend(plan.compress);
    }

    fn warn_rotation(&mut self, path: &Path, e: io::Error) {
        if !self.rotate_warned {
            tracing::warn!("audit trail: rotation at {} failed: {e}", path.display());
            self.rotate_warned = true;
        }
    }
}

/// The directory's entries with their sizes and last writes (of the entry
/// itself: a link is not followed).
fn list_entries(dir: &Path) -> io::Result<Vec<FileEntry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // Gone meanwhile (another writer's compression): not ours to count.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        entries.push(FileEntry {
            name,
            bytes: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        });
    }
    Ok(entries)
}

/// Drops the handle in `open`, first syncing what it left unsynced: lines
/// written to a file that is rotated away or left behind reach the device
/// too.
fn close(
    open: &mut Option<OpenFile>,
    storage: &mut dyn Storage,
    syncs: &mut u64,
) -> Result<(), SinkError> {
    match open.take() {
        Some(mut file) => file.sync_pending(storage, syncs),
        None => Ok(()),
    }
}

/// A sync failing as a file is closed: logged, as nothing else can be done
/// about it (the lines are written, but may not survive a power loss).
fn log_sync_error(res: Result<(), SinkError>) {
    if let Err(e) = res {
        tracing::error!("audit trail: {e}");
    }
}

/// The seal entries for what `plan` did: each file renamed (closed) and
/// each file deleted, as far as the directory shows it happened.
fn seals_of(dir: &Path, plan: &RotationPlan) -> Vec<Seal> {
    let mut seals = Vec::new();
    for (from, to) in &plan.renames {
        if dir.join(to).exists() && !dir.join(from).exists() {
            let (file, from) = (to.clone(), from.clone());
            seals.push(Seal::Closed { file, from });
        }
    }
    for name in plan.delete.iter().filter(|n| !dir.join(n).exists()) {
        let file = name.strip_suffix(".gz").unwrap_or(name).to_owned();
        seals.push(Seal::Deleted { file });
    }
    seals
}

/// Renames then deletes; a file someone else already moved is not an error.
fn apply(dir: &Path, plan: &RotationPlan) -> Result<(), (PathBuf, io::Error)> {
    let ok_if_gone = |r: io::Result<()>, p: PathBuf| match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err((p, e)),
        _ => Ok(()),
    };
    for (from, to) in &plan.renames {
        ok_if_gone(
            std::fs::rename(dir.join(from), dir.join(to)),
            dir.join(from),
        )?;
    }
    for name in &plan.delete {
        ok_if_gone(std::fs::remove_file(dir.join(name)), dir.join(name))?;
    }
    Ok(())
}

/// One file, appended to under an `flock` on itself.
#[derive(Debug)]
pub(crate) struct SingleFile {
    path: PathBuf,
    open: Option<OpenFile>,
    /// `fdatasync` calls made so far.
    pub(crate) syncs: u64,
}

impl SingleFile {
    pub(crate) fn new(path: PathBuf) -> SingleFile {
        SingleFile {
            path,
            open: None,
            syncs: 0,
        }
    }

    pub(crate) fn append(
        &mut self,
        storage: &mut dyn Storage,
        batch: &[u8],
        sync: SyncMode,
    ) -> Result<(), SinkError> {
        if self.open.as_ref().is_some_and(|o| !o.is_current()) {
            log_sync_error(close(&mut self.open, storage, &mut self.syncs));
        }
        if self.open.is_none() {
            if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.exists() {
                    storage
                        .create_dir(parent)
                        .map_err(|source| SinkError::CreateDir {
                            path: parent.to_owned(),
                            source,
                        })?;
                }
            }
            let path = self.path.clone();
            self.open = Some(OpenFile::open(storage, path, String::new(), false)?);
        }
        let open = self.open.as_mut().expect("opened above");
        let _guard = FlockGuard::exclusive(&open.file).map_err(|source| SinkError::Write {
            path: self.path.clone(),
            source,
        })?;
        let res = open.append(storage, batch, sync, &mut self.syncs);
        drop(_guard);
        if res.is_err() {
            let _ = close(&mut self.open, storage, &mut self.syncs); // part of the outage
        }
        res
    }

    /// Syncs the file if appends left it unsynced.
    pub(crate) fn sync_pending(&mut self, storage: &mut dyn Storage) -> Result<(), SinkError> {
        match self.open.as_mut() {
            Some(open) => open.sync_pending(storage, &mut self.syncs),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "append_tests.rs"]
mod tests;
