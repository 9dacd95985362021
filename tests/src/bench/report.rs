//! Medians over rounds, ratios against the bare relays, and the targets.
//!
//! Input: loadgen's result objects (one per configuration and round, each with
//! its `label`) and optionally `bench_pipeline`'s. Absolute times on a shared
//! machine are noise, so every figure of the proxy is also given as a ratio to
//! each bare relay and to the *reference*: per metric, the better of the two.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::bench::stats::median;

/// Label of the blocking-threads bare relay.
pub const RELAY_THREADS: &str = "relay_threads";
/// Label of the tokio-stdio bare relay.
pub const RELAY_TOKIO: &str = "relay_tokio";
/// Label of the proxy under test.
pub const PROXY: &str = "mcp-blackbox";

/// Whether a smaller or a larger value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// One row of the table: a metric's median per configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    /// JSON pointer into a loadgen result.
    pub pointer: String,
    pub better: Better,
    pub medians: BTreeMap<String, f64>,
    /// The proxy's figure over `relay_threads`' in the same round, over the
    /// rounds that have both ([`Paired`]).
    pub paired: Option<Paired>,
}

/// Ratios taken round by round. The two configurations of a round run
/// back to back, so a host that slows down or speeds up between rounds
/// moves both: the spread of these ratios shows how much of a difference
/// between runs is noise, and their median is less moved by it than the
/// ratio of the medians (which the targets use, as the issue states them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub rounds: usize,
}

impl Paired {
    /// The per-round ratios of `label` over `base` at `pointer` in `runs`.
    fn of(runs: &[Value], pointer: &str, label: &str, base: &str) -> Option<Paired> {
        let per_round = |l: &str| -> BTreeMap<u64, f64> {
            runs.iter()
                .filter(|r| r["label"] == l)
                .filter_map(|r| Some((r["round"].as_u64()?, r.pointer(pointer)?.as_f64()?)))
                .collect()
        };
        let bases = per_round(base);
        let ratios: Vec<f64> = per_round(label)
            .into_iter()
            .filter_map(|(round, v)| Some(v / bases.get(&round)?))
            .filter(|r| r.is_finite())
            .collect();
        Some(Paired {
            median: median(&ratios)?,
            min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
            max: ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            rounds: ratios.len(),
        })
    }
}

impl Row {
    /// The better of the two bare relays' medians, and which one it is.
    pub fn reference(&self) -> Option<(&'static str, f64)> {
        let t = self.medians.get(RELAY_THREADS).map(|&v| (RELAY_THREADS, v));
        let k = self.medians.get(RELAY_TOKIO).map(|&v| (RELAY_TOKIO, v));
        match (t, k) {
            (Some(a), Some(b)) => Some(match self.better {
                Better::Lower if b.1 < a.1 => b,
                Better::Higher if b.1 > a.1 => b,
                _ => a,
            }),
            (a, b) => a.or(b),
        }
    }

    /// `label`'s median divided by `base`'s.
    pub fn ratio(&self, label: &str, base: &str) -> Option<f64> {
        Some(self.medians.get(label)? / self.medians.get(base)?)
    }
}

/// The metrics of the table, in order; `/large/<size>/…` rows for every size found.
pub fn metric_list(runs: &[Value]) -> Vec<(String, String, Better)> {
    use Better::*;
    let mut list: Vec<(String, String, Better)> = [
        ("time to first response (ms)", "/ttfr_ms", Lower),
        ("idle RSS (KiB)", "/idle_rss_kib", Lower),
        ("sequential p50 (µs)", "/sequential/p50_us", Lower),
        ("sequential p90 (µs)", "/sequential/p90_us", Lower),
        ("sequential p99 (µs)", "/sequential/p99_us", Lower),
        ("sequential max (µs)", "/sequential/max_us", Lower),
        (
            "sequential CPU/call (µs)",
            "/sequential/cpu_us_per_call",
            Lower,
        ),
        ("pipelined calls/s", "/pipelined/calls_per_s", Higher),
        ("pipelined MB/s", "/pipelined/mb_per_s", Higher),
        (
            "pipelined CPU/call (µs)",
            "/pipelined/cpu_us_per_call",
            Lower,
        ),
    ]
    .iter()
    .map(|(n, p, b)| (n.to_string(), p.to_string(), *b))
    .collect();
    let mut sizes: Vec<(u64, String)> = runs
        .iter()
        .filter_map(|r| r["large"].as_object())
        .flat_map(|o| {
            o.iter()
                .map(|(k, v)| (v["size"].as_u64().unwrap_or(0), k.clone()))
        })
        .collect();
    sizes.sort();
    sizes.dedup();
    for (_, key) in sizes {
        list.push((
            format!("large {key} MB/s"),
            format!("/large/{key}/mb_per_s"),
            Higher,
        ));
        list.push((
            format!("large {key} CPU/MiB (ms)"),
            format!("/large/{key}/cpu_ms_per_mib"),
            Lower,
        ));
    }
    list.push(("peak RSS (KiB)".into(), "/peak_rss_kib".into(), Lower));
    list.push((
        "peak RSS, calls session (KiB)".into(),
        "/peak_rss_small_kib".into(),
        Lower,
    ));
    list.push((
        "peak RSS, large-results session (KiB)".into(),
        "/peak_rss_large_kib".into(),
        Lower,
    ));
    list
}

/// The median over rounds of every metric, per label.
pub fn rows(runs: &[Value]) -> Vec<Row> {
    metric_list(runs)
        .into_iter()
        .map(|(name, pointer, better)| {
            let mut per_label: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for run in runs {
                if let (Some(label), Some(v)) = (
                    run["label"].as_str(),
                    run.pointer(&pointer).and_then(Value::as_f64),
                ) {
                    per_label.entry(label.to_owned()).or_default().push(v);
                }
            }
            let medians = per_label
                .into_iter()
                .filter_map(|(l, v)| Some((l, median(&v)?)))
                .collect();
            let paired = Paired::of(runs, &pointer, PROXY, RELAY_THREADS);
            Row {
                name,
                pointer,
                better,
                medians,
                paired,
            }
        })
        .collect()
}

/// One target of docs/performance.md, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub what: String,
    pub limit: String,
    pub measured: Option<f64>,
    pub met: Option<bool>,
}

pub fn target(
    what: &str,
    limit: String,
    measured: Option<f64>,
    ok: impl Fn(f64) -> bool,
) -> Target {
    Target {
        what: what.into(),
        limit,
        measured,
        met: measured.map(ok),
    }
}

/// Checks the proxy's medians (and the pipeline's figures) against the targets.
pub fn targets(rows: &[Row], runs: &[Value], pipeline: Option<&Value>) -> Vec<Target> {
    let row = |p: &str| rows.iter().find(|r| r.pointer == p);
    let vs_ref = |p: &str| {
        let r = row(p)?;
        Some(r.medians.get(PROXY)? / r.reference()?.1)
    };
    let proxy_runs: Vec<&Value> = runs.iter().filter(|r| r["label"] == PROXY).collect();
    let mut t = vec![
        target(
            "sequential p50 vs bare relay",
            "<= 1.10x".into(),
            vs_ref("/sequential/p50_us"),
            |v| v <= 1.10,
        ),
        target(
            "sequential p99 vs bare relay",
            "<= 1.25x".into(),
            vs_ref("/sequential/p99_us"),
            |v| v <= 1.25,
        ),
        target(
            "pipelined calls/s vs bare relay",
            ">= 0.90x".into(),
            vs_ref("/pipelined/calls_per_s"),
            |v| v >= 0.90,
        ),
    ];
    // Every call must have its tool_call and tool_result, and nothing may be
    // reported lost; the measured figure is the worst round's unrecorded results.
    let count = |r: &Value, key: &str| r["audit"][key].as_u64();
    let audited = proxy_runs.iter().all(|r| {
        let calls = r["tool_calls"].as_u64();
        count(r, "audit_dropped") == Some(0)
            && count(r, "tool_call") == calls
            && count(r, "tool_result") == calls
    });
    let unrecorded = proxy_runs
        .iter()
        .map(|r| {
            r["tool_calls"]
                .as_u64()
                .unwrap_or(0)
                .saturating_sub(count(r, "tool_result").unwrap_or(0)) as f64
        })
        .fold(None, |worst: Option<f64>, v| {
            Some(worst.map_or(v, |w| w.max(v)))
        });
    t.push(Target {
        what: "tool calls without a recorded tool_result (worst round)".into(),
        limit: "0, and no audit_dropped event".into(),
        measured: unrecorded,
        met: unrecorded.map(|_| audited),
    });
    for size in ["1MiB", "16MiB"] {
        t.push(target(
            &format!("large {size} MB/s vs bare relay"),
            ">= 0.85x".into(),
            vs_ref(&format!("/large/{size}/mb_per_s")),
            |v| v >= 0.85,
        ));
    }
    let largest = proxy_runs
        .iter()
        .filter_map(|r| r["largest_frame_bytes"].as_f64())
        .fold(0.0, f64::max);
    let rss_limit = (3.0 * largest + 16.0 * 1048576.0) / 1024.0;
    // The target is about large results: their session's peak (results
    // from before that session existed have only the whole run's).
    let large_peak = row("/peak_rss_large_kib")
        .and_then(|r| r.medians.get(PROXY).copied())
        .or_else(|| row("/peak_rss_kib").and_then(|r| r.medians.get(PROXY).copied()));
    t.push(target(
        "peak RSS with large results (KiB)",
        format!("<= 3 x largest frame + 16 MiB = {rss_limit:.0}"),
        large_peak,
        |v| v <= rss_limit,
    ));
    t.push(target(
        "idle RSS (KiB)",
        "<= 10240".into(),
        row("/idle_rss_kib").and_then(|r| r.medians.get(PROXY).copied()),
        |v| v <= 10240.0,
    ));
    let ttfr = row("/ttfr_ms");
    let ttfr_ref = ttfr.and_then(Row::reference).map(|r| r.1);
    t.push(target(
        "time to first response (ms)",
        format!(
            "<= bare relay + 5 = {:.2}",
            ttfr_ref.unwrap_or(f64::NAN) + 5.0
        ),
        ttfr.and_then(|r| r.medians.get(PROXY).copied()),
        |v| ttfr_ref.is_some_and(|r| v <= r + 5.0),
    ));
    if let Some(p) = pipeline {
        t.push(target(
            "audit pipeline events/s (one core)",
            ">= 200000".into(),
            p["auditor"]["events_per_s"].as_f64(),
            |v| v >= 200_000.0,
        ));
    }
    t
}

/// The whole summary as JSON.
pub fn summary_json(rows: &[Row], targets: &[Target], pipeline: Option<&Value>) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let reference = r.reference();
            json!({
                "metric": r.name, "pointer": r.pointer,
                "better": if r.better == Better::Lower { "lower" } else { "higher" },
                "medians": r.medians,
                "reference": reference.map(|x| x.0),
                "proxy_vs_reference": reference.and_then(|(l, _)| r.ratio(PROXY, l)),
                "proxy_vs_relay_threads": r.ratio(PROXY, RELAY_THREADS),
                "proxy_vs_relay_tokio": r.ratio(PROXY, RELAY_TOKIO),
                "relay_tokio_vs_relay_threads": r.ratio(RELAY_TOKIO, RELAY_THREADS),
                "proxy_vs_relay_threads_per_round": r.paired.map(|p| json!({
                    "median": p.median, "min": p.min, "max": p.max, "rounds": p.rounds,
                })),
            })
        })
        .collect();
    let targets: Vec<Value> = targets
        .iter()
        .map(|t| json!({"target": t.what, "limit": t.limit, "measured": t.measured, "met": t.met}))
        .collect();
    json!({"rows": rows, "targets": targets, "pipeline": pipeline})
}

fn cell(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The table and the targets as Markdown.
pub fn markdown(rows: &[Row], targets: &[Target]) -> String {
    let labels = ["direct", RELAY_THREADS, RELAY_TOKIO, PROXY];
    let mut out = format!(
        "| metric | {} | proxy / threads | proxy / tokio | tokio / threads | proxy / threads per round: median (range) |\n|---|{}---|---|---|---|\n",
        labels.join(" | "),
        "---|".repeat(labels.len())
    );
    for r in rows {
        let cells: Vec<String> = labels
            .iter()
            .map(|l| cell(r.medians.get(*l).copied()))
            .collect();
        let paired = r.paired.map_or("–".into(), |p| {
            format!(
                "{} ({}–{})",
                cell(Some(p.median)),
                cell(Some(p.min)),
                cell(Some(p.max))
            )
        });
        out += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.name,
            cells.join(" | "),
            cell(r.ratio(PROXY, RELAY_THREADS)),
            cell(r.ratio(PROXY, RELAY_TOKIO)),
            cell(r.ratio(RELAY_TOKIO, RELAY_THREADS)),
            paired,
        );
    }
    out += "\n| target | limit | measured | met |\n|---|---|---|---|\n";
    for t in targets {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None if t.limit.is_empty() => "",
            None => "not measured",
        };
        out += &format!(
            "| {} | {} | {} | {} |\n",
            t.what,
            t.limit,
            cell(t.measured),
            met
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(rows: &'a [Row], pointer: &str) -> &'a Row {
        rows.iter().find(|r| r.pointer == pointer).unwrap()
    }

    fn run(label: &str, p50: f64, cps: f64) -> Value {
        json!({"label": label, "sequential": {"p50_us": p50}, "pipelined": {"calls_per_s": cps},
               "large": {"1MiB": {"size": 1048576, "mb_per_s": cps / 10.0}}})
    }

    #[test]
    fn medians_per_label_and_reference_is_the_better_relay() {
        let runs = vec![
            run(RELAY_THREADS, 10.0, 1000.0),
            run(RELAY_THREADS, 30.0, 3000.0),
            run(RELAY_THREADS, 20.0, 2000.0),
            run(RELAY_TOKIO, 40.0, 900.0),
            run(PROXY, 22.0, 1800.0),
        ];
        let rows = rows(&runs);
        let p50 = row(&rows, "/sequential/p50_us");
        assert_eq!(p50.medians[RELAY_THREADS], 20.0);
        assert_eq!(p50.reference(), Some((RELAY_THREADS, 20.0)));
        assert_eq!(p50.ratio(PROXY, RELAY_THREADS), Some(1.1));
        let cps = row(&rows, "/pipelined/calls_per_s");
        assert_eq!(cps.reference(), Some((RELAY_THREADS, 2000.0)));
        assert!(rows.iter().any(|r| r.pointer == "/large/1MiB/mb_per_s"));
    }

    #[test]
    fn paired_ratios_match_rounds() {
        let round = |label: &str, n: u64, cps: f64| {
            let mut r = run(label, 10.0, cps);
            r["round"] = json!(n);
            r
        };
        // The host halves its speed in round 2, and round 4 ran only the
        // proxy: the medians' ratio says 0.63x, the rounds 0.8x-0.9x.
        let runs = vec![
            round(RELAY_THREADS, 1, 1000.0),
            round(PROXY, 1, 800.0),
            round(RELAY_THREADS, 2, 500.0),
            round(PROXY, 2, 450.0),
            round(RELAY_THREADS, 3, 1000.0),
            round(PROXY, 3, 900.0),
            round(PROXY, 4, 5.0), // no relay_threads in round 4: not paired
        ];
        let rows = rows(&runs);
        let cps = row(&rows, "/pipelined/calls_per_s");
        assert_eq!(cps.ratio(PROXY, RELAY_THREADS), Some(0.625));
        let p = cps.paired.unwrap();
        assert_eq!((p.median, p.min, p.max, p.rounds), (0.9, 0.8, 0.9, 3));
        assert!(markdown(&rows, &[]).contains("| 0.90 (0.80–0.90) |"));
    }

    #[test]
    fn reference_follows_the_direction_of_better() {
        let runs = vec![
            run(RELAY_THREADS, 20.0, 1000.0),
            run(RELAY_TOKIO, 10.0, 900.0),
        ];
        let rows = rows(&runs);
        let p50 = row(&rows, "/sequential/p50_us");
        assert_eq!(p50.reference(), Some((RELAY_TOKIO, 10.0)));
        let cps = row(&rows, "/pipelined/calls_per_s");
        assert_eq!(cps.reference(), Some((RELAY_THREADS, 1000.0)));
    }

    #[test]
    fn targets_are_checked_against_the_reference() {
        let mut proxy = run(PROXY, 23.0, 1900.0);
        proxy["tool_calls"] = json!(10);
        proxy["audit"] = json!({"tool_call": 10, "tool_result": 10, "audit_dropped": 0});
        let runs = vec![
            run(RELAY_THREADS, 20.0, 2000.0),
            run(RELAY_TOKIO, 40.0, 1000.0),
            proxy,
        ];
        let rows = rows(&runs);
        let t = targets(&rows, &runs, None);
        let p50 = t
            .iter()
            .find(|t| t.what.starts_with("sequential p50"))
            .unwrap();
        assert_eq!(p50.met, Some(false)); // 1.15x > 1.10x
        let cps = t.iter().find(|t| t.what.starts_with("pipelined")).unwrap();
        assert_eq!(cps.met, Some(true)); // 0.95x
        let audit = t
            .iter()
            .find(|t| t.what.starts_with("tool calls without"))
            .unwrap();
        assert_eq!((audit.measured, audit.met), (Some(0.0), Some(true)));
        let idle = t.iter().find(|t| t.what.starts_with("idle")).unwrap();
        assert_eq!(idle.met, None);
        assert!(markdown(&rows, &t)
            .contains("| sequential p50 (µs) | – | 20.0 | 40.0 | 23.0 | 1.15 | 0.57 | 2.00 |"));
    }

    #[test]
    fn lost_results_fail_the_audit_target() {
        let mut proxy = run(PROXY, 20.0, 2000.0);
        proxy["tool_calls"] = json!(100);
        proxy["audit"] = json!({"tool_call": 100, "tool_result": 97, "audit_dropped": 1});
        let runs = vec![run(RELAY_THREADS, 20.0, 2000.0), proxy];
        let t = targets(&rows(&runs), &runs, None);
        let audit = t
            .iter()
            .find(|t| t.what.starts_with("tool calls without"))
            .unwrap();
        assert_eq!((audit.measured, audit.met), (Some(3.0), Some(false)));
    }

    #[test]
    fn the_rss_target_reads_the_large_results_session() {
        let mut proxy = run(PROXY, 20.0, 2000.0);
        proxy["largest_frame_bytes"] = json!(1048576);
        // 19 MiB limit: the whole run (a burst session) is over it, the
        // large-results session is not.
        proxy["peak_rss_kib"] = json!(40000);
        proxy["peak_rss_large_kib"] = json!(15000);
        let runs = vec![run(RELAY_THREADS, 20.0, 2000.0), proxy.clone()];
        let t = targets(&rows(&runs), &runs, None);
        let rss = t.iter().find(|t| t.what.starts_with("peak RSS")).unwrap();
        assert_eq!((rss.measured, rss.met), (Some(15000.0), Some(true)));
        // Older results have only the whole run's peak.
        proxy.as_object_mut().unwrap().remove("peak_rss_large_kib");
        let runs = vec![run(RELAY_THREADS, 20.0, 2000.0), proxy];
        let t = targets(&rows(&runs), &runs, None);
        let rss = t.iter().find(|t| t.what.starts_with("peak RSS")).unwrap();
        assert_eq!((rss.measured, rss.met), (Some(40000.0), Some(false)));
    }
}
