//! What kind of value a tag holds, as the checks of alarm rules and panels need it.

use super::model::{DataType, Tag, TagSource};

/// How a tag's value is typed, as far as the layout says (OPC UA servers say it at run time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ValueKind {
    Bool,
    Int,
    Float,
    Text,
    Unknown,
}

impl ValueKind {
    pub(super) fn of(tag: &Tag) -> ValueKind {
        match &tag.source {
            TagSource::OpcUa(_) | TagSource::Sparkplug(_) => ValueKind::Unknown,
            TagSource::Modbus(p) => match p.ty {
                DataType::Bool => ValueKind::Bool,
                DataType::String { .. } => ValueKind::Text,
                DataType::F32 | DataType::F64 => ValueKind::Float,
                _ if p.scale.is_some() => ValueKind::Float,
                _ => ValueKind::Int,
            },
        }
    }
}

/// The tag's value type for people: "a boolean", "an integer (u16)", …
pub(super) fn kind_text(tag: &Tag) -> String {
    let ty = match &tag.source {
        TagSource::Modbus(p) => p.ty.name(),
        TagSource::OpcUa(_) => return "typed by its OPC UA server".into(),
        TagSource::Sparkplug(_) => return "typed by its Sparkplug birth".into(),
    };
    match ValueKind::of(tag) {
        ValueKind::Bool => "a boolean".into(),
        ValueKind::Text => "a string".into(),
        ValueKind::Float if ty.starts_with('f') => format!("a floating-point value ({ty})"),
        ValueKind::Float => format!("a scaled {ty}, so a floating-point value"),
        ValueKind::Int | ValueKind::Unknown => format!("an integer ({ty})"),
    }
}
