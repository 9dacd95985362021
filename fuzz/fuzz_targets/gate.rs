//! The gate against lenient readers, coverage-guided: each input is a
//! client→server byte stream; every line the gate forwards is read by the
//! oracles of `tests/py/lenient_oracle.py` (Python SDK line splitting,
//! `json.loads(strict=False)`) and `tests/js/lenient_oracle.mjs` (TypeScript
//! SDK decoding, `JSON.parse`), and neither may read a call the policy
//! denies in it. A panic in the gate is a finding too.
#![no_main]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use audit_core::config::Settings;
use audit_core::policy::{Gate, Policy, Verdict};
use libfuzzer_sys::fuzz_target;

const RULES: &str = "[[rules]]\nname = \"no-danger\"\ntool = \"danger\"\naction = \"deny\"\n\
    [[rules]]\nname = \"no-etc\"\ntool = \"write\"\naction = \"deny\"\n[rules.arguments]\n\"/path\" = \"^/etc\"\n";

struct Oracle {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    fn spawn(program: &str, script: &str) -> Oracle {
        let script = repo().join(script);
        let mut child = Command::new(program)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program} {}: {e}", script.display()));
        Oracle {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            _child: child,
        }
    }

    fn reads_a_denied_call(&mut self, frame: &[u8]) -> bool {
        let mut hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
        hex.push('\n');
        self.stdin.write_all(hex.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        answer.trim() == "1"
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Harness {
    gate: Gate,
    oracles: Mutex<[Oracle; 2]>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("mcp-blackbox-fuzz-{}.toml", std::process::id()));
        std::fs::write(&path, RULES).unwrap();
        let settings = Settings::check_file(&path).expect("the rules");
        let _ = std::fs::remove_file(&path);
        let policy = Policy::from_settings(&settings, "marker").unwrap();
        Harness {
            gate: Gate::new(Arc::new(policy), "marker"),
            oracles: Mutex::new([
                Oracle::spawn("python3", "tests/py/lenient_oracle.py"),
                Oracle::spawn("node", "tests/js/lenient_oracle.mjs"),
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
        for (name, o) in ["python", "javascript"].iter().zip(oracles.iter_mut()) {
            assert!(
                !o.reads_a_denied_call(line),
                "the {name} oracle reads a denied call in a forwarded frame: {:?}",
                String::from_utf8_lossy(line)
            );
        }
    }
});
