//! What the report adds to the figures: the trend against the previous
//! period of equal length, the recommendations drawn from the figures and
//! the settings (each with the figure behind it), and each session's
//! verify status.

use std::time::SystemTime;

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::{DefaultAction, Settings};
use crate::trail::filter::parse_time;
use crate::trail::{FilterSpec, TrailError};
use crate::verify::SessionReport;

/// The settings facts the recommendations look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setup {
    /// `audit.max_age_days` (0: no deletion by age).
    pub max_age_days: u64,
    pub signing_key: bool,
    pub redact_sensitive: bool,
    /// No rule refuses: no rules and default action `audit`, or a dry run.
    pub audit_only: bool,
    pub enforce_pins: bool,
    /// The trail's chains were checked.
    pub verified: bool,
}

impl Setup {
    /// The facts of `settings`; `verified` as given.
    pub fn from_settings(s: &Settings, verified: bool) -> Setup {
        Setup {
            max_age_days: s.audit.max_age_days.value,
            signing_key: s.audit.signing_key.value.is_some(),
            redact_sensitive: s.audit.redact_sensitive.value,
            audit_only: s.policy.dry_run.value
                || (s.rules.is_empty() && s.policy.default_action.value == DefaultAction::Audit),
            enforce_pins: s.policy.enforce_pins.value,
            verified,
        }
    }
}

/// A tool's error rate above this (over at least [`MIN_CALLS`]) is flagged.
const HIGH_ERROR_RATE: f64 = 0.10;
const MIN_CALLS: u64 = 20;

/// The recommendations: `id`, `advice`, and `figure` (what triggered it).
pub fn recommendations(report: &Value, setup: &Setup) -> Vec<Value> {
    let mut out = Vec::new();
    let mut say = |id: &str, advice: &str, figure: String| {
        out.push(json!({"id": id, "advice": advice, "figure": figure}));
    };
    let s = &report["summary"];
    if (1..365).contains(&setup.max_age_days) {
        let advice = "Keep the trail at least 12 months (PCI DSS 10.5.1): raise audit.max_age_days to 365 or more.";
        say(
            "retention",
            advice,
            format!("audit.max_age_days = {}", setup.max_age_days),
        );
    }
    if !setup.signing_key {
        let advice = "Sign checkpoints so a rewritten trail is detected: `mcp-blackbox keygen`, then set audit.signing_key.";
        say("signing", advice, "audit.signing_key unset".into());
    }
    if !setup.redact_sensitive {
        say(
            "redaction",
            "Turn redaction back on: audit.redact_sensitive = true.",
            "audit.redact_sensitive = false".into(),
        );
    }
    if setup.audit_only {
        let advice =
            "The policy only records: add deny rules for destructive tools, or leave dry-run mode.";
        say(
            "policy",
            advice,
            "no refusing rule (audit-only or dry run)".into(),
        );
    }
    for t in report["tools"].as_array().into_iter().flatten() {
        let (calls, rate) = (
            t["calls"].as_u64().unwrap_or(0),
            t["error_rate"].as_f64().unwrap_or(0.0),
        );
        if calls >= MIN_CALLS && rate > HIGH_ERROR_RATE {
            let name = format!(
                "{}/{}",
                t["server"].as_str().unwrap_or(""),
                t["tool"].as_str().unwrap_or("")
            );
            let advice = format!("Look into the failures of {name}.");
            say(
                "tool_errors",
                &advice,
                format!("error rate {:.1}% over {calls} calls", rate * 100.0),
            );
        }
    }
    let secrets = s["secrets_detected"].as_u64().unwrap_or(0);
    if secrets > 0 {
        let advice = "Secrets reached the proxy: rotate them and find which tool returned them (`mcp-blackbox anomalies`).";
        say(
            "secrets",
            advice,
            format!("{secrets} secret_detected events"),
        );
    }
    let changes = s["tool_changes"].as_u64().unwrap_or(0);
    if changes > 0 && !setup.enforce_pins {
        let advice =
            "Tool definitions changed: review them and pin tools (policy.enforce_pins = true).";
        say("pins", advice, format!("{changes} tool_changed events"));
    }
    let broken = s["sessions_broken"].as_u64().unwrap_or(0);
    if !setup.verified {
        say(
            "verify",
            "Verify the trail: `mcp-blackbox verify`.",
            "chains not checked".into(),
        );
    } else if broken > 0 {
        let advice =
            "Some sessions' hash chains are broken: run `mcp-blackbox verify` and investigate.";
        say("verify", advice, format!("{broken} broken sessions"));
    }
    out
}

/// The verify status of a session: `broken`, `intact`, or with a key
/// `intact, signed` / `unsigned`.
pub fn session_status(r: &SessionReport, with_key: bool) -> &'static str {
    match (r.is_ok(), with_key, r.signed_through.is_some()) {
        (false, _, _) => "broken",
        (true, false, _) => "intact",
        (true, true, true) => "intact, signed",
        (true, true, false) => "unsigned",
    }
}

/// The filters of the period of equal length before `spec`'s (`--since`
/// given; up to `--until` or now): the same filters over
/// [since − length, since). `None` without `--since`.
pub fn previous_period(
    spec: &FilterSpec,
    now: SystemTime,
) -> Result<Option<FilterSpec>, TrailError> {
    let Some(since) = &spec.since else {
        return Ok(None);
    };
    let since = parse_time("--since", since, now)?;
    let until = match &spec.until {
        Some(u) => parse_time("--until", u, now)?,
        None => crate::clock::rfc3339_millis(now),
    };
    let parse = |flag, v: &str| {
        OffsetDateTime::parse(v, &Rfc3339).map_err(|e| TrailError::BadFlag {
            flag,
            value: v.to_owned(),
            why: e.to_string(),
        })
    };
    let (from, to) = (parse("--since", &since)?, parse("--until", &until)?);
    let start = from - (to - from);
    Ok(Some(FilterSpec {
        since: Some(crate::clock::rfc3339_millis(start.into())),
        until: Some(since),
        ..spec.clone()
    }))
}

/// Each numeric summary figure now and in the previous period, with the
/// difference: `figure`, `current`, `previous`, `delta`.
pub fn trend(current: &Value, previous: &Value) -> Vec<Value> {
    let (Some(c), Some(p)) = (current.as_object(), previous.as_object()) else {
        return Vec::new();
    };
    c.iter()
        .filter_map(|(k, v)| {
            let (now, before) = (v.as_f64()?, p.get(k)?.as_f64()?);
            let delta = ((now - before) * 10_000.0).round() / 10_000.0;
            Some(json!({"figure": k, "current": v, "previous": p[k], "delta": delta}))
        })
        .collect()
}

/// The period a report covers, as resolved bounds (`null` when open).
pub fn period_json(spec: &FilterSpec, now: SystemTime) -> Result<Value, TrailError> {
    let mut m = Map::new();
    for (k, flag, v) in [
        ("since", "--since", &spec.since),
        ("until", "--until", &spec.until),
    ] {
        let t = v.as_deref().map(|v| parse_time(flag, v, now)).transpose()?;
        m.insert(k.into(), json!(t));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn previous_period_has_the_same_length_and_ends_at_since() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let spec = FilterSpec {
            since: Some("7d".into()),
            tool: vec!["x".into()],
            ..FilterSpec::default()
        };
        let prev = previous_period(&spec, now).unwrap().unwrap();
        let since = parse_time("--since", "7d", now).unwrap();
        assert_eq!(prev.until.as_deref(), Some(since.as_str()));
        let fourteen = parse_time("--since", "14d", now).unwrap();
        assert_eq!(prev.since.as_deref(), Some(fourteen.as_str()));
        assert_eq!(prev.tool, vec!["x"]);
        assert!(previous_period(&FilterSpec::default(), now)
            .unwrap()
            .is_none());
    }

    #[test]
    fn recommendations_name_their_figure() {
        let report = json!({
            "summary": {"secrets_detected": 2, "tool_changes": 1, "sessions_broken": 1},
            "tools": [{"server": "s", "tool": "flaky", "calls": 100, "error_rate": 0.25},
                      {"server": "s", "tool": "fine", "calls": 100, "error_rate": 0.01}],
        });
        let setup = Setup {
            max_age_days: 30,
            audit_only: true,
            redact_sensitive: true,
            verified: true,
            ..Setup::default()
        };
        let recs = recommendations(&report, &setup);
        let ids: Vec<&str> = recs.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "retention",
                "signing",
                "policy",
                "tool_errors",
                "secrets",
                "pins",
                "verify"
            ]
        );
        assert_eq!(recs[0]["figure"], "audit.max_age_days = 30");
        assert_eq!(recs[3]["figure"], "error rate 25.0% over 100 calls");
        let calm = Setup {
            max_age_days: 400,
            signing_key: true,
            redact_sensitive: true,
            enforce_pins: true,
            verified: true,
            ..Setup::default()
        };
        assert!(recommendations(&json!({"summary": {}, "tools": []}), &calm).is_empty());
    }

    #[test]
    fn trend_gives_deltas() {
        let t = trend(
            &json!({"calls": 10, "error_rate": 0.5}),
            &json!({"calls": 4, "error_rate": 0.25}),
        );
        assert_eq!(
            t[0],
            json!({"figure": "calls", "current": 10, "previous": 4, "delta": 6.0})
        );
        assert_eq!(t[1]["delta"], 0.25);
    }
}
