//! The MCP lines of the benchmark, byte for byte.
//!
//! The bench server writes its answers with these functions and loadgen
//! builds the lines it expects with the same ones, so a correct relay is
//! checked with a `memcmp`; a relay that re-serialises (but keeps meaning) is
//! still accepted by the slower semantic check in [`crate::bench::check`].

/// Protocol revision the benchmark speaks (handshake era).
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// The characters blob content cycles through.
const BLOB_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The text of a `blob` result of `size` bytes: the alphabet, repeated. Every
/// byte is plain ASCII, so it is its own JSON string encoding.
pub fn blob_text(size: usize) -> Vec<u8> {
    BLOB_ALPHABET.iter().copied().cycle().take(size).collect()
}

/// The text loadgen sends to `echo` for call `id`, `len` bytes long (at least
/// long enough to hold the id, so every call's content differs).
pub fn echo_text(id: u64, len: usize) -> String {
    let mut text = format!("call-{id}-");
    let fill = len.saturating_sub(text.len());
    text.extend(BLOB_ALPHABET.iter().cycle().take(fill).map(|&b| b as char));
    text
}

/// The start of a text result line up to the opening quote of the text.
pub fn text_result_prefix(id: u64) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":"
    )
}

/// What follows the text's closing quote, newline included.
pub const TEXT_RESULT_SUFFIX: &[u8] = b"]}}\n";

/// A complete text result line (newline included) with `text` JSON-encoded.
pub fn text_result(id: u64, text: &str) -> Vec<u8> {
    let mut line = text_result_prefix(id).into_bytes();
    serde_json::to_writer(&mut line, text).expect("a string always serialises");
    line.extend_from_slice(b"}");
    line.extend_from_slice(TEXT_RESULT_SUFFIX);
    line
}

/// `initialize` request line.
pub fn initialize_request(id: u64) -> Vec<u8> {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"{PROTOCOL_VERSION}\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"loadgen\",\"version\":\"0.1.0\"}}}}}}\n"
    )
    .into_bytes()
}

/// `notifications/initialized` line.
pub fn initialized_notification() -> &'static [u8] {
    b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
}

/// `tools/list` request line.
pub fn tools_list_request(id: u64) -> Vec<u8> {
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/list\"}}\n").into_bytes()
}

/// `tools/call` of `echo` with `text`, appended to `out`.
pub fn echo_request(id: u64, text: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(
        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"text\":").as_bytes(),
    );
    serde_json::to_writer(&mut *out, text).expect("a string always serialises");
    out.extend_from_slice(b"}}}\n");
}

/// `tools/call` of `blob` for `size` bytes.
pub fn blob_request(id: u64, size: usize) -> Vec<u8> {
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"blob\",\"arguments\":{{\"size\":{size}}}}}}}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_line_is_one_json_object() {
        let mut echo = Vec::new();
        echo_request(3, "a\"b", &mut echo);
        let lines = [
            initialize_request(1),
            initialized_notification().to_vec(),
            tools_list_request(2),
            echo,
            blob_request(4, 10),
            text_result(5, "x\ny"),
        ];
        for line in lines {
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            assert_eq!(line.last(), Some(&b'\n'));
            let v: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(v["jsonrpc"], "2.0");
        }
    }

    #[test]
    fn text_result_carries_id_and_text() {
        let v: Value = serde_json::from_slice(&text_result(9, "hé\"")).unwrap();
        assert_eq!(v["id"], 9);
        assert_eq!(v["result"]["content"][0]["text"], "hé\"");
    }

    #[test]
    fn blob_and_echo_texts_have_the_asked_length() {
        assert_eq!(blob_text(100).len(), 100);
        assert_eq!(&blob_text(12)[..], b"0123456789ab");
        assert_eq!(echo_text(7, 64).len(), 64);
        assert!(echo_text(123456, 4).starts_with("call-123456-"));
        assert_ne!(echo_text(1, 64), echo_text(2, 64));
    }
}
