//! What `mcp-blackbox replay` refuses, and `--strict`: a redacted transcript
//! (the default) is refused unless `--allow-redacted`, which then serves its
//! placeholders and says so; a transcript whose hash chain is broken is
//! refused; `--strict` answers a request out of the recorded order with an
//! error naming the expected one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use blackbox_tests::binary::blackbox;
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use serde_json::{json, Value};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
const SECRET: &str = "sk-live-abcdefghijklmnopqrstuvwx0123456789";

fn requests() -> Vec<Value> {
    vec![
        initialize(1, "refusals"),
        tool_call(2, "echo", json!({"api_key": SECRET, "n": 1})),
        tool_call(3, "echo", json!({"n": 2})),
    ]
}

/// Records `requests()` through the proxy in front of fake_server.
fn record(dir: &Path, flags: &[&str]) -> (PathBuf, Vec<Value>) {
    let path = dir.join("t.jsonl");
    let mut all = vec!["--transcript", path.to_str().unwrap()];
    all.extend_from_slice(flags);
    let mut proxy = LineClient::spawn(&mut proxy_command(
        &dir.join("audit"),
        "fake",
        &all,
        &[FAKE_SERVER, "mcp"],
    ));
    let answers = requests()
        .iter()
        .map(|r| {
            proxy.send(r);
            proxy.recv()
        })
        .collect();
    proxy.close_stdin();
    assert!(proxy.wait().success());
    (path, answers)
}

/// Sends `lines` to `mcp-blackbox replay ARGS`; its status, stdout lines, stderr.
fn replay(args: &[&str], path: &Path, lines: &[Value]) -> (Option<i32>, Vec<Value>, String) {
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let dir = path.parent().unwrap();
    let input_file = dir.join("input.jsonl");
    std::fs::write(&input_file, input).unwrap();
    let mut cmd = Command::new(blackbox());
    cmd.arg("replay").args(args).arg(path);
    cmd.stdin(Stdio::from(std::fs::File::open(&input_file).unwrap()));
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let values = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    (
        out.status.code(),
        values,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_redacted_transcript_is_refused_unless_allowed_and_then_serves_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let (path, answers) = record(dir.path(), &[]);
    assert!(answers[1]["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains(SECRET));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(SECRET),
        "the transcript is redacted by default"
    );

    let (code, out, err) = replay(&[], &path, &requests());
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    assert!(
        err.contains("is redacted") && err.contains("--allow-redacted"),
        "{err}"
    );

    let (code, out, err) = replay(&["--allow-redacted"], &path, &requests());
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("redacted"), "it says so: {err}");
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(
        out[2], answers[2],
        "a call without secrets is served as recorded"
    );
    let served = out[1]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !served.contains(SECRET) && served.contains("<redacted:"),
        "{out:?}"
    );
}

#[test]
fn a_broken_chain_is_refused_and_strict_requires_the_recorded_order() {
    let dir = tempfile::tempdir().unwrap();
    let (path, answers) = record(dir.path(), &["--transcript-raw", "--log-level", "error"]);
    let (code, out, _) = replay(&["--strict"], &path, &requests());
    assert_eq!((code, out), (Some(0), answers.clone()));

    let reordered = [requests()[0].clone(), requests()[2].clone()];
    let (_, out, _) = replay(&["--strict"], &path, &reordered);
    assert_eq!(out[1]["id"], 3);
    let message = out[1]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("not the next recorded request"),
        "{message}"
    );
    assert_eq!(
        out[1]["error"]["data"]["expected"]["params"]["arguments"]["n"],
        1
    );
    // Without --strict the same order is answered from the recording.
    let (_, out, _) = replay(&[], &path, &reordered);
    assert_eq!(out[1], answers[2]);

    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(4).position(|w| w == b"\"n\":").unwrap();
    bytes[at + 4] = b'7';
    std::fs::write(&path, bytes).unwrap();
    let (code, out, err) = replay(&[], &path, &requests());
    assert_eq!((code, out.len()), (Some(2), 0));
    assert!(err.contains("hash chain broken at line"), "{err}");
}
