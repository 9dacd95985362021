//! The settings model: one [`Settings`] value, loaded from (lowest to highest
//! precedence) built-in defaults, a TOML settings file, `MCP_BLACKBOX_*`
//! environment variables and command-line flags. Every value remembers its
//! [`Source`], which `config show` prints beside it.
//!
//! Loading is pure: the environment and the flags come in as data
//! ([`LoadInput`]), so tests never touch the process environment. The only
//! I/O is reading the settings file. Every error is one line naming the file
//! and line, the variable or the flag at fault, and what would be valid.
//!
//! The keys themselves are declared once, in [`schema`]; the TOML walk is in
//! [`file`](mod@file). `docs/configuration.md` documents both for users.

mod error;
pub mod file;
pub mod rules;
pub mod schema;
pub mod value;

use std::fmt::Write as _;
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};

pub use error::{ConfigError, Located};
pub use rules::RuleSpec;
pub use schema::{
    AuditSettings, ForwardSettings, KeyInfo, PolicySettings, ProxySettings, Sections, ENV_PREFIX,
    KEYS,
};
pub use value::OnAuditFailure;
pub use value::{
    DefaultAction, FsyncPolicy, Input, LogLevel, PatternTable, QueueFullPolicy, Source, Sourced,
    ValueError,
};

use schema::{key_for_env, SetError};

/// The settings file looked for under the home directory.
pub const DEFAULT_CONFIG: &str = ".mcp-blackbox/config.toml";
/// The environment variable naming a settings file (like `--config`).
pub const CONFIG_ENV: &str = "MCP_BLACKBOX_CONFIG";

/// Everything [`Settings::load`] reads, passed in so loading is pure.
#[derive(Debug, Clone, Default)]
pub struct LoadInput<'a> {
    /// `--config PATH`: must exist. Without it, `MCP_BLACKBOX_CONFIG`, then
    /// `~/.mcp-blackbox/config.toml` if it exists.
    pub config_path: Option<PathBuf>,
    /// The home directory (for the default file, audit dir and pin file).
    pub home: Option<PathBuf>,
    /// The process environment; only `MCP_BLACKBOX_*` entries are looked at.
    pub env: Vec<(String, String)>,
    /// Flags given: (key like `audit.max_size_mb`, raw value, flag name like `--max-size-mb`).
    pub flags: Vec<(&'static str, String, &'static str)>,
    /// `--server-name`: selects `[servers.NAME]` and is recorded as `proxy.server_name`.
    pub server_name: Option<&'a str>,
    /// The server command and its arguments (selects `[servers.*]` by `command` glob).
    pub command: &'a [String],
}

/// The effective settings of one proxy session.
///
/// Derefs to [`Sections`], so keys read as `settings.audit.max_size_mb.value`.
#[derive(Debug, Clone)]
pub struct Settings {
    sections: Sections,
    /// Rules in match order: the server section's, then the top-level ones.
    pub rules: Vec<RuleSpec>,
    /// The settings file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// The `[servers.NAME]` section that applied, if any.
    pub server_section: Option<String>,
}

impl Deref for Settings {
    type Target = Sections;
    fn deref(&self) -> &Sections {
        &self.sections
    }
}

impl Settings {
    /// Loads the effective settings: defaults < file < env < flags.
    pub fn load(input: LoadInput<'_>) -> Result<Settings, ConfigError> {
        let mut sections = Sections::default();
        if let Some(home) = &input.home {
            sections.audit.dir.value = home.join(".mcp-blackbox/audit");
            sections.policy.pins.value = home.join(".mcp-blackbox/pins.json");
        }
        let env = blackbox_env(&input.env)?;
        let server_name = input
            .server_name
            .map(str::to_owned)
            .or_else(|| flag_value(&input.flags, "proxy.server_name"))
            .or_else(|| env_value(&env, "SERVER_NAME"));
        let command_line = input.command.join(" ");
        let select = file::Selector {
            server_name: server_name.as_deref(),
            command_line: &command_line,
        };
        let mut settings = Settings {
            sections,
            rules: Vec::new(),
            config_file: None,
            server_section: None,
        };
        if let Some((path, text)) = read_config(&input, &env)? {
            let at = Located {
                path: &path,
                text: &text,
            };
            let layer = file::apply(&at, &mut settings.sections, select)?;
            settings.rules = layer.rules;
            settings.server_section = layer.server_section;
            settings.config_file = Some(path);
        }
        for (suffix, name, value) in &env {
            let Some(key) = key_for_env(suffix) else {
                continue;
            };
            settings
                .set_text(key.section, key.field, value, Source::Env(name.clone()))
                .map_err(|message| ConfigError::Env {
                    name: name.clone(),
                    message,
                })?;
        }
        if let Some(name) = input.server_name {
            let source = Source::Flag("--server-name".into());
            settings.sections.proxy.server_name = Sourced {
                value: Some(name.to_owned()),
                source,
            };
        }
        for (key, value, flag) in &input.flags {
            let (section, field) = key.split_once('.').unwrap_or(("", key));
            settings
                .set_text(section, field, value, Source::Flag((*flag).to_owned()))
                .map_err(|message| ConfigError::Flag {
                    flag: (*flag).to_owned(),
                    message,
                })?;
        }
        Ok(settings)
    }

    /// Validates the settings file at `path` alone (`config check`): every
    /// key, every rule, every `[servers.*]` section.
    pub fn check_file(path: &Path) -> Result<Settings, ConfigError> {
        Settings::load(LoadInput {
            config_path: Some(path.to_owned()),
            ..LoadInput::default()
        })
    }

    /// [`Settings::check_file`], with every problem of the file in file
    /// order when it is invalid.
    pub fn check_file_all(path: &Path) -> Result<Settings, Vec<ConfigError>> {
        let first = match Settings::check_file(path) {
            Ok(s) => return Ok(s),
            Err(e) => e,
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return Err(vec![first]);
        };
        let at = Located { path, text: &text };
        let select = file::Selector {
            server_name: None,
            command_line: "",
        };
        let all = file::problems(&at, select);
        Err(if all.is_empty() { vec![first] } else { all })
    }

    /// True when auditing is off: the proxy relays bytes and does nothing else.
    pub fn is_pure_relay(&self) -> bool {
        !self.audit.enabled.value
    }

    /// The effective settings as commented TOML: each value with its source.
    pub fn show(&self) -> String {
        let mut out = String::from("# mcp-blackbox effective settings (value  # source)\n");
        match &self.config_file {
            Some(p) => writeln!(out, "# settings file: {}", p.display()),
            None => writeln!(out, "# settings file: none"),
        }
        .ok();
        if let Some(s) = &self.server_section {
            writeln!(out, "# server section: servers.{s}").ok();
        }
        let mut section = "";
        for (info, value, source) in self.sections.entries() {
            if info.section != section {
                section = info.section;
                writeln!(out, "\n[{section}]").ok();
            }
            let line = match value {
                Some(v) => format!("{} = {v}", info.field),
                None => format!("# {} = (unset)", info.field),
            };
            writeln!(out, "{line:<48} # {source}").ok();
        }
        writeln!(out, "\n# rules, first match wins: {}", self.rules.len()).ok();
        for (i, rule) in self.rules.iter().enumerate() {
            writeln!(out, "#  {}. {rule}  ({})", i + 1, rule.source).ok();
        }
        out
    }

    fn set_text(
        &mut self,
        section: &str,
        field: &str,
        text: &str,
        source: Source,
    ) -> Result<(), String> {
        match self.sections.set(section, field, Input::Text(text), source) {
            Ok(()) => Ok(()),
            Err(SetError::Bad(e)) => Err(e.message),
            Err(SetError::UnknownField | SetError::UnknownSection) => {
                Err(format!("unknown setting {section}.{field}"))
            }
        }
    }
}

/// `MCP_BLACKBOX_*` names that are not settings: the settings file, and the
/// variables of the project's own test and benchmark tooling, which a proxy
/// started under it inherits.
pub const NON_SETTING_ENV: &[&str] = &[
    "MCP_BLACKBOX_CONFIG",
    "MCP_BLACKBOX_PEERS",
    "MCP_BLACKBOX_BIN",
];

/// The `MCP_BLACKBOX_*` entries of `env` as (suffix, full name, value); an
/// unknown name is an error listing the valid ones (a typo must not silently
/// fall back to a default).
fn blackbox_env(env: &[(String, String)]) -> Result<Vec<(String, String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in env {
        let Some(suffix) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if NON_SETTING_ENV.contains(&name.as_str()) && name != CONFIG_ENV {
            continue;
        }
        if name != CONFIG_ENV && key_for_env(suffix).is_none() {
            return Err(ConfigError::Env {
                name: name.clone(),
                message: unknown_env_message(name),
            });
        }
        out.push((suffix.to_owned(), name.clone(), value.clone()));
    }
    Ok(out)
}

/// "unknown variable", with the closest valid name when one is close.
fn unknown_env_message(name: &str) -> String {
    let valid = KEYS
        .iter()
        .filter_map(|k| k.env.map(|e| format!("{ENV_PREFIX}{e}")))
        .chain([CONFIG_ENV.to_owned()]);
    let closest = valid
        .map(|v| (strsim::damerau_levenshtein(name, &v), v))
        .min_by_key(|(distance, _)| *distance);
    match closest {
        Some((distance, v)) if distance <= 3 => format!("unknown variable; did you mean {v}?"),
        _ => "unknown variable; `mcp-blackbox config show` lists the settings and their variables"
            .to_owned(),
    }
}

fn env_value(env: &[(String, String, String)], suffix: &str) -> Option<String> {
    env.iter()
        .rev()
        .find(|(s, _, v)| s == suffix && !v.is_empty())
        .map(|(_, _, v)| v.clone())
}

fn flag_value(flags: &[(&'static str, String, &'static str)], key: &str) -> Option<String> {
    flags
        .iter()
        .rev()
        .find(|(k, v, _)| *k == key && !v.is_empty())
        .map(|(_, v, _)| v.clone())
}

/// The settings file to read and its text, if there is one.
fn read_config(
    input: &LoadInput<'_>,
    env: &[(String, String, String)],
) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let explicit = input
        .config_path
        .clone()
        .or_else(|| env_value(env, "CONFIG").map(PathBuf::from));
    let (path, required) = match (explicit, &input.home) {
        (Some(p), _) => (p, true),
        (None, Some(home)) => (home.join(DEFAULT_CONFIG), false),
        (None, None) => return Ok(None),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path, text))),
        Err(e) if !required && e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::Unreadable {
            path,
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
