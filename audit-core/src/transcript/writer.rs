//! The transcript's writer thread, fed by a [`TranscriptTap`] through a
//! bounded queue (at most [`TranscriptOptions::queue_frames`] frames and
//! [`TranscriptOptions::queue_bytes`] bytes). The thread owns the file; it
//! redacts, formats and writes each frame, and when the tap is dropped (the auditor
//! has seen the session end) writes the end line, flushes and syncs.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::line::{is_exact_json, write_line, FrameLine, Payload};
pub use super::tap::TranscriptTap;
use super::tap::{Queued, Shared};
use super::FORMAT_VERSION;
use crate::clock::rfc3339_millis;
use crate::frame::Frame;
use crate::redact::{RedactConfig, Redactions, Redactor};
use crate::sink::private_file::{self, Access};

/// Opens `path` for a transcript the way audit files are opened (no link
/// followed, no FIFO waited on, a regular file of ours, 0600), then empties it.
pub fn open_private(path: &Path) -> io::Result<File> {
    let file = private_file::open_private(path, Access::Append)?;
    file.set_len(0)?;
    Ok(file)
}

/// How a transcript is written.
#[derive(Debug)]
pub struct TranscriptOptions {
    /// How secrets are removed from every frame (the redactor is built on
    /// the writer's thread); `None` keeps exact bytes (raw).
    pub redact: Option<RedactConfig>,
    /// Frames up to this long are kept whole (the proxy's parse limit).
    pub max_frame_bytes: usize,
    pub session_id: String,
    pub server: String,
    /// Most frames queued for the writer.
    pub queue_frames: usize,
    /// Most frame bytes queued for the writer (at least `max_frame_bytes`,
    /// so that one frame of that size always fits an empty queue).
    pub queue_bytes: usize,
}

/// Default for [`TranscriptOptions::queue_frames`].
pub const DEFAULT_QUEUE_FRAMES: usize = 16 * 1024;
/// Default for [`TranscriptOptions::queue_bytes`], beyond `max_frame_bytes`.
pub const DEFAULT_QUEUE_BYTES: usize = 64 * 1024 * 1024;

impl TranscriptOptions {
    /// Defaults for a session.
    pub fn new(redact: Option<RedactConfig>, max_frame_bytes: usize) -> TranscriptOptions {
        TranscriptOptions {
            redact,
            max_frame_bytes,
            session_id: String::new(),
            server: String::new(),
            queue_frames: DEFAULT_QUEUE_FRAMES,
            queue_bytes: DEFAULT_QUEUE_BYTES.max(max_frame_bytes),
        }
    }
}

/// What the writer wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TranscriptReport {
    pub frames: u64,
    pub lost_frames: u64,
    pub lost_bytes: u64,
    pub truncated_frames: u64,
}

/// The running writer thread; [`TranscriptWriter::finish`] waits for it.
#[derive(Debug)]
pub struct TranscriptWriter {
    done: Receiver<io::Result<TranscriptReport>>,
}

impl TranscriptWriter {
    /// Waits (at most `timeout`) for the writer to end, after the tap was
    /// dropped. `None` if it did not end in time.
    pub fn finish(self, timeout: Duration) -> Option<io::Result<TranscriptReport>> {
        self.done.recv_timeout(timeout).ok()
    }
}

/// Starts the writer thread on `file`; frames offered to the tap are written
/// until the tap is dropped.
pub fn spawn(
    file: File,
    options: TranscriptOptions,
) -> io::Result<(TranscriptTap, TranscriptWriter)> {
    let (tx, rx) = mpsc::sync_channel(options.queue_frames.max(1));
    let shared = Arc::new(Shared::default());
    let tap = TranscriptTap {
        tx,
        shared: shared.clone(),
        queue_bytes: options.queue_bytes,
    };
    let (done_tx, done) = mpsc::channel();
    std::thread::Builder::new()
        .name("transcript".into())
        .spawn(move || {
            let result = Writer::new(file, options, shared).and_then(|mut w| w.run(rx));
            let _ = done_tx.send(result);
        })?;
    Ok((tap, TranscriptWriter { done }))
}

#[derive(Serialize)]
struct Header<'a> {
    kind: &'static str,
    transcript: u32,
    redacted: bool,
    max_frame_bytes: usize,
    session_id: &'a str,
    server: &'a str,
    started: String,
}

#[derive(Serialize)]
struct End {
    kind: &'static str,
    seq: u64,
    frames: u64,
    lost_frames: u64,
    lost_bytes: u64,
    truncated_frames: u64,
    wall: String,
}

struct Writer {
    out: BufWriter<File>,
    options: TranscriptOptions,
    redactor: Option<Redactor>,
    shared: Arc<Shared>,
    head: [u8; 32],
    report: TranscriptReport,
    start: Instant,
}

impl Writer {
    fn new(file: File, options: TranscriptOptions, shared: Arc<Shared>) -> io::Result<Writer> {
        let redactor = match &options.redact {
            // Secrets only: strings are never cut in a transcript.
            Some(config) => Some(
                Redactor::new(&RedactConfig {
                    max_field_chars: 0,
                    ..config.clone()
                })
                .map_err(io::Error::other)?,
            ),
            None => None,
        };
        let mut head = [0u8; 32];
        if getrandom::fill(&mut head).is_err() {
            head = sha2::Digest::finalize(sha2::Digest::chain_update(
                sha2::Sha256::default(),
                format!("{:?}{}", SystemTime::now(), options.session_id),
            ))
            .into();
        }
        Ok(Writer {
            out: BufWriter::with_capacity(256 * 1024, file),
            options,
            redactor,
            shared,
            head,
            report: TranscriptReport::default(),
            start: Instant::now(),
        })
    }

    fn run(&mut self, rx: Receiver<Queued>) -> io::Result<TranscriptReport> {
        let header = Header {
            kind: "header",
            transcript: FORMAT_VERSION,
            redacted: self.redactor.is_some(),
            max_frame_bytes: self.options.max_frame_bytes,
            session_id: &self.options.session_id,
            server: &self.options.server,
            started: rfc3339_millis(SystemTime::now()),
        };
        write_line(&mut self.head, &header, None, &mut self.out)?;
        for Queued {
            frame,
            wall,
            refused_by,
        } in rx
        {
            let result = self.frame(&frame, wall, refused_by);
            self.shared
                .pinned
                .fetch_sub(frame.bytes.len(), Ordering::Relaxed);
            result?;
        }
        self.report.lost_frames = self.shared.lost_frames.load(Ordering::Relaxed);
        self.report.lost_bytes = self.shared.lost_bytes.load(Ordering::Relaxed);
        let end = End {
            kind: "end",
            seq: self.report.frames + 1,
            frames: self.report.frames,
            lost_frames: self.report.lost_frames,
            lost_bytes: self.report.lost_bytes,
            truncated_frames: self.report.truncated_frames,
            wall: rfc3339_millis(SystemTime::now()),
        };
        write_line(&mut self.head, &end, None, &mut self.out)?;
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok(self.report.clone())
    }

    fn frame(
        &mut self,
        frame: &Frame,
        wall: SystemTime,
        refused_by: Option<String>,
    ) -> io::Result<()> {
        self.report.frames += 1;
        let mono_us = frame.at.saturating_duration_since(self.start).as_micros() as u64;
        let mut meta = FrameLine::new(
            self.report.frames,
            frame.direction,
            wall,
            mono_us,
            frame.len,
        );
        meta.after_gap = frame.after_gap;
        meta.refused_by = refused_by;
        meta.unterminated = !frame.terminated;
        if let Some(sha) = frame.sha256 {
            meta.truncated = true;
            meta.sha256 = Some(hex::encode(sha));
            self.report.truncated_frames += 1;
        }
        let bytes = &frame.bytes[..];
        let Some(redactor) = &self.redactor else {
            let payload = if !meta.truncated && is_exact_json(bytes) {
                Payload::Json(bytes)
            } else {
                Payload::Bytes(bytes)
            };
            return write_line(&mut self.head, &meta, Some(payload), &mut self.out);
        };
        let (redacted, json) = redact_frame(redactor, bytes, meta.truncated);
        if let Some((count, text)) = &redacted {
            meta.redactions = (*count > 0).then_some(*count);
            let payload = if json {
                Payload::Json(text)
            } else {
                Payload::Bytes(text)
            };
            return write_line(&mut self.head, &meta, Some(payload), &mut self.out);
        }
        write_line(
            &mut self.head,
            &meta,
            Some(Payload::Bytes(bytes)),
            &mut self.out,
        )
    }
}

/// A frame with its secrets removed: `(redactions, bytes)` and whether the
/// bytes are JSON; `None` when the frame is kept as it is (text in which
/// nothing was found).
fn redact_frame(r: &Redactor, bytes: &[u8], truncated: bool) -> (Option<(usize, Vec<u8>)>, bool) {
    let mut found = Redactions::default();
    if !truncated {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(bytes) {
            r.redact_value(&mut v, &mut found);
            let text = serde_json::to_vec(&v).unwrap_or_default();
            return (Some((found.count(), text)), true);
        }
    }
    let text = String::from_utf8_lossy(bytes);
    match r.redact_text(&text, &mut found) {
        Some(clean) => (Some((found.count().max(1), clean.into_bytes())), false),
        None => (None, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Direction;
    use bytes::Bytes;

    fn frame(bytes: &'static [u8]) -> Frame {
        Frame {
            direction: Direction::ClientToServer,
            at: Instant::now(),
            bytes: Bytes::from_static(bytes),
            len: bytes.len(),
            sha256: None,
            terminated: true,
            after_gap: false,
        }
    }

    #[test]
    fn a_full_queue_counts_its_losses_and_the_end_line_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let file = open_private(&path).unwrap();
        let mut options = TranscriptOptions::new(None, 1024);
        options.queue_frames = 1;
        options.queue_bytes = 4;
        let (tap, writer) = spawn(file, options).unwrap();
        // 3 bytes fit an empty queue; 3 more do not (or the queue is full).
        tap.offer(&frame(b"{}1"), SystemTime::now());
        for _ in 0..3 {
            tap.offer(&frame(b"{}2"), SystemTime::now());
        }
        drop(tap);
        let report = writer.finish(Duration::from_secs(30)).unwrap().unwrap();
        assert!(report.lost_frames >= 2, "{report:?}");
        assert_eq!(report.frames + report.lost_frames, 4);
        let t = super::super::read_transcript(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(t.lost_frames, report.lost_frames);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        ) & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_private(&link).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn secrets_are_removed_from_json_and_text_frames() {
        let r = Redactor::new(&RedactConfig {
            max_field_chars: 0,
            ..RedactConfig::default()
        })
        .unwrap();
        let secret = br#"{"params":{"arguments":{"password":"hunter2hunter2"}}}"#;
        let (out, json) = redact_frame(&r, secret, false);
        let (count, text) = out.unwrap();
        assert!(json && count >= 1);
        assert!(!String::from_utf8(text).unwrap().contains("hunter2"));
        let (out, json) = redact_frame(&r, b"plain text", false);
        assert!(out.is_none() && !json);
    }
}
