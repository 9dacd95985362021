//! Loss accounting: lines the writer could not put on disk.
//!
//! The writer cannot write an `audit_dropped` line itself — lines are hash
//! chained by the auditor's stamper — so it counts what it lost here and the
//! auditor polls [`super::WriterHandle::take_losses`] to emit the event
//! through the normal path. Each loss carries the range of `"seq"` values it
//! covers (scanned from the lines), which is how `verify` tells an announced
//! loss from deleted lines.
//!
//! An announcement can be lost too (the disk is still full when it is
//! written). What it announced is then put back in the ledger with the lost
//! line itself, so the next announcement that reaches the disk covers every
//! line lost so far and none is left unexplained.

use std::sync::Mutex;

/// Why lines were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossReason {
    /// The writer queue was full and the policy is `drop`.
    QueueFull,
    /// Writing to the audit file failed (disk full, permissions, …).
    Storage,
    /// A forwarder's queue was full (its collector is slow or away).
    ForwardQueueFull,
    /// A forwarder's spool could not take the lines (full, or a write failed).
    ForwardSpool,
    /// A collector refused the lines for good (an HTTP 4xx answer).
    ForwardRefused,
}

impl LossReason {
    /// The name written in `audit_dropped`'s `details.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            LossReason::QueueFull => "queue_full",
            LossReason::Storage => "storage",
            LossReason::ForwardQueueFull => "forward_queue_full",
            LossReason::ForwardSpool => "forward_spool",
            LossReason::ForwardRefused => "forward_refused",
        }
    }

    /// The stage written in `audit_dropped`'s `details.stage`: `writer` for
    /// the local trail, `forward` for lines the local trail has but a
    /// collector did not get.
    pub fn stage(self) -> &'static str {
        match self {
            LossReason::QueueFull | LossReason::Storage => "writer",
            _ => "forward",
        }
    }
}

/// Lines lost since the last [`Ledger::take`] for one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Losses {
    /// Number of lines lost.
    pub lines: u64,
    /// Lowest `seq` among them (`None` if no line carried one).
    pub first_seq: Option<u64>,
    /// Highest `seq` among them.
    pub last_seq: Option<u64>,
    pub reason: LossReason,
}

/// Loss counters shared by the writer handle and the writer thread.
#[derive(Debug, Default)]
pub struct Ledger {
    pending: Mutex<Vec<Losses>>,
}

impl Ledger {
    /// Records that the lines in `batch` were lost for `reason`, and again
    /// the losses that lost `audit_dropped` lines among them announced.
    pub fn record(&self, batch: &[u8], reason: LossReason) {
        let (lines, first, last) = scan_seqs(batch);
        if lines == 0 {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        add(
            &mut pending,
            Losses {
                lines,
                first_seq: first,
                last_seq: last,
                reason,
            },
        );
        for announced in lost_announcements(batch) {
            add(&mut pending, announced);
        }
    }

    /// Takes the oldest pending loss, if any (one per reason).
    pub fn take(&self) -> Option<Losses> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        (!pending.is_empty()).then(|| pending.remove(0))
    }
}

/// Merges `loss` into the pending loss of the same reason.
fn add(pending: &mut Vec<Losses>, loss: Losses) {
    match pending.iter_mut().find(|l| l.reason == loss.reason) {
        Some(l) => {
            l.lines += loss.lines;
            l.first_seq = min_opt(l.first_seq, loss.first_seq);
            l.last_seq = l.last_seq.max(loss.last_seq);
        }
        None => pending.push(loss),
    }
}

/// The losses announced by the writer-stage `audit_dropped` lines of `batch`
/// (the events the auditor writes from [`Ledger::take`]).
fn lost_announcements(batch: &[u8]) -> Vec<Losses> {
    #[derive(serde::Deserialize)]
    struct Line {
        details: Details,
    }
    #[derive(serde::Deserialize)]
    struct Details {
        stage: Option<String>,
        reason: Option<String>,
        lines: Option<u64>,
        first_seq: Option<u64>,
        last_seq: Option<u64>,
    }
    let marker = memchr::memmem::Finder::new(b"\"type\":\"audit_dropped\"");
    batch
        .split(|b| *b == b'\n')
        .filter(|l| marker.find(l).is_some())
        .filter_map(|l| serde_json::from_slice::<Line>(l).ok())
        .filter(|l| l.details.stage.as_deref() == Some("writer"))
        .filter_map(|l| {
            let d = l.details;
            let reason = match d.reason.as_deref()? {
                "queue_full" => LossReason::QueueFull,
                "storage" => LossReason::Storage,
                _ => return None,
            };
            Some(Losses {
                lines: d.lines?,
                first_seq: d.first_seq,
                last_seq: d.last_seq,
                reason,
            })
        })
        .collect()
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Counts the lines of `batch` and the range of their envelope `"seq"`
/// values (the first `,"seq":` of a line is the envelope's: it precedes the
/// event body).
pub fn scan_seqs(batch: &[u8]) -> (u64, Option<u64>, Option<u64>) {
    let finder = memchr::memmem::Finder::new(b",\"seq\":");
    let (mut lines, mut first, mut last) = (0u64, None, None);
    for line in batch.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        let Some(at) = finder.find(line) else {
            continue;
        };
        let digits = &line[at + 7..];
        let end = digits
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(digits.len());
        if let Some(seq) = std::str::from_utf8(&digits[..end])
            .ok()
            .and_then(|s| s.parse().ok())
        {
            first = min_opt(first, Some(seq));
            last = last.max(Some(seq));
        }
    }
    (lines, first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_lines_and_seq_range() {
        let b = b"{\"v\":1,\"seq\":7,\"details\":{\"seq\":99}}\n{\"seq\":1}\n{\"v\":1,\"seq\":5}\n";
        assert_eq!(scan_seqs(b), (3, Some(5), Some(7)));
        assert_eq!(scan_seqs(b""), (0, None, None));
    }

    #[test]
    fn ledger_merges_per_reason_and_takes_oldest_first() {
        let l = Ledger::default();
        l.record(b"{\"v\":1,\"seq\":3}\n", LossReason::Storage);
        l.record(b"{\"v\":1,\"seq\":9}\n", LossReason::QueueFull);
        l.record(
            b"{\"v\":1,\"seq\":2}\n{\"v\":1,\"seq\":4}\n",
            LossReason::Storage,
        );
        let first = l.take().unwrap();
        assert_eq!(
            first,
            Losses {
                lines: 3,
                first_seq: Some(2),
                last_seq: Some(4),
                reason: LossReason::Storage
            }
        );
        assert_eq!(l.take().unwrap().reason, LossReason::QueueFull);
        assert_eq!(l.take(), None);
    }

    #[test]
    fn a_lost_announcement_is_announced_again() {
        let l = Ledger::default();
        let data = b"{\"v\":1,\"seq\":5}\n{\"v\":1,\"seq\":6}\n{\"v\":1,\"seq\":7}\n";
        l.record(data, LossReason::Storage);
        let first = l.take().unwrap();
        assert_eq!(
            (first.lines, first.first_seq, first.last_seq),
            (3, Some(5), Some(7))
        );
        l.record(b"{\"v\":1,\"seq\":3}\n", LossReason::QueueFull);
        l.take().unwrap();
        // The announcements of both (seq 8, 9) are lost with seq 10, and a
        // handoff-stage audit_dropped (seq 11) that announces nothing here.
        let batch = concat!(
            r#"{"v":1,"type":"audit_dropped","seq":8,"details":{"stage":"writer","reason":"storage","lines":3,"first_seq":5,"last_seq":7}}"#,
            "\n",
            r#"{"v":1,"type":"audit_dropped","seq":9,"details":{"stage":"writer","reason":"queue_full","lines":1,"first_seq":3,"last_seq":3}}"#,
            "\n",
            r#"{"v":1,"type":"tool_call","seq":10,"details":{"lines":99}}"#,
            "\n",
            r#"{"v":1,"type":"audit_dropped","seq":11,"details":{"stage":"handoff","chunks":1}}"#,
            "\n",
        );
        l.record(batch.as_bytes(), LossReason::Storage);
        let again = l.take().unwrap();
        assert_eq!(
            again,
            Losses {
                lines: 4 + 3,
                first_seq: Some(5),
                last_seq: Some(11),
                reason: LossReason::Storage
            }
        );
        let queue = l.take().unwrap();
        assert_eq!(
            (queue.lines, queue.first_seq, queue.last_seq),
            (1, Some(3), Some(3))
        );
        assert_eq!(queue.reason, LossReason::QueueFull);
        assert_eq!(l.take(), None);
    }
}
