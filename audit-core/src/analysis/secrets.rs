//! `audit-secrets`: existing trail lines re-scanned with today's redaction
//! rules, to find what an older version or configuration let through.
//!
//! Each line's payload fields (the fields the proxy redacts: `method`,
//! `tool`, `jsonrpc_id`, `arguments`, `result`, `error.message`,
//! `error.data`, `excerpt` and `details`, less its hashes and seeds) are
//! redacted on a copy; every leaf that changes holds a secret. Its kind is
//! read from the marker that replaced it, its place is the JSON path of the
//! leaf, and only a hint of it is kept ([`hint`]): the secret itself never
//! leaves this module. Markers already in the trail are redactions done at
//! write time and are not findings (redaction is idempotent).

use std::path::Path;

use serde_json::{Map, Value};

use crate::config::Settings;
use crate::redact::marker::{self, REDACTED_OPEN};
use crate::redact::{RedactConfig, RedactError, Redactions, Redactor};
use crate::trail::read::for_each_line;
use crate::trail::{Issue, TrailError};

/// One secret found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFound {
    /// The JSON path of the field: `arguments.items[1]`, `details.uri`.
    pub field: String,
    /// The kind of secret, as its marker names it (`github_token`).
    pub kind: String,
    /// What may be shown of it (see [`hint`]).
    pub hint: String,
}

/// The redaction rules of a re-scan: always on, never truncating, with the
/// custom keys and patterns of the settings.
#[derive(Debug)]
pub struct Rescanner {
    redactor: Redactor,
}

impl Rescanner {
    /// Today's built-in rules plus the settings' `redact_keys` and
    /// `redact_patterns` (whether `redact_sensitive` is on or not).
    pub fn from_settings(settings: &Settings) -> Result<Rescanner, RedactError> {
        let a = &settings.audit;
        let patterns = a.redact_patterns.value.0.iter();
        Rescanner::new(RedactConfig {
            extra_keys: a.redact_keys.value.clone(),
            extra_patterns: patterns.map(|(k, v)| (k.clone(), v.clone())).collect(),
            ..RedactConfig::default()
        })
    }

    /// The rules of `cfg`, turned on, without truncation or keyed tags.
    pub fn new(cfg: RedactConfig) -> Result<Rescanner, RedactError> {
        let cfg = RedactConfig {
            enabled: true,
            max_field_chars: 0,
            hmac_key: None,
            ..cfg
        };
        Ok(Rescanner {
            redactor: Redactor::new(&cfg)?,
        })
    }

    /// The secrets in one audit line, or why it is not an event.
    pub fn scan_line(&self, line: &[u8]) -> Result<Vec<SecretFound>, String> {
        let event: Map<String, Value> =
            serde_json::from_slice(line).map_err(|e| format!("not an audit event: {e}"))?;
        let mut out = Vec::new();
        for name in [
            "method",
            "tool",
            "jsonrpc_id",
            "arguments",
            "result",
            "excerpt",
        ] {
            if let Some(v) = event.get(name) {
                self.scan_value(name.to_owned(), v, &mut out);
            }
        }
        if let Some(Value::Object(error)) = event.get("error") {
            for name in ["message", "data"] {
                if let Some(v) = error.get(name) {
                    self.scan_value(format!("error.{name}"), v, &mut out);
                }
            }
        }
        if let Some(Value::Object(details)) = event.get("details") {
            for (key, v) in details {
                if !crate::redact::is_protected_detail(key) {
                    self.scan_value(format!("details.{key}"), v, &mut out);
                }
            }
        }
        Ok(out)
    }

    fn scan_value(&self, mut path: String, v: &Value, out: &mut Vec<SecretFound>) {
        let mut red = v.clone();
        let mut found = Redactions::default();
        self.redactor.redact_value(&mut red, &mut found);
        if !found.is_empty() {
            changed_leaves(&mut path, v, &red, out);
        }
    }
}

/// Calls `each(line_number, secret)` for every secret in the audit file
/// `path` (plain or gzipped, streamed line by line); lines that are not
/// events go to `issue`.
pub fn rescan_file(
    path: &Path,
    rescanner: &Rescanner,
    each: &mut dyn FnMut(u64, SecretFound),
    issue: &mut dyn FnMut(Issue),
) -> Result<(), TrailError> {
    for_each_line(
        path,
        &mut |n, line| {
            for found in rescanner.scan_line(line)? {
                each(n, found);
            }
            Ok(())
        },
        issue,
    )
}

/// Every leaf where `orig` and `red` differ, as findings.
fn changed_leaves(path: &mut String, orig: &Value, red: &Value, out: &mut Vec<SecretFound>) {
    let len = path.len();
    match (orig, red) {
        (Value::Object(o), Value::Object(r)) => {
            for (k, ov) in o {
                if let Some(rv) = r.get(k) {
                    path.push('.');
                    path.push_str(k);
                    changed_leaves(path, ov, rv, out);
                    path.truncate(len);
                }
            }
        }
        (Value::Array(o), Value::Array(r)) if o.len() == r.len() => {
            for (i, (ov, rv)) in o.iter().zip(r).enumerate() {
                path.push_str(&format!("[{i}]"));
                changed_leaves(path, ov, rv, out);
                path.truncate(len);
            }
        }
        (Value::String(o), Value::String(r)) if o != r => {
            for (kind, secret) in secrets_in(o, r) {
                out.push(SecretFound {
                    field: path.clone(),
                    kind,
                    hint: hint(secret),
                });
            }
        }
        (o, Value::String(r)) if o != red => {
            // A whole value (a number, an object) under a secret name.
            out.push(SecretFound {
                field: path.clone(),
                kind: kinds(r).into_iter().next().unwrap_or_default(),
                hint: hint(&o.to_string()),
            });
        }
        _ => {}
    }
}

/// The kinds of the redaction markers in `s`, in order.
fn kinds(s: &str) -> Vec<String> {
    markers(s)
        .into_iter()
        .map(|(a, b)| {
            let body = &s[a + REDACTED_OPEN.len()..b - 1];
            body.split(':').next().unwrap_or(body).to_owned()
        })
        .collect()
}

/// The byte ranges of the redaction markers (not truncation) in `s`.
fn markers(s: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    marker::spans(s, &mut spans);
    spans.retain(|&(a, _)| s[a..].starts_with(REDACTED_OPEN));
    spans
}

/// Each new marker of `red` with the text of `orig` it replaced (`""` when
/// it cannot be told apart from a neighbour), found by matching the text
/// between markers. Markers already in `orig` are left out.
fn secrets_in<'o>(orig: &'o str, red: &str) -> Vec<(String, &'o str)> {
    let spans = markers(red);
    let names = kinds(red);
    let mut out = Vec::new();
    let mut start = match spans.first() {
        Some(&(a, _)) if orig.starts_with(&red[..a]) => a,
        _ => return names.into_iter().map(|k| (k, "")).collect(),
    };
    for (i, &(_, b)) in spans.iter().enumerate() {
        let after = &red[b..spans.get(i + 1).map_or(red.len(), |s| s.0)];
        let end = if i + 1 == spans.len() {
            orig.len()
                .checked_sub(after.len())
                .filter(|&e| e >= start && orig.is_char_boundary(e) && orig[e..] == *after)
        } else if after.is_empty() {
            None
        } else {
            orig.get(start + 1..)
                .and_then(|rest| rest.find(after))
                .map(|at| start + 1 + at)
        };
        let Some(end) = end else {
            out.push((names[i].clone(), ""));
            break;
        };
        let secret = &orig[start..end];
        if !marker::is_redacted(secret) {
            out.push((names[i].clone(), secret));
        }
        start = end + after.len();
    }
    out
}

/// What may be shown of a secret: its first 4 characters when it has at
/// least 12 (so at most a third of it, and usually only a provider prefix
/// such as `ghp_`), and its length in characters.
pub fn hint(secret: &str) -> String {
    let n = secret.chars().count();
    if n >= 12 {
        let head: String = secret.chars().take(4).collect();
        format!("{head}… ({n} chars)")
    } else {
        format!("({n} chars)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GH: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

    fn scan(line: &str) -> Vec<SecretFound> {
        Rescanner::new(RedactConfig::default())
            .unwrap()
            .scan_line(line.as_bytes())
            .unwrap()
    }

    #[test]
    fn finds_fields_kinds_and_hints_never_the_secret() {
        let line = format!(
            r#"{{"type":"tool_call","tool":"t","arguments":{{"token":"s3cr3t-value-long","items":["x","see {GH} now"]}},"details":{{"arguments_hash":"{GH}"}},"hash":"{GH}"}}"#
        );
        let found = scan(&line);
        let fields: Vec<&str> = found.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            ["arguments.items[1]", "arguments.token"],
            "{found:?}"
        );
        assert_eq!(found[0].kind, "github_token");
        assert_eq!(found[0].hint, "ghp_… (40 chars)");
        assert_eq!(found[1].hint, "s3cr… (17 chars)");
        for f in &found {
            assert!(!f.hint.contains("abcdefgh") && !f.hint.contains("value"));
        }
    }

    #[test]
    fn markers_written_at_record_time_are_not_findings() {
        let line = r#"{"type":"tool_result","result":{"text":"key <redacted:github_token> ok","password":"<redacted:password>"}}"#;
        assert!(scan(line).is_empty());
    }

    #[test]
    fn two_secrets_in_one_string_each_get_their_hint() {
        let aws = "AKIAIOSFODNN7EXAMPLE";
        let text = format!("a {GH} b {aws} c");
        let found = secrets_in(
            &text,
            "a <redacted:github_token> b <redacted:aws_access_key_id> c",
        );
        assert_eq!(
            found,
            [
                ("github_token".into(), GH),
                ("aws_access_key_id".into(), aws)
            ]
        );
    }

    #[test]
    fn a_non_string_under_a_secret_name_is_found() {
        let found = scan(r#"{"type":"tool_call","arguments":{"password":123456789}}"#);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].field, "arguments.password");
        assert_eq!(found[0].hint, "(9 chars)");
    }

    #[test]
    fn a_line_that_is_not_json_is_an_issue() {
        let r = Rescanner::new(RedactConfig::default()).unwrap();
        assert!(r.scan_line(b"{oops").is_err());
    }
}
