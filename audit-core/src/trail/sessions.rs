//! `sessions`: one row per session, from its `session_start`, its tool
//! events and its `session_end`: start, server, user, host, client, era,
//! calls, errors, blocked, duration, how it ended, and (from
//! [`crate::verify`]) whether its chain verifies.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::view::EventView;

/// One session's figures while scanning.
#[derive(Debug, Default, Clone)]
pub struct SessionRow {
    pub session_id: String,
    pub start: Option<String>,
    pub server: String,
    pub user: String,
    pub host: Option<String>,
    pub client: Option<String>,
    pub era: Option<String>,
    pub calls: u64,
    pub errors: u64,
    pub blocked: u64,
    pub duration_ms: Option<f64>,
    /// `details.reason` of `session_end`, with the exit code; `None` while
    /// the session has no end.
    pub end: Option<String>,
    /// The first timestamp seen, for order when `session_start` is gone.
    pub first_seen: String,
}

/// Every session of a scan.
#[derive(Debug, Default)]
pub struct Sessions {
    rows: HashMap<String, SessionRow>,
}

impl Sessions {
    /// Counts one event (`line` is parsed again for `session_start` and
    /// `session_end`, whose details are read whole).
    pub fn add(&mut self, e: &EventView<'_>, line: &[u8]) {
        // Looked up by `&str` first: most events belong to a known session,
        // and a key is allocated only for a new one.
        if !self.rows.contains_key(&*e.session_id) {
            let row = SessionRow {
                session_id: e.session_id.to_string(),
                server: e.server.to_string(),
                user: e.user.to_string(),
                first_seen: e.timestamp.to_string(),
                ..SessionRow::default()
            };
            self.rows.insert(e.session_id.to_string(), row);
        }
        let row = self.rows.get_mut(&*e.session_id).expect("inserted");
        if *e.timestamp < *row.first_seen {
            row.first_seen = e.timestamp.to_string();
        }
        match &*e.kind {
            "tool_call" => row.calls += 1,
            "policy_blocked" if e.outcome == "blocked" => row.blocked += 1,
            "session_start" => read_start(row, e, line),
            "session_end" => read_end(row, e, line),
            _ if e.is_tool_answer() && e.outcome == "failure" => row.errors += 1,
            _ => {}
        }
    }

    /// Adds another file's sessions to these.
    pub fn merge(&mut self, other: Sessions) {
        for (id, o) in other.rows {
            let Some(row) = self.rows.get_mut(&id) else {
                self.rows.insert(id, o);
                continue;
            };
            row.calls += o.calls;
            row.errors += o.errors;
            row.blocked += o.blocked;
            if o.first_seen < row.first_seen {
                row.first_seen = o.first_seen;
            }
            row.start = row.start.take().or(o.start);
            row.host = row.host.take().or(o.host);
            row.client = row.client.take().or(o.client);
            row.era = row.era.take().or(o.era);
            row.duration_ms = row.duration_ms.or(o.duration_ms);
            row.end = row.end.take().or(o.end);
        }
    }

    /// The sessions in order of their first event.
    pub fn into_rows(self) -> Vec<SessionRow> {
        let mut rows: Vec<SessionRow> = self.rows.into_values().collect();
        rows.sort_by(|a, b| (&a.first_seen, &a.session_id).cmp(&(&b.first_seen, &b.session_id)));
        rows
    }
}

/// The columns of [`SessionRow::to_json`], in the order to show them.
pub const SESSION_COLUMNS: [&str; 13] = [
    "session",
    "start",
    "server",
    "user",
    "host",
    "client",
    "era",
    "calls",
    "errors",
    "blocked",
    "duration_ms",
    "end",
    "verified",
];

impl SessionRow {
    /// The row as a JSON object; `verified` is the verify verdict, if asked.
    pub fn to_json(&self, verified: Option<bool>) -> Map<String, Value> {
        let v = json!({
            "session": self.session_id,
            "start": self.start.as_deref().unwrap_or(&self.first_seen),
            "server": self.server,
            "user": self.user,
            "host": self.host,
            "client": self.client,
            "era": self.era,
            "calls": self.calls,
            "errors": self.errors,
            "blocked": self.blocked,
            "duration_ms": self.duration_ms,
            "end": self.end.as_deref().unwrap_or("running or cut short"),
            "verified": verified.map(|ok| if ok { "ok" } else { "BROKEN" }),
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!("json! of an object"),
        }
    }
}

fn details(line: &[u8]) -> Value {
    serde_json::from_slice::<Value>(line)
        .ok()
        .and_then(|mut v| v.get_mut("details").map(Value::take))
        .unwrap_or(Value::Null)
}

fn read_start(row: &mut SessionRow, e: &EventView<'_>, line: &[u8]) {
    let d = details(line);
    let text = |v: &Value| v.as_str().map(str::to_owned);
    row.start = Some(e.timestamp.to_string());
    row.era = text(&d["era"]);
    row.host = text(&d["host"]).or_else(|| text(&d["hostname"]));
    row.client = d["client"]["name"]
        .as_str()
        .map(|name| match d["client"]["version"].as_str() {
            Some(v) => format!("{name} {v}"),
            None => name.to_owned(),
        });
}

fn read_end(row: &mut SessionRow, e: &EventView<'_>, line: &[u8]) {
    let d = details(line);
    row.duration_ms = e.duration_ms;
    let reason = d["reason"].as_str().unwrap_or("ended");
    row.end = Some(match d["exit_code"].as_i64() {
        Some(code) => format!("{reason}, exit {code}"),
        None => reason.to_owned(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_session_from_its_events() {
        let lines = [
            r#"{"timestamp":"2026-01-01T00:00:01.000Z","type":"tool_call","session_id":"s1","server":"fs","user":"u"}"#,
            r#"{"timestamp":"2026-01-01T00:00:00.000Z","type":"session_start","session_id":"s1","server":"fs","user":"u","details":{"era":"handshake","client":{"name":"cli","version":"1"}}}"#,
            r#"{"timestamp":"2026-01-01T00:00:02.000Z","type":"tool_error","outcome":"failure","call_event_id":"c","session_id":"s1","server":"fs","user":"u"}"#,
            r#"{"timestamp":"2026-01-01T00:00:03.000Z","type":"session_end","session_id":"s1","server":"fs","user":"u","duration_ms":3000.0,"details":{"reason":"client_eof","exit_code":0}}"#,
            r#"{"timestamp":"2026-01-01T00:00:00.500Z","type":"tool_call","session_id":"s2","server":"db","user":"v"}"#,
        ];
        let mut a = Sessions::default();
        let mut b = Sessions::default();
        for (i, l) in lines.iter().enumerate() {
            let target = if i < 2 { &mut a } else { &mut b };
            target.add(&EventView::parse(l.as_bytes()).unwrap(), l.as_bytes());
        }
        a.merge(b);
        let rows = a.into_rows();
        assert_eq!(rows.len(), 2);
        let j = rows[0].to_json(Some(true));
        assert_eq!(j["session"], "s1");
        assert_eq!(j["client"], "cli 1");
        assert_eq!(j["era"], "handshake");
        assert_eq!(
            (j["calls"].as_u64(), j["errors"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(j["end"], "client_eof, exit 0");
        assert_eq!(j["verified"], "ok");
        assert_eq!(rows[1].to_json(None)["end"], "running or cut short");
    }
}
