//! A private audit directory per test, and reading the events written to it.
//!
//! Events are read from every `*.jsonl` file of the directory (a test may
//! straddle midnight and so two daily files). A line that is not a JSON
//! object fails the test with its file and line number: the trail must
//! always parse.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

use crate::PATIENCE;

/// A temporary audit directory, removed when dropped.
#[derive(Debug)]
pub struct AuditDir {
    dir: tempfile::TempDir,
}

impl AuditDir {
    /// A fresh, empty audit directory.
    pub fn new() -> AuditDir {
        let dir = tempfile::Builder::new()
            .prefix("mcp-blackbox-audit-")
            .tempdir()
            .expect("creating a temporary audit directory");
        AuditDir { dir }
    }

    /// Its path, to pass as `--audit-dir`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The audit files in the directory, plain and rotated (`.jsonl.gz`),
    /// sorted by name: rotated parts of a day sort before its active file.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.path())
            .expect("listing the audit directory")
            .map(|e| e.expect("audit directory entry").path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.ends_with(".jsonl") || name.ends_with(".jsonl.gz")
            })
            .collect();
        files.sort();
        files
    }

    /// Every event written so far, file by file, in file order.
    pub fn events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        for file in self.files() {
            let text = read_plain_or_gzip(&file);
            for (n, line) in text.split(|&b| b == b'\n').enumerate() {
                if line.is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_slice(line).unwrap_or_else(|e| {
                    panic!(
                        "{}:{}: not JSON ({e}): {}",
                        file.display(),
                        n + 1,
                        String::from_utf8_lossy(&line[..line.len().min(300)])
                    )
                });
                assert!(v.is_object(), "{}:{}: not an object", file.display(), n + 1);
                events.push(v);
            }
        }
        events
    }

    /// Waits until some event satisfies `pred` and returns it; fails the test
    /// after [`PATIENCE`].
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return e;
            }
            if start.elapsed() > PATIENCE {
                panic!("no {what} event after {PATIENCE:?}: {:#?}", self.events());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// A file's bytes, gunzipped when its name ends in `.gz`.
fn read_plain_or_gzip(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).expect("reading an audit file");
    if !path.to_string_lossy().ends_with(".gz") {
        return raw;
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
        .unwrap_or_else(|e| panic!("{}: not gzip: {e}", path.display()));
    out
}

impl Default for AuditDir {
    fn default() -> Self {
        AuditDir::new()
    }
}

/// The `type` of an event (`""` if it has none).
pub fn kind(e: &Value) -> &str {
    e["type"].as_str().unwrap_or("")
}

/// The events of type `t`.
pub fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| kind(e) == t).collect()
}

/// The one event of type `t`; fails the test if there are none or several.
pub fn only<'a>(events: &'a [Value], t: &str) -> &'a Value {
    let found = of_type(events, t);
    assert_eq!(found.len(), 1, "expected one {t} event in {events:#?}");
    found[0]
}

/// Checks that every result/error event that names a `call_event_id` links
/// to the `event_id` of a `tool_call` of the same session, and returns how
/// many links were checked.
pub fn check_call_links(events: &[Value]) -> usize {
    let calls: std::collections::HashMap<&str, &Value> = of_type(events, "tool_call")
        .into_iter()
        .map(|c| (c["event_id"].as_str().expect("tool_call has event_id"), c))
        .collect();
    let mut links = 0;
    for e in events {
        if !matches!(kind(e), "tool_result" | "tool_error") {
            continue;
        }
        let link = e["call_event_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{} without call_event_id: {e}", kind(e)));
        let call = calls
            .get(link)
            .unwrap_or_else(|| panic!("{} links to no tool_call: {e}", kind(e)));
        assert_eq!(call["session_id"], e["session_id"], "link across sessions");
        assert_eq!(call["tool"], e["tool"], "result names another tool: {e}");
        links += 1;
    }
    links
}

/// Checks that each session's `seq` numbers run without gap or repeat and
/// that each session has exactly one `session_start` and one `session_end`;
/// returns the number of events per session.
pub fn check_sessions(events: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut seqs: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for e in events {
        let sid = e["session_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no session_id: {e}"));
        let seq = e["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {e}"));
        seqs.entry(sid.to_owned()).or_default().push(seq);
    }
    for (sid, s) in &mut seqs {
        s.sort_unstable();
        let first = s[0];
        for (i, &n) in s.iter().enumerate() {
            assert_eq!(
                n,
                first + i as u64,
                "session {sid}: seq {n} out of line at {i}"
            );
        }
        let mine: Vec<&Value> = events.iter().filter(|e| e["session_id"] == **sid).collect();
        for t in ["session_start", "session_end"] {
            let n = mine.iter().filter(|e| kind(e) == t).count();
            assert_eq!(n, 1, "session {sid}: {n} {t} events");
        }
    }
    seqs.into_iter().map(|(k, v)| (k, v.len())).collect()
}
