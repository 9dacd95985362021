//! Scheduling priority of the audit threads.
//!
//! The relay threads keep the normal priority; the auditor (and the writer
//! and forwarders it starts, which inherit its value) run at
//! [`AUDIT_NICE`], background compression lower still. Where a relay thread
//! shares a core with audit work, a relay thread woken by a peer then
//! preempts it at once instead of waiting for its next yield: on one CPU
//! that halves the tail latency of small calls. Audit work that falls
//! behind is absorbed by the hand-off queue, and what overflows it is
//! counted and recorded (`audit_dropped`), never relayed later.

/// Nice value of the auditor thread and the threads it starts.
pub(crate) const AUDIT_NICE: i32 = 5;

/// Nice value of background compression of rotated files.
pub(crate) const BACKGROUND_NICE: i32 = 10;

/// Sets the calling thread's nice value (on Linux, `setpriority` with a
/// thread id applies to that thread alone; threads it starts inherit it).
/// Best effort: a failure leaves the thread as it was.
pub(crate) fn set_thread_nice(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority on our own thread id have no memory effects.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_sets_its_own_nice_and_its_children_inherit_it() {
        let nice = |tid: libc::pid_t| {
            // SAFETY: getpriority on a thread id of ours.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) }
        };
        // SAFETY: gettid has no preconditions.
        let main = nice(unsafe { libc::gettid() });
        let (own, child) = std::thread::spawn(move || {
            set_thread_nice(AUDIT_NICE);
            // SAFETY: as above.
            let own = nice(unsafe { libc::gettid() });
            // SAFETY: as above.
            let child = std::thread::spawn(move || nice(unsafe { libc::gettid() }))
                .join()
                .unwrap();
            (own, child)
        })
        .join()
        .unwrap();
        assert_eq!((own, child), (AUDIT_NICE, AUDIT_NICE));
        // SAFETY: as above.
        assert_eq!(
            nice(unsafe { libc::gettid() }),
            main,
            "the caller's thread only"
        );
    }
}
