//! One forwarder thread: takes lines from its queue and delivers them to its
//! collector, reconnecting with exponential backoff, spooling what cannot be
//! delivered (when a spool is configured) and replaying the spool, oldest
//! first, before new lines once the collector is back.
//!
//! Order is kept: while the spool has a backlog, new lines are appended to it
//! and go out after it. Without a spool, undelivered lines wait in the
//! thread (and the queue fills behind them, where the policy decides).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::queue::{LineQueue, Popped};
use super::spool::Spool;
use super::transport::{Connector, Link};
use super::LossCounter;
use crate::sink::LossReason;

/// Lines and bytes sent to a collector at once.
const BATCH_LINES: usize = 512;
const BATCH_BYTES: usize = 256 * 1024;
/// Reconnection backoff: doubles from the first to the last.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest uninterrupted wait, so a stopping forwarder notices its deadline.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// What a forwarder did, reported when it stops.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkerReport {
    /// Lines delivered (replayed ones included).
    pub sent: u64,
    /// Lines written to the spool.
    pub spooled: u64,
    /// Lines neither delivered nor spooled when the forwarder stopped.
    pub unsent: u64,
    /// Connections opened.
    pub connects: u64,
    /// True if the spool still holds lines for the next run.
    pub backlog_left: bool,
}

/// The state of one forwarder thread.
pub(crate) struct Worker {
    pub name: String,
    pub connector: Connector,
    pub queue: Arc<LineQueue>,
    pub spool: Option<Spool>,
    pub losses: Arc<LossCounter>,
    /// Set by a `block` push that timed out; cleared when the queue empties.
    pub stalled: Arc<AtomicBool>,
    /// When to give up at the end (set when the writer finishes).
    pub stop_by: Arc<OnceLock<Instant>>,
    pub link: Option<Box<dyn Link>>,
    pub retry_at: Instant,
    pub backoff: Duration,
    pub failing: bool,
    pub report: WorkerReport,
}

impl Worker {
    pub(crate) fn run(mut self) -> WorkerReport {
        let mut lines: Vec<Bytes> = Vec::new();
        let mut closed = false;
        loop {
            if lines.is_empty() && !closed {
                let until = self.wait_until();
                if self.queue.pop(&mut lines, BATCH_LINES, BATCH_BYTES, until) == Popped::Closed {
                    closed = true;
                }
                if self.queue.is_empty() {
                    self.stalled.store(false, Ordering::Relaxed);
                }
            }
            if closed && lines.is_empty() && !self.backlog() {
                break;
            }
            if closed && (self.past_deadline() || self.away()) {
                // A collector that is away at the end is not waited for.
                if !lines.is_empty() && self.spool.is_some() {
                    self.spool_lines(&mut lines);
                }
                break;
            }
            self.step(&mut lines);
        }
        self.report.unsent += lines.len() as u64;
        self.report.backlog_left = self.backlog();
        self.report
    }

    fn backlog(&self) -> bool {
        self.spool.as_ref().is_some_and(Spool::has_backlog)
    }

    /// No link, and the next connection attempt is not due yet.
    fn away(&self) -> bool {
        self.link.is_none() && Instant::now() < self.retry_at
    }

    fn past_deadline(&self) -> bool {
        self.stop_by.get().is_some_and(|d| Instant::now() >= *d)
    }

    /// How long to wait for new lines: not at all while a backlog can be
    /// replayed, until the next connection attempt while one cannot.
    fn wait_until(&self) -> Option<Instant> {
        match (&self.link, self.backlog()) {
            (Some(_), true) => Some(Instant::now()),
            (None, true) => Some(self.retry_at.min(Instant::now() + WAIT_SLICE)),
            (_, false) => None,
        }
    }

    /// One attempt at progress with `lines` (emptied when they are dealt with).
    fn step(&mut self, lines: &mut Vec<Bytes>) {
        if self.link.is_none() {
            self.connect();
        }
        if self.link.is_none() {
            match &mut self.spool {
                Some(_) if !lines.is_empty() => self.spool_lines(lines),
                _ => self.pause(),
            }
            return;
        }
        if self.backlog() {
            if !lines.is_empty() {
                self.spool_lines(lines); // after the backlog, in order
            }
            self.replay_some();
            return;
        }
        if lines.is_empty() {
            return;
        }
        match self.send(lines) {
            Ok(()) => lines.clear(),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                tracing::error!(
                    "forward {}: {e}; {} events not forwarded",
                    self.name,
                    lines.len()
                );
                self.losses
                    .add(LossReason::ForwardRefused, lines.len() as u64);
                lines.clear();
            }
            Err(_) if self.spool.is_some() => self.spool_lines(lines),
            Err(_) => {}
        }
    }

    /// Sends through the link; on failure drops it and schedules a retry.
    fn send(&mut self, lines: &[Bytes]) -> io::Result<()> {
        let link = self.link.as_mut().expect("connected");
        match link.send(lines) {
            Ok(()) => {
                self.report.sent += lines.len() as u64;
                Ok(())
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::InvalidData {
                    self.disconnected(&e);
                }
                Err(e)
            }
        }
    }

    /// Sends the next chunk of the spool.
    fn replay_some(&mut self) {
        let Some(spool) = &mut self.spool else { return };
        let chunk = match spool.next_chunk(BATCH_BYTES) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("forward {}: cannot read the spool: {e}", self.name);
                self.pause();
                return;
            }
        };
        if chunk.is_empty() {
            return;
        }
        if self.send(&chunk).is_ok() {
            if let Some(spool) = &mut self.spool {
                spool.replayed(&chunk);
            }
        }
    }

    fn spool_lines(&mut self, lines: &mut Vec<Bytes>) {
        let Some(spool) = &mut self.spool else { return };
        match spool.append(lines) {
            Ok(true) => self.report.spooled += lines.len() as u64,
            Ok(false) => {
                tracing::error!(
                    "forward {}: spool full; {} events not forwarded",
                    self.name,
                    lines.len()
                );
                self.losses
                    .add(LossReason::ForwardSpool, lines.len() as u64);
            }
            Err(e) => {
                tracing::error!(
                    "forward {}: cannot write the spool: {e}; {} events not forwarded",
                    self.name,
                    lines.len()
                );
                self.losses
                    .add(LossReason::ForwardSpool, lines.len() as u64);
            }
        }
        lines.clear();
    }

    fn connect(&mut self) {
        if Instant::now() < self.retry_at {
            return;
        }
        match self.connector.connect() {
            Ok(link) => {
                self.link = Some(link);
                self.report.connects += 1;
                self.backoff = FIRST_BACKOFF;
                if self.failing {
                    self.failing = false;
                    tracing::warn!("forward {}: connected again", self.name);
                }
            }
            Err(e) => self.disconnected(&e),
        }
    }

    fn disconnected(&mut self, e: &io::Error) {
        self.link = None;
        if !self.failing {
            self.failing = true;
            let keep = if self.spool.is_some() {
                "spooled"
            } else {
                "queued"
            };
            tracing::error!(
                "forward {}: {e}; events are {keep} and sent when it is back",
                self.name
            );
        }
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Waits (a slice at most) for the next connection attempt.
    fn pause(&self) {
        let wait = self
            .retry_at
            .saturating_duration_since(Instant::now())
            .min(WAIT_SLICE);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// A worker for `connector` in its initial state.
    pub(crate) fn new(
        name: String,
        connector: Connector,
        queue: Arc<LineQueue>,
        parts: WorkerParts,
    ) -> Worker {
        Worker {
            name,
            connector,
            queue,
            spool: parts.spool,
            losses: parts.losses,
            stalled: parts.stalled,
            stop_by: parts.stop_by,
            link: None,
            retry_at: Instant::now(),
            backoff: FIRST_BACKOFF,
            failing: false,
            report: WorkerReport::default(),
        }
    }
}

/// The shared pieces a worker is built with.
pub(crate) struct WorkerParts {
    pub spool: Option<Spool>,
    pub losses: Arc<LossCounter>,
    pub stalled: Arc<AtomicBool>,
    pub stop_by: Arc<OnceLock<Instant>>,
}
