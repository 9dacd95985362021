//! `mcp-blackbox stats` and `sessions`: tables computed over the whole
//! trail, files read in parallel. Thin glue over [`audit_core::trail`].

use std::collections::HashMap;
use std::io::Write;

use anyhow::{bail, Context, Result};
use audit_core::trail::format::{write_rows, Format};
use audit_core::trail::scan::{default_workers, for_each_event, scan_files, Progress};
use audit_core::trail::sessions::{Sessions, SESSION_COLUMNS};
use audit_core::trail::stats::{By, Stats};
use audit_core::trail::trail_files;
use audit_core::verify::verify_paths;

use crate::read_cmd::{report_issue, with_progress, TrailArgs};

/// Arguments of `mcp-blackbox stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// Group by server, tool, user, day or session (comma-separated or repeated; tool implies server) [default: tool].
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub by: Vec<String>,
    /// table, json, csv or markdown.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,
    /// Files read at once [default: the CPUs available].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Arguments of `mcp-blackbox sessions`.
#[derive(Debug, clap::Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// table, json, csv or markdown.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,
    /// Leave out the `verified` column (verifying reads the trail a second time).
    #[arg(long)]
    pub no_verify: bool,
}

fn table_format(name: &str) -> Result<Format> {
    match Format::parse(name) {
        Some(f) if f != Format::Jsonl => Ok(f),
        _ => bail!("invalid --format `{name}`; valid: table, json, csv, markdown"),
    }
}

fn write_out(
    rows: &[serde_json::Map<String, serde_json::Value>],
    columns: &[&str],
    format: Format,
) -> Result<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match write_rows(rows, columns, format, &mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        r => r.context("while writing to stdout").map(|()| 0),
    }
}

/// Runs `stats`; exit status 0.
pub fn run_stats(args: StatsArgs) -> Result<i32> {
    let format = table_format(&args.format)?;
    let by = args
        .by
        .iter()
        .map(|b| {
            By::parse(b).with_context(|| {
                format!("invalid --by `{b}`; valid: server, tool, user, day, session")
            })
        })
        .collect::<Result<Vec<By>>>()?;
    let filter = args.trail.filter()?;
    let files = trail_files(&args.trail.paths()?)?;
    let progress = Progress::default();
    let parts = with_progress(&progress, || {
        scan_files(
            &files,
            args.jobs.unwrap_or_else(default_workers),
            &progress,
            &|path| {
                let mut stats = Stats::new(&by);
                for_each_event(
                    path,
                    &filter,
                    &progress,
                    &mut |e, _| stats.add(e),
                    &report_issue,
                )?;
                Ok(stats)
            },
        )
    })?;
    let mut total = Stats::new(&by);
    for part in parts {
        total.merge(part);
    }
    let columns = total.columns();
    write_out(&total.rows(), &columns, format)
}

/// Runs `sessions`; exit status 0.
pub fn run_sessions(args: SessionsArgs) -> Result<i32> {
    let format = table_format(&args.format)?;
    let filter = args.trail.filter()?;
    let paths = args.trail.paths()?;
    let files = trail_files(&paths)?;
    let progress = Progress::default();
    let parts = with_progress(&progress, || {
        scan_files(&files, default_workers(), &progress, &|path| {
            let mut sessions = Sessions::default();
            for_each_event(
                path,
                &filter,
                &progress,
                &mut |e, line| sessions.add(e, line),
                &report_issue,
            )?;
            Ok(sessions)
        })
    })?;
    let mut all = Sessions::default();
    for part in parts {
        all.merge(part);
    }
    let verdicts: Option<HashMap<String, bool>> = if args.no_verify {
        None
    } else {
        let report = verify_paths(&paths, None).context("while verifying the trail")?;
        Some(
            report
                .sessions
                .iter()
                .map(|s| (s.session_id.clone(), s.is_ok()))
                .collect(),
        )
    };
    let rows: Vec<_> = all
        .into_rows()
        .iter()
        .map(|r| {
            let verified = verdicts
                .as_ref()
                .map(|v| v.get(&r.session_id).copied().unwrap_or(false));
            r.to_json(verified)
        })
        .collect();
    write_out(&rows, &SESSION_COLUMNS, format)
}
