//! A tiny tmpfs for the disk-full scenario, unmounted when dropped.
//!
//! As root (here and in CI) the test mounts it itself and the proxy writes
//! into it directly. Where `mount` is not permitted, the proxy runs inside
//! `unshare -rm` behind a shell that mounts the tmpfs in the new mount
//! namespace and, once the proxy has exited, copies the audit directory out
//! (the namespace, and the mount, end with the shell). Either way the fake
//! server (the proxy's child, so inside the namespace) fills and frees the
//! disk: `fake_server mcp --fill-dir <mount>`. `DURABLE_TRAIL_NAMESPACE=1`
//! forces the namespace path, to test it as root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Mounts, runs the proxy, copies the trail out (namespace mode only).
const NAMESPACE_SCRIPT: &str = r#"mnt=$1 size=$2 out=$3; shift 3
mount -t tmpfs -o "size=$size,mode=0700" tmpfs "$mnt" || exit 125
"$@"; status=$?
cp -a "$mnt/audit/." "$out/" || exit 124
exit $status"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Mounted by the test, in the test's own mount namespace.
    Mounted,
    /// Mounted by a shell under `unshare -rm`, around the proxy.
    Namespace,
}

/// A tmpfs of a few hundred KiB holding the audit directory `audit/`.
pub struct SmallDisk {
    mode: Mode,
    size: String,
    mount_point: PathBuf,
    copied_trail: PathBuf,
    _root: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (a `mount -o size=` value, e.g. `512k`).
    pub fn new(size: &str) -> SmallDisk {
        let root = tempfile::Builder::new()
            .prefix("mcp-blackbox-small-disk-")
            .tempdir()
            .expect("temporary directory for the mount point");
        let mount_point = root.path().join("mnt");
        let copied_trail = root.path().join("trail");
        std::fs::create_dir(&mount_point).unwrap();
        std::fs::create_dir(&copied_trail).unwrap();
        let forced = std::env::var_os("DURABLE_TRAIL_NAMESPACE").is_some_and(|v| v == "1");
        let mode = if !forced && mount(&mount_point, size) {
            Mode::Mounted
        } else {
            let ok = Command::new("unshare")
                .args(["-rm", "true"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "neither `mount -t tmpfs` nor `unshare -rm` is permitted here"
            );
            Mode::Namespace
        };
        SmallDisk {
            mode,
            size: size.to_owned(),
            mount_point,
            copied_trail,
            _root: root,
        }
    }

    /// The mount point as the proxy and its server see it.
    pub fn mount_point(&self) -> &Path {
        &self.mount_point
    }

    /// `mcp-blackbox --audit-dir <mount>/audit ARGS -- SERVER...`, run
    /// inside the namespace if need be.
    pub fn proxy_command(&self, args: &[&str], server: &[&str]) -> Command {
        let audit_dir = self.mount_point.join("audit");
        let mut cmd = match self.mode {
            Mode::Mounted => Command::new(blackbox_tests::binary::blackbox()),
            Mode::Namespace => {
                let mut c = Command::new("unshare");
                c.args(["-rm", "sh", "-c", NAMESPACE_SCRIPT, "sh"])
                    .arg(&self.mount_point)
                    .arg(&self.size)
                    .arg(&self.copied_trail)
                    .arg(blackbox_tests::binary::blackbox());
                c
            }
        };
        cmd.arg("--audit-dir")
            .arg(audit_dir)
            .args(args)
            .arg("--")
            .args(server);
        cmd
    }

    /// The audit directory while the session runs, through the mount
    /// namespace of `pid` (the process [`SmallDisk::proxy_command`] started).
    pub fn live_trail(&self, pid: i32) -> PathBuf {
        let inside = self.mount_point.join("audit");
        Path::new(&format!("/proc/{pid}/root")).join(inside.strip_prefix("/").unwrap())
    }

    /// Where the trail can be read once the proxy has exited.
    pub fn trail_after_exit(&self) -> PathBuf {
        match self.mode {
            Mode::Mounted => self.mount_point.join("audit"),
            Mode::Namespace => self.copied_trail.clone(),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mode != Mode::Mounted {
            return;
        }
        let unmounted = Command::new("umount")
            .arg(&self.mount_point)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Something still holds it (a failing test's stray process):
            // detach it now; the kernel frees it when the last user goes.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mount_point)
                .status();
        }
    }
}

fn mount(at: &Path, size: &str) -> bool {
    Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
        ])
        .arg(at)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
