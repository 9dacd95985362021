//! A minimal MCP stdio client, for `mcp-blackbox pin`: start a server, agree
//! on a protocol era, list every tool (following `nextCursor`), stop it.
//!
//! The era is negotiated as the Python SDK's `mode='auto'` does: a
//! `server/discover` probe at the stateless revision first; anything other
//! than a result naming that revision falls back to the `initialize`
//! handshake. Requests the server sends meanwhile are answered (`ping` with
//! an empty result, anything else with "method not found") so it never waits
//! on us.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// The stateless protocol revision the probe proposes.
pub const STATELESS_VERSION: &str = "2026-07-28";
/// The handshake revision the fallback `initialize` proposes.
pub const HANDSHAKE_VERSION: &str = "2025-11-25";
/// Most `tools/list` pages followed before giving up on a looping server.
pub const MAX_PAGES: usize = 1000;

/// What a server told us about its tools.
#[derive(Debug)]
pub struct ToolListing {
    /// Every tool definition, in the order listed.
    pub tools: Vec<Value>,
    /// `stateless` (server/discover) or `handshake` (initialize).
    pub era: &'static str,
}

/// Starts `command`, lists its tools, and stops it. `timeout` bounds the
/// whole exchange.
pub fn list_tools(command: &[String], timeout: Duration) -> Result<ToolListing> {
    let (program, args) = command.split_first().context("no server command given")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("while starting the server {program:?}"))?;
    let stdin = child.stdin.take().context("server stdin")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    let mut session = Session {
        stdin: Some(stdin),
        rx,
        next_id: 1,
        deadline: Instant::now() + timeout,
        stateless: false,
    };
    let listing = session.negotiate().and_then(|()| session.all_tools());
    drop(session.stdin.take()); // EOF asks the server to exit
    stop(&mut child);
    let tools = listing?;
    Ok(ToolListing {
        tools,
        era: if session.stateless {
            "stateless"
        } else {
            "handshake"
        },
    })
}

struct Session {
    stdin: Option<ChildStdin>,
    rx: Receiver<Value>,
    next_id: u64,
    deadline: Instant,
    stateless: bool,
}

impl Session {
    fn negotiate(&mut self) -> Result<()> {
        let probe = self.request("server/discover", json!({ "_meta": meta() }))?;
        if let Ok(result) = probe {
            let versions = result.get("supportedVersions").and_then(Value::as_array);
            if versions.is_some_and(|v| v.iter().any(|x| x == STATELESS_VERSION)) {
                self.stateless = true;
                return Ok(());
            }
        }
        let init = json!({
            "protocolVersion": HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": client_info(),
        });
        if let Err(error) = self.request("initialize", init)? {
            bail!("the server refused initialize: {error}");
        }
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    }

    fn all_tools(&mut self) -> Result<Vec<Value>> {
        let mut tools = Vec::new();
        let mut cursor: Option<Value> = None;
        for _ in 0..MAX_PAGES {
            let mut params = serde_json::Map::new();
            if self.stateless {
                params.insert("_meta".into(), meta());
            }
            if let Some(c) = cursor.take() {
                params.insert("cursor".into(), c);
            }
            let result = self
                .request("tools/list", Value::Object(params))?
                .map_err(|e| anyhow!("the server refused tools/list: {e}"))?;
            let page = result
                .get("tools")
                .and_then(Value::as_array)
                .context("tools/list result has no \"tools\" array")?;
            tools.extend(page.iter().cloned());
            match result.get("nextCursor") {
                Some(Value::Null) | None => return Ok(tools),
                Some(next) => cursor = Some(next.clone()),
            }
        }
        bail!("tools/list still had a nextCursor after {MAX_PAGES} pages")
    }

    /// Sends a request; the result, or the error object, of its answer.
    fn request(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<std::result::Result<Value, Value>> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let wait = self.deadline.saturating_duration_since(Instant::now());
            let msg = match self.rx.recv_timeout(wait) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    bail!("timed out waiting for the answer to {method}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("the server closed its output before answering {method}")
                }
            };
            if let (Some(m), Some(req_id)) = (msg.get("method"), msg.get("id")) {
                self.answer_server_request(m, req_id)?;
                continue;
            }
            if msg.get("id") != Some(&json!(id)) {
                continue; // a notification, or a stale answer
            }
            if let Some(error) = msg.get("error") {
                return Ok(Err(error.clone()));
            }
            return Ok(Ok(msg.get("result").cloned().unwrap_or(Value::Null)));
        }
    }

    fn answer_server_request(&mut self, method: &Value, id: &Value) -> Result<()> {
        let reply = if method == "ping" {
            json!({"jsonrpc": "2.0", "id": id, "result": {}})
        } else {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}})
        };
        self.send(&reply)
    }

    fn send(&mut self, msg: &Value) -> Result<()> {
        let stdin = self.stdin.as_mut().context("server stdin closed")?;
        let mut line = serde_json::to_vec(msg)?;
        line.push(b'\n');
        stdin
            .write_all(&line)
            .and_then(|()| stdin.flush())
            .context("while writing to the server")
    }
}

fn client_info() -> Value {
    json!({"name": "mcp-blackbox", "version": env!("CARGO_PKG_VERSION")})
}

/// The `_meta` every stateless-era request carries.
fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
        "io.modelcontextprotocol/clientInfo": client_info(),
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// Waits briefly for the server to exit after EOF, then kills it.
fn stop(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
