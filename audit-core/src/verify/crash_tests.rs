//! A writer process killed with SIGKILL mid-write: at most a torn last line,
//! which verify reports as torn while reading everything else.

use super::*;
use crate::event::{Event, EventType};
use crate::sink::{spawn_writer, SinkTarget};
use crate::stamp::{SessionIdentity, Stamper};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const DIR_VAR: &str = "MCP_BLACKBOX_CRASH_TEST_DIR";
const CHILD: &str = "verify::crash_tests::child_writes_until_killed";

/// Not a test on its own: the body of the child process of the test below.
#[test]
#[ignore]
fn child_writes_until_killed() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let writer = spawn_writer(SinkTarget::Dir(dir.into()), 64).unwrap();
    let identity = SessionIdentity {
        session_id: "crash".into(),
        server: "fs".into(),
        user: "alice".into(),
        host: "host-1".into(),
    };
    let mut stamper = Stamper::with_random_seed(identity);
    let mut batch = Vec::new();
    let start = Event::new(EventType::SessionStart, SystemTime::now())
        .detail("chain_seed", stamper.seed_hex());
    stamper.stamp(&start, &mut batch);
    loop {
        for n in 0..200 {
            let e = Event::new(EventType::ToolCall, SystemTime::now())
                .detail("blob", "x".repeat(n * 10));
            stamper.stamp(&e, &mut batch);
        }
        writer.write(std::mem::take(&mut batch));
    }
}

#[test]
fn a_killed_writer_leaves_at_most_a_torn_last_line() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            CHILD,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_VAR, tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the event "the child has written a good part of the trail".
    let deadline = Instant::now() + Duration::from_secs(120);
    while dir_bytes(tmp.path()) < 2 << 20 {
        assert!(Instant::now() < deadline, "child wrote nothing");
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let report = verify_paths(&[tmp.path().to_owned()], None).unwrap();
    assert_eq!(report.sessions.len(), 1, "{report}");
    let session = &report.sessions[0];
    assert!(session.last_seq > 100, "{report}");
    assert_eq!(
        session.breaks,
        vec![Break::Truncated {
            last_seq: session.last_seq
        }],
        "{report}"
    );
    assert!(report.issues.len() <= 1, "{report}");
    if let Some(issue) = report.issues.first() {
        assert!(matches!(issue, LineIssue::Torn(_)), "{report}");
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
