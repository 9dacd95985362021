//! [`Plan`]: everything decided from the settings before the server
//! starts, and the start of the auditor thread.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use super::settings::{
    audit_target, checkpointer, forwarders, open_transcript, redact_config, writer_config,
};
use super::{thread, ChildExit, Flush, Identity, Pipeline, SessionEnd, StartError};
use crate::clock::SessionClock;
use crate::config::Settings;
use crate::handoff;
use crate::policy::{Gate, Policy};
use crate::redact::RedactConfig;
use crate::sign::Checkpointer;
use crate::sink::{SinkTarget, WriterConfig};

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
pub(super) struct AuditPlan {
    pub(super) target: SinkTarget,
    /// The audit directory's real path, recorded in `session_start`.
    pub(super) audit_dir: Option<PathBuf>,
    pub(super) writer: WriterConfig,
    pub(super) redact: RedactConfig,
    pub(super) checkpoints: Option<Checkpointer>,
    pub(super) policy: Arc<Policy>,
    pub(super) include_arguments: bool,
    pub(super) include_results: bool,
    pub(super) pins: PathBuf,
    pub(super) user: Option<String>,
    pub(super) config_file: Option<PathBuf>,
    /// The transcript file, opened, and whether it keeps exact bytes.
    pub(super) transcript: Option<(std::fs::File, bool)>,
    /// Why the server could not start ([`Plan::record_spawn_failure`]).
    pub(super) spawn_error: Option<String>,
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
                let outcome = thread::run_auditor(
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
