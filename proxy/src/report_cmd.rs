//! `mcp-blackbox report`: a usage report in Markdown, JSON or one
//! self-contained HTML page, to stdout or `--out FILE`. Thin glue over
//! [`audit_core::analysis::report`]: scan the trail (and the previous
//! period when `--since` is given), verify it, load the settings the
//! recommendations look at, then pick the writer. docs/reporting.md is the
//! guide.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use audit_core::analysis::report::advice::{period_json, previous_period, session_status, Setup};
use audit_core::analysis::report::html::write_html;
use audit_core::analysis::report::markdown::write_markdown;
use audit_core::analysis::report::{Context, Report};
use audit_core::trail::scan::{default_workers, for_each_event, scan_files, Progress};
use audit_core::trail::{trail_files, Filter};
use audit_core::verify::verify_paths;

use crate::anomalies_cmd::write_json;
use crate::config_cmd::reader_settings;
use crate::document::{DocFormat, DocumentArgs};
use crate::read_cmd::{report_issue, with_progress, TrailArgs};

/// Arguments of `mcp-blackbox report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    #[command(flatten)]
    pub document: DocumentArgs,
    /// Do not verify the sessions' hash chains (verifying reads the trail a second time).
    #[arg(long)]
    pub no_verify: bool,
}

/// Runs `report`; exit status 0.
pub fn run(args: ReportArgs) -> Result<i32> {
    let now = SystemTime::now();
    let spec = args.trail.spec();
    let paths = args.trail.paths()?;
    let files = trail_files(&paths)?;
    let current = scan(&files, &Filter::new(&spec, now)?)?;
    let previous = match previous_period(&spec, now)? {
        Some(before) => {
            let summary = scan(&files, &Filter::new(&before, now)?)?.into_json(&Context::default())
                ["summary"]
                .take();
            Some((period_json(&before, now)?, summary))
        }
        None => None,
    };
    let settings = reader_settings(args.trail.config.clone())?;
    let verdicts = if args.no_verify {
        None
    } else {
        let key = args.document.public_key(&settings)?;
        let report = verify_paths(&paths, key.as_ref()).context("while verifying the trail")?;
        let with_key = key.is_some();
        Some(
            report
                .sessions
                .iter()
                .map(|s| (s.session_id.clone(), session_status(s, with_key)))
                .collect::<HashMap<_, _>>(),
        )
    };
    let ctx = Context {
        period: period_json(&spec, now)?,
        setup: Setup::from_settings(&settings, verdicts.is_some()),
        verdicts,
        previous,
    };
    let report = current.into_json(&ctx);
    args.document
        .emit(|out: &mut dyn Write| match args.document.format {
            DocFormat::Json => write_json(&report, out),
            DocFormat::Html => write_html(&report, out),
            DocFormat::Md => write_markdown(&report, out),
        })
}

/// The report figures of `files` under `filter`.
fn scan(files: &[PathBuf], filter: &Filter) -> Result<Report> {
    let progress = Progress::default();
    let parts = with_progress(&progress, || {
        scan_files(files, default_workers(), &progress, &|path| {
            let mut r = Report::default();
            for_each_event(
                path,
                filter,
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
    Ok(total)
}
