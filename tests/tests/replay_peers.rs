//! Record and replay with real clients: a session recorded through the proxy
//! with `--transcript-raw`, then the same client script against
//! `mcp-blackbox replay` (no server): the client prints the same results.
//! Python SDK against server-everything (handshake era, after its
//! `server/discover` probe fails), the TypeScript SDK against
//! server-everything, and the Python SDK against mcp-server-time (the
//! stateless era: `server/discover`, `_meta` in every request).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;

/// Runs `client` (a command to which the server command is appended) first
/// through the recording proxy, then against replay; returns both outputs.
fn record_then_replay(client: &[OsString], server: &[OsString], tag: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("t.jsonl");
    let mut record = Command::new(&client[0]);
    record
        .args(&client[1..])
        .arg(blackbox())
        .arg("--audit-dir")
        .arg(dir.path().join("audit"))
        .arg("--transcript")
        .arg(&transcript)
        .arg("--transcript-raw")
        .arg("--")
        .args(server);
    let recorded = run_collect(&mut record, &format!("{tag} through the proxy"));
    assert!(
        recorded.status.success(),
        "{tag}: {}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    let mut replay = Command::new(&client[0]);
    replay
        .args(&client[1..])
        .arg(blackbox())
        .arg("replay")
        .arg(&transcript);
    let replayed = run_collect(&mut replay, &format!("{tag} against replay"));
    assert!(
        replayed.status.success(),
        "{tag}: {}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (text(recorded.stdout), text(replayed.stdout))
}

fn os(parts: &[&Path]) -> Vec<OsString> {
    parts.iter().map(|p| p.as_os_str().to_owned()).collect()
}

fn python_client(peers: &Peers, scenario: &str) -> Vec<OsString> {
    let mut c = os(&[&peers.python, &peers.driver]);
    c.extend([scenario.into(), "--".into()]);
    c
}

fn everything(peers: &Peers) -> Vec<OsString> {
    let mut s = os(&[Path::new("node"), &peers.everything_js]);
    s.push("stdio".into());
    s
}

/// The TypeScript SDK the peers installed next to server-everything.
fn ts_sdk(peers: &Peers) -> Option<PathBuf> {
    let sdk = peers
        .everything_js
        .parent()?
        .parent()?
        .parent()?
        .join("sdk");
    if sdk.join("package.json").exists() {
        return Some(sdk);
    }
    let msg = format!(
        "TypeScript SDK missing at {}; run scripts/install-peers.sh",
        sdk.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: a missing peer is a failure, not a skip)");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

#[test]
fn python_sdk_against_server_everything_replays_identically() {
    let Some(peers) = Peers::find() else { return };
    let (recorded, replayed) = record_then_replay(
        &python_client(&peers, "everything"),
        &everything(&peers),
        "python",
    );
    assert!(
        recorded.contains("hello through the black box"),
        "{recorded}"
    );
    assert_eq!(recorded, replayed);
}

#[test]
fn typescript_sdk_against_server_everything_replays_identically() {
    let Some(peers) = Peers::find() else { return };
    let Some(sdk) = ts_sdk(&peers) else { return };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js/drive.cjs");
    let client = os(&[Path::new("node"), &script, &sdk, Path::new("--")]);
    let (recorded, replayed) = record_then_replay(&client, &everything(&peers), "typescript");
    assert!(recorded.contains("The sum of 2 and 3 is 5."), "{recorded}");
    assert_eq!(recorded, replayed);
}

#[test]
fn stateless_era_session_with_mcp_server_time_replays_identically() {
    let Some(peers) = Peers::find() else { return };
    let (recorded, replayed) = record_then_replay(
        &python_client(&peers, "time"),
        &os(&[&peers.time_server]),
        "time",
    );
    assert!(recorded.contains("get_current_time"), "{recorded}");
    assert!(
        recorded.contains("io.modelcontextprotocol/serverInfo"),
        "stateless answers: {recorded}"
    );
    assert_eq!(recorded, replayed);
}
