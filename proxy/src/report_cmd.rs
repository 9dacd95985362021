//! `mcp-blackbox report`: a usage report in Markdown, JSON or one
//! self-contained HTML page, to stdout or `--out FILE`. Thin glue over
//! [`audit_core::analysis::report`]: scan the trail (and the previous
//! period when `--since` is given), verify it, load the settings the
//! recommendations look at, then pick the writer. docs/reporting.md is the
//! guide.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context as _, Result};
use audit_core::analysis::report::advice::{period_json, previous_period, session_status, Setup};
use audit_core::analysis::report::html::write_html;
use audit_core::analysis::report::markdown::write_markdown;
use audit_core::analysis::report::out::write_private;
use audit_core::analysis::report::{Context, Report};
use audit_core::config::{LoadInput, Settings};
use audit_core::sign::{PublicKey, SecretKey};
use audit_core::trail::scan::{default_workers, for_each_event, scan_files, Progress};
use audit_core::trail::{trail_files, Filter};
use audit_core::verify::verify_paths;

use crate::anomalies_cmd::{to_stdout, write_json};
use crate::config_cmd::{home_dir, process_env};
use crate::read_cmd::{report_issue, with_progress, TrailArgs};

/// Arguments of `mcp-blackbox report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// md, json or html (one self-contained page with charts).
    #[arg(long, value_name = "FORMAT", default_value = "md")]
    pub format: String,
    /// Write the report to this file (mode 0600, replaced atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Public key (`KEY.pub` from `mcp-blackbox keygen`) to check signatures with [default: derived from audit.signing_key].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Do not verify the sessions' hash chains (verifying reads the trail a second time).
    #[arg(long)]
    pub no_verify: bool,
}

/// Runs `report`; exit status 0.
pub fn run(args: ReportArgs) -> Result<i32> {
    if !matches!(args.format.as_str(), "md" | "json" | "html") {
        bail!("invalid --format `{}`; valid: md, json, html", args.format);
    }
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
    let settings = Settings::load(LoadInput {
        config_path: args.trail.config.clone(),
        home: home_dir(),
        env: process_env(),
        ..LoadInput::default()
    })?;
    let verdicts = if args.no_verify {
        None
    } else {
        let key = public_key(args.key.as_deref(), &settings)?;
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
    let write = |out: &mut dyn Write| match args.format.as_str() {
        "json" => write_json(&report, out),
        "html" => write_html(&report, out),
        _ => write_markdown(&report, out),
    };
    match &args.out {
        Some(path) => write_private(path, write)
            .with_context(|| format!("while writing --out {}", path.display()))
            .map(|()| 0),
        None => to_stdout(write),
    }
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

/// `--key`, else the public half of `audit.signing_key` when it is readable.
fn public_key(given: Option<&Path>, settings: &Settings) -> Result<Option<PublicKey>> {
    if let Some(path) = given {
        let key = PublicKey::load(path)
            .with_context(|| format!("while reading --key {}", path.display()))?;
        return Ok(Some(key));
    }
    let Some(path) = &settings.audit.signing_key.value else {
        return Ok(None);
    };
    match SecretKey::load(path) {
        Ok(k) => Ok(Some(k.public())),
        Err(e) => {
            tracing::warn!(
                "audit.signing_key {} unreadable ({e}); signatures not checked",
                path.display()
            );
            Ok(None)
        }
    }
}
