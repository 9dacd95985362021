//! Fuzzes the classifier with arbitrary frames in both directions: no panic,
//! and every trail line one clean JSON object (`classify::selfcheck`).
//!
//! Input: frames separated by `\n`; a frame's first byte picks its direction
//! (even: client to server) and the rest is the frame.
//!
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run classify -- -max_total_time=60`

#![no_main]

use audit_core::event::Direction;
use audit_core::stages::selfcheck::{line_fault, trail_of};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frames: Vec<(Direction, &[u8])> = data
        .split(|&b| b == b'\n')
        .filter_map(|f| {
            let (first, rest) = f.split_first()?;
            let dir = if first % 2 == 0 {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
            Some((dir, rest))
        })
        .collect();
    for line in trail_of(&frames) {
        if let Some(fault) = line_fault(&line) {
            panic!("{fault}");
        }
    }
});
