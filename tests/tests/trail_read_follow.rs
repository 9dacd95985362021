//! `mcp-blackbox tail -f` follows a live trail: two real proxies (each in
//! front of the fake MCP server) write one audit directory while one rotates
//! its files every MiB (and compresses the rotated parts); every event the
//! proxies wrote comes out of `tail -f` exactly once.
//!
//! The test waits on lines: both sessions' `session_end` on tail's output.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use blackbox_tests::audit::AuditDir;
use blackbox_tests::binary::blackbox;
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use blackbox_tests::PATIENCE;
use serde_json::{json, Value};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");

/// A session of `calls` echo calls, each with `size` bytes of argument.
fn session(audit: &AuditDir, name: &str, calls: usize, size: usize) -> String {
    let flags = ["--max-file-size-mb", "1", "--max-field-chars", "1000000"];
    let mut proxy = LineClient::spawn(
        proxy_command(audit.path(), name, &flags, &[FAKE_SERVER, "mcp"]).stderr(Stdio::inherit()),
    );
    let mut stdin = proxy.take_stdin();
    let mut send = |v: &Value| {
        let mut line = serde_json::to_vec(v).unwrap();
        line.push(b'\n');
        stdin.write_all(&line).unwrap();
    };
    send(&initialize(0, name));
    proxy_reply(&mut proxy, 0);
    for i in 1..=calls {
        send(&tool_call(
            i,
            "echo",
            json!({"i": i, "blob": "x".repeat(size)}),
        ));
        proxy_reply(&mut proxy, i);
    }
    drop(stdin);
    assert!(proxy.wait().success(), "{name}: proxy failed");
    name.to_owned()
}

fn proxy_reply(proxy: &mut LineClient, id: usize) {
    let reply = proxy.recv();
    assert_eq!(reply["id"], id, "{reply}");
}

#[test]
fn tail_follows_rotation_and_a_second_proxy() {
    let audit = AuditDir::new();
    let mut tail = Command::new(blackbox())
        .args(["tail", "-f", "--format", "jsonl", "-n", "1000000"])
        .arg(audit.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting tail -f");
    let (tx, rx) = mpsc::channel::<Value>();
    let out = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            let v: Value = serde_json::from_str(&line).expect("tail --format jsonl writes events");
            if tx.send(v).is_err() {
                return;
            }
        }
    });

    // ~40 × 100 KB each way: several rotations at 1 MiB.
    std::thread::scope(|s| {
        let big = s.spawn(|| session(&audit, "alpha", 40, 100_000));
        let small = s.spawn(|| session(&audit, "beta", 30, 100));
        big.join().unwrap();
        small.join().unwrap();
    });

    let mut seen: Vec<Value> = Vec::new();
    let mut ended = 0;
    while ended < 2 {
        let v = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("tail -f stopped short; {} events seen", seen.len()));
        ended += usize::from(v["type"] == "session_end");
        seen.push(v);
    }
    let _ = tail.kill();
    let _ = tail.wait();

    let files = audit.files();
    let rotated = files
        .iter()
        .filter(|f| f.to_string_lossy().contains(".0001.jsonl"))
        .count();
    assert!(rotated >= 1, "no rotation happened: {files:?}");
    assert!(files.len() >= 3, "expected several files: {files:?}");

    let written = audit.events();
    let ids = |events: &[Value]| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for e in events {
            *m.entry(e["event_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        m
    };
    let (want, got) = (ids(&written), ids(&seen));
    assert!(got.values().all(|&n| n == 1), "an event came out twice");
    assert_eq!(
        got.len(),
        want.len(),
        "tail -f saw {} of {} events",
        got.len(),
        want.len()
    );
    assert_eq!(got, want);
    for server in ["alpha", "beta"] {
        let calls = seen
            .iter()
            .filter(|e| e["server"] == server && e["type"] == "tool_call")
            .count();
        assert_eq!(calls, if server == "alpha" { 40 } else { 30 }, "{server}");
    }
}
