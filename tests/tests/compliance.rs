//! `compliance` over trails written by the real proxy: a signed trail kept
//! 400 days meets PCI DSS 10.3.x and 10.5.1 (signatures checked with the
//! public key); an unsigned one kept 30 days does not; the JSON carries the
//! figures; the HTML page escapes a hostile tool name and loads nothing.

mod echo_calls;

use std::path::{Path, PathBuf};
use std::process::Command;

use blackbox_tests::audit::AuditDir;
use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::{json, Value};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// A settings file with `[audit]` lines; returns its path.
fn settings(dir: &Path, audit: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, format!("[audit]\n{audit}\n")).unwrap();
    path
}

fn compliance(args: &[&str], config: &Path, trail: &Path) -> String {
    let out = run_collect(
        Command::new(blackbox())
            .arg("compliance")
            .args(args)
            .arg("--config")
            .arg(config)
            .arg(trail),
        "compliance",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn status<'a>(report: &'a Value, id: &str) -> &'a str {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id}"))["status"]
        .as_str()
        .unwrap()
}

/// One proxied session with a few calls, under `config`, into a directory
/// the proxy creates (so with its own modes); returns that directory.
fn record(peers: &Peers, audit: &AuditDir, config: &Path) -> PathBuf {
    let trail = audit.path().join("trail");
    let calls = [
        ("echo", json!({"message": "hello"})),
        ("get-sum", json!({"a": 1, "b": 2})),
        (HOSTILE, json!({})),
    ];
    let flags = ["--config", config.to_str().unwrap()];
    echo_calls::run_calls(peers, &trail, &flags, &calls);
    trail
}

#[test]
fn a_signed_trail_kept_400_days_meets_protection_and_retention() {
    let Some(peers) = Peers::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    let out = run_collect(
        Command::new(blackbox())
            .arg("keygen")
            .arg("--out")
            .arg(&key),
        "keygen",
    );
    assert!(out.status.success(), "{out:?}");
    let config = settings(
        dir.path(),
        &format!(
            "signing_key = {:?}\nmax_age_days = 400\nmax_files = 1000",
            key.to_str().unwrap()
        ),
    );
    let audit = AuditDir::new();
    let trail = record(&peers, &audit, &config);
    let public = format!("{}.pub", key.display());
    let args = [
        "--framework",
        "pci-dss",
        "--format",
        "json",
        "--key",
        public.as_str(),
    ];
    let report: Value = serde_json::from_str(&compliance(&args, &config, &trail)).unwrap();
    for id in [
        "10.3.1", "10.3.2", "10.3.4", "10.5.1", "10.2.2", "10.2.1", "10.2.1.6",
    ] {
        assert_eq!(status(&report, id), "met", "{id}: {report:#}");
    }
    assert_eq!(status(&report, "10.3.3"), "not_met", "no collector");
    assert_eq!(status(&report, "10.2.1.3"), "not_evidenced");
    let seen = &report["trail"];
    assert_eq!(seen["sessions"], 1);
    assert_eq!(seen["signed_sessions"], 1);
    assert_eq!(seen["by_type"]["tool_call"], 3);
    for field in ["user", "type", "time", "outcome", "origin", "resource"] {
        assert_eq!(seen["field_shares"][field], 1.0, "{field}: {seen:#}");
    }
    assert_eq!(report["verify"]["ok"], true);
    assert_eq!(report["verify"]["with_key"], true);
    assert_eq!(report["settings"]["max_age_days"], 400);
    assert!(report["disclaimer"]
        .as_str()
        .unwrap()
        .contains("not a certification"));
    let ids = report["controls"][0]["event_ids"].as_array().unwrap();
    assert!(!ids.is_empty(), "10.2.1 lists its events");
    // HIPAA wants 6 years: 400 days is not enough.
    let hipaa: Value = serde_json::from_str(&compliance(
        &[
            "--framework",
            "hipaa",
            "--format",
            "json",
            "--key",
            public.as_str(),
        ],
        &config,
        &trail,
    ))
    .unwrap();
    assert_eq!(status(&hipaa, "164.316(b)(2)(i)"), "not_met");
    assert_eq!(status(&hipaa, "164.312(c)(1)"), "met");
}

#[test]
fn an_unsigned_trail_kept_30_days_does_not_and_html_escapes_a_hostile_tool() {
    let Some(peers) = Peers::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path(), "max_age_days = 30");
    let audit = AuditDir::new();
    let trail = record(&peers, &audit, &config);
    let json_args = ["--framework", "pci-dss", "--format", "json"];
    let report: Value = serde_json::from_str(&compliance(&json_args, &config, &trail)).unwrap();
    for id in ["10.3.2", "10.3.4", "10.5.1"] {
        assert_eq!(status(&report, id), "not_met", "{id}: {report:#}");
    }
    assert_eq!(status(&report, "10.3.1"), "met");
    assert_eq!(report["trail"]["signed_sessions"], 0);
    let tools: Vec<&str> = report["trail"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tool"].as_str().unwrap())
        .collect();
    assert!(tools.contains(&HOSTILE), "{tools:?}");

    let page = dir.path().join("gdpr.html");
    let args = [
        "--framework",
        "gdpr",
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ];
    assert_eq!(compliance(&args, &config, &trail), "");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<img") && !html.contains("<script"),
        "{html}"
    );
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing to load"
    );
    assert!(html.contains("not a certification"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&page).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let md = compliance(&["--framework", "soc2"], &config, &trail);
    assert!(
        md.contains("| CC8.1 |") && md.contains("not a certification"),
        "{md}"
    );
}

#[test]
fn an_unknown_framework_is_refused_naming_the_valid_ones() {
    let out = run_collect(
        Command::new(blackbox()).args(["compliance", "--framework", "iso", "/nonexistent"]),
        "compliance",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--framework `iso`") && err.contains("pci-dss"),
        "{err}"
    );
}
