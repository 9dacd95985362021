//! `relay_tokio -- cmd args…`: the bare relay as two `tokio::io::copy` pumps
//! over `tokio::io::stdin`/`stdout`, the second reference of the benchmarks.
//!
//! Tokio's stdio goes through its blocking thread pool; this relay exists to
//! measure what that costs against `relay_threads`. Exits with the child's
//! status once the child has exited and its stdout is drained.

use std::process::Stdio;

use blackbox_tests::bench::shell_status;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let command: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
    let Some((program, args)) = command.split_first() else {
        eprintln!("usage: relay_tokio -- <command> [args…]");
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
            eprintln!("relay_tokio: cannot start {program}: {e}");
            std::process::exit(127);
        }
    };
    let mut to_child = child.stdin.take().expect("piped");
    let mut from_child = child.stdout.take().expect("piped");
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut to_child).await;
        let _ = to_child.shutdown().await;
    });
    let mut stdout = tokio::io::stdout();
    let _ = tokio::io::copy(&mut from_child, &mut stdout).await;
    let _ = stdout.flush().await;
    let status = child.wait().await.map(shell_status).unwrap_or(1);
    // tokio's stdin reader may still be blocked on a pool thread: exit now
    // rather than wait for it in the runtime's shutdown.
    std::process::exit(status);
}
