//! Objects read member by member, as the peers read them.
//!
//! A derived `Deserialize` refuses an object that repeats a member, and
//! reads a JSON array into a struct by position. The peers do neither:
//! Python's `json` and JavaScript's `JSON.parse` keep the last of a repeated
//! member, and MCP params are objects. Refusing cost the trail the very
//! events it exists for (a request with two `method` members was a
//! `protocol_violation`, a call with two `name` members a `tool_call`
//! without its tool, while the server ran the last), and the policy gate,
//! which reads a map, already kept the last. [`members!`] declares a struct
//! whose `Deserialize` reads an object only, keeps the last of each member
//! it names, and skips the others unread.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// How a member's value is read into a field of its type.
pub(crate) trait Member<'de>: Sized {
    fn read<A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error>;
}

/// Any JSON; `null` is `None`.
impl<'de: 'a, 'a> Member<'de> for Option<&'a RawValue> {
    fn read<A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        map.next_value::<Option<&'de RawValue>>()
    }
}

/// A string, borrowed from the frame unless it holds escapes; `null` is
/// `None`, another kind of value an error.
impl<'de: 'a, 'a> Member<'de> for Option<Cow<'a, str>> {
    fn read<A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        Ok(map.next_value::<Option<Text<'de>>>()?.map(|t| t.0))
    }
}

/// A string; `null` is `None`, another kind of value an error.
impl<'de> Member<'de> for Option<String> {
    fn read<A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        map.next_value()
    }
}

/// A list of any JSON values.
impl<'de: 'a, 'a> Member<'de> for Vec<&'a RawValue> {
    fn read<A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        map.next_value::<Vec<&'de RawValue>>()
    }
}

/// A string read without a copy when it can be.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor).map(Text)
    }
}

/// A member's name: borrowed from the frame unless it holds escapes (then
/// decoded, so `"n\u0061me"` is `name`, as for the peers).
pub(crate) struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(TextVisitor).map(Key)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// Declares a struct read from a JSON object by [`Member`]s: each field
/// with `= "name"` holds the last member of that name, fields without one
/// keep their default, other members are skipped. Not an object: an error.
macro_rules! members {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident<$lt:lifetime> {
            $(
                $(#[$field_attr:meta])*
                $field_vis:vis $field:ident: $ty:ty $(= $key:literal)?,
            )*
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Default)]
        $vis struct $name<$lt> {
            $($(#[$field_attr])* $field_vis $field: $ty,)*
        }

        impl<'de: $lt, $lt> serde::Deserialize<'de> for $name<$lt> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Fields<$lt>(std::marker::PhantomData<&$lt ()>);

                impl<'de: $lt, $lt> serde::de::Visitor<'de> for Fields<$lt> {
                    type Value = $name<$lt>;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a JSON object")
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Self::Value, A::Error> {
                        use $crate::classify::members::{Key, Member};
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<Key<'de>>()? {
                            match key.as_str() {
                                $($($key => out.$field = Member::read(&mut map)?,)?)*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }

                d.deserialize_map(Fields(std::marker::PhantomData))
            }
        }
    };
}
pub(crate) use members;

#[cfg(test)]
mod tests {
    use super::*;

    members! {
        struct Probe<'a> {
            name: Option<Cow<'a, str>> = "name",
            raw: Option<&'a RawValue> = "raw",
            list: Vec<&'a RawValue> = "list",
            unread: Option<String>,
        }
    }

    fn probe(text: &str) -> Option<Probe<'_>> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn the_last_of_a_repeated_member_wins() {
        let p = probe(r#"{"name":"a","raw":1,"name":"b","raw":{"x":[2]}}"#).unwrap();
        assert_eq!(p.name.as_deref(), Some("b"));
        assert_eq!(p.raw.unwrap().get(), r#"{"x":[2]}"#);
    }

    #[test]
    fn names_and_strings_are_decoded_and_borrowed_when_plain() {
        let p =
            probe(r#"{"n\u0061me":"a\/b","raw":null,"unread":"x","other":[1,{"y":2}]}"#).unwrap();
        assert_eq!(p.name.as_deref(), Some("a/b"));
        assert!(p.raw.is_none(), "null is no value");
        assert!(p.unread.is_none(), "a field without a name is not read");
        let text = String::from(r#"{"name":"plain"}"#);
        let p = probe(&text).unwrap();
        assert!(matches!(p.name, Some(Cow::Borrowed("plain"))));
    }

    #[test]
    fn only_an_object_is_read_and_a_wrong_kind_of_value_is_an_error() {
        assert!(probe(r#"["a",1]"#).is_none(), "no reading by position");
        assert!(probe("7").is_none());
        assert!(probe(r#"{"name":7}"#).is_none());
        assert!(probe(r#"{"list":{}}"#).is_none());
        let p = probe(r#"{"list":[1,"two"]}"#).unwrap();
        assert_eq!(p.list.len(), 2);
    }
}
