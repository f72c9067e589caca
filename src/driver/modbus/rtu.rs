//! Modbus RTU framing, pure: the ADU is the unit id, the PDU and a CRC-16 (low byte first), as in
//! "Modbus over Serial Line, Specification and Implementation Guide V1.02" and the application
//! protocol specification V1.1b3.
//!
//! The client frames RTU itself rather than through tokio-modbus's RTU codec: that codec drops a
//! byte and tries again when a CRC does not match, so a damaged answer reads as a timeout. Here
//! every bad answer has a name ([`FrameError`]) that reaches the tags it concerns.

use std::fmt;
use std::time::Duration;

use tokio_modbus::{ExceptionCode, Request, Response};

/// The longest RTU frame: 256 bytes (unit, 253-byte PDU, CRC).
pub const MAX_FRAME: usize = 256;

/// Why an answer was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The CRC at the end of the frame does not match its bytes.
    Crc { received: u16, computed: u16 },
    /// A well-formed frame from another unit.
    WrongUnit { asked: u8, answered: u8 },
    /// A frame from the right unit answering another function.
    WrongFunction { asked: u8, answered: u8 },
    /// The line went quiet (or the time ran out) before the frame was complete.
    Truncated { received: usize, expected: usize },
    /// Bytes that do not make an answer.
    Noise { received: usize },
    /// A frame with a valid CRC whose content does not fit the request.
    Malformed(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Crc { received, computed } => {
                write!(f, "CRC error (frame says {received:04X}, bytes give {computed:04X})")
            }
            FrameError::WrongUnit { asked, answered } => write!(f, "answer from unit {answered}, asked unit {asked}"),
            FrameError::WrongFunction { asked, answered } => {
                write!(f, "answer to function {answered:02X}, asked function {asked:02X}")
            }
            FrameError::Truncated { received, expected } => {
                write!(f, "truncated frame ({received} of {expected} bytes)")
            }
            FrameError::Noise { received } => write!(f, "noise on the line ({received} bytes, no frame)"),
            FrameError::Malformed(m) => write!(f, "malformed answer: {m}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
        }
    }
    crc
}

/// Appends the CRC of `frame`, low byte first.
pub fn push_crc(frame: &mut Vec<u8>) {
    let crc = crc16(frame);
    frame.extend_from_slice(&crc.to_le_bytes());
}

/// Time on the wire of one character: start bit, data bits, parity bit, stop bits.
pub fn char_time(baud: u32, bits_per_char: u32) -> Duration {
    Duration::from_nanos(1_000_000_000 * u64::from(bits_per_char) / u64::from(baud.max(1)))
}

/// The silence that ends a frame (3.5 character times; a fixed 1.75 ms above 19200 baud, as the
/// serial line specification recommends). 11 bits a character, as the specification counts.
pub fn frame_silence(baud: u32) -> Duration {
    if baud > 19_200 { Duration::from_micros(1750) } else { char_time(baud, 11) * 7 / 2 }
}

/// The function code of a request.
pub fn function(request: &Request<'_>) -> u8 {
    request.function_code().value()
}

/// The ADU of a request to `unit`, CRC included. `None` for requests the console never sends.
pub fn encode(unit: u8, request: &Request<'_>) -> Option<Vec<u8>> {
    let mut f = vec![unit, function(request)];
    let u16s = |f: &mut Vec<u8>, v: &[u16]| v.iter().for_each(|w| f.extend_from_slice(&w.to_be_bytes()));
    match request {
        Request::ReadCoils(a, q)
        | Request::ReadDiscreteInputs(a, q)
        | Request::ReadHoldingRegisters(a, q)
        | Request::ReadInputRegisters(a, q) => u16s(&mut f, &[*a, *q]),
        Request::WriteSingleCoil(a, on) => u16s(&mut f, &[*a, if *on { 0xFF00 } else { 0 }]),
        Request::WriteSingleRegister(a, w) => u16s(&mut f, &[*a, *w]),
        Request::WriteMultipleCoils(a, bits) => {
            let packed = pack_bits(bits);
            u16s(&mut f, &[*a, u16::try_from(bits.len()).ok()?]);
            f.push(u8::try_from(packed.len()).ok()?);
            f.extend_from_slice(&packed);
        }
        Request::WriteMultipleRegisters(a, words) => {
            u16s(&mut f, &[*a, u16::try_from(words.len()).ok()?]);
            f.push(u8::try_from(words.len() * 2).ok()?);
            u16s(&mut f, words);
        }
        Request::MaskWriteRegister(a, and, or) => u16s(&mut f, &[*a, *and, *or]),
        Request::ReadWriteMultipleRegisters(ra, rq, wa, words) => {
            u16s(&mut f, &[*ra, *rq, *wa, u16::try_from(words.len()).ok()?]);
            f.push(u8::try_from(words.len() * 2).ok()?);
            u16s(&mut f, words);
        }
        Request::ReportServerId | Request::ReadDeviceIdentification(..) | Request::Custom(..) => return None,
    }
    if f.len() + 2 > MAX_FRAME {
        return None;
    }
    push_crc(&mut f);
    Some(f)
}

fn pack_bits(bits: &[bool]) -> Vec<u8> {
    bits.chunks(8).map(|c| c.iter().enumerate().fold(0u8, |b, (i, &on)| b | (u8::from(on) << i))).collect()
}

/// The whole length of the frame that starts `buf`, from its function code (and byte count), or
/// `None` while too few bytes are in to tell, or when the function code is not one a response
/// to the console's requests can have.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let fc = *buf.get(1)?;
    match fc {
        _ if fc & 0x80 != 0 => Some(5),
        0x01..=0x04 | 0x17 => buf.get(2).map(|&n| 5 + usize::from(n)),
        0x05 | 0x06 | 0x0F | 0x10 => Some(8),
        0x16 => Some(10),
        _ => None,
    }
}

/// Judges a complete frame (exactly [`frame_len`] bytes) received after `request` to `unit`.
pub fn decode(unit: u8, request: &Request<'_>, frame: &[u8]) -> Result<Result<Response, ExceptionCode>, FrameError> {
    let Some(body_len) = frame.len().checked_sub(2).filter(|&n| n >= 2) else {
        return Err(FrameError::Truncated { received: frame.len(), expected: 5 });
    };
    let (body, crc) = frame.split_at(body_len);
    let received = u16::from_le_bytes([crc[0], crc[1]]);
    let computed = crc16(body);
    if received != computed {
        return Err(FrameError::Crc { received, computed });
    }
    if body[0] != unit {
        return Err(FrameError::WrongUnit { asked: unit, answered: body[0] });
    }
    let asked = function(request);
    let answered = body[1];
    if answered == asked | 0x80 {
        return match body.get(2) {
            Some(&code) if body.len() == 3 => Ok(Err(ExceptionCode::new(code))),
            _ => Err(FrameError::Malformed(format!("exception frame of {} bytes", frame.len()))),
        };
    }
    if answered != asked {
        return Err(FrameError::WrongFunction { asked, answered });
    }
    parse(request, &body[2..]).map(Ok).map_err(FrameError::Malformed)
}

/// The response PDU's data (after the function code) read against the request.
fn parse(request: &Request<'_>, data: &[u8]) -> Result<Response, String> {
    let be = |i: usize| data.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let counted = |want: usize| -> Result<&[u8], String> {
        let n = usize::from(*data.first().ok_or("no byte count")?);
        let bytes = data.get(1..).unwrap_or_default();
        if n != bytes.len() {
            return Err(format!("byte count {n} but {} bytes follow", bytes.len()));
        }
        if n != want {
            return Err(format!("{n} data bytes, {want} expected"));
        }
        Ok(bytes)
    };
    let words = |b: &[u8]| b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect::<Vec<u16>>();
    let bits = |b: &[u8], q: u16| (0..usize::from(q)).map(|i| b[i / 8] & (1 << (i % 8)) != 0).collect::<Vec<bool>>();
    let echo = |want: &[u16]| -> Result<(), String> {
        let got: Vec<u16> = (0..want.len()).filter_map(|i| be(i * 2)).collect();
        if data.len() == want.len() * 2 && got == want {
            Ok(())
        } else {
            Err(format!("echo {got:?} differs from the request {want:?}"))
        }
    };
    Ok(match request {
        Request::ReadCoils(_, q) => Response::ReadCoils(bits(counted(usize::from(*q).div_ceil(8))?, *q)),
        Request::ReadDiscreteInputs(_, q) => {
            Response::ReadDiscreteInputs(bits(counted(usize::from(*q).div_ceil(8))?, *q))
        }
        Request::ReadHoldingRegisters(_, q) => Response::ReadHoldingRegisters(words(counted(usize::from(*q) * 2)?)),
        Request::ReadInputRegisters(_, q) => Response::ReadInputRegisters(words(counted(usize::from(*q) * 2)?)),
        Request::ReadWriteMultipleRegisters(_, q, _, _) => {
            Response::ReadWriteMultipleRegisters(words(counted(usize::from(*q) * 2)?))
        }
        Request::WriteSingleCoil(a, on) => {
            echo(&[*a, if *on { 0xFF00 } else { 0 }])?;
            Response::WriteSingleCoil(*a, *on)
        }
        Request::WriteSingleRegister(a, w) => {
            echo(&[*a, *w])?;
            Response::WriteSingleRegister(*a, *w)
        }
        Request::WriteMultipleCoils(a, b) => {
            let n = u16::try_from(b.len()).map_err(|_| "too many coils")?;
            echo(&[*a, n])?;
            Response::WriteMultipleCoils(*a, n)
        }
        Request::WriteMultipleRegisters(a, w) => {
            let n = u16::try_from(w.len()).map_err(|_| "too many registers")?;
            echo(&[*a, n])?;
            Response::WriteMultipleRegisters(*a, n)
        }
        Request::MaskWriteRegister(a, and, or) => {
            echo(&[*a, *and, *or])?;
            Response::MaskWriteRegister(*a, *and, *or)
        }
        Request::ReportServerId | Request::ReadDeviceIdentification(..) | Request::Custom(..) => {
            return Err("a request the console does not send".into());
        }
    })
}

/// What to make of the bytes received so far after `request` to `unit`.
#[derive(Debug, PartialEq)]
pub enum Scan {
    /// Not enough bytes yet.
    More,
    /// An answer (or a named reason to reject it) and how many bytes it used.
    Done(Result<Result<Response, ExceptionCode>, FrameError>, usize),
}

/// Looks for the answer in `buf`. Bytes before a byte that can start the answer (the unit id
/// followed by the function code or its exception code) are noise and skipped: the CRC decides
/// whether what follows is the answer. A frame of another unit with a valid CRC is named as
/// such. `quiet` says the line has gone quiet (or the time is up): an incomplete frame is then
/// truncated, and bytes that never made a frame are noise.
pub fn scan(unit: u8, request: &Request<'_>, buf: &[u8], quiet: bool) -> Scan {
    let fc = function(request);
    // A frame from offset 0, whoever sent it: a complete one is judged as it stands.
    if let Some(len) = frame_len(buf)
        && buf.len() >= len
    {
        let judged = decode(unit, request, &buf[..len]);
        if !matches!(judged, Err(FrameError::Crc { .. })) || buf[0] == unit && (buf[1] & 0x7F) == fc {
            return Scan::Done(judged, len);
        }
    }
    // Otherwise the answer may follow some noise.
    let start = (0..buf.len()).find(|&i| buf[i] == unit && buf.get(i + 1).is_none_or(|&f| f == fc || f == fc | 0x80));
    if let Some(i) = start.filter(|&i| i > 0)
        && let Some(len) = frame_len(&buf[i..])
        && buf.len() >= i + len
        && let judged @ Ok(_) = decode(unit, request, &buf[i..i + len])
    {
        return Scan::Done(judged, i + len);
    }
    if !quiet {
        return Scan::More;
    }
    match (start, frame_len(buf)) {
        (Some(i), _) => {
            let expected = frame_len(&buf[i..]).unwrap_or(5);
            if i == 0 {
                Scan::Done(Err(FrameError::Truncated { received: buf.len(), expected }), buf.len())
            } else {
                Scan::Done(Err(FrameError::Noise { received: buf.len() }), buf.len())
            }
        }
        _ => Scan::Done(Err(FrameError::Noise { received: buf.len() }), buf.len()),
    }
}
