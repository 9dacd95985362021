//! The auditor: the consumer end of the hand-off, on its own thread.
//!
//! It owns one [`Framer`] per direction, the [`Classifier`] and the
//! [`Stamper`], and feeds the writer. Each message from the relay goes
//! through the same stages ([`Auditor::handle`]):
//!
//! 1. **frame**: a chunk is split into lines (a loss reported with it
//!    resynchronises the framer and becomes an `audit_dropped` event);
//! 2. **classify**: each frame becomes events;
//! 3. **redact**: each event gets the digest the classifier left for it to
//!    compute, is annotated by the policy's rules (risk, tags) and redacted
//!    (nothing unredacted is ever serialised);
//! 4. **stamp**: envelope and hash chain, into the pending batch;
//! 5. **write**: the batch goes to the writer when the inbox is momentarily
//!    empty or the batch is large, so a burst costs few `write` calls.
//!
//! Stages 3-4 are in [`stamping`]; the `audit_dropped` events about its
//! own losses in [`losses`]; when it works and when it yields or stands
//! aside is [`pace`]'s concern.
//!
//! On [`AuditMsg::End`] the writer first settles (every batch queued so far
//! is tried, so all its losses are known and announced), then both framers
//! are finished (a last line without newline is still a frame),
//! `session_end` is written, and `run` returns.
//!
//! Two more kinds of event are the auditor's own: `audit_dropped`, for chunks
//! the hand-off could not queue (reported with the next chunk of the same
//! direction) and for lines the writer lost (polled from the writer after each
//! hand-over); and `checkpoint`, a signature over the chain head every N
//! events or T seconds when a signing key is configured (`session_end` is
//! signed too).

mod carried;
mod losses;
mod pace;
mod stamping;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::classify::{Classifier, ClassifyConfig, SessionFacts};
use crate::clock::SessionClock;
use crate::event::{Direction, Event};
use crate::frame::{Frame, Framer, DEFAULT_PARSE_LIMIT};
use crate::handoff::{AuditInbox, AuditMsg, Loss, QueuePeak};
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::sign::Checkpointer;
use crate::sink::{Losses, WriterHandle};
use crate::stamp::{SessionIdentity, Stamper};
use crate::transcript::TranscriptTap;
use pace::{Pacer, Pacing};

/// A batch is handed to the writer once it holds this many bytes.
const BATCH_BYTES: usize = 64 * 1024;

/// Capacity of a batch buffer: room for the event that takes a batch past
/// [`BATCH_BYTES`], under the proxy's 128 KiB mmap threshold so buffers are
/// reused from malloc's arena; they circulate through the writer
/// ([`WriterHandle::spare_batch`]).
const BATCH_CAPACITY: usize = BATCH_BYTES + BATCH_BYTES / 2;
// The writer keeps written batches of this capacity for reuse only.
const _: () = assert!(
    BATCH_CAPACITY >= crate::sink::writer::SPARE_CAPACITY / 2
        && BATCH_CAPACITY <= crate::sink::writer::SPARE_CAPACITY
);

/// Everything the auditor needs to know about its session.
#[derive(Debug)]
pub struct AuditorConfig {
    pub parse_limit: usize,
    pub classify: ClassifyConfig,
    pub identity: SessionIdentity,
    pub facts: SessionFacts,
    pub clock: SessionClock,
    /// Signs chain heads in `checkpoint` and `session_end` events.
    pub checkpoints: Option<Checkpointer>,
    /// Rules that set `risk_level` and `compliance_tags` on tool events.
    pub policy: Option<Arc<Policy>>,
    /// Removes secrets and cuts long strings before anything is stamped.
    pub redactor: Option<Redactor>,
    /// Receives every frame, in order, for the session's transcript.
    pub transcript: Option<TranscriptTap>,
}

impl AuditorConfig {
    /// Defaults for a session with this identity and these facts.
    pub fn new(identity: SessionIdentity, facts: SessionFacts) -> AuditorConfig {
        AuditorConfig {
            parse_limit: DEFAULT_PARSE_LIMIT,
            classify: ClassifyConfig::default(),
            identity,
            facts,
            clock: SessionClock::start(),
            checkpoints: None,
            policy: None,
            redactor: None,
            transcript: None,
        }
    }
}

/// What the auditor did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditorReport {
    pub events: u64,
    pub frames: u64,
    pub handoff_lost: Loss,
    /// Waits of a millisecond for a stream that outpaced the auditor
    /// (the last wait of each run is the one that found it slower).
    pub stood_aside: u64,
    /// The most the hand-off queue held (messages, bytes) during the session.
    pub queue_peak: QueuePeak,
}

/// The auditor's state between messages.
pub struct Auditor {
    c2s: Framer,
    s2c: Framer,
    classifier: Classifier,
    stamper: Stamper,
    clock: SessionClock,
    checkpoints: Option<Checkpointer>,
    since_checkpoint: u64,
    policy: Option<Arc<Policy>>,
    /// Rule annotations of calls, for their answers.
    carried: carried::CarriedAnnotations,
    redactor: Option<Redactor>,
    transcript: Option<TranscriptTap>,
    frames: Vec<Frame>,
    events: Vec<Event>,
    batch: Vec<u8>,
    pacing: Pacing,
    pacer: Pacer,
    report: AuditorReport,
}

impl Auditor {
    /// A fresh auditor for one session.
    pub fn new(config: AuditorConfig) -> Auditor {
        let c2s = Framer::new(Direction::ClientToServer, config.parse_limit);
        Auditor {
            // Kept whole up to the parse limit like the client's (the two
            // share it): an answer can only be matched to its call from the
            // whole line when the serialiser writes `result` before `id`, as
            // the TypeScript SDK does (classify/oversized.rs).
            s2c: c2s.sharing(Direction::ServerToClient),
            c2s,
            classifier: Classifier::new(config.classify, config.facts, config.clock),
            stamper: Stamper::with_random_seed(config.identity),
            clock: config.clock,
            checkpoints: config.checkpoints,
            since_checkpoint: 0,
            policy: config.policy,
            carried: carried::CarriedAnnotations::default(),
            redactor: config.redactor,
            transcript: config.transcript,
            frames: Vec::new(),
            events: Vec::new(),
            batch: Vec::with_capacity(BATCH_CAPACITY),
            pacing: Pacing::default(),
            pacer: Pacer::default(),
            report: AuditorReport::default(),
        }
    }

    /// Runs until [`AuditMsg::End`] (or every sender is gone), feeding
    /// `writer`: each run of queued messages is handled, then handed over.
    pub fn run(mut self, inbox: AuditInbox, writer: &WriterHandle) -> AuditorReport {
        self.pacer.watch(inbox.gauge());
        while let Some(msg) = inbox.recv() {
            let mut slice = self.pacing.begin(&inbox);
            self.pacer.restart();
            slice.took(&msg);
            let mut done = self.receive(msg, writer);
            while !done {
                let Some(more) = inbox.try_recv() else { break };
                slice.took(&more);
                done = self.receive(more, writer);
                self.pacer.pause();
                if self.batch.len() >= BATCH_BYTES {
                    self.hand_over(writer);
                }
                if self.pacing.slice_over(&mut slice, &inbox) {
                    self.hand_over(writer);
                    self.pacing.look(&mut slice, &inbox);
                    self.pacer.restart();
                }
            }
            self.hand_over(writer);
            self.pacing.end(slice, &inbox);
            if done {
                break;
            }
        }
        self.report.stood_aside = self.pacing.stood_aside;
        self.report.queue_peak = inbox.peak();
        self.report
    }

    /// [`Auditor::handle`], after the writer has settled when `msg` ends the
    /// session: every loss of the writer goes on record before `session_end`
    /// (a loss found after it could not be announced any more).
    fn receive(&mut self, msg: AuditMsg, writer: &WriterHandle) -> bool {
        if matches!(msg, AuditMsg::End(_)) {
            self.hand_over(writer);
            writer.settle();
            self.record_writer_losses(writer);
        }
        self.handle(msg)
    }

    /// Gives the batch to the writer, then puts what the writer lost so far on
    /// record (in the next batch).
    fn hand_over(&mut self, writer: &WriterHandle) {
        if !self.batch.is_empty() {
            let spare = if self.batch.len() >= BATCH_BYTES {
                writer.spare_batch()
            } else {
                None
            };
            writer.write(self.take_batch_with(spare));
        }
        self.record_writer_losses(writer);
    }

    /// Puts what the writer lost so far on record (in the batch).
    fn record_writer_losses(&mut self, writer: &WriterHandle) {
        let mut any = false;
        while let Some(loss) = writer.take_losses() {
            self.writer_lost(loss);
            any = true;
        }
        if let Some(over) = writer.take_retention_flood() {
            let at = self.clock.wall(Instant::now());
            self.events.push(losses::retention_exceeded(over, at));
            any = true;
        }
        if any {
            self.stamp_all();
        }
    }

    /// Handles one message, stamping its events into the batch. True at the end.
    pub fn handle(&mut self, msg: AuditMsg) -> bool {
        let mut done = false;
        match msg {
            AuditMsg::Chunk {
                direction,
                at,
                bytes,
                lost_before,
                ..
            } => {
                let framer = self.framer(direction);
                if let Some(loss) = lost_before {
                    framer.gap();
                    self.lost(*loss, direction, self.clock.wall(at));
                }
                let mut frames = std::mem::take(&mut self.frames);
                let (framer, pacer) = self.framer_and_pacer(direction);
                framer.push_pausing(bytes, at, &mut frames, &mut || pacer.pause());
                self.classify(&mut frames);
                self.frames = frames;
            }
            AuditMsg::Eof { direction, at } => {
                let mut frames = std::mem::take(&mut self.frames);
                self.framer(direction).finish(at, &mut frames);
                self.classify(&mut frames);
                self.frames = frames;
            }
            AuditMsg::Refused(r) => {
                let at = self.clock.wall(r.at);
                if let Some(tap) = &self.transcript {
                    tap.refused(&r, at);
                }
                self.classifier.refused(
                    at,
                    &r.frame,
                    &r.reply,
                    &r.rule,
                    r.dry_run,
                    &mut self.events,
                );
            }
            AuditMsg::End(end) => {
                let mut frames = std::mem::take(&mut self.frames);
                self.c2s.finish(end.at, &mut frames);
                self.s2c.finish(end.at, &mut frames);
                self.classify(&mut frames);
                self.classifier.end(&end, &mut self.events);
                done = true;
            }
        }
        self.stamp_all();
        done
    }

    /// Takes the stamped lines so far (for callers driving [`Auditor::handle`]).
    ///
    /// A small batch leaves as an exact-size copy and the auditor keeps its
    /// buffer, so a queued batch pins only the bytes it holds.
    pub fn take_batch(&mut self) -> Vec<u8> {
        self.take_batch_with(None)
    }

    /// [`Auditor::take_batch`], with an empty buffer to continue in if the
    /// batch leaves whole.
    fn take_batch_with(&mut self, spare: Option<Vec<u8>>) -> Vec<u8> {
        if self.batch.len() < BATCH_BYTES {
            let lines = self.batch.to_vec();
            self.batch.clear();
            lines
        } else {
            let next = spare.unwrap_or_else(|| Vec::with_capacity(BATCH_CAPACITY));
            std::mem::replace(&mut self.batch, next)
        }
    }

    fn framer(&mut self, direction: Direction) -> &mut Framer {
        self.framer_and_pacer(direction).0
    }

    /// `direction`'s framer, and the pacer its long hashes pause with.
    fn framer_and_pacer(&mut self, direction: Direction) -> (&mut Framer, &mut Pacer) {
        let framer = match direction {
            Direction::ClientToServer => &mut self.c2s,
            Direction::ServerToClient => &mut self.s2c,
        };
        (framer, &mut self.pacer)
    }

    fn classify(&mut self, frames: &mut Vec<Frame>) {
        for frame in frames.drain(..) {
            self.report.frames += 1;
            if let Some(tap) = &self.transcript {
                tap.offer(&frame, self.clock.wall(frame.at));
            }
            self.classifier.observe(&frame, &mut self.events);
        }
    }

    /// Records chunks the hand-off could not queue (`audit_dropped`).
    fn lost(&mut self, loss: Loss, direction: Direction, at: SystemTime) {
        self.report.handoff_lost.chunks += loss.chunks;
        self.report.handoff_lost.bytes += loss.bytes;
        self.events
            .push(losses::handoff_dropped(loss, direction, at));
    }

    /// Records lines the writer lost (`audit_dropped`).
    fn writer_lost(&mut self, loss: Losses) {
        let at = self.clock.wall(Instant::now());
        self.events.push(losses::writer_dropped(loss, at));
    }
}

#[cfg(test)]
mod tests;
