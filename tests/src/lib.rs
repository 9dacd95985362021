//! Shared helpers of the end-to-end tests and benchmark peers.
//!
//! The scenarios in `tests/tests/` drive the real `mcp-blackbox` binary. What
//! they share lives here, one concern per module:
//! - [`binary`]: where the binaries under test are (and building the proxy);
//! - [`client`]: a line-based client driving one proxy process;
//! - [`audit`]: a private audit directory per test and reading its events;
//! - [`process`]: waiting for processes, pid files and process liveness;
//! - [`cdp`]: headless Chromium over the DevTools protocol (the HTML report test);
//! - [`collectors`]: rsyslog and rotel, the real collectors of the forwarding tests;
//! - [`trail_gen`]: a deterministic audit trail, written by the real stamper and writer;
//! - [`peers`]: the pinned real MCP peers installed by `scripts/install-peers.sh`;
//! - [`pattern`]: the deterministic byte stream the flood server writes;
//! - [`oracle`]: the lenient readers and the gate of the gate's fuzz tests;
//! - [`bench`]: the benchmark peers (loadgen, bench server, relays, report).

pub mod audit;
pub mod bench;
pub mod binary;
pub mod cdp;
pub mod client;
pub mod collectors;
pub mod oracle;
pub mod pattern;
pub mod peers;
pub mod process;
pub mod trail_gen;
pub mod trail_plant;

use std::time::Duration;

/// How long any single wait in a scenario may take before the test fails.
/// Generous on purpose: the tests synchronise on events, and this bound only
/// turns a hang into a failure on a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(30);
