//! One verdict per [`Check`]: a [`Status`] and a one-line reason with the
//! figures it rests on. docs/compliance.md states each rule.

use super::catalogue::Check;
use super::evidence::FIELDS;
use super::{Inputs, Status};

type Verdict = (Status, String);

/// The verdict of `check` on `i`.
pub(super) fn judge(check: Check, i: &Inputs) -> Verdict {
    match check {
        Check::Recorded | Check::AuditControls => recorded(i),
        Check::Users => users(i),
        Check::Fields => fields(i),
        Check::Refusals => refusals(i),
        Check::Lifecycle => lifecycle(i),
        Check::FileModes => file_modes(i),
        Check::Integrity => integrity(i),
        Check::Forwarding => forwarding(i),
        Check::Retention(days) => retention(i, days),
        Check::LoggingFailures => logging_failures(i),
        Check::Access => access(i),
        Check::Monitoring => monitoring(i),
        Check::SecurityEvents => security_events(i),
        Check::ToolChanges => tool_changes(i),
        Check::Confidentiality => worst(&[file_modes(i), integrity(i), redaction(i)]),
        Check::Security => worst(&[file_modes(i), integrity(i), forwarding(i)]),
        Check::Minimisation => minimisation(i),
        Check::Records => records(i),
        Check::NotEvidenced(why) => (Status::NotEvidenced, why.to_owned()),
    }
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The weakest of several verdicts, with every reason that is not "met".
fn worst(parts: &[Verdict]) -> Verdict {
    let rank = |s: Status| match s {
        Status::Met => 0,
        Status::Partial | Status::NotEvidenced => 1,
        Status::NotMet => 2,
    };
    let status = parts
        .iter()
        .map(|p| p.0)
        .max_by_key(|s| rank(*s))
        .unwrap_or(Status::Met);
    let reasons: Vec<&str> = parts
        .iter()
        .filter(|p| status == Status::Met || p.0 != Status::Met)
        .map(|p| p.1.as_str())
        .collect();
    (status, reasons.join("; "))
}

fn recorded(i: &Inputs) -> Verdict {
    let e = &i.evidence;
    let calls = e.count("tool_call");
    let what = format!(
        "{} events ({} sessions, {calls} tool calls) over {} day(s)",
        e.events,
        e.sessions,
        e.days()
    );
    match (i.setup.audit_enabled, e.events) {
        (_, 0) => (Status::NotMet, "no events in the trail".into()),
        (false, _) => (
            Status::Partial,
            format!("{what}, but audit.enabled is false in the current settings"),
        ),
        _ => (Status::Met, what),
    }
}

fn users(i: &Inputs) -> Verdict {
    match i.evidence.share(0) {
        None => (Status::NotMet, "no events in the trail".into()),
        Some(s) if s >= 1.0 => (Status::Met, "every event names its user".into()),
        Some(s) if s > 0.0 => (
            Status::Partial,
            format!("{} of events name their user", pct(s)),
        ),
        Some(_) => (Status::NotMet, "no event names a user".into()),
    }
}

fn fields(i: &Inputs) -> Verdict {
    let e = &i.evidence;
    let shares: Vec<(&str, Option<f64>)> = FIELDS
        .iter()
        .enumerate()
        .map(|(n, f)| (*f, e.share(n)))
        .collect();
    let text: Vec<String> = shares
        .iter()
        .map(|(f, s)| format!("{f} {}", s.map_or("n/a".into(), pct)))
        .collect();
    let text = text.join(", ");
    if e.events == 0 {
        return (Status::NotMet, "no events in the trail".into());
    }
    let known: Vec<f64> = shares.iter().filter_map(|s| s.1).collect();
    if known.iter().all(|s| *s >= 1.0) {
        (Status::Met, text)
    } else if known.iter().all(|s| *s > 0.0) {
        (
            Status::Partial,
            format!("not every event carries every field: {text}"),
        )
    } else {
        (
            Status::NotMet,
            format!("a field is missing from every event: {text}"),
        )
    }
}

fn refusals(i: &Inputs) -> Verdict {
    let blocked = i.evidence.count("policy_blocked");
    let rules = i.setup.rules;
    match (rules > 0 || i.setup.default_deny, blocked) {
        (true, n) => (
            Status::Met,
            format!("{rules} policy rule(s) configured; {n} refused call(s) recorded"),
        ),
        (false, n) => (
            Status::Partial,
            format!("{n} refused call(s) recorded, but no policy rule is configured, so no access attempt is judged invalid"),
        ),
    }
}

fn lifecycle(i: &Inputs) -> Verdict {
    let (starts, ends) = (
        i.evidence.count("session_start"),
        i.evidence.count("session_end"),
    );
    match starts {
        0 => (Status::NotMet, "no session_start in the trail".into()),
        _ if ends >= starts => (
            Status::Met,
            format!("{starts} session_start and {ends} session_end events"),
        ),
        _ => (
            Status::Partial,
            format!("{starts} sessions started, {ends} ended (running, or ended by a crash)"),
        ),
    }
}

fn file_modes(i: &Inputs) -> Verdict {
    let f = &i.files;
    if f.loose.is_empty() {
        (
            Status::Met,
            format!("{} audit file(s) and their directories are private to their owner (no group or other access)", f.files),
        )
    } else {
        (
            Status::NotMet,
            format!("group or others have access to: {}", f.loose.join(", ")),
        )
    }
}

fn integrity(i: &Inputs) -> Verdict {
    let (v, e) = (&i.verify, &i.evidence);
    let signed = format!("{} of {} sessions signed", e.signed_sessions, e.sessions);
    if !v.ok {
        return (Status::NotMet, format!("verify failed: {}", v.breaks()));
    }
    if e.sessions == 0 || e.signed_sessions == 0 || !i.setup.signing_key {
        let key = if i.setup.signing_key {
            ""
        } else {
            "; no signing key configured"
        };
        return (
            Status::NotMet,
            format!("hash chains intact but {signed}{key}: whoever can write the files can rewrite a chain"),
        );
    }
    if e.signed_sessions < e.sessions {
        return (
            Status::Partial,
            format!("hash chains intact; only {signed}"),
        );
    }
    if !v.with_key {
        return (
            Status::Partial,
            format!("hash chains intact, {signed}; signatures not checked (pass --key PUB)"),
        );
    }
    (
        Status::Met,
        format!("hash chains intact, {signed}, signatures checked with the public key"),
    )
}

fn forwarding(i: &Inputs) -> Verdict {
    match i.setup.collectors {
        0 => (
            Status::NotMet,
            "no collector configured (forward.urls): the trail lives on this machine only".into(),
        ),
        n => (
            Status::Met,
            format!("every event forwarded to {n} collector(s)"),
        ),
    }
}

/// The longest a file may be kept under the settings, in days (`None`:
/// unlimited). A file holds at most one day, so `max_files` files hold at
/// most that many days; a size limit is turned into days at the trail's
/// own rate.
fn kept_days(i: &Inputs) -> Option<u64> {
    let s = &i.setup;
    let mut limit = Some(s.max_files);
    if s.max_age_days > 0 {
        limit = limit.min(Some(s.max_age_days));
    }
    if s.max_total_size_mb > 0 && i.files.bytes > 0 {
        let per_day = (i.files.bytes / i.evidence.days()).max(1);
        limit = limit.min(Some(s.max_total_size_mb * (1 << 20) / per_day));
    }
    limit
}

fn retention(i: &Inputs, days: u64) -> Verdict {
    let s = &i.setup;
    let kept = kept_days(i);
    let settings = format!(
        "max_age_days={}, max_files={}, max_total_size_mb={}",
        s.max_age_days, s.max_files, s.max_total_size_mb
    );
    let off_host = if s.collectors > 0 {
        "; copies at the collectors are kept by their own policy"
    } else {
        ""
    };
    match kept {
        Some(k) if k < days => (
            Status::NotMet,
            format!("files are deleted after at most {k} day(s) ({settings}); {days} required{off_host}"),
        ),
        _ => (
            Status::Met,
            format!("files kept at least {days} days ({settings}), all of them on disk and readable; the trail holds {} day(s) so far", i.evidence.days()),
        ),
    }
}

fn logging_failures(i: &Inputs) -> Verdict {
    let e = &i.evidence;
    let (dropped, errors, over) = (
        e.count("audit_dropped"),
        e.count("audit_error"),
        e.count("retention_exceeded"),
    );
    let what = format!(
        "{dropped} audit_dropped, {errors} audit_error, {over} retention_exceeded event(s)"
    );
    if dropped + errors + over == 0 {
        let mode = if i.setup.queue_drops {
            "; queue_policy = drop may lose events (counted)"
        } else {
            ""
        };
        (
            Status::Met,
            format!("losses are recorded as events; none in the trail{mode}"),
        )
    } else {
        (
            Status::Partial,
            format!("{what}: detected and recorded; the response to them is not in the trail"),
        )
    }
}

fn access(i: &Inputs) -> Verdict {
    let (status, who) = users(i);
    let rules = i.setup.rules;
    let rule = if i.setup.default_deny {
        "deny by default"
    } else {
        "audit by default"
    };
    match (status, rules > 0 || i.setup.default_deny) {
        (Status::Met, true) => (
            Status::Met,
            format!("{who}; {rules} policy rule(s), {rule}"),
        ),
        (Status::Met, false) => (
            Status::Partial,
            format!("{who}; no policy rule restricts which tools may be called"),
        ),
        (s, _) => (s.min_partial(), format!("{who}; {rules} policy rule(s)")),
    }
}

fn monitoring(i: &Inputs) -> Verdict {
    let e = &i.evidence;
    let flagged = e.count("tool_changed") + e.count("secret_detected") + e.count("policy_blocked");
    let base = format!(
        "{} events recorded, {flagged} flagged (tool changes, secrets, refusals)",
        e.events
    );
    match (e.events, i.setup.collectors) {
        (0, _) => (Status::NotMet, "no events in the trail".into()),
        (_, 0) => (
            Status::Partial,
            format!(
                "{base}; no collector: monitoring needs `mcp-blackbox anomalies` run on a schedule"
            ),
        ),
        (_, n) => (
            Status::Met,
            format!("{base}; forwarded to {n} collector(s) for monitoring"),
        ),
    }
}

fn security_events(i: &Inputs) -> Verdict {
    let e = &i.evidence;
    (
        Status::NotEvidenced,
        format!(
            "{} refused calls, {} tool changes, {} secrets detected recorded for evaluation; the evaluation itself is a process outside the trail",
            e.count("policy_blocked"),
            e.count("tool_changed"),
            e.count("secret_detected")
        ),
    )
}

fn tool_changes(i: &Inputs) -> Verdict {
    let e = &i.evidence;
    let (listed, changed) = (e.count("tools_listed"), e.count("tool_changed"));
    let what =
        format!("{listed} tool listings with definition hashes, {changed} change(s) recorded");
    match (listed, i.setup.enforce_pins) {
        (0, _) => (
            Status::NotMet,
            "no tools/list in the trail: tool definitions not tracked".into(),
        ),
        (_, true) => (
            Status::Met,
            format!("{what}; changed or new tools refused until re-pinned (enforce_pins)"),
        ),
        (_, false) => (
            Status::Partial,
            format!("{what}; changes are recorded but not blocked (policy.enforce_pins is off)"),
        ),
    }
}

fn records(i: &Inputs) -> Verdict {
    let e = &i.evidence;
    let servers: std::collections::BTreeSet<&str> = e.tools.iter().map(|t| t.0.as_str()).collect();
    let more = if e.tools_over { " (list cut)" } else { "" };
    (
        Status::NotEvidenced,
        format!(
            "{} server(s) and {} tool(s){more} processed data (listed in this report); the register itself is a document the controller keeps",
            servers.len(),
            e.tools.len()
        ),
    )
}

fn redaction(i: &Inputs) -> Verdict {
    if i.setup.redact {
        (Status::Met, "secrets redacted before disk".into())
    } else {
        (
            Status::NotMet,
            "audit.redact_sensitive is off: secrets reach the files".into(),
        )
    }
}

fn minimisation(i: &Inputs) -> Verdict {
    let secrets = i.evidence.count("secret_detected");
    let (red, why) = redaction(i);
    let why = format!("{why}; {secrets} secret_detected event(s)");
    match (red, i.setup.max_age_days) {
        (Status::NotMet, _) => (Status::NotMet, why),
        (_, 0) => (
            Status::Partial,
            format!("{why}; no storage limit in time (audit.max_age_days = 0)"),
        ),
        (_, d) => (Status::Met, format!("{why}; files deleted after {d} days")),
    }
}

impl Status {
    /// `NotMet` stays; anything else is at best `Partial`.
    fn min_partial(self) -> Status {
        if self == Status::NotMet {
            self
        } else {
            Status::Partial
        }
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
