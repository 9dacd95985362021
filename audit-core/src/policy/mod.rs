//! Policy: rules that annotate and decide `tools/call`s, and pinned tools.
//!
//! A [`Policy`] is built once per session from the [`Settings`]: its rules in
//! match order (the `[servers.NAME]` section's first, then the top-level
//! ones, each list in file order), the default action, dry-run and
//! `tools/list` filtering options, and — when pins are enforced — the pinned
//! tools of this server. **The first matching rule wins**: it alone supplies
//! the risk level, the compliance tags and the action; a rule without an
//! `action` takes the `default_action`. No matching rule: `default_action`.
//!
//! Tool patterns of all rules are compiled once into one `RegexSet`, so a
//! lookup is one pass over the tool name whatever the number of rules; server
//! globs and argument patterns are checked only on the candidates it yields.
//! (A byte `RegexSet`, because `globset` compiles globs to byte regexes.)
//!
//! The in-line enforcement on the relay's frames is [`gate::Gate`].

pub mod gate;
pub mod rule;

use std::path::PathBuf;

use regex::bytes::RegexSet;
use serde_json::Value;

pub use gate::{Gate, GateStats, Verdict, POLICY_ERROR_CODE};
pub use rule::{Action, ArgumentPattern, Rule, RuleSpec, ToolPattern};

use crate::config::{DefaultAction, Settings};
use crate::event::RiskLevel;
use crate::pin::{PinError, PinFile, PinStatus, ServerPins};

/// Rule name recorded when `default_action = "deny"` refused a call.
pub const DEFAULT_DENY_RULE: &str = "default_action=deny";

/// Options of a policy besides its rules.
#[derive(Debug, Clone, Copy)]
pub struct PolicyOptions {
    pub default_action: DefaultAction,
    /// Record what would be refused, refuse nothing.
    pub dry_run: bool,
    /// Remove denied tools from `tools/list` results.
    pub filter_tools_list: bool,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            default_action: DefaultAction::Audit,
            dry_run: false,
            filter_tools_list: false,
        }
    }
}

/// What the first matching rule says about a call, for its audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotation<'a> {
    pub risk_level: Option<RiskLevel>,
    pub compliance_tags: &'a [String],
    /// The effective action (the rule's, or the default action).
    pub action: Action,
    pub rule: &'a str,
}

/// Why a policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("rules: tool patterns cannot be compiled together: {0}")]
    Patterns(String),
    #[error("{rule}: {message}")]
    Rule { rule: String, message: String },
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error("{}: no pins for server {server:?}; run `mcp-blackbox pin --server-name {server} -- <server command>` first, or drop --enforce-pins", path.display())]
    NoPins { server: String, path: PathBuf },
}

/// The rules and pins of one session.
#[derive(Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    tool_patterns: RegexSet,
    options: PolicyOptions,
    /// Enforced pins of this server; `None` when pins are not enforced.
    pins: Option<ServerPins>,
    uses_arguments: bool,
}

impl Policy {
    /// A policy over `rules` (in match order). `pins`: enforce these.
    pub fn new(
        rules: Vec<Rule>,
        options: PolicyOptions,
        pins: Option<ServerPins>,
    ) -> Result<Policy, PolicyError> {
        let tool_patterns = RegexSet::new(rules.iter().map(|r| r.tool.regex_source()))
            .map_err(|e| PolicyError::Patterns(crate::config::value::one_line(&e)))?;
        Ok(Policy {
            uses_arguments: rules.iter().any(|r| !r.arguments.is_empty()),
            rules,
            tool_patterns,
            options,
            pins,
        })
    }

    /// The policy the settings describe for the server named `server`; reads
    /// the pin file when `policy.enforce_pins` is set.
    pub fn from_settings(settings: &Settings, server: &str) -> Result<Policy, PolicyError> {
        let p = &settings.policy;
        let options = PolicyOptions {
            default_action: p.default_action.value,
            dry_run: p.dry_run.value,
            filter_tools_list: p.filter_tools_list.value,
        };
        let pins = if p.enforce_pins.value {
            let path = &p.pins.value;
            let mut file = PinFile::load(path)?;
            let pins = file
                .servers
                .remove(server)
                .ok_or_else(|| PolicyError::NoPins {
                    server: server.to_owned(),
                    path: path.clone(),
                })?;
            Some(pins)
        } else {
            None
        };
        let rules = settings
            .rules
            .iter()
            .map(Rule::compile)
            .collect::<Result<_, _>>()?;
        Policy::new(rules, options, pins)
    }

    /// Whether the relay must pass frames through a [`Gate`]: some call can
    /// be refused (a deny rule, deny-by-default, enforced pins). Otherwise
    /// rules only annotate events, off the hot path.
    pub fn needs_gate(&self) -> bool {
        self.options.default_action == DefaultAction::Deny
            || self.pins.is_some()
            || self.rules.iter().any(|r| r.action == Some(Action::Deny))
    }

    /// The options.
    pub fn options(&self) -> PolicyOptions {
        self.options
    }

    /// The rules, in match order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether some rule looks at arguments (so callers parse them).
    pub fn uses_arguments(&self) -> bool {
        self.uses_arguments
    }

    /// The first rule matching a call of `tool` on `server` with `arguments`.
    pub fn first_match(
        &self,
        server: &str,
        tool: &str,
        arguments: Option<&Value>,
    ) -> Option<&Rule> {
        // Most calls match no rule: `is_match` stops early and skips the
        // search for every matching pattern.
        if !self.tool_patterns.is_match(tool.as_bytes()) {
            return None;
        }
        self.tool_patterns
            .matches(tool.as_bytes())
            .iter()
            .map(|i| &self.rules[i])
            .find(|r| r.matches_server(server) && r.matches_arguments(arguments))
    }

    /// Risk level, compliance tags and action of the first matching rule.
    pub fn annotate(
        &self,
        server: &str,
        tool: &str,
        arguments: Option<&Value>,
    ) -> Option<Annotation<'_>> {
        let rule = self.first_match(server, tool, arguments)?;
        Some(Annotation {
            risk_level: rule.risk_level,
            compliance_tags: &rule.compliance_tags,
            action: self.action_of(rule),
            rule: &rule.name,
        })
    }

    /// The rule name that refuses this call, or `None` if it may go through.
    pub fn denying_rule(
        &self,
        server: &str,
        tool: &str,
        arguments: Option<&Value>,
    ) -> Option<&str> {
        match self.first_match(server, tool, arguments) {
            Some(rule) if self.action_of(rule) == Action::Deny => Some(&rule.name),
            Some(_) => None,
            None if self.options.default_action == DefaultAction::Deny => Some(DEFAULT_DENY_RULE),
            None => None,
        }
    }

    /// Whether every call of `tool` is refused, whatever its arguments: the
    /// first rule matching by server and name has no argument patterns and
    /// denies (or none matches and the default denies). A rule with argument
    /// patterns makes the answer "not always", so the tool stays listed.
    pub fn denies_unconditionally(&self, server: &str, tool: &str) -> bool {
        let first = self
            .tool_patterns
            .matches(tool.as_bytes())
            .iter()
            .map(|i| &self.rules[i])
            .find(|r| r.matches_server(server));
        match first {
            Some(rule) => rule.arguments.is_empty() && self.action_of(rule) == Action::Deny,
            None => self.options.default_action == DefaultAction::Deny,
        }
    }

    /// How `tool` compares with its enforced pin, given the tools seen
    /// changed so far; `None` when pins are not enforced.
    pub fn pin_status(&self, tool: &str, seen_changed: bool) -> Option<PinStatus> {
        let pins = self.pins.as_ref()?;
        Some(if seen_changed {
            PinStatus::Changed
        } else if pins.tools.contains_key(tool) {
            PinStatus::Matches
        } else {
            PinStatus::New
        })
    }

    /// The enforced pins, if any.
    pub fn pins(&self) -> Option<&ServerPins> {
        self.pins.as_ref()
    }

    fn action_of(&self, rule: &Rule) -> Action {
        rule.action.unwrap_or(match self.options.default_action {
            DefaultAction::Audit => Action::Audit,
            DefaultAction::Deny => Action::Deny,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
