//! The auditor's end of the transcript: hands frames to the writer thread
//! through a bounded queue, never blocking. A frame that does not fit (the
//! queue holds at most so many frames and so many bytes, the frames by
//! reference count) is counted as lost, for the end line.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::SystemTime;

use crate::event::Direction;
use crate::frame::Frame;
use crate::handoff::Refusal;

/// A frame on its way to the writer.
#[derive(Debug)]
pub(super) struct Queued {
    pub frame: Frame,
    pub wall: SystemTime,
    pub refused_by: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct Shared {
    pub pinned: AtomicUsize,
    pub lost_frames: AtomicU64,
    pub lost_bytes: AtomicU64,
}

/// The auditor's end of the transcript queue.
#[derive(Debug)]
pub struct TranscriptTap {
    pub(super) tx: SyncSender<Queued>,
    pub(super) shared: Arc<Shared>,
    pub(super) queue_bytes: usize,
}

impl TranscriptTap {
    /// Queues `frame` (read at wall time `wall`), or counts it lost if the
    /// queue is full. Never blocks.
    pub fn offer(&self, frame: &Frame, wall: SystemTime) {
        self.queue(frame.clone(), wall, None);
    }

    /// Records a frame the policy refused (it never reached the server) and
    /// the proxy's reply to it (what the client got instead), both marked
    /// with the rule. A dry run's frame was relayed and is recorded as such.
    pub fn refused(&self, r: &Refusal, wall: SystemTime) {
        if r.dry_run {
            return;
        }
        for (direction, bytes) in [
            (Direction::ClientToServer, &r.frame),
            (Direction::ServerToClient, &r.reply),
        ] {
            let line = bytes
                .strip_suffix(b"\n")
                .map_or(bytes.clone(), |l| bytes.slice(..l.len()));
            if line.is_empty() {
                continue;
            }
            let frame = Frame {
                direction,
                at: r.at,
                len: line.len(),
                bytes: line,
                sha256: None,
                terminated: true,
                after_gap: false,
            };
            self.queue(frame, wall, Some(r.rule.clone()));
        }
    }

    fn queue(&self, frame: Frame, wall: SystemTime, refused_by: Option<String>) {
        let len = frame.bytes.len();
        let pinned = self.shared.pinned.fetch_add(len, Ordering::Relaxed);
        let sent = pinned == 0 || pinned + len <= self.queue_bytes;
        let sent = sent
            && match self.tx.try_send(Queued {
                frame,
                wall,
                refused_by,
            }) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            };
        if !sent {
            self.shared.pinned.fetch_sub(len, Ordering::Relaxed);
            self.shared.lost_frames.fetch_add(1, Ordering::Relaxed);
            self.shared
                .lost_bytes
                .fetch_add(len as u64, Ordering::Relaxed);
        }
    }
}
