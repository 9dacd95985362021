//! Test support: realistic fake secrets and look-alikes, generated from a seed.
//!
//! Compiled for this crate's tests and, with the `test-support` feature, for
//! other crates (the end-to-end tests push these through a real MCP client).
//! Every secret is random but has the real shape: the issuer's prefix and
//! length, a Luhn-valid card number, a JWT made of base64url JSON, a PEM block
//! of base64 lines. Nothing here is a real credential.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// One generated secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSecret {
    /// The redaction kind it must be reported as.
    pub kind: &'static str,
    /// The part that must never reach disk.
    pub secret: String,
    /// The secret as it appears in the wild (`Authorization: Bearer …`,
    /// `https://u:…@host`, or the secret alone); place this in events.
    pub in_text: String,
}

impl FakeSecret {
    /// Strings whose presence in output means a leak: the secret, and for a
    /// multi-line secret each of its lines of 16 chars or more.
    pub fn probes(&self) -> Vec<&str> {
        let mut p = vec![self.secret.as_str()];
        if self.secret.contains('\n') {
            p.extend(self.secret.lines().filter(|l| l.len() >= 16));
        }
        p
    }
}

/// A small deterministic generator (SplitMix64): tests need repeatable
/// randomness, not cryptographic quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const HEX: &[u8] = b"0123456789abcdef";
const DIGITS: &[u8] = b"0123456789";

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `len` chars drawn from `alphabet`.
    pub fn chars(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn alone(kind: &'static str, secret: String) -> FakeSecret {
    FakeSecret {
        kind,
        in_text: secret.clone(),
        secret,
    }
}

fn within(kind: &'static str, secret: String, in_text: String) -> FakeSecret {
    FakeSecret {
        kind,
        secret,
        in_text,
    }
}

/// A Luhn-valid card number: `prefix`, random digits, check digit; `len` digits.
pub fn card_number(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut digits = format!("{prefix}{}", rng.chars(DIGITS, len - prefix.len() - 1));
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            // The check digit will sit at position 0 from the right, so the
            // current last digit is doubled.
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    digits.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
    digits
}

/// Groups `digits` by four, separated by `sep`.
fn grouped(digits: &str, sep: char) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A JWT: base64url JSON header and claims, and a random signature.
pub fn jwt(rng: &mut Rng) -> String {
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let claims = format!(
        r#"{{"sub":"user-{}","iat":{},"scope":"repo read:org"}}"#,
        rng.chars(DIGITS, 6),
        1_700_000_000 + rng.below(50_000_000)
    );
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims),
        URL_SAFE_NO_PAD.encode(rng.bytes(32))
    )
}

/// A PEM private key block of `label` (`RSA `, `EC `, `OPENSSH ` or ``).
pub fn pem_private_key(rng: &mut Rng, label: &str) -> String {
    let body = STANDARD.encode(rng.bytes(48 * 6));
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}PRIVATE KEY-----\n{}\n-----END {label}PRIVATE KEY-----",
        lines.join("\n")
    )
}

/// At least 40 fake secrets of every built-in kind, from `seed`.
pub fn generate_secrets(seed: u64) -> Vec<FakeSecret> {
    let mut r = Rng::new(seed);
    let mut v = Vec::new();
    vendor_tokens(&mut r, &mut v);
    credentials(&mut r, &mut v);
    secrets_in_context(&mut r, &mut v);
    v
}

/// Cloud, code-host, chat, payment and AI vendors' keys and tokens.
fn vendor_tokens(r: &mut Rng, v: &mut Vec<FakeSecret>) {
    for _ in 0..2 {
        v.push(alone(
            "aws_access_key_id",
            format!("{}{}", r.pick(&["AKIA", "ASIA"]), r.chars(UPPER_DIGITS, 16)),
        ));
    }
    for p in ["ghp", "gho", "ghu", "ghs", "ghr"] {
        v.push(alone("github_token", format!("{p}_{}", r.chars(ALNUM, 36))));
    }
    let fine = format!("github_pat_{}_{}", r.chars(ALNUM, 22), r.chars(ALNUM, 59));
    v.push(alone("github_token", fine));
    v.push(alone(
        "gitlab_token",
        format!("glpat-{}", r.chars(URL_SAFE, 20)),
    ));
    for p in ["xoxb", "xoxp", "xoxa"] {
        let t = format!(
            "{p}-{}-{}-{}",
            r.chars(DIGITS, 12),
            r.chars(DIGITS, 13),
            r.chars(ALNUM, 24)
        );
        v.push(alone("slack_token", t));
    }
    let hook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        r.chars(UPPER_DIGITS, 8),
        r.chars(UPPER_DIGITS, 10),
        r.chars(ALNUM, 24)
    );
    v.push(alone("slack_webhook", hook));
    for p in ["sk_live_", "rk_live_", "sk_test_"] {
        v.push(alone("stripe_key", format!("{p}{}", r.chars(ALNUM, 24))));
    }
    v.push(alone(
        "openai_key",
        format!("sk-proj-{}", r.chars(URL_SAFE, 120)),
    ));
    v.push(alone("openai_key", format!("sk-{}", r.chars(ALNUM, 48))));
    v.push(alone(
        "anthropic_key",
        format!("sk-ant-api03-{}AA", r.chars(URL_SAFE, 93)),
    ));
    for _ in 0..2 {
        v.push(alone(
            "google_api_key",
            format!("AIza{}", r.chars(URL_SAFE, 35)),
        ));
    }
}

/// Signed tokens, authorization headers and private keys.
fn credentials(r: &mut Rng, v: &mut Vec<FakeSecret>) {
    for _ in 0..3 {
        v.push(alone("jwt", jwt(r)));
    }
    for _ in 0..2 {
        let t = r.chars(URL_SAFE, 40);
        v.push(within(
            "bearer_token",
            t.clone(),
            format!("Authorization: Bearer {t}"),
        ));
    }
    let cred = STANDARD.encode(format!("deploy:{}", r.chars(ALNUM, 16)));
    v.push(within("basic_auth", cred.clone(), format!("Basic {cred}")));
    for label in ["RSA ", "EC ", "OPENSSH ", ""] {
        v.push(alone("private_key", pem_private_key(r, label)));
    }
}

/// Secrets found inside a longer text: card numbers, URLs, key=value pairs.
fn secrets_in_context(r: &mut Rng, v: &mut Vec<FakeSecret>) {
    let cards = [("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)];
    for (i, (prefix, len)) in cards.iter().enumerate() {
        let n = card_number(r, prefix, *len);
        let text = match i % 3 {
            0 => n.clone(),
            1 => grouped(&n, ' '),
            _ => grouped(&n, '-'),
        };
        v.push(within("credit_card", text.clone(), text));
    }
    for scheme in ["https", "postgres", "redis"] {
        let pw = r.chars(ALNUM, 18);
        let url = format!("{scheme}://svc_user:{pw}@db.internal.example:5432/app");
        v.push(within("url_password", pw, url));
    }
    for name in ["api_key", "access_token", "sig"] {
        let val = r.chars(HEX, 32);
        let url = format!("https://api.example.com/v1/items?page=2&{name}={val}&sort=asc");
        v.push(within("query_param", val, url));
    }
    let pw = r.chars(ALNUM, 20);
    v.push(within(
        "key:password",
        pw.clone(),
        format!("DB_PASSWORD={pw}"),
    ));
    let tok = r.chars(ALNUM, 20);
    v.push(within(
        "key:token",
        tok.clone(),
        format!("npx server --auth-token {tok}"),
    ));
}

/// Strings that look a little like secrets but are not: at least 100 of them.
pub fn generate_lookalikes(seed: u64) -> Vec<String> {
    let mut r = Rng::new(seed.wrapping_add(1));
    let mut v = Vec::new();
    for _ in 0..14 {
        let h = r.chars(HEX, 32);
        v.push(format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..]
        ));
    }
    for _ in 0..8 {
        v.push(r.chars(HEX, 40)); // git SHA-1
        v.push(r.chars(HEX, 64)); // SHA-256
    }
    for _ in 0..4 {
        v.push(r.chars(HEX, 7)); // short SHA
        v.push(r.chars(HEX, 32)); // MD5
    }
    for _ in 0..8 {
        v.push(format!("ORD-{}-{}", 2020 + r.below(6), r.chars(DIGITS, 6)));
        v.push(r.chars(DIGITS, 10));
    }
    for prefix in ["4", "51", "6011", "37", "4", "55"] {
        let good = card_number(&mut r, prefix, if prefix == "37" { 15 } else { 16 });
        let last = good.as_bytes()[good.len() - 1] - b'0';
        let bad = format!("{}{}", &good[..good.len() - 1], (last + 1) % 10);
        v.push(bad); // fails Luhn
    }
    for _ in 0..8 {
        v.push(format!(
            "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            r.below(30),
            1 + r.below(12),
            1 + r.below(28),
            r.below(24),
            r.below(60),
            r.below(60),
            r.below(1000)
        ));
        v.push(format!(
            "20{:02}-{:02}-{:02}",
            r.below(30),
            1 + r.below(12),
            1 + r.below(28)
        ));
    }
    for text in [
        "hello world",
        "{\"ok\":true}",
        "user@example.com",
        "short text",
        "MCP rocks",
        "tools/list",
    ] {
        v.push(STANDARD.encode(text));
    }
    v.extend(PROSE.iter().map(|s| (*s).to_owned()));
    v
}

/// Ordinary text a tool might return, some of it mentioning secrets by name.
const PROSE: &[&str] = &[
    "The quick brown fox jumps over the lazy dog.",
    "Reset links for a forgotten password are valid for one hour.",
    "Token usage this month: 1532 input, 220 output.",
    "The bearer of this letter is a friend.",
    "Set the API key in your environment before running the tool.",
    "Session started at 10:42 and ended at 11:05.",
    "See https://example.com/docs?page=3&lang=en for details.",
    "Call +1-555-123-4567 between 9 and 5.",
    "Version 2.31.4 fixed the crash in secret_manager.rs line 88.",
    "Listing /home/alice/projects/mcp-blackbox/src/redact/mod.rs",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01';",
    "The cookie jar is empty.",
    "Use `git log --oneline` to see the history.",
    "192.168.1.20 responded in 12 ms",
    "Basic setup takes five minutes.",
    "max_tokens=4096 temperature=0.2",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Invoice 2024-000731 paid in full.",
    "task-runner-worker-pool-size-default",
    "Credentials are managed by the platform team.",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::luhn::is_card_number;

    #[test]
    fn generators_are_deterministic_and_large_enough() {
        assert_eq!(generate_secrets(7), generate_secrets(7));
        assert_ne!(generate_secrets(7), generate_secrets(8));
        assert!(generate_secrets(1).len() >= 40);
        assert!(generate_lookalikes(1).len() >= 100);
    }

    #[test]
    fn generated_cards_are_valid_and_broken_ones_are_not() {
        let mut r = Rng::new(3);
        for _ in 0..100 {
            assert!(is_card_number(&card_number(&mut r, "4", 16)));
        }
        let bad = generate_lookalikes(3);
        assert!(bad.iter().filter(|s| is_card_number(s)).count() == 0);
    }
}
