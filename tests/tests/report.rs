//! `report` over a generated trail: its per-tool, per-server and per-user
//! tables equal `stats --by tool|server|user` on the same files, and its
//! summary adds up from them.

use std::path::Path;
use std::process::Command;

use blackbox_tests::binary::blackbox;
use blackbox_tests::process::run_collect;
use blackbox_tests::trail_gen::{generate, GenSpec};
use serde_json::Value;

fn json(args: &[&str], dir: &Path) -> Value {
    let out = run_collect(Command::new(blackbox()).args(args).arg(dir), "mcp-blackbox");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn report_figures_equal_stats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a");
    let spec = GenSpec {
        events: 20_000,
        seed: 5,
        plant: true,
        ..GenSpec::default()
    };
    generate(&spec, &path).unwrap();
    let report = json(&["report", "--format", "json"], &path);
    for by in ["tool", "server", "user"] {
        let stats = json(&["stats", "--format", "json", "--by", by], &path);
        assert_eq!(report[format!("{by}s")], stats, "--by {by}");
    }
    let s = &report["summary"];
    let tools = report["tools"].as_array().unwrap();
    let calls: u64 = tools.iter().map(|r| r["calls"].as_u64().unwrap()).sum();
    assert_eq!(s["calls"], calls);
    assert!(calls > 9_000);
    assert_eq!(s["servers"], 3);
    assert_eq!(s["users"], 5);
    assert_eq!(s["tool_changes"], 1);
    assert_eq!(s["secrets_detected"], 1);
    let sessions = json(&["sessions", "--format", "json", "--no-verify"], &path);
    assert_eq!(s["sessions"], sessions.as_array().unwrap().len());
    let blocked: u64 = report["policy_decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["blocked"].as_u64().unwrap())
        .sum();
    assert_eq!(s["blocked"], blocked);
    assert_eq!(report["tool_changes"].as_array().unwrap().len(), 1);
    let risky = report["riskiest_calls"].as_array().unwrap();
    assert_eq!(risky.len(), 10);
    // The generator's riskiest level is `high`: the latest ten of them.
    assert!(risky
        .iter()
        .all(|c| c["risk"] == "high" && c["event_id"] != ""));
    let times: Vec<&str> = risky.iter().map(|c| c["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let rows = report["sessions"].as_array().unwrap();
    assert!(
        rows.iter().all(|r| r["verified"] == "intact"),
        "a generated trail verifies"
    );
    assert_eq!(s["sessions_broken"], 0);
    let recs = report["recommendations"].as_array().unwrap();
    for id in ["secrets", "pins"] {
        assert!(
            recs.iter()
                .any(|r| r["id"] == id && r["figure"].as_str().is_some()),
            "{id}"
        );
    }
    let risk_calls: u64 = report["charts"]["risk_mix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["calls"].as_u64().unwrap())
        .sum();
    assert_eq!(risk_calls, calls);
    let md = run_collect(
        Command::new(blackbox()).args(["report"]).arg(&path),
        "mcp-blackbox",
    );
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.contains("## Tools")
            && md.contains("| server-0 | search |")
            && md.contains("## Riskiest calls"),
        "{md}"
    );
}

#[test]
fn report_compares_with_the_previous_period_of_equal_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a");
    let spec = GenSpec {
        events: 6_000,
        seed: 9,
        ..GenSpec::default()
    };
    generate(&spec, &path).unwrap();
    let window = ["--since", "2026-11-02", "--until", "2026-11-03"];
    let report = json(
        &[&["report", "--format", "json"][..], &window].concat(),
        &path,
    );
    let trend = &report["trend"];
    assert_eq!(
        trend["previous_period"]["since"],
        "2026-11-01T00:00:00.000Z"
    );
    assert_eq!(
        trend["previous_period"]["until"],
        "2026-11-02T00:00:00.000Z"
    );
    let before = json(
        &[
            "report",
            "--format",
            "json",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-02",
        ],
        &path,
    );
    let calls = trend["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["figure"] == "calls")
        .unwrap();
    assert_eq!(calls["current"], report["summary"]["calls"]);
    assert_eq!(calls["previous"], before["summary"]["calls"]);
    let delta = calls["current"].as_f64().unwrap() - calls["previous"].as_f64().unwrap();
    assert_eq!(calls["delta"].as_f64().unwrap(), delta);
    assert!(calls["previous"].as_u64().unwrap() > 0);
}
