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
//! and costs a vectorised test of its bytes, not a pass of the rule set.
//! Sparse word starts in prose cost a look each at the few that may start a
//! secret.
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
///
/// One pass in [`BLOCK`]s: a block of word bytes only, after a word byte,
/// holds no trigger; any other gets a bit mask of the bytes that may start
/// one ([`block_mask`]), both by branch-free loops the compiler vectorises,
/// and only the marked bytes are looked at ([`triggers_at`]).
pub fn could_hold_secret(s: &str) -> bool {
    let b = s.as_bytes();
    // Whether `s` holds a `.` (a JWT needs one): looked up only for an `ey`.
    let mut has_dot = None;
    let mut start = 0;
    while start < b.len() {
        let end = (start + BLOCK).min(b.len());
        let mut mask = if start > 0 && end - start == BLOCK {
            let cur: &[u8; BLOCK] = b[start..end].try_into().expect("a whole block");
            let prev: &[u8; BLOCK] = b[start - 1..end - 1].try_into().expect("a whole block");
            if is_word(prev[0]) && all_words(cur) {
                0
            } else {
                block_mask(cur, prev)
            }
        } else {
            // The first or last block, padded with white space (no trigger,
            // and no word byte: the string's start is a word start).
            let (mut cur, mut prev) = ([b' '; BLOCK], [b' '; BLOCK]);
            cur[..end - start].copy_from_slice(&b[start..end]);
            let from = start.saturating_sub(1);
            prev[1 - (start - from)..end - start].copy_from_slice(&b[from..end - 1]);
            block_mask(&cur, &prev)
        };
        while mask != 0 {
            let i = start + mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if triggers_at(b, i, &mut has_dot) {
                return true;
            }
        }
        start = end;
    }
    false
}

/// Bytes tested at once: the bits of a [`block_mask`].
const BLOCK: usize = 32;

/// `[A-Za-z0-9_]` by comparisons (a table lookup does not vectorise).
fn is_word(c: u8) -> bool {
    ((c | 0x20).wrapping_sub(b'a') < 26) | (c.wrapping_sub(b'0') < 10) | (c == b'_')
}

/// The first bytes of a word that [`word_could_start_secret`] may let
/// through: an issuer's digit, `b`/`B`, `e`, and [`TOKEN_FIRST`].
fn may_start_secret(c: u8) -> bool {
    (c.wrapping_sub(b'2') < 5)
        | (c == b'b')
        | (c == b'B')
        | (c == b'e')
        | (c == b'A')
        | (c == b'g')
        | (c == b'x')
        | (c == b's')
        | (c == b'r')
}

fn all_words(cur: &[u8; BLOCK]) -> bool {
    cur.iter().fold(true, |all, &c| all & is_word(c))
}

/// Bit `j` set if `cur[j]` is `:`, `=` or `-`, or a word start (after
/// `prev[j]`, the byte before it) that may start a secret.
fn block_mask(cur: &[u8; BLOCK], prev: &[u8; BLOCK]) -> u32 {
    let mut marks = [0u8; BLOCK];
    for ((m, &c), &p) in marks.iter_mut().zip(cur).zip(prev) {
        let trigger = (c == b':') | (c == b'=') | (c == b'-');
        *m = u8::from(trigger | (is_word(c) & !is_word(p) & may_start_secret(c)));
    }
    let mut mask = 0;
    for (k, eight) in marks.chunks_exact(8).enumerate() {
        // Eight bytes of 0 or 1 gathered into the top byte, in order.
        let bytes = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
        mask |= ((bytes.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32) << (8 * k);
    }
    mask
}

/// True if `b[i]`, marked by [`block_mask`], lets `b` through: a `:` or
/// `=`, a `-` at the start, after white space or starting `-----`, or a
/// word start where a `\b` rule could match.
fn triggers_at(b: &[u8], i: usize, has_dot: &mut Option<bool>) -> bool {
    match b[i] {
        b':' | b'=' => true,
        b'-' => i == 0 || is_space(b[i - 1]) || b[i..].starts_with(b"-----"),
        _ => word_could_start_secret(&b[i..], || {
            *has_dot.get_or_insert_with(|| memchr::memchr(b'.', b).is_some())
        }),
    }
}

/// True if a match of a `\b` rule could start at `w[0]`, a word start
/// (`has_dot`: whether the string holds a `.`, which a JWT needs).
fn word_could_start_secret(w: &[u8], has_dot: impl FnOnce() -> bool) -> bool {
    match w[0] {
        b'2'..=b'6' => card_stretch(w),
        b'0' | b'1' | b'7'..=b'9' => false, // no issuer's card starts so
        b'b' | b'B' => {
            w.len() >= 5
                && (w[..5].eq_ignore_ascii_case(b"beare") || w[..5].eq_ignore_ascii_case(b"basic"))
        }
        b'e' => w.starts_with(b"ey") && has_dot(),
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
    use proptest::prelude::*;

    /// The check as first written, a pass per trigger: the reference the
    /// one-pass check must agree with.
    fn could_hold_secret_by_passes(s: &str) -> bool {
        let b = s.as_bytes();
        if memchr::memchr2(b':', b'=', b).is_some()
            || memchr::memmem::find(b, b"-----").is_some()
            || memchr::memchr_iter(b'-', b).any(|i| i == 0 || is_space(b[i - 1]))
        {
            return true;
        }
        let has_dot = memchr::memchr(b'.', b).is_some();
        (0..b.len()).any(|i| {
            WORD[usize::from(b[i])]
                && (i == 0 || !WORD[usize::from(b[i - 1])])
                && word_could_start_secret(&b[i..], || has_dot)
        })
    }

    #[test]
    fn the_vectorised_tests_agree_with_the_tables() {
        for c in 0..=255u8 {
            assert_eq!(is_word(c), WORD[usize::from(c)], "{c}");
        }
        for p in TOKEN_PREFIXES {
            assert!(may_start_secret(p[0]), "{}", p[0] as char);
        }
        for c in b"23456bBe" {
            assert!(may_start_secret(*c));
        }
    }

    #[test]
    fn triggers_are_found_at_every_place_in_a_block() {
        for at in 0..(3 * BLOCK + 2) {
            for (trigger, spaced) in [
                (":", false),
                ("=", false),
                ("--x", true),
                ("-----", false),
                ("AKIA", true),
                ("sk-", true),
                ("4111 1111 1111 1111", true),
            ] {
                let gap = if spaced { " " } else { "" };
                let s = format!("{}{gap}{trigger}{gap}{}", "q".repeat(at), "z".repeat(70));
                assert!(could_hold_secret(&s), "{s}");
                let glued = format!("{}{trigger}", "q".repeat(at + 1));
                assert_eq!(
                    could_hold_secret(&glued),
                    could_hold_secret_by_passes(&glued),
                    "{glued}"
                );
            }
        }
    }

    proptest! {
        /// The one-pass check agrees with a pass per trigger, on text dense
        /// in triggers, word starts and block edges.
        #[test]
        fn one_pass_agrees_with_a_pass_per_trigger(
            parts in proptest::collection::vec(prop_oneof![
                Just("-".to_owned()), Just(" ".to_owned()), Just("-----".to_owned()),
                Just(":".to_owned()), Just("=".to_owned()), Just(".".to_owned()),
                Just("ey".to_owned()), Just("AKIA".to_owned()), Just("ghp_".to_owned()),
                Just("sk-".to_owned()), Just("Bearer".to_owned()), Just("basic".to_owned()),
                Just("é".to_owned()), Just("_".to_owned()), Just("\u{b}".to_owned()),
                "[0-9]{1,16}", "[ -][0-9]{1,4}", "[a-zA-Z0-9_]{1,40}", "[ -~]{0,8}",
            ], 0..40),
        ) {
            let s: String = parts.concat();
            prop_assert_eq!(could_hold_secret(&s), could_hold_secret_by_passes(&s), "{:?}", s);
        }
    }

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
