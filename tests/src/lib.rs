//! Shared helpers of the end-to-end tests and benchmark peers.

pub mod bench;
