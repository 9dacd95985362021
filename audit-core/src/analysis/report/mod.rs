//! `report`: the figures of a usage report, gathered in one pass from the
//! same accumulators as `stats`, `sessions` and `anomalies`, so the report's
//! per-tool, per-server and per-user tables equal `stats --by …`.
//!
//! - [`figures`]: what only the report gathers (time series, duration
//!   histogram, risk mix, riskiest calls, decisions by rule);
//! - [`advice`]: the trend, the recommendations, each session's verify
//!   status;
//! - [`markdown`], [`html`] (with [`svg`] charts): the renderings of the
//!   JSON that [`Report::into_json`] gives, so every format shows the same
//!   sections and figures; [`out`]: writing one to a private file.

pub mod advice;
pub mod figures;
pub mod html;
pub mod markdown;
pub mod out;
pub mod svg;

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Map, Value};

use self::advice::{recommendations, trend, Setup};
use self::figures::Figures;
use super::anomalies::Tally;
use crate::trail::sessions::Sessions;
use crate::trail::stats::{By, Stats};
use crate::trail::view::EventView;

/// Tool changes listed (all are counted in the summary).
pub const MAX_CHANGES_SHOWN: usize = 100;

/// One file's (or the whole trail's) report figures.
#[derive(Debug)]
pub struct Report {
    pub tools: Stats,
    pub servers: Stats,
    pub users: Stats,
    pub sessions: Sessions,
    pub tally: Tally,
    pub figures: Figures,
    /// `tool_call`s with risk `high` or `critical`.
    pub high_risk_calls: u64,
}

/// What the report needs besides the trail's figures.
#[derive(Debug, Default)]
pub struct Context {
    /// The period covered (`since`, `until`; null when open).
    pub period: Value,
    /// Session → verify status ([`advice::session_status`]); `None`: not
    /// verified.
    pub verdicts: Option<HashMap<String, &'static str>>,
    /// The previous period of equal length and its report's `summary`.
    pub previous: Option<(Value, Value)>,
    pub setup: Setup,
}

impl Default for Report {
    fn default() -> Report {
        Report {
            tools: Stats::new(&[By::Tool]),
            servers: Stats::new(&[By::Server]),
            users: Stats::new(&[By::User]),
            sessions: Sessions::default(),
            tally: Tally::default(),
            figures: Figures::default(),
            high_risk_calls: 0,
        }
    }
}

impl Report {
    /// Counts one event.
    pub fn add(&mut self, e: &EventView<'_>, line: &[u8]) {
        self.tools.add(e);
        self.servers.add(e);
        self.users.add(e);
        self.sessions.add(e, line);
        self.tally.add(e);
        self.figures.add(e, line);
        if e.kind == "tool_call" && matches!(e.risk_level.as_deref(), Some("high" | "critical")) {
            self.high_risk_calls += 1;
        }
    }

    /// Adds another file's figures.
    pub fn merge(&mut self, other: Report) {
        self.tools.merge(other.tools);
        self.servers.merge(other.servers);
        self.users.merge(other.users);
        self.sessions.merge(other.sessions);
        self.tally.merge(other.tally);
        self.figures.merge(other.figures);
        self.high_risk_calls += other.high_risk_calls;
    }

    /// The whole report as JSON (docs/reporting.md lists the fields):
    /// `period`, `summary`, `trend`, `recommendations`, `tools`, `servers`,
    /// `users`, `riskiest_calls`, `policy_decisions`, `tool_changes`,
    /// `sessions`, `findings`, `charts`.
    pub fn into_json(self, ctx: &Context) -> Value {
        let counts = [
            self.tally.changes.len() as u64,
            self.tally.secrets.len() as u64,
            self.high_risk_calls,
        ];
        let changes: Vec<Value> = self
            .tally
            .changes
            .iter()
            .take(MAX_CHANGES_SHOWN)
            .map(|n| {
                json!({"time": n.at, "server": n.server, "tool": n.tool, "user": n.user,
                       "event_id": n.event_id})
            })
            .collect();
        let findings: Vec<Value> = self.tally.findings().iter().map(|f| f.to_json()).collect();
        let sessions = session_rows(self.sessions, ctx.verdicts.as_ref());
        let tools = self.tools.rows();
        let summary = summary(counts, &tools, &sessions, ctx);
        let mut report = json!({
            "period": ctx.period,
            "summary": summary,
            "trend": ctx.previous.as_ref().map(|(period, before)| {
                json!({"previous_period": period, "figures": trend(&summary, before)})
            }),
            "recommendations": [],
            "tools": tools,
            "servers": self.servers.rows(),
            "users": self.users.rows(),
            "riskiest_calls": self.figures.risky_json(),
            "policy_decisions": self.figures.decisions_json(),
            "tool_changes": changes,
            "sessions": sessions,
            "findings": findings,
            "charts": {
                "over_time": self.figures.timeline_json(),
                "durations": self.figures.durations_json(),
                "risk_mix": self.figures.risk_json(),
            },
        });
        report["recommendations"] = recommendations(&report, &ctx.setup).into();
        report
    }
}

/// `counts`: tool changes, secrets detected, high-risk calls.
fn summary(
    counts: [u64; 3],
    tools: &[Map<String, Value>],
    sessions: &[Map<String, Value>],
    ctx: &Context,
) -> Value {
    let distinct = |k: &str| {
        sessions
            .iter()
            .filter_map(|r| r.get(k).and_then(Value::as_str))
            .collect::<BTreeSet<_>>()
            .len()
    };
    let sum = |k: &str| tools.iter().filter_map(|r| r[k].as_u64()).sum::<u64>();
    let (calls, errors) = (sum("calls"), sum("errors"));
    let rate = if calls == 0 {
        0.0
    } else {
        errors as f64 / calls as f64
    };
    let broken = ctx.verdicts.as_ref().map(|_| {
        sessions
            .iter()
            .filter(|s| s["verified"] == "broken")
            .count()
    });
    json!({
        "sessions": sessions.len(),
        "users": distinct("user"),
        "hosts": distinct("host"),
        "servers": distinct("server"),
        "calls": calls,
        "errors": errors,
        "error_rate": (rate * 10_000.0).round() / 10_000.0,
        "blocked": sum("blocked"),
        "tool_changes": counts[0],
        "secrets_detected": counts[1],
        "high_risk_calls": counts[2],
        "sessions_broken": broken,
    })
}

/// The rows of `sessions`, `verified` holding the verify status (`not
/// verified` when the trail was not checked or the session was not found).
fn session_rows(
    sessions: Sessions,
    verdicts: Option<&HashMap<String, &'static str>>,
) -> Vec<Map<String, Value>> {
    sessions
        .into_rows()
        .iter()
        .map(|r| {
            let mut row = r.to_json(None);
            let status = verdicts
                .and_then(|v| v.get(&r.session_id).copied())
                .unwrap_or("not verified");
            row.insert("verified".into(), status.into());
            row
        })
        .collect()
}
