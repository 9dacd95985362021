//! What the trail itself shows, gathered in one pass per file and merged:
//! events by type, the share of events carrying each field an assessor asks
//! for, signed sessions, the time span, and a bounded list of event ids per
//! event type.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::trail::view::EventView;

/// Event ids kept per event type (the evidence listed under a control).
pub const MAX_IDS: usize = 20;

/// Distinct (server, tool) pairs kept (the inventory of Art. 30).
pub const MAX_TOOLS: usize = 1000;

/// The fields an audit record must carry (PCI DSS 10.2.2), in report order.
pub const FIELDS: [&str; 6] = ["user", "type", "time", "outcome", "origin", "resource"];

/// The figures of one file, or of the whole trail.
#[derive(Debug, Default, Clone)]
pub struct Evidence {
    pub events: u64,
    pub by_type: BTreeMap<String, u64>,
    /// Events carrying each of [`FIELDS`] (non-empty).
    pub present: [u64; 6],
    /// Events about a resource (a tool call, a resource read, a prompt):
    /// the denominator of `resource`.
    pub resource_events: u64,
    pub sessions: u64,
    /// Sessions whose `session_start` names a signing key.
    pub signed_sessions: u64,
    /// Checkpoints and `session_end`s carrying a signature.
    pub signatures: u64,
    /// Events per compliance tag.
    pub tags: BTreeMap<String, u64>,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Up to [`MAX_IDS`] event ids per type, in trail order.
    pub ids: BTreeMap<String, Vec<String>>,
    /// Up to [`MAX_TOOLS`] (server, tool) pairs that were called.
    pub tools: BTreeSet<(String, String)>,
    /// More pairs were seen than kept.
    pub tools_over: bool,
}

/// The members of a line that [`EventView`] leaves out.
#[derive(Deserialize)]
struct Extra<'a> {
    #[serde(borrow, default)]
    host: Cow<'a, str>,
    #[serde(default)]
    details: ExtraDetails,
}

#[derive(Default, Deserialize)]
struct ExtraDetails {
    signing_key: Option<IgnoredAny>,
    signature: Option<IgnoredAny>,
    uri: Option<IgnoredAny>,
    name: Option<IgnoredAny>,
}

impl Evidence {
    /// Counts one event (`line` is its text, for the members the view skips).
    pub fn add(&mut self, e: &EventView<'_>, line: &[u8]) {
        let extra: Extra<'_> = serde_json::from_slice(line).unwrap_or(Extra {
            host: Cow::Borrowed(""),
            details: ExtraDetails::default(),
        });
        self.events += 1;
        let kind: &str = &e.kind;
        *self.by_type.entry(kind.to_owned()).or_default() += 1;
        let about_resource = matches!(
            e.method.as_deref(),
            Some("tools/call" | "resources/read" | "prompts/get")
        ) || kind == "tool_changed";
        let has_resource =
            !e.tool().is_empty() || extra.details.uri.is_some() || extra.details.name.is_some();
        let flags = [
            !e.user.is_empty(),
            !kind.is_empty(),
            !e.timestamp.is_empty(),
            !e.outcome.is_empty(),
            !extra.host.is_empty(),
            about_resource && has_resource,
        ];
        for (n, f) in self.present.iter_mut().zip(flags) {
            *n += u64::from(f);
        }
        self.resource_events += u64::from(about_resource);
        if kind == "session_start" {
            self.sessions += 1;
            self.signed_sessions += u64::from(extra.details.signing_key.is_some());
        }
        self.signatures += u64::from(extra.details.signature.is_some());
        for tag in e.compliance_tags.iter() {
            *self.tags.entry(tag.to_string()).or_default() += 1;
        }
        let ts = &e.timestamp;
        if self.first.as_deref().map_or(true, |f| **ts < *f) {
            self.first = Some(ts.to_string());
        }
        if self.last.as_deref().map_or(true, |l| **ts > *l) {
            self.last = Some(ts.to_string());
        }
        if kind == "tool_call" {
            self.note_tool(&e.server, e.tool());
        }
        let ids = self.ids.entry(kind.to_owned()).or_default();
        if ids.len() < MAX_IDS && !e.event_id.is_empty() {
            ids.push(e.event_id.to_string());
        }
    }

    fn note_tool(&mut self, server: &str, tool: &str) {
        if self.tools.len() < MAX_TOOLS {
            self.tools.insert((server.to_owned(), tool.to_owned()));
        } else if !self.tools.contains(&(server.to_owned(), tool.to_owned())) {
            self.tools_over = true;
        }
    }

    /// Adds another file's figures (files merged in trail order).
    pub fn merge(&mut self, other: Evidence) {
        self.events += other.events;
        for (k, n) in other.by_type {
            *self.by_type.entry(k).or_default() += n;
        }
        for (a, b) in self.present.iter_mut().zip(other.present) {
            *a += b;
        }
        self.resource_events += other.resource_events;
        self.sessions += other.sessions;
        self.signed_sessions += other.signed_sessions;
        self.signatures += other.signatures;
        for (k, n) in other.tags {
            *self.tags.entry(k).or_default() += n;
        }
        self.first = [self.first.take(), other.first].into_iter().flatten().min();
        self.last = [self.last.take(), other.last].into_iter().flatten().max();
        self.tools_over |= other.tools_over;
        for (server, tool) in other.tools {
            self.note_tool(&server, &tool);
        }
        for (k, ids) in other.ids {
            let mine = self.ids.entry(k).or_default();
            let room = MAX_IDS.saturating_sub(mine.len());
            mine.extend(ids.into_iter().take(room));
        }
    }

    /// Events of type `kind`.
    pub fn count(&self, kind: &str) -> u64 {
        self.by_type.get(kind).copied().unwrap_or(0)
    }

    /// The share (0.0–1.0) of events carrying field `i` of [`FIELDS`];
    /// `None` when no event applies.
    pub fn share(&self, i: usize) -> Option<f64> {
        let of = if FIELDS[i] == "resource" {
            self.resource_events
        } else {
            self.events
        };
        (of > 0).then(|| self.present[i] as f64 / of as f64)
    }

    /// The days the trail covers (first to last event, at least 1).
    pub fn days(&self) -> u64 {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let day = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| time::Date::parse(t.get(..10)?, format).ok())
        };
        match (day(&self.first), day(&self.last)) {
            (Some(a), Some(b)) => (b - a).whole_days().unsigned_abs() + 1,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(ev: &mut Evidence, line: &str) {
        ev.add(&EventView::parse(line.as_bytes()).unwrap(), line.as_bytes());
    }

    #[test]
    fn field_shares_signatures_and_ids() {
        let mut a = Evidence::default();
        add(
            &mut a,
            r#"{"event_id":"1","timestamp":"2026-01-01T00:00:00Z","type":"session_start","outcome":"success","user":"u","host":"h","details":{"signing_key":"sha256:x"}}"#,
        );
        add(
            &mut a,
            r#"{"event_id":"2","timestamp":"2026-01-03T00:00:00Z","type":"tool_call","outcome":"pending","user":"u","method":"tools/call","tool":"t","compliance_tags":["data_access"]}"#,
        );
        let mut b = Evidence::default();
        add(
            &mut b,
            r#"{"event_id":"3","timestamp":"2026-01-02T00:00:00Z","type":"resource_read","outcome":"success","method":"resources/read","host":"h","details":{"uri":"file:///x","signature":"ab"}}"#,
        );
        a.merge(b);
        assert_eq!(a.events, 3);
        assert_eq!(a.share(0), Some(2.0 / 3.0), "user");
        assert_eq!(a.share(4), Some(2.0 / 3.0), "origin");
        assert_eq!(a.share(5), Some(1.0), "resource");
        assert_eq!((a.sessions, a.signed_sessions, a.signatures), (1, 1, 1));
        assert_eq!(a.tags["data_access"], 1);
        assert_eq!(a.days(), 3);
        assert_eq!(a.ids["tool_call"], ["2"]);
        assert_eq!(a.tools.len(), 1);
        assert_eq!(a.first.as_deref(), Some("2026-01-01T00:00:00Z"));
    }
}
