//! `audit-core`: everything mcp-blackbox knows about MCP traffic, and nothing
//! about processes, signals or command lines.
//!
//! The flow of one session, as the proxy wires it:
//!
//! ```text
//! relay threads ──Chunk──▶ auditor::Auditor ──▶ frame::Framer ──▶ classify::Classifier
//!   (bytes, by refcount)                                      ──▶ redact ──▶ stamp (hash chain)
//!                                                             ──▶ sink::Writer (JSONL files)
//! ```
//!
//! The relay only hands the [`bytes::Bytes`] it relays (just before writing them to the peer) to
//! [`handoff::AuditHandle::offer`], which never blocks. Everything after that
//! happens on the auditor's own threads.

pub mod auditor;
pub mod classify;
pub mod clock;
pub mod config;
pub mod event;
pub mod frame;
pub mod handoff;
pub mod pin;
pub mod policy;
pub mod redact;
pub mod sign;
pub mod sink;
pub mod stamp;
pub mod trail;
pub mod verify;
