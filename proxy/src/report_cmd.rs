//! `mcp-blackbox report`: a usage report (executive summary, per tool,
//! server and user, sessions, findings) in Markdown or JSON. Thin glue over
//! [`audit_core::analysis::report`]; docs/reporting.md is the guide.

use std::io::Write;

use anyhow::{bail, Result};
use audit_core::analysis::report::Report;
use audit_core::trail::format::{write_rows, Format};
use audit_core::trail::scan::{default_workers, for_each_event, scan_files, Progress};
use audit_core::trail::trail_files;
use serde_json::{Map, Value};

use crate::anomalies_cmd::{to_stdout, write_json};
use crate::read_cmd::{report_issue, with_progress, TrailArgs};

/// Arguments of `mcp-blackbox report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// md or json.
    #[arg(long, value_name = "FORMAT", default_value = "md")]
    pub format: String,
}

/// Runs `report`; exit status 0.
pub fn run(args: ReportArgs) -> Result<i32> {
    if !matches!(args.format.as_str(), "md" | "json") {
        bail!("invalid --format `{}`; valid: md, json", args.format);
    }
    let filter = args.trail.filter()?;
    let files = trail_files(&args.trail.paths()?)?;
    let progress = Progress::default();
    let parts = with_progress(&progress, || {
        scan_files(&files, default_workers(), &progress, &|path| {
            let mut r = Report::default();
            for_each_event(
                path,
                &filter,
                &progress,
                &mut |e, l| r.add(e, l),
                &report_issue,
            )?;
            Ok(r)
        })
    })?;
    let mut total = Report::default();
    for part in parts {
        total.merge(part);
    }
    let report = total.into_json();
    let json = args.format == "json";
    to_stdout(|out| {
        if json {
            write_json(&report, out)
        } else {
            write_markdown(&report, out)
        }
    })
}

fn rows(v: &Value) -> Vec<Map<String, Value>> {
    v.as_array()
        .map(|a| a.iter().filter_map(|r| r.as_object().cloned()).collect())
        .unwrap_or_default()
}

fn columns(rows: &[Map<String, Value>]) -> Vec<&str> {
    rows.first()
        .map(|r| r.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The report as Markdown: the summary, then one table per section.
fn write_markdown(r: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "# MCP activity report\n\n## Summary\n")?;
    if let Some(s) = r["summary"].as_object() {
        for (k, v) in s {
            writeln!(out, "- {}: {v}", k.replace('_', " "))?;
        }
    }
    for (title, key) in [
        ("Tools", "tools"),
        ("Servers", "servers"),
        ("Users", "users"),
        ("Findings (for triage, not proof)", "findings"),
        ("Sessions", "sessions"),
    ] {
        writeln!(out, "\n## {title}\n")?;
        let rows = rows(&r[key]);
        if rows.is_empty() {
            writeln!(out, "None.")?;
            continue;
        }
        write_rows(&rows, &columns(&rows), Format::Markdown, out)?;
    }
    Ok(())
}
