//! Secrets recognised by their *value*, anywhere inside a string.
//!
//! Every rule is compiled once, twice over: into one [`RegexSet`] that says in
//! a single pass which rules match at all (most strings match none, and the
//! scan stops there), and into its own [`Regex`] that then finds where. A rule
//! names the capture group holding the secret (the rest is context, such as
//! `Bearer ` or `password=`), and may add a check a regex cannot express: the
//! Luhn checksum of a card number, or whether the `NAME` in `NAME=value` is a
//! secret name (see [`super::keys`]).
//!
//! The formats follow the public rule sets of gitleaks and trufflehog, kept to
//! the issuers listed in `docs/redaction.md`. Word boundaries are ASCII
//! (`(?-u:\b)`) so the lazy DFA never has to give up on non-ASCII text.

use std::sync::{Arc, OnceLock};

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::keys::KeyMatcher;
use super::luhn::is_card_number;
use super::precheck::could_hold_secret;
use super::url;
use super::RedactError;

/// Shortest string any built-in rule can match (`a://b:c@`); shorter strings
/// are not scanned at all. User rules lower it to 1 when they are present.
const MIN_BUILT_IN_MATCH: usize = 8;

/// Words that make `NAME=value` / `--NAME value` worth a look; the name found
/// is then confirmed by [`KeyMatcher`].
const NAME_WORDS: &str = r"(?i-u:pass(?:wd|word|phrase)?|pwd|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|credentials?|authorization|cookie|session|auth|bearer)";

/// A check a match must also pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    /// The secret is a card number with a valid Luhn checksum and issuer.
    Card,
    /// The secret looks machine-made (has a digit, or is long).
    Opaque,
    /// The secret is base64 of `user:password`.
    BasicCredentials,
    /// Group 1 is a secret name; the kind comes from it.
    SecretName,
    /// Group 1 is a secret URL query parameter name.
    QueryName,
}

/// One value rule.
#[derive(Debug)]
struct Rule {
    kind: Arc<str>,
    /// Compiled the first time the set finds a match of this rule: a
    /// session with no secret of this kind never pays for it. (Compiling
    /// every built-in rule took ~1.4 ms of the auditor's start-up, on the
    /// cores the server and the first request need; the set, which every
    /// scan uses, ~0.6 ms.) A user rule is compiled at once, to check it.
    regex: OnceLock<Regex>,
    source: String,
    /// The secret is the first participating group from this index on (0:
    /// the whole match).
    secret_from: usize,
    check: Check,
}

/// Where a secret was found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pub kind: Arc<str>,
    /// Index of the rule: lower is more specific, and wins an overlap.
    pub rank: usize,
}

/// The built-in rules, most specific first: (kind, regex, secret group, check).
fn built_in() -> Vec<(&'static str, String, usize, Check)> {
    let b = r"(?-u:\b)";
    vec![
        (
            "private_key",
            r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.-]*)".into(),
            0,
            Check::None,
        ),
        ("jwt", format!(r"{b}ey[A-Za-z0-9_-]{{10,}}\.ey[A-Za-z0-9_-]{{10,}}\.[A-Za-z0-9_-]*"), 0, Check::None),
        (
            "aws_access_key_id",
            format!(r"{b}(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{{16}}{b}"),
            0,
            Check::None,
        ),
        (
            "github_token",
            format!(r"{b}(?:gh[pousr]_[A-Za-z0-9]{{36,255}}|github_pat_[A-Za-z0-9_]{{22,255}}){b}"),
            0,
            Check::None,
        ),
        ("gitlab_token", format!(r"{b}gl(?:pat|dt|ptt|rt|oas)-[A-Za-z0-9_-]{{20,}}"), 0, Check::None),
        (
            "slack_webhook",
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,}".into(),
            0,
            Check::None,
        ),
        ("slack_token", format!(r"{b}xox[baprse]-[A-Za-z0-9-]{{15,}}"), 0, Check::None),
        ("stripe_key", format!(r"{b}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{{16,}}"), 0, Check::None),
        ("anthropic_key", format!(r"{b}sk-ant-[A-Za-z0-9_-]{{20,}}"), 0, Check::None),
        (
            "openai_key",
            format!(r"{b}sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{20,}}|[A-Za-z0-9]{{20,}}{b})"),
            0,
            Check::None,
        ),
        ("google_api_key", format!(r"{b}AIza[A-Za-z0-9_-]{{35}}"), 0, Check::None),
        ("credit_card", format!(r"{b}[0-9](?:[ -]?[0-9]){{12,18}}{b}"), 0, Check::Card),
        ("bearer_token", format!(r"{b}(?i-u:bearer)\s+([A-Za-z0-9._~+/-]{{12,}}=*)"), 1, Check::Opaque),
        ("basic_auth", format!(r"{b}Basic\s+([A-Za-z0-9+/]{{6,}}={{0,2}})"), 1, Check::BasicCredentials),
        ("url_password", url::USERINFO.into(), 1, Check::None),
        ("query_param", url::QUERY_PARAM.into(), 2, Check::QueryName),
        (
            "key",
            format!(
                r#"([A-Za-z0-9_.-]*{NAME_WORDS}[A-Za-z0-9_.-]*)["']?[ \t]{{0,3}}[:=][ \t]{{0,3}}(?:"((?:[^"\\\r\n]|\\.)+)(?:"|$)|'([^'\r\n]+)(?:'|$)|((?:(?i-u:bearer|basic|token|digest)[ \t]+)?[^\s"'<>,;&]+))"#
            ),
            2,
            Check::SecretName,
        ),
        (
            "key",
            format!(r#"(?:^|(?-u:\s))--?([A-Za-z0-9_.-]*{NAME_WORDS}[A-Za-z0-9_.-]*)[ \t]+([^\s"'<>-][^\s"'<>]*)"#),
            2,
            Check::SecretName,
        ),
    ]
}

/// All value rules, compiled.
#[derive(Debug)]
pub struct PatternSet {
    set: RegexSet,
    rules: Vec<Rule>,
    min_len: usize,
    /// User rules can match anything, so the pre-check is skipped.
    has_user_rules: bool,
}

impl PatternSet {
    /// The built-in rules followed by `extra` (name, regex) user rules. A user
    /// rule with a capture group redacts its first group; otherwise the whole
    /// match.
    pub fn new(extra: &[(String, String)]) -> Result<PatternSet, RedactError> {
        let mut sources = Vec::new();
        let mut rules = Vec::new();
        for (kind, src, secret_from, check) in built_in() {
            rules.push(Rule {
                kind: kind.into(),
                regex: OnceLock::new(),
                source: src.clone(),
                secret_from,
                check,
            });
            sources.push(src);
        }
        for (name, src) in extra {
            rules.push(user_rule(name, src)?);
            sources.push(src.clone());
        }
        let set = RegexSetBuilder::new(&sources)
            .size_limit(64 << 20)
            .build()
            .expect("rules that compiled one by one compile as a set");
        let min_len = if extra.is_empty() {
            MIN_BUILT_IN_MATCH
        } else {
            1
        };
        Ok(PatternSet {
            set,
            rules,
            min_len,
            has_user_rules: !extra.is_empty(),
        })
    }

    /// True if a rule other than the card rule matches `s`, without the
    /// pre-check (for testing it).
    #[cfg(test)]
    pub fn matches_unfiltered_but_cards(&self, s: &str) -> bool {
        self.set
            .matches(s)
            .iter()
            .any(|rank| self.rules[rank].check != Check::Card)
    }

    /// [`PatternSet::scan`] without the pre-check (for testing it).
    #[cfg(test)]
    pub fn scan_unfiltered(&self, s: &str, keys: &KeyMatcher, hits: &mut Vec<Hit>) {
        self.scan_all(s, keys, hits);
    }

    /// Appends every secret found in `s` to `hits` (unordered, possibly
    /// overlapping).
    pub fn scan(&self, s: &str, keys: &KeyMatcher, hits: &mut Vec<Hit>) {
        if s.len() < self.min_len || (!self.has_user_rules && !could_hold_secret(s)) {
            return;
        }
        self.scan_all(s, keys, hits);
    }

    fn scan_all(&self, s: &str, keys: &KeyMatcher, hits: &mut Vec<Hit>) {
        let matched = self.set.matches(s);
        if !matched.matched_any() {
            return;
        }
        for rank in matched.iter() {
            let rule = &self.rules[rank];
            for caps in rule.regex().captures_iter(s) {
                let Some(m) = (rule.secret_from..caps.len()).find_map(|i| caps.get(i)) else {
                    continue;
                };
                if m.is_empty() {
                    continue;
                }
                let kind = match rule.check {
                    Check::None => Some(&rule.kind),
                    Check::Card => is_card_number(m.as_str()).then_some(&rule.kind),
                    Check::Opaque => looks_opaque(m.as_str()).then_some(&rule.kind),
                    Check::BasicCredentials => {
                        url::is_basic_credentials(m.as_str()).then_some(&rule.kind)
                    }
                    Check::SecretName => caps.get(1).and_then(|n| keys.kind(n.as_str())),
                    Check::QueryName => caps
                        .get(1)
                        .is_some_and(|n| keys.is_query_secret(n.as_str()))
                        .then_some(&rule.kind),
                };
                if let Some(kind) = kind {
                    hits.push(Hit {
                        start: m.start(),
                        end: m.end(),
                        kind: kind.clone(),
                        rank,
                    });
                }
            }
        }
    }
}

fn user_rule(name: &str, src: &str) -> Result<Rule, RedactError> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
    if !name_ok {
        return Err(RedactError::BadPatternName {
            name: name.to_owned(),
        });
    }
    let regex = RegexBuilder::new(src)
        .size_limit(8 << 20)
        .build()
        .map_err(|source| RedactError::BadPattern {
            name: name.to_owned(),
            pattern: src.to_owned(),
            source,
        })?;
    if regex.is_match("") {
        return Err(RedactError::EmptyMatch {
            name: name.to_owned(),
            pattern: src.to_owned(),
        });
    }
    let secret_from = usize::from(regex.captures_len() > 1);
    Ok(Rule {
        kind: name.into(),
        regex: OnceLock::from(regex),
        source: src.to_owned(),
        secret_from,
        check: Check::None,
    })
}

impl Rule {
    fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| {
            // A built-in rule (user rules are compiled already); a test
            // compiles every one of them.
            Regex::new(&self.source).expect("built-in redaction rules compile")
        })
    }
}

/// A credential after `Bearer` is machine-made: it has a digit, or is long.
/// This keeps "the bearer instruments" out.
fn looks_opaque(s: &str) -> bool {
    s.len() >= 24 || s.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(String, String)> {
        let p = PatternSet::new(&[]).unwrap();
        let mut hits = Vec::new();
        p.scan(s, &KeyMatcher::new(&[]), &mut hits);
        hits.sort_by_key(|h| (h.start, h.rank));
        hits.into_iter()
            .map(|h| (h.kind.to_string(), s[h.start..h.end].to_owned()))
            .collect()
    }

    #[test]
    fn every_built_in_rule_compiles_alone() {
        // They are compiled on first use (`Rule::regex`), so a rule that
        // would not compile must fail here, not mid-session.
        for (kind, src, secret_from, _) in built_in() {
            let regex = Regex::new(&src).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(regex.captures_len() > secret_from, "{kind}");
        }
    }

    #[test]
    fn a_rule_is_compiled_only_once_it_matches() {
        let p = PatternSet::new(&[("ticket".into(), r"TICKET-\d{4}".into())]).unwrap();
        let keys = KeyMatcher::new(&[]);
        let compiled = |p: &PatternSet| p.rules.iter().filter(|r| r.regex.get().is_some()).count();
        assert_eq!(compiled(&p), 1, "the user rule, checked at once");
        let mut hits = Vec::new();
        p.scan("nothing to see here, twice over", &keys, &mut hits);
        assert!(hits.is_empty());
        assert_eq!(compiled(&p), 1);
        p.scan("key AKIAABCDEFGHIJKLMNOP in text", &keys, &mut hits);
        assert_eq!(hits.len(), 1);
        assert_eq!(compiled(&p), 2, "the rule that matched");
    }

    #[test]
    fn context_is_kept_and_only_the_secret_is_hit() {
        assert_eq!(
            kinds("Authorization: Bearer abc123def456ghi789"),
            vec![
                (
                    "key:authorization".into(),
                    "Bearer abc123def456ghi789".into()
                ),
                ("bearer_token".into(), "abc123def456ghi789".into()),
            ]
        );
        assert_eq!(
            kinds("export DB_PASSWORD='s3cr et'"),
            vec![("key:password".into(), "s3cr et".into())]
        );
        assert_eq!(
            kinds(r#"{"api_key": "k-123"}"#),
            vec![("key:apikey".into(), "k-123".into())]
        );
        assert_eq!(
            kinds("run --token abc123 --verbose"),
            vec![("key:token".into(), "abc123".into())]
        );
    }

    #[test]
    fn ordinary_text_has_no_hits() {
        for s in [
            "the bearer instruments were signed",
            "passport=X1234567 author=jane",
            "max_tokens=4096 progressToken=7",
            "see https://example.com/a?page=2&sort=asc",
            "order 1234567812345670 shipped", // Luhn-valid, no issuer
            "2024-05-01T10:00:00Z",
        ] {
            assert_eq!(kinds(s), vec![], "{s}");
        }
    }

    #[test]
    fn user_rules_are_validated() {
        let bad = |n: &str, r: &str| PatternSet::new(&[(n.to_owned(), r.to_owned())]).unwrap_err();
        assert!(matches!(
            bad("Bad Name", "x"),
            RedactError::BadPatternName { .. }
        ));
        let e = bad("emp_id", "E(");
        assert!(
            e.to_string().contains("emp_id") && e.to_string().contains("E("),
            "{e}"
        );
        assert!(matches!(bad("any", "x*"), RedactError::EmptyMatch { .. }));
    }

    #[test]
    fn user_rule_with_group_redacts_only_the_group() {
        let p = PatternSet::new(&[("employee_id".into(), r"EMP-(\d{6})".into())]).unwrap();
        let mut hits = Vec::new();
        p.scan("ask EMP-123456 now", &KeyMatcher::new(&[]), &mut hits);
        assert_eq!(hits.len(), 1);
        assert_eq!(&*hits[0].kind, "employee_id");
        assert_eq!((hits[0].start, hits[0].end), (8, 14));
    }
}
