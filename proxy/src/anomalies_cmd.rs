//! `mcp-blackbox anomalies`: findings for triage, from two passes over the
//! trail (figures, then the event ids behind each finding). Thin glue over
//! [`audit_core::analysis::anomalies`]; docs/analysis.md is the guide.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use audit_core::analysis::anomalies::{Claim, Finding, Tally, MAX_IDS};
use audit_core::trail::format::safe;
use audit_core::trail::scan::{default_workers, for_each_event, scan_files, Progress};
use audit_core::trail::{trail_files, Filter};

use crate::read_cmd::{report_issue, with_progress, TrailArgs};

/// Arguments of `mcp-blackbox anomalies`.
#[derive(Debug, clap::Args)]
pub struct AnomaliesArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// md (a Markdown table) or json.
    #[arg(long, value_name = "FORMAT", default_value = "md")]
    pub format: String,
}

/// The findings of `files` under `filter`, with their event ids.
pub fn find(files: &[PathBuf], filter: &Filter) -> Result<Vec<Finding>> {
    let progress = Progress::default();
    let parts = with_progress(&progress, || {
        scan_files(files, default_workers(), &progress, &|path| {
            let mut tally = Tally::default();
            for_each_event(
                path,
                filter,
                &progress,
                &mut |e, _| tally.add(e),
                &report_issue,
            )?;
            Ok(tally)
        })
    })?;
    let mut total = Tally::default();
    for part in parts {
        total.merge(part);
    }
    let mut findings = total.findings();
    if findings.iter().all(|f| f.claim == Claim::Ids) {
        return Ok(findings);
    }
    let found = &findings;
    let ids = scan_files(files, default_workers(), &progress, &|path| {
        let mut mine: Vec<Finding> = found
            .iter()
            .map(|f| Finding {
                event_ids: Vec::new(),
                ..f.clone()
            })
            .collect();
        for_each_event(
            path,
            filter,
            &progress,
            &mut |e, _| mine.iter_mut().for_each(|f| f.claims(e)),
            &report_issue,
        )?;
        Ok(mine)
    })?;
    for part in ids {
        for (f, m) in findings.iter_mut().zip(part) {
            let room = MAX_IDS.saturating_sub(f.event_ids.len());
            f.event_ids.extend(m.event_ids.into_iter().take(room));
        }
    }
    Ok(findings)
}

/// Runs `anomalies`; exit status 0.
pub fn run(args: AnomaliesArgs) -> Result<i32> {
    if !matches!(args.format.as_str(), "md" | "json") {
        bail!("invalid --format `{}`; valid: md, json", args.format);
    }
    let filter = args.trail.filter()?;
    let files = trail_files(&args.trail.paths()?)?;
    let findings = find(&files, &filter)?;
    let json = args.format == "json";
    to_stdout(|out| {
        if json {
            let all: Vec<_> = findings.iter().map(Finding::to_json).collect();
            write_json(&serde_json::json!({ "findings": all }), out)
        } else {
            write_markdown(&findings, out)
        }
    })
}

/// Runs `write` on a buffered stdout; a closed pipe is not an error.
pub fn to_stdout(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        r => r.context("while writing to stdout").map(|()| 0),
    }
}

/// `v` as pretty JSON and a newline.
pub fn write_json(v: &serde_json::Value, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)
}

/// The findings as a Markdown table (peer strings made safe to show).
pub fn write_markdown(findings: &[Finding], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "Findings from metadata are for triage, not proof.\n")?;
    if findings.is_empty() {
        return writeln!(out, "No findings.");
    }
    writeln!(
        out,
        "| severity | kind | subject | at | explanation | events |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for f in findings {
        let cell = |s: &str| safe(s).replace('|', "\\|");
        let ids: Vec<&str> = f.event_ids.iter().take(3).map(String::as_str).collect();
        let more = f.event_ids.len().saturating_sub(3);
        let ids = if more > 0 {
            format!("{} (+{more})", ids.join(", "))
        } else {
            ids.join(", ")
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            f.severity.name(),
            f.kind,
            cell(&f.subject),
            cell(&f.at),
            cell(&f.explanation),
            cell(&ids)
        )?;
    }
    Ok(())
}
