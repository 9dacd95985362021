//! Policy rules as the settings hold them: plain data read from `[[rules]]`
//! tables, every pattern checked to compile so an error names the file and
//! line. `policy` compiles them into matchers (`policy::Rule`).

use std::fmt;
use std::ops::Range;

use globset::Glob;
use regex::Regex;
use toml::de::{DeTable, DeValue};

use super::value::{choice, one_line, toml_string, type_name, SettingValue, Source};
use super::{ConfigError, Located};
use crate::event::RiskLevel;

choice! {
    /// What a rule does with a matching `tools/call`.
    Action {
        /// Forward it, marked as explicitly allowed (the allow-list of deny-by-default).
        Allow = "allow",
        /// Forward and record it.
        Audit = "audit",
        /// Refuse it: the client gets a JSON-RPC error, the server never sees it.
        Deny = "deny",
    }
}

/// The keys a rule table may hold.
pub const RULE_KEYS: &[&str] = &[
    "name",
    "server",
    "tool",
    "tool_regex",
    "arguments",
    "risk_level",
    "compliance_tags",
    "action",
];

/// Compliance tags with a fixed meaning; other tags are free-form.
pub const KNOWN_TAGS: &[&str] = &["gdpr", "hipaa", "pci_dss", "soc2"];

/// How a rule matches tool names.
#[derive(Debug, Clone)]
pub enum ToolPattern {
    /// No `tool` or `tool_regex`: every tool.
    Any,
    /// A glob (`delete_*`, `{read,write}_file`), matched against the whole name.
    Glob(String),
    /// A regular expression, searched in the name (anchor it with `^...$`).
    Regex(String),
}

impl ToolPattern {
    /// The pattern as a regular expression, for the rule set's `RegexSet`.
    pub fn regex_source(&self) -> String {
        match self {
            ToolPattern::Any => String::new(),
            ToolPattern::Glob(g) => Glob::new(g)
                .map(|g| g.regex().to_owned())
                .unwrap_or_default(),
            ToolPattern::Regex(r) => r.clone(),
        }
    }
}

/// One rule as written: what it matches (server glob, tool pattern, argument
/// patterns by JSON pointer) and what it decides.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// `name`, or its position (`rules[2]`, `servers.github.rules[1]`).
    pub name: String,
    /// Glob on the server name; `None` matches every server.
    pub server: Option<String>,
    pub tool: ToolPattern,
    /// (JSON pointer, regex); all must match.
    pub arguments: Vec<(String, String)>,
    pub risk_level: Option<RiskLevel>,
    pub compliance_tags: Vec<String>,
    /// `None`: the policy's `default_action`.
    pub action: Option<Action>,
    pub source: Source,
}

impl RuleSpec {
    /// Reads a rule from a `[[rules]]` table. `name` is its default name.
    pub fn from_toml(
        table: &DeTable<'_>,
        name: String,
        span: Range<usize>,
        at: &Located<'_>,
    ) -> Result<RuleSpec, ConfigError> {
        let mut rule = RuleSpec {
            name,
            server: None,
            tool: ToolPattern::Any,
            arguments: Vec::new(),
            risk_level: None,
            compliance_tags: Vec::new(),
            action: None,
            source: at.source(span),
        };
        let prefix = rule.name.clone();
        for (key, value) in table {
            let k = key.get_ref().as_ref();
            let full = format!("{prefix}.{k}");
            let bad = |m: String| at.invalid(value.span(), &full, m);
            let v = value.get_ref();
            match k {
                "name" => rule.name = string(v).map_err(bad)?,
                "server" => {
                    let g = string(v).map_err(&bad)?;
                    glob(&g).map_err(&bad)?;
                    rule.server = Some(g);
                }
                "tool" | "tool_regex" => {
                    if !matches!(rule.tool, ToolPattern::Any) {
                        return Err(bad(
                            "set either tool (a glob) or tool_regex, not both".into()
                        ));
                    }
                    let p = string(v).map_err(&bad)?;
                    rule.tool = if k == "tool" {
                        glob(&p).map_err(&bad)?;
                        ToolPattern::Glob(p)
                    } else {
                        Regex::new(&p)
                            .map_err(|e| bad(format!("invalid regex: {}", one_line(&e))))?;
                        ToolPattern::Regex(p)
                    };
                }
                "arguments" => rule.arguments = arguments(v, value.span(), &full, at)?,
                "risk_level" => rule.risk_level = Some(risk(v).map_err(bad)?),
                "compliance_tags" => rule.compliance_tags = tags(v).map_err(bad)?,
                "action" => rule.action = Some(Action::from_toml(v).map_err(|e| bad(e.message))?),
                _ => {
                    return Err(at.invalid(
                        key.span(),
                        &full,
                        format!("unknown key; valid keys are {}", RULE_KEYS.join(", ")),
                    ))
                }
            }
        }
        Ok(rule)
    }
}

impl fmt::Display for RuleSpec {
    /// One line for `config show`: name, matchers, decision.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.name)?;
        if let Some(g) = &self.server {
            write!(f, " server={}", toml_string(g))?;
        }
        match &self.tool {
            ToolPattern::Any => write!(f, " tool=*")?,
            ToolPattern::Glob(g) => write!(f, " tool={}", toml_string(g))?,
            ToolPattern::Regex(r) => write!(f, " tool_regex={}", toml_string(r))?,
        }
        for (pointer, regex) in &self.arguments {
            write!(f, " {pointer}~{}", toml_string(regex))?;
        }
        match self.action {
            Some(a) => write!(f, " -> {}", a.as_str())?,
            None => write!(f, " -> (default_action)")?,
        }
        if let Some(r) = self.risk_level {
            write!(f, " risk={}", risk_name(r))?;
        }
        if !self.compliance_tags.is_empty() {
            write!(f, " tags={}", self.compliance_tags.join(","))?;
        }
        Ok(())
    }
}

/// The settings name of a risk level.
pub fn risk_name(r: RiskLevel) -> &'static str {
    match r {
        RiskLevel::Low => "low",
        RiskLevel::Medium => "medium",
        RiskLevel::High => "high",
        RiskLevel::Critical => "critical",
    }
}

fn string(v: &DeValue<'_>) -> Result<String, String> {
    match v {
        DeValue::String(s) => Ok(s.to_string()),
        other => Err(format!("expected a string, found {}", type_name(other))),
    }
}

fn glob(pattern: &str) -> Result<Glob, String> {
    Glob::new(pattern).map_err(|e| format!("invalid glob: {}", one_line(&e)))
}

fn risk(v: &DeValue<'_>) -> Result<RiskLevel, String> {
    let s = string(v)?;
    [
        RiskLevel::Low,
        RiskLevel::Medium,
        RiskLevel::High,
        RiskLevel::Critical,
    ]
    .into_iter()
    .find(|r| risk_name(*r) == s)
    .ok_or_else(|| format!("expected one of low, medium, high, critical, found {s:?}"))
}

fn tags(v: &DeValue<'_>) -> Result<Vec<String>, String> {
    let tags = Vec::<String>::from_toml(v).map_err(|e| e.message)?;
    for t in &tags {
        let ok = !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if !ok {
            return Err(format!(
                "tag {t:?}: use letters, digits, _ - . : (known tags: {})",
                KNOWN_TAGS.join(", ")
            ));
        }
    }
    Ok(tags)
}

fn arguments(
    v: &DeValue<'_>,
    span: Range<usize>,
    key: &str,
    at: &Located<'_>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let DeValue::Table(table) = v else {
        return Err(at.invalid(
            span,
            key,
            format!(
                "expected a table of \"/json/pointer\" = \"regex\", found {}",
                type_name(v)
            ),
        ));
    };
    let mut out = Vec::new();
    for (pointer, regex) in table {
        let p = pointer.get_ref().to_string();
        let full = format!("{key}.{p:?}");
        if !(p.is_empty() || p.starts_with('/')) {
            return Err(at.invalid(
                pointer.span(),
                &full,
                "a JSON pointer is empty or starts with '/' (e.g. \"/path\", \"/options/0\")",
            ));
        }
        let text = string(regex.get_ref()).map_err(|m| at.invalid(regex.span(), &full, m))?;
        Regex::new(&text).map_err(|e| {
            at.invalid(
                regex.span(),
                &full,
                format!("invalid regex: {}", one_line(&e)),
            )
        })?;
        out.push((p, text));
    }
    Ok(out)
}
