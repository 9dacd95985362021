//! The session's lifecycle: the events that end it ([`Lifecycle`]), the
//! shutdown ladder as a pure state machine, and the loop that drives it.
//!
//! [`Ladder`] is fed [`Lifecycle`] events and the passing of time and answers
//! with [`Action`]s; it does no I/O, so every path of the shutdown protocol
//! (see `main.rs`) is unit-tested here without processes or clocks.
//! [`supervise`] is the thin loop that carries the actions out; the child
//! and signal watchers feed it.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use audit_core::pipeline::ChildExit;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::child;
use crate::relay::ServerInput;

/// What a pump or the supervisor tells the lifecycle loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// The client closed our stdin.
    ClientEof,
    /// Our stdout is broken: the client is gone.
    ClientGone,
    /// The server closed its stdout.
    ServerEof,
    /// The server process exited.
    ChildExited(ChildExit),
    /// We received this signal.
    Signal(i32),
    /// Our parent died without closing our stdin.
    ParentDied,
}

/// What the runner must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Close the server's stdin.
    CloseServerInput,
    /// Send this signal to the server's process group.
    SignalGroup(i32),
    /// The session is over: sweep, drain, flush, exit.
    Finish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Running,
    /// Server stdin closed; SIGTERM at the deadline.
    InputClosed,
    /// SIGTERM (or a forwarded signal) sent; SIGKILL at the deadline.
    Terminating,
    /// SIGKILL sent; waiting for the exit.
    Killed,
    /// The server exited; waiting for its stdout to close (or the deadline).
    Draining,
    Done,
}

/// The shutdown state of one session.
#[derive(Debug)]
pub struct Ladder {
    grace: Duration,
    kill_grace: Duration,
    stage: Stage,
    deadline: Option<Instant>,
    exit: Option<ChildExit>,
    server_eof: bool,
    signalled: bool,
    reason: Option<String>,
}

impl Ladder {
    /// A ladder with these grace periods.
    pub fn new(grace: Duration, kill_grace: Duration) -> Ladder {
        Ladder {
            grace,
            kill_grace,
            stage: Stage::Running,
            deadline: None,
            exit: None,
            server_eof: false,
            signalled: false,
            reason: None,
        }
    }

    /// When [`Ladder::on_deadline`] must be called next, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// How the server ended, once known.
    pub fn exit(&self) -> Option<ChildExit> {
        self.exit
    }

    /// What started the shutdown (`client_eof`, `signal:15`, `server_exit`, ...).
    pub fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or("unknown")
    }

    /// True once [`Action::Finish`] was given.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Reacts to an event.
    pub fn on_event(&mut self, event: Lifecycle, now: Instant) -> Vec<Action> {
        match event {
            Lifecycle::ClientEof | Lifecycle::ClientGone | Lifecycle::ParentDied => {
                self.note_reason(match event {
                    Lifecycle::ClientEof => "client_eof",
                    Lifecycle::ClientGone => "client_gone",
                    _ => "parent_died",
                });
                if self.stage == Stage::Running {
                    self.stage = Stage::InputClosed;
                    self.deadline = Some(now + self.grace);
                    return vec![Action::CloseServerInput];
                }
                Vec::new()
            }
            Lifecycle::Signal(sig) => {
                self.note_reason(&format!("signal:{sig}"));
                match self.stage {
                    Stage::Draining | Stage::Done | Stage::Killed => Vec::new(),
                    _ if self.signalled => {
                        self.stage = Stage::Killed;
                        self.deadline = None;
                        vec![Action::SignalGroup(libc::SIGKILL)]
                    }
                    _ => {
                        self.signalled = true;
                        self.stage = Stage::Terminating;
                        self.deadline = Some(now + self.kill_grace);
                        vec![Action::SignalGroup(sig)]
                    }
                }
            }
            Lifecycle::ChildExited(exit) => {
                self.note_reason("server_exit");
                self.exit = Some(exit);
                if self.server_eof {
                    return self.finish();
                }
                self.stage = Stage::Draining;
                self.deadline = Some(now + self.kill_grace);
                // Whatever the server left behind in its group.
                vec![Action::SignalGroup(libc::SIGTERM)]
            }
            Lifecycle::ServerEof => {
                self.server_eof = true;
                if self.exit.is_some() && self.stage != Stage::Done {
                    return self.finish();
                }
                Vec::new()
            }
        }
    }

    /// The deadline passed.
    pub fn on_deadline(&mut self, now: Instant) -> Vec<Action> {
        match self.deadline {
            Some(d) if now >= d => {}
            _ => return Vec::new(),
        }
        match self.stage {
            Stage::InputClosed => {
                self.stage = Stage::Terminating;
                self.deadline = Some(now + self.kill_grace);
                vec![Action::SignalGroup(libc::SIGTERM)]
            }
            Stage::Terminating => {
                self.stage = Stage::Killed;
                self.deadline = None;
                vec![Action::SignalGroup(libc::SIGKILL)]
            }
            Stage::Draining => self.finish(),
            _ => {
                self.deadline = None;
                Vec::new()
            }
        }
    }

    fn finish(&mut self) -> Vec<Action> {
        self.stage = Stage::Done;
        self.deadline = None;
        vec![Action::Finish]
    }

    fn note_reason(&mut self, reason: &str) {
        if self.reason.is_none() {
            self.reason = Some(reason.to_owned());
        }
    }
}

/// The lifecycle loop: feeds the ladder what arrives on `rx` and the passing
/// of its deadlines, and carries out its actions. Returns whether the server's stdout already closed.
pub fn supervise(
    ladder: &mut Ladder,
    rx: &Receiver<Lifecycle>,
    input: &ServerInput,
    pgid: i32,
) -> bool {
    let mut server_eof = false;
    while !ladder.is_done() {
        let event = match ladder.deadline() {
            Some(deadline) => rx.recv_timeout(deadline.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let actions = match event {
            Ok(ev) => {
                server_eof |= ev == Lifecycle::ServerEof;
                ladder.on_event(ev, Instant::now())
            }
            Err(RecvTimeoutError::Timeout) => ladder.on_deadline(Instant::now()),
            Err(RecvTimeoutError::Disconnected) => break,
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
pub fn wait_for(rx: &Receiver<Lifecycle>, want: Lifecycle, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while let Ok(ev) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if ev == want {
            return;
        }
    }
}

/// Reports the server's exit to the lifecycle loop.
pub fn wait_for_exit(mut child: std::process::Child, tx: Sender<Lifecycle>) {
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
pub fn watch_signals_and_parent(tx: Sender<Lifecycle>) {
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

pub fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start thread {name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: Duration = Duration::from_millis(100);
    const K: Duration = Duration::from_millis(50);

    #[test]
    fn clean_exit_after_client_eof() {
        let t = Instant::now();
        let mut l = Ladder::new(G, K);
        assert_eq!(
            l.on_event(Lifecycle::ClientEof, t),
            [Action::CloseServerInput]
        );
        assert_eq!(l.deadline(), Some(t + G));
        assert_eq!(l.on_event(Lifecycle::ServerEof, t), []);
        let acts = l.on_event(Lifecycle::ChildExited(ChildExit::Code(3)), t);
        assert_eq!(acts, [Action::Finish]);
        assert_eq!(l.exit(), Some(ChildExit::Code(3)));
        assert_eq!(l.reason(), "client_eof");
    }

    #[test]
    fn stubborn_child_gets_term_then_kill() {
        let t = Instant::now();
        let mut l = Ladder::new(G, K);
        l.on_event(Lifecycle::ClientEof, t);
        assert_eq!(l.on_deadline(t + G / 2), []);
        assert_eq!(l.on_deadline(t + G), [Action::SignalGroup(libc::SIGTERM)]);
        assert_eq!(
            l.on_deadline(t + G + K),
            [Action::SignalGroup(libc::SIGKILL)]
        );
        assert_eq!(l.deadline(), None);
        let acts = l.on_event(Lifecycle::ChildExited(ChildExit::Signal(9)), t + G + K);
        assert_eq!(acts, [Action::SignalGroup(libc::SIGTERM)]);
        assert_eq!(
            l.on_event(Lifecycle::ServerEof, t + G + K),
            [Action::Finish]
        );
        assert!(l.is_done());
    }

    #[test]
    fn signal_is_forwarded_and_a_second_one_kills() {
        let t = Instant::now();
        let mut l = Ladder::new(G, K);
        assert_eq!(
            l.on_event(Lifecycle::Signal(libc::SIGINT), t),
            [Action::SignalGroup(libc::SIGINT)]
        );
        assert_eq!(
            l.on_event(Lifecycle::Signal(libc::SIGINT), t),
            [Action::SignalGroup(libc::SIGKILL)]
        );
        assert_eq!(l.reason(), format!("signal:{}", libc::SIGINT));
    }

    #[test]
    fn server_exit_first_waits_for_stdout_then_deadline() {
        let t = Instant::now();
        let mut l = Ladder::new(G, K);
        assert_eq!(
            l.on_event(Lifecycle::ChildExited(ChildExit::Code(1)), t),
            [Action::SignalGroup(libc::SIGTERM)]
        );
        // A grandchild keeps the stdout pipe open: the deadline finishes anyway.
        assert_eq!(l.on_deadline(t + K), [Action::Finish]);
        assert_eq!(l.reason(), "server_exit");
    }

    #[test]
    fn parent_death_closes_input_like_eof() {
        let t = Instant::now();
        let mut l = Ladder::new(G, K);
        assert_eq!(
            l.on_event(Lifecycle::ParentDied, t),
            [Action::CloseServerInput]
        );
        assert_eq!(l.on_event(Lifecycle::ClientEof, t), []);
        assert_eq!(l.reason(), "parent_died");
    }
}
