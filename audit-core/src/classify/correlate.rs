//! Correlation of requests with their answers, one table per direction.
//!
//! Keys are the JSON id's exact text: `1` and `"1"` are different ids, as
//! JSON-RPC says. The table is bounded; a request that does not fit is still
//! relayed, only not correlated, and is reported.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::value::RawValue;

/// Default for the most requests in flight tracked per direction.
pub const DEFAULT_MAX_PENDING: usize = 4096;

/// A request awaiting its answer.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: Box<RawValue>,
    pub method: String,
    pub tool: Option<String>,
    /// The `event_id` its answer links to.
    pub event_id: String,
    pub at: SystemTime,
}

/// Why a request could not be tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The id is already in flight (otherwise: the table is full).
    pub duplicate: bool,
}

/// Requests in flight in one direction.
#[derive(Debug)]
pub struct PendingTable {
    by_id: HashMap<Box<str>, Pending>,
    max: usize,
    overflowed: u64,
}

impl PendingTable {
    /// An empty table holding at most `max` requests.
    pub fn new(max: usize) -> PendingTable {
        PendingTable {
            by_id: HashMap::new(),
            max,
            overflowed: 0,
        }
    }

    /// Tracks `pending`; a duplicate id keeps the first request.
    pub fn insert(&mut self, pending: Pending) -> Result<(), Rejected> {
        let key: Box<str> = pending.id.get().into();
        if self.by_id.contains_key(&key) {
            return Err(Rejected { duplicate: true });
        }
        if self.by_id.len() >= self.max {
            self.overflowed += 1;
            return Err(Rejected { duplicate: false });
        }
        self.by_id.insert(key, pending);
        Ok(())
    }

    /// The request answered by a response with this id.
    pub fn remove(&mut self, id: &RawValue) -> Option<Pending> {
        self.by_id.remove(id.get())
    }

    /// The request with this id, still in flight.
    pub fn get_mut(&mut self, id: &RawValue) -> Option<&mut Pending> {
        self.by_id.get_mut(id.get())
    }

    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Requests that did not fit.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Everything still in flight, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = Pending> {
        let mut all: Vec<Pending> = self.by_id.drain().map(|(_, p)| p).collect();
        all.sort_by_key(|p| p.at);
        all.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str) -> Pending {
        Pending {
            id: RawValue::from_string(id.to_owned()).unwrap(),
            method: "tools/call".into(),
            tool: None,
            event_id: "e".into(),
            at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn string_and_number_ids_differ() {
        let mut t = PendingTable::new(8);
        t.insert(p("1")).unwrap();
        t.insert(p("\"1\"")).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t
            .remove(&RawValue::from_string("\"1\"".into()).unwrap())
            .is_some());
        assert!(t
            .remove(&RawValue::from_string("\"1\"".into()).unwrap())
            .is_none());
        assert!(t
            .remove(&RawValue::from_string("1".into()).unwrap())
            .is_some());
    }

    #[test]
    fn bounded_with_counter_and_duplicates_rejected() {
        let mut t = PendingTable::new(1);
        t.insert(p("1")).unwrap();
        assert_eq!(t.insert(p("1")), Err(Rejected { duplicate: true }));
        assert_eq!(t.insert(p("2")), Err(Rejected { duplicate: false }));
        assert_eq!(t.overflowed(), 1);
    }
}
