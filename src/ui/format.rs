//! How a tag's current sample reads on screen.

use std::time::SystemTime;

use crate::layout::Tag;
use crate::tag::{Quality, Sample, Value, effective_quality};

/// The sample's quality as a person should see it now (Good turns Uncertain(stale) after three
/// poll periods without an update).
pub fn shown_quality(tag: &Tag, sample: &Sample, now: SystemTime) -> Quality {
    effective_quality(sample, now, tag.stale_after())
}

/// The value text: formatted value, or `----` when there has never been one.
pub fn value_text(tag: &Tag, sample: &Sample) -> String {
    match &sample.value {
        Some(v) => tag.format(v),
        None => "----".into(),
    }
}

/// A value with the tag's units (`6.25 bar`, or the value alone for a tag without units); `----`
/// when there is none.
pub fn with_units(tag: &Tag, v: Option<&Value>) -> String {
    match v {
        Some(v) if tag.units.is_empty() => tag.format(v),
        Some(v) => format!("{} {}", tag.format(v), tag.units),
        None => "----".into(),
    }
}

/// Quality in words: empty for Good (ISA-101: normal is quiet).
pub fn quality_text(q: &Quality) -> String {
    match q {
        Quality::Good => String::new(),
        q => q.to_string(),
    }
}
