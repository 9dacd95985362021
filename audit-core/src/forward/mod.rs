//! Forwarding the trail to collectors: RFC 5424 syslog (TCP, TLS, UDP) and
//! OTLP/HTTP logs.
//!
//! The writer thread hands every stamped line (the exact bytes it appends to
//! the trail, as a [`Bytes`] slice of its batch) to [`Forwarders::offer`].
//! Each destination has its own thread ([`worker`]) and bounded queue
//! ([`queue`]), so a slow or absent collector never touches the relay, and
//! the local trail is written whatever the collectors do.
//!
//! When a queue is full the policy decides: `drop` refuses the line at once;
//! `block` waits for room at most [`ForwardConfig::block_timeout`] per batch
//! and then drops, and does not wait again until the forwarder has caught up
//! (its queue emptied), so a dead collector costs the writer one bounded
//! wait, not one per batch. Dropped lines are counted ([`LossCounter`]) and
//! the auditor records them as `audit_dropped` (`details.stage: "forward"`).
//! With a spool ([`spool`]) a forwarder drains its queue to disk while its
//! collector is away and replays it when it returns: delivery is then at
//! least once, and `event_id` lets receivers drop duplicates.
//!
//! - [`url`]: the URL forms; [`syslog`] and [`otlp`]: the wire formats, pure;
//!   [`transport`]: sockets, TLS, HTTP.

pub mod head;
pub mod otlp;
pub mod queue;
mod settings;
pub mod spool;
pub mod syslog;
pub mod transport;
pub mod url;
mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sink::{LossReason, Losses};
pub use transport::TlsFiles;
pub use url::{ForwardUrl, Scheme, UrlError};
pub use worker::WorkerReport;

/// Default longest wait of `block` for room in a forwarder's queue.
pub const DEFAULT_BLOCK_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default bounds of each forwarder's queue.
pub const DEFAULT_QUEUE_LINES: usize = 8192;
pub const DEFAULT_QUEUE_BYTES: usize = 16 << 20;

/// Errors setting up forwarding; each names the setting or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("forward TLS file {path}: {reason}")]
    Tls { path: PathBuf, reason: String },
    #[error("forward spool {path}: {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("forward.max_message_bytes {0}: must be at least {min}", min = syslog::MIN_MESSAGE_BYTES)]
    MessageSize(usize),
    #[error("cannot start a forwarder thread: {0}")]
    Thread(std::io::Error),
}

/// What `block` and `drop` mean for a forwarder's full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardPolicy {
    /// Wait at most [`ForwardConfig::block_timeout`], then drop and count.
    #[default]
    Block,
    /// Drop and count at once.
    Drop,
}

/// How forwarding is set up.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    pub urls: Vec<ForwardUrl>,
    /// Directory of the spool (none: undelivered lines wait in memory only).
    pub spool: Option<PathBuf>,
    /// Largest syslog message sent whole.
    pub max_message_bytes: usize,
    pub tls: TlsFiles,
    pub policy: ForwardPolicy,
    pub block_timeout: Duration,
    pub queue_lines: usize,
    pub queue_bytes: usize,
    /// Syslog HOSTNAME.
    pub hostname: String,
    /// OTLP `service.name`.
    pub service: String,
}

impl Default for ForwardConfig {
    fn default() -> ForwardConfig {
        ForwardConfig {
            urls: Vec::new(),
            spool: None,
            max_message_bytes: syslog::DEFAULT_MESSAGE_BYTES,
            tls: TlsFiles::default(),
            policy: ForwardPolicy::default(),
            block_timeout: DEFAULT_BLOCK_TIMEOUT,
            queue_lines: DEFAULT_QUEUE_LINES,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            hostname: local_hostname(),
            service: "mcp-blackbox".into(),
        }
    }
}

/// Lines not forwarded, per reason, until the auditor takes them.
#[derive(Debug, Default)]
pub struct LossCounter {
    pending: Mutex<Vec<(LossReason, u64)>>,
}

impl LossCounter {
    pub fn add(&self, reason: LossReason, lines: u64) {
        if lines == 0 {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += lines,
            None => pending.push((reason, lines)),
        }
    }

    /// The oldest pending loss. Forwarding losses carry no `seq` range: the
    /// lines are in the local trail, and a range would read there as a gap
    /// explained.
    pub fn take(&self) -> Option<Losses> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        (!pending.is_empty()).then(|| {
            let (reason, lines) = pending.remove(0);
            Losses {
                lines,
                first_seq: None,
                last_seq: None,
                first_prev_hash: None,
                last_hash: None,
                reason,
            }
        })
    }
}

/// One running forwarder, as the writer sees it.
struct Destination {
    url: ForwardUrl,
    queue: Arc<queue::LineQueue>,
    stalled: Arc<AtomicBool>,
}

/// The running forwarders of a session.
pub struct Forwarders {
    destinations: Vec<Destination>,
    policy: ForwardPolicy,
    block_timeout: Duration,
    losses: Arc<LossCounter>,
    stop_by: Arc<OnceLock<Instant>>,
    threads: Mutex<Vec<JoinHandle<WorkerReport>>>,
}

impl crate::sink::LineFeed for Forwarders {
    fn offer(&self, batch: &Bytes) {
        Forwarders::offer(self, batch);
    }

    fn take_losses(&self) -> Option<Losses> {
        Forwarders::take_losses(self)
    }

    fn stop_by(&self, deadline: Instant) {
        Forwarders::stop_by(self, deadline);
    }

    fn finish(&self) {
        Forwarders::finish(self);
    }
}

impl std::fmt::Debug for Forwarders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<String> = self
            .destinations
            .iter()
            .map(|d| d.url.to_string())
            .collect();
        f.debug_struct("Forwarders")
            .field("urls", &urls)
            .finish_non_exhaustive()
    }
}

impl Forwarders {
    /// Checks `config` (TLS files, spool directory) and starts one thread per
    /// URL. Nothing connects yet: a collector that is down is not an error.
    pub fn start(config: &ForwardConfig) -> Result<Forwarders, ForwardError> {
        if config.max_message_bytes < syslog::MIN_MESSAGE_BYTES {
            return Err(ForwardError::MessageSize(config.max_message_bytes));
        }
        let tls = match config.urls.iter().any(|u| u.scheme == Scheme::SyslogTls) {
            true => Some(transport::tls_config(&config.tls)?),
            false => None,
        };
        let mut forwarders = Forwarders {
            destinations: Vec::new(),
            policy: config.policy,
            block_timeout: config.block_timeout,
            losses: Arc::default(),
            stop_by: Arc::default(),
            threads: Mutex::default(),
        };
        for url in &config.urls {
            let spool = match &config.spool {
                Some(dir) => Some(spool::Spool::open(dir, &url.spool_key()).map_err(|source| {
                    ForwardError::Spool {
                        path: dir.clone(),
                        source,
                    }
                })?),
                None => None,
            };
            let connector = transport::Connector {
                url: url.clone(),
                format: syslog::SyslogFormat {
                    hostname: config.hostname.clone(),
                    procid: std::process::id(),
                    max_message: config.max_message_bytes,
                },
                tls: tls.clone(),
                service: config.service.clone(),
            };
            let queue = Arc::new(queue::LineQueue::new(
                config.queue_lines,
                config.queue_bytes,
            ));
            let stalled = Arc::new(AtomicBool::new(false));
            let parts = worker::WorkerParts {
                spool,
                losses: forwarders.losses.clone(),
                stalled: stalled.clone(),
                stop_by: forwarders.stop_by.clone(),
            };
            let worker = worker::Worker::new(url.to_string(), connector, queue.clone(), parts);
            let thread = std::thread::Builder::new()
                .name("audit-forward".into())
                .spawn(move || worker.run())
                .map_err(ForwardError::Thread)?;
            forwarders
                .threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(thread);
            forwarders.destinations.push(Destination {
                url: url.clone(),
                queue,
                stalled,
            });
        }
        Ok(forwarders)
    }

    /// Queues every line of `batch` (complete lines) for every destination,
    /// by reference count. Never waits longer than the policy allows.
    pub fn offer(&self, batch: &Bytes) {
        let lines = spool::split_lines(batch);
        let until = Instant::now() + self.block_timeout;
        for dest in &self.destinations {
            let mut dropped = 0;
            for line in &lines {
                let wait = (self.policy == ForwardPolicy::Block
                    && !dest.stalled.load(Ordering::Relaxed))
                .then_some(until);
                if !dest.queue.push(line.clone(), wait) {
                    dropped += 1;
                    if wait.is_some() {
                        dest.stalled.store(true, Ordering::Relaxed);
                    }
                }
            }
            self.losses.add(LossReason::ForwardQueueFull, dropped);
        }
    }

    /// Lines not forwarded since the last call, one reason at a time.
    pub fn take_losses(&self) -> Option<Losses> {
        self.losses.take()
    }

    /// Sets when the forwarders must stop trying at the end; the first call wins.
    pub fn stop_by(&self, deadline: Instant) {
        let _ = self.stop_by.set(deadline);
    }

    /// Closes the queues and waits for the threads: each delivers (or
    /// spools) what it holds until the [`Forwarders::stop_by`] deadline.
    pub fn finish(&self) -> Vec<(String, WorkerReport)> {
        self.stop_by(Instant::now() + DEFAULT_BLOCK_TIMEOUT);
        for dest in &self.destinations {
            dest.queue.close();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = Vec::new();
        for (dest, thread) in self.destinations.iter().zip(threads) {
            let mut report = thread.join().unwrap_or_default();
            report.unsent += dest.queue.drain().len() as u64;
            if report.unsent > 0 {
                tracing::error!(
                    "forward {}: {} events neither delivered nor spooled at exit",
                    dest.url,
                    report.unsent
                );
            }
            if report.backlog_left {
                tracing::warn!(
                    "forward {}: the spool keeps events for the next run",
                    dest.url
                );
            }
            out.push((dest.url.to_string(), report));
        }
        out
    }
}

/// This machine's host name (syslog HOSTNAME), `-` (syslog's nil value) if
/// unknown.
pub fn local_hostname() -> String {
    let name = crate::stamp::local_hostname();
    if name.is_empty() {
        "-".into()
    } else {
        name
    }
}
