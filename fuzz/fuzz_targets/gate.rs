//! The gate against lenient readers, coverage-guided: each input is a
//! client→server byte stream; every line the gate forwards is read by the
//! oracles of `tests/py/lenient_oracle.py` (Python SDK line splitting,
//! `json.loads(strict=False)`) and `tests/js/lenient_oracle.mjs` (TypeScript
//! SDK decoding, `JSON.parse`), and neither may read a call the policy
//! denies in it. A panic in the gate is a finding too.
#![no_main]

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use audit_core::policy::{Gate, Verdict};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/src/oracle.rs"]
mod oracle;

use oracle::Oracle;

struct Harness {
    gate: Gate,
    oracles: Mutex<[Oracle; 2]>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
        Harness {
            gate: oracle::gate(),
            oracles: Mutex::new([
                Oracle::spawn(
                    "python",
                    Path::new("python3"),
                    &tests.join("py/lenient_oracle.py"),
                ),
                Oracle::spawn(
                    "javascript",
                    Path::new("node"),
                    &tests.join("js/lenient_oracle.mjs"),
                ),
            ]),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    for line in data.split(|b| *b == b'\n') {
        if h.gate.check_request(line) != Verdict::Forward {
            continue;
        }
        let mut oracles = h.oracles.lock().unwrap();
        for o in oracles.iter_mut() {
            assert!(
                !o.reads_a_denied_call(line),
                "the {} oracle reads a denied call in a forwarded frame: {:?}",
                o.name,
                String::from_utf8_lossy(line)
            );
        }
    }
});
