//! A tag's `write:` block: who may write it and within which limits.

use crate::auth::Role;
use crate::layout::ctx::Ctx;
use crate::layout::de::Sp;
use crate::layout::model::*;
use crate::layout::raw::RawWrite;

/// The `write:` block of a tag.
pub(super) fn spec(cx: &mut Ctx, w: &Sp<RawWrite>, source: Option<&TagSource>) -> Option<WriteSpec> {
    let before = cx.diags.len();
    let role = match w.role.value.parse::<Role>() {
        Ok(Role::Viewer) => {
            cx.err(w.role.loc, "viewers never write", Some("the lowest role that may write is operator".into()));
            None
        }
        Ok(r) => Some(r),
        Err(_) => {
            cx.err(w.role.loc, format!("unknown role `{}`", w.role.value), Some(format!("one of {}", Role::names())));
            None
        }
    };
    let boolean = match source {
        Some(TagSource::Modbus(p)) => {
            if matches!(p.table, Table::Input | Table::Discrete) {
                cx.err(
                    w.loc,
                    format!("a {} is read-only by nature and cannot be written", p.table.name()),
                    Some("remove write, or use a coil or holding register".into()),
                );
            }
            if matches!(p.ty, DataType::String { .. }) {
                cx.err(w.loc, "writing strings is not supported", Some("remove write".into()));
            }
            p.ty == DataType::Bool
        }
        _ => false,
    };
    for (name, v) in [("min", &w.min), ("max", &w.max), ("max_step", &w.max_step)] {
        if let Some(v) = v {
            if boolean {
                cx.err(v.loc, format!("`{name}` does not apply to a boolean"), Some(format!("remove {name}")));
            } else if !v.value.is_finite() {
                cx.err(v.loc, format!("`{name}` must be a finite number"), None);
            }
        }
    }
    if let (Some(lo), Some(hi)) = (&w.min, &w.max)
        && lo.value > hi.value
    {
        cx.err(hi.loc, format!("max {} is below min {}", hi.value, lo.value), None);
    }
    if let Some(s) = &w.max_step
        && s.value <= 0.0
    {
        cx.err(s.loc, "max_step must be more than 0", None);
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(WriteSpec {
        role: role?,
        min: w.min.as_ref().map(|v| v.value),
        max: w.max.as_ref().map(|v| v.value),
        max_step: w.max_step.as_ref().map(|v| v.value),
    })
}
