//! `cargo run --release -p audit-core --example redact_scan`: how fast the
//! value rules (precheck + regex set) get through one 64 KiB string of four
//! kinds of text, as MB/s. A tool result's text is scanned whole before it is
//! cut to `max_field_chars`, so this is the auditor's cost per large result.

use std::time::Instant;

use audit_core::redact::{RedactConfig, Redactions, Redactor};

const LEN: usize = 64 * 1024;
const ROUNDS: usize = 200;

fn main() {
    let r = Redactor::new(&RedactConfig::default()).expect("default redactor");
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let blob: String = alphabet
        .iter()
        .cycle()
        .take(LEN)
        .map(|&b| b as char)
        .collect();
    let source = include_str!("../src/frame.rs");
    let code: String = source.chars().cycle().take(LEN).collect();
    // The redaction rules themselves: a name word (token, key, pass, ...)
    // on nearly every line, the worst case for the `NAME=value` rules.
    let rules = include_str!("../src/redact/patterns.rs");
    let rules: String = rules.chars().cycle().take(LEN).collect();
    let b64chars = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u64 = 12345;
    let base64: String = (0..LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b64chars[(x % 64) as usize] as char
        })
        .collect();
    let prose: String = "The quick brown fox jumps over the lazy dog, and then some more words. "
        .chars()
        .cycle()
        .take(LEN)
        .collect();
    for (name, s) in [
        ("blob (bench_server)", &blob),
        ("source code", &code),
        ("source code, secret words on most lines", &rules),
        ("base64 (image data)", &base64),
        ("prose", &prose),
    ] {
        let t = Instant::now();
        let mut changed = 0;
        for _ in 0..ROUNDS {
            let mut found = Redactions::default();
            changed += usize::from(r.redact_text(s, &mut found).is_some());
        }
        let secs = t.elapsed().as_secs_f64();
        let mb_s = (ROUNDS * s.len()) as f64 / secs / 1e6;
        println!("{name}: {mb_s:.0} MB/s ({changed} of {ROUNDS} changed)");
    }
}
