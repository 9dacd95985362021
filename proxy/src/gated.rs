//! The line gate of a relay pump, for sessions whose policy can refuse calls
//! (or rewrite a `tools/list` result): the only place the proxy holds bytes
//! back.
//!
//! Only complete lines can be judged, so these pumps keep an unterminated
//! line in their buffer until its newline arrives (up to the parse limit). The
//! decision itself is `audit_core::policy::Gate`'s; this module only cuts the
//! buffer into lines, relays the approved ones in contiguous runs (one
//! `write` per run, zero-copy slices of the read buffer), and carries out
//! refusals. A line over the parse limit cannot be judged whole: from the
//! client it is refused and discarded up to its newline without being kept
//! (fail closed; only its first [`KEPT_PREFIX`] bytes go to the trail); from
//! the server it streams through (the gate is told, for pins).

use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Instant;

use audit_core::event::Direction;
use audit_core::handoff::{AuditHandle, AuditMsg, Refusal};
use audit_core::policy::gate::{Gate, Verdict};
use bytes::{Bytes, BytesMut};

use crate::fdio;
use crate::relay::{ClientOutput, Output, READ_SIZE};

/// Bytes of a refused over-limit line handed to the auditor (the id and
/// method are near the start; the rest would only pin memory).
const KEPT_PREFIX: usize = 64 * 1024;

/// What to do with the bytes of one read, in order.
#[derive(Debug, PartialEq)]
enum Piece {
    /// Relay these bytes unchanged.
    Relay(Bytes),
    /// Relay `rewritten` in place of the line `original` (a filtered
    /// `tools/list` result); the audit trail gets what the server offered.
    Rewritten { original: Bytes, rewritten: Bytes },
    /// A line not relayed; `reply` (maybe empty) goes back to the client.
    Refused {
        frame: Bytes,
        reply: Bytes,
        rule: String,
    },
    /// The line before this piece was relayed, but `rule` would refuse it.
    DryRun { frame: Bytes, rule: String },
}

/// How the gate judged one complete line.
enum Judgement {
    Keep,
    Replace(Vec<u8>),
    Refuse { reply: Vec<u8>, rule: String },
    DryRun { rule: String },
}

impl From<Verdict> for Judgement {
    fn from(v: Verdict) -> Judgement {
        match v {
            Verdict::Forward => Judgement::Keep,
            Verdict::Refuse { reply, rule } => Judgement::Refuse { reply, rule },
            Verdict::DryRun { rule } => Judgement::DryRun { rule },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Oversized {
    No,
    /// Streaming an unjudged line through until its newline.
    Passing,
    /// Dropping a line that may be a call until its newline.
    Discarding,
}

/// Cuts complete lines out of a read buffer and judges them.
struct LineCutter {
    buf: BytesMut,
    limit: usize,
    oversized: Oversized,
}

impl LineCutter {
    fn new(limit: usize) -> LineCutter {
        LineCutter {
            buf: BytesMut::with_capacity(READ_SIZE),
            limit,
            oversized: Oversized::No,
        }
    }

    /// Judges every complete line in the buffer (and, at `eof`, the last
    /// unterminated one), leaving a partial line for the next read.
    #[cfg(test)]
    fn cut(
        &mut self,
        eof: bool,
        judge: &mut impl FnMut(&[u8]) -> Judgement,
        oversized: &mut impl FnMut(&[u8]) -> Judgement,
    ) -> Vec<Piece> {
        let mut pieces = Vec::new();
        self.cut_into(eof, judge, oversized, &mut pieces);
        pieces
    }

    /// [`LineCutter::cut`] into `pieces` (the caller reuses one vector).
    fn cut_into(
        &mut self,
        eof: bool,
        judge: &mut impl FnMut(&[u8]) -> Judgement,
        oversized: &mut impl FnMut(&[u8]) -> Judgement,
        pieces: &mut Vec<Piece>,
    ) {
        if !self.finish_oversized(pieces) {
            return;
        }
        // Lines end at the last newline (or, at `eof`, at the buffer's end).
        let whole = match memchr::memrchr(b'\n', &self.buf) {
            _ if eof => self.buf.len(),
            Some(last) => last + 1,
            None => 0,
        };
        let consumed = self.buf.split_to(whole).freeze();
        let mut run_start = 0;
        let mut line_start = 0;
        while line_start < consumed.len() {
            let end = memchr::memchr(b'\n', &consumed[line_start..])
                .map_or(consumed.len(), |p| line_start + p + 1);
            let text = &consumed[line_start..end];
            let text = text.strip_suffix(b"\n").unwrap_or(text);
            // A whole line may hold up to a read more than the limit.
            let judgement = if text.len() > self.limit {
                oversized(text)
            } else {
                judge(text)
            };
            // Lines kept (the usual case) are relayed in runs, never cut out.
            let line = || consumed.slice(line_start..end);
            match judgement {
                Judgement::Keep => {}
                Judgement::DryRun { rule } => {
                    push_run(pieces, &consumed, run_start, end);
                    run_start = end;
                    pieces.push(Piece::DryRun {
                        frame: line(),
                        rule,
                    });
                }
                Judgement::Replace(bytes) => {
                    push_run(pieces, &consumed, run_start, line_start);
                    run_start = end;
                    pieces.push(Piece::Rewritten {
                        original: line(),
                        rewritten: bytes.into(),
                    });
                }
                Judgement::Refuse { reply, rule } => {
                    push_run(pieces, &consumed, run_start, line_start);
                    run_start = end;
                    pieces.push(Piece::Refused {
                        frame: kept_prefix(line()),
                        reply: reply.into(),
                        rule,
                    });
                }
            }
            line_start = end;
        }
        if run_start == 0 {
            // Every line kept: the whole read goes on as it came.
            if !consumed.is_empty() {
                pieces.push(Piece::Relay(consumed));
            }
        } else {
            push_run(pieces, &consumed, run_start, consumed.len());
        }
        if self.buf.len() > self.limit {
            self.start_oversized(oversized, pieces);
        }
    }

    /// The buffer holds the start of a line over the limit: relay it and
    /// stream the rest, or refuse it and discard the rest.
    fn start_oversized(
        &mut self,
        oversized: &mut impl FnMut(&[u8]) -> Judgement,
        pieces: &mut Vec<Piece>,
    ) {
        // `split` leaves the buffer without capacity: the line's storage is
        // freed as soon as its pieces are.
        let rest = self.buf.split().freeze();
        match oversized(&rest) {
            Judgement::Refuse { reply, rule } => {
                self.oversized = Oversized::Discarding;
                pieces.push(Piece::Refused {
                    frame: kept_prefix(rest.clone()),
                    reply: reply.into(),
                    rule,
                });
            }
            Judgement::DryRun { rule } => {
                self.oversized = Oversized::Passing;
                pieces.push(Piece::DryRun {
                    frame: kept_prefix(rest.clone()),
                    rule,
                });
                pieces.push(Piece::Relay(rest));
            }
            Judgement::Keep | Judgement::Replace(_) => {
                self.oversized = Oversized::Passing;
                pieces.push(Piece::Relay(rest));
            }
        }
    }

    /// Continues an over-limit line; true once it has ended (lines follow).
    fn finish_oversized(&mut self, pieces: &mut Vec<Piece>) -> bool {
        if self.oversized == Oversized::No {
            return true;
        }
        let end = memchr::memchr(b'\n', &self.buf).map(|p| p + 1);
        let part = self.buf.split_to(end.unwrap_or(self.buf.len())).freeze();
        if self.oversized == Oversized::Passing && !part.is_empty() {
            pieces.push(Piece::Relay(part));
        }
        if end.is_some() {
            self.oversized = Oversized::No;
        }
        end.is_some()
    }
}

/// What of a refused line goes to the trail: a long one is cut to
/// [`KEPT_PREFIX`] bytes, copied so that the rest is freed.
fn kept_prefix(line: Bytes) -> Bytes {
    if line.len() <= KEPT_PREFIX {
        return line;
    }
    Bytes::copy_from_slice(&line[..KEPT_PREFIX])
}

fn push_run(pieces: &mut Vec<Piece>, consumed: &Bytes, from: usize, to: usize) {
    if to > from {
        pieces.push(Piece::Relay(consumed.slice(from..to)));
    }
}

/// Where a gated pump's pieces go.
struct Sink<'a> {
    direction: Direction,
    audit: Option<&'a mut AuditHandle>,
    output: &'a mut Output,
    client: &'a ClientOutput,
}

impl Sink<'_> {
    /// Carries out the pieces in order, leaving `pieces` empty. The first
    /// chunk offered carries `left_behind` (`fdio::Filled`); what no chunk
    /// carried (none was offered) is returned, for the next read's.
    fn apply(&mut self, pieces: &mut Vec<Piece>, at: Instant, mut left_behind: usize) -> usize {
        for piece in pieces.drain(..) {
            match piece {
                Piece::Relay(bytes) => {
                    // Offer first: see relay.rs on causal order.
                    if let Some(a) = self.audit.as_mut() {
                        let slack = std::mem::take(&mut left_behind);
                        a.offer_pinning(self.direction, at, bytes.clone(), slack);
                    }
                    self.output.write(&bytes);
                }
                Piece::Rewritten {
                    original,
                    rewritten,
                } => {
                    if let Some(a) = self.audit.as_mut() {
                        let slack = std::mem::take(&mut left_behind);
                        a.offer_pinning(self.direction, at, original, slack);
                    }
                    self.output.write(&rewritten);
                }
                Piece::Refused { frame, reply, rule } => {
                    if let Some(a) = self.audit.as_mut() {
                        a.try_control(AuditMsg::Refused(Box::new(Refusal {
                            at,
                            frame,
                            reply: reply.clone(),
                            rule,
                            dry_run: false,
                        })));
                    }
                    if !reply.is_empty() {
                        let _ = self.client.write_all(&reply);
                    }
                }
                Piece::DryRun { frame, rule } => {
                    if let Some(a) = self.audit.as_mut() {
                        a.try_control(AuditMsg::Refused(Box::new(Refusal {
                            at,
                            frame,
                            reply: Bytes::new(),
                            rule,
                            dry_run: true,
                        })));
                    }
                }
            }
        }
        left_behind
    }
}

/// The policy on one [`Pump`](crate::relay::Pump): it cuts the stream into
/// lines and relays only what the gate allows.
pub struct LineGate {
    gate: Arc<Gate>,
    parse_limit: usize,
    /// Where refusals are answered.
    client: Arc<ClientOutput>,
}

impl LineGate {
    pub fn new(gate: Arc<Gate>, parse_limit: usize, client: Arc<ClientOutput>) -> LineGate {
        LineGate {
            gate,
            parse_limit,
            client,
        }
    }

    /// Reads `fd` to its end: client→server lines are judged as requests,
    /// server→client lines looked at as responses.
    pub(crate) fn pump(
        self,
        fd: RawFd,
        direction: Direction,
        audit: Option<&mut AuditHandle>,
        output: &mut Output,
    ) {
        let (gate, limit) = (&self.gate, self.parse_limit);
        let mut sink = Sink {
            direction,
            audit,
            output,
            client: &self.client,
        };
        match direction {
            Direction::ClientToServer => pump_lines(
                fd,
                limit,
                &mut sink,
                &mut |line| Judgement::from(gate.check_request(line)),
                &mut |prefix| Judgement::from(gate.refuse_oversized(prefix, limit)),
            ),
            Direction::ServerToClient => pump_lines(
                fd,
                limit,
                &mut sink,
                &mut |line| match gate.observe_response(line) {
                    Some(rewritten) => Judgement::Replace(rewritten),
                    None => Judgement::Keep,
                },
                &mut |_| {
                    gate.observe_oversized_response();
                    Judgement::Keep
                },
            ),
        }
    }
}

/// Reads `fd` to its end, cutting lines, judging them and carrying out the
/// pieces in order.
fn pump_lines(
    fd: RawFd,
    parse_limit: usize,
    sink: &mut Sink<'_>,
    judge: &mut impl FnMut(&[u8]) -> Judgement,
    oversized: &mut impl FnMut(&[u8]) -> Judgement,
) {
    let mut cutter = LineCutter::new(parse_limit);
    let mut pieces = Vec::new();
    // Read-buffer tails left behind and not yet charged to a chunk.
    let mut owed = 0;
    loop {
        let eof = match fdio::read_into(fd, &mut cutter.buf, READ_SIZE) {
            Ok(f) => {
                owed += f.left_behind;
                f.read == 0
            }
            Err(_) => true,
        };
        let at = Instant::now();
        cutter.cut_into(eof, judge, oversized, &mut pieces);
        owed = sink.apply(&mut pieces, at, owed);
        if eof {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
