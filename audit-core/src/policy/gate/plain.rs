//! The quick read of a plain frame: one JSON object whose strings hold no
//! escape and no control character, whose numbers are short integers, and
//! whose only whitespace is spaces — what clients write. Such a frame reads
//! the same in every parser, so checking its grammar is enough to judge it;
//! strings are found with `memchr` and borrowed, nothing is decoded.
//!
//! Anything else (an escape, a fraction or exponent, a long number, a tab, a
//! batch, nesting deeper than [`MAX_DEPTH`], a grammar error) makes
//! [`read`] answer `None`, and the frame is read by [`super::message`]'s full
//! strict reader, which decides. So this path only ever accepts what that
//! reader accepts, with the same members kept (the last duplicate wins).

use std::borrow::Cow;

use memchr::memchr2;
use serde_json::Value;

use super::message::{Frame, Params, Request};
use super::strict::MAX_DEPTH;

/// `text` (valid UTF-8, no line separator) read as a plain frame, or `None`
/// when it is not one. `arguments`: keep a call's arguments.
pub(super) fn read(text: &str, arguments: bool) -> Option<Frame<'_>> {
    let mut p = Plain { text, i: 0 };
    p.ws();
    let request = p.request(arguments)?;
    p.ws();
    (p.i == text.len()).then_some(Frame::One(request))
}

/// Integers up to this many digits fit an `i64`/`u64`, as `serde_json`
/// reads them; longer ones are left to it.
const MAX_DIGITS: usize = 18;

/// Bytes of a string scanned one by one before `memchr2` takes over.
const SHORT: usize = 16;

struct Plain<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Plain<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.i += 1)
    }

    fn ws(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    /// The top-level object, keeping what the gate judges.
    fn request(&mut self, arguments: bool) -> Option<Request<'a>> {
        let mut request = Request::default();
        let mut id = None;
        self.members(1, |p, key| {
            match key {
                "method" => request.method = p.text_value(2)?,
                "id" => id = Some(p.raw_value(2)?),
                "params" => request.params = p.params(arguments)?,
                _ => p.value(2)?,
            }
            Some(())
        })?;
        if let Some(raw) = id {
            request.id = Some(serde_json::from_str(raw).ok()?);
        }
        Some(request)
    }

    /// A message's `params`, at depth 2.
    fn params(&mut self, arguments: bool) -> Option<Params<'a>> {
        if self.peek()? != b'{' {
            self.value(2)?;
            return Some(Params::NotAnObject);
        }
        let (mut name, mut raw_arguments) = (None, None);
        self.members(2, |p, key| {
            match key {
                "name" => name = p.text_value(3)?,
                "arguments" if arguments => raw_arguments = Some(p.raw_value(3)?),
                _ => p.value(3)?,
            }
            Some(())
        })?;
        let arguments = match raw_arguments {
            Some(raw) => Some(serde_json::from_str::<Value>(raw).ok()?),
            None => None,
        };
        Some(Params::Object { name, arguments })
    }

    /// An object at `depth`, handing each key to `member`, which reads the
    /// value.
    fn members(
        &mut self,
        depth: usize,
        mut member: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.items([b'{', b'}'], depth, |p| {
            let key = p.string()?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            member(p, key)
        })
    }

    /// An array at `depth`.
    fn elements(&mut self, depth: usize) -> Option<()> {
        self.items([b'[', b']'], depth, |p| p.value(depth + 1))
    }

    /// An object or array at `depth` between `open` and `close`, each of its
    /// comma-separated items read by `item`.
    fn items(
        &mut self,
        [open, close]: [u8; 2],
        depth: usize,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(open)?;
        self.ws();
        if self.eat(close).is_some() {
            return Some(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
            self.ws();
        }
    }

    /// A value at `depth` that is kept if it is a string.
    fn text_value(&mut self, depth: usize) -> Option<Option<Cow<'a, str>>> {
        if self.peek()? == b'"' {
            return Some(Some(Cow::Borrowed(self.string()?)));
        }
        self.value(depth).map(|()| None)
    }

    /// A value at `depth`, as its text.
    fn raw_value(&mut self, depth: usize) -> Option<&'a str> {
        let start = self.i;
        self.value(depth)?;
        Some(&self.text[start..self.i])
    }

    /// Any plain value at `depth` (objects and arrays count one more).
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.members(depth, |p, _| p.value(depth + 1)),
            b'[' => self.elements(depth),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.integer(),
        }
    }

    /// A string without escapes or control characters: its content.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let rest = &self.text.as_bytes()[start..];
        // Keys and names are short: a byte loop finds their end sooner than
        // `memchr2` is set up; long values are left to `memchr2`.
        let head = rest.len().min(SHORT);
        let len = match rest[..head]
            .iter()
            .position(|&b| matches!(b, b'"' | b'\\' | ..0x20))
        {
            Some(end) => end,
            None => head + memchr2(b'"', b'\\', &rest[head..])?,
        };
        if rest[len] != b'"' || has_control(&rest[SHORT.min(len)..len]) {
            return None;
        }
        self.i = start + len + 1;
        // Both ends are ASCII quotes, so they are character boundaries.
        self.text.get(start..start + len)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.i + word.len();
        (self.text.as_bytes().get(self.i..end)? == word.as_bytes()).then(|| self.i = end)
    }

    /// `-?(0|[1-9][0-9]*)` of at most [`MAX_DIGITS`] digits, not followed by
    /// a fraction or exponent.
    fn integer(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        if self.peek()? == b'-' {
            self.i += 1;
        }
        let start = self.i;
        while bytes.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        let digits = self.i - start;
        let leading_zero = digits > 1 && bytes[start] == b'0';
        if digits == 0 || digits > MAX_DIGITS || leading_zero {
            return None;
        }
        match bytes.get(self.i) {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(()),
        }
    }
}

/// Whether `bytes` holds a control character (U+0000 to U+001F), which a
/// JSON string may not hold raw. Written as a fold so that it vectorises.
fn has_control(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |seen, &b| seen | (b < 0x20))
}

#[cfg(test)]
mod tests;
