//! The Sparkplug point of a tag: the metric, and the device it belongs to (none: a metric of the
//! edge node itself). The datatype comes from the node's birth.

use std::collections::HashMap;

use crate::layout::connections::sparkplug::id;
use crate::layout::ctx::Ctx;
use crate::layout::de::Sp;
use crate::layout::model::*;
use crate::layout::raw::*;

/// The Sparkplug points read so far, by connection: the tag that reads each, and its line.
pub(super) type Seen = HashMap<(String, SpPoint), (String, u32)>;

/// The Sparkplug part of tag `name`, read through connection `conn`. A point another tag of the
/// same connection reads already is an error.
pub(super) fn point(cx: &mut Ctx, name: &Sp<String>, raw: &RawTag, conn: &str, seen: &mut Seen) -> Option<SpPoint> {
    let before = cx.diags.len();
    let Some(metric) = &raw.metric else {
        cx.err(
            name.loc,
            format!("tag `{}` names no metric", **name),
            Some("add metric: NAME as the edge node's birth gives it (and device: NAME for a device's metric)".into()),
        );
        return None;
    };
    if metric.value.is_empty() {
        cx.err(metric.loc, "metric is empty", Some("write the metric's name as the edge node's birth gives it".into()));
    } else if metric.value.chars().any(crate::sanitize::is_unsafe) {
        cx.err(
            metric.loc,
            format!("metric `{}` contains a control or invisible character", metric.value),
            Some("write it in plain text".into()),
        );
    }
    let device = raw.device.as_ref().map(|d| id(cx, d, "device"));
    if cx.diags.len() > before {
        return None;
    }
    let point = SpPoint { device: device.flatten(), metric: metric.value.clone() };
    match seen.get(&(conn.to_string(), point.clone())) {
        Some((other, line)) => {
            cx.err(
                metric.loc,
                format!("tag `{}` reads `{point}` of connection `{conn}`, as tag `{other}` (line {line}) does", **name),
                Some("one tag per metric: remove one of them".into()),
            );
            None
        }
        None => {
            seen.insert((conn.to_string(), point.clone()), (name.value.clone(), name.loc.line));
            Some(point)
        }
    }
}
