//! Correlation of requests with their answers, one table per direction.
//!
//! Keys are the JSON id's exact text: `1` and `"1"` are different ids, as
//! JSON-RPC says; an id longer than [`crate::event::MAX_ID_BYTES`] is keyed
//! by its SHA-256 ([`id_key`]). Progress tokens are keyed the same way. The table is
//! bounded ([`DEFAULT_MAX_PENDING`] per direction): a request that does not
//! fit is still relayed, only not correlated, and is counted.
//!
//! A cancelled request stays in the table, marked, until its (late) answer
//! arrives, so that answer is recognised rather than reported as a response
//! to an unknown id; when the table is full, cancelled entries are evicted
//! first, and a new request may reuse a cancelled request's id.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::value::RawValue;

use super::budget::{Kept, PENDING_KEPT_BYTES};
use super::params::TraceContext;
use super::risk::RiskAssessment;
use crate::event::id_key;

/// Default for the most requests in flight tracked per direction.
pub const DEFAULT_MAX_PENDING: usize = 4096;

/// Progress notifications seen for a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub count: u64,
    pub last: Option<f64>,
    pub total: Option<f64>,
}

/// A request awaiting its answer.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The id's key ([`id_key`]): its text, or the digest of a long one.
    pub id: Box<str>,
    pub method: String,
    pub tool: Option<String>,
    /// The `event_id` its answer links to.
    pub event_id: String,
    pub at: SystemTime,
    /// The key ([`id_key`]) of its progress token.
    pub progress_token: Option<Box<str>>,
    pub progress: Progress,
    pub trace: Option<TraceContext>,
    pub risk: Option<RiskAssessment>,
    /// When `notifications/cancelled` named it.
    pub cancelled: Option<SystemTime>,
    /// A `tools/list` request with a cursor (a further page).
    pub continued: bool,
    /// What the request is about: a resource URI, a prompt name.
    pub subject: Option<String>,
    /// Params kept for the event written at completion: their text, or
    /// their digest once the table's [`PENDING_KEPT_BYTES`] are taken.
    pub arguments: Option<Kept>,
    pub arguments_bytes: usize,
    /// The call this request certainly belongs to.
    pub parent: Option<String>,
    /// Client calls in flight when this (server) request arrived.
    pub in_flight_calls: Vec<String>,
}

impl Pending {
    /// A request of `method` with id `id`, and nothing else known yet.
    pub fn new(id: &RawValue, method: &str, event_id: String, at: SystemTime) -> Pending {
        Pending {
            id: id_key(id.get()).into(),
            method: super::budget::bounded_name(method),
            tool: None,
            event_id,
            at,
            progress_token: None,
            progress: Progress::default(),
            trace: None,
            risk: None,
            cancelled: None,
            continued: false,
            subject: None,
            arguments: None,
            arguments_bytes: 0,
            parent: None,
            in_flight_calls: Vec::new(),
        }
    }
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
    by_token: HashMap<Box<str>, Box<str>>,
    max: usize,
    overflowed: u64,
    /// Bytes of params text the requests in the table keep.
    kept_bytes: usize,
}

impl PendingTable {
    /// An empty table holding at most `max` requests.
    pub fn new(max: usize) -> PendingTable {
        PendingTable {
            by_id: HashMap::new(),
            by_token: HashMap::new(),
            max,
            overflowed: 0,
            kept_bytes: 0,
        }
    }

    /// Tracks `pending`; a duplicate of a live id keeps the first request.
    pub fn insert(&mut self, mut pending: Pending) -> Result<(), Rejected> {
        let key = pending.id.clone();
        match self.by_id.get(&key) {
            Some(old) if old.cancelled.is_none() => return Err(Rejected { duplicate: true }),
            Some(_) => {
                self.remove_key(&key);
            }
            None => {}
        }
        if self.by_id.len() >= self.max && !self.evict_cancelled() {
            self.overflowed += 1;
            return Err(Rejected { duplicate: false });
        }
        if let Some(Kept::Text(t)) = &pending.arguments {
            if self.kept_bytes + t.len() > PENDING_KEPT_BYTES {
                let digest = crate::stamp::sha256_hex(t.as_bytes());
                pending.arguments = Some(Kept::Digest(digest));
            } else {
                self.kept_bytes += t.len();
            }
        }
        if let Some(t) = &pending.progress_token {
            self.by_token.insert(t.clone(), key.clone());
        }
        self.by_id.insert(key, pending);
        Ok(())
    }

    /// The request with this id, left in the table.
    pub fn get(&self, id: &RawValue) -> Option<&Pending> {
        self.by_id.get(id_key(id.get()).as_ref())
    }

    /// The request answered by a response with this id.
    pub fn remove(&mut self, id: &RawValue) -> Option<Pending> {
        self.remove_key(&id_key(id.get()))
    }

    fn remove_key(&mut self, key: &str) -> Option<Pending> {
        let p = self.by_id.remove(key)?;
        if let Some(Kept::Text(t)) = &p.arguments {
            self.kept_bytes -= t.len();
        }
        if let Some(t) = &p.progress_token {
            self.by_token.remove(t);
        }
        Some(p)
    }

    /// The request with this id, still in flight.
    pub fn get_mut(&mut self, id: &RawValue) -> Option<&mut Pending> {
        self.by_id.get_mut(id_key(id.get()).as_ref())
    }

    /// The request that asked for progress with this token.
    pub fn by_progress_token(&mut self, token: &RawValue) -> Option<&mut Pending> {
        let id = self.by_token.get(id_key(token.get()).as_ref())?;
        self.by_id.get_mut(id)
    }

    /// `event_id`s of live (not cancelled) requests of one of `methods`, oldest first, at most `max`.
    pub fn live_event_ids(&self, methods: &[&str], max: usize) -> Vec<String> {
        let mut live: Vec<&Pending> = self
            .by_id
            .values()
            .filter(|p| p.cancelled.is_none() && methods.contains(&p.method.as_str()))
            .collect();
        live.sort_by_key(|p| p.at);
        live.into_iter()
            .take(max)
            .map(|p| p.event_id.clone())
            .collect()
    }

    /// Requests that did not fit.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Everything still in flight, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = Pending> {
        self.by_token.clear();
        self.kept_bytes = 0;
        let mut all: Vec<Pending> = self.by_id.drain().map(|(_, p)| p).collect();
        all.sort_by_key(|p| p.at);
        all.into_iter()
    }

    fn evict_cancelled(&mut self) -> bool {
        let oldest = self
            .by_id
            .values()
            .filter(|p| p.cancelled.is_some())
            .min_by_key(|p| p.at)
            .map(|p| p.id.clone());
        oldest.is_some_and(|id| self.remove_key(&id).is_some())
    }
}

#[cfg(test)]
impl PendingTable {
    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    fn p(id: &str) -> Pending {
        Pending::new(&raw(id), "tools/call", "e".into(), SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn string_and_number_ids_differ() {
        let mut t = PendingTable::new(8);
        t.insert(p("1")).unwrap();
        t.insert(p("\"1\"")).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.remove(&raw("\"1\"")).is_some());
        assert!(t.remove(&raw("\"1\"")).is_none());
        assert!(t.remove(&raw("1")).is_some());
    }

    #[test]
    fn bounded_with_counter_and_duplicates_rejected() {
        let mut t = PendingTable::new(1);
        t.insert(p("1")).unwrap();
        assert_eq!(t.insert(p("1")), Err(Rejected { duplicate: true }));
        assert_eq!(t.insert(p("2")), Err(Rejected { duplicate: false }));
        assert_eq!(t.overflowed(), 1);
    }

    #[test]
    fn cancelled_entries_give_way() {
        let mut t = PendingTable::new(1);
        t.insert(p("1")).unwrap();
        t.get_mut(&raw("1")).unwrap().cancelled = Some(SystemTime::UNIX_EPOCH);
        // The same id may be reused, and a full table evicts a cancelled entry.
        t.insert(p("1")).unwrap();
        t.get_mut(&raw("1")).unwrap().cancelled = Some(SystemTime::UNIX_EPOCH);
        t.insert(p("2")).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.overflowed(), 0);
    }

    #[test]
    fn progress_tokens_find_their_request() {
        let mut t = PendingTable::new(4);
        let mut a = p("1");
        a.progress_token = Some("\"tok\"".into());
        t.insert(a).unwrap();
        assert!(t.by_progress_token(&raw("\"tok\"")).is_some());
        assert!(t.by_progress_token(&raw("7")).is_none());
        t.remove(&raw("1"));
        assert!(t.by_progress_token(&raw("\"tok\"")).is_none());
    }
}
