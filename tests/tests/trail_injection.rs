//! No peer can inject a line into the trail: every string a peer sends is
//! re-encoded, so each event is exactly one line to every line reader.
//!
//! A raw client (the test) and `fake_server mcp` put what breaks line readers
//! into every field they control: a raw CR inside an id object, raw U+2028,
//! U+2029, U+0085 and DEL inside ids, method and tool names, argument keys
//! and values, client and server info, error messages and data, and a frame
//! that is not JSON with raw control bytes (in the violation's excerpt). The
//! trail is then read by Python in text mode (line iteration, and
//! `str.splitlines`, which also splits on U+2028/2029/0085 and FS/GS/RS),
//! Node's readline and jq (`-R`, one line at a time): each must read exactly
//! one JSON object per event line, and the values must come back intact.

use std::path::PathBuf;
use std::process::Command;

use blackbox_tests::audit::{of_type, only, AuditDir};
use blackbox_tests::client::{proxy_command, LineClient};
use blackbox_tests::process::run_collect;
use serde_json::json;

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
/// Every character this test injects that a line reader may split on.
const NASTY: &str = "\u{2028}\u{2029}\u{85}\u{7f}\u{9f}";

const PYTHON_READER: &str = r#"
import json, sys
lines = split = 0
for f in sys.argv[1:]:
    with open(f, 'r', encoding='utf-8') as fh:
        for line in fh:
            assert isinstance(json.loads(line), dict), repr(line)
            lines += 1
    with open(f, 'r', encoding='utf-8') as fh:
        for part in fh.read().splitlines():
            assert isinstance(json.loads(part), dict), repr(part)
            split += 1
print(lines, split)
"#;

const NODE_READER: &str = r#"
const fs = require('fs'), readline = require('readline');
(async () => {
  let n = 0;
  for (const f of process.argv.slice(1)) {
    const rl = readline.createInterface({ input: fs.createReadStream(f), crlfDelay: Infinity });
    for await (const line of rl) {
      const v = JSON.parse(line);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object: ' + line);
      n++;
    }
  }
  console.log(n);
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// `name` on PATH, or `None` (a skip) when it is missing outside CI.
fn reader(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = format!("trail reader {name} missing (scripts/install-peers.sh installs jq)");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg} (CI=true: a missing peer is a failure, not a skip)");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = run_collect(cmd, what);
    assert!(out.status.success(), "{what}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Sends hostile frames through the proxy, which writes them to `audit`.
fn hostile_session(audit: &AuditDir) {
    let server = [
        FAKE_SERVER,
        "mcp",
        "--server-info-name",
        "srv\u{2028}\r\u{85}",
    ];
    let mut proxy = LineClient::spawn(&mut proxy_command(audit.path(), "inject", &[], &server));
    let init = format!(
        r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"cli{NASTY}","version":"1"}}}}}}"#
    );
    let frames = [
        init,
        // A raw CR in the id object's white space, raw separators in strings.
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{{\"a\":\r\"x{NASTY}\"}},\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"k{NASTY}\":\"v{NASTY}\\u001b\"}}}}}}"
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":"t{NASTY}","method":"tools/call","params":{{"name":"tool{NASTY}","arguments":{{}}}}}}"#
        ),
        format!(r#"{{"jsonrpc":"2.0","id":3,"method":"x/{NASTY}\u001b","params":{{}}}}"#),
    ];
    for f in &frames {
        proxy.send_raw(format!("{f}\n").as_bytes());
        proxy.recv();
    }
    // Not JSON, with raw control bytes (the excerpt keeps them), and a
    // notification with a hostile method (no answer).
    proxy.send_raw(b"\x1b[2J\x0b\x0c\x1c\x1d\x1e\xc2\x85\xe2\x80\xa8\r junk\n");
    proxy.send_raw(format!("{{\"jsonrpc\":\"2.0\",\"method\":\"n/{NASTY}\"}}\n").as_bytes());
    proxy.close_stdin();
    assert!(proxy.wait().success());
}

#[test]
fn hostile_strings_stay_inside_one_line_for_every_reader() {
    let (Some(python), Some(node), Some(jq)) = (reader("python3"), reader("node"), reader("jq"))
    else {
        return;
    };
    let audit = AuditDir::new();
    hostile_session(&audit);
    let events = audit.events();
    let files: Vec<PathBuf> = audit
        .files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    let mut newlines = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        newlines += bytes.iter().filter(|&&b| b == b'\n').count();
        let text = String::from_utf8(bytes).unwrap();
        let raw = text
            .chars()
            .find(|&c| (c.is_control() && c != '\n') || matches!(c, '\u{2028}' | '\u{2029}'));
        assert!(raw.is_none(), "raw {raw:?} in {}", f.display());
    }
    assert_eq!(newlines, events.len(), "one line per event");

    let py = run(
        Command::new(python)
            .arg("-c")
            .arg(PYTHON_READER)
            .args(&files),
        "python",
    );
    assert_eq!(py.trim(), format!("{n} {n}", n = events.len()), "python");
    let js = run(
        Command::new(node).arg("-e").arg(NODE_READER).args(&files),
        "node",
    );
    assert_eq!(js.trim(), events.len().to_string(), "node readline");
    let types = run(
        Command::new(&jq)
            .args(["-R", "-r", "fromjson | type"])
            .args(&files),
        "jq",
    );
    assert_eq!(
        types.lines().filter(|t| *t == "object").count(),
        events.len(),
        "jq -R"
    );
    let stream = run(Command::new(&jq).args(["-c", "."]).args(&files), "jq");
    assert_eq!(stream.lines().count(), events.len(), "jq stream");

    // The strings come back intact: re-encoded, not altered.
    let calls = of_type(&events, "tool_call");
    assert_eq!(calls[0]["jsonrpc_id"], json!({"a": format!("x{NASTY}")}));
    assert_eq!(
        calls[0]["arguments"][format!("k{NASTY}")],
        format!("v{NASTY}\u{1b}")
    );
    assert_eq!(calls[1]["tool"], format!("tool{NASTY}"));
    let start = &only(&events, "session_start")["details"];
    assert_eq!(start["client"]["name"], format!("cli{NASTY}"));
    assert_eq!(start["server_info"]["name"], "srv\u{2028}\r\u{85}");
    let unknown = of_type(&events, "rpc_error")
        .into_iter()
        .find(|e| e["jsonrpc_id"] == 3)
        .expect("the unknown method's error");
    assert_eq!(unknown["method"], format!("x/{NASTY}\u{1b}"));
    let violation = only(&events, "protocol_violation");
    assert!(violation["excerpt"].as_str().unwrap().contains("\u{1b}[2J"));
}
