//! The rule annotations of calls still unanswered, so that an answer carries
//! its call's classification: a rule may match a call by its arguments, and
//! the answer (`tool_result`, `tool_error`, …) has none to match again.
//!
//! Keyed by the call's `event_id` (the answer's `call_event_id`); bounded like
//! the classifier's pending table, the oldest entry going first.

use std::collections::{HashMap, VecDeque};

use crate::classify::DEFAULT_MAX_PENDING;
use crate::event::{Event, EventType, RiskLevel};
use crate::policy::Annotation;

/// One call's annotation, owned.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Carried {
    pub risk_level: Option<RiskLevel>,
    pub compliance_tags: Vec<String>,
    pub rule: String,
}

impl From<&Annotation<'_>> for Carried {
    fn from(a: &Annotation<'_>) -> Carried {
        Carried {
            risk_level: a.risk_level,
            compliance_tags: a.compliance_tags.to_vec(),
            rule: a.rule.to_owned(),
        }
    }
}

/// Annotations of calls awaiting their answer.
#[derive(Debug)]
pub(super) struct CarriedAnnotations {
    by_call: HashMap<String, Carried>,
    order: VecDeque<String>,
    max: usize,
}

impl Default for CarriedAnnotations {
    fn default() -> Self {
        CarriedAnnotations::with_limit(DEFAULT_MAX_PENDING)
    }
}

impl CarriedAnnotations {
    pub fn with_limit(max: usize) -> CarriedAnnotations {
        CarriedAnnotations {
            by_call: HashMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// Keeps `call`'s annotation for its answer.
    pub fn keep(&mut self, call: &Event, annotation: Carried) {
        let Some(id) = &call.event_id else { return };
        if self.by_call.len() >= self.max {
            // Entries of answered calls are removed from `by_call` only.
            while let Some(old) = self.order.pop_front() {
                if self.by_call.remove(&old).is_some() {
                    break;
                }
            }
        }
        if self.by_call.insert(id.clone(), annotation).is_none() {
            self.order.push_back(id.clone());
        }
        if self.order.len() > 2 * self.max {
            let live = &self.by_call;
            self.order.retain(|id| live.contains_key(id));
        }
    }

    /// The annotation of the call `answer` links to; a final answer ends it.
    pub fn take_for(&mut self, answer: &Event) -> Option<Carried> {
        let id = answer.call_event_id.as_ref()?;
        if is_final(answer.event_type) {
            self.by_call.remove(id)
        } else {
            self.by_call.get(id).cloned()
        }
    }
}

/// An answer after which no other event links to the call's annotation.
fn is_final(t: EventType) -> bool {
    matches!(
        t,
        EventType::ToolResult
            | EventType::ToolError
            | EventType::ToolCancelled
            | EventType::ToolAbandoned
            | EventType::RpcError
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn carried(rule: &str) -> Carried {
        Carried {
            risk_level: Some(RiskLevel::Critical),
            compliance_tags: vec!["t".into()],
            rule: rule.into(),
        }
    }

    fn call(id: &str) -> Event {
        let mut e = Event::new(EventType::ToolCall, SystemTime::UNIX_EPOCH);
        e.event_id = Some(id.into());
        e
    }

    fn answer(t: EventType, call: &str) -> Event {
        let mut e = Event::new(t, SystemTime::UNIX_EPOCH);
        e.call_event_id = Some(call.into());
        e
    }

    #[test]
    fn a_final_answer_takes_its_calls_annotation_once() {
        let mut c = CarriedAnnotations::default();
        c.keep(&call("a"), carried("r"));
        let input = answer(EventType::InputRequired, "a");
        assert_eq!(c.take_for(&input), Some(carried("r")));
        let result = answer(EventType::ToolResult, "a");
        assert_eq!(c.take_for(&result), Some(carried("r")));
        assert_eq!(c.take_for(&result), None);
        assert_eq!(c.take_for(&answer(EventType::ToolResult, "b")), None);
    }

    #[test]
    fn the_oldest_goes_first_and_memory_stays_bounded() {
        let mut c = CarriedAnnotations::with_limit(2);
        for n in 0..1000 {
            c.keep(&call(&n.to_string()), carried(&n.to_string()));
            if n % 2 == 0 {
                c.take_for(&answer(EventType::ToolError, &n.to_string()));
            }
        }
        assert!(c.by_call.len() <= 2 && c.order.len() <= 4);
        assert_eq!(
            c.take_for(&answer(EventType::ToolResult, "999")),
            Some(carried("999"))
        );
        assert_eq!(c.take_for(&answer(EventType::ToolResult, "1")), None);
    }
}
