//! What the classifier may hold of a peer's payload: the memory bound.
//!
//! A parsed `serde_json::Value` costs far more than its text (an element of
//! `[0,0,…]` is 2 bytes of text and a 32-byte `Value`, with up to as much
//! again of vector slack). So before a payload is parsed, its parsed size is
//! *estimated* from its text ([`parsed_estimate`], an upper bound), and each
//! frame may parse at most [`FRAME_PARSE_BUDGET`] of estimated bytes. A
//! payload over what is left is not parsed: its event records its size and
//! SHA-256 (`…_omitted: "over_parse_budget"`, `…_sha256`).
//!
//! A request awaiting its answer keeps a bounded summary ([`Kept`]): names
//! cut to [`MAX_NAME_BYTES`], the id's key (at most
//! [`crate::event::MAX_ID_BYTES`]), and its params as *text* while the
//! table's total stays within [`PENDING_KEPT_BYTES`], else their SHA-256.
//! They are parsed (within the budget of the answer's frame) only when the
//! event that records them is written.

use serde_json::value::RawValue;
use serde_json::Value;

mod scanned;

/// Most estimated bytes of parsed payload one frame may cost.
pub const FRAME_PARSE_BUDGET: usize = 8 * 1024 * 1024;
/// Most bytes of params text kept by one direction's table of requests in
/// flight, all requests together.
pub const PENDING_KEPT_BYTES: usize = 4 * 1024 * 1024;
/// Longest method, tool name or subject a request in flight keeps.
pub const MAX_NAME_BYTES: usize = 1024;
/// Most estimated bytes of one value kept across frames (client and server
/// info, capabilities, a `_meta`, a tool definition).
pub const KEPT_VALUE_BUDGET: usize = 1024 * 1024;
/// Estimated cost of one JSON value or member beyond its text: a 32-byte
/// `Value`, as much again of container slack, or a map entry.
const VALUE_COST: usize = 64;

/// An upper bound of the bytes `text` costs parsed into a `Value`.
pub fn parsed_estimate(text: &str) -> usize {
    text.len() + (value_tokens(text.as_bytes()) + 1) * VALUE_COST
}

/// The bytes of `text` that can start a value or member (`,` `:` `[` `{`).
///
/// Counted in vectorised blocks: every payload the classifier parses pays
/// for this count.
fn value_tokens(text: &[u8]) -> usize {
    crate::bytescan::count_where(text, |b| b == b',' || b == b':' || b == b'[' || b == b'{')
}

/// `text` parsed, if its estimate is within [`KEPT_VALUE_BUDGET`].
pub fn parse_kept(text: &str) -> Option<Value> {
    if parsed_estimate(text) > KEPT_VALUE_BUDGET {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// A payload read within the budget, or why not.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Value(Value),
    /// Not JSON.
    Invalid,
    /// Its estimated parsed size is over what the frame has left.
    OverBudget,
}

impl Parsed {
    /// The value, if it was parsed.
    pub fn value(self) -> Option<Value> {
        match self {
            Parsed::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// What is left of one frame's parse budget.
#[derive(Debug)]
pub struct ParseBudget {
    left: usize,
}

impl Default for ParseBudget {
    fn default() -> Self {
        ParseBudget {
            left: FRAME_PARSE_BUDGET,
        }
    }
}

impl ParseBudget {
    /// Starts a new frame's budget.
    pub fn reset(&mut self) {
        self.left = FRAME_PARSE_BUDGET;
    }

    /// Parses `text` if its estimate fits what is left, and charges it.
    pub fn parse(&mut self, text: &str) -> Parsed {
        self.parse_with(text, |_| None)
    }

    /// [`ParseBudget::parse`] of a payload already validated: built in one
    /// pass that copies long strings whole (see `scanned`).
    pub fn parse_raw(&mut self, raw: &RawValue) -> Parsed {
        self.parse_with(raw.get(), scanned::value)
    }

    fn parse_with(&mut self, text: &str, fast: impl FnOnce(&str) -> Option<Value>) -> Parsed {
        let cost = parsed_estimate(text);
        if cost > self.left {
            return Parsed::OverBudget;
        }
        self.left -= cost;
        if let Some(v) = fast(text) {
            return Parsed::Value(v);
        }
        match serde_json::from_str(text) {
            Ok(v) => Parsed::Value(v),
            Err(_) => Parsed::Invalid,
        }
    }
}

/// Params a request in flight keeps for the event written when it ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Kept {
    /// The params' JSON text.
    Text(Box<str>),
    /// Over the table's budget: the SHA-256 (hex) of their text.
    Digest(String),
}

/// `s` cut to at most [`MAX_NAME_BYTES`], at a character boundary.
pub fn bounded_name(s: &str) -> String {
    let mut end = s.len().min(MAX_NAME_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The heap a parsed value holds, roughly as the allocator sees it.
    fn heap(v: &Value) -> usize {
        match v {
            Value::String(s) => s.capacity(),
            Value::Array(a) => a.capacity() * 32 + a.iter().map(heap).sum::<usize>(),
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| k.capacity() + 24 + 32 + 40 + heap(v))
                .sum(),
            _ => 0,
        }
    }

    #[test]
    fn value_tokens_counts_every_token_byte_at_any_length() {
        for len in [0, 1, 63, 64, 65, 200, 4096 + 7] {
            let text: Vec<u8> = (0..len).map(|i| b",:[{a\"}]"[i % 8]).collect();
            let slow = text
                .iter()
                .filter(|b| matches!(b, b',' | b':' | b'[' | b'{'))
                .count();
            assert_eq!(value_tokens(&text), slow, "length {len}");
        }
        assert_eq!(
            value_tokens(&[b','; 64]),
            64,
            "a whole block of tokens fits the u8"
        );
    }

    #[test]
    fn the_estimate_bounds_the_parsed_size() {
        let zeros = format!("[{}0]", "0,".repeat(100_000));
        let keys = format!(
            "{{{}\"z\":0}}",
            (0..20_000)
                .map(|i| format!("\"{i}\":0,"))
                .collect::<String>()
        );
        let nested = format!("[{}[]]", "[],".repeat(50_000));
        let text = format!("\"{}\"", "x".repeat(100_000));
        for t in [zeros, keys, nested, text] {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert!(
                heap(&v) + 32 <= parsed_estimate(&t),
                "{} > {}",
                heap(&v),
                parsed_estimate(&t)
            );
        }
    }

    #[test]
    fn a_frame_parses_within_its_budget_only() {
        let mut b = ParseBudget::default();
        let big = format!("[{}0]", "0,".repeat(FRAME_PARSE_BUDGET / VALUE_COST));
        assert_eq!(b.parse(&big), Parsed::OverBudget);
        let half = format!(
            "[{}0]",
            "0,".repeat(FRAME_PARSE_BUDGET / VALUE_COST / 2 - 8)
        );
        assert!(matches!(b.parse(&half), Parsed::Value(_)));
        assert_eq!(b.parse(&half), Parsed::OverBudget);
        assert_eq!(b.parse("nope"), Parsed::Invalid);
        b.reset();
        assert!(matches!(b.parse(&half), Parsed::Value(_)));
    }

    #[test]
    fn names_are_cut_at_a_character_boundary() {
        let s = "é".repeat(MAX_NAME_BYTES);
        let cut = bounded_name(&s);
        assert!(cut.len() <= MAX_NAME_BYTES && s.starts_with(&cut));
        assert_eq!(bounded_name("tools/call"), "tools/call");
    }
}
