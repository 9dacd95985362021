//! Newline framing of an MCP stdio byte stream, with bounded memory.
//!
//! MCP's stdio transport is newline-delimited JSON-RPC: one message a line.
//! Framing never fails: a line is a frame whatever it holds, and whether it is
//! JSON-RPC is the classifier's question.
//!
//! The relay hands us the chunks it relays, exactly as read. Lines wholly
//! inside one chunk become frames by reference count (`Bytes::slice`, no
//! copy). A line split across reads is held as the pieces of the chunks it
//! came in (by reference count; pieces under 4 KiB are copied together) and
//! joined once, when its newline arrives, into a buffer reused from line to
//! line. A line longer than the parse limit is *oversized*: we keep its first
//! [`OVERSIZED_PREFIX`] bytes for the record, hash the whole line as it passes
//! (SHA-256, so the record still identifies exactly what was relayed), count
//! its length, and emit it as one frame when its newline arrives. A peer that
//! never sends a newline therefore costs us at most `limit` bytes, and a line
//! of any size costs one pass of hashing, not a copy.
//!
//! The two directions' framers share the limit ([`Framer::sharing`]): together
//! they hold at most `limit` bytes of unterminated lines, so a line that
//! passes what the other direction leaves of it is oversized too. The
//! auditor's memory for lines is thus one limit, whatever both peers send.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

use crate::event::Direction;

/// Default for the largest line kept whole for parsing: 16 MiB.
pub const DEFAULT_PARSE_LIMIT: usize = 16 * 1024 * 1024;

/// How much of an oversized line is kept (for the excerpt and method sniffing).
pub const OVERSIZED_PREFIX: usize = 4096;

/// One line of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub direction: Direction,
    /// When the line's last byte was read.
    pub at: Instant,
    /// The line without its `\n` (a `\r` before it stays: JSON parsers read it
    /// as white space). For an oversized line, only its first
    /// [`OVERSIZED_PREFIX`] bytes.
    pub bytes: Bytes,
    /// Length of the whole line on the wire, terminator excluded.
    pub len: usize,
    /// SHA-256 of the whole line (terminator excluded), for an oversized
    /// line only: see [`Frame::oversized`].
    pub sha256: Option<[u8; 32]>,
    /// The line ended with a newline (false only for a last line at end of stream).
    pub terminated: bool,
    /// Bytes before this line were lost by the hand-off, so its start may be
    /// missing.
    pub after_gap: bool,
}

impl Frame {
    /// The line was longer than the parse limit: `bytes` is a prefix, and
    /// `sha256` identifies the whole line.
    pub fn oversized(&self) -> bool {
        self.sha256.is_some()
    }
}

/// A piece of a line that spans chunks is held by reference from this size
/// on; smaller ones are copied together (so that a line read a few bytes at a
/// time does not hold one chunk per byte).
const HOLD_FROM: usize = 4096;

/// A long hash (an oversized line's here, a large result's digest in the
/// auditor) is computed in pieces of this size, ~17 µs of CPU each here
/// (SHA-256 at ~1.9 GB/s), with a pause after each where the auditor may
/// yield its core. Hashing a 1 MiB result in one go held a core for
/// ~0.5 ms while the server, relay and client, which wake each other once
/// per pipe-full, waited for it.
pub const HASH_PIECE: usize = 32 * 1024;

/// Feeds `bytes` to `hasher` in [`HASH_PIECE`]s, calling `pause` after each.
pub(crate) fn hash_pausing(hasher: &mut Sha256, bytes: &[u8], pause: &mut dyn FnMut()) {
    for piece in bytes.chunks(HASH_PIECE) {
        hasher.update(piece);
        pause();
    }
}

/// Hashes `part` of an oversized line and keeps what of it still fits the
/// line's prefix.
fn absorb(hasher: &mut Sha256, prefix: &mut BytesMut, part: &[u8], pause: &mut dyn FnMut()) {
    hash_pausing(hasher, part, pause);
    let keep = OVERSIZED_PREFIX - prefix.len();
    prefix.extend_from_slice(&part[..keep.min(part.len())]);
}

/// After joining a line longer than this, the framer lets the buffer go
/// rather than keep it for the next line.
const KEEP_JOINED: usize = 4 * 1024 * 1024;

/// Splits one direction's chunks into [`Frame`]s.
#[derive(Debug)]
pub struct Framer {
    direction: Direction,
    limit: usize,
    /// The current (unterminated) line while it is within the limit: the
    /// pieces of the chunks it came in, by reference count, in order, then
    /// `small`.
    held: Vec<Bytes>,
    /// Pieces of the current line smaller than [`HOLD_FROM`], copied
    /// together; they follow everything in `held`.
    small: BytesMut,
    /// Where a line that spans chunks is joined when it ends. Its allocation
    /// is reused for the next such line once the last frame joined in it is
    /// dropped (warm memory: a fresh buffer costs a page fault per 4 KiB).
    joined: BytesMut,
    /// Length of the current line so far, including what an oversized line
    /// no longer holds. Until the line is oversized, `held` and `small`
    /// hold exactly this many bytes.
    partial_len: usize,
    /// Hash of the current line so far, once it is oversized (then `prefix`
    /// holds its start and `held` is empty).
    hasher: Option<Sha256>,
    prefix: BytesMut,
    after_gap: bool,
    /// Bytes held for unterminated lines by this framer and those sharing
    /// its limit: within `limit`.
    shared_held: Arc<AtomicUsize>,
}

impl Framer {
    /// A framer for `direction` that keeps lines up to `limit` bytes whole.
    pub fn new(direction: Direction, limit: usize) -> Framer {
        Framer::with_pool(direction, limit, Arc::default())
    }

    /// A framer for `direction` whose held lines and this one's together
    /// stay within this one's limit.
    pub fn sharing(&self, direction: Direction) -> Framer {
        Framer::with_pool(direction, self.limit, Arc::clone(&self.shared_held))
    }

    fn with_pool(direction: Direction, limit: usize, shared_held: Arc<AtomicUsize>) -> Framer {
        Framer {
            direction,
            limit: limit.max(OVERSIZED_PREFIX),
            held: Vec::new(),
            small: BytesMut::new(),
            joined: BytesMut::new(),
            partial_len: 0,
            hasher: None,
            prefix: BytesMut::new(),
            after_gap: false,
            shared_held,
        }
    }

    /// Feeds one chunk; complete lines are appended to `out`.
    pub fn push(&mut self, chunk: Bytes, at: Instant, out: &mut Vec<Frame>) {
        self.push_pausing(chunk, at, out, &mut || {});
    }

    /// [`Framer::push`], calling `pause` after every [`HASH_PIECE`] of an
    /// oversized line hashed: a line that passes the limit has everything
    /// held so far hashed at once (16 MiB by default, ~8 ms of CPU), and the
    /// caller may want to give up its core in between.
    pub fn push_pausing(
        &mut self,
        chunk: Bytes,
        at: Instant,
        out: &mut Vec<Frame>,
        pause: &mut dyn FnMut(),
    ) {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', &chunk) {
            if self.partial_len == 0 {
                out.push(self.frame(chunk.slice(start..nl), nl - start, None, true, at));
            } else {
                self.extend_partial(&chunk, start, nl, pause);
                let frame = self.end_line(true, at);
                out.push(frame);
            }
            start = nl + 1;
        }
        if start < chunk.len() {
            self.extend_partial(&chunk, start, chunk.len(), pause);
        }
    }

    /// End of stream: a last line without a newline is still a frame.
    pub fn finish(&mut self, at: Instant, out: &mut Vec<Frame>) {
        if self.partial_len > 0 {
            let frame = self.end_line(false, at);
            out.push(frame);
        }
    }

    /// The hand-off lost bytes of this direction: the line in progress is no
    /// longer trustworthy, and the next frame is marked `after_gap`.
    pub fn gap(&mut self) {
        if self.hasher.is_none() {
            self.unshare(self.partial_len);
        }
        self.release_held();
        self.prefix.clear();
        self.partial_len = 0;
        self.hasher = None;
        self.after_gap = true;
    }

    /// Bytes currently held for an unterminated line.
    pub fn buffered(&self) -> usize {
        match self.hasher {
            Some(_) => self.prefix.len(),
            None => self.partial_len,
        }
    }

    /// Appends `chunk[from..to]` to the current line.
    fn extend_partial(&mut self, chunk: &Bytes, from: usize, to: usize, pause: &mut dyn FnMut()) {
        let piece = &chunk[from..to];
        if piece.is_empty() {
            return;
        }
        self.partial_len += piece.len();
        if let Some(hasher) = self.hasher.as_mut() {
            hash_pausing(hasher, piece, pause);
            return;
        }
        let all_held = self.shared_held.fetch_add(piece.len(), Ordering::Relaxed) + piece.len();
        if self.partial_len > self.limit || all_held > self.limit {
            self.unshare(self.partial_len);
            // Oversized: hash what we held (straight from the chunks, no
            // copy), keep only the prefix, let the rest go as it is hashed
            // (the relay reads on while the caller pauses between pieces,
            // so what is held should shrink while the queue grows).
            let mut hasher = Sha256::new();
            self.prefix.clear();
            let small = self.small.split().freeze();
            for part in self.held.drain(..).chain([small]) {
                absorb(&mut hasher, &mut self.prefix, &part, pause);
            }
            absorb(&mut hasher, &mut self.prefix, piece, pause);
            self.hasher = Some(hasher);
        } else if piece.len() >= HOLD_FROM {
            if !self.small.is_empty() {
                self.held.push(self.small.split().freeze());
            }
            self.held.push(chunk.slice(from..to));
        } else {
            self.small.extend_from_slice(piece);
        }
    }

    /// The current line is complete: its frame.
    fn end_line(&mut self, terminated: bool, at: Instant) -> Frame {
        let len = std::mem::take(&mut self.partial_len);
        if let Some(hasher) = self.hasher.take() {
            let bytes = self.prefix.split().freeze();
            return self.frame(bytes, len, Some(hasher.finalize().into()), terminated, at);
        }
        self.unshare(len);
        let bytes = if self.held.is_empty() {
            // Only small pieces: they are the line already.
            self.small.split().freeze()
        } else {
            self.joined.reserve(len);
            for part in &self.held {
                self.joined.extend_from_slice(part);
            }
            self.joined.extend_from_slice(&self.small);
            let bytes = self.joined.split().freeze();
            if len > KEEP_JOINED {
                self.joined = BytesMut::new();
            }
            bytes
        };
        self.release_held();
        self.frame(bytes, len, None, terminated, at)
    }

    /// This framer no longer holds `n` bytes of the shared limit.
    fn unshare(&self, n: usize) {
        self.shared_held.fetch_sub(n, Ordering::Relaxed);
    }

    fn release_held(&mut self) {
        self.held.clear();
        self.small.clear();
    }

    fn frame(
        &mut self,
        bytes: Bytes,
        len: usize,
        sha256: Option<[u8; 32]>,
        terminated: bool,
        at: Instant,
    ) -> Frame {
        Frame {
            direction: self.direction,
            at,
            bytes,
            len,
            sha256,
            terminated,
            after_gap: std::mem::take(&mut self.after_gap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(limit: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::new(Direction::ClientToServer, limit);
        let mut out = Vec::new();
        let at = Instant::now();
        for c in chunks {
            f.push(Bytes::copy_from_slice(c), at, &mut out);
        }
        f.finish(at, &mut out);
        out
    }

    #[test]
    fn splits_lines_within_and_across_chunks() {
        let out = frames(1 << 20, &[b"{\"a\":1}\n{\"b\"", b":2}\r\n", b"tail"]);
        let texts: Vec<_> = out.iter().map(|f| f.bytes.clone()).collect();
        assert_eq!(
            texts,
            vec![&b"{\"a\":1}"[..], &b"{\"b\":2}\r"[..], &b"tail"[..]]
        );
        assert_eq!(out[1].len, 8);
        assert!(out[1].terminated && !out[2].terminated);
    }

    #[test]
    fn both_directions_share_one_limit() {
        let at = Instant::now();
        let mut a = Framer::new(Direction::ClientToServer, 5000);
        let mut b = a.sharing(Direction::ServerToClient);
        let part = Bytes::from(vec![b'x'; 3000]);
        let mut out = Vec::new();
        a.push(part.clone(), at, &mut out);
        b.push(part.clone(), at, &mut out);
        b.push(Bytes::from_static(b"\n"), at, &mut out);
        assert!(out[0].oversized(), "3000 + 3000 held is over 5000");
        a.push(Bytes::from_static(b"\n"), at, &mut out);
        assert!(!out[1].oversized(), "the first line was within the limit");
        b.push(part, at, &mut out);
        b.push(Bytes::from_static(b"\n"), at, &mut out);
        assert!(
            !out[2].oversized(),
            "a's line ended: all of the limit is free"
        );
        assert_eq!(b.shared_held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn empty_lines_are_frames() {
        let out = frames(1 << 20, &[b"\n\n"]);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|f| f.len == 0));
    }

    #[test]
    fn oversized_line_keeps_prefix_and_true_length() {
        let big = vec![b'x'; 10_000];
        let out = frames(5000, &[&big[..3000], &big[3000..], b"\n{}\n"]);
        assert_eq!(out.len(), 2);
        assert!(out[0].oversized());
        assert_eq!(out[0].len, 10_000);
        assert_eq!(out[0].bytes.len(), OVERSIZED_PREFIX);
        assert_eq!(out[0].sha256, Some(Sha256::digest(&big).into()));
        assert_eq!(&out[1].bytes[..], b"{}");
        assert_eq!(out[1].sha256, None);
        assert!(!out[1].oversized());
    }

    #[test]
    fn an_oversized_line_is_hashed_in_pieces_with_a_pause_after_each() {
        let limit = 256 * 1024;
        let mut f = Framer::new(Direction::ServerToClient, limit);
        let line = vec![b'x'; 3 * limit];
        let (mut out, mut pauses) = (Vec::new(), 0);
        let at = Instant::now();
        for piece in line.chunks(64 * 1024).chain([&b"\n"[..]]) {
            let chunk = Bytes::copy_from_slice(piece);
            f.push_pausing(chunk, at, &mut out, &mut || pauses += 1);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].sha256, Some(Sha256::digest(&line).into()));
        // What was held when the line passed the limit, then every chunk.
        assert_eq!(pauses, line.len() / HASH_PIECE);
    }

    #[test]
    fn memory_stays_bounded_without_newline() {
        let mut f = Framer::new(Direction::ServerToClient, 8192);
        let mut out = Vec::new();
        let chunk = Bytes::from(vec![b'y'; 65536]);
        for _ in 0..64 {
            f.push(chunk.clone(), Instant::now(), &mut out);
            assert!(f.buffered() <= 8192);
        }
        f.push(Bytes::from_static(b"\n"), Instant::now(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len, 64 * 65536);
    }

    #[test]
    fn gap_marks_next_frame() {
        let mut f = Framer::new(Direction::ServerToClient, 1 << 20);
        let mut out = Vec::new();
        let at = Instant::now();
        f.push(Bytes::from_static(b"{\"half"), at, &mut out);
        f.gap();
        f.push(Bytes::from_static(b"rest\"}\n{}\n"), at, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out[0].after_gap && !out[1].after_gap);
        assert_eq!(&out[0].bytes[..], b"rest\"}");
    }

    proptest! {
        /// Every input byte comes out, in order, however the stream is cut.
        #[test]
        fn every_byte_comes_out_in_order(data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..2000), cuts in proptest::collection::vec(0usize..2000, 0..10)) {
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c <= data.len()).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts { chunks.push(&data[prev..c]); prev = c; }
            chunks.push(&data[prev..]);
            let out = frames(1 << 20, &chunks);
            let mut rebuilt = Vec::new();
            for f in &out {
                rebuilt.extend_from_slice(&f.bytes);
                prop_assert_eq!(f.bytes.len(), f.len);
                if f.terminated {
                    rebuilt.push(b'\n');
                }
            }
            prop_assert_eq!(rebuilt, data);
        }

        /// Lines of any length, cut anywhere (pieces held and copied, lines
        /// over the limit): each frame is what the line says, as a naive
        /// split of the whole stream has it.
        #[test]
        fn frames_match_a_split_of_the_whole_stream(
            lines in proptest::collection::vec((0usize..12_000, any::<u8>()), 0..8),
            cuts in proptest::collection::vec(0usize..100_000, 0..24),
            limit in 4096usize..10_000,
            tail in any::<bool>(),
        ) {
            let mut data = Vec::new();
            for (len, fill) in &lines {
                // Bytes that differ along the line, so that order shows.
                data.extend((0..*len).map(|k| match (*fill as usize + k * 31) % 251 { 10 => b'x', b => b as u8 }));
                data.push(b'\n');
            }
            if tail {
                data.extend_from_slice(b"{\"last\":true}");
            }
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c <= data.len()).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in &cuts { chunks.push(&data[prev..*c]); prev = *c; }
            chunks.push(&data[prev..]);
            let out = frames(limit, &chunks);
            let expected: Vec<&[u8]> = if data.is_empty() {
                Vec::new()
            } else {
                let mut v: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
                if v.last().is_some_and(|l| l.is_empty()) {
                    v.pop();
                }
                v
            };
            prop_assert_eq!(out.len(), expected.len());
            let mut at = 0;
            for (i, (f, line)) in out.iter().zip(&expected).enumerate() {
                // A line within one chunk is a frame whatever its length;
                // one that spans chunks is oversized past the limit.
                let end = at + line.len();
                let last = i + 1 == expected.len() && tail;
                let spans = last || cuts.iter().any(|c| at < *c && *c <= end);
                at = end + 1;
                prop_assert_eq!(f.len, line.len());
                if spans && line.len() > limit {
                    prop_assert!(f.oversized());
                    prop_assert_eq!(&f.bytes[..], &line[..OVERSIZED_PREFIX]);
                    prop_assert_eq!(f.sha256, Some(Sha256::digest(line).into()));
                } else {
                    prop_assert!(!f.oversized());
                    prop_assert_eq!(&f.bytes[..], *line);
                }
            }
        }
    }
}
