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
//! whichever comes first, so that one line carries the whole picture. If the
//! era, version, client, client capabilities or server change after it was
//! written (a stateless client sending another `clientInfo`, an era learned
//! only after the first call), a `session_updated` event says what changed.

use std::time::SystemTime;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::budget::parse_kept;

use super::envelope::Envelope;
use super::params::{string, RequestMeta, RequestParams};
use crate::event::{Direction, Event, EventType};

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
    /// What changed since `session_start` (or the last `session_updated`).
    changed: Vec<&'static str>,
}

impl SessionState {
    /// One of the facts the proxy added (`SessionFacts::extra`).
    pub fn fact(&self, key: &str) -> Option<&Value> {
        self.facts.extra.get(key)
    }

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
            changed: Vec::new(),
        }
    }

    /// Learns from a request; writes `session_updated` if that changed what
    /// `session_start` said.
    pub fn observe_request(
        &mut self,
        method: &str,
        params: &RequestParams<'_>,
        meta: &RequestMeta<'_>,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        if dir != Direction::ClientToServer {
            return;
        }
        if method == "initialize" {
            self.set_era(Era::Handshake);
            self.set_value(Field::Client, params.client_info);
            self.set_value(Field::Capabilities, params.capabilities);
            if self.protocol_version.is_none() {
                self.set_version(params.protocol_version.and_then(string));
            }
        } else {
            if let Some(v) = meta.protocol_version.and_then(string) {
                // A discover probe names the version it would like; a legacy
                // server then gets `initialize` and the era is settled by its answer.
                if method != "server/discover" && self.era != Era::Handshake {
                    self.set_era(Era::Stateless);
                }
                if self.era != Era::Handshake {
                    self.set_version(Some(v));
                }
            }
            self.set_value(Field::Client, meta.client_info);
            self.set_value(Field::Capabilities, meta.client_capabilities);
        }
        self.write_update(at, out);
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
        let held = self.learn_from_response(method, env);
        let settled =
            matches!(method, "initialize" | "server/discover") && self.era != Era::Unknown;
        if settled && !self.start_written {
            self.flush_start(at, out);
        }
        self.write_update(at, out);
        held
    }

    fn learn_from_response(&mut self, method: &str, env: &Envelope<'_>) -> bool {
        if method != "initialize" && method != "server/discover" && self.server.is_some() {
            return false; // the common case costs nothing
        }
        if let Some(info) = env.result_meta().and_then(|m| m.get(META_SERVER).cloned()) {
            self.set_server(info);
        }
        match method {
            "initialize" => {
                if let Some(r) = env.result.and_then(|r| parse_kept(r.get())) {
                    self.set_era(Era::Handshake);
                    if let Some(v) = r.get("protocolVersion").and_then(Value::as_str) {
                        self.set_version(Some(v.to_owned()));
                    }
                    if let Some(s) = r.get("serverInfo") {
                        self.set_server(s.clone());
                    }
                }
                false
            }
            "server/discover" => {
                if env.error.is_some() {
                    self.discover_probe = Some("legacy_fallback");
                    return true;
                }
                self.discover_probe = Some("answered");
                if let Some(r) = env.result.and_then(|r| parse_kept(r.get())) {
                    let modern = r
                        .get("supportedVersions")
                        .and_then(Value::as_array)
                        .is_some_and(|vs| {
                            vs.iter()
                                .filter_map(Value::as_str)
                                .any(|v| v >= "2026-07-28")
                        });
                    if modern && self.era == Era::Unknown {
                        self.set_era(Era::Stateless);
                    }
                }
                false
            }
            _ => false,
        }
    }

    fn set_era(&mut self, era: Era) {
        if self.era != era {
            self.era = era;
            self.changed.push("era");
        }
    }

    fn set_version(&mut self, v: Option<String>) {
        if v.is_some() && self.protocol_version != v {
            self.protocol_version = v;
            self.changed.push("protocol_version");
        }
    }

    fn set_server(&mut self, info: Value) {
        if self.server.as_ref() != Some(&info) {
            self.server = Some(info);
            self.changed.push("server_info");
        }
    }

    fn set_value(&mut self, field: Field, raw: Option<&RawValue>) {
        let Some(v) = raw.and_then(|r| parse_kept(r.get())) else {
            return;
        };
        let (slot, name) = match field {
            Field::Client => (&mut self.client, "client"),
            Field::Capabilities => (&mut self.client_capabilities, "client_capabilities"),
        };
        if slot.as_ref() != Some(&v) {
            *slot = Some(v);
            self.changed.push(name);
        }
    }

    /// After `session_start`: writes `session_updated` naming what changed.
    fn write_update(&mut self, at: SystemTime, out: &mut Vec<Event>) {
        if !self.start_written {
            self.changed.clear();
            return;
        }
        if self.changed.is_empty() {
            return;
        }
        let changed = std::mem::take(&mut self.changed);
        let mut e = Event::new(EventType::SessionUpdated, at);
        e.details.insert("changed".into(), changed.clone().into());
        self.describe(&mut e.details, false);
        out.push(e);
    }

    /// Writes `session_start` if it has not been written yet.
    pub fn flush_start(&mut self, at: SystemTime, out: &mut Vec<Event>) {
        if self.start_written {
            return;
        }
        self.start_written = true;
        self.changed.clear();
        let mut e = Event::new(EventType::SessionStart, at);
        self.describe(&mut e.details, true);
        out.push(e);
    }

    fn describe(&self, d: &mut Map<String, Value>, with_facts: bool) {
        if with_facts {
            d.insert("command".into(), self.facts.command.clone().into());
            if let Some(pid) = self.facts.pid {
                d.insert("pid".into(), pid.into());
            }
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
        if with_facts {
            for (k, v) in &self.facts.extra {
                d.insert(k.clone(), v.clone());
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Field {
    Client,
    Capabilities,
}
