//! A flood past the retention budget: one session writes many MiB in
//! seconds into a directory that holds another session's recent trail. No
//! file younger than the minimum age is deleted to make room, so the other
//! session's trail survives whole, and the flood is reported on stderr and as a
//! `retention_exceeded` event.

use std::process::Stdio;

use blackbox_tests::audit::{check_sessions, of_type, AuditDir};
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use serde_json::json;

const BENCH_SERVER: &str = env!("CARGO_BIN_EXE_bench_server");

/// Runs one session of `calls` echo calls of `text_len` characters each;
/// returns the proxy's stderr.
fn session(audit: &AuditDir, name: &str, calls: usize, text_len: usize) -> String {
    let flags = [
        "--max-file-size-mb",
        "1",
        "--max-files",
        "2",
        "--max-total-size-mb",
        "1",
        "--max-field-chars",
        "300000",
        "--fsync",
        "never",
    ];
    let mut cmd = proxy_command(audit.path(), name, &flags, &[BENCH_SERVER]);
    let mut client = LineClient::spawn(cmd.stderr(Stdio::piped()));
    let mut stderr = client.child_mut().stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).map(|_| s)
    });
    client.send(&initialize(1, name));
    assert_eq!(client.recv()["id"], 1);
    for id in 2..2 + calls {
        client.send(&tool_call(
            id,
            "echo",
            json!({"text": "lorem ipsum ".repeat(text_len / 12)}),
        ));
        assert_eq!(client.recv()["id"], id);
    }
    client.close_stdin();
    assert!(client.wait().success());
    reader.join().unwrap().expect("stderr")
}

#[test]
fn a_flood_keeps_the_other_sessions_young_files_and_is_reported() {
    let audit = AuditDir::new();
    let quiet = session(&audit, "quiet", 3, 100);
    assert!(!quiet.contains("retention budget"), "{quiet}");
    let before = audit.events();
    let quiet_events = before.len();
    assert!(quiet_events >= 5);

    // ~250 KiB recorded twice per call (arguments and result): ~12 MiB.
    let flood = session(&audit, "flood", 24, 250_000);
    assert!(
        flood.contains("over the retention budget"),
        "the flood is reported: {flood}"
    );
    assert!(
        audit.files().len() > 2,
        "the budget of 2 files was exceeded"
    );

    let events = audit.events();
    let sessions = check_sessions(&events);
    assert_eq!(sessions.len(), 2, "both sessions whole: {sessions:?}");
    let quiet_now: Vec<_> = of_type(&events, "session_start")
        .into_iter()
        .filter(|e| e["server"] == "quiet")
        .collect();
    assert_eq!(quiet_now.len(), 1, "the quiet session's trail survived");
    for e in &before {
        assert!(events.contains(e), "quiet event lost: {e}");
    }
    let flood_reports = of_type(&events, "retention_exceeded");
    assert_eq!(
        flood_reports.len(),
        1,
        "one report per episode: {flood_reports:?}"
    );
    assert_eq!(flood_reports[0]["server"], "flood");
    assert!(flood_reports[0]["details"]["files"].as_u64().unwrap() > 2);
}
