//! The Modbus value codec: registers ⇄ tag values. Pure and sans-IO; never panics on input.
//!
//! # Byte order
//!
//! Byte order applies only to the 32- and 64-bit types (`u32`, `i32`, `f32`, `bcd32`, `u64`,
//! `i64`, `f64`), never to 16-bit types or strings. Name the bytes of the big-endian value
//! `A B C D` (`A B C D E F G H` for 64-bit values); registers are listed in the order they are
//! read from the device (lowest address first):
//!
//! | order  | 32-bit     | 64-bit              | meaning                          |
//! |--------|------------|---------------------|----------------------------------|
//! | `ABCD` | `[AB, CD]` | `[AB, CD, EF, GH]`  | big-endian (the Modbus default)  |
//! | `CDAB` | `[CD, AB]` | `[GH, EF, CD, AB]`  | word swap: registers reversed    |
//! | `BADC` | `[BA, DC]` | `[BA, DC, FE, HG]`  | byte swap within each register   |
//! | `DCBA` | `[DC, BA]` | `[HG, FE, DC, BA]`  | fully little-endian              |
//!
//! Example: the f32 `123.456` is `0x42F6E979`, so `ABCD` reads `[0x42F6, 0xE979]`, `CDAB`
//! `[0xE979, 0x42F6]`, `BADC` `[0xF642, 0x79E9]` and `DCBA` `[0x79E9, 0xF642]`.
//!
//! # Values
//!
//! `bool` → [`Value::Bool`]; `u16`, `u32`, `u64`, `bcd16`, `bcd32` → [`Value::UInt`]; `i16`,
//! `i32`, `i64` → [`Value::Int`]; `f32`, `f64` → [`Value::Float`]; `string` → [`Value::Text`].
//! A `bool` in a whole register is true when the register is non-zero.
//!
//! Strings hold `chars` characters, two per register, high byte first. Bytes are Latin-1 (a
//! byte is the Unicode character of the same number), so decoding never fails; the text ends
//! at the first NUL and trailing spaces are trimmed. Encoding pads with NUL.

use crate::layout::{ByteOrder, DataType, ModbusPoint, Table};
use crate::tag::Value;

/// Why registers cannot be decoded, or a value cannot be encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    /// The device sent (or the caller passed) the wrong number of registers.
    #[error("{ty} needs {}, got {got}", registers(*.expected))]
    RegisterCount { ty: String, expected: usize, got: usize },
    /// A coil or discrete input must be exactly one bit.
    #[error("a coil or discrete input needs exactly 1 bit, got {got}")]
    BitCount { got: usize },
    /// A bit number outside a 16-bit register.
    #[error("bit {bit} is outside a register; bits are numbered 0 to 15")]
    BitOutOfRange { bit: u8 },
    /// A BCD nibble of 0xA..=0xF.
    #[error("invalid BCD digit {digit:#X} in register {register:#06X}")]
    InvalidBcd { digit: u8, register: u16 },
    /// A number outside the range of the target type.
    #[error("value {value} does not fit {ty}")]
    DoesNotFit { value: String, ty: String },
    /// A number with a fraction written to an integer type.
    #[error("value {value} is not a whole number, and {ty} holds whole numbers only")]
    NotWhole { value: String, ty: String },
    /// NaN or an infinity.
    #[error("{what} cannot be written")]
    NotFinite { what: &'static str },
    /// Scaling turned a finite value into NaN or an infinity.
    #[error("value {eu} scales to {what}, which cannot be written; check the tag's scale")]
    ScaledNotFinite { eu: String, what: &'static str },
    /// Text longer than the string tag.
    #[error("text has {len} characters, the tag holds {chars}")]
    TextTooLong { len: usize, chars: u16 },
    /// A character a Modbus (Latin-1) string cannot hold.
    #[error("character {ch:?} (U+{:04X}) cannot be stored; only U+0000 to U+00FF fit in a Modbus string", u32::from(*.ch))]
    NotLatin1 { ch: char },
    /// A NUL in the text would end the string early.
    #[error("text contains a NUL character, which would end the string")]
    NulInText,
    /// The value has the wrong kind for the type.
    #[error("expected {expected}, got {got}")]
    WrongValue { expected: &'static str, got: &'static str },
    /// A number other than 0 or 1 written to a boolean.
    #[error("value {value} is not a boolean; use true, false, 1 or 0")]
    NotBoolean { value: String },
    /// A scale on a string tag.
    #[error("a string cannot be scaled; remove the scale from the tag")]
    ScaledText,
    /// A coil or discrete input passed to a register function.
    #[error("a {table} holds a single bit, not registers; it is read with decode_bit and written with encode_bit")]
    BitTable { table: &'static str },
    /// A single-bit point passed to a whole-register write.
    #[error("bit {bit} of a register is written with a mask write, not as a whole register")]
    BitPoint { bit: u8 },
    /// A mask write asked of a point that is not a single bit of a register.
    #[error("the tag is not a single bit of a register, so it has no mask write")]
    NotBitPoint,
}

impl CodecError {
    /// Adds to a range error that the number is the raw value scaled from `eu`.
    fn scaled_from(self, eu: f64) -> Self {
        match self {
            CodecError::DoesNotFit { value, ty } => {
                CodecError::DoesNotFit { value: format!("{value} (raw, scaled from {})", fmt_num(eu)), ty }
            }
            e => e,
        }
    }
}

fn registers(n: usize) -> String {
    if n == 1 { "1 register".to_string() } else { format!("{n} registers") }
}

/// The type as a person reads it in a message.
fn label(ty: DataType) -> String {
    match ty {
        DataType::String { chars } => format!("a string of {chars} characters"),
        t => t.name().to_string(),
    }
}

fn count_error(ty: DataType, regs: &[u16]) -> CodecError {
    CodecError::RegisterCount { ty: label(ty), expected: ty.registers().into(), got: regs.len() }
}

/// A float for a message: plain when short, scientific when huge or tiny.
fn fmt_num(f: f64) -> String {
    let a = f.abs();
    if f.is_nan() {
        "NaN".into()
    } else if a.is_infinite() {
        if f > 0.0 { "infinity".into() } else { "-infinity".into() }
    } else if a >= 1e15 || (a != 0.0 && a < 1e-4) {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Float(f) => fmt_num(*f),
        v => v.display(None),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::UInt(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Text(_) => "text",
    }
}

fn non_finite_name(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "infinity"
    } else {
        "-infinity"
    }
}

fn finite(f: f64) -> Result<f64, CodecError> {
    if f.is_finite() { Ok(f) } else { Err(CodecError::NotFinite { what: non_finite_name(f) }) }
}

// ---------------------------------------------------------------------------------------------
// Byte order

/// Reorders registers as read from the device into the big-endian bytes `A B C D …` of the
/// value. The operations (reverse the registers, swap bytes within each) are their own inverses
/// and commute, so [`words_from_be`] applies the same ones.
fn be_from_words<const N: usize>(ty: DataType, order: ByteOrder, regs: &[u16]) -> Result<[u8; N], CodecError> {
    if regs.len() * 2 != N {
        return Err(count_error(ty, regs));
    }
    let words = reorder(regs.to_vec(), order);
    let mut out = [0u8; N];
    for (dst, w) in out.as_chunks_mut::<2>().0.iter_mut().zip(&words) {
        *dst = w.to_be_bytes();
    }
    Ok(out)
}

/// The registers to write, in device order, for the big-endian bytes `be` of a value.
fn words_from_be(be: &[u8], order: ByteOrder) -> Vec<u16> {
    let words = be.as_chunks::<2>().0.iter().map(|p| u16::from_be_bytes(*p)).collect();
    reorder(words, order)
}

fn reorder(mut words: Vec<u16>, order: ByteOrder) -> Vec<u16> {
    if matches!(order, ByteOrder::Cdab | ByteOrder::Dcba) {
        words.reverse();
    }
    if matches!(order, ByteOrder::Badc | ByteOrder::Dcba) {
        for w in &mut words {
            *w = w.swap_bytes();
        }
    }
    words
}

// ---------------------------------------------------------------------------------------------
// BCD

/// Checks every nibble of the registers as read. Byte order only moves whole bytes, so a digit
/// is invalid in the value exactly when it is invalid in the register it came from.
fn check_bcd(regs: &[u16]) -> Result<(), CodecError> {
    for &register in regs {
        for shift in [12, 8, 4, 0] {
            let digit = ((register >> shift) & 0xF) as u8;
            if digit > 9 {
                return Err(CodecError::InvalidBcd { digit, register });
            }
        }
    }
    Ok(())
}

/// The decimal number of checked BCD nibbles.
fn from_bcd(x: u32, digits: u32) -> u64 {
    (0..digits).rev().fold(0u64, |acc, i| acc * 10 + u64::from((x >> (4 * i)) & 0xF))
}

fn to_bcd(mut n: u64) -> u64 {
    let mut out = 0u64;
    let mut shift = 0;
    while n > 0 {
        out |= (n % 10) << shift;
        n /= 10;
        shift += 4;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Decode

fn one(ty: DataType, regs: &[u16]) -> Result<u16, CodecError> {
    match regs {
        [r] => Ok(*r),
        _ => Err(count_error(ty, regs)),
    }
}

/// Decodes `regs` (exactly `ty.registers()` words, in the order read from the device) as `ty`.
/// Byte order applies to 32- and 64-bit types only (see the module docs).
pub fn decode_registers(ty: DataType, order: ByteOrder, regs: &[u16]) -> Result<Value, CodecError> {
    Ok(match ty {
        DataType::Bool => Value::Bool(one(ty, regs)? != 0),
        DataType::U16 => Value::UInt(one(ty, regs)?.into()),
        DataType::I16 => Value::Int((one(ty, regs)? as i16).into()),
        DataType::U32 => Value::UInt(u32::from_be_bytes(be_from_words(ty, order, regs)?).into()),
        DataType::I32 => Value::Int(i32::from_be_bytes(be_from_words(ty, order, regs)?).into()),
        DataType::U64 => Value::UInt(u64::from_be_bytes(be_from_words(ty, order, regs)?)),
        DataType::I64 => Value::Int(i64::from_be_bytes(be_from_words(ty, order, regs)?)),
        DataType::F32 => Value::Float(f32::from_be_bytes(be_from_words(ty, order, regs)?).into()),
        DataType::F64 => Value::Float(f64::from_be_bytes(be_from_words(ty, order, regs)?)),
        DataType::Bcd16 => {
            let r = one(ty, regs)?;
            check_bcd(regs)?;
            Value::UInt(from_bcd(r.into(), 4))
        }
        DataType::Bcd32 => {
            let be = be_from_words::<4>(ty, order, regs)?;
            check_bcd(regs)?;
            Value::UInt(from_bcd(u32::from_be_bytes(be), 8))
        }
        DataType::String { chars } => Value::Text(decode_text(ty, chars, regs)?),
    })
}

fn decode_text(ty: DataType, chars: u16, regs: &[u16]) -> Result<String, CodecError> {
    if regs.len() != usize::from(ty.registers()) {
        return Err(count_error(ty, regs));
    }
    let text: String =
        regs.iter().flat_map(|r| r.to_be_bytes()).take(chars.into()).take_while(|&b| b != 0).map(char::from).collect();
    Ok(text.trim_end_matches([' ', '\0']).to_string())
}

/// Decodes a coil or discrete input, read as exactly one bit.
pub fn decode_bit(bits: &[bool]) -> Result<Value, CodecError> {
    match bits {
        [b] => Ok(Value::Bool(*b)),
        _ => Err(CodecError::BitCount { got: bits.len() }),
    }
}

/// Decodes a whole point of a register table (holding or input). A `bit` point is the
/// [`Value::Bool`] of that bit of its one register; otherwise the registers are decoded as the
/// point's type and, when it has a scale, converted to engineering units as a [`Value::Float`].
/// Coils and discrete inputs are an error here: decode them with [`decode_bit`].
pub fn decode_point(p: &ModbusPoint, regs: &[u16]) -> Result<Value, CodecError> {
    if p.table.is_bits() {
        return Err(CodecError::BitTable { table: table_name(p.table) });
    }
    if let Some(bit) = p.bit {
        let r = match regs {
            [r] => *r,
            _ => {
                return Err(CodecError::RegisterCount { ty: format!("bit {bit}"), expected: 1, got: regs.len() });
            }
        };
        let mask = bit_mask(bit)?;
        return Ok(Value::Bool(r & mask != 0));
    }
    let v = decode_registers(p.ty, p.order, regs)?;
    match p.scale {
        None => Ok(v),
        Some(scale) => match v.as_f64() {
            Some(raw) => Ok(Value::Float(scale.to_eu(raw))),
            None => Err(CodecError::ScaledText),
        },
    }
}

fn table_name(t: Table) -> &'static str {
    match t {
        Table::Coil => "coil",
        Table::Discrete => "discrete input",
        Table::Input => "input register",
        Table::Holding => "holding register",
    }
}

fn bit_mask(bit: u8) -> Result<u16, CodecError> {
    1u16.checked_shl(bit.into()).ok_or(CodecError::BitOutOfRange { bit })
}

// ---------------------------------------------------------------------------------------------
// Encode

/// The value as a whole number, for the integer type `ty`. Floats must be finite and whole.
fn whole(ty: DataType, v: &Value) -> Result<i128, CodecError> {
    match *v {
        Value::Int(i) => Ok(i.into()),
        Value::UInt(u) => Ok(u.into()),
        Value::Float(f) => {
            let f = finite(f)?;
            if f.fract() != 0.0 {
                return Err(CodecError::NotWhole { value: fmt_num(f), ty: label(ty) });
            }
            // A saturating cast: anything beyond i128 is beyond every target type too.
            Ok(f as i128)
        }
        Value::Bool(_) | Value::Text(_) => Err(CodecError::WrongValue { expected: "a number", got: kind(v) }),
    }
}

fn int<T: TryFrom<i128>>(ty: DataType, v: &Value) -> Result<T, CodecError> {
    let n = whole(ty, v)?;
    T::try_from(n).map_err(|_| CodecError::DoesNotFit { value: show(v), ty: label(ty) })
}

fn bcd(ty: DataType, v: &Value, max: u64) -> Result<u64, CodecError> {
    let n: u64 = int(ty, v)?;
    if n > max {
        return Err(CodecError::DoesNotFit { value: show(v), ty: label(ty) });
    }
    Ok(to_bcd(n))
}

fn number(v: &Value) -> Result<f64, CodecError> {
    match *v {
        Value::Int(i) => Ok(i as f64),
        Value::UInt(u) => Ok(u as f64),
        Value::Float(f) => finite(f),
        Value::Bool(_) | Value::Text(_) => Err(CodecError::WrongValue { expected: "a number", got: kind(v) }),
    }
}

/// A boolean: `true`/`false`, or the numbers 0 and 1.
fn boolean(v: &Value) -> Result<bool, CodecError> {
    match *v {
        Value::Bool(b) => Ok(b),
        Value::Text(_) => Err(CodecError::WrongValue { expected: "a boolean", got: "text" }),
        _ => {
            let n = number(v)?;
            if n == 0.0 {
                Ok(false)
            } else if n == 1.0 {
                Ok(true)
            } else {
                Err(CodecError::NotBoolean { value: show(v) })
            }
        }
    }
}

fn encode_text(chars: u16, v: &Value) -> Result<Vec<u16>, CodecError> {
    let Value::Text(s) = v else {
        return Err(CodecError::WrongValue { expected: "text", got: kind(v) });
    };
    let len = s.chars().count();
    if len > usize::from(chars) {
        return Err(CodecError::TextTooLong { len, chars });
    }
    let mut bytes = Vec::with_capacity(usize::from(chars) + 1);
    for ch in s.chars() {
        if ch == '\0' {
            return Err(CodecError::NulInText);
        }
        bytes.push(u8::try_from(ch).map_err(|_| CodecError::NotLatin1 { ch })?);
    }
    bytes.resize(usize::from(DataType::String { chars }.registers()) * 2, 0);
    Ok(bytes.as_chunks::<2>().0.iter().map(|p| u16::from_be_bytes(*p)).collect())
}

/// Encodes `value` as `ty`: the inverse of [`decode_registers`]. Integer types take integers,
/// or floats that are whole numbers (a fraction is an error, never rounded), and the number must
/// fit. `f32` rejects values outside its range (precision is rounded). NaN and infinities are
/// rejected for every type. `bool` takes `true`/`false` or 0/1. Strings take Latin-1 text of at
/// most `chars` characters without NUL.
pub fn encode_registers(ty: DataType, order: ByteOrder, value: &Value) -> Result<Vec<u16>, CodecError> {
    Ok(match ty {
        DataType::Bool => vec![u16::from(boolean(value)?)],
        DataType::U16 => vec![int::<u16>(ty, value)?],
        DataType::I16 => vec![int::<i16>(ty, value)? as u16],
        DataType::U32 => words_from_be(&int::<u32>(ty, value)?.to_be_bytes(), order),
        DataType::I32 => words_from_be(&int::<i32>(ty, value)?.to_be_bytes(), order),
        DataType::U64 => words_from_be(&int::<u64>(ty, value)?.to_be_bytes(), order),
        DataType::I64 => words_from_be(&int::<i64>(ty, value)?.to_be_bytes(), order),
        DataType::F32 => {
            let f = number(value)?;
            if f.abs() > f64::from(f32::MAX) {
                return Err(CodecError::DoesNotFit { value: show(value), ty: label(ty) });
            }
            words_from_be(&(f as f32).to_be_bytes(), order)
        }
        DataType::F64 => words_from_be(&number(value)?.to_be_bytes(), order),
        // 9999 in BCD is 0x9999, which fits.
        DataType::Bcd16 => vec![bcd(ty, value, 9_999)? as u16],
        // 99999999 in BCD is 0x99999999, which fits.
        DataType::Bcd32 => words_from_be(&(bcd(ty, value, 99_999_999)? as u32).to_be_bytes(), order),
        DataType::String { chars } => encode_text(chars, value)?,
    })
}

fn is_float(ty: DataType) -> bool {
    matches!(ty, DataType::F32 | DataType::F64)
}

/// Encodes a value for writing a whole point of a register table: the inverse of
/// [`decode_point`]. With a scale, the value (in engineering units) is converted to raw with
/// `Scale::to_raw` and, for every type but `f32`/`f64`, rounded to the nearest integer (half away
/// from zero) before the range check. A `bit` point is an error here: the caller does a mask
/// write (see [`encode_bit_mask`]); so are coils and discrete inputs (see [`encode_bit`]).
pub fn encode_point(p: &ModbusPoint, value: &Value) -> Result<Vec<u16>, CodecError> {
    if p.table.is_bits() {
        return Err(CodecError::BitTable { table: table_name(p.table) });
    }
    if let Some(bit) = p.bit {
        return Err(CodecError::BitPoint { bit });
    }
    let Some(scale) = p.scale else {
        return encode_registers(p.ty, p.order, value);
    };
    if matches!(p.ty, DataType::String { .. }) {
        return Err(CodecError::ScaledText);
    }
    let eu = number(value)?;
    let raw = scale.to_raw(eu);
    if !raw.is_finite() {
        return Err(CodecError::ScaledNotFinite { eu: fmt_num(eu), what: non_finite_name(raw) });
    }
    let raw = if is_float(p.ty) { raw } else { raw.round() };
    encode_registers(p.ty, p.order, &Value::Float(raw)).map_err(|e| e.scaled_from(eu))
}

/// The state to write to a coil: `true`/`false` or 0/1.
pub fn encode_bit(value: &Value) -> Result<bool, CodecError> {
    boolean(value)
}

/// The value the device holds after `value` is written to `p`: encoded as it goes on the wire,
/// then read back as the console would read it. It differs from `value` when the register cannot
/// hold it exactly (a scaled register's resolution, an f32's precision).
pub fn held_value(p: &ModbusPoint, value: &Value) -> Result<Value, CodecError> {
    if p.table.is_bits() || p.bit.is_some() {
        return encode_bit(value).map(Value::Bool);
    }
    decode_point(p, &encode_point(p, value)?)
}

/// The `(and_mask, or_mask)` of a Modbus mask write (function 0x16) that sets a `bit` point to
/// `value`: the register becomes `(current & and_mask) | (or_mask & !and_mask)`.
pub fn encode_bit_mask(p: &ModbusPoint, value: &Value) -> Result<(u16, u16), CodecError> {
    if p.table.is_bits() {
        return Err(CodecError::BitTable { table: table_name(p.table) });
    }
    let Some(bit) = p.bit else {
        return Err(CodecError::NotBitPoint);
    };
    let mask = bit_mask(bit)?;
    let on = boolean(value)?;
    Ok((!mask, if on { mask } else { 0 }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Scale;
    use proptest::prelude::*;

    const ORDERS: [ByteOrder; 4] = [ByteOrder::Abcd, ByteOrder::Cdab, ByteOrder::Badc, ByteOrder::Dcba];

    fn point(ty: DataType) -> ModbusPoint {
        ModbusPoint { unit: 1, table: Table::Holding, address: 0, ty, order: ByteOrder::Abcd, bit: None, scale: None }
    }

    /// Decodes and encodes each vector in its byte order, both ways.
    fn both_ways(ty: DataType, value: Value, vectors: [(ByteOrder, &[u16]); 4]) {
        for (order, regs) in vectors {
            assert_eq!(decode_registers(ty, order, regs), Ok(value.clone()), "decode {} {}", ty.name(), order.name());
            assert_eq!(
                encode_registers(ty, order, &value).as_deref(),
                Ok(regs),
                "encode {} {}",
                ty.name(),
                order.name()
            );
        }
    }

    #[test]
    fn f32_known_vector_in_every_order() {
        assert_eq!(123.456f32.to_bits(), 0x42F6_E979);
        both_ways(
            DataType::F32,
            Value::Float(123.456f32 as f64),
            [
                (ByteOrder::Abcd, &[0x42F6, 0xE979]),
                (ByteOrder::Cdab, &[0xE979, 0x42F6]),
                (ByteOrder::Badc, &[0xF642, 0x79E9]),
                (ByteOrder::Dcba, &[0x79E9, 0xF642]),
            ],
        );
        // An f64 that is not exactly an f32 is rounded to the nearest f32.
        assert_eq!(encode_registers(DataType::F32, ByteOrder::Abcd, &Value::Float(123.456)), Ok(vec![0x42F6, 0xE979]));
    }

    #[test]
    fn i32_known_vectors_in_every_order() {
        // -2 = 0xFFFFFFFE: A=FF B=FF C=FF D=FE.
        both_ways(
            DataType::I32,
            Value::Int(-2),
            [
                (ByteOrder::Abcd, &[0xFFFF, 0xFFFE]),
                (ByteOrder::Cdab, &[0xFFFE, 0xFFFF]),
                (ByteOrder::Badc, &[0xFFFF, 0xFEFF]),
                (ByteOrder::Dcba, &[0xFEFF, 0xFFFF]),
            ],
        );
        both_ways(
            DataType::I32,
            Value::Int(0x1234_5678),
            [
                (ByteOrder::Abcd, &[0x1234, 0x5678]),
                (ByteOrder::Cdab, &[0x5678, 0x1234]),
                (ByteOrder::Badc, &[0x3412, 0x7856]),
                (ByteOrder::Dcba, &[0x7856, 0x3412]),
            ],
        );
        both_ways(
            DataType::U32,
            Value::UInt(0xDEAD_BEEF),
            [
                (ByteOrder::Abcd, &[0xDEAD, 0xBEEF]),
                (ByteOrder::Cdab, &[0xBEEF, 0xDEAD]),
                (ByteOrder::Badc, &[0xADDE, 0xEFBE]),
                (ByteOrder::Dcba, &[0xEFBE, 0xADDE]),
            ],
        );
    }

    #[test]
    fn u64_and_i64_known_vectors_in_every_order() {
        both_ways(
            DataType::U64,
            Value::UInt(0x0102_0304_0506_0708),
            [
                (ByteOrder::Abcd, &[0x0102, 0x0304, 0x0506, 0x0708]),
                (ByteOrder::Cdab, &[0x0708, 0x0506, 0x0304, 0x0102]),
                (ByteOrder::Badc, &[0x0201, 0x0403, 0x0605, 0x0807]),
                (ByteOrder::Dcba, &[0x0807, 0x0605, 0x0403, 0x0201]),
            ],
        );
        // i64::MIN = 0x8000000000000000.
        both_ways(
            DataType::I64,
            Value::Int(i64::MIN),
            [
                (ByteOrder::Abcd, &[0x8000, 0, 0, 0]),
                (ByteOrder::Cdab, &[0, 0, 0, 0x8000]),
                (ByteOrder::Badc, &[0x0080, 0, 0, 0]),
                (ByteOrder::Dcba, &[0, 0, 0, 0x0080]),
            ],
        );
        both_ways(
            DataType::I64,
            Value::Int(-1),
            [
                (ByteOrder::Abcd, &[0xFFFF; 4]),
                (ByteOrder::Cdab, &[0xFFFF; 4]),
                (ByteOrder::Badc, &[0xFFFF; 4]),
                (ByteOrder::Dcba, &[0xFFFF; 4]),
            ],
        );
        both_ways(
            DataType::U64,
            Value::UInt(u64::MAX),
            [
                (ByteOrder::Abcd, &[0xFFFF; 4]),
                (ByteOrder::Cdab, &[0xFFFF; 4]),
                (ByteOrder::Badc, &[0xFFFF; 4]),
                (ByteOrder::Dcba, &[0xFFFF; 4]),
            ],
        );
    }

    #[test]
    fn f64_known_vectors_in_every_order() {
        assert_eq!(1.0f64.to_bits(), 0x3FF0_0000_0000_0000);
        both_ways(
            DataType::F64,
            Value::Float(1.0),
            [
                (ByteOrder::Abcd, &[0x3FF0, 0, 0, 0]),
                (ByteOrder::Cdab, &[0, 0, 0, 0x3FF0]),
                (ByteOrder::Badc, &[0xF03F, 0, 0, 0]),
                (ByteOrder::Dcba, &[0, 0, 0, 0xF03F]),
            ],
        );
        assert_eq!(123.456f64.to_bits(), 0x405E_DD2F_1A9F_BE77);
        both_ways(
            DataType::F64,
            Value::Float(123.456),
            [
                (ByteOrder::Abcd, &[0x405E, 0xDD2F, 0x1A9F, 0xBE77]),
                (ByteOrder::Cdab, &[0xBE77, 0x1A9F, 0xDD2F, 0x405E]),
                (ByteOrder::Badc, &[0x5E40, 0x2FDD, 0x9F1A, 0x77BE]),
                (ByteOrder::Dcba, &[0x77BE, 0x9F1A, 0x2FDD, 0x5E40]),
            ],
        );
    }

    #[test]
    fn sixteen_bit_types_ignore_byte_order() {
        for order in ORDERS {
            assert_eq!(decode_registers(DataType::U16, order, &[0x1234]), Ok(Value::UInt(0x1234)));
            assert_eq!(decode_registers(DataType::I16, order, &[0xFFFE]), Ok(Value::Int(-2)));
            assert_eq!(decode_registers(DataType::I16, order, &[0x8000]), Ok(Value::Int(-32768)));
            assert_eq!(decode_registers(DataType::Bcd16, order, &[0x1234]), Ok(Value::UInt(1234)));
            assert_eq!(decode_registers(DataType::Bool, order, &[0x0100]), Ok(Value::Bool(true)));
            assert_eq!(decode_registers(DataType::Bool, order, &[0]), Ok(Value::Bool(false)));
            assert_eq!(encode_registers(DataType::I16, order, &Value::Int(-2)), Ok(vec![0xFFFE]));
            assert_eq!(encode_registers(DataType::U16, order, &Value::UInt(0x1234)), Ok(vec![0x1234]));
            assert_eq!(encode_registers(DataType::Bcd16, order, &Value::UInt(1234)), Ok(vec![0x1234]));
            assert_eq!(encode_registers(DataType::Bool, order, &Value::Bool(true)), Ok(vec![1]));
            assert_eq!(
                decode_registers(DataType::String { chars: 4 }, order, &[0x4142, 0x4344]),
                Ok(Value::Text("ABCD".into()))
            );
        }
    }

    #[test]
    fn bcd_values_and_errors() {
        both_ways(
            DataType::Bcd32,
            Value::UInt(12_345_678),
            [
                (ByteOrder::Abcd, &[0x1234, 0x5678]),
                (ByteOrder::Cdab, &[0x5678, 0x1234]),
                (ByteOrder::Badc, &[0x3412, 0x7856]),
                (ByteOrder::Dcba, &[0x7856, 0x3412]),
            ],
        );
        assert_eq!(encode_registers(DataType::Bcd16, ByteOrder::Abcd, &Value::UInt(9999)), Ok(vec![0x9999]));
        assert_eq!(encode_registers(DataType::Bcd16, ByteOrder::Abcd, &Value::UInt(0)), Ok(vec![0]));
        assert_eq!(encode_registers(DataType::Bcd16, ByteOrder::Abcd, &Value::Int(7)), Ok(vec![0x0007]));
        assert_eq!(
            encode_registers(DataType::Bcd32, ByteOrder::Abcd, &Value::UInt(99_999_999)),
            Ok(vec![0x9999, 0x9999])
        );
        assert_eq!(encode_registers(DataType::Bcd32, ByteOrder::Abcd, &Value::UInt(100)), Ok(vec![0x0000, 0x0100]));

        let e = decode_registers(DataType::Bcd16, ByteOrder::Abcd, &[0x1A34]).unwrap_err();
        assert_eq!(e, CodecError::InvalidBcd { digit: 0xA, register: 0x1A34 });
        assert_eq!(e.to_string(), "invalid BCD digit 0xA in register 0x1A34");
        assert_eq!(
            decode_registers(DataType::Bcd16, ByteOrder::Abcd, &[0x000F]).unwrap_err().to_string(),
            "invalid BCD digit 0xF in register 0x000F"
        );
        // The register named is the one as read from the device, in any byte order.
        for order in ORDERS {
            assert_eq!(
                decode_registers(DataType::Bcd32, order, &[0x1234, 0x56B8]),
                Err(CodecError::InvalidBcd { digit: 0xB, register: 0x56B8 })
            );
        }
        assert_eq!(
            encode_registers(DataType::Bcd16, ByteOrder::Abcd, &Value::UInt(10_000)).unwrap_err().to_string(),
            "value 10000 does not fit bcd16"
        );
        assert_eq!(
            encode_registers(DataType::Bcd32, ByteOrder::Abcd, &Value::UInt(100_000_000)).unwrap_err().to_string(),
            "value 100000000 does not fit bcd32"
        );
        assert_eq!(
            encode_registers(DataType::Bcd16, ByteOrder::Abcd, &Value::Int(-1)).unwrap_err().to_string(),
            "value -1 does not fit bcd16"
        );
    }

    #[test]
    fn strings() {
        let ty = DataType::String { chars: 6 };
        let o = ByteOrder::Dcba; // never applies to strings
        assert_eq!(encode_registers(ty, o, &Value::Text("Pump".into())), Ok(vec![0x5075, 0x6D70, 0x0000]));
        assert_eq!(decode_registers(ty, o, &[0x5075, 0x6D70, 0x0000]), Ok(Value::Text("Pump".into())));
        // Trailing spaces and NULs are trimmed; a NUL ends the string.
        assert_eq!(decode_registers(ty, o, &[0x5075, 0x6D70, 0x2020]), Ok(Value::Text("Pump".into())));
        assert_eq!(decode_registers(ty, o, &[0x4100, 0x4242, 0x4343]), Ok(Value::Text("A".into())));
        assert_eq!(decode_registers(ty, o, &[0x2041, 0x2042, 0x2000]), Ok(Value::Text(" A B".into())));
        // Latin-1: never fails.
        assert_eq!(decode_registers(ty, o, &[0xE9FF, 0x8041, 0x0000]), Ok(Value::Text("é\u{FF}\u{80}A".into())));
        assert_eq!(encode_registers(ty, o, &Value::Text("é".into())), Ok(vec![0xE900, 0, 0]));
        // Odd length: the last register's low byte is not part of the string.
        let odd = DataType::String { chars: 3 };
        assert_eq!(decode_registers(odd, o, &[0x4142, 0x4344]), Ok(Value::Text("ABC".into())));
        assert_eq!(encode_registers(odd, o, &Value::Text("ABC".into())), Ok(vec![0x4142, 0x4300]));
        // Empty.
        let none = DataType::String { chars: 0 };
        assert_eq!(decode_registers(none, o, &[]), Ok(Value::Text(String::new())));
        assert_eq!(encode_registers(none, o, &Value::Text(String::new())), Ok(vec![]));

        let twenty = DataType::String { chars: 20 };
        assert_eq!(
            encode_registers(twenty, o, &Value::Text("x".repeat(25))).unwrap_err().to_string(),
            "text has 25 characters, the tag holds 20"
        );
        assert_eq!(
            encode_registers(twenty, o, &Value::Text("é".repeat(20))).map(|r| r.len()),
            Ok(10),
            "counts characters, not bytes"
        );
        assert_eq!(encode_registers(ty, o, &Value::Text("5 €".into())), Err(CodecError::NotLatin1 { ch: '€' }));
        assert!(CodecError::NotLatin1 { ch: '€' }.to_string().contains("U+20AC"));
        assert_eq!(encode_registers(ty, o, &Value::Text("a\0b".into())), Err(CodecError::NulInText));
        assert_eq!(encode_registers(ty, o, &Value::Int(3)).unwrap_err().to_string(), "expected text, got an integer");
        assert_eq!(
            decode_registers(twenty, o, &[0x4142; 3]).unwrap_err().to_string(),
            "a string of 20 characters needs 10 registers, got 3"
        );
    }

    #[test]
    fn error_messages_read_well() {
        assert_eq!(
            decode_registers(DataType::F32, ByteOrder::Abcd, &[1]).unwrap_err().to_string(),
            "f32 needs 2 registers, got 1"
        );
        assert_eq!(
            decode_registers(DataType::U16, ByteOrder::Abcd, &[]).unwrap_err().to_string(),
            "u16 needs 1 register, got 0"
        );
        assert_eq!(
            encode_registers(DataType::U16, ByteOrder::Abcd, &Value::Int(70000)).unwrap_err().to_string(),
            "value 70000 does not fit u16"
        );
        assert_eq!(
            encode_registers(DataType::F32, ByteOrder::Abcd, &Value::Float(f64::NAN)).unwrap_err().to_string(),
            "NaN cannot be written"
        );
        assert_eq!(
            encode_registers(DataType::F64, ByteOrder::Abcd, &Value::Float(f64::NEG_INFINITY)).unwrap_err().to_string(),
            "-infinity cannot be written"
        );
        assert_eq!(
            encode_registers(DataType::I32, ByteOrder::Abcd, &Value::Text("12".into())).unwrap_err().to_string(),
            "expected a number, got text"
        );
        assert_eq!(
            encode_registers(DataType::I16, ByteOrder::Abcd, &Value::Float(1.5)).unwrap_err().to_string(),
            "value 1.5 is not a whole number, and i16 holds whole numbers only"
        );
        assert_eq!(
            encode_registers(DataType::F32, ByteOrder::Abcd, &Value::Float(1e40)).unwrap_err().to_string(),
            "value 1e40 does not fit f32"
        );
        assert_eq!(
            encode_registers(DataType::Bool, ByteOrder::Abcd, &Value::Int(2)).unwrap_err().to_string(),
            "value 2 is not a boolean; use true, false, 1 or 0"
        );
        assert_eq!(decode_bit(&[]).unwrap_err().to_string(), "a coil or discrete input needs exactly 1 bit, got 0");
    }

    #[test]
    fn integer_encoding_is_exact() {
        let enc = |ty, v| encode_registers(ty, ByteOrder::Abcd, &v);
        assert_eq!(enc(DataType::U16, Value::Float(65535.0)), Ok(vec![0xFFFF]));
        assert_eq!(
            enc(DataType::U16, Value::Int(-1)),
            Err(CodecError::DoesNotFit { value: "-1".into(), ty: "u16".into() })
        );
        assert_eq!(enc(DataType::I16, Value::Int(-32768)), Ok(vec![0x8000]));
        assert!(enc(DataType::I16, Value::Int(32768)).is_err());
        assert!(enc(DataType::I16, Value::UInt(u64::MAX)).is_err());
        assert_eq!(enc(DataType::U32, Value::UInt(u32::MAX.into())), Ok(vec![0xFFFF, 0xFFFF]));
        assert!(enc(DataType::U32, Value::UInt(1 << 32)).is_err());
        assert!(enc(DataType::I32, Value::Int(i64::from(i32::MIN) - 1)).is_err());
        assert_eq!(enc(DataType::U64, Value::UInt(u64::MAX)), Ok(vec![0xFFFF; 4]));
        assert!(enc(DataType::U64, Value::Int(-1)).is_err());
        assert!(enc(DataType::I64, Value::UInt(u64::MAX)).is_err());
        // 2^64 as f64: just past u64::MAX.
        assert!(enc(DataType::U64, Value::Float(18_446_744_073_709_551_616.0)).is_err());
        assert_eq!(enc(DataType::I64, Value::Float(-9_223_372_036_854_775_808.0)), Ok(vec![0x8000, 0, 0, 0]));
        assert!(enc(DataType::I64, Value::Float(9_223_372_036_854_775_808.0)).is_err());
        assert!(enc(DataType::U16, Value::Float(1e300)).is_err());
        assert_eq!(enc(DataType::U16, Value::Float(-0.0)), Ok(vec![0]));
        assert_eq!(
            enc(DataType::U16, Value::Bool(true)),
            Err(CodecError::WrongValue { expected: "a number", got: "a boolean" })
        );
        assert_eq!(enc(DataType::U16, Value::Float(f64::INFINITY)), Err(CodecError::NotFinite { what: "infinity" }));
        // Floats take integers; Bool takes 0 and 1.
        assert_eq!(enc(DataType::F64, Value::Int(-3)), Ok(words_from_be(&(-3.0f64).to_be_bytes(), ByteOrder::Abcd)));
        assert_eq!(enc(DataType::Bool, Value::UInt(1)), Ok(vec![1]));
        assert_eq!(enc(DataType::Bool, Value::Float(0.0)), Ok(vec![0]));
        assert_eq!(
            enc(DataType::Bool, Value::Text("true".into())),
            Err(CodecError::WrongValue { expected: "a boolean", got: "text" })
        );
        assert_eq!(enc(DataType::F32, Value::Float(f64::from(f32::MAX))), Ok(vec![0x7F7F, 0xFFFF]));
        assert!(enc(DataType::F32, Value::Float(-f64::from(f32::MAX) * 1.0001)).is_err());
    }

    #[test]
    fn wrong_register_counts_are_errors() {
        let types = [
            DataType::Bool,
            DataType::U16,
            DataType::I16,
            DataType::U32,
            DataType::I32,
            DataType::U64,
            DataType::I64,
            DataType::F32,
            DataType::F64,
            DataType::Bcd16,
            DataType::Bcd32,
            DataType::String { chars: 5 },
        ];
        for ty in types {
            for order in ORDERS {
                for n in [0usize, 1, 2, 3, 4, 5, 8] {
                    if n == usize::from(ty.registers()) {
                        continue;
                    }
                    let regs = vec![0x1111; n];
                    assert_eq!(
                        decode_registers(ty, order, &regs),
                        Err(CodecError::RegisterCount { ty: label(ty), expected: ty.registers().into(), got: n }),
                        "{} with {n}",
                        ty.name()
                    );
                }
            }
        }
    }

    #[test]
    fn points_with_bits_and_scale() {
        let mut p = point(DataType::Bool);
        p.bit = Some(3);
        assert_eq!(decode_point(&p, &[0b1000]), Ok(Value::Bool(true)));
        assert_eq!(decode_point(&p, &[0b0111]), Ok(Value::Bool(false)));
        p.bit = Some(15);
        assert_eq!(decode_point(&p, &[0x8000]), Ok(Value::Bool(true)));
        assert_eq!(decode_point(&p, &[]).unwrap_err().to_string(), "bit 15 needs 1 register, got 0");
        p.bit = Some(16);
        assert_eq!(decode_point(&p, &[0xFFFF]), Err(CodecError::BitOutOfRange { bit: 16 }));
        p.bit = Some(3);
        assert_eq!(encode_point(&p, &Value::Bool(true)), Err(CodecError::BitPoint { bit: 3 }));
        assert_eq!(encode_bit_mask(&p, &Value::Bool(true)), Ok((!0b1000, 0b1000)));
        assert_eq!(encode_bit_mask(&p, &Value::Int(0)), Ok((!0b1000, 0)));
        assert_eq!(encode_bit_mask(&point(DataType::U16), &Value::Bool(true)), Err(CodecError::NotBitPoint));

        // Scaled: 0..1000 raw is 0..100 °C.
        let mut p = point(DataType::U16);
        p.scale = Some(Scale { raw: [0.0, 1000.0], eu: [0.0, 100.0] });
        assert_eq!(decode_point(&p, &[500]), Ok(Value::Float(50.0)));
        assert_eq!(encode_point(&p, &Value::Float(25.0)), Ok(vec![250]));
        // Rounded to the nearest raw integer.
        assert_eq!(encode_point(&p, &Value::Float(25.04)), Ok(vec![250]));
        assert_eq!(encode_point(&p, &Value::Float(25.06)), Ok(vec![251]));
        assert_eq!(
            encode_point(&p, &Value::Int(7000)).unwrap_err().to_string(),
            "value 70000 (raw, scaled from 7000) does not fit u16"
        );
        assert_eq!(
            encode_point(&p, &Value::Float(-0.1)).unwrap_err().to_string(),
            "value -1 (raw, scaled from -0.1) does not fit u16"
        );
        assert_eq!(encode_point(&p, &Value::Float(f64::NAN)), Err(CodecError::NotFinite { what: "NaN" }));
        assert_eq!(
            encode_point(&p, &Value::Bool(true)),
            Err(CodecError::WrongValue { expected: "a number", got: "a boolean" })
        );

        // Scaled float: not rounded.
        let mut p = point(DataType::F32);
        p.order = ByteOrder::Cdab;
        p.scale = Some(Scale { raw: [0.0, 10.0], eu: [0.0, 1.0] });
        assert_eq!(decode_point(&p, &[0xE979, 0x42F6]), Ok(Value::Float(f64::from(123.456f32) / 10.0)));
        assert_eq!(encode_point(&p, &Value::Float(0.25)), Ok(words_from_be(&2.5f32.to_be_bytes(), ByteOrder::Cdab)));

        // A degenerate scale cannot produce a writable raw value.
        let mut p = point(DataType::I16);
        p.scale = Some(Scale { raw: [0.0, 10.0], eu: [5.0, 5.0] });
        assert!(matches!(encode_point(&p, &Value::Float(6.0)), Err(CodecError::ScaledNotFinite { .. })));

        // Strings are never scaled.
        let mut p = point(DataType::String { chars: 2 });
        p.scale = Some(Scale { raw: [0.0, 1.0], eu: [0.0, 1.0] });
        assert_eq!(decode_point(&p, &[0x4142]), Err(CodecError::ScaledText));
        assert_eq!(encode_point(&p, &Value::Text("AB".into())), Err(CodecError::ScaledText));

        // Unscaled points go straight through, with their byte order.
        let mut p = point(DataType::I32);
        p.order = ByteOrder::Badc;
        assert_eq!(decode_point(&p, &[0xFFFF, 0xFEFF]), Ok(Value::Int(-2)));
        assert_eq!(encode_point(&p, &Value::Int(-2)), Ok(vec![0xFFFF, 0xFEFF]));
    }

    #[test]
    fn bit_tables() {
        assert_eq!(decode_bit(&[true]), Ok(Value::Bool(true)));
        assert_eq!(decode_bit(&[false]), Ok(Value::Bool(false)));
        assert_eq!(decode_bit(&[true, false]), Err(CodecError::BitCount { got: 2 }));
        assert_eq!(encode_bit(&Value::Bool(true)), Ok(true));
        assert_eq!(encode_bit(&Value::UInt(0)), Ok(false));
        assert!(encode_bit(&Value::Float(0.5)).is_err());
        for table in [Table::Coil, Table::Discrete] {
            let mut p = point(DataType::Bool);
            p.table = table;
            assert!(matches!(decode_point(&p, &[1]), Err(CodecError::BitTable { .. })));
            assert!(matches!(encode_point(&p, &Value::Bool(true)), Err(CodecError::BitTable { .. })));
        }
        let mut p = point(DataType::Bool);
        p.table = Table::Coil;
        assert_eq!(
            decode_point(&p, &[1]).unwrap_err().to_string(),
            "a coil holds a single bit, not registers; it is read with decode_bit and written with encode_bit"
        );
    }

    // ------------------------------------------------------------------------------------------
    // Properties

    fn any_order() -> impl Strategy<Value = ByteOrder> {
        prop::sample::select(ORDERS.to_vec())
    }

    fn any_type() -> impl Strategy<Value = DataType> {
        prop_oneof![
            prop::sample::select(vec![
                DataType::Bool,
                DataType::U16,
                DataType::I16,
                DataType::U32,
                DataType::I32,
                DataType::U64,
                DataType::I64,
                DataType::F32,
                DataType::F64,
                DataType::Bcd16,
                DataType::Bcd32,
            ]),
            (0u16..=40).prop_map(|chars| DataType::String { chars }),
        ]
    }

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<u64>().prop_map(Value::UInt),
            any::<f64>().prop_map(Value::Float),
            (-1e6f64..1e6).prop_map(|f| Value::Float(f.round())),
            "\\PC{0,30}".prop_map(Value::Text),
            prop::collection::vec(any::<char>(), 0..30).prop_map(|c| Value::Text(c.into_iter().collect())),
        ]
    }

    fn printable(max: u16) -> impl Strategy<Value = String> {
        prop::collection::vec(0x20u8..=0x7E, 0..=usize::from(max)).prop_map(|b| b.into_iter().map(char::from).collect())
    }

    fn latin1(max: u16) -> impl Strategy<Value = String> {
        prop::collection::vec(1u8..=0xFF, 0..=usize::from(max)).prop_map(|b| b.into_iter().map(char::from).collect())
    }

    fn i64_with_extremes() -> impl Strategy<Value = i64> {
        prop_oneof![any::<i64>(), prop::sample::select(vec![i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX])]
    }

    fn u64_with_extremes() -> impl Strategy<Value = u64> {
        prop_oneof![any::<u64>(), prop::sample::select(vec![0, 1, u64::MAX - 1, u64::MAX])]
    }

    fn finite_f32() -> impl Strategy<Value = f32> {
        use proptest::num::f32::*;
        NORMAL | SUBNORMAL | ZERO | POSITIVE | NEGATIVE
    }

    fn finite_f64() -> impl Strategy<Value = f64> {
        use proptest::num::f64::*;
        NORMAL | SUBNORMAL | ZERO | POSITIVE | NEGATIVE
    }

    /// A type, a value to encode, and the value decoding must give back.
    fn typed_value() -> impl Strategy<Value = (DataType, Value, Value)> {
        let same = |ty: DataType| move |v: Value| (ty, v.clone(), v);
        prop_oneof![
            any::<bool>().prop_map(Value::Bool).prop_map(same(DataType::Bool)),
            any::<u16>().prop_map(|u| Value::UInt(u.into())).prop_map(same(DataType::U16)),
            any::<i16>().prop_map(|i| Value::Int(i.into())).prop_map(same(DataType::I16)),
            any::<u32>().prop_map(|u| Value::UInt(u.into())).prop_map(same(DataType::U32)),
            any::<i32>().prop_map(|i| Value::Int(i.into())).prop_map(same(DataType::I32)),
            u64_with_extremes().prop_map(Value::UInt).prop_map(same(DataType::U64)),
            i64_with_extremes().prop_map(Value::Int).prop_map(same(DataType::I64)),
            finite_f32().prop_map(|f| Value::Float(f.into())).prop_map(same(DataType::F32)),
            finite_f64().prop_map(Value::Float).prop_map(same(DataType::F64)),
            (0u64..=9_999).prop_map(Value::UInt).prop_map(same(DataType::Bcd16)),
            (0u64..=99_999_999).prop_map(Value::UInt).prop_map(same(DataType::Bcd32)),
            (0u16..=40).prop_flat_map(|chars| (Just(chars), printable(chars))).prop_map(|(chars, s)| {
                let want = s.trim_end_matches(' ').to_string();
                (DataType::String { chars }, Value::Text(s), Value::Text(want))
            }),
            (0u16..=40).prop_flat_map(|chars| (Just(chars), latin1(chars))).prop_map(|(chars, s)| {
                let want = s.trim_end_matches(' ').to_string();
                (DataType::String { chars }, Value::Text(s), Value::Text(want))
            }),
        ]
    }

    /// Equality that tells -0.0 from 0.0.
    fn identical(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
            (a, b) => a == b,
        }
    }

    fn same_kind(ty: DataType, v: &Value) -> bool {
        match ty {
            DataType::Bool => matches!(v, Value::Bool(_)),
            DataType::U16 | DataType::U32 | DataType::U64 | DataType::Bcd16 | DataType::Bcd32 => {
                matches!(v, Value::UInt(_))
            }
            DataType::I16 | DataType::I32 | DataType::I64 => matches!(v, Value::Int(_)),
            DataType::F32 | DataType::F64 => matches!(v, Value::Float(_)),
            DataType::String { .. } => matches!(v, Value::Text(_)),
        }
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips((ty, input, want) in typed_value(), order in any_order()) {
            let regs = encode_registers(ty, order, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(regs.len(), usize::from(ty.registers()));
            let got = decode_registers(ty, order, &regs).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(identical(&got, &want), "{} {}: {:?} -> {:?} -> {:?}", ty.name(), order.name(), input, regs, got);
        }

        #[test]
        fn decode_then_encode_gives_the_registers_back(ty in any_type(), order in any_order(), seed in prop::collection::vec(any::<u16>(), 20)) {
            let n = usize::from(ty.registers());
            let regs: Vec<u16> = seed.into_iter().cycle().take(n).collect();
            // Every register pattern is a valid integer or float; a non-finite float cannot be
            // written back, so those are skipped. BCD and strings have patterns that do not
            // round-trip (invalid nibbles, text after a NUL), so they are covered above instead.
            if matches!(ty, DataType::Bcd16 | DataType::Bcd32 | DataType::String { .. } | DataType::Bool) {
                return Ok(());
            }
            let v = decode_registers(ty, order, &regs).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if matches!(v, Value::Float(f) if !f.is_finite()) {
                return Ok(());
            }
            prop_assert_eq!(encode_registers(ty, order, &v), Ok(regs));
        }

        #[test]
        fn decode_of_any_registers_never_panics(ty in any_type(), order in any_order(), regs in prop::collection::vec(any::<u16>(), 0..=24)) {
            let r = decode_registers(ty, order, &regs);
            if regs.len() != usize::from(ty.registers()) {
                prop_assert_eq!(r, Err(count_error(ty, &regs)));
            } else {
                match r {
                    Ok(v) => prop_assert!(same_kind(ty, &v), "{} gave {:?}", ty.name(), v),
                    Err(e) => {
                        let bad_bcd = matches!((ty, &e), (DataType::Bcd16 | DataType::Bcd32, CodecError::InvalidBcd { .. }));
                        prop_assert!(bad_bcd, "{} failed: {}", ty.name(), e);
                    }
                }
            }
        }

        #[test]
        fn decode_point_never_panics(
            ty in any_type(),
            order in any_order(),
            table in prop::sample::select(vec![Table::Coil, Table::Discrete, Table::Input, Table::Holding]),
            bit in prop::option::of(0u8..=20),
            scale in prop::option::of((any::<f64>(), any::<f64>(), any::<f64>(), any::<f64>())),
            regs in prop::collection::vec(any::<u16>(), 0..=24),
            value in any_value(),
        ) {
            let scale = scale.map(|(a, b, c, d)| Scale { raw: [a, b], eu: [c, d] });
            let p = ModbusPoint { unit: 1, table, address: 0, ty, order, bit, scale };
            let _ = decode_point(&p, &regs);
            if let Ok(out) = encode_point(&p, &value) {
                prop_assert_eq!(out.len(), usize::from(ty.registers()));
            }
            let _ = encode_bit_mask(&p, &value);
        }

        #[test]
        fn anything_encoded_decodes(ty in any_type(), order in any_order(), value in any_value()) {
            if let Ok(regs) = encode_registers(ty, order, &value) {
                prop_assert_eq!(regs.len(), usize::from(ty.registers()));
                let back = decode_registers(ty, order, &regs);
                prop_assert!(back.is_ok(), "{} {:?} -> {:?} -> {:?}", ty.name(), value, regs, back);
            }
        }
    }
}
