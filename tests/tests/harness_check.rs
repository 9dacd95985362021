//! `mcp-blackbox check` on a real session (Python SDK against
//! server-everything, recorded through the proxy with a redacted
//! transcript): rules that hold pass on the transcript and on the audit
//! files alike; each kind of rule fails when it should, named in the summary
//! with the events behind it; a tampered or unfinished transcript fails the
//! chain and clean-end rules; the JUnit file is read by junitparser.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::Value;

/// A recorded session: its directory, transcript and audit directory.
struct Recorded {
    dir: tempfile::TempDir,
    transcript: PathBuf,
    audit: PathBuf,
}

fn record(peers: &Peers) -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let (transcript, audit) = (dir.path().join("t.jsonl"), dir.path().join("audit"));
    let mut cmd = Command::new(&peers.python);
    cmd.arg(&peers.driver)
        .args(["everything", "--"])
        .arg(blackbox())
        .arg("--audit-dir")
        .arg(&audit)
        .arg("--transcript")
        .arg(&transcript)
        .args(["--", "node"])
        .arg(&peers.everything_js)
        .arg("stdio");
    let out = run_collect(&mut cmd, "python driver through the proxy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Recorded {
        dir,
        transcript,
        audit,
    }
}

fn check(dir: &Path, input: &Path, rules: &str, extra: &[&str]) -> Output {
    let rules_path = dir.join("ci.toml");
    std::fs::write(&rules_path, rules).unwrap();
    let mut cmd = Command::new(blackbox());
    cmd.arg("check")
        .arg(input)
        .arg("--rules")
        .arg(&rules_path)
        .args(extra);
    run_collect(&mut cmd, "mcp-blackbox check")
}

const PASSING: &str = r#"
[forbid]
tool_error = false   # the scenario calls get-sum badly and a tool that does not exist

[[tool]]
name = "echo"
min_calls = 1
max_calls = 1
max_duration_ms = 600000
[[tool.argument]]
pointer = "/message"
regex = "^hello through"

[[tool]]
name = "get-env"
never = true
"#;

/// Every kind of rule, each stated so that it fails on the session.
const FAILING: &str = r#"
[[tool]]
name = "echo"
min_calls = 2
max_calls = 0
max_duration_ms = 0
[[tool.argument]]
pointer = "/message"
regex = "^bye"

[[tool]]
name = "get-sum"
never = true
"#;

#[test]
fn rules_that_hold_pass_on_the_transcript_and_the_audit_files() {
    let Some(peers) = Peers::find() else { return };
    let r = record(&peers);
    let header = std::fs::read_to_string(&r.transcript).unwrap();
    assert!(header.starts_with(r#"{"kind":"header","transcript":1,"redacted":true"#));
    for input in [&r.transcript, &r.audit] {
        let out = check(r.dir.path(), input, PASSING, &[]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{input:?}: {text}");
        assert!(text.ends_with("12 rules, 0 failed\n"), "{text}");
    }
}

#[test]
fn each_kind_of_rule_fails_naming_its_events_and_junit_reads_it() {
    let Some(peers) = Peers::find() else { return };
    let r = record(&peers);
    let junit = r.dir.path().join("junit.xml");
    let out = check(
        r.dir.path(),
        &r.transcript,
        FAILING,
        &["--junit", junit.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    for rule in [
        "no tool_error: 2 tool_error events; events: ",
        "tool echo: called at least 2 times: 1 calls of echo",
        "tool echo: called at most 0 times: 1 calls of echo; events: ",
        "tool echo: every call answered within 0 ms: 1 answers over 0 ms",
        "tool echo: argument /message matches /^bye/: 1 of 1 calls of echo do not match; events: ",
        "tool get-sum: never called: 1 calls of get-sum; events: ",
    ] {
        assert!(text.contains(&format!("FAILED {rule}")), "{rule}\n{text}");
    }
    assert!(text.ends_with("13 rules, 6 failed\n"), "{text}");

    let mut cmd = Command::new(&peers.python);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("py/junit_summary.py"))
        .arg(&junit);
    let parsed = run_collect(&mut cmd, "junitparser");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let summary: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(
        (summary["tests"].as_u64(), summary["failures"].as_u64()),
        (Some(13), Some(6))
    );
    let cases = summary["cases"].as_array().unwrap();
    let never = cases
        .iter()
        .find(|c| c["name"] == "tool get-sum: never called")
        .unwrap();
    assert_eq!(never["failed"], true);
    assert_eq!(never["message"], "1 calls of get-sum");

    let out = check(r.dir.path(), &r.transcript, FAILING, &["--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["rules"].as_array().unwrap().len(), 13);
}

#[test]
fn a_tampered_or_unfinished_transcript_fails_the_session_rules() {
    let Some(peers) = Peers::find() else { return };
    let r = record(&peers);
    let bytes = std::fs::read(&r.transcript).unwrap();
    let only_session = "[forbid]\ntool_error=false\n";
    // One byte of a recorded argument changed: the chain breaks there.
    let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
    let mut tampered = bytes.clone();
    tampered[at] = b'j';
    let path = r.dir.path().join("tampered.jsonl");
    std::fs::write(&path, &tampered).unwrap();
    let text = String::from_utf8(check(r.dir.path(), &path, only_session, &[]).stdout).unwrap();
    assert!(text.contains("FAILED hash chain verifies: line "), "{text}");
    assert!(text.contains("ok     session ended cleanly"), "{text}");
    // The end line cut off: the chain still holds, the end is missing.
    let body = &bytes[..bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap()
        + 1];
    let path = r.dir.path().join("unfinished.jsonl");
    std::fs::write(&path, body).unwrap();
    let out = check(r.dir.path(), &path, only_session, &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("FAILED session ended cleanly: the transcript has no end line"),
        "{text}"
    );
    assert!(text.contains("ok     hash chain verifies"), "{text}");
}

/// A secret the recording proxy removed from a redacted transcript still
/// fails `no secret_detected` (found from the frame's `redactions`).
#[test]
fn a_secret_removed_from_a_redacted_transcript_fails_no_secret_detected() {
    use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("t.jsonl");
    let flags = ["--transcript", transcript.to_str().unwrap()];
    let server = [env!("CARGO_BIN_EXE_fake_server"), "mcp"];
    let mut proxy = LineClient::spawn(&mut proxy_command(
        &dir.path().join("audit"),
        "fake",
        &flags,
        &server,
    ));
    let secret = "sk-live-abcdefghijklmnopqrstuvwx0123456789";
    for r in [
        initialize(1, "secrets"),
        tool_call(2, "echo", serde_json::json!({"api_key": secret})),
    ] {
        proxy.send(&r);
        proxy.recv();
    }
    proxy.close_stdin();
    assert!(proxy.wait().success());
    let rules = "[forbid]\ntool_error = false\n";
    let out = check(dir.path(), &transcript, rules, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "FAILED no secret_detected: 2 secret_detected events; events: transcript-frame-"
        ),
        "{text}"
    );
}
