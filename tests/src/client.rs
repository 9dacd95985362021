//! A line-based stand-in MCP client driving one proxy process from a test:
//! write frames to its stdin, read frames from its stdout, close stdin, wait.
//!
//! Reads block, so every [`LineClient`] arms a watchdog that SIGKILLs the
//! process after twice [`PATIENCE`]: a hung proxy then shows up as EOF and a
//! failing test instead of a test run that never ends.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use crate::process::wait_exit;
use crate::PATIENCE;

/// One running process with piped stdin and stdout.
#[derive(Debug)]
pub struct LineClient {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    disarm: Option<mpsc::Sender<()>>,
}

impl LineClient {
    /// Spawns `cmd` with piped stdin/stdout (stderr is left as `cmd` says).
    pub fn spawn(cmd: &mut Command) -> LineClient {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (disarm, armed) = mpsc::channel::<()>();
        let pid = child.id() as i32;
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = armed.recv_timeout(PATIENCE * 2) {
                eprintln!(
                    "watchdog: pid {pid} still running after {:?}; killing it",
                    PATIENCE * 2
                );
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        LineClient {
            child,
            stdin,
            stdout,
            disarm: Some(disarm),
        }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Writes `bytes` as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(bytes)
            .expect("writing to the proxy's stdin");
        stdin.flush().expect("flushing the proxy's stdin");
    }

    /// Writes `msg` as one line.
    pub fn send(&mut self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).unwrap();
        line.push(b'\n');
        self.send_raw(&line);
    }

    /// Takes the stdin pipe (to write from another thread).
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin already taken")
    }

    /// Reads one line and parses it; fails the test at EOF.
    pub fn recv(&mut self) -> Value {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .expect("reading the proxy's stdout");
        assert!(n > 0, "EOF on the proxy's stdout while waiting for a frame");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("frame is not JSON ({e}): {line}"))
    }

    /// The stdout reader, for raw reads.
    pub fn stdout(&mut self) -> &mut BufReader<ChildStdout> {
        &mut self.stdout
    }

    /// Closes stdin: the client is done.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit (failing the test after [`PATIENCE`]).
    pub fn wait(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, "proxy")
    }

    /// The underlying child, for callers that reap it themselves.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for LineClient {
    fn drop(&mut self) {
        if let Some(d) = self.disarm.take() {
            let _ = d.send(());
        }
        // Never leave a proxy behind when a test fails half-way.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `mcp-blackbox --audit-dir DIR --user e2e --server-name NAME [flags] -- SERVER...`.
pub fn proxy_command<S: AsRef<OsStr>>(
    audit_dir: &Path,
    name: &str,
    flags: &[&str],
    server: &[S],
) -> Command {
    let mut cmd = Command::new(crate::binary::blackbox());
    cmd.arg("--audit-dir")
        .arg(audit_dir)
        .args(["--user", "e2e", "--server-name", name])
        .args(flags)
        .arg("--")
        .args(server);
    cmd
}

/// A JSON-RPC request.
pub fn request(id: impl Into<Value>, method: &str, params: Value) -> Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id.into(), "method": method, "params": params})
}

/// A `tools/call` request.
pub fn tool_call(id: impl Into<Value>, tool: &str, arguments: Value) -> Value {
    request(
        id,
        "tools/call",
        serde_json::json!({"name": tool, "arguments": arguments}),
    )
}

/// The handshake-era `initialize` request of a client named `name`.
pub fn initialize(id: impl Into<Value>, name: &str) -> Value {
    request(
        id,
        "initialize",
        serde_json::json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": name, "version": "0.0.1"},
        }),
    )
}
