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
    let md = run_collect(
        Command::new(blackbox()).args(["report"]).arg(&path),
        "mcp-blackbox",
    );
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.contains("## Tools") && md.contains("| server-0 | search |"),
        "{md}"
    );
}
