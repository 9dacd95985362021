//! The targets of a run with every process on one CPU (`taskset -c 0`).
//!
//! On one CPU the client, the relay (or proxy) and the server take turns, so
//! a throughput ratio is a CPU-cost ratio and the machine's other load moves
//! it little. The audit's own cost is the proxy's CPU per MiB of large
//! results less the bare relay's, set against SHA-256 alone over the same
//! bytes (`bench_pipeline --sha256`): the hashing limit, measured in the
//! same run.

use serde_json::Value;

use crate::bench::report::{target, Row, Target, PROXY};

/// Whether every loadgen run of `runs` ran on exactly one CPU.
pub fn is_pinned(runs: &[Value]) -> bool {
    !runs.is_empty() && runs.iter().all(|r| r["cpus"].as_u64() == Some(1))
}

/// The proxy's median over the reference's (the better bare relay) at `pointer`.
fn vs_reference(rows: &[Row], pointer: &str) -> Option<f64> {
    let r = rows.iter().find(|r| r.pointer == pointer)?;
    Some(r.medians.get(PROXY)? / r.reference()?.1)
}

/// The proxy's CPU per MiB of `size` results above the bare relay's.
pub fn audit_ms_per_mib(rows: &[Row], size: &str) -> Option<f64> {
    let pointer = format!("/large/{size}/cpu_ms_per_mib");
    let r = rows.iter().find(|r| r.pointer == pointer)?;
    Some(r.medians.get(PROXY)? - r.reference()?.1)
}

/// The pinned targets; `sha256` is `bench_pipeline --sha256`'s output.
pub fn targets(rows: &[Row], sha256: Option<&Value>) -> Vec<Target> {
    let mut t = Vec::new();
    for size in ["16MiB", "1MiB"] {
        let sha = sha256.and_then(|s| s["sha256"][size]["cpu_ms_per_mib"].as_f64());
        // A figure, not a target: what the audit's cost is set against.
        t.push(Target {
            what: format!("pinned: SHA-256 alone, {size} results (CPU ms/MiB)"),
            limit: String::new(),
            measured: sha,
            met: None,
        });
        let audit = audit_ms_per_mib(rows, size);
        t.push(target(
            &format!("pinned: audit CPU/MiB ({size} results, proxy less bare relay) vs SHA-256"),
            "<= 1.25x".into(),
            audit.zip(sha).map(|(a, s)| a / s),
            |v| v <= 1.25,
        ));
    }
    for (size, limit) in [("16MiB", 0.60), ("1MiB", 0.65), ("64KiB", 0.85)] {
        t.push(target(
            &format!("pinned: large {size} MB/s vs bare relay"),
            format!(">= {limit:.2}x"),
            vs_reference(rows, &format!("/large/{size}/mb_per_s")),
            |v| v >= limit,
        ));
    }
    t.push(target(
        "pinned: sequential p99 vs bare relay",
        "<= 2x".into(),
        vs_reference(rows, "/sequential/p99_us"),
        |v| v <= 2.0,
    ));
    t.push(target(
        "pinned: proxy's own CPU per sequential call vs bare relay's",
        "<= 1.5x".into(),
        vs_reference(rows, "/sequential/cpu_us_per_call"),
        |v| v <= 1.5,
    ));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{rows, RELAY_THREADS};
    use serde_json::json;

    fn run(label: &str, cpu_per_mib: f64, mbps: f64, cpu_per_call: f64) -> Value {
        json!({"label": label, "cpus": 1,
               "sequential": {"p99_us": 10.0, "cpu_us_per_call": cpu_per_call},
               "large": {"16MiB": {"size": 16777216, "mb_per_s": mbps, "cpu_ms_per_mib": cpu_per_mib}}})
    }

    #[test]
    fn the_audit_cost_is_the_proxy_less_the_relay_over_sha256() {
        let runs = vec![
            run(RELAY_THREADS, 0.5, 1000.0, 10.0),
            run(PROXY, 1.5, 500.0, 20.0),
        ];
        assert!(is_pinned(&runs));
        let sha = json!({"sha256": {"16MiB": {"cpu_ms_per_mib": 0.8}}});
        let t = targets(&rows(&runs), Some(&sha));
        let find = |w: &str| t.iter().find(|t| t.what.starts_with(w)).unwrap();
        let audit = find("pinned: audit CPU/MiB (16MiB");
        assert_eq!((audit.measured, audit.met), (Some(1.25), Some(true)));
        let mbps = find("pinned: large 16MiB");
        assert_eq!((mbps.measured, mbps.met), (Some(0.5), Some(false)));
        let cpu = find("pinned: proxy's own CPU");
        assert_eq!((cpu.measured, cpu.met), (Some(2.0), Some(false)));
        let sha = find("pinned: SHA-256 alone, 16MiB");
        assert_eq!((sha.measured, sha.met), (Some(0.8), None));
        // 1 MiB results were not run: nothing is claimed about them.
        assert_eq!(find("pinned: large 1MiB").met, None);
    }

    #[test]
    fn an_unpinned_run_is_not_pinned() {
        let mut r = run(PROXY, 1.0, 1.0, 1.0);
        r["cpus"] = json!(2);
        assert!(!is_pinned(&[r]));
        assert!(!is_pinned(&[]));
    }
}
