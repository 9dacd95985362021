//! Reading a settings file: the TOML walk that applies `[audit]`, `[proxy]`,
//! `[policy]`, `[[rules]]` and the one matching `[servers.NAME]` section,
//! locating every error at its line.
//!
//! Every section is validated, including `[servers.*]` sections that do not
//! apply to this session, so a start fails on a typo anywhere in a file
//! shared by a whole client config (with the first problem, in file order),
//! and `config check` lists every problem ([`problems`]).

use globset::Glob;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::{ConfigError, Located};
use super::rules::RuleSpec;
use super::schema::{fields_of, Sections, SetError};
use super::value::{type_name, Input};

/// Keys allowed at the top of a settings file.
const TOP_KEYS: &[&str] = &["audit", "proxy", "policy", "rules", "servers", "forward"];
/// Keys allowed in a `[servers.NAME]` section.
const SERVER_KEYS: &[&str] = &["command", "audit", "proxy", "policy", "rules", "forward"];

/// Which `[servers.NAME]` section applies: by name, else by command glob.
#[derive(Debug, Clone, Copy)]
pub struct Selector<'a> {
    pub server_name: Option<&'a str>,
    /// The server command line, arguments joined by single spaces.
    pub command_line: &'a str,
}

/// What a file contributed besides key values.
#[derive(Debug, Default)]
pub struct FileLayer {
    /// The matching server section's rules, then the top-level rules.
    pub rules: Vec<RuleSpec>,
    /// The name of the `[servers.NAME]` section that applied.
    pub server_section: Option<String>,
}

/// Applies the settings file `at` to `sections`; the first problem in file
/// order fails it.
pub fn apply(
    at: &Located<'_>,
    sections: &mut Sections,
    select: Selector<'_>,
) -> Result<FileLayer, ConfigError> {
    let mut errors = Vec::new();
    let layer = walk(at, sections, select, &mut errors);
    match in_file_order(errors).into_iter().next() {
        Some(first) => Err(first),
        None => Ok(layer),
    }
}

/// Every problem of the settings file `at`, in file order (none: valid).
pub fn problems(at: &Located<'_>, select: Selector<'_>) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    walk(at, &mut Sections::default(), select, &mut errors);
    in_file_order(errors)
}

fn in_file_order(mut errors: Vec<ConfigError>) -> Vec<ConfigError> {
    errors.sort_by_key(|e| e.line().unwrap_or(0)); // stable: same line, found order
    errors
}

/// The TOML walk: applies what is valid, collects every problem.
fn walk(
    at: &Located<'_>,
    sections: &mut Sections,
    select: Selector<'_>,
    errors: &mut Vec<ConfigError>,
) -> FileLayer {
    let mut layer = FileLayer::default();
    let doc = match DeTable::parse(at.text) {
        Ok(doc) => doc,
        Err(e) => {
            errors.push(at.syntax(&e));
            return layer;
        }
    };
    let mut global_rules = Vec::new();
    let mut servers = None;
    for (key, value) in doc.get_ref() {
        match key.get_ref().as_ref() {
            name @ ("audit" | "proxy" | "policy" | "forward") => {
                apply_section(sections, name, "", value, at, errors);
            }
            "rules" => global_rules = rules(value, "rules", at, errors),
            "servers" => servers = Some(value),
            other => errors.push(unknown(at, key, other, "top level", TOP_KEYS)),
        }
    }
    if let Some(servers) = servers {
        if let Some((name, table)) = select_server(servers, select, at, errors) {
            let prefix = format!("servers.{name}");
            // Validated already: its problems are collected once.
            layer.rules = server_section(table, &prefix, sections, at, &mut Vec::new());
            layer.server_section = Some(name);
        }
    }
    layer.rules.extend(global_rules);
    layer
}

/// Validates every `[servers.*]` section and returns the one that applies.
fn select_server<'t, 'i>(
    servers: &'t Spanned<DeValue<'i>>,
    select: Selector<'_>,
    at: &Located<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<(String, &'t Spanned<DeValue<'i>>)> {
    let table = as_table(servers, "servers", at)
        .map_err(|e| errors.push(e))
        .ok()?;
    let mut by_name = None;
    let mut by_command: Vec<(String, &Spanned<DeValue<'i>>)> = Vec::new();
    for (name, section) in table {
        let name = name.get_ref().to_string();
        let prefix = format!("servers.{name}");
        // Validate into a scratch copy; only the selected section is applied.
        server_section(section, &prefix, &mut Sections::default(), at, errors);
        if select.server_name == Some(name.as_str()) {
            by_name = Some((name, section));
        } else if command_matches(section, select.command_line, &prefix, at).unwrap_or(false) {
            by_command.push((name, section));
        }
    }
    if by_name.is_some() {
        return by_name;
    }
    if by_command.len() > 1 {
        let (first, second) = (&by_command[0], &by_command[1]);
        errors.push(at.invalid(
            second.1.span(),
            &format!("servers.{}.command", second.0),
            format!(
                "servers.{} and servers.{} both match the command {:?}; pass --server-name to choose",
                first.0, second.0, select.command_line
            ),
        ));
        return None;
    }
    by_command.pop()
}

fn command_matches(
    section: &Spanned<DeValue<'_>>,
    command_line: &str,
    prefix: &str,
    at: &Located<'_>,
) -> Result<bool, ConfigError> {
    let table = as_table(section, prefix, at)?;
    let Some((_, pattern)) = table.iter().find(|(k, _)| k.get_ref() == "command") else {
        return Ok(false);
    };
    let key = format!("{prefix}.command");
    let DeValue::String(p) = pattern.get_ref() else {
        return Err(at.invalid(
            pattern.span(),
            &key,
            format!(
                "expected a glob string, found {}",
                type_name(pattern.get_ref())
            ),
        ));
    };
    let glob =
        Glob::new(p).map_err(|e| at.invalid(pattern.span(), &key, format!("invalid glob: {e}")))?;
    Ok(glob.compile_matcher().is_match(command_line))
}

/// Applies one `[servers.NAME]` section; returns its rules.
fn server_section(
    section: &Spanned<DeValue<'_>>,
    prefix: &str,
    sections: &mut Sections,
    at: &Located<'_>,
    errors: &mut Vec<ConfigError>,
) -> Vec<RuleSpec> {
    let mut out = Vec::new();
    let table = match as_table(section, prefix, at) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            return out;
        }
    };
    for (key, value) in table {
        match key.get_ref().as_ref() {
            "command" => {
                if let Err(e) = command_matches(section, "", prefix, at) {
                    errors.push(e);
                }
            }
            name @ ("audit" | "proxy" | "policy" | "forward") => {
                apply_section(sections, name, prefix, value, at, errors);
            }
            "rules" => out = rules(value, &format!("{prefix}.rules"), at, errors),
            other => errors.push(unknown(at, key, other, prefix, SERVER_KEYS)),
        }
    }
    out
}

/// Applies `[audit]`, `[proxy]` or `[policy]` (under `prefix`, if any).
fn apply_section(
    sections: &mut Sections,
    section: &str,
    prefix: &str,
    value: &Spanned<DeValue<'_>>,
    at: &Located<'_>,
    errors: &mut Vec<ConfigError>,
) {
    let path = join(prefix, section);
    let table = match as_table(value, &path, at) {
        Ok(t) => t,
        Err(e) => return errors.push(e),
    };
    for (key, v) in table {
        let field = key.get_ref().as_ref();
        let source = at.source(v.span());
        match sections.set(section, field, Input::Toml(v.get_ref()), source) {
            Ok(()) => {}
            Err(SetError::Bad(e)) => {
                let span = e.span.unwrap_or_else(|| v.span());
                errors.push(at.invalid(span, &join(&path, field), e.message));
            }
            Err(SetError::UnknownField | SetError::UnknownSection) => {
                errors.push(unknown(at, key, field, &path, &fields_of(section)));
            }
        }
    }
}

/// Reads an array of rule tables named `key` (`rules`, `servers.x.rules`).
fn rules(
    value: &Spanned<DeValue<'_>>,
    key: &str,
    at: &Located<'_>,
    errors: &mut Vec<ConfigError>,
) -> Vec<RuleSpec> {
    let DeValue::Array(items) = value.get_ref() else {
        errors.push(at.invalid(
            value.span(),
            key,
            format!(
                "expected an array of tables ([[{key}]]), found {}",
                type_name(value.get_ref())
            ),
        ));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = format!("{key}[{}]", i + 1);
        let DeValue::Table(t) = item.get_ref() else {
            errors.push(at.invalid(item.span(), &name, "expected a table"));
            continue;
        };
        match RuleSpec::from_toml(t, name, item.span(), at) {
            Ok(rule) => out.push(rule),
            Err(e) => errors.push(e),
        }
    }
    out
}

fn as_table<'t, 'i>(
    value: &'t Spanned<DeValue<'i>>,
    key: &str,
    at: &Located<'_>,
) -> Result<&'t DeTable<'i>, ConfigError> {
    match value.get_ref() {
        DeValue::Table(t) => Ok(t),
        other => Err(at.invalid(
            value.span(),
            key,
            format!("expected a table, found {}", type_name(other)),
        )),
    }
}

fn unknown(
    at: &Located<'_>,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    name: &str,
    place: &str,
    valid: &[&str],
) -> ConfigError {
    at.invalid(
        key.span(),
        &join(place, name),
        format!(
            "unknown key in {place}; valid keys are {}",
            valid.join(", ")
        ),
    )
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() || prefix == "top level" {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const BAD: &str = r#"
[servers.b]
audit = { max_files = "x" }

[proxy]
colour = true

[audit]
max_files = -1
bogus = 1

[[rules]]
name = "r"
risk_level = "extreme"
"#;

    #[test]
    fn a_check_lists_every_problem_in_file_order_and_a_start_the_first() {
        let at = Located {
            path: Path::new("c.toml"),
            text: BAD,
        };
        let select = Selector {
            server_name: None,
            command_line: "",
        };
        let all = problems(&at, select);
        let lines: Vec<_> = all.iter().map(|e| e.line().unwrap()).collect();
        assert_eq!(lines, [3, 6, 9, 10, 14], "{all:#?}");
        assert!(all[1].to_string().contains("proxy.colour"), "{}", all[1]);
        let first = apply(&at, &mut Sections::default(), select).unwrap_err();
        assert_eq!(first.to_string(), all[0].to_string());
        let good = Located {
            path: Path::new("c.toml"),
            text: "[audit]\nmax_files = 3\n",
        };
        assert!(problems(&good, select).is_empty());
    }
}
