//! Real MCP peers of both protocol eras, through the
//! proxy, see exactly what they see without it, and the audit trail tells
//! the session's story.
//!
//! The Python SDK's `Client` (driven by `tests/py/drive.py`) runs each
//! scenario twice, once straight against the server and once through
//! `mcp-blackbox`; its JSON output (timestamps scrubbed) must be identical.
//! - server-everything speaks the handshake era (the SDK's `server/discover`
//!   probe fails, then it sends `initialize`);
//! - mcp-server-time speaks the stateless era (2026-07-28).

use std::ffi::OsString;
use std::process::Command;

use blackbox_tests::audit::{check_call_links, check_sessions, of_type, only, AuditDir};
use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::Value;

/// Runs the driver's `scenario` against `server` and returns its JSON output.
fn drive(peers: &Peers, scenario: &str, server: &[OsString]) -> Value {
    let mut cmd = Command::new(&peers.python);
    cmd.arg(&peers.driver).arg(scenario).arg("--").args(server);
    let out = run_collect(&mut cmd, "the Python SDK driver");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "driver {scenario} failed ({}):\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The server command behind the proxy.
fn proxied(audit: &AuditDir, name: &str, server: &[OsString]) -> Vec<OsString> {
    let mut cmd: Vec<OsString> = vec![blackbox().into(), "--audit-dir".into()];
    cmd.push(audit.path().into());
    cmd.extend(["--server-name", name, "--user", "e2e", "--"].map(OsString::from));
    cmd.extend_from_slice(server);
    cmd
}

/// Runs `scenario` direct and proxied, checks the client saw the same, and
/// returns the audit events of the proxied run.
fn same_with_and_without_proxy(peers: &Peers, scenario: &str, server: Vec<OsString>) -> Vec<Value> {
    let direct = drive(peers, scenario, &server);
    let audit = AuditDir::new();
    let through = drive(peers, scenario, &proxied(&audit, scenario, &server));
    assert_eq!(
        through, direct,
        "the client saw something else through the proxy"
    );
    // The driver returns once the proxy exited, so the trail is complete.
    let events = audit.events();
    let sessions = check_sessions(&events);
    assert_eq!(sessions.len(), 1, "one session expected: {sessions:?}");
    events
}

fn check_session_start(events: &[Value], era: &str, version: &str, server: &str) {
    let start = only(events, "session_start");
    let d = &start["details"];
    assert_eq!(d["era"], era, "session_start: {start}");
    assert_eq!(d["protocol_version"], version, "session_start: {start}");
    assert_eq!(
        d["client"]["name"], "mcp",
        "the SDK's clientInfo.name: {start}"
    );
    assert_eq!(d["server_info"]["name"], server, "session_start: {start}");
}

fn check_session_end(events: &[Value], tool_calls: u64) {
    let end = only(events, "session_end");
    assert!(
        end["details"]["exit_status"].is_i64(),
        "session_end without exit_status: {end}"
    );
    assert_eq!(
        end["details"]["counts"]["tool_calls"], tool_calls,
        "session_end: {end}"
    );
    let last = events.iter().max_by_key(|e| e["seq"].as_u64()).unwrap();
    assert_eq!(
        last["type"], "session_end",
        "session_end is not the last event"
    );
}

fn tools_of<'a>(events: &'a [Value], t: &str) -> Vec<&'a str> {
    of_type(events, t)
        .iter()
        .map(|e| e["tool"].as_str().unwrap_or("?"))
        .collect()
}

#[test]
fn handshake_era_server_everything_through_the_proxy() {
    let Some(peers) = Peers::find() else { return };
    let server = vec![
        "node".into(),
        peers.everything_js.clone().into(),
        "stdio".into(),
    ];
    let events = same_with_and_without_proxy(&peers, "everything", server);

    check_session_start(&events, "handshake", "2025-11-25", "mcp-servers/everything");
    assert_eq!(
        tools_of(&events, "tool_call"),
        ["echo", "get-sum", "no-such-tool"]
    );
    assert_eq!(tools_of(&events, "tool_result"), ["echo"]);
    // Both failures come back as `isError` results from this server.
    let mut failed = tools_of(&events, "tool_error");
    failed.extend(tools_of(&events, "rpc_error").iter().filter(|t| **t != "?"));
    failed.sort();
    assert_eq!(failed, ["get-sum", "no-such-tool"], "{events:#?}");
    assert_eq!(check_call_links(&events), 3);
    check_session_end(&events, 3);
}

#[test]
fn stateless_era_mcp_server_time_through_the_proxy() {
    let Some(peers) = Peers::find() else { return };
    let server = vec![peers.time_server.clone().into()];
    let events = same_with_and_without_proxy(&peers, "time", server);

    check_session_start(&events, "stateless", "2026-07-28", "mcp-time");
    assert_eq!(tools_of(&events, "tool_call"), ["get_current_time"]);
    assert_eq!(tools_of(&events, "tool_result"), ["get_current_time"]);
    assert!(of_type(&events, "tool_error").is_empty(), "{events:#?}");
    assert_eq!(check_call_links(&events), 1);
    check_session_end(&events, 1);
}
