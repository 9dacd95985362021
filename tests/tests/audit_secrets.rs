//! `audit-secrets` over trails written by the real proxy: a secret that a
//! configuration let through (`--no-redact`) is found by file:line, field
//! and kind, in plain and gzipped files, and never printed; a trail written
//! with the defaults is clean; a custom pattern from the settings counts.

mod echo_calls;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use blackbox_tests::audit::AuditDir;
use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::{json, Value};

/// A GitHub token shape (fake).
const TOKEN: &str = "ghp_Zq8Xc2Vb7Nm4Lk9Jh6Gf3Ds1Ap5Ow0Ie8RuT";

fn audit_secrets(args: &[&str], paths: &[&Path]) -> Output {
    run_collect(
        Command::new(blackbox())
            .arg("audit-secrets")
            .args(args)
            .args(paths),
        "audit-secrets",
    )
}

/// The findings of a `--format json` run, and its exit code.
fn findings(args: &[&str], paths: &[&Path]) -> (i32, Vec<Value>) {
    let out = audit_secrets(&[&["--format", "json"], args].concat(), paths);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&TOKEN[8..]));
    let all = v["secrets"].as_array().unwrap().clone();
    assert_eq!(v["count"], all.len());
    (out.status.code().unwrap(), all)
}

/// The 1-based line of the only line of `file` holding `type` and `needle`.
fn line_of(file: &Path, kind: &str, needle: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    let mut hits = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle) && l.contains(&format!("\"type\":\"{kind}\"")));
    let (n, _) = hits
        .next()
        .unwrap_or_else(|| panic!("no {kind} with {needle}"));
    assert!(hits.next().is_none());
    n as u64 + 1
}

#[test]
fn a_secret_let_through_is_found_by_file_line_field_and_kind() {
    let Some(peers) = Peers::find() else { return };
    let audit = AuditDir::new();
    let message = format!("deploy with {TOKEN} please");
    echo_calls::run_calls(
        &peers,
        audit.path(),
        &["--no-redact"],
        &[("echo", json!({"message": message}))],
    );
    let files = audit.files();
    assert_eq!(files.len(), 1);
    let call_line = line_of(&files[0], "tool_call", TOKEN);
    let result_line = line_of(&files[0], "tool_result", TOKEN);

    // The same file gzipped, as rotation leaves it.
    let gz_dir = tempfile::tempdir().unwrap();
    let gz = gz_dir.path().join(format!(
        "{}.gz",
        files[0].file_name().unwrap().to_str().unwrap()
    ));
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    enc.write_all(&std::fs::read(&files[0]).unwrap()).unwrap();
    enc.finish().unwrap();

    for path in [files[0].as_path(), gz.as_path()] {
        let (code, found) = findings(&[], &[path]);
        assert_eq!(code, 1, "{found:?}");
        let at = |line: u64, field: &str| {
            found.iter().any(|f| {
                f["line"] == line
                    && f["field"] == field
                    && f["kind"] == "github_token"
                    && f["hint"] == "ghp_… (40 chars)"
                    && f["file"] == path.display().to_string()
            })
        };
        assert!(at(call_line, "arguments.message"), "{path:?}: {found:?}");
        assert!(
            at(result_line, "result.content[0].text"),
            "{path:?}: {found:?}"
        );
    }
    let text = audit_secrets(&[], &[audit.path()]);
    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "{}:{call_line}: arguments.message: github_token",
            files[0].display()
        )),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
}

#[test]
fn a_trail_written_with_the_defaults_is_clean_but_a_custom_pattern_counts() {
    let Some(peers) = Peers::find() else { return };
    let audit = AuditDir::new();
    let calls = [(
        "echo",
        json!({"message": format!("token {TOKEN}, ticket TKT-884213")}),
    )];
    echo_calls::run_calls(&peers, audit.path(), &[], &calls);
    let recorded = std::fs::read_to_string(&audit.files()[0]).unwrap();
    assert!(recorded.contains("<redacted:github_token>"), "{recorded}");
    let (code, found) = findings(&[], &[audit.path()]);
    assert_eq!((code, found.len()), (0, 0), "{found:?}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[audit.redact_patterns]\nticket = \"TKT-[0-9]{6}\"\n",
    )
    .unwrap();
    let (code, found) = findings(&["--config", config.to_str().unwrap()], &[audit.path()]);
    assert_eq!(code, 1);
    let fields: Vec<&str> = found.iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"arguments.message"), "{found:?}");
    assert!(found.iter().all(|f| f["kind"] == "ticket"), "{found:?}");
}

#[test]
fn a_missing_path_is_an_error() {
    let out = audit_secrets(&[], &[Path::new("/nonexistent/trail")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/trail"));
}
