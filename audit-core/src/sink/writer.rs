//! The writer thread and its handle.
//!
//! The auditor hands batches of complete lines to [`WriterHandle`], which
//! queues them (bounded) for one writer thread. The thread coalesces whatever
//! is queued into one append (up to [`COALESCE_BYTES`]), so a burst costs few
//! `write` calls, and owns the file handles. When the queue is
//! full, [`QueueFullPolicy`] decides: wait, or drop and count.
//!
//! Under `fsync = batch` the thread syncs as a group commit
//! ([`super::group_commit`]): an append syncs when the last sync is at least
//! the interval old, and the thread wakes to sync at the deadline an unsynced
//! append opened, so every line is on the device within the interval.
//!
//! Batch buffers circulate instead of being freed: the thread coalesces into
//! one buffer of its own, and hands the batches it has written back through
//! [`WriterHandle::spare_batch`] (at most [`SPARE_BATCHES`], each of at most
//! [`SPARE_CAPACITY`] bytes): a fresh buffer per write costs a page fault
//! per 4 KiB.
//!
//! With a [`LineFeed`] (the forwarders, `crate::forward`), each queued batch becomes a
//! shared [`Bytes`] buffer: its lines go to the forwarders by reference
//! count and the batch is written from the same buffer (it is then not
//! recycled).
//!
//! Disk trouble never stops the session: a failed batch is counted as lost
//! (lines and `seq` range, see [`super::losses`]), reported once per outage
//! with `tracing::error!`, and the next batch tries again (reopening the file,
//! recreating the directory). Recovery is logged too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;

use super::append::{DailyFiles, SingleFile, SyncMode};
use super::group_commit::SyncSchedule;
use super::gzip::Compressor;
use super::losses::{Ledger, LossReason, Losses};
use super::retention::OverBudget;
use super::storage::Storage;
use super::{
    FsyncPolicy, LineFeed, QueueFullPolicy, SinkError, SinkTarget, WallClock, WriterConfig,
};

/// The writer thread appends at most this many coalesced bytes per `write`.
pub const COALESCE_BYTES: usize = 1 << 20;

/// Written batches kept for reuse ([`WriterHandle::spare_batch`]).
pub const SPARE_BATCHES: usize = 8;

/// Batches whose capacity is over this are freed, not kept: a batch grown by
/// an unusually large event should not stay in memory. So are batches under
/// half of it: the auditor's small batches leave at their exact size, and
/// would be too small to continue in.
pub const SPARE_CAPACITY: usize = 128 * 1024;

/// What the writer did, reported when it stops.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriterReport {
    /// Lines appended to the trail.
    pub lines_written: u64,
    pub bytes_written: u64,
    /// Appends (each one `write`).
    pub appends: u64,
    /// `fdatasync` calls made (`batch`: at most one per interval).
    pub syncs: u64,
    /// Group-commit syncs (at their deadline or at the end) that failed:
    /// the lines are written but may not survive a power loss. Each failure
    /// is logged, as is one while a rotated file is closed.
    pub sync_errors: u64,
    /// Appends that failed.
    pub write_errors: u64,
    /// Lines lost to write failures.
    pub lines_lost: u64,
    /// Lines refused because the queue was full (policy `drop`).
    pub lines_dropped: u64,
    /// Times a failure was reported (once per outage, not per batch).
    pub outages: u64,
    /// Times retention was left over its budget rather than delete files
    /// younger than its minimum age (reported once per episode).
    pub retention_floods: u64,
}

/// A batch refused by [`WriterHandle::try_write`]; its lines are counted as lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("audit writer queue full: {lines} lines dropped")]
pub struct Rejected {
    pub lines: u64,
}

/// The sending side of the writer queue.
#[derive(Debug)]
pub struct WriterHandle {
    tx: SyncSender<Job>,
    done: Receiver<()>,
    join: JoinHandle<WriterReport>,
    ledger: Arc<Ledger>,
    floods: Arc<Mutex<Option<OverBudget>>>,
    when_full: QueueFullPolicy,
    dropped: AtomicU64,
    spares: Arc<ArrayQueue<Vec<u8>>>,
    forward: Option<Arc<dyn LineFeed>>,
}

impl WriterHandle {
    /// An empty buffer the writer is done with, if one is kept: take it for
    /// the next batch instead of allocating one.
    pub fn spare_batch(&self) -> Option<Vec<u8>> {
        self.spares.pop()
    }

    /// Queues a batch of complete lines. With [`QueueFullPolicy::Block`] this
    /// waits for room (the auditor may wait; the relay never calls this); with
    /// [`QueueFullPolicy::Drop`] a full queue drops the batch and counts it.
    pub fn write(&self, batch: Vec<u8>) {
        match self.when_full {
            QueueFullPolicy::Block => {
                if let Err(e) = self.tx.send(Job::Lines(batch)) {
                    if let Job::Lines(batch) = e.0 {
                        self.ledger.record(&batch, LossReason::Storage);
                    }
                }
            }
            QueueFullPolicy::Drop => {
                let _ = self.try_write(batch);
            }
        }
    }

    /// Queues a batch if there is room, never waiting. A refused batch is
    /// counted in [`WriterHandle::take_losses`].
    pub fn try_write(&self, batch: Vec<u8>) -> Result<(), Rejected> {
        let (job, reason) = match self.tx.try_send(Job::Lines(batch)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(j)) => (j, LossReason::QueueFull),
            Err(TrySendError::Disconnected(j)) => (j, LossReason::Storage),
        };
        let Job::Lines(batch) = job else {
            unreachable!("try_write sends lines")
        };
        let lines = memchr::memchr_iter(b'\n', &batch).count() as u64;
        self.dropped.fetch_add(lines, Ordering::Relaxed);
        self.ledger.record(&batch, reason);
        Err(Rejected { lines })
    }

    /// Waits until the writer has tried every batch queued before this call,
    /// so that [`WriterHandle::take_losses`] then knows all their losses.
    /// The auditor calls it before `session_end`: a loss found later could
    /// not be put on record any more. Waits for the disk like `write` does.
    pub fn settle(&self) {
        let (ack, done) = sync_channel(1);
        if self.tx.send(Job::Barrier(ack)).is_ok() {
            let _ = done.recv();
        }
    }

    /// The retention budget, if it became exceeded since the last call (see
    /// [`super::retention`]): files younger than the minimum age were kept
    /// rather than deleted. For the auditor to put on record.
    pub fn take_retention_flood(&self) -> Option<OverBudget> {
        self.floods.lock().ok()?.take()
    }

    /// Lines lost since the last call (queue full, or disk trouble), one
    /// reason at a time: call until `None`, and write an `audit_dropped`
    /// event for each (with `details.first_seq` / `last_seq`).
    pub fn take_losses(&self) -> Option<Losses> {
        self.ledger
            .take()
            .or_else(|| self.forward.as_ref()?.take_losses())
    }

    /// Closes the queue and waits, for at most `timeout`, until everything
    /// queued is written (and synced unless the policy is `never`) and
    /// compression of rotated files is done. `None` if that took too long.
    pub fn finish(self, timeout: Duration) -> Option<WriterReport> {
        if let Some(forward) = &self.forward {
            // Forwarders get half: the local trail comes first.
            forward.stop_by(Instant::now() + timeout / 2);
        }
        drop(self.tx);
        self.done.recv_timeout(timeout).ok()?;
        let mut report = self.join.join().ok()?;
        report.lines_dropped = self.dropped.load(Ordering::Relaxed);
        Some(report)
    }
}

/// Starts the writer thread for `target` with file operations `storage`.
pub(crate) fn spawn(
    target: SinkTarget,
    config: WriterConfig,
    storage: Box<dyn Storage>,
) -> Result<WriterHandle, SinkError> {
    let ledger = Arc::new(Ledger::default());
    let compressor = match target {
        SinkTarget::Dir(_) => Some(Compressor::spawn().map_err(SinkError::Thread)?),
        _ => None,
    };
    let mut core = WriterCore::new(target, &config, storage, ledger.clone());
    core.compressor = compressor;
    let floods = core.floods.clone();
    let (tx, rx) = sync_channel(config.queue.max(1));
    let (done_tx, done) = sync_channel(1);
    let always = config.fsync == FsyncPolicy::Always;
    let spares = Arc::new(ArrayQueue::new(SPARE_BATCHES));
    let returned = spares.clone();
    let forward = config.forward.clone();
    let forwarders = forward.clone();
    let join = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || {
            run(&mut core, rx, always, &returned, forwarders.as_deref());
            let report = core.finish();
            if let Some(f) = &forwarders {
                f.finish();
            }
            let _ = done_tx.send(());
            report
        })
        .map_err(SinkError::Thread)?;
    Ok(WriterHandle {
        tx,
        done,
        join,
        ledger,
        floods,
        when_full: config.when_full,
        dropped: AtomicU64::new(0),
        spares,
        forward,
    })
}

/// What the writer thread is asked to do.
enum Job {
    /// Append these complete lines.
    Lines(Vec<u8>),
    /// Answer once every job before this one is done ([`WriterHandle::settle`]).
    Barrier(SyncSender<()>),
}

/// A batch taken from the queue: owned, or shared with the forwarders.
enum Batch {
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl Batch {
    /// The batch, its lines handed to `forward` first if there are forwarders.
    fn taken(lines: Vec<u8>, forward: Option<&dyn LineFeed>) -> Batch {
        match forward {
            Some(f) => {
                let shared = Bytes::from(lines);
                f.offer(&shared);
                Batch::Shared(shared)
            }
            None => Batch::Owned(lines),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Batch::Owned(v) => v,
            Batch::Shared(b) => b,
        }
    }
}

/// Keeps a written batch for reuse if it is of a size worth keeping and
/// there is room; frees it otherwise.
fn recycle(batch: Batch, spares: &ArrayQueue<Vec<u8>>) {
    let Batch::Owned(mut batch) = batch else {
        return; // the forwarders still hold its lines
    };
    if (SPARE_CAPACITY / 2..=SPARE_CAPACITY).contains(&batch.capacity()) {
        batch.clear();
        let _ = spares.push(batch);
    }
}

/// Appends a queued batch to `coalesced` and lets the batch go.
fn absorb(coalesced: &mut Vec<u8>, lines: Batch, spares: &ArrayQueue<Vec<u8>>) {
    coalesced.extend_from_slice(lines.as_slice());
    recycle(lines, spares);
}

fn run(
    core: &mut WriterCore,
    rx: Receiver<Job>,
    always: bool,
    spares: &ArrayQueue<Vec<u8>>,
    forward: Option<&dyn LineFeed>,
) {
    // Where queued batches are coalesced, kept from write to write.
    let mut coalesced: Vec<u8> = Vec::new();
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match core.sync_deadline() {
                None => match rx.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                },
                // Lines await their group commit: wait for more, but no
                // longer than their deadline.
                Some(deadline) => {
                    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(job) => job,
                        Err(RecvTimeoutError::Timeout) => {
                            core.sync_pending();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            },
        };
        let batch = match job {
            Job::Lines(batch) => Batch::taken(batch, forward),
            Job::Barrier(ack) => {
                let _ = ack.send(());
                continue;
            }
        };
        // Under `always` each batch is its own write + fsync. Otherwise
        // whatever else is queued joins it in `coalesced`; a batch found
        // alone is written as it is.
        let mut alone = Some(batch);
        while !always
            && alone
                .as_ref()
                .map_or(coalesced.len(), |b| b.as_slice().len())
                < COALESCE_BYTES
        {
            match rx.try_recv() {
                Ok(Job::Lines(more)) => {
                    if let Some(first) = alone.take() {
                        coalesced.clear();
                        absorb(&mut coalesced, first, spares);
                    }
                    absorb(&mut coalesced, Batch::taken(more, forward), spares);
                }
                Ok(barrier) => {
                    next = Some(barrier); // after this write
                    break;
                }
                Err(_) => break,
            }
        }
        match alone {
            Some(batch) => {
                core.write(batch.as_slice());
                recycle(batch, spares);
            }
            None => {
                core.write(&coalesced);
                if coalesced.capacity() > 2 * COALESCE_BYTES {
                    // One huge batch grew it: do not keep that.
                    coalesced = Vec::new();
                }
            }
        }
    }
}

enum Destination {
    Stderr,
    File(SingleFile),
    Dir(std::path::PathBuf, DailyFiles),
}

/// The writer's state: what it writes to and what happened so far. Driven
/// by the thread, or directly by tests (one batch at a time, no thread).
pub(crate) struct WriterCore {
    dest: Destination,
    storage: Box<dyn Storage>,
    clock: WallClock,
    fsync: FsyncPolicy,
    schedule: SyncSchedule,
    ledger: Arc<Ledger>,
    compressor: Option<Compressor>,
    failing: bool,
    /// The retention budget is exceeded and that was reported.
    in_flood: bool,
    /// A newly exceeded budget, for [`WriterHandle::take_retention_flood`].
    floods: Arc<Mutex<Option<OverBudget>>>,
    report: WriterReport,
}

impl WriterCore {
    pub(crate) fn new(
        target: SinkTarget,
        config: &WriterConfig,
        storage: Box<dyn Storage>,
        ledger: Arc<Ledger>,
    ) -> WriterCore {
        let dest = match target {
            SinkTarget::Stderr => Destination::Stderr,
            SinkTarget::File(p) => Destination::File(SingleFile::new(p)),
            SinkTarget::Dir(d) => Destination::Dir(
                d.clone(),
                DailyFiles::new(d, config.rotation, config.retention)
                    .with_seal_key(config.seal_key.clone()),
            ),
        };
        WriterCore {
            dest,
            storage,
            clock: config.clock.clone(),
            fsync: config.fsync,
            schedule: SyncSchedule::new(config.fsync_interval),
            ledger,
            compressor: None,
            failing: false,
            in_flood: false,
            floods: Arc::default(),
            report: WriterReport::default(),
        }
    }

    /// Appends one batch, accounting for success or loss.
    pub(crate) fn write(&mut self, batch: &[u8]) {
        let now = Instant::now();
        let sync = match self.fsync {
            _ if matches!(self.dest, Destination::Stderr) => SyncMode::Never,
            FsyncPolicy::Never => SyncMode::Never,
            FsyncPolicy::Always => SyncMode::Now,
            FsyncPolicy::Batch if self.schedule.sync_now(now) => SyncMode::Now,
            FsyncPolicy::Batch => SyncMode::Later,
        };
        let mut rotated = Vec::new();
        let storage = self.storage.as_mut();
        let res = match &mut self.dest {
            Destination::Stderr => {
                use std::io::Write;
                std::io::stderr()
                    .lock()
                    .write_all(batch)
                    .map_err(|source| SinkError::Write {
                        path: "<stderr>".into(),
                        source,
                    })
            }
            Destination::File(f) => f.append(storage, batch, sync),
            Destination::Dir(_, d) => {
                let clock = self.clock.clone();
                d.append(storage, &|| clock(), batch, sync, &mut rotated)
            }
        };
        match sync {
            SyncMode::Now => self.schedule.synced(now),
            // A failed append dropped its file handle, syncing it.
            SyncMode::Later if res.is_err() => self.schedule.synced(now),
            SyncMode::Later => self.schedule.wrote_unsynced(now),
            SyncMode::Never => {}
        }
        let lines = memchr::memchr_iter(b'\n', batch).count() as u64;
        match res {
            Ok(()) => self.written(lines, batch.len() as u64),
            Err(e) => self.lost(batch, lines, e),
        }
        self.report_retention();
        if let (Destination::Dir(dir, _), Some(c)) = (&self.dest, &self.compressor) {
            for name in rotated {
                c.submit(dir, &name);
            }
        }
    }

    /// A retention budget newly exceeded is reported (see
    /// [`super::retention`]): the trail states that it keeps more than asked,
    /// instead of deleting other sessions' recent files to make room.
    fn report_retention(&mut self) {
        let Destination::Dir(dir, d) = &self.dest else {
            return;
        };
        match (d.over_budget(), self.in_flood) {
            (Some(over), false) => {
                self.in_flood = true;
                self.report.retention_floods += 1;
                if let Ok(mut slot) = self.floods.lock() {
                    *slot = Some(over);
                }
                tracing::error!(
                    "audit trail: {} holds {} files, {} bytes, over the retention budget; files younger than the minimum age are kept, not deleted",
                    dir.display(),
                    over.files,
                    over.bytes
                );
            }
            (None, true) => self.in_flood = false,
            _ => {}
        }
    }

    fn written(&mut self, lines: u64, bytes: u64) {
        self.report.lines_written += lines;
        self.report.bytes_written += bytes;
        self.report.appends += 1;
        if self.failing {
            self.failing = false;
            tracing::warn!(
                "audit trail: writing again; {} lines lost so far",
                self.report.lines_lost
            );
        }
    }

    fn lost(&mut self, batch: &[u8], lines: u64, e: SinkError) {
        self.report.appends += 1;
        self.report.write_errors += 1;
        self.report.lines_lost += lines;
        self.ledger.record(batch, LossReason::Storage);
        if !self.failing {
            self.failing = true;
            self.report.outages += 1;
            tracing::error!(
                "audit trail: {e}; the MCP session goes on, lost events are counted and retried"
            );
        }
    }

    /// When the lines written without a sync must be synced, if any.
    pub(crate) fn sync_deadline(&self) -> Option<Instant> {
        self.schedule.deadline()
    }

    /// Syncs what appends left unsynced (the group commit's deadline, or the
    /// end). A failure is logged and counted: the lines are written, but may
    /// not survive a power loss.
    pub(crate) fn sync_pending(&mut self) {
        if self.schedule.deadline().is_none() {
            return;
        }
        let storage = self.storage.as_mut();
        let res = match &mut self.dest {
            Destination::Stderr => Ok(()),
            Destination::File(f) => f.sync_pending(storage),
            Destination::Dir(_, d) => d.sync_pending(storage),
        };
        if let Err(e) = res {
            self.report.sync_errors += 1;
            tracing::error!("audit trail: {e}");
        }
        self.schedule.synced(Instant::now());
    }

    /// Syncs what is left, waits for compression and returns what happened.
    pub(crate) fn finish(&mut self) -> WriterReport {
        self.sync_pending();
        if let Destination::Dir(_, d) = &mut self.dest {
            d.seal_on_exit((self.clock)());
        }
        self.report.syncs = match &self.dest {
            Destination::Stderr => 0,
            Destination::File(f) => f.syncs,
            Destination::Dir(_, d) => d.syncs,
        };
        if let Some(c) = self.compressor.take() {
            c.finish();
        }
        self.report.clone()
    }
}

/// The system clock, as a [`WallClock`].
pub fn system_clock() -> WallClock {
    Arc::new(SystemTime::now)
}
