//! Fuzzing what an OPC UA server's values become (see `crate::fuzzing`): arbitrary Variants
//! (every scalar type, strings with control and bidi characters, NaN and huge floats,
//! ByteStrings, nested and multi-dimensional arrays, ExtensionObjects, DateTimes at both ends of
//! their range) and DataValues with any status and timestamps. No panic; text that reaches the
//! screen is clean; numbers arrive unchanged; every status maps to its quality.

use std::time::{Duration, SystemTime};

use opcua::types::{
    Array, ByteString, DataValue, DateTime, EUInformation, ExtensionObject, Guid, LocalizedText, NodeId, QualifiedName,
    StatusCode, UAString, Variant, VariantScalarTypeId, XmlElement,
};
use proptest::prelude::*;

use super::convert::{quality, status_name, system_time, value};
use super::{Limits, data_sample, probe};
use crate::tag::{Quality, Value};

/// Text a hostile server might send: terminal escapes, bidi overrides, NULs, anything.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[\\x00-\\x1f\\x7f-\\x9f\u{202a}-\u{202e}\u{2066}-\u{2069}a-z ]{0,40}",
        Just("\u{1b}]0;owned\u{7}\u{1b}[2J".to_string()),
        Just("\u{202e}1.0\u{202c}".to_string()),
        ".{300,600}",
    ]
}

fn ua_string() -> impl Strategy<Value = UAString> {
    prop_oneof![1 => Just(UAString::null()), 9 => hostile_text().prop_map(UAString::from)]
}

/// Ticks at both ends of DateTime's range and past them: before 1601, around 1970, the year
/// 9999 and beyond.
fn date_time() -> impl Strategy<Value = DateTime> {
    prop_oneof![
        any::<i64>(),
        Just(0i64),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(-1i64),
        Just(DateTime::endtimes_ticks()),
        Just(DateTime::endtimes_ticks() + 1),
        // 1970 ± a century.
        (116_444_736_000_000_000 - 31_557_600_000_000_000i64)..(116_444_736_000_000_000 + 31_557_600_000_000_000),
        // After 2554, when nanoseconds since 1970 no longer fit 64 bits.
        (30_000_000_000_000_000i64..=DateTime::endtimes_ticks()),
    ]
    .prop_map(DateTime::from)
}

fn status() -> impl Strategy<Value = StatusCode> {
    prop_oneof![
        any::<u32>().prop_map(StatusCode::from),
        // Every severity, with common sub-codes and info bits.
        (0u32..4, 0u32..0x100, 0u32..0x400).prop_map(|(sev, sub, info)| StatusCode::from(sev << 30 | sub << 16 | info)),
        Just(StatusCode::Good),
        Just(StatusCode::BadNodeIdUnknown),
        Just(StatusCode::UncertainLastUsableValue),
    ]
}

fn scalar() -> impl Strategy<Value = Variant> {
    prop_oneof![
        Just(Variant::Empty),
        any::<bool>().prop_map(Variant::Boolean),
        any::<i8>().prop_map(Variant::SByte),
        any::<u8>().prop_map(Variant::Byte),
        any::<i16>().prop_map(Variant::Int16),
        any::<u16>().prop_map(Variant::UInt16),
        any::<i32>().prop_map(Variant::Int32),
        any::<u32>().prop_map(Variant::UInt32),
        any::<i64>().prop_map(Variant::Int64),
        any::<u64>().prop_map(Variant::UInt64),
        prop_oneof![any::<f32>(), Just(f32::NAN), Just(f32::INFINITY), Just(f32::MAX), Just(-0.0f32)]
            .prop_map(Variant::Float),
        prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::NEG_INFINITY), Just(f64::MIN_POSITIVE), Just(1e308)]
            .prop_map(Variant::Double),
        ua_string().prop_map(Variant::String),
        date_time().prop_map(|d| Variant::DateTime(Box::new(d))),
        any::<[u8; 16]>().prop_map(|b| Variant::Guid(Box::new(Guid::from_bytes(b)))),
        status().prop_map(Variant::StatusCode),
        prop_oneof![Just(ByteString::null()), prop::collection::vec(any::<u8>(), 0..64).prop_map(ByteString::from),]
            .prop_map(Variant::ByteString),
        hostile_text().prop_map(|s| Variant::XmlElement(XmlElement::from(s))),
        (any::<u16>(), hostile_text()).prop_map(|(ns, n)| Variant::QualifiedName(Box::new(QualifiedName::new(ns, n)))),
        (hostile_text(), hostile_text())
            .prop_map(|(l, t)| Variant::LocalizedText(Box::new(LocalizedText::new(&l, &t)))),
        (any::<u16>(), hostile_text()).prop_map(|(ns, s)| Variant::NodeId(Box::new(NodeId::new(ns, s)))),
        Just(Variant::ExtensionObject(ExtensionObject::null())),
        (hostile_text(), any::<i32>()).prop_map(|(t, unit_id)| {
            Variant::ExtensionObject(ExtensionObject::new(EUInformation {
                namespace_uri: UAString::from(t.clone()),
                unit_id,
                display_name: LocalizedText::new("en", &t),
                description: LocalizedText::null(),
            }))
        }),
        Just(Variant::DiagnosticInfo(Box::default())),
    ]
}

fn variant() -> impl Strategy<Value = Variant> {
    scalar().prop_recursive(4, 64, 12, |inner| {
        prop_oneof![
            // Arrays as a server sends them, and as it should not: of mixed types, nested, with
            // dimensions that do not match the elements.
            (prop::collection::vec(inner.clone(), 0..12), prop::option::of(prop::collection::vec(any::<u32>(), 0..4)))
                .prop_map(|(values, dimensions)| {
                    Variant::Array(Box::new(Array { value_type: VariantScalarTypeId::Variant, values, dimensions }))
                }),
            (1usize..3000).prop_map(|n| {
                Variant::Array(Box::new(Array {
                    value_type: VariantScalarTypeId::Double,
                    values: vec![Variant::Double(f64::NAN); n],
                    dimensions: Some(vec![u32::MAX, 2]),
                }))
            }),
            inner.clone().prop_map(|v| Variant::Variant(Box::new(v))),
            (inner, status(), prop::option::of(date_time())).prop_map(|(v, s, t)| {
                Variant::DataValue(Box::new(DataValue {
                    value: Some(v),
                    status: Some(s),
                    source_timestamp: t,
                    ..DataValue::default()
                }))
            }),
        ]
    })
}

/// Longest text a value of `v` can become: arrays show at most 8 elements and a count, other
/// structured values 80 characters.
fn longest_text(v: &Variant) -> usize {
    match v {
        Variant::String(s) => s.value().as_ref().map_or(0, |s| s.chars().count()),
        Variant::LocalizedText(t) => t.text.value().as_ref().map_or(0, |s| s.chars().count()),
        Variant::ByteString(_) => 2 + 32 + 1 + 30,
        Variant::DateTime(_) => 64,
        Variant::Array(a) => 2 + 40 + a.values.iter().take(8).map(|x| longest_text(x).max(64) * 2 + 2).sum::<usize>(),
        _ => 80,
    }
}

crate::fuzz_target!(variants, variant(), |v: Variant| {
    let got = value(&v);
    match (&v, &got) {
        (Variant::Empty, None) => {}
        (Variant::Empty, Some(g)) => prop_assert!(false, "Empty became {g:?}"),
        (_, None) => prop_assert!(false, "{v:?} became no value"),
        (_, Some(g)) => {
            // Sanitizing is the display's contract: no control or bidi character on screen.
            let shown = g.display(None);
            prop_assert!(!shown.chars().any(crate::sanitize::is_unsafe), "{shown:?}");
            // At most an escape (`\u{10ffff}`, 10 characters) for each character of the text.
            prop_assert!(shown.chars().count() <= longest_text(&v) * 10 + 16, "{} characters from {v:?}", shown.len());
        }
    }
    let exact = match &v {
        Variant::Boolean(b) => Some(Value::Bool(*b)),
        Variant::SByte(x) => Some(Value::Int((*x).into())),
        Variant::Int16(x) => Some(Value::Int((*x).into())),
        Variant::Int32(x) => Some(Value::Int((*x).into())),
        Variant::Int64(x) => Some(Value::Int(*x)),
        Variant::Byte(x) => Some(Value::UInt((*x).into())),
        Variant::UInt16(x) => Some(Value::UInt((*x).into())),
        Variant::UInt32(x) => Some(Value::UInt((*x).into())),
        Variant::UInt64(x) => Some(Value::UInt(*x)),
        Variant::String(s) => Some(Value::Text(s.value().clone().unwrap_or_default())),
        _ => None,
    };
    if let Some(exact) = exact {
        prop_assert_eq!(got, Some(exact));
    }
    match (&v, value(&v)) {
        (Variant::Float(f), Some(Value::Float(g))) => {
            prop_assert!(f64::from(*f).total_cmp(&g).is_eq() || f.is_nan() && g.is_nan())
        }
        (Variant::Double(f), Some(Value::Float(g))) => {
            prop_assert!(f.total_cmp(&g).is_eq() || f.is_nan() && g.is_nan())
        }
        (Variant::Float(_) | Variant::Double(_), other) => prop_assert!(false, "{v:?} became {other:?}"),
        _ => {}
    }
    Ok(())
});

crate::fuzz_target!(
    data_values,
    (
        prop::option::of(variant()),
        prop::option::of(status()),
        prop::option::of(date_time()),
        prop::option::of(date_time())
    ),
    |(v, status, source, server): (Option<Variant>, Option<StatusCode>, Option<DateTime>, Option<DateTime>)| {
        let dv = DataValue {
            value: v.clone(),
            status,
            source_timestamp: source,
            server_timestamp: server,
            ..DataValue::default()
        };
        let s = data_sample(&dv);
        let st = status.unwrap_or(StatusCode::Good);
        match &s.quality {
            Quality::Good => prop_assert!(st.is_good(), "{st:?} is Good"),
            Quality::Uncertain(r) => {
                prop_assert!(st.is_uncertain(), "{st:?} is Uncertain");
                prop_assert!(r.to_string().contains("Uncertain"), "{r}");
            }
            Quality::Bad(r) => {
                prop_assert!(st.is_bad(), "{st:?} is Bad");
                prop_assert!(r.to_string().contains("Bad"), "{r}");
            }
        }
        // NaN is no equal of itself: compare what is shown.
        let shown = |v: Option<Value>| v.map(|v| format!("{v:?}"));
        prop_assert_eq!(shown(s.value), shown(v.as_ref().and_then(value)));
        prop_assert_eq!(s.source_ts, source.as_ref().and_then(system_time));
        prop_assert_eq!(s.server_ts, server.as_ref().and_then(system_time));
        Ok(())
    }
);

crate::fuzz_target!(statuses, status(), |s: StatusCode| {
    let name = status_name(s);
    prop_assert!(!name.is_empty() && !name.chars().any(crate::sanitize::is_unsafe), "{name:?}");
    let q = quality(s);
    prop_assert_eq!(q.is_good(), s.is_good(), "{:?} {:?}", s, q);
    // Severity 0b11 is Bad, as the standard says.
    prop_assert_eq!(matches!(q, Quality::Bad(_)), s.bits() >> 30 >= 2, "{:?} {:?}", s, q);
    prop_assert_eq!(matches!(q, Quality::Uncertain(_)), s.bits() >> 30 == 1, "{:?} {:?}", s, q);
    Ok(())
});

/// The time `ticks` (100 ns since 1601) stands for, computed without overflow.
fn expected_time(ticks: i64) -> Option<SystemTime> {
    let nanos = (i128::from(ticks) - 116_444_736_000_000_000) * 100;
    let d = Duration::new((nanos.unsigned_abs() / 1_000_000_000) as u64, (nanos.unsigned_abs() % 1_000_000_000) as u32);
    if nanos >= 0 { SystemTime::UNIX_EPOCH.checked_add(d) } else { SystemTime::UNIX_EPOCH.checked_sub(d) }
}

crate::fuzz_target!(timestamps, date_time(), |t: DateTime| {
    let ticks = t.checked_ticks().min(DateTime::endtimes_ticks());
    let got = system_time(&t);
    if ticks <= 0 {
        prop_assert_eq!(got, None);
    } else {
        prop_assert_eq!(got, expected_time(ticks), "ticks {}", ticks);
    }
    if let Some(Value::Text(shown)) = value(&Variant::DateTime(Box::new(t))) {
        prop_assert!(!shown.is_empty() && !shown.chars().any(crate::sanitize::is_unsafe), "{shown:?}");
    }
    Ok(())
});

#[test]
fn a_timestamp_after_2554_is_the_time_it_says() {
    // 2600-01-01T00:00:00Z: nanoseconds since 1970 overflow 64 bits (they used to, in the
    // multiplication: a panic in a debug build, a wrapped time in a release one).
    let t = DateTime::ymd(2600, 1, 1);
    let want = SystemTime::UNIX_EPOCH + Duration::from_secs(19_880_899_200);
    assert_eq!(system_time(&t), Some(want));
    assert_eq!(system_time(&DateTime::endtimes()), expected_time(DateTime::endtimes_ticks()));
}

#[test]
fn a_timestamp_past_9999_is_the_end_of_times_and_shown() {
    // 9999-12-31T23:59:59.0000001Z is past DateTime's range: its ticks read as i64::MAX, which
    // made a time in the year 29,000 that the date formatting could not hold (a panic).
    let t = DateTime::from(DateTime::endtimes_ticks() + 1);
    assert_eq!(system_time(&t), expected_time(DateTime::endtimes_ticks()));
    let shown = value(&Variant::DateTime(Box::new(t))).map(|v| v.to_string());
    assert_eq!(shown.as_deref(), Some("9999-12-31 23:59:59Z"));
}

#[test]
fn an_unknown_status_code_names_its_severity_and_number() {
    // 0x40010000: Uncertain, with a sub-code async-opcua does not know (it says "Invalid").
    let s = StatusCode::from(0x4001_0000);
    assert_eq!(status_name(s), "Uncertain_0x40010000");
    assert_eq!(quality(s), Quality::Uncertain(crate::tag::Reason::Other("Uncertain_0x40010000".into())));
    assert_eq!(status_name(StatusCode::from(0xC0AB_0000)), "Bad_0xC0AB0000");
    assert_eq!(status_name(StatusCode::BadNodeIdUnknown), "Bad_NodeIdUnknown");
}

fn limits() -> impl Strategy<Value = Limits> {
    (0usize..100, 0usize..100, 0usize..20, any::<usize>(), any::<usize>()).prop_map(
        |(string, byte_string, array, message, chunks)| Limits { string, byte_string, array, message, chunks },
    )
}

crate::fuzz_target!(probe_limits, (variant(), limits()), |(v, limits): (Variant, Limits)| {
    let over = probe::over(&v, &limits);
    if let Some(why) = &over {
        prop_assert!(why.contains("over the console's limit"), "{why}");
        prop_assert!(!why.chars().any(crate::sanitize::is_unsafe), "{why}");
    }
    let direct = match &v {
        Variant::String(s) => Some(s.value().as_ref().map_or(0, String::len) > limits.string),
        Variant::ByteString(b) => Some(b.value.as_ref().map_or(0, Vec::len) > limits.byte_string),
        Variant::Array(a) if a.values.len() > limits.array => Some(true),
        Variant::Boolean(_) | Variant::Double(_) | Variant::Int32(_) | Variant::Empty => Some(false),
        _ => None,
    };
    if let Some(direct) = direct {
        prop_assert_eq!(over.is_some(), direct, "{:?} {:?}: {:?}", v, limits, over);
    }
    Ok(())
});
