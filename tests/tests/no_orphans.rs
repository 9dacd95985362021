//! However a session ends, no process of
//! the server's tree is left behind.
//!
//! The server is a chain like the `sh -c 'node server.js'` of real client
//! configs: an `sh` that runs a grandchild shell script which ignores SIGTERM
//! (and so does its `sleep`, which inherits the ignored disposition) and
//! never reads stdin. Each writes its pid file once running. The session is
//! then ended three ways: (a) the client closes stdin, (b) SIGTERM to the
//! proxy, (c) SIGKILL to the client process that started the proxy (a small
//! `fake_client` that alone holds the proxy's pipes). Afterwards the proxy,
//! the `sh` and the grandchild must all be gone, checked by pid and by the
//! grandchild's process group, never by name.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use blackbox_tests::audit::{only, AuditDir};
use blackbox_tests::binary::blackbox;
use blackbox_tests::process::{
    live_in_group, pgid, read_pid_file, signal, wait_exit, wait_gone, wait_until,
};

const FAKE_CLIENT: &str = env!("CARGO_BIN_EXE_fake_client");

/// Ignores SIGTERM and stdin EOF; writes its pid file, then sleeps forever.
const STUBBORN: &str = r#"trap '' TERM
echo $$ > "$1.tmp" && mv "$1.tmp" "$1"
while :; do sleep 1; done
"#;

/// The proxy command line (grace periods kept short) and the two pid files.
struct Tree {
    work: tempfile::TempDir,
    audit: AuditDir,
}

impl Tree {
    fn new() -> Tree {
        let work = tempfile::tempdir().unwrap();
        std::fs::write(work.path().join("stubborn.sh"), STUBBORN).unwrap();
        Tree {
            work,
            audit: AuditDir::new(),
        }
    }

    fn pid_file(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn proxy_args(&self) -> Vec<String> {
        let p = |s: &Path| s.to_str().unwrap().to_owned();
        // The intermediate sh keeps running the script as a real child
        // (`; exit $?` stops it from exec-ing the last command).
        let script = r#"echo $$ > "$0.tmp" && mv "$0.tmp" "$0"; sh "$1" "$2"; exit $?"#;
        vec![
            p(blackbox()),
            "--audit-dir".into(),
            p(self.audit.path()),
            "--server-name".into(),
            "orphans".into(),
            "--grace-ms".into(),
            "200".into(),
            "--kill-grace-ms".into(),
            "200".into(),
            "--".into(),
            "sh".into(),
            "-c".into(),
            script.into(),
            p(&self.pid_file("child.pid")),
            p(&self.pid_file("stubborn.sh")),
            p(&self.pid_file("grandchild.pid")),
        ]
    }

    /// Waits until both the child and the grandchild run; returns their pids.
    fn running(&self) -> (i32, i32) {
        let child = read_pid_file(&self.pid_file("child.pid"));
        let grandchild = read_pid_file(&self.pid_file("grandchild.pid"));
        (child, grandchild)
    }

    /// Checks that nothing of the tree is left, once the proxy has exited.
    fn check_gone(&self, proxy: i32, child: i32, grandchild: i32, group: Option<i32>) {
        wait_gone(proxy, "the proxy");
        // Everything below is ended by the proxy before it exits; polling
        // only absorbs the kernel's asynchronous delivery of SIGKILL.
        wait_gone(child, "the server's sh");
        wait_gone(grandchild, "the grandchild ignoring SIGTERM");
        let ours = pgid(std::process::id() as i32);
        if let Some(g) = group.filter(|g| Some(*g) != ours) {
            wait_until(&format!("process group {g} to be empty"), || {
                live_in_group(g).is_empty()
            });
        }
        let events = self.audit.events();
        only(&events, "session_end");
    }
}

#[test]
fn client_closing_stdin_leaves_no_process() {
    let tree = Tree::new();
    let args = tree.proxy_args();
    let mut proxy = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (child, grandchild) = tree.running();
    let group = pgid(grandchild);
    drop(proxy.stdin.take());
    wait_exit(&mut proxy, "proxy after stdin EOF");
    tree.check_gone(proxy.id() as i32, child, grandchild, group);
}

#[test]
fn sigterm_to_the_proxy_leaves_no_process() {
    let tree = Tree::new();
    let args = tree.proxy_args();
    let mut proxy = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (child, grandchild) = tree.running();
    let group = pgid(grandchild);
    signal(proxy.id() as i32, libc::SIGTERM);
    wait_exit(&mut proxy, "proxy after SIGTERM");
    tree.check_gone(proxy.id() as i32, child, grandchild, group);
}

#[test]
fn sigkill_of_the_client_leaves_no_process() {
    let tree = Tree::new();
    let client_pids = tree.pid_file("client.pid");
    let mut client = Command::new(FAKE_CLIENT)
        .arg("--pid-file")
        .arg(&client_pids)
        .arg("--")
        .args(tree.proxy_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (child, grandchild) = tree.running();
    let group = pgid(grandchild);
    wait_until("the client's pid file", || client_pids.exists());
    let pids = std::fs::read_to_string(&client_pids).unwrap();
    let proxy: i32 = pids.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(
        client.id() as i32,
        pids.split_whitespace()
            .next()
            .unwrap()
            .parse::<i32>()
            .unwrap()
    );

    signal(client.id() as i32, libc::SIGKILL);
    wait_exit(&mut client, "the fake client after SIGKILL");
    tree.check_gone(proxy, child, grandchild, group);
}
