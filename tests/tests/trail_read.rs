//! The readers over a generated 100,000-event trail: `stats` equals figures
//! computed here from the raw events, each `query` flag equals a
//! brute-force filter, `--where` equals `jq` (Debian's) on the same files
//! for a dozen filters, and `--join` pairs every answer with its call.
//! A bad line is reported with its file:line and skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use blackbox_tests::binary::blackbox;
use blackbox_tests::process::run_collect;
use blackbox_tests::trail_gen::{generate, GenSpec};
use serde_json::Value;

/// One generated event: its line and the fields the checks use.
struct Ev {
    line: String,
    v: Value,
}

struct Trail {
    _dir: tempfile::TempDir,
    path: PathBuf,
    files: Vec<PathBuf>,
    events: Vec<Ev>,
}

fn trail() -> &'static Trail {
    static TRAIL: OnceLock<Trail> = OnceLock::new();
    TRAIL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit");
        let spec = GenSpec {
            events: 100_000,
            days: 3,
            servers: 3,
            users: 5,
            seed: 7,
            ..GenSpec::default()
        };
        let files = generate(&spec, &path).expect("generating the trail");
        let mut events = Vec::new();
        for f in &files {
            for line in std::fs::read_to_string(f).unwrap().lines() {
                let mut v: Value = serde_json::from_str(line).unwrap();
                // Only what the checks read; the line keeps the rest.
                if let Some(o) = v.as_object_mut() {
                    o.remove("result");
                    o.remove("prev_hash");
                    o.remove("hash");
                }
                events.push(Ev {
                    line: line.to_owned(),
                    v,
                });
            }
        }
        assert!(events.len() >= 100_000, "{} events", events.len());
        Trail {
            _dir: dir,
            path,
            files,
            events,
        }
    })
}

fn run(args: &[&str], dir: &Path) -> String {
    let out = run_collect(Command::new(blackbox()).args(args).arg(dir), "mcp-blackbox");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn s<'a>(e: &'a Ev, k: &str) -> &'a str {
    e.v[k].as_str().unwrap_or("")
}

fn is_answer(e: &Ev) -> bool {
    let t = s(e, "type");
    matches!(
        t,
        "tool_result"
            | "tool_error"
            | "rpc_error"
            | "tool_cancelled"
            | "tool_abandoned"
            | "input_required"
    ) && e.v.get("call_event_id").is_some()
        && (t != "rpc_error" || s(e, "method") == "tools/call")
}

/// The nearest-rank percentile, computed from sorted milliseconds.
fn nearest_rank(sorted: &[f64], p: f64) -> Value {
    if sorted.is_empty() {
        return Value::Null;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Value::from(sorted[rank - 1])
}

#[test]
fn stats_equal_figures_computed_from_the_events() {
    let t = trail();
    for by in ["tool", "user,day", "session"] {
        let got: Vec<Value> =
            serde_json::from_str(&run(&["stats", "--format", "json", "--by", by], &t.path))
                .unwrap();
        let keys: Vec<&str> = match by {
            "tool" => vec!["server", "tool"],
            "user,day" => vec!["user", "day"],
            _ => vec!["session"],
        };
        let key_of = |e: &Ev| -> Vec<String> {
            keys.iter()
                .map(|k| match *k {
                    "day" => s(e, "timestamp")[..10].to_owned(),
                    "session" => s(e, "session_id").to_owned(),
                    k => s(e, k).to_owned(),
                })
                .collect()
        };
        #[derive(Default)]
        struct G {
            calls: u64,
            errors: u64,
            blocked: u64,
            bin: u64,
            bout: u64,
            d: Vec<f64>,
        }
        let mut groups: BTreeMap<Vec<String>, G> = BTreeMap::new();
        for e in &t.events {
            let t = s(e, "type");
            let (call, answer, blocked) = (
                t == "tool_call",
                is_answer(e),
                t == "policy_blocked" && s(e, "outcome") == "blocked",
            );
            if !(call || answer || blocked) {
                continue;
            }
            let g = groups.entry(key_of(e)).or_default();
            if call {
                g.calls += 1;
                g.bin += e.v["details"]["arguments_bytes"].as_u64().unwrap_or(0);
            } else if answer {
                g.errors += u64::from(s(e, "outcome") == "failure");
                g.bout += e.v["details"]["result_bytes"].as_u64().unwrap_or(0);
                g.d.extend(e.v["duration_ms"].as_f64());
            } else {
                g.blocked += 1;
            }
        }
        assert_eq!(got.len(), groups.len(), "--by {by}: groups");
        for row in &got {
            let key: Vec<String> = keys
                .iter()
                .map(|k| row[*k].as_str().unwrap().to_owned())
                .collect();
            let g = groups
                .get_mut(&key)
                .unwrap_or_else(|| panic!("--by {by}: no group {key:?}"));
            g.d.sort_by(f64::total_cmp);
            assert_eq!(row["calls"], g.calls, "{key:?}");
            assert_eq!(row["errors"], g.errors, "{key:?}");
            assert_eq!(row["blocked"], g.blocked, "{key:?}");
            assert_eq!(row["bytes_in"], g.bin, "{key:?}");
            assert_eq!(row["bytes_out"], g.bout, "{key:?}");
            for (k, p) in [
                ("p50_ms", 50.0),
                ("p95_ms", 95.0),
                ("p99_ms", 99.0),
                ("max_ms", 100.0),
            ] {
                assert_eq!(row[k], nearest_rank(&g.d, p), "{key:?} {k}");
            }
        }
        if by == "tool" {
            assert!(got.iter().any(|r| r["errors"].as_u64() > Some(0)));
            assert!(got.iter().any(|r| r["blocked"].as_u64() > Some(0)));
        }
    }
}

/// The event ids `query ARGS --format jsonl` prints.
fn query_ids(args: &[&str]) -> Vec<String> {
    let mut full = vec!["query", "--format", "jsonl"];
    full.extend(args);
    run(&full, &trail().path)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn ids_where(pred: impl Fn(&Ev) -> bool) -> Vec<String> {
    trail()
        .events
        .iter()
        .filter(|e| pred(e))
        .map(|e| s(e, "event_id").to_owned())
        .collect()
}

/// Flags, and the events they must select.
type Case<'a> = (Vec<&'a str>, Box<dyn Fn(&Ev) -> bool + 'a>);

#[test]
fn each_query_flag_equals_a_brute_force_filter() {
    let t = trail();
    let session = s(&t.events[500], "session_id").to_owned();
    let rank = |v: &str, names: &[&str]| names.iter().position(|n| *n == v);
    let sev = ["info", "warning", "error", "critical"];
    let risk = ["low", "medium", "high", "critical"];
    let tags = |e: &Ev| {
        e.v["compliance_tags"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let cases: Vec<Case<'_>> = vec![
        (
            vec!["--server", "server-1"],
            Box::new(|e| s(e, "server") == "server-1"),
        ),
        (
            vec!["--tool", "*_file"],
            Box::new(|e| s(e, "tool").ends_with("_file")),
        ),
        (
            vec!["--type", "tool_error", "--type", "rpc_error"],
            Box::new(|e| matches!(s(e, "type"), "tool_error" | "rpc_error")),
        ),
        (
            vec!["--user", "user-2"],
            Box::new(|e| s(e, "user") == "user-2"),
        ),
        (
            vec!["--session", &session],
            Box::new(|e| s(e, "session_id") == session),
        ),
        (
            vec!["--severity", "warning"],
            Box::new(|e| rank(s(e, "severity"), &sev) >= Some(1)),
        ),
        (
            vec!["--outcome", "failure"],
            Box::new(|e| s(e, "outcome") == "failure"),
        ),
        (
            vec!["--risk", "high"],
            Box::new(|e| rank(s(e, "risk_level"), &risk) >= Some(2)),
        ),
        (
            vec!["--tag", "data_access"],
            Box::new(|e| tags(e).iter().any(|t| t == "data_access")),
        ),
        (
            vec!["--text", "/data/7/"],
            Box::new(|e| e.line.contains("/data/7/")),
        ),
        (
            vec!["--since", "2026-11-02", "--until", "2026-11-02T12:00:00Z"],
            Box::new(|e| {
                ("2026-11-02T00:00:00.000Z".."2026-11-02T12:00:00.000Z")
                    .contains(&s(e, "timestamp"))
            }),
        ),
        (
            vec![
                "--server",
                "server-0",
                "--tool",
                "run_command",
                "--outcome",
                "failure",
            ],
            Box::new(|e| {
                s(e, "server") == "server-0"
                    && s(e, "tool") == "run_command"
                    && s(e, "outcome") == "failure"
            }),
        ),
    ];
    for (args, pred) in cases {
        let want = ids_where(pred);
        assert!(!want.is_empty(), "{args:?} selects nothing: a useless case");
        assert_eq!(query_ids(&args), want, "{args:?}");
    }
}

#[test]
fn where_equals_jq() {
    let Some(jq) = find_jq() else { return };
    let t = trail();
    let filters = [
        r#".type == "tool_call""#,
        ".duration_ms > 100",
        r#".tool | startswith("run")"#,
        r#".arguments.path | test("^/data/1[0-9]/")"#,
        ".arguments.limit >= 90 and .risk_level == \"high\"",
        r#".details.result_bytes != null and .details.result_bytes > 50"#,
        r#"(.compliance_tags // []) | index("data_modification") != null"#,
        r#".severity == "warning" or .severity == "error""#,
        r#".details.client.name == "cursor""#,
        r#"has("call_event_id") and (.seq % 7 == 0)"#,
        r#".error.code == -32603"#,
        r#"[.user, .server] == ["user-1", "server-2"]"#,
    ];
    for f in filters {
        let ours = query_ids(&["--where", f]);
        let mut cmd = Command::new(&jq);
        cmd.args(["-r", &format!("select({f}) | .event_id")])
            .args(&t.files);
        let out = run_collect(&mut cmd, "jq");
        // jq exits 5 after an input on which the filter raised an error (it
        // drops that input and goes on, as --where does).
        assert!(
            matches!(out.status.code(), Some(0 | 5)),
            "jq {f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert!(!theirs.is_empty(), "{f} selects nothing: a useless case");
        assert_eq!(ours, theirs, "--where {f}");
    }
}

/// Debian's `jq`: a missing one fails under CI=true, else skips.
fn find_jq() -> Option<PathBuf> {
    blackbox_tests::peers::find_program(&["jq"])
}

#[test]
fn join_pairs_every_answer_with_its_call() {
    let t = trail();
    let calls: BTreeMap<&str, &Ev> = t
        .events
        .iter()
        .filter(|e| s(e, "type") == "tool_call")
        .map(|e| (s(e, "event_id"), e))
        .collect();
    let answers: Vec<&Ev> = t.events.iter().filter(|e| is_answer(e)).collect();
    let out = run(&["query", "--join", "--format", "jsonl"], &t.path);
    let joined: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(joined.len(), answers.len());
    for (j, a) in joined.iter().zip(&answers) {
        let call = calls[s(a, "call_event_id")];
        assert_eq!(j["call_event_id"], call.v["event_id"]);
        assert_eq!(j["call_found"], true);
        assert_eq!(j["arguments"], call.v["arguments"]);
        assert_eq!(j["called_at"], call.v["timestamp"]);
        assert_eq!(j["answered_at"], a.v["timestamp"]);
        assert_eq!(j["outcome"], a.v["outcome"]);
        assert_eq!(j["duration_ms"], a.v["duration_ms"]);
        assert_eq!(j["tool"], call.v["tool"]);
    }
    let failed = run(
        &[
            "query",
            "--join",
            "--format",
            "jsonl",
            "--outcome",
            "failure",
            "--tool",
            "search",
        ],
        &t.path,
    );
    let n = failed.lines().count();
    let want = answers
        .iter()
        .filter(|a| s(a, "outcome") == "failure" && s(a, "tool") == "search")
        .count();
    assert_eq!(n, want);
}

#[test]
fn a_bad_line_is_reported_with_file_and_line_and_skipped() {
    let t = trail();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit-2026-11-01.jsonl");
    let mut body: String = t.events[..3]
        .iter()
        .map(|e| format!("{}\n", e.line))
        .collect();
    body.push_str("not json at all\n");
    body.push_str(&format!("{}\n", t.events[3].line));
    std::fs::write(&file, body).unwrap();
    let out = run_collect(
        Command::new(blackbox())
            .args(["query", "--format", "jsonl"])
            .arg(&file),
        "query",
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:4: not an audit event", file.display())),
        "{err}"
    );
}

#[test]
fn a_gzipped_generated_trail_verifies_like_the_writer_left_it() {
    // The writer compresses rotated parts only; the generator does the same.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit");
    let spec = GenSpec {
        events: 3_000,
        days: 2,
        seed: 3,
        gzip: true,
        ..GenSpec::default()
    };
    let files = generate(&spec, &path).expect("generating the trail");
    let gz = |f: &PathBuf| f.extension().is_some_and(|e| e == "gz");
    assert!(files.iter().any(gz), "rotated parts compressed: {files:?}");
    assert!(
        !files.iter().all(gz),
        "the active file stays plain: {files:?}"
    );
    let verify = run(&["verify"], &path);
    assert!(verify.trim_end().ends_with(": OK"), "{verify}");
}
