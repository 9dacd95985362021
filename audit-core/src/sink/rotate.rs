//! Rotation naming: which file a line goes to, when the current file is
//! rotated, and what a rotated file is called. Pure functions of the names in
//! the directory, the date and the sizes (time is passed in, never read).
//!
//! Names, all sortable so that name order is write order:
//!
//! ```text
//! audit-2026-01-01.0001.jsonl.gz   first rotated part of the day (compressed)
//! audit-2026-01-01.0002.jsonl      second part, compression under way
//! audit-2026-01-01.jsonl           the day's active file (parts sort before it)
//! audit-2026-01-02.jsonl
//! ```
//!
//! A day's active file is renamed to the day's next part when it would pass
//! the size limit, and when a writer finds it still there on a later day.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::retention::{choose, LogicalFile, OverBudget, RetentionLimits};

/// Default size after which the active file is rotated (10 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;
/// Default number of audit files kept in the directory.
pub const DEFAULT_MAX_FILES: usize = 30;

/// When to rotate and how much to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// The active file is rotated before a write would take it past this many
    /// bytes (a single larger batch still goes into one file).
    pub max_file_size: u64,
    /// Number of audit files kept, the active one included; older ones are
    /// deleted. `0` keeps everything.
    pub max_files: usize,
}

impl Default for RotationPolicy {
    fn default() -> RotationPolicy {
        RotationPolicy {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_files: DEFAULT_MAX_FILES,
        }
    }
}

/// An audit file name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFileName {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// `None` for the day's active file, the part number for rotated ones.
    pub part: Option<u32>,
    /// Ends in `.gz`.
    pub gzipped: bool,
}

impl AuditFileName {
    /// The name without `.gz`: one logical file, compressed or not.
    pub fn logical(&self) -> String {
        match self.part {
            None => active_name(&self.date),
            Some(part) => rotated_name(&self.date, part),
        }
    }
}

/// The active file of `date`: `audit-YYYY-MM-DD.jsonl`.
pub fn active_name(date: &str) -> String {
    format!("audit-{date}.jsonl")
}

/// Rotated part `part` of `date`: `audit-YYYY-MM-DD.NNNN.jsonl`.
pub fn rotated_name(date: &str, part: u32) -> String {
    format!("audit-{date}.{part:04}.jsonl")
}

/// Parses one of our names; `None` for anything else in the directory.
pub fn parse_name(name: &str) -> Option<AuditFileName> {
    let (stem, gzipped) = match name.strip_suffix(".gz") {
        Some(s) => (s, true),
        None => (name, false),
    };
    let rest = stem.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    let (date, part) = match rest.split_once('.') {
        None => (rest, None),
        Some((date, part)) => {
            if part.len() < 4 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (date, Some(part.parse().ok()?))
        }
    };
    // Only rotated parts are ever compressed.
    if !is_date(date) || (gzipped && part.is_none()) {
        return None;
    }
    Some(AuditFileName {
        date: date.to_owned(),
        part,
        gzipped,
    })
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// What to do to the directory before appending.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationPlan {
    /// `(from, to)` renames, in order.
    pub renames: Vec<(String, String)>,
    /// Rotated, uncompressed files to gzip (after the renames).
    pub compress: Vec<String>,
    /// Files to delete (retention), oldest first.
    pub delete: Vec<String>,
    /// Retention left its budget exceeded rather than delete young files.
    pub over_budget: Option<OverBudget>,
}

#[cfg(test)]
impl RotationPlan {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.renames.is_empty() && self.compress.is_empty() && self.delete.is_empty()
    }
}

/// One entry of the audit directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    /// Last write.
    pub modified: SystemTime,
}

/// What a rotation looks at besides the directory: the day, the active
/// file's size, the incoming batch and the time now.
#[derive(Debug, Clone, Copy)]
pub struct RotationInput<'a> {
    /// `YYYY-MM-DD` of `now` (UTC).
    pub today: &'a str,
    /// Size of today's active file if it exists.
    pub active_size: Option<u64>,
    /// Bytes about to be appended.
    pub incoming: u64,
    pub now: SystemTime,
}

/// Plans the rotation before appending `input.incoming` bytes.
///
/// `entries` are the directory's entries. Stale active files (earlier days)
/// and a full active file are renamed to their day's next part; every
/// rotated file not yet compressed is listed for compression; retention
/// ([`super::retention::choose`]) runs over the logical files, counting
/// today's active file, which it never deletes.
pub fn plan_rotation(
    entries: &[FileEntry],
    input: &RotationInput<'_>,
    policy: &RotationPolicy,
    limits: &RetentionLimits,
) -> RotationPlan {
    let today = input.today;
    let parsed: Vec<(&FileEntry, AuditFileName)> = entries
        .iter()
        .filter_map(|e| parse_name(&e.name).map(|p| (e, p)))
        .collect();
    let mut plan = RotationPlan::default();
    // Logical name -> (physical names, bytes, last write).
    let mut logical: BTreeMap<String, (Vec<String>, u64, SystemTime)> = BTreeMap::new();
    for (entry, p) in &parsed {
        let to_rotate = p.part.is_none()
            && (p.date.as_str() < today
                || (p.date == today
                    && input
                        .active_size
                        .is_some_and(|s| s > 0 && s + input.incoming > policy.max_file_size)));
        let (key, physical) = if to_rotate {
            let to = rotated_name(&p.date, next_part(&parsed, &p.date));
            plan.renames.push((entry.name.clone(), to.clone()));
            plan.compress.push(to.clone());
            (to.clone(), to)
        } else {
            if p.part.is_some() && !p.gzipped {
                plan.compress.push(entry.name.clone());
            }
            (p.logical(), entry.name.clone())
        };
        let slot = logical
            .entry(key)
            .or_insert((Vec::new(), 0, SystemTime::UNIX_EPOCH));
        slot.0.push(physical);
        slot.1 += entry.bytes;
        slot.2 = slot.2.max(entry.modified);
    }
    let active = active_name(today);
    logical
        .entry(active.clone())
        .or_insert((Vec::new(), 0, input.now))
        .2 = input.now;
    let files: Vec<LogicalFile> = logical
        .iter()
        .map(|(name, (_, bytes, modified))| LogicalFile {
            name: name.clone(),
            bytes: *bytes,
            modified: *modified,
        })
        .collect();
    let choice = choose(&files, policy.max_files, limits, input.now);
    for doomed in choice.delete.iter().filter(|d| **d != active) {
        plan.delete.extend(logical[doomed].0.iter().cloned());
    }
    plan.delete.sort();
    plan.compress.retain(|c| !plan.delete.contains(c));
    plan.over_budget = choice.over_budget;
    plan
}

/// The next free part number of `date`.
fn next_part(parsed: &[(&FileEntry, AuditFileName)], date: &str) -> u32 {
    parsed
        .iter()
        .filter(|(_, p)| p.date == date)
        .filter_map(|(_, p)| p.part)
        .max()
        .unwrap_or(0)
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// 2026-01-02T12:00:00Z
    fn noon() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_355_200)
    }

    /// Plans over `names`, all written long ago, with no minimum age.
    fn plan_over(
        names: &[String],
        today: &str,
        active_size: Option<u64>,
        incoming: u64,
        policy: &RotationPolicy,
    ) -> RotationPlan {
        let entries: Vec<FileEntry> = names
            .iter()
            .map(|name| FileEntry {
                name: name.clone(),
                bytes: 1,
                modified: SystemTime::UNIX_EPOCH,
            })
            .collect();
        let input = RotationInput {
            today,
            active_size,
            incoming,
            now: noon(),
        };
        let limits = RetentionLimits {
            min_age: std::time::Duration::ZERO,
            ..RetentionLimits::default()
        };
        plan_rotation(&entries, &input, policy, &limits)
    }

    const POLICY: RotationPolicy = RotationPolicy {
        max_file_size: 100,
        max_files: 0,
    };

    #[test]
    fn parses_our_names_only() {
        let p = parse_name("audit-2026-01-02.0003.jsonl.gz").unwrap();
        assert_eq!(
            (p.date.as_str(), p.part, p.gzipped),
            ("2026-01-02", Some(3), true)
        );
        assert_eq!(p.logical(), "audit-2026-01-02.0003.jsonl");
        assert_eq!(parse_name("audit-2026-01-02.jsonl").unwrap().part, None);
        for bad in [
            ".lock",
            "audit-2026-1-02.jsonl",
            "audit-2026-01-02.1.jsonl",
            "x.jsonl",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_sort_in_write_order() {
        let mut v = names(&[
            "audit-2026-01-02.jsonl",
            "audit-2026-01-01.jsonl",
            "audit-2026-01-01.0002.jsonl",
            "audit-2026-01-01.0001.jsonl.gz",
        ]);
        v.sort();
        assert_eq!(v[0], "audit-2026-01-01.0001.jsonl.gz");
        assert_eq!(v[2], "audit-2026-01-01.jsonl");
    }

    #[test]
    fn nothing_to_do_within_the_day_and_size() {
        let n = names(&["audit-2026-01-01.jsonl", ".lock"]);
        assert!(plan_over(&n, "2026-01-01", Some(50), 50, &POLICY).is_empty());
        assert!(plan_over(&[], "2026-01-01", None, 500, &POLICY).is_empty());
    }

    #[test]
    fn midnight_rotates_yesterday_to_its_next_part() {
        let n = names(&["audit-2026-01-01.0001.jsonl.gz", "audit-2026-01-01.jsonl"]);
        let plan = plan_over(&n, "2026-01-02", None, 10, &POLICY);
        assert_eq!(
            plan.renames,
            vec![(
                "audit-2026-01-01.jsonl".into(),
                "audit-2026-01-01.0002.jsonl".into()
            )]
        );
        assert_eq!(plan.compress, names(&["audit-2026-01-01.0002.jsonl"]));
    }

    #[test]
    fn size_rotation_only_when_the_write_would_pass_the_limit() {
        let n = names(&["audit-2026-01-01.jsonl"]);
        assert!(plan_over(&n, "2026-01-01", Some(60), 40, &POLICY).is_empty());
        let plan = plan_over(&n, "2026-01-01", Some(60), 41, &POLICY);
        assert_eq!(plan.renames[0].1, "audit-2026-01-01.0001.jsonl");
        // An empty file takes any batch, however large.
        assert!(plan_over(&n, "2026-01-01", Some(0), 1000, &POLICY).is_empty());
    }

    #[test]
    fn leftover_uncompressed_parts_are_compressed() {
        let n = names(&[
            "audit-2026-01-01.0001.jsonl",
            "audit-2026-01-01.0002.jsonl.gz",
        ]);
        let plan = plan_over(&n, "2026-01-01", None, 1, &POLICY);
        assert_eq!(plan.compress, names(&["audit-2026-01-01.0001.jsonl"]));
    }

    #[test]
    fn retention_counts_the_active_file_and_deletes_the_oldest() {
        let n = names(&[
            "audit-2026-01-01.0001.jsonl.gz",
            "audit-2026-01-01.0002.jsonl",
            "audit-2026-01-01.0002.jsonl.gz", // same logical file mid-compression
            "audit-2026-01-01.jsonl",
            "audit-2026-01-02.0001.jsonl.gz",
        ]);
        let policy = RotationPolicy {
            max_file_size: 100,
            max_files: 3,
        };
        let plan = plan_over(&n, "2026-01-02", None, 1, &policy);
        // After renaming 01-01's active file to part 3, the logical files are
        // 01-01.1, .2, .3, 01-02.1 and 01-02 (active): the two oldest go.
        assert_eq!(
            plan.delete,
            names(&[
                "audit-2026-01-01.0001.jsonl.gz",
                "audit-2026-01-01.0002.jsonl",
                "audit-2026-01-01.0002.jsonl.gz",
            ])
        );
        assert_eq!(plan.compress, names(&["audit-2026-01-01.0003.jsonl"]));
    }

    #[test]
    fn young_files_are_kept_over_the_count_and_the_excess_reported() {
        let hour_ago = noon() - std::time::Duration::from_secs(3600);
        let entries: Vec<FileEntry> = (1..=5)
            .map(|p| FileEntry {
                name: rotated_name("2026-01-02", p),
                bytes: 100,
                modified: hour_ago,
            })
            .collect();
        let input = RotationInput {
            today: "2026-01-02",
            active_size: None,
            incoming: 10,
            now: noon(),
        };
        let policy = RotationPolicy {
            max_file_size: 100,
            max_files: 3,
        };
        let plan = plan_rotation(&entries, &input, &policy, &RetentionLimits::default());
        assert!(plan.delete.is_empty());
        assert_eq!(
            plan.over_budget,
            Some(OverBudget {
                files: 6,
                bytes: 500
            })
        );
    }
}
