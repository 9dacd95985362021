//! No secret reaches the audit trail, the client still gets every
//! byte, and look-alikes survive.
//!
//! The real Python SDK client (`tests/py/call_tools.py`) calls
//! server-everything's `echo` through `mcp-blackbox`. `echo` answers
//! `Echo: <message>`, so a secret in the `message` comes back in the result.
//! Secrets come from `audit_core::redact::corpus::generate_secrets` (random,
//! real shapes; a fixed seed keeps runs repeatable) and are placed, in turn:
//! - alone as the `message`;
//! - inside prose in the `message`;
//! - inside a URL in the `message` (or alone, when the secret is a URL);
//! - in a nested object next to the `message` (`context.request.note`);
//! - in an array next to the `message` (`items`).
//!
//! server-everything's `echo` schema is a zod object that strips members it
//! does not know, so the nested and array placements are accepted: their
//! `tool_call` event carries the secret (and must redact it), their result
//! does not (it echoes only the `message`), so no `secret_detected` follows
//! them. The tests check which placements carried a secret back.

mod echo_calls;

use std::path::{Path, PathBuf};
use std::process::Command;

use audit_core::redact::corpus::{generate_lookalikes, generate_secrets, FakeSecret};
use blackbox_tests::audit::{check_call_links, check_sessions, of_type, AuditDir};
use blackbox_tests::peers::Peers;
use serde_json::{json, Value};

const SEED: u64 = 20_260_531;

/// Where a secret is put in the arguments of one `echo` call.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Placement {
    Message,
    Prose,
    Url,
    Nested,
    Array,
}

const PLACEMENTS: [Placement; 5] = [
    Placement::Message,
    Placement::Prose,
    Placement::Url,
    Placement::Nested,
    Placement::Array,
];

impl Placement {
    /// Whether the secret is in the `message`, and so comes back in the result.
    fn echoed(self) -> bool {
        matches!(self, Placement::Message | Placement::Prose | Placement::Url)
    }

    /// The `echo` arguments carrying `s` as call number `i`.
    fn arguments(self, i: usize, s: &FakeSecret) -> Value {
        let text = &s.in_text;
        match self {
            Placement::Message => json!({"message": text}),
            Placement::Prose => {
                json!({"message": format!("deploy log, step {i}:\n  {text}\n(end of step)")})
            }
            Placement::Url if text.contains("://") => json!({"message": text}),
            Placement::Url if !text.contains(char::is_whitespace) => {
                json!({"message": format!("fetch https://files.example.com/share/{text}/view?page=2")})
            }
            // A secret with spaces or lines cannot sit in a URL: in prose then.
            Placement::Url => Placement::Prose.arguments(i, s),
            Placement::Nested => json!({
                "message": format!("nested {i}"),
                "context": {"request": {"note": text, "attempt": i}},
            }),
            Placement::Array => json!({
                "message": format!("array {i}"),
                "items": ["first", text, {"n": i}],
            }),
        }
    }
}

/// Runs `tests/py/call_tools.py` with `echo` calls of `arguments` through
/// the proxy in front of server-everything; returns the driver's output.
fn run_echo_calls(peers: &Peers, audit: &AuditDir, arguments: &[Value]) -> Value {
    let calls: Vec<(&str, Value)> = arguments.iter().map(|a| ("echo", a.clone())).collect();
    let out = echo_calls::run_calls(peers, audit.path(), &[], &calls);
    assert_eq!(out["calls"].as_array().unwrap().len(), calls.len());
    out
}

/// The text of the `i`th call's result as the client received it.
fn echoed_text(out: &Value, i: usize) -> &str {
    let call = &out["calls"][i];
    call["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("call {i} has no text result: {call}"))
}

/// The `echo` calls of the trail in call order, each with its answer event.
fn calls_and_answers(events: &[Value]) -> Vec<(&Value, &Value)> {
    let calls = of_type(events, "tool_call");
    calls
        .into_iter()
        .filter(|c| c["tool"] == "echo")
        .map(|c| {
            let answer = events
                .iter()
                .find(|e| {
                    matches!(e["type"].as_str(), Some("tool_result" | "tool_error"))
                        && e["call_event_id"] == c["event_id"]
                })
                .unwrap_or_else(|| panic!("no answer to {c}"));
            (c, answer)
        })
        .collect()
}

fn redactions(e: &Value) -> Vec<&str> {
    e["details"]["redactions"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Every file under `dir`, gunzipped when it ends in `.gz`.
fn all_bytes_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("listing the audit directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            let bytes = if path.extension().is_some_and(|x| x == "gz") {
                let unzipped = Command::new("gzip").arg("-dc").arg(&path).output();
                let unzipped = unzipped.expect("running gzip -dc");
                assert!(unzipped.status.success(), "gunzip {}", path.display());
                unzipped.stdout
            } else {
                std::fs::read(&path).expect("reading an audit file")
            };
            out.push((path, bytes));
        }
    }
    out
}

/// The strings whose presence on disk means `s` leaked: its probes, and
/// their JSON-escaped forms (a PEM block's newlines are `\n` in JSON).
fn leak_probes(s: &FakeSecret) -> Vec<String> {
    let mut probes = Vec::new();
    for p in s.probes() {
        let escaped = serde_json::to_string(p).unwrap();
        probes.push(escaped[1..escaped.len() - 1].to_owned());
        probes.push(p.to_owned());
    }
    probes
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn no_generated_secret_reaches_the_trail_and_the_client_gets_every_byte() {
    let Some(peers) = Peers::find() else { return };
    let secrets = generate_secrets(SEED);
    assert!(secrets.len() >= 40, "only {} secrets", secrets.len());
    let placed: Vec<(Placement, Value)> = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = PLACEMENTS[i % PLACEMENTS.len()];
            (p, p.arguments(i, s))
        })
        .collect();
    let arguments: Vec<Value> = placed.iter().map(|(_, a)| a.clone()).collect();
    let audit = AuditDir::new();
    let out = run_echo_calls(&peers, &audit, &arguments);

    // Transparency: echo's answer holds exactly the message that was sent.
    for (i, (_, a)) in placed.iter().enumerate() {
        let sent = a["message"].as_str().unwrap();
        assert_eq!(echoed_text(&out, i), format!("Echo: {sent}"), "call {i}");
    }

    let events = audit.events();
    check_sessions(&events);
    check_call_links(&events);
    let pairs = calls_and_answers(&events);
    assert_eq!(pairs.len(), secrets.len());
    for (i, (s, (call, answer))) in secrets.iter().zip(&pairs).enumerate() {
        let placement = placed[i].0;
        let what = format!("secret {i} ({}, {placement:?})", s.kind);
        assert_eq!(answer["type"], "tool_result", "{what}: {answer}");
        assert!(
            redactions(call).contains(&s.kind),
            "{what}: tool_call redactions {:?}",
            redactions(call)
        );
        let alerts: Vec<&Value> = of_type(&events, "secret_detected")
            .into_iter()
            .filter(|e| e["call_event_id"] == call["event_id"])
            .collect();
        if !placement.echoed() {
            assert!(redactions(answer).is_empty(), "{what}: {answer}");
            assert!(alerts.is_empty(), "{what}: {alerts:#?}");
            continue;
        }
        assert!(
            redactions(answer).contains(&s.kind),
            "{what}: tool_result redactions {:?}",
            redactions(answer)
        );
        assert_eq!(alerts.len(), 1, "{what}: one secret_detected: {alerts:#?}");
        let alert = alerts[0];
        assert!(alert["seq"].as_u64() > answer["seq"].as_u64(), "{what}");
        assert_eq!(alert["severity"], "warning", "{what}");
        assert_eq!(alert["jsonrpc_id"], answer["jsonrpc_id"], "{what}");
        assert_eq!(alert["tool"], "echo", "{what}");
        assert_eq!(alert["details"]["field"], "result", "{what}: {alert}");
        assert!(
            redactions(alert).contains(&s.kind),
            "{what}: secret_detected redactions {:?}",
            redactions(alert)
        );
    }

    let files = all_bytes_under(audit.path());
    assert!(!files.is_empty());
    for (path, bytes) in &files {
        for (i, s) in secrets.iter().enumerate() {
            for probe in leak_probes(s) {
                assert!(
                    !contains(bytes, &probe),
                    "secret {i} ({}) found in {}: {probe}",
                    s.kind,
                    path.display()
                );
            }
        }
    }
}

#[test]
fn look_alikes_survive_unredacted() {
    let Some(peers) = Peers::find() else { return };
    let lookalikes = generate_lookalikes(SEED);
    assert!(lookalikes.len() >= 100, "only {}", lookalikes.len());
    let arguments: Vec<Value> = lookalikes
        .iter()
        .map(|l| json!({"message": l, "context": {"ref": l}}))
        .collect();
    let audit = AuditDir::new();
    let out = run_echo_calls(&peers, &audit, &arguments);
    for (i, l) in lookalikes.iter().enumerate() {
        assert_eq!(echoed_text(&out, i), format!("Echo: {l}"), "call {i}");
    }

    let events = audit.events();
    check_sessions(&events);
    let pairs = calls_and_answers(&events);
    assert_eq!(pairs.len(), lookalikes.len());
    let mut redacted = Vec::new();
    for (l, (call, answer)) in lookalikes.iter().zip(&pairs) {
        let kept = call["arguments"] == json!({"message": l, "context": {"ref": l}})
            && answer["result"]["content"][0]["text"] == format!("Echo: {l}")
            && redactions(call).is_empty()
            && redactions(answer).is_empty();
        if !kept {
            redacted.push((l, redactions(call), redactions(answer)));
        }
    }
    let survived = lookalikes.len() - redacted.len();
    eprintln!(
        "look-alikes: {survived}/{} survived; redacted: {redacted:#?}",
        lookalikes.len()
    );
    assert!(
        survived * 100 >= lookalikes.len() * 95,
        "only {survived}/{} look-alikes survived: {redacted:#?}",
        lookalikes.len()
    );
    assert!(of_type(&events, "secret_detected").len() <= redacted.len());
}
