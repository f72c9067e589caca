//! Conversions between OPC UA and ttyhmi: status codes to quality, variants to values (and back,
//! for writes), timestamps, and layout NodeIds to server NodeIds.

use std::time::{Duration, SystemTime};

use opcua::types::{
    ByteString, DataTypeId, DateTime, Guid, Identifier as UaIdentifier, NamespaceMap, NodeId, StatusCode, UAString,
    Variant,
};

use crate::driver::plan::{self, UaType, UaValue};
use crate::layout::nodeid::{Identifier, Namespace, NodeRef};
use crate::tag::{Quality, Reason, Value};

/// `BadNodeIdUnknown` → `Bad_NodeIdUnknown`, the spec's symbolic form.
pub fn status_name(s: StatusCode) -> String {
    let name = s.to_string();
    // A code this library does not know (a vendor's, or a newer specification's) reads
    // "Invalid": say its severity and its number instead, which the server's manual lists.
    if name.starts_with("Invalid") {
        let severity = if s.is_good() {
            "Good"
        } else if s.is_uncertain() {
            "Uncertain"
        } else {
            "Bad"
        };
        return format!("{severity}_0x{:08X}", s.bits());
    }
    for prefix in ["Good", "Uncertain", "Bad"] {
        if let Some(rest) = name.strip_prefix(prefix)
            && !rest.is_empty()
            && !rest.starts_with('_')
        {
            return format!("{prefix}_{rest}");
        }
    }
    name
}

pub fn quality(s: StatusCode) -> Quality {
    if s.is_good() {
        Quality::Good
    } else if s.is_uncertain() {
        Quality::Uncertain(Reason::Other(status_name(s)))
    } else {
        Quality::Bad(Reason::Other(status_name(s)))
    }
}

/// Seconds between 1601-01-01 (OPC UA's epoch) and 1970-01-01.
const EPOCH_DIFF_TICKS: i64 = 116_444_736_000_000_000;
/// Ticks (100 ns) in a second.
const TICKS_PER_SECOND: u64 = 10_000_000;

pub fn system_time(t: &DateTime) -> Option<SystemTime> {
    // Past the end of DateTime's range (`i64::MAX` ticks): the largest time there is, as the
    // specification says, 9999-12-31T23:59:59Z.
    let ticks = t.checked_ticks().min(DateTime::endtimes_ticks());
    if ticks <= 0 {
        return None; // "no timestamp"
    }
    let since_unix = ticks - EPOCH_DIFF_TICKS;
    // Whole seconds first: nanoseconds since 1970 overflow 64 bits after the year 2554.
    let abs = since_unix.unsigned_abs();
    let subsec = u32::try_from(abs % TICKS_PER_SECOND).unwrap_or(0) * 100;
    let d = Duration::new(abs / TICKS_PER_SECOND, subsec);
    if since_unix >= 0 { SystemTime::UNIX_EPOCH.checked_add(d) } else { SystemTime::UNIX_EPOCH.checked_sub(d) }
}

/// Elements shown of an array before `…`.
const ARRAY_SHOWN: usize = 8;

/// A server value as a tag value. Arrays and structured values become compact text.
pub fn value(v: &Variant) -> Option<Value> {
    Some(match v {
        Variant::Empty => return None,
        Variant::Boolean(b) => Value::Bool(*b),
        Variant::SByte(x) => Value::Int(*x as i64),
        Variant::Int16(x) => Value::Int(*x as i64),
        Variant::Int32(x) => Value::Int(*x as i64),
        Variant::Int64(x) => Value::Int(*x),
        Variant::Byte(x) => Value::UInt(*x as u64),
        Variant::UInt16(x) => Value::UInt(*x as u64),
        Variant::UInt32(x) => Value::UInt(*x as u64),
        Variant::UInt64(x) => Value::UInt(*x),
        Variant::Float(x) => Value::Float(*x as f64),
        Variant::Double(x) => Value::Float(*x),
        Variant::String(s) => Value::Text(s.value().clone().unwrap_or_default()),
        Variant::LocalizedText(t) => Value::Text(t.text.value().clone().unwrap_or_default()),
        Variant::DateTime(d) => {
            Value::Text(system_time(d).map(crate::timefmt::date_time_utc).unwrap_or_else(|| "(no time)".to_string()))
        }
        Variant::Array(a) => {
            let shown: Vec<String> = a
                .values
                .iter()
                .take(ARRAY_SHOWN)
                .map(|x| value(x).map(|v| v.to_string()).unwrap_or_else(|| "-".into()))
                .collect();
            let more =
                if a.values.len() > ARRAY_SHOWN { format!(", … {} in all", a.values.len()) } else { String::new() };
            Value::Text(format!("[{}{more}]", shown.join(", ")))
        }
        Variant::ByteString(b) => {
            let bytes = b.value.as_deref().unwrap_or(&[]);
            let hex: String = bytes.iter().take(16).map(|x| format!("{x:02x}")).collect();
            Value::Text(if bytes.len() > 16 {
                format!("0x{hex}… ({} bytes)", bytes.len())
            } else {
                format!("0x{hex}")
            })
        }
        other => Value::Text(format!("{other:?}").chars().take(80).collect()),
    })
}

/// The server's NodeId for a layout NodeId; `nsu=` is looked up in the server's NamespaceArray.
pub fn node_id(r: &NodeRef, namespaces: &NamespaceMap) -> Result<NodeId, String> {
    let ns = match &r.namespace {
        Namespace::Index(i) => *i,
        Namespace::Uri(u) => namespaces
            .get_index(u)
            .ok_or_else(|| format!("namespace {u} is not on this server (its NamespaceArray does not list it)"))?,
    };
    let id: UaIdentifier = match &r.identifier {
        Identifier::Numeric(n) => (*n).into(),
        Identifier::String(s) => s.clone().into(),
        Identifier::Guid(g) => g.parse::<Guid>().map_err(|_| format!("bad GUID {g}"))?.into(),
        Identifier::Opaque(b) => ByteString::from(b.clone()).into(),
    };
    Ok(NodeId::new(ns, id))
}

/// The write-plan DataType of a node whose DataType attribute is `data_type`, or why a write
/// cannot use it.
pub fn ua_type(data_type: &NodeId) -> Result<UaType, String> {
    Ok(match data_type.as_data_type_id().ok() {
        Some(DataTypeId::Boolean) => UaType::Boolean,
        Some(DataTypeId::SByte) => UaType::SByte,
        Some(DataTypeId::Byte) => UaType::Byte,
        Some(DataTypeId::Int16) => UaType::Int16,
        Some(DataTypeId::UInt16) => UaType::UInt16,
        Some(DataTypeId::Int32) => UaType::Int32,
        Some(DataTypeId::UInt32) => UaType::UInt32,
        Some(DataTypeId::Int64) => UaType::Int64,
        Some(DataTypeId::UInt64) => UaType::UInt64,
        Some(DataTypeId::Float) => UaType::Float,
        Some(DataTypeId::Double) => UaType::Double,
        Some(DataTypeId::String) => UaType::String,
        _ => return Err(format!("writing a node of data type {data_type} is not supported")),
    })
}

/// A planned value as the Variant it is, one to one.
pub fn variant(v: &UaValue) -> Variant {
    match v {
        UaValue::Boolean(b) => Variant::Boolean(*b),
        UaValue::SByte(x) => Variant::SByte(*x),
        UaValue::Byte(x) => Variant::Byte(*x),
        UaValue::Int16(x) => Variant::Int16(*x),
        UaValue::UInt16(x) => Variant::UInt16(*x),
        UaValue::Int32(x) => Variant::Int32(*x),
        UaValue::UInt32(x) => Variant::UInt32(*x),
        UaValue::Int64(x) => Variant::Int64(*x),
        UaValue::UInt64(x) => Variant::UInt64(*x),
        UaValue::Float(x) => Variant::Float(*x),
        UaValue::Double(x) => Variant::Double(*x),
        UaValue::String(t) => Variant::String(UAString::from(t.as_str())),
    }
}

/// A tag value as a Variant of the node's DataType, for the Write service. Refuses what does not
/// fit the type exactly (no silent rounding or truncation): the write plan's conversion
/// ([`plan::ua_value`]).
pub fn variant_for(data_type: &NodeId, v: &Value) -> Result<Variant, String> {
    let ty = ua_type(data_type)?;
    plan::ua_value(ty, v).map(|u| variant(&u)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_read_as_the_spec_names_them() {
        assert_eq!(status_name(StatusCode::BadNodeIdUnknown), "Bad_NodeIdUnknown");
        assert_eq!(status_name(StatusCode::Good), "Good");
        assert_eq!(quality(StatusCode::Good), Quality::Good);
        assert_eq!(
            quality(StatusCode::UncertainLastUsableValue),
            Quality::Uncertain(Reason::Other("Uncertain_LastUsableValue".into()))
        );
        assert_eq!(quality(StatusCode::BadNotConnected), Quality::Bad(Reason::Other("Bad_NotConnected".into())));
    }

    #[test]
    fn values_of_every_type() {
        assert_eq!(value(&Variant::Boolean(true)), Some(Value::Bool(true)));
        assert_eq!(value(&Variant::SByte(-5)), Some(Value::Int(-5)));
        assert_eq!(value(&Variant::UInt64(u64::MAX)), Some(Value::UInt(u64::MAX)));
        assert_eq!(value(&Variant::Float(1.5)), Some(Value::Float(1.5)));
        assert_eq!(value(&Variant::String("x".into())), Some(Value::Text("x".into())));
        assert_eq!(value(&Variant::Empty), None);
        let arr = Variant::from((1..=10).map(|i| i as f64).collect::<Vec<f64>>());
        assert_eq!(value(&arr), Some(Value::Text("[1, 2, 3, 4, 5, 6, 7, 8, … 10 in all]".into())));
        let t = DateTime::from(0i64);
        assert_eq!(system_time(&t), None, "zero ticks is no timestamp");
        let now = SystemTime::now();
        let back = system_time(&DateTime::from(now_ticks(now))).unwrap();
        assert!(back.duration_since(now).unwrap_or_else(|e| e.duration()) < Duration::from_micros(1));
    }

    fn now_ticks(t: SystemTime) -> i64 {
        t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as i64 / 100 + EPOCH_DIFF_TICKS
    }

    #[test]
    fn writes_refuse_what_does_not_fit() {
        let t = |id: DataTypeId| NodeId::from(id);
        assert_eq!(variant_for(&t(DataTypeId::Int16), &Value::Int(-3)), Ok(Variant::Int16(-3)));
        assert!(variant_for(&t(DataTypeId::Int16), &Value::Int(40_000)).unwrap_err().contains("out of range"));
        assert!(variant_for(&t(DataTypeId::UInt32), &Value::Float(1.5)).unwrap_err().contains("whole"));
        assert!(variant_for(&t(DataTypeId::Double), &Value::Float(f64::NAN)).is_err());
        assert_eq!(variant_for(&t(DataTypeId::Float), &Value::Float(2.5)), Ok(Variant::Float(2.5)));
        assert!(variant_for(&t(DataTypeId::Float), &Value::Float(1e300)).is_err());
        assert_eq!(variant_for(&t(DataTypeId::Boolean), &Value::Bool(true)), Ok(Variant::Boolean(true)));
        assert!(variant_for(&t(DataTypeId::Boolean), &Value::Int(7)).is_err());
        assert!(variant_for(&t(DataTypeId::Guid), &Value::Int(7)).is_err());
    }

    #[test]
    fn a_planned_value_reads_back_as_the_value_the_plan_expects() {
        let values = [
            UaValue::Boolean(true),
            UaValue::SByte(-8),
            UaValue::Byte(200),
            UaValue::Int16(-300),
            UaValue::UInt16(65535),
            UaValue::Int32(i32::MIN),
            UaValue::UInt32(u32::MAX),
            UaValue::Int64(i64::MIN),
            UaValue::UInt64(u64::MAX),
            UaValue::Float(0.1),
            UaValue::Double(-1e300),
            UaValue::String("Grüße".into()),
        ];
        for (u, ty) in values.iter().zip(UaType::ALL) {
            assert_eq!(u.data_type(), ty);
            let v = variant(u);
            assert_eq!(value(&v), Some(u.value()), "{u:?}");
            let opcua::types::VariantTypeId::Scalar(t) = v.type_id() else { panic!("{v:?} is not a scalar") };
            // A scalar Variant's type id is its built-in DataType's numeric id.
            let dt = NodeId::new(0, t as u32);
            assert_eq!(ua_type(&dt), Ok(ty), "{u:?}: the Variant is of the DataType");
        }
    }

    #[test]
    fn node_ids_resolve_namespace_uris() {
        let mut ns = NamespaceMap::new();
        ns.add_namespace("urn:ttyhmi:sim");
        let r = NodeRef::parse("nsu=urn:ttyhmi:sim;s=Plant.X").unwrap();
        let id = node_id(&r, &ns).unwrap();
        assert_eq!(id, NodeId::new(1, "Plant.X"));
        let missing = NodeRef::parse("nsu=urn:other;i=5").unwrap();
        assert!(node_id(&missing, &ns).unwrap_err().contains("not on this server"));
        assert_eq!(node_id(&NodeRef::parse("i=2258").unwrap(), &ns).unwrap(), NodeId::new(0, 2258u32));
    }
}
