//! The sinks of one session: where stamped lines go.

use std::time::Duration;

use super::plan::AuditPlan;
use super::WriterReport;
use crate::sink;
use crate::transcript::TranscriptWriter;

/// The sinks of one session: where stamped lines go. New sinks start in
/// [`Sinks::start`] and are flushed in [`Sinks::finish`].
pub(super) struct Sinks {
    /// The hash-chained JSONL trail.
    pub(super) trail: sink::WriterHandle,
    /// The transcript of every frame (`audit.transcript`), fed by the auditor.
    pub(super) transcript: Option<TranscriptWriter>,
}

impl Sinks {
    /// Starts every sink; `None` (the error logged) leaves a relay without
    /// an audit trail.
    pub(super) fn start(plan: &AuditPlan) -> Option<Sinks> {
        match sink::spawn_writer_with(plan.target.clone(), plan.writer.clone()) {
            Ok(trail) => Some(Sinks {
                trail,
                transcript: None,
            }),
            Err(e) => {
                tracing::error!("{e}; relaying without an audit trail");
                None
            }
        }
    }

    /// Flushes every sink, the trail last; its report.
    pub(super) fn finish(self, timeout: Duration) -> Option<WriterReport> {
        if let Some(transcript) = self.transcript {
            finish_transcript(transcript, timeout);
        }
        self.trail.finish(timeout)
    }
}

/// Waits for the transcript's end line; says on stderr what it lost.
fn finish_transcript(transcript: TranscriptWriter, timeout: Duration) {
    match transcript.finish(timeout) {
        Some(Ok(report)) if report.lost_frames > 0 => tracing::error!(
            "transcript incomplete: {} frames ({} bytes) not recorded",
            report.lost_frames,
            report.lost_bytes
        ),
        Some(Ok(_)) => {}
        Some(Err(e)) => tracing::error!("transcript: {e}"),
        None => tracing::error!(
            "the transcript did not reach disk within {} ms",
            timeout.as_millis()
        ),
    }
}
