//! The auditor's memory bound under hostile inputs: peak RSS of the proxy
//! stays at or under 64 MiB (`ru_maxrss` from `wait4(2)`, taken by the
//! `peak_rss` go-between: the proxy and the children it reaped, here
//! `sh`/`cat`, a few MiB) for
//!
//! - 4096 requests of an unknown method, never answered, each with 64 KiB of
//!   `[0,0,…]` params (a request in flight keeps a bounded summary);
//! - one `tools/call` of just under 16 MiB (the parse limit) whose arguments
//!   are `[0,0,…]` (over the frame's parse budget: recorded by SHA-256);
//! - lines of 150 MB from the client, no policy gate (a server's 256 MiB
//!   line: `memory_bound.rs`).
//!
//! The server is `cat >/dev/null`: nothing is answered.

use std::io::{Read, Write};
use std::process::Stdio;

use blackbox_tests::audit::{of_type, only, AuditDir};
use blackbox_tests::client::{proxy_command, LineClient};
use serde_json::Value;

const BOUND_KIB: u64 = 64 * 1024;
const PEAK_RSS: &str = env!("CARGO_BIN_EXE_peak_rss");
const DISCARD: [&str; 3] = ["sh", "-c", "exec cat >/dev/null"];

/// `[0,0,…,0]` of `bytes` bytes.
fn zeros(bytes: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes);
    v.push(b'[');
    while v.len() + 2 < bytes {
        v.extend_from_slice(b"0,");
    }
    v.extend_from_slice(b"0]");
    v
}

/// Runs the proxy in front of `server`, lets `drive` talk to it, closes its
/// stdin, and returns its peak RSS (KiB) and the trail.
fn peak_rss(
    audit: &AuditDir,
    server: &[&str],
    drive: impl FnOnce(&mut LineClient),
) -> (u64, Vec<Value>) {
    let peak = tempfile::NamedTempFile::new().unwrap();
    let proxy = proxy_command(audit.path(), "memory", &[], server);
    let mut cmd = std::process::Command::new(PEAK_RSS);
    cmd.arg(peak.path()).arg("--").arg(proxy.get_program());
    cmd.args(proxy.get_args()).stderr(Stdio::null());
    let mut proxy = LineClient::spawn(&mut cmd);
    drive(&mut proxy);
    proxy.close_stdin();
    let mut rest = Vec::new();
    proxy.stdout().read_to_end(&mut rest).expect("proxy stdout");
    assert!(proxy.wait().success(), "proxy exit");
    let kib: u64 = std::fs::read_to_string(peak.path())
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("proxy peak RSS: {kib} KiB (bound {BOUND_KIB} KiB)");
    (kib, audit.events())
}

#[test]
fn unanswered_requests_with_large_params_keep_bounded_summaries() {
    let audit = AuditDir::new();
    let params = zeros(64 * 1024 - 64);
    let (kib, events) = peak_rss(&audit, &DISCARD, |proxy| {
        let mut stdin = proxy.take_stdin();
        for id in 0..4096 {
            let head = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"x/unknown","params":"#);
            stdin.write_all(head.as_bytes()).unwrap();
            stdin.write_all(&params).unwrap();
            stdin.write_all(b"}\n").unwrap();
        }
    });
    assert!(kib <= BOUND_KIB, "peak RSS {kib} KiB over {BOUND_KIB} KiB");
    // The relay may run ahead of the auditor (chunks past the hand-off's
    // limit are dropped from the trail, counted): what was classified is
    // abandoned at the end, at most 64 (4 MiB of 64 KiB) with their params
    // kept, the rest by digest.
    let end = only(&events, "session_end");
    let classified = end["details"]["counts"]["requests"].as_u64().unwrap();
    assert!(classified > 0, "{end}");
    let abandoned = of_type(&events, "rpc_request");
    assert_eq!(abandoned.len() as u64, classified);
    let by_digest = abandoned
        .iter()
        .filter(|e| e["details"]["arguments_sha256"].is_string())
        .count() as u64;
    assert!(
        by_digest >= classified.saturating_sub(64),
        "{by_digest} of {classified} recorded by digest"
    );
}

#[test]
fn a_16_mib_call_of_zeros_is_recorded_by_digest() {
    let audit = AuditDir::new();
    let args = zeros(16 * 1024 * 1024 - 1024);
    let (kib, events) = peak_rss(&audit, &DISCARD, |proxy| {
        let mut stdin = proxy.take_stdin();
        let head =
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sum","arguments":"#;
        stdin.write_all(head.as_bytes()).unwrap();
        stdin.write_all(&args).unwrap();
        stdin.write_all(b"}}\n").unwrap();
    });
    assert!(kib <= BOUND_KIB, "peak RSS {kib} KiB over {BOUND_KIB} KiB");
    let call = only(&events, "tool_call");
    assert_eq!(call["tool"], "sum");
    assert_eq!(call["details"]["arguments_omitted"], "over_parse_budget");
    let digest = audit_core::stamp::sha256_hex(&args);
    assert_eq!(call["details"]["arguments_sha256"], digest.as_str());
    assert!(call.get("arguments").is_none());
}

const LINE: usize = 150_000_000;

/// Two lines of [`LINE`] bytes of `x`, then end of input.
fn write_long_lines(mut stdin: impl Write) {
    let piece = vec![b'x'; 1 << 20];
    for _ in 0..2 {
        let mut left = LINE;
        while left > 0 {
            let n = left.min(piece.len());
            stdin.write_all(&piece[..n]).unwrap();
            left -= n;
        }
        stdin.write_all(b"\n").unwrap();
    }
}

#[test]
fn lines_of_150_mb_without_a_gate() {
    let audit = AuditDir::new();
    let (kib, events) = peak_rss(&audit, &DISCARD, |proxy| {
        write_long_lines(proxy.take_stdin());
    });
    assert!(kib <= BOUND_KIB, "peak RSS {kib} KiB over {BOUND_KIB} KiB");
    only(&events, "session_end");
}
