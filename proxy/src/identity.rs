//! Who is talking to which server: the names stamped on every event.

use std::ffi::CStr;

/// Launchers whose first real argument names the server better than they do.
const LAUNCHERS: &[&str] = &[
    "npx", "uvx", "uv", "node", "python", "python3", "deno", "bunx", "bun", "pipx", "docker",
];

/// File and folder names that say nothing about which server it is.
const GENERIC: &[&str] = &[
    "index", "main", "cli", "server", "app", "dist", "build", "lib", "src", "bin", "out",
];

/// The server name: `--server-name`, else derived from the command
/// (`npx -y @modelcontextprotocol/server-filesystem /tmp` → `server-filesystem`).
pub fn server_name(explicit: Option<&str>, command: &[String]) -> String {
    if let Some(name) = explicit.filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    let base = |s: &str| -> String {
        // `/opt/server-everything/dist/index.js` names `server-everything`:
        // skip generic file and build-folder names, walking up the path.
        let mut parts = s.rsplit('/').filter(|p| !p.is_empty());
        let mut name = parts.next().unwrap_or(s);
        let stem = |n: &str| {
            let n = n.split('@').find(|p| !p.is_empty()).unwrap_or(n);
            n.trim_end_matches(".py")
                .trim_end_matches(".js")
                .trim_end_matches(".mjs")
                .to_owned()
        };
        while GENERIC.contains(&stem(name).as_str()) {
            match parts.next() {
                Some(p) => name = p,
                None => break,
            }
        }
        stem(name)
    };
    let Some(first) = command.first() else {
        return "unknown".into();
    };
    let program = base(first);
    if LAUNCHERS.contains(&program.as_str()) {
        let skip_values = ["--from", "--with", "-p", "--package", "run"];
        let mut args = command[1..].iter().peekable();
        while let Some(a) = args.next() {
            if skip_values.contains(&a.as_str()) {
                if a != "run" {
                    args.next();
                }
                continue;
            }
            if !a.starts_with('-') {
                return base(a);
            }
        }
    }
    program
}

/// The OS user running the proxy: `$USER`, `$LOGNAME`, else the password
/// database, else the numeric uid.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var) {
            if !u.is_empty() {
                return u;
            }
        }
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy
    // the name out immediately and are single-threaded at this point.
    unsafe {
        let uid = libc::getuid();
        let pw = libc::getpwuid(uid);
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            return CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned();
        }
        format!("uid:{uid}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn derives_names_from_common_launchers() {
        assert_eq!(
            server_name(
                None,
                &cmd("npx -y @modelcontextprotocol/server-filesystem /tmp")
            ),
            "server-filesystem"
        );
        assert_eq!(
            server_name(None, &cmd("uvx mcp-server-time")),
            "mcp-server-time"
        );
        assert_eq!(
            server_name(
                None,
                &cmd("node /opt/server-everything/dist/index.js stdio")
            ),
            "server-everything"
        );
        assert_eq!(
            server_name(None, &cmd("python3 -m mcp_server_git")),
            "mcp_server_git"
        );
        assert_eq!(
            server_name(None, &cmd("/usr/local/bin/my-server --port 1")),
            "my-server"
        );
        assert_eq!(server_name(None, &cmd("npx -y pkg@1.2.3")), "pkg");
        assert_eq!(server_name(Some("fs"), &cmd("npx x")), "fs");
    }

    #[test]
    fn user_is_never_empty() {
        assert!(!os_user().is_empty());
    }
}
