use serde_json::{json, Value};

use super::input::Loaded;
use super::rules::parse_rules;
use super::*;

fn session(events: Vec<Value>) -> Loaded {
    Loaded {
        label: "test".into(),
        events,
        chain: Ok(()),
        clean_end: Ok(()),
        transcript: None,
    }
}

fn call(id: &str, tool: &str, args: Value) -> Value {
    json!({"type":"tool_call","event_id":id,"tool":tool,"arguments":args})
}

fn result(id: &str, tool: &str, ms: f64) -> Value {
    json!({"type":"tool_result","event_id":id,"tool":tool,"call_event_id":"c","duration_ms":ms})
}

/// The verdict of the single rule `rules` states (the session rules and
/// forbids are switched off around it unless it names them).
fn only(rules: &str, s: &Loaded) -> Verdict {
    let off = "[session]\nended_cleanly=false\nchain_verifies=false\n";
    let forbid_off = "[forbid]\ntool_error=false\nrpc_error=false\nprotocol_violation=false\npolicy_blocked=false\ntool_changed=false\nsecret_detected=false\n";
    let text = match rules {
        r if r.starts_with("[forbid]") => format!("{off}{r}"),
        r if r.starts_with("[session]") => format!("{forbid_off}{r}"),
        r => format!("{off}{forbid_off}{r}"),
    };
    let rules = parse_rules(&text).unwrap();
    let mut v = evaluate(&rules, s);
    assert_eq!(v.len(), 1, "{rules:?}");
    v.remove(0)
}

#[test]
fn call_counts() {
    let s = session(vec![
        call("a", "echo", json!({})),
        call("b", "echo", json!({})),
        call("c", "rm", json!({})),
    ]);
    assert!(only("[[tool]]\nname=\"echo\"\nmin_calls=2", &s).passed);
    assert!(!only("[[tool]]\nname=\"echo\"\nmin_calls=3", &s).passed);
    assert!(only("[[tool]]\nname=\"*\"\nmax_calls=3", &s).passed);
    let v = only("[[tool]]\nname=\"echo\"\nmax_calls=1", &s);
    assert!(!v.passed);
    assert_eq!(v.events, ["a", "b"]);
    assert!(only("[[tool]]\nname=\"ls\"\nnever=true", &s).passed);
    let v = only("[[tool]]\nname=\"rm\"\nnever=true", &s);
    assert_eq!((v.passed, v.events.clone()), (false, vec!["c".to_string()]));
    assert_eq!(v.rule, "tool rm: never called");
}

#[test]
fn arguments_match_by_pointer_and_regex() {
    let s = session(vec![
        call("a", "echo", json!({"message":"hello you","n":3})),
        call("b", "echo", json!({"message":"bye"})),
    ]);
    let rule = |p: &str, re: &str| {
        only(
            &format!("[[tool]]\nname=\"echo\"\n[[tool.argument]]\npointer=\"{p}\"\nregex='{re}'"),
            &s,
        )
    };
    assert!(rule("/message", "^(hello|bye)").passed);
    let v = rule("/message", "^hello");
    assert_eq!((v.passed, v.events), (false, vec!["b".to_string()]));
    let v = rule("/n", "^[0-9]+$");
    assert_eq!(v.events, ["b"], "a missing argument fails");
}

#[test]
fn durations() {
    let s = session(vec![
        result("r1", "echo", 20.0),
        result("r2", "slow", 900.0),
    ]);
    assert!(only("[[tool]]\nname=\"echo\"\nmax_duration_ms=100", &s).passed);
    let v = only("[[tool]]\nname=\"*\"\nmax_duration_ms=100", &s);
    assert_eq!((v.passed, v.events), (false, vec!["r2".to_string()]));
}

#[test]
fn each_forbidden_event_type_is_switchable() {
    for kind in rules::FORBIDDABLE {
        let clean = session(vec![call("a", "echo", json!({}))]);
        let dirty = session(vec![json!({"type": kind, "event_id": "e1"})]);
        let rules = parse_rules("[session]\nended_cleanly=false\nchain_verifies=false").unwrap();
        let failed: Vec<String> = evaluate(&rules, &dirty)
            .into_iter()
            .filter(|v| !v.passed)
            .map(|v| v.rule)
            .collect();
        assert_eq!(failed, [format!("no {kind}")]);
        assert!(evaluate(&rules, &clean).iter().all(|v| v.passed));
        let off = parse_rules(&format!("[forbid]\n{kind}=false")).unwrap();
        assert!(!off.iter().any(|r| r.name == format!("no {kind}")));
    }
}

#[test]
fn session_end_and_chain() {
    let mut s = session(vec![]);
    assert!(only("[session]\nchain_verifies=false", &s).passed);
    s.clean_end = Err("no end line".into());
    s.chain = Err("line 3: prev_hash".into());
    let v = only("[session]\nchain_verifies=false", &s);
    assert_eq!((v.passed, v.message.as_str()), (false, "no end line"));
    let v = only("[session]\nended_cleanly=false", &s);
    assert!(!v.passed && v.message.contains("line 3"));
}

#[test]
fn a_bad_rules_file_names_the_problem() {
    let e = parse_rules("[forbid]\ntool_erors=true")
        .unwrap_err()
        .to_string();
    assert!(e.contains("tool_erors") && e.contains("valid"), "{e}");
    let e = parse_rules("[[tool]]\nname=\"x\"\n[[tool.argument]]\npointer=\"/a\"\nregex=\"(\"")
        .unwrap_err();
    assert!(e.to_string().contains("regex `(`"), "{e}");
    assert!(parse_rules("[[tool]]\nnam=\"x\"").is_err());
}

#[test]
fn reports_name_failed_rules_and_their_events() {
    let s = session(vec![json!({"type":"tool_error","event_id":"e9"})]);
    let rules = parse_rules("").unwrap();
    let v = evaluate(&rules, &s);
    let text = report::text("x", &v);
    assert!(
        text.contains("FAILED no tool_error: 1 tool_error events; events: e9"),
        "{text}"
    );
    assert!(text.ends_with("8 rules, 1 failed\n"), "{text}");
    let xml = report::junit("x", &v).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 8);
    assert_eq!(xml.matches("<failure").count(), 1);
    let j: Value = serde_json::from_str(&report::json("x", &v)).unwrap();
    assert_eq!(j["passed"], false);
}
