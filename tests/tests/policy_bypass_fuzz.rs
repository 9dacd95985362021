//! Fuzzing the gate against lenient readers: mutated denied calls are
//! judged by `audit_core::policy::Gate`; every frame it lets through is read
//! by two long-lived oracles, `tests/py/lenient_oracle.py` (the Python SDK's
//! line splitting, `json.loads(strict=False)`) and `tests/js/lenient_oracle.mjs`
//! (the TypeScript SDK's decoding, `JSON.parse`), and neither may read a call
//! the policy denies in it. The gate must not panic on any input.
//!
//! The bounded run takes `PROPTEST_CASES` cases (default below, well under a
//! minute); the long run is documented in docs/policy.md:
//! `PROPTEST_CASES=200000 cargo test -p blackbox-tests --release --test policy_bypass_fuzz -- --nocapture`.

use std::cell::RefCell;
use std::path::Path;

use audit_core::policy::Verdict;
use blackbox_tests::oracle::{self, Oracle};
use blackbox_tests::peers::Peers;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const CASES: u32 = 20_000;

/// Denied calls the mutations start from.
const SEEDS: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"danger","arguments":{}}}"#,
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"write","arguments":{"path":"/etc/passwd","mode":1}}}"#,
    r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#,
    r#"[{"jsonrpc":"2.0","id":4,"method":"ping"},{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"danger"}}]"#,
    r#"{"params":{"arguments":{"path":"/etc/x"},"name":"write"},"method":"tools/call","id":"s"}"#,
];

/// Bytes that readers disagree about, and JSON that moves meaning around.
const TOKENS: &[&[u8]] = &[
    b"\r",
    b"\r\n",
    "\u{85}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{2029}".as_bytes(),
    b"\x0b",
    b"\x0c",
    b"\x1c",
    b"\x1d",
    b"\x1e",
    b"\x00",
    b"\x01",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    "\u{feff}".as_bytes(),
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-0",
    br#""\ud800""#,
    br"\ud800",
    br"\udc00",
    br"\u0074",
    br"\u0064",
    br"\/",
    br"\\",
    b"\"",
    b",",
    b":",
    b"{",
    b"}",
    b"[",
    b"]",
    b" ",
    b"\t",
    br#""method":"tools/call""#,
    br#""name":"danger""#,
    br#","path":"/etc/x""#,
    br#","params":{"name":"danger"}"#,
    br#"{"method":"tools/call","params":{"name":"danger"}}"#,
];

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, usize),
    Delete(usize, usize),
    Escape(usize),
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Mutation::Insert(at, t)),
        1 => (any::<usize>(), 1..4usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        1 => any::<usize>().prop_map(Mutation::Escape),
        1 => (any::<usize>(), 1..40usize).prop_map(|(at, n)| Mutation::Repeat(at, n)),
    ]
}

fn apply(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut f = seed.as_bytes().to_vec();
    for m in mutations {
        let at = |i: usize| i % (f.len() + 1);
        match *m {
            Mutation::Insert(i, t) => {
                let i = at(i);
                f.splice(i..i, TOKENS[t].iter().copied());
            }
            Mutation::Delete(i, n) => {
                let i = at(i);
                f.drain(i..(i + n).min(f.len()));
            }
            Mutation::Escape(i) => {
                // An ASCII letter written as a \u escape.
                let i = at(i).min(f.len().saturating_sub(1));
                if f.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    let esc = format!("\\u{:04x}", f[i]);
                    f.splice(i..=i, esc.bytes());
                }
            }
            Mutation::Repeat(i, n) => {
                let i = at(i);
                let piece: Vec<u8> = f[i..(i + n).min(f.len())].to_vec();
                f.splice(i..i, piece);
            }
        }
    }
    f
}

#[derive(Debug, Default)]
struct Tally {
    frames: u64,
    forwarded: u64,
    refused: u64,
}

#[test]
fn the_gate_never_forwards_what_a_lenient_reader_takes_for_a_denied_call() {
    let Some(peers) = Peers::find() else { return };
    let gate = oracle::gate();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut oracles = [
        Oracle::spawn("python", &peers.python, &here.join("py/lenient_oracle.py")),
        Oracle::spawn(
            "javascript",
            Path::new("node"),
            &here.join("js/lenient_oracle.mjs"),
        ),
    ];
    // The oracles do see the seeds' denied calls.
    for o in &mut oracles {
        assert!(o.reads_a_denied_call(SEEDS[0].as_bytes()), "{}", o.name);
        assert!(!o.reads_a_denied_call(SEEDS[2].as_bytes()), "{}", o.name);
    }
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let tally = RefCell::new(Tally::default());
    let oracles = RefCell::new(oracles);
    let strategy = (0..SEEDS.len(), proptest::collection::vec(mutation(), 1..6));
    let result = runner.run(&strategy, |(seed, mutations)| {
        let bytes = apply(SEEDS[seed], &mutations);
        // The relay cuts lines at `\n`; the gate judges each.
        let mut tally = tally.borrow_mut();
        for line in bytes.split(|b| *b == b'\n') {
            tally.frames += 1;
            if gate.check_request(line) != Verdict::Forward {
                tally.refused += 1;
                continue;
            }
            tally.forwarded += 1;
            for o in oracles.borrow_mut().iter_mut() {
                if o.reads_a_denied_call(line) {
                    return Err(TestCaseError::fail(format!(
                        "the {} oracle reads a denied call in a forwarded frame: {}",
                        o.name,
                        String::from_utf8_lossy(line)
                    )));
                }
            }
        }
        Ok(())
    });
    eprintln!("policy_bypass_fuzz: {cases} cases, {:?}", tally.borrow());
    if let Err(e) = result {
        panic!("{e}");
    }
}
