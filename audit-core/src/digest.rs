//! The one digest the trail uses, with no dependency of its own: events
//! (which digest what they leave out) and the stamper (which chains lines)
//! both use it, and neither depends on the other for it.

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`, as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
