//! Notifications: cancellation ends an exchange, progress is tallied on the
//! request it reports on, server log messages at `warning` and above are
//! events, a few rare notifications are recorded, the rest counted.

use std::time::SystemTime;

use serde_json::value::RawValue;
use serde_json::Value;

use super::methods::{notification_kind, NotificationKind};
use super::params::{string, NotificationParams};
use super::{Classifier, Envelope};
use crate::event::{Direction, Event, EventType, Severity};

/// Longest excerpt of a server log message's `data`.
pub const LOG_EXCERPT_CHARS: usize = 1024;

impl Classifier {
    pub(super) fn notification(
        &mut self,
        env: &Envelope<'_>,
        method: &str,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        self.counts.notifications += 1;
        self.counts.method(method);
        let kind = notification_kind(method);
        if kind == NotificationKind::Counted {
            return;
        }
        let np = NotificationParams::parse(env.params);
        match kind {
            NotificationKind::Cancelled => self.cancelled(&np, dir, at, out),
            NotificationKind::Progress => self.progress(&np, dir),
            NotificationKind::Log => self.server_log(&np, dir, at, out),
            NotificationKind::Recorded => {
                let mut e = Event::new(EventType::Notification, at);
                e.direction = Some(dir);
                e.method = Some(method.to_owned());
                self.emit(e, out);
            }
            NotificationKind::Counted => {}
        }
    }

    /// A peer cancels a request *it* sent: the request travelled in `dir` too.
    fn cancelled(
        &mut self,
        np: &NotificationParams<'_>,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let table = match dir {
            Direction::ClientToServer => &mut self.from_client,
            Direction::ServerToClient => &mut self.from_server,
        };
        let Some(p) = np.request_id.and_then(|id| table.get_mut(id)) else {
            // The answer won the race, or the id was never seen: normal.
            self.counts.cancel_unknown_id += 1;
            return;
        };
        if p.cancelled.is_some() {
            return;
        }
        p.cancelled = Some(at);
        let p = p.clone();
        self.counts.cancelled += 1;
        if let Some(mut e) = self.unanswered_event(&p, dir, at, "cancelled") {
            if let Some(reason) = np.reason.and_then(string) {
                let reason: String = reason.chars().take(super::EXCERPT_CHARS).collect();
                e.details.insert("reason".into(), reason.into());
            }
            self.emit(e, out);
        }
    }

    /// Progress travels against the request: the server reports on the
    /// client's requests, and the other way round.
    fn progress(&mut self, np: &NotificationParams<'_>, dir: Direction) {
        self.counts.progress_notifications += 1;
        let table = match dir {
            Direction::ServerToClient => &mut self.from_client,
            Direction::ClientToServer => &mut self.from_server,
        };
        let Some(p) = np.progress_token.and_then(|t| table.by_progress_token(t)) else {
            self.counts.progress_unmatched += 1;
            return;
        };
        p.progress.count += 1;
        p.progress.last = number(np.progress).or(p.progress.last);
        p.progress.total = number(np.total).or(p.progress.total);
    }

    fn server_log(
        &mut self,
        np: &NotificationParams<'_>,
        dir: Direction,
        at: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let level = np.level.and_then(string).unwrap_or_default();
        let severity = match level.as_str() {
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            "critical" | "alert" | "emergency" => Severity::Critical,
            _ => {
                self.counts.log_messages_below_warning += 1;
                return;
            }
        };
        let mut e = Event::new(EventType::ServerLog, at).severity(severity);
        e.direction = Some(dir);
        e.method = Some("notifications/message".into());
        e.details.insert("level".into(), level.into());
        if let Some(logger) = np.logger.and_then(string) {
            let logger: String = logger.chars().take(128).collect();
            e.details.insert("logger".into(), logger.into());
        }
        if let Some(data) = np.data {
            let text = string(data).unwrap_or_else(|| data.get().to_owned());
            e.excerpt = Some(text.chars().take(LOG_EXCERPT_CHARS).collect());
        }
        self.emit(e, out);
    }
}

fn number(raw: Option<&RawValue>) -> Option<f64> {
    serde_json::from_str::<Value>(raw?.get()).ok()?.as_f64()
}
