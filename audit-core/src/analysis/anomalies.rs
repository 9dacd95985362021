//! Anomalies: the figures gathered in one pass over the trail ([`Tally`])
//! and the findings drawn from them ([`Finding`]). Methods and thresholds
//! are in docs/analysis.md and in `super::judge`. Findings from metadata
//! are for triage, not proof.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};

use crate::trail::view::EventView;

/// Event ids kept per finding.
pub const MAX_IDS: usize = 20;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    /// The name in output.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// Which events a finding stands on, for the pass that collects their ids.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// `tool_call`s of `tool` by `user` at or after `from`.
    UserTool {
        user: String,
        tool: String,
        from: String,
    },
    /// Failed answers of a tool in an hour (`YYYY-MM-DDTHH`).
    ToolHourErrors {
        server: String,
        tool: String,
        hour: String,
    },
    /// Calls of a tool in an hour.
    ToolHourCalls {
        server: String,
        tool: String,
        hour: String,
    },
    /// Answers of a tool slower than `min_us`.
    Slower {
        server: String,
        tool: String,
        min_us: u64,
    },
    /// Calls of a user in a minute (`YYYY-MM-DDTHH:MM`).
    UserMinute { user: String, minute: String },
    /// Calls of a user at an hour of day (`HH`) at or after `from`.
    UserHourOfDay {
        user: String,
        hour: String,
        from: String,
    },
    /// Refused calls of a session.
    SessionBlocked { session: String },
    /// Ids already known (rare events kept in the first pass).
    Ids,
}

impl Claim {
    /// Whether `e` is one of the claimed events.
    pub fn covers(&self, e: &EventView<'_>) -> bool {
        let call = e.kind == "tool_call";
        match self {
            Claim::UserTool { user, tool, from } => {
                call && e.user == *user && e.tool() == tool && *e.timestamp >= **from
            }
            Claim::ToolHourErrors { server, tool, hour } => {
                e.is_tool_answer()
                    && e.outcome == "failure"
                    && e.server == *server
                    && e.tool() == tool
                    && hour_of(&e.timestamp) == hour
            }
            Claim::ToolHourCalls { server, tool, hour } => {
                call && e.server == *server && e.tool() == tool && hour_of(&e.timestamp) == hour
            }
            Claim::Slower {
                server,
                tool,
                min_us,
            } => {
                e.is_tool_answer()
                    && e.server == *server
                    && e.tool() == tool
                    && e.duration_us().is_some_and(|d| d > *min_us)
            }
            Claim::UserMinute { user, minute } => {
                call && e.user == *user && minute_of(&e.timestamp) == minute
            }
            Claim::UserHourOfDay { user, hour, from } => {
                call && e.user == *user
                    && e.timestamp.get(11..13) == Some(hour.as_str())
                    && *e.timestamp >= **from
            }
            Claim::SessionBlocked { session } => {
                e.kind == "policy_blocked" && e.session_id == *session
            }
            Claim::Ids => false,
        }
    }
}

/// One anomaly.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    /// `new_tool`, `error_spike`, `call_spike`, `slow_call`, `unusual_hour`,
    /// `burst`, `tool_changed`, `secret_in_result`, `repeated_refusals`.
    pub kind: &'static str,
    /// What it is about: a user, a tool, a session.
    pub subject: String,
    /// When: the first time or the bucket.
    pub at: String,
    /// One line for a person.
    pub explanation: String,
    /// The events behind it (at most [`MAX_IDS`]).
    pub event_ids: Vec<String>,
    /// Which events to collect ids from.
    pub claim: Claim,
}

impl Finding {
    /// Adds `e`'s id if the finding claims it and has room.
    pub fn claims(&mut self, e: &EventView<'_>) {
        if self.event_ids.len() < MAX_IDS && !e.event_id.is_empty() && self.claim.covers(e) {
            self.event_ids.push(e.event_id.to_string());
        }
    }

    /// The finding as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "severity": self.severity.name(),
            "kind": self.kind,
            "subject": self.subject,
            "at": self.at,
            "explanation": self.explanation,
            "event_ids": self.event_ids,
        })
    }
}

/// A rare event kept whole in the first pass.
#[derive(Debug, Clone)]
pub struct Noted {
    pub at: String,
    pub server: String,
    pub tool: String,
    pub user: String,
    pub event_id: String,
}

/// Figures of one hour of one tool.
#[derive(Debug, Default, Clone, Copy)]
pub struct HourFigures {
    pub calls: u64,
    pub answers: u64,
    pub errors: u64,
}

/// Rare events kept per kind.
const MAX_NOTED: usize = 10_000;

/// What one pass gathers; one per file, merged.
#[derive(Debug, Default)]
pub struct Tally {
    pub(super) days: BTreeSet<String>,
    /// (user, tool) → first call time.
    pub(super) first_use: HashMap<(String, String), String>,
    /// (server, tool, hour) → figures.
    pub(super) tool_hours: HashMap<(String, String, String), HourFigures>,
    /// (user, minute) → calls.
    pub(super) user_minutes: HashMap<(String, String), u64>,
    /// (user, hour) → calls.
    pub(super) user_hours: HashMap<(String, String), u64>,
    /// (server, tool) → answer durations, µs.
    pub(super) durations: HashMap<(String, String), Vec<u64>>,
    /// session → (user, refused calls).
    pub(super) refusals: HashMap<String, (String, u64)>,
    pub(super) changes: Vec<Noted>,
    pub(super) secrets: Vec<Noted>,
}

impl Tally {
    /// Counts one event.
    pub fn add(&mut self, e: &EventView<'_>) {
        let hour = hour_of(&e.timestamp);
        self.days.insert(e.day().to_owned());
        let key = || (e.server.to_string(), e.tool().to_owned());
        match &*e.kind {
            "tool_call" => {
                let first = self
                    .first_use
                    .entry((e.user.to_string(), e.tool().to_owned()))
                    .or_insert_with(|| e.timestamp.to_string());
                if *e.timestamp < **first {
                    *first = e.timestamp.to_string();
                }
                let (s, t) = key();
                self.tool_hours
                    .entry((s, t, hour.to_owned()))
                    .or_default()
                    .calls += 1;
                let minute = minute_of(&e.timestamp).to_owned();
                *self
                    .user_minutes
                    .entry((e.user.to_string(), minute))
                    .or_default() += 1;
                *self
                    .user_hours
                    .entry((e.user.to_string(), hour.to_owned()))
                    .or_default() += 1;
            }
            "policy_blocked" => {
                let r = self
                    .refusals
                    .entry(e.session_id.to_string())
                    .or_insert_with(|| (e.user.to_string(), 0));
                r.1 += 1;
            }
            "tool_changed" => note(&mut self.changes, e),
            "secret_detected" => note(&mut self.secrets, e),
            _ if e.is_tool_answer() => {
                let (s, t) = key();
                let h = self.tool_hours.entry((s, t, hour.to_owned())).or_default();
                h.answers += 1;
                h.errors += u64::from(e.outcome == "failure");
                if let Some(d) = e.duration_us() {
                    self.durations.entry(key()).or_default().push(d);
                }
            }
            _ => {}
        }
    }

    /// Adds `other` (another file's tally) to this one.
    pub fn merge(&mut self, other: Tally) {
        self.days.extend(other.days);
        for (k, t) in other.first_use {
            let mine = self.first_use.entry(k).or_insert_with(|| t.clone());
            if t < *mine {
                *mine = t;
            }
        }
        for (k, h) in other.tool_hours {
            let mine = self.tool_hours.entry(k).or_default();
            mine.calls += h.calls;
            mine.answers += h.answers;
            mine.errors += h.errors;
        }
        for (k, n) in other.user_minutes {
            *self.user_minutes.entry(k).or_default() += n;
        }
        for (k, n) in other.user_hours {
            *self.user_hours.entry(k).or_default() += n;
        }
        for (k, d) in other.durations {
            self.durations.entry(k).or_default().extend(d);
        }
        for (k, (u, n)) in other.refusals {
            self.refusals.entry(k).or_insert_with(|| (u, 0)).1 += n;
        }
        for n in other.changes {
            push_noted(&mut self.changes, n);
        }
        for n in other.secrets {
            push_noted(&mut self.secrets, n);
        }
    }

    /// The findings, most severe first, then by time.
    pub fn findings(self) -> Vec<Finding> {
        let mut all = super::judge::judge(self);
        all.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.at.cmp(&b.at)));
        all
    }
}

fn note(list: &mut Vec<Noted>, e: &EventView<'_>) {
    push_noted(
        list,
        Noted {
            at: e.timestamp.to_string(),
            server: e.server.to_string(),
            tool: e.tool().to_owned(),
            user: e.user.to_string(),
            event_id: e.event_id.to_string(),
        },
    );
}

fn push_noted(list: &mut Vec<Noted>, n: Noted) {
    if list.len() < MAX_NOTED {
        list.push(n);
    }
}

/// `YYYY-MM-DDTHH` of a timestamp.
pub fn hour_of(ts: &str) -> &str {
    ts.get(..13).unwrap_or(ts)
}

/// `YYYY-MM-DDTHH:MM` of a timestamp.
pub fn minute_of(ts: &str) -> &str {
    ts.get(..16).unwrap_or(ts)
}
