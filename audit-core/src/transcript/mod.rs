//! The transcript: a full-fidelity, hash-chained record of every frame of a
//! session, written beside the audit trail for replay, `check` and `diff`.
//!
//! One JSON object a line, each chained like the trail (`crate::stamp::chain_tail`):
//!
//! ```text
//! {"kind":"header","transcript":1,"redacted":true,"max_frame_bytes":N,"session_id":…,"server":…,"started":…,"prev_hash":<seed>,"hash":…}
//! {"kind":"frame","seq":1,"dir":"c2s","wall":…,"mono_us":N,"len":N,"json":{…exact bytes…},"prev_hash":…,"hash":…}
//! {"kind":"frame","seq":2,"dir":"s2c",…,"len":N,"b64":"…",…}
//! {"kind":"end","seq":N,"frames":N,"lost_frames":N,"lost_bytes":N,"truncated_frames":N,"wall":…,"prev_hash":…,"hash":…}
//! ```
//!
//! A frame whose bytes are valid JSON with no white space around them is
//! written as `json`, those bytes exactly; any other frame as `b64`. A frame
//! longer than `max_frame_bytes` (the proxy's parse limit) keeps its first
//! `crate::frame::OVERSIZED_PREFIX` bytes in `b64`, with `"truncated":true`
//! and its `sha256`. A redacted transcript (`"redacted":true`, the default)
//! has secrets removed from every frame (`json` re-serialised, with
//! `"redactions":N` when any were found); a raw one keeps exact bytes.
//!
//! A request the policy refused is recorded with the proxy's reply to it,
//! both marked `"refused_by":<rule>`: what the client sent and got.
//!
//! The frames reach the writer from the auditor ([`TranscriptTap::offer`],
//! never blocking) through a bounded queue; a frame that does not fit is
//! counted in the end line's `lost_frames`, and the writer thread does the
//! redaction, the formatting and the disk.

mod line;
mod read;
pub(crate) mod tap;
pub(crate) mod writer;

pub use line::Dir;
pub use read::{
    looks_like_transcript, read_transcript, verify_chain, ReadError, Transcript, TranscriptFrame,
};
pub(crate) use tap::TranscriptTap;
pub(crate) use writer::{open_private, spawn, TranscriptOptions, TranscriptWriter};

/// The format version, written as `"transcript"` in the header.
pub const FORMAT_VERSION: u32 = 1;
