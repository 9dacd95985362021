//! When the auditor works and when it gets out of the way: the one concern
//! of the auditor that is about scheduling, not about events.
//!
//! Two mechanisms:
//!
//! - [`Pacer`]: working through queued messages, the auditor yields its core
//!   every [`YIELD_EVERY`] (between messages and between the pieces of a
//!   long hash), so a relay thread waiting for that core waits at most that
//!   long. At the queue's high-water mark ([`AuditInbox::high_water`]) it
//!   does not yield: catching up comes first.
//! - [`Pacing`]: an auditor that is behind a stream it cannot keep up with
//!   stands aside ([`STAND_ASIDE`] at a time) instead of competing with the
//!   stream for the cores. It looks whether to when it finds the queue
//!   backlogged, when over a [`PACE_SLICE`] of work the queue grew by more
//!   than it took, and at least every [`PROBE_EVERY`] slices without the
//!   queue running empty (working alongside a stream slows it to the
//!   auditor's pace, so neither the growth nor the length would show it).
//!   It goes on waiting while the stream outpaces it ([`Pace::outpaced`],
//!   then [`Pace::keeps_outpacing`]), and never at or past the high-water
//!   mark ([`crate::handoff::HIGH_WATER`]).
//!
//! Waiting loses nothing (the hand-off's limits are unchanged): what is
//! queued reaches the file later, a proxy killed by `SIGKILL` mid-burst loses
//! more of it, and a burst longer than the queue absorbs starts dropping
//! chunks sooner.

use std::time::{Duration, Instant};

use crate::handoff::{AuditInbox, AuditMsg, QueueGauge};

/// After this long working without a pause, the auditor yields its core, so
/// that a woken relay thread does not wait out the rest of its time slice.
const YIELD_EVERY: Duration = Duration::from_micros(5);

/// A stream outpaces the auditor when more than this many times its pace
/// arrives; a stream about as fast (large results) is worked alongside.
const OUTPACED: f64 = 2.0;

/// A stream merely faster than the auditor outpaces it only if it ran more
/// than this many times faster while the auditor waited than while it
/// worked: then the auditor's work is what slowed it.
const SPED_UP: f64 = 1.25;

/// How long the auditor waits, at a time, while a stream outpaces it.
pub(super) const STAND_ASIDE: Duration = Duration::from_millis(1);

/// A slice of work counts towards [`Pace`] only if it took at least this many
/// chunk bytes (a single small chunk's time is mostly fixed costs).
const PACE_SAMPLE_BYTES: usize = 16 * 1024;

/// Working through a backlog, the auditor measures its pace, and looks
/// whether the queue still grows, after slices of this length.
const PACE_SLICE: Duration = Duration::from_millis(1);

/// Working without the queue running empty, the auditor looks whether to
/// stand aside at least once per this many [`PACE_SLICE`]s: only what
/// arrives while it waits shows a stream it slowed to its own pace.
const PROBE_EVERY: u32 = 4;

/// When the auditor yields its core ([`YIELD_EVERY`]).
#[derive(Debug)]
pub(super) struct Pacer {
    since_yield: Instant,
    /// How full the queue is; without it (an auditor driven message by
    /// message, not by `Auditor::run`) the pacer never yields.
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
    /// From now on, yield unless this queue is at its high-water mark.
    pub(super) fn watch(&mut self, gauge: QueueGauge) {
        self.gauge = Some(gauge);
    }

    /// Work starts (again) after a wait.
    pub(super) fn restart(&mut self) {
        self.since_yield = Instant::now();
    }

    /// Yields the core if the auditor has worked [`YIELD_EVERY`] since it
    /// last did, unless the queue is at its high-water mark.
    pub(super) fn pause(&mut self) {
        let Some(gauge) = &self.gauge else { return };
        if self.since_yield.elapsed() >= YIELD_EVERY && !gauge.high_water() {
            std::thread::yield_now();
            self.since_yield = Instant::now();
        }
    }
}

/// One slice of work: when it started, the queue's bytes then, and the chunk
/// bytes worked through since.
pub(super) struct Slice {
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

    /// Counts the relayed bytes `msg` carries as worked through.
    pub(super) fn took(&mut self, msg: &AuditMsg) {
        if let AuditMsg::Chunk { bytes, .. } = msg {
            self.bytes += bytes.len();
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
    /// in that time. Looser than [`Pace::outpaced`], so that one slow
    /// millisecond of a noisy burst does not end the wait.
    pub fn keeps_outpacing(&self, inflow: usize, over: Duration) -> bool {
        self.worked
            .is_some_and(|worked| rate(inflow, over) > worked)
    }
}

/// Bytes per second.
fn rate(bytes: usize, over: Duration) -> f64 {
    bytes as f64 / over.as_secs_f64()
}

/// The auditor's stand-aside state: its measured [`Pace`], the slices since
/// it last looked, and the waits so far.
#[derive(Debug, Default)]
pub(super) struct Pacing {
    pace: Pace,
    /// Slices of work since the auditor last looked whether to stand aside.
    slices_worked: u32,
    /// Waits of [`STAND_ASIDE`] so far.
    pub(super) stood_aside: u64,
}

impl Pacing {
    /// Before a run of work on what the queue holds: stands aside if the
    /// queue is backlogged and the stream outpaces the auditor; then starts
    /// a slice of work.
    pub(super) fn begin(&mut self, inbox: &AuditInbox) -> Slice {
        self.stand_aside(inbox, false);
        Slice::start(inbox)
    }

    /// After each message of a run: true when the slice is over and it is
    /// time to look whether to stand aside (the caller hands its batch over
    /// first, then calls [`Pacing::look`]). Otherwise an ended slice is
    /// followed by the next at once.
    pub(super) fn slice_over(&mut self, slice: &mut Slice, inbox: &AuditInbox) -> bool {
        let took = slice.started.elapsed();
        if took < PACE_SLICE {
            return false;
        }
        let arrived = slice.arrived(inbox);
        self.pace.worked(slice.bytes, arrived, took);
        if self.time_to_look(slice.bytes, arrived) {
            return true;
        }
        *slice = Slice::start(inbox);
        false
    }

    /// Looks whether to stand aside mid-run (a probe: see
    /// [`Pacing::stand_aside`]); the next slice starts after it.
    pub(super) fn look(&mut self, slice: &mut Slice, inbox: &AuditInbox) {
        self.stand_aside(inbox, true);
        *slice = Slice::start(inbox);
    }

    /// After a run of work: its slice counts towards the pace.
    pub(super) fn end(&mut self, slice: Slice, inbox: &AuditInbox) {
        let arrived = slice.arrived(inbox);
        self.pace
            .worked(slice.bytes, arrived, slice.started.elapsed());
    }

    /// After a slice of work that took `took` bytes while `arrived` arrived:
    /// true if the queue grew by more than was taken, or [`PROBE_EVERY`]
    /// slices have passed since the auditor last looked.
    fn time_to_look(&mut self, took: usize, arrived: usize) -> bool {
        self.slices_worked += 1;
        arrived > 2 * took || self.slices_worked >= PROBE_EVERY
    }

    /// Waits while the queue is below its high-water mark and filling faster
    /// than the auditor would drain it, if the queue is backlogged or
    /// `probing` (a probe waits once whatever the queue holds: working
    /// alongside a burst can keep the queue short for the whole burst).
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
            self.stood_aside += 1;
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
}

#[cfg(test)]
mod tests;
