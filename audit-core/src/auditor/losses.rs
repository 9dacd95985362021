//! The `audit_dropped` events the auditor writes about its own losses, and
//! `retention_exceeded` when retention keeps more than its budget.

use std::time::SystemTime;

use crate::event::{Direction, Event, EventType, Outcome, Severity};
use crate::handoff::Loss;
use crate::sink::retention::OverBudget;
use crate::sink::Losses;

/// Chunks of `direction` the hand-off could not queue.
pub(super) fn handoff_dropped(loss: Loss, direction: Direction, at: SystemTime) -> Event {
    let mut e = dropped(at, "handoff");
    e.direction = Some(direction);
    e.details.insert("chunks".into(), loss.chunks.into());
    e.details.insert("bytes".into(), loss.bytes.into());
    e
}

/// Retention kept more than its budget rather than delete files younger
/// than the minimum age: a flood is on record, not paid for with other
/// sessions' trail.
pub(super) fn retention_exceeded(over: OverBudget, at: SystemTime) -> Event {
    let mut e = Event::new(EventType::RetentionExceeded, at)
        .severity(Severity::Warning)
        .outcome(Outcome::Failure);
    e.details.insert("files".into(), over.files.into());
    e.details.insert("bytes".into(), over.bytes.into());
    e
}

/// Stamped lines the writer (or a forwarder) lost.
pub(super) fn writer_dropped(loss: Losses, at: SystemTime) -> Event {
    let mut e = dropped(at, loss.reason.stage());
    e.details
        .insert("reason".into(), loss.reason.as_str().into());
    e.details.insert("lines".into(), loss.lines.into());
    loss.insert_chain_details(&mut e.details);
    e
}

fn dropped(at: SystemTime, stage: &str) -> Event {
    let mut e = Event::new(EventType::AuditDropped, at)
        .severity(Severity::Warning)
        .outcome(Outcome::Failure);
    e.details.insert("stage".into(), stage.into());
    e
}
