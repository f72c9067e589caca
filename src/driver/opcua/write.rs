//! The OPC UA write operation: a planned Variant written to the node's Value attribute, then
//! read back; and the DataTypes write plans are made for.

use opcua::client::Session;
use opcua::types::{AttributeId, DataValue, NodeId, ReadValueId, StatusCode, TimestampsToReturn, Variant, WriteValue};

use super::convert;
use crate::driver::plan::{self, UaType, UaWrite};
use crate::driver::{NotSent, Refusal, Unknown, WriteError};
use crate::tag::{TagId, Value};

/// Nodes per Read request when the DataTypes are read (servers limit a request's size).
const TYPES_PER_READ: usize = 500;

fn read_id(node: &NodeId, attribute: AttributeId) -> ReadValueId {
    ReadValueId { node_id: node.clone(), attribute_id: attribute as u32, ..Default::default() }
}

/// The write-plan DataType of each node, or why a write cannot use it.
pub async fn data_types(session: &Session, nodes: &[(TagId, NodeId)]) -> Vec<(TagId, Result<UaType, String>)> {
    let mut out = Vec::with_capacity(nodes.len());
    for chunk in nodes.chunks(TYPES_PER_READ) {
        let ids: Vec<ReadValueId> = chunk.iter().map(|(_, n)| read_id(n, AttributeId::DataType)).collect();
        match session.read(&ids, TimestampsToReturn::Neither, 0.0).await {
            Ok(values) => {
                for (i, (tag, node)) in chunk.iter().enumerate() {
                    out.push((*tag, data_type_of(node, values.get(i))));
                }
            }
            Err(e) => {
                let why = format!("cannot read its DataType: {}", convert::status_name(e.status()));
                out.extend(chunk.iter().map(|(tag, _)| (*tag, Err(why.clone()))));
            }
        }
    }
    out
}

/// A node's DataType from the answer to a read of its DataType attribute.
fn data_type_of(node: &NodeId, answer: Option<&DataValue>) -> Result<UaType, String> {
    let Some(dv) = answer else { return Err("no answer to the DataType read".into()) };
    if let Some(s) = dv.status
        && !s.is_good()
    {
        return Err(format!("{node}: {}", convert::status_name(s)));
    }
    match &dv.value {
        Some(Variant::NodeId(data_type)) => convert::ua_type(data_type),
        _ => Err(format!("{node} has no DataType")),
    }
}

/// The node's DataType now, read from the server.
async fn data_type(session: &Session, node: &NodeId) -> Result<UaType, WriteError> {
    let dt =
        session.read(&[read_id(node, AttributeId::DataType)], TimestampsToReturn::Neither, 0.0).await.map_err(|e| {
            NotSent::Before(format!("cannot read the DataType of {node}: {}", convert::status_name(e.status())))
        })?;
    data_type_of(node, dt.first()).map_err(|why| NotSent::Before(why).into())
}

/// Writes the plan's Variant to `node` (the plan's node as resolved on this server) and reads the
/// value back. Refused, with nothing sent, when the node's DataType is no longer the plan's.
pub async fn send(session: &Session, node: &NodeId, w: &UaWrite) -> Result<Option<Value>, WriteError> {
    let now = data_type(session, node).await?;
    let planned = w.value.data_type();
    if now != planned {
        let why = format!("the plan writes a {planned}, the node's DataType is now {now}");
        return Err(NotSent::PlanMismatch(why).into());
    }
    write_variant(session, node, convert::variant(&w.value)).await
}

/// Writes `value` converted to the node's DataType as read now, and reads it back: the write
/// plan made and sent at once (for tools and tests; the console confirms a plan first).
pub async fn write_value(session: &Session, node: &NodeId, value: &Value) -> Result<Option<Value>, WriteError> {
    let ty = data_type(session, node).await?;
    let planned = plan::ua_value(ty, value).map_err(NotSent::Unfit)?;
    write_variant(session, node, convert::variant(&planned)).await
}

async fn write_variant(session: &Session, node: &NodeId, variant: Variant) -> Result<Option<Value>, WriteError> {
    let results = session
        .write(&[WriteValue {
            node_id: node.clone(),
            attribute_id: AttributeId::Value as u32,
            value: DataValue::value_only(variant),
            ..Default::default()
        }])
        .await
        .map_err(|e| service_failure(e.status()))?;
    match results.first() {
        Some(s) if s.is_good() => {}
        Some(s) => return Err(Refusal::Status(convert::status_name(*s)).into()),
        None => return Err(Unknown::NoAnswer("no result for the write".into()).into()),
    }
    // Written: a failed read-back leaves the value unconfirmed, not the write failed.
    let back = session.read(&[read_id(node, AttributeId::Value)], TimestampsToReturn::Neither, 0.0).await;
    Ok(back.ok().and_then(|b| b.first().and_then(|d| d.value.as_ref()).and_then(convert::value)))
}

/// A Write service call that failed as a whole: it timed out or the connection went, and whether
/// the server applied it is not known.
fn service_failure(status: StatusCode) -> WriteError {
    let name = convert::status_name(status);
    match status {
        StatusCode::BadConnectionClosed
        | StatusCode::BadSecureChannelClosed
        | StatusCode::BadCommunicationError
        | StatusCode::BadDisconnect
        | StatusCode::BadServerNotConnected
        | StatusCode::BadNotConnected
        | StatusCode::BadSessionClosed => WriteError::ConnectionLost(name),
        StatusCode::BadTimeout | StatusCode::BadRequestTimeout => {
            Unknown::NoAnswer(format!("no answer to the write ({name})")).into()
        }
        _ => Unknown::NoAnswer(format!("write failed: {name}")).into(),
    }
}
