//! The payloads the edge node publishes: NDEATH, NBIRTH, DBIRTH, DDATA, DDEATH and the
//! write-result NDATA, encoded with prost.

use prost::Message;

use super::{BD_SEQ, Device, MetricDef, MetricValue, REBIRTH, SpQuality, WRITE_RESULT, WRITE_RESULT_ALIAS};
use crate::driver::sparkplug::codec::{self, DataType, SpValue};
use crate::driver::sparkplug::proto::Payload;
use crate::driver::sparkplug::proto::payload::{Metric, PropertySet, PropertyValue, property_value};

/// Whether two values are the same for report by exception: same quality and same value
/// (floats compared by their bits, so a NaN that stays NaN is not a change).
pub(super) fn same(a: &MetricValue, b: &MetricValue) -> bool {
    a.quality == b.quality
        && match (&a.value, &b.value) {
            (Some(x), Some(y)) => same_value(x, y),
            (None, None) => true,
            _ => false,
        }
}

fn same_value(a: &SpValue, b: &SpValue) -> bool {
    match (a, b) {
        (SpValue::Float(x), SpValue::Float(y)) => x.to_bits() == y.to_bits(),
        (SpValue::Double(x), SpValue::Double(y)) => x.to_bits() == y.to_bits(),
        (SpValue::FloatArray(x), SpValue::FloatArray(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        (SpValue::DoubleArray(x), SpValue::DoubleArray(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        _ => a == b,
    }
}

fn payload(seq: Option<u8>, timestamp: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    Payload { timestamp, metrics, seq: seq.map(u64::from), uuid: None, body: None }.encode_to_vec()
}

fn bd_seq_metric(bd_seq: u8, timestamp: Option<u64>) -> Metric {
    Metric {
        name: Some(BD_SEQ.into()),
        timestamp,
        datatype: Some(DataType::Int64 as u32),
        value: codec::encode(DataType::Int64, &SpValue::Int(i64::from(bd_seq))),
        ..Metric::default()
    }
}

/// NDEATH (the Will): exactly one metric, bdSeq; no seq; no timestamp (it is set at CONNECT
/// time, long before the broker publishes it).
pub(super) fn ndeath(bd_seq: u8) -> Vec<u8> {
    payload(None, None, vec![bd_seq_metric(bd_seq, None)])
}

/// NBIRTH: bdSeq, `Node Control/Rebirth` (false, no alias), `Node Control/Write Result` ("",
/// aliased). Tags are device metrics, so the node has no others.
pub(super) fn nbirth(bd_seq: u8, seq: u8, now_ms: u64) -> Vec<u8> {
    let ts = Some(now_ms);
    let rebirth = Metric {
        name: Some(REBIRTH.into()),
        timestamp: ts,
        datatype: Some(DataType::Boolean as u32),
        value: codec::encode(DataType::Boolean, &SpValue::Bool(false)),
        ..Metric::default()
    };
    let result = Metric {
        name: Some(WRITE_RESULT.into()),
        alias: Some(WRITE_RESULT_ALIAS),
        timestamp: ts,
        datatype: Some(DataType::String as u32),
        value: codec::encode(DataType::String, &SpValue::Text(String::new())),
        ..Metric::default()
    };
    payload(Some(seq), ts, vec![bd_seq_metric(bd_seq, ts), rebirth, result])
}

/// The NDATA that carries a command's outcome (alias only).
pub(super) fn write_result(text: &str, seq: u8, now_ms: u64) -> Vec<u8> {
    let m = Metric {
        alias: Some(WRITE_RESULT_ALIAS),
        timestamp: Some(now_ms),
        value: codec::encode(DataType::String, &SpValue::Text(text.to_string())),
        ..Metric::default()
    };
    payload(Some(seq), Some(now_ms), vec![m])
}

/// DBIRTH: every metric with name, alias, datatype, current value (or is_null), timestamp and
/// properties.
pub(super) fn dbirth(dev: &Device, seq: u8, now_ms: u64) -> Vec<u8> {
    let metrics = dev
        .def
        .metrics
        .iter()
        .zip(&dev.values)
        .enumerate()
        .map(|(i, (def, v))| {
            let mut m = value_metric(def, v.as_ref(), now_ms);
            m.name = Some(def.name.clone());
            m.alias = Some(dev.first_alias + i as u64);
            m.datatype = Some(def.datatype as u32);
            m.properties = Some(birth_properties(def, quality_sent(def, v.as_ref())));
            m
        })
        .collect();
    payload(Some(seq), Some(now_ms), metrics)
}

/// DDATA: the changed metrics `(index, quality the host last heard)`, alias only. `Quality` is
/// sent when it is not Good or when it changed.
pub(super) fn ddata(dev: &Device, changed: &[(usize, SpQuality)], seq: u8, now_ms: u64) -> Vec<u8> {
    let metrics = changed
        .iter()
        .filter_map(|&(i, before)| {
            let def = dev.def.metrics.get(i)?;
            let v = dev.values.get(i)?.as_ref();
            let mut m = value_metric(def, v, now_ms);
            m.alias = Some(dev.first_alias + i as u64);
            let q = quality_sent(def, v);
            if q != SpQuality::Good || q != before {
                m.properties = Some(properties(vec![("Quality", quality(q))]));
            }
            Some(m)
        })
        .collect();
    payload(Some(seq), Some(now_ms), metrics)
}

/// DDEATH: timestamp and seq, no metrics.
pub(super) fn ddeath(seq: u8, now_ms: u64) -> Vec<u8> {
    payload(Some(seq), Some(now_ms), Vec::new())
}

/// The metric's value part: timestamp and value, or `is_null` when Bad, absent or not
/// encodable as its datatype.
fn value_metric(def: &MetricDef, v: Option<&MetricValue>, now_ms: u64) -> Metric {
    let wire = v
        .filter(|v| v.quality != SpQuality::Bad)
        .and_then(|v| v.value.as_ref())
        .and_then(|x| codec::encode(def.datatype, x));
    Metric {
        timestamp: Some(v.map_or(now_ms, |v| v.timestamp_ms)),
        is_null: wire.is_none().then_some(true),
        value: wire,
        ..Metric::default()
    }
}

/// The quality sent with a value: Bad when there is none (or it cannot be encoded).
pub(super) fn quality_sent(def: &MetricDef, v: Option<&MetricValue>) -> SpQuality {
    match v {
        Some(v) if v.quality == SpQuality::Bad => SpQuality::Bad,
        Some(MetricValue { value: Some(x), quality, .. }) if codec::encode(def.datatype, x).is_some() => *quality,
        _ => SpQuality::Bad,
    }
}

fn birth_properties(def: &MetricDef, q: SpQuality) -> PropertySet {
    let mut p = vec![("Quality", quality(q))];
    if let Some(u) = &def.units {
        p.push(("EngUnit", string(u)));
    }
    if let Some(low) = def.low {
        p.push(("EngLow", double(low)));
    }
    if let Some(high) = def.high {
        p.push(("EngHigh", double(high)));
    }
    if let Some(d) = &def.description {
        p.push(("Description", string(d)));
    }
    properties(p)
}

fn properties(p: Vec<(&str, PropertyValue)>) -> PropertySet {
    let (keys, values) = p.into_iter().map(|(k, v)| (k.to_string(), v)).unzip();
    PropertySet { keys, values }
}

/// `Quality`: Int32 (type 3) in int_value, sign-extended.
fn quality(q: SpQuality) -> PropertyValue {
    PropertyValue {
        r#type: Some(DataType::Int32 as u32),
        is_null: None,
        value: Some(property_value::Value::IntValue(q.code() as u32)),
    }
}

fn string(s: &str) -> PropertyValue {
    PropertyValue {
        r#type: Some(DataType::String as u32),
        is_null: None,
        value: Some(property_value::Value::StringValue(s.to_string())),
    }
}

fn double(d: f64) -> PropertyValue {
    PropertyValue {
        r#type: Some(DataType::Double as u32),
        is_null: None,
        value: Some(property_value::Value::DoubleValue(d)),
    }
}
