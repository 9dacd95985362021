//! Reading a trail the way an outside reader would (plain and gzipped files,
//! line by line), running `mcp-blackbox verify`, and rewriting a hash chain
//! the way a forger would.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use audit_core::stamp::{canonical_bytes, sha256_hex};
use blackbox_tests::process::run_collect;
use serde_json::Value;

/// The audit files of `dir` (`audit-*.jsonl` and `audit-*.jsonl.gz`), in name order.
pub fn audit_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("audit-") && (name.ends_with(".jsonl") || name.ends_with(".jsonl.gz"))
        })
        .collect();
    files.sort();
    files
}

/// The bytes of an audit file, gunzipped (with flate2) if it is `.gz`.
pub fn file_bytes(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    if path.extension().is_some_and(|x| x == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{}: not gzip ({e})", path.display()));
        out
    } else {
        raw
    }
}

/// Every event of the trail in `dir`, file by file; any line that is not a
/// JSON object fails the test, with its file and line number.
pub fn events(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for file in audit_files(dir) {
        let bytes = file_bytes(&file);
        assert!(
            bytes.is_empty() || bytes.ends_with(b"\n"),
            "{}: last line unterminated",
            file.display()
        );
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let v: Value = serde_json::from_slice(line)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON ({e})", file.display(), n + 1));
            assert!(v.is_object(), "{}:{}: not an object", file.display(), n + 1);
            out.push(v);
        }
    }
    out
}

/// `mcp-blackbox verify ARGS`: its exit code and stdout.
pub fn verify(args: &[&Path]) -> (i32, String) {
    let mut cmd = Command::new(blackbox_tests::binary::blackbox());
    cmd.arg("verify").args(args);
    let out = run_collect(&mut cmd, "mcp-blackbox verify");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code().expect("verify exited by a signal");
    eprintln!(
        "verify {args:?} -> {code}\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, text)
}

/// Re-hashes one stamped line (no newline): with `prev_hash` replaced by
/// `prev` if given, and `hash` recomputed as `audit_core::stamp` does
/// (SHA-256 of the line without its `hash` member). Returns the line and
/// its new hash.
pub fn restamp(line: &[u8], prev: Option<&str>) -> (Vec<u8>, String) {
    let (mut canon, _) = canonical_bytes(line).expect("a stamped line");
    const PREV: &[u8] = b",\"prev_hash\":\"";
    let hex_at = canon.len() - 2 - 64;
    assert!(
        canon[..hex_at].ends_with(PREV),
        "prev_hash is not the last member"
    );
    if let Some(prev) = prev {
        canon.splice(hex_at..hex_at + 64, prev.bytes());
    }
    let hash = sha256_hex(&canon);
    canon.pop(); // `}`: the hash member follows
    canon.extend_from_slice(format!(",\"hash\":\"{hash}\"}}").as_bytes());
    (canon, hash)
}

/// Edits line `target` (0-based) of `text` with `edit`, then recomputes the
/// chain from there to the end, as someone who knows the format (but not a
/// signing key) would.
pub fn forge(text: &[u8], target: usize, edit: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev: Option<String> = None;
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let line = match n.cmp(&target) {
            std::cmp::Ordering::Less => line.to_vec(),
            std::cmp::Ordering::Equal => {
                let (l, h) = restamp(&edit(line), None);
                prev = Some(h);
                l
            }
            std::cmp::Ordering::Greater => {
                let (l, h) = restamp(line, prev.as_deref());
                prev = Some(h);
                l
            }
        };
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    out
}

/// Replaces the first `from` in `line` by `to`.
pub fn replace_once(line: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(line).expect("UTF-8 line");
    assert!(text.contains(from), "{from:?} not in {text}");
    text.replacen(from, to, 1).into_bytes()
}

/// The file's lines parsed with serde_json, skipping a torn (unterminated)
/// last line; every terminated line must parse.
pub fn whole_lines(bytes: &[u8]) -> Vec<Value> {
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if end < bytes.len() {
        eprintln!("torn last line: {} bytes", bytes.len() - end);
    }
    bytes[..end]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("a terminated line parses"))
        .collect()
}

/// `jq -c .` reads every whole line, and the same values serde_json reads
/// (it may stop at a torn last line). Skipped, with a note, without `jq`.
pub fn read_like_jq(file: &Path, whole: &[Value]) {
    let Ok(out) = Command::new("jq").arg("-c").arg(".").arg(file).output() else {
        eprintln!("jq not on PATH: the file was read with serde_json only");
        return;
    };
    let torn = !std::fs::read(file).unwrap().ends_with(b"\n");
    assert!(
        out.status.success() || torn,
        "jq failed on whole lines: {out:?}"
    );
    let read: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(read.len(), whole.len(), "jq read another number of lines");
    // jq holds numbers as doubles and prints 17.0 as 17: compare numbers by value.
    let read: Vec<Value> = read.into_iter().map(numbers_as_f64).collect();
    let whole: Vec<Value> = whole.iter().cloned().map(numbers_as_f64).collect();
    assert!(read == whole, "jq and serde_json disagree");
}

fn numbers_as_f64(v: Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().map(Value::from).unwrap_or(Value::Number(n)),
        Value::Array(a) => Value::Array(a.into_iter().map(numbers_as_f64).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, numbers_as_f64(v))).collect())
        }
        other => other,
    }
}
