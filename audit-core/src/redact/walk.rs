//! Walking a JSON value: what is secret because of *where* it is.
//!
//! - Under a secret key (`{"password": …}`), every string and number leaf is
//!   replaced by `<redacted:key:NAME>`, however deep: containers keep their
//!   shape (so a reader still sees that `credentials` had a `user` and a
//!   `password`) but none of their leaf values. Booleans and `null` stay: they
//!   carry no secret and say whether one was set.
//! - In an array, the string after a flag with a secret name
//!   (`["--token", "abc"]`) is secret.
//! - In an object that names its value (`{"name": "Authorization", "value":
//!   …}`, also `key`/`header`), the value is secret if the name is.
//! - Everything else: strings are scanned by value ([`super::patterns`]),
//!   integers that look like card numbers are replaced, and object keys that
//!   themselves hold a secret are renamed to their redacted form.
//!
//! Strings are cut to `max_field_chars` after redaction, so a secret is never
//! half-kept by a cut.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::luhn::is_card_number;
use super::marker;
use super::{Redactions, Redactor};

/// Keys that name the value beside them in a name/value pair object.
const PAIR_NAME_KEYS: &[&str] = &["name", "key", "header"];

/// Redacts `v` in place, adding what was removed to `found`.
pub fn redact(r: &Redactor, v: &mut Value, found: &mut Redactions) {
    match v {
        Value::String(s) => redact_string(r, s, found),
        Value::Number(_) => redact_number(r, v, found),
        Value::Array(items) => redact_array(r, items, found),
        Value::Object(map) => redact_object(r, map, found),
        Value::Bool(_) | Value::Null => {}
    }
}

fn redact_string(r: &Redactor, s: &mut String, found: &mut Redactions) {
    if let Some(new) = r.redact_text(s, found) {
        *s = new;
    }
    if let Some(cut) = r.truncate(s) {
        // A cut can leave a new match at its edge; scan the kept part again.
        *s = r.redact_text(&cut, found).unwrap_or(cut);
    }
}

fn redact_number(r: &Redactor, v: &mut Value, found: &mut Redactions) {
    let Some(n) = v.as_u64() else { return };
    if r.enabled && n >= 1_000_000_000_000 && is_card_number(&n.to_string()) {
        *v = Value::String(r.marker("credit_card", &n.to_string()));
        found.add(&Arc::from("credit_card"));
    }
}

fn redact_array(r: &Redactor, items: &mut [Value], found: &mut Redactions) {
    let mut after_secret_flag: Option<Arc<str>> = None;
    for item in items.iter_mut() {
        if let Some(kind) = after_secret_flag.take() {
            if item.is_string() {
                redact_all(r, item, &kind, found);
                continue;
            }
        }
        if r.enabled {
            after_secret_flag = item
                .as_str()
                .filter(|s| s.starts_with('-') && !s.contains('=') && s.len() <= 64)
                .and_then(|s| name_kind(r, s))
                .cloned();
        }
        redact(r, item, found);
    }
}

fn redact_object(r: &Redactor, map: &mut Map<String, Value>, found: &mut Redactions) {
    let pair_kind = if r.enabled && map.contains_key("value") {
        PAIR_NAME_KEYS
            .iter()
            .filter_map(|k| map.get(*k).and_then(Value::as_str))
            .find_map(|name| name_kind(r, name))
            .cloned()
    } else {
        None
    };
    for (key, value) in map.iter_mut() {
        let kind = if !r.enabled {
            None
        } else if key == "value" && pair_kind.is_some() {
            pair_kind.clone()
        } else {
            name_kind(r, key).cloned()
        };
        match kind {
            Some(kind) => redact_all(r, value, &kind, found),
            None => redact(r, value, found),
        }
    }
    rename_secret_keys(r, map, found);
}

/// The kind of a secret name. A name that holds a marker is the redacted form
/// of a secret, not a name: matching it (`token:<redacted:…>` ends in `token`)
/// would make a second pass redact more than the first.
fn name_kind<'r>(r: &'r Redactor, name: &str) -> Option<&'r Arc<str>> {
    if name.contains(marker::REDACTED_OPEN) {
        return None;
    }
    r.keys.kind(name)
}

/// Replaces every string and number leaf of `v` by the marker of `kind`.
fn redact_all(r: &Redactor, v: &mut Value, kind: &Arc<str>, found: &mut Redactions) {
    match v {
        Value::String(s) if marker::is_redacted(s) => {}
        Value::String(s) => {
            *s = r.marker(kind, s);
            found.add(kind);
        }
        Value::Number(n) => {
            *v = Value::String(r.marker(kind, &n.to_string()));
            found.add(kind);
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact_all(r, i, kind, found)),
        Value::Object(map) => {
            map.values_mut().for_each(|i| redact_all(r, i, kind, found));
            rename_secret_keys(r, map, found);
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// Renames keys that themselves contain a secret (`{"ghp_…": 1}`). A clash
/// with an existing key is resolved by appending `#`.
fn rename_secret_keys(r: &Redactor, map: &mut Map<String, Value>, found: &mut Redactions) {
    if !r.enabled {
        return;
    }
    let renames: Vec<(String, String)> = map
        .keys()
        .filter_map(|k| r.redact_text(k, found).map(|new| (k.clone(), new)))
        .collect();
    for (old, mut new) in renames {
        if let Some(v) = map.remove(&old) {
            while map.contains_key(&new) {
                new.push('#');
            }
            map.insert(new, v);
        }
    }
}
