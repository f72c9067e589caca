//! Fuzz targets: Sparkplug B payloads as prost decodes them, and metric values through the codec
//! (`cargo test fuzz`; long mode: `cargo test --profile fuzz -- --ignored fuzz --nocapture`).
//!
//! Inputs: random bytes; valid NBIRTH/DBIRTH/DDATA/NCMD payloads (values encoded with the codec)
//! damaged by [`mutated`]; valid payloads followed by a field that claims a huge length.
//! Properties: no panic; what decodes is bounded by the input's size and re-encodes to a fixed
//! point; every integer is within its declared width; a datatype number the console does not take
//! is never read as another; a decoded value encodes back to the same value.

use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::driver::sparkplug::proto::Payload;
use crate::driver::sparkplug::proto::payload::{Metric, PropertySet, PropertyValue, property_value};
use crate::fuzzing::mutated;

/// Any wire value (of any field of the oneof the codec reads).
pub(crate) fn any_wire() -> impl Strategy<Value = Wire> {
    prop_oneof![
        any::<u32>().prop_map(Wire::IntValue),
        any::<u64>().prop_map(Wire::LongValue),
        any::<u32>().prop_map(|b| Wire::FloatValue(f32::from_bits(b))),
        any::<u64>().prop_map(|b| Wire::DoubleValue(f64::from_bits(b))),
        any::<bool>().prop_map(Wire::BooleanValue),
        ".{0,20}".prop_map(Wire::StringValue),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Wire::BytesValue),
    ]
}

/// A datatype number: mostly one the console takes, sometimes any.
fn datatype_number() -> impl Strategy<Value = u32> {
    prop_oneof![4 => prop::sample::select(DataType::ALL.to_vec()).prop_map(|d| d as u32), 1 => 0u32..40, 1 => any::<u32>()]
}

/// A metric as an edge node sends it: a value of its datatype, encoded by the codec (or, when the
/// random wire value is not one, null).
fn valid_metric(name: Option<String>, alias: Option<u64>) -> impl Strategy<Value = Metric> {
    (prop::sample::select(DataType::ALL.to_vec()), any_wire(), any::<bool>(), prop::option::of(any::<u64>())).prop_map(
        move |(d, wire, historical, ts)| {
            let value = decode(d, Some(&wire)).ok().and_then(|v| encode(d, &v));
            Metric {
                name: name.clone(),
                alias,
                timestamp: ts,
                datatype: Some(d as u32),
                is_historical: historical.then_some(true),
                is_null: value.is_none().then_some(true),
                value,
                properties: Some(PropertySet {
                    keys: vec!["Quality".into()],
                    values: vec![PropertyValue {
                        r#type: Some(DataType::Int32 as u32),
                        is_null: None,
                        value: Some(property_value::Value::IntValue(192)),
                    }],
                }),
                ..Metric::default()
            }
        },
    )
}

/// A valid payload of one of the kinds a host or an edge node receives, encoded.
pub(crate) fn valid_payload() -> impl Strategy<Value = Vec<u8>> {
    let names = || prop::sample::select(vec!["Level", "Speed", "Counter", "Node Control/Rebirth", "a/b", "é"]);
    let birth = (prop::collection::vec((names(), 0u64..20), 0..6), any::<u8>()).prop_flat_map(|(defs, bd)| {
        let metrics: Vec<_> =
            defs.into_iter().map(|(n, a)| valid_metric(Some(n.to_string()), Some(a)).boxed()).collect();
        (metrics, Just(bd)).prop_map(|(mut metrics, bd)| {
            metrics.insert(
                0,
                Metric {
                    name: Some("bdSeq".into()),
                    datatype: Some(DataType::Int64 as u32),
                    value: Some(Wire::LongValue(u64::from(bd))),
                    ..Metric::default()
                },
            );
            metrics
        })
    });
    let data = prop::collection::vec((0u64..20).prop_flat_map(|a| valid_metric(None, Some(a))), 0..6);
    let ncmd = Just(vec![Metric {
        name: Some("Node Control/Rebirth".into()),
        datatype: Some(DataType::Boolean as u32),
        value: Some(Wire::BooleanValue(true)),
        ..Metric::default()
    }]);
    (prop_oneof![birth, data, ncmd], any::<u8>(), any::<u64>()).prop_map(|(metrics, seq, ts)| {
        Payload { timestamp: Some(ts), metrics, seq: Some(u64::from(seq)), ..Payload::default() }.encode_to_vec()
    })
}

/// A varint of `v`.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// Whether `i` fits in `width` bytes, signed or not.
fn fits(v: &SpValue, width: u32, signed: bool) -> bool {
    let bits = width * 8;
    let int = |i: i64| bits == 64 || (i >= -(1i64 << (bits - 1)) && i < (1i64 << (bits - 1)));
    let uint = |u: u64| bits == 64 || u < (1u64 << bits);
    match v {
        SpValue::Int(i) => signed && int(*i),
        SpValue::UInt(u) | SpValue::DateTime(u) => !signed && uint(*u),
        SpValue::IntArray(a) => signed && a.iter().all(|i| int(*i)),
        SpValue::UIntArray(a) => !signed && a.iter().all(|u| uint(*u)),
        _ => false,
    }
}

/// What any metric value must satisfy once decoded as `d`.
fn check_value(d: DataType, wire: Option<&Wire>) -> Result<(), TestCaseError> {
    let Ok(v) = decode(d, wire) else { return Ok(()) };
    if let Some((width, signed)) = d.int() {
        prop_assert!(fits(&v, width, signed), "{:?} of {:?} decoded as {:?}, wider than declared", wire, d, v);
    }
    // Canonical: a value read encodes (it is one of its datatype) and reads back the same
    // (compared as text: NaN is not equal to itself).
    let Some(again) = encode(d, &v) else { return Err(TestCaseError::fail(format!("{v:?} does not encode as {d:?}"))) };
    prop_assert_eq!(format!("{:?}", decode(d, Some(&again))), format!("{:?}", Ok::<_, CodecError>(v)));
    Ok(())
}

/// What any input must satisfy: decoding bounded by its size, a fixed point on re-encoding, and
/// every metric's value within its datatype.
fn check_payload(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(p) = Payload::decode(bytes) else { return Ok(()) };
    // Every metric takes at least two bytes on the wire (its field key and length): what a
    // payload allocates follows from its size, whatever lengths it claims.
    prop_assert!(p.metrics.len() <= bytes.len() / 2, "{} metrics from {} bytes", p.metrics.len(), bytes.len());
    let once = p.encode_to_vec();
    let twice = Payload::decode(once.as_slice()).map(|q| q.encode_to_vec());
    prop_assert_eq!(twice.as_ref(), Ok(&once), "re-encoding is not a fixed point");
    for m in &p.metrics {
        let Some(n) = m.datatype else { continue };
        match DataType::from_u32(n) {
            Some(d) => {
                prop_assert_eq!(d as u32, n);
                check_value(d, m.value.as_ref())?;
            }
            // Not taken: never read as another datatype (the host marks the tag, see its tests).
            None => prop_assert!(!DataType::ALL.iter().any(|d| *d as u32 == n)),
        }
    }
    Ok(())
}

crate::fuzz_target!(payload_random_bytes, prop::collection::vec(any::<u8>(), 0..512), |bytes: Vec<u8>| {
    check_payload(&bytes)
});

crate::fuzz_target!(payload_mutated, mutated(valid_payload()), |bytes: Vec<u8>| check_payload(&bytes));

// A valid payload, then a field (metrics, uuid, body; or a metric's bytes inside a valid metric
// header) whose length says up to 2^64 bytes: refused, never allocated.
crate::fuzz_target!(
    payload_huge_length,
    (
        valid_payload(),
        prop::sample::select(vec![0x12u8, 0x22, 0x2a]),
        20u32..64,
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..16)
    ),
    |(mut bytes, key, bits, low, tail): (Vec<u8>, u8, u32, u64, Vec<u8>)| {
        let claimed = (1u64 << bits) | (low & ((1u64 << bits) - 1));
        bytes.push(key);
        bytes.extend(varint(claimed));
        bytes.extend(&tail);
        prop_assert!(
            Payload::decode(bytes.as_slice()).is_err(),
            "a field of {} bytes in {} was taken",
            claimed,
            bytes.len()
        );
        // The same inside a metric: a metric whose bytes value claims the length.
        let mut inner = vec![0x82u8, 0x01]; // field 16 (bytes_value), length-delimited
        inner.extend(varint(claimed));
        inner.extend(&tail);
        let mut metric = vec![0x12u8];
        metric.extend(varint(inner.len() as u64));
        metric.extend(inner);
        prop_assert!(Payload::decode(metric.as_slice()).is_err());
        Ok(())
    }
);

// Any datatype number and any wire value: decoded within the declared width, or an error.
crate::fuzz_target!(values, (datatype_number(), prop::option::of(any_wire())), |(n, wire): (u32, Option<Wire>)| {
    if let Some(d) = DataType::from_u32(n) {
        check_value(d, wire.as_ref())?;
    }
    Ok(())
});

// Every integer in range of its datatype reads back as written (moved from the unit tests).
crate::fuzz_target!(
    integers_round_trip,
    (
        prop::sample::select(DataType::ALL.iter().copied().filter(|d| d.int().is_some()).collect::<Vec<_>>()),
        any::<u64>()
    ),
    |(d, x): (DataType, u64)| {
        let Some((width, signed)) = d.int() else { return Ok(()) };
        let v = match truncate(x, width, signed) {
            SpValue::UInt(u) if matches!(d, DataType::DateTime) => SpValue::DateTime(u),
            SpValue::Int(i) if d as u32 >= DataType::Int8Array as u32 => SpValue::IntArray(vec![i, i]),
            SpValue::UInt(u) if d as u32 >= DataType::Int8Array as u32 => SpValue::UIntArray(vec![u]),
            v => v,
        };
        let wire = encode(d, &v);
        prop_assert!(wire.is_some(), "{:?} of {:?} in range but not encoded", v, d);
        prop_assert_eq!(decode(d, wire.as_ref()), Ok(v));
        Ok(())
    }
);
