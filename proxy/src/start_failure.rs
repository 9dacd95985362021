//! Telling the client why we could not start. An MCP client that sees its
//! server exit shows only "disconnected"; one that gets an error reply to its
//! first request (`initialize` or `server/discover`) shows the message. So
//! before exiting 2, we read its first requests (bounded in size, number and
//! time) and answer them with the same one line we print on stderr.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

use audit_core::reply::{error_reply, START_FAILURE_CODE};

/// Longest wait for the client's first request: a client sends it at once.
const WAIT: Duration = Duration::from_secs(10);
/// Longest first line read: an `initialize` request is a few hundred bytes.
const MAX_LINE: usize = 1 << 20;

/// Most requests answered: a dual-era client sends `server/discover`, then
/// `initialize` after an error; a few more cover a retry.
const MAX_ANSWERS: usize = 4;

/// Prints `message` on stderr, answers the client's first requests with it,
/// and returns the exit status 2.
pub fn fail(message: &str) -> i32 {
    eprintln!("mcp-blackbox: {message}");
    if !std::io::stdin().is_terminal() {
        answer_requests(&format!("mcp-blackbox could not start: {message}"));
    }
    2
}

/// Answers each request with an error until `initialize` is answered (a
/// dual-era client falls back to it after a failed `server/discover`), input
/// ends, [`MAX_ANSWERS`] were sent or [`WAIT`] passes.
fn answer_requests(text: &str) {
    let deadline = Instant::now() + WAIT;
    let mut input = Lines::default();
    let mut answered = 0;
    while answered < MAX_ANSWERS {
        let Some(line) = input.next(deadline) else {
            return;
        };
        let Some((reply, method)) = error_reply(&line, START_FAILURE_CODE, text) else {
            continue;
        };
        let mut out = std::io::stdout().lock();
        if out.write_all(&reply).and_then(|()| out.flush()).is_err() {
            return;
        }
        answered += 1;
        if method == "initialize" {
            return;
        }
    }
}

/// Lines of stdin, read unbuffered so that poll(2) sees every byte not yet read.
#[derive(Default)]
struct Lines {
    pending: Vec<u8>,
    ended: bool,
}

impl Lines {
    /// The next line (at most [`MAX_LINE`] bytes), if one arrives by `deadline`.
    fn next(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        // SAFETY: fd 0 stays open for the process's life; ManuallyDrop never closes it.
        let mut stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = memchr::memchr(b'\n', &self.pending) {
                let line = self.pending[..end].to_vec();
                self.pending.drain(..=end);
                return Some(line);
            }
            if self.ended || self.pending.len() >= MAX_LINE {
                self.ended = true;
                return (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if !readable(stdin.as_raw_fd(), left) {
                return None;
            }
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => self.ended = true,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// Whether `fd` has input (or EOF) within `wait`.
fn readable(fd: i32, wait: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}
