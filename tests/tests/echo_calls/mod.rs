//! One proxied session of tool calls: the real Python SDK client
//! (`tests/py/call_tools.py`) calls server-everything through
//! `mcp-blackbox`, with the given flags, into an audit directory.

use std::path::Path;
use std::process::Command;

use blackbox_tests::client::proxy_command;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::{json, Value};

/// Makes `calls` (tool name, arguments) in one session recorded into
/// `audit_dir`; returns the driver's output.
pub fn run_calls(
    peers: &Peers,
    audit_dir: &Path,
    flags: &[&str],
    calls: &[(&str, Value)],
) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("calls.json");
    let calls: Vec<Value> = calls
        .iter()
        .map(|(t, a)| json!({"tool": t, "arguments": a}))
        .collect();
    std::fs::write(&file, serde_json::to_vec(&calls).unwrap()).unwrap();
    let proxy = proxy_command(
        audit_dir,
        "everything",
        flags,
        &["node", peers.everything_js.to_str().unwrap(), "stdio"],
    );
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/call_tools.py");
    let mut cmd = Command::new(&peers.python);
    cmd.arg(driver)
        .arg(&file)
        .arg("--")
        .arg(proxy.get_program())
        .args(proxy.get_args());
    let out = run_collect(&mut cmd, "call_tools.py");
    assert!(
        out.status.success(),
        "call_tools.py failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("call_tools.py prints JSON")
}
