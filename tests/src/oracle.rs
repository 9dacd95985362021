//! The lenient oracles of the gate's fuzz tests: long-lived processes that
//! read a client frame as an official SDK server would
//! (`tests/py/lenient_oracle.py`, `tests/js/lenient_oracle.mjs`) and say
//! whether it holds a call [`RULES`] deny, and the gate enforcing them.
//!
//! Used by `tests/tests/policy_bypass_fuzz.rs` and by the cargo-fuzz target
//! in `fuzz/` (which includes this file by path, to stay off the workspace).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use audit_core::config::Settings;
use audit_core::policy::{Gate, Policy};

/// The policy the oracles implement: `danger` is denied, and `write` for a
/// `path` matching `^/etc`.
pub const RULES: &str = "[[rules]]\nname = \"no-danger\"\ntool = \"danger\"\naction = \"deny\"\n\
    [[rules]]\nname = \"no-etc\"\ntool = \"write\"\naction = \"deny\"\n[rules.arguments]\n\"/path\" = \"^/etc\"\n";

/// A gate enforcing [`RULES`] for a server named `marker`.
pub fn gate() -> Gate {
    let path =
        std::env::temp_dir().join(format!("mcp-blackbox-oracle-{}.toml", std::process::id()));
    std::fs::write(&path, RULES).expect("writing the rules");
    let settings = Settings::check_file(&path).expect("the rules");
    let _ = std::fs::remove_file(&path);
    let policy = Policy::from_settings(&settings, "marker").expect("the policy");
    Gate::new(Arc::new(policy), "marker")
}

/// One oracle process: a hex-encoded frame in, `1` (a denied call) or `0` out.
pub struct Oracle {
    pub name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    /// Starts `program script`.
    pub fn spawn(name: &'static str, program: &Path, script: &Path) -> Oracle {
        let mut child = Command::new(program)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting the {name} oracle {}: {e}", script.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Oracle {
            name,
            child,
            stdin,
            stdout,
        }
    }

    /// Whether the oracle reads a denied call in `frame`.
    pub fn reads_a_denied_call(&mut self, frame: &[u8]) -> bool {
        let mut hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
        hex.push('\n');
        self.stdin
            .write_all(hex.as_bytes())
            .expect("writing to the oracle");
        self.stdin.flush().expect("writing to the oracle");
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .expect("reading the oracle");
        match answer.trim() {
            "1" => true,
            "0" => false,
            other => panic!("the {} oracle answered {other:?}", self.name),
        }
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
