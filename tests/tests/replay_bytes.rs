//! Replay is byte for byte: a 16 MiB result and a line that is not UTF-8
//! come back from `mcp-blackbox replay` exactly as the server wrote them.
//!
//! The session is recorded through the proxy (raw transcript, a parse limit
//! above the result's line) with bench_server's `blob` tool for the 16 MiB
//! result; the non-UTF-8 line is written into a transcript by the same
//! writer the proxy uses, since no real server sends one on purpose.

use std::io::{BufRead, Read};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

use audit_core::event::Direction;
use audit_core::stages::{open_transcript, spawn_transcript, Frame, TranscriptOptions};
use blackbox_tests::binary::blackbox;
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use bytes::Bytes;
use serde_json::json;

const BENCH_SERVER: &str = env!("CARGO_BIN_EXE_bench_server");
const SIZE: usize = 16 << 20;

/// Sends `requests` to a client-side process and reads one line per request.
fn exchange(client: &mut LineClient, requests: &[serde_json::Value]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for r in requests {
        client.send(r);
        let mut line = Vec::new();
        client.stdout().read_until(b'\n', &mut line).unwrap();
        lines.push(line);
    }
    lines
}

#[test]
fn a_16_mib_result_recorded_through_the_proxy_replays_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let path_s = path.to_str().unwrap();
    let flags = [
        "--transcript",
        path_s,
        "--transcript-raw",
        "--log-level",
        "error",
        "--parse-limit-mb",
        "32",
    ];
    let mut proxy = LineClient::spawn(&mut proxy_command(
        &dir.path().join("audit"),
        "bench",
        &flags,
        &[BENCH_SERVER],
    ));
    let requests = [
        initialize(1, "bytes"),
        tool_call(2, "blob", json!({"size": SIZE})),
    ];
    let recorded = exchange(&mut proxy, &requests);
    proxy.close_stdin();
    assert!(proxy.wait().success());
    assert!(recorded[1].len() > SIZE, "the result arrived whole");

    let mut replay = LineClient::spawn(Command::new(blackbox()).arg("replay").arg(&path));
    let replayed = exchange(&mut replay, &requests);
    replay.close_stdin();
    assert!(replay.wait().success());
    assert!(
        recorded == replayed,
        "replayed bytes differ from the recorded ones"
    );
}

fn frame(direction: Direction, bytes: &[u8]) -> Frame {
    Frame {
        direction,
        at: Instant::now(),
        bytes: Bytes::copy_from_slice(bytes),
        len: bytes.len(),
        sha256: None,
        terminated: true,
        after_gap: false,
    }
}

#[test]
fn a_transcript_with_a_line_that_is_not_utf8_and_a_16_mib_result_replays_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let file = open_transcript(&path).unwrap();
    let (tap, writer) = spawn_transcript(file, TranscriptOptions::new(None, SIZE)).unwrap();
    let call = tool_call(7, "echo", json!({"text": "hi"})).to_string();
    let answer = br#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hi"}]}}"#;
    let garbage = b"\xff\xfe log line \xc3\x28 not utf-8\r";
    let big_call = tool_call(8, "blob", json!({"size": SIZE})).to_string();
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":8,"result":{{"content":[{{"type":"text","text":"{}"}}]}}}}"#,
        "y".repeat(SIZE - 100)
    );
    for (d, b) in [
        (Direction::ClientToServer, call.as_bytes()),
        (Direction::ServerToClient, &garbage[..]),
        (Direction::ServerToClient, &answer[..]),
        (Direction::ClientToServer, big_call.as_bytes()),
        (Direction::ServerToClient, big.as_bytes()),
    ] {
        tap.offer(&frame(d, b), SystemTime::now());
    }
    drop(tap);
    writer
        .finish(std::time::Duration::from_secs(60))
        .unwrap()
        .unwrap();

    let mut child = Command::new(blackbox())
        .arg("replay")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, format!("{call}\n{big_call}\n").as_bytes()).unwrap();
    drop(stdin);
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(child.wait().unwrap().success());
    let want = [&garbage[..], b"\n", answer, b"\n", big.as_bytes(), b"\n"].concat();
    assert!(big.len() < SIZE && out.len() > SIZE);
    assert!(out == want, "replayed bytes differ from the recorded ones");
}
