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
