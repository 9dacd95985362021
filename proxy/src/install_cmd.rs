//! `mcp-blackbox install` / `uninstall`: wrap (or unwrap) every stdio server
//! of an MCP client's configuration file. The edit itself is
//! [`crate::client_config`]'s; this module finds the files, prints what
//! changes, keeps a timestamped backup and replaces each file atomically.

use std::fs::{self, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::client_config::{self, Client, Edit};
use crate::config_cmd::home_dir;

/// Which files to edit.
#[derive(Debug, clap::Args)]
pub struct Targets {
    /// Edit this client's configuration files (repeatable) [default: every
    /// client whose file exists].
    #[arg(long, value_enum, value_name = "CLIENT")]
    pub client: Vec<Client>,
    /// Edit this file instead (repeatable): any JSON file with `mcpServers`
    /// or `servers`.
    #[arg(long, value_name = "PATH")]
    pub config_file: Vec<PathBuf>,
    /// Print the change as a diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `mcp-blackbox install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub targets: Targets,
    /// The command written into wrapped entries [default: this binary's
    /// absolute path, which GUI clients find without a shell's PATH].
    #[arg(long, value_name = "PATH")]
    pub command: Option<String>,
}

/// Arguments of `mcp-blackbox uninstall`.
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub targets: Targets,
}

/// Wraps the servers of every target file.
pub fn install(args: InstallArgs) -> anyhow::Result<i32> {
    let command = match args.command {
        Some(c) => c,
        None => std::env::current_exe()
            .and_then(fs::canonicalize)
            .context("while finding this binary's path (give one with --command)")?
            .to_string_lossy()
            .into_owned(),
    };
    apply(&args.targets, |text| client_config::wrap(text, &command))
}

/// Unwraps the servers of every target file.
pub fn uninstall(args: UninstallArgs) -> anyhow::Result<i32> {
    apply(&args.targets, client_config::unwrap)
}

fn apply(
    targets: &Targets,
    edit: impl Fn(&str) -> Result<Edit, client_config::ParseError>,
) -> anyhow::Result<i32> {
    let mut changed = 0;
    for path in files(targets)? {
        let text = fs::read_to_string(&path)
            .with_context(|| format!("while reading {}", path.display()))?;
        let result = edit(&text).with_context(|| format!("in {}", path.display()))?;
        println!("{}:", path.display());
        for change in &result.changes {
            println!("  {change}");
        }
        changed += result.changes.iter().filter(|c| c.changed()).count();
        if result.text == text {
            println!("  nothing to change");
        } else if targets.dry_run {
            print!("{}", diff(&path, &text, &result.text));
        } else {
            let backup = replace(&path, &text, &result.text)?;
            println!("  backup: {}", backup.display());
        }
    }
    let verb = if targets.dry_run {
        "would change"
    } else {
        "changed"
    };
    println!(
        "{verb} {changed} server entr{}",
        if changed == 1 { "y" } else { "ies" }
    );
    Ok(0)
}

/// The files named, or every known client file that exists.
fn files(targets: &Targets) -> anyhow::Result<Vec<PathBuf>> {
    if !targets.config_file.is_empty() {
        return Ok(targets.config_file.clone());
    }
    let home = home_dir().context("no home directory (HOME is not set); use --config-file")?;
    let project = std::env::current_dir().context("while reading the current directory")?;
    let app_data = app_data_dir(&home);
    let clients: &[Client] = if targets.client.is_empty() {
        &Client::ALL
    } else {
        &targets.client
    };
    let candidates: Vec<PathBuf> = clients
        .iter()
        .flat_map(|c| c.config_paths(&home, &app_data, &project))
        .collect();
    let found: Vec<PathBuf> = candidates.iter().filter(|p| p.is_file()).cloned().collect();
    if found.is_empty() {
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "no client configuration found (looked for {}); name one with --config-file",
            looked.join(", ")
        );
    }
    Ok(found)
}

/// Where desktop applications keep their settings on this platform.
fn app_data_dir(home: &Path) -> PathBuf {
    if cfg!(target_os = "macos") {
        home.join("Library/Application Support")
    } else if let Some(appdata) = std::env::var_os("APPDATA").filter(|_| cfg!(windows)) {
        PathBuf::from(appdata)
    } else {
        std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"))
    }
}

fn diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&name, &name)
        .to_string()
}

/// Keeps `old` as a timestamped backup beside `path`, then replaces the file
/// (the link's target, if it is a link) with `new` in one rename, keeping
/// its permissions. Returns the backup's path.
fn replace(path: &Path, old: &str, new: &str) -> anyhow::Result<PathBuf> {
    let real =
        fs::canonicalize(path).with_context(|| format!("while resolving {}", path.display()))?;
    let mode = fs::metadata(&real)?.permissions().mode() & 0o777;
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .context("while formatting the backup's time")?;
    let name = real.file_name().unwrap_or_default().to_string_lossy();
    // Two edits within a second get numbered backups, never an overwrite.
    let mut n = 0;
    let backup = loop {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let backup = real.with_file_name(format!("{name}.{stamp}{suffix}.mcp-blackbox.bak"));
        match write_new(&backup, old, mode) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            r => {
                break r
                    .map(|()| backup.clone())
                    .with_context(|| format!("while writing backup {}", backup.display()))?
            }
        }
    };
    let temp = real.with_file_name(format!(".{name}.{}.mcp-blackbox.tmp", uuid::Uuid::now_v7()));
    write_new(&temp, new, mode).with_context(|| format!("while writing {}", temp.display()))?;
    fs::rename(&temp, &real).with_context(|| format!("while replacing {}", real.display()))?;
    Ok(backup)
}

/// Creates `path` (never an existing file or link) with `text` and `mode`.
fn write_new(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.set_permissions(Permissions::from_mode(mode))?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(file: &Path, dry_run: bool) -> Targets {
        Targets {
            client: Vec::new(),
            config_file: vec![file.to_owned()],
            dry_run,
        }
    }

    #[test]
    fn install_backs_up_and_uninstall_restores() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("claude_desktop_config.json");
        let original = r#"{"mcpServers":{"fs":{"command":"npx","args":["-y","srv"]}}}"#;
        fs::write(&file, original).unwrap();
        fs::set_permissions(&file, Permissions::from_mode(0o640)).unwrap();

        let dry = InstallArgs {
            targets: targets(&file, true),
            command: Some("/opt/mcp-blackbox".into()),
        };
        assert_eq!(install(dry).unwrap(), 0);
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            original,
            "dry run writes nothing"
        );

        let args = InstallArgs {
            targets: targets(&file, false),
            command: Some("/opt/mcp-blackbox".into()),
        };
        install(args).unwrap();
        let wrapped = fs::read_to_string(&file).unwrap();
        assert!(wrapped.contains("/opt/mcp-blackbox"), "{wrapped}");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let backups: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".mcp-blackbox.bak"))
            .collect();
        assert_eq!(backups.len(), 1);
        assert_eq!(fs::read_to_string(&backups[0]).unwrap(), original);

        uninstall(UninstallArgs {
            targets: targets(&file, false),
        })
        .unwrap();
        let restored: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            restored,
            serde_json::from_str::<serde_json::Value>(original).unwrap()
        );
    }

    #[test]
    fn diff_shows_the_changed_lines() {
        let d = diff(Path::new("c.json"), "a\nb\n", "a\nc\n");
        assert!(d.contains("-b\n") && d.contains("+c\n"), "{d}");
    }
}
