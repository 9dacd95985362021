//! The audit target against a local attacker and against plain mistakes,
//! through the real binary: links planted at the trail's file names, an
//! insecure or unusable directory, loose file modes — and the one rule at
//! start (one line, exit 2, the server never started; or, with
//! `--on-audit-failure open`, the server runs unaudited).

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use audit_core::stages::utc_date;
use blackbox_tests::audit::{only, AuditDir};
use blackbox_tests::binary::blackbox;
use blackbox_tests::client::{initialize, proxy_command, LineClient};
use blackbox_tests::process::run_collect;

const BENCH_SERVER: &str = env!("CARGO_BIN_EXE_bench_server");

/// Runs the proxy over `audit_dir` (stdin closed) in front of a server that
/// leaves `marker` behind if it ever starts and exits with status 7.
fn run_marking(audit_dir: &Path, flags: &[&str], marker: &Path) -> Output {
    let script = format!("touch '{}'; exit 7", marker.display());
    run_collect(
        &mut proxy_command(audit_dir, "files", flags, &["sh", "-c", &script]),
        "the proxy",
    )
}

/// Exit status 2, one line on stderr containing `needle`, server not started.
fn assert_refused(out: &Output, needle: &str, marker: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("mcp-blackbox: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    assert!(!marker.exists(), "the server must not start");
}

/// Today's active file names (two when the test straddles midnight).
fn todays_names() -> Vec<String> {
    let now = std::time::SystemTime::now();
    let mut names = vec![format!("audit-{}.jsonl", utc_date(now))];
    let later = now + std::time::Duration::from_secs(120);
    names.push(format!("audit-{}.jsonl", utc_date(later)));
    names.dedup();
    names
}

#[test]
fn links_at_the_active_file_and_the_lock_are_refused_and_their_targets_untouched() {
    let work = tempfile::tempdir().unwrap();
    let victim = work.path().join("victim");
    std::fs::write(&victim, b"precious\n").unwrap();
    let created = work.path().join("would-be-created");
    let mut names = todays_names();
    names.push(".lock".into());
    for name in names {
        let audit = AuditDir::new();
        let target = if name == ".lock" { &created } else { &victim };
        symlink(target, audit.path().join(&name)).unwrap();
        let marker = work.path().join("started");
        let out = run_marking(audit.path(), &[], &marker);
        assert_refused(&out, "is a symbolic link", &marker);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n", "{name}");
        assert!(!created.exists(), "{name}: the link's target was created");
    }
}

#[test]
fn an_insecure_directory_is_refused_unless_shared_on_purpose() {
    let work = tempfile::tempdir().unwrap();
    let marker = work.path().join("started");
    let audit = AuditDir::new();
    std::fs::set_permissions(audit.path(), PermissionsExt::from_mode(0o777)).unwrap();
    let out = run_marking(audit.path(), &[], &marker);
    assert_refused(&out, "writable by group or others (mode 0777)", &marker);
    assert!(std::fs::read_dir(audit.path()).unwrap().next().is_none());

    let out = run_marking(audit.path(), &["--allow-shared-dir"], &marker);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(marker.exists());

    let other = AuditDir::new();
    refused_once_given_away(other.path(), &[other.path().to_owned()], work.path());
}

/// As root: gives `paths` to another user, then the proxy over `audit_dir`
/// must refuse to start. (Only root can give a file away.)
fn refused_once_given_away(audit_dir: &Path, paths: &[std::path::PathBuf], work: &Path) {
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    for path in paths {
        std::os::unix::fs::chown(path, Some(65534), None).unwrap();
    }
    let marker = work.join("started-after-chown");
    let out = run_marking(audit_dir, &[], &marker);
    assert_refused(&out, "owned by uid 65534", &marker);
}

#[test]
fn a_loose_file_mode_is_fixed_and_a_foreign_file_refused() {
    let work = tempfile::tempdir().unwrap();
    let audit = AuditDir::new();
    let names = todays_names();
    for name in &names {
        let path = audit.path().join(name);
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, PermissionsExt::from_mode(0o644)).unwrap();
    }
    let marker = work.path().join("started");
    let out = run_marking(audit.path(), &[], &marker);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = audit.path().join(&names[0]);
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);

    let files: Vec<_> = names.iter().map(|n| audit.path().join(n)).collect();
    refused_once_given_away(audit.path(), &files, work.path());
}

#[test]
fn an_unusable_target_exits_2_before_the_server_starts_unless_asked_to_run_open() {
    let work = tempfile::tempdir().unwrap();
    let plain = work.path().join("plain-file");
    std::fs::write(&plain, b"").unwrap();
    let under_file = plain.join("audit");
    let marker = work.path().join("started");
    // An explicit directory, an explicit file, and the default directory
    // (a regular file at ~/.mcp-blackbox/audit).
    let home = work.path().join("home");
    std::fs::create_dir_all(home.join(".mcp-blackbox")).unwrap();
    std::fs::write(home.join(".mcp-blackbox/audit"), b"").unwrap();
    let cases: Vec<(Command, &str)> = vec![
        (
            proxy_command(&under_file, "files", &[], &[] as &[&str]),
            "--audit-dir",
        ),
        (
            blackbox_with(&["--audit-file", under_file.to_str().unwrap()]),
            "--audit-file",
        ),
        (blackbox_with(&[]), "default dir"),
    ];
    for (mut cmd, what) in cases {
        cmd.env("HOME", &home); // its default audit directory is a regular file
        let script = format!("touch '{}'; exit 7", marker.display());
        let out = run_collect(cmd.args(["sh", "-c", &script]), what);
        assert_refused(&out, "--on-audit-failure open", &marker);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("audit"),
            "{what}"
        );
    }
    let out = run_marking(&under_file, &["--on-audit-failure", "open"], &marker);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "the server's status: {stderr}");
    assert!(marker.exists(), "the server ran");
    assert!(stderr.contains("runs unaudited"), "{stderr}");
}

/// The proxy with `flags`, up to the `--` before the server command.
fn blackbox_with(flags: &[&str]) -> Command {
    let mut cmd = Command::new(blackbox());
    cmd.args(flags)
        .args(["--user", "e2e", "--server-name", "files", "--"]);
    cmd.env_remove("MCP_BLACKBOX_DIR")
        .env_remove("MCP_BLACKBOX_FILE");
    cmd
}

#[test]
fn a_linked_directory_is_resolved_and_its_real_path_recorded() {
    let audit = AuditDir::new();
    let work = tempfile::tempdir().unwrap();
    let link = work.path().join("trail");
    symlink(audit.path(), &link).unwrap();
    let mut client = LineClient::spawn(&mut proxy_command(&link, "files", &[], &[BENCH_SERVER]));
    client.send(&initialize(1, "trail-files"));
    assert_eq!(client.recv()["id"], 1);
    client.close_stdin();
    assert!(client.wait().success());
    let events = audit.events();
    let start = only(&events, "session_start");
    let real = audit.path().canonicalize().unwrap();
    assert_eq!(start["details"]["audit_dir"], real.to_str().unwrap());
}
