//! Whether the gateway carries out a write command from the broker (pure: time is passed in).
//!
//! The caller parses the command's properties ([`claims`](crate::driver::sparkplug::command::claims);
//! a failure is [`unsigned`]), resolves the metric from its own birth ([`unknown_metric`] when
//! it has none), rebuilds the [`WriteRequest`] and asks [`check_write`]. The checks run in this
//! order, and the first that fails is the answer:
//!
//! 1. unsigned: no signature;
//! 2. unknown console: its host id is not in the consoles file;
//! 3. bad signature: not made by that console's key over this very request;
//! 4. replayed: its request id was seen (from the same console), or its time is more than 30 s from the gateway's clock
//!    (only signed commands are remembered, so nobody can fill the memory without a key);
//! 5. the role it claims is not a role, or above the console's `max_role`;
//! 6. the tag has no `write` block;
//! 7. the role is below the tag's `write.role` (a viewer never writes);
//! 8. the value is not of the tag's type (nor of the datatype the command names);
//! 9. the value is outside the tag's `min`/`max`, or changes it by more than `max_step` from
//!    its current value (unknown current value with a `max_step`: refused).
//!
//! An allowed command is then planned like a console's write ([`tag_value`] gives the value).

use crate::auth::Role;
use crate::driver::sparkplug::codec::{DataType, SpValue, encode};
use crate::driver::sparkplug::command::{Replay, WriteRequest, verify};
use crate::layout::{Tag, TagSource, WriteSpec};
use crate::sanitize::clean;
use crate::tag::Value;

use super::consoles::Consoles;

/// The gateway's answer to a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Why not, in words, for the audit record and the answer.
    Refused(String),
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allowed)
    }

    /// Why it was refused; `None` when allowed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Allowed => None,
            Verdict::Refused(why) => Some(why),
        }
    }
}

/// The answer to a command whose properties are missing or unusable (`why`, from
/// [`claims`](crate::driver::sparkplug::command::claims)).
pub fn unsigned(why: &str) -> Verdict {
    Verdict::Refused(format!(
        "unsigned: {}; a command must carry user, role, host, request_id, time and a signature from a console \
         listed in the gateway's consoles file",
        clean(why)
    ))
}

/// The answer to a command for a metric this gateway did not declare in its births.
pub fn unknown_metric(name: &str) -> Verdict {
    Verdict::Refused(format!(
        "unknown metric `{}`: this gateway publishes no metric of that name or alias (the console may hold an old \
         birth; it gets a new one on rebirth)",
        clean(name)
    ))
}

/// Checks a received command in order: unsigned (no/partial properties), unknown console (host
/// not in the file), bad signature, replayed (id seen or time outside ±30 s), role above the
/// console's max_role (or not a known role), role below the tag's write.role, no write block,
/// out of the tag's min/max/max_step (given the current value), wrong value type.
pub fn check_write(
    consoles: &Consoles,
    replay: &mut Replay,
    req: &WriteRequest,
    signature: &[u8],
    tag: &Tag,
    current: Option<f64>,
    now_ms: u64,
) -> Verdict {
    match decide(consoles, replay, req, signature, tag, current, now_ms) {
        Ok(()) => Verdict::Allowed,
        Err(why) => Verdict::Refused(why),
    }
}

fn decide(
    consoles: &Consoles,
    replay: &mut Replay,
    req: &WriteRequest,
    signature: &[u8],
    tag: &Tag,
    current: Option<f64>,
    now_ms: u64,
) -> Result<(), String> {
    if signature.is_empty() {
        return Err(unsigned("it has no signature").reason().unwrap_or_default().to_string());
    }
    let host = clean(&req.host);
    let Some(console) = consoles.get(&req.host) else {
        return Err(format!(
            "unknown console `{host}`: it is not in this gateway's consoles file (add its `ttyhmi key` line there \
             to let it write)"
        ));
    };
    if !verify(req, signature, &console.key) {
        return Err(format!(
            "bad signature: the command is not signed by the key the consoles file lists for `{host}` (altered on \
             the way, or the console's key changed: update its line with what `ttyhmi key` prints there)"
        ));
    }
    // Ids are per console (a host id has no `/`): two consoles cannot spoil each other's ids.
    let id = format!("{}/{}", req.host, req.request_id);
    replay.check(&id, req.time_ms, now_ms).map_err(|why| format!("replayed: {why}"))?;
    let role = check_role(req, console.max_role, &host)?;
    let spec = tag.write.ok_or_else(|| format!("`{}` has no write block: it cannot be written", tag.name))?;
    if role == Role::Viewer {
        return Err("role `viewer` never writes".into());
    }
    if role < spec.role {
        return Err(format!("role `{role}` may not write `{}` (it needs `{}` or above)", tag.name, spec.role));
    }
    let value = tag_value(tag, req.datatype, &req.value).map_err(|why| format!("wrong value type: {why}"))?;
    check_limits(&spec, current, &value).map_err(|why| format!("out of limits for `{}`: {why}", tag.name))
}

/// The role the command claims, if it is one the console may claim.
fn check_role(req: &WriteRequest, max_role: Role, host: &str) -> Result<Role, String> {
    let role: Role = req.role.parse().map_err(|e: crate::auth::UnknownRole| clean(&e.to_string()).into_owned())?;
    if role > max_role {
        return Err(format!(
            "role `{role}` is above what console `{host}` may claim (at most `{max_role}`, says the consoles file)"
        ));
    }
    Ok(role)
}

/// The command's value as the tag's value, to plan the write with; `Err` says why it is not a
/// value of the datatype the command names, or not one the tag takes.
pub fn tag_value(tag: &Tag, datatype: DataType, value: &SpValue) -> Result<Value, String> {
    if encode(datatype, value).is_none() {
        return Err(format!("the value is not a {datatype:?}, the datatype the command names"));
    }
    let v = match value {
        SpValue::Int(i) => Value::Int(*i),
        SpValue::UInt(u) => Value::UInt(*u),
        SpValue::Float(f) => Value::Float(f64::from(*f)),
        SpValue::Double(d) => Value::Float(*d),
        SpValue::Bool(b) => Value::Bool(*b),
        SpValue::Text(s) => Value::Text(s.clone()),
        SpValue::DateTime(_)
        | SpValue::Bytes(_)
        | SpValue::IntArray(_)
        | SpValue::UIntArray(_)
        | SpValue::FloatArray(_)
        | SpValue::DoubleArray(_) => return Err(format!("a {datatype:?} is never written to a tag")),
    };
    let TagSource::Modbus(p) = &tag.source else {
        // Typed by its server (OPC UA): the write plan checks the value against the node's type.
        return Ok(v);
    };
    use crate::layout::DataType as Mb;
    let fits = match (p.ty, &v) {
        (Mb::Bool, Value::Bool(_)) => true,
        (Mb::String { .. }, Value::Text(_)) => true,
        (Mb::Bool | Mb::String { .. }, _) => false,
        (_, Value::Int(_) | Value::UInt(_) | Value::Float(_)) => true,
        _ => false,
    };
    if !fits {
        return Err(format!("`{}` holds {}, not a {datatype:?}", tag.name, kind_of(p.ty)));
    }
    Ok(v)
}

fn kind_of(ty: crate::layout::DataType) -> String {
    match ty {
        crate::layout::DataType::Bool => "a boolean".into(),
        crate::layout::DataType::String { .. } => "a string".into(),
        other => format!("a number ({})", other.name()),
    }
}

/// The tag's limits, exactly as a console checks them before it plans a write: none for a
/// boolean; a text must be a number (an OPC UA String node holding a number).
fn check_limits(spec: &WriteSpec, current: Option<f64>, new: &Value) -> Result<(), String> {
    match new {
        Value::Bool(_) => Ok(()),
        Value::Text(t) => match t.trim().parse::<f64>() {
            Ok(n) => spec.check(current, n),
            Err(_) => Err(format!("`{}` is not a number, so the limits cannot be checked", clean(t))),
        },
        v => spec.check(current, v.as_f64().unwrap_or(f64::NAN)),
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
