//! Over-limit request lines under a gate are refused without being kept: a
//! client sends a 150 MB `tools/call` line through a proxy with a deny rule.
//! It gets the `oversized_request` error at once, the next call still works,
//! and the proxy's peak RSS (`VmHWM` in `/proc/PID/status`, read while it
//! runs) stays at most **64 MiB**: the 16 MiB parse limit, the read buffer's
//! growth while a line is below it, and the rest of the process.

use std::io::Write;
use std::process::Stdio;

use blackbox_tests::audit::{of_type, AuditDir};
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use serde_json::json;

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
const LINE_BYTES: usize = 150_000_000;
const BOUND_KIB: u64 = 64 * 1024;

/// The proxy's peak resident set so far, in KiB.
fn peak_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc status");
    line.split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .expect("VmHWM in KiB")
}

#[test]
fn a_150_mb_request_under_a_gate_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[[rules]]\ntool = \"fail\"\naction = \"deny\"\n").unwrap();
    let audit = AuditDir::new();
    let flags = ["--config", config.to_str().unwrap()];
    let mut cmd = proxy_command(audit.path(), "fake", &flags, &[FAKE_SERVER, "mcp"]);
    let mut proxy = LineClient::spawn(cmd.stderr(Stdio::inherit()));
    proxy.send(&initialize(0, "policy-bypass-memory"));
    assert_eq!(proxy.recv()["id"], 0);

    // The line is written from another thread while the refusal is read.
    let mut stdin = proxy.take_stdin();
    let writer = std::thread::spawn(move || {
        let head = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"pad":""#;
        let tail = b"\"}}}\n";
        stdin.write_all(head).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        let mut left = LINE_BYTES - head.len() - tail.len();
        while left > 0 {
            let n = left.min(chunk.len());
            stdin.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        stdin.write_all(tail).unwrap();
        let mut next = serde_json::to_vec(&tool_call(2, "echo", json!({"n": 2}))).unwrap();
        next.push(b'\n');
        stdin.write_all(&next).unwrap();
        stdin
    });
    let refusal = proxy.recv();
    assert_eq!(refusal["id"], 1, "{refusal}");
    assert_eq!(refusal["error"]["data"]["rule"], "oversized_request");
    let answer = proxy.recv();
    assert_eq!(answer["id"], 2, "the next call is answered: {answer}");
    assert!(answer.get("result").is_some(), "{answer}");

    let peak = peak_rss_kib(proxy.pid());
    eprintln!("proxy peak RSS: {peak} KiB (bound {BOUND_KIB} KiB)");
    drop(writer.join().expect("the writer"));
    assert!(proxy.wait().success());
    assert!(
        peak <= BOUND_KIB,
        "proxy peak RSS {peak} KiB exceeds {BOUND_KIB} KiB"
    );
    let events = audit.events();
    let blocked = of_type(&events, "policy_blocked");
    assert_eq!(blocked.len(), 1, "{blocked:#?}");
    assert_eq!(blocked[0]["details"]["rule"], "oversized_request");
}
