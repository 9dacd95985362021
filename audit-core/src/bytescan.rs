//! Counting the bytes of a slice that pass a test, in blocks the compiler
//! vectorises: a long payload's token count (the parse estimate) and a long
//! string's char count (truncation) are paid on every event that holds one.

/// Bytes per block: each block's count fits the `u8` it is summed in.
const BLOCK: usize = 128;

/// How many bytes of `bytes` pass `test` (a branch-free test vectorises).
pub(crate) fn count_where(bytes: &[u8], test: impl Fn(u8) -> bool) -> usize {
    let one = |b: u8| u8::from(test(b));
    let blocks = bytes.chunks_exact(BLOCK);
    let rest: usize = blocks
        .remainder()
        .iter()
        .map(|&b| usize::from(one(b)))
        .sum();
    blocks
        .map(|block| usize::from(block.iter().fold(0u8, |n, &b| n + one(b))))
        .sum::<usize>()
        + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_passing_byte_at_any_length() {
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            let slow = bytes.iter().filter(|&&b| b < 3).count();
            assert_eq!(count_where(&bytes, |b| b < 3), slow, "length {len}");
        }
        assert_eq!(
            count_where(&[0; BLOCK], |_| true),
            BLOCK,
            "a whole block fits the u8"
        );
    }
}
