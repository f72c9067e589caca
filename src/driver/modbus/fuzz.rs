//! Fuzzing Modbus RTU framing and the register codec (see `crate::fuzzing`).
//!
//! RTU: random buffers, and valid answers to every request the console sends (reads with random
//! data, write echoes, exceptions) damaged byte by byte. Whatever arrives, `scan` and `decode`
//! give a verdict without panicking, never use more bytes than they got, and an accepted answer
//! carries exactly what was asked (never more registers or bits than the request's quantity).
//!
//! Codec: every data type and byte order on random registers, and decode∘encode on every valid
//! value.

use std::borrow::Cow;

use proptest::prelude::*;
use tokio_modbus::{Request, Response};

use super::codec::{decode_bit, decode_point, decode_registers, encode_registers};
use super::rtu::{MAX_FRAME, Scan, answer_start, decode, frame_len, function, push_crc, scan};
use crate::layout::{ByteOrder, DataType, ModbusPoint, Scale, Table};
use crate::tag::Value;

// --- RTU ---------------------------------------------------------------------------------

/// Every request the console sends, with quantities up to the protocol's limits.
fn request() -> impl Strategy<Value = Request<'static>> {
    prop_oneof![
        (any::<u16>(), 1u16..=2000).prop_map(|(a, q)| Request::ReadCoils(a, q)),
        (any::<u16>(), 1u16..=2000).prop_map(|(a, q)| Request::ReadDiscreteInputs(a, q)),
        (any::<u16>(), 1u16..=125).prop_map(|(a, q)| Request::ReadHoldingRegisters(a, q)),
        (any::<u16>(), 1u16..=125).prop_map(|(a, q)| Request::ReadInputRegisters(a, q)),
        (any::<u16>(), any::<bool>()).prop_map(|(a, on)| Request::WriteSingleCoil(a, on)),
        (any::<u16>(), any::<u16>()).prop_map(|(a, w)| Request::WriteSingleRegister(a, w)),
        (any::<u16>(), prop::collection::vec(any::<bool>(), 1..64))
            .prop_map(|(a, b)| Request::WriteMultipleCoils(a, Cow::Owned(b))),
        (any::<u16>(), prop::collection::vec(any::<u16>(), 1..16))
            .prop_map(|(a, w)| Request::WriteMultipleRegisters(a, Cow::Owned(w))),
        (any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(a, and, or)| Request::MaskWriteRegister(a, and, or)),
    ]
}

/// The answer a device gives to `request` (`seed` fills the data of reads), CRC included, and the
/// response it stands for; with `exception`, an exception answer with that code.
fn answer(unit: u8, request: &Request<'_>, seed: &[u8], exception: Option<u8>) -> Vec<u8> {
    let fc = function(request);
    if let Some(code) = exception {
        let mut f = vec![unit, fc | 0x80, code];
        push_crc(&mut f);
        return f;
    }
    let mut f = vec![unit, fc];
    let data = |n: usize| (0..n).map(|i| seed.get(i % seed.len().max(1)).copied().unwrap_or(0)).collect::<Vec<u8>>();
    let counted = |f: &mut Vec<u8>, n: usize| {
        f.push(n as u8);
        f.extend(data(n));
    };
    let be = |f: &mut Vec<u8>, words: &[u16]| words.iter().for_each(|w| f.extend_from_slice(&w.to_be_bytes()));
    match request {
        Request::ReadCoils(_, q) | Request::ReadDiscreteInputs(_, q) => counted(&mut f, usize::from(*q).div_ceil(8)),
        Request::ReadHoldingRegisters(_, q) | Request::ReadInputRegisters(_, q) => counted(&mut f, usize::from(*q) * 2),
        Request::WriteSingleCoil(a, on) => be(&mut f, &[*a, if *on { 0xFF00 } else { 0 }]),
        Request::WriteSingleRegister(a, w) => be(&mut f, &[*a, *w]),
        Request::WriteMultipleCoils(a, b) => be(&mut f, &[*a, b.len() as u16]),
        Request::WriteMultipleRegisters(a, w) => be(&mut f, &[*a, w.len() as u16]),
        Request::MaskWriteRegister(a, and, or) => be(&mut f, &[*a, *and, *or]),
        _ => {}
    }
    push_crc(&mut f);
    f
}

/// What an accepted answer may hold: exactly the quantity asked (bits, registers), or the echo
/// of the request.
fn fits(request: &Request<'_>, response: &Response) -> bool {
    match (request, response) {
        (Request::ReadCoils(_, q), Response::ReadCoils(b))
        | (Request::ReadDiscreteInputs(_, q), Response::ReadDiscreteInputs(b)) => b.len() == usize::from(*q),
        (Request::ReadHoldingRegisters(_, q), Response::ReadHoldingRegisters(w))
        | (Request::ReadInputRegisters(_, q), Response::ReadInputRegisters(w)) => w.len() == usize::from(*q),
        (Request::WriteSingleCoil(a, on), Response::WriteSingleCoil(ra, ron)) => (a, on) == (ra, ron),
        (Request::WriteSingleRegister(a, w), Response::WriteSingleRegister(ra, rw)) => (a, w) == (ra, rw),
        (Request::WriteMultipleCoils(a, b), Response::WriteMultipleCoils(ra, n)) => (*a, b.len()) == (*ra, *n as usize),
        (Request::WriteMultipleRegisters(a, w), Response::WriteMultipleRegisters(ra, n)) => {
            (*a, w.len()) == (*ra, *n as usize)
        }
        (Request::MaskWriteRegister(a, x, y), Response::MaskWriteRegister(ra, rx, ry)) => (a, x, y) == (ra, rx, ry),
        _ => false,
    }
}

/// The properties of everything the framing says about `buf`.
fn check_rtu(unit: u8, request: &Request<'_>, buf: &[u8], quiet: bool) -> Result<(), TestCaseError> {
    let fc = function(request);
    if let Some(i) = answer_start(unit, fc, buf) {
        prop_assert!(buf[i] == unit && buf[i + 1] & 0x7F == fc, "start {i} in {buf:02X?}");
    }
    if let Some(n) = frame_len(buf) {
        prop_assert!((5..=MAX_FRAME + 4).contains(&n), "frame_len {n}");
        if n <= buf.len() {
            check_verdict(request, &decode(unit, request, &buf[..n]))?;
        }
    }
    check_verdict(request, &decode(unit, request, buf))?;
    match scan(unit, request, buf, quiet) {
        Scan::More => prop_assert!(!quiet, "a quiet line always gets a verdict"),
        Scan::Done(verdict, used) => {
            prop_assert!(used <= buf.len(), "used {used} of {}", buf.len());
            prop_assert!(used > 0 || buf.is_empty(), "a verdict on no bytes");
            check_verdict(request, &verdict)?;
        }
    }
    Ok(())
}

fn check_verdict(
    request: &Request<'_>,
    verdict: &Result<Result<Response, tokio_modbus::ExceptionCode>, super::rtu::FrameError>,
) -> Result<(), TestCaseError> {
    match verdict {
        Ok(Ok(response)) => prop_assert!(fits(request, response), "{request:?} answered by {response:?}"),
        Ok(Err(_)) => {}
        // An error's text reaches the tags' reasons and the log.
        Err(e) => prop_assert!(!e.to_string().chars().any(crate::sanitize::is_unsafe), "{e}"),
    }
    Ok(())
}

crate::fuzz_target!(
    rtu_random_buffers,
    (any::<u8>(), request(), prop::collection::vec(any::<u8>(), 0..300), any::<bool>(), any::<bool>()),
    |(unit, request, mut buf, lead, quiet): (u8, Request<'static>, Vec<u8>, bool, bool)| {
        // Half of them start like an answer and carry a valid CRC, to get past the first checks.
        if lead && buf.len() >= 2 {
            buf[0] = unit;
            buf[1] = function(&request) | (buf[1] & 0x80);
            push_crc(&mut buf);
        }
        check_rtu(unit, &request, &buf, quiet)
    }
);

fn answers() -> impl Strategy<Value = (u8, Request<'static>, Vec<u8>)> {
    (1u8..=247, request(), prop::collection::vec(any::<u8>(), 1..32), prop::option::weighted(0.1, 1u8..=11)).prop_map(
        |(unit, request, seed, exception)| {
            let frame = answer(unit, &request, &seed, exception);
            (unit, request, frame)
        },
    )
}

crate::fuzz_target!(
    rtu_answers_damaged,
    (answers(), prop::collection::vec(any::<u8>(), 0..6), any::<bool>()).prop_flat_map(
        |((unit, request, frame), noise, quiet)| {
            let damaged = crate::fuzzing::mutated(Just(frame.clone()));
            (Just(unit), Just(request), Just(frame), damaged, Just(noise), Just(quiet))
        }
    ),
    |(unit, request, frame, damaged, noise, quiet): (u8, Request<'static>, Vec<u8>, Vec<u8>, Vec<u8>, bool)| {
        // The undamaged answer is accepted whole, after any noise that holds no frame start.
        prop_assert!(decode(unit, &request, &frame).is_ok(), "{frame:02X?}");
        if !noise.contains(&unit) {
            let mut line = noise.clone();
            line.extend_from_slice(&frame);
            match scan(unit, &request, &line, quiet) {
                Scan::Done(Ok(_), used) => prop_assert_eq!(used, line.len()),
                other => prop_assert!(false, "{line:02X?}: {other:?}"),
            }
        }
        check_rtu(unit, &request, &damaged, quiet)?;
        let mut line = noise;
        line.extend_from_slice(&damaged);
        check_rtu(unit, &request, &line, quiet)
    }
);

#[test]
fn any_single_byte_change_of_an_answer_is_caught_by_its_crc_or_refused() {
    let request = Request::ReadHoldingRegisters(0, 3);
    let frame = answer(7, &request, &[0x12, 0x34, 0x56], None);
    for i in 0..frame.len() {
        for x in 1..=255u8 {
            let mut damaged = frame.clone();
            damaged[i] ^= x;
            assert!(!matches!(decode(7, &request, &damaged), Ok(Ok(_))), "byte {i} ^ {x:02X}: {damaged:02X?}");
        }
    }
}

// --- register codec ------------------------------------------------------------------------

/// Every Modbus data type; strings up to `max_chars` (also the write plan's tests).
pub(crate) fn data_type_up_to(max_chars: u16) -> impl Strategy<Value = DataType> {
    prop_oneof![
        Just(DataType::Bool),
        Just(DataType::U16),
        Just(DataType::I16),
        Just(DataType::U32),
        Just(DataType::I32),
        Just(DataType::U64),
        Just(DataType::I64),
        Just(DataType::F32),
        Just(DataType::F64),
        Just(DataType::Bcd16),
        Just(DataType::Bcd32),
        (0u16..=max_chars).prop_map(|chars| DataType::String { chars }),
    ]
}

fn byte_order() -> impl Strategy<Value = ByteOrder> {
    prop_oneof![Just(ByteOrder::Abcd), Just(ByteOrder::Cdab), Just(ByteOrder::Badc), Just(ByteOrder::Dcba)]
}

/// Registers: mostly the type's count, sometimes one more or fewer, or any number.
fn registers_for(ty: DataType) -> impl Strategy<Value = Vec<u16>> {
    let n = usize::from(ty.registers());
    prop_oneof![
        6 => prop::collection::vec(any::<u16>(), n),
        1 => prop::collection::vec(any::<u16>(), n.saturating_sub(1)..=n + 1),
        1 => prop::collection::vec(any::<u16>(), 0..80),
    ]
}

crate::fuzz_target!(
    codec_random_registers,
    (data_type_up_to(64), byte_order()).prop_flat_map(|(ty, order)| (Just(ty), Just(order), registers_for(ty))),
    |(ty, order, regs): (DataType, ByteOrder, Vec<u16>)| {
        let decoded = decode_registers(ty, order, &regs);
        if regs.len() != usize::from(ty.registers()) {
            prop_assert!(decoded.is_err(), "{ty:?} from {} registers: {decoded:?}", regs.len());
            return Ok(());
        }
        let Ok(v) = decoded else {
            // Only BCD refuses registers of the right count (a nibble over 9).
            prop_assert!(matches!(ty, DataType::Bcd16 | DataType::Bcd32), "{ty:?} {regs:04X?}: {decoded:?}");
            return Ok(());
        };
        prop_assert!(!v.display(None).chars().any(crate::sanitize::is_unsafe), "{v:?}");
        match (ty, &v) {
            (DataType::String { chars }, Value::Text(t)) => {
                prop_assert!(t.chars().count() <= usize::from(chars), "{t:?} longer than {chars}");
                prop_assert!(!t.contains('\0') && !t.ends_with(' '), "{t:?}");
            }
            (DataType::Bcd16, Value::UInt(u)) => prop_assert!(*u <= 9_999),
            (DataType::Bcd32, Value::UInt(u)) => prop_assert!(*u <= 99_999_999),
            (DataType::F32 | DataType::F64, Value::Float(f)) => {
                // NaN and infinities are passed on as they came (the tag shows them); a finite
                // value goes back to the same registers.
                if f.is_finite() {
                    prop_assert_eq!(encode_registers(ty, order, &v), Ok(regs.clone()));
                } else {
                    prop_assert!(encode_registers(ty, order, &v).is_err(), "{v:?} encodes");
                }
            }
            (DataType::Bool, Value::Bool(b)) => prop_assert_eq!(*b, regs[0] != 0),
            (DataType::U16 | DataType::U32 | DataType::U64, Value::UInt(_))
            | (DataType::I16 | DataType::I32 | DataType::I64, Value::Int(_)) => {
                prop_assert_eq!(encode_registers(ty, order, &v), Ok(regs.clone()));
            }
            other => prop_assert!(false, "{:?} gave {:?}", other.0, other.1),
        }
        Ok(())
    }
);

/// A valid value of `ty`: anything it can hold, of the variant it decodes to.
fn valid_value(ty: DataType) -> BoxedStrategy<Value> {
    match ty {
        DataType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        DataType::U16 => any::<u16>().prop_map(|x| Value::UInt(x.into())).boxed(),
        DataType::I16 => any::<i16>().prop_map(|x| Value::Int(x.into())).boxed(),
        DataType::U32 => any::<u32>().prop_map(|x| Value::UInt(x.into())).boxed(),
        DataType::I32 => any::<i32>().prop_map(|x| Value::Int(x.into())).boxed(),
        DataType::U64 => any::<u64>().prop_map(Value::UInt).boxed(),
        DataType::I64 => any::<i64>().prop_map(Value::Int).boxed(),
        DataType::F32 => prop::num::f32::NORMAL
            .prop_union(prop::num::f32::SUBNORMAL | prop::num::f32::ZERO)
            .prop_map(|x| Value::Float(x.into()))
            .boxed(),
        DataType::F64 => {
            (prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO).prop_map(Value::Float).boxed()
        }
        DataType::Bcd16 => (0u64..=9_999).prop_map(Value::UInt).boxed(),
        DataType::Bcd32 => (0u64..=99_999_999).prop_map(Value::UInt).boxed(),
        // Latin-1 without NUL, and no trailing space (decoding trims them).
        DataType::String { chars } => prop::collection::vec(1u8..=255, 0..=usize::from(chars))
            .prop_map(|b| Value::Text(b.into_iter().map(char::from).collect::<String>().trim_end().to_string()))
            .boxed(),
    }
}

crate::fuzz_target!(
    codec_round_trip,
    (data_type_up_to(64), byte_order()).prop_flat_map(|(ty, order)| (Just(ty), Just(order), valid_value(ty))),
    |(ty, order, v): (DataType, ByteOrder, Value)| {
        let regs = encode_registers(ty, order, &v).map_err(|e| TestCaseError::fail(format!("{v:?} as {ty:?}: {e}")))?;
        prop_assert_eq!(regs.len(), usize::from(ty.registers()));
        prop_assert_eq!(decode_registers(ty, order, &regs), Ok(v));
        Ok(())
    }
);

fn point() -> impl Strategy<Value = ModbusPoint> {
    let table = prop_oneof![Just(Table::Coil), Just(Table::Discrete), Just(Table::Input), Just(Table::Holding)];
    let f = prop_oneof![any::<f64>(), -1e6f64..1e6, Just(0.0), Just(f64::NAN), Just(f64::INFINITY)];
    let scale = prop::option::of(
        (f.clone(), f.clone(), f.clone(), f).prop_map(|(a, b, c, d)| Scale { raw: [a, b], eu: [c, d] }),
    );
    (any::<u8>(), table, any::<u16>(), data_type_up_to(64), byte_order(), prop::option::weighted(0.2, 0u8..=20), scale)
        .prop_map(|(unit, table, address, ty, order, bit, scale)| ModbusPoint {
            unit,
            table,
            address,
            ty,
            order,
            bit,
            scale,
        })
}

crate::fuzz_target!(
    codec_points,
    (point(), prop::collection::vec(any::<u16>(), 0..8), prop::collection::vec(any::<bool>(), 0..3)),
    |(p, regs, bits): (ModbusPoint, Vec<u16>, Vec<bool>)| {
        match decode_point(&p, &regs) {
            Ok(v) => {
                prop_assert!(!p.table.is_bits(), "a bit table decoded as registers");
                prop_assert_eq!(regs.len(), usize::from(if p.bit.is_some() { 1 } else { p.ty.registers() }));
                if let Some(bit) = p.bit {
                    prop_assert!(bit < 16);
                    prop_assert_eq!(v, Value::Bool(regs[0] & (1 << bit) != 0));
                } else if p.scale.is_some() {
                    prop_assert!(matches!(v, Value::Float(_)), "{v:?}");
                }
            }
            Err(e) => prop_assert!(!e.to_string().chars().any(crate::sanitize::is_unsafe), "{e}"),
        }
        match decode_bit(&bits) {
            Ok(Value::Bool(b)) => prop_assert_eq!(&bits[..], &[b][..]),
            Ok(other) => prop_assert!(false, "{other:?}"),
            Err(_) => prop_assert_ne!(bits.len(), 1),
        }
        Ok(())
    }
);
