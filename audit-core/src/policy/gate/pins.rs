//! The gate's view of enforced pins: definitions learnt from `tools/list`
//! answers, and the refusal of a call whose tool is not pinned as listed.

use std::sync::atomic::Ordering;

use serde_json::Value;

use super::reply::Refusal;
use super::{Gate, UNREADABLE_LIST_RULE};
use crate::pin::{definition_hash, PinStatus};

impl Gate {
    pub(super) fn pin_refusal(&self, tool: &str) -> Option<Refusal> {
        self.policy.pins()?;
        let (rule, message) = if self.lock().unreadable_list {
            (UNREADABLE_LIST_RULE.to_owned(), "the last tools/list answer could not be read strictly, so no tool counts as pinned; list the tools again".to_owned())
        } else {
            match self.pin_status(tool)? {
                PinStatus::Matches => return None,
                PinStatus::New => (format!("pins:{}", PinStatus::New.as_str()), format!("tool {tool:?} is not pinned for server {:?}; review it and run `mcp-blackbox pin --update`", self.server)),
                status => (format!("pins:{}", status.as_str()), format!("tool {tool:?} changed since it was pinned; review it and run `mcp-blackbox pin --update`")),
            }
        };
        Some(Refusal {
            rule,
            tool: tool.to_owned(),
            message,
        })
    }

    pub(super) fn pin_status(&self, tool: &str) -> Option<PinStatus> {
        self.policy.pins()?;
        let seen_changed = self.lock().changed.contains(tool);
        self.policy.pin_status(tool, seen_changed)
    }

    pub(super) fn learn_pins(&self, tools: &[Value]) {
        let Some(pins) = self.policy.pins() else {
            return;
        };
        let mut state = self.lock();
        state.unreadable_list = false;
        for def in tools {
            let Some(name) = def.get("name").and_then(Value::as_str) else {
                continue;
            };
            match pins.status(name, &definition_hash(def)) {
                PinStatus::Changed => {
                    state.changed.insert(name.to_owned());
                }
                PinStatus::Matches => {
                    state.changed.remove(name);
                }
                PinStatus::New => {} // refused at call time: not in the pins
            }
        }
    }

    /// An awaited `tools/list` answer may not have been read: under enforced
    /// pins, no tool counts as pinned until a listing is read.
    pub(super) fn unreadable_answer(&self) {
        if self.policy.pins().is_none() {
            return;
        }
        self.stats.lists_unreadable.fetch_add(1, Ordering::Relaxed);
        self.lock().unreadable_list = true;
        tracing::warn!("a tools/list answer could not be read strictly; calls are refused until the tools are listed again");
    }
}
