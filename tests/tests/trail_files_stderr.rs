//! `--audit-file -`: event lines and the server's own stderr lines share the
//! proxy's stderr without gluing or splitting. The server writes thousands
//! of stderr lines (each in two `write`s, as a logger writing a prefix and a
//! message does, from a shell loop beside it) while the client keeps calling
//! tools, so events are written all the while.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use blackbox_tests::binary::blackbox;
use blackbox_tests::client::{initialize, tool_call, LineClient};
use serde_json::{json, Value};

const BENCH_SERVER: &str = env!("CARGO_BIN_EXE_bench_server");
const SERVER_LINES: usize = 3000;

fn server_line(n: usize) -> String {
    format!("server-stderr-line {n:05} {}", "s".repeat(100))
}

#[test]
fn event_lines_and_server_stderr_lines_never_interleave() {
    let script = format!(
        "(i=0; while [ $i -lt {SERVER_LINES} ]; do printf 'server-stderr-line %05d ' $i; printf '%s\\n' {pad}; i=$((i+1)); done) >&2 & exec {BENCH_SERVER}",
        pad = "s".repeat(100),
    );
    let mut cmd = std::process::Command::new(blackbox());
    cmd.args([
        "--audit-file",
        "-",
        "--user",
        "e2e",
        "--server-name",
        "noisy",
    ])
    .args(["--", "sh", "-c", &script])
    .stderr(Stdio::piped());
    let mut client = LineClient::spawn(&mut cmd);
    let stderr = client.child_mut().stderr.take().unwrap();
    let (last_tx, last_seen) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let last = server_line(SERVER_LINES - 1);
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.expect("stderr is text");
            if line == last {
                let _ = last_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    client.send(&initialize(1, "noisy-stderr"));
    assert_eq!(client.recv()["id"], 1);
    // Calls until the server's last stderr line has come through: events
    // are written all the while the server writes.
    let mut id = 2;
    while last_seen.try_recv().is_err() {
        client.send(&tool_call(id, "echo", json!({"text": "x".repeat(200)})));
        assert_eq!(client.recv()["id"], id);
        id += 1;
        assert!(id < 1_000_000, "the server's stderr never finished");
    }
    client.close_stdin();
    assert!(client.wait().success());
    let lines = reader.join().unwrap();

    let mut server_seen = vec![false; SERVER_LINES];
    let mut events = 0;
    for line in &lines {
        if line.starts_with('{') {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("an event line does not parse ({e}): {line}"));
            assert!(v["type"].is_string(), "{line}");
            events += 1;
        } else if let Some(rest) = line.strip_prefix("server-stderr-line ") {
            let n: usize = rest[..5].parse().unwrap();
            assert_eq!(line, &server_line(n), "a server line arrived whole");
            server_seen[n] = true;
        } else {
            assert!(
                !line.contains("server-stderr-line") && !line.contains("\"seq\""),
                "{line}"
            );
        }
    }
    assert!(server_seen.iter().all(|s| *s), "every server line arrived");
    assert!(
        events as u64 >= 2 * (id - 2),
        "{events} events for {} calls",
        id - 2
    );
}
