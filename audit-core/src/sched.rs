//! Scheduling priority of the audit threads.
//!
//! The relay threads keep the process's priority; the auditor (and the
//! writer and forwarders it starts, which inherit its value) run
//! [`AUDIT_NICE`] steps lower, background compression lower still. Where a
//! relay thread shares a core with audit work, a relay thread woken by a
//! peer then preempts it at once instead of waiting for its next yield: on
//! one CPU that halves the tail latency of small calls. Audit work that
//! falls behind waits in the hand-off queue; what overflows it is counted
//! and recorded (`audit_dropped`), and the relay never waits for it.

/// How much lower than the relay's the auditor thread's priority is (nice
/// steps), and so the threads it starts.
pub(crate) const AUDIT_NICE: i32 = 5;

/// How much lower again background compression of rotated files runs.
pub(crate) const BACKGROUND_NICE: i32 = 5;

/// Lowers the calling thread's priority by `steps` nice steps from where it
/// stands (a proxy started under `nice` keeps that offset; on Linux,
/// `setpriority` with a thread id applies to that thread alone, and threads
/// it starts inherit it). Best effort: a failure leaves it as it was.
pub(crate) fn lower_thread_priority(steps: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid, getpriority and setpriority on our own thread id have
    // no memory effects.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + steps).min(19));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = steps;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_lowers_its_own_priority_and_its_children_inherit_it() {
        let nice = || {
            // SAFETY: gettid and getpriority on our own thread id.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        };
        let main = nice();
        let (own, child) = std::thread::spawn(move || {
            lower_thread_priority(AUDIT_NICE);
            let child = std::thread::spawn(nice).join().unwrap();
            (nice(), child)
        })
        .join()
        .unwrap();
        let want = (main + AUDIT_NICE).min(19);
        assert_eq!((own, child), (want, want));
        assert_eq!(nice(), main, "the caller's thread only");
    }
}
