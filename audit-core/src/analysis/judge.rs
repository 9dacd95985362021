//! From a [`Tally`] to [`Finding`]s: one function per method, each with
//! its thresholds as named constants (docs/analysis.md states them).

use std::collections::HashMap;

use super::anomalies::{Claim, Finding, Noted, Severity, Tally};
use crate::trail::stats::percentile_ms;

/// An error spike: an hour of a tool with at least this many answers …
pub const SPIKE_MIN_ANSWERS: u64 = 10;
/// … whose error rate is at least this many times the tool's rate in its other hours …
pub const SPIKE_FACTOR: f64 = 5.0;
/// … and at least this much above it.
pub const SPIKE_MIN_RISE: f64 = 0.25;
/// A call-rate spike: an hour with at least this many calls and
/// [`CALL_SPIKE_FACTOR`] times the median of the tool's active hours.
pub const CALL_SPIKE_MIN_CALLS: u64 = 50;
pub const CALL_SPIKE_FACTOR: u64 = 10;
/// A slow call: slower than this many times the tool's p99 (tools with at
/// least [`SLOW_MIN_ANSWERS`] timed answers).
pub const SLOW_FACTOR: u64 = 10;
pub const SLOW_MIN_ANSWERS: usize = 100;
/// A burst: a user's minute with at least this many calls and
/// [`BURST_FACTOR`] times the median of the user's active minutes.
pub const BURST_MIN_CALLS: u64 = 60;
pub const BURST_FACTOR: u64 = 10;
/// An unusual hour needs a baseline of at least this many calls.
pub const HOURS_MIN_BASELINE: u64 = 100;
/// Repeated refusals: this many refused calls in one session.
pub const REFUSALS_MIN: u64 = 5;

/// Every method's findings.
pub(super) fn judge(t: Tally) -> Vec<Finding> {
    let end = baseline_end(&t);
    let mut out = Vec::new();
    if let Some(end) = &end {
        new_tools(&t, end, &mut out);
        unusual_hours(&t, end, &mut out);
    }
    error_spikes(&t, &mut out);
    call_spikes(&t, &mut out);
    slow_calls(&t, &mut out);
    bursts(&t, &mut out);
    refusals(&t, &mut out);
    noted(
        &t.changes,
        "tool_changed",
        "the definition of tool `{}` changed",
        &mut out,
    );
    noted(
        &t.secrets,
        "secret_in_result",
        "a secret was redacted from a result of `{}`",
        &mut out,
    );
    out
}

/// The first day after the baseline: the baseline is the first half of the
/// days the trail covers; `None` with fewer than two days.
fn baseline_end(t: &Tally) -> Option<String> {
    let days: Vec<&String> = t.days.iter().collect();
    (days.len() >= 2).then(|| days[days.len() / 2].clone())
}

fn finding(
    severity: Severity,
    kind: &'static str,
    subject: String,
    at: String,
    explanation: String,
    claim: Claim,
) -> Finding {
    Finding {
        severity,
        kind,
        subject,
        at,
        explanation,
        event_ids: Vec::new(),
        claim,
    }
}

fn new_tools(t: &Tally, end: &str, out: &mut Vec<Finding>) {
    let mut active: HashMap<&str, bool> = HashMap::new();
    for ((user, _), first) in &t.first_use {
        *active.entry(user).or_default() |= **first < *end;
    }
    for ((user, tool), first) in &t.first_use {
        if **first >= *end && active.get(user.as_str()) == Some(&true) {
            out.push(finding(
                Severity::Medium,
                "new_tool",
                format!("{user} / {tool}"),
                first.clone(),
                format!(
                    "user `{user}` called `{tool}` for the first time after a baseline without it"
                ),
                Claim::UserTool {
                    user: user.clone(),
                    tool: tool.clone(),
                    from: first.clone(),
                },
            ));
        }
    }
}

fn error_spikes(t: &Tally, out: &mut Vec<Finding>) {
    let mut totals: HashMap<(&str, &str), (u64, u64)> = HashMap::new();
    for ((s, tool, _), h) in &t.tool_hours {
        let e = totals.entry((s, tool)).or_default();
        e.0 += h.answers;
        e.1 += h.errors;
    }
    for ((s, tool, hour), h) in &t.tool_hours {
        if h.answers < SPIKE_MIN_ANSWERS {
            continue;
        }
        let (answers, errors) = totals[&(s.as_str(), tool.as_str())];
        let rest = answers - h.answers;
        let base = if rest == 0 {
            0.0
        } else {
            (errors - h.errors) as f64 / rest as f64
        };
        let rate = h.errors as f64 / h.answers as f64;
        if rate >= SPIKE_FACTOR * base && rate - base >= SPIKE_MIN_RISE {
            out.push(finding(
                Severity::High,
                "error_spike",
                format!("{s} / {tool}"),
                hour.clone(),
                format!("{:.0}% of {} answers failed in this hour against {:.1}% in the tool's other hours", rate * 100.0, h.answers, base * 100.0),
                Claim::ToolHourErrors { server: s.clone(), tool: tool.clone(), hour: hour.clone() },
            ));
        }
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

fn call_spikes(t: &Tally, out: &mut Vec<Finding>) {
    let mut per_tool: HashMap<(&str, &str), Vec<u64>> = HashMap::new();
    for ((s, tool, _), h) in &t.tool_hours {
        if h.calls > 0 {
            per_tool.entry((s, tool)).or_default().push(h.calls);
        }
    }
    let medians: HashMap<_, u64> = per_tool.into_iter().map(|(k, v)| (k, median(v))).collect();
    for ((s, tool, hour), h) in &t.tool_hours {
        let m = medians
            .get(&(s.as_str(), tool.as_str()))
            .copied()
            .unwrap_or(0);
        if h.calls >= CALL_SPIKE_MIN_CALLS && h.calls >= CALL_SPIKE_FACTOR * m.max(1) {
            out.push(finding(
                Severity::Medium,
                "call_spike",
                format!("{s} / {tool}"),
                hour.clone(),
                format!(
                    "{} calls in this hour against a median of {m} in the tool's active hours",
                    h.calls
                ),
                Claim::ToolHourCalls {
                    server: s.clone(),
                    tool: tool.clone(),
                    hour: hour.clone(),
                },
            ));
        }
    }
}

fn slow_calls(t: &Tally, out: &mut Vec<Finding>) {
    for ((s, tool), d) in &t.durations {
        if d.len() < SLOW_MIN_ANSWERS {
            continue;
        }
        let mut sorted = d.clone();
        sorted.sort_unstable();
        let p99_us = (percentile_ms(&sorted, 99).unwrap_or(0.0) * 1000.0).round() as u64;
        let min_us = p99_us.saturating_mul(SLOW_FACTOR);
        let over = sorted.iter().filter(|x| **x > min_us).count();
        if over > 0 {
            out.push(finding(
                Severity::Low,
                "slow_call",
                format!("{s} / {tool}"),
                String::new(),
                format!(
                    "{over} answers took over {SLOW_FACTOR}× the tool's p99 ({} ms)",
                    p99_us as f64 / 1000.0
                ),
                Claim::Slower {
                    server: s.clone(),
                    tool: tool.clone(),
                    min_us,
                },
            ));
        }
    }
}

fn bursts(t: &Tally, out: &mut Vec<Finding>) {
    let mut per_user: HashMap<&str, Vec<u64>> = HashMap::new();
    for ((user, _), n) in &t.user_minutes {
        per_user.entry(user).or_default().push(*n);
    }
    let medians: HashMap<_, u64> = per_user.into_iter().map(|(k, v)| (k, median(v))).collect();
    for ((user, minute), n) in &t.user_minutes {
        let m = medians.get(user.as_str()).copied().unwrap_or(0);
        if *n >= BURST_MIN_CALLS && *n >= BURST_FACTOR * m.max(1) {
            out.push(finding(
                Severity::Medium,
                "burst",
                user.clone(),
                minute.clone(),
                format!("user `{user}` made {n} calls in one minute against a median of {m} in their active minutes"),
                Claim::UserMinute { user: user.clone(), minute: minute.clone() },
            ));
        }
    }
}

fn unusual_hours(t: &Tally, end: &str, out: &mut Vec<Finding>) {
    let mut base: HashMap<&str, [u64; 24]> = HashMap::new();
    for ((user, hour), n) in &t.user_hours {
        if **hour < *end {
            base.entry(user).or_insert([0; 24])[hour_of_day(hour)] += n;
        }
    }
    let mut seen: HashMap<(&str, usize), (String, u64)> = HashMap::new();
    for ((user, hour), n) in &t.user_hours {
        let Some(b) = base.get(user.as_str()) else {
            continue;
        };
        let h = hour_of_day(hour);
        if **hour >= *end && b.iter().sum::<u64>() >= HOURS_MIN_BASELINE && b[h] == 0 {
            let e = seen.entry((user, h)).or_insert_with(|| (hour.clone(), 0));
            e.1 += n;
            if *hour < e.0 {
                e.0 = hour.clone();
            }
        }
    }
    for ((user, h), (first, n)) in seen {
        out.push(finding(
            Severity::Medium,
            "unusual_hour",
            user.to_owned(),
            first,
            format!("user `{user}` made {n} calls at {h:02}:00 UTC, an hour without calls in their baseline"),
            Claim::UserHourOfDay { user: user.to_owned(), hour: format!("{h:02}"), from: end.to_owned() },
        ));
    }
}

fn hour_of_day(hour: &str) -> usize {
    hour.get(11..13)
        .and_then(|h| h.parse().ok())
        .filter(|h| *h < 24)
        .unwrap_or(0)
}

fn refusals(t: &Tally, out: &mut Vec<Finding>) {
    for (session, (user, n)) in &t.refusals {
        if *n >= REFUSALS_MIN {
            out.push(finding(
                Severity::Medium,
                "repeated_refusals",
                session.clone(),
                String::new(),
                format!("the policy refused {n} calls of user `{user}` in one session"),
                Claim::SessionBlocked {
                    session: session.clone(),
                },
            ));
        }
    }
}

fn noted(list: &[Noted], kind: &'static str, what: &str, out: &mut Vec<Finding>) {
    for n in list {
        let mut f = finding(
            Severity::High,
            kind,
            format!("{} / {}", n.server, n.tool),
            n.at.clone(),
            format!("{} (user `{}`)", what.replace("{}", &n.tool), n.user),
            Claim::Ids,
        );
        f.event_ids.push(n.event_id.clone());
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trail::view::EventView;

    fn call(ts: &str, user: &str, tool: &str) -> String {
        format!(
            r#"{{"event_id":"{ts}","timestamp":"{ts}","type":"tool_call","server":"s","user":"{user}","tool":"{tool}"}}"#
        )
    }

    #[test]
    fn baseline_is_the_first_half_of_the_days() {
        let mut t = Tally::default();
        for d in ["2026-11-01", "2026-11-02", "2026-11-03"] {
            t.add(
                &EventView::parse(call(&format!("{d}T10:00:00.000Z"), "u", "a").as_bytes())
                    .unwrap(),
            );
        }
        assert_eq!(baseline_end(&t).as_deref(), Some("2026-11-02"));
        assert_eq!(median(vec![5, 1, 3, 2]), 2);
    }

    #[test]
    fn a_tool_new_after_the_baseline_is_found_once() {
        let mut t = Tally::default();
        for l in [
            call("2026-11-01T10:00:00.000Z", "u", "a"),
            call("2026-11-02T10:00:00.000Z", "u", "b"),
            call("2026-11-02T11:00:00.000Z", "u", "b"),
            call("2026-11-02T12:00:00.000Z", "v", "c"),
        ] {
            t.add(&EventView::parse(l.as_bytes()).unwrap());
        }
        let found = t.findings();
        let new: Vec<_> = found.iter().filter(|f| f.kind == "new_tool").collect();
        assert_eq!(new.len(), 1, "{found:?}");
        assert_eq!(new[0].subject, "u / b");
        assert_eq!(new[0].at, "2026-11-02T10:00:00.000Z");
    }
}
