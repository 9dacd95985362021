//! `diff`: two sessions compared as a person would compare them: the
//! sequence of tool calls (names and arguments), their outcomes and result
//! contents (`session`), or with `tools` their tool definitions (a drift
//! baseline). Ids, timestamps, `_meta` and the order of concurrent calls do
//! not count; `ignore` removes more, by JSON pointer into a call record
//! (`/arguments/…`, `/result/…`, `/outcome`) or, with `tools`, into a tool
//! definition (`/description`).

mod session;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::replay::leaves;
pub use session::{Call, Session};

/// What to compare.
#[derive(Debug, Default, Clone)]
pub struct DiffOptions {
    pub ignore: Vec<String>,
    pub tools: bool,
}

/// The differences between `a` and `b`, one readable line each; empty when
/// they are the same.
pub fn diff(a: &Session, b: &Session, options: &DiffOptions) -> Vec<String> {
    if options.tools {
        return diff_tools(a, b, &options.ignore);
    }
    let mut out = Vec::new();
    let n = a.calls.len().max(b.calls.len());
    for i in 0..n {
        let (ca, cb) = (a.calls.get(i), b.calls.get(i));
        let label = |c: &Value| format!("call {} ({})", i + 1, c["tool"].as_str().unwrap_or("?"));
        match (ca, cb) {
            (Some(x), Some(y)) => {
                let (x, y) = (
                    pruned(&x.record, &options.ignore),
                    pruned(&y.record, &options.ignore),
                );
                if x["tool"] != y["tool"] {
                    out.push(format!(
                        "call {}: tool {} -> {}",
                        i + 1,
                        x["tool"],
                        y["tool"]
                    ));
                    continue;
                }
                for line in leaf_changes(&x, &y) {
                    out.push(format!("{}: {line}", label(&x)));
                }
            }
            (Some(x), None) => out.push(format!(
                "{}: only in A, arguments {}",
                label(&x.record),
                x.record["arguments"]
            )),
            (None, Some(y)) => out.push(format!(
                "{}: only in B, arguments {}",
                label(&y.record),
                y.record["arguments"]
            )),
            (None, None) => {}
        }
    }
    out
}

fn diff_tools(a: &Session, b: &Session, ignore: &[String]) -> Vec<String> {
    let names: BTreeSet<&String> = a.tools.keys().chain(b.tools.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        match (a.tools.get(name), b.tools.get(name)) {
            (Some(_), None) => out.push(format!("tool {name}: removed")),
            (None, Some(_)) => out.push(format!("tool {name}: added")),
            (Some(x), Some(y)) => {
                for line in leaf_changes(&pruned(x, ignore), &pruned(y, ignore)) {
                    out.push(format!("tool {name}: {line}"));
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// `pointer: a -> b` for every scalar that differs (a missing one is `(none)`).
fn leaf_changes(a: &Value, b: &Value) -> Vec<String> {
    let (la, lb) = (leaves(a), leaves(b));
    let keys: BTreeSet<&String> = la.keys().chain(lb.keys()).collect();
    let show = |v: Option<&Value>| v.map_or("(none)".to_string(), Value::to_string);
    keys.into_iter()
        .filter(|k| la.get(*k) != lb.get(*k))
        .map(|k| format!("{k}: {} -> {}", show(la.get(k)), show(lb.get(k))))
        .collect()
}

/// `v` without what the pointers in `ignore` point at.
fn pruned(v: &Value, ignore: &[String]) -> Value {
    let mut v = v.clone();
    for pointer in ignore {
        let Some((parent, last)) = pointer.rsplit_once('/') else {
            continue;
        };
        let last = last.replace("~1", "/").replace("~0", "~");
        match v.pointer_mut(parent) {
            Some(Value::Object(m)) => {
                m.remove(&last);
            }
            Some(Value::Array(a)) => {
                if let Ok(i) = last.parse::<usize>() {
                    if i < a.len() {
                        a[i] = Value::Null;
                    }
                }
            }
            _ => {}
        }
    }
    v
}

#[cfg(test)]
mod tests;
