//! Metric values to and from a Sparkplug B payload, as the specification (6.4.16) lays them out:
//! Int8/16/32 and UInt8/16/32 in `int_value`, Int64, UInt64 and DateTime in `long_value`, arrays
//! little-endian in `bytes_value`. Writing, signed integers are sign-extended to the field's
//! width; reading, integers are truncated to the declared width, so a peer that did not
//! sign-extend (`0xFF` for an Int8 of -1) reads the same as one that did (`0xFFFFFFFF`). Either
//! integer field is accepted for any integer type (some peers put UInt32 in `long_value`).

use super::proto::payload::metric::Value as Wire;

/// The datatypes of Sparkplug B (6.4.16), by their numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Int8 = 1,
    Int16 = 2,
    Int32 = 3,
    Int64 = 4,
    UInt8 = 5,
    UInt16 = 6,
    UInt32 = 7,
    UInt64 = 8,
    Float = 9,
    Double = 10,
    Boolean = 11,
    String = 12,
    DateTime = 13,
    Text = 14,
    Uuid = 15,
    Bytes = 17,
    Int8Array = 22,
    Int16Array = 23,
    Int32Array = 24,
    Int64Array = 25,
    UInt8Array = 26,
    UInt16Array = 27,
    UInt32Array = 28,
    UInt64Array = 29,
    FloatArray = 30,
    DoubleArray = 31,
    DateTimeArray = 34,
}

impl DataType {
    const ALL: [DataType; 27] = [
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float,
        DataType::Double,
        DataType::Boolean,
        DataType::String,
        DataType::DateTime,
        DataType::Text,
        DataType::Uuid,
        DataType::Bytes,
        DataType::Int8Array,
        DataType::Int16Array,
        DataType::Int32Array,
        DataType::Int64Array,
        DataType::UInt8Array,
        DataType::UInt16Array,
        DataType::UInt32Array,
        DataType::UInt64Array,
        DataType::FloatArray,
        DataType::DoubleArray,
        DataType::DateTimeArray,
    ];

    /// The datatype numbered `n`; `None` for one this console does not take (DataSet, Template,
    /// File, PropertySet, boolean and string arrays, and numbers the specification does not name).
    pub fn from_u32(n: u32) -> Option<DataType> {
        DataType::ALL.into_iter().find(|d| *d as u32 == n)
    }

    /// An array type (its value little-endian in `bytes_value`).
    fn is_array(self) -> bool {
        self as u32 >= DataType::Int8Array as u32
    }

    /// Integers: (width in bytes, signed).
    fn int(self) -> Option<(u32, bool)> {
        use DataType::*;
        Some(match self {
            Int8 | Int8Array => (1, true),
            Int16 | Int16Array => (2, true),
            Int32 | Int32Array => (4, true),
            Int64 | Int64Array => (8, true),
            UInt8 | UInt8Array => (1, false),
            UInt16 | UInt16Array => (2, false),
            UInt32 | UInt32Array => (4, false),
            UInt64 | UInt64Array | DateTime | DateTimeArray => (8, false),
            _ => return None,
        })
    }
}

/// A metric's value as this console holds it.
#[derive(Clone, Debug, PartialEq)]
pub enum SpValue {
    Int(i64),
    UInt(u64),
    Float(f32),
    Double(f64),
    Bool(bool),
    Text(String),
    /// Milliseconds since the epoch, UTC.
    DateTime(u64),
    Bytes(Vec<u8>),
    IntArray(Vec<i64>),
    UIntArray(Vec<u64>),
    FloatArray(Vec<f32>),
    DoubleArray(Vec<f64>),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("the value is not a {0:?}")]
    Mismatch(DataType),
    #[error("no value (and not marked null)")]
    Missing,
    #[error("an array of {datatype:?} of {len} bytes (not a multiple of {width})")]
    Ragged { datatype: DataType, len: usize, width: usize },
}

/// `v` truncated to `width` bytes, sign-extended when `signed`, as the i64 or u64 it stands for.
fn truncate(v: u64, width: u32, signed: bool) -> SpValue {
    let bits = width * 8;
    if bits == 64 {
        return if signed { SpValue::Int(v as i64) } else { SpValue::UInt(v) };
    }
    let masked = v & ((1u64 << bits) - 1);
    if signed {
        let shift = 64 - bits;
        SpValue::Int(((masked << shift) as i64) >> shift)
    } else {
        SpValue::UInt(masked)
    }
}

/// The value of a metric of `datatype` from its wire form.
pub fn decode(datatype: DataType, wire: Option<&Wire>) -> Result<SpValue, CodecError> {
    let wire = wire.ok_or(CodecError::Missing)?;
    let mismatch = || CodecError::Mismatch(datatype);
    if let Some((width, signed)) = datatype.int() {
        // An array is in `bytes_value` and only there; a scalar never is.
        match (datatype.is_array(), wire) {
            (true, Wire::BytesValue(b)) => return array(datatype, b, width as usize, signed),
            (true, _) | (false, Wire::BytesValue(_)) => return Err(mismatch()),
            (false, _) => {}
        }
        let v = match wire {
            Wire::IntValue(v) => u64::from(*v),
            Wire::LongValue(v) => *v,
            _ => return Err(mismatch()),
        };
        return Ok(match (datatype, truncate(v, width, signed)) {
            (DataType::DateTime, SpValue::UInt(ms)) => SpValue::DateTime(ms),
            (_, v) => v,
        });
    }
    use DataType::*;
    Ok(match (datatype, wire) {
        (Float, Wire::FloatValue(v)) => SpValue::Float(*v),
        (Double, Wire::DoubleValue(v)) => SpValue::Double(*v),
        (Double, Wire::FloatValue(v)) => SpValue::Double(f64::from(*v)),
        (Boolean, Wire::BooleanValue(v)) => SpValue::Bool(*v),
        (String | Text | Uuid, Wire::StringValue(s)) => SpValue::Text(s.clone()),
        (Bytes, Wire::BytesValue(b)) => SpValue::Bytes(b.clone()),
        (FloatArray, Wire::BytesValue(b)) => {
            SpValue::FloatArray(chunks::<4>(datatype, b)?.map(f32::from_le_bytes).collect())
        }
        (DoubleArray, Wire::BytesValue(b)) => {
            SpValue::DoubleArray(chunks::<8>(datatype, b)?.map(f64::from_le_bytes).collect())
        }
        _ => return Err(mismatch()),
    })
}

/// `b` cut into `N`-byte pieces, or why not.
fn chunks<const N: usize>(datatype: DataType, b: &[u8]) -> Result<impl Iterator<Item = [u8; N]> + '_, CodecError> {
    if !b.len().is_multiple_of(N) {
        return Err(CodecError::Ragged { datatype, len: b.len(), width: N });
    }
    Ok(b.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }))
}

fn array(datatype: DataType, b: &[u8], width: usize, signed: bool) -> Result<SpValue, CodecError> {
    if !b.len().is_multiple_of(width) {
        return Err(CodecError::Ragged { datatype, len: b.len(), width });
    }
    let words = b.chunks_exact(width).map(|c| {
        let mut a = [0u8; 8];
        a[..width].copy_from_slice(c);
        u64::from_le_bytes(a)
    });
    Ok(if signed {
        SpValue::IntArray(
            words
                .map(|w| match truncate(w, width as u32, true) {
                    SpValue::Int(i) => i,
                    _ => 0,
                })
                .collect(),
        )
    } else {
        SpValue::UIntArray(words.collect())
    })
}

/// The wire form of `value` as a metric of `datatype`; `None` when the value is not one.
pub fn encode(datatype: DataType, value: &SpValue) -> Option<Wire> {
    use DataType::*;
    let in_range =
        |i: i64, width: u32| width == 8 || (i >= -(1i64 << (width * 8 - 1)) && i < (1i64 << (width * 8 - 1)));
    let fits = |u: u64, width: u32| width == 8 || u < (1u64 << (width * 8));
    Some(match (datatype, value) {
        (Int8 | Int16 | Int32, SpValue::Int(i)) if in_range(*i, datatype.int()?.0) => {
            // Sign-extended to 32 bits.
            Wire::IntValue(*i as i32 as u32)
        }
        (Int64, SpValue::Int(i)) => Wire::LongValue(*i as u64),
        (UInt8 | UInt16 | UInt32, SpValue::UInt(u)) if fits(*u, datatype.int()?.0) => Wire::IntValue(*u as u32),
        (UInt64, SpValue::UInt(u)) | (DateTime, SpValue::DateTime(u)) => Wire::LongValue(*u),
        (Float, SpValue::Float(f)) => Wire::FloatValue(*f),
        (Double, SpValue::Double(d)) => Wire::DoubleValue(*d),
        (Boolean, SpValue::Bool(b)) => Wire::BooleanValue(*b),
        (String | Text | Uuid, SpValue::Text(s)) => Wire::StringValue(s.clone()),
        (Bytes, SpValue::Bytes(b)) => Wire::BytesValue(b.clone()),
        (Int8Array | Int16Array | Int32Array | Int64Array, SpValue::IntArray(v)) => {
            let w = datatype.int()?.0;
            if !v.iter().all(|i| in_range(*i, w)) {
                return None;
            }
            Wire::BytesValue(v.iter().flat_map(|i| i.to_le_bytes()[..w as usize].to_vec()).collect())
        }
        (UInt8Array | UInt16Array | UInt32Array | UInt64Array | DateTimeArray, SpValue::UIntArray(v)) => {
            let w = datatype.int()?.0;
            if !v.iter().all(|u| fits(*u, w)) {
                return None;
            }
            Wire::BytesValue(v.iter().flat_map(|u| u.to_le_bytes()[..w as usize].to_vec()).collect())
        }
        (FloatArray, SpValue::FloatArray(v)) => Wire::BytesValue(v.iter().flat_map(|f| f.to_le_bytes()).collect()),
        (DoubleArray, SpValue::DoubleArray(v)) => Wire::BytesValue(v.iter().flat_map(|d| d.to_le_bytes()).collect()),
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_datatype_number_reads_back_and_unknown_ones_are_none() {
        for d in DataType::ALL {
            assert_eq!(DataType::from_u32(d as u32), Some(d));
        }
        for n in [0, 16, 18, 19, 20, 21, 32, 33, 35, u32::MAX] {
            assert_eq!(DataType::from_u32(n), None, "{n}");
        }
    }

    #[test]
    fn small_negative_integers_are_sign_extended_and_read_either_way() {
        assert_eq!(encode(DataType::Int8, &SpValue::Int(-1)), Some(Wire::IntValue(0xFFFF_FFFF)));
        assert_eq!(encode(DataType::Int16, &SpValue::Int(-2)), Some(Wire::IntValue(0xFFFF_FFFE)));
        // A peer that did not sign-extend, and one that did: the same value.
        assert_eq!(decode(DataType::Int8, Some(&Wire::IntValue(0xFF))), Ok(SpValue::Int(-1)));
        assert_eq!(decode(DataType::Int8, Some(&Wire::IntValue(0xFFFF_FFFF))), Ok(SpValue::Int(-1)));
        assert_eq!(decode(DataType::Int16, Some(&Wire::IntValue(0x8000))), Ok(SpValue::Int(-32768)));
        assert_eq!(
            decode(DataType::Int32, Some(&Wire::LongValue(0xFFFF_FFFF_8000_0000))),
            Ok(SpValue::Int(i64::from(i32::MIN)))
        );
        assert_eq!(decode(DataType::UInt32, Some(&Wire::LongValue(4_000_000_000))), Ok(SpValue::UInt(4_000_000_000)));
        assert_eq!(decode(DataType::UInt8, Some(&Wire::IntValue(0x1FF))), Ok(SpValue::UInt(0xFF)), "truncated");
        assert_eq!(encode(DataType::Int8, &SpValue::Int(128)), None, "out of range is not encoded");
        assert_eq!(encode(DataType::UInt16, &SpValue::UInt(65_536)), None);
    }

    #[test]
    fn arrays_are_little_endian_and_a_ragged_one_is_an_error() {
        let v = SpValue::IntArray(vec![-1, 2, -32768]);
        let wire = encode(DataType::Int16Array, &v).expect("encoded");
        assert_eq!(wire, Wire::BytesValue(vec![0xFF, 0xFF, 2, 0, 0x00, 0x80]));
        assert_eq!(decode(DataType::Int16Array, Some(&wire)), Ok(v));
        let f = SpValue::FloatArray(vec![1.5, -0.25]);
        let wire = encode(DataType::FloatArray, &f).expect("encoded");
        assert_eq!(decode(DataType::FloatArray, Some(&wire)), Ok(f));
        let e = decode(DataType::DoubleArray, Some(&Wire::BytesValue(vec![0; 9]))).expect_err("ragged");
        assert_eq!(e, CodecError::Ragged { datatype: DataType::DoubleArray, len: 9, width: 8 });
        assert_eq!(decode(DataType::Boolean, Some(&Wire::IntValue(1))), Err(CodecError::Mismatch(DataType::Boolean)));
        assert_eq!(decode(DataType::Int8, None), Err(CodecError::Missing));
    }

    // Found by fuzzing (codec::fuzz::values): an Int8Array sent as `int_value` 0 read as the
    // scalar Int(0) (which no array datatype encodes), and an Int8 sent as `bytes_value` as an
    // array. Each is the wrong field for its datatype: a mismatch.
    #[test]
    fn an_array_in_a_scalar_field_or_a_scalar_in_bytes_is_a_mismatch() {
        assert_eq!(
            decode(DataType::Int8Array, Some(&Wire::IntValue(0))),
            Err(CodecError::Mismatch(DataType::Int8Array))
        );
        assert_eq!(
            decode(DataType::DateTimeArray, Some(&Wire::LongValue(5))),
            Err(CodecError::Mismatch(DataType::DateTimeArray))
        );
        assert_eq!(decode(DataType::Int8, Some(&Wire::BytesValue(vec![1]))), Err(CodecError::Mismatch(DataType::Int8)));
        assert_eq!(decode(DataType::UInt16Array, Some(&Wire::BytesValue(vec![1, 0]))), Ok(SpValue::UIntArray(vec![1])));
    }
}
