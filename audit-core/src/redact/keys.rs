//! Secret *names*: which object keys, query parameters, `NAME=value`
//! assignments and `--flag value` pairs hold a secret.
//!
//! Names are compared in a normalised form: ASCII letters lower-cased, every
//! character that is not an ASCII letter or digit dropped. So `apiKey`, `api_key`,
//! `API-KEY` and `x.api.key`'s tail all normalise to `apikey`.
//!
//! A name is secret if its normalised form is one of [`EXACT`] (or a
//! configured extra key), or ends with one of [`SUFFIXES`] (`db_password`,
//! `githubToken`, `openai_api_key`) and is not one of [`NOT_SECRET`] (MCP's
//! `progressToken`, pagination tokens). The redaction kind is `key:<entry>`,
//! naming the list entry that matched, so `apiKey` and `x-api-key` both report
//! `key:apikey`.

use std::collections::HashSet;
use std::sync::Arc;

/// Normalised names that are secret when they are the whole name.
pub const EXACT: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "apikey",
    "xapikey",
    "secret",
    "clientsecret",
    "credential",
    "credentials",
    "authorization",
    "proxyauthorization",
    "auth",
    "bearer",
    "cookie",
    "setcookie",
    "privatekey",
    "session",
    "secretkey",
    "secretaccesskey",
];

/// Normalised endings that make a longer name secret.
pub const SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "secretkey",
    "accesskey",
    "credential",
    "credentials",
];

/// Normalised names that end like a secret but are protocol bookkeeping.
pub const NOT_SECRET: &[&str] = &[
    "progresstoken",
    "pagetoken",
    "nextpagetoken",
    "nexttoken",
    "continuationtoken",
    "maxtoken",
    "accesskeyid",
];

/// Extra names secret only as URL query parameters (`?sig=`, `?key=`).
pub const QUERY_ONLY: &[&str] = &[
    "sig",
    "signature",
    "key",
    "code",
    "xamzsignature",
    "xamzcredential",
    "xgoogsignature",
    "xgoogcredential",
];

/// One secret name.
#[derive(Debug, Clone)]
struct Entry {
    name: Box<str>,
    kind: Arc<str>,
    /// Also secret as the ending of a longer name.
    suffix: bool,
}

/// Decides whether a name holds a secret, and with which kind.
///
/// Names are kept in buckets by their last character, so a lookup compares a
/// name with the few entries that could match it, without hashing.
#[derive(Debug, Clone)]
pub struct KeyMatcher {
    buckets: Vec<Vec<Entry>>,
    query_only: HashSet<Box<str>>,
}

/// Longest name normalised on the stack; longer names are normalised on the heap.
const STACK_NAME: usize = 64;

/// The bucket of a normalised name: by its last byte (`a`-`z`, `0`-`9`).
fn bucket_of(n: &str) -> Option<usize> {
    match *n.as_bytes().last()? {
        b @ b'a'..=b'z' => Some(usize::from(b - b'a')),
        b @ b'0'..=b'9' => Some(26 + usize::from(b - b'0')),
        _ => None,
    }
}

impl KeyMatcher {
    /// The built-in names plus `extra` (already validated by the caller: each
    /// must normalise to something non-empty).
    pub fn new(extra: &[String]) -> KeyMatcher {
        let mut m = KeyMatcher {
            buckets: vec![Vec::new(); 36],
            query_only: QUERY_ONLY.iter().map(|n| (*n).into()).collect(),
        };
        for e in extra {
            m.add(&normalise(e), false);
        }
        for n in EXACT {
            m.add(n, false);
        }
        for n in SUFFIXES {
            m.add(n, true);
        }
        m
    }

    fn add(&mut self, n: &str, suffix: bool) {
        let Some(b) = bucket_of(n) else { return };
        self.buckets[b].push(Entry {
            name: n.into(),
            kind: format!("key:{n}").into(),
            suffix,
        });
    }

    /// The redaction kind if `name` (as written, any case or separators)
    /// holds a secret.
    pub fn kind(&self, name: &str) -> Option<&Arc<str>> {
        with_normalised(name, |n| self.kind_of_normalised(n))
    }

    /// True if a URL query parameter called `name` holds a secret: a secret
    /// name, or one of the [`QUERY_ONLY`] names.
    pub fn is_query_secret(&self, name: &str) -> bool {
        with_normalised(name, |n| {
            (self.kind_of_normalised(n).is_some() || self.query_only.contains(n)).then_some(())
        })
        .is_some()
    }

    fn kind_of_normalised(&self, n: &str) -> Option<&Arc<str>> {
        let bucket = &self.buckets[bucket_of(n)?];
        if let Some(e) = bucket.iter().find(|e| *e.name == *n) {
            return Some(&e.kind);
        }
        if NOT_SECRET.contains(&n) {
            return None;
        }
        bucket
            .iter()
            .find(|e| e.suffix && n.len() > e.name.len() && n.ends_with(&*e.name))
            .map(|e| &e.kind)
    }
}

/// The normalised form of a name: its ASCII letters (lower-cased) and digits
/// only. Names are compared on this form, so other characters never count.
pub fn normalise(name: &str) -> String {
    name.bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect()
}

/// Runs `f` on the normalised `name` without allocating for short ASCII names.
fn with_normalised<T>(name: &str, f: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    if name.len() <= STACK_NAME {
        let mut buf = [0u8; STACK_NAME];
        let mut n = 0;
        for b in name.bytes().filter(u8::is_ascii_alphanumeric) {
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
        // Only ASCII letters and digits were copied (any byte of a multi-byte
        // char fails `is_ascii_alphanumeric`).
        let s = std::str::from_utf8(&buf[..n]).expect("ASCII is UTF-8");
        f(s)
    } else {
        f(&normalise(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(m: &KeyMatcher, n: &str) -> Option<String> {
        m.kind(n).map(|k| k.to_string())
    }

    #[test]
    fn spellings_of_one_name_normalise_alike() {
        let m = KeyMatcher::new(&[]);
        for n in ["apiKey", "api_key", "API-KEY", "Api.Key", "x-api-key"] {
            assert!(kind(&m, n).unwrap().starts_with("key:"), "{n}");
        }
        assert_eq!(kind(&m, "apiKey").unwrap(), "key:apikey");
        assert_eq!(kind(&m, "Set-Cookie").unwrap(), "key:setcookie");
    }

    #[test]
    fn suffixes_catch_prefixed_names_but_not_bookkeeping() {
        let m = KeyMatcher::new(&[]);
        assert_eq!(kind(&m, "DB_PASSWORD").unwrap(), "key:password");
        assert_eq!(kind(&m, "githubToken").unwrap(), "key:token");
        assert_eq!(kind(&m, "AWS_SECRET_ACCESS_KEY").unwrap(), "key:accesskey");
        for n in ["progressToken", "nextPageToken", "max_tokens", "tokenizer"] {
            assert_eq!(kind(&m, n), None, "{n}");
        }
        for n in ["name", "path", "author", "sessionId", "keyboard", "user"] {
            assert_eq!(kind(&m, n), None, "{n}");
        }
    }

    #[test]
    fn extra_keys_and_query_only_names() {
        let m = KeyMatcher::new(&["X-Tenant-PIN".to_owned()]);
        assert_eq!(kind(&m, "x_tenant_pin").unwrap(), "key:xtenantpin");
        assert_eq!(m.kind("sig"), None);
        assert!(m.is_query_secret("sig"));
        assert!(m.is_query_secret("X-Amz-Signature"));
        assert!(m.is_query_secret("access_token"));
        assert!(!m.is_query_secret("page"));
    }

    #[test]
    fn long_and_non_ascii_names() {
        let m = KeyMatcher::new(&[]);
        let long = format!("{}_password", "x".repeat(100));
        assert_eq!(kind(&m, &long).unwrap(), "key:password");
        assert_eq!(kind(&m, "Pässwörter"), None);
        assert_eq!(kind(&m, "пароль_token").unwrap(), "key:token");
        assert_eq!(kind(&m, "ПАРОЛЬ"), None);
    }
}
