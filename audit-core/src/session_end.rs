//! How a session ended: what the proxy tells the auditor for `session_end`.

use std::time::Instant;

/// How the child process ended, as the auditor records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Could not be started or waited for.
    Unknown,
}

impl ChildExit {
    /// The status a shell would report: the code, or 128 + the signal.
    pub fn shell_status(self) -> i32 {
        match self {
            ChildExit::Code(c) => c,
            ChildExit::Signal(s) => 128 + s,
            ChildExit::Unknown => 1,
        }
    }
}

/// Why the session ended, as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnd {
    pub at: Instant,
    pub exit: ChildExit,
    /// What started the shutdown: `client_eof`, `signal:SIGTERM`, `child_exit`, ...
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_status_is_the_code_or_128_plus_the_signal() {
        assert_eq!(ChildExit::Code(3).shell_status(), 3);
        assert_eq!(ChildExit::Signal(9).shell_status(), 137);
        assert_eq!(ChildExit::Unknown.shell_status(), 1);
    }
}
