//! The auditor thread: from the plan to the running auditor, then the flush.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::plan::AuditPlan;
use super::settings::pinned_tools;
use super::sinks::Sinks;
use super::{AuditorReport, Finished, Identity};
use crate::auditor::{Auditor, AuditorConfig};
use crate::classify::SessionFacts;
use crate::clock::SessionClock;
use crate::handoff;
use crate::redact::Redactor;
use crate::sched;
use crate::stamp::SessionIdentity;
use crate::transcript::{self, TranscriptOptions, TranscriptTap, TranscriptWriter};

/// The auditor thread: sinks, redactor and auditor, run until the end.
pub(super) fn run_auditor(
    mut plan: AuditPlan,
    identity: Identity,
    server: String,
    parse_limit: usize,
    inbox: handoff::AuditInbox,
    flush_timeout: Duration,
    clock: SessionClock,
) -> Finished {
    sched::lower_thread_priority(sched::AUDIT_NICE);
    let session_id: Arc<str> = uuid::Uuid::now_v7().to_string().into();
    let transcript = start_transcript(&mut plan, &session_id, &server, parse_limit);
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
    let mut config = auditor_config(plan, &identity, session_id, &server);
    config.clock = clock;
    config.parse_limit = parse_limit;
    config.redactor = Some(redactor);
    config.transcript = tap;
    let auditor = Auditor::new(config).run(inbox, &sinks.trail);
    Finished {
        auditor,
        writer: sinks.finish(flush_timeout),
    }
}

/// Starts the transcript writer when `audit.transcript` is set; a failure
/// is logged and the session goes on without one.
fn start_transcript(
    plan: &mut AuditPlan,
    session_id: &str,
    server: &str,
    parse_limit: usize,
) -> Option<(TranscriptTap, TranscriptWriter)> {
    let (file, raw) = plan.transcript.take()?;
    let mut options = TranscriptOptions::new(
        Some(plan.redact.clone()).filter(|r| r.enabled && !raw),
        parse_limit,
    );
    options.session_id = session_id.to_string();
    options.server = server.to_owned();
    transcript::spawn(file, options)
        .map_err(|e| tracing::error!("cannot start the transcript writer: {e}"))
        .ok()
}

/// The auditor's configuration from the plan: who the session is, what
/// `session_start` records, and what the classifier keeps.
fn auditor_config(
    plan: AuditPlan,
    identity: &Identity,
    session_id: Arc<str>,
    server: &str,
) -> AuditorConfig {
    let session = SessionIdentity {
        session_id,
        server: server.into(),
        user: plan.user.unwrap_or_else(identity.os_user).into(),
        host: crate::stamp::local_hostname().into(),
    };
    let mut facts = facts(identity, plan.config_file);
    if let Some(e) = plan.spawn_error {
        facts.extra.insert(SPAWN_ERROR.into(), e.into());
    }
    if let Some(dir) = &plan.audit_dir {
        let dir = dir.display().to_string();
        facts.extra.insert("audit_dir".into(), dir.into());
    }
    let mut config = AuditorConfig::new(session, facts);
    config.classify.include_arguments = plan.include_arguments;
    config.classify.include_results = plan.include_results;
    config.classify.pinned_tools = pinned_tools(&plan.pins, server);
    config.checkpoints = plan.checkpoints;
    config.policy = Some(plan.policy);
    config
}

impl Finished {
    fn default_unwritten() -> Finished {
        Finished {
            auditor: AuditorReport::default(),
            writer: None,
        }
    }
}

/// The `details` key of a server command that could not be started.
const SPAWN_ERROR: &str = "spawn_error";

/// What `session_start` records about the session besides its identity.
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
