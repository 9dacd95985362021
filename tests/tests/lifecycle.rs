//! The proxy's lifecycle — how a session ends, what
//! exit status the proxy returns, and that nothing relayed is lost.
//!
//! Every wait is on an event (a reply read, a pid file, a process exit),
//! bounded by `PATIENCE`; the small `--grace-ms`/`--kill-grace-ms` values
//! only shorten the proxy's own escalation.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use blackbox_tests::audit::{check_call_links, check_sessions, of_type, only, AuditDir};
use blackbox_tests::binary::blackbox;
use blackbox_tests::client::{initialize, proxy_command, request, tool_call, LineClient};
use blackbox_tests::process::{alive, read_pid_file, run_collect, signal, wait_gone};
use serde_json::{json, Value};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
const QUICK_GRACE: [&str; 4] = ["--grace-ms", "200", "--kill-grace-ms", "200"];

/// A proxy in front of `fake_server ARGS`, with the fake server's pid file.
fn proxy_fake(audit: &AuditDir, pid_file: &std::path::Path, args: &[&str]) -> LineClient {
    let mut server = vec![FAKE_SERVER.to_owned(), "--pid-file".into()];
    server.push(pid_file.to_str().unwrap().to_owned());
    server.extend(args.iter().map(|s| s.to_string()));
    LineClient::spawn(
        proxy_command(audit.path(), "lifecycle", &QUICK_GRACE, &server).stderr(Stdio::inherit()),
    )
}

fn session_end(audit: &AuditDir) -> Value {
    let events = audit.events();
    check_sessions(&events);
    only(&events, "session_end").clone()
}

#[test]
fn closing_stdin_exits_with_the_childs_code() {
    let (audit, work) = (AuditDir::new(), tempfile::tempdir().unwrap());
    let mut proxy = proxy_fake(
        &audit,
        &work.path().join("pid"),
        &["mcp", "--exit-code", "7"],
    );
    proxy.send(&initialize(1, "lifecycle-test"));
    assert_eq!(proxy.recv()["id"], 1);
    proxy.close_stdin();
    let status = proxy.wait();
    assert_eq!(status.code(), Some(7), "proxy exit: {status}");
    let end = session_end(&audit);
    assert_eq!(end["details"]["exit_status"], 7, "{end}");
    assert_eq!(end["details"]["exit_code"], 7, "{end}");
}

/// A server that never exits on its own: the proxy must escalate after
/// stdin EOF and exit with the status the server died of.
fn child_that_ignores_eof_is_ended(extra: &[&str], want_signal: i32) {
    let (audit, work) = (AuditDir::new(), tempfile::tempdir().unwrap());
    let pid_file = work.path().join("pid");
    let mut args = vec!["hang"];
    args.extend_from_slice(extra);
    let mut proxy = proxy_fake(&audit, &pid_file, &args);
    let server = read_pid_file(&pid_file);
    proxy.close_stdin();
    let status = proxy.wait();
    assert!(
        !alive(server),
        "server {server} still running after the proxy exited"
    );
    assert_eq!(
        status.code(),
        Some(128 + want_signal),
        "proxy exit: {status}"
    );
    let end = session_end(&audit);
    assert_eq!(end["details"]["exit_signal"], want_signal, "{end}");
    assert_eq!(end["details"]["exit_status"], 128 + want_signal, "{end}");
}

#[test]
fn child_ignoring_stdin_eof_gets_sigterm_after_grace() {
    child_that_ignores_eof_is_ended(&[], libc::SIGTERM);
}

#[test]
fn child_ignoring_stdin_eof_and_sigterm_gets_sigkill() {
    child_that_ignores_eof_is_ended(&["--ignore-term"], libc::SIGKILL);
}

#[test]
fn sigterm_to_proxy_ends_child_and_keeps_relayed_events() {
    const CALLS: usize = 50;
    let (audit, work) = (AuditDir::new(), tempfile::tempdir().unwrap());
    let pid_file = work.path().join("pid");
    let mut proxy = proxy_fake(&audit, &pid_file, &["mcp"]);
    let server = read_pid_file(&pid_file);
    proxy.send(&initialize(0, "lifecycle-test"));
    assert_eq!(proxy.recv()["id"], 0);
    for i in 1..=CALLS {
        proxy.send(&tool_call(i, "echo", json!({"i": i})));
        assert_eq!(
            proxy.recv()["id"],
            i,
            "replies come in order from this server"
        );
    }
    // Every call and result has been relayed; now stop the proxy.
    signal(proxy.pid(), libc::SIGTERM);
    let status = proxy.wait();
    wait_gone(server, "the server after SIGTERM to the proxy");
    assert!(
        status.code().is_some() || status.signal().is_some(),
        "{status}"
    );

    let events = audit.events();
    check_sessions(&events);
    let summary = type_counts(&events);
    assert_eq!(
        of_type(&events, "tool_call").len(),
        CALLS,
        "tool_call events lost: {summary:?}"
    );
    assert_eq!(
        of_type(&events, "tool_result").len(),
        CALLS,
        "tool_result events lost: {summary:?}"
    );
    assert_eq!(check_call_links(&events), CALLS);
    let end = only(&events, "session_end");
    assert_eq!(
        end["details"]["counts"]["tool_calls"], CALLS as u64,
        "{end}"
    );
}

/// How many events of each type, for failure messages.
fn type_counts(events: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for e in events {
        *counts
            .entry(e["type"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

/// The server dies while a call is in flight: the proxy ends the session on
/// its own (stdin still open), with the server's status.
fn crash_mid_call(tool: &str, want_status: i32) -> Value {
    let (audit, work) = (AuditDir::new(), tempfile::tempdir().unwrap());
    let mut proxy = proxy_fake(&audit, &work.path().join("pid"), &["mcp"]);
    proxy.send(&initialize(1, "lifecycle-test"));
    assert_eq!(proxy.recv()["id"], 1);
    proxy.send(&tool_call(2, "echo", json!({"before": "crash"})));
    assert_eq!(proxy.recv()["id"], 2);
    proxy.send(&tool_call(3, tool, json!({})));
    let status = proxy.wait();
    assert_eq!(status.code(), Some(want_status), "proxy exit: {status}");

    let events = audit.events();
    check_sessions(&events);
    let calls = of_type(&events, "tool_call");
    assert_eq!(calls.len(), 2, "{events:#?}");
    let abandoned = only(&events, "tool_abandoned");
    assert_eq!(
        abandoned["call_event_id"], calls[1]["event_id"],
        "{abandoned}"
    );
    let end = only(&events, "session_end").clone();
    assert_eq!(end["details"]["exit_status"], want_status, "{end}");
    assert_eq!(end["outcome"], "failure", "{end}");
    end
}

#[test]
fn child_exiting_mid_call_gives_session_end_with_its_code() {
    let end = crash_mid_call("crash", 3);
    assert_eq!(end["details"]["exit_code"], 3, "{end}");
}

#[test]
fn child_killed_mid_call_gives_session_end_with_its_signal() {
    let end = crash_mid_call("crash-signal", 128 + libc::SIGKILL);
    assert_eq!(end["details"]["exit_signal"], libc::SIGKILL, "{end}");
}

/// Runs the proxy in front of `server` and returns (exit code, stderr);
/// checks the trail records the session that could not start.
fn run_proxy_for(server: &str) -> (Option<i32>, String) {
    let audit = AuditDir::new();
    let result = run_proxy_in(&audit, server);
    let events = audit.events();
    check_sessions(&events);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["session_start", "session_end"], "{events:#?}");
    let (start, end) = (&events[0], &events[1]);
    assert_eq!(start["details"]["command"], json!([server]));
    assert!(start["details"]["spawn_error"]
        .as_str()
        .unwrap()
        .contains(server));
    assert_eq!(end["details"]["reason"], "spawn_failed");
    assert_eq!(
        end["details"]["spawn_error"],
        start["details"]["spawn_error"]
    );
    assert_eq!(end["details"]["exit_code"], json!(result.0.unwrap()));
    assert_eq!(end["outcome"], "failure");
    result
}

fn run_proxy_in(audit: &AuditDir, server: &str) -> (Option<i32>, String) {
    let mut cmd = Command::new(blackbox());
    cmd.arg("--audit-dir")
        .arg(audit.path())
        .args(["--", server]);
    let out = run_collect(&mut cmd, "mcp-blackbox");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_command_exits_127_with_a_message() {
    let name = "mcp-blackbox-e2e-no-such-command";
    let (code, stderr) = run_proxy_for(name);
    assert_eq!(code, Some(127), "stderr: {stderr}");
    assert!(
        stderr.contains(name),
        "stderr does not name the command: {stderr:?}"
    );

    let path = "/nonexistent/dir/server";
    let (code, stderr) = run_proxy_for(path);
    assert_eq!(code, Some(127), "stderr: {stderr}");
    assert!(
        stderr.contains(path),
        "stderr does not name the command: {stderr:?}"
    );
}

#[test]
fn non_executable_file_exits_126_with_a_message() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("not-executable.sh");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    let (code, stderr) = run_proxy_for(file.to_str().unwrap());
    assert_eq!(code, Some(126), "stderr: {stderr}");
    assert!(
        stderr.contains("not-executable.sh"),
        "stderr does not name the file: {stderr:?}"
    );
}

#[test]
fn a_request_before_initialize_is_still_relayed() {
    // Sanity check of the harness: a lone ping goes through and back.
    let (audit, work) = (AuditDir::new(), tempfile::tempdir().unwrap());
    let mut proxy = proxy_fake(&audit, &work.path().join("pid"), &["mcp"]);
    proxy.send(&request(1, "ping", json!({})));
    assert_eq!(
        proxy.recv(),
        json!({"jsonrpc": "2.0", "id": 1, "result": {}})
    );
    proxy.close_stdin();
    assert!(proxy.wait().success());
}
