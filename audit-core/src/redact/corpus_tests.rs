//! The corpus tests: generated secrets placed everywhere an event carries
//! payload never reach the serialised event, and look-alikes survive.

use std::time::SystemTime;

use serde_json::{json, Value};

use super::corpus::{generate_lookalikes, generate_secrets, FakeSecret, Rng};
use super::*;
use crate::event::{Event, EventType, RpcErrorInfo};

const SEEDS: std::ops::Range<u64> = 0..4;

/// Every key and string of `v`, one per line, unescaped.
fn strings_of(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|i| strings_of(i, out)),
        Value::Object(m) => m.iter().for_each(|(k, i)| {
            out.push_str(k);
            out.push('\n');
            strings_of(i, out);
        }),
        _ => {}
    }
}

/// Serialises `e` and fails if any probe of `secrets` is in the line, raw or
/// unescaped.
fn assert_no_leak(e: &Event, secrets: &[&FakeSecret], place: &str) {
    let line = serde_json::to_string(e).unwrap();
    let parsed: Value = serde_json::from_str(&line).unwrap();
    let mut all = line.clone();
    strings_of(&parsed, &mut all);
    for s in secrets {
        for p in s.probes() {
            assert!(
                !all.contains(p),
                "{} leaked from {place}: {p:?}\nline: {line}",
                s.kind
            );
        }
    }
}

fn kinds_of(e: &Event) -> Vec<String> {
    e.details
        .get("redactions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn tool_call(arguments: Value) -> Event {
    let mut e = Event::new(EventType::ToolCall, SystemTime::UNIX_EPOCH);
    e.tool = Some("run".into());
    e.arguments = Some(arguments);
    e
}

fn tool_result(text: String) -> Event {
    let mut e = Event::new(EventType::ToolResult, SystemTime::UNIX_EPOCH);
    e.call_event_id = Some("call".into());
    e.result = Some(json!({"content": [{"type": "text", "text": text}], "isError": false}));
    e
}

/// The events one secret is placed in: (where, event).
fn placements(s: &FakeSecret) -> Vec<(&'static str, Event)> {
    let t = s.in_text.clone();
    let mut v = vec![
        ("argument", tool_call(json!({ "input": t }))),
        (
            "nested object",
            tool_call(json!({"config": {"env": {"VALUE": t}, "n": 1}})),
        ),
        ("array", tool_call(json!({"lines": ["first", t, "last"]}))),
        (
            "tool result",
            tool_result(format!("Here is the file:\n{t}\nEnd of file.")),
        ),
    ];
    if !t.contains(char::is_whitespace) {
        let url = format!("https://example.com/hook?note={t}&n=1");
        v.push(("url", tool_call(json!({ "url": url }))));
    }
    let mut err = Event::new(EventType::RpcError, SystemTime::UNIX_EPOCH);
    err.error = Some(RpcErrorInfo {
        data_omitted: false,
        code: -32000,
        message: format!("request failed: {t}"),
        data: Some(json!({ "detail": t })),
    });
    v.push(("error", err));
    let mut bad = Event::new(EventType::ProtocolViolation, SystemTime::UNIX_EPOCH);
    bad.excerpt = Some(format!(
        "{{\"jsonrpc\":\"2.0\",\"params\":{{\"x\":{}",
        json!(t)
    ));
    v.push(("excerpt", bad));
    v
}

#[test]
fn no_generated_secret_survives_any_placement() {
    let r = Redactor::new(&RedactConfig::default()).unwrap();
    for seed in SEEDS {
        let secrets = generate_secrets(seed);
        assert!(secrets.len() >= 40);
        for s in &secrets {
            for (place, mut e) in placements(s) {
                let alert = r.redact_event(&mut e);
                assert_no_leak(&e, &[s], place);
                let kinds = kinds_of(&e);
                assert!(
                    kinds.iter().any(|k| k == s.kind),
                    "{} in {place}: reported {kinds:?}",
                    s.kind
                );
                if e.event_type == EventType::ToolResult {
                    let alert = alert.expect("secret_detected for a result");
                    assert_eq!(alert.call_event_id.as_deref(), Some("call"));
                    assert!(kinds_of(&alert).iter().any(|k| k == s.kind));
                } else {
                    assert!(alert.is_none());
                }
            }
        }
    }
}

#[test]
fn all_secrets_in_one_event_are_all_reported() {
    let r = Redactor::new(&RedactConfig::default()).unwrap();
    let secrets = generate_secrets(42);
    let args: serde_json::Map<String, Value> = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("f{i}"), Value::String(s.in_text.clone())))
        .collect();
    let mut e = tool_call(Value::Object(args));
    r.redact_event(&mut e);
    let refs: Vec<&FakeSecret> = secrets.iter().collect();
    assert_no_leak(&e, &refs, "one event");
    let mut want: Vec<String> = secrets.iter().map(|s| s.kind.to_owned()).collect();
    want.sort();
    want.dedup();
    assert_eq!(kinds_of(&e), want);
    assert!(want.len() >= 18, "every kind is generated: {want:?}");
}

#[test]
fn values_under_secret_keys_never_survive() {
    let r = Redactor::new(&RedactConfig::default()).unwrap();
    let mut rng = Rng::new(9);
    let names = [
        "password",
        "passwd",
        "pwd",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apiKey",
        "x-api-key",
        "API-KEY",
        "secret",
        "client_secret",
        "credential",
        "credentials",
        "Authorization",
        "cookie",
        "Set-Cookie",
        "private_key",
        "session",
        "DB_PASSWORD",
        "githubToken",
    ];
    for name in names {
        let value = rng.chars(b"abcdefghijklmnopqrstuvwxyz0123456789", 14);
        let fake = FakeSecret {
            kind: "key",
            secret: value.clone(),
            in_text: value.clone(),
        };
        for args in [
            json!({ name: value }),
            json!({"outer": [{ name: value }]}),
            json!({ name: {"inner": [value, 1]} }),
            json!({"argv": [format!("--{name}"), value]}),
            json!({"headers": [{"name": name, "value": value}]}),
            json!({"env": [format!("{name}={value}")]}),
        ] {
            let mut e = tool_call(args.clone());
            r.redact_event(&mut e);
            assert_no_leak(&e, &[&fake], &args.to_string());
            assert!(kinds_of(&e).iter().all(|k| k.starts_with("key:")));
        }
    }
}

#[test]
fn lookalikes_survive() {
    let r = Redactor::new(&RedactConfig::default()).unwrap();
    let mut total = 0;
    let mut changed = Vec::new();
    for seed in SEEDS {
        for s in generate_lookalikes(seed) {
            total += 1;
            let mut e = tool_result(s.clone());
            e.arguments = Some(json!({ "value": s }));
            let alert = r.redact_event(&mut e);
            let kept_arg = e.arguments.as_ref().unwrap()["value"] == s;
            if !kept_arg || alert.is_some() {
                changed.push(s);
            }
        }
    }
    let survived = total - changed.len();
    assert!(
        survived * 100 >= total * 95,
        "only {survived}/{total} look-alikes survived; redacted: {changed:?}"
    );
    // Stricter than the acceptance bar: today none is redacted.
    assert!(changed.is_empty(), "redacted look-alikes: {changed:?}");
}
