//! The id of a frame the gate refuses without reading it whole (not strict
//! JSON, over the parse limit): scanned from the frame's beginning, so the
//! client's request gets an error instead of hanging.
//!
//! The scan walks the members of a top-level object, skipping values by
//! bracket and string matching without recursion, and stops at the first
//! byte it does not expect. An id is returned only if its own bytes are a
//! strict JSON string or number (so the reply is well formed); the last `id`
//! member seen wins, as in the SDKs' parsers.

use serde_json::Value;

/// The raw bytes of the top-level `id` member found in `prefix`, if one can be
/// read safely before the scan stops.
pub fn id(prefix: &[u8]) -> Option<&[u8]> {
    let mut s = Scan { b: prefix, i: 0 };
    let mut found = None;
    let _ = s.members(|key, raw| {
        if key == b"\"id\"" || decodes_to_id(key) {
            found = valid_id(raw).or(found);
        }
    });
    found
}

fn decodes_to_id(key: &[u8]) -> bool {
    key.contains(&b'\\') && serde_json::from_slice::<String>(key).is_ok_and(|k| k == "id")
}

/// `raw` if it is a strict JSON string or number.
fn valid_id(raw: &[u8]) -> Option<&[u8]> {
    match serde_json::from_slice::<Value>(raw).ok()? {
        Value::String(_) | Value::Number(_) => Some(raw),
        _ => None,
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// A string, quotes included.
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        self.eat(b'"')?;
        loop {
            match self.next()? {
                b'"' => return Some(&self.b[start..self.i]),
                b'\\' => {
                    self.next()?;
                }
                _ => {}
            }
        }
    }

    /// Walks the members of a top-level object until the scan stops,
    /// handing each key (quotes included) and raw value to `member`.
    fn members(&mut self, mut member: impl FnMut(&'a [u8], &'a [u8])) -> Option<()> {
        self.ws();
        self.eat(b'{')?;
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let start = self.i;
            self.value()?;
            member(key, &self.b[start..self.i]);
            self.ws();
            if self.next()? != b',' {
                return Some(());
            }
        }
    }

    /// Skips one value of any kind.
    fn value(&mut self) -> Option<()> {
        match *self.b.get(self.i)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => self.nested(),
            _ => self.scalar(),
        }
    }

    /// Skips an array or object by bracket counting, strings aside.
    fn nested(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth -= 1,
                _ => {}
            }
            self.i += 1;
            if depth == 0 {
                return Some(());
            }
        }
    }

    /// Skips a number or literal; one cut short by the end is not read.
    fn scalar(&mut self) -> Option<()> {
        let start = self.i;
        while !matches!(
            self.b.get(self.i)?,
            b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
        ) {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_top_level_id_wherever_it_is() {
        assert_eq!(
            id(br#"{"jsonrpc":"2.0","id":7,"method":"x"}"#),
            Some(&b"7"[..])
        );
        assert_eq!(id(br#"{"id":"a\"b","method":"#), Some(&br#""a\"b""#[..]));
        assert_eq!(
            id(br#" { "method" : "tools/call", "params": {"id": 1, "a": [1, {"id": 2}]}, "id" : 3 }"#),
            Some(&b"3"[..])
        );
        assert_eq!(id(br#"{"\u0069d":4,"x":NaN}"#), Some(&b"4"[..]));
        assert_eq!(id(br#"{"id":1,"id":2}"#), Some(&b"2"[..]));
        // Cut short after the id: still read.
        assert_eq!(
            id(br#"{"id":9,"params":{"arguments":{"pad":"xxxx"#),
            Some(&b"9"[..])
        );
    }

    #[test]
    fn unsafe_ids_are_not_read() {
        assert_eq!(id(br#"{"method":"x","params":{"pad":"xxxx"#), None);
        assert_eq!(id(br#"{"id":NaN}"#), None);
        assert_eq!(id(br#"{"id":"\ud800"}"#), None);
        assert_eq!(id(br#"{"id":{"a":1}}"#), None);
        assert_eq!(id(br#"{"id":null}"#), None);
        assert_eq!(id(br#"[{"id":1}]"#), None);
        assert_eq!(id(b"{\"id\":\"\xff\"}"), None);
        // The value is cut short: not an id.
        assert_eq!(id(br#"{"id":12"#), None);
        assert_eq!(id(br#"{"id":"abc"#), None);
    }
}
