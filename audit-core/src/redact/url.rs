//! Secrets carried by URLs and HTTP credentials: the password in
//! `scheme://user:password@host`, secret-named query (or fragment) parameters
//! such as `?api_key=…` or `#access_token=…`, and `Basic` credentials.
//!
//! These are regex sources compiled with the other value rules in
//! [`super::patterns`]; whether a parameter name is secret is decided by
//! [`super::keys::KeyMatcher::is_query_secret`].

use base64::Engine;

/// `scheme://[user]:password@`: group 1 is the password. The user part may be
/// empty (`redis://:pw@host`); the password may hold an unencoded `@` (the
/// match runs to the last `@` before the path).
pub const USERINFO: &str =
    r#"(?-u:\b)[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/?#@<>"']*:([^\s/?#<>"']+)@"#;

/// `?name=value`, `&name=value`, `;name=value` or `#name=value`: group 1 is
/// the name, group 2 the value.
pub const QUERY_PARAM: &str = r#"[?&;#]([A-Za-z0-9_.\[\]-]+)=([^&#\s"'<>]+)"#;

/// True if `b64` is standard base64 of UTF-8 `user:password`.
pub fn is_basic_credentials(b64: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .is_some_and(|s| s.len() >= 3 && s.contains(':') && !s.contains(char::is_control))
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn group(re: &str, s: &str, g: usize) -> Option<String> {
        Regex::new(re)
            .unwrap()
            .captures(s)
            .and_then(|c| c.get(g))
            .map(|m| m.as_str().to_owned())
    }

    #[test]
    fn userinfo_password_is_group_one() {
        let p = |s| group(USERINFO, s, 1);
        assert_eq!(
            p("https://alice:hunter2@example.com/x").as_deref(),
            Some("hunter2")
        );
        assert_eq!(p("redis://:s3cret@cache:6379/0").as_deref(), Some("s3cret"));
        assert_eq!(p("postgres://u:p@ss@db/app").as_deref(), Some("p@ss"));
        assert_eq!(p("https://example.com:8443/path@x"), None);
        assert_eq!(p("mailto:alice@example.com"), None);
        assert_eq!(p("https://u:<redacted:url_password>@h"), None);
    }

    #[test]
    fn query_parameters_split_name_and_value() {
        let re = Regex::new(QUERY_PARAM).unwrap();
        let pairs: Vec<_> = re
            .captures_iter("https://h/p?api_key=abc&page=2#access_token=xyz")
            .map(|c| (c[1].to_owned(), c[2].to_owned()))
            .collect();
        assert_eq!(
            pairs,
            [("api_key", "abc"), ("page", "2"), ("access_token", "xyz")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    #[test]
    fn basic_credentials_need_a_colon() {
        assert!(is_basic_credentials("YWxhZGRpbjpvcGVuc2VzYW1l")); // aladdin:opensesame
        assert!(!is_basic_credentials("aGVsbG8gd29ybGQ=")); // hello world
        assert!(!is_basic_credentials("understanding"));
    }
}
