//! The rules file of `check` and what each rule says about a session.
//!
//! ```toml
//! [forbid]                 # event types that fail the run (all on by default)
//! tool_error = true
//! rpc_error = true
//! protocol_violation = true
//! policy_blocked = true
//! tool_changed = true
//! secret_detected = true
//!
//! [session]
//! ended_cleanly = true     # on by default
//! chain_verifies = true    # on by default
//!
//! [[tool]]
//! name = "echo"            # a tool name, or "*" for every tool
//! min_calls = 1
//! max_calls = 3
//! never = false            # true: the tool must not be called at all
//! max_duration_ms = 5000   # each call's time to its answer
//! [[tool.argument]]        # every call's argument at `pointer` matches `regex`
//! pointer = "/message"
//! regex = "^hello"
//! ```

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("rules file: {0}")]
    Toml(String),
    #[error("rules file: tool `{tool}`: regex `{regex}`: {why}")]
    Regex {
        tool: String,
        regex: String,
        why: String,
    },
    #[error("rules file: tool `{tool}`: pointer `{pointer}` must be empty or start with `/`")]
    Pointer { tool: String, pointer: String },
}

/// The event types `[forbid]` can switch, in rule order.
pub(crate) const FORBIDDABLE: [&str; 6] = [
    "tool_error",
    "rpc_error",
    "protocol_violation",
    "policy_blocked",
    "tool_changed",
    "secret_detected",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    forbid: std::collections::BTreeMap<String, bool>,
    #[serde(default)]
    session: SessionRules,
    #[serde(default)]
    tool: Vec<ToolRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SessionRules {
    ended_cleanly: bool,
    chain_verifies: bool,
}

impl Default for SessionRules {
    fn default() -> Self {
        SessionRules {
            ended_cleanly: true,
            chain_verifies: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolRule {
    name: String,
    min_calls: Option<u64>,
    max_calls: Option<u64>,
    #[serde(default)]
    never: bool,
    max_duration_ms: Option<f64>,
    #[serde(default)]
    argument: Vec<ArgumentRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArgumentRule {
    pointer: String,
    regex: String,
}

/// What one rule tests.
#[derive(Debug)]
pub enum Test {
    Forbid(&'static str),
    EndedCleanly,
    ChainVerifies,
    MinCalls(String, u64),
    MaxCalls(String, u64),
    MaxDuration(String, f64),
    Argument(String, String, Regex),
}

/// One rule: its name (the JUnit test case) and its test.
#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub test: Test,
}

/// Parses a rules file into its rules, in a stable order.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, RulesError> {
    let file: File = toml::from_str(text).map_err(|e| RulesError::Toml(e.to_string()))?;
    if let Some(k) = file
        .forbid
        .keys()
        .find(|k| !FORBIDDABLE.contains(&k.as_str()))
    {
        return Err(RulesError::Toml(format!(
            "[forbid] has no `{k}`; valid: {}",
            FORBIDDABLE.join(", ")
        )));
    }
    let mut rules = Vec::new();
    for kind in FORBIDDABLE {
        if file.forbid.get(kind).copied().unwrap_or(true) {
            rules.push(rule(format!("no {kind}"), Test::Forbid(kind)));
        }
    }
    if file.session.ended_cleanly {
        rules.push(rule("session ended cleanly".into(), Test::EndedCleanly));
    }
    if file.session.chain_verifies {
        rules.push(rule("hash chain verifies".into(), Test::ChainVerifies));
    }
    for t in file.tool {
        tool_rules(t, &mut rules)?;
    }
    Ok(rules)
}

fn rule(name: String, test: Test) -> Rule {
    Rule { name, test }
}

fn tool_rules(t: ToolRule, rules: &mut Vec<Rule>) -> Result<(), RulesError> {
    let n = &t.name;
    if let Some(min) = t.min_calls {
        rules.push(rule(
            format!("tool {n}: called at least {min} times"),
            Test::MinCalls(n.clone(), min),
        ));
    }
    if let Some(max) = t.max_calls {
        rules.push(rule(
            format!("tool {n}: called at most {max} times"),
            Test::MaxCalls(n.clone(), max),
        ));
    }
    if t.never {
        rules.push(rule(
            format!("tool {n}: never called"),
            Test::MaxCalls(n.clone(), 0),
        ));
    }
    if let Some(ms) = t.max_duration_ms {
        rules.push(rule(
            format!("tool {n}: every call answered within {ms} ms"),
            Test::MaxDuration(n.clone(), ms),
        ));
    }
    for a in t.argument {
        if !(a.pointer.is_empty() || a.pointer.starts_with('/')) {
            return Err(RulesError::Pointer {
                tool: n.clone(),
                pointer: a.pointer,
            });
        }
        let re = Regex::new(&a.regex).map_err(|e| RulesError::Regex {
            tool: n.clone(),
            regex: a.regex.clone(),
            why: e.to_string(),
        })?;
        rules.push(rule(
            format!("tool {n}: argument {} matches /{}/", a.pointer, a.regex),
            Test::Argument(n.clone(), a.pointer, re),
        ));
    }
    Ok(())
}

/// Whether an event is about `tool` (`*`: any tool).
pub(crate) fn is_tool(e: &Value, tool: &str) -> bool {
    e["tool"].as_str().is_some_and(|t| tool == "*" || t == tool)
}

/// The event's id, for messages.
pub(crate) fn id_of(e: &Value) -> String {
    e["event_id"].as_str().unwrap_or("?").to_owned()
}

/// An argument value as the text a regex is matched against: a string as
/// it is, anything else as JSON.
pub(crate) fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
