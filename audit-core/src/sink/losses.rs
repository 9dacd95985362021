//! Loss accounting: lines the writer could not put on disk.
//!
//! The writer cannot write an `audit_dropped` line itself — lines are hash
//! chained by the auditor's stamper — so it counts what it lost here and the
//! auditor polls [`super::WriterHandle::take_losses`] to emit the event
//! through the normal path. Each loss carries the range of `"seq"` values it
//! covers (scanned from the lines), which is how `verify` tells an announced
//! loss from deleted lines.
//!
//! Each loss also carries the chain hashes at its edges: the `prev_hash` of
//! its first line (the hash of the last line written before the gap) and
//! the `hash` of its last line (which the next written line names as its
//! `prev_hash`). The announcement records both, so `verify` follows the
//! chain across the gap and a forged announcement of deleted lines breaks
//! it. Only contiguous runs of `seq` merge into one loss.
//!
//! An announcement can be lost too (the disk is still full when it is
//! written). What it announced is then put back in the ledger with the lost
//! line itself, so the next announcement that reaches the disk covers every
//! line lost so far and none is left unexplained.

use std::sync::Mutex;

use crate::stamp::chain_hashes;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Losses {
    /// Number of lines lost.
    pub lines: u64,
    /// Lowest `seq` among them (`None` if no line carried one).
    pub first_seq: Option<u64>,
    /// Highest `seq` among them.
    pub last_seq: Option<u64>,
    /// `prev_hash` of the line at `first_seq`.
    pub first_prev_hash: Option<String>,
    /// `hash` of the line at `last_seq`.
    pub last_hash: Option<String>,
    pub reason: LossReason,
}

impl Losses {
    /// Puts the chain members of the announcement into `details`:
    /// `first_seq`, `last_seq`, `first_prev_hash`, `last_hash` (those known).
    pub fn insert_chain_details(&self, details: &mut serde_json::Map<String, serde_json::Value>) {
        let seqs = [("first_seq", self.first_seq), ("last_seq", self.last_seq)];
        for (k, v) in seqs.into_iter().filter_map(|(k, v)| Some((k, v?))) {
            details.insert(k.into(), v.into());
        }
        let hashes = [
            ("first_prev_hash", &self.first_prev_hash),
            ("last_hash", &self.last_hash),
        ];
        for (k, v) in hashes
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.clone()?)))
        {
            details.insert(k.into(), v.into());
        }
    }
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
        let scan = scan_batch(batch);
        if scan.lines == 0 {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        add(
            &mut pending,
            Losses {
                lines: scan.lines,
                first_seq: scan.first.as_ref().map(|f| f.0),
                last_seq: scan.last.as_ref().map(|l| l.0),
                first_prev_hash: scan.first.map(|f| f.1).filter(|h| !h.is_empty()),
                last_hash: scan.last.map(|l| l.1).filter(|h| !h.is_empty()),
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

/// Merges `loss` into a pending loss of the same reason whose `seq` range
/// it touches (overlapping or adjacent), else keeps it apart: a merged
/// range must be one contiguous run for its edge hashes to bridge it.
fn add(pending: &mut Vec<Losses>, loss: Losses) {
    let touches = |l: &Losses| match (l.first_seq, l.last_seq, loss.first_seq, loss.last_seq) {
        (Some(a), Some(b), Some(c), Some(d)) => {
            a <= d.saturating_add(1) && c <= b.saturating_add(1)
        }
        _ => l.first_seq.is_none() && loss.first_seq.is_none(),
    };
    match pending
        .iter_mut()
        .find(|l| l.reason == loss.reason && touches(l))
    {
        Some(l) => {
            l.lines += loss.lines;
            if loss.first_seq.is_some() && (l.first_seq.is_none() || loss.first_seq < l.first_seq) {
                l.first_seq = loss.first_seq;
                l.first_prev_hash = loss.first_prev_hash;
            }
            if loss.last_seq > l.last_seq {
                l.last_seq = loss.last_seq;
                l.last_hash = loss.last_hash;
            }
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
        first_prev_hash: Option<String>,
        last_hash: Option<String>,
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
                first_prev_hash: d.first_prev_hash,
                last_hash: d.last_hash,
                reason,
            })
        })
        .collect()
}

/// What [`scan_batch`] finds in a batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchScan {
    /// Non-empty lines.
    pub lines: u64,
    /// Lowest envelope `seq` and that line's `prev_hash` (empty if unread).
    pub first: Option<(u64, String)>,
    /// Highest envelope `seq` and that line's `hash`.
    pub last: Option<(u64, String)>,
}

/// Counts the lines of `batch` and finds its lowest and highest envelope
/// `"seq"` (the first `,"seq":` of a line is the envelope's: it precedes the
/// event body), with the chain hashes at those two lines.
pub fn scan_batch(batch: &[u8]) -> BatchScan {
    let finder = memchr::memmem::Finder::new(b",\"seq\":");
    let mut scan = BatchScan::default();
    for line in batch.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        scan.lines += 1;
        let Some(at) = finder.find(line) else {
            continue;
        };
        let digits = &line[at + 7..];
        let end = digits
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(digits.len());
        let Some(seq) = std::str::from_utf8(&digits[..end])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let (prev, hash) = chain_hashes(line).unwrap_or_default();
        if !matches!(&scan.first, Some(f) if seq >= f.0) {
            scan.first = Some((seq, prev.to_owned()));
        }
        if !matches!(&scan.last, Some(l) if seq <= l.0) {
            scan.last = Some((seq, hash.to_owned()));
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_lines_and_seq_range() {
        let b = b"{\"v\":1,\"seq\":7,\"details\":{\"seq\":99}}\n{\"seq\":1}\n{\"v\":1,\"seq\":5}\n";
        let scan = scan_batch(b);
        assert_eq!(scan.lines, 3);
        assert_eq!(scan.first, Some((5, String::new())));
        assert_eq!(scan.last, Some((7, String::new())));
        assert_eq!(scan_batch(b""), BatchScan::default());
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
                first_prev_hash: None,
                last_hash: None,
                reason: LossReason::Storage
            }
        );
        assert_eq!(l.take().unwrap().reason, LossReason::QueueFull);
        assert_eq!(l.take(), None);
    }

    #[test]
    fn only_contiguous_runs_merge_and_keep_their_edge_hashes() {
        let line = |seq: u64| {
            let (p, h) = (format!("{:064x}", seq - 1), format!("{seq:064x}"));
            format!("{{\"v\":1,\"seq\":{seq},\"prev_hash\":\"{p}\",\"hash\":\"{h}\"}}\n")
        };
        let l = Ledger::default();
        l.record(line(4).as_bytes(), LossReason::Storage);
        l.record(line(9).as_bytes(), LossReason::Storage);
        l.record(line(5).as_bytes(), LossReason::Storage);
        let first = l.take().unwrap();
        assert_eq!((first.first_seq, first.last_seq), (Some(4), Some(5)));
        assert_eq!(first.first_prev_hash, Some(format!("{:064x}", 3)));
        assert_eq!(first.last_hash, Some(format!("{:064x}", 5)));
        let second = l.take().unwrap();
        assert_eq!((second.first_seq, second.last_seq), (Some(9), Some(9)));
        let mut details = serde_json::Map::new();
        second.insert_chain_details(&mut details);
        assert_eq!(details["last_hash"], format!("{:064x}", 9));
        assert_eq!(details["first_prev_hash"], format!("{:064x}", 8));
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
                first_prev_hash: None,
                last_hash: None,
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
