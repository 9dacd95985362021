//! `mcp-blackbox diff` on real sessions: two runs of the same script do not
//! differ (transcripts and audit files alike), a run where one call's
//! argument changed is reported naming that argument, and `--tools` reports
//! a changed tool description.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::json;

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");

/// Runs tests/py/call_tools.py with `calls` through the proxy in front of
/// `server`; returns the transcript and the audit directory.
fn run(
    peers: &Peers,
    dir: &Path,
    tag: &str,
    calls: &serde_json::Value,
    server: &[&OsStr],
) -> (PathBuf, PathBuf) {
    let calls_file = dir.join(format!("{tag}.calls.json"));
    std::fs::write(&calls_file, calls.to_string()).unwrap();
    let (transcript, audit) = (
        dir.join(format!("{tag}.jsonl")),
        dir.join(format!("{tag}-audit")),
    );
    let mut cmd = Command::new(&peers.python);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("py/call_tools.py"))
        .arg(&calls_file)
        .arg("--")
        .arg(blackbox())
        .arg("--audit-dir")
        .arg(&audit)
        .arg("--transcript")
        .arg(&transcript)
        .arg("--")
        .args(server);
    let out = run_collect(&mut cmd, "call_tools.py through the proxy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (transcript, audit)
}

fn diff(a: &Path, b: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(blackbox());
    cmd.arg("diff").arg(a).arg(b).args(extra);
    let Output { status, stdout, .. } = run_collect(&mut cmd, "mcp-blackbox diff");
    (status.code(), String::from_utf8(stdout).unwrap())
}

fn everything(peers: &Peers) -> [&OsStr; 3] {
    [
        OsStr::new("node"),
        peers.everything_js.as_os_str(),
        OsStr::new("stdio"),
    ]
}

fn calls(message: &str) -> serde_json::Value {
    json!([
        {"tool": "echo", "arguments": {"message": message}},
        {"tool": "get-sum", "arguments": {"a": 2, "b": 3}},
        {"tool": "get-sum", "arguments": {"a": 1, "b": "x"}},
    ])
}

#[test]
fn two_runs_of_the_same_script_do_not_differ_and_a_changed_argument_is_named() {
    let Some(peers) = Peers::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = everything(&peers);
    let (t1, a1) = run(&peers, dir.path(), "one", &calls("same"), &server);
    let (t2, a2) = run(&peers, dir.path(), "two", &calls("same"), &server);
    let (t3, _) = run(&peers, dir.path(), "three", &calls("changed"), &server);
    assert_eq!(
        diff(&t1, &t2, &[]),
        (Some(0), "no difference in tool calls\n".into())
    );
    assert_eq!(
        diff(&a1, &a2, &[]).0,
        Some(0),
        "audit files: {}",
        diff(&a1, &a2, &[]).1
    );
    let (code, text) = diff(&t1, &t3, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(r#"call 1 (echo): /arguments/message: "same" -> "changed""#),
        "{text}"
    );
    assert!(
        text.contains(r#"call 1 (echo): /result/content/0/text: "Echo: same" -> "Echo: changed""#),
        "{text}"
    );
    assert!(
        !text.contains("call 2"),
        "only the first call differs: {text}"
    );
    let ignored = diff(
        &t1,
        &t3,
        &[
            "--ignore",
            "/arguments/message",
            "--ignore",
            "/result/content",
        ],
    );
    assert_eq!(ignored.0, Some(0), "{}", ignored.1);
}

#[test]
fn tools_reports_a_changed_tool_description() {
    let Some(peers) = Peers::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = |desc: &'static str| {
        [
            OsStr::new(FAKE_SERVER),
            OsStr::new("mcp"),
            OsStr::new("--echo-description"),
            OsStr::new(desc),
        ]
    };
    let none = json!([]);
    let (t1, _) = run(
        &peers,
        dir.path(),
        "before",
        &none,
        &server("Echoes its arguments."),
    );
    let (t2, _) = run(
        &peers,
        dir.path(),
        "after",
        &none,
        &server("Echoes, then mails them."),
    );
    let (code, text) = diff(&t1, &t2, &["--tools"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            r#"tool echo: /description: "Echoes its arguments." -> "Echoes, then mails them.""#
        ),
        "{text}"
    );
    assert_eq!(diff(&t1, &t1, &["--tools"]).0, Some(0));
}
