//! `loadgen [OPTIONS] -- cmd args…`: drives an MCP stdio server (directly, or
//! through a relay or mcp-blackbox) and prints one JSON object of results.
//!
//! Scenarios, in this order: (a) sequential small `echo` calls, timed one by
//! one; (b) pipelined `echo` calls with `--window` in flight; (c) `blob`
//! results of each `--large` size. Every response is checked against its
//! request; any mismatch exits non-zero. Scenario (c) gets a fresh session
//! of the command when (a) or (b) ran, so that it measures large results, not
//! what a proxy still does for (b). Resources of the spawned process (idle
//! RSS after the handshake, peak RSS per session, CPU time per scenario) come
//! from `/proc`. `loadgen --report DIR` instead summarises a directory of results.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use blackbox_tests::bench::procstat::ProcSample;
use blackbox_tests::bench::scenario::{count_audit_events, Session};
use blackbox_tests::bench::{parse_size_count as parse_large, pinned, report};
use clap::Parser;
use serde_json::{json, Map, Value};

#[derive(Parser, Debug)]
#[command(about = "Load generator for MCP stdio servers and proxies")]
struct Args {
    /// Name of this configuration in the results (`direct`, `relay_threads`, …).
    #[arg(long, default_value = "direct")]
    label: String,
    /// Round number, copied into the results.
    #[arg(long, default_value_t = 0)]
    round: u32,
    /// Sequential calls of scenario (a); 0 skips it.
    #[arg(long, default_value_t = 20000)]
    seq_calls: u64,
    /// Pipelined calls of scenario (b); 0 skips it.
    #[arg(long, default_value_t = 50000)]
    pipelined_calls: u64,
    /// Calls in flight in scenario (b).
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Length of each echo text, bytes.
    #[arg(long, default_value_t = 128)]
    payload: usize,
    /// Large results of scenario (c) as SIZE:COUNT pairs (K/M suffixes are KiB/MiB).
    #[arg(long, value_delimiter = ',', default_value = "64K:512,1M:64,16M:8")]
    large: Vec<String>,
    /// Audit directory of the proxy: count its events per type after the run.
    #[arg(long)]
    audit_dir: Option<PathBuf>,
    /// Summarise the `*.json` results in this directory instead of running.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// The server command (or relay/proxy command line).
    #[arg(last = true)]
    command: Vec<String>,
}

fn main() {
    let args = Args::parse();
    let result = match &args.report {
        Some(dir) => summarise(dir),
        None => run(&args).map(|v| println!("{v}")),
    };
    if let Err(e) = result {
        eprintln!("loadgen: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<Value> {
    let large = args
        .large
        .iter()
        .map(|s| parse_large(s))
        .collect::<Result<Vec<_>>>()?;
    let mut s = Session::open(&args.command)?;
    let ttfr = s.time_to_first_response;
    // Let the process settle (threads started, first audit lines written).
    std::thread::sleep(Duration::from_millis(200));
    let idle = s.sample()?;
    let mut out = Map::new();
    out.insert("label".into(), json!(args.label));
    out.insert("round".into(), json!(args.round));
    out.insert("command".into(), json!(args.command));
    // 1 under `taskset -c 0`: the pinned figures apply (bench::pinned).
    out.insert("cpus".into(), json!(blackbox_tests::bench::allowed_cpus()?));
    out.insert("ttfr_ms".into(), json!(ttfr.as_secs_f64() * 1e3));
    out.insert("idle_rss_kib".into(), json!(idle.rss_kib));
    if args.seq_calls > 0 {
        out.insert(
            "sequential".into(),
            s.sequential(args.seq_calls, args.payload)?,
        );
    }
    if args.pipelined_calls > 0 {
        let v = s.pipelined(args.pipelined_calls, args.window, args.payload)?;
        out.insert("pipelined".into(), v);
    }
    // Scenario (c) runs in a session of its own when (a) or (b) ran: the
    // proxy's auditor may still be working through (b)'s burst (it is slower
    // than the relay on small calls, and the hand-off queue holds the burst),
    // and (c) must measure large results, not that backlog. The first session
    // ends first (its exit drains the backlog), so no two proxies overlap.
    let mut sessions = Vec::new();
    if !large.is_empty() && (args.seq_calls > 0 || args.pipelined_calls > 0) {
        let small = s.sample()?;
        out.insert("peak_rss_small_kib".into(), json!(small.peak_rss_kib));
        sessions.push(close(s, small)?);
        s = Session::open(&args.command)?;
    }
    let mut large_out = Map::new();
    for (size, count, key) in &large {
        large_out.insert(key.clone(), s.large(*size, *count)?);
    }
    out.insert("large".into(), Value::Object(large_out));
    let end = s.sample()?;
    if !large.is_empty() {
        out.insert("peak_rss_large_kib".into(), json!(end.peak_rss_kib));
    }
    sessions.push(close(s, end)?);
    let largest = large.iter().map(|l| l.0).max().unwrap_or(args.payload);
    out.insert("largest_frame_bytes".into(), json!(largest + 100));
    let peak = sessions.iter().map(|c| c.peak_rss_kib).max();
    out.insert("peak_rss_kib".into(), json!(peak));
    let cpu: Duration = sessions.iter().map(|c| c.cpu).sum();
    out.insert("cpu_ms_total".into(), json!(cpu.as_secs_f64() * 1e3));
    let calls: u64 = sessions.iter().map(|c| c.tool_calls).sum();
    out.insert("tool_calls".into(), json!(calls));
    let code = sessions
        .iter()
        .map(|c| c.exit_code)
        .find(|c| *c != 0)
        .unwrap_or(0);
    out.insert("exit_code".into(), json!(code));
    out.insert("sessions".into(), json!(sessions.len()));
    if let Some(dir) = &args.audit_dir {
        out.insert("audit".into(), audit_counts(dir)?);
    }
    if code != 0 {
        bail!("the child exited with status {code}");
    }
    Ok(Value::Object(out))
}

/// What one ended session contributes to the results.
struct Closed {
    peak_rss_kib: u64,
    cpu: Duration,
    tool_calls: u64,
    exit_code: i32,
}

/// Ends `s` (its last resource sample is `last`).
fn close(s: Session, last: ProcSample) -> Result<Closed> {
    let tool_calls = s.tool_calls;
    Ok(Closed {
        peak_rss_kib: last.peak_rss_kib,
        cpu: last.cpu,
        tool_calls,
        exit_code: s.finish()?,
    })
}

fn audit_counts(dir: &std::path::Path) -> Result<Value> {
    let counts = count_audit_events(dir)?;
    let mut v = json!(counts);
    // Always present, so a missing key is never read as "none dropped".
    for key in ["tool_call", "tool_result", "audit_dropped"] {
        v.as_object_mut()
            .expect("object")
            .entry(key)
            .or_insert(json!(0));
    }
    Ok(v)
}

fn summarise(dir: &std::path::Path) -> Result<()> {
    let mut runs = Vec::new();
    let (mut pipeline, mut sha256) = (None, None);
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("while listing {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.ends_with(".json") || name == "summary.json" {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("while reading {}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if name == "pipeline.json" {
            pipeline = Some(v);
        } else if name == "sha256.json" {
            sha256 = Some(v);
        } else if v.get("label").is_some() {
            runs.push(v);
        }
    }
    if runs.is_empty() {
        bail!("no loadgen results in {}", dir.display());
    }
    let rows = report::rows(&runs);
    let mut targets = report::targets(&rows, &runs, pipeline.as_ref());
    if pinned::is_pinned(&runs) {
        targets.extend(pinned::targets(&rows, sha256.as_ref()));
    }
    let summary = report::summary_json(&rows, &targets, pipeline.as_ref());
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    print!("{}", report::markdown(&rows, &targets));
    Ok(())
}
