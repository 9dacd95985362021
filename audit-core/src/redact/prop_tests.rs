//! Properties of redaction over arbitrary JSON: it never panics, its output is
//! valid JSON, no generated secret survives it, and it is idempotent.

use std::sync::OnceLock;
use std::time::SystemTime;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::Value;

use super::corpus::{generate_secrets, FakeSecret};
use super::*;
use crate::event::{Event, EventType, RpcErrorInfo};

fn secrets() -> &'static [FakeSecret] {
    static S: OnceLock<Vec<FakeSecret>> = OnceLock::new();
    S.get_or_init(|| generate_secrets(11))
}

fn redactors() -> &'static [Redactor; 2] {
    static R: OnceLock<[Redactor; 2]> = OnceLock::new();
    R.get_or_init(|| {
        let keyed = RedactConfig {
            hmac_key: Some(HmacKey::from_bytes(&[7u8; 32], "test").unwrap()),
            max_field_chars: 64,
            extra_patterns: vec![("ticket".into(), r"TICKET-(\d{4})".into())],
            ..RedactConfig::default()
        };
        [
            Redactor::new(&RedactConfig::default()).unwrap(),
            Redactor::new(&keyed).unwrap(),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    let n = secrets().len();
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 _:/?=&@.#<>…-]{0,40}",
        (0..n, "[a-z ]{0,12}", "[a-z ]{0,12}")
            .prop_map(|(i, a, b)| format!("{a} {} {b}", secrets()[i].in_text)),
        // Glued to punctuation and non-ASCII text: still redacted.
        (0..n, "[+/é(.]{0,3}", "[+/é).]{0,3}")
            .prop_map(|(i, a, b)| format!("{a}{}{b}", secrets()[i].in_text)),
        "<redacted:[a-z_:]{1,20}>|…<truncated:[0-9]{1,4} chars>|<redacted:[A-Za-z_]{1,9}",
        "[0-9][0-9 -]{11,24}",
        // Digit stretches glued to word bytes or punctuation: where the card
        // rule's closing `\b` can hold is what the precheck must get right.
        "[a-z_ -]{0,2}[2-6][0-9 -]{11,22}[a-zA-Z0-9_ .-]{0,3}",
        "TICKET-[0-9]{4,6}|(Bearer|Basic|token|password)[ =:]{1,2}[A-Za-z0-9+/=]{0,30}",
        "[a-z0-9 é]{60,140}",
    ]
}

/// A secret glued to word bytes too: whether a rule's `\b` can hold there is
/// what the precheck must get right (a rule may or may not match).
fn glued() -> impl Strategy<Value = String> {
    let n = secrets().len();
    (0..n, "[a-zA-Z0-9_+/é(.-]{0,3}", "[a-zA-Z0-9_+/é).-]{0,3}")
        .prop_map(|(i, a, b)| format!("{a}{}{b}", secrets()[i].in_text))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_-]{1,12}",
        prop::sample::select(vec![
            "password",
            "apiKey",
            "name",
            "value",
            "token",
            "Set-Cookie",
            "argv",
            "progressToken",
            "--token",
            "header",
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (1_000_000_000_000u64..u64::MAX).prop_map(Value::from),
        (-1_000_000i64..1_000_000).prop_map(|n| Value::from(n as f64 / 4.0)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn assert_no_secret(line: &str) {
    let parsed: Value = serde_json::from_str(line).expect("output is valid JSON");
    let unescaped = parsed.to_string();
    for s in secrets() {
        for p in s.probes() {
            assert!(
                !line.contains(p) && !unescaped.contains(p),
                "{} survived: {line}",
                s.kind
            );
        }
    }
}

fn event_of(v: &Value, s: &str) -> Event {
    let mut e = Event::new(EventType::ToolResult, SystemTime::UNIX_EPOCH);
    e.arguments = Some(v.clone());
    e.result = Some(v.clone());
    e.excerpt = Some(s.to_owned());
    e.error = Some(RpcErrorInfo {
        data_omitted: false,
        code: 1,
        message: s.to_owned(),
        data: Some(v.clone()),
    });
    e.details.insert("extra".into(), v.clone());
    e
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn values_are_valid_secret_free_and_idempotent(v in json(), which in 0usize..2) {
        let r = &redactors()[which];
        let mut once = v.clone();
        r.redact_value(&mut once, &mut Redactions::default());
        let line = serde_json::to_string(&once).unwrap();
        let back: Value = serde_json::from_str(&line).unwrap();
        prop_assert_eq!(&back, &once);
        assert_no_secret(&line);
        let mut twice = once.clone();
        let mut found = Redactions::default();
        r.redact_value(&mut twice, &mut found);
        prop_assert_eq!(&twice, &once);
        prop_assert!(found.is_empty(), "second pass found {:?}", found);
    }

    #[test]
    fn precheck_never_hides_a_match(s in prop_oneof![text(), glued()]) {
        static P: OnceLock<patterns::PatternSet> = OnceLock::new();
        let p = P.get_or_init(|| patterns::PatternSet::new(&[]).unwrap());
        // Every rule but the card rule: whatever it matches passes. The card
        // rule: whatever it finds (issuer and checksum included) passes.
        if p.matches_unfiltered_but_cards(&s) {
            prop_assert!(precheck::could_hold_secret(&s), "ruled out: {:?}", s);
        }
        let mut hits = Vec::new();
        p.scan_unfiltered(&s, &keys::KeyMatcher::new(&[]), &mut hits);
        if !hits.is_empty() {
            prop_assert!(precheck::could_hold_secret(&s), "ruled out a secret: {:?}", s);
        }
    }

    #[test]
    fn texts_are_idempotent(s in text(), which in 0usize..2) {
        let r = &redactors()[which];
        let once = r.redact_text(&s, &mut Redactions::default()).unwrap_or(s);
        prop_assert_eq!(r.redact_text(&once, &mut Redactions::default()), None);
    }

    #[test]
    fn events_are_idempotent(v in json(), s in text(), which in 0usize..2) {
        let r = &redactors()[which];
        let mut e = event_of(&v, &s);
        r.redact_event(&mut e);
        let once = serde_json::to_string(&e).unwrap();
        assert_no_secret(&once);
        prop_assert!(r.redact_event(&mut e).is_none());
        prop_assert_eq!(serde_json::to_string(&e).unwrap(), once);
    }
}
