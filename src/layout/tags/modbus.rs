//! The Modbus point of a tag: table, address, value type, and how its registers are read and shown.

use crate::layout::address;
use crate::layout::connections::{SERIAL_UNITS, byte_order};
use crate::layout::ctx::Ctx;
use crate::layout::de::Sp;
use crate::layout::model::*;
use crate::layout::node::Loc;
use crate::layout::raw::*;

/// The value type of a Modbus tag in `table` (with its string length): a diagnostic when the
/// type, `bit` and `length` written do not go together.
fn value_type(cx: &mut Ctx, name: &Sp<String>, raw: &RawTag, table: Table) -> DataType {
    let length = match (&raw.length, raw.ty.as_ref().map(|t| t.value)) {
        (Some(l), Some(RawType::String)) => cx.int::<u16>(
            l,
            1,
            250,
            "string length",
            Some("a string of up to 250 characters fits in the 125 registers of one request"),
        ),
        (Some(l), _) => {
            cx.err(l.loc, "`length` applies to strings only", Some("add type: string, or remove length".into()));
            None
        }
        (None, Some(RawType::String)) => {
            cx.err(
                raw.ty.as_ref().map_or(name.loc, |t| t.loc),
                "a string needs `length` (characters)",
                Some("add length: 20".into()),
            );
            None
        }
        (None, _) => Some(0),
    };
    match (&raw.ty, table.is_bits(), &raw.bit) {
        (None, true, _) | (None, false, Some(_)) => DataType::Bool,
        (None, false, None) => DataType::U16,
        (Some(t), true, _) if t.value != RawType::Bool => {
            cx.err(
                t.loc,
                format!(
                    "a {} holds one boolean; `type: {}` is not possible",
                    table.name(),
                    data_type(t.value, 0).name()
                ),
                Some("remove type, or read a register (holding/input)".into()),
            );
            DataType::Bool
        }
        (Some(t), false, Some(_)) if t.value != RawType::Bool => {
            cx.err(t.loc, "a `bit` of a register is a boolean", Some("remove type, or remove bit".into()));
            DataType::Bool
        }
        (Some(t), false, None) if t.value == RawType::Bool => {
            cx.err(
                t.loc,
                "a register is not a boolean",
                Some("add bit: 0..15 to read one bit of it, or choose a numeric type".into()),
            );
            DataType::Bool
        }
        (Some(t), _, _) => data_type(t.value, length.unwrap_or(1)),
    }
}

/// A tag's `scale:`, which numbers only have.
fn scale(cx: &mut Ctx, s: &Sp<RawScale>, ty: DataType) -> Option<Scale> {
    if matches!(ty, DataType::Bool | DataType::String { .. }) {
        cx.err(s.loc, format!("a {} cannot be scaled", ty.name()), Some("remove scale".into()));
        return None;
    }
    let sc = Scale { raw: s.value.raw, eu: s.value.eu };
    if sc.raw.iter().chain(sc.eu.iter()).any(|v| !v.is_finite()) {
        cx.err(s.loc, "scale values must be finite numbers", None);
    } else if sc.raw[0] == sc.raw[1] || sc.eu[0] == sc.eu[1] {
        cx.err(
            s.loc,
            "scale needs two different raw values and two different eu values",
            Some("e.g. scale: { raw: [0, 1000], eu: [0, 100] }".into()),
        );
    }
    Some(sc)
}

/// The Modbus part of a tag: table, address, type and how the registers are read.
pub(super) fn point(
    cx: &mut Ctx,
    name: &Sp<String>,
    raw: &RawTag,
    conn: &Connection,
    mb: &Modbus,
) -> Option<ModbusPoint> {
    let before = cx.diags.len();
    // Where: exactly one table and address.
    let (table, addr_loc, address) = address::place(cx, name, raw)?;

    // What: type, bit, length.
    let ty = value_type(cx, name, raw, table);
    let bit = match &raw.bit {
        None => None,
        Some(b) if table.is_bits() => {
            cx.err(
                b.loc,
                format!("`bit` applies to registers; a {} is already one bit", table.name()),
                Some("remove bit".into()),
            );
            None
        }
        Some(b) => cx.int::<u8>(b, 0, 15, "bit", Some("registers have bits 0 (least significant) to 15")),
    };
    let order = match &raw.byte_order {
        Some(o) if ty.registers() < 2 || matches!(ty, DataType::String { .. }) => {
            cx.err(
                o.loc,
                format!("byte_order applies to 32- and 64-bit values, not {}", ty.name()),
                Some("remove byte_order; strings and 16-bit values are never reordered".into()),
            );
            mb.byte_order
        }
        Some(o) => byte_order(o.value),
        None => mb.byte_order,
    };

    // Fits in the table and in one request.
    fits(cx, (table, addr_loc, address), ty, raw.length.as_ref(), mb.max_registers, &conn.name);

    // How it is shown.
    let scale = raw.scale.as_ref().and_then(|s| scale(cx, s, ty));
    let unit = raw.unit.as_ref().map_or(Some(mb.unit), |u| match mb.link {
        ModbusLink::Tcp { .. } => cx.int(u, 0, 255, "unit id", None),
        ModbusLink::RtuOverTcp { .. } | ModbusLink::Serial(_) => cx.int(u, 1, 247, "unit id", Some(SERIAL_UNITS)),
    });
    for t in [&raw.on_text, &raw.off_text].into_iter().flatten() {
        if ty != DataType::Bool {
            cx.err(
                t.loc,
                "on_text and off_text apply to booleans only",
                Some("remove them, or read a coil, discrete input or bit".into()),
            );
        }
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(ModbusPoint { unit: unit?, table, address: address?, ty, order, bit, scale })
}

/// A diagnostic when a value of type `ty` at `address` of `table` runs past the end of the table,
/// or needs more registers than one request of connection `conn` reads.
fn fits(
    cx: &mut Ctx,
    (table, addr_loc, address): (Table, Loc, Option<u16>),
    ty: DataType,
    length: Option<&Sp<i64>>,
    max_registers: u16,
    conn: &str,
) {
    let count = if table.is_bits() { 1 } else { ty.registers() as u32 };
    if let Some(a) = address
        && a as u32 + count > 65536
    {
        cx.err(
            addr_loc,
            format!("address {a} + {count} registers runs past the end of the {} table", table.name()),
            Some(format!("{} needs {count} registers; the last address is 65535", ty.name())),
        );
    }
    if !table.is_bits() && count > max_registers as u32 {
        cx.err(
            length.map_or(addr_loc, |l| l.loc),
            format!(
                "{} needs {count} registers, more than max_registers {max_registers} of connection `{conn}`",
                ty.name()
            ),
            Some("shorten the value or raise max_registers (up to 125)".into()),
        );
    }
}

/// The value type written, in the model's terms (`length`: characters of a string).
fn data_type(t: RawType, length: u16) -> DataType {
    match t {
        RawType::Bool => DataType::Bool,
        RawType::U16 => DataType::U16,
        RawType::I16 => DataType::I16,
        RawType::U32 => DataType::U32,
        RawType::I32 => DataType::I32,
        RawType::U64 => DataType::U64,
        RawType::I64 => DataType::I64,
        RawType::F32 => DataType::F32,
        RawType::F64 => DataType::F64,
        RawType::Bcd16 => DataType::Bcd16,
        RawType::Bcd32 => DataType::Bcd32,
        RawType::String => DataType::String { chars: length },
    }
}
