use std::path::Path;

use serde_json::json;

use super::*;
use crate::config::file::{apply, Selector};
use crate::config::{Located, Sections};

/// The rules of a settings file text, in match order.
pub(crate) fn rules(text: &str) -> Vec<Rule> {
    let at = Located {
        path: Path::new("test.toml"),
        text,
    };
    let select = Selector {
        server_name: Some("everything"),
        command_line: "",
    };
    let specs = apply(&at, &mut Sections::default(), select).unwrap().rules;
    specs.iter().map(|s| Rule::compile(s).unwrap()).collect()
}

pub(crate) fn policy(text: &str, options: PolicyOptions) -> Policy {
    Policy::new(rules(text), options, None).unwrap()
}

const ORDERED: &str = r#"
[[rules]]
name = "sum-small"
tool = "get-sum"
risk_level = "low"
action = "allow"
[rules.arguments]
"/a" = "^[0-9]$"

[[rules]]
name = "sum-any"
tool = "get-*"
risk_level = "high"
compliance_tags = ["pci_dss", "team:payments"]
action = "deny"

[[rules]]
name = "catch-all"
tool_regex = ".*"
risk_level = "medium"
"#;

#[test]
fn first_matching_rule_wins_in_file_order() {
    let p = policy(ORDERED, PolicyOptions::default());
    let small = json!({"a": 1});
    let big = json!({"a": 12});
    let a = p.annotate("everything", "get-sum", Some(&small)).unwrap();
    assert_eq!(
        (a.rule, a.action, a.risk_level),
        ("sum-small", Action::Allow, Some(RiskLevel::Low))
    );
    let a = p.annotate("everything", "get-sum", Some(&big)).unwrap();
    assert_eq!(a.rule, "sum-any");
    assert_eq!(a.compliance_tags, ["pci_dss", "team:payments"]);
    assert_eq!(
        p.denying_rule("everything", "get-sum", Some(&big)),
        Some("sum-any")
    );
    assert_eq!(
        p.denying_rule("everything", "get-sum", None),
        Some("sum-any")
    );
    let a = p.annotate("everything", "echo", None).unwrap();
    assert_eq!((a.rule, a.action), ("catch-all", Action::Audit));
    assert_eq!(p.denying_rule("everything", "echo", None), None);
}

#[test]
fn reordering_the_same_rules_changes_the_decision() {
    let reordered = r#"
[[rules]]
name = "sum-any"
tool = "get-*"
action = "deny"

[[rules]]
name = "sum-small"
tool = "get-sum"
action = "allow"
"#;
    let p = policy(reordered, PolicyOptions::default());
    let small = json!({"a": 1});
    assert_eq!(
        p.denying_rule("everything", "get-sum", Some(&small)),
        Some("sum-any")
    );
}

#[test]
fn deny_by_default_with_an_allow_list() {
    let text = r#"
[[rules]]
tool = "{echo,get-time}"
action = "allow"

[[rules]]
name = "tag-only"
tool = "print-env"
compliance_tags = ["soc2"]
"#;
    let options = PolicyOptions {
        default_action: DefaultAction::Deny,
        ..PolicyOptions::default()
    };
    let p = policy(text, options);
    assert!(p.needs_gate());
    assert_eq!(p.denying_rule("everything", "echo", None), None);
    assert_eq!(p.denying_rule("everything", "get-time", None), None);
    assert_eq!(
        p.denying_rule("everything", "get-sum", None),
        Some(DEFAULT_DENY_RULE)
    );
    // A rule without an action takes the default: here, deny.
    assert_eq!(
        p.denying_rule("everything", "print-env", None),
        Some("tag-only")
    );
    assert!(p.denies_unconditionally("everything", "get-sum"));
    assert!(!p.denies_unconditionally("everything", "echo"));
}

#[test]
fn server_globs_and_argument_pointers() {
    let text = r#"
[[rules]]
name = "no-etc"
server = "file*"
tool = "read_file"
action = "deny"
[rules.arguments]
"/path" = "^/etc/"
"/options/0/follow" = "^true$"
"#;
    let p = policy(text, PolicyOptions::default());
    let bad = json!({"path": "/etc/shadow", "options": [{"follow": true}]});
    let half = json!({"path": "/etc/shadow", "options": [{"follow": false}]});
    assert_eq!(
        p.denying_rule("filesystem", "read_file", Some(&bad)),
        Some("no-etc")
    );
    assert_eq!(p.denying_rule("filesystem", "read_file", Some(&half)), None);
    assert_eq!(p.denying_rule("github", "read_file", Some(&bad)), None);
    assert_eq!(p.denying_rule("filesystem", "read_file", None), None);
    // Argument-dependent: never hidden from tools/list.
    assert!(!p.denies_unconditionally("filesystem", "read_file"));
    assert!(p.uses_arguments());
}

#[test]
fn gate_is_needed_only_when_something_can_be_refused() {
    let annotate_only = "[[rules]]\ntool = \"*\"\nrisk_level = \"high\"\n";
    assert!(!policy(annotate_only, PolicyOptions::default()).needs_gate());
    assert!(!policy("", PolicyOptions::default()).needs_gate());
    assert!(policy(
        "[[rules]]\ntool = \"x\"\naction = \"deny\"\n",
        PolicyOptions::default()
    )
    .needs_gate());
    let pins = crate::pin::ServerPins::from_tools(&[], String::new(), vec![]).unwrap();
    assert!(Policy::new(vec![], PolicyOptions::default(), Some(pins))
        .unwrap()
        .needs_gate());
}

#[test]
fn from_settings_requires_pins_for_the_server_when_enforcing() {
    let dir = tempfile::tempdir().unwrap();
    let pins = dir.path().join("pins.json");
    let mut file = crate::pin::PinFile::default();
    let tools = [json!({"name": "echo"})];
    let server = crate::pin::ServerPins::from_tools(&tools, String::new(), vec![]).unwrap();
    file.servers.insert("everything".into(), server);
    file.save(&pins).unwrap();
    let settings = crate::config::Settings::load(crate::config::LoadInput {
        flags: vec![
            ("policy.enforce_pins", "true".into(), "--enforce-pins"),
            ("policy.pins", pins.display().to_string(), "--pins"),
        ],
        ..Default::default()
    })
    .unwrap();
    let p = Policy::from_settings(&settings, "everything").unwrap();
    assert_eq!(
        p.pin_status("echo", false),
        Some(crate::pin::PinStatus::Matches)
    );
    let e = Policy::from_settings(&settings, "other")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no pins for server \"other\""), "{e}");
}

/// The settings hold rules as plain data; the policy compiles them, and a
/// spec that was not read from a file (so never checked) fails by name.
#[test]
fn rule_specs_compile_into_matchers() {
    let at = Located {
        path: Path::new("test.toml"),
        text: ORDERED,
    };
    let select = Selector {
        server_name: Some("everything"),
        command_line: "",
    };
    let specs = apply(&at, &mut Sections::default(), select).unwrap().rules;
    assert_eq!(
        specs[0].arguments,
        [("/a".to_owned(), "^[0-9]$".to_owned())]
    );
    let rule = Rule::compile(&specs[0]).unwrap();
    assert!(rule.matches_arguments(Some(&json!({"a": 7}))));
    assert!(!rule.matches_arguments(Some(&json!({"a": 17}))));
    let mut bad = specs[0].clone();
    bad.arguments = vec![("/a".into(), "(".into())];
    let e = Rule::compile(&bad).unwrap_err();
    assert!(e.to_string().starts_with("sum-small: invalid regex"), "{e}");
}
