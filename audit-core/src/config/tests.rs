use std::path::{Path, PathBuf};

use super::*;

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_err(text: &str) -> ConfigError {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), text);
    Settings::check_file(&path).unwrap_err()
}

/// The `key = value  # source` line `show` prints for `field` of `section`.
fn shown<'a>(show: &'a str, section: &str, field: &str) -> &'a str {
    let mut in_section = false;
    for line in show.lines() {
        if line.starts_with('[') {
            in_section = line == format!("[{section}]");
        } else if in_section && line.starts_with(&format!("{field} =")) {
            return line;
        }
    }
    panic!("{section}.{field} not shown in:\n{show}")
}

#[test]
fn precedence_is_default_file_env_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[audit]\nmax_size_mb = 5\nmax_files = 6\nfsync = \"always\"\n\n[proxy]\ngrace_ms = 7\n",
    );
    let s = Settings::load(LoadInput {
        config_path: Some(path.clone()),
        home: Some(dir.path().to_owned()),
        env: env(&[
            ("MCP_BLACKBOX_MAX_FILES", "60"),
            ("MCP_BLACKBOX_FSYNC", "never"),
            ("HOME", "/ignored"),
        ]),
        flags: vec![("audit.fsync", "batch".into(), "--fsync")],
        ..LoadInput::default()
    })
    .unwrap();
    let p = path.display();
    assert_eq!(s.audit.max_size_mb.value.get(), 5);
    assert_eq!(s.audit.max_files.value.get(), 60);
    assert_eq!(s.audit.fsync.value, FsyncPolicy::Batch);
    let show = s.show();
    assert!(
        shown(&show, "audit", "max_size_mb").ends_with(&format!("# file:{p}:2")),
        "{show}"
    );
    assert!(shown(&show, "audit", "max_files").ends_with("# env:MCP_BLACKBOX_MAX_FILES"));
    assert!(shown(&show, "audit", "fsync").starts_with("fsync = \"batch\""));
    assert!(shown(&show, "audit", "fsync").ends_with("# flag:--fsync"));
    assert!(shown(&show, "proxy", "grace_ms").ends_with(&format!("# file:{p}:7")));
    assert!(shown(&show, "proxy", "kill_grace_ms").ends_with("# default"));
    let dir_line = shown(&show, "audit", "dir");
    assert!(dir_line.contains(".mcp-blackbox/audit") && dir_line.ends_with("# default"));
}

#[test]
fn home_config_is_read_when_present_and_skipped_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let input = || LoadInput {
        home: Some(dir.path().to_owned()),
        ..LoadInput::default()
    };
    assert!(Settings::load(input()).unwrap().config_file.is_none());
    std::fs::create_dir_all(dir.path().join(".mcp-blackbox")).unwrap();
    std::fs::write(
        dir.path().join(DEFAULT_CONFIG),
        "[audit]\nenabled = false\n",
    )
    .unwrap();
    let s = Settings::load(input()).unwrap();
    assert!(s.is_pure_relay());
    let pure = Settings::load(LoadInput {
        env: env(&[("MCP_BLACKBOX_ENABLED", "false")]),
        ..LoadInput::default()
    })
    .unwrap();
    assert!(pure.is_pure_relay());
}

#[test]
fn server_section_selected_by_name_or_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        r#"
[audit]
max_files = 3

[[rules]]
tool = "*"
risk_level = "low"

[servers.github]
command = "*server-github*"
[servers.github.audit]
max_files = 9
[[servers.github.rules]]
tool = "delete_*"
action = "deny"

[servers.time.proxy]
grace_ms = 1
"#,
    );
    let load = |name: Option<&'static str>, command: &[String]| {
        Settings::load(LoadInput {
            config_path: Some(path.clone()),
            server_name: name,
            command,
            ..LoadInput::default()
        })
        .unwrap()
    };
    let cmd = vec!["npx".to_owned(), "@x/server-github".to_owned()];
    let by_command = load(None, &cmd);
    assert_eq!(by_command.server_section.as_deref(), Some("github"));
    assert_eq!(by_command.audit.max_files.value.get(), 9);
    // The server section's rules come before the top-level ones.
    let names: Vec<&str> = by_command.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["servers.github.rules[1]", "rules[1]"]);
    let by_name = load(Some("time"), &cmd);
    assert_eq!(by_name.server_section.as_deref(), Some("time"));
    assert_eq!(by_name.audit.max_files.value.get(), 3);
    assert_eq!(by_name.proxy.grace_ms.value, 1);
    assert_eq!(by_name.proxy.server_name.value.as_deref(), Some("time"));
    assert_eq!(by_name.rules.len(), 1);
    let neither = load(None, &["other".to_owned()]);
    assert_eq!(neither.server_section, None);
}

#[test]
fn unknown_key_names_file_line_and_valid_keys() {
    let e = load_err("[audit]\nenabled = true\nmax_size = 5\n");
    let msg = e.to_string();
    assert_eq!(e.line(), Some(3));
    assert!(
        msg.contains("config.toml:3: audit.max_size: unknown key"),
        "{msg}"
    );
    assert!(msg.contains("max_size_mb"), "{msg}");
    assert!(!msg.contains('\n'));
    let top = load_err("\n\n[audits]\n").to_string();
    assert!(top.contains(":3: audits: unknown key in top level; valid keys are audit, proxy, policy, rules, servers"), "{top}");
    let rule = load_err("[[rules]]\ntool = \"x\"\nactoin = \"deny\"\n").to_string();
    assert!(rule.contains(":3: rules[1].actoin: unknown key"), "{rule}");
    let server = load_err("[servers.a]\ncomand = \"x\"\n").to_string();
    assert!(
        server.contains(":2: servers.a.comand: unknown key"),
        "{server}"
    );
}

#[test]
fn bad_types_and_values_say_what_is_valid() {
    let cases = [
        (
            "[audit]\nmax_size_mb = \"big\"\n",
            2,
            "expected a whole number >= 1, found a string",
        ),
        (
            "[audit]\n\nmax_files = 0\n",
            3,
            "expected a whole number >= 1, found 0",
        ),
        (
            "[audit]\nenabled = \"yes\"\n",
            2,
            "expected true or false, found a string",
        ),
        (
            "[audit]\nfsync = \"sometimes\"\n",
            2,
            "one of never, batch, always",
        ),
        (
            "[policy]\ndefault_action = \"block\"\n",
            2,
            "one of audit, deny",
        ),
        ("[audit]\nredact_keys = [\"a\", 1]\n", 2, "array of strings"),
        ("audit = 3\n", 1, "expected a table, found an integer"),
        (
            "[[rules]]\nrisk_level = \"extreme\"\n",
            2,
            "one of low, medium, high, critical",
        ),
        (
            "[[rules]]\naction = \"block\"\n",
            2,
            "one of allow, audit, deny",
        ),
        (
            "[[rules]]\ncompliance_tags = [\"has space\"]\n",
            2,
            "known tags: gdpr, hipaa, pci_dss, soc2",
        ),
        (
            "[[rules]]\ntool = \"a\"\ntool_regex = \"b\"\n",
            3,
            "not both",
        ),
        (
            "[[rules]]\narguments = { \"path\" = \"x\" }\n",
            2,
            "JSON pointer",
        ),
    ];
    for (text, line, needle) in cases {
        let e = load_err(text);
        let msg = e.to_string();
        assert_eq!(e.line(), Some(line), "{text:?} -> {msg}");
        assert!(msg.contains(needle), "{text:?} -> {msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}

#[test]
fn bad_regexes_are_located() {
    let cases = [
        "[[rules]]\n\ntool_regex = \"(unclosed\"\n",
        "[audit.redact_patterns]\nx = \"ok\"\n\ntoken = \"[z-a]\"\n",
        "[[rules]]\ntool = \"x\"\n[rules.arguments]\n\"/path\" = \"(\"\n",
        "[[rules]]\n\ntool = \"{a,\"\n",
    ];
    for text in cases {
        let e = load_err(text);
        let msg = e.to_string();
        assert!(
            msg.contains("invalid regex") || msg.contains("invalid glob"),
            "{msg}"
        );
        assert!(e.line().unwrap() >= 2, "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
    let e = load_err("[audit.redact_patterns]\nx = \"ok\"\n\ntoken = \"[z-a]\"\n");
    assert_eq!(e.line(), Some(4), "{e}");
}

#[test]
fn syntax_errors_and_unreadable_files() {
    let e = load_err("[audit]\nenabled = \n");
    assert!(matches!(e, ConfigError::Syntax { line: 2, .. }), "{e}");
    assert!(!e.to_string().contains('\n'));
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let e = Settings::check_file(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: cannot read settings file", missing.display())),
        "{e}"
    );
    let e = Settings::check_file(dir.path()).unwrap_err();
    assert!(matches!(e, ConfigError::Unreadable { .. }), "{e}");
}

#[test]
fn tooling_variables_are_not_settings_errors() {
    let s = Settings::load(LoadInput {
        env: env(&[
            ("MCP_BLACKBOX_PEERS", "/x/.peers"),
            ("MCP_BLACKBOX_BIN", "/x/bin"),
        ]),
        ..LoadInput::default()
    });
    assert!(s.is_ok(), "{s:?}");
}

#[test]
fn env_and_flag_errors_name_the_variable_or_flag() {
    let e = Settings::load(LoadInput {
        env: env(&[("MCP_BLACKBOX_MAX_SIZE", "5")]),
        ..LoadInput::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("environment variable MCP_BLACKBOX_MAX_SIZE: unknown variable"),
        "{e}"
    );
    assert!(e.contains("did you mean MCP_BLACKBOX_MAX_SIZE_MB?"), "{e}");
    let e = Settings::load(LoadInput {
        env: env(&[("MCP_BLACKBOX_DRI", "/x")]),
        ..LoadInput::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.ends_with("did you mean MCP_BLACKBOX_DIR?"), "{e}");
    let e = Settings::load(LoadInput {
        env: env(&[("MCP_BLACKBOX_SOMETHING_ELSE_ENTIRELY", "1")]),
        ..LoadInput::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("config show"), "{e}");
    assert!(e.len() < 200, "one short line, not a list: {e}");
    let e = Settings::load(LoadInput {
        env: env(&[("MCP_BLACKBOX_MAX_FILES", "many")]),
        ..LoadInput::default()
    })
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "environment variable MCP_BLACKBOX_MAX_FILES: expected a whole number >= 1, found \"many\""
    );
    let e = Settings::load(LoadInput {
        flags: vec![("policy.default_action", "maybe".into(), "--default-action")],
        ..LoadInput::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("flag --default-action: expected one of audit, deny"),
        "{e}"
    );
}

#[test]
fn show_lists_every_key_once_and_rules_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[[rules]]\nname = \"no-sum\"\ntool = \"get-sum\"\naction = \"deny\"\n\n[[rules]]\ntool_regex = \"^e\"\nrisk_level = \"high\"\ncompliance_tags = [\"gdpr\"]\n",
    );
    let s = Settings::check_file(&path).unwrap();
    let show = s.show();
    for key in KEYS {
        let hits = show
            .lines()
            .filter(|l| {
                let l = l.trim_start_matches("# ");
                l.starts_with(&format!("{} =", key.field))
            })
            .count();
        assert!(hits >= 1, "{} missing:\n{show}", key.field);
    }
    let rules: Vec<&str> = show.lines().filter(|l| l.starts_with("#  ")).collect();
    assert_eq!(rules.len(), 2, "{show}");
    assert!(
        rules[0].contains("1. no-sum: tool=\"get-sum\" -> deny"),
        "{show}"
    );
    assert!(
        rules[1].contains("2. rules[2]: tool_regex=\"^e\" -> (default_action) risk=high tags=gdpr"),
        "{show}"
    );
    assert!(
        rules[1].ends_with(&format!("(file:{}:6)", path.display())),
        "{show}"
    );
    // The shown values parse back as TOML with the same settings.
    let again = write(dir.path(), &show);
    let reread = Settings::check_file(&again).unwrap();
    let values = |s: &Settings| -> Vec<Option<String>> {
        s.entries().into_iter().map(|(_, v, _)| v).collect()
    };
    assert_eq!(values(&reread), values(&s));
}

#[test]
fn transcript_settings_come_from_file_env_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "[audit]\ntranscript = \"/f/t.jsonl\"\n");
    let load = |env_pairs: &[(&str, &str)], flags: Vec<(&'static str, String, &'static str)>| {
        Settings::load(LoadInput {
            config_path: Some(path.clone()),
            home: Some(dir.path().to_owned()),
            env: env(env_pairs),
            flags,
            ..LoadInput::default()
        })
        .unwrap()
    };
    let s = load(&[], vec![]);
    assert_eq!(s.audit.transcript.value, Some(PathBuf::from("/f/t.jsonl")));
    assert!(!s.audit.transcript_raw.value, "redacted by default");
    let s = load(
        &[
            ("MCP_BLACKBOX_TRANSCRIPT", "/e/t.jsonl"),
            ("MCP_BLACKBOX_TRANSCRIPT_RAW", "true"),
        ],
        vec![],
    );
    assert_eq!(s.audit.transcript.value, Some(PathBuf::from("/e/t.jsonl")));
    assert!(s.audit.transcript_raw.value);
    let s = load(
        &[("MCP_BLACKBOX_TRANSCRIPT", "/e/t.jsonl")],
        vec![("audit.transcript", "/x/t.jsonl".into(), "--transcript")],
    );
    assert_eq!(s.audit.transcript.value, Some(PathBuf::from("/x/t.jsonl")));
}
