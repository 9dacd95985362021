//! `verify` checks a large trail in bounded memory: over a generated trail
//! of 300,000 events (about 190 MB, in a temporary directory), the peak RSS of
//! `mcp-blackbox verify` stays under **64 MiB** (`ru_maxrss` from `wait4(2)`,
//! taken by the `peak_rss` go-between). Holding every line, as a sort of the
//! whole trail would, costs about 300 bytes a line: 85 MiB here.
//!
//! The bound is the one `docs/verify.md` states: a look-back window per
//! open session, the line cap, and a small state per session.

use std::process::{Command, Stdio};

use blackbox_tests::binary::blackbox;
use blackbox_tests::trail_gen::{generate, GenSpec};

const BOUND_KIB: u64 = 64 * 1024;
const EVENTS: u64 = 300_000;
const PEAK_RSS: &str = env!("CARGO_BIN_EXE_peak_rss");

#[test]
fn verify_of_a_large_trail_stays_under_its_memory_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    let spec = GenSpec {
        events: EVENTS,
        seed: 7,
        max_file_size: 16 << 20,
        ..GenSpec::default()
    };
    let files = generate(&spec, &dir).unwrap();
    assert!(files.len() > 5, "{files:?}");
    let peak = tmp.path().join("peak");
    let out = Command::new(PEAK_RSS)
        .arg(&peak)
        .arg("--")
        .arg(blackbox())
        .args(["verify", "--format", "json"])
        .arg(&dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("running peak_rss");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdict = (
        &report["sessions_broken"],
        &report["damaged_lines"],
        &report["seal_indexes"],
    );
    assert!(out.status.success() && report["ok"] == true, "{verdict:?}");
    let sessions = report["sessions"].as_array().unwrap();
    let events: u64 = sessions.iter().map(|s| s["events"].as_u64().unwrap()).sum();
    assert!(events >= EVENTS, "{events} events verified");
    let kib: u64 = std::fs::read_to_string(&peak).unwrap().parse().unwrap();
    eprintln!("verify peak RSS: {kib} KiB over {events} events (bound {BOUND_KIB} KiB)");
    assert!(
        kib < BOUND_KIB,
        "verify peak RSS {kib} KiB exceeds {BOUND_KIB} KiB over {events} events"
    );
}

/// `sessions` takes its `verified` column from the same streaming check:
/// the one session with an edited line is BROKEN, every other is ok.
#[test]
fn sessions_marks_only_the_edited_session_broken() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    let spec = GenSpec {
        events: 2_000,
        seed: 9,
        ..GenSpec::default()
    };
    let files = generate(&spec, &dir).unwrap();
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let line: serde_json::Value = serde_json::from_str(&lines[100]).unwrap();
    let edited = line["session_id"].as_str().unwrap().to_owned();
    lines[100] = lines[100].replacen("\"server-", "\"servex-", 1);
    std::fs::write(&files[0], lines.join("\n") + "\n").unwrap();
    let out = Command::new(blackbox())
        .args(["sessions", "--format", "json"])
        .arg(&dir)
        .output()
        .expect("running mcp-blackbox sessions");
    assert!(out.status.success(), "{out:?}");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.len() > 10, "{} sessions", rows.len());
    for row in &rows {
        let broken = row["session"] == edited.as_str();
        let want = if broken { "BROKEN" } else { "ok" };
        assert_eq!(row["verified"], want, "{row}");
    }
}
