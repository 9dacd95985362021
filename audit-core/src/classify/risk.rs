//! Built-in default risk of a tool call: a pure function of the tool's name,
//! its arguments and the hints its definition gave.
//!
//! A rules file overrides these defaults (another stage); this is what a
//! session gets with no rules. The rules, in order:
//!
//! 1. The tool name is split into words (`-`, `_`, `.`, `/`, spaces and
//!    camelCase boundaries: `deleteUser` → `delete`, `user`). The first word
//!    on one of the action lists decides, since tool names are verb-first
//!    (`get_order` reads, `send_message` sends): execute, delete, write, send
//!    or spend make the call `high`, tagged with the class
//!    (`code_execution`, `data_deletion`, `data_modification`,
//!    `external_communication`, `financial`); a read word (`get`, `list`,
//!    ...) makes it `low`, tagged `data_access`; no action word, `medium`.
//!    An execute or delete word anywhere in the name also counts.
//! 2. An argument *key* that carries code (`command`, `script`, `sql`, ...)
//!    makes the call `high` (`code_execution`). A string argument *value*
//!    (anywhere in the first [`SCAN_BYTES`] of argument text) holding a known
//!    destructive idiom (`rm -rf`, `DROP TABLE`, `mkfs`, ...) makes it
//!    `critical` (`destructive_argument`).
//! 3. Tool annotations from `tools/list` are untrusted server claims
//!    (the specification says so), so they may only raise the level, with
//!    one exception: `destructiveHint: true` raises to at least `high`
//!    (`destructive_hint`); `readOnlyHint: true` lowers a `medium` (a name
//!    that matched no word list) to `low` (`read_only_hint`) but never lowers
//!    a name or argument match; `openWorldHint: true` adds `open_world`.

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use serde_json::Value;

use crate::event::RiskLevel;

/// Bytes of argument text scanned for destructive idioms.
pub const SCAN_BYTES: usize = 64 * 1024;

/// What a tool's definition (`annotations`) claimed about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolHints {
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub open_world: Option<bool>,
}

impl ToolHints {
    /// The hints in a tool definition's `annotations` object.
    pub fn from_definition(tool: &Value) -> ToolHints {
        let a = tool.get("annotations");
        let hint = |k: &str| a.and_then(|a| a.get(k)).and_then(Value::as_bool);
        ToolHints {
            read_only: hint("readOnlyHint"),
            destructive: hint("destructiveHint"),
            open_world: hint("openWorldHint"),
        }
    }
}

/// A risk level and the compliance tags that explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    pub tags: Vec<String>,
}

const EXECUTE: &[&str] = &[
    "exec",
    "execute",
    "run",
    "shell",
    "bash",
    "sh",
    "eval",
    "spawn",
    "command",
    "cmd",
    "script",
    "terminal",
    "invoke",
    "powershell",
    "sudo",
];
const DELETE: &[&str] = &[
    "delete",
    "remove",
    "rm",
    "drop",
    "destroy",
    "purge",
    "truncate",
    "erase",
    "unlink",
    "wipe",
    "kill",
    "terminate",
    "revoke",
    "rmdir",
];
const WRITE: &[&str] = &[
    "write", "create", "update", "edit", "modify", "set", "put", "patch", "insert", "upload",
    "save", "move", "mv", "rename", "commit", "push", "merge", "deploy", "install", "append",
    "replace", "apply", "mkdir", "copy", "cp", "chmod", "chown", "grant", "approve", "post",
];
const SEND: &[&str] = &[
    "send",
    "email",
    "mail",
    "notify",
    "publish",
    "tweet",
    "sms",
    "invite",
    "share",
    "reply",
    "forward",
    "broadcast",
    "comment",
];
const SPEND: &[&str] = &[
    "pay",
    "payment",
    "purchase",
    "buy",
    "order",
    "transfer",
    "charge",
    "refund",
    "checkout",
    "spend",
    "withdraw",
    "trade",
    "sell",
    "bid",
    "subscribe",
];
const READ: &[&str] = &[
    "get", "read", "list", "search", "find", "fetch", "query", "show", "describe", "view",
    "lookup", "cat", "head", "tail", "stat", "ls", "echo", "inspect", "count", "check", "status",
    "info", "browse", "download", "retrieve", "resolve",
];
const CODE_KEYS: &[&str] = &[
    "command",
    "cmd",
    "script",
    "code",
    "shell",
    "sql",
    "exec",
    "program",
    "commandline",
];
const DESTRUCTIVE_IDIOMS: &[&str] = &[
    "rm -rf",
    "rm -fr",
    "drop table",
    "drop database",
    "drop schema",
    "truncate table",
    "delete from",
    "mkfs",
    "dd if=",
    ":(){",
    "format c:",
    "del /f",
    "shred ",
    "git push --force",
    "git push -f",
];

/// The default risk of calling `tool` with `arguments` (see the module docs),
/// without [`NameTags`]' memory: the reference its tests compare against.
#[cfg(test)]
pub fn default_risk(tool: &str, arguments: Option<&Value>, hints: &ToolHints) -> RiskAssessment {
    assess(&name_tags(tool), arguments, hints)
}

/// Step 1 of the module docs: the tags a tool's name gives, in order.
fn name_tags(tool: &str) -> Vec<&'static str> {
    let words = name_words(tool);
    let mut tags: Vec<&'static str> = Vec::new();
    // The first action word decides (names are verb-first: `get_order` reads,
    // `send_message` sends); an execute or delete word anywhere still counts.
    let first = words.iter().find_map(|w| action_class(w));
    if let Some(class) = first {
        tags.push(class);
    }
    for w in &words {
        for (list, tag) in [(EXECUTE, "code_execution"), (DELETE, "data_deletion")] {
            if list.contains(&w.as_str()) {
                push_unique(&mut tags, tag);
            }
        }
    }
    tags
}

/// [`name_tags`] of the tools a session calls, each worked out once.
///
/// A session calls a handful of tools many times; splitting and matching the
/// name was a tenth of the risk's cost per call. Holds at most
/// [`NameTags::MAX`] names (a server may invent names without end): past
/// that, names are worked out on every call.
#[derive(Debug, Default)]
pub struct NameTags {
    known: HashMap<Box<str>, Vec<&'static str>>,
}

impl NameTags {
    /// Most names remembered.
    pub const MAX: usize = 4096;
    /// Longest name remembered (a longer one is assessed every time).
    pub const MAX_NAME_BYTES: usize = super::budget::MAX_NAME_BYTES;

    /// The default risk of calling `tool` (see the module docs).
    pub fn risk(
        &mut self,
        tool: &str,
        arguments: Option<&Value>,
        hints: &ToolHints,
    ) -> RiskAssessment {
        if let Some(tags) = self.known.get(tool) {
            return assess(tags, arguments, hints);
        }
        let tags = name_tags(tool);
        let risk = assess(&tags, arguments, hints);
        if self.known.len() < Self::MAX && tool.len() <= Self::MAX_NAME_BYTES {
            self.known.insert(tool.into(), tags);
        }
        risk
    }
}

/// Steps 2 and 3 of the module docs, after the name gave `name_tags`.
fn assess(
    name_tags: &[&'static str],
    arguments: Option<&Value>,
    hints: &ToolHints,
) -> RiskAssessment {
    // The name's tags and what steps 2-3 add (each at most once), made
    // owned once at the end: the list is per call, and usually one tag.
    let mut added: [&'static str; 4] = [""; 4];
    let mut n = 0;
    let mut add = |tag: &'static str| {
        added[n] = tag;
        n += 1;
    };
    let mut level = match name_tags {
        [] => RiskLevel::Medium,
        ["data_access"] => RiskLevel::Low,
        _ => RiskLevel::High,
    };
    if let Some(Value::Object(args)) = arguments {
        if args.keys().any(|k| is_code_key(k)) {
            level = level.max(RiskLevel::High);
            if !name_tags.contains(&"code_execution") {
                add("code_execution");
            }
        }
    }
    if let Some(args) = arguments {
        let mut budget = SCAN_BYTES;
        if has_destructive_idiom(args, &mut budget, 0) {
            level = RiskLevel::Critical;
            add("destructive_argument");
        }
    }
    if hints.destructive == Some(true) {
        level = level.max(RiskLevel::High);
        add("destructive_hint");
    } else if hints.read_only == Some(true) && level == RiskLevel::Medium {
        level = RiskLevel::Low;
        add("read_only_hint");
    }
    if hints.open_world == Some(true) {
        add("open_world");
    }
    let mut tags = Vec::with_capacity(name_tags.len() + n);
    for tag in name_tags.iter().chain(&added[..n]) {
        tags.push((*tag).to_owned());
    }
    RiskAssessment { level, tags }
}

/// True for an argument key that carries code, in any case. An ASCII key is
/// compared without allocating; others are lower-cased first (Unicode
/// lower-casing can turn a non-ASCII letter into an ASCII one).
fn is_code_key(key: &str) -> bool {
    if key.is_ascii() {
        CODE_KEYS.iter().any(|c| key.eq_ignore_ascii_case(c))
    } else {
        CODE_KEYS.contains(&key.to_lowercase().as_str())
    }
}

/// The class of an action word, if it is one.
fn action_class(word: &str) -> Option<&'static str> {
    [
        (EXECUTE, "code_execution"),
        (DELETE, "data_deletion"),
        (WRITE, "data_modification"),
        (SEND, "external_communication"),
        (SPEND, "financial"),
        (READ, "data_access"),
    ]
    .into_iter()
    .find(|(list, _)| list.contains(&word))
    .map(|(_, tag)| tag)
}

fn push_unique(tags: &mut Vec<&'static str>, tag: &'static str) {
    if !tags.contains(&tag) {
        tags.push(tag);
    }
}

/// Lower-case words of a tool name, split at separators and camelCase.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars().take(256) {
        if !c.is_alphanumeric() {
            flush(&mut words, &mut cur);
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            flush(&mut words, &mut cur);
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    flush(&mut words, &mut cur);
    words
}

fn flush(words: &mut Vec<String>, cur: &mut String) {
    if !cur.is_empty() {
        words.push(std::mem::take(cur));
    }
}

/// `text` lower-cased, with white-space runs squeezed to one space and
/// trimmed: what idioms are matched against. ASCII text (the common case)
/// takes one pass and one allocation; other text goes through Unicode
/// lower-casing, which may change lengths.
fn squeeze_lowercase(text: &str) -> String {
    if !text.is_ascii() {
        let lower = text.to_lowercase();
        return lower.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for b in text.bytes() {
        // char::is_whitespace for ASCII: includes \x0B, unlike u8's version.
        if matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r') {
            gap = !out.is_empty();
            continue;
        }
        if gap {
            out.push(' ');
            gap = false;
        }
        out.push(b.to_ascii_lowercase() as char);
    }
    out
}

/// Finds the first word of any destructive idiom, in any ASCII case. ASCII
/// text holding none of them holds no idiom: squeezing only changes white
/// space, first words hold none, and ASCII lower-casing keeps lengths, so
/// the test is exact for ASCII text; other text always takes the full path.
static ANCHORS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let first_words = DESTRUCTIVE_IDIOMS
        .iter()
        .map(|i| i.split(' ').next().unwrap_or(i));
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(first_words)
        .expect("fixed anchors build")
});

/// True if `text` (lower-cased and squeezed) holds a destructive idiom.
fn holds_idiom(text: &str) -> bool {
    if text.is_ascii() && !ANCHORS.is_match(text) {
        return false;
    }
    let squeezed = squeeze_lowercase(text);
    DESTRUCTIVE_IDIOMS.iter().any(|i| squeezed.contains(i))
}

fn has_destructive_idiom(v: &Value, budget: &mut usize, depth: usize) -> bool {
    if *budget == 0 || depth > 8 {
        return false;
    }
    match v {
        Value::String(s) => {
            let take = s.len().min(*budget);
            *budget -= take;
            let end = (0..=take)
                .rev()
                .find(|i| s.is_char_boundary(*i))
                .unwrap_or(0);
            holds_idiom(&s[..end])
        }
        Value::Array(a) => a
            .iter()
            .any(|x| has_destructive_idiom(x, budget, depth + 1)),
        Value::Object(m) => m
            .values()
            .any(|x| has_destructive_idiom(x, budget, depth + 1)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn risk(name: &str, args: Value, hints: ToolHints) -> (RiskLevel, Vec<String>) {
        let a = default_risk(name, Some(&args), &hints);
        (a.level, a.tags)
    }

    #[test]
    fn words_split_at_separators_and_camel_case() {
        assert_eq!(name_words("deleteUser"), ["delete", "user"]);
        assert_eq!(name_words("get-sum"), ["get", "sum"]);
        assert_eq!(name_words("fs.write_file"), ["fs", "write", "file"]);
        assert_eq!(name_words("HTTPGet"), ["httpget"]);
    }

    #[test]
    fn action_words_set_the_level() {
        let none = ToolHints::default();
        assert_eq!(risk("read_file", json!({}), none).0, RiskLevel::Low);
        assert_eq!(risk("delete_file", json!({}), none).0, RiskLevel::High);
        assert_eq!(risk("runShell", json!({}), none).0, RiskLevel::High);
        assert_eq!(
            risk("send_email", json!({}), none).1,
            ["external_communication"]
        );
        assert_eq!(risk("transfer_funds", json!({}), none).1, ["financial"]);
        assert_eq!(risk("weather", json!({}), none).0, RiskLevel::Medium);
        // "running" is not "run": whole words only.
        assert_eq!(
            risk("trigger-long-running-operation", json!({}), none).0,
            RiskLevel::Medium
        );
    }

    #[test]
    fn arguments_raise_the_level() {
        let none = ToolHints::default();
        let (l, t) = risk("helper", json!({"command": "ls"}), none);
        assert_eq!(l, RiskLevel::High);
        assert_eq!(t, ["code_execution"]);
        let (l, t) = risk("query", json!({"q": {"sql": ["DROP   TABLE users"]}}), none);
        assert_eq!(l, RiskLevel::Critical);
        assert!(t.contains(&"destructive_argument".to_owned()));
    }

    #[test]
    fn hints_raise_or_settle_unknowns_only() {
        let ro = ToolHints {
            read_only: Some(true),
            ..Default::default()
        };
        assert_eq!(risk("weather", json!({}), ro).0, RiskLevel::Low);
        // A server claiming read-only cannot lower a delete.
        assert_eq!(risk("delete_all", json!({}), ro).0, RiskLevel::High);
        let de = ToolHints {
            destructive: Some(true),
            open_world: Some(true),
            ..Default::default()
        };
        let (l, t) = risk("get_thing", json!({}), de);
        assert_eq!(l, RiskLevel::High);
        assert_eq!(t, ["data_access", "destructive_hint", "open_world"]);
    }

    #[test]
    fn hints_come_from_annotations() {
        let def = json!({"name":"x","annotations":{"readOnlyHint":true,"destructiveHint":false}});
        let h = ToolHints::from_definition(&def);
        assert_eq!(h.read_only, Some(true));
        assert_eq!(h.destructive, Some(false));
        assert_eq!(h.open_world, None);
    }

    #[test]
    fn ascii_squeeze_matches_the_unicode_path() {
        let reference = |t: &str| {
            t.to_lowercase()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        for t in [
            "",
            "   ",
            "  RM \t\x0B -RF\r\n /  ",
            "drop\x0CTABLE x",
            "a",
            " a  b ",
            "Ünïcode  RM -rf",
        ] {
            assert_eq!(squeeze_lowercase(t), reference(t), "{t:?}");
        }
    }

    /// The anchor test decides as the squeezed, lower-cased text does.
    #[test]
    fn the_anchor_test_agrees_with_the_full_match() {
        let full = |t: &str| {
            let squeezed = squeeze_lowercase(t);
            DESTRUCTIVE_IDIOMS.iter().any(|i| squeezed.contains(i))
        };
        let texts = [
            "ls -la",
            "RM\t -Rf /",
            "please Drop\n\nTable users;",
            "a formatted string",
            "FORMAT   C:",
            "git  PUSH -f origin",
            "dD If=/dev/zero",
            "hello world",
            "",
            ":(){ :|:& };:",
            "Kelvin \u{212A} delete from t",
            "\u{212A}",
        ];
        for t in texts {
            assert_eq!(holds_idiom(t), full(t), "{t:?}");
        }
        assert!(holds_idiom("RM\t -Rf /"));
        assert!(!holds_idiom("a formatted string"));
    }

    #[test]
    fn code_keys_match_in_any_case() {
        assert!(is_code_key("Command"));
        assert!(is_code_key("SQL"));
        assert!(!is_code_key("commands"));
        assert!(!is_code_key("sq\u{0130}"));
    }

    /// Remembered names give the same risk as working them out each time,
    /// and the memory stops growing at its bound.
    #[test]
    fn remembered_names_give_the_same_risk() {
        let mut names = NameTags::default();
        let de = ToolHints {
            destructive: Some(true),
            ..Default::default()
        };
        for _ in 0..2 {
            for (tool, args, hints) in [
                ("read_file", json!({"path": "/tmp"}), ToolHints::default()),
                ("runShell", json!({"cmd": "rm -rf /"}), ToolHints::default()),
                ("get_thing", json!({}), de),
            ] {
                assert_eq!(
                    names.risk(tool, Some(&args), &hints),
                    default_risk(tool, Some(&args), &hints)
                );
            }
        }
        for i in 0..NameTags::MAX + 10 {
            names.risk(&format!("tool_{i}"), None, &ToolHints::default());
        }
        assert_eq!(names.known.len(), NameTags::MAX);
        assert_eq!(
            names.risk("delete_it", None, &ToolHints::default()),
            default_risk("delete_it", None, &ToolHints::default())
        );
    }
}
