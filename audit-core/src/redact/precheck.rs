//! A one-pass look at a string that rules out the built-in value rules
//! cheaply, so most short strings never reach the regex engine.
//!
//! Every built-in rule needs at least one of these, which is what is checked:
//!
//! | rule | needs |
//! |---|---|
//! | provider tokens (AWS, GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, Google) | a run of 20+ `[A-Za-z0-9_-]` |
//! | JWT | a run of 12+ such chars and a `.` |
//! | URL password, query parameter, Slack webhook, `NAME=value`, `NAME: value` | `:` or `=` |
//! | `--flag value` | `-` at the start or after whitespace |
//! | PEM private key | `-----` |
//! | card number | 13+ digits |
//! | `Bearer …`, `Basic …` | the word, any case |
//!
//! A property test (`prop_tests`) checks the table against the rules: any
//! string the rules match passes this check.

/// Shortest run of token characters a provider-token rule can match.
pub const MIN_TOKEN_RUN: usize = 20;

/// Shortest run of token characters in a JWT's first segment (`ey` + 10).
pub const MIN_JWT_RUN: usize = 12;

// Byte classes, looked up in one table so the loop has few branches.
const TOKEN: u8 = 1; // [A-Za-z0-9_-]
const DIGIT: u8 = 2;
const DOT: u8 = 4;
const SPACE: u8 = 8; // ASCII whitespace, vertical tab included (`(?-u:\s)`)
const DASH: u8 = 16;
const ASSIGN: u8 = 32; // `:` or `=`
const LETTER_B: u8 = 64; // `b` or `B`, which `bearer` and `basic` start with

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut f = 0;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' {
            f |= TOKEN;
        }
        if c.is_ascii_digit() {
            f |= DIGIT;
        }
        if c == b'.' {
            f |= DOT;
        }
        if c.is_ascii_whitespace() || c == 0x0B {
            f |= SPACE;
        }
        if c == b'-' {
            f |= DASH;
        }
        if c == b':' || c == b'=' {
            f |= ASSIGN;
        }
        if c == b'b' || c == b'B' {
            f |= LETTER_B;
        }
        t[b] = f;
        b += 1;
    }
    t
}

/// False only if no built-in value rule can match `s`.
pub fn could_hold_secret(s: &str) -> bool {
    let mut run = 0usize;
    let mut max_run = 0usize;
    let mut dashes = 0usize;
    let mut digits = 0usize;
    let mut seen = 0u8;
    let mut prev = SPACE; // the start of the string counts as whitespace
    for &b in s.as_bytes() {
        let c = CLASS[usize::from(b)];
        if c & ASSIGN != 0 || (c & DASH != 0 && prev & SPACE != 0) {
            return true;
        }
        if c & TOKEN != 0 {
            run += 1;
            if run >= MIN_TOKEN_RUN {
                return true;
            }
        } else {
            max_run = max_run.max(run);
            run = 0;
        }
        if c & DASH != 0 {
            dashes += 1;
            if dashes >= 5 {
                return true;
            }
        } else {
            dashes = 0;
        }
        digits += usize::from(c & DIGIT != 0);
        seen |= c;
        prev = c;
    }
    max_run = max_run.max(run);
    digits >= 13
        || (seen & DOT != 0 && max_run >= MIN_JWT_RUN)
        || (seen & LETTER_B != 0 && has_auth_scheme(s))
}

/// True if `s` holds `bearer` or `basic` in any case.
fn has_auth_scheme(s: &str) -> bool {
    s.as_bytes()
        .windows(5)
        .any(|w| w.eq_ignore_ascii_case(b"beare") || w.eq_ignore_ascii_case(b"basic"))
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
            "AKIAABCDEFGHIJKLMNOP",
            "eyJhbGciOiJI.eyJzdWIiOiIx.sig",
            "Authorization Bearer abc",
            "BASIC abc",
            "a basically fine string", // the regexes decide
        ] {
            assert!(could_hold_secret(s), "{s}");
        }
    }
}
