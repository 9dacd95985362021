//! `report`: the figures of a usage report, gathered in one pass from the
//! same accumulators as `stats`, `sessions` and `anomalies`, so the report's
//! per-tool, per-server and per-user tables equal `stats --by …`.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::anomalies::Tally;
use crate::trail::sessions::Sessions;
use crate::trail::stats::{By, Stats};
use crate::trail::view::EventView;

/// One file's (or the whole trail's) report figures.
#[derive(Debug)]
pub struct Report {
    pub tools: Stats,
    pub servers: Stats,
    pub users: Stats,
    pub sessions: Sessions,
    pub tally: Tally,
    /// `tool_call`s with risk `high` or `critical`.
    pub high_risk_calls: u64,
}

impl Default for Report {
    fn default() -> Report {
        Report {
            tools: Stats::new(&[By::Tool]),
            servers: Stats::new(&[By::Server]),
            users: Stats::new(&[By::User]),
            sessions: Sessions::default(),
            tally: Tally::default(),
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
        self.high_risk_calls += other.high_risk_calls;
    }

    /// The executive summary and the tables, as JSON: `summary`, `tools`,
    /// `servers`, `users`, `sessions` (rows as `stats` and `sessions` give
    /// them) and `findings` (as `anomalies` gives them, without ids).
    pub fn into_json(self) -> Value {
        let changes = self.tally.changes.len();
        let secrets = self.tally.secrets.len();
        let findings: Vec<Value> = self.tally.findings().iter().map(|f| f.to_json()).collect();
        let sessions: Vec<Map<String, Value>> = self
            .sessions
            .into_rows()
            .iter()
            .map(|r| r.to_json(None))
            .collect();
        let distinct = |k: &str| {
            sessions
                .iter()
                .filter_map(|r| r.get(k).and_then(Value::as_str))
                .collect::<BTreeSet<_>>()
                .len()
        };
        let tools = self.tools.rows();
        let sum = |k: &str| tools.iter().filter_map(|r| r[k].as_u64()).sum::<u64>();
        let (calls, errors) = (sum("calls"), sum("errors"));
        let rate = if calls == 0 {
            0.0
        } else {
            errors as f64 / calls as f64
        };
        let summary = json!({
            "sessions": sessions.len(),
            "users": distinct("user"),
            "hosts": distinct("host"),
            "servers": distinct("server"),
            "calls": calls,
            "errors": errors,
            "error_rate": (rate * 10_000.0).round() / 10_000.0,
            "blocked": sum("blocked"),
            "tool_changes": changes,
            "secrets_detected": secrets,
            "high_risk_calls": self.high_risk_calls,
        });
        json!({
            "summary": summary,
            "tools": tools,
            "servers": self.servers.rows(),
            "users": self.users.rows(),
            "sessions": sessions,
            "findings": findings,
        })
    }
}
