//! One client→server frame read strictly in a single pass, keeping only what
//! the gate judges: the method, the id, and a call's tool name and arguments.
//!
//! Everything else is visited and validated (strings decoded, numbers
//! converted) but not kept, so a frame costs one pass and almost no
//! allocation. A plain frame (no escapes, only short integers: what clients
//! write) is read first by the cheaper [`super::plain`] reader, which hands
//! every other frame back to this one. The strictness and the nesting limit are `serde_json`'s, as
//! in [`super::strict`]; a repeated member counts once, the last one, as in
//! the SDKs' parsers.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::strict::{self, Unjudgeable};

/// What the gate keeps of one message.
#[derive(Debug, Default)]
pub(super) struct Request<'a> {
    /// `None`: absent, or not a string.
    pub method: Option<Cow<'a, str>>,
    pub id: Option<Value>,
    pub params: Params<'a>,
}

/// A message's `params`.
#[derive(Debug, Default)]
pub(super) enum Params<'a> {
    #[default]
    Absent,
    NotAnObject,
    Object {
        /// `None`: absent, or not a string.
        name: Option<Cow<'a, str>>,
        /// Kept only when asked for (some rule reads arguments).
        arguments: Option<Value>,
    },
}

/// A frame: one message, a batch of them, or another JSON value.
#[derive(Debug)]
pub(super) enum Frame<'a> {
    One(Request<'a>),
    Batch(Vec<Frame<'a>>),
    Other,
}

/// Reads `frame` (without its `\n`) strictly; `arguments`: keep a call's
/// arguments.
pub(super) fn read(frame: &[u8], arguments: bool) -> Result<Frame<'_>, Unjudgeable> {
    let text = strict::text(frame)?;
    match super::plain::read(text, arguments) {
        Some(plain) => Ok(plain),
        None => read_fully(text, arguments),
    }
}

/// Reads `text` with `serde_json`, escapes decoded and every number
/// converted: the reader that decides about every frame that is not plain.
pub(super) fn read_fully(text: &str, arguments: bool) -> Result<Frame<'_>, Unjudgeable> {
    let mut de = serde_json::Deserializer::from_str(text);
    let read = FrameSeed { arguments }
        .deserialize(&mut de)
        .and_then(|f| de.end().map(|()| f));
    read.map_err(|e| strict::unjudgeable(&e))
}

/// The visits of booleans, numbers and null for a visitor that reads them
/// all as `$value` (each visitor spells its own `visit_str`).
macro_rules! scalars_as {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

#[derive(Clone, Copy)]
struct FrameSeed {
    arguments: bool,
}

impl<'de> DeserializeSeed<'de> for FrameSeed {
    type Value = Frame<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Frame<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FrameSeed {
    type Value = Frame<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Frame<'de>, A::Error> {
        let mut request = Request::default();
        while let Some(Text(Some(key))) = map.next_key::<Text>()? {
            match &*key {
                "method" => request.method = map.next_value::<Text>()?.0,
                "id" => request.id = Some(map.next_value()?),
                "params" => request.params = map.next_value_seed(ParamsSeed(self.arguments))?,
                _ => map.next_value::<Strict>().map(|_| ())?,
            }
        }
        Ok(Frame::One(request))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Frame<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Frame::Batch(items))
    }

    scalars_as!(Frame::Other);
    fn visit_str<E>(self, _: &str) -> Result<Frame<'de>, E> {
        Ok(Frame::Other)
    }
}

struct ParamsSeed(bool);

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = Params<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Params<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ParamsSeed {
    type Value = Params<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("params")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params<'de>, A::Error> {
        let (mut name, mut arguments) = (None, None);
        while let Some(Text(Some(key))) = map.next_key::<Text>()? {
            match &*key {
                "name" => name = map.next_value::<Text>()?.0,
                "arguments" if self.0 => arguments = Some(map.next_value()?),
                _ => map.next_value::<Strict>().map(|_| ())?,
            }
        }
        Ok(Params::Object { name, arguments })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Params<'de>, A::Error> {
        Strict.visit_seq(seq).map(|_| Params::NotAnObject)
    }
    scalars_as!(Params::NotAnObject);
    fn visit_str<E>(self, _: &str) -> Result<Params<'de>, E> {
        Ok(Params::NotAnObject)
    }
}

/// A string member, kept; any other value is validated and read as `None`.
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de> serde::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Borrowed(s))))
    }
    fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(s.to_owned()))))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
        Strict.visit_map(map).map(|_| Text(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
        Strict.visit_seq(seq).map(|_| Text(None))
    }
    scalars_as!(Text(None));
}

/// Any value, validated as `serde_json` reads it into a `Value` (escapes
/// decoded, lone surrogates and out-of-range numbers refused), not kept.
/// (`IgnoredAny` alone skips strings and numbers without converting them.)
struct Strict;

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Strict)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        while map.next_key::<Strict>()?.is_some() {
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }
    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }
    scalars_as!(Strict);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(frame: &str, arguments: bool) -> Request<'_> {
        match read(frame.as_bytes(), arguments) {
            Ok(Frame::One(r)) => r,
            other => panic!("{frame}: {other:?}"),
        }
    }

    #[test]
    fn keeps_the_last_method_name_and_arguments() {
        let r = one(
            r#"{"method":"ping","id":"a","method":"tools\/call","params":{"name":"x","arguments":{"p":1},"name":"\u0079"}}"#,
            true,
        );
        assert_eq!(r.method.as_deref(), Some("tools/call"));
        assert_eq!(r.id, Some(Value::from("a")));
        let Params::Object { name, arguments } = r.params else {
            panic!("params")
        };
        assert_eq!(name.as_deref(), Some("y"));
        assert_eq!(arguments, Some(serde_json::json!({"p": 1})));
        let r = one(r#"{"method":5,"params":[1]}"#, false);
        assert!(r.method.is_none());
        assert!(matches!(r.params, Params::NotAnObject));
        let r = one(r#"{"params":{"name":7,"arguments":{}}}"#, false);
        assert!(matches!(
            r.params,
            Params::Object {
                name: None,
                arguments: None
            }
        ));
    }

    #[test]
    fn members_not_kept_are_still_read_strictly() {
        for frame in [
            r#"{"x":1e400,"method":"ping"}"#,
            r#"{"x":["\ud800"],"method":"ping"}"#,
            r#"{"\udc00":1}"#,
            r#"{"params":{"other":{"a":-1e400}}}"#,
            r#"{"params":{"arguments":{"a":"\ud800"}}}"#,
            r#"{"method":{"a":NaN}}"#,
            r#"[{"id":1},{"x":1e999}]"#,
            r#"{"id":1} x"#,
        ] {
            assert_eq!(
                read(frame.as_bytes(), false).unwrap_err(),
                Unjudgeable::NotStrictJson,
                "{frame}"
            );
        }
        let deep = format!(r#"{{"params":{{"arguments":{}}}}}"#, "[".repeat(200));
        assert_eq!(
            read(deep.as_bytes(), false).unwrap_err(),
            Unjudgeable::TooDeep
        );
        assert!(matches!(read(b"[1,{\"id\":2}]", false), Ok(Frame::Batch(v)) if v.len() == 2));
        assert!(matches!(read(b"\"tools\"", false), Ok(Frame::Other)));
    }
}
