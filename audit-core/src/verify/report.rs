//! How a [`VerifyReport`] is shown: readable text, or JSON for CI.

use std::fmt;

use serde_json::{json, Value};

use super::{LineIssue, SessionReport, VerifyReport};

/// A range of sequence numbers as people write it: `seq 10`, `seq 10-12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seqs(pub u64, pub u64);

impl fmt::Display for Seqs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seqs(a, b) if a == b => write!(f, "seq {a}"),
            Seqs(a, b) => write!(f, "seq {a}-{b}"),
        }
    }
}

impl VerifyReport {
    /// Sessions with a break.
    fn broken(&self) -> usize {
        self.sessions.iter().filter(|s| !s.is_ok()).count()
    }

    /// Lines that are damage (not a crash's mark), listed or not.
    fn damaged_lines(&self) -> u64 {
        self.issues.iter().filter(|i| i.is_damage()).count() as u64 + self.issues_omitted.damage
    }

    /// Seal indexes whose findings break the trail.
    fn failed_indexes(&self) -> usize {
        let key = self.with_key;
        self.seals.iter().filter(|c| !c.is_ok(key)).count()
    }

    /// The report as one JSON object: the verdict, counts, and each finding
    /// as the text would show it.
    pub fn to_json(&self) -> Value {
        let text = |v: &dyn fmt::Display| Value::from(v.to_string());
        let sessions: Vec<Value> = self
            .sessions
            .iter()
            .map(|s| {
                json!({
                    "session_id": s.session_id,
                    "ok": s.is_ok(),
                    "events": s.events,
                    "last_seq": s.last_seq,
                    "signed_through": s.signed_through,
                    "breaks": s.breaks.iter().map(|b| text(b)).collect::<Vec<_>>(),
                    "breaks_omitted": s.breaks_omitted,
                })
            })
            .collect();
        let issues = |damage: bool| -> Vec<Value> {
            let of_kind = |i: &&LineIssue| i.is_damage() == damage;
            self.issues
                .iter()
                .filter(of_kind)
                .map(|i| text(i))
                .collect()
        };
        let seals: Vec<Value> = self
            .seals
            .iter()
            .map(|c| {
                json!({
                    "dir": c.dir.display().to_string(),
                    "ok": c.is_ok(self.with_key),
                    "entries": c.entries,
                    "findings": c.findings.iter().map(|f| text(f)).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "ok": self.is_ok(),
            "files": self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "sessions_broken": self.broken(),
            "damaged_lines": issues(true),
            "skipped_lines": issues(false),
            "line_issues_omitted": self.issues_omitted.total,
            "damaged_lines_omitted": self.issues_omitted.damage,
            "seal_indexes_failed": self.failed_indexes(),
            "with_key": self.with_key,
            "sessions": sessions,
            "seal_indexes": seals,
        })
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for issue in &self.issues {
            writeln!(f, "{issue}")?;
        }
        let omitted = self.issues_omitted;
        if omitted.total > 0 {
            writeln!(
                f,
                "… and {} more line issues not listed ({} of them damage)",
                omitted.total, omitted.damage
            )?;
        }
        for s in &self.sessions {
            write_session(f, s, self.with_key)?;
        }
        for c in &self.seals {
            if c.entries > 0 {
                let signed = if self.with_key { ", signed" } else { "" };
                writeln!(
                    f,
                    "seal index {}: {} entries{signed}",
                    c.dir.join(crate::sink::seal::SEAL_FILE).display(),
                    c.entries
                )?;
            }
            for finding in &c.findings {
                writeln!(f, "  - {finding}")?;
            }
        }
        write!(
            f,
            "verify: {} files, {} sessions, {} broken",
            self.files.len(),
            self.sessions.len(),
            self.broken()
        )?;
        // Say what failed when it is not a session.
        for (n, what) in [
            (self.damaged_lines(), "unreadable lines"),
            (self.failed_indexes() as u64, "seal indexes failed"),
        ] {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        write!(f, ": {}", if self.is_ok() { "OK" } else { "FAILED" })
    }
}

/// One session's verdict line and its notes and breaks.
fn write_session(f: &mut fmt::Formatter<'_>, s: &SessionReport, with_key: bool) -> fmt::Result {
    let verdict = if s.is_ok() { "OK" } else { "BROKEN" };
    write!(
        f,
        "session {}: {verdict}, {} events (last seq {})",
        s.session_id, s.events, s.last_seq
    )?;
    if with_key {
        match s.signed_through {
            Some(n) if n >= s.last_seq => write!(f, ", signed")?,
            Some(n) => write!(
                f,
                ", signed through seq {n}; {} unsigned",
                Seqs(n + 1, s.last_seq)
            )?,
            None => write!(f, ", no valid signature")?,
        }
    }
    writeln!(f)?;
    if let Some((a, b)) = s.retention_gap {
        writeln!(
            f,
            "  - note: {} deleted by retention (seal index)",
            Seqs(a, b)
        )?;
    }
    for (a, b) in &s.announced_losses {
        let seqs = Seqs(*a, *b);
        writeln!(f, "  - note: {seqs} announced lost by audit_dropped")?;
    }
    if s.losses_omitted > 0 {
        let n = s.losses_omitted;
        writeln!(f, "  - note: … and {n} more announced losses not listed")?;
    }
    for b in &s.breaks {
        writeln!(f, "  - {b}")?;
    }
    if s.breaks_omitted > 0 {
        writeln!(f, "  - … and {} more breaks", s.breaks_omitted)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_ranges_read_as_people_write_them() {
        assert_eq!(Seqs(10, 10).to_string(), "seq 10");
        assert_eq!(Seqs(10, 12).to_string(), "seq 10-12");
    }
}
