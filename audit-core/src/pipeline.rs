//! The audit pipeline of one session, built from its [`Settings`].
//!
//! Two steps, so that a bad setting fails before the server starts and the
//! relay never waits for audit work:
//!
//! 1. [`Plan::from_settings`] decides everything a setting can get wrong
//!    (policy and pins, signing key, HMAC key, audit file or directory) and
//!    returns one [`StartError`] naming the setting at fault. It also gives
//!    the relay what it needs: the [`Gate`] (when some call can be refused)
//!    and the parse limit.
//! 2. [`Plan::start`], once the server runs, starts the auditor thread and
//!    returns the [`Pipeline`]: the [`AuditHandle`] the relay offers its
//!    bytes to, and [`Pipeline::finish`] for the end of the session.
//!    Everything slow (compiling redaction patterns, starting the writer,
//!    reading pins, looking up the user) runs on the auditor thread, so the
//!    relay starts at once and the hand-off queue holds what it relays
//!    meanwhile.
//!
//! # Where a new sink plugs in
//! Sinks are started in one place, `Sinks::start`, on the auditor thread,
//! and finished in `Sinks::finish`. A sink fed the stamped event lines
//! (syslog, OTLP) is a field of `Sinks` given each batch where the trail
//! writer is; a sink fed every frame (a transcript) is started there too and
//! given to the [`Auditor`] in its config. A reader of finished trails needs
//! none of this: it reads files (`verify`).

mod settings;

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

use crate::auditor::{Auditor, AuditorConfig};
use crate::classify::SessionFacts;
use crate::clock::SessionClock;
use crate::config::{Settings, Source};
use crate::forward::ForwardError;
use crate::handoff::{self, AuditHandle, AuditMsg, HandoffStats};
use crate::policy::{Gate, Policy, PolicyError};
use crate::redact::{RedactConfig, RedactError, Redactor};
use crate::sign::{Checkpointer, KeyError};
use crate::sink::{self, SinkTarget, WriterConfig};
use crate::stamp::SessionIdentity;
use crate::transcript::{self, TranscriptOptions, TranscriptWriter};
use settings::{
    audit_target, checkpointer, forwarders, open_transcript, pinned_tools, redact_config,
    writer_config,
};

pub use crate::auditor::AuditorReport;
pub use crate::session_end::{ChildExit, SessionEnd};
pub use crate::sink::{SinkError, WriterReport};

/// A setting that keeps the session from starting; each names the setting
/// (or the file) at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The rules or the enforced pins cannot be used.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// `audit.signing_key` names a key that cannot be read.
    #[error("audit.signing_key ({from}): {error}")]
    SigningKey { from: Source, error: KeyError },
    /// `audit.hmac_key_file` names a key that cannot be used.
    #[error("audit.hmac_key_file: {0}")]
    HmacKey(RedactError),
    /// The audit directory or file cannot be used.
    #[error("{0} (--on-audit-failure open runs the server unaudited)")]
    Target(sink::TargetError),
    /// `audit.transcript` cannot be opened, or is set with auditing off.
    #[error("audit.transcript {path}: {reason}")]
    Transcript { path: PathBuf, reason: String },
    /// A `[forward]` URL, TLS file or spool cannot be used.
    #[error("forward ({from}): {error}")]
    Forward { from: Source, error: ForwardError },
}

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

/// Everything decided from the settings before the server starts.
#[derive(Debug)]
pub struct Plan {
    server: String,
    parse_limit: usize,
    gate: Option<Arc<Gate>>,
    /// `None`: relay only (auditing off, or the default directory unusable).
    audit: Option<AuditPlan>,
}

/// What the auditor thread is started with.
#[derive(Debug)]
struct AuditPlan {
    target: SinkTarget,
    /// The audit directory's real path, recorded in `session_start`.
    audit_dir: Option<PathBuf>,
    writer: WriterConfig,
    redact: RedactConfig,
    checkpoints: Option<Checkpointer>,
    policy: Arc<Policy>,
    include_arguments: bool,
    include_results: bool,
    pins: PathBuf,
    user: Option<String>,
    config_file: Option<PathBuf>,
    /// The transcript file, opened, and whether it keeps exact bytes.
    transcript: Option<(std::fs::File, bool)>,
    /// Why the server could not start ([`Plan::record_spawn_failure`]).
    spawn_error: Option<String>,
}

impl Plan {
    /// Decides the session's pipeline for the server named `server`.
    pub fn from_settings(settings: &Settings, server: &str) -> Result<Plan, StartError> {
        let parse_limit =
            (settings.proxy.parse_limit_mb.value.get() as usize).saturating_mul(1024 * 1024);
        let mut plan = Plan {
            server: server.to_owned(),
            parse_limit,
            gate: None,
            audit: None,
        };
        if settings.is_pure_relay() {
            if let Some(path) = &settings.audit.transcript.value {
                return Err(StartError::Transcript {
                    path: path.clone(),
                    reason: "needs the audit pipeline, but audit.enabled is false".into(),
                });
            }
            tracing::info!("audit.enabled is false: relaying only");
            return Ok(plan);
        }
        if !settings.audit.redact_sensitive.value {
            tracing::warn!(
                "secret redaction is off ({}): credentials in tool traffic will reach the audit files",
                settings.audit.redact_sensitive.source
            );
        }
        let policy = Arc::new(Policy::from_settings(settings, server)?);
        if policy.needs_gate() {
            plan.gate = Some(Arc::new(Gate::new(policy.clone(), server)));
        }
        let checkpoints = checkpointer(settings)?;
        let redact = redact_config(settings)?;
        let Some(prepared) = audit_target(settings)? else {
            return Ok(plan);
        };
        let mut writer = writer_config(settings);
        writer.forward = forwarders(settings)?;
        let transcript = open_transcript(settings)?;
        let a = &settings.audit;
        plan.audit = Some(AuditPlan {
            target: prepared.target,
            audit_dir: prepared.real_dir,
            writer,
            redact,
            checkpoints,
            policy,
            include_arguments: a.include_arguments.value,
            include_results: a.include_results.value,
            pins: settings.policy.pins.value.clone(),
            user: settings.proxy.user.value.clone(),
            config_file: settings.config_file.clone(),
            transcript,
            spawn_error: None,
        });
        Ok(plan)
    }

    /// The gate the relay passes frames through, when some call can be refused.
    pub fn gate(&self) -> Option<&Arc<Gate>> {
        self.gate.as_ref()
    }

    /// Whether events go to our stderr (`--audit-file -`): the proxy then
    /// relays the server's stderr itself, in whole lines, so they never mix.
    pub fn audits_to_stderr(&self) -> bool {
        matches!(
            self.audit.as_ref().map(|a| &a.target),
            Some(SinkTarget::Stderr)
        )
    }

    /// The longest line the gate parses (`proxy.parse_limit_mb`).
    pub fn parse_limit(&self) -> usize {
        self.parse_limit
    }

    /// Records a session whose server command could not be started: a
    /// `session_start` and a `session_end` (reason `spawn_failed`, the
    /// shell's `status`), both with `details.spawn_error`. `None` when
    /// there is nothing to audit.
    pub fn record_spawn_failure(
        mut self,
        identity: Identity,
        error: &str,
        status: i32,
        flush_timeout: Duration,
    ) -> Option<Flush> {
        self.audit.as_mut()?.spawn_error = Some(error.to_owned());
        let pipeline = self.start(identity, flush_timeout)?;
        Some(pipeline.finish(SessionEnd {
            at: std::time::Instant::now(),
            exit: ChildExit::Code(status),
            reason: "spawn_failed".into(),
        }))
    }

    /// Starts the auditor thread; `None` when there is nothing to audit.
    /// `flush_timeout` bounds the writer's last flush.
    pub fn start(self, identity: Identity, flush_timeout: Duration) -> Option<Pipeline> {
        let plan = self.audit?;
        let (handle, inbox) = handoff::channel(
            handoff::DEFAULT_QUEUE_MESSAGES,
            handoff::DEFAULT_QUEUE_BYTES,
        );
        let (done_tx, done) = mpsc::channel();
        let (server, parse_limit) = (self.server, self.parse_limit);
        // The session starts now, whenever the auditor thread gets to run.
        let clock = SessionClock::start();
        let spawned = std::thread::Builder::new()
            .name("auditor".into())
            .spawn(move || {
                let outcome = run_auditor(
                    plan,
                    identity,
                    server,
                    parse_limit,
                    inbox,
                    flush_timeout,
                    clock,
                );
                let _ = done_tx.send(outcome);
            });
        if let Err(e) = spawned {
            tracing::error!(
                "cannot start the auditor thread: {e}; relaying without an audit trail"
            );
            return None;
        }
        Some(Pipeline {
            handle,
            done,
            flush_timeout,
        })
    }
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

/// The auditor thread: sinks, redactor and auditor, run until the end.
fn run_auditor(
    mut plan: AuditPlan,
    identity: Identity,
    server: String,
    parse_limit: usize,
    inbox: handoff::AuditInbox,
    flush_timeout: Duration,
    clock: SessionClock,
) -> Finished {
    let session_id: Arc<str> = uuid::Uuid::now_v7().to_string().into();
    let transcript = plan.transcript.take().and_then(|(file, raw)| {
        let mut options = TranscriptOptions::new(
            Some(plan.redact.clone()).filter(|r| r.enabled && !raw),
            parse_limit,
        );
        options.session_id = session_id.to_string();
        options.server = server.clone();
        transcript::spawn(file, options)
            .map_err(|e| tracing::error!("cannot start the transcript writer: {e}"))
            .ok()
    });
    let Some(mut sinks) = Sinks::start(&plan) else {
        return Finished::default_unwritten();
    };
    let tap = transcript.map(|(tap, writer)| {
        sinks.transcript = Some(writer);
        tap
    });
    // Settings validated every pattern; a failure here still never lets an
    // unredacted event through: nothing is recorded.
    let redactor = match Redactor::new(&plan.redact) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("audit.redact_patterns: {e}; relaying without an audit trail");
            let writer = sinks.finish(flush_timeout);
            return Finished {
                auditor: AuditorReport::default(),
                writer,
            };
        }
    };
    let session = SessionIdentity {
        session_id,
        server: server.as_str().into(),
        user: plan.user.unwrap_or_else(identity.os_user).into(),
        host: crate::stamp::local_hostname().into(),
    };
    let mut facts = facts(&identity, plan.config_file);
    if let Some(e) = plan.spawn_error {
        facts.extra.insert(SPAWN_ERROR.into(), e.into());
    }
    if let Some(dir) = &plan.audit_dir {
        let dir = dir.display().to_string();
        facts.extra.insert("audit_dir".into(), dir.into());
    }
    let mut config = AuditorConfig::new(session, facts);
    config.clock = clock;
    config.parse_limit = parse_limit;
    config.classify.include_arguments = plan.include_arguments;
    config.classify.include_results = plan.include_results;
    config.classify.pinned_tools = pinned_tools(&plan.pins, &server);
    config.checkpoints = plan.checkpoints;
    config.policy = Some(plan.policy);
    config.redactor = Some(redactor);
    config.transcript = tap;
    let auditor = Auditor::new(config).run(inbox, &sinks.trail);
    Finished {
        auditor,
        writer: sinks.finish(flush_timeout),
    }
}

impl Finished {
    fn default_unwritten() -> Finished {
        Finished {
            auditor: AuditorReport::default(),
            writer: None,
        }
    }
}

/// The sinks of one session: where stamped lines go. New sinks start in
/// [`Sinks::start`] and are flushed in [`Sinks::finish`].
struct Sinks {
    /// The hash-chained JSONL trail.
    trail: sink::WriterHandle,
    /// The transcript of every frame (`audit.transcript`), fed by the auditor.
    transcript: Option<TranscriptWriter>,
}

impl Sinks {
    /// Starts every sink; `None` (the error logged) leaves a relay without
    /// an audit trail.
    fn start(plan: &AuditPlan) -> Option<Sinks> {
        match sink::spawn_writer_with(plan.target.clone(), plan.writer.clone()) {
            Ok(trail) => Some(Sinks {
                trail,
                transcript: None,
            }),
            Err(e) => {
                tracing::error!("{e}; relaying without an audit trail");
                None
            }
        }
    }

    /// Flushes every sink, the trail last; its report.
    fn finish(self, timeout: Duration) -> Option<WriterReport> {
        if let Some(transcript) = self.transcript {
            finish_transcript(transcript, timeout);
        }
        self.trail.finish(timeout)
    }
}

/// Waits for the transcript's end line; says on stderr what it lost.
fn finish_transcript(transcript: TranscriptWriter, timeout: Duration) {
    match transcript.finish(timeout) {
        Some(Ok(report)) if report.lost_frames > 0 => tracing::error!(
            "transcript incomplete: {} frames ({} bytes) not recorded",
            report.lost_frames,
            report.lost_bytes
        ),
        Some(Ok(_)) => {}
        Some(Err(e)) => tracing::error!("transcript: {e}"),
        None => tracing::error!(
            "the transcript did not reach disk within {} ms",
            timeout.as_millis()
        ),
    }
}

/// What `session_start` records about the session besides its identity.
/// The `details` key of a server command that could not be started.
const SPAWN_ERROR: &str = "spawn_error";

fn facts(identity: &Identity, config_file: Option<PathBuf>) -> SessionFacts {
    let mut facts = SessionFacts {
        command: identity.command.clone(),
        pid: identity.pid,
        ..Default::default()
    };
    facts.extra.insert(
        "proxy_version".into(),
        identity.proxy_version.clone().into(),
    );
    if let Some(path) = config_file {
        facts
            .extra
            .insert("config_file".into(), path.display().to_string().into());
    }
    facts
}

#[cfg(test)]
mod tests;
