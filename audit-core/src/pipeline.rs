//! The audit pipeline of one session, built from its
//! [`Settings`](crate::config::Settings).
//!
//! Two steps, so that a bad setting fails before the server starts and the
//! relay never waits for audit work:
//!
//! 1. [`Plan::from_settings`] decides everything a setting can get wrong
//!    (policy and pins, signing key, HMAC key, audit file or directory) and
//!    returns one [`StartError`] naming the setting at fault. It also gives
//!    the relay what it needs: the [`Gate`](crate::policy::Gate) (when some
//!    call can be refused) and the parse limit.
//! 2. [`Plan::start`], once the server runs, starts the auditor thread and
//!    returns the [`Pipeline`]: the [`AuditHandle`] the relay offers its
//!    bytes to, and [`Pipeline::finish`] for the end of the session.
//!    Everything slow (compiling redaction patterns, starting the writer,
//!    reading pins, looking up the user) runs on the auditor thread, so the
//!    relay starts at once and the hand-off queue holds what it relays
//!    meanwhile.
//!
//! # Where a new sink plugs in
//! Sinks are started in one place, `Sinks::start` (`pipeline/sinks.rs`), on
//! the auditor thread, and finished in `Sinks::finish`. A sink fed the
//! stamped event lines (syslog, OTLP) is a field of `Sinks` given each batch
//! where the trail writer is; a sink fed every frame (a transcript) is
//! started there too and given to the auditor in its config. A reader of
//! finished trails needs none of this: it reads files (`verify`).
//!
//! # Where each step lives
//! - `plan`: [`Plan`], from the settings to what the auditor thread needs.
//! - `settings`: one function per setting group that can fail at start.
//! - `thread`: the auditor thread, from the plan to the running auditor.
//! - `sinks`: where stamped lines go, started and flushed together.
//! - `error`: [`StartError`].

mod error;
mod plan;
mod settings;
mod sinks;
mod thread;

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use crate::handoff::{AuditHandle, AuditMsg, HandoffStats};

pub use crate::auditor::AuditorReport;
pub use crate::forward::ForwardError;
pub use crate::session_end::{ChildExit, SessionEnd};
pub use crate::sink::{SinkError, WriterReport};
pub use error::StartError;
pub use plan::Plan;

/// Who the session is: what the proxy knows and the settings do not.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The server command line.
    pub command: Vec<String>,
    /// The server's process id.
    pub pid: Option<u32>,
    /// Recorded on `session_start` as `proxy_version`.
    pub proxy_version: String,
    /// The user, when `proxy.user` is not set; called on the auditor thread
    /// (a lookup may be slow).
    pub os_user: fn() -> String,
}

/// The running audit pipeline of one session.
#[derive(Debug)]
pub struct Pipeline {
    handle: AuditHandle,
    done: Receiver<Finished>,
    flush_timeout: Duration,
}

/// What the pipeline did, once flushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub auditor: AuditorReport,
    /// `None`: the trail could not be started or did not flush in time.
    pub writer: Option<WriterReport>,
}

/// How the end of a session went for the trail.
#[derive(Debug)]
pub enum Flush {
    /// Everything seen is on its way to disk, or on it.
    Done(Finished),
    /// The trail did not reach disk within the flush timeout (or never
    /// started); `dropped_chunks` were lost at the hand-off before that.
    TimedOut {
        after: Duration,
        dropped_chunks: u64,
    },
}

impl Pipeline {
    /// The hand-off the relay offers its bytes to (clone one per thread).
    pub fn handle(&self) -> &AuditHandle {
        &self.handle
    }

    /// `session_end` after everything seen, then the flush.
    pub fn finish(self, end: SessionEnd) -> Flush {
        let stats: Arc<HandoffStats> = self.handle.stats().clone();
        self.handle.send_control(AuditMsg::End(end));
        drop(self.handle);
        match self.done.recv_timeout(self.flush_timeout) {
            Ok(finished) if finished.writer.is_some() => Flush::Done(finished),
            _ => Flush::TimedOut {
                after: self.flush_timeout,
                dropped_chunks: stats
                    .dropped_chunks
                    .load(std::sync::atomic::Ordering::Relaxed),
            },
        }
    }
}

#[cfg(test)]
mod tests;
