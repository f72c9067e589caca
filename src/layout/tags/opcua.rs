//! The OPC UA point of a tag: its node and how it is monitored.

use crate::layout::ctx::Ctx;
use crate::layout::de::Sp;
use crate::layout::model::*;
use crate::layout::nodeid::NodeRef;
use crate::layout::raw::*;

/// The OPC UA part of a tag: the node and how it is monitored. The value type comes from the
/// server.
pub(super) fn point(cx: &mut Ctx, name: &Sp<String>, raw: &RawTag) -> Option<UaPoint> {
    let before = cx.diags.len();
    let Some(node) = &raw.node else {
        cx.err(
            name.loc,
            format!("tag `{}` names no node", **name),
            Some("add node: \"ns=2;s=Plant.Tank1.Level\"".into()),
        );
        return None;
    };
    let node = match NodeRef::parse(&node.value) {
        Ok(n) => Some(n),
        Err(e) => {
            cx.err(node.loc, e, None);
            None
        }
    };
    let sampling = raw.sampling.as_ref().and_then(|s| cx.period(s, "sampling"));
    let deadband = match &raw.deadband {
        None => None,
        Some(d) => match (d.value.absolute, d.value.percent) {
            (Some(a), None) if a.is_finite() && a >= 0.0 => Some(Deadband::Absolute(a)),
            (None, Some(p)) if p.is_finite() && (0.0..=100.0).contains(&p) => Some(Deadband::Percent(p)),
            (Some(_), Some(_)) | (None, None) => {
                cx.err(
                    d.loc,
                    "a deadband is either `absolute` or `percent`",
                    Some("e.g. deadband: { absolute: 0.5 }".into()),
                );
                None
            }
            _ => {
                cx.err(d.loc, "a deadband is a number ≥ 0 (percent: 0..100)", None);
                None
            }
        },
    };
    let queue_size = raw.queue_size.as_ref().map_or(Some(1), |q| cx.int(q, 1, 10_000, "queue_size", None));
    if cx.diags.len() > before {
        return None;
    }
    Some(UaPoint { node: node?, sampling, deadband, queue_size: queue_size? })
}
