//! The hand-off from the relay to the auditor: the one place the hot path
//! touches audit work.
//!
//! [`AuditHandle::offer`] never blocks and never copies: it sends the `Bytes`
//! the relay has just written (a reference count) down a bounded channel. Two
//! limits apply, each with a counter for what went over it: the number of
//! queued messages and the bytes they pin in memory. A chunk that does not fit
//! is dropped *from the audit trail only* (it has already been relayed); the
//! next chunk that fits carries the loss, so the auditor can resynchronise its
//! framing and record an `audit_dropped` event.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::event::Direction;

/// Default number of messages the hand-off queue holds.
pub const DEFAULT_QUEUE_MESSAGES: usize = 16 * 1024;
/// Default bytes the queued chunks may pin: 64 MiB.
pub const DEFAULT_QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// What was lost between two chunks of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loss {
    pub chunks: u64,
    pub bytes: u64,
}

/// How the child process ended, as the auditor records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Could not be started or waited for.
    Unknown,
}

impl ChildExit {
    /// The status a shell would report: the code, or 128 + the signal.
    pub fn shell_status(self) -> i32 {
        match self {
            ChildExit::Code(c) => c,
            ChildExit::Signal(s) => 128 + s,
            ChildExit::Unknown => 1,
        }
    }
}

/// Why the session ended, as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnd {
    pub at: Instant,
    pub exit: ChildExit,
    /// What started the shutdown: `client_eof`, `signal:SIGTERM`, `child_exit`, ...
    pub reason: String,
}

/// A message from the proxy to the auditor.
#[derive(Debug)]
pub enum AuditMsg {
    /// Bytes relayed in `direction`, read at `at`.
    Chunk {
        direction: Direction,
        at: Instant,
        bytes: Bytes,
        lost_before: Option<Loss>,
    },
    /// A frame the policy refused: it was not relayed, and the client got
    /// `reply` (empty for a notification). With `dry_run`, the frame *was*
    /// relayed and `rule` only would have refused it.
    Refused {
        at: Instant,
        frame: Bytes,
        reply: Bytes,
        rule: String,
        dry_run: bool,
    },
    /// The stream in `direction` ended.
    Eof { direction: Direction, at: Instant },
    /// The session is over: write `session_end` and stop.
    End(SessionEnd),
}

/// Counters shared by the hand-off's senders, read for `session_end` and stats.
#[derive(Debug, Default)]
pub struct HandoffStats {
    pub offered_chunks: AtomicU64,
    pub dropped_chunks: AtomicU64,
    pub dropped_bytes: AtomicU64,
}

/// The sending side, one per relay thread (clone it).
#[derive(Debug, Clone)]
pub struct AuditHandle {
    tx: SyncSender<AuditMsg>,
    pinned: Arc<AtomicUsize>,
    max_bytes: usize,
    stats: Arc<HandoffStats>,
    pending: Loss,
}

/// The receiving side, owned by the auditor.
#[derive(Debug)]
pub struct AuditInbox {
    rx: Receiver<AuditMsg>,
    pinned: Arc<AtomicUsize>,
    pub stats: Arc<HandoffStats>,
}

/// A hand-off queue of at most `messages` messages pinning at most `bytes`.
pub fn channel(messages: usize, bytes: usize) -> (AuditHandle, AuditInbox) {
    let (tx, rx) = sync_channel(messages.max(1));
    let pinned = Arc::new(AtomicUsize::new(0));
    let stats = Arc::new(HandoffStats::default());
    let handle = AuditHandle {
        tx,
        pinned: pinned.clone(),
        max_bytes: bytes,
        stats: stats.clone(),
        pending: Loss::default(),
    };
    (handle, AuditInbox { rx, pinned, stats })
}

impl AuditHandle {
    /// Offers relayed bytes to the auditor. Never blocks; a chunk that does not
    /// fit is counted and reported with the next one that does.
    #[inline]
    pub fn offer(&mut self, direction: Direction, at: Instant, bytes: Bytes) {
        self.stats.offered_chunks.fetch_add(1, Ordering::Relaxed);
        let len = bytes.len();
        if self.pinned.fetch_add(len, Ordering::AcqRel) + len > self.max_bytes {
            self.pinned.fetch_sub(len, Ordering::AcqRel);
            self.lose(len);
            return;
        }
        let lost_before = (self.pending.chunks > 0).then_some(self.pending);
        match self.tx.try_send(AuditMsg::Chunk {
            direction,
            at,
            bytes,
            lost_before,
        }) {
            Ok(()) => self.pending = Loss::default(),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.pinned.fetch_sub(len, Ordering::AcqRel);
                self.lose(len);
            }
        }
    }

    /// Sends a control message, waiting for room if need be. For end-of-stream
    /// and shutdown only, never for relayed bytes.
    pub fn send_control(&self, msg: AuditMsg) -> bool {
        self.tx.send(msg).is_ok()
    }

    /// Tries to send a control message without waiting (from a relay thread).
    pub fn try_control(&self, msg: AuditMsg) -> bool {
        self.tx.try_send(msg).is_ok()
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<HandoffStats> {
        &self.stats
    }

    fn lose(&mut self, len: usize) {
        self.pending.chunks += 1;
        self.pending.bytes += len as u64;
        self.stats.dropped_chunks.fetch_add(1, Ordering::Relaxed);
        self.stats
            .dropped_bytes
            .fetch_add(len as u64, Ordering::Relaxed);
    }
}

impl AuditInbox {
    /// Waits for the next message; `None` once every sender is gone.
    pub fn recv(&self) -> Option<AuditMsg> {
        let msg = self.rx.recv().ok()?;
        if let AuditMsg::Chunk { bytes, .. } = &msg {
            self.pinned.fetch_sub(bytes.len(), Ordering::AcqRel);
        }
        Some(msg)
    }

    /// The next message if one is queued, without waiting.
    pub fn try_recv(&self) -> Option<AuditMsg> {
        let msg = self.rx.try_recv().ok()?;
        if let AuditMsg::Chunk { bytes, .. } = &msg {
            self.pinned.fetch_sub(bytes.len(), Ordering::AcqRel);
        }
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_over_the_byte_limit_and_reports_with_next_chunk() {
        let (mut h, inbox) = channel(16, 10);
        let t = Instant::now();
        h.offer(Direction::ClientToServer, t, Bytes::from_static(b"123456"));
        h.offer(Direction::ClientToServer, t, Bytes::from_static(b"789012")); // 12 > 10
        match inbox.recv().unwrap() {
            AuditMsg::Chunk { lost_before, .. } => assert_eq!(lost_before, None),
            m => panic!("{m:?}"),
        }
        h.offer(Direction::ClientToServer, t, Bytes::from_static(b"ab"));
        match inbox.recv().unwrap() {
            AuditMsg::Chunk {
                lost_before, bytes, ..
            } => {
                assert_eq!(
                    lost_before,
                    Some(Loss {
                        chunks: 1,
                        bytes: 6
                    })
                );
                assert_eq!(&bytes[..], b"ab");
            }
            m => panic!("{m:?}"),
        }
        assert_eq!(h.stats().dropped_chunks.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn drops_when_queue_is_full_without_blocking() {
        let (mut h, inbox) = channel(1, 1 << 20);
        let t = Instant::now();
        h.offer(Direction::ServerToClient, t, Bytes::from_static(b"a"));
        h.offer(Direction::ServerToClient, t, Bytes::from_static(b"b"));
        assert_eq!(h.stats().dropped_bytes.load(Ordering::Relaxed), 1);
        drop(h);
        assert!(matches!(inbox.recv(), Some(AuditMsg::Chunk { .. })));
        assert!(inbox.recv().is_none());
        assert_eq!(inbox.pinned.load(Ordering::Relaxed), 0);
    }
}
