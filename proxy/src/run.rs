//! Running one server behind the proxy: wiring of child, pumps, audit
//! pipeline and lifecycle, in the order of the shutdown protocol documented
//! in `main.rs`. What the pipeline is built from is `audit_core::pipeline`'s
//! business; this module only starts processes and threads.

use std::fmt;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use audit_core::config::{ConfigError, LoadInput, Settings};
use audit_core::pipeline::{ChildExit, Flush, Identity, Plan, SessionEnd, StartError};

use crate::child::{self, SpawnError};
use crate::cli::RunArgs;
use crate::config_cmd::{home_dir, process_env};
use crate::identity;
use crate::lifecycle::{self, Ladder, Lifecycle};
use crate::relay::{self, ClientOutput, ServerInput};

/// What keeps a session from starting; printed once, by [`run`].
enum StartFailure {
    NoCommand,
    Settings(ConfigError),
    Pipeline(StartError),
    Spawn(SpawnError),
}

impl StartFailure {
    /// Our exit status: 2 for a usage or configuration error, else the
    /// shell's status for a command that cannot be run.
    fn status(&self) -> i32 {
        match self {
            StartFailure::Spawn(e) => e.exit_status(),
            _ => 2,
        }
    }
}

impl fmt::Display for StartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartFailure::NoCommand => f.write_str(
                "missing server command\nusage: mcp-blackbox [OPTIONS] [--] <command> [args...]",
            ),
            StartFailure::Settings(e) => e.fmt(f),
            StartFailure::Pipeline(e) => e.fmt(f),
            StartFailure::Spawn(e) => e.fmt(f),
        }
    }
}

/// Runs the server in `args.command` behind the proxy; returns our exit status.
pub fn run(args: RunArgs) -> i32 {
    session(&args).unwrap_or_else(|e| match e {
        // A command that cannot run exits as a shell would.
        StartFailure::Spawn(_) => {
            eprintln!("mcp-blackbox: {e}");
            e.status()
        }
        _ => crate::start_failure::fail(&e.to_string()),
    })
}

/// Who and what the session is, for its `session_start`.
fn session_identity(args: &RunArgs, pid: Option<u32>) -> Identity {
    Identity {
        command: args.command.clone(),
        pid,
        proxy_version: env!("CARGO_PKG_VERSION").into(),
        os_user: identity::os_user,
    }
}

fn session(args: &RunArgs) -> Result<i32, StartFailure> {
    if args.command.is_empty() {
        return Err(StartFailure::NoCommand);
    }
    let settings = Settings::load(LoadInput {
        config_path: args.config.clone(),
        home: home_dir(),
        env: process_env(),
        flags: args.setting_flags(),
        server_name: args.server_name.as_deref(),
        command: &args.command,
    })
    .map_err(StartFailure::Settings)?;
    crate::init_tracing(Some(settings.proxy.log_level.value.as_str()));
    let server_name =
        identity::server_name(settings.proxy.server_name.value.as_deref(), &args.command);
    let plan = Plan::from_settings(&settings, &server_name).map_err(StartFailure::Pipeline)?;
    let (tx, rx) = mpsc::channel();
    lifecycle::watch_signals_and_parent(tx.clone());

    let flush_timeout = Duration::from_millis(settings.audit.flush_timeout_ms.value);
    let mut server = match child::spawn(&args.command, plan.audits_to_stderr()) {
        Ok(server) => server,
        Err(e) => {
            // The trail still says a session was tried, and why it failed.
            let identity = session_identity(args, None);
            plan.record_spawn_failure(identity, &e.to_string(), e.exit_status(), flush_timeout);
            return Err(StartFailure::Spawn(e));
        }
    };
    // With events on our stderr, the server's stderr is relayed in whole lines.
    let stderr_relay = server
        .stderr
        .take()
        .and_then(|e| child::relay_stderr(e).ok());
    let pgid = server.pid;
    tracing::info!(pid = pgid, command = ?args.command, "server started");

    let gate = plan.gate().cloned();
    let parse_limit = plan.parse_limit();
    let pipeline = plan.start(session_identity(args, Some(pgid as u32)), flush_timeout);
    let handle = pipeline.as_ref().map(|p| p.handle().clone());

    let input = Arc::new(ServerInput::new(server.stdin));
    let s2c = relay::start(
        input.clone(),
        Arc::new(ClientOutput::stdout()),
        server.stdout,
        gate.map(|g| (g, parse_limit)),
        handle,
        &tx,
    );
    lifecycle::wait_for_exit(server.child, tx);

    let kill_grace = Duration::from_millis(settings.proxy.kill_grace_ms.value);
    let mut ladder = Ladder::new(
        Duration::from_millis(settings.proxy.grace_ms.value),
        kill_grace,
    );
    let server_eof = lifecycle::supervise(&mut ladder, &rx, &input, pgid);

    drain(pgid, server_eof, &rx, kill_grace, s2c);
    if let Some(relay) = stderr_relay {
        relay.finish(kill_grace);
    }
    let exit = ladder.exit().unwrap_or(ChildExit::Unknown);
    if let Some(pipeline) = pipeline {
        // Protocol steps 4-5: `session_end` after everything seen, then the flush.
        report(pipeline.finish(SessionEnd {
            at: Instant::now(),
            exit,
            reason: ladder.reason().to_owned(),
        }));
    }
    Ok(exit.shell_status())
}

/// Protocol steps 3-4: ends what is left of the server's tree and lets the
/// server→client pump drain (until its end of stream, or `kill_grace`).
fn drain(
    pgid: i32,
    server_eof: bool,
    rx: &Receiver<Lifecycle>,
    kill_grace: Duration,
    s2c: JoinHandle<()>,
) {
    let stragglers = child::sweep(pgid);
    if stragglers > 0 {
        tracing::info!(
            stragglers,
            "ended processes that had left the server's process group"
        );
    }
    if !server_eof {
        lifecycle::wait_for(rx, Lifecycle::ServerEof, kill_grace);
    }
    if s2c.is_finished() {
        let _ = s2c.join();
    }
}

/// What the end of the session did to the trail, on stderr.
fn report(flush: Flush) {
    match flush {
        Flush::Done(finished) => {
            let (report, lost_lines) = (
                finished.auditor,
                finished.writer.map_or(0, |w| w.lines_lost),
            );
            let lost = report.handoff_lost;
            if lost.chunks > 0 || lost_lines > 0 {
                eprintln!(
                    "mcp-blackbox: audit trail incomplete: {} relayed chunks ({} bytes) not audited, {} events not written",
                    lost.chunks, lost.bytes, lost_lines
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
        Flush::TimedOut {
            after,
            dropped_chunks,
        } => eprintln!(
            "mcp-blackbox: the audit trail did not reach disk within {} ms; the last events may be missing ({dropped_chunks} chunks dropped earlier)",
            after.as_millis()
        ),
    }
}
