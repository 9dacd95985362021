//! One line through the reader's filters: [`super::filter::Filter`], then
//! `--where` ([`super::jq`]), then, with `--join`, to its call
//! ([`super::join`]). Shared by `query` and `tail`.

use serde_json::{Map, Value};

use super::filter::Filter;
use super::join::Joiner;
use super::jq::JqFilter;
use super::view::EventView;

/// What a line became.
pub enum Found<'a> {
    /// An event that passed, and its line as written.
    Event(&'a EventView<'a>, &'a [u8]),
    /// An answer that passed, joined to its call.
    Joined(Map<String, Value>),
}

/// The filters of one reader, and its memory of calls for `--join`.
#[derive(Debug)]
pub struct Query {
    pub filter: Filter,
    pub jq: Option<JqFilter>,
    /// Rows are answers joined to their calls.
    pub join: Option<Joiner>,
}

impl Query {
    /// A query; `join` pairs answers with their calls.
    pub fn new(filter: Filter, jq: Option<JqFilter>, join: bool) -> Query {
        Query {
            filter,
            jq,
            join: join.then(Joiner::default),
        }
    }

    /// Runs one line through; `found` gets what passes. `Err` says why the
    /// line is not an event.
    pub fn offer(&mut self, line: &[u8], found: &mut dyn FnMut(Found<'_>)) -> Result<(), String> {
        let e = EventView::parse(line)?;
        if let Some(j) = &mut self.join {
            // Every call is remembered, whatever the filters say of it.
            j.see(&e);
        }
        if !self.filter.matches(&e, line) {
            return Ok(());
        }
        if let Some(jq) = &self.jq {
            if !jq.keeps(line)? {
                return Ok(());
            }
        }
        match &mut self.join {
            Some(j) => {
                if let Some(o) = j.join(&e) {
                    found(Found::Joined(o));
                }
            }
            None => found(Found::Event(&e, line)),
        }
        Ok(())
    }
}
