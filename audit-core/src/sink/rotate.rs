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

use super::retention::files_to_delete;

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
}

impl RotationPlan {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.renames.is_empty() && self.compress.is_empty() && self.delete.is_empty()
    }
}

/// Plans the rotation before appending `incoming` bytes on `today`.
///
/// `names` are the directory's entries; `active_size` the size of today's
/// active file if it exists. Stale active files (earlier days) and a full
/// active file are renamed to their day's next part; every rotated file not
/// yet compressed is listed for compression; retention keeps the newest
/// `policy.max_files` logical files, counting today's active file.
pub fn plan_rotation(
    names: &[String],
    today: &str,
    active_size: Option<u64>,
    incoming: u64,
    policy: &RotationPolicy,
) -> RotationPlan {
    let parsed: Vec<(String, AuditFileName)> = names
        .iter()
        .filter_map(|n| parse_name(n).map(|p| (n.clone(), p)))
        .collect();
    let mut plan = RotationPlan::default();
    let mut logical: Vec<String> = Vec::new();
    for (name, p) in &parsed {
        let to_rotate = p.part.is_none()
            && (p.date.as_str() < today
                || (p.date == today
                    && active_size.is_some_and(|s| s > 0 && s + incoming > policy.max_file_size)));
        if to_rotate {
            let to = rotated_name(&p.date, next_part(&parsed, &p.date));
            plan.renames.push((name.clone(), to.clone()));
            plan.compress.push(to.clone());
            logical.push(to);
        } else {
            if p.part.is_some() && !p.gzipped {
                plan.compress.push(name.clone());
            }
            logical.push(p.logical());
        }
    }
    logical.push(active_name(today));
    logical.sort();
    logical.dedup();
    let doomed = files_to_delete(&logical, policy.max_files);
    for (name, p) in &parsed {
        let renamed_to = plan.renames.iter().find(|(f, _)| f == name).map(|(_, t)| t);
        let key = renamed_to.cloned().unwrap_or_else(|| p.logical());
        if doomed.contains(&key) {
            plan.delete
                .push(renamed_to.cloned().unwrap_or_else(|| name.clone()));
        }
    }
    plan.delete.sort();
    plan.compress.retain(|c| !plan.delete.contains(c));
    plan
}

/// The next free part number of `date`.
fn next_part(parsed: &[(String, AuditFileName)], date: &str) -> u32 {
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
        assert!(plan_rotation(&n, "2026-01-01", Some(50), 50, &POLICY).is_empty());
        assert!(plan_rotation(&[], "2026-01-01", None, 500, &POLICY).is_empty());
    }

    #[test]
    fn midnight_rotates_yesterday_to_its_next_part() {
        let n = names(&["audit-2026-01-01.0001.jsonl.gz", "audit-2026-01-01.jsonl"]);
        let plan = plan_rotation(&n, "2026-01-02", None, 10, &POLICY);
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
        assert!(plan_rotation(&n, "2026-01-01", Some(60), 40, &POLICY).is_empty());
        let plan = plan_rotation(&n, "2026-01-01", Some(60), 41, &POLICY);
        assert_eq!(plan.renames[0].1, "audit-2026-01-01.0001.jsonl");
        // An empty file takes any batch, however large.
        assert!(plan_rotation(&n, "2026-01-01", Some(0), 1000, &POLICY).is_empty());
    }

    #[test]
    fn leftover_uncompressed_parts_are_compressed() {
        let n = names(&[
            "audit-2026-01-01.0001.jsonl",
            "audit-2026-01-01.0002.jsonl.gz",
        ]);
        let plan = plan_rotation(&n, "2026-01-01", None, 1, &POLICY);
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
        let plan = plan_rotation(&n, "2026-01-02", None, 1, &policy);
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
}
