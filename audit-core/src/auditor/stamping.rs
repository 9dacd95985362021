//! Stages 3 and 4 of the auditor: each event is completed (digest, the
//! policy's annotation), redacted, sealed and stamped into the batch, with a
//! signed `checkpoint` when one is due.

use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::carried::Carried;
use super::Auditor;
use crate::event::{Event, EventType, RiskLevel};
use crate::frame::hash_pausing;
use crate::pin::PinStatus;

/// Capacity of the events vector kept from frame to frame (see
/// `stamp_all`).
const KEPT_EVENTS: usize = 64;

impl Auditor {
    /// The hex SHA-256 of `bytes`, in [`crate::frame::HASH_PIECE`]s with a
    /// [`Pacer::pause`] after each ([`crate::event::PendingDigest`]).
    fn digest(&mut self, bytes: &[u8]) -> String {
        let mut hasher = Sha256::new();
        let pacer = &mut self.pacer;
        hash_pausing(&mut hasher, bytes, &mut || pacer.pause());
        hex::encode(hasher.finalize())
    }

    /// A listing the relay filtered (`policy.filter_tools_list`): the tools
    /// the client did not see, as the gate judged them (rules that refuse
    /// every call; under enforced pins, tools new or changed).
    fn note_hidden(&self, event: &mut Event) {
        let Some(policy) = &self.policy else { return };
        let o = policy.options();
        if event.event_type != EventType::ToolsListed || !o.filter_tools_list || o.dry_run {
            return;
        }
        let Some(hashes) = event
            .details
            .get("definition_hashes")
            .and_then(|h| h.as_object())
        else {
            return;
        };
        let server = &self.stamper.identity().server;
        let hidden: Vec<serde_json::Value> = hashes
            .iter()
            .filter(|(name, hash)| {
                let changed = |p: &crate::pin::ServerPins| {
                    p.status(name, hash.as_str().unwrap_or("")) != PinStatus::Matches
                };
                policy.denies_unconditionally(server, name) || policy.pins().is_some_and(changed)
            })
            .map(|(name, _)| name.as_str().into())
            .collect();
        event.details.insert("hidden_tools".into(), hidden.into());
    }

    /// The first matching rule sets the risk level and adds its tags; an
    /// answer gets its call's (it has no arguments for a rule to match).
    fn annotate(&mut self, event: &mut Event) {
        if let Some(c) = self.carried.take_for(event) {
            apply(event, c.risk_level, &c.compliance_tags, &c.rule);
            return;
        }
        let (Some(policy), Some(tool)) = (&self.policy, &event.tool) else {
            return;
        };
        let server = &self.stamper.identity().server;
        let Some(a) = policy.annotate(server, tool, event.arguments.as_ref()) else {
            return;
        };
        apply(event, a.risk_level, a.compliance_tags, a.rule);
        if event.event_type == EventType::ToolCall {
            self.carried.keep(event, Carried::from(&a));
        }
    }

    /// Stages 3-4 for the events so far: redact, then stamp into the batch.
    pub(super) fn stamp_all(&mut self) {
        let mut events = std::mem::take(&mut self.events);
        for mut event in events.drain(..) {
            let alert = self.redact(&mut event);
            self.seal(&mut event);
            self.stamp(&event);
            if let Some(alert) = alert {
                self.stamp(&alert); // secret_detected, right after the result that carried it
            }
            if event.event_type == EventType::SessionEnd {
                self.since_checkpoint = 0; // signed itself; nothing may follow it
            } else {
                self.checkpoint_if_due(event.at);
            }
        }
        // The emptied vector goes back for the next frame's events: a fresh
        // one per frame cost an allocation, its growth and its free. One
        // grown past KEPT_EVENTS (a large batch) is let go.
        if self.events.is_empty() && events.capacity() <= KEPT_EVENTS {
            self.events = events;
        }
    }

    /// Completes `event` (its pending digest, the policy's annotation) and
    /// removes its secrets; the `secret_detected` alert, if any.
    fn redact(&mut self, event: &mut Event) -> Option<Event> {
        if let Some(d) = event.pending_digest.take() {
            let digest = self.digest(&d.of);
            event.details.insert(d.field.into(), digest.into());
        }
        if event.event_type != EventType::PolicyBlocked {
            self.annotate(event); // rules see the arguments before redaction
        }
        self.note_hidden(event);
        self.redactor.as_ref().and_then(|r| r.redact_event(event))
    }

    /// What only the stamper knows: the chain seed on `session_start`; the
    /// count, losses and signature on `session_end`.
    fn seal(&mut self, event: &mut Event) {
        match event.event_type {
            EventType::SessionStart => {
                event
                    .details
                    .insert("chain_seed".into(), self.stamper.seed_hex().into());
                if let Some(cp) = &self.checkpoints {
                    event
                        .details
                        .insert("signing_key".into(), cp.fingerprint().into());
                }
            }
            EventType::SessionEnd => {
                event
                    .details
                    .insert("event_count".into(), (self.stamper.count() + 1).into());
                let lost = self.report.handoff_lost;
                event
                    .details
                    .insert("audit_lost_chunks".into(), lost.chunks.into());
                if let Some(cp) = self.checkpoints.as_mut() {
                    cp.sign_next(event, &self.stamper, Instant::now());
                }
            }
            _ => {}
        }
    }

    fn stamp(&mut self, event: &Event) {
        self.stamper.stamp(event, &mut self.batch);
        self.report.events += 1;
        self.since_checkpoint += 1;
    }

    fn checkpoint_if_due(&mut self, at: SystemTime) {
        let Some(cp) = self.checkpoints.as_mut() else {
            return; // no clock read per event without checkpoints
        };
        let now = Instant::now();
        if !cp.due(self.since_checkpoint, now) {
            return;
        }
        let mut e = Event::new(EventType::Checkpoint, at);
        e.details
            .insert("events_since_last".into(), self.since_checkpoint.into());
        cp.sign_next(&mut e, &self.stamper, now);
        self.stamp(&e);
        self.since_checkpoint = 0;
    }
}

/// Sets a rule's risk level, adds its tags and names it in `details.rule`.
fn apply(event: &mut Event, level: Option<RiskLevel>, tags: &[String], rule: &str) {
    if let Some(level) = level {
        event.risk_level = Some(level);
    }
    for tag in tags {
        if !event.compliance_tags.contains(tag) {
            event.compliance_tags.push(tag.clone());
        }
    }
    event.details.insert("rule".into(), rule.into());
}
