//! The report's accumulators beyond `stats`: calls and errors per hour,
//! the duration histogram, the risk mix, the riskiest calls and the
//! policy decisions by rule. Each is bounded: by the hours the trail
//! spans, by a fixed number of buckets, or by [`TOP_RISKY`] calls.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::trail::view::{risk_rank, EventView};

/// How many riskiest calls the report lists.
pub const TOP_RISKY: usize = 10;

/// Power-of-two microsecond buckets of the duration histogram: bucket `i`
/// holds durations in `[2^(i-1), 2^i)` µs (bucket 0: zero).
const DURATION_BUCKETS: usize = 48;

/// The risk levels in the order shown, then calls without one.
pub const RISKS: [&str; 5] = ["low", "medium", "high", "critical", "unknown"];

/// Calls and errors per hour, durations, risks, risky calls, decisions.
#[derive(Debug, Default)]
pub struct Figures {
    /// `YYYY-MM-DDTHH` → (calls, errors).
    pub hours: BTreeMap<String, (u64, u64)>,
    pub durations: Histogram,
    /// Calls per entry of [`RISKS`].
    pub risks: [u64; 5],
    pub risky: Vec<RiskyCall>,
    /// Rule → (blocked, flagged by a dry run).
    pub decisions: BTreeMap<String, (u64, u64)>,
}

/// A `tool_call` kept among the riskiest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RiskyCall {
    pub rank: u8,
    pub time: String,
    pub event_id: String,
    pub risk: String,
    pub server: String,
    pub tool: String,
    pub user: String,
}

/// Answer durations in power-of-two buckets.
#[derive(Debug, Clone)]
pub struct Histogram(pub [u64; DURATION_BUCKETS]);

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram([0; DURATION_BUCKETS])
    }
}

impl Figures {
    /// Counts one event (`line` is read again for a `policy_blocked` rule).
    pub fn add(&mut self, e: &EventView<'_>, line: &[u8]) {
        let hour = e.timestamp.get(..13).unwrap_or(&e.timestamp);
        if e.kind == "tool_call" {
            self.hour(hour).0 += 1;
            let level = e.risk_level.as_deref().unwrap_or("");
            let i = risk_rank(level).map_or(4, usize::from);
            self.risks[i] += 1;
            if let Some(rank) = risk_rank(level) {
                self.keep_risky(RiskyCall {
                    rank,
                    time: e.timestamp.to_string(),
                    event_id: e.event_id.to_string(),
                    risk: level.to_owned(),
                    server: e.server.to_string(),
                    tool: e.tool().to_owned(),
                    user: e.user.to_string(),
                });
            }
        } else if e.is_tool_answer() {
            self.hour(hour).1 += u64::from(e.outcome == "failure");
            if let Some(us) = e.duration_us() {
                let i = (u64::BITS - us.leading_zeros()) as usize;
                self.durations.0[i.min(DURATION_BUCKETS - 1)] += 1;
            }
        } else if e.kind == "policy_blocked" {
            let d = self.decisions.entry(rule_of(line)).or_default();
            if e.outcome == "blocked" {
                d.0 += 1;
            } else {
                d.1 += 1;
            }
        }
    }

    fn hour(&mut self, hour: &str) -> &mut (u64, u64) {
        if !self.hours.contains_key(hour) {
            self.hours.insert(hour.to_owned(), (0, 0));
        }
        self.hours.get_mut(hour).expect("inserted")
    }

    fn keep_risky(&mut self, call: RiskyCall) {
        if self.risky.len() >= TOP_RISKY && self.risky.last().is_some_and(|l| call <= *l) {
            return;
        }
        let at = self.risky.partition_point(|c| *c > call);
        self.risky.insert(at, call);
        self.risky.truncate(TOP_RISKY);
    }

    /// Adds another file's figures.
    pub fn merge(&mut self, other: Figures) {
        for (h, (c, e)) in other.hours {
            let mine = self.hour(&h);
            mine.0 += c;
            mine.1 += e;
        }
        for (a, b) in self.durations.0.iter_mut().zip(other.durations.0) {
            *a += b;
        }
        for (a, b) in self.risks.iter_mut().zip(other.risks) {
            *a += b;
        }
        for call in other.risky {
            self.keep_risky(call);
        }
        for (rule, (b, f)) in other.decisions {
            let d = self.decisions.entry(rule).or_default();
            d.0 += b;
            d.1 += f;
        }
    }

    /// Calls and errors over time, gaps filled with zeros: per hour, or
    /// per day when the trail spans more than `MAX_HOURLY` hours (and
    /// not filled past `MAX_POINTS`): `at`, `calls`, `errors`.
    pub fn timeline_json(&self) -> Value {
        let daily = self.hours.len() > MAX_HOURLY
            || span_hours(&self.hours).is_some_and(|h| h > MAX_HOURLY as i64);
        let mut points: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (h, (c, e)) in &self.hours {
            let key = if daily {
                format!("{}T00", h.get(..10).unwrap_or(h))
            } else {
                h.clone()
            };
            let p = points.entry(key).or_default();
            p.0 += c;
            p.1 += e;
        }
        let step = if daily { Duration::DAY } else { Duration::HOUR };
        let bounds = points.keys().next().zip(points.keys().next_back());
        if let Some((first, last)) =
            bounds.and_then(|(a, b)| Some((hour_start(a)?, hour_start(b)?)))
        {
            if (last - first).whole_seconds() / step.whole_seconds() < MAX_POINTS {
                let mut t = first;
                while t <= last {
                    points.entry(hour_key(t)).or_default();
                    t += step;
                }
            }
        }
        points
            .iter()
            .map(|(k, (c, e))| json!({"at": format!("{k}:00Z"), "calls": c, "errors": e}))
            .collect()
    }

    /// The risk mix as JSON: `risk` and `calls`, lowest risk first.
    pub fn risk_json(&self) -> Value {
        RISKS
            .iter()
            .zip(self.risks)
            .map(|(risk, calls)| json!({"risk": risk, "calls": calls}))
            .collect()
    }

    /// The riskiest calls, riskiest then latest first.
    pub fn risky_json(&self) -> Value {
        self.risky
            .iter()
            .map(|c| {
                json!({"time": c.time, "risk": c.risk, "server": c.server, "tool": c.tool,
                       "user": c.user, "event_id": c.event_id})
            })
            .collect()
    }

    /// Decisions per rule: `rule`, `blocked`, `flagged` (dry run).
    pub fn decisions_json(&self) -> Value {
        self.decisions
            .iter()
            .map(|(rule, (b, f))| json!({"rule": rule, "blocked": b, "flagged": f}))
            .collect()
    }

    /// The histogram from its first to its last non-empty bucket:
    /// `from_ms`, `to_ms` (exclusive), `answers`.
    pub fn durations_json(&self) -> Value {
        let h = &self.durations.0;
        let (Some(lo), Some(hi)) = (
            h.iter().position(|&n| n > 0),
            h.iter().rposition(|&n| n > 0),
        ) else {
            return json!([]);
        };
        (lo..=hi)
            .map(|i| {
                let from = if i == 0 { 0 } else { 1u64 << (i - 1) };
                json!({"from_ms": from as f64 / 1000.0, "to_ms": (1u64 << i) as f64 / 1000.0,
                       "answers": h[i]})
            })
            .collect()
    }
}

/// Hours shown one by one; a longer trail is shown per day.
const MAX_HOURLY: usize = 96;
/// Gaps are filled with zeros up to this many points.
const MAX_POINTS: i64 = 2_000;

fn hour_start(key: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(&format!("{key}:00:00Z"), &Rfc3339).ok()
}

fn hour_key(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour()
    )
}

fn span_hours(hours: &BTreeMap<String, (u64, u64)>) -> Option<i64> {
    let first = hour_start(hours.keys().next()?)?;
    let last = hour_start(hours.keys().next_back()?)?;
    Some((last - first).whole_hours())
}

/// `details.rule` of a `policy_blocked` line, or `(no rule)`.
fn rule_of(line: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(default)]
        details: Details,
    }
    #[derive(Default, serde::Deserialize)]
    struct Details {
        rule: Option<String>,
    }
    serde_json::from_slice::<Line>(line)
        .ok()
        .and_then(|l| l.details.rule)
        .unwrap_or_else(|| "(no rule)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(f: &mut Figures, line: &str) {
        f.add(&EventView::parse(line.as_bytes()).unwrap(), line.as_bytes());
    }

    #[test]
    fn counts_hours_risks_durations_and_rules() {
        let mut f = Figures::default();
        add(
            &mut f,
            r#"{"event_id":"a","timestamp":"2026-01-01T03:10:00.000Z","type":"tool_call","tool":"rm","risk_level":"critical"}"#,
        );
        add(
            &mut f,
            r#"{"event_id":"b","timestamp":"2026-01-01T03:20:00.000Z","type":"tool_call","tool":"ls"}"#,
        );
        add(
            &mut f,
            r#"{"timestamp":"2026-01-01T04:00:00.000Z","type":"tool_error","outcome":"failure","call_event_id":"a","duration_ms":3.0}"#,
        );
        add(
            &mut f,
            r#"{"timestamp":"2026-01-01T04:00:00.000Z","type":"policy_blocked","outcome":"blocked","details":{"rule":"no-rm"}}"#,
        );
        add(
            &mut f,
            r#"{"timestamp":"2026-01-01T04:00:00.000Z","type":"policy_blocked","outcome":"pending","details":{"rule":"no-rm","dry_run":true}}"#,
        );
        assert_eq!(f.hours["2026-01-01T03"], (2, 0));
        assert_eq!(f.hours["2026-01-01T04"], (0, 1));
        assert_eq!(f.risks, [0, 0, 0, 1, 1]);
        assert_eq!(f.decisions["no-rm"], (1, 1));
        let d = f.durations_json();
        assert_eq!(d.as_array().unwrap().len(), 1);
        assert_eq!(d[0]["answers"], 1);
        assert!(d[0]["from_ms"].as_f64().unwrap() <= 3.0 && d[0]["to_ms"].as_f64().unwrap() > 3.0);
        assert_eq!(f.risky_json()[0]["event_id"], "a");
        let t = f.timeline_json();
        assert_eq!(
            t[0],
            json!({"at": "2026-01-01T03:00Z", "calls": 2, "errors": 0})
        );
        assert_eq!(t[1]["errors"], 1);
    }

    #[test]
    fn timeline_fills_gaps_and_goes_daily_over_long_spans() {
        let mut f = Figures::default();
        f.hours.insert("2026-01-01T00".into(), (1, 0));
        f.hours.insert("2026-01-01T03".into(), (2, 1));
        let t = f.timeline_json();
        assert_eq!(t.as_array().unwrap().len(), 4);
        assert_eq!(t[1]["calls"], 0);
        f.hours.insert("2026-01-10T05".into(), (4, 0));
        let t = f.timeline_json();
        assert_eq!(t.as_array().unwrap().len(), 10);
        assert_eq!(
            t[0],
            json!({"at": "2026-01-01T00:00Z", "calls": 3, "errors": 1})
        );
    }

    #[test]
    fn keeps_the_riskiest_calls_whatever_the_order() {
        let mut a = Figures::default();
        let mut b = Figures::default();
        for i in 0..40u32 {
            let risk = ["low", "medium", "high", "critical"][(i % 4) as usize];
            let line = format!(
                r#"{{"event_id":"e{i:02}","timestamp":"2026-01-01T00:00:{i:02}.000Z","type":"tool_call","tool":"t","risk_level":"{risk}"}}"#
            );
            add(if i % 2 == 0 { &mut a } else { &mut b }, &line);
        }
        a.merge(b);
        assert_eq!(a.risky.len(), TOP_RISKY);
        assert!(a.risky.iter().all(|c| c.rank == 3));
        assert_eq!(a.risky[0].event_id, "e39");
    }
}
