//! Payloads onto events within the memory bound ([`super::budget`]): parsed
//! within the frame's budget, or recorded by size and SHA-256.

use serde_json::value::RawValue;
use serde_json::Value;

use super::budget::{Kept, Parsed};
use super::{Classifier, Pending};
use crate::event::Event;
use crate::stamp::sha256_hex;

/// The `details` keys of a payload left out: `(…_omitted, …_sha256)`.
pub(super) type OmittedKeys = (&'static str, &'static str);
/// Keys for request params or tool arguments.
pub(super) const ARGUMENTS: OmittedKeys = ("arguments_omitted", "arguments_sha256");
/// Keys for a result.
pub(super) const RESULT: OmittedKeys = ("result_omitted", "result_sha256");
/// Why a payload was left out: it did not fit the frame's parse budget.
const OVER_PARSE_BUDGET: &str = "over_parse_budget";
/// Why kept params were left out: the table of requests in flight was full
/// of kept params.
const OVER_PENDING_BUDGET: &str = "over_pending_budget";

impl Classifier {
    /// `raw`, a payload of the frame being classified, parsed within the
    /// frame's budget; over it, `e` records it by SHA-256 under `keys`.
    pub(super) fn payload(
        &mut self,
        keys: OmittedKeys,
        raw: &RawValue,
        e: &mut Event,
    ) -> Option<Value> {
        match self.budget.parse_raw(raw) {
            Parsed::Value(v) => Some(v),
            Parsed::Invalid => None,
            Parsed::OverBudget => {
                self.omitted(keys, raw, e);
                None
            }
        }
    }

    /// Records on `e` that `raw` is left out, with its SHA-256 (computed by
    /// the auditor, in pieces).
    pub(super) fn omitted(&self, keys: OmittedKeys, raw: &RawValue, e: &mut Event) {
        e.details.insert(keys.0.into(), OVER_PARSE_BUDGET.into());
        e.pending_digest = Some(self.digest_later(keys.1, raw.get().as_bytes()));
    }

    /// The params `p` kept, onto its event `e` as `arguments`.
    pub(super) fn kept_arguments(&mut self, p: &Pending, e: &mut Event) {
        let (reason, digest) = match &p.arguments {
            None => return,
            Some(Kept::Text(text)) => match self.budget.parse(text) {
                Parsed::Value(v) => {
                    e.arguments = Some(v);
                    return;
                }
                Parsed::Invalid => return,
                Parsed::OverBudget => (OVER_PARSE_BUDGET, sha256_hex(text.as_bytes())),
            },
            Some(Kept::Digest(d)) => (OVER_PENDING_BUDGET, d.clone()),
        };
        e.details.insert(ARGUMENTS.0.into(), reason.into());
        e.details.insert(ARGUMENTS.1.into(), digest.into());
    }
}
