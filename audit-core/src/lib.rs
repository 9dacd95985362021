//! `audit-core`: everything mcp-blackbox knows about MCP traffic, and nothing
//! about processes, signals or command lines.
//!
//! A caller loads [`config::Settings`], builds the session's pipeline with
//! [`pipeline::Plan::from_settings`] and starts it with
//! [`pipeline::Plan::start`]; the relay offers the bytes it relays to the
//! [`handoff::AuditHandle`] the [`pipeline::Pipeline`] hands out, which never
//! blocks. Everything after that happens on the auditor's own threads:
//!
//! ```text
//! relay threads ──Chunk──▶ handoff ──▶ auditor: frame → classify → redact → stamp
//!   (bytes, by refcount)                 ──▶ sink writer ──▶ JSONL files
//! ```
//!
//! `docs/architecture.md` draws the threads and says where each concern lives.
//!
//! The public modules are what callers use: the settings ([`config`]), the
//! pipeline and its hand-off ([`pipeline`], [`handoff`]), the relay's policy
//! [`policy::Gate`], the event model ([`event`]), the trail's format
//! ([`stamp`]) and its readers ([`verify`]), keys ([`sign`]), pins ([`pin`])
//! and redaction ([`redact`], for tools that scan text). The stages of the
//! pipeline are private.

// Functions stay short enough to read as their steps (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod analysis;
pub(crate) mod auditor;
pub mod check;
pub(crate) mod classify;
pub(crate) mod clock;
pub mod config;
pub mod diff;
mod digest;
pub mod event;
pub mod forward;
pub(crate) mod frame;
pub mod handoff;
pub mod pin;
pub mod pipeline;
pub mod policy;
pub mod redact;
pub mod replay;
pub mod reply;
mod session_end;
pub mod sign;
pub(crate) mod sink;
pub mod stamp;
pub mod trail;

pub mod transcript;
pub mod verify;

/// The pipeline's stages one by one, for `bench_pipeline`; not an API.
#[doc(hidden)]
pub mod stages {
    pub use crate::auditor::{Auditor, AuditorConfig, AuditorReport};
    pub use crate::classify::SessionFacts;
    pub use crate::clock::utc_date;
    pub use crate::frame::{Frame, Framer, DEFAULT_PARSE_LIMIT};
    pub use crate::sink::{
        spawn_writer, spawn_writer_with, FsyncPolicy, RotationPolicy, SinkTarget, WriterConfig,
        DEFAULT_WRITER_QUEUE,
    };
}
