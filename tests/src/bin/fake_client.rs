//! A stand-in for an MCP client that starts the proxy and then just holds
//! the pipes, so a test can kill the client and see whether the proxy
//! notices that the only ends of its stdin and stdout are gone.
//!
//! `fake_client --pid-file PATH -- COMMAND [ARGS...]`: spawns COMMAND with
//! piped stdin and stdout (owned by this process only), writes
//! `<own pid> <command pid>` to PATH (atomically, by rename), then waits for
//! signals forever.

use std::process::{Command, Stdio};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: fake_client --pid-file PATH -- COMMAND [ARGS...]";
    let (Some("--pid-file"), Some(pid_file), Some("--")) = (
        args.first().map(String::as_str),
        args.get(1),
        args.get(2).map(String::as_str),
    ) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let command = &args[3..];
    assert!(!command.is_empty(), "{usage}");
    // Never waited for: this process only ever ends by being killed.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawning the command");
    let tmp = format!("{pid_file}.tmp");
    std::fs::write(&tmp, format!("{} {}\n", std::process::id(), child.id()))
        .expect("writing pid file");
    std::fs::rename(&tmp, pid_file).expect("renaming pid file");
    // Hold `child` (and so its pipes) until killed.
    loop {
        // SAFETY: pause(2) only waits for a signal.
        unsafe { libc::pause() };
    }
}
