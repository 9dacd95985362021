//! `peak_rss OUT -- CMD [ARGS...]`: runs CMD on this process's stdin, stdout
//! and stderr, waits for it, writes its peak RSS in KiB (`ru_maxrss` from
//! `wait4(2)`) to the file OUT, and exits with its exit code.
//!
//! Why a go-between: a child spawned straight from a test inherits, at
//! `exec`, the test process's own high-water RSS in `ru_maxrss` (the kernel
//! carries the old address space's peak over), so a busy test process
//! would be counted as the proxy's peak. This small process's peak is what
//! its child inherits instead: a few MiB.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, cmd) = match args.split_first() {
        Some((out, rest)) if rest.first().map(String::as_str) == Some("--") && rest.len() > 1 => {
            (out.clone(), &rest[1..])
        }
        _ => {
            eprintln!("usage: peak_rss OUT -- CMD [ARGS...]");
            std::process::exit(2);
        }
    };
    let child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", cmd[0]));
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; `pid` is our unreaped child.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    std::fs::write(&out, usage.ru_maxrss.to_string()).expect("writing the peak");
    let status = std::process::ExitStatus::from_raw(status);
    std::process::exit(status.code().unwrap_or(128 + status.signal().unwrap_or(0)));
}
