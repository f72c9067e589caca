//! Deserializing typed values from a [`Node`] tree, with every error placed at the node that
//! caused it, and [`Sp<T>`]: a value together with where it was written.

use std::fmt;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use super::node::{Loc, Node, NodeKind};
use super::suggest::did_you_mean;

/// A deserialization error at a place in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct DeError {
    pub loc: Option<Loc>,
    pub message: String,
    pub hint: Option<String>,
}

impl DeError {
    pub fn new(message: impl Into<String>) -> Self {
        DeError { loc: None, message: message.into(), hint: None }
    }

    /// Places the error at `loc` unless a deeper node already placed it.
    fn at(mut self, loc: Loc) -> Self {
        self.loc.get_or_insert(loc);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let hint = match did_you_mean(field, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("allowed here: {}", expected.join(", ")),
        };
        DeError { loc: None, message: format!("unknown field `{field}`"), hint: Some(hint) }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = match did_you_mean(variant, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? allowed: {}", expected.join(", ")),
            None => format!("allowed: {}", expected.join(", ")),
        };
        DeError { loc: None, message: format!("unknown value `{variant}`"), hint: Some(hint) }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(format!("missing field `{field}`"))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(format!("expected {exp}, found {}", describe_unexpected(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(format!("invalid value {}, expected {exp}", describe_unexpected(&unexp)))
    }
}

fn describe_unexpected(u: &de::Unexpected<'_>) -> String {
    match u {
        de::Unexpected::Str(s) => format!("text `{s}`"),
        de::Unexpected::Bool(b) => format!("boolean `{b}`"),
        de::Unexpected::Unsigned(n) => format!("integer `{n}`"),
        de::Unexpected::Signed(n) => format!("integer `{n}`"),
        de::Unexpected::Float(n) => format!("number `{n}`"),
        other => other.to_string(),
    }
}

/// Deserializes `T` from a node, placing any error at the innermost node involved.
pub fn from_node<'a, T: Deserialize<'a>>(node: &'a Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node)).map_err(|e| e.at(node.loc))
}

/// A value and where it stands in the layout file.
#[derive(Clone, Debug)]
pub struct Sp<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Sp<T> {
    pub fn new(value: T, loc: Loc) -> Self {
        Sp { value, loc }
    }
}

impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Sp<T> {}
impl<T: std::hash::Hash> std::hash::Hash for Sp<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

const SPANNED: &str = "__ttyhmi_spanned";
const SPANNED_FIELDS: &[&str] = &["line", "col", "value"];

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Sp<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a located value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sp<T>, A::Error> {
                let (mut line, mut col, mut value) = (0, 0, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "line" => line = map.next_value()?,
                        "col" => col = map.next_value()?,
                        _ => value = Some(map.next_value()?),
                    }
                }
                let value = value.ok_or_else(|| de::Error::custom("located value without a value"))?;
                Ok(Sp { value, loc: Loc { line, col } })
            }
        }
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, V(std::marker::PhantomData))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// The deserializer over one node.
#[derive(Clone, Copy)]
pub struct NodeDe<'a>(pub &'a Node);

impl<'a> NodeDe<'a> {
    fn wrong<V>(&self, expected: &str) -> Result<V, DeError> {
        Err(DeError::new(format!("expected {expected}, found {}", self.0.kind.describe())).at(self.0.loc))
    }
}

macro_rules! forward_number {
    ($($name:ident)*) => {$(
        fn $name<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            match &self.0.kind {
                NodeKind::Int(_) | NodeKind::UInt(_) | NodeKind::Float(_) => self.deserialize_any(v),
                _ => self.wrong("a number"),
            }
        }
    )*};
}

impl<'de, 'a> Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let loc = self.0.loc;
        let r = match &self.0.kind {
            NodeKind::Null => v.visit_unit(),
            NodeKind::Bool(b) => v.visit_bool(*b),
            NodeKind::Int(i) => v.visit_i64(*i),
            NodeKind::UInt(u) => v.visit_u64(*u),
            NodeKind::Float(f) => v.visit_f64(*f),
            NodeKind::Str(s) => v.visit_str(s),
            NodeKind::Seq(items) => v.visit_seq(Seq { items: items.iter() }),
            NodeKind::Map(entries) => v.visit_map(Map { entries: entries.iter(), value: None }),
        };
        r.map_err(|e: DeError| e.at(loc))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            NodeKind::Bool(b) => v.visit_bool(*b).map_err(|e: DeError| e.at(self.0.loc)),
            NodeKind::Str(s) if ["yes", "no", "on", "off", "y", "n"].contains(&s.to_ascii_lowercase().as_str()) => {
                Err(DeError {
                    loc: Some(self.0.loc),
                    message: format!("expected true or false, found text `{s}`"),
                    hint: Some("YAML 1.2 booleans are only `true` and `false`".into()),
                })
            }
            _ => self.wrong("true or false"),
        }
    }

    forward_number! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0.kind.scalar_text() {
            Some(text) => v.visit_string(text).map_err(|e: DeError| e.at(self.0.loc)),
            None => self.wrong("text"),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        self.wrong("bytes")
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        self.wrong("bytes")
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0.kind {
            NodeKind::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0.kind {
            NodeKind::Null => v.visit_unit(),
            _ => self.wrong("nothing"),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, DeError> {
        let _ = name;
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            NodeKind::Seq(items) => v.visit_seq(Seq { items: items.iter() }).map_err(|e: DeError| e.at(self.0.loc)),
            _ => self.wrong("a list"),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            NodeKind::Seq(items) if items.len() == len => self.deserialize_seq(v),
            NodeKind::Seq(items) => {
                Err(DeError::new(format!("expected a list of {len}, found a list of {}", items.len())).at(self.0.loc))
            }
            _ => self.wrong(&format!("a list of {len}")),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_tuple(len, v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            NodeKind::Map(entries) => {
                v.visit_map(Map { entries: entries.iter(), value: None }).map_err(|e: DeError| e.at(self.0.loc))
            }
            _ => self.wrong("a mapping"),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match name {
            SPANNED => v.visit_map(SpannedAccess { node: self.0, step: 0 }),
            _ => self.deserialize_map(v),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let loc = self.0.loc;
        match &self.0.kind {
            NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::UInt(_) | NodeKind::Bool(_) | NodeKind::Float(_) => {
                v.visit_enum(Enum { key: self.0, value: None }).map_err(|e: DeError| e.at(loc))
            }
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (k, val) = &entries[0];
                v.visit_enum(Enum { key: k, value: Some(val) }).map_err(|e: DeError| e.at(loc))
            }
            NodeKind::Map(entries) => Err(DeError::new(format!(
                "expected exactly one kind here (a mapping with one key), found {} keys",
                entries.len()
            ))
            .at(loc)),
            _ => self.wrong("a name or a mapping with one key"),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de, 'a> SeqAccess<'de> for Seq<'a> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(n) => seed.deserialize(NodeDe(n)).map(Some).map_err(|e: DeError| e.at(n.loc)),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'de, 'a> MapAccess<'de> for Map<'a> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(NodeDe(k)).map(Some).map_err(|e: DeError| e.at(k.loc))
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        match self.value.take() {
            Some(n) => seed.deserialize(NodeDe(n)).map_err(|e: DeError| e.at(n.loc)),
            None => Err(DeError::new("value requested before key")),
        }
    }
}

struct SpannedAccess<'a> {
    node: &'a Node,
    step: u8,
}

impl<'de, 'a> MapAccess<'de> for SpannedAccess<'a> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let key = match self.step {
            0 => "line",
            1 => "col",
            2 => "value",
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        self.step += 1;
        match self.step {
            1 => seed.deserialize(self.node.loc.line.into_deserializer()),
            2 => seed.deserialize(self.node.loc.col.into_deserializer()),
            _ => seed.deserialize(NodeDe(self.node)).map_err(|e: DeError| e.at(self.node.loc)),
        }
    }
}

struct Enum<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
}

impl<'de, 'a> EnumAccess<'de> for Enum<'a> {
    type Error = DeError;
    type Variant = Variant<'a>;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Variant<'a>), DeError> {
        let key = seed.deserialize(NodeDe(self.key)).map_err(|e: DeError| e.at(self.key.loc))?;
        Ok((key, Variant { key: self.key, value: self.value }))
    }
}

struct Variant<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
}

impl<'de, 'a> VariantAccess<'de> for Variant<'a> {
    type Error = DeError;
    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None | Some(Node { kind: NodeKind::Null, .. }) => Ok(()),
            Some(n) => {
                Err(DeError::new(format!("`{}` takes no settings", self.key.kind.scalar_text().unwrap_or_default()))
                    .at(n.loc))
            }
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(n) => seed.deserialize(NodeDe(n)).map_err(|e: DeError| e.at(n.loc)),
            None => Err(DeError::new("expected settings after the name (`name: { ... }`)").at(self.key.loc)),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(n) => NodeDe(n).deserialize_tuple(len, v),
            None => Err(DeError::new("expected a list after the name").at(self.key.loc)),
        }
    }
    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], v: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(n) => NodeDe(n).deserialize_map(v),
            None => Err(DeError::new("expected settings after the name (`name: { ... }`)").at(self.key.loc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::node::parse_yaml;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct T {
        flag: bool,
        n: Option<Sp<u16>>,
    }

    #[test]
    fn booleans_are_strict_and_errors_are_placed() {
        let n = parse_yaml("flag: true\nn: 7\n").unwrap();
        let t: T = from_node(&n).unwrap();
        assert!(t.flag);
        assert_eq!(t.n.as_ref().map(|s| (s.value, s.loc)), Some((7, Loc { line: 2, col: 4 })));

        let n = parse_yaml("flag: yes\n").unwrap();
        let e = from_node::<T>(&n).unwrap_err();
        assert_eq!(e.loc, Some(Loc { line: 1, col: 7 }));
        assert!(e.message.contains("found text `yes`"), "{e:?}");
        assert!(e.hint.unwrap().contains("true"));

        let n = parse_yaml("flag: false\nn: 70000\n").unwrap();
        let e = from_node::<T>(&n).unwrap_err();
        assert_eq!(e.loc, Some(Loc { line: 2, col: 4 }));

        let n = parse_yaml("flg: false\n").unwrap();
        let e = from_node::<T>(&n).unwrap_err();
        assert_eq!((e.loc, e.hint.as_deref()), (Some(Loc { line: 1, col: 1 }), Some("did you mean `flag`?")));

        let n = parse_yaml("n: 1\n").unwrap();
        let e = from_node::<T>(&n).unwrap_err();
        assert!(e.message.contains("missing field `flag`"));
    }
}
