//! The hand-off from the relay to the auditor: the one place the hot path
//! touches audit work.
//!
//! [`AuditHandle::offer`] never blocks and never copies: it pushes the `Bytes`
//! the relay has just read (a reference count) onto one lock-free FIFO queue
//! shared by both relay threads (crossbeam's `SegQueue`: linearisable, so a
//! chunk offered before another, by any thread, is received first; its slots
//! are allocated in small blocks as needed, so a deep queue costs nothing
//! until a burst fills it). Two limits apply, each with a counter for what
//! went over it: the number of queued messages and the bytes they pin in
//! memory. A chunk that does not fit is dropped *from the audit trail
//! only* (it is relayed all the same); the next chunk that fits carries the
//! loss, so the auditor can resynchronise its framing and record an
//! `audit_dropped` event. Past the high-water mark (`HIGH_WATER`) an offer
//! also yields the relay's core once (`sched_yield`, never a wait): where the
//! relay, the peers and the auditor share one CPU, the stream would
//! otherwise keep it until the queue overflows.
//!
//! Wake-ups are batched so that the relay does not pay a system call per
//! chunk: an auditor that finds the queue empty *naps* (`NAP`, a timed
//! park that no producer interrupts) and only after `NAPS_BEFORE_SLEEP`
//! empty naps in a row *sleeps* until woken. Producers wake it only from that
//! sleep, when the queue is half full, or for a control message. A busy or
//! briefly idle session thus costs the relay an atomic push per chunk, and an
//! idle session costs no CPU.

use std::cell::Cell;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_queue::SegQueue;

use crate::event::Direction;

pub use crate::session_end::{ChildExit, SessionEnd};

/// Default number of messages the hand-off queue holds: 256 Ki, so that the
/// byte limit, not the count, bounds a burst of reads of one small frame
/// each (24 MiB of 96-byte reads). Slots are allocated only while used,
/// 72 bytes each.
pub const DEFAULT_QUEUE_MESSAGES: usize = 256 * 1024;
/// Default bytes the queued chunks may pin: 24 MiB. The auditor is slower
/// than the relay on a burst of small calls, so the queue absorbs a burst
/// (a 16 MiB frame whole) and the auditor catches up after it; it is most
/// of the proxy's peak memory, which stays under 64 MiB with it full.
pub const DEFAULT_QUEUE_BYTES: usize = 24 * 1024 * 1024;
/// How long the auditor parks, unwoken, when the queue is empty.
pub(crate) const NAP: Duration = Duration::from_millis(1);
/// Empty naps in a row after which the auditor sleeps until woken.
pub(crate) const NAPS_BEFORE_SLEEP: u32 = 20;

/// [`AuditInbox::backlogged`] at this fraction of either queue limit.
pub(crate) const BACKLOG_FRACTION: usize = 256;

/// [`AuditInbox::high_water`] at this fraction (numerator, denominator) of
/// either queue limit: past it the auditor works whatever the stream does,
/// so that the last quarter of the queue still absorbs what arrives while it
/// catches up.
pub(crate) const HIGH_WATER: (usize, usize) = (3, 4);

/// What was lost between two chunks of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loss {
    pub chunks: u64,
    pub bytes: u64,
}

/// A message from the proxy to the auditor.
///
/// At most 64 bytes: there is a queue slot per relay read, so what is rare
/// (a loss, a refusal) is boxed to keep every slot of a burst small (a test
/// holds the size).
#[derive(Debug)]
pub enum AuditMsg {
    /// Bytes relayed in `direction`, read at `at`.
    Chunk {
        direction: Direction,
        at: Instant,
        bytes: Bytes,
        lost_before: Option<Box<Loss>>,
        /// Bytes of memory the chunk keeps pinned besides its own: the
        /// unused tail of the read buffer the relay left for this chunk's
        /// (see [`AuditHandle::offer_pinning`]). Counted against the byte
        /// limit until the chunk is taken.
        slack: u32,
    },
    /// A frame the policy refused (see [`Refusal`]).
    Refused(Box<Refusal>),
    /// The stream in `direction` ended.
    Eof { direction: Direction, at: Instant },
    /// The session is over: write `session_end` and stop.
    End(SessionEnd),
}

/// A frame the policy refused: it was not relayed, and the client got
/// `reply` (empty for a notification). With `dry_run`, the frame *was*
/// relayed and `rule` only would have refused it.
#[derive(Debug)]
pub struct Refusal {
    pub at: Instant,
    pub frame: Bytes,
    pub reply: Bytes,
    pub rule: String,
    pub dry_run: bool,
}

/// Counters shared by the hand-off's senders, read for `session_end` and stats.
///
/// Only losses are counted here: a counter of every chunk offered, shared by
/// both relay threads, cost a contended atomic add per read and had no
/// reader.
#[derive(Debug, Default)]
pub struct HandoffStats {
    pub dropped_chunks: AtomicU64,
    pub dropped_bytes: AtomicU64,
}

/// The auditor is running: producers need not wake it.
const AWAKE: u8 = 0;
/// The auditor naps: producers wake it only if the queue is half full.
const NAPPING: u8 = 1;
/// The auditor is parked until woken.
const ASLEEP: u8 = 2;

/// What the senders and the receiver share.
#[derive(Debug)]
struct Shared {
    queue: SegQueue<AuditMsg>,
    /// What `queue` holds, as one [`Level`]: messages (chunks and control
    /// messages) and the bytes their chunks pin. One word, so that a chunk
    /// costs its producer and the auditor one atomic add each, not two.
    level: AtomicU64,
    max_messages: usize,
    max_bytes: usize,
    stats: Arc<HandoffStats>,
    senders: AtomicUsize,
    /// False once the [`AuditInbox`] is dropped: nobody will drain the queue.
    receiver_alive: AtomicBool,
    auditor_state: AtomicU8,
    auditor: OnceLock<Thread>,
}

impl Shared {
    /// Wakes the auditor if it sleeps (or unconditionally with `always`).
    fn wake(&self, always: bool) {
        fence(Ordering::SeqCst); // orders our push before reading the state
        let wake = match self.auditor_state.load(Ordering::SeqCst) {
            ASLEEP => true,
            NAPPING => always || self.filled_to(1, 2),
            _ => always,
        };
        if wake {
            if let Some(t) = self.auditor.get() {
                t.unpark();
            }
        }
    }

    /// What the queue holds now.
    fn level(&self) -> Level {
        Level(self.level.load(Ordering::Acquire))
    }

    /// The queue holds at least `num`/`den` of either of its limits.
    fn filled_to(&self, num: usize, den: usize) -> bool {
        self.level_fills(self.level(), num, den)
    }

    /// `level` is at least `num`/`den` of either of the queue's limits.
    fn level_fills(&self, level: Level, num: usize, den: usize) -> bool {
        level.messages() * den >= self.max_messages * num
            || level.bytes() * den >= self.max_bytes * num
    }

    /// See [`AuditInbox::high_water`].
    fn high_water(&self) -> bool {
        self.filled_to(HIGH_WATER.0, HIGH_WATER.1)
    }

    /// Pushes a control message: never refused, never waits (there are a
    /// handful per session, so they need no room of their own).
    fn push_control(&self, msg: AuditMsg) {
        self.level.fetch_add(Level::of(0).0, Ordering::AcqRel);
        self.queue.push(msg);
        self.wake(true);
    }

    /// The next message and what the queue held just before it was taken.
    fn pop(&self) -> Option<(AuditMsg, Level)> {
        let msg = self.queue.pop()?;
        let len = match &msg {
            AuditMsg::Chunk { bytes, slack, .. } => bytes.len() + *slack as usize,
            _ => 0,
        };
        let before = self.level.fetch_sub(Level::of(len).0, Ordering::AcqRel);
        Some((msg, Level(before)))
    }
}

/// Messages and bytes in the queue, packed in one `u64`: bytes in the low
/// [`Level::BYTE_BITS`] bits, messages above them. [`channel`] keeps both
/// limits far enough below their fields' ranges that no sum of in-flight
/// adds carries from one field into the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Level(u64);

impl Level {
    /// Bits of the byte count: up to 1 TiB.
    const BYTE_BITS: u32 = 40;
    /// The largest byte limit [`channel`] accepts: a 16th of the field, so
    /// that offers racing past the limit (each undone at once) cannot carry.
    const MAX_BYTES: usize = 1 << (Level::BYTE_BITS - 4);
    /// The largest message limit [`channel`] accepts, likewise.
    const MAX_MESSAGES: usize = 1 << (64 - Level::BYTE_BITS - 4);

    /// One message of `len` bytes.
    fn of(len: usize) -> Level {
        Level((1 << Level::BYTE_BITS) | len as u64)
    }

    fn messages(self) -> usize {
        (self.0 >> Level::BYTE_BITS) as usize
    }

    fn bytes(self) -> usize {
        (self.0 & ((1 << Level::BYTE_BITS) - 1)) as usize
    }
}

/// The sending side, one per relay thread (clone it).
#[derive(Debug)]
pub struct AuditHandle {
    shared: Arc<Shared>,
    pending: Loss,
}

/// The receiving side, owned by the auditor.
#[derive(Debug)]
pub struct AuditInbox {
    shared: Arc<Shared>,
    pub stats: Arc<HandoffStats>,
    /// Empty naps in a row so far (a `Cell`: `recv` takes `&self`).
    empty_naps: Cell<u32>,
    /// The most the queue held when a message was taken, per field.
    peak: Cell<QueuePeak>,
}

/// The most the hand-off queue held during a session, seen as the auditor
/// took each message (so it costs the relay nothing): how close a burst came
/// to the queue's limits, and which limit it neared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueuePeak {
    pub messages: usize,
    pub bytes: usize,
}

/// A hand-off queue of at most `messages` messages pinning at most `bytes`.
pub fn channel(messages: usize, bytes: usize) -> (AuditHandle, AuditInbox) {
    let stats = Arc::new(HandoffStats::default());
    let shared = Arc::new(Shared {
        queue: SegQueue::new(),
        level: AtomicU64::new(0),
        max_messages: messages.clamp(1, Level::MAX_MESSAGES),
        max_bytes: bytes.min(Level::MAX_BYTES),
        stats: stats.clone(),
        senders: AtomicUsize::new(1),
        receiver_alive: AtomicBool::new(true),
        auditor_state: AtomicU8::new(AWAKE),
        auditor: OnceLock::new(),
    });
    let handle = AuditHandle {
        shared: shared.clone(),
        pending: Loss::default(),
    };
    let inbox = AuditInbox {
        shared,
        stats,
        empty_naps: Cell::new(0),
        peak: Cell::new(QueuePeak::default()),
    };
    (handle, inbox)
}

impl Clone for AuditHandle {
    fn clone(&self) -> AuditHandle {
        self.shared.senders.fetch_add(1, Ordering::AcqRel);
        AuditHandle {
            shared: self.shared.clone(),
            pending: Loss::default(),
        }
    }
}

impl Drop for AuditHandle {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.wake(true); // the auditor must see that we are gone
        }
    }
}

impl AuditHandle {
    /// Offers relayed bytes to the auditor. Never blocks; a chunk that does not
    /// fit is counted and reported with the next one that does.
    #[inline]
    pub fn offer(&mut self, direction: Direction, at: Instant, bytes: Bytes) {
        self.offer_pinning(direction, at, bytes, 0);
    }

    /// [`offer`](Self::offer) for a chunk read into a fresh buffer after
    /// `slack` unused bytes of the previous one were left behind: that tail
    /// stays allocated as long as the previous buffer's chunks are queued,
    /// so it counts against the byte limit too (until this chunk, queued
    /// after them, is taken). The limit then bounds the memory the queue
    /// pins, not only the bytes it carries.
    #[inline]
    pub fn offer_pinning(&mut self, direction: Direction, at: Instant, bytes: Bytes, slack: usize) {
        let shared = &*self.shared;
        let len = bytes.len();
        // A chunk over the byte limit never fits; refusing it before the add
        // is also what keeps every add within the limit, so none can carry
        // into the message count ([`Level`]).
        if !shared.receiver_alive.load(Ordering::Relaxed) || len > shared.max_bytes {
            self.lose(len);
            return;
        }
        // Within the limit too (only a limit under a read buffer's size can
        // clip it).
        let slack = slack.min(shared.max_bytes - len).min(u32::MAX as usize);
        let cost = len + slack;
        let this = Level::of(cost);
        let before = Level(shared.level.fetch_add(this.0, Ordering::AcqRel));
        if before.bytes() + cost > shared.max_bytes || before.messages() >= shared.max_messages {
            shared.level.fetch_sub(this.0, Ordering::AcqRel);
            self.lose(len);
            return;
        }
        let lost_before = (self.pending.chunks > 0).then(|| Box::new(self.pending));
        shared.queue.push(AuditMsg::Chunk {
            direction,
            at,
            bytes,
            lost_before,
            slack: slack as u32,
        });
        self.pending = Loss::default();
        shared.wake(false);
        let after = Level(before.0 + this.0);
        if shared.level_fills(after, HIGH_WATER.0, HIGH_WATER.1) {
            // The auditor is far behind: give it this core for a turn, or
            // on a busy (or single) CPU the queue fills and chunks are lost.
            // A yield never waits for the auditor: with a core idle, or no
            // other thread ready here, it returns at once.
            std::thread::yield_now();
        }
    }

    /// Sends a control message (end of stream, shutdown: a handful per
    /// session). Never refused for room, so this never waits; false if the
    /// auditor is gone.
    pub fn send_control(&self, msg: AuditMsg) -> bool {
        if !self.shared.receiver_alive.load(Ordering::Acquire) {
            return false;
        }
        self.shared.push_control(msg);
        true
    }

    /// Sends a message a peer can cause without limit (a refused call),
    /// never waiting. If the queue holds its maximum number of messages or
    /// the auditor is gone, nothing is queued and the refused frame counts as
    /// lost, like a chunk that did not fit: the next chunk carries the loss,
    /// so it is on record as `audit_dropped`.
    pub fn try_control(&mut self, msg: AuditMsg) -> bool {
        let len = match &msg {
            AuditMsg::Refused(refusal) => refusal.frame.len(),
            _ => 0,
        };
        let shared = &*self.shared;
        if shared.level().messages() < shared.max_messages && self.send_control(msg) {
            return true;
        }
        self.lose(len);
        false
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<HandoffStats> {
        &self.shared.stats
    }

    fn lose(&mut self, len: usize) {
        self.pending.chunks += 1;
        self.pending.bytes += len as u64;
        let stats = &self.shared.stats;
        stats.dropped_chunks.fetch_add(1, Ordering::Relaxed);
        stats.dropped_bytes.fetch_add(len as u64, Ordering::Relaxed);
    }
}

impl Drop for AuditInbox {
    fn drop(&mut self) {
        self.shared.receiver_alive.store(false, Ordering::Release);
        while self.shared.pop().is_some() {} // release what the queue pins
    }
}

impl AuditInbox {
    /// Waits for the next message; `None` once every sender is gone and the
    /// queue is empty. Call it from one thread only (the auditor's).
    pub fn recv(&self) -> Option<AuditMsg> {
        let shared = &*self.shared;
        let me = shared.auditor.get_or_init(std::thread::current);
        debug_assert_eq!(me.id(), std::thread::current().id());
        loop {
            if let Some(msg) = self.take() {
                self.empty_naps.set(0);
                return Some(msg);
            }
            if shared.senders.load(Ordering::Acquire) == 0 {
                return self.take();
            }
            if self.empty_naps.get() < NAPS_BEFORE_SLEEP {
                self.empty_naps.set(self.empty_naps.get() + 1);
                shared.auditor_state.store(NAPPING, Ordering::SeqCst);
                std::thread::park_timeout(NAP);
                shared.auditor_state.store(AWAKE, Ordering::SeqCst);
                continue;
            }
            shared.auditor_state.store(ASLEEP, Ordering::SeqCst);
            fence(Ordering::SeqCst); // orders the state before our last look
            if shared.queue.is_empty() && shared.senders.load(Ordering::Acquire) > 0 {
                std::thread::park();
            }
            shared.auditor_state.store(AWAKE, Ordering::SeqCst);
        }
    }

    /// The next message if one is queued, without waiting.
    pub fn try_recv(&self) -> Option<AuditMsg> {
        self.take()
    }

    /// The most the queue has held so far, as seen by [`recv`](Self::recv)
    /// and [`try_recv`](Self::try_recv).
    pub fn peak(&self) -> QueuePeak {
        self.peak.get()
    }

    /// Pops a message, noting the level it was taken at.
    fn take(&self) -> Option<AuditMsg> {
        let (msg, before) = self.shared.pop()?;
        let peak = self.peak.get();
        self.peak.set(QueuePeak {
            messages: peak.messages.max(before.messages()),
            bytes: peak.bytes.max(before.bytes()),
        });
        Some(msg)
    }

    /// Bytes pinned by queued chunks.
    pub fn pinned_bytes(&self) -> usize {
        self.shared.level().bytes()
    }

    /// The queue holds 1/`BACKLOG_FRACTION` of either of its limits or
    /// more (by default 1,024 messages or 128 KiB): the auditor is behind.
    pub fn backlogged(&self) -> bool {
        self.shared.filled_to(1, BACKLOG_FRACTION)
    }

    /// The queue holds `HIGH_WATER` of either of its limits or more: the
    /// auditor must catch up now, or the hand-off will soon drop chunks.
    pub fn high_water(&self) -> bool {
        self.shared.high_water()
    }

    /// A view of how full the queue is, for code that works on what the
    /// inbox delivered without holding the inbox.
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge(self.shared.clone())
    }
}

/// How full the hand-off queue is ([`AuditInbox::gauge`]).
#[derive(Debug, Clone)]
pub struct QueueGauge(Arc<Shared>);

impl QueueGauge {
    /// See [`AuditInbox::high_water`].
    pub fn high_water(&self) -> bool {
        self.0.high_water()
    }
}

#[cfg(test)]
mod tests;
