//! The filters every reader takes: `--since`, `--until`, `--server`,
//! `--tool` (glob), `--type`, `--user`, `--session`, `--severity` (at
//! least), `--outcome`, `--risk` (at least), `--tag`, `--text`.
//!
//! Several values of one flag are alternatives; different flags must all
//! hold. Times are compared as the trail writes them (RFC 3339 UTC with
//! milliseconds sorts as text), so a bound is formatted the same way once.

use std::time::{Duration, SystemTime};

use globset::{Glob, GlobSet, GlobSetBuilder};
use memchr::memmem::Finder;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::view::{risk_rank, severity_rank, EventView};
use super::TrailError;
use crate::clock::rfc3339_millis;

/// The filter flags as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct FilterSpec {
    pub since: Option<String>,
    pub until: Option<String>,
    pub server: Vec<String>,
    pub tool: Vec<String>,
    pub event_type: Vec<String>,
    pub user: Vec<String>,
    pub session: Vec<String>,
    pub severity: Option<String>,
    pub outcome: Vec<String>,
    pub risk: Option<String>,
    pub tag: Vec<String>,
    pub text: Option<String>,
}

/// A compiled [`FilterSpec`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    since: Option<String>,
    until: Option<String>,
    server: Vec<String>,
    tool: Option<GlobSet>,
    event_type: Vec<String>,
    user: Vec<String>,
    session: Vec<String>,
    min_severity: Option<u8>,
    outcome: Vec<String>,
    min_risk: Option<u8>,
    tag: Vec<String>,
    text: Option<Finder<'static>>,
}

impl Filter {
    /// Checks and compiles `spec`; relative times count back from `now`.
    pub fn new(spec: &FilterSpec, now: SystemTime) -> Result<Filter, TrailError> {
        let bound =
            |flag, v: &Option<String>| v.as_deref().map(|v| parse_time(flag, v, now)).transpose();
        let rank = |flag, v: &Option<String>, f: fn(&str) -> Option<u8>, valid: &str| {
            v.as_deref()
                .map(|v| f(v).ok_or_else(|| bad(flag, v, format!("valid: {valid}"))))
                .transpose()
        };
        let tool = if spec.tool.is_empty() {
            None
        } else {
            let mut set = GlobSetBuilder::new();
            for t in &spec.tool {
                set.add(Glob::new(t).map_err(|e| bad("--tool", t, e.to_string()))?);
            }
            Some(set.build().map_err(|e| bad("--tool", "", e.to_string()))?)
        };
        Ok(Filter {
            since: bound("--since", &spec.since)?,
            until: bound("--until", &spec.until)?,
            server: spec.server.clone(),
            tool,
            event_type: spec.event_type.clone(),
            user: spec.user.clone(),
            session: spec.session.clone(),
            min_severity: rank(
                "--severity",
                &spec.severity,
                severity_rank,
                "info, warning, error, critical",
            )?,
            outcome: spec.outcome.clone(),
            min_risk: rank(
                "--risk",
                &spec.risk,
                risk_rank,
                "low, medium, high, critical",
            )?,
            tag: spec.tag.clone(),
            text: spec
                .text
                .as_deref()
                .map(|t| Finder::new(t.as_bytes()).into_owned()),
        })
    }

    /// Whether the event (parsed from `line`) passes every filter.
    pub fn matches(&self, e: &EventView<'_>, line: &[u8]) -> bool {
        let one_of =
            |allowed: &[String], v: &str| allowed.is_empty() || allowed.iter().any(|a| a == v);
        self.since.as_deref().map_or(true, |s| *e.timestamp >= *s)
            && self.until.as_deref().map_or(true, |u| *e.timestamp < *u)
            && one_of(&self.server, &e.server)
            && one_of(&self.event_type, &e.kind)
            && one_of(&self.user, &e.user)
            && one_of(&self.session, &e.session_id)
            && one_of(&self.outcome, &e.outcome)
            && self
                .tool
                .as_ref()
                .map_or(true, |g| e.tool.as_deref().is_some_and(|t| g.is_match(t)))
            && self
                .min_severity
                .map_or(true, |m| severity_rank(&e.severity).is_some_and(|r| r >= m))
            && self.min_risk.map_or(true, |m| {
                e.risk_level
                    .as_deref()
                    .and_then(risk_rank)
                    .is_some_and(|r| r >= m)
            })
            && (self.tag.is_empty()
                || e.compliance_tags
                    .iter()
                    .any(|t| self.tag.iter().any(|w| w.as_str() == t)))
            && self.text.as_ref().map_or(true, |f| f.find(line).is_some())
    }

    /// Whether no filter is set (every event passes).
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && self.server.is_empty()
            && self.tool.is_none()
            && self.event_type.is_empty()
            && self.user.is_empty()
            && self.session.is_empty()
            && self.min_severity.is_none()
            && self.outcome.is_empty()
            && self.min_risk.is_none()
            && self.tag.is_empty()
            && self.text.is_none()
    }
}

fn bad(flag: &'static str, value: &str, why: String) -> TrailError {
    TrailError::BadFlag {
        flag,
        value: value.to_owned(),
        why,
    }
}

/// A time bound as the trail writes times: `30s`, `15m`, `2h`, `7d`, `2w`
/// before `now`, a date (`2026-11-23`, midnight UTC) or an RFC 3339 time.
pub fn parse_time(flag: &'static str, value: &str, now: SystemTime) -> Result<String, TrailError> {
    let why = "expected a duration back from now (30s, 15m, 2h, 7d, 2w), a date (2026-11-23) or an RFC 3339 time (2026-11-23T16:00:00Z)";
    let invalid = || bad(flag, value, why.to_owned());
    let digits = value.len().saturating_sub(1);
    let relative = digits > 0 && value.as_bytes()[..digits].iter().all(u8::is_ascii_digit);
    if let Some(unit) = value.chars().last().filter(|_| relative) {
        let count: u64 = value[..value.len() - 1].parse().map_err(|_| invalid())?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(invalid()),
        };
        let back = Duration::from_secs(count.checked_mul(seconds).ok_or_else(invalid)?);
        return Ok(rfc3339_millis(
            now.checked_sub(back).unwrap_or(SystemTime::UNIX_EPOCH),
        ));
    }
    let full = if value.len() == 10 {
        format!("{value}T00:00:00Z")
    } else {
        value.to_owned()
    };
    let at = OffsetDateTime::parse(&full, &Rfc3339).map_err(|_| invalid())?;
    Ok(rfc3339_millis(at.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_914_360)
    }

    #[test]
    fn times_in_every_accepted_form() {
        let t = |v| parse_time("--since", v, now()).unwrap();
        assert_eq!(t("2h"), "2025-11-23T14:12:40.000Z");
        assert_eq!(t("7d"), "2025-11-16T16:12:40.000Z");
        assert_eq!(t("2025-11-20"), "2025-11-20T00:00:00.000Z");
        assert_eq!(t("2025-11-20T10:00:00+02:00"), "2025-11-20T08:00:00.000Z");
        assert_eq!(t("2025-11-20T10:00:00.5Z"), "2025-11-20T10:00:00.500Z");
        for wrong in [
            "2x",
            "h",
            "yesterday",
            "2025-13-01",
            "",
            "2025-11-20T10:00:00",
        ] {
            let e = parse_time("--since", wrong, now()).unwrap_err().to_string();
            assert!(e.contains("--since") && e.contains("2h"), "{e}");
        }
    }

    #[test]
    fn flags_combine_and_alternatives_add_up() {
        let line = br#"{"timestamp":"2025-11-23T16:00:00.000Z","type":"tool_call","severity":"warning","outcome":"pending","session_id":"s1","server":"fs","user":"bob","tool":"read_file","risk_level":"high","compliance_tags":["data_access","x"]}"#;
        let e = EventView::parse(line).unwrap();
        let pass = |spec: FilterSpec| Filter::new(&spec, now()).unwrap().matches(&e, line);
        assert!(pass(FilterSpec::default()));
        assert!(pass(FilterSpec {
            tool: vec!["read_*".into()],
            server: vec!["db".into(), "fs".into()],
            severity: Some("warning".into()),
            risk: Some("medium".into()),
            tag: vec!["x".into()],
            text: Some("bob".into()),
            since: Some("2025-11-23".into()),
            until: Some("10m".into()),
            ..FilterSpec::default()
        }));
        assert!(!pass(FilterSpec {
            tool: vec!["write*".into()],
            ..FilterSpec::default()
        }));
        assert!(!pass(FilterSpec {
            severity: Some("error".into()),
            ..FilterSpec::default()
        }));
        assert!(!pass(FilterSpec {
            risk: Some("critical".into()),
            ..FilterSpec::default()
        }));
        assert!(!pass(FilterSpec {
            until: Some("2025-11-23".into()),
            ..FilterSpec::default()
        }));
        assert!(!pass(FilterSpec {
            user: vec!["alice".into()],
            ..FilterSpec::default()
        }));
        let err = Filter::new(
            &FilterSpec {
                risk: Some("huge".into()),
                ..FilterSpec::default()
            },
            now(),
        );
        assert!(err.unwrap_err().to_string().contains("--risk"));
    }
}
