//! The types a setting can hold, and how each is read from a TOML value or
//! from text (an environment variable or a flag), and written back as TOML.
//!
//! Every parse error is a short phrase saying what would be valid; the caller
//! adds the file, line, variable or flag.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU64;
use std::ops::Range;
use std::path::PathBuf;

use toml::de::DeValue;

/// A value as it arrives: from a TOML file, or as text (env var, flag).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a, 'i> {
    Toml(&'a DeValue<'i>),
    Text(&'a str),
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// A settings file, at this 1-based line.
    File { path: PathBuf, line: usize },
    /// An environment variable.
    Env(String),
    /// A command-line flag (`--max-size-mb`).
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "file:{}:{line}", path.display()),
            Source::Env(name) => write!(f, "env:{name}"),
            Source::Flag(name) => write!(f, "flag:{name}"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    /// A built-in default.
    pub fn default_value(value: T) -> Sourced<T> {
        Sourced {
            value,
            source: Source::Default,
        }
    }
}

/// A value that cannot be used: what would be valid, and, for a value
/// nested in a TOML table, the span of the part at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl From<String> for ValueError {
    fn from(message: String) -> Self {
        ValueError {
            message,
            span: None,
        }
    }
}

/// A type a setting can have.
pub trait SettingValue: Sized {
    /// What a valid value looks like, for error messages.
    fn expected() -> String;
    /// Parses text (an environment variable or a flag's value).
    fn from_text(text: &str) -> Result<Self, String>;
    /// Reads a TOML value. By default: a TOML string, parsed as text.
    fn from_toml(value: &DeValue<'_>) -> Result<Self, ValueError> {
        match value {
            DeValue::String(s) => Ok(Self::from_text(s)?),
            other => {
                Err(format!("expected {}, found {}", Self::expected(), type_name(other)).into())
            }
        }
    }
    /// The value as a TOML literal; `None` if it has no TOML form (unset).
    fn to_toml(&self) -> Option<String>;

    /// Reads either kind of input.
    fn from_input(input: Input<'_, '_>) -> Result<Self, ValueError> {
        match input {
            Input::Toml(v) => Self::from_toml(v),
            Input::Text(t) => Ok(Self::from_text(t)?),
        }
    }
}

/// The TOML type name of a value, for "found ..." in messages.
pub fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A TOML basic string literal, escaped.
pub fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl SettingValue for bool {
    fn expected() -> String {
        "true or false".into()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(format!(
                "expected true or false (or 1/0, yes/no, on/off), found {text:?}"
            )),
        }
    }
    fn from_toml(value: &DeValue<'_>) -> Result<Self, ValueError> {
        match value {
            DeValue::Boolean(b) => Ok(*b),
            other => Err(format!("expected true or false, found {}", type_name(other)).into()),
        }
    }
    fn to_toml(&self) -> Option<String> {
        Some(self.to_string())
    }
}

fn integer_from_toml(value: &DeValue<'_>, expected: &str) -> Result<u64, String> {
    match value {
        DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix())
            .map_err(|_| format!("expected {expected}, found {i}")),
        other => Err(format!("expected {expected}, found {}", type_name(other))),
    }
}

impl SettingValue for u64 {
    fn expected() -> String {
        "a whole number >= 0".into()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("expected {}, found {text:?}", Self::expected()))
    }
    fn from_toml(value: &DeValue<'_>) -> Result<Self, ValueError> {
        Ok(integer_from_toml(value, &Self::expected())?)
    }
    fn to_toml(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl SettingValue for NonZeroU64 {
    fn expected() -> String {
        "a whole number >= 1".into()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("expected {}, found {text:?}", Self::expected()))
    }
    fn from_toml(value: &DeValue<'_>) -> Result<Self, ValueError> {
        let n = integer_from_toml(value, &Self::expected())?;
        Ok(NonZeroU64::new(n).ok_or_else(|| format!("expected {}, found 0", Self::expected()))?)
    }
    fn to_toml(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl SettingValue for String {
    fn expected() -> String {
        "a string".into()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn to_toml(&self) -> Option<String> {
        Some(toml_string(self))
    }
}

impl SettingValue for PathBuf {
    fn expected() -> String {
        "a path (string)".into()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("expected a path, found an empty string".into());
        }
        Ok(PathBuf::from(text))
    }
    fn to_toml(&self) -> Option<String> {
        Some(toml_string(&self.to_string_lossy()))
    }
}

/// `Option<T>`: unset by default; an empty text value unsets it again.
impl<T: SettingValue> SettingValue for Option<T> {
    fn expected() -> String {
        T::expected()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(None);
        }
        T::from_text(text).map(Some)
    }
    fn from_toml(value: &DeValue<'_>) -> Result<Self, ValueError> {
        T::from_toml(value).map(Some)
    }
    fn to_toml(&self) -> Option<String> {
        self.as_ref().and_then(T::to_toml)
    }
}

/// A list of strings: a TOML array, or comma-separated text.
impl SettingValue for Vec<String> {
    fn expected() -> String {
        "an array of strings (comma-separated in an environment variable or flag)".into()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }
    fn from_toml(value: &DeValue<'_>) -> Result<Self, ValueError> {
        let DeValue::Array(items) = value else {
            return Err(format!("expected an array of strings, found {}", type_name(value)).into());
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(s) => Ok(s.to_string()),
                other => Err(ValueError {
                    message: format!(
                        "expected an array of strings, found an element that is {}",
                        type_name(other)
                    ),
                    span: Some(item.span()),
                }),
            })
            .collect()
    }
    fn to_toml(&self) -> Option<String> {
        let items: Vec<String> = self.iter().map(|s| toml_string(s)).collect();
        Some(format!("[{}]", items.join(", ")))
    }
}

/// Named regular expressions (`redact_patterns`): every one must compile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternTable(pub BTreeMap<String, String>);

impl SettingValue for PatternTable {
    fn expected() -> String {
        "a table of name = \"regex\"".into()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        Err(format!(
            "{} can only be set in a settings file, found {text:?}",
            Self::expected()
        ))
    }
    fn from_toml(value: &DeValue<'_>) -> Result<Self, ValueError> {
        let DeValue::Table(table) = value else {
            return Err(
                format!("expected {}, found {}", Self::expected(), type_name(value)).into(),
            );
        };
        let mut out = BTreeMap::new();
        for (name, pattern) in table {
            let at_pattern = |message: String| ValueError {
                message: format!("pattern {:?}: {message}", name.get_ref()),
                span: Some(pattern.span()),
            };
            let DeValue::String(p) = pattern.get_ref() else {
                return Err(at_pattern(format!(
                    "expected a regex string, found {}",
                    type_name(pattern.get_ref())
                )));
            };
            regex::Regex::new(p)
                .map_err(|e| at_pattern(format!("invalid regex: {}", one_line(&e))))?;
            out.insert(name.get_ref().to_string(), p.to_string());
        }
        Ok(PatternTable(out))
    }
    fn to_toml(&self) -> Option<String> {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_string(k), toml_string(v)))
            .collect();
        if items.is_empty() {
            return Some("{}".into());
        }
        Some(format!("{{ {} }}", items.join(", ")))
    }
}

/// An error's text on one line (regex errors span several).
pub fn one_line(e: &dyn fmt::Display) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Declares a setting enum of unit variants written in `snake_case`.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        $crate::config::value::choice_text! { $name { $( $variant = $text ),+ } }
    };
}

/// Makes an enum declared elsewhere (by the component that owns its meaning)
/// a setting written in `snake_case`.
macro_rules! choice_text {
    ($name:ident { $( $variant:ident = $text:literal ),+ $(,)? }) => {
        impl $name {
            /// The name written in settings.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text ),+ }
            }
        }

        impl $crate::config::value::SettingValue for $name {
            fn expected() -> String {
                let names: &[&str] = &[$( $text ),+];
                format!("one of {}", names.join(", "))
            }
            fn from_text(text: &str) -> Result<Self, String> {
                match text.trim() {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(format!("expected {}, found {text:?}", Self::expected())),
                }
            }
            fn to_toml(&self) -> Option<String> {
                Some($crate::config::value::toml_string(self.as_str()))
            }
        }
    };
}
pub(crate) use choice;
pub(crate) use choice_text;

// The writer's own policies, declared in `sink` with what they mean.
pub use crate::sink::{FsyncPolicy, QueueFullPolicy};
choice_text! { FsyncPolicy { Never = "never", Batch = "batch", Always = "always" } }
choice_text! { QueueFullPolicy { Block = "block", Drop = "drop" } }

choice! {
    /// How verbose the proxy's own diagnostics (stderr) are.
    LogLevel { Error = "error", Warn = "warn", Info = "info", Debug = "debug", Trace = "trace" }
}

choice! {
    /// What happens to a `tools/call` no rule decides.
    DefaultAction {
        /// Forward and record it (the default).
        Audit = "audit",
        /// Refuse it: deny-by-default, rules with `action = "allow"` are the allow-list.
        Deny = "deny",
    }
}

choice! {
    /// What the proxy does when the audit target is unusable at start.
    OnAuditFailure {
        /// Refuse to start (exit status 2), before the server starts.
        Closed = "closed",
        /// Run the server unaudited, with an error on stderr.
        Open = "open",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        assert!(bool::from_text("YES").unwrap());
        assert!(bool::from_text("maybe")
            .unwrap_err()
            .contains("true or false"));
        assert_eq!(
            Vec::<String>::from_text("a, b,,c").unwrap(),
            vec!["a", "b", "c"]
        );
        assert!(NonZeroU64::from_text("0").is_err());
        assert_eq!(Option::<PathBuf>::from_text("").unwrap(), None);
        assert_eq!(FsyncPolicy::from_text("batch").unwrap(), FsyncPolicy::Batch);
        let e = FsyncPolicy::from_text("sometimes").unwrap_err();
        assert!(e.contains("one of never, batch, always"), "{e}");
    }

    #[test]
    fn toml_literals_round_trip_through_the_parser() {
        let v = vec!["x\"y".to_owned()];
        let text = format!("k = {}", v.to_toml().unwrap());
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(parsed["k"][0].as_str(), Some("x\"y"));
    }
}
