//! One policy rule compiled for matching: its server glob, tool pattern and
//! argument patterns, built from the [`RuleSpec`] the settings hold.

use globset::{Glob, GlobMatcher};
use regex::Regex;
use serde_json::Value;

pub use crate::config::rules::{risk_name, Action, RuleSpec, ToolPattern, KNOWN_TAGS, RULE_KEYS};
use crate::config::value::one_line;
use crate::config::Source;
use crate::event::RiskLevel;

use super::PolicyError;

/// One argument condition: the value at a JSON pointer matches a regex.
/// Strings are matched as they are; other values as their JSON text.
#[derive(Debug, Clone)]
pub struct ArgumentPattern {
    pub pointer: String,
    pub regex: Regex,
}

impl ArgumentPattern {
    /// Whether `arguments` has a value at the pointer that matches.
    pub fn matches(&self, arguments: &Value) -> bool {
        match arguments.pointer(&self.pointer) {
            Some(Value::String(s)) => self.regex.is_match(s),
            Some(other) => self.regex.is_match(&other.to_string()),
            None => false,
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `name`, or its position (`rules[2]`, `servers.github.rules[1]`).
    pub name: String,
    /// Glob on the server name; `None` matches every server.
    pub server: Option<(String, GlobMatcher)>,
    pub tool: ToolPattern,
    /// All must match (and `tools/call` must have arguments).
    pub arguments: Vec<ArgumentPattern>,
    pub risk_level: Option<RiskLevel>,
    pub compliance_tags: Vec<String>,
    /// `None`: the policy's `default_action`.
    pub action: Option<Action>,
    pub source: Source,
}

impl Rule {
    /// Compiles a rule as the settings hold it.
    pub fn compile(spec: &RuleSpec) -> Result<Rule, PolicyError> {
        let bad = |message: String| PolicyError::Rule {
            rule: spec.name.clone(),
            message,
        };
        let server = match &spec.server {
            Some(g) => {
                let glob =
                    Glob::new(g).map_err(|e| bad(format!("invalid glob: {}", one_line(&e))))?;
                Some((g.clone(), glob.compile_matcher()))
            }
            None => None,
        };
        let mut arguments = Vec::with_capacity(spec.arguments.len());
        for (pointer, regex) in &spec.arguments {
            let regex =
                Regex::new(regex).map_err(|e| bad(format!("invalid regex: {}", one_line(&e))))?;
            arguments.push(ArgumentPattern {
                pointer: pointer.clone(),
                regex,
            });
        }
        Ok(Rule {
            name: spec.name.clone(),
            server,
            tool: spec.tool.clone(),
            arguments,
            risk_level: spec.risk_level,
            compliance_tags: spec.compliance_tags.clone(),
            action: spec.action,
            source: spec.source.clone(),
        })
    }

    /// Whether the rule applies to calls on `server`.
    pub fn matches_server(&self, server: &str) -> bool {
        self.server
            .as_ref()
            .map_or(true, |(_, g)| g.is_match(server))
    }

    /// Whether every argument pattern matches `arguments`.
    pub fn matches_arguments(&self, arguments: Option<&Value>) -> bool {
        if self.arguments.is_empty() {
            return true;
        }
        arguments.is_some_and(|a| self.arguments.iter().all(|p| p.matches(a)))
    }
}
