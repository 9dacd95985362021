//! `relay_threads -- cmd args…`: the bare relay with one blocking thread per
//! direction, the reference the proxy is measured against.
//!
//! No framing, no audit: `read` then `write_all`, on the raw descriptors
//! (no `Stdin`/`Stdout` buffering in between). The child's stderr is
//! inherited. Exits with the child's status once the child has exited and
//! its stdout is drained.

use std::io::{self, Read, Write};
use std::process::{Command, Stdio};

use blackbox_tests::bench::{raw_stdin, raw_stdout, shell_status};

/// Read size of each pump.
const BUFFER: usize = 64 * 1024;

/// Copies `from` to `to` until `from` ends or `to` is closed.
fn pump(mut from: impl Read, mut to: impl Write) {
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

fn main() {
    let command: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
    let Some((program, args)) = command.split_first() else {
        eprintln!("usage: relay_threads -- <command> [args…]");
        std::process::exit(2);
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("relay_threads: cannot start {program}: {e}");
            std::process::exit(127);
        }
    };
    let (to_child, from_child) = (
        child.stdin.take().expect("piped"),
        child.stdout.take().expect("piped"),
    );
    let stdin = raw_stdin().expect("stdin is open");
    let stdout = raw_stdout().expect("stdout is open");
    // Dropping `to_child` when stdin ends closes the child's stdin.
    std::thread::spawn(move || pump(stdin, to_child));
    let downstream = std::thread::spawn(move || pump(from_child, stdout));
    let status = child.wait().map(shell_status).unwrap_or(1);
    let _ = downstream.join();
    // The upstream thread may still be blocked reading our stdin: exit anyway.
    std::process::exit(status);
}
