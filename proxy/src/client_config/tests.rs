use super::*;

const BB: &str = "/usr/local/bin/mcp-blackbox";

fn value(text: &str) -> serde_json::Value {
    let root = CstRootNode::parse(text, &ParseOptions::default()).unwrap();
    root.to_serde_value().unwrap()
}

const CLAUDE_DESKTOP: &str = r#"{
  "mcpServers": {
    "fs": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
      "env": { "DEBUG": "1" }
    },
    "remote": { "url": "https://example.invalid/mcp" }
  },
  "globalShortcut": "Ctrl+Space"
}
"#;

#[test]
fn wraps_claude_desktop_entries_and_keeps_other_keys() {
    let edit = wrap(CLAUDE_DESKTOP, BB).unwrap();
    assert_eq!(
        edit.changes,
        [
            EntryChange::Wrapped("fs".into()),
            EntryChange::Remote("remote".into())
        ]
    );
    let v = value(&edit.text);
    let fs = &v["mcpServers"]["fs"];
    assert_eq!(fs["command"], BB);
    assert_eq!(
        fs["args"],
        serde_json::json!([
            "--server-name",
            "fs",
            "--",
            "npx",
            "-y",
            "@modelcontextprotocol/server-filesystem",
            "/tmp"
        ])
    );
    assert_eq!(fs["env"]["DEBUG"], "1");
    assert_eq!(
        v["mcpServers"]["remote"]["url"],
        "https://example.invalid/mcp"
    );
    assert_eq!(v["globalShortcut"], "Ctrl+Space");
}

#[test]
fn wrapping_twice_changes_nothing_and_unwrap_restores_the_text() {
    let once = wrap(CLAUDE_DESKTOP, BB).unwrap().text;
    let twice = wrap(&once, BB).unwrap();
    assert_eq!(twice.text, once);
    assert_eq!(twice.changes[0], EntryChange::AlreadyWrapped("fs".into()));
    let back = unwrap(&once).unwrap();
    assert_eq!(back.changes[0], EntryChange::Unwrapped("fs".into()));
    assert_eq!(back.text, CLAUDE_DESKTOP);
    let again = unwrap(&back.text).unwrap();
    assert_eq!(again.text, CLAUDE_DESKTOP);
    assert!(!again.changes.iter().any(EntryChange::changed));
}

#[test]
fn vscode_file_with_comments_and_trailing_commas_keeps_them() {
    let text = r#"{
  // Servers for this workspace
  "inputs": [],
  "servers": {
    "time": {
      "type": "stdio",
      "command": "uvx", // the Python launcher
      "args": ["mcp-server-time"],
      "cwd": "${workspaceFolder}",
    },
    "github": { "type": "http", "url": "https://api.example.invalid/mcp/" },
  },
}
"#;
    let edit = wrap(text, BB).unwrap();
    assert!(edit.text.contains("// Servers for this workspace"));
    assert!(edit.text.contains("// the Python launcher"));
    assert_eq!(
        edit.changes,
        [
            EntryChange::Wrapped("time".into()),
            EntryChange::Remote("github".into())
        ]
    );
    let v = value(&edit.text);
    assert_eq!(v["servers"]["time"]["type"], "stdio");
    assert_eq!(v["servers"]["time"]["cwd"], "${workspaceFolder}");
    assert_eq!(
        v["servers"]["time"]["args"],
        serde_json::json!(["--server-name", "time", "--", "uvx", "mcp-server-time"])
    );
    assert_eq!(unwrap(&edit.text).unwrap().text, text);
}

#[test]
fn claude_code_user_file_wraps_top_level_and_project_servers() {
    let text = r#"{
  "numStartups": 3,
  "mcpServers": { "mem": { "type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "env": {} } },
  "projects": {
    "/home/me/app": {
      "allowedTools": [],
      "mcpServers": { "db": { "command": "python3", "args": ["-m", "db_server"] } }
    }
  }
}"#;
    let edit = wrap(text, BB).unwrap();
    assert_eq!(
        edit.changes,
        [
            EntryChange::Wrapped("mem".into()),
            EntryChange::Wrapped("db".into())
        ]
    );
    let v = value(&edit.text);
    assert_eq!(v["numStartups"], 3);
    assert_eq!(
        v["projects"]["/home/me/app"]["mcpServers"]["db"]["args"][1],
        "db"
    );
}

#[test]
fn an_entry_without_args_gets_them_after_command() {
    let text = r#"{"mcpServers":{"x":{"command":"my-server","env":{"A":"b"}}}}"#;
    let edit = wrap(text, BB).unwrap();
    let v = value(&edit.text);
    assert_eq!(
        v["mcpServers"]["x"]["args"],
        serde_json::json!(["--server-name", "x", "--", "my-server"])
    );
    let back = value(&unwrap(&edit.text).unwrap().text);
    assert_eq!(back["mcpServers"]["x"]["command"], "my-server");
    assert_eq!(back["mcpServers"]["x"]["args"], serde_json::json!([]));
    assert_eq!(back["mcpServers"]["x"]["env"]["A"], "b");
}

#[test]
fn odd_entries_are_left_alone_and_said_so() {
    let text = r#"{"mcpServers":{
        "n": 3,
        "nocmd": {"args": []},
        "badargs": {"command": "x", "args": [1]},
        "quoted": {"command": "a \"b\"", "args": ["c\\d"]}
    }}"#;
    let edit = wrap(text, BB).unwrap();
    assert!(matches!(&edit.changes[0], EntryChange::Skipped { server, .. } if server == "n"));
    assert!(matches!(&edit.changes[1], EntryChange::Skipped { server, .. } if server == "nocmd"));
    assert!(matches!(&edit.changes[2], EntryChange::Skipped { server, .. } if server == "badargs"));
    assert_eq!(edit.changes[3], EntryChange::Wrapped("quoted".into()));
    let v = value(&edit.text);
    assert_eq!(v["mcpServers"]["quoted"]["args"][3], "a \"b\"");
    assert_eq!(v["mcpServers"]["quoted"]["args"][4], "c\\d");
    assert_eq!(v["mcpServers"]["badargs"]["command"], "x");
}

#[test]
fn not_json_is_an_error() {
    assert!(wrap("{ not json", BB).is_err());
}

#[test]
fn every_client_has_paths() {
    let (h, a, p) = (Path::new("/h"), Path::new("/a"), Path::new("/p"));
    for c in Client::ALL {
        assert!(!c.config_paths(h, a, p).is_empty());
    }
    assert_eq!(
        Client::ClaudeDesktop.config_paths(h, a, p),
        [PathBuf::from("/a/Claude/claude_desktop_config.json")]
    );
}
