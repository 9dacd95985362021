//! The bounded queue between the audit writer and one forwarder thread,
//! bounded in lines and in bytes. A line is a [`Bytes`] slice of the
//! writer's batch: queuing it costs a reference count, not a copy.
//!
//! [`LineQueue::push`] waits for room at most until a deadline the caller
//! gives (none: it does not wait), so the writer can never be held up by a
//! collector for longer than the forwarding policy allows.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;

/// What [`LineQueue::pop`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped {
    /// Lines were moved to the caller's vector.
    Lines,
    /// Nothing arrived before the deadline.
    Empty,
    /// The queue is closed and empty: the forwarder may stop.
    Closed,
}

#[derive(Default)]
struct State {
    lines: VecDeque<Bytes>,
    bytes: usize,
    closed: bool,
}

/// A bounded multi-producer, single-consumer queue of lines.
pub struct LineQueue {
    state: Mutex<State>,
    ready: Condvar,
    room: Condvar,
    max_lines: usize,
    max_bytes: usize,
}

impl LineQueue {
    pub fn new(max_lines: usize, max_bytes: usize) -> LineQueue {
        LineQueue {
            state: Mutex::default(),
            ready: Condvar::new(),
            room: Condvar::new(),
            max_lines: max_lines.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `line`, waiting for room until `until` (`None`: no wait).
    /// False if it was not queued (full, or closed). A line larger than the
    /// byte bound is taken when the queue is empty.
    pub fn push(&self, line: Bytes, until: Option<Instant>) -> bool {
        let mut state = self.lock();
        loop {
            if state.closed {
                return false;
            }
            let fits = state.lines.len() < self.max_lines
                && (state.lines.is_empty() || state.bytes + line.len() <= self.max_bytes);
            if fits {
                state.bytes += line.len();
                state.lines.push_back(line);
                self.ready.notify_one();
                return true;
            }
            let Some(until) = until else { return false };
            let now = Instant::now();
            if now >= until {
                return false;
            }
            state = self
                .room
                .wait_timeout(state, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Moves up to `max_lines` lines (and about `max_bytes`) to `out`,
    /// waiting for the first until `until` (`None`: until one comes or the
    /// queue closes).
    pub fn pop(
        &self,
        out: &mut Vec<Bytes>,
        max_lines: usize,
        max_bytes: usize,
        until: Option<Instant>,
    ) -> Popped {
        let mut state = self.lock();
        while state.lines.is_empty() {
            if state.closed {
                return Popped::Closed;
            }
            state = match until {
                None => self.ready.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(until) => {
                    let now = Instant::now();
                    if now >= until {
                        return Popped::Empty;
                    }
                    self.ready
                        .wait_timeout(state, until - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        let mut taken = 0;
        while let Some(line) = state.lines.front() {
            if out.len() >= max_lines || (taken > 0 && taken + line.len() > max_bytes) {
                break;
            }
            taken += line.len();
            out.extend(state.lines.pop_front());
        }
        state.bytes -= taken;
        self.room.notify_all();
        Popped::Lines
    }

    /// Refuses new lines; the consumer drains what is queued, then sees
    /// [`Popped::Closed`].
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
        self.room.notify_all();
    }

    /// True when no line is queued.
    pub fn is_empty(&self) -> bool {
        self.lock().lines.is_empty()
    }

    /// Takes every queued line (what a stopping forwarder could not send).
    pub fn drain(&self) -> Vec<Bytes> {
        let mut state = self.lock();
        state.bytes = 0;
        self.room.notify_all();
        state.lines.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bounded_in_lines_and_bytes() {
        let q = LineQueue::new(2, 10);
        assert!(q.push(Bytes::from_static(b"123456\n"), None));
        assert!(
            !q.push(Bytes::from_static(b"123456\n"), None),
            "over the byte bound"
        );
        assert!(q.push(Bytes::from_static(b"1\n"), None));
        assert!(
            !q.push(Bytes::from_static(b"1\n"), None),
            "over the line bound"
        );
        let mut out = Vec::new();
        assert_eq!(q.pop(&mut out, 10, 1 << 20, None), Popped::Lines);
        assert_eq!(out.len(), 2);
        let big = Bytes::from(vec![b'x'; 100]);
        assert!(
            q.push(big, None),
            "an empty queue takes a line over the byte bound"
        );
    }

    #[test]
    fn push_waits_only_until_its_deadline() {
        let q = LineQueue::new(1, 100);
        assert!(q.push(Bytes::from_static(b"a\n"), None));
        let until = Instant::now() + Duration::from_millis(20);
        assert!(!q.push(Bytes::from_static(b"b\n"), Some(until)));
        assert!(Instant::now() >= until);
    }

    #[test]
    fn close_lets_the_consumer_drain_then_stop() {
        let q = LineQueue::new(4, 100);
        q.push(Bytes::from_static(b"a\n"), None);
        q.close();
        assert!(!q.push(Bytes::from_static(b"b\n"), None));
        let mut out = Vec::new();
        assert_eq!(q.pop(&mut out, 10, 100, None), Popped::Lines);
        assert_eq!(q.pop(&mut out, 10, 100, None), Popped::Closed);
        let soon = Some(Instant::now());
        let open = LineQueue::new(1, 1);
        assert_eq!(open.pop(&mut out, 1, 1, soon), Popped::Empty);
    }
}
