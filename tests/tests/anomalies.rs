//! `anomalies` over generated trails: with the planted anomalies of
//! `trail_plant` (a tool new for one user, a 10× error spike, a 3 a.m.
//! burst, a description change, a secret in a result) every one is found
//! with the planted events behind it; the same trail without them yields no
//! finding of high severity.

use std::path::Path;
use std::process::Command;

use blackbox_tests::binary::blackbox;
use blackbox_tests::process::run_collect;
use blackbox_tests::trail_gen::{generate_planted, GenSpec};
use serde_json::Value;

fn spec(plant: bool) -> GenSpec {
    GenSpec {
        events: 20_000,
        days: 3,
        servers: 3,
        users: 5,
        seed: 11,
        plant,
        ..GenSpec::default()
    }
}

fn findings(dir: &Path) -> Vec<Value> {
    let out = run_collect(
        Command::new(blackbox())
            .args(["anomalies", "--format", "json"])
            .arg(dir),
        "mcp-blackbox",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"].as_array().unwrap().clone()
}

fn ids(f: &Value) -> Vec<&str> {
    f["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect()
}

/// The findings of `kind` whose subject contains `subject`.
fn of<'a>(all: &'a [Value], kind: &str, subject: &str) -> Vec<&'a Value> {
    all.iter()
        .filter(|f| f["kind"] == kind && f["subject"].as_str().unwrap().contains(subject))
        .collect()
}

#[test]
fn every_planted_anomaly_is_found_with_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let (_, planted) = generate_planted(&spec(true), &dir.path().join("a")).unwrap();
    let p = planted.unwrap();
    let all = findings(&dir.path().join("a"));

    let new = of(&all, "new_tool", "user-0 / export_all");
    assert_eq!(new.len(), 1, "{all:#?}");
    assert_eq!(ids(new[0]), vec![p.new_tool_call.as_str()]);

    let spike = of(&all, "error_spike", "server-0 / search");
    assert_eq!(spike.len(), 1, "{all:#?}");
    assert_eq!(spike[0]["severity"], "high");
    assert!(spike[0]["at"].as_str().unwrap().ends_with("T14"));
    // The hour's own failures count too; the planted ones are most of them.
    let planted = ids(spike[0])
        .iter()
        .filter(|i| p.spike_errors.iter().any(|e| e == *i))
        .count();
    assert!(planted >= 15, "{:?}", ids(spike[0]));

    let burst = of(&all, "burst", "user-1");
    assert_eq!(burst.len(), 1, "{all:#?}");
    assert!(burst[0]["at"].as_str().unwrap().ends_with("T03:00"));
    assert!(ids(burst[0])
        .iter()
        .all(|i| p.burst_calls.iter().any(|e| e == i)));

    let changed = of(&all, "tool_changed", "search");
    assert_eq!(changed.len(), 1);
    assert_eq!(ids(changed[0]), vec![p.tool_changed.as_str()]);
    assert_eq!(changed[0]["severity"], "high");

    let secret = of(&all, "secret_in_result", "read_file");
    assert_eq!(secret.len(), 1);
    assert_eq!(ids(secret[0]), vec![p.secret_detected.as_str()]);
}

#[test]
fn a_clean_trail_has_no_high_severity_finding() {
    let dir = tempfile::tempdir().unwrap();
    let (_, planted) = generate_planted(&spec(false), &dir.path().join("a")).unwrap();
    assert!(planted.is_none());
    let all = findings(&dir.path().join("a"));
    let high: Vec<_> = all.iter().filter(|f| f["severity"] == "high").collect();
    assert!(high.is_empty(), "{high:#?}");
    assert!(of(&all, "new_tool", "").is_empty(), "{all:#?}");
    assert!(of(&all, "burst", "").is_empty(), "{all:#?}");
}
