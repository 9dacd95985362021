//! A quick look at a string that rules out the built-in value rules cheaply,
//! so most strings never reach the regex engine.
//!
//! Every built-in rule needs at least one of these, which is what is checked:
//!
//! | rule | needs |
//! |---|---|
//! | URL password, query parameter, Slack webhook, `NAME=value`, `NAME: value` | `:` or `=` |
//! | `--flag value` | `-` at the start or after whitespace |
//! | PEM private key | `-----` |
//! | provider tokens (AWS, GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, Google), JWT | a word that starts with the token's prefix (`AKIA`, `ghp_`, `xoxb-`, `sk-`, ...); a JWT a word starting `ey` and a `.` |
//! | card number | a word that starts with an issuer's first digit (2 to 6), 13+ digits in its stretch of digits, spaces and `-`, the 13th or a later one at the end or before a non-word byte (the closing `\b`) |
//! | `Bearer …`, `Basic …` | a word that starts with it, any case |
//!
//! "A word starts" where the rules' ASCII `\b` can: a byte of `[A-Za-z0-9_]`
//! after one that is not (or at the start). Every rule that the first three
//! rows do not cover begins with `\b`, so only word starts are looked at: a
//! long run of letters and digits (base64 data, a generated blob) is one word
//! and costs one table lookup per byte, not a pass of the rule set. `:`, `=`, `-` and `-----` are found with `memchr`.
//!
//! The card row is narrower than its regex: the regex matches any digit
//! stretch, but only a number whose first digit some issuer uses
//! (`luhn::is_card_number`) is redacted, so a stretch at a word start with
//! another first digit (`0`, `1`, `7`-`9`: ids, counters, timestamps) need
//! not reach the regexes at all.
//!
//! A property test (`prop_tests`) checks the table against the rules: any
//! string in which the rules find a secret passes this check, and any string
//! they match at all passes it unless the card rule is the only one.

use std::sync::LazyLock;

use memchr::memmem;

/// What a provider-token rule's match starts with, as the rules spell it
/// (case matters: the rules are case-sensitive). The JWT rule (`ey…`) also
/// needs a `.`, checked on its own.
const TOKEN_PREFIXES: &[&[u8]] = &[
    // AWS
    b"A3T",
    b"AKIA",
    b"ASIA",
    b"ABIA",
    b"ACCA",
    // GitHub
    b"ghp_",
    b"gho_",
    b"ghu_",
    b"ghs_",
    b"ghr_",
    b"github_pat_",
    // GitLab
    b"glpat-",
    b"gldt-",
    b"glptt-",
    b"glrt-",
    b"gloas-",
    // Slack
    b"xoxb-",
    b"xoxa-",
    b"xoxp-",
    b"xoxr-",
    b"xoxs-",
    b"xoxe-",
    // Stripe, OpenAI and Anthropic
    b"sk_live_",
    b"sk_test_",
    b"rk_live_",
    b"rk_test_",
    b"sk-",
    // Google
    b"AIza",
];

/// Fewest digits a card number rule's match holds.
const CARD_DIGITS: usize = 13;

/// The first bytes of [`TOKEN_PREFIXES`], derived from it.
static TOKEN_FIRST: [bool; 256] = token_first_bytes();

const fn token_first_bytes() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < TOKEN_PREFIXES.len() {
        t[TOKEN_PREFIXES[i][0] as usize] = true;
        i += 1;
    }
    t
}

/// `[A-Za-z0-9_]`: the bytes the rules' ASCII `\b` sees as word bytes.
static WORD: [bool; 256] = word_bytes();

const fn word_bytes() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    t
}

/// ASCII white space as `(?-u:\s)` has it: vertical tab included.
fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0B
}

/// False only if no built-in value rule can match `s`.
pub fn could_hold_secret(s: &str) -> bool {
    // Built once: `memmem::find` builds its searcher on every call, and this
    // runs for every string of every event.
    static DASHES: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"-----"));
    let b = s.as_bytes();
    if memchr::memchr2(b':', b'=', b).is_some() || DASHES.find(b).is_some() {
        return true;
    }
    if memchr::memchr_iter(b'-', b).any(|i| i == 0 || is_space(b[i - 1])) {
        return true;
    }
    let has_dot = memchr::memchr(b'.', b).is_some();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && !WORD[usize::from(b[i])] {
            i += 1;
        }
        if i < b.len() && word_could_start_secret(&b[i..], has_dot) {
            return true;
        }
        while i < b.len() && WORD[usize::from(b[i])] {
            i += 1;
        }
    }
    false
}

/// True if a match of a `\b` rule could start at `w[0]`, a word start
/// (`has_dot`: the string holds a `.`, which a JWT needs).
fn word_could_start_secret(w: &[u8], has_dot: bool) -> bool {
    match w[0] {
        b'2'..=b'6' => card_stretch(w),
        b'0' | b'1' | b'7'..=b'9' => false, // no issuer's card starts so
        b'b' | b'B' => {
            w.len() >= 5
                && (w[..5].eq_ignore_ascii_case(b"beare") || w[..5].eq_ignore_ascii_case(b"basic"))
        }
        b'e' if has_dot => w.starts_with(b"ey"),
        first if TOKEN_FIRST[usize::from(first)] => TOKEN_PREFIXES.iter().any(|p| w.starts_with(p)),
        _ => false,
    }
}

/// True if `w` starts with 13 digits, each after at most one space or `-`
/// (the card rule's `[0-9](?:[ -]?[0-9]){12,18}`), the 13th or a later one
/// where the rule's closing `\b` can follow: at the end, or before a byte
/// that is not a word byte. A stretch glued to letters (`…0123456789abc`,
/// hex digests, generated ids) can end a match only before its letters.
fn card_stretch(w: &[u8]) -> bool {
    let mut digits = 0;
    let mut i = 0;
    while i < w.len() && w[i].is_ascii_digit() {
        digits += 1;
        i += 1;
        if digits >= CARD_DIGITS && w.get(i).map_or(true, |&n| !WORD[usize::from(n)]) {
            return true;
        }
        if i + 1 < w.len() && matches!(w[i], b' ' | b'-') && w[i + 1].is_ascii_digit() {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_short_strings_are_ruled_out() {
        for s in [
            "/home/alice/projects/demo/src",
            "recursive",
            "target/**",
            "fn handle_request_17",
            "hello world",
            "2024 report.pdf",
            "call-19498-0123456789abcdef", // digit stretches no issuer starts
            "order 1234567812345670 shipped",
            "trace 98765432109876543",
        ] {
            assert!(!could_hold_secret(s), "{s}");
        }
    }

    #[test]
    fn each_trigger_lets_a_string_through() {
        for s in [
            "a=b",
            "Note: x",
            "--token x",
            "x -----BEGIN",
            "4111 1111 1111 1111",
            "id 1234-4111 1111 1111 1111", // the card's own word start
            "AKIAABCDEFGHIJKLMNOP",
            "eyJhbGciOiJI.eyJzdWIiOiIx.sig",
            "Authorization Bearer abc",
            "BASIC abc",
            "a basically fine string", // the regexes decide
            "x=AKIAABCDEFGHIJKLMNOP",
            "(AKIAABCDEFGHIJKLMNOP)",
            "é-ghp_abc",
            "4111-1111-1111-1111",
            "card 4111 1111 1111 1111.",
        ] {
            assert!(could_hold_secret(s), "{s}");
        }
    }

    #[test]
    fn long_runs_of_letters_and_digits_are_one_word() {
        // Base64 data or a generated blob: no word start but the first, and
        // no prefix there, so the rules are not run at all.
        let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let blob: String = alphabet
            .iter()
            .cycle()
            .take(65536)
            .map(|&b| b as char)
            .collect();
        assert!(!could_hold_secret(&blob[10..]));
        // ... but an issuer's digit at a word start with 13 digits in its
        // stretch could be a card, if the rule's closing `\b` can follow one
        // of them from the 13th on.
        assert!(could_hold_secret("4234567890123 abc"));
        assert!(could_hold_secret("4234567890123"));
        assert!(could_hold_secret("x 4234567890123-7abc"));
        assert!(could_hold_secret("4234-5678-9012-3.abc"));
        assert!(!could_hold_secret("4234567890123abc"));
        assert!(!could_hold_secret("4111-1111-1111-1111x"));
        assert!(!could_hold_secret("call-234-0123456789abcdef"));
        assert!(!could_hold_secret("423456789012abc"));
        assert!(!could_hold_secret("1234567890123abc"));
        // A prefix inside a word is no word start: `\bAKIA` cannot match there.
        assert!(!could_hold_secret("xAKIAABCDEFGHIJKLMNOP"));
        assert!(!could_hold_secret(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB/Y+kAAAAgey"
        ));
        assert!(could_hold_secret(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB/sk-AAAAgey"
        ));
    }
}
