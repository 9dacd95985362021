//! What the session is: the protocol era, versions, client and server.
//!
//! MCP has two eras. Up to 2025-11-25 a session opens with `initialize`
//! (client info and requested version in its params, server info and agreed
//! version in its result). From 2026-07-28 there is no handshake: every
//! request carries `io.modelcontextprotocol/protocolVersion`, `clientInfo` and
//! `clientCapabilities` in `params._meta`; servers answer `server/discover` and
//! put `io.modelcontextprotocol/serverInfo` in result `_meta`. Dual-era clients
//! (the Python SDK's `Client`) probe `server/discover` first and fall back to
//! `initialize` when a legacy server answers `-32601`: that error is the normal
//! fallback and is recorded on `session_start`, not as an `rpc_error`.
//!
//! `session_start` is held back until what it should say is known (the
//! handshake or discover answer), or until another event must be written,
//! whichever comes first, so that one line carries the whole picture.

use std::time::SystemTime;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::envelope::Envelope;
use crate::event::{Direction, Event, EventType};

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CLIENT: &str = "io.modelcontextprotocol/clientInfo";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER: &str = "io.modelcontextprotocol/serverInfo";

/// The protocol era of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// Not known yet.
    Unknown,
    /// `initialize` handshake (revisions up to 2025-11-25).
    Handshake,
    /// Stateless, per-request `_meta` (2026-07-28 on).
    Stateless,
}

impl Era {
    /// The name written in `details.era`.
    pub fn as_str(self) -> &'static str {
        match self {
            Era::Unknown => "unknown",
            Era::Handshake => "handshake",
            Era::Stateless => "stateless",
        }
    }
}

/// What the proxy knows of the session before any frame: written on `session_start`.
#[derive(Debug, Clone, Default)]
pub struct SessionFacts {
    /// The server command line.
    pub command: Vec<String>,
    /// The server's process id.
    pub pid: Option<u32>,
    /// Anything else the proxy wants on `session_start` (`proxy_version`, ...).
    pub extra: Map<String, Value>,
}

/// The session's protocol state, as learned from its frames.
#[derive(Debug)]
pub struct SessionState {
    facts: SessionFacts,
    era: Era,
    protocol_version: Option<String>,
    client: Option<Value>,
    client_capabilities: Option<Value>,
    server: Option<Value>,
    discover_probe: Option<&'static str>,
    start_written: bool,
}

impl SessionState {
    /// A session of which only the facts are known.
    pub fn new(facts: SessionFacts) -> SessionState {
        SessionState {
            facts,
            era: Era::Unknown,
            protocol_version: None,
            client: None,
            client_capabilities: None,
            server: None,
            discover_probe: None,
            start_written: false,
        }
    }

    /// The era learned so far.
    pub fn era(&self) -> Era {
        self.era
    }

    /// The protocol version learned so far.
    pub fn protocol_version(&self) -> Option<&str> {
        self.protocol_version.as_deref()
    }

    /// Learns from a request's method and params.
    pub fn observe_request(&mut self, method: &str, params: Option<&RawValue>, dir: Direction) {
        if dir != Direction::ClientToServer {
            return;
        }
        let params: Option<Value> = params.and_then(|p| serde_json::from_str(p.get()).ok());
        if method == "initialize" {
            self.era = Era::Handshake;
            if let Some(p) = &params {
                self.client = p.get("clientInfo").cloned().or(self.client.take());
                if self.protocol_version.is_none() {
                    self.protocol_version = p
                        .get("protocolVersion")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                self.client_capabilities = p.get("capabilities").cloned();
            }
            return;
        }
        let Some(meta) = params.as_ref().and_then(|p| p.get("_meta")) else {
            return;
        };
        if let Some(v) = meta.get(META_VERSION).and_then(Value::as_str) {
            // A discover probe names the version it would like; a legacy server
            // then gets `initialize` and the era is settled by its answer.
            if method != "server/discover" && self.era != Era::Handshake {
                self.era = Era::Stateless;
            }
            if self.era != Era::Handshake {
                self.protocol_version = Some(v.to_owned());
            }
        }
        if let Some(c) = meta.get(META_CLIENT) {
            self.client = Some(c.clone());
        }
        if let Some(c) = meta.get(META_CAPABILITIES) {
            self.client_capabilities = Some(c.clone());
        }
    }

    /// Learns from the answer to a request of `method`. Returns true when the
    /// answer is the discover probe's normal failure on a legacy server.
    pub fn observe_response(
        &mut self,
        method: &str,
        env: &Envelope<'_>,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) -> bool {
        if let Some(info) = env.result_meta().and_then(|m| m.get(META_SERVER).cloned()) {
            self.server.get_or_insert(info);
        }
        match method {
            "initialize" => {
                if let Some(r) = env
                    .result
                    .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
                {
                    self.era = Era::Handshake;
                    if let Some(v) = r.get("protocolVersion").and_then(Value::as_str) {
                        self.protocol_version = Some(v.to_owned());
                    }
                    if let Some(s) = r.get("serverInfo") {
                        self.server = Some(s.clone());
                    }
                    self.flush_start(at, out);
                }
                false
            }
            "server/discover" => {
                if env.error.is_some() {
                    self.discover_probe = Some("legacy_fallback");
                    return true;
                }
                self.discover_probe = Some("answered");
                if let Some(r) = env
                    .result
                    .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
                {
                    let modern = r
                        .get("supportedVersions")
                        .and_then(Value::as_array)
                        .is_some_and(|vs| {
                            vs.iter()
                                .filter_map(Value::as_str)
                                .any(|v| v >= "2026-07-28")
                        });
                    if modern && self.era == Era::Unknown {
                        self.era = Era::Stateless;
                        self.flush_start(at, out);
                    }
                }
                false
            }
            _ => false,
        }
    }

    /// Writes `session_start` if it has not been written yet.
    pub fn flush_start(&mut self, at: SystemTime, out: &mut Vec<Event>) {
        if self.start_written {
            return;
        }
        self.start_written = true;
        let mut e = Event::new(EventType::SessionStart, at);
        let d = &mut e.details;
        d.insert("command".into(), self.facts.command.clone().into());
        if let Some(pid) = self.facts.pid {
            d.insert("pid".into(), pid.into());
        }
        d.insert("era".into(), self.era.as_str().into());
        if let Some(v) = &self.protocol_version {
            d.insert("protocol_version".into(), v.clone().into());
        }
        if let Some(c) = &self.client {
            d.insert("client".into(), c.clone());
        }
        if let Some(c) = &self.client_capabilities {
            d.insert("client_capabilities".into(), c.clone());
        }
        if let Some(s) = &self.server {
            d.insert("server_info".into(), s.clone());
        }
        if let Some(p) = self.discover_probe {
            d.insert("discover_probe".into(), p.into());
        }
        for (k, v) in &self.facts.extra {
            d.insert(k.clone(), v.clone());
        }
        out.push(e);
    }
}
