//! The write plan: exactly what goes on the wire for one write, made once by a pure function of
//! the tag, its connection and the value ([`plan`]). The confirmation dialog shows its
//! [description](WritePlan::description), the write order carries it unchanged, and the driver
//! sends exactly it: a driver may refuse a plan that no longer matches its tag
//! ([`WritePlan::modbus_for`], [`WritePlan::opcua_for`]), it never encodes the value again. So
//! what the operator confirms is what is sent.
//!
//! - Modbus: unit, function code and address, with the coil state, the register words, or the
//!   masks of a one-bit write. The tag's table and the connection's `mask_write` decide the
//!   function code: a coil is FC05, one register FC06, several FC16, a bit of a holding register
//!   FC22 (mask write) or, with `mask_write: false`, FC03 then FC06 (read-modify-write).
//! - OPC UA: the node and the value as a Variant of the node's DataType. The DataType is the
//!   server's (read by the driver when it subscribes, see `DriverEvent::DataTypes`); until it is
//!   known no plan can be made.
//!
//! - Sparkplug B: the metric (device, name), its datatype as the edge node's birth declared it
//!   and the value of that type; the connection's driver signs and sends it as a command.
//!
//! A value that cannot be encoded is a [`PlanError`] that says why; planning never panics.

use std::fmt;

use super::modbus::codec::{self, CodecError};
use super::sparkplug::codec::{DataType as SpType, SpValue};
use crate::layout::nodeid::NodeRef;
use crate::layout::{ConnId, ConnectionKind, Layout, ModbusPoint, SpPoint, Table, TagSource, UaPoint};
use crate::tag::{TagId, Value};

/// Registers one FC16 request may carry.
pub const MAX_WRITE_REGISTERS: usize = 123;

/// One write, as it goes on the wire. Made only by [`plan`]; read through its accessors.
#[derive(Clone, Debug, PartialEq)]
pub struct WritePlan {
    tag: TagId,
    conn: ConnId,
    wire: Wire,
    expected: Value,
}

/// The request (or requests) of a write.
#[derive(Clone, Debug, PartialEq)]
pub enum Wire {
    Modbus(ModbusWrite),
    OpcUa(UaWrite),
    Sparkplug(SpWrite),
}

/// A Sparkplug write: the metric, its datatype as born, and the value of that type.
#[derive(Clone, Debug, PartialEq)]
pub struct SpWrite {
    pub point: SpPoint,
    pub datatype: SpType,
    pub value: SpValue,
}

/// A tag's type as its source declares it at run time, which write plans need: an OPC UA node's
/// DataType, or a Sparkplug metric's datatype as its birth declared it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireType {
    Ua(UaType),
    Sparkplug(SpType),
}

/// A Modbus write: where, and what.
#[derive(Clone, Debug, PartialEq)]
pub struct ModbusWrite {
    pub unit: u8,
    /// The PDU address (of the coil or the first register).
    pub address: u16,
    pub op: ModbusOp,
    /// The point the plan was made for: a driver whose point differs refuses the plan.
    pub point: ModbusPoint,
}

/// What a Modbus write sends, by function code.
#[derive(Clone, Debug, PartialEq)]
pub enum ModbusOp {
    /// FC05, write single coil.
    Coil(bool),
    /// FC06, write single register.
    Register(u16),
    /// FC16, write multiple registers (2 to [`MAX_WRITE_REGISTERS`]).
    Registers(Vec<u16>),
    /// FC22, mask write register: one bit; the register becomes `(current & and) | (or & !and)`.
    MaskWrite { bit: u8, and: u16, or: u16 },
    /// FC03 then FC06: the register is read, the bit changed as by the masks, and the word written
    /// back. Not atomic: another writer's change between the two requests is undone.
    ReadModifyWrite { bit: u8, and: u16, or: u16 },
}

impl ModbusOp {
    /// The function code of the write request.
    pub fn function_code(&self) -> u8 {
        match self {
            ModbusOp::Coil(_) => 0x05,
            ModbusOp::Register(_) | ModbusOp::ReadModifyWrite { .. } => 0x06,
            ModbusOp::Registers(_) => 0x10,
            ModbusOp::MaskWrite { .. } => 0x16,
        }
    }

    /// The registers written (FC06, FC16), if the op writes whole registers.
    pub fn words(&self) -> Option<&[u16]> {
        match self {
            ModbusOp::Register(w) => Some(std::slice::from_ref(w)),
            ModbusOp::Registers(ws) => Some(ws),
            _ => None,
        }
    }
}

/// An OPC UA write: the Value attribute of `node`, as a Variant of the node's DataType.
#[derive(Clone, Debug, PartialEq)]
pub struct UaWrite {
    /// The node as the layout names it (the driver resolves `nsu=` on its server).
    pub node: NodeRef,
    pub value: UaValue,
}

/// The built-in OPC UA DataTypes a tag may be written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UaType {
    Boolean,
    SByte,
    Byte,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Float,
    Double,
    String,
}

impl UaType {
    pub const ALL: [UaType; 12] = [
        UaType::Boolean,
        UaType::SByte,
        UaType::Byte,
        UaType::Int16,
        UaType::UInt16,
        UaType::Int32,
        UaType::UInt32,
        UaType::Int64,
        UaType::UInt64,
        UaType::Float,
        UaType::Double,
        UaType::String,
    ];

    /// The DataType's browse name (`Double`).
    pub fn name(self) -> &'static str {
        match self {
            UaType::Boolean => "Boolean",
            UaType::SByte => "SByte",
            UaType::Byte => "Byte",
            UaType::Int16 => "Int16",
            UaType::UInt16 => "UInt16",
            UaType::Int32 => "Int32",
            UaType::UInt32 => "UInt32",
            UaType::Int64 => "Int64",
            UaType::UInt64 => "UInt64",
            UaType::Float => "Float",
            UaType::Double => "Double",
            UaType::String => "String",
        }
    }
}

impl fmt::Display for UaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value of one OPC UA DataType: a Variant of that type, one to one.
#[derive(Clone, Debug, PartialEq)]
pub enum UaValue {
    Boolean(bool),
    SByte(i8),
    Byte(u8),
    Int16(i16),
    UInt16(u16),
    Int32(i32),
    UInt32(u32),
    Int64(i64),
    UInt64(u64),
    Float(f32),
    Double(f64),
    String(String),
}

impl UaValue {
    pub fn data_type(&self) -> UaType {
        match self {
            UaValue::Boolean(_) => UaType::Boolean,
            UaValue::SByte(_) => UaType::SByte,
            UaValue::Byte(_) => UaType::Byte,
            UaValue::Int16(_) => UaType::Int16,
            UaValue::UInt16(_) => UaType::UInt16,
            UaValue::Int32(_) => UaType::Int32,
            UaValue::UInt32(_) => UaType::UInt32,
            UaValue::Int64(_) => UaType::Int64,
            UaValue::UInt64(_) => UaType::UInt64,
            UaValue::Float(_) => UaType::Float,
            UaValue::Double(_) => UaType::Double,
            UaValue::String(_) => UaType::String,
        }
    }

    /// The tag value the console reads from a node holding this (as the OPC UA driver converts
    /// a Variant).
    pub fn value(&self) -> Value {
        match self {
            UaValue::Boolean(b) => Value::Bool(*b),
            UaValue::SByte(x) => Value::Int((*x).into()),
            UaValue::Int16(x) => Value::Int((*x).into()),
            UaValue::Int32(x) => Value::Int((*x).into()),
            UaValue::Int64(x) => Value::Int(*x),
            UaValue::Byte(x) => Value::UInt((*x).into()),
            UaValue::UInt16(x) => Value::UInt((*x).into()),
            UaValue::UInt32(x) => Value::UInt((*x).into()),
            UaValue::UInt64(x) => Value::UInt(*x),
            UaValue::Float(x) => Value::Float((*x).into()),
            UaValue::Double(x) => Value::Float(*x),
            UaValue::String(s) => Value::Text(s.clone()),
        }
    }
}

/// `Double 12.5`, `String "on"` (quoted and escaped: never a control character).
impl fmt::Display for UaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = self.data_type();
        match self {
            UaValue::String(s) => write!(f, "{ty} {s:?}"),
            UaValue::Float(x) => write!(f, "{ty} {}", Value::Float((*x).into())),
            other => write!(f, "{ty} {}", other.value()),
        }
    }
}

/// Why no plan can be made: the value does not fit the tag, or the tag cannot be written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("tag #{0} is not in the layout")]
    UnknownTag(u32),
    #[error("the tag's connection is not of its protocol; check the layout")]
    WrongConnection,
    #[error("{0} is read-only; only coils and holding registers are written")]
    ReadOnlyTable(&'static str),
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("{words} registers do not fit one write request (at most {MAX_WRITE_REGISTERS}); shorten the tag")]
    TooManyRegisters { words: usize },
    #[error("the tag holds no register to write; check its length")]
    NoRegisters,
    #[error(
        "the DataType of {node} is not known yet (it is read when the connection subscribes); try again once it is up"
    )]
    UaTypeUnknown { node: String },
    #[error(
        "metric {metric} has not been born yet (its datatype comes with the edge node's birth); try again once it is"
    )]
    SpTypeUnknown { metric: String },
    #[error("metric {metric} is a {datatype:?}, which the console does not write")]
    SpTypeUnwritable { metric: String, datatype: SpType },
    #[error("{node}: {why}")]
    UaTypeUnusable { node: String, why: String },
    #[error("expected true or false")]
    NotBoolean,
    #[error("expected a number")]
    NotANumber,
    #[error("{0} is not a whole number")]
    NotWhole(f64),
    #[error("{value} is out of range {lo}..{hi}")]
    OutOfRange { value: i128, lo: i128, hi: i128 },
    #[error("NaN and infinity cannot be written")]
    NotFinite,
    #[error("{0} does not fit a Float")]
    TooLargeForFloat(f64),
}

/// The plan for writing `value` to tag `id`. `wire_type`: for an OPC UA or Sparkplug tag, its
/// type as the server or the birth reported it (or why it has none usable); ignored for Modbus.
pub fn plan(
    layout: &Layout,
    id: TagId,
    value: &Value,
    wire_type: Option<&Result<WireType, String>>,
) -> Result<WritePlan, PlanError> {
    let tag = layout.tags.get(id.index()).ok_or(PlanError::UnknownTag(id.0))?;
    let conn = layout.connections.get(tag.conn.index()).ok_or(PlanError::WrongConnection)?;
    let (wire, expected) = match (&tag.source, &conn.kind) {
        (TagSource::Modbus(p), ConnectionKind::Modbus(m)) => modbus(p, m.mask_write, value)?,
        (TagSource::OpcUa(u), ConnectionKind::OpcUa(_)) => opcua(u, value, wire_type)?,
        (TagSource::Sparkplug(p), ConnectionKind::Sparkplug(_)) => sparkplug(p, value, wire_type)?,
        _ => return Err(PlanError::WrongConnection),
    };
    Ok(WritePlan { tag: id, conn: tag.conn, wire, expected })
}

/// A Modbus write of `value` to `p`, and the value the device holds after it (decoded from what
/// is sent, as the console reads it).
fn modbus(p: &ModbusPoint, mask_write: bool, value: &Value) -> Result<(Wire, Value), PlanError> {
    let op = match (p.table, p.bit) {
        (Table::Coil, _) => ModbusOp::Coil(codec::encode_bit(value)?),
        (Table::Holding, Some(bit)) => {
            let (and, or) = codec::encode_bit_mask(p, value)?;
            if mask_write { ModbusOp::MaskWrite { bit, and, or } } else { ModbusOp::ReadModifyWrite { bit, and, or } }
        }
        (Table::Holding, None) => match codec::encode_point(p, value)?.as_slice() {
            [] => return Err(PlanError::NoRegisters),
            [w] => ModbusOp::Register(*w),
            ws if ws.len() > MAX_WRITE_REGISTERS => return Err(PlanError::TooManyRegisters { words: ws.len() }),
            ws => ModbusOp::Registers(ws.to_vec()),
        },
        (Table::Input, _) => return Err(PlanError::ReadOnlyTable("an input register")),
        (Table::Discrete, _) => return Err(PlanError::ReadOnlyTable("a discrete input")),
    };
    let expected = match &op {
        ModbusOp::Coil(on) => Value::Bool(*on),
        ModbusOp::MaskWrite { or, .. } | ModbusOp::ReadModifyWrite { or, .. } => Value::Bool(*or != 0),
        ModbusOp::Register(w) => codec::decode_point(p, std::slice::from_ref(w))?,
        ModbusOp::Registers(ws) => codec::decode_point(p, ws)?,
    };
    Ok((Wire::Modbus(ModbusWrite { unit: p.unit, address: p.address, op, point: *p }), expected))
}

fn opcua(u: &UaPoint, value: &Value, ty: Option<&Result<WireType, String>>) -> Result<(Wire, Value), PlanError> {
    let node = || u.node.to_string();
    let ty = match ty {
        Some(Ok(WireType::Ua(t))) => *t,
        Some(Ok(WireType::Sparkplug(_))) => return Err(PlanError::WrongConnection),
        Some(Err(why)) => return Err(PlanError::UaTypeUnusable { node: node(), why: why.clone() }),
        None => return Err(PlanError::UaTypeUnknown { node: node() }),
    };
    let v = ua_value(ty, value)?;
    let expected = v.value();
    Ok((Wire::OpcUa(UaWrite { node: u.node.clone(), value: v }), expected))
}

/// A Sparkplug write of `value` to metric `p`, of the datatype its birth declared: the value is
/// fitted exactly as for the OPC UA type of the same range (no silent rounding or truncation).
fn sparkplug(p: &SpPoint, value: &Value, ty: Option<&Result<WireType, String>>) -> Result<(Wire, Value), PlanError> {
    let metric = || p.to_string();
    let datatype = match ty {
        Some(Ok(WireType::Sparkplug(t))) => *t,
        Some(Ok(WireType::Ua(_))) => return Err(PlanError::WrongConnection),
        Some(Err(why)) => return Err(PlanError::UaTypeUnusable { node: metric(), why: why.clone() }),
        None => return Err(PlanError::SpTypeUnknown { metric: metric() }),
    };
    let unwritable = || PlanError::SpTypeUnwritable { metric: metric(), datatype };
    let ua = sparkplug_as_ua(datatype).ok_or_else(unwritable)?;
    let v = ua_value(ua, value)?;
    let sp = match &v {
        UaValue::Boolean(b) => SpValue::Bool(*b),
        UaValue::SByte(x) => SpValue::Int((*x).into()),
        UaValue::Int16(x) => SpValue::Int((*x).into()),
        UaValue::Int32(x) => SpValue::Int((*x).into()),
        UaValue::Int64(x) => SpValue::Int(*x),
        UaValue::Byte(x) => SpValue::UInt((*x).into()),
        UaValue::UInt16(x) => SpValue::UInt((*x).into()),
        UaValue::UInt32(x) => SpValue::UInt((*x).into()),
        UaValue::UInt64(x) => SpValue::UInt(*x),
        UaValue::Float(f) => SpValue::Float(*f),
        UaValue::Double(f) => SpValue::Double(*f),
        UaValue::String(s) => SpValue::Text(s.clone()),
    };
    Ok((Wire::Sparkplug(SpWrite { point: p.clone(), datatype, value: sp }), v.value()))
}

/// The OPC UA type of the same values as a Sparkplug datatype, for the scalar types a console
/// writes (not DateTime, Bytes or arrays).
fn sparkplug_as_ua(t: SpType) -> Option<UaType> {
    Some(match t {
        SpType::Int8 => UaType::SByte,
        SpType::Int16 => UaType::Int16,
        SpType::Int32 => UaType::Int32,
        SpType::Int64 => UaType::Int64,
        SpType::UInt8 => UaType::Byte,
        SpType::UInt16 => UaType::UInt16,
        SpType::UInt32 => UaType::UInt32,
        SpType::UInt64 => UaType::UInt64,
        SpType::Float => UaType::Float,
        SpType::Double => UaType::Double,
        SpType::Boolean => UaType::Boolean,
        SpType::String | SpType::Text | SpType::Uuid => UaType::String,
        _ => return None,
    })
}

/// `v` as a value of the OPC UA DataType `ty`. Refuses what does not fit the type exactly (no
/// silent rounding or truncation); an `f64` is rounded to a `Float`'s precision.
pub fn ua_value(ty: UaType, v: &Value) -> Result<UaValue, PlanError> {
    fn int(v: &Value, lo: i128, hi: i128) -> Result<i128, PlanError> {
        let x: i128 = match v {
            Value::Int(i) => (*i).into(),
            Value::UInt(u) => (*u).into(),
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => *f as i128,
            Value::Float(f) if f.is_finite() => return Err(PlanError::NotWhole(*f)),
            Value::Float(_) => return Err(PlanError::NotFinite),
            Value::Bool(_) | Value::Text(_) => return Err(PlanError::NotANumber),
        };
        if x < lo || x > hi { Err(PlanError::OutOfRange { value: x, lo, hi }) } else { Ok(x) }
    }
    fn float(v: &Value) -> Result<f64, PlanError> {
        match v {
            Value::Int(i) => Ok(*i as f64),
            Value::UInt(u) => Ok(*u as f64),
            Value::Float(f) if f.is_finite() => Ok(*f),
            Value::Float(_) => Err(PlanError::NotFinite),
            Value::Bool(_) | Value::Text(_) => Err(PlanError::NotANumber),
        }
    }
    // The casts below are exact: `int` checked the range of the target type.
    Ok(match ty {
        UaType::Boolean => match v {
            Value::Bool(b) => UaValue::Boolean(*b),
            Value::Int(0) | Value::UInt(0) => UaValue::Boolean(false),
            Value::Int(1) | Value::UInt(1) => UaValue::Boolean(true),
            _ => return Err(PlanError::NotBoolean),
        },
        UaType::SByte => UaValue::SByte(int(v, i8::MIN.into(), i8::MAX.into())? as i8),
        UaType::Byte => UaValue::Byte(int(v, 0, u8::MAX.into())? as u8),
        UaType::Int16 => UaValue::Int16(int(v, i16::MIN.into(), i16::MAX.into())? as i16),
        UaType::UInt16 => UaValue::UInt16(int(v, 0, u16::MAX.into())? as u16),
        UaType::Int32 => UaValue::Int32(int(v, i32::MIN.into(), i32::MAX.into())? as i32),
        UaType::UInt32 => UaValue::UInt32(int(v, 0, u32::MAX.into())? as u32),
        UaType::Int64 => UaValue::Int64(int(v, i64::MIN.into(), i64::MAX.into())? as i64),
        UaType::UInt64 => UaValue::UInt64(int(v, 0, u64::MAX.into())? as u64),
        UaType::Float => {
            let f = float(v)?;
            if f.abs() > f32::MAX as f64 {
                return Err(PlanError::TooLargeForFloat(f));
            }
            UaValue::Float(f as f32)
        }
        UaType::Double => UaValue::Double(float(v)?),
        UaType::String => match v {
            Value::Text(t) => UaValue::String(t.clone()),
            other => UaValue::String(other.to_string()),
        },
    })
}

impl WritePlan {
    pub fn tag(&self) -> TagId {
        self.tag
    }

    pub fn conn(&self) -> ConnId {
        self.conn
    }

    pub fn wire(&self) -> &Wire {
        &self.wire
    }

    /// The value the device holds after the write, as the console reads it (after scaling,
    /// rounding to the register's resolution or the node's type): a readback is compared to it.
    pub fn expected(&self) -> &Value {
        &self.expected
    }

    /// What goes on the wire, for people, on one line: `FC16 holding 50 ← 40D0 0000`,
    /// `OPC UA Write ns=2;s=Speed ← Double 12.5`.
    pub fn description(&self) -> String {
        match &self.wire {
            Wire::Modbus(w) => {
                let a = w.address;
                match &w.op {
                    ModbusOp::Coil(on) => format!("FC05 coil {a} ← {}", if *on { "FF00" } else { "0000" }),
                    ModbusOp::MaskWrite { bit, or, .. } => {
                        format!("FC22 holding {a} bit {bit} ← {}", u8::from(*or != 0))
                    }
                    ModbusOp::ReadModifyWrite { bit, or, .. } => {
                        format!("FC03 + FC06 holding {a} bit {bit} ← {}", u8::from(*or != 0))
                    }
                    ModbusOp::Register(word) => format!("FC06 holding {a} ← {word:04X}"),
                    ModbusOp::Registers(ws) => {
                        let hex: Vec<String> = ws.iter().map(|x| format!("{x:04X}")).collect();
                        format!("FC16 holding {a} ← {}", hex.join(" "))
                    }
                }
            }
            Wire::OpcUa(w) => format!("OPC UA Write {} ← {}", w.node, w.value),
            Wire::Sparkplug(w) => format!("Sparkplug command {} ← {:?} {}", w.point, w.datatype, sp_text(&w.value)),
        }
    }

    /// How it was written, short, for the result message: `FC16 holding 50+2`.
    pub fn how(&self) -> String {
        match &self.wire {
            Wire::Modbus(w) => {
                let a = w.address;
                match &w.op {
                    ModbusOp::Coil(_) => format!("FC05 coil {a}"),
                    ModbusOp::MaskWrite { bit, .. } => format!("FC22 holding {a} bit {bit}"),
                    ModbusOp::ReadModifyWrite { bit, .. } => {
                        format!("FC03+FC06 holding {a} bit {bit} (read-modify-write)")
                    }
                    ModbusOp::Register(_) => format!("FC06 holding {a}"),
                    ModbusOp::Registers(ws) => format!("FC16 holding {a}+{}", ws.len()),
                }
            }
            Wire::OpcUa(w) => format!("OPC UA Write {}", w.node),
            Wire::Sparkplug(w) => format!("Sparkplug command {}", w.point),
        }
    }

    /// A warning for the confirmation, when the write is not atomic.
    pub fn warning(&self) -> Option<String> {
        match &self.wire {
            Wire::Modbus(ModbusWrite { op: ModbusOp::ReadModifyWrite { .. }, address, .. }) => Some(format!(
                "read-modify-write: a change to the other bits of holding {address} between the read and the write would be undone"
            )),
            _ => None,
        }
    }

    /// The Modbus write, if this plan was made for `point` on connection `conn` with its
    /// `mask_write` option; else why not. A driver sends only a plan that matches.
    pub fn modbus_for(&self, conn: ConnId, point: &ModbusPoint, mask_write: bool) -> Result<&ModbusWrite, String> {
        let Wire::Modbus(w) = &self.wire else {
            return Err("the plan is for an OPC UA node, the tag is on a Modbus connection".into());
        };
        if self.conn != conn {
            return Err(format!("the plan is for connection #{}, the tag is on #{}", self.conn.0, conn.0));
        }
        if w.point != *point || w.unit != point.unit || w.address != point.address {
            return Err("the tag's table, address, type, order or scale differ from the plan's".into());
        }
        match (&w.op, mask_write) {
            (ModbusOp::MaskWrite { .. }, false) => {
                Err("the plan is a mask write (FC22); the connection has mask_write off".into())
            }
            (ModbusOp::ReadModifyWrite { .. }, true) => {
                Err("the plan is a read-modify-write; the connection has mask_write on".into())
            }
            _ => Ok(w),
        }
    }

    /// The Sparkplug write, if this plan was made for `point` on connection `conn`; else why not.
    pub fn sparkplug_for(&self, conn: ConnId, point: &SpPoint) -> Result<&SpWrite, String> {
        let Wire::Sparkplug(w) = &self.wire else {
            return Err("the plan is not for a Sparkplug metric".into());
        };
        if self.conn != conn {
            return Err(format!("the plan is for connection #{}, the tag is on #{}", self.conn.0, conn.0));
        }
        if w.point != *point {
            return Err(format!("the plan is for metric {}, the tag is {point}", w.point));
        }
        Ok(w)
    }

    /// The OPC UA write, if this plan was made for `node` on connection `conn`; else why not.
    pub fn opcua_for(&self, conn: ConnId, node: &NodeRef) -> Result<&UaWrite, String> {
        let Wire::OpcUa(w) = &self.wire else {
            return Err("the plan is for a Modbus point, the tag is on an OPC UA connection".into());
        };
        if self.conn != conn {
            return Err(format!("the plan is for connection #{}, the tag is on #{}", self.conn.0, conn.0));
        }
        if w.node != *node {
            return Err(format!("the plan is for node {}, the tag is {node}", w.node));
        }
        Ok(w)
    }
}

/// A Sparkplug value for the confirmation line: `12.5`, `true`, `"text"`.
fn sp_text(v: &SpValue) -> String {
    match v {
        SpValue::Int(x) => x.to_string(),
        SpValue::UInt(x) => x.to_string(),
        SpValue::Float(x) => x.to_string(),
        SpValue::Double(x) => x.to_string(),
        SpValue::Bool(b) => b.to_string(),
        SpValue::Text(t) => format!("{:?}", crate::sanitize::clean(t)),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{self, ByteOrder, DataType, Scale};
    use proptest::prelude::*;

    fn layout(tags: &str) -> Layout {
        let src = format!(
            "connections:\n  plc: {{ modbus_tcp: {{ host: h }} }}\n  rmw: {{ modbus_tcp: {{ host: h }}, mask_write: false }}\n  \
             ua: {{ opcua: {{ endpoint: \"opc.tcp://h:4840\", security: none }} }}\ntags:\n{tags}"
        );
        layout::parse(&src, "plan.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn plan_of(l: &Layout, name: &str, v: Value) -> Result<WritePlan, PlanError> {
        plan(l, l.tag_id(name).unwrap(), &v, None)
    }

    #[test]
    fn every_kind_of_modbus_point_has_its_function_code_and_description() {
        let l = layout(
            "  C: { source: plc, coil: 3 }\n  U: { source: plc, holding: 60, type: u16 }\n  \
             F: { source: plc, holding: 50, type: f32 }\n  B: { source: plc, holding: 20, bit: 3 }\n  \
             R: { source: rmw, holding: 20, bit: 3 }\n",
        );
        let cases = [
            ("C", Value::Bool(true), 0x05, "FC05 coil 3 ← FF00", "FC05 coil 3", Value::Bool(true)),
            ("C", Value::Float(0.0), 0x05, "FC05 coil 3 ← 0000", "FC05 coil 3", Value::Bool(false)),
            ("U", Value::Float(65535.0), 0x06, "FC06 holding 60 ← FFFF", "FC06 holding 60", Value::UInt(65535)),
            ("F", Value::Float(6.5), 0x10, "FC16 holding 50 ← 40D0 0000", "FC16 holding 50+2", Value::Float(6.5)),
            ("B", Value::Bool(true), 0x16, "FC22 holding 20 bit 3 ← 1", "FC22 holding 20 bit 3", Value::Bool(true)),
            (
                "R",
                Value::Bool(false),
                0x06,
                "FC03 + FC06 holding 20 bit 3 ← 0",
                "FC03+FC06 holding 20 bit 3 (read-modify-write)",
                Value::Bool(false),
            ),
        ];
        for (name, v, fc, description, how, expected) in cases {
            let p = plan_of(&l, name, v).unwrap();
            let Wire::Modbus(w) = p.wire() else { panic!("{p:?}") };
            assert_eq!(w.op.function_code(), fc, "{name}");
            assert_eq!((p.description().as_str(), p.how().as_str()), (description, how), "{name}");
            assert_eq!(p.expected(), &expected, "{name}");
            assert_eq!(p.warning().is_some(), name == "R", "{name}");
        }
        let r = plan_of(&l, "R", Value::Bool(true)).unwrap();
        assert_eq!(
            r.wire(),
            &Wire::Modbus(ModbusWrite {
                unit: 1,
                address: 20,
                op: ModbusOp::ReadModifyWrite { bit: 3, and: !(1 << 3), or: 1 << 3 },
                point: match l.tags[4].source {
                    TagSource::Modbus(p) => p,
                    _ => unreachable!(),
                },
            })
        );
    }

    #[test]
    fn a_value_that_does_not_fit_is_a_plan_error_that_says_why() {
        let l = layout(
            "  U: { source: plc, holding: 60, type: u16 }\n  C: { source: plc, coil: 1 }\n  I: { source: plc, input: 1 }\n",
        );
        for (name, v, why) in [
            ("U", Value::Float(70000.0), "does not fit u16"),
            ("U", Value::Float(1.5), "not a whole number"),
            ("U", Value::Float(f64::NAN), "NaN cannot be written"),
            ("U", Value::Text("x".into()), "expected a number"),
            ("C", Value::Int(7), "not a boolean"),
            ("I", Value::UInt(1), "an input register is read-only"),
        ] {
            let e = plan_of(&l, name, v.clone()).unwrap_err().to_string();
            assert!(e.contains(why), "{name} {v:?}: {e}");
        }
        assert_eq!(plan(&l, TagId(99), &Value::UInt(1), None), Err(PlanError::UnknownTag(99)));
    }

    #[test]
    fn opcua_needs_the_nodes_data_type_and_converts_to_it() {
        let l = layout("  S: { source: ua, node: \"ns=2;s=Speed\" }\n");
        let id = l.tag_id("S").unwrap();
        let e = plan(&l, id, &Value::Float(1.0), None).unwrap_err();
        assert!(e.to_string().contains("DataType of ns=2;s=Speed is not known yet"), "{e}");
        let e =
            plan(&l, id, &Value::Float(1.0), Some(&Err("writing a node of data type i=22 is not supported".into())));
        assert_eq!(e.unwrap_err().to_string(), "ns=2;s=Speed: writing a node of data type i=22 is not supported");
        let p = plan(&l, id, &Value::Float(12.5), Some(&Ok(WireType::Ua(UaType::Double)))).unwrap();
        assert_eq!(p.description(), "OPC UA Write ns=2;s=Speed ← Double 12.5");
        assert_eq!(p.how(), "OPC UA Write ns=2;s=Speed");
        let p = plan(&l, id, &Value::Float(7.0), Some(&Ok(WireType::Ua(UaType::Int16)))).unwrap();
        assert_eq!((p.expected(), p.description().as_str()), (&Value::Int(7), "OPC UA Write ns=2;s=Speed ← Int16 7"));
        let p = plan(&l, id, &Value::Float(0.1), Some(&Ok(WireType::Ua(UaType::Float)))).unwrap();
        assert_eq!(p.expected(), &Value::Float(0.1f32 as f64), "a Float holds 0.1 only rounded");
        let p = plan(&l, id, &Value::Text("a\u{1b}b".into()), Some(&Ok(WireType::Ua(UaType::String)))).unwrap();
        assert_eq!(p.description(), r#"OPC UA Write ns=2;s=Speed ← String "a\u{1b}b""#);
        for (ty, v, why) in [
            (UaType::Int16, Value::Int(40_000), "out of range"),
            (UaType::UInt32, Value::Float(1.5), "whole"),
            (UaType::Double, Value::Float(f64::NAN), "NaN"),
            (UaType::Float, Value::Float(1e300), "does not fit a Float"),
            (UaType::Boolean, Value::Int(7), "true or false"),
            (UaType::Int32, Value::Text("12".into()), "number"),
        ] {
            let e = ua_value(ty, &v).unwrap_err().to_string();
            assert!(e.contains(why), "{ty} {v:?}: {e}");
        }
    }

    #[test]
    fn a_driver_refuses_a_plan_made_for_another_point_or_option() {
        let l = layout(
            "  F: { source: plc, holding: 50, type: f32 }\n  B: { source: plc, holding: 20, bit: 3 }\n  S: { source: ua, node: \"ns=2;s=Speed\" }\n",
        );
        let f = plan_of(&l, "F", Value::Float(1.0)).unwrap();
        let TagSource::Modbus(point) = l.tags[0].source else { unreachable!() };
        assert!(f.modbus_for(ConnId(0), &point, true).is_ok());
        let other = ModbusPoint { order: ByteOrder::Cdab, ..point };
        assert!(f.modbus_for(ConnId(0), &other, true).unwrap_err().contains("differ"));
        assert!(f.modbus_for(ConnId(1), &point, true).unwrap_err().contains("connection"));
        let b = plan_of(&l, "B", Value::Bool(true)).unwrap();
        let TagSource::Modbus(bit) = l.tags[1].source else { unreachable!() };
        assert!(b.modbus_for(ConnId(0), &bit, false).unwrap_err().contains("mask_write off"));
        let s = plan(&l, TagId(2), &Value::Float(1.0), Some(&Ok(WireType::Ua(UaType::Double)))).unwrap();
        assert!(s.opcua_for(ConnId(2), &NodeRef::parse("ns=2;s=Speed").unwrap()).is_ok());
        assert!(s.opcua_for(ConnId(2), &NodeRef::parse("ns=2;s=Other").unwrap()).unwrap_err().contains("node"));
        assert!(s.modbus_for(ConnId(2), &point, true).is_err());
        assert!(f.opcua_for(ConnId(0), &NodeRef::parse("ns=2;s=Speed").unwrap()).is_err());
    }

    fn data_type() -> impl Strategy<Value = DataType> {
        crate::driver::modbus::fuzz::data_type_up_to(299)
    }

    fn point() -> impl Strategy<Value = ModbusPoint> {
        let table = prop_oneof![Just(Table::Coil), Just(Table::Discrete), Just(Table::Input), Just(Table::Holding)];
        let order =
            prop_oneof![Just(ByteOrder::Abcd), Just(ByteOrder::Cdab), Just(ByteOrder::Badc), Just(ByteOrder::Dcba)];
        // As the layout allows: two different raw and two different eu values.
        let scale = proptest::option::of((-1e6..1e6f64, 1.0..1e6f64, -1e6..1e6f64, 1e-3..1e6f64))
            .prop_map(|s| s.map(|(a, da, c, dc)| Scale { raw: [a, a + da], eu: [c, c + dc] }));
        (any::<u8>(), table, any::<u16>(), data_type(), order, proptest::option::of(0u8..20), scale).prop_map(
            |(unit, table, address, ty, order, bit, scale)| ModbusPoint { unit, table, address, ty, order, bit, scale },
        )
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<u64>().prop_map(Value::UInt),
            any::<f64>().prop_map(Value::Float),
            (-1e12..1e12f64).prop_map(Value::Float),
            "\\PC{0,40}".prop_map(Value::Text),
        ]
    }

    proptest! {
        /// Never a panic; a plan's words decode to the value it expects, and its description
        /// names its function code.
        #[test]
        fn any_point_and_value_plan_without_panic(p in point(), v in value(), mask in any::<bool>()) {
            if let Ok((Wire::Modbus(w), expected)) = modbus(&p, mask, &v) {
                let fc = w.op.function_code();
                let plan = WritePlan { tag: TagId(0), conn: ConnId(0), wire: Wire::Modbus(w.clone()), expected: expected.clone() };
                // Function codes are named in decimal: FC16 is 0x10, FC22 is 0x16.
                prop_assert!(plan.description().contains(&format!("FC{fc:02}")), "{}", plan.description());
                if let Some(words) = w.op.words() {
                    prop_assert_eq!(words.len(), p.count() as usize);
                    prop_assert_eq!(codec::decode_point(&p, words), Ok(expected));
                }
                prop_assert!(plan.modbus_for(ConnId(0), &p, mask).is_ok());
            }
        }

        #[test]
        fn any_value_of_any_ua_type_plans_without_panic(v in value(), i in 0usize..12) {
            let ty = UaType::ALL[i];
            if let Ok(u) = ua_value(ty, &v) {
                prop_assert_eq!(u.data_type(), ty);
                prop_assert!(!u.to_string().chars().any(char::is_control));
            }
        }
    }
}
