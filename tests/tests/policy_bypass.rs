//! The gate fails closed: frames that the official SDK servers read more
//! leniently than a strict parser never run a denied tool.
//!
//! Each kind of bypass (line separators, invalid UTF-8, non-standard JSON,
//! over-limit lines, deep nesting) is sent as raw bytes through the real
//! binary to a marker server on the Python SDK (`tests/py/marker_server.py`)
//! and on the TypeScript SDK (`tests/js/marker_server.mjs`), whose `danger`
//! and `write` tools append a line to a marker file. The policy denies
//! `danger` by name and `write` for `/etc` paths. For every frame: the
//! marker file never gets a denied line, every request whose id can be read
//! gets a -32001 error naming the reason, the trail has a `policy_blocked`
//! event with that rule, and the session still answers afterwards.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use blackbox_tests::audit::{check_sessions, of_type, AuditDir};
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use blackbox_tests::peers::Peers;
use serde_json::{json, Value};

const RULES: &str = r#"
[[rules]]
name = "no-danger"
tool = "danger"
action = "deny"

[[rules]]
name = "no-etc"
tool = "write"
action = "deny"
[rules.arguments]
"/path" = "^/etc"
"#;

/// The default parse limit (16 MiB).
const LIMIT: usize = 16 * 1024 * 1024;

/// A bypass attempt: the bytes sent, and the (id, rule) of each error reply
/// expected, in order. `rule`: what `policy_blocked` records.
struct Attempt {
    what: &'static str,
    bytes: Vec<u8>,
    replies: Vec<(Value, &'static str)>,
    rule: &'static str,
}

fn call(id: u64, tool: &str, arguments: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
    )
}

fn attempt(what: &'static str, bytes: Vec<u8>, ids: &[u64], rule: &'static str) -> Attempt {
    Attempt {
        what,
        bytes,
        replies: ids.iter().map(|id| (json!(id), rule)).collect(),
        rule,
    }
}

/// The kinds of bypass that ran a denied tool through a lenient gate.
fn attempts() -> Vec<Attempt> {
    let ping = r#"{"jsonrpc":"2.0","id":10,"method":"ping"}"#;
    let etc =
        |id: u64, extra: &str| call(id, "write", &format!(r#"{{"path":"/etc/passwd",{extra}}}"#));
    let mut all = Vec::new();
    for (sep, what) in [
        ("\r", "CR between two frames"),
        ("\u{85}", "NEL between two frames"),
        ("\u{2028}", "U+2028 between two frames"),
    ] {
        let line = format!("{ping}{sep}{}\n", call(11, "danger", "{}"));
        all.push(attempt(
            what,
            line.into_bytes(),
            &[10, 11],
            "unjudgeable_frame:line_separator",
        ));
    }
    let mut bad_utf8 = etc(12, r#""x":"#).into_bytes();
    bad_utf8.splice(bad_utf8.len() - 3..bad_utf8.len() - 3, *b"\"\xff\xfe\"");
    bad_utf8.push(b'\n');
    all.push(attempt(
        "invalid UTF-8",
        bad_utf8,
        &[12],
        "unjudgeable_frame:invalid_utf8",
    ));
    let mut danger_utf8 = call(13, "danger", "{\"x\":\"\u{1}\"}").into_bytes();
    let at = danger_utf8.iter().position(|b| *b == 1).unwrap();
    danger_utf8[at] = 0xC3; // a lead byte without its continuation
    danger_utf8.push(b'\n');
    all.push(attempt(
        "invalid UTF-8 in a denied call",
        danger_utf8,
        &[13],
        "unjudgeable_frame:invalid_utf8",
    ));
    for (id, extra, what) in [
        (14, r#""x":NaN"#, "NaN literal"),
        (15, r#""x":-Infinity"#, "Infinity literal"),
        (16, r#""x":"\ud800""#, "lone surrogate"),
        (17, r#""x":1e400"#, "number beyond f64"),
    ] {
        let line = format!("{}\n", etc(id, extra));
        all.push(attempt(
            what,
            line.into_bytes(),
            &[id],
            "unjudgeable_frame:not_strict_json",
        ));
    }
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let line = format!("{}\n", etc(18, &format!(r#""deep":{deep}"#)));
    all.push(attempt(
        "nested 200 deep",
        line.into_bytes(),
        &[18],
        "unjudgeable_frame:too_deep",
    ));

    let pad = "x".repeat(LIMIT + (1 << 20));
    let late_method = format!(
        r#"{{"jsonrpc":"2.0","id":19,"params":{{"name":"danger","arguments":{{"pad":"{pad}"}}}},"method":"tools/call"}}"#
    );
    all.push(attempt(
        "over-limit call, method after the padding",
        format!("{late_method}\n").into_bytes(),
        &[19],
        "oversized_request",
    ));
    let late_id = format!(
        r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"name":"danger","arguments":{{"pad":"{pad}"}}}},"id":20}}"#
    );
    all.push(attempt(
        "over-limit call, id after the padding",
        format!("{late_id}\n").into_bytes(),
        &[],
        "oversized_request",
    ));
    all
}

/// A proxy with the rules in front of `server`, after the handshake.
struct Session {
    proxy: LineClient,
    audit: AuditDir,
    _config: tempfile::TempDir,
}

fn start(server: &[OsString]) -> Session {
    let config = tempfile::tempdir().expect("temp dir");
    let path = config.path().join("config.toml");
    std::fs::write(&path, RULES).expect("writing the rules");
    let audit = AuditDir::new();
    let flags = ["--config", path.to_str().unwrap()];
    let mut cmd = proxy_command(audit.path(), "marker", &flags, server);
    // Quiet: server banners would read as problems in a passing run.
    let mut proxy = LineClient::spawn(cmd.stderr(Stdio::null()));
    proxy.send(&initialize(0, "policy-bypass"));
    assert_eq!(proxy.recv()["id"], 0);
    proxy.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    Session {
        proxy,
        audit,
        _config: config,
    }
}

/// An allowed call answered by the server: the session still works.
fn still_answers(proxy: &mut LineClient, id: u64, context: &str) {
    proxy.send(&tool_call(id, "echo", json!({"message": "alive"})));
    let reply = proxy.recv();
    assert_eq!(reply["id"], id, "{context}: {reply}");
    assert_eq!(
        reply["result"]["content"][0]["text"], "Echo: alive",
        "{context}: {reply}"
    );
}

fn expect_error(proxy: &mut LineClient, id: &Value, rule: &str, context: &str) -> Value {
    let reply = proxy.recv();
    assert_eq!(&reply["id"], id, "{context}: {reply}");
    assert_eq!(reply["error"]["code"], -32001, "{context}: {reply}");
    assert_eq!(reply["error"]["data"]["rule"], rule, "{context}: {reply}");
    reply
}

/// Runs every attempt against `server`; checks the marker file and the trail.
fn no_bypass(server_name: &str, server: Vec<OsString>, marker: &Path) {
    let mut s = start(&server);
    let attempts = attempts();
    let mut next_id = 100;
    for a in &attempts {
        let context = format!("{server_name}: {}", a.what);
        s.proxy.send_raw(&a.bytes);
        for (id, rule) in &a.replies {
            expect_error(&mut s.proxy, id, rule, &context);
        }
        still_answers(&mut s.proxy, next_id, &context);
        next_id += 1;
    }
    // An over-limit call of an allowed tool gets an error naming the limit.
    let big = call(
        50,
        "echo",
        &format!(r#"{{"message":"{}"}}"#, "y".repeat(17 << 20)),
    );
    s.proxy.send_raw(format!("{big}\n").as_bytes());
    let reply = expect_error(&mut s.proxy, &json!(50), "oversized_request", server_name);
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("parse limit of {LIMIT} bytes")),
        "{message}"
    );
    still_answers(&mut s.proxy, next_id, server_name);

    s.proxy.close_stdin();
    assert!(s.proxy.wait().success(), "{server_name}: proxy exit");
    let marks = std::fs::read_to_string(marker).unwrap_or_default();
    assert_eq!(marks, "", "{server_name}: a denied tool ran");

    let events = s.audit.events();
    check_sessions(&events);
    let rules: Vec<&str> = of_type(&events, "policy_blocked")
        .iter()
        .map(|b| b["details"]["rule"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = attempts.iter().map(|a| a.rule).collect();
    expected.push("oversized_request");
    assert_eq!(rules, expected, "{server_name}");
    for b in of_type(&events, "policy_blocked") {
        assert_eq!(b["outcome"], "blocked", "{b}");
    }
    let ran: Vec<&Value> = of_type(&events, "tool_call")
        .into_iter()
        .filter(|c| c["tool"] != "echo")
        .collect();
    assert!(
        ran.is_empty(),
        "{server_name}: calls reached the server: {ran:#?}"
    );
}

fn marker_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("marks.txt");
    (dir, file)
}

/// The TypeScript SDK package server-everything depends on.
fn typescript_sdk(peers: &Peers) -> PathBuf {
    let scope = peers
        .everything_js
        .ancestors()
        .nth(3)
        .expect("node_modules/@modelcontextprotocol");
    let sdk = scope.join("sdk");
    assert!(
        sdk.join("package.json").exists(),
        "{} missing: run scripts/install-peers.sh",
        sdk.display()
    );
    sdk
}

#[test]
fn python_sdk_server_never_runs_a_denied_tool() {
    let Some(peers) = Peers::find() else { return };
    let (_dir, marker) = marker_file();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/marker_server.py");
    let server = vec![
        peers.python.clone().into(),
        script.into(),
        marker.clone().into(),
    ];
    no_bypass("python", server, &marker);
}

#[test]
fn typescript_sdk_server_never_runs_a_denied_tool() {
    let Some(peers) = Peers::find() else { return };
    let (_dir, marker) = marker_file();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("js/marker_server.mjs");
    let server = vec![
        "node".into(),
        script.into(),
        typescript_sdk(&peers).into(),
        marker.clone().into(),
    ];
    no_bypass("typescript", server, &marker);
}
