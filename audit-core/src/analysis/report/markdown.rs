//! The report as Markdown: the summary as a list, then one table per
//! section, from the JSON of [`super::Report::into_json`]. Cells go
//! through the readers' Markdown table writer, which makes peer strings
//! safe to show.

use std::io::{self, Write};

use serde_json::{Map, Value};

use crate::trail::format::{write_rows, Format};
use crate::trail::sessions::SESSION_COLUMNS;
use crate::trail::stats::FIGURES;

/// A table section: title, JSON key, columns in the order shown.
pub type Section = (&'static str, &'static str, Vec<&'static str>);

/// The table sections, in the order shown.
pub fn sections() -> Vec<Section> {
    let by = |keys: &[&'static str]| keys.iter().chain(&FIGURES).copied().collect();
    vec![
        (
            "Recommendations",
            "recommendations",
            vec!["advice", "figure"],
        ),
        ("Tools", "tools", by(&["server", "tool"])),
        ("Servers", "servers", by(&["server"])),
        ("Users", "users", by(&["user"])),
        (
            "Riskiest calls",
            "riskiest_calls",
            vec!["time", "risk", "server", "tool", "user", "event_id"],
        ),
        (
            "Policy decisions",
            "policy_decisions",
            vec!["rule", "blocked", "flagged"],
        ),
        (
            "Tool changes",
            "tool_changes",
            vec!["time", "server", "tool", "user", "event_id"],
        ),
        (
            "Findings (for triage, not proof)",
            "findings",
            vec!["severity", "kind", "subject", "at", "explanation"],
        ),
        ("Sessions", "sessions", SESSION_COLUMNS.to_vec()),
    ]
}

/// The columns of the trend table.
pub const TREND_COLUMNS: [&str; 4] = ["figure", "current", "previous", "delta"];

/// The objects of a JSON array.
pub fn rows(v: &Value) -> Vec<Map<String, Value>> {
    v.as_array()
        .map(|a| a.iter().filter_map(|r| r.as_object().cloned()).collect())
        .unwrap_or_default()
}

/// The period covered, in words.
pub fn period_text(period: &Value) -> String {
    let at = |k: &str| period[k].as_str().map(str::to_owned);
    match (at("since"), at("until")) {
        (None, None) => "the whole trail".into(),
        (Some(s), None) => format!("since {s}"),
        (None, Some(u)) => format!("until {u}"),
        (Some(s), Some(u)) => format!("{s} to {u}"),
    }
}

/// Writes the report.
pub fn write_markdown(r: &Value, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# MCP activity report\n")?;
    writeln!(
        out,
        "Period: {}.\n\n## Summary\n",
        period_text(&r["period"])
    )?;
    if let Some(s) = r["summary"].as_object() {
        for (k, v) in s {
            writeln!(out, "- {}: {v}", k.replace('_', " "))?;
        }
    }
    if let Some(t) = r["trend"].as_object() {
        let p = period_text(&t["previous_period"]);
        writeln!(out, "\n## Trend against the previous period ({p})\n")?;
        table(&t["figures"], &TREND_COLUMNS, out)?;
    }
    for (title, key, columns) in sections() {
        writeln!(out, "\n## {title}\n")?;
        table(&r[key], &columns, out)?;
    }
    Ok(())
}

fn table(v: &Value, columns: &[&str], out: &mut dyn Write) -> io::Result<()> {
    let rows = rows(v);
    if rows.is_empty() {
        return writeln!(out, "None.");
    }
    write_rows(&rows, columns, Format::Markdown, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_every_section_and_the_trend() {
        let r = json!({
            "period": {"since": "2026-01-01T00:00:00.000Z", "until": null},
            "summary": {"calls": 3},
            "trend": {"previous_period": {"since": "a", "until": "b"},
                      "figures": [{"figure": "calls", "current": 3, "previous": 1, "delta": 2.0}]},
            "tools": [{"server": "s", "tool": "a|b", "calls": 3}],
        });
        let mut out = Vec::new();
        write_markdown(&r, &mut out).unwrap();
        let md = String::from_utf8(out).unwrap();
        for (title, _, _) in sections() {
            assert!(md.contains(&format!("## {title}")), "{title}");
        }
        assert!(md.contains("Period: since 2026-01-01T00:00:00.000Z."));
        assert!(md.contains("previous period (a to b)"));
        assert!(md.contains("| calls | 3 | 1 | 2.0 |"), "{md}");
        assert!(!md.contains("a|b"), "{md}");
    }
}
