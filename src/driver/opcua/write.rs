//! The OPC UA write operation: the value as a Variant of the node's DataType, then read back.

use opcua::client::Session;
use opcua::types::{AttributeId, DataValue, NodeId, ReadValueId, TimestampsToReturn, WriteValue};

use super::convert;
use crate::tag::Value;

/// Writes `value` to the node's Value attribute, converting it to the node's DataType (read
/// first); returns the value read back.
pub async fn write_value(session: &Session, node: &NodeId, value: &Value) -> Result<Option<Value>, String> {
    let read = |attribute: AttributeId| ReadValueId {
        node_id: node.clone(),
        attribute_id: attribute as u32,
        ..Default::default()
    };
    let dt = session
        .read(&[read(AttributeId::DataType)], TimestampsToReturn::Neither, 0.0)
        .await
        .map_err(|e| format!("cannot read the DataType of {node}: {}", convert::status_name(e.status())))?;
    let dt = dt.first().ok_or("no answer to the DataType read")?;
    if let Some(s) = dt.status
        && !s.is_good()
    {
        return Err(format!("{node}: {}", convert::status_name(s)));
    }
    let Some(opcua::types::Variant::NodeId(data_type)) = &dt.value else {
        return Err(format!("{node} has no DataType"));
    };
    let variant = convert::variant_for(data_type, value)?;
    let results = session
        .write(&[WriteValue {
            node_id: node.clone(),
            attribute_id: AttributeId::Value as u32,
            value: DataValue::value_only(variant),
            ..Default::default()
        }])
        .await
        .map_err(|e| format!("write failed: {}", convert::status_name(e.status())))?;
    match results.first() {
        Some(s) if s.is_good() => {}
        Some(s) => return Err(format!("the server refused the write: {}", convert::status_name(*s))),
        None => return Err("no answer to the write".into()),
    }
    let back = session
        .read(&[read(AttributeId::Value)], TimestampsToReturn::Neither, 0.0)
        .await
        .map_err(|e| format!("read back failed: {}", convert::status_name(e.status())))?;
    Ok(back.first().and_then(|d| d.value.as_ref()).and_then(convert::value))
}

/// The value as the server holds it after a write of `value`: the read-back value when the
/// server converted it (an Int16 node written with 7.0 holds 7), else `value`.
pub fn as_written(value: &Value, readback: Option<&Value>) -> Value {
    match (value, readback) {
        (Value::Float(f), Some(Value::Int(i))) if f.fract() == 0.0 && *f == *i as f64 => Value::Int(*i),
        (Value::Float(f), Some(Value::UInt(u))) if f.fract() == 0.0 && *f == *u as f64 => Value::UInt(*u),
        (Value::Int(i), Some(Value::UInt(u))) if *i >= 0 && *i as u64 == *u => Value::UInt(*u),
        (Value::UInt(u), Some(Value::Int(i))) if *i >= 0 && *i as u64 == *u => Value::Int(*i),
        (Value::Int(i), Some(Value::Float(f))) if *f == *i as f64 => Value::Float(*f),
        (Value::UInt(u), Some(Value::Float(f))) if *f == *u as f64 => Value::Float(*f),
        // A Float node rounds a double: compare what it holds.
        (Value::Float(f), Some(Value::Float(b))) if (*f as f32) as f64 == *b => Value::Float(*b),
        (v, _) => v.clone(),
    }
}
