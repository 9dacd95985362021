//! The relay: one [`Pump`] per direction, each on its own blocking thread.
//!
//! Each pump reads whatever the pipe has into a `BytesMut`, freezes exactly
//! those bytes, offers them (a reference count, never blocking) to the
//! auditor, then writes the same `Bytes` to the peer. Offering first keeps the
//! audit trail causal across the two directions: both pumps feed one FIFO
//! queue, and a peer can only answer bytes already offered. Nothing is parsed, reordered, held back or
//! re-serialised: a partial line is forwarded as soon as it is read, which is
//! also how a line of any size passes with bounded memory. Threads with plain
//! `read`/`write` beat an async runtime on stdio (the bench's relay_tokio).
//!
//! The pumps report what ends them (end of stream, a broken pipe) to the
//! lifecycle loop in `lifecycle.rs`; they never decide shutdown themselves.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use audit_core::event::Direction;
use audit_core::handoff::{AuditHandle, AuditMsg};
use bytes::BytesMut;

use crate::fdio;
use crate::gated::LineGate;
pub use crate::lifecycle::Lifecycle;
use audit_core::policy::Gate;

/// Bytes asked of the kernel per `read`: what a pipe holds by default, so a
/// read returns no less than with a larger size. It also keeps the read
/// buffers (this plus what is left of the last one) under the 128 KiB mmap
/// threshold (`main.rs`): they come from malloc's arena and are reused warm,
/// not mapped, faulted in page by page and unmapped on the relay's path.
pub(crate) const READ_SIZE: usize = 64 * 1024;

/// The server's stdin, closable from any thread exactly once.
///
/// Closing replaces the descriptor with `/dev/null` (`dup2`), atomically: a
/// pump still writing to it writes into the void instead of into a reused
/// descriptor number, and the server sees end of file.
pub struct ServerInput {
    file: File,
    closed: AtomicBool,
}

impl ServerInput {
    pub fn new(file: File) -> ServerInput {
        ServerInput {
            file,
            closed: AtomicBool::new(false),
        }
    }

    /// Closes the server's stdin (idempotent).
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Ok(null) = File::options().write(true).open("/dev/null") {
            // SAFETY: dup2 onto a descriptor we own; both stay valid.
            unsafe { libc::dup2(null.as_raw_fd(), self.file.as_raw_fd()) };
        }
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// Our stdout, shared by the server→client pump and policy replies.
pub struct ClientOutput {
    fd: RawFd,
    lock: std::sync::Mutex<()>,
    broken: AtomicBool,
}

impl ClientOutput {
    pub fn stdout() -> ClientOutput {
        ClientOutput {
            fd: libc::STDOUT_FILENO,
            lock: std::sync::Mutex::new(()),
            broken: AtomicBool::new(false),
        }
    }

    /// Writes one whole buffer; frames from different writers never interleave.
    pub fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        if self.broken.load(Ordering::Relaxed) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let res = fdio::write_all(self.fd, bytes);
        if res.is_err() {
            self.broken.store(true, Ordering::Relaxed);
        }
        res
    }
}

/// Where a pump writes.
enum Destination {
    /// The server's stdin.
    Server(Arc<ServerInput>),
    /// Our stdout.
    Client(Arc<ClientOutput>),
}

/// A pump's writing end: once the peer stops reading, the pump keeps
/// draining (and recording) its source, so neither side blocks on a full
/// pipe, until the lifecycle ends the session.
pub(crate) struct Output {
    destination: Destination,
    gone: bool,
    lifecycle: Sender<Lifecycle>,
}

impl Output {
    /// Writes `bytes` to the peer, unless it has stopped reading.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        if self.gone {
            return;
        }
        match &self.destination {
            Destination::Server(input) => {
                if fdio::write_all(input.fd(), bytes).is_err() {
                    self.gone = true;
                    tracing::debug!("server stdin closed; client bytes are no longer delivered");
                }
            }
            Destination::Client(output) => {
                if output.write_all(bytes).is_err() {
                    self.gone = true;
                    let _ = self.lifecycle.send(Lifecycle::ClientGone);
                }
            }
        }
    }
}

/// One direction of the relay: reads its source to the end, offers each
/// chunk to the auditor (a reference count), then writes the same bytes to
/// the peer. With a [`LineGate`], it cuts lines and relays only what the
/// policy allows (`gated.rs`). The same type serves both directions, as
/// linkerd2-proxy's `HalfDuplex` does.
pub struct Pump {
    direction: Direction,
    /// Our stdin, or the server's stdout (owned, closed when the pump ends).
    source: Option<File>,
    output: Output,
    audit: Option<AuditHandle>,
    gate: Option<LineGate>,
}

impl Pump {
    /// Our stdin to the server's stdin.
    pub fn client_to_server(
        input: Arc<ServerInput>,
        audit: Option<AuditHandle>,
        lifecycle: Sender<Lifecycle>,
    ) -> Pump {
        Pump::new(
            Direction::ClientToServer,
            None,
            Destination::Server(input),
            audit,
            lifecycle,
        )
    }

    /// The server's stdout to our stdout.
    pub fn server_to_client(
        server_out: File,
        output: Arc<ClientOutput>,
        audit: Option<AuditHandle>,
        lifecycle: Sender<Lifecycle>,
    ) -> Pump {
        Pump::new(
            Direction::ServerToClient,
            Some(server_out),
            Destination::Client(output),
            audit,
            lifecycle,
        )
    }

    fn new(
        direction: Direction,
        source: Option<File>,
        destination: Destination,
        audit: Option<AuditHandle>,
        lifecycle: Sender<Lifecycle>,
    ) -> Pump {
        Pump {
            direction,
            source,
            output: Output {
                destination,
                gone: false,
                lifecycle,
            },
            audit,
            gate: None,
        }
    }

    /// Puts `gate` on this pump: lines are judged before they are relayed.
    pub fn gated(mut self, gate: LineGate) -> Pump {
        self.gate = Some(gate);
        self
    }

    /// Runs the pump on its own thread.
    pub fn spawn(self) -> JoinHandle<()> {
        let name = match self.direction {
            Direction::ClientToServer => "relay-c2s",
            Direction::ServerToClient => "relay-s2c",
        };
        spawn(name, move || self.run())
    }

    fn run(mut self) {
        let fd = self
            .source
            .as_ref()
            .map_or(libc::STDIN_FILENO, AsRawFd::as_raw_fd);
        match self.gate.take() {
            Some(gate) => gate.pump(fd, self.direction, self.audit.as_mut(), &mut self.output),
            None => self.relay(fd),
        }
        if let Destination::Server(input) = &self.output.destination {
            input.close();
        }
        end_of_stream(self.direction, self.audit.as_ref(), &self.output.lifecycle);
    }

    /// The ungated loop: nothing is parsed, held back or reordered.
    fn relay(&mut self, fd: RawFd) {
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        loop {
            let left_behind = match fdio::read_into(fd, &mut buf, READ_SIZE) {
                Ok(f) if f.read > 0 => f.left_behind,
                _ => break,
            };
            let at = Instant::now();
            let chunk = buf.split().freeze();
            // Offer before writing: a peer cannot answer bytes it has not
            // received, so the auditor always sees a request before its reply.
            if let Some(a) = self.audit.as_mut() {
                a.offer_pinning(self.direction, at, chunk.clone(), left_behind);
            }
            self.output.write(&chunk);
        }
    }
}

/// Starts both pumps of a session, gated when `gate` is set (the
/// server→client one only if the gate reads responses); returns the
/// server→client pump's handle.
pub fn start(
    input: Arc<ServerInput>,
    output: Arc<ClientOutput>,
    server_out: File,
    gate: Option<(Arc<Gate>, usize)>,
    audit: Option<AuditHandle>,
    lifecycle: &Sender<Lifecycle>,
) -> JoinHandle<()> {
    let mut c2s = Pump::client_to_server(input, audit.clone(), lifecycle.clone());
    let mut s2c = Pump::server_to_client(server_out, output.clone(), audit, lifecycle.clone());
    if let Some((gate, parse_limit)) = gate {
        if gate.reads_responses() {
            s2c = s2c.gated(LineGate::new(gate.clone(), parse_limit, output.clone()));
        }
        c2s = c2s.gated(LineGate::new(gate, parse_limit, output));
    }
    c2s.spawn();
    s2c.spawn()
}

/// A pump's stream ended: tells the auditor (to finish a last unterminated
/// line; queued behind every chunk of that direction, so it arrives before
/// `End`) and the lifecycle loop. Neither waits.
pub(crate) fn end_of_stream(
    direction: Direction,
    audit: Option<&AuditHandle>,
    lifecycle: &Sender<Lifecycle>,
) {
    if let Some(a) = audit {
        a.send_control(AuditMsg::Eof {
            direction,
            at: Instant::now(),
        });
    }
    let event = match direction {
        Direction::ClientToServer => Lifecycle::ClientEof,
        Direction::ServerToClient => Lifecycle::ServerEof,
    };
    let _ = lifecycle.send(event);
}

pub(crate) fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start thread {name}: {e}"))
}
