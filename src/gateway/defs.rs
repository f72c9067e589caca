//! What the gateway publishes of a layout: each connection one Sparkplug device (device id =
//! connection name), each tag one metric (name = tag name) with its datatype, units, range and
//! description; and the tag values as metric values.

use crate::driver::sparkplug::codec::{DataType as SpType, SpValue};
use crate::driver::sparkplug::edge::{DeviceDef, MetricDef, MetricValue, SpQuality};
use crate::layout::{DataType, Layout, Tag, TagSource};
use crate::tag::{Quality, Sample, Value};

/// The devices of `layout`, in connection order (device index = connection index).
pub fn devices(layout: &Layout) -> Vec<DeviceDef> {
    layout
        .connections
        .iter()
        .enumerate()
        .map(|(i, c)| DeviceDef {
            id: c.name.clone(),
            metrics: layout
                .tags_of(crate::layout::ConnId(i as u16))
                .map(|(id, t)| MetricDef {
                    tag: id,
                    name: t.name.clone(),
                    datatype: datatype(t),
                    units: (!t.units.is_empty()).then(|| t.units.clone()),
                    low: t.write.and_then(|w| w.min),
                    high: t.write.and_then(|w| w.max),
                    description: (!t.description.is_empty()).then(|| t.description.clone()),
                    writable: t.write.is_some(),
                })
                .collect(),
        })
        .collect()
}

/// The Sparkplug datatype of a tag: from its Modbus type (a scaled value is a Double); an OPC UA
/// node's is known only at run time, so a tag with on/off texts is a Boolean and any other a
/// Double.
pub fn datatype(t: &Tag) -> SpType {
    match &t.source {
        TagSource::Modbus(p) if p.scale.is_some() => SpType::Double,
        TagSource::Modbus(p) => match p.ty {
            DataType::Bool => SpType::Boolean,
            DataType::U16 | DataType::Bcd16 => SpType::UInt16,
            DataType::I16 => SpType::Int16,
            DataType::U32 | DataType::Bcd32 => SpType::UInt32,
            DataType::I32 => SpType::Int32,
            DataType::U64 => SpType::UInt64,
            DataType::I64 => SpType::Int64,
            DataType::F32 => SpType::Float,
            DataType::F64 => SpType::Double,
            DataType::String { .. } => SpType::String,
        },
        _ if t.on_text.is_some() || t.off_text.is_some() => SpType::Boolean,
        _ => SpType::Double,
    }
}

/// A tag's sample as a metric value of `datatype` (null when Bad, never read, or of another
/// kind), with its quality and time.
pub fn metric_value(datatype: SpType, s: &Sample) -> MetricValue {
    let quality = match &s.quality {
        Quality::Good => SpQuality::Good,
        // Sparkplug has no "uncertain": stale is the nearest.
        Quality::Uncertain(_) => SpQuality::Stale,
        Quality::Bad(_) => SpQuality::Bad,
    };
    let value = if quality == SpQuality::Bad { None } else { s.value.as_ref().and_then(|v| sp_value(datatype, v)) };
    let t = s.source_ts.unwrap_or(s.recv_ts);
    MetricValue { value, quality, timestamp_ms: crate::driver::sparkplug::millis(t) }
}

fn sp_value(datatype: SpType, v: &Value) -> Option<SpValue> {
    use SpType as T;
    Some(match datatype {
        T::Boolean => SpValue::Bool(match v {
            Value::Bool(b) => *b,
            other => other.as_f64()? != 0.0,
        }),
        T::Int8 | T::Int16 | T::Int32 | T::Int64 => SpValue::Int(match v {
            Value::Int(i) => *i,
            Value::UInt(u) => i64::try_from(*u).ok()?,
            other => other.as_f64()? as i64,
        }),
        T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64 => SpValue::UInt(match v {
            Value::UInt(u) => *u,
            Value::Int(i) => u64::try_from(*i).ok()?,
            other => other.as_f64()? as u64,
        }),
        T::Float => SpValue::Float(v.as_f64()? as f32),
        T::Double => SpValue::Double(v.as_f64()?),
        T::String | T::Text => SpValue::Text(match v {
            Value::Text(t) => t.clone(),
            other => other.to_string(),
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::Reason;
    use std::time::{Duration, SystemTime};

    #[test]
    fn samples_become_metric_values_and_bad_is_null() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1500);
        let good = Sample::good(Value::Float(2.5), t);
        assert_eq!(
            metric_value(SpType::Float, &good),
            MetricValue { value: Some(SpValue::Float(2.5)), quality: SpQuality::Good, timestamp_ms: 1500 }
        );
        let bad = Sample { value: Some(Value::Int(1)), ..Sample::bad(Reason::Timeout, t) };
        assert_eq!(metric_value(SpType::Int32, &bad).value, None);
        let stale = Sample { quality: Quality::Uncertain(Reason::Stale), ..good.clone() };
        assert_eq!(metric_value(SpType::Double, &stale).quality, SpQuality::Stale);
        assert_eq!(metric_value(SpType::UInt16, &Sample::good(Value::Int(-1), t)).value, None, "no wrap");
        assert_eq!(metric_value(SpType::Double, &Sample::good(Value::Text("x".into()), t)).value, None);
    }

    #[test]
    fn every_demo_tag_has_a_metric() {
        let layout =
            crate::layout::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/layouts/demo.yaml")))
                .expect("the demo layout loads");
        let devices = devices(&layout);
        assert_eq!(devices.len(), layout.connections.len());
        assert_eq!(devices.iter().map(|d| d.metrics.len()).sum::<usize>(), layout.tags.len());
        let sp = devices[0].metrics.iter().find(|m| m.name == "PIC_101_SP").expect("a setpoint");
        assert_eq!((sp.datatype, sp.writable, sp.high), (SpType::Float, true, Some(10.0)));
    }
}
