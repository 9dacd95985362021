//! The pipeline built from settings: what fails before the server starts,
//! and a session that runs end to end into a file.

use std::time::{Duration, Instant};

use super::*;
use crate::config::{LoadInput, Settings};
use crate::event::Direction;

fn settings(flags: &[(&'static str, &str)], home: &std::path::Path) -> Settings {
    let command = ["server".to_owned()];
    Settings::load(LoadInput {
        home: Some(home.to_owned()),
        flags: flags
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned(), "--flag"))
            .collect(),
        command: &command,
        ..Default::default()
    })
    .unwrap()
}

fn identity() -> Identity {
    Identity {
        command: vec!["server".into()],
        pid: Some(42),
        proxy_version: "0.0.0".into(),
        os_user: || "someone".into(),
    }
}

#[test]
fn a_named_key_or_file_that_cannot_be_used_fails_before_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.key");
    let missing = missing.to_str().unwrap();
    let s = settings(&[("audit.signing_key", missing)], tmp.path());
    let e = Plan::from_settings(&s, "x").unwrap_err();
    assert!(matches!(e, StartError::SigningKey { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("audit.signing_key (flag:--flag): "),
        "{e}"
    );
    let s = settings(&[("audit.hmac_key_file", missing)], tmp.path());
    let e = Plan::from_settings(&s, "x").unwrap_err();
    assert!(e.to_string().starts_with("audit.hmac_key_file: "), "{e}");
    let under_a_file = tmp.path().join("missing.key/trail.jsonl");
    std::fs::write(tmp.path().join("missing.key"), "not a dir").unwrap();
    let s = settings(
        &[("audit.file", under_a_file.to_str().unwrap())],
        tmp.path(),
    );
    let e = Plan::from_settings(&s, "x").unwrap_err();
    assert!(matches!(e, StartError::Target(_)), "{e}");
}

#[test]
fn auditing_off_is_a_plan_without_a_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let s = settings(&[("audit.enabled", "false")], tmp.path());
    let plan = Plan::from_settings(&s, "x").unwrap();
    assert!(plan.gate().is_none());
    assert!(plan.start(identity(), Duration::from_secs(5)).is_none());
}

#[test]
fn a_session_runs_from_settings_into_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("trail.jsonl");
    let s = settings(
        &[
            ("audit.file", file.to_str().unwrap()),
            ("policy.default_action", "deny"),
        ],
        tmp.path(),
    );
    let plan = Plan::from_settings(&s, "x").unwrap();
    assert!(
        plan.gate().is_some(),
        "deny-by-default refuses in the relay"
    );
    let pipeline = plan.start(identity(), Duration::from_secs(30)).unwrap();
    let mut handle = pipeline.handle().clone();
    let line = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec();
    let mut chunk = line.clone();
    chunk.push(b'\n');
    handle.offer(Direction::ClientToServer, Instant::now(), chunk.into());
    drop(handle);
    let end = SessionEnd {
        at: Instant::now(),
        exit: ChildExit::Code(0),
        reason: "client_eof".into(),
    };
    let Flush::Done(finished) = pipeline.finish(end) else {
        panic!("the trail did not flush");
    };
    let text = std::fs::read_to_string(&file).unwrap();
    let types: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
        .collect();
    assert_eq!(types.first().unwrap(), "\"session_start\"");
    assert_eq!(types.last().unwrap(), "\"session_end\"");
    assert!(text.contains(r#""user":"someone""#), "{text}");
    let host = format!(
        r#""host":{}"#,
        serde_json::json!(crate::stamp::local_hostname())
    );
    assert_eq!(text.matches(&host).count(), types.len(), "{text}");
    assert_eq!(finished.writer.unwrap().lines_written, types.len() as u64);
}
