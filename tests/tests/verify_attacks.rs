//! `mcp-blackbox verify` against a trail attacked by someone with write
//! access to the audit directory: the trail is written by the real proxy
//! (with the `fake_server` peer and a signing key), then damaged on disk.
//!
//! - a forged gap (events deleted, one forged `audit_dropped` announcing
//!   them) fails `verify --key`;
//! - a line that is not JSON in the middle of a file is a break;
//! - a gzip bomb (1 GiB inflated, no newline) is reported, and verify's
//!   peak RSS (`wait4`'s `ru_maxrss`) stays under 64 MiB;
//! - a deleted file, a swapped file, a truncated file and a deleted session
//!   fail `verify --key` through the seal index;
//! - files deleted by retention are told apart from tampering.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use blackbox_tests::audit::AuditDir;
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use blackbox_tests::process::wait_with_rusage;
use serde_json::{json, Value};

#[path = "durable_trail/trail.rs"]
#[allow(dead_code)]
mod trail;

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// A key pair made by `mcp-blackbox keygen`: (secret, public) paths.
struct Keys {
    _dir: tempfile::TempDir,
    secret: PathBuf,
    public: PathBuf,
}

fn keygen() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("signing.key");
    let mut cmd = Command::new(blackbox_tests::binary::blackbox());
    cmd.arg("keygen").arg("--out").arg(&secret);
    let out = blackbox_tests::process::run_collect(&mut cmd, "keygen");
    assert!(out.status.success(), "{out:?}");
    let public = dir.path().join("signing.key.pub");
    Keys {
        _dir: dir,
        secret,
        public,
    }
}

/// One signed session of `calls` echo calls through the proxy into `dir`.
fn signed_session(dir: &Path, keys: &Keys, extra: &[&str], calls: u64, pad: usize) {
    let mut flags = vec![
        "--signing-key",
        keys.secret.to_str().unwrap(),
        "--checkpoint-events",
        "5",
    ];
    flags.extend_from_slice(extra);
    let mut client = LineClient::spawn(&mut proxy_command(
        dir,
        "attacked",
        &flags,
        &[FAKE_SERVER, "mcp"],
    ));
    client.send(&initialize(0, "verify-attacks"));
    assert_eq!(client.recv()["id"], 0);
    for id in 1..=calls {
        client.send(&tool_call(
            id,
            "echo",
            json!({"n": id, "pad": "x".repeat(pad)}),
        ));
        assert_eq!(client.recv()["id"], id);
    }
    client.close_stdin();
    assert!(client.wait().success());
}

fn verify_with_key(dir: &Path, keys: &Keys) -> (i32, String) {
    trail::verify(&[dir, "--key".as_ref(), keys.public.as_path()])
}

/// The active (plain) audit file of `dir`.
fn active_file(dir: &Path) -> PathBuf {
    let files = trail::audit_files(dir);
    let plain: Vec<_> = files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(plain.len(), 1, "{plain:?}");
    plain[0].clone()
}

fn lines_of(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.to_vec())
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    std::fs::write(path, out).unwrap();
}

fn field(line: &[u8], name: &str) -> Value {
    serde_json::from_slice::<Value>(line).unwrap()[name].clone()
}

/// An `audit_dropped` line with the envelope of `model` (up to its `seq`),
/// `details`, and `prev_hash`; its `hash` is left for `restamp`.
fn forge_announcement(model: &[u8], details: &Value, prev_hash: &str) -> Vec<u8> {
    let text = std::str::from_utf8(model).unwrap();
    let at = text.find(",\"seq\":").unwrap() + 7;
    let end = at + text[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    let kind = field(model, "type");
    let envelope = text[..end].replace(
        &format!("\"type\":\"{}\"", kind.as_str().unwrap()),
        "\"type\":\"audit_dropped\"",
    );
    let zeros = "0".repeat(64);
    format!("{envelope},\"details\":{details},\"prev_hash\":\"{prev_hash}\",\"hash\":\"{zeros}\"}}")
        .into_bytes()
}

#[test]
fn a_forged_gap_fails_verify_with_the_key() {
    let (audit, keys) = (AuditDir::new(), keygen());
    signed_session(audit.path(), &keys, &[], 12, 16);
    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains(", signed\n"), "{report}");

    // Delete lines k..k+3, put one forged audit_dropped at seq(k), chained to
    // the line before, announcing the rest with the hashes the file shows.
    let file = active_file(audit.path());
    let mut lines = lines_of(&file);
    let k = 6;
    let seq = field(&lines[k], "seq").as_u64().unwrap();
    let before = field(&lines[k - 1], "hash");
    let after_prev = field(&lines[k + 3], "prev_hash");
    let details = json!({"stage": "writer", "reason": "storage", "lines": 2,
        "first_seq": seq + 1, "last_seq": seq + 2,
        "first_prev_hash": before, "last_hash": after_prev});
    let line = forge_announcement(&lines[k], &details, before.as_str().unwrap());
    let (line, _) = trail::restamp(&line, None);
    lines.splice(k..k + 3, [line]);
    write_lines(&file, &lines);
    // The attacker also drops the seal index, which holds the file's hash.
    std::fs::remove_file(audit.path().join(".seals")).unwrap();

    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("forged announcement"), "{report}");
    assert!(!report.contains("OK, signed"), "{report}");
}

#[test]
fn a_line_that_is_not_json_mid_file_is_a_break() {
    let audit = AuditDir::new();
    let keys = keygen();
    signed_session(audit.path(), &keys, &[], 4, 16);
    let file = active_file(audit.path());
    let mut lines = lines_of(&file);
    lines.insert(3, b"{\"type\":\"tool_call\" this is not json".to_vec());
    write_lines(&file, &lines);
    let (code, report) = trail::verify(&[audit.path()]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(":4: inserted or corrupted line"),
        "{report}"
    );
    assert!(!report.contains("torn line"), "{report}");
}

/// 1024 gzip members of 1 MiB of `a` each: 1 GiB inflated, no newline.
fn write_bomb(path: &Path) {
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    member.write_all(&vec![b'a'; 1 << 20]).unwrap();
    let member = member.finish().unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    for _ in 0..1024 {
        f.write_all(&member).unwrap();
    }
}

#[test]
// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn a_gzip_bomb_is_reported_in_bounded_memory() {
    let audit = AuditDir::new();
    let keys = keygen();
    signed_session(audit.path(), &keys, &[], 2, 16);
    write_bomb(&audit.path().join("audit-2000-01-01.0001.jsonl.gz"));
    let mut child = Command::new(blackbox_tests::binary::blackbox())
        .arg("verify")
        .arg(audit.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut report = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut report).unwrap();
    let (status, max_rss_kib) = wait_with_rusage(child.id() as i32);
    eprintln!("{report}\nverify peak RSS: {max_rss_kib} KiB");
    assert_eq!(status >> 8, 1, "wait status {status:#x}: {report}");
    assert!(
        report.contains("over 16777216 bytes (1073741824 read)"),
        "{report}"
    );
    assert!(
        report.contains("file not in the seal index: audit-2000-01-01.0001.jsonl"),
        "{report}"
    );
    assert!(
        max_rss_kib < RSS_BOUND_KIB,
        "verify peak RSS {max_rss_kib} KiB exceeds {RSS_BOUND_KIB} KiB"
    );
}

#[test]
fn deleted_swapped_and_truncated_files_and_a_deleted_session_fail_with_the_key() {
    let keys = keygen();
    // Two sessions into one directory, and one into another.
    let (audit, other) = (AuditDir::new(), AuditDir::new());
    signed_session(audit.path(), &keys, &[], 3, 16);
    signed_session(audit.path(), &keys, &[], 3, 16);
    signed_session(other.path(), &keys, &[], 30, 16);
    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 0, "{report}");
    let file = active_file(audit.path());
    let original = std::fs::read(&file).unwrap();

    // A deleted session: the first session's lines taken out.
    let lines = lines_of(&file);
    let first = field(&lines[0], "session_id");
    let kept: Vec<Vec<u8>> = lines
        .iter()
        .filter(|l| field(l, "session_id") != first)
        .cloned()
        .collect();
    write_lines(&file, &kept);
    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("file truncated"), "{report}");

    // A truncated file: its last lines cut.
    write_lines(&file, &lines[..lines.len() - 3]);
    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("file truncated"), "{report}");

    // A swapped file: another directory's (signed, intact, longer) file in
    // its place.
    std::fs::copy(active_file(other.path()), &file).unwrap();
    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("file swapped or modified"), "{report}");

    // A deleted file.
    std::fs::write(&file, &original).unwrap();
    assert_eq!(verify_with_key(audit.path(), &keys).0, 0);
    std::fs::remove_file(&file).unwrap();
    std::fs::write(audit.path().join("audit-2000-01-01.jsonl"), b"").unwrap();
    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("file deleted:"), "{report}");
}

#[test]
fn retention_is_told_apart_from_a_deleted_part() {
    let (audit, keys) = (AuditDir::new(), keygen());
    // ~4 MiB of trail in 1 MiB parts, only 2 files kept, however young.
    let flags = [
        "--max-file-size-mb",
        "1",
        "--max-files",
        "2",
        "--min-age-hours",
        "0",
        "--max-field-chars",
        "1000000",
    ];
    signed_session(audit.path(), &keys, &flags, 70, 32 * 1024);
    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("deleted by retention (seal entry"),
        "{report}"
    );
    assert!(
        report.contains("deleted by retention (seal index)"),
        "{report}"
    );

    let part = trail::audit_files(audit.path())
        .into_iter()
        .find(|f| f.to_string_lossy().ends_with(".jsonl.gz"))
        .expect("a rotated part is kept");
    std::fs::remove_file(&part).unwrap();
    let (code, report) = verify_with_key(audit.path(), &keys);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("file deleted:"), "{report}");
}
