//! `stats`: per group of tool events, the calls, errors, blocked calls,
//! exact duration percentiles and bytes each way.
//!
//! What counts: a `tool_call` is a call (its `details.arguments_bytes` are
//! bytes in); an event ending a call (`tool_result`, `tool_error`, a
//! `tools/call` `rpc_error`, `tool_cancelled`, `tool_abandoned`,
//! `input_required`) gives a duration, an error when its outcome is
//! `failure`, and its `details.result_bytes` as bytes out; a
//! `policy_blocked` with outcome `blocked` is a blocked call. Percentiles
//! are nearest-rank over every duration of the group (kept in
//! microseconds, the precision of `duration_ms`).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::view::EventView;

/// What rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Server,
    Tool,
    User,
    Day,
    Session,
}

impl By {
    /// Parses a `--by` value.
    pub fn parse(s: &str) -> Option<By> {
        Some(match s {
            "server" => By::Server,
            "tool" => By::Tool,
            "user" => By::User,
            "day" => By::Day,
            "session" => By::Session,
            _ => return None,
        })
    }

    /// The key's name in rows.
    pub fn name(self) -> &'static str {
        match self {
            By::Server => "server",
            By::Tool => "tool",
            By::User => "user",
            By::Day => "day",
            By::Session => "session",
        }
    }

    fn of<'e>(self, e: &'e EventView<'_>) -> &'e str {
        match self {
            By::Server => &e.server,
            By::Tool => e.tool(),
            By::User => &e.user,
            By::Day => e.day(),
            By::Session => &e.session_id,
        }
    }
}

/// The keys of the groups: a tool is one server's tool, so grouping by tool
/// groups by server too. Order: server, tool, then the others as given.
pub fn group_keys(by: &[By]) -> Vec<By> {
    let by = if by.is_empty() { &[By::Tool][..] } else { by };
    let mut keys = Vec::new();
    if by.contains(&By::Server) || by.contains(&By::Tool) {
        keys.push(By::Server);
    }
    if by.contains(&By::Tool) {
        keys.push(By::Tool);
    }
    for b in by {
        if !keys.contains(b) {
            keys.push(*b);
        }
    }
    keys
}

/// One group's figures while scanning.
#[derive(Debug, Default, Clone)]
pub struct Acc {
    pub calls: u64,
    pub errors: u64,
    pub blocked: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Microseconds.
    pub durations: Vec<u64>,
}

/// The figures of every group.
#[derive(Debug)]
pub struct Stats {
    keys: Vec<By>,
    groups: HashMap<String, (Vec<String>, Acc)>,
    scratch: String,
}

impl Stats {
    /// Empty figures grouped by `by` (see [`group_keys`]).
    pub fn new(by: &[By]) -> Stats {
        Stats {
            keys: group_keys(by),
            groups: HashMap::new(),
            scratch: String::new(),
        }
    }

    /// Counts one event.
    pub fn add(&mut self, e: &EventView<'_>) {
        let kind: &str = &e.kind;
        let is_call = kind == "tool_call";
        let is_answer = !is_call && e.is_tool_answer();
        let is_blocked = kind == "policy_blocked" && e.outcome == "blocked";
        if !(is_call || is_answer || is_blocked) {
            return;
        }
        self.scratch.clear();
        for k in &self.keys {
            self.scratch.push_str(k.of(e));
            self.scratch.push('\u{1f}');
        }
        if !self.groups.contains_key(self.scratch.as_str()) {
            let parts = self.keys.iter().map(|k| k.of(e).to_owned()).collect();
            self.groups
                .insert(self.scratch.clone(), (parts, Acc::default()));
        }
        let acc = &mut self
            .groups
            .get_mut(self.scratch.as_str())
            .expect("inserted")
            .1;
        if is_call {
            acc.calls += 1;
            acc.bytes_in += e.details.arguments_bytes.unwrap_or(0);
        } else if is_answer {
            acc.errors += u64::from(e.outcome == "failure");
            acc.bytes_out += e.details.result_bytes.unwrap_or(0);
            acc.durations.extend(e.duration_us());
        } else {
            acc.blocked += 1;
        }
    }

    /// Adds `other`'s figures (another file's) to these.
    pub fn merge(&mut self, other: Stats) {
        for (key, (parts, acc)) in other.groups {
            let mine = &mut self
                .groups
                .entry(key)
                .or_insert_with(|| (parts, Acc::default()))
                .1;
            mine.calls += acc.calls;
            mine.errors += acc.errors;
            mine.blocked += acc.blocked;
            mine.bytes_in += acc.bytes_in;
            mine.bytes_out += acc.bytes_out;
            mine.durations.extend(acc.durations);
        }
    }

    /// The columns of [`Stats::rows`], in the order to show them.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut c = vec!["server", "tool"];
        for k in &self.keys {
            if !c.contains(&k.name()) {
                c.push(k.name());
            }
        }
        c.extend(FIGURES);
        c
    }

    /// The rows, as JSON objects, sorted by their keys: `server` and `tool`
    /// (null when not grouped by them), each other `--by` key, `calls`,
    /// `errors`, `error_rate`, `blocked`, `p50_ms`, `p95_ms`, `p99_ms`,
    /// `max_ms` (null without durations), `bytes_in`, `bytes_out`.
    pub fn rows(self) -> Vec<Map<String, Value>> {
        let mut groups: Vec<(Vec<String>, Acc)> = self.groups.into_values().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
            .into_iter()
            .map(|(parts, mut acc)| {
                let mut row = Map::new();
                for name in ["server", "tool"] {
                    row.insert(name.into(), Value::Null);
                }
                for (k, v) in self.keys.iter().zip(parts) {
                    row.insert(k.name().into(), Value::String(v));
                }
                acc.durations.sort_unstable();
                let pct = |p| percentile_ms(&acc.durations, p);
                let rate = if acc.calls == 0 {
                    0.0
                } else {
                    acc.errors as f64 / acc.calls as f64
                };
                for (k, v) in [
                    ("calls", json!(acc.calls)),
                    ("errors", json!(acc.errors)),
                    ("error_rate", json!((rate * 10_000.0).round() / 10_000.0)),
                    ("blocked", json!(acc.blocked)),
                    ("p50_ms", json!(pct(50))),
                    ("p95_ms", json!(pct(95))),
                    ("p99_ms", json!(pct(99))),
                    ("max_ms", json!(pct(100))),
                    ("bytes_in", json!(acc.bytes_in)),
                    ("bytes_out", json!(acc.bytes_out)),
                ] {
                    row.insert(k.into(), v);
                }
                row
            })
            .collect()
    }
}

/// The figures of a row, after its keys.
pub const FIGURES: [&str; 10] = [
    "calls",
    "errors",
    "error_rate",
    "blocked",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "bytes_in",
    "bytes_out",
];

/// The nearest-rank `p`th percentile of sorted microseconds, in
/// milliseconds: the smallest value with at least `p`% of values at or
/// below it.
pub fn percentile_ms(sorted_us: &[u64], p: u64) -> Option<f64> {
    let n = sorted_us.len() as u64;
    if n == 0 {
        return None;
    }
    let rank = (p * n).div_ceil(100).max(1);
    Some(sorted_us[(rank - 1) as usize] as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile_ms(&v, 50), Some(50.0));
        assert_eq!(percentile_ms(&v, 95), Some(95.0));
        assert_eq!(percentile_ms(&v, 100), Some(100.0));
        assert_eq!(percentile_ms(&[7], 1), Some(0.007));
        assert_eq!(percentile_ms(&[1, 2, 3], 50), Some(0.002));
        assert_eq!(percentile_ms(&[], 50), None);
    }

    #[test]
    fn counts_calls_answers_and_blocks_per_tool() {
        let lines = [
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"tool_call","outcome":"pending","server":"fs","tool":"read","details":{"arguments_bytes":10}}"#,
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"tool_result","outcome":"success","server":"fs","tool":"read","call_event_id":"c","duration_ms":2.5,"details":{"result_bytes":100}}"#,
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"tool_call","outcome":"pending","server":"fs","tool":"read","details":{"arguments_bytes":5}}"#,
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"tool_error","outcome":"failure","server":"fs","tool":"read","call_event_id":"d","duration_ms":7.25}"#,
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"policy_blocked","outcome":"blocked","server":"fs","tool":"rm"}"#,
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"session_start","server":"fs"}"#,
        ];
        let mut stats = Stats::new(&[]);
        for l in lines {
            stats.add(&EventView::parse(l.as_bytes()).unwrap());
        }
        let rows = stats.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            Value::Object(rows[0].clone()),
            json!({"server":"fs","tool":"read","calls":2,"errors":1,"error_rate":0.5,"blocked":0,
                   "p50_ms":2.5,"p95_ms":7.25,"p99_ms":7.25,"max_ms":7.25,"bytes_in":15,"bytes_out":100})
        );
        assert_eq!(rows[1]["blocked"], 1);
        assert_eq!(rows[1]["p50_ms"], Value::Null);
    }

    #[test]
    fn keys_follow_by() {
        assert_eq!(group_keys(&[]), vec![By::Server, By::Tool]);
        assert_eq!(
            group_keys(&[By::Day, By::Tool]),
            vec![By::Server, By::Tool, By::Day]
        );
        assert_eq!(group_keys(&[By::User]), vec![By::User]);
    }
}
