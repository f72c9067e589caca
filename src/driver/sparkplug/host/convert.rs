//! A metric of a payload as a tag sample: its value (through the codec), its quality (`is_null`,
//! the `Quality` property) and its timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::driver::sparkplug::codec::{self, DataType, SpValue};
use crate::driver::sparkplug::proto::payload::{Metric, PropertySet, metric::Value as Wire, property_value};
use crate::tag::{Quality, Reason, Sample, Value};

/// Text values longer than this many characters are cut (and marked).
pub(super) const MAX_TEXT: usize = 4096;
/// Arrays and bytes are shown as their first few elements.
const SHOWN_ELEMENTS: usize = 8;
/// At most this many bytes of an array are decoded.
const DECODED_BYTES: usize = 1024;

/// The Sparkplug quality codes (as Ignition uses them).
const QUALITY_BAD: i64 = 0;
const QUALITY_GOOD: i64 = 192;
const QUALITY_STALE: i64 = 500;

/// Milliseconds since the epoch of 10000-01-01T00:00:00Z: later times are not taken (date
/// formatting, here and wherever a sample's timestamps are shown, stops at year 9999).
const YEAR_10000_MS: u64 = 253_402_300_800_000;

/// `ms` since the epoch as a time, if it is before the year 10000.
pub(super) fn epoch_ms(ms: u64) -> Option<SystemTime> {
    if ms >= YEAR_10000_MS {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

/// The sample of metric `m` of `datatype` (as born), received at `wall`; `payload_ts` stands in
/// for a metric without a timestamp. The `String` says why the value could not be decoded.
pub(super) fn sample(
    m: &Metric,
    datatype: DataType,
    payload_ts: Option<u64>,
    wall: SystemTime,
) -> (Sample, Option<String>) {
    let source_ts = m.timestamp.or(payload_ts).and_then(epoch_ms);
    let mut s = Sample { value: None, quality: Quality::Good, source_ts, server_ts: None, recv_ts: wall };
    if m.is_null == Some(true) {
        s.quality = Quality::Bad(Reason::Other("null".into()));
        return (s, None);
    }
    match decode(datatype, m.value.as_ref()) {
        Ok(v) => {
            s.value = Some(v);
            s.quality = quality(m.properties.as_ref());
            (s, None)
        }
        Err(e) => {
            s.quality = Quality::Bad(Reason::Decode(e.clone()));
            (s, Some(e))
        }
    }
}

/// The `Quality` property: 0 Bad, 500 stale, 192 or absent Good; another code Uncertain.
pub(super) fn quality(props: Option<&PropertySet>) -> Quality {
    let Some(code) = props.and_then(quality_code) else { return Quality::Good };
    match code {
        QUALITY_GOOD => Quality::Good,
        QUALITY_BAD => Quality::Bad(Reason::Other("bad at the edge node (quality 0)".into())),
        QUALITY_STALE => Quality::Uncertain(Reason::Stale),
        c => Quality::Uncertain(Reason::Other(format!("quality code {c} from the edge node"))),
    }
}

/// The `Quality` property's code (Int32; either integer field accepted).
fn quality_code(p: &PropertySet) -> Option<i64> {
    let i = p.keys.iter().position(|k| k == "Quality")?;
    match p.values.get(i)?.value.as_ref()? {
        property_value::Value::IntValue(v) => Some(i64::from(*v as i32)),
        property_value::Value::LongValue(v) => Some(*v as i64),
        _ => None,
    }
}

/// A metric value as a tag value. DateTime becomes RFC 3339 text (UTC, milliseconds); bytes and
/// arrays a short text (the first elements and the count).
pub(super) fn decode(datatype: DataType, wire: Option<&Wire>) -> Result<Value, String> {
    let wire = match wire {
        Some(Wire::BytesValue(b)) if b.len() > DECODED_BYTES => {
            // Every element width (1, 2, 4, 8) divides DECODED_BYTES; ragged arrays are refused
            // by their full length first.
            if let Some(w) = element_width(datatype).filter(|w| b.len() % w != 0) {
                return Err(format!("an array of {datatype:?} of {} bytes (not a multiple of {w})", b.len()));
            }
            let n = element_width(datatype).map(|w| b.len() / w).unwrap_or(b.len());
            let v = codec::decode(datatype, Some(&Wire::BytesValue(b[..DECODED_BYTES].to_vec())));
            return v.map(|v| to_value(v, Some(n))).map_err(|e| e.to_string());
        }
        w => w,
    };
    codec::decode(datatype, wire).map(|v| to_value(v, None)).map_err(|e| e.to_string())
}

fn element_width(d: DataType) -> Option<usize> {
    use DataType::*;
    Some(match d {
        Int8Array | UInt8Array | Bytes => 1,
        Int16Array | UInt16Array => 2,
        Int32Array | UInt32Array | FloatArray => 4,
        Int64Array | UInt64Array | DoubleArray | DateTimeArray => 8,
        _ => return None,
    })
}

/// `total`: the element count when only a part was decoded.
fn to_value(v: SpValue, total: Option<usize>) -> Value {
    match v {
        SpValue::Int(i) => Value::Int(i),
        SpValue::UInt(u) => Value::UInt(u),
        SpValue::Float(f) => Value::Float(f64::from(f)),
        SpValue::Double(d) => Value::Float(d),
        SpValue::Bool(b) => Value::Bool(b),
        SpValue::Text(s) => Value::Text(text(s)),
        SpValue::DateTime(ms) => Value::Text(date_time(ms)),
        SpValue::Bytes(b) => {
            let n = total.unwrap_or(b.len());
            let hex: Vec<String> = b.iter().take(SHOWN_ELEMENTS).map(|x| format!("{x:02x}")).collect();
            Value::Text(format!("{n} bytes: {}{}", hex.join(" "), if n > SHOWN_ELEMENTS { " …" } else { "" }))
        }
        SpValue::IntArray(a) => Value::Text(list(&a, total)),
        SpValue::UIntArray(a) => Value::Text(list(&a, total)),
        SpValue::FloatArray(a) => Value::Text(list(&a, total)),
        SpValue::DoubleArray(a) => Value::Text(list(&a, total)),
    }
}

fn date_time(ms: u64) -> String {
    match epoch_ms(ms) {
        Some(t) => crate::timefmt::rfc3339_utc(t),
        None => format!("{ms} ms after 1970"),
    }
}

fn text(s: String) -> String {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let total = s.len();
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({total} bytes in all)", &s[..end])
}

fn list<T: std::fmt::Display>(a: &[T], total: Option<usize>) -> String {
    let n = total.unwrap_or(a.len());
    let shown: Vec<String> = a.iter().take(SHOWN_ELEMENTS).map(|x| x.to_string()).collect();
    let more = if n > SHOWN_ELEMENTS { ", …" } else { "" };
    format!("[{}{more}] ({n} values)", shown.join(", "))
}
