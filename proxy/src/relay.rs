//! The two relay pumps: one blocking thread per direction.
//!
//! Each pump reads whatever the pipe has into a `BytesMut`, freezes exactly
//! those bytes, offers them (a reference count, never blocking) to the
//! auditor, then writes the same `Bytes` to the peer. Offering first keeps the
//! audit trail causal across the two directions: both pumps feed one FIFO
//! queue, and a peer can only answer bytes already offered. Nothing is parsed, reordered, held back or
//! re-serialised: a partial line is forwarded as soon as it is read, which is
//! also how a line of any size passes with bounded memory. Threads with plain
//! `read`/`write` beat an async runtime on stdio here (measured: see
//! docs/performance.md), so that is the design.
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
pub use crate::lifecycle::Lifecycle;

/// Bytes asked of the kernel per `read`: what a pipe holds by default, so a
/// read returns no less than with a larger size. It also keeps the read
/// buffers (this plus what is left of the last one) under the 128 KiB mmap
/// threshold (`main.rs`): they come from malloc's arena and are reused warm,
/// where 256 KiB buffers were each mapped, faulted in page by page on the
/// relay's path and unmapped again (large-results phase: 96k page faults ->
/// 50k; 1 MiB results ~400 -> ~850 MB/s, docs/performance.md).
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

/// Starts the client→server pump: our stdin to the server's stdin.
pub fn client_to_server(
    input: Arc<ServerInput>,
    mut audit: Option<AuditHandle>,
    lifecycle: Sender<Lifecycle>,
) -> JoinHandle<()> {
    spawn("relay-c2s", move || {
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        let mut server_gone = false;
        loop {
            match fdio::read_into(libc::STDIN_FILENO, &mut buf, READ_SIZE) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let at = Instant::now();
            let chunk = buf.split().freeze();
            // Offer before writing: the server cannot answer bytes it has not
            // received, so the auditor always sees a request before its reply.
            if let Some(a) = audit.as_mut() {
                a.offer(Direction::ClientToServer, at, chunk.clone());
            }
            if !server_gone && fdio::write_all(input.fd(), &chunk).is_err() {
                // The server no longer reads; keep draining the client (and
                // recording what it sends) until the lifecycle ends us.
                server_gone = true;
                tracing::debug!("server stdin closed; client bytes are no longer delivered");
            }
        }
        input.close();
        crate::relay::end_of_stream(Direction::ClientToServer, audit.as_ref(), &lifecycle);
    })
}

/// Starts the server→client pump: the server's stdout to our stdout.
pub fn server_to_client(
    server_out: File,
    output: Arc<ClientOutput>,
    mut audit: Option<AuditHandle>,
    lifecycle: Sender<Lifecycle>,
) -> JoinHandle<()> {
    spawn("relay-s2c", move || {
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        let mut client_gone = false;
        loop {
            match fdio::read_into(server_out.as_raw_fd(), &mut buf, READ_SIZE) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let at = Instant::now();
            let chunk = buf.split().freeze();
            // Offer first, as above: server requests precede the client's answers.
            if let Some(a) = audit.as_mut() {
                a.offer(Direction::ServerToClient, at, chunk.clone());
            }
            if !client_gone && output.write_all(&chunk).is_err() {
                // Keep draining the server so it never blocks on a full pipe.
                client_gone = true;
                let _ = lifecycle.send(Lifecycle::ClientGone);
            }
        }
        crate::relay::end_of_stream(Direction::ServerToClient, audit.as_ref(), &lifecycle);
    })
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
