//! The pinned real MCP peers that `scripts/install-peers.sh` installs.
//!
//! They are looked up in `$MCP_BLACKBOX_PEERS`, else `<repo>/.peers`. When a
//! peer is missing, a test under `CI=true` fails loudly; elsewhere it is
//! skipped with a message saying how to install the peers.

use std::path::PathBuf;

/// Paths of the installed peers.
#[derive(Debug, Clone)]
pub struct Peers {
    /// The venv's Python, with the MCP Python SDK.
    pub python: PathBuf,
    /// `mcp-server-time` (a stateless-era server).
    pub time_server: PathBuf,
    /// `server-everything`'s entry point, run as `node <it> stdio`.
    pub everything_js: PathBuf,
    /// The driver script `tests/py/drive.py`.
    pub driver: PathBuf,
}

impl Peers {
    /// The installed peers, or `None` (after saying why) when a test should
    /// be skipped. Panics when they are missing and `CI` is `true`.
    pub fn find() -> Option<Peers> {
        let root = std::env::var_os("MCP_BLACKBOX_PEERS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.peers"));
        let peers = Peers {
            python: root.join("venv/bin/python"),
            time_server: root.join("venv/bin/mcp-server-time"),
            everything_js: root
                .join("npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"),
            driver: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/drive.py"),
        };
        let missing: Vec<_> = [&peers.python, &peers.time_server, &peers.everything_js]
            .into_iter()
            .filter(|p| !p.exists())
            .collect();
        if missing.is_empty() {
            return Some(peers);
        }
        let msg = format!(
            "MCP peers missing: {missing:?}; run scripts/install-peers.sh (or scripts/test.sh)"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg} (CI=true: a missing peer is a failure, not a skip)");
        }
        eprintln!("SKIPPED: {msg}");
        None
    }
}

/// The first of `names` found on `PATH` (a Debian package that
/// `scripts/install-peers.sh` installs), or `None` after saying why;
/// panics when missing and `CI` is `true`.
pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|d| names.iter().map(move |n| d.join(n)))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = format!("{} missing; run scripts/install-peers.sh", names[0]);
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg} (CI=true: a missing peer is a failure, not a skip)");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}
