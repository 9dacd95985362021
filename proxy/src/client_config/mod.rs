//! MCP client configuration files (Claude Desktop, Claude Code, Cursor, VS
//! Code, Windsurf): wrapping each stdio server entry in `mcp-blackbox`, and
//! unwrapping it again.
//!
//! Edits go through a concrete syntax tree (`jsonc_parser::cst`), so comments,
//! trailing commas, formatting and every key we do not touch (`env`, `cwd`,
//! `type`, …) stay as the user wrote them. Both edits are idempotent: an entry
//! already wrapped is not wrapped twice, and unwrapping a plain entry changes
//! nothing. Remote entries (`url`, `serverUrl`, an HTTP or SSE `type`) have no
//! command to wrap and are left alone.

use std::fmt;
use std::path::{Path, PathBuf};

use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use jsonc_parser::ParseOptions;

/// The separator between our options and the server command.
const DOUBLE_DASH: &str = "--";

/// A client whose configuration file format is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    Vscode,
    Windsurf,
}

impl Client {
    /// Every known client, in the order `install` looks at them.
    pub const ALL: [Client; 5] = [
        Client::ClaudeDesktop,
        Client::ClaudeCode,
        Client::Cursor,
        Client::Vscode,
        Client::Windsurf,
    ];

    /// Where this client keeps its server list: user-wide files under `home`
    /// (and `app_data`, the platform's application data directory), project
    /// files under `project`.
    pub fn config_paths(self, home: &Path, app_data: &Path, project: &Path) -> Vec<PathBuf> {
        match self {
            Client::ClaudeDesktop => vec![app_data.join("Claude/claude_desktop_config.json")],
            Client::ClaudeCode => vec![project.join(".mcp.json"), home.join(".claude.json")],
            Client::Cursor => vec![
                home.join(".cursor/mcp.json"),
                project.join(".cursor/mcp.json"),
            ],
            Client::Vscode => vec![
                project.join(".vscode/mcp.json"),
                app_data.join("Code/User/mcp.json"),
            ],
            Client::Windsurf => vec![home.join(".codeium/windsurf/mcp_config.json")],
        }
    }
}

/// What an edit did (or found) for one server entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryChange {
    Wrapped(String),
    Unwrapped(String),
    AlreadyWrapped(String),
    NotWrapped(String),
    /// A URL entry: nothing runs locally, so there is nothing to wrap.
    Remote(String),
    /// An entry whose shape we do not understand; left unchanged.
    Skipped {
        server: String,
        why: &'static str,
    },
}

impl EntryChange {
    /// Whether the entry's text changed.
    pub fn changed(&self) -> bool {
        matches!(self, EntryChange::Wrapped(_) | EntryChange::Unwrapped(_))
    }
}

impl fmt::Display for EntryChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryChange::Wrapped(s) => write!(f, "wrapped `{s}`"),
            EntryChange::Unwrapped(s) => write!(f, "unwrapped `{s}`"),
            EntryChange::AlreadyWrapped(s) => write!(f, "`{s}` is already wrapped"),
            EntryChange::NotWrapped(s) => write!(f, "`{s}` is not wrapped"),
            EntryChange::Remote(s) => write!(f, "left `{s}` alone: a remote (URL) server"),
            EntryChange::Skipped { server, why } => write!(f, "left `{server}` alone: {why}"),
        }
    }
}

/// The result of editing one file's text.
#[derive(Debug)]
pub struct Edit {
    pub text: String,
    pub changes: Vec<EntryChange>,
}

/// A file that is not JSON (with comments) at all.
#[derive(Debug, thiserror::Error)]
#[error("not a JSON configuration file: {0}")]
pub struct ParseError(String);

/// Wraps every stdio server entry: `command` becomes `blackbox`, and the old
/// command and arguments follow `--server-name KEY --` in `args`.
pub fn wrap(text: &str, blackbox: &str) -> Result<Edit, ParseError> {
    edit(text, |name, entry| wrap_entry(name, entry, blackbox))
}

/// Undoes [`wrap`] for every wrapped entry.
pub fn unwrap(text: &str) -> Result<Edit, ParseError> {
    edit(text, unwrap_entry)
}

fn edit(
    text: &str,
    mut each: impl FnMut(&str, &CstObject) -> EntryChange,
) -> Result<Edit, ParseError> {
    let options = ParseOptions::default();
    let root = CstRootNode::parse(text, &options).map_err(|e| ParseError(e.to_string()))?;
    let mut changes = Vec::new();
    if let Some(top) = root.object_value() {
        for servers in server_lists(&top) {
            for prop in servers.properties() {
                let Some(name) = prop.name().and_then(|n| n.decoded_value().ok()) else {
                    continue;
                };
                match prop.value().and_then(|v| v.as_object()) {
                    Some(entry) => changes.push(each(&name, &entry)),
                    None => changes.push(EntryChange::Skipped {
                        server: name,
                        why: "not an object",
                    }),
                }
            }
        }
    }
    Ok(Edit {
        text: root.to_string(),
        changes,
    })
}

/// The objects that map server names to entries: `mcpServers` (Claude,
/// Cursor, Windsurf), `servers` and `mcp.servers` (VS Code), and each
/// project's `mcpServers` in `~/.claude.json`.
fn server_lists(top: &CstObject) -> Vec<CstObject> {
    let mut lists: Vec<CstObject> = ["mcpServers", "servers"]
        .into_iter()
        .filter_map(|key| top.object_value(key))
        .collect();
    if let Some(servers) = top
        .object_value("mcp")
        .and_then(|m| m.object_value("servers"))
    {
        lists.push(servers);
    }
    if let Some(projects) = top.object_value("projects") {
        for project in projects.properties() {
            if let Some(servers) = project
                .object_value()
                .and_then(|p| p.object_value("mcpServers"))
            {
                lists.push(servers);
            }
        }
    }
    lists
}

fn string_member(entry: &CstObject, key: &str) -> Option<String> {
    entry
        .get(key)?
        .value()?
        .to_serde_value()?
        .as_str()
        .map(str::to_owned)
}

/// The entry's `args`: `Some(empty)` when absent, `None` when not all strings.
fn args_of(entry: &CstObject) -> Option<Vec<String>> {
    let Some(prop) = entry.get("args") else {
        return Some(Vec::new());
    };
    let value = prop.value()?.to_serde_value()?;
    value
        .as_array()?
        .iter()
        .map(|a| a.as_str().map(str::to_owned))
        .collect()
}

fn is_remote(entry: &CstObject) -> bool {
    let remote_type = string_member(entry, "type")
        .is_some_and(|t| matches!(t.as_str(), "http" | "sse" | "streamable-http" | "ws"));
    remote_type || entry.get("url").is_some() || entry.get("serverUrl").is_some()
}

fn is_blackbox(command: &str) -> bool {
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command);
    base == "mcp-blackbox" || base == "mcp-blackbox.exe"
}

fn set_args(entry: &CstObject, args: Vec<String>) {
    let value = CstInputValue::Array(args.into_iter().map(CstInputValue::String).collect());
    match entry.get("args") {
        Some(prop) => prop.set_value(value),
        None => {
            let after_command = entry
                .properties()
                .iter()
                .position(|p| {
                    p.name().and_then(|n| n.decoded_value().ok()).as_deref() == Some("command")
                })
                .map_or(0, |i| i + 1);
            entry.insert(after_command, "args", value);
        }
    }
}

fn wrap_entry(server: &str, entry: &CstObject, blackbox: &str) -> EntryChange {
    let server = server.to_owned();
    if is_remote(entry) {
        return EntryChange::Remote(server);
    }
    let Some(command) = string_member(entry, "command") else {
        return EntryChange::Skipped {
            server,
            why: "no `command` string",
        };
    };
    if is_blackbox(&command) {
        return EntryChange::AlreadyWrapped(server);
    }
    let Some(args) = args_of(entry) else {
        return EntryChange::Skipped {
            server,
            why: "`args` is not a list of strings",
        };
    };
    let mut wrapped = vec![
        "--server-name".to_owned(),
        server.clone(),
        DOUBLE_DASH.to_owned(),
        command,
    ];
    wrapped.extend(args);
    if let Some(prop) = entry.get("command") {
        prop.set_value(CstInputValue::String(blackbox.to_owned()));
    }
    set_args(entry, wrapped);
    EntryChange::Wrapped(server)
}

fn unwrap_entry(server: &str, entry: &CstObject) -> EntryChange {
    let server = server.to_owned();
    let wrapped = string_member(entry, "command").is_some_and(|c| is_blackbox(&c));
    if is_remote(entry) || !wrapped {
        return EntryChange::NotWrapped(server);
    }
    let Some(args) = args_of(entry) else {
        return EntryChange::Skipped {
            server,
            why: "`args` is not a list of strings",
        };
    };
    let Some(dash) = args.iter().position(|a| a == DOUBLE_DASH) else {
        return EntryChange::Skipped {
            server,
            why: "no `--` before the server command in `args`",
        };
    };
    let mut rest = args[dash + 1..].iter().cloned();
    let Some(command) = rest.next() else {
        return EntryChange::Skipped {
            server,
            why: "nothing after `--` in `args`",
        };
    };
    if let Some(prop) = entry.get("command") {
        prop.set_value(CstInputValue::String(command));
    }
    set_args(entry, rest.collect());
    EntryChange::Unwrapped(server)
}

#[cfg(test)]
mod tests;
