//! `--where`: a jq filter, in jq's own language, run by the embedded jaq
//! interpreter on each event. An event is kept when the filter yields a
//! true value (anything but `false` and `null`), as jq's `select(FILTER)`
//! keeps it; an error on an event (`.a.b` of a string, say) drops it.
//!
//! The filter is compiled once; each line is parsed by jaq's own JSON
//! reader (its values are what the filter runs on).

use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Native, ValT, Vars};
use jaq_json::Val;

use super::TrailError;

type Compiled = jaq_core::compile::Filter<Native<JustLut<Val>>>;

/// A compiled `--where` filter.
pub struct JqFilter {
    filter: Compiled,
}

impl std::fmt::Debug for JqFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JqFilter")
    }
}

impl JqFilter {
    /// Parses and compiles `code` with jq's standard library.
    pub fn compile(code: &str) -> Result<JqFilter, TrailError> {
        let bad = |why: String| TrailError::BadFlag {
            flag: "--where",
            value: code.to_owned(),
            why,
        };
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let program = File { code, path: () };
        let modules = loader.load(&arena, program).map_err(|errs| {
            bad(format!(
                "not a jq filter ({} error(s) parsing it)",
                errs.len()
            ))
        })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let names: Vec<String> = errs
                    .iter()
                    .flat_map(|(_, es)| es.iter().map(|(name, _)| name.to_string()))
                    .collect();
                bad(format!("undefined: {}", names.join(", ")))
            })?;
        Ok(JqFilter { filter })
    }

    /// Whether the event on `line` is kept; `Err` if the line is not JSON.
    pub fn keeps(&self, line: &[u8]) -> Result<bool, String> {
        let input = jaq_json::read::parse_single(line).map_err(|e| format!("not JSON: {e}"))?;
        let ctx = Ctx::<JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        for out in self.filter.id.run((ctx, input)) {
            if let Ok(v) = jaq_core::unwrap_valr(out) {
                if v.as_bool() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_jq_select_keeps() {
        let line = br#"{"type":"tool_call","tool":"read","duration_ms":12.5,"arguments":{"path":"/etc"},"tags":["a","b"]}"#;
        let keeps = |f: &str| JqFilter::compile(f).unwrap().keeps(line).unwrap();
        assert!(keeps(r#".type == "tool_call""#));
        assert!(keeps(".duration_ms > 10 and .arguments.path != null"));
        assert!(keeps(r#".arguments.path | startswith("/e")"#));
        assert!(keeps(r#".tags | index("b") != null"#));
        assert!(keeps(r#"any(.tags[]; . == "a")"#));
        assert!(!keeps(".missing"));
        assert!(!keeps(".type.x"), "an error drops the event");
        assert!(!keeps("empty"));
    }

    #[test]
    fn a_bad_filter_names_the_flag() {
        for f in [".a ==", "nosuchfunction(1)"] {
            let e = JqFilter::compile(f).unwrap_err().to_string();
            assert!(e.contains("--where"), "{e}");
        }
    }
}
