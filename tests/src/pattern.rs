//! The deterministic byte stream of the flood server: `A`..`Z` repeated, so
//! it holds no newline and any byte's expected value follows from its offset.

/// Length of one period of the pattern.
pub const PERIOD: usize = 26;

/// The pattern byte at `offset`.
pub fn byte_at(offset: u64) -> u8 {
    b'A' + (offset % PERIOD as u64) as u8
}

/// A buffer of `len + PERIOD` pattern bytes starting at offset 0: the pattern
/// from any offset `o` for `n <= len` bytes is `&buf[o % PERIOD..][..n]`.
pub fn buffer(len: usize) -> Vec<u8> {
    (0..len + PERIOD).map(|i| byte_at(i as u64)).collect()
}

/// Checks a stream chunk by chunk against the pattern.
#[derive(Debug, Default)]
pub struct PatternCheck {
    /// Bytes checked so far.
    pub offset: u64,
    reference: Vec<u8>,
}

impl PatternCheck {
    /// Checks `chunk`, the next bytes of the stream; returns the offset of
    /// the first wrong byte, if any.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), u64> {
        if self.reference.len() < chunk.len() + PERIOD {
            self.reference = buffer(chunk.len());
        }
        let start = (self.offset % PERIOD as u64) as usize;
        let want = &self.reference[start..start + chunk.len()];
        if chunk != want {
            let bad = chunk.iter().zip(want).position(|(a, b)| a != b).unwrap();
            return Err(self.offset + bad as u64);
        }
        self.offset += chunk.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_any_size_check_against_the_pattern() {
        let stream: Vec<u8> = (0..1000u64).map(byte_at).collect();
        let mut check = PatternCheck::default();
        for piece in stream.chunks(7) {
            check.feed(piece).unwrap();
        }
        assert_eq!(check.offset, 1000);
        let mut bad = stream.clone();
        bad[500] = b'\n';
        let mut check = PatternCheck::default();
        let err = bad.chunks(64).try_for_each(|c| check.feed(c)).unwrap_err();
        assert_eq!(err, 500);
    }
}
