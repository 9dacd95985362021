//! Where the binaries under test live.
//!
//! `CARGO_BIN_EXE_*` only names binaries of the test's own package, and the
//! proxy (`mcp-blackbox`, package `proxy/`) has no library target a
//! dev-dependency could pull in. So the first test that needs it runs
//! `cargo build -p mcp-blackbox` for the same profile and target directory as
//! the running test executable: that is a no-op when the binary is fresh and
//! guarantees the tests never run a stale proxy. `MCP_BLACKBOX_BIN` overrides
//! all of this (for testing an installed binary).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `mcp-blackbox` binary, built fresh for this test run.
///
/// Panics with the build's error if it cannot be built.
pub fn blackbox() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("MCP_BLACKBOX_BIN") {
            return PathBuf::from(p);
        }
        let (target_dir, profile) = target_dir_and_profile();
        build_proxy(&target_dir, &profile);
        let bin = target_dir.join(&profile).join("mcp-blackbox");
        assert!(bin.is_file(), "{} missing after cargo build", bin.display());
        bin
    })
}

/// The target directory and profile directory name of the running test
/// executable, which cargo puts at `<target>/<profile>/deps/<test>-<hash>`.
fn target_dir_and_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("path of the test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps/");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("profile directory name")
        .to_owned();
    let target = profile_dir.parent().expect("target directory").to_owned();
    (target, profile)
}

fn build_proxy(target_dir: &Path, profile_dir: &str) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // The `dev` and `test` profiles both build into `debug/`.
    let profile = match profile_dir {
        "debug" => "dev",
        other => other,
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proxy/Cargo.toml");
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--bin",
            "mcp-blackbox",
            "--profile",
            profile,
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("running cargo build for mcp-blackbox");
    assert!(
        status.success(),
        "cargo build -p mcp-blackbox failed: {status}"
    );
}
