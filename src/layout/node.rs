//! A YAML document as a tree of located nodes.
//!
//! serde-saphyr parses the text into this tree once; the layout's typed mirror is then
//! deserialized from it entry by entry (see [`super::de`]). Deserializing from a tree instead of
//! the text stream lets one bad entry fail on its own while the others are still checked, so a
//! user sees every problem of a file at once, each at its own line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A 1-based line and column in the layout file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Loc {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub loc: Loc,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl NodeKind {
    /// What a person calls this kind of node, for "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            NodeKind::Null => "nothing (null)".into(),
            NodeKind::Bool(b) => format!("boolean `{b}`"),
            NodeKind::Int(i) => format!("integer `{i}`"),
            NodeKind::UInt(u) => format!("integer `{u}`"),
            NodeKind::Float(f) => format!("number `{f}`"),
            NodeKind::Str(s) => format!("text `{s}`"),
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a mapping".into(),
        }
    }

    /// The text of a scalar, for fields that take text (names, units, descriptions).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            NodeKind::Bool(b) => Some(b.to_string()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::UInt(u) => Some(u.to_string()),
            NodeKind::Float(f) => Some(f.to_string()),
            NodeKind::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Parses YAML text into a located tree, with the options and limits of [`crate::yaml::options`]
/// (YAML 1.2 booleans: `yes` is text, not true).
pub fn parse_yaml(src: &str) -> Result<Node, serde_saphyr::Error> {
    let mut options = crate::yaml::options();
    // Non-finite numbers (`.inf`, `.nan`, `1e999`) reach the checks, which say which field must be
    // finite, instead of failing the whole file as a syntax error.
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::PassThrough;
    let root: SaphyrNode = serde_saphyr::from_str_with_options(src, options)?;
    Ok(root.0)
}

/// Deserializes a [`Node`] from serde-saphyr, taking locations from its `Spanned` wrapper.
struct SaphyrNode(Node);

impl<'de> Deserialize<'de> for SaphyrNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let sp = serde_saphyr::Spanned::<KindFromSaphyr>::deserialize(d)?;
        let loc = Loc { line: clamp(sp.referenced.line()), col: clamp(sp.referenced.column()) };
        Ok(SaphyrNode(Node { loc, kind: sp.value.0 }))
    }
}

fn clamp(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

struct KindFromSaphyr(NodeKind);

impl<'de> Deserialize<'de> for KindFromSaphyr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor).map(KindFromSaphyr)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = NodeKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeKind, E> {
        Ok(NodeKind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeKind, E> {
        Ok(NodeKind::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeKind, E> {
        Ok(i64::try_from(v).map(NodeKind::Int).unwrap_or(NodeKind::UInt(v)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<NodeKind, E> {
        i64::try_from(v).map(NodeKind::Int).map_err(|_| E::custom(format!("integer {v} is out of range")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<NodeKind, E> {
        u64::try_from(v).map(NodeKind::UInt).map_err(|_| E::custom(format!("integer {v} is out of range")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeKind, E> {
        Ok(NodeKind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v))
    }
    fn visit_unit<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_none<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeKind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::new();
        while let Some(SaphyrNode(n)) = seq.next_element()? {
            items.push(n);
        }
        Ok(NodeKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::new();
        while let Some(SaphyrNode(k)) = map.next_key()? {
            let SaphyrNode(v) = map.next_value()?;
            entries.push((k, v));
        }
        Ok(NodeKind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_has_its_location() {
        let n = parse_yaml("a: 1\nb:\n  - x\n  - { y: yes, z: true }\n").unwrap();
        let NodeKind::Map(entries) = &n.kind else { panic!("root is a map") };
        assert_eq!(entries[0].0.loc, Loc { line: 1, col: 1 });
        assert_eq!(entries[0].1.kind, NodeKind::Int(1));
        let NodeKind::Seq(items) = &entries[1].1.kind else { panic!("b is a list") };
        assert_eq!(items[1].loc.line, 4);
        let NodeKind::Map(inner) = &items[1].kind else { panic!("a map") };
        assert_eq!(inner[0].1.kind, NodeKind::Str("yes".into()), "yes is text, not a boolean");
        assert_eq!(inner[1].1.kind, NodeKind::Bool(true));
        assert_eq!(inner[1].1.loc, Loc { line: 4, col: 18 });
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let e = parse_yaml("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.location().is_some(), "{e}");
    }
}
