//! `check`: declarative assertions a CI job states about a recorded session
//! ([`rules`]), evaluated over its audit events ([`input`]), reported as
//! text, JSON or JUnit XML ([`report`]).

pub mod input;
pub mod report;
pub mod rules;

use serde::Serialize;
use serde_json::Value;

use input::Loaded;
use rules::{as_text, id_of, is_tool, Rule, Test};

/// The verdict on one rule.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub rule: String,
    pub passed: bool,
    /// What was found, in a line.
    pub message: String,
    /// The `event_id`s behind a failure.
    pub events: Vec<String>,
}

/// Evaluates every rule over `session`.
pub fn evaluate(rules: &[Rule], session: &Loaded) -> Vec<Verdict> {
    rules.iter().map(|r| verdict(r, session)).collect()
}

fn verdict(rule: &Rule, s: &Loaded) -> Verdict {
    let events = &s.events;
    let (passed, message, ids) = match &rule.test {
        Test::Forbid(kind) => {
            let ids: Vec<String> = events
                .iter()
                .filter(|e| e["type"] == *kind)
                .map(id_of)
                .collect();
            (ids.is_empty(), format!("{} {kind} events", ids.len()), ids)
        }
        Test::EndedCleanly => holds(&s.clean_end, "ended cleanly"),
        Test::ChainVerifies => holds(&s.chain, "the hash chain verifies"),
        Test::MinCalls(tool, n) => count_calls(events, tool, |c| c >= *n),
        Test::MaxCalls(tool, n) => count_calls(events, tool, |c| c <= *n),
        Test::MaxDuration(tool, ms) => durations(events, tool, *ms),
        Test::Argument(tool, pointer, re) => {
            let calls = calls_of(events, tool);
            let bad: Vec<&Value> = calls
                .iter()
                .copied()
                .filter(|e| {
                    !e["arguments"]
                        .pointer(pointer)
                        .is_some_and(|v| re.is_match(&as_text(v)))
                })
                .collect();
            let message = format!(
                "{} of {} calls of {tool} do not match",
                bad.len(),
                calls.len()
            );
            (bad.is_empty(), message, ids_of(&bad))
        }
    };
    Verdict {
        rule: rule.name.clone(),
        passed,
        message,
        events: ids,
    }
}

type Found = (bool, String, Vec<String>);

fn holds(check: &Result<(), String>, ok: &str) -> Found {
    match check {
        Ok(()) => (true, ok.into(), vec![]),
        Err(why) => (false, why.clone(), vec![]),
    }
}

/// The calls of `tool`, failing with their ids when their count is not `ok`.
fn count_calls(events: &[Value], tool: &str, ok: impl Fn(u64) -> bool) -> Found {
    let calls = calls_of(events, tool);
    let passed = ok(calls.len() as u64);
    let ids = if passed { vec![] } else { ids_of(&calls) };
    (passed, format!("{} calls of {tool}", calls.len()), ids)
}

/// Answers of `tool` that took longer than `ms`.
fn durations(events: &[Value], tool: &str, ms: f64) -> Found {
    let slow: Vec<&Value> = events
        .iter()
        .filter(|e| is_tool(e, tool) && e["call_event_id"].is_string())
        .filter(|e| e["duration_ms"].as_f64().is_some_and(|d| d > ms))
        .collect();
    let worst = slow
        .iter()
        .filter_map(|e| e["duration_ms"].as_f64())
        .fold(0.0, f64::max);
    let message = if slow.is_empty() {
        format!("every answer within {ms} ms")
    } else {
        format!("{} answers over {ms} ms (slowest {worst} ms)", slow.len())
    };
    (slow.is_empty(), message, ids_of(&slow))
}

fn ids_of(events: &[&Value]) -> Vec<String> {
    events.iter().map(|e| id_of(e)).collect()
}

fn calls_of<'a>(events: &'a [Value], tool: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "tool_call" && is_tool(e, tool))
        .collect()
}

#[cfg(test)]
mod tests;
