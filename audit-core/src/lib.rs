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
//! The public modules are what the binary and its tests use: the settings
//! ([`config`]), the pipeline and its hand-off ([`pipeline`], [`handoff`]),
//! the relay's [`policy::Gate`], the event model ([`event`]), the trail's
//! format ([`stamp`]) and its readers ([`verify`], [`trail`], [`analysis`],
//! [`transcript`]), the CI harness ([`check`], [`diff`], [`replay`]), error
//! replies ([`reply`]), keys ([`sign`]), pins ([`pin`]) and redaction
//! ([`redact`], for tools that scan text). The pipeline's stages (framing,
//! classification, the auditor, the sink writer, forwarding, the transcript
//! writer) are private; `stages` re-exports them for the benchmarks and the
//! tests crate, hidden from these docs.

// Functions stay short enough to read as their steps (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod analysis;
pub(crate) mod auditor;
mod bytescan;
pub mod check;
pub(crate) mod classify;
pub(crate) mod clock;
pub mod config;
pub mod diff;
mod digest;
pub mod event;
pub(crate) mod forward;
pub(crate) mod frame;
pub mod handoff;
#[cfg(test)]
mod module_graph_tests;
pub mod pin;
pub mod pipeline;
pub mod policy;
pub mod redact;
pub mod replay;
pub mod reply;
mod sched;
mod session_end;
pub mod sign;
pub(crate) mod sink;
pub mod stamp;
pub mod trail;
pub mod transcript;
pub mod verify;

/// The pipeline's stages one by one, for the benchmarks (`bench_pipeline`,
/// `bench_forward`) and the tests crate; not an API.
#[doc(hidden)]
pub mod stages {
    pub use crate::auditor::{Auditor, AuditorConfig, AuditorReport};
    /// Trail checks for the fuzz targets (`fuzz/`).
    #[cfg(feature = "test-support")]
    pub use crate::classify::selfcheck;
    pub use crate::classify::SessionFacts;
    pub use crate::clock::utc_date;
    pub use crate::forward::{ForwardConfig, ForwardUrl, Forwarders, TlsFiles};
    pub use crate::frame::{Frame, Framer, DEFAULT_PARSE_LIMIT};
    pub use crate::sink::{
        spawn_writer, spawn_writer_with, FsyncPolicy, RotationPolicy, SinkTarget, WriterConfig,
        DEFAULT_WRITER_QUEUE,
    };
    pub use crate::transcript::tap::TranscriptTap;
    pub use crate::transcript::writer::{
        open_private as open_transcript, spawn as spawn_transcript, TranscriptOptions,
        TranscriptReport, TranscriptWriter,
    };
}
