//! Running one server behind the proxy: wiring of child, pumps, auditor and
//! lifecycle, in the order of the shutdown protocol documented in `main.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use audit_core::auditor::{Auditor, AuditorConfig, AuditorReport};
use audit_core::classify::SessionFacts;
use audit_core::config::{FsyncMode, LoadInput, QueuePolicy, Settings, Source};
use audit_core::handoff::{self, AuditHandle, AuditMsg, ChildExit, SessionEnd};
use audit_core::pin::PinFile;
use audit_core::policy::gate::Gate;
use audit_core::policy::Policy;
use audit_core::redact::{HmacKey, RedactConfig, Redactor};
use audit_core::sign::{Checkpointer, SecretKey};
use audit_core::sink::{
    self, FsyncPolicy, QueueFullPolicy, RotationPolicy, SinkTarget, WriterConfig, WriterReport,
};
use audit_core::stamp::SessionIdentity;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::child;
use crate::cli::RunArgs;
use crate::config_cmd::{home_dir, process_env};
use crate::identity;
use crate::lifecycle::{Action, Ladder};
use crate::relay::{self, ClientOutput, Lifecycle, ServerInput};

/// Runs the server in `args.command` behind the proxy; returns our exit status.
pub fn run(args: RunArgs) -> i32 {
    if args.command.is_empty() {
        eprintln!("mcp-blackbox: missing server command\nusage: mcp-blackbox [OPTIONS] -- <command> [args...]");
        return 2;
    }
    let settings = match Settings::load(LoadInput {
        config_path: args.config.clone(),
        home: home_dir(),
        env: process_env(),
        flags: args.setting_flags(),
        server_name: args.server_name.as_deref(),
        command: &args.command,
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mcp-blackbox: {e}");
            return 2;
        }
    };
    crate::init_tracing(Some(settings.proxy.log_level.value.as_str()));
    let session = match Session::prepare(&args, &settings) {
        Ok(s) => s,
        Err(status) => return status,
    };
    let (tx, rx) = mpsc::channel();
    watch_signals_and_parent(tx.clone());

    let server = match child::spawn(&args.command) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mcp-blackbox: {e}");
            return e.exit_status();
        }
    };
    let pgid = server.pid;
    tracing::info!(pid = pgid, command = ?args.command, "server started");

    let grace = Duration::from_millis(settings.proxy.grace_ms.value);
    let kill_grace = Duration::from_millis(settings.proxy.kill_grace_ms.value);
    let parse_limit = session.parse_limit;
    let gate = session.gate.clone();
    let audit = session.start_auditor(&args, &settings, server.pid);
    let handle = audit.as_ref().map(|a| a.handle.clone());

    let input = Arc::new(ServerInput::new(server.stdin));
    let output = Arc::new(ClientOutput::stdout());
    let gate = gate.map(|g| (g, parse_limit));
    let s2c = relay::start(input.clone(), output, server.stdout, gate, handle, &tx);
    wait_for_exit(server.child, tx);

    let mut ladder = Ladder::new(grace, kill_grace);
    let server_eof = supervise(&mut ladder, &rx, &input, pgid);

    // Protocol step 3-4: end what is left of the tree, let the pump drain.
    let stragglers = child::sweep(pgid);
    if stragglers > 0 {
        tracing::info!(
            stragglers,
            "ended processes that had left the server's process group"
        );
    }
    if !server_eof {
        wait_for(&rx, Lifecycle::ServerEof, kill_grace);
    }
    if s2c.is_finished() {
        let _ = s2c.join();
    }
    let exit = ladder.exit().unwrap_or(ChildExit::Unknown);
    if let Some(audit) = audit {
        let end = SessionEnd {
            at: Instant::now(),
            exit,
            reason: ladder.reason().to_owned(),
        };
        audit.finish(end, Duration::from_millis(args.flush_timeout_ms));
    }
    exit.shell_status()
}

/// The lifecycle loop; returns whether the server's stdout already closed.
fn supervise(
    ladder: &mut Ladder,
    rx: &Receiver<Lifecycle>,
    input: &ServerInput,
    pgid: i32,
) -> bool {
    let mut server_eof = false;
    while !ladder.is_done() {
        let actions = match ladder.deadline() {
            Some(deadline) => {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(ev) => {
                        server_eof |= ev == Lifecycle::ServerEof;
                        ladder.on_event(ev, Instant::now())
                    }
                    Err(RecvTimeoutError::Timeout) => ladder.on_deadline(Instant::now()),
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            None => match rx.recv() {
                Ok(ev) => {
                    server_eof |= ev == Lifecycle::ServerEof;
                    ladder.on_event(ev, Instant::now())
                }
                Err(_) => break,
            },
        };
        for action in actions {
            match action {
                Action::CloseServerInput => input.close(),
                Action::SignalGroup(sig) => {
                    tracing::debug!(sig, "signalling the server's process group");
                    child::signal_group(pgid, sig);
                }
                Action::Finish => {}
            }
        }
    }
    server_eof
}

/// Waits until `want` arrives or `timeout` passes.
fn wait_for(rx: &Receiver<Lifecycle>, want: Lifecycle, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while let Ok(ev) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if ev == want {
            return;
        }
    }
}

fn wait_for_exit(mut child: std::process::Child, tx: Sender<Lifecycle>) {
    spawn_named("child-wait", move || {
        let exit = child
            .wait()
            .map(child::exit_of)
            .unwrap_or(ChildExit::Unknown);
        let _ = tx.send(Lifecycle::ChildExited(exit));
    });
}

/// Forwards SIGINT/SIGTERM/SIGHUP to the lifecycle loop, and notices our
/// parent's death (PR_SET_PDEATHSIG delivers SIGTERM; a changed parent pid
/// tells it apart from a user's SIGTERM).
fn watch_signals_and_parent(tx: Sender<Lifecycle>) {
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    child::watch_parent(SIGTERM);
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch signals: {e}");
            return;
        }
    };
    if unsafe { libc::getppid() } != parent {
        let _ = tx.send(Lifecycle::ParentDied);
    }
    spawn_named("signals", move || {
        for sig in signals.forever() {
            let orphaned = unsafe { libc::getppid() } != parent;
            let ev = if sig == SIGTERM && orphaned {
                Lifecycle::ParentDied
            } else {
                Lifecycle::Signal(sig)
            };
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
}

/// What a session needs decided before the server starts; every failure here
/// is a configuration error (exit status 2), reported before anything runs.
struct Session {
    server_name: String,
    redact: Option<RedactConfig>,
    target: Option<(SinkTarget, WriterConfig)>,
    checkpoints: Option<Checkpointer>,
    policy: Option<Arc<Policy>>,
    gate: Option<Arc<Gate>>,
    parse_limit: usize,
}

impl Session {
    fn prepare(args: &RunArgs, settings: &Settings) -> Result<Session, i32> {
        let server_name =
            identity::server_name(settings.proxy.server_name.value.as_deref(), &args.command);
        let parse_limit =
            (settings.proxy.parse_limit_mb.value.get() as usize).saturating_mul(1024 * 1024);
        let mut session = Session {
            server_name,
            redact: None,
            target: None,
            checkpoints: None,
            policy: None,
            gate: None,
            parse_limit,
        };
        if settings.is_pure_relay() {
            tracing::info!("audit.enabled is false: relaying only");
            return Ok(session);
        }
        if !settings.audit.redact_sensitive.value {
            tracing::warn!(
                "secret redaction is off ({}): credentials in tool traffic will reach the audit files",
                settings.audit.redact_sensitive.source
            );
        }
        let policy = Policy::from_settings(settings, &session.server_name).map_err(|e| {
            eprintln!("mcp-blackbox: {e}");
            2
        })?;
        let policy = Arc::new(policy);
        if policy.needs_gate() {
            session.gate = Some(Arc::new(Gate::new(
                policy.clone(),
                session.server_name.clone(),
            )));
        }
        session.policy = Some(policy);
        session.checkpoints = checkpointer(settings)?;
        session.redact = Some(redact_config(settings)?);
        session.target = audit_target(settings)?.map(|t| (t, writer_config(settings)));
        Ok(session)
    }

    /// Starts the auditor thread. Everything slow (compiling the redaction
    /// patterns, starting the writer, reading pins, looking up the user) runs
    /// on that thread, so the relay starts at once; the hand-off queue holds
    /// what is relayed meanwhile.
    fn start_auditor(self, args: &RunArgs, settings: &Settings, pid: i32) -> Option<Audit> {
        let (target, writer_config) = self.target?;
        let (handle, inbox) = handoff::channel(
            handoff::DEFAULT_QUEUE_MESSAGES,
            handoff::DEFAULT_QUEUE_BYTES,
        );
        let (done_tx, done) = mpsc::channel();
        let mut facts = SessionFacts {
            command: args.command.clone(),
            pid: Some(pid as u32),
            ..Default::default()
        };
        facts
            .extra
            .insert("proxy_version".into(), env!("CARGO_PKG_VERSION").into());
        if let Some(path) = &settings.config_file {
            facts
                .extra
                .insert("config_file".into(), path.display().to_string().into());
        }
        let user = settings.proxy.user.value.clone();
        let (include_arguments, include_results) = (
            settings.audit.include_arguments.value,
            settings.audit.include_results.value,
        );
        let pins_path = settings.policy.pins.value.clone();
        let flush_timeout = Duration::from_millis(args.flush_timeout_ms);
        let Session {
            server_name,
            redact,
            checkpoints,
            policy,
            parse_limit,
            ..
        } = self;
        spawn_named("auditor", move || {
            let writer = match sink::spawn_writer_with(target, writer_config) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!("{e}; relaying without an audit trail");
                    let _ = done_tx.send((AuditorReport::default(), None));
                    return;
                }
            };
            // Settings validated every pattern; a failure here still never
            // lets an unredacted event through: nothing is recorded.
            let redactor = match redact.as_ref().map(Redactor::new).transpose() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("audit.redact_patterns: {e}; relaying without an audit trail");
                    let _ = done_tx.send((AuditorReport::default(), writer.finish(flush_timeout)));
                    return;
                }
            };
            let identity = SessionIdentity {
                session_id: uuid::Uuid::now_v7().to_string().into(),
                server: server_name.as_str().into(),
                user: user.unwrap_or_else(identity::os_user).into(),
            };
            let mut config = AuditorConfig::new(identity, facts);
            config.parse_limit = parse_limit;
            config.classify.include_arguments = include_arguments;
            config.classify.include_results = include_results;
            config.classify.pinned_tools = pinned_tools(&pins_path, &server_name);
            config.checkpoints = checkpoints;
            config.policy = policy;
            config.redactor = redactor;
            let report = Auditor::new(config).run(inbox, &writer);
            let written = writer.finish(flush_timeout);
            let _ = done_tx.send((report, written));
        });
        Some(Audit { handle, done })
    }
}

/// Where events go. `Err` is an exit status: an audit directory or file the
/// user named and that cannot be written fails fast; trouble with the default
/// directory only turns the proxy into a relay, with an error on stderr.
fn audit_target(settings: &Settings) -> Result<Option<SinkTarget>, i32> {
    let (target, explicit) = match &settings.audit.file.value {
        Some(f) if f == "-" => (SinkTarget::Stderr, true),
        Some(f) => (SinkTarget::File(PathBuf::from(f)), true),
        None => (
            SinkTarget::Dir(settings.audit.dir.value.clone()),
            settings.audit.dir.source != Source::Default,
        ),
    };
    match sink::prepare_target(&target) {
        Ok(()) => Ok(Some(target)),
        Err(e) if explicit => {
            eprintln!("mcp-blackbox: {e}");
            Err(2)
        }
        Err(e) => {
            tracing::error!("{e}; relaying without an audit trail");
            Ok(None)
        }
    }
}

fn writer_config(settings: &Settings) -> WriterConfig {
    let a = &settings.audit;
    WriterConfig {
        when_full: match a.queue_policy.value {
            QueuePolicy::Block => QueueFullPolicy::Block,
            QueuePolicy::Drop => QueueFullPolicy::Drop,
        },
        fsync: match a.fsync.value {
            FsyncMode::Never => FsyncPolicy::Never,
            FsyncMode::Batch => FsyncPolicy::Batch,
            FsyncMode::Always => FsyncPolicy::Always,
        },
        fsync_interval: Duration::from_millis(a.fsync_interval_ms.value),
        rotation: RotationPolicy {
            max_file_size: a.max_size_mb.value.get().saturating_mul(1024 * 1024),
            max_files: a.max_files.value.get() as usize,
        },
        ..WriterConfig::default()
    }
}

/// The approved tool definitions of this server, if a pin file has them: the
/// classifier compares the session's first listing with them, enforced or not.
fn pinned_tools(
    path: &std::path::Path,
    server: &str,
) -> Option<BTreeMap<String, serde_json::Value>> {
    match PinFile::load_or_empty(path) {
        Ok(file) => {
            let pins = file.servers.get(server)?;
            Some(
                pins.tools
                    .iter()
                    .map(|(name, t)| (name.clone(), t.definition.clone()))
                    .collect(),
            )
        }
        Err(e) => {
            tracing::warn!("{e}; tool definitions are not compared with pins");
            None
        }
    }
}

/// What the redactor of the trail is built from (on the auditor thread).
/// `Err` is an exit status: an unusable key file is a configuration error.
fn redact_config(settings: &Settings) -> Result<RedactConfig, i32> {
    let a = &settings.audit;
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("mcp-blackbox: {what}: {e}");
        2
    };
    let hmac_key = match &a.hmac_key_file.value {
        Some(path) => Some(HmacKey::from_file(path).map_err(|e| fail("audit.hmac_key_file", &e))?),
        None => None,
    };
    let config = RedactConfig {
        enabled: a.redact_sensitive.value,
        extra_keys: a.redact_keys.value.clone(),
        extra_patterns: a
            .redact_patterns
            .value
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        max_field_chars: a.max_field_chars.value.get() as usize,
        hmac_key,
    };
    Ok(config)
}

/// The checkpoint signer, if a signing key is configured. `Err` is an exit
/// status: a key that was asked for and cannot be read is a configuration error.
fn checkpointer(settings: &Settings) -> Result<Option<Checkpointer>, i32> {
    let a = &settings.audit;
    let Some(path) = &a.signing_key.value else {
        return Ok(None);
    };
    match SecretKey::load(path) {
        Ok(key) => Ok(Some(Checkpointer::new(
            key,
            a.checkpoint_events.value.max(1),
            Duration::from_secs(a.checkpoint_seconds.value.max(1)),
            Instant::now(),
        ))),
        Err(e) => {
            eprintln!(
                "mcp-blackbox: audit.signing_key ({}): {e}",
                a.signing_key.source
            );
            Err(2)
        }
    }
}

/// The running audit pipeline of one session.
struct Audit {
    handle: AuditHandle,
    done: Receiver<(AuditorReport, Option<WriterReport>)>,
}

impl Audit {
    /// Protocol steps 4-5: `session_end` after everything seen, then the flush.
    fn finish(self, end: SessionEnd, timeout: Duration) {
        let stats = self.handle.stats().clone();
        self.handle.send_control(AuditMsg::End(end));
        drop(self.handle);
        match self.done.recv_timeout(timeout) {
            Ok((report, Some(written))) => {
                let lost_handoff = report.handoff_lost.chunks;
                if lost_handoff > 0 || written.lines_lost > 0 {
                    eprintln!(
                        "mcp-blackbox: audit trail incomplete: {} relayed chunks ({} bytes) not audited, {} events not written",
                        lost_handoff, report.handoff_lost.bytes, written.lines_lost
                    );
                }
                tracing::info!(
                    events = report.events,
                    frames = report.frames,
                    stood_aside_waits = report.stood_aside,
                    queue_peak_messages = report.queue_peak.messages,
                    queue_peak_bytes = report.queue_peak.bytes,
                    "audit trail flushed"
                );
            }
            Ok((_, None)) | Err(_) => {
                let dropped = stats
                    .dropped_chunks
                    .load(std::sync::atomic::Ordering::Relaxed);
                eprintln!(
                    "mcp-blackbox: the audit trail did not reach disk within {} ms; the last events may be missing ({dropped} chunks dropped earlier)",
                    timeout.as_millis()
                );
            }
        }
    }
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start thread {name}: {e}"))
}
