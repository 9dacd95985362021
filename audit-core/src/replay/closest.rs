//! The recorded request nearest to one that matched none, for the error
//! that names it: same method first, then the most equal leaves of params.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Exchange;

/// Index of the exchange nearest to `method` with `params`.
pub fn closest(exchanges: &[Exchange], method: &str, params: &Value) -> Option<usize> {
    let want = leaves(params);
    exchanges
        .iter()
        .enumerate()
        .max_by_key(|(i, e)| {
            let have = leaves(&e.params);
            let equal = want.iter().filter(|(k, v)| have.get(*k) == Some(v)).count() as i64;
            let differ = (want.len() + have.len()) as i64 - 2 * equal;
            let method_score = if e.method == method { 1_000_000 } else { 0 };
            // Ties go to the earliest recording.
            (method_score + equal * 1000 - differ, -(*i as i64))
        })
        .map(|(i, _)| i)
}

/// Every scalar of `v` by its JSON pointer.
pub fn leaves(v: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    walk(v, String::new(), &mut out);
    out
}

fn walk(v: &Value, at: String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = k.replace('~', "~0").replace('/', "~1");
                walk(v, format!("{at}/{key}"), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                walk(v, format!("{at}/{i}"), out);
            }
        }
        scalar => {
            out.insert(at, scalar.clone());
        }
    }
}
