//! `mcp-blackbox query` and `tail`: the trail's events, filtered, as lines,
//! a table, CSV or JSONL. Also what every reading subcommand shares: the
//! filter flags, the paths (the configured audit directory by default),
//! where bad lines are reported, and a progress bar. Thin glue over
//! [`audit_core::trail`]; docs/reading.md is the user's guide.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use audit_core::trail::follow::Follower;
use audit_core::trail::format::{Format, Summary, SUMMARY_COLUMNS};
use audit_core::trail::jq::JqFilter;
use audit_core::trail::query::{Found, Query};
use audit_core::trail::read::for_each_line;
use audit_core::trail::scan::Progress;
use audit_core::trail::{trail_files, Filter, FilterSpec, Issue};

/// Where to read and which events: the flags shared by every reader.
#[derive(Debug, Clone, clap::Args)]
pub struct TrailArgs {
    /// Audit files or directories [default: the configured audit directory].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Events at or after: 30s, 15m, 2h, 7d, 2w ago, a date (2026-11-23) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Events before (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Events of this server (repeat for any of several).
    #[arg(long, value_name = "NAME")]
    pub server: Vec<String>,
    /// Events of tools matching this glob (`read_*`; repeatable).
    #[arg(long, value_name = "GLOB")]
    pub tool: Vec<String>,
    /// Events of this type (`tool_call`, `tool_error`, …; repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    pub event_type: Vec<String>,
    /// Events of this user (repeatable).
    #[arg(long, value_name = "USER")]
    pub user: Vec<String>,
    /// Events of this session id (repeatable).
    #[arg(long, value_name = "ID")]
    pub session: Vec<String>,
    /// Events at least this severe: info, warning, error, critical.
    #[arg(long, value_name = "LEVEL")]
    pub severity: Option<String>,
    /// Events with this outcome: success, failure, blocked, pending (repeatable).
    #[arg(long, value_name = "OUTCOME")]
    pub outcome: Vec<String>,
    /// Tool events at least this risky: low, medium, high, critical.
    #[arg(long, value_name = "LEVEL")]
    pub risk: Option<String>,
    /// Tool events with this compliance tag (repeatable).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Events whose line contains this text (as written, JSON-escaped).
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Settings file, for the default audit directory.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

impl TrailArgs {
    /// The filters, checked.
    pub fn filter(&self) -> Result<Filter> {
        Ok(Filter::new(&self.spec(), SystemTime::now())?)
    }

    /// The filter flags as given.
    pub fn spec(&self) -> FilterSpec {
        FilterSpec {
            since: self.since.clone(),
            until: self.until.clone(),
            server: self.server.clone(),
            tool: self.tool.clone(),
            event_type: self.event_type.clone(),
            user: self.user.clone(),
            session: self.session.clone(),
            severity: self.severity.clone(),
            outcome: self.outcome.clone(),
            risk: self.risk.clone(),
            tag: self.tag.clone(),
            text: self.text.clone(),
        }
    }

    /// The paths given, or the configured audit directory.
    pub fn paths(&self) -> Result<Vec<PathBuf>> {
        if !self.paths.is_empty() {
            return Ok(self.paths.clone());
        }
        let dir = crate::config_cmd::configured_audit_dir(self.config.clone())?;
        Ok(vec![dir])
    }
}

/// Arguments of `mcp-blackbox query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// Also keep only events for which this jq filter is true (jq's language: `.duration_ms > 100`).
    #[arg(long = "where", value_name = "FILTER")]
    pub where_: Option<String>,
    /// Answers to tool calls, each with its call: arguments, result, outcome and duration in one object.
    #[arg(long)]
    pub join: bool,
    /// jsonl, table or csv [default: table on a terminal, else jsonl].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

/// Arguments of `mcp-blackbox tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// Keep reading what the proxies write, across rotation, until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Show the last N events first.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
    pub lines: usize,
    /// Also keep only events for which this jq filter is true.
    #[arg(long = "where", value_name = "FILTER")]
    pub where_: Option<String>,
    /// line (a readable line per event) or jsonl (the events as written) [default: line].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

/// How often `tail -f` looks for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

fn output_format(
    given: Option<&str>,
    allowed: &[&str],
    tty_default: &str,
    piped_default: &str,
) -> Result<Format> {
    let name = given.unwrap_or(if std::io::stdout().is_terminal() {
        tty_default
    } else {
        piped_default
    });
    if !allowed.contains(&name) {
        bail!("invalid --format `{name}`; valid: {}", allowed.join(", "));
    }
    Ok(Format::parse(name).unwrap_or(Format::Table))
}

/// Reports a bad line on stderr.
pub fn report_issue(issue: Issue) {
    eprintln!("mcp-blackbox: {issue}");
}

fn compile_where(code: Option<&str>) -> Result<Option<JqFilter>> {
    Ok(code.map(JqFilter::compile).transpose()?)
}

/// Writes what a query found, in `format`.
fn write_found(
    found: Found<'_>,
    format: Format,
    colour: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match (found, format) {
        (Found::Event(_, line), Format::Jsonl) => {
            out.write_all(line)?;
            out.write_all(b"\n")
        }
        (Found::Joined(o), Format::Jsonl) => {
            serde_json::to_writer(&mut *out, &o)?;
            out.write_all(b"\n")
        }
        (found, format) => {
            let summary = match found {
                Found::Event(e, _) => Summary::of(e),
                Found::Joined(o) => Summary::of_joined(&o),
            };
            match format {
                Format::Csv => summary.write_csv(out),
                _ => summary.write_line(colour, out),
            }
        }
    }
}

/// Runs `query`; exit status 0.
pub fn run_query(args: QueryArgs) -> Result<i32> {
    let format = output_format(
        args.format.as_deref(),
        &["jsonl", "table", "csv"],
        "table",
        "jsonl",
    )?;
    let mut query = Query::new(
        args.trail.filter()?,
        compile_where(args.where_.as_deref())?,
        args.join,
    );
    let files = trail_files(&args.trail.paths()?)?;
    let colour = std::io::stdout().is_terminal();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if format == Format::Csv {
        audit_core::trail::format::write_csv_record(SUMMARY_COLUMNS.iter().copied(), &mut out)?;
    }
    let progress = Progress::default();
    progress.files.store(files.len() as u64, Ordering::Relaxed);
    let mut failed: Option<std::io::Error> = None;
    with_progress(&progress, || -> Result<()> {
        for path in &files {
            for_each_line(
                path,
                &mut |_, line| {
                    query.offer(line, &mut |found| {
                        if failed.is_none() {
                            failed = write_found(found, format, colour, &mut out).err();
                        }
                    })
                },
                &mut report_issue,
            )?;
            progress.files_done.fetch_add(1, Ordering::Relaxed);
            if failed.is_some() {
                break;
            }
        }
        Ok(())
    })?;
    finish_output(failed, out)
}

/// A closed pipe (`| head`) ends the output quietly; other write errors fail.
fn finish_output(failed: Option<std::io::Error>, mut out: impl Write) -> Result<i32> {
    match failed.map_or_else(|| out.flush(), Err) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        r => r.context("while writing to stdout").map(|()| 0),
    }
}

/// Runs `tail`; with `--follow`, until interrupted.
pub fn run_tail(args: TailArgs) -> Result<i32> {
    let format = match args.format.as_deref().unwrap_or("line") {
        "line" => Format::Table,
        "jsonl" => Format::Jsonl,
        other => bail!("invalid --format `{other}`; valid: line, jsonl"),
    };
    let mut query = Query::new(
        args.trail.filter()?,
        compile_where(args.where_.as_deref())?,
        false,
    );
    let paths = args.trail.paths()?;
    if !args.follow {
        trail_files(&paths)?;
    }
    let colour = std::io::stdout().is_terminal();
    let mut follower = Follower::new(paths);
    // The first poll reads the history: keep its last N events.
    let mut last: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
    follower.poll(
        &mut |line| {
            query.offer(line, &mut |found| {
                if let Found::Event(_, line) = found {
                    if last.len() == args.lines {
                        last.pop_front();
                    }
                    if args.lines > 0 {
                        last.push_back(line.to_vec());
                    }
                }
            })
        },
        &mut report_issue,
    )?;
    let stdout = std::io::stdout();
    let mut out = std::io::LineWriter::new(stdout.lock());
    let mut failed = None;
    let mut show = |line: &[u8], query: &mut Query, failed: &mut Option<std::io::Error>| {
        let _ = query.offer(line, &mut |found| {
            if failed.is_none() {
                *failed = write_found(found, format, colour, &mut out).err();
            }
        });
    };
    let mut history = Query::new(Filter::default(), None, false);
    for line in &last {
        show(line, &mut history, &mut failed);
    }
    while args.follow && failed.is_none() {
        std::thread::sleep(FOLLOW_INTERVAL);
        follower.poll(
            &mut |line| {
                show(line, &mut query, &mut failed);
                Ok(())
            },
            &mut report_issue,
        )?;
    }
    finish_output(failed, std::io::sink())
}

/// Runs `work` with a progress line on stderr when it is a terminal and the
/// work takes more than a second.
pub fn with_progress<T>(progress: &Progress, work: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let start = Instant::now();
            let mut shown = false;
            while !done.load(Ordering::Relaxed) {
                std::thread::park_timeout(Duration::from_millis(200));
                if start.elapsed() >= Duration::from_secs(1) && !done.load(Ordering::Relaxed) {
                    shown = true;
                    eprint!(
                        "\r{} / {} files, {} events read",
                        progress.files_done.load(Ordering::Relaxed),
                        progress.files.load(Ordering::Relaxed),
                        progress.events.load(Ordering::Relaxed)
                    );
                }
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        let result = work();
        done.store(true, Ordering::Relaxed);
        result
    })
}

/// Every event of `files` passing `filter` folded by `add` into one
/// accumulator per file (files in parallel, with a progress bar), the
/// parts merged in file order by `merge`.
pub fn fold_events<A: Default + Send>(
    files: &[PathBuf],
    filter: &Filter,
    add: &(dyn Fn(&mut A, &audit_core::trail::EventView<'_>, &[u8]) + Sync),
    merge: impl Fn(&mut A, A),
) -> Result<A> {
    use audit_core::trail::scan::{default_workers, for_each_event, scan_files};
    let progress = Progress::default();
    let parts = with_progress(&progress, || {
        scan_files(files, default_workers(), &progress, &|path| {
            let mut acc = A::default();
            for_each_event(
                path,
                filter,
                &progress,
                &mut |e, l| add(&mut acc, e, l),
                &report_issue,
            )?;
            Ok(acc)
        })
    })?;
    let mut total = A::default();
    for part in parts {
        merge(&mut total, part);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        trail: TrailArgs,
    }

    #[test]
    fn a_bad_filter_names_its_flag_and_value() {
        for (args, flag) in [
            (vec!["x", "--since", "yesterday"], "--since"),
            (vec!["x", "--severity", "loud"], "--severity"),
            (vec!["x", "--tool", "a[b"], "--tool"),
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            let err = cli.trail.filter().unwrap_err().to_string();
            assert!(err.contains(flag), "{err}");
        }
    }

    #[test]
    fn a_bad_format_lists_the_valid_ones() {
        let err = output_format(Some("xml"), &["jsonl", "table", "csv"], "table", "jsonl")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`xml`") && err.contains("jsonl, table, csv"),
            "{err}"
        );
    }

    #[test]
    fn missing_paths_are_an_error_naming_them() {
        let err = run_query(QueryArgs {
            trail: Cli::try_parse_from(["x", "/nonexistent/audit"])
                .unwrap()
                .trail,
            where_: None,
            join: false,
            format: Some("jsonl".into()),
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/audit"), "{err:#}");
    }
}
