//! `compliance`: per control of a framework (PCI DSS, SOC 2, HIPAA, GDPR),
//! what the trail evidences and what the current configuration lacks, each
//! with a [`Status`] and a one-line reason, and the event ids behind it.
//!
//! This is evidence for an assessor, not a certification: a control is
//! judged only on what an audit trail and its settings can show.
//!
//! - [`catalogue`]: the controls, as data; `judge`: one function per
//!   [`catalogue::Check`];
//! - [`evidence`]: one pass over the trail ([`Evidence`]), merged per file;
//! - [`Setup`], [`FileFacts`], [`VerifyFacts`]: the settings, the audit
//!   files' modes and sizes, and the verify verdict, gathered by the caller;
//! - [`render`]: Markdown, HTML and JSON.

pub mod catalogue;
pub mod evidence;
mod judge;
pub mod render;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub use evidence::Evidence;

use crate::config::{QueueFullPolicy, Settings};
use crate::verify::VerifyReport;

/// What a report says it is.
pub const DISCLAIMER: &str = "Evidence for an assessor, not a certification: each control is \
judged only on what the audit trail and the current settings show.";

/// A framework whose controls are assessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Gdpr,
    Hipaa,
    PciDss,
    Soc2,
}

impl Framework {
    /// Parses a `--framework` value.
    pub fn parse(s: &str) -> Option<Framework> {
        Some(match s {
            "gdpr" => Framework::Gdpr,
            "hipaa" => Framework::Hipaa,
            "pci-dss" => Framework::PciDss,
            "soc2" => Framework::Soc2,
            _ => return None,
        })
    }

    /// The `--framework` value.
    pub fn key(self) -> &'static str {
        match self {
            Framework::Gdpr => "gdpr",
            Framework::Hipaa => "hipaa",
            Framework::PciDss => "pci-dss",
            Framework::Soc2 => "soc2",
        }
    }

    /// The name shown in reports.
    pub fn title(self) -> &'static str {
        match self {
            Framework::Gdpr => "GDPR",
            Framework::Hipaa => "HIPAA Security Rule",
            Framework::PciDss => "PCI DSS v4.0 Requirement 10",
            Framework::Soc2 => "SOC 2 (Trust Services Criteria)",
        }
    }
}

/// How far a control is evidenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Met,
    Partial,
    NotMet,
    /// Outside what an audit trail can show.
    NotEvidenced,
}

impl Status {
    /// The name in JSON (`met`, `partial`, `not_met`, `not_evidenced`).
    pub fn key(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Partial => "partial",
            Status::NotMet => "not_met",
            Status::NotEvidenced => "not_evidenced",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Partial => "partial",
            Status::NotMet => "not met",
            Status::NotEvidenced => "not evidenced by an audit trail",
        }
    }
}

/// The settings a control depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setup {
    pub audit_enabled: bool,
    pub redact: bool,
    pub signing_key: bool,
    /// Files older than this many days are deleted (0: never by age).
    pub max_age_days: u64,
    pub max_files: u64,
    /// 0: no size limit.
    pub max_total_size_mb: u64,
    pub collectors: usize,
    pub rules: usize,
    pub default_deny: bool,
    pub enforce_pins: bool,
    pub queue_drops: bool,
}

impl Setup {
    /// The figures of `s`.
    pub fn of(s: &Settings) -> Setup {
        let a = &s.audit;
        Setup {
            audit_enabled: a.enabled.value,
            redact: a.redact_sensitive.value,
            signing_key: a.signing_key.value.is_some(),
            max_age_days: a.max_age_days.value,
            max_files: a.max_files.value.get(),
            max_total_size_mb: a.max_total_size_mb.value,
            collectors: s.forward.urls.value.len(),
            rules: s.rules.len(),
            default_deny: s.policy.default_action.value == crate::config::DefaultAction::Deny,
            enforce_pins: s.policy.enforce_pins.value,
            queue_drops: a.queue_policy.value == QueueFullPolicy::Drop,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "audit_enabled": self.audit_enabled, "redact_sensitive": self.redact,
            "signing_key": self.signing_key, "max_age_days": self.max_age_days,
            "max_files": self.max_files, "max_total_size_mb": self.max_total_size_mb,
            "collectors": self.collectors, "policy_rules": self.rules,
            "default_deny": self.default_deny, "enforce_pins": self.enforce_pins,
            "queue_policy_drop": self.queue_drops,
        })
    }
}

/// The audit files' modes and sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    pub files: usize,
    pub bytes: u64,
    /// Files and directories that group or others may read or write
    /// (`path mode`, octal).
    pub loose: Vec<String>,
}

impl FileFacts {
    /// The modes and sizes of `files` and of the directories holding them.
    pub fn of(files: &[PathBuf]) -> FileFacts {
        let mut facts = FileFacts {
            files: files.len(),
            ..FileFacts::default()
        };
        let mut dirs: Vec<&Path> = files.iter().filter_map(|f| f.parent()).collect();
        dirs.sort();
        dirs.dedup();
        for path in files.iter().map(PathBuf::as_path).chain(dirs) {
            let Ok(meta) = std::fs::symlink_metadata(path) else {
                continue;
            };
            if meta.is_file() {
                facts.bytes += meta.len();
            }
            let mode = meta.mode() & 0o7777;
            if mode & 0o077 != 0 {
                facts.loose.push(format!("{} {mode:o}", path.display()));
            }
        }
        facts
    }
}

impl VerifyFacts {
    /// What verify counted as broken, in words.
    pub fn breaks(&self) -> String {
        format!(
            "{} of {} sessions broken, {} damaged line(s), {} seal index(es) not matching",
            self.broken_sessions, self.sessions, self.damaged_lines, self.seal_breaks
        )
    }
}

/// What `verify` said of the trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyFacts {
    pub ok: bool,
    pub sessions: usize,
    pub broken_sessions: usize,
    /// Lines that cannot be read (damage, not a crash's torn line).
    pub damaged_lines: usize,
    /// Directories whose seal index shows deleted, swapped or changed files.
    pub seal_breaks: usize,
    /// Signatures were checked against a public key.
    pub with_key: bool,
}

impl VerifyFacts {
    /// The figures of a verify report.
    pub fn of(r: &VerifyReport) -> VerifyFacts {
        VerifyFacts {
            ok: r.is_ok(),
            sessions: r.sessions.len(),
            broken_sessions: r.sessions.iter().filter(|s| !s.is_ok()).count(),
            damaged_lines: r.issues.iter().filter(|i| i.is_damage()).count(),
            seal_breaks: r.seals.iter().filter(|c| !c.is_ok(r.with_key)).count(),
            with_key: r.with_key,
        }
    }
}

/// Everything a control is judged on.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub evidence: Evidence,
    pub setup: Setup,
    pub files: FileFacts,
    pub verify: VerifyFacts,
}

/// One control's verdict.
#[derive(Debug, Clone)]
pub struct Assessed {
    pub id: &'static str,
    pub title: &'static str,
    pub status: Status,
    pub reason: String,
    /// At most [`evidence::MAX_IDS`] ids of the event types listed as its evidence.
    pub event_ids: Vec<String>,
}

/// The controls of `framework`, judged on `inputs`, in catalogue order.
pub fn assess(framework: Framework, inputs: &Inputs) -> Vec<Assessed> {
    catalogue::controls(framework)
        .map(|c| {
            let (status, reason) = judge::judge(c.check, inputs);
            let mut event_ids: Vec<String> = c
                .evidence
                .iter()
                .filter_map(|t| inputs.evidence.ids.get(*t))
                .flatten()
                .cloned()
                .collect();
            event_ids.truncate(evidence::MAX_IDS);
            Assessed {
                id: c.id,
                title: c.title,
                status,
                reason,
                event_ids,
            }
        })
        .collect()
}

/// The whole assessment as JSON: `framework`, `disclaimer`, `trail`
/// (events, first, last, days, by_type, field shares, signed sessions,
/// tags, the servers and tools called), `settings`, `files`, `verify` and `controls` (id, title, status,
/// reason, event_ids).
pub fn to_json(framework: Framework, inputs: &Inputs, controls: &[Assessed]) -> Value {
    let e = &inputs.evidence;
    let shares: serde_json::Map<String, Value> = evidence::FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let share = e.share(i).map(|s| (s * 10_000.0).round() / 10_000.0);
            ((*f).to_owned(), json!(share))
        })
        .collect();
    let controls: Vec<Value> = controls
        .iter()
        .map(|c| {
            json!({"id": c.id, "title": c.title, "status": c.status.key(),
                   "reason": c.reason, "event_ids": c.event_ids})
        })
        .collect();
    json!({
        "framework": framework.key(),
        "title": framework.title(),
        "disclaimer": DISCLAIMER,
        "trail": {
            "events": e.events, "first": e.first, "last": e.last, "days": e.days(),
            "by_type": e.by_type, "field_shares": shares, "sessions": e.sessions,
            "signed_sessions": e.signed_sessions, "signatures": e.signatures, "tags": e.tags,
            "tools": e.tools.iter().map(|(s, t)| json!({"server": s, "tool": t})).collect::<Vec<_>>(),
            "tools_cut": e.tools_over,
        },
        "settings": inputs.setup.to_json(),
        "files": {"count": inputs.files.files, "bytes": inputs.files.bytes, "loose_modes": inputs.files.loose},
        "verify": {"ok": inputs.verify.ok, "sessions": inputs.verify.sessions,
                   "broken_sessions": inputs.verify.broken_sessions,
                   "damaged_lines": inputs.verify.damaged_lines, "seal_breaks": inputs.verify.seal_breaks,
                   "with_key": inputs.verify.with_key},
        "controls": controls,
    })
}
