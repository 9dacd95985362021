//! A result's members found in JSON text already validated (the envelope's
//! parse checked all of it), without decoding it: a long string is passed
//! by `memchr` to its closing quote, where a `serde_json` read tests every
//! byte for a control character, and a walk descends into the values it
//! reads, so each byte is passed once. Anything unexpected gives `None` and
//! the caller reads the result with `serde_json` instead.

/// The end (one past the last byte) of the JSON value that starts at `b[i]`.
pub(super) fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => container_end(b, i),
        _ => {
            let n = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'));
            Some(i + n.unwrap_or(b.len() - i))
        }
    }
}

/// The end of the string whose opening quote is `b[i]`.
pub(in crate::classify) fn string_end(b: &[u8], i: usize) -> Option<usize> {
    string_span(b, i).map(|(end, _)| end)
}

/// The end of the string whose opening quote is `b[i]`, and whether it
/// holds an escape.
pub(in crate::classify) fn string_span(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[j] == b'"' {
            return Some((j + 1, escaped));
        }
        escaped = true;
        j += 2; // the escaped byte cannot close the string
    }
}

/// The end of the object or array that opens at `b[i]`.
pub(in crate::classify) fn container_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = string_end(b, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

pub(in crate::classify) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Walks the items of the array that opens at `text[i]`: `visit` gets where
/// each starts and says where it ends (reading it or passing it by
/// [`value_end`]). The array's end, or `None` if it is not an array.
pub(in crate::classify) fn walk_items(
    text: &str,
    i: usize,
    mut visit: impl FnMut(usize) -> Option<usize>,
) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b']') {
        return Some(j + 1);
    }
    loop {
        j = skip_ws(b, visit(j)?);
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b']' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// Walks the members of the object that opens at `text[i]`: `visit` gets
/// each name as its JSON text (quotes included) and where its value starts,
/// and says where the value ends. The object's end, or `None` if it is not
/// an object.
pub(in crate::classify) fn walk_members<'t>(
    text: &'t str,
    i: usize,
    mut visit: impl FnMut(&'t str, usize) -> Option<usize>,
) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Some(j + 1);
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return None;
        }
        let name_end = string_end(b, j)?;
        let name = text.get(j..name_end)?;
        j = skip_ws(b, name_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(b, visit(name, skip_ws(b, j + 1))?);
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b'}' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// A member's name decoded (`"\u0074ype"` is `type`).
pub(in crate::classify) fn name(quoted: &str) -> Option<std::borrow::Cow<'_, str>> {
    if quoted.contains('\\') {
        serde_json::from_str::<String>(quoted).ok().map(Into::into)
    } else {
        quoted.get(1..quoted.len() - 1).map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each member's or item's text, as a walk passing values whole.
    fn members(text: &str) -> Option<Vec<(&str, &str)>> {
        let mut out = Vec::new();
        let end = walk_members(text, 0, |name, i| {
            let end = value_end(text.as_bytes(), i)?;
            out.push((name, &text[i..end]));
            Some(end)
        })?;
        (end == text.len()).then_some(out)
    }

    fn items(text: &str) -> Option<Vec<&str>> {
        let mut out = Vec::new();
        let end = walk_items(text, 0, |i| {
            let end = value_end(text.as_bytes(), i)?;
            out.push(&text[i..end]);
            Some(end)
        })?;
        (end == text.len()).then_some(out)
    }

    #[test]
    fn members_and_items_split_valid_json() {
        let m = members(r#"{ "a" : [1, {"x":"]}\","}] , "b\u0041":"s\\" ,"c":-1.5e3,"d":null}"#)
            .unwrap();
        let names: Vec<_> = m.iter().map(|(n, _)| name(n).unwrap()).collect();
        assert_eq!(names, ["a", "bA", "c", "d"]);
        assert_eq!(m[0].1, r#"[1, {"x":"]}\","}]"#);
        assert_eq!(m[1].1, r#""s\\""#);
        assert_eq!(m[2].1, "-1.5e3");
        assert_eq!(m[3].1, "null");
        assert_eq!(
            items(r#"[ 1 ,"2",[3],{}]"#).unwrap(),
            ["1", r#""2""#, "[3]", "{}"]
        );
        assert_eq!(items("[]").unwrap(), Vec::<&str>::new());
        assert_eq!(members("{}").unwrap(), vec![]);
        assert!(members("[1]").is_none() && items("{}").is_none());
    }
}
