//! Behaviour of the redactor on values and events, one rule at a time.

use std::time::SystemTime;

use serde_json::{json, Value};

use super::*;
use crate::event::{Event, EventType, RpcErrorInfo, Severity};

fn redactor() -> Redactor {
    Redactor::new(&RedactConfig::default()).unwrap()
}

fn redacted(v: Value) -> (Value, Vec<String>) {
    let mut v = v;
    let mut found = Redactions::default();
    redactor().redact_value(&mut v, &mut found);
    (v, found.kinds().map(str::to_owned).collect())
}

const GHP: &str = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";

#[test]
fn secret_keys_replace_scalars_and_every_leaf_below_them() {
    let (v, kinds) = redacted(json!({
        "path": "/tmp/x",
        "password": "hunter2",
        "apiKey": 12345,
        "Set-Cookie": ["a=1", "b=2"],
        "credentials": {"user": "bob", "pin": 1234, "remember": true, "hint": null},
        "DB_PASSWORD": "x",
    }));
    assert_eq!(
        v,
        json!({
            "path": "/tmp/x",
            "password": "<redacted:key:password>",
            "apiKey": "<redacted:key:apikey>",
            "Set-Cookie": ["<redacted:key:setcookie>", "<redacted:key:setcookie>"],
            "credentials": {
                "user": "<redacted:key:credentials>",
                "pin": "<redacted:key:credentials>",
                "remember": true,
                "hint": null
            },
            "DB_PASSWORD": "<redacted:key:password>",
        })
    );
    assert_eq!(
        kinds,
        [
            "key:apikey",
            "key:credentials",
            "key:password",
            "key:setcookie"
        ]
    );
}

#[test]
fn flags_and_name_value_pairs() {
    let (v, _) = redacted(json!({
        "argv": ["serve", "--api-key", "abc", "--port", "8080"],
        "headers": [
            {"name": "Authorization", "value": "opaque"},
            {"name": "Accept", "value": "text/plain"}
        ]
    }));
    assert_eq!(v["argv"][2], "<redacted:key:apikey>");
    assert_eq!(v["argv"][4], "8080");
    assert_eq!(v["headers"][0]["value"], "<redacted:key:authorization>");
    assert_eq!(v["headers"][0]["name"], "Authorization");
    assert_eq!(v["headers"][1]["value"], "text/plain");
}

#[test]
fn values_are_found_inside_longer_strings() {
    let text = format!("cloned with {GHP} ok");
    let (v, kinds) = redacted(json!({"content": [{"type": "text", "text": text}]}));
    assert_eq!(
        v["content"][0]["text"],
        "cloned with <redacted:github_token> ok"
    );
    assert_eq!(kinds, ["github_token"]);
}

#[test]
fn urls_keep_everything_but_the_secret() {
    let r = redactor();
    let mut found = Redactions::default();
    let s = "GET https://bob:pw123456@example.com/a?api_key=abc123&page=2 done";
    assert_eq!(
        r.redact_text(s, &mut found).unwrap(),
        "GET https://bob:<redacted:url_password>@example.com/a?api_key=<redacted:query_param>&page=2 done"
    );
    assert_eq!(
        found.kinds().collect::<Vec<_>>(),
        ["query_param", "url_password"]
    );
    assert_eq!(found.count(), 2);
    assert_eq!(
        r.redact_text("https://example.com/?page=2", &mut found),
        None
    );
}

#[test]
fn card_numbers_as_strings_and_integers() {
    let (v, kinds) = redacted(
        json!({"n": 4111111111111111u64, "s": "card 4111 1111 1111 1111.", "o": 1234567812345670u64}),
    );
    assert_eq!(v["n"], "<redacted:credit_card>");
    assert_eq!(v["s"], "card <redacted:credit_card>.");
    assert_eq!(v["o"], 1234567812345670u64);
    assert_eq!(kinds, ["credit_card"]);
}

#[test]
fn a_cut_pem_block_is_still_removed() {
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
    let cut = format!("key file:\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}");
    let mut found = Redactions::default();
    let out = redactor().redact_text(&cut, &mut found).unwrap();
    assert_eq!(out, "key file:\n<redacted:private_key>");
}

#[test]
fn secrets_used_as_object_keys_are_renamed() {
    let (v, _) = redacted(json!({ GHP: 1, "ok": 2 }));
    assert_eq!(v, json!({"<redacted:github_token>": 1, "ok": 2}));
}

#[test]
fn keyed_mode_tags_the_same_secret_the_same_way() {
    let key = HmacKey::from_bytes(b"0123456789abcdef0123", "test").unwrap();
    let r = Redactor::new(&RedactConfig {
        hmac_key: Some(key.clone()),
        ..RedactConfig::default()
    })
    .unwrap();
    let mut v = json!({"token": GHP, "note": format!("used {GHP}")});
    let mut found = Redactions::default();
    r.redact_value(&mut v, &mut found);
    let tag = key.tag(GHP);
    assert_eq!(v["token"], format!("<redacted:key:token:hmac:{tag}>"));
    assert_eq!(
        v["note"],
        format!("used <redacted:github_token:hmac:{tag}>")
    );
    let mut again = v.clone();
    r.redact_value(&mut again, &mut Redactions::default());
    assert_eq!(again, v);
}

#[test]
fn disabled_redactor_only_truncates() {
    let r = Redactor::new(&RedactConfig {
        enabled: false,
        max_field_chars: 20,
        ..RedactConfig::default()
    })
    .unwrap();
    let mut v = json!({"password": "hunter2", "t": GHP});
    let mut found = Redactions::default();
    r.redact_value(&mut v, &mut found);
    assert_eq!(v["password"], "hunter2");
    assert!(v["t"].as_str().unwrap().ends_with("…<truncated:40 chars>"));
    assert!(found.is_empty());
}

#[test]
fn truncation_happens_after_redaction() {
    let r = Redactor::new(&RedactConfig {
        max_field_chars: 40,
        ..RedactConfig::default()
    })
    .unwrap();
    let s = format!("{}{GHP}{}", "a ".repeat(15), " b".repeat(200));
    let mut v = Value::String(s);
    r.redact_value(&mut v, &mut Redactions::default());
    let out = v.as_str().unwrap();
    assert!(!out.contains("ghp_"), "{out}");
    assert!(out.ends_with("…<truncated:453 chars>"), "{out}");
    assert_eq!(out.chars().count(), 40);
}

#[test]
fn user_keys_and_patterns() {
    let r = Redactor::new(&RedactConfig {
        extra_keys: vec!["X-Tenant-PIN".into()],
        extra_patterns: vec![("employee_id".into(), r"EMP-\d{6}".into())],
        ..RedactConfig::default()
    })
    .unwrap();
    let mut v = json!({"xTenantPin": "9999", "who": "EMP-123456"});
    let mut found = Redactions::default();
    r.redact_value(&mut v, &mut found);
    assert_eq!(
        v,
        json!({"xTenantPin": "<redacted:key:xtenantpin>", "who": "<redacted:employee_id>"})
    );
    let e = Redactor::new(&RedactConfig {
        extra_keys: vec!["--".into()],
        ..RedactConfig::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("`--`"), "{e}");
}

fn tool_result(result: Value) -> Event {
    let mut e = Event::new(EventType::ToolResult, SystemTime::UNIX_EPOCH);
    e.tool = Some("fetch".into());
    e.method = Some("tools/call".into());
    e.call_event_id = Some("call-1".into());
    e.jsonrpc_id = Some(7.into());
    e.result = Some(result);
    e
}

#[test]
fn a_secret_in_a_tool_result_raises_secret_detected() {
    let mut e = tool_result(json!({"content": [{"type": "text", "text": GHP}]}))
        .detail("chain_seed", "ab".repeat(32))
        .detail("result_bytes", 99);
    let alert = redactor().redact_event(&mut e).expect("secret_detected");
    assert_eq!(e.details["redactions"], json!(["github_token"]));
    assert_eq!(e.details["chain_seed"], "ab".repeat(32));
    assert_eq!(alert.event_type, EventType::SecretDetected);
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.call_event_id.as_deref(), Some("call-1"));
    assert_eq!(alert.tool.as_deref(), Some("fetch"));
    assert_eq!(alert.jsonrpc_id, Some(7.into()));
    assert_eq!(alert.details["redactions"], json!(["github_token"]));
    assert_eq!(alert.details["source_type"], "tool_result");
    assert!(!serde_json::to_string(&alert).unwrap().contains("ghp_"));
}

#[test]
fn secrets_in_arguments_are_redacted_without_an_alert() {
    let mut e = Event::new(EventType::ToolCall, SystemTime::UNIX_EPOCH);
    e.arguments = Some(json!({"token": "abc"}));
    assert!(redactor().redact_event(&mut e).is_none());
    assert_eq!(e.details["redactions"], json!(["key:token"]));
}

#[test]
fn error_excerpt_and_details_are_redacted_and_kinds_merge() {
    let mut e = Event::new(EventType::RpcError, SystemTime::UNIX_EPOCH)
        .detail("redactions", json!(["jwt"]))
        .detail("command", json!(["server", "--token", "abc"]))
        .detail("prev_hash", GHP);
    e.error = Some(RpcErrorInfo {
        data_omitted: false,
        code: -32000,
        message: format!("bad credentials {GHP}"),
        data: Some(json!({"password": "x"})),
    });
    e.excerpt = Some(r#"{"jsonrpc":"2.0","params":{"password":"hunter2"#.into());
    assert!(redactor().redact_event(&mut e).is_none());
    let err = e.error.as_ref().unwrap();
    assert_eq!(err.message, "bad credentials <redacted:github_token>");
    assert_eq!(
        err.data,
        Some(json!({"password": "<redacted:key:password>"}))
    );
    assert!(!e.excerpt.as_ref().unwrap().contains("hunter2"));
    assert_eq!(e.details["command"][2], "<redacted:key:token>");
    assert_eq!(
        e.details["prev_hash"], GHP,
        "hashes are ours and kept as they are"
    );
    assert_eq!(
        e.details["redactions"],
        json!(["github_token", "jwt", "key:password", "key:token"])
    );
}

#[test]
fn nothing_found_leaves_the_event_unchanged() {
    let mut e = tool_result(json!({"content": [{"type": "text", "text": "all good"}]}));
    let before = serde_json::to_string(&e).unwrap();
    assert!(redactor().redact_event(&mut e).is_none());
    assert_eq!(serde_json::to_string(&e).unwrap(), before);
}

#[test]
fn redactor_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Redactor>();
}

/// Rough throughput of `redact_event` on a typical `tool_call` (five short
/// string arguments and a number), and of serialising it, for scale. Prints
/// events/s; asserts nothing about time.
#[test]
#[ignore = "timing loop: cargo test --release -p audit-core --lib throughput -- --ignored --nocapture"]
fn throughput_of_a_typical_tool_call() {
    use std::time::Instant;
    let on = redactor();
    let off = Redactor::new(&RedactConfig {
        enabled: false,
        ..RedactConfig::default()
    })
    .unwrap();
    let events: Vec<Event> = (0..100_000)
        .map(|i| {
            let mut e = Event::new(EventType::ToolCall, SystemTime::UNIX_EPOCH);
            e.tool = Some("search_files".into());
            e.arguments = Some(json!({
                "path": "/home/alice/projects/demo/src",
                "pattern": format!("fn handle_request_{i}"),
                "mode": "recursive",
                "encoding": "utf-8",
                "exclude": "target/**",
                "max_results": 50,
            }));
            e.detail("arguments_bytes", 160)
        })
        .collect();
    let per_s = |start: Instant| events.len() as f64 / start.elapsed().as_secs_f64();
    for (name, r) in [("off", &off), ("on", &on), ("off", &off), ("on", &on)] {
        let mut batch = events.clone();
        let start = Instant::now();
        for e in &mut batch {
            std::hint::black_box(r.redact_event(e));
        }
        println!(
            "redact_event, redaction {name}: {:.0} events/s",
            per_s(start)
        );
    }
    let mut line = Vec::with_capacity(1024);
    let start = Instant::now();
    for e in &events {
        line.clear();
        serde_json::to_writer(&mut line, e).unwrap();
        std::hint::black_box(&line);
    }
    println!("serialise only: {:.0} events/s", per_s(start));
}
