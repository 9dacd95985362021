//! Loss accounting: lines the writer could not put on disk.
//!
//! The writer cannot write an `audit_dropped` line itself — lines are hash
//! chained by the auditor's stamper — so it counts what it lost here and the
//! auditor polls [`super::WriterHandle::take_losses`] to emit the event
//! through the normal path. Each loss carries the range of `"seq"` values it
//! covers (scanned from the lines), which is how `verify` tells an announced
//! loss from deleted lines.

use std::sync::Mutex;

/// Why lines were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossReason {
    /// The writer queue was full and the policy is `drop`.
    QueueFull,
    /// Writing to the audit file failed (disk full, permissions, …).
    Storage,
}

impl LossReason {
    /// The name written in `audit_dropped`'s `details.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            LossReason::QueueFull => "queue_full",
            LossReason::Storage => "storage",
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
    /// Records that the lines in `batch` were lost for `reason`.
    pub fn record(&self, batch: &[u8], reason: LossReason) {
        let (lines, first, last) = scan_seqs(batch);
        if lines == 0 {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.iter_mut().find(|l| l.reason == reason) {
            Some(l) => {
                l.lines += lines;
                l.first_seq = min_opt(l.first_seq, first);
                l.last_seq = l.last_seq.max(last);
            }
            None => pending.push(Losses {
                lines,
                first_seq: first,
                last_seq: last,
                reason,
            }),
        }
    }

    /// Takes the oldest pending loss, if any (one per reason).
    pub fn take(&self) -> Option<Losses> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        (!pending.is_empty()).then(|| pending.remove(0))
    }
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
}
