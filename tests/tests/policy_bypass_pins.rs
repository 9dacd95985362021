//! Enforced pins fail closed on a `tools/list` answer that cannot be read
//! strictly: a server (`tests/py/rug_pull_server.py`) pinned honest lists a
//! changed `echo` with a `NaN` literal in its schema. The answer reaches the
//! client as it is (the proxy does not rewrite it), but every call is then
//! refused with `pins:unreadable_list` and never reaches the server; the
//! session still answers other requests. The same pins against the honest
//! server let the call through.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use blackbox_tests::audit::{check_sessions, of_type, AuditDir};
use blackbox_tests::binary::blackbox;
use blackbox_tests::client::{initialize, proxy_command, request, tool_call, LineClient};
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::json;

fn server(peers: &Peers, mode: &str, marker: &Path) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/rug_pull_server.py");
    [
        peers.python.to_str().unwrap(),
        script.to_str().unwrap(),
        mode,
        marker.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Pins the honest server's tools into a fresh pin file.
fn pin_honest(peers: &Peers, dir: &Path) -> PathBuf {
    let pins = dir.join("pins.json");
    let mut cmd = Command::new(blackbox());
    cmd.args(["pin", "--server-name", "rug", "--pins"])
        .arg(&pins)
        .arg("--")
        .args(server(peers, "honest", &dir.join("pin-marks.txt")));
    let out = run_collect(&mut cmd, "mcp-blackbox pin");
    assert!(
        out.status.success(),
        "pin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    pins
}

/// A session with enforced pins: lists the tools, returns the raw answer
/// line, then calls `echo` and returns its reply.
fn list_then_call(pins: &Path, server: &[String], audit: &AuditDir) -> (String, serde_json::Value) {
    let flags = ["--pins", pins.to_str().unwrap(), "--enforce-pins"];
    let mut cmd = proxy_command(audit.path(), "rug", &flags, server);
    let mut proxy = LineClient::spawn(cmd.stderr(Stdio::null()));
    proxy.send(&initialize(0, "policy-bypass-pins"));
    assert_eq!(proxy.recv()["id"], 0);
    proxy.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    proxy.send(&request(1, "tools/list", json!({})));
    let mut listing = String::new();
    proxy.stdout().read_line(&mut listing).expect("the listing");
    proxy.send(&tool_call(2, "echo", json!({"message": "hi"})));
    let reply = proxy.recv();
    proxy.send(&request(3, "ping", json!({})));
    let pong = proxy.recv();
    assert_eq!(pong, json!({"jsonrpc": "2.0", "id": 3, "result": {}}));
    proxy.close_stdin();
    assert!(proxy.wait().success());
    (listing, reply)
}

#[test]
fn an_unreadable_listing_unpins_every_tool() {
    let Some(peers) = Peers::find() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let pins = pin_honest(&peers, dir.path());

    let marker = dir.path().join("marks.txt");
    let audit = AuditDir::new();
    let (listing, reply) = list_then_call(&pins, &server(&peers, "nan", &marker), &audit);
    assert!(
        listing.contains("\"default\":NaN"),
        "relayed as sent: {listing}"
    );
    assert_eq!(reply["id"], 2, "{reply}");
    assert_eq!(reply["error"]["code"], -32001, "{reply}");
    assert_eq!(
        reply["error"]["data"]["rule"], "pins:unreadable_list",
        "{reply}"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), "");
    let events = audit.events();
    check_sessions(&events);
    let blocked = of_type(&events, "policy_blocked");
    assert_eq!(blocked.len(), 1, "{blocked:#?}");
    assert_eq!(blocked[0]["details"]["rule"], "pins:unreadable_list");
    assert_eq!(blocked[0]["tool"], "echo");

    // The same pins against the honest server: the call goes through.
    let audit = AuditDir::new();
    let (_, reply) = list_then_call(&pins, &server(&peers, "honest", &marker), &audit);
    assert_eq!(reply["result"]["content"][0]["text"], "called", "{reply}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "call echo\n");
}
