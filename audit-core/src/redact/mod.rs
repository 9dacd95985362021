//! Redaction: no secret reaches disk.
//!
//! A [`Redactor`] is built once from a [`RedactConfig`] and then rewrites the
//! `serde_json::Value`s of [`crate::event::Event`]s in place, before they are
//! stamped. It never sees, and so never changes, the bytes the proxy relays.
//!
//! What it removes (details and honest limits in `docs/redaction.md`):
//!
//! - by name ([`keys`]): the value under a secret-looking object key
//!   (`password`, `apiKey`, `Set-Cookie`, `DB_PASSWORD`, …), the value after a
//!   `--token` flag in an argument array, the `value` of a `{"name":
//!   "Authorization", "value": …}` pair, and `NAME=value` inside text;
//! - by value (`patterns`): provider tokens (AWS, GitHub, GitLab, Slack,
//!   Stripe, OpenAI, Anthropic, Google), JWTs, `Bearer`/`Basic` credentials,
//!   PEM private keys, Luhn-valid card numbers, user regexes, anywhere in any
//!   string;
//! - in URLs (`url`): the password of `user:password@`, and secret-named
//!   query parameters.
//!
//! Each removal leaves a marker naming its kind (`<redacted:github_token>`,
//! see [`marker`]), or in keyed mode a short HMAC tag of the secret
//! ([`keyed`]). Long strings are then cut to `max_field_chars`.
//!
//! Invariant: redaction is idempotent. A marker never matches a rule (matches
//! overlapping a marker are skipped) and a cut string is not cut again, so
//! running the redactor over its own output changes nothing.

mod error;
mod event_fields;
pub mod keyed;
pub mod keys;
pub mod luhn;
pub mod marker;
mod patterns;
mod precheck;
mod url;
mod walk;

#[cfg(any(test, feature = "test-support"))]
pub mod corpus;
#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod prop_tests;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

pub use error::RedactError;
pub use keyed::HmacKey;

pub(crate) use event_fields::is_protected as is_protected_detail;

use keys::KeyMatcher;
use patterns::{Hit, PatternSet};

/// Default longest string kept whole, in chars.
pub const DEFAULT_MAX_FIELD_CHARS: usize = 500;

/// Rounds of re-scanning a string whose redaction exposed a new match.
const MAX_ROUNDS: usize = 3;

/// What to redact, and how.
#[derive(Debug, Clone)]
pub struct RedactConfig {
    /// Remove secrets. When false, strings are still truncated.
    pub enabled: bool,
    /// More secret key names, matched like the built-in ones (any case, `-`,
    /// `_` and camelCase alike) but only as whole names.
    pub extra_keys: Vec<String>,
    /// More value rules: (kind, regex). The kind is `[a-z0-9_.-]{1,64}` and
    /// appears in the marker; a regex with a capture group redacts only its
    /// first group.
    pub extra_patterns: Vec<(String, String)>,
    /// Strings longer than this many chars are cut (0: never).
    pub max_field_chars: usize,
    /// Keyed mode: replace each secret by an HMAC tag of it.
    pub hmac_key: Option<HmacKey>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            enabled: true,
            extra_keys: Vec::new(),
            extra_patterns: Vec::new(),
            max_field_chars: DEFAULT_MAX_FIELD_CHARS,
            hmac_key: None,
        }
    }
}

/// The kinds of secret removed so far (for `details.redactions`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Redactions {
    kinds: BTreeSet<Arc<str>>,
    count: usize,
}

impl Redactions {
    /// True if nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many secrets were removed (one per marker written).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The kinds removed, sorted, each once.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.iter().map(|k| &**k)
    }

    /// Adds everything `other` removed.
    pub fn merge(&mut self, other: &Redactions) {
        self.kinds.extend(other.kinds.iter().cloned());
        self.count += other.count;
    }

    fn add(&mut self, kind: &Arc<str>) {
        if !self.kinds.contains(kind) {
            self.kinds.insert(kind.clone());
        }
        self.count += 1;
    }
}

/// Removes secrets from event payloads. Built once; `Send + Sync`.
#[derive(Debug)]
pub struct Redactor {
    enabled: bool,
    keys: KeyMatcher,
    patterns: PatternSet,
    hmac: Option<HmacKey>,
    max_field_chars: usize,
}

impl Redactor {
    /// Compiles `cfg`; fails on a bad user key or pattern, naming it.
    pub fn new(cfg: &RedactConfig) -> Result<Redactor, RedactError> {
        for k in &cfg.extra_keys {
            if keys::normalise(k).is_empty() {
                return Err(RedactError::BadKeyName { key: k.clone() });
            }
        }
        Ok(Redactor {
            enabled: cfg.enabled,
            keys: KeyMatcher::new(&cfg.extra_keys),
            patterns: PatternSet::new(&cfg.extra_patterns)?,
            hmac: cfg.hmac_key.clone(),
            max_field_chars: cfg.max_field_chars,
        })
    }

    /// Redacts `v` in place: secrets by key name and by value, then cuts long
    /// strings. What was removed is added to `found`.
    pub fn redact_value(&self, v: &mut Value, found: &mut Redactions) {
        walk::redact(self, v, found);
    }

    /// `s` with every secret found by value replaced by its marker, or `None`
    /// if there is none. Does not truncate (see [`Redactor::truncate`]).
    pub fn redact_text(&self, s: &str, found: &mut Redactions) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let mut current: Option<String> = None;
        let mut hits = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let text = current.as_deref().unwrap_or(s);
            hits.clear();
            self.patterns.scan(text, &self.keys, &mut hits);
            if hits.is_empty() {
                break;
            }
            let kept = without_marker_overlaps(text, &mut hits);
            if kept == 0 {
                break;
            }
            current = Some(self.replace(text, &mut hits, found));
        }
        current
    }

    /// `s` cut to `max_field_chars` (see [`marker::truncate`]), or `None`.
    pub fn truncate(&self, s: &str) -> Option<String> {
        marker::truncate(s, self.max_field_chars)
    }

    /// The marker replacing `secret` of `kind`.
    fn marker(&self, kind: &str, secret: &str) -> String {
        let tag = self.hmac.as_ref().map(|k| k.tag(secret));
        marker::redacted(kind, tag.as_deref())
    }

    /// Builds `text` with the (merged) hits replaced by markers.
    fn replace(&self, text: &str, hits: &mut [Hit], found: &mut Redactions) -> String {
        hits.sort_unstable_by_key(|h| (h.start, h.rank));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        let mut i = 0;
        while i < hits.len() {
            // Overlapping hits become one marker, named by the most specific
            // rule among them (`Bearer <jwt>` is a `jwt`).
            let start = hits[i].start;
            let mut end = hits[i].end;
            let mut best = &hits[i];
            i += 1;
            while i < hits.len() && hits[i].start < end {
                end = end.max(hits[i].end);
                if hits[i].rank < best.rank {
                    best = &hits[i];
                }
                i += 1;
            }
            out.push_str(&text[at..start]);
            out.push_str(&self.marker(&best.kind, &text[start..end]));
            found.add(&best.kind);
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// Drops the hits that overlap a marker already in `text`; returns how many
/// are left. Hits of length zero were never pushed.
fn without_marker_overlaps(text: &str, hits: &mut Vec<Hit>) -> usize {
    if !text.contains('<') && !text.contains('…') {
        return hits.len();
    }
    let mut spans = Vec::new();
    marker::spans(text, &mut spans);
    hits.retain(|h| !spans.iter().any(|&(s, e)| h.start < e && s < h.end));
    hits.len()
}

#[cfg(test)]
mod tests;
