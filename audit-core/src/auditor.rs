//! The auditor: the consumer end of the hand-off, on its own thread.
//!
//! It owns one [`Framer`] per direction, the [`Classifier`] and the
//! [`Stamper`], and feeds the writer. Per message from the relay:
//!
//! 1. a chunk is split into frames (a loss reported with it resynchronises the
//!    framer and becomes an `audit_dropped` event; a line over the parse
//!    limit is hashed in [`crate::frame::HASH_PIECE`]s, with a chance to
//!    yield between them);
//! 2. each frame is classified into events;
//! 3. each event gets the digest the classifier left for it to compute (a
//!    large result's `result_sha256`, hashed in pieces with a chance to
//!    yield between them), is annotated by the policy's rules (risk, tags),
//!    redacted (secrets removed, long strings cut: nothing unredacted is
//!    ever serialised), and stamped (envelope + hash chain) into the
//!    pending batch;
//! 4. the batch goes to the writer when the inbox is momentarily empty or the
//!    batch is large, so a burst costs few `write` calls.
//!
//! Working through queued messages, the auditor yields its core every
//! [`YIELD_EVERY`], so that it never holds up the relay for long, unless the
//! queue is at its high-water mark ([`AuditInbox::high_water`]): then
//! catching up comes first.
//!
//! An auditor that is behind stays out of the way of a stream it cannot keep
//! up with ([`Pace`]). It waits a [`STAND_ASIDE`] when it finds the queue
//! backlogged, when over a [`PACE_SLICE`] of its work the queue grew by more
//! than it took, and at least every [`PROBE_EVERY`] slices of work without
//! the queue running empty, however short the queue (working alongside a
//! stream slows it to the auditor's pace, so neither the growth nor the
//! queue's length would show it). It goes on waiting if the stream outpaces
//! it while it waits: more than [`OUTPACED`] times what it works through
//! arrives, or more than it works through and more than [`SPED_UP`] times
//! what arrived while it worked; and then for as long as more arrives than
//! it works through ([`Pace::keeps_outpacing`]).
//! Working alongside such a stream would not shrink the backlog, only take
//! the cores the session needs (on a two-core machine a pipelined burst ran
//! at half speed). So it waits, and the queue absorbs the burst, until the
//! stream slows down or the queue reaches [`crate::handoff::HIGH_WATER`],
//! where it works as before. Nothing is lost by waiting (the hand-off's
//! limits are unchanged); what is queued reaches the file later, a proxy
//! killed by `SIGKILL` mid-burst loses more of it, and a burst longer than
//! the queue absorbs starts dropping chunks sooner.
//!
//! On [`AuditMsg::End`] the writer first settles (every batch queued so far
//! is tried, so all its losses are known and announced), then both framers
//! are finished (a last line without newline is still a frame),
//! `session_end` is written, and `run` returns.
//!
//! Two more kinds of event are the auditor's own: `audit_dropped`, for chunks
//! the hand-off could not queue (reported with the next chunk of the same
//! direction) and for lines the writer lost (polled from the writer after each
//! hand-over, so the loss is on record as soon as the writer writes again);
//! and `checkpoint`, a signature over the chain head every N events or T
//! seconds when a signing key is configured (`session_end` is signed too).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::classify::{Classifier, ClassifyConfig, SessionFacts};
use crate::clock::SessionClock;
use crate::event::{Direction, Event, EventType, Outcome, Severity};
use crate::frame::{hash_pausing, Frame, Framer, DEFAULT_PARSE_LIMIT};
use crate::handoff::{AuditInbox, AuditMsg, Loss, QueueGauge, QueuePeak};
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::sign::Checkpointer;
use crate::sink::{Losses, WriterHandle};
use crate::stamp::{SessionIdentity, Stamper};
use crate::transcript::TranscriptTap;

/// A batch is handed to the writer once it holds this many bytes.
const BATCH_BYTES: usize = 64 * 1024;

/// Capacity of a batch buffer: room for the event that takes a batch past
/// [`BATCH_BYTES`], and under the proxy's 128 KiB mmap threshold, so that a
/// buffer comes from (and goes back to) malloc's arena instead of being
/// mapped, faulted in page by page and unmapped for every batch. Buffers
/// circulate through the writer ([`WriterHandle::spare_batch`]).
const BATCH_CAPACITY: usize = BATCH_BYTES + BATCH_BYTES / 2;
// The writer keeps written batches of this capacity for reuse only.
const _: () = assert!(
    BATCH_CAPACITY >= crate::sink::writer::SPARE_CAPACITY / 2
        && BATCH_CAPACITY <= crate::sink::writer::SPARE_CAPACITY
);

/// After this long working without a pause, the auditor yields its core
/// (`sched_yield`). On a two-core machine the relay's threads and both peers
/// often wait for the core the auditor holds: without the yield a woken relay
/// thread could wait out the rest of the auditor's time slice (most of the
/// proxy's p99 latency, docs/performance.md); with it, it waits at most this
/// long. When nothing else wants the core, the yield returns at once. At the
/// queue's high-water mark ([`AuditInbox::high_water`]) the auditor does not
/// yield: under a sustained load that fills both cores it would fall ever
/// further behind until the hand-off drops chunks, so then it takes its fair
/// share. It once stopped yielding at the backlog mark, 1/256 of the limits:
/// 128 KiB, which the chunks of one large result pass, so that the server,
/// relay and client, waking each other once per pipe-full, waited behind it
/// (12 alternating rounds: 1 MiB results 0.60x -> 0.73x the bare relay's
/// MB/s, 16 MiB 0.69x -> 0.79x; docs/performance.md).
const YIELD_EVERY: Duration = Duration::from_micros(5);

/// A stream outpaces the auditor when more than this many times its pace
/// arrives. Only then does waiting pay: a stream about as fast as the
/// auditor (large results) is worked through alongside at little cost, and
/// holding it back would only grow the queue (and the relay's fresh, cold
/// read buffers: measured, 1 MiB results ~10% slower, peak RSS +12 MiB).
const OUTPACED: f64 = 2.0;

/// A stream that is merely faster than the auditor outpaces it only if it
/// ran more than this many times faster while the auditor waited than while
/// it worked: then the auditor's work is what slowed it. On a two-core
/// machine a pipelined burst of small calls runs about twice as fast while
/// the auditor waits, and so slowed runs at about the auditor's own pace,
/// below [`OUTPACED`] (the auditor worked alongside about half such bursts,
/// which then ran at ~0.6x the bare relay's speed). Large results run about
/// as fast either way, so the auditor keeps working alongside them.
const SPED_UP: f64 = 1.25;

/// How long the auditor waits, at a time, while a stream outpaces it.
const STAND_ASIDE: Duration = Duration::from_millis(1);

/// A slice of work counts towards [`Pace`] only if it took at least this many
/// chunk bytes (a single small chunk's time is mostly fixed costs).
const PACE_SAMPLE_BYTES: usize = 16 * 1024;

/// Working through a backlog, the auditor measures its pace, and looks
/// whether the queue still grows, after slices of this length.
const PACE_SLICE: Duration = Duration::from_millis(1);

/// Working without the queue running empty, the auditor stands aside (for a
/// [`STAND_ASIDE`], if the stream outpaces it then) at least once per this
/// many [`PACE_SLICE`]s, whether or not the queue grew and however short it
/// is. An auditor working alongside a stream that would outpace it slows
/// the stream to its own pace (they share the cores), so the queue no
/// longer grows faster than it is taken and the auditor never sees that the
/// stream outpaces it: on a two-core machine about half the pipelined
/// bursts ran at ~0.6x the bare relay's speed that way. Only what arrives
/// while it waits tells. When the stream does not outpace it, the look
/// costs one wait in this many slices, and only while the auditor never
/// finds the queue empty.
const PROBE_EVERY: u32 = 4;

/// When the auditor yields its core ([`YIELD_EVERY`]): between messages,
/// and between the pieces of a long hash (a large result's digest, an
/// oversized line's), which would otherwise hold the core in one go.
#[derive(Debug)]
struct Pacer {
    since_yield: Instant,
    /// How full the queue is; set by [`Auditor::run`]. Without it (an
    /// auditor driven by [`Auditor::handle`] alone) the pacer never yields.
    gauge: Option<QueueGauge>,
}

impl Default for Pacer {
    fn default() -> Pacer {
        Pacer {
            since_yield: Instant::now(),
            gauge: None,
        }
    }
}

impl Pacer {
    /// Work starts (again) after a wait.
    fn restart(&mut self) {
        self.since_yield = Instant::now();
    }

    /// Yields the core if the auditor has worked [`YIELD_EVERY`] since it
    /// last did, unless the queue is at its high-water mark.
    fn pause(&mut self) {
        let Some(gauge) = &self.gauge else { return };
        if self.since_yield.elapsed() >= YIELD_EVERY && !gauge.high_water() {
            std::thread::yield_now();
            self.since_yield = Instant::now();
        }
    }
}

/// One slice of work: when it started, the queue's bytes then, and the chunk
/// bytes worked through since.
struct Slice {
    started: Instant,
    pinned: usize,
    bytes: usize,
}

impl Slice {
    fn start(inbox: &AuditInbox) -> Slice {
        Slice {
            started: Instant::now(),
            pinned: inbox.pinned_bytes(),
            bytes: 0,
        }
    }

    /// Chunk bytes queued since the slice started: what the queue grew by
    /// plus what the auditor took (only it takes).
    fn arrived(&self, inbox: &AuditInbox) -> usize {
        (inbox.pinned_bytes() + self.bytes).saturating_sub(self.pinned)
    }
}

/// How fast the auditor works through chunk bytes (wall time, yields and
/// hand-overs included), and how fast chunk bytes arrived meanwhile, each
/// smoothed over recent slices of work. Unknown until a slice large enough
/// to count; an auditor with no measure never waits.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Pace {
    worked: Option<f64>,
    arrived: Option<f64>,
}

impl Pace {
    /// A slice of work took `bytes` of chunks in `took`, while `arrived`
    /// bytes of chunks were queued.
    pub fn worked(&mut self, bytes: usize, arrived: usize, took: Duration) {
        if bytes < PACE_SAMPLE_BYTES || took.is_zero() {
            return;
        }
        let secs = took.as_secs_f64();
        let smooth = |old: Option<f64>, rate: f64| match old {
            None => rate,
            Some(old) => old * 0.75 + rate * 0.25,
        };
        self.worked = Some(smooth(self.worked, bytes as f64 / secs));
        self.arrived = Some(smooth(self.arrived, arrived as f64 / secs));
    }

    /// True once a slice of work has been measured.
    pub fn known(&self) -> bool {
        self.worked.is_some()
    }

    /// True if `inflow` bytes arriving over `over` (while the auditor waits)
    /// outpace it: more than [`OUTPACED`] times what it works through in that
    /// time, or more than it works through *and* more than [`SPED_UP`] times
    /// what arrived while it worked (its work was what held the stream back).
    pub fn outpaced(&self, inflow: usize, over: Duration) -> bool {
        let (Some(worked), Some(arrived)) = (self.worked, self.arrived) else {
            return false;
        };
        let rate = rate(inflow, over);
        rate > OUTPACED * worked || (rate > worked && rate > SPED_UP * arrived)
    }

    /// After a wait that found the stream outpacing the auditor: true while
    /// `inflow` arriving over `over` is more than the auditor works through
    /// in that time (working alongside could not shrink the backlog). Looser
    /// than [`Pace::outpaced`], so that one slow millisecond of a noisy
    /// burst does not send the auditor back to work alongside it (on a noisy
    /// host that happened in 2 of 6 alternating bursts).
    pub fn keeps_outpacing(&self, inflow: usize, over: Duration) -> bool {
        self.worked
            .is_some_and(|worked| rate(inflow, over) > worked)
    }
}

/// Bytes per second.
fn rate(bytes: usize, over: Duration) -> f64 {
    bytes as f64 / over.as_secs_f64()
}

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
    /// Waits of [`STAND_ASIDE`] for a stream that outpaced the auditor (the
    /// last wait of each run is the one that found it slower).
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
    redactor: Option<Redactor>,
    transcript: Option<TranscriptTap>,
    frames: Vec<Frame>,
    events: Vec<Event>,
    batch: Vec<u8>,
    pace: Pace,
    /// Slices of work since the auditor last looked whether to stand aside.
    slices_worked: u32,
    pacer: Pacer,
    report: AuditorReport,
}

impl Auditor {
    /// A fresh auditor for one session.
    pub fn new(config: AuditorConfig) -> Auditor {
        Auditor {
            c2s: Framer::new(Direction::ClientToServer, config.parse_limit),
            // Kept whole up to the parse limit like the client's: an answer
            // can only be matched to its call from the whole line when the
            // serialiser writes `result` before `id`, as the TypeScript SDK
            // does (classify/oversized.rs).
            s2c: Framer::new(Direction::ServerToClient, config.parse_limit),
            classifier: Classifier::new(config.classify, config.facts, config.clock),
            stamper: Stamper::with_random_seed(config.identity),
            clock: config.clock,
            checkpoints: config.checkpoints,
            since_checkpoint: 0,
            policy: config.policy,
            redactor: config.redactor,
            transcript: config.transcript,
            frames: Vec::new(),
            events: Vec::new(),
            batch: Vec::with_capacity(BATCH_CAPACITY),
            pace: Pace::default(),
            slices_worked: 0,
            pacer: Pacer::default(),
            report: AuditorReport::default(),
        }
    }

    /// Runs until [`AuditMsg::End`] (or every sender is gone), feeding `writer`.
    pub fn run(mut self, inbox: AuditInbox, writer: &WriterHandle) -> AuditorReport {
        self.pacer.gauge = Some(inbox.gauge());
        while let Some(msg) = inbox.recv() {
            self.stand_aside(&inbox, false);
            self.pacer.restart();
            let mut slice = Slice::start(&inbox);
            slice.bytes += chunk_bytes(&msg);
            let mut done = self.receive(msg, writer);
            while !done {
                let Some(more) = inbox.try_recv() else { break };
                slice.bytes += chunk_bytes(&more);
                done = self.receive(more, writer);
                self.pacer.pause();
                if self.batch.len() >= BATCH_BYTES {
                    self.hand_over(writer);
                }
                let took = slice.started.elapsed();
                if took >= PACE_SLICE {
                    // The queue grew by more than we took from it: more than
                    // twice our pace arrives ([`OUTPACED`]). Or it is time
                    // to look what arrives without us ([`PROBE_EVERY`]).
                    let arrived = slice.arrived(&inbox);
                    self.pace.worked(slice.bytes, arrived, took);
                    if self.time_to_look(slice.bytes, arrived) {
                        self.hand_over(writer);
                        self.stand_aside(&inbox, true);
                        self.pacer.restart();
                    }
                    slice = Slice::start(&inbox);
                }
            }
            self.hand_over(writer);
            let arrived = slice.arrived(&inbox);
            self.pace
                .worked(slice.bytes, arrived, slice.started.elapsed());
            if done {
                break;
            }
        }
        self.report.queue_peak = inbox.peak();
        self.report
    }

    /// The hex SHA-256 of `bytes`, in [`crate::frame::HASH_PIECE`]s with a
    /// [`Pacer::pause`] after each ([`crate::event::PendingDigest`]).
    fn digest(&mut self, bytes: &[u8]) -> String {
        let mut hasher = Sha256::new();
        let pacer = &mut self.pacer;
        hash_pausing(&mut hasher, bytes, &mut || pacer.pause());
        hex::encode(hasher.finalize())
    }

    /// After a slice of work that took `took` bytes while `arrived` arrived:
    /// true if the queue grew by more than was taken, or [`PROBE_EVERY`]
    /// slices have passed since the auditor last looked.
    fn time_to_look(&mut self, took: usize, arrived: usize) -> bool {
        self.slices_worked += 1;
        arrived > 2 * took || self.slices_worked >= PROBE_EVERY
    }

    /// Waits while the queue is backlogged, below its high-water mark, and
    /// filling faster than the auditor would drain it (see the module docs).
    ///
    /// `probing`: the auditor has worked [`PROBE_EVERY`] slices without the
    /// queue running empty (or the queue grew by more than it took). It is
    /// then behind a stream even if the queue is short: working alongside a
    /// burst slows the burst to the auditor's pace, and when the auditor is
    /// awake as the burst starts the queue can stay below the backlog mark
    /// for the whole burst. That is the likely cause (read from the code,
    /// not reproduced on demand) of the two bursts in five that ran at
    /// ~0.6x in a full bench run (docs/performance.md). So a probe waits
    /// once whatever the queue holds.
    fn stand_aside(&mut self, inbox: &AuditInbox, probing: bool) {
        self.slices_worked = 0;
        if !self.pace.known() || !(probing || inbox.backlogged()) {
            return;
        }
        let mut waited = false;
        while !inbox.high_water() {
            let (before, t) = (inbox.pinned_bytes(), Instant::now());
            std::thread::sleep(STAND_ASIDE);
            let inflow = inbox.pinned_bytes().saturating_sub(before);
            self.report.stood_aside += 1;
            let outpaced = if waited {
                self.pace.keeps_outpacing(inflow, t.elapsed())
            } else {
                self.pace.outpaced(inflow, t.elapsed())
            };
            if !outpaced {
                return;
            }
            waited = true;
        }
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
    /// buffer: a queued batch then pins only the bytes it holds (a burst of
    /// one-line batches with 128 KiB of capacity each was most of the proxy's
    /// peak memory), and the next batch does not grow a fresh `Vec`.
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

    fn lost(&mut self, loss: Loss, direction: Direction, at: SystemTime) {
        self.report.handoff_lost.chunks += loss.chunks;
        self.report.handoff_lost.bytes += loss.bytes;
        let mut e = Event::new(EventType::AuditDropped, at)
            .severity(Severity::Warning)
            .outcome(Outcome::Failure);
        e.direction = Some(direction);
        e.details.insert("stage".into(), "handoff".into());
        e.details.insert("chunks".into(), loss.chunks.into());
        e.details.insert("bytes".into(), loss.bytes.into());
        self.events.push(e);
    }

    fn writer_lost(&mut self, loss: Losses) {
        let at = self.clock.wall(Instant::now());
        let mut e = Event::new(EventType::AuditDropped, at)
            .severity(Severity::Warning)
            .outcome(Outcome::Failure);
        e.details.insert("stage".into(), "writer".into());
        e.details
            .insert("reason".into(), loss.reason.as_str().into());
        e.details.insert("lines".into(), loss.lines.into());
        if let Some(first) = loss.first_seq {
            e.details.insert("first_seq".into(), first.into());
        }
        if let Some(last) = loss.last_seq {
            e.details.insert("last_seq".into(), last.into());
        }
        self.events.push(e);
    }

    /// The first matching rule sets the risk level and adds its tags.
    fn annotate(&self, event: &mut Event) {
        let (Some(policy), Some(tool)) = (&self.policy, &event.tool) else {
            return;
        };
        let server = &self.stamper.identity().server;
        let Some(a) = policy.annotate(server, tool, event.arguments.as_ref()) else {
            return;
        };
        if let Some(level) = a.risk_level {
            event.risk_level = Some(level);
        }
        for tag in a.compliance_tags {
            if !event.compliance_tags.contains(tag) {
                event.compliance_tags.push(tag.clone());
            }
        }
        event.details.insert("rule".into(), a.rule.into());
    }

    fn stamp_all(&mut self) {
        let events = std::mem::take(&mut self.events);
        for mut event in events {
            if let Some(d) = event.pending_digest.take() {
                let digest = self.digest(&d.of);
                event.details.insert(d.field.into(), digest.into());
            }
            if event.event_type != EventType::PolicyBlocked {
                self.annotate(&mut event); // rules see the arguments before redaction
            }
            let alert = self
                .redactor
                .as_ref()
                .and_then(|r| r.redact_event(&mut event));
            match event.event_type {
                EventType::SessionStart => {
                    event
                        .details
                        .insert("chain_seed".into(), self.stamper.seed_hex().into());
                    if let Some(cp) = &self.checkpoints {
                        event
                            .details
                            .insert("signing_key".into(), cp.fingerprint().into());
                    }
                }
                EventType::SessionEnd => {
                    event
                        .details
                        .insert("event_count".into(), (self.stamper.count() + 1).into());
                    let lost = self.report.handoff_lost;
                    event
                        .details
                        .insert("audit_lost_chunks".into(), lost.chunks.into());
                    if let Some(cp) = self.checkpoints.as_mut() {
                        cp.sign_next(&mut event, &self.stamper, Instant::now());
                    }
                }
                _ => {}
            }
            self.stamp(&event);
            if let Some(alert) = alert {
                self.stamp(&alert); // secret_detected, right after the result that carried it
            }
            if event.event_type == EventType::SessionEnd {
                self.since_checkpoint = 0; // signed itself; nothing may follow it
            } else {
                self.checkpoint_if_due(event.at);
            }
        }
    }

    fn stamp(&mut self, event: &Event) {
        self.stamper.stamp(event, &mut self.batch);
        self.report.events += 1;
        self.since_checkpoint += 1;
    }

    fn checkpoint_if_due(&mut self, at: SystemTime) {
        let now = Instant::now();
        let Some(cp) = self.checkpoints.as_mut() else {
            return;
        };
        if !cp.due(self.since_checkpoint, now) {
            return;
        }
        let mut e = Event::new(EventType::Checkpoint, at);
        e.details
            .insert("events_since_last".into(), self.since_checkpoint.into());
        cp.sign_next(&mut e, &self.stamper, now);
        self.stamp(&e);
        self.since_checkpoint = 0;
    }
}

/// Bytes of relayed traffic `msg` carries.
fn chunk_bytes(msg: &AuditMsg) -> usize {
    match msg {
        AuditMsg::Chunk { bytes, .. } => bytes.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::sha256_hex;
    use bytes::Bytes;
    use serde_json::Value;

    fn events_of(batch: &[u8]) -> Vec<Value> {
        batch
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    #[test]
    fn pace_is_unknown_until_a_slice_large_enough_to_count() {
        let mut pace = Pace::default();
        let ms = Duration::from_millis(1);
        pace.worked(PACE_SAMPLE_BYTES - 1, 1 << 20, ms);
        pace.worked(1 << 20, 1 << 20, Duration::ZERO);
        assert_eq!(pace, Pace::default());
        assert!(!pace.outpaced(usize::MAX, ms), "no measure: never waits");
        // 32 KiB per ms worked; 64 KiB per ms arrived meanwhile, so only
        // twice its pace outpaces it.
        pace.worked(64 * 1024, 128 * 1024, Duration::from_millis(2));
        assert!(pace.outpaced(66_000, ms), "over twice its pace");
        assert!(!pace.outpaced(65_000, ms));
        assert!(!pace.outpaced(130_000, Duration::from_millis(2)));
    }

    #[test]
    fn a_stream_its_work_slowed_outpaces_the_auditor_sooner() {
        let ms = Duration::from_millis(1);
        // Worked 50k per ms while 50k per ms arrived: 1.25x that, and more
        // than its pace, arriving while it waits is the stream it held back.
        let mut held_back = Pace::default();
        held_back.worked(50_000, 50_000, ms);
        assert!(held_back.outpaced(62_600, ms));
        assert!(!held_back.outpaced(62_400, ms));
        // 80k per ms arrived while it worked: a stream as fast while it
        // waits was not held back, and is only outpacing at twice its pace.
        let mut alongside = Pace::default();
        alongside.worked(50_000, 80_000, ms);
        assert!(!alongside.outpaced(90_000, ms));
        assert!(alongside.outpaced(100_200, ms));
        // Sped up, but still no faster than the auditor works: no wait.
        let mut slow = Pace::default();
        slow.worked(50_000, 20_000, ms);
        assert!(!slow.outpaced(49_000, ms));
        assert!(slow.outpaced(50_200, ms));
    }

    #[test]
    fn once_outpaced_the_auditor_waits_while_the_stream_is_faster_than_it() {
        let ms = Duration::from_millis(1);
        let mut pace = Pace::default();
        assert!(!pace.keeps_outpacing(usize::MAX, ms), "no measure");
        pace.worked(50_000, 50_000, ms);
        // 55k per ms would not start a wait (under 1.25x what arrived)...
        assert!(!pace.outpaced(55_000, ms));
        // ...but keeps one going: the stream is still faster than the auditor.
        assert!(pace.keeps_outpacing(55_000, ms));
        assert!(!pace.keeps_outpacing(49_000, ms));
    }

    #[test]
    fn pace_follows_recent_slices() {
        let mut pace = Pace::default();
        let ms = Duration::from_millis(1);
        pace.worked(40_000, 400_000, ms);
        pace.worked(80_000, 400_000, ms); // 40k * 0.75 + 80k * 0.25 = 50k per ms
        assert!(pace.outpaced(100_200, ms));
        assert!(!pace.outpaced(99_800, ms));
        // What arrived follows too: 40k * 0.75 + 80k * 0.25 = 50k per ms,
        // of which 1.25x is 62.5k.
        let mut pace = Pace::default();
        pace.worked(50_000, 40_000, ms);
        pace.worked(50_000, 80_000, ms);
        assert!(pace.outpaced(62_600, ms));
        assert!(!pace.outpaced(62_400, ms));
    }

    fn test_auditor() -> Auditor {
        let identity = SessionIdentity {
            session_id: "s".into(),
            server: "x".into(),
            user: "u".into(),
        };
        Auditor::new(AuditorConfig::new(identity, SessionFacts::default()))
    }

    /// The auditor waits only with a backlog (or when probing), a measured
    /// pace and room left below the high-water mark; lacking any of them it
    /// does not wait at all (every wait is counted).
    #[test]
    fn the_auditor_stands_aside_only_below_high_water_with_a_backlog_and_a_pace() {
        let at = Instant::now();
        let chunk = || Bytes::from_static(b"{}\n");
        // No backlog, pace known.
        let (mut h, inbox) = crate::handoff::channel(1 << 20, 1 << 30);
        let mut a = test_auditor();
        a.pace.worked(
            PACE_SAMPLE_BYTES,
            PACE_SAMPLE_BYTES,
            Duration::from_secs(1000),
        );
        h.offer(Direction::ClientToServer, at, chunk());
        assert!(!inbox.backlogged());
        a.stand_aside(&inbox, false);
        // A backlog, pace unknown.
        let mut b = test_auditor();
        for _ in 0..(1 << 20) / crate::handoff::BACKLOG_FRACTION {
            h.offer(Direction::ClientToServer, at, chunk());
        }
        assert!(inbox.backlogged() && !inbox.high_water());
        b.stand_aside(&inbox, false);
        b.stand_aside(&inbox, true);
        // A backlog and a pace, at high water.
        let (mut h, inbox) = crate::handoff::channel(8, 1 << 30);
        for _ in 0..6 {
            h.offer(Direction::ClientToServer, at, chunk());
        }
        assert!(inbox.backlogged() && inbox.high_water());
        a.stand_aside(&inbox, false);
        a.stand_aside(&inbox, true);
        assert_eq!((a.report.stood_aside, b.report.stood_aside), (0, 0));
        // All three: it waits (once: nothing arrives while it does).
        let (mut h, inbox) = crate::handoff::channel(1 << 20, 1 << 30);
        h.offer(Direction::ClientToServer, at, chunk());
        // A probe needs no backlog: working alongside a burst can keep the
        // queue short.
        a.stand_aside(&inbox, true);
        assert_eq!(a.report.stood_aside, 1);
        for _ in 0..(1 << 20) / crate::handoff::BACKLOG_FRACTION {
            h.offer(Direction::ClientToServer, at, chunk());
        }
        a.stand_aside(&inbox, false);
        assert_eq!(a.report.stood_aside, 2);
    }

    #[test]
    fn the_auditor_looks_when_the_queue_grew_and_every_few_slices() {
        let mut a = test_auditor();
        for _ in 1..PROBE_EVERY {
            assert!(!a.time_to_look(1000, 2000), "grew by what it took");
        }
        assert!(a.time_to_look(1000, 1000), "the last slice before a look");
        let (_h, inbox) = crate::handoff::channel(16, 1 << 20);
        a.stand_aside(&inbox, true); // looking resets the count
        assert!(!a.time_to_look(1000, 1500));
        assert!(a.time_to_look(1000, 2001), "grew by more than it took");
    }

    /// The TypeScript SDK writes `result` before `id`: a large answer must be
    /// read whole to be matched, so the server's lines are kept whole up to
    /// the parse limit, not only up to the record limit.
    #[test]
    fn a_large_result_written_before_its_id_completes_its_call() {
        let identity = SessionIdentity {
            session_id: "s".into(),
            server: "ts".into(),
            user: "u".into(),
        };
        let mut auditor = Auditor::new(AuditorConfig::new(identity, SessionFacts::default()));
        let t = Instant::now();
        let call =
            br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"read_file"}}"#;
        let mut c2s = call.to_vec();
        c2s.push(b'\n');
        let result = format!(
            r#"{{"content":[{{"type":"text","text":"{}"}}]}}"#,
            "x".repeat(3 << 20)
        );
        let line = format!(r#"{{"result":{result},"jsonrpc":"2.0","id":9}}"#);
        let chunk = |direction, bytes: Vec<u8>| AuditMsg::Chunk {
            direction,
            at: t,
            bytes: Bytes::from(bytes),
            lost_before: None,
        };
        auditor.handle(chunk(Direction::ClientToServer, c2s));
        // The answer arrives in pipe-sized pieces, its newline last.
        let mut s2c = line.clone().into_bytes();
        s2c.push(b'\n');
        for piece in s2c.chunks(64 * 1024) {
            auditor.handle(chunk(Direction::ServerToClient, piece.to_vec()));
        }
        let events = events_of(&auditor.take_batch());
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["session_start", "tool_call", "tool_result"]);
        let r = &events[2];
        assert_eq!(r["details"]["result_sha256"], sha256_hex(result.as_bytes()));
        assert_eq!(r["details"]["result_omitted"], "over_record_limit");
        assert_eq!(r["call_event_id"], events[1]["event_id"]);
    }
}
