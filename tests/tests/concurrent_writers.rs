//! Eight proxies append to the same audit directory at
//! once, thousands of events each; every line parses and every event of
//! every session is there.
//!
//! Each proxy fronts a fake MCP server; its client sends `initialize` and
//! then 2000 `tools/call` without waiting (a writer thread), while reading
//! the 2001 replies. Afterwards each session must have its `session_start`,
//! 2000 `tool_call`, 2000 linked `tool_result`, its `session_end`, and `seq`
//! numbers without gap or repeat.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::Stdio;

use blackbox_tests::audit::{check_call_links, check_sessions, kind, AuditDir};
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use serde_json::{json, Value};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
const PROXIES: usize = 8;
const CALLS: usize = 2000;

/// One client session through its own proxy; returns the server name used.
fn run_session(audit: &AuditDir, k: usize) -> String {
    let name = format!("writer-{k}");
    let mut proxy = LineClient::spawn(
        proxy_command(audit.path(), &name, &[], &[FAKE_SERVER, "mcp"]).stderr(Stdio::inherit()),
    );
    let mut stdin = proxy.take_stdin();
    let writer = std::thread::spawn(move || {
        let mut frames = Vec::new();
        let mut push = |v: &Value| {
            serde_json::to_writer(&mut frames, v).unwrap();
            frames.push(b'\n');
        };
        push(&initialize(0, &format!("client-{k}")));
        for i in 1..=CALLS {
            push(&tool_call(i, "echo", json!({"session": k, "i": i})));
        }
        stdin.write_all(&frames).expect("writing calls");
        stdin // kept open until every reply is read
    });
    for i in 0..=CALLS {
        let reply = proxy.recv();
        assert_eq!(reply["id"], i, "session {k}: replies in order");
        assert!(reply.get("result").is_some(), "session {k}: {reply}");
    }
    drop(writer.join().expect("writer thread"));
    let status = proxy.wait();
    assert!(status.success(), "session {k}: proxy exited {status}");
    name
}

#[test]
fn eight_proxies_share_one_audit_directory() {
    let audit = AuditDir::new();
    let names: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..PROXIES)
            .map(|k| {
                s.spawn({
                    let audit = &audit;
                    move || run_session(audit, k)
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("session thread"))
            .collect()
    });

    // `events` fails on any line that is not a JSON object.
    let events = audit.events();
    let sessions = check_sessions(&events);
    assert_eq!(sessions.len(), PROXIES, "sessions: {sessions:?}");

    let mut per_server: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut session_of_server: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for e in &events {
        let server = e["server"].as_str().unwrap_or("?").to_owned();
        session_of_server
            .entry(server.clone())
            .or_default()
            .insert(e["session_id"].as_str().unwrap());
        *per_server
            .entry(server)
            .or_default()
            .entry(kind(e))
            .or_insert(0) += 1;
    }
    for name in &names {
        let counts = &per_server[name];
        assert_eq!(session_of_server[name].len(), 1, "{name}: one session id");
        for (t, want) in [
            ("session_start", 1),
            ("tool_call", CALLS),
            ("tool_result", CALLS),
            ("session_end", 1),
        ] {
            assert_eq!(
                counts.get(t).copied().unwrap_or(0),
                want,
                "{name}: {t} events; all: {counts:?}"
            );
        }
    }
    assert_eq!(check_call_links(&events), PROXIES * CALLS);
}
