//! Retention: which audit files to delete. A pure function of the files'
//! names, sizes and last-write times and of the time now (passed in).
//!
//! Rules, on logical files (a part and its `.gz` are one) oldest first:
//!
//! 1. a file last written more than [`RetentionLimits::max_age`] ago is
//!    deleted, whatever the count and size;
//! 2. while more than `max_files` remain, or more than
//!    [`RetentionLimits::max_total_bytes`], the oldest is deleted, but only if
//!    it was last written at least [`RetentionLimits::min_age`] ago. A file
//!    younger than that is never deleted to make room: the budget is left
//!    exceeded and the choice says so ([`OverBudget`]), so that a flood is
//!    reported instead of paid for with the rest of the trail (other
//!    sessions' lines included).

use std::time::{Duration, SystemTime};

/// Default minimum age before a file may be deleted to make room (24 h).
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(24 * 3600);

/// Limits beyond the file count (which is [`super::RotationPolicy::max_files`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionLimits {
    /// Files last written longer ago than this are deleted (`None`: never by age).
    pub max_age: Option<Duration>,
    /// Total bytes of the audit files kept (`None`: no limit).
    pub max_total_bytes: Option<u64>,
    /// Files younger than this are never deleted to meet a count or size.
    pub min_age: Duration,
}

impl Default for RetentionLimits {
    fn default() -> RetentionLimits {
        RetentionLimits {
            max_age: None,
            max_total_bytes: None,
            min_age: DEFAULT_MIN_AGE,
        }
    }
}

/// One logical audit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalFile {
    /// The name without `.gz`; names sort in write order.
    pub name: String,
    /// Bytes on disk (a part and its `.gz` together).
    pub bytes: u64,
    /// Last write.
    pub modified: SystemTime,
}

/// The budget left exceeded because the files over it are too young.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// Files kept.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// What retention decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionChoice {
    /// Logical names to delete, oldest first.
    pub delete: Vec<String>,
    /// Set when the count or size budget is still exceeded afterwards.
    pub over_budget: Option<OverBudget>,
}

/// Chooses what to delete at `now` (see the module docs). `max_files == 0`
/// sets no count limit.
pub fn choose(
    files: &[LogicalFile],
    max_files: usize,
    limits: &RetentionLimits,
    now: SystemTime,
) -> RetentionChoice {
    let mut sorted: Vec<&LogicalFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    // A clock behind a file's mtime makes its age zero: young.
    let age = |f: &LogicalFile| now.duration_since(f.modified).unwrap_or_default();
    let (expired, mut kept): (Vec<&LogicalFile>, Vec<&LogicalFile>) = sorted
        .into_iter()
        .partition(|f| limits.max_age.is_some_and(|max| age(f) > max));
    let mut delete: Vec<String> = expired.iter().map(|f| f.name.clone()).collect();
    let mut total: u64 = kept.iter().map(|f| f.bytes).sum();
    let over = |count: usize, total: u64| {
        (max_files > 0 && count > max_files) || limits.max_total_bytes.is_some_and(|m| total > m)
    };
    while over(kept.len(), total) {
        match kept.first() {
            Some(oldest) if age(oldest) >= limits.min_age => {
                total -= oldest.bytes;
                delete.push(oldest.name.clone());
                kept.remove(0);
            }
            _ => {
                return RetentionChoice {
                    delete,
                    over_budget: Some(OverBudget {
                        files: kept.len(),
                        bytes: total,
                    }),
                }
            }
        }
    }
    RetentionChoice {
        delete,
        over_budget: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    /// `(name, bytes, age)`.
    fn files(v: &[(&str, u64, Duration)]) -> Vec<LogicalFile> {
        v.iter()
            .map(|(n, b, age)| LogicalFile {
                name: n.to_string(),
                bytes: *b,
                modified: now() - *age,
            })
            .collect()
    }

    fn limits(
        max_age: Option<Duration>,
        max_total: Option<u64>,
        min_age: Duration,
    ) -> RetentionLimits {
        RetentionLimits {
            max_age,
            max_total_bytes: max_total,
            min_age,
        }
    }

    #[test]
    fn keeps_the_newest_by_count() {
        let f = files(&[
            ("c", 1, 3 * DAY),
            ("a", 1, 5 * DAY),
            ("d", 1, 2 * DAY),
            ("b", 1, 4 * DAY),
        ]);
        let l = limits(None, None, DAY);
        assert_eq!(choose(&f, 2, &l, now()).delete, ["a", "b"]);
        assert_eq!(choose(&f, 4, &l, now()), RetentionChoice::default());
        assert_eq!(choose(&f, 0, &l, now()), RetentionChoice::default());
        assert_eq!(choose(&f, 1, &l, now()).delete, ["a", "b", "c"]);
    }

    #[test]
    fn deletes_by_age_whatever_the_count() {
        let f = files(&[("a", 1, 400 * DAY), ("b", 1, 366 * DAY), ("c", 1, 10 * DAY)]);
        let l = limits(Some(365 * DAY), None, DAY);
        let got = choose(&f, 0, &l, now());
        assert_eq!(got.delete, ["a", "b"]);
        assert_eq!(got.over_budget, None);
    }

    #[test]
    fn deletes_by_total_size_oldest_first() {
        let f = files(&[("a", 50, 3 * DAY), ("b", 30, 2 * DAY), ("c", 40, 2 * DAY)]);
        let l = limits(None, Some(80), DAY);
        assert_eq!(choose(&f, 0, &l, now()).delete, ["a"]);
        assert_eq!(
            choose(&f, 0, &limits(None, Some(30), DAY), now()).delete,
            ["a", "b", "c"]
        );
    }

    #[test]
    fn a_flood_of_young_files_is_reported_not_paid_for() {
        // Another session's file from an hour ago, then a flood of new parts.
        let mut v = vec![("audit-2026-01-01.0001.jsonl", 10 << 20, HOUR)];
        let names: Vec<String> = (2..40)
            .map(|p| format!("audit-2026-01-01.{p:04}.jsonl"))
            .collect();
        for n in &names {
            v.push((n.as_str(), 10 << 20, Duration::from_secs(1)));
        }
        let got = choose(&files(&v), 30, &limits(None, Some(100 << 20), DAY), now());
        assert!(got.delete.is_empty(), "{:?}", got.delete);
        assert_eq!(
            got.over_budget,
            Some(OverBudget {
                files: 39,
                bytes: 39 * (10 << 20)
            })
        );
        // Old enough files still go, oldest first, until a young one is next.
        v[0].2 = 2 * DAY;
        let got = choose(&files(&v), 30, &limits(None, None, DAY), now());
        assert_eq!(got.delete, ["audit-2026-01-01.0001.jsonl"]);
        assert_eq!(got.over_budget.map(|o| o.files), Some(38));
    }

    #[test]
    fn a_clock_behind_the_files_deletes_nothing_to_make_room() {
        let mut f = files(&[("a", 1, DAY), ("b", 1, DAY)]);
        f[0].modified = now() + HOUR;
        let got = choose(&f, 1, &limits(None, None, HOUR), now());
        assert!(got.delete.is_empty());
        assert!(got.over_budget.is_some());
    }
}
