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

/// CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF), a byte at a time from a table:
/// the scan of a noisy line checks the CRC of every possible start of an answer.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF, |crc, &b| (crc >> 8) ^ CRC_TABLE[usize::from((crc as u8) ^ b)])
}

/// The CRC of each byte value shifted through the register eight times.
const CRC_TABLE: [u16; 256] = crc_table();

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
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

/// Where the answer to function `fc` of `unit` may begin in `buf`: the unit id followed by the
/// function code or its exception code.
pub fn answer_start(unit: u8, fc: u8, buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w[0] == unit && w[1] & 0x7F == fc)
}

/// Looks for the answer in `buf`. Any byte that can start the answer (the unit id followed by
/// the function code or its exception code) is tried, and the CRC decides: bytes before the
/// answer are noise (an RS-485 adapter echoing the request, a glitch) and skipped. A whole frame
/// of another unit is skipped too: the master keeps waiting for its own answer (serial line
/// specification 2.4.1) and names the other unit only if nothing else comes. A frame of this
/// unit with a valid CRC that is not the answer (another function, a byte count that does not
/// fit) is named at once. A damaged frame is only judged once the line is quiet, since its own
/// length bytes may be what was damaged. `quiet` says the line has gone quiet (or the time is
/// up): an incomplete frame is then truncated, and bytes that never made a frame are noise.
pub fn scan(unit: u8, request: &Request<'_>, buf: &[u8], quiet: bool) -> Scan {
    let fc = function(request);
    let complete = |at: usize| frame_len(&buf[at..]).map(|len| at + len).filter(|&end| end <= buf.len());
    // A whole frame at the start with a good CRC is what the line carried, answer or not.
    if let Some(end) = complete(0) {
        let judged = decode(unit, request, &buf[..end]);
        match judged {
            Err(FrameError::Crc { .. }) => {}
            Err(FrameError::WrongUnit { .. }) => {
                return match &buf[end..] {
                    [] if quiet => Scan::Done(judged, end),
                    [] => Scan::More,
                    rest => match scan(unit, request, rest, quiet) {
                        Scan::Done(v, n) => Scan::Done(v, end + n),
                        Scan::More => Scan::More,
                    },
                };
            }
            _ => return Scan::Done(judged, end),
        }
    }
    let starts = || (0..buf.len()).filter(|&i| buf[i] == unit && buf.get(i + 1).is_none_or(|&f| f & 0x7F == fc));
    for i in starts().filter(|&i| i > 0) {
        if let Some(end) = complete(i)
            && let judged @ Ok(_) = decode(unit, request, &buf[i..end])
        {
            return Scan::Done(judged, end);
        }
    }
    if !quiet {
        return Scan::More;
    }
    let received = buf.len();
    if starts().next() != Some(0) {
        return Scan::Done(Err(FrameError::Noise { received }), received);
    }
    match complete(0) {
        Some(end) => Scan::Done(decode(unit, request, &buf[..end]), received),
        None => {
            let expected = frame_len(buf).unwrap_or(5);
            Scan::Done(Err(FrameError::Truncated { received, expected }), received)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::*;

    /// `hex` ("01 03 …") as bytes.
    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    /// `bytes` followed by their CRC, as a device sends them.
    fn adu(bytes: &[u8]) -> Vec<u8> {
        let mut f = bytes.to_vec();
        push_crc(&mut f);
        f
    }

    /// 0xCD, 0x01 packed LSB first: the ten coils of the specification's FC 0F example.
    const TEN_COILS: [bool; 10] = [true, false, true, true, false, false, true, true, true, false];

    // --- CRC ---

    #[test]
    fn crc16_matches_known_vectors() {
        assert_eq!(crc16(&hex("01 03 00 00 00 0A")), 0xCDC5);
        assert_eq!(crc16(&hex("11 03 00 6B 00 03")), 0x8776);
        assert_eq!(crc16(&hex("11 01 00 13 00 25")), 0x840E);
        assert_eq!(crc16(&[]), 0xFFFF, "the initial value, nothing shifted in");
    }

    #[test]
    fn push_crc_appends_the_low_byte_first() {
        let mut f = hex("01 03 00 00 00 0A");
        push_crc(&mut f);
        assert_eq!(f, hex("01 03 00 00 00 0A C5 CD"));
        let mut g = hex("11 03 00 6B 00 03");
        push_crc(&mut g);
        assert_eq!(g, hex("11 03 00 6B 00 03 76 87"));
        // CRC-16/MODBUS has no final XOR: a frame with its CRC appended checks to zero.
        assert_eq!(crc16(&f), 0);
        assert_eq!(crc16(&g), 0);
    }

    // --- encode ---

    #[test]
    fn encode_read_requests() {
        let cases = [
            (Request::ReadCoils(0x13, 0x25), "11 01 00 13 00 25 0E 84"),
            (Request::ReadDiscreteInputs(0xC4, 0x16), "11 02 00 C4 00 16 BA A9"),
            (Request::ReadHoldingRegisters(0x6B, 3), "11 03 00 6B 00 03 76 87"),
            (Request::ReadInputRegisters(0x08, 1), "11 04 00 08 00 01 B2 98"),
        ];
        for (req, want) in cases {
            assert_eq!(encode(0x11, &req), Some(hex(want)), "{req:?}");
        }
        assert_eq!(encode(1, &Request::ReadHoldingRegisters(0, 10)), Some(hex("01 03 00 00 00 0A C5 CD")));
    }

    #[test]
    fn encode_write_single_coil_on_and_off() {
        assert_eq!(encode(0x11, &Request::WriteSingleCoil(0xAC, true)), Some(hex("11 05 00 AC FF 00 4E 8B")));
        assert_eq!(encode(0x11, &Request::WriteSingleCoil(0xAC, false)), Some(hex("11 05 00 AC 00 00 0F 7B")));
    }

    #[test]
    fn encode_write_single_register() {
        assert_eq!(encode(0x11, &Request::WriteSingleRegister(1, 3)), Some(hex("11 06 00 01 00 03 9A 9B")));
    }

    #[test]
    fn encode_write_multiple_coils_packs_lsb_first() {
        let req = Request::WriteMultipleCoils(0x13, Cow::Borrowed(&TEN_COILS));
        assert_eq!(encode(0x11, &req), Some(hex("11 0F 00 13 00 0A 02 CD 01 BF 0B")));
        // Eight coils fill one byte; a ninth starts a second one at its bit 0.
        let eight = encode(1, &Request::WriteMultipleCoils(0, Cow::Owned(vec![true; 8]))).unwrap();
        assert_eq!(eight[..8], hex("01 0F 00 00 00 08 01 FF"));
        let nine = encode(1, &Request::WriteMultipleCoils(0, Cow::Owned(vec![true; 9]))).unwrap();
        assert_eq!(nine[..9], hex("01 0F 00 00 00 09 02 FF 01"));
        let one = encode(1, &Request::WriteMultipleCoils(0, Cow::Owned(vec![false, true]))).unwrap();
        assert_eq!(one[..8], hex("01 0F 00 00 00 02 01 02"));
    }

    #[test]
    fn encode_write_multiple_registers() {
        let req = Request::WriteMultipleRegisters(1, Cow::Owned(vec![0x000A, 0x0102]));
        assert_eq!(encode(0x11, &req), Some(hex("11 10 00 01 00 02 04 00 0A 01 02 C6 F0")));
    }

    #[test]
    fn encode_mask_write_register() {
        let req = Request::MaskWriteRegister(4, 0x00F2, 0x0025);
        assert_eq!(encode(0x11, &req), Some(hex("11 16 00 04 00 F2 00 25 66 E2")));
    }

    #[test]
    fn encode_read_write_multiple_registers() {
        let req = Request::ReadWriteMultipleRegisters(3, 6, 0x0E, Cow::Owned(vec![0x00FF; 3]));
        assert_eq!(encode(0x11, &req), Some(hex("11 17 00 03 00 06 00 0E 00 03 06 00 FF 00 FF 00 FF 4B 54")));
    }

    #[test]
    fn encode_refuses_requests_the_console_does_not_send() {
        assert_eq!(encode(1, &Request::ReportServerId), None);
        assert_eq!(encode(1, &Request::Custom(0x41, Cow::Borrowed(&[1, 2, 3]))), None);
    }

    #[test]
    fn encode_refuses_frames_longer_than_256_bytes() {
        // 123 registers is the specification's limit for FC 10: 255 bytes with the CRC.
        let most = encode(1, &Request::WriteMultipleRegisters(0, Cow::Owned(vec![7; 123]))).unwrap();
        assert_eq!(most.len(), 255);
        assert_eq!(most[6], 246);
        assert_eq!(encode(1, &Request::WriteMultipleRegisters(0, Cow::Owned(vec![7; 124]))), None);
        assert_eq!(encode(1, &Request::WriteMultipleCoils(0, Cow::Owned(vec![true; 256 * 8]))), None);
    }

    #[test]
    fn function_is_the_request_function_code() {
        assert_eq!(function(&Request::ReadCoils(0, 1)), 0x01);
        assert_eq!(function(&Request::ReadHoldingRegisters(0, 1)), 0x03);
        assert_eq!(function(&Request::MaskWriteRegister(0, 0, 0)), 0x16);
        assert_eq!(function(&Request::ReadWriteMultipleRegisters(0, 1, 0, Cow::Owned(vec![1]))), 0x17);
    }

    // --- frame_len ---

    #[test]
    fn frame_len_of_an_exception_is_five() {
        for fc in [0x81, 0x83, 0x86, 0x90, 0x96, 0x97] {
            assert_eq!(frame_len(&[0x11, fc]), Some(5), "{fc:02X}");
        }
    }

    #[test]
    fn frame_len_of_a_read_follows_its_byte_count() {
        assert_eq!(frame_len(&hex("11 01 05")), Some(10));
        assert_eq!(frame_len(&hex("11 02 03")), Some(8));
        assert_eq!(frame_len(&hex("11 03 06 AE")), Some(11));
        assert_eq!(frame_len(&hex("11 04 02")), Some(7));
        assert_eq!(frame_len(&hex("11 17 0C")), Some(17));
        assert_eq!(frame_len(&hex("11 03 00")), Some(5));
        assert_eq!(frame_len(&hex("11 03 FF")), Some(260));
        // The byte count is not in yet.
        assert_eq!(frame_len(&hex("11 03")), None);
        assert_eq!(frame_len(&hex("11 17")), None);
    }

    #[test]
    fn frame_len_of_echo_and_mask_writes_is_fixed() {
        for fc in [0x05, 0x06, 0x0F, 0x10] {
            assert_eq!(frame_len(&[0x11, fc]), Some(8), "{fc:02X}");
        }
        assert_eq!(frame_len(&[0x11, 0x16]), Some(10));
    }

    #[test]
    fn frame_len_of_unknown_functions_and_short_buffers_is_none() {
        for fc in [0x00, 0x07, 0x08, 0x11, 0x2B, 0x41, 0x7F] {
            assert_eq!(frame_len(&[0x11, fc, 0x02, 0x00, 0x00]), None, "{fc:02X}");
        }
        assert_eq!(frame_len(&[]), None);
        assert_eq!(frame_len(&[0x11]), None);
    }

    // --- decode ---

    #[test]
    fn decode_reads() {
        let regs = adu(&hex("11 03 06 AE 41 56 52 43 40"));
        assert_eq!(regs[9..], hex("49 AD"));
        assert_eq!(
            decode(0x11, &Request::ReadHoldingRegisters(0x6B, 3), &regs),
            Ok(Ok(Response::ReadHoldingRegisters(vec![0xAE41, 0x5652, 0x4340])))
        );
        assert_eq!(
            decode(0x11, &Request::ReadInputRegisters(8, 1), &adu(&hex("11 04 02 00 0A"))),
            Ok(Ok(Response::ReadInputRegisters(vec![10])))
        );
        assert_eq!(
            decode(0x11, &Request::ReadCoils(0, 10), &adu(&hex("11 01 02 CD 01"))),
            Ok(Ok(Response::ReadCoils(TEN_COILS.to_vec())))
        );
        assert_eq!(
            decode(0x11, &Request::ReadDiscreteInputs(0, 3), &adu(&hex("11 02 01 05"))),
            Ok(Ok(Response::ReadDiscreteInputs(vec![true, false, true])))
        );
        assert_eq!(
            decode(
                0x11,
                &Request::ReadWriteMultipleRegisters(3, 2, 0x0E, Cow::Owned(vec![1])),
                &adu(&hex("11 17 04 00 FE 0A CD"))
            ),
            Ok(Ok(Response::ReadWriteMultipleRegisters(vec![0x00FE, 0x0ACD])))
        );
    }

    #[test]
    fn decode_of_a_zero_quantity_read_is_empty() {
        assert_eq!(
            decode(1, &Request::ReadHoldingRegisters(0, 0), &adu(&hex("01 03 00"))),
            Ok(Ok(Response::ReadHoldingRegisters(vec![])))
        );
    }

    #[test]
    fn decode_drops_coil_bits_beyond_the_quantity() {
        assert_eq!(
            decode(1, &Request::ReadCoils(0, 10), &adu(&hex("01 01 02 FF FF"))),
            Ok(Ok(Response::ReadCoils(vec![true; 10])))
        );
        assert_eq!(
            decode(1, &Request::ReadDiscreteInputs(0, 1), &adu(&hex("01 02 01 FE"))),
            Ok(Ok(Response::ReadDiscreteInputs(vec![false])))
        );
    }

    #[test]
    fn decode_write_echoes() {
        let unit = 0x11;
        let cases: Vec<(Request<'_>, &str, Response)> = vec![
            (Request::WriteSingleCoil(0xAC, true), "11 05 00 AC FF 00", Response::WriteSingleCoil(0xAC, true)),
            (Request::WriteSingleCoil(0xAC, false), "11 05 00 AC 00 00", Response::WriteSingleCoil(0xAC, false)),
            (Request::WriteSingleRegister(1, 3), "11 06 00 01 00 03", Response::WriteSingleRegister(1, 3)),
            (
                Request::WriteMultipleCoils(0x13, Cow::Borrowed(&TEN_COILS)),
                "11 0F 00 13 00 0A",
                Response::WriteMultipleCoils(0x13, 10),
            ),
            (
                Request::WriteMultipleRegisters(1, Cow::Owned(vec![0x000A, 0x0102])),
                "11 10 00 01 00 02",
                Response::WriteMultipleRegisters(1, 2),
            ),
            (
                Request::MaskWriteRegister(4, 0x00F2, 0x0025),
                "11 16 00 04 00 F2 00 25",
                Response::MaskWriteRegister(4, 0x00F2, 0x0025),
            ),
        ];
        for (req, answer, want) in cases {
            let frame = adu(&hex(answer));
            assert_eq!(frame_len(&frame), Some(frame.len()), "{req:?}");
            assert_eq!(decode(unit, &req, &frame), Ok(Ok(want)), "{req:?}");
        }
    }

    #[test]
    fn decode_exception_answers() {
        assert_eq!(
            decode(0x11, &Request::ReadHoldingRegisters(0, 1), &adu(&hex("11 83 02"))),
            Ok(Err(ExceptionCode::IllegalDataAddress))
        );
        assert_eq!(
            decode(0x11, &Request::WriteSingleRegister(0, 1), &adu(&hex("11 86 04"))),
            Ok(Err(ExceptionCode::ServerDeviceFailure))
        );
        assert_eq!(
            decode(0x11, &Request::ReadCoils(0, 1), &adu(&hex("11 81 01"))),
            Ok(Err(ExceptionCode::IllegalFunction))
        );
        assert_eq!(
            decode(0x11, &Request::ReadCoils(0, 1), &adu(&hex("11 81 42"))),
            Ok(Err(ExceptionCode::Custom(0x42)))
        );
        // An exception frame is five bytes; a longer one with a valid CRC is not an answer.
        assert!(matches!(
            decode(0x11, &Request::ReadHoldingRegisters(0, 1), &adu(&hex("11 83 02 00"))),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn decode_names_a_crc_mismatch_with_both_values() {
        // The right CRC sent high byte first.
        assert_eq!(
            decode(1, &Request::ReadHoldingRegisters(0, 10), &hex("01 03 00 00 00 0A CD C5")),
            Err(FrameError::Crc { received: 0xC5CD, computed: 0xCDC5 })
        );
        let good = adu(&hex("11 03 02 00 2A"));
        let mut bad = good.clone();
        bad[4] = 0x2B;
        let received = u16::from_le_bytes([good[5], good[6]]);
        let computed = crc16(&bad[..5]);
        assert_ne!(received, computed);
        assert_eq!(
            decode(0x11, &Request::ReadHoldingRegisters(0, 1), &bad),
            Err(FrameError::Crc { received, computed })
        );
        // The CRC is checked before anything else: a damaged frame from another unit is a CRC
        // error, not a wrong unit.
        let mut other = adu(&hex("12 03 02 00 2A"));
        other[6] ^= 0x01;
        assert!(matches!(decode(0x11, &Request::ReadHoldingRegisters(0, 1), &other), Err(FrameError::Crc { .. })));
    }

    #[test]
    fn decode_names_another_unit() {
        assert_eq!(
            decode(0x11, &Request::ReadHoldingRegisters(0, 1), &adu(&hex("12 03 02 00 2A"))),
            Err(FrameError::WrongUnit { asked: 0x11, answered: 0x12 })
        );
        // Even an exception from another unit.
        assert_eq!(
            decode(0x11, &Request::ReadHoldingRegisters(0, 1), &adu(&hex("01 83 02"))),
            Err(FrameError::WrongUnit { asked: 0x11, answered: 0x01 })
        );
    }

    #[test]
    fn decode_names_another_function() {
        assert_eq!(
            decode(0x11, &Request::ReadHoldingRegisters(0, 1), &adu(&hex("11 04 02 00 2A"))),
            Err(FrameError::WrongFunction { asked: 0x03, answered: 0x04 })
        );
        assert_eq!(
            decode(0x11, &Request::ReadHoldingRegisters(0, 1), &adu(&hex("11 84 02"))),
            Err(FrameError::WrongFunction { asked: 0x03, answered: 0x84 })
        );
        assert_eq!(
            decode(0x11, &Request::WriteSingleRegister(1, 3), &adu(&hex("11 10 00 01 00 03"))),
            Err(FrameError::WrongFunction { asked: 0x06, answered: 0x10 })
        );
    }

    #[test]
    fn decode_rejects_a_byte_count_that_does_not_fit_the_request() {
        let malformed = |req: Request<'_>, answer: &str| {
            let got = decode(1, &req, &adu(&hex(answer)));
            assert!(matches!(got, Err(FrameError::Malformed(_))), "{req:?} {answer}: {got:?}");
        };
        // 4 bytes for 3 registers.
        malformed(Request::ReadHoldingRegisters(0, 3), "01 03 04 00 01 00 02");
        // 8 bytes for 3 registers.
        malformed(Request::ReadInputRegisters(0, 3), "01 04 08 00 01 00 02 00 03 00 04");
        // The byte count disagrees with the bytes that follow it.
        malformed(Request::ReadHoldingRegisters(0, 3), "01 03 06 00 01 00 02");
        malformed(Request::ReadHoldingRegisters(0, 2), "01 03 04 00 01 00 02 00 03");
        // No byte count at all.
        malformed(Request::ReadHoldingRegisters(0, 1), "01 03");
        // 10 coils need 2 bytes.
        malformed(Request::ReadCoils(0, 10), "01 01 01 FF");
        malformed(Request::ReadCoils(0, 10), "01 01 03 FF FF FF");
        malformed(Request::ReadDiscreteInputs(0, 8), "01 02 02 FF FF");
        malformed(Request::ReadWriteMultipleRegisters(0, 2, 0, Cow::Owned(vec![1])), "01 17 02 00 01");
    }

    #[test]
    fn decode_rejects_a_write_echo_that_differs_from_the_request() {
        let malformed = |req: Request<'_>, answer: &str| {
            let got = decode(1, &req, &adu(&hex(answer)));
            assert!(matches!(got, Err(FrameError::Malformed(_))), "{req:?} {answer}: {got:?}");
        };
        malformed(Request::WriteSingleCoil(0xAC, true), "01 05 00 AC 00 00");
        malformed(Request::WriteSingleCoil(0xAC, false), "01 05 00 AC FF 00");
        malformed(Request::WriteSingleCoil(0xAC, true), "01 05 00 AD FF 00");
        malformed(Request::WriteSingleRegister(1, 3), "01 06 00 01 00 04");
        malformed(Request::WriteSingleRegister(1, 3), "01 06 00 02 00 03");
        malformed(Request::WriteMultipleCoils(0x13, Cow::Borrowed(&TEN_COILS)), "01 0F 00 13 00 09");
        malformed(Request::WriteMultipleRegisters(1, Cow::Owned(vec![1, 2])), "01 10 00 01 00 03");
        malformed(Request::WriteMultipleRegisters(1, Cow::Owned(vec![1, 2])), "01 10 00 00 00 02");
        malformed(Request::MaskWriteRegister(4, 0x00F2, 0x0025), "01 16 00 04 00 F2 00 26");
        // An echo with a byte too many or too few.
        malformed(Request::WriteSingleRegister(1, 3), "01 06 00 01 00 03 00");
        malformed(Request::WriteSingleRegister(1, 3), "01 06 00 01 00");
    }

    #[test]
    fn decode_of_a_frame_too_short_for_a_crc_is_truncated() {
        let req = Request::ReadHoldingRegisters(0, 1);
        assert_eq!(decode(1, &req, &[]), Err(FrameError::Truncated { received: 0, expected: 5 }));
        assert_eq!(decode(1, &req, &hex("01 03 00")), Err(FrameError::Truncated { received: 3, expected: 5 }));
    }

    #[test]
    fn decode_of_a_request_the_console_does_not_send_is_malformed() {
        assert!(matches!(
            decode(1, &Request::ReportServerId, &adu(&hex("01 11 02 01 FF"))),
            Err(FrameError::Malformed(_))
        ));
    }

    // --- scan ---

    fn regs_request() -> Request<'static> {
        Request::ReadHoldingRegisters(0x6B, 3)
    }

    fn regs_answer() -> Vec<u8> {
        adu(&hex("11 03 06 AE 41 56 52 43 40"))
    }

    fn regs_response() -> Response {
        Response::ReadHoldingRegisters(vec![0xAE41, 0x5652, 0x4340])
    }

    #[test]
    fn scan_accepts_a_whole_answer_whatever_the_quiet() {
        let f = regs_answer();
        for quiet in [false, true] {
            assert_eq!(scan(0x11, &regs_request(), &f, quiet), Scan::Done(Ok(Ok(regs_response())), f.len()));
        }
        let e = adu(&hex("11 83 02"));
        assert_eq!(scan(0x11, &regs_request(), &e, false), Scan::Done(Ok(Err(ExceptionCode::IllegalDataAddress)), 5));
    }

    #[test]
    fn scan_uses_only_the_frame_of_a_longer_buffer() {
        let mut buf = regs_answer();
        let len = buf.len();
        buf.extend_from_slice(&hex("00 FF 11"));
        assert_eq!(scan(0x11, &regs_request(), &buf, false), Scan::Done(Ok(Ok(regs_response())), len));
    }

    #[test]
    fn scan_waits_for_the_rest_of_a_partial_frame() {
        let f = regs_answer();
        assert_eq!(scan(0x11, &regs_request(), &[], false), Scan::More);
        for n in 1..f.len() {
            assert_eq!(scan(0x11, &regs_request(), &f[..n], false), Scan::More, "{n} bytes");
        }
    }

    #[test]
    fn scan_names_a_partial_frame_truncated_once_quiet() {
        let f = regs_answer();
        for n in 3..f.len() {
            assert_eq!(
                scan(0x11, &regs_request(), &f[..n], true),
                Scan::Done(Err(FrameError::Truncated { received: n, expected: f.len() }), n),
                "{n} bytes"
            );
        }
        // Before the byte count the length is not known: at least an exception's five bytes.
        for n in 1..3 {
            assert_eq!(
                scan(0x11, &regs_request(), &f[..n], true),
                Scan::Done(Err(FrameError::Truncated { received: n, expected: 5 }), n),
                "{n} bytes"
            );
        }
        let echo = adu(&hex("11 06 00 01 00 03"));
        assert_eq!(
            scan(0x11, &Request::WriteSingleRegister(1, 3), &echo[..6], true),
            Scan::Done(Err(FrameError::Truncated { received: 6, expected: 8 }), 6)
        );
    }

    #[test]
    fn scan_skips_leading_noise() {
        let f = regs_answer();
        for noise in [hex("00"), hex("FF"), hex("00 FF 55"), hex("11"), hex("03 11 04 11"), hex("FF FE FD FC FB FA F9")]
        {
            let mut buf = noise.clone();
            buf.extend_from_slice(&f);
            for quiet in [false, true] {
                assert_eq!(
                    scan(0x11, &regs_request(), &buf, quiet),
                    Scan::Done(Ok(Ok(regs_response())), noise.len() + f.len()),
                    "noise {noise:02X?}, quiet {quiet}"
                );
            }
        }
        // An exception after noise too.
        let mut buf = hex("00 00");
        buf.extend_from_slice(&adu(&hex("11 83 02")));
        assert_eq!(scan(0x11, &regs_request(), &buf, false), Scan::Done(Ok(Err(ExceptionCode::IllegalDataAddress)), 7));
    }

    #[test]
    fn scan_waits_after_noise_until_the_answer_is_complete() {
        let f = regs_answer();
        let mut buf = hex("00 FF");
        buf.extend_from_slice(&f[..5]);
        assert_eq!(scan(0x11, &regs_request(), &buf, false), Scan::More);
    }

    #[test]
    fn scan_names_garbage_noise_once_quiet() {
        let garbage = hex("00 FF 55 AA 12 34");
        assert_eq!(scan(0x11, &regs_request(), &garbage, false), Scan::More);
        assert_eq!(scan(0x11, &regs_request(), &garbage, true), Scan::Done(Err(FrameError::Noise { received: 6 }), 6));
        // Garbage that ends on the unit id could still have been an answer starting.
        let mut ends = garbage.clone();
        ends.push(0x11);
        assert_eq!(scan(0x11, &regs_request(), &ends, true), Scan::Done(Err(FrameError::Noise { received: 7 }), 7));
    }

    #[test]
    fn scan_names_a_valid_frame_of_another_unit() {
        let f = adu(&hex("12 03 06 AE 41 56 52 43 40"));
        // The master keeps waiting for its own answer; another unit is named if none comes.
        assert_eq!(scan(0x11, &regs_request(), &f, false), Scan::More);
        assert_eq!(
            scan(0x11, &regs_request(), &f, true),
            Scan::Done(Err(FrameError::WrongUnit { asked: 0x11, answered: 0x12 }), f.len())
        );
        // Another unit's frame, then the answer: the answer.
        let mut both = f.clone();
        both.extend_from_slice(&regs_answer());
        assert_eq!(scan(0x11, &regs_request(), &both, false), Scan::Done(Ok(Ok(regs_response())), both.len()));
        // Another unit's frame, then a damaged answer: the damage, once quiet.
        let mut damaged = regs_answer();
        damaged[4] ^= 1;
        let mut both = f.clone();
        both.extend_from_slice(&damaged);
        assert_eq!(scan(0x11, &regs_request(), &both, false), Scan::More);
        assert!(
            matches!(scan(0x11, &regs_request(), &both, true), Scan::Done(Err(FrameError::Crc { .. }), n) if n == both.len())
        );
    }

    #[test]
    fn scan_names_a_valid_answer_to_another_function() {
        let f = adu(&hex("11 04 06 AE 41 56 52 43 40"));
        assert_eq!(
            scan(0x11, &regs_request(), &f, false),
            Scan::Done(Err(FrameError::WrongFunction { asked: 3, answered: 4 }), f.len())
        );
    }

    #[test]
    fn scan_names_a_damaged_frame_of_the_right_unit() {
        let good = regs_answer();
        let mut bad = good.clone();
        bad[5] ^= 0x10;
        let want = FrameError::Crc { received: u16::from_le_bytes([good[9], good[10]]), computed: crc16(&bad[..9]) };
        // Judged once the line is quiet: the damage may be in its length, more may be coming.
        assert_eq!(scan(0x11, &regs_request(), &bad, false), Scan::More);
        assert_eq!(scan(0x11, &regs_request(), &bad, true), Scan::Done(Err(want), bad.len()));
        // A damaged exception of the right unit.
        let mut e = adu(&hex("11 83 02"));
        e[4] ^= 0xFF;
        assert_eq!(scan(0x11, &regs_request(), &e, false), Scan::More);
        assert!(matches!(scan(0x11, &regs_request(), &e, true), Scan::Done(Err(FrameError::Crc { .. }), 5)));
        // A good answer after a damaged start (an RS-485 adapter echoing the request, a stray
        // byte equal to the unit id) is the answer.
        let mut echo_then_answer = adu(&hex("11 03 00 6B 00 03"));
        echo_then_answer.extend_from_slice(&good);
        assert_eq!(
            scan(0x11, &regs_request(), &echo_then_answer, false),
            Scan::Done(Ok(Ok(regs_response())), echo_then_answer.len())
        );
    }

    #[test]
    fn scan_names_a_malformed_answer() {
        let f = adu(&hex("11 03 04 00 01 00 02"));
        assert!(matches!(scan(0x11, &regs_request(), &f, false), Scan::Done(Err(FrameError::Malformed(_)), 9)));
    }

    /// Noise that itself holds the unit id followed by the function code is a false start: it
    /// fails the CRC, and the later start, the answer, is still tried.
    #[test]
    fn scan_looks_past_a_false_start_in_the_noise() {
        let f = regs_answer();
        for noise in [hex("00 11 03"), hex("FF 11 03 00 00")] {
            let mut buf = noise.clone();
            buf.extend_from_slice(&f);
            assert_eq!(
                scan(0x11, &regs_request(), &buf, true),
                Scan::Done(Ok(Ok(regs_response())), noise.len() + f.len()),
                "noise {noise:02X?}"
            );
        }
    }

    // --- timing ---

    #[test]
    fn char_time_counts_every_bit() {
        assert_eq!(char_time(9600, 11), Duration::from_nanos(1_145_833));
        assert_eq!(char_time(9600, 10), Duration::from_nanos(1_041_666));
        assert_eq!(char_time(115_200, 10), Duration::from_nanos(86_805));
        // A zero baud rate does not divide by zero.
        assert_eq!(char_time(0, 11), Duration::from_secs(11));
    }

    #[test]
    fn frame_silence_is_three_and_a_half_characters_up_to_19200_baud() {
        let at_9600 = frame_silence(9600);
        assert!(
            at_9600 >= Duration::from_micros(4010) && at_9600 <= Duration::from_micros(4011),
            "3.5 × 11 bits / 9600 baud ≈ 4.01 ms, got {at_9600:?}"
        );
        assert_eq!(at_9600, char_time(9600, 11) * 7 / 2);
        let at_19200 = frame_silence(19_200);
        assert!(at_19200 > Duration::from_micros(2000) && at_19200 < Duration::from_micros(2010), "{at_19200:?}");
        assert!(frame_silence(1200) > Duration::from_millis(32));
        for baud in [19_201, 38_400, 57_600, 115_200, 1_000_000] {
            assert_eq!(frame_silence(baud), Duration::from_micros(1750), "{baud}");
        }
    }

    // --- properties ---

    fn any_request() -> impl Strategy<Value = Request<'static>> {
        prop_oneof![
            (any::<u16>(), 0u16..=2000).prop_map(|(a, q)| Request::ReadCoils(a, q)),
            (any::<u16>(), 0u16..=2000).prop_map(|(a, q)| Request::ReadDiscreteInputs(a, q)),
            (any::<u16>(), 0u16..=130).prop_map(|(a, q)| Request::ReadHoldingRegisters(a, q)),
            (any::<u16>(), 0u16..=130).prop_map(|(a, q)| Request::ReadInputRegisters(a, q)),
            (any::<u16>(), any::<bool>()).prop_map(|(a, on)| Request::WriteSingleCoil(a, on)),
            (any::<u16>(), any::<u16>()).prop_map(|(a, w)| Request::WriteSingleRegister(a, w)),
            (any::<u16>(), prop::collection::vec(any::<bool>(), 0..40))
                .prop_map(|(a, b)| Request::WriteMultipleCoils(a, Cow::Owned(b))),
            (any::<u16>(), prop::collection::vec(any::<u16>(), 0..10))
                .prop_map(|(a, w)| Request::WriteMultipleRegisters(a, Cow::Owned(w))),
            (any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(a, and, or)| Request::MaskWriteRegister(a, and, or)),
            (any::<u16>(), 0u16..=130, any::<u16>(), prop::collection::vec(any::<u16>(), 0..10))
                .prop_map(|(ra, q, wa, w)| Request::ReadWriteMultipleRegisters(ra, q, wa, Cow::Owned(w))),
        ]
    }

    /// The bit-by-bit CRC of the specification (section 6.2.2 of the serial line guide).
    fn crc16_bitwise(data: &[u8]) -> u16 {
        let mut crc: u16 = 0xFFFF;
        for &b in data {
            crc ^= u16::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
            }
        }
        crc
    }

    #[test]
    fn crc16_of_every_byte_and_pair_matches_the_bitwise_definition() {
        for a in 0..=255u8 {
            assert_eq!(crc16(&[a]), crc16_bitwise(&[a]), "{a:02X}");
            for b in 0..=255u8 {
                assert_eq!(crc16(&[a, b]), crc16_bitwise(&[a, b]), "{a:02X} {b:02X}");
            }
        }
    }

    proptest! {
        #[test]
        fn crc16_matches_the_bitwise_definition(data in prop::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(crc16(&data), crc16_bitwise(&data));
        }

        #[test]
        fn scan_and_decode_never_panic(
            unit in any::<u8>(),
            request in any_request(),
            mut bytes in prop::collection::vec(any::<u8>(), 0..600),
            lead in any::<bool>(),
            exception in any::<bool>(),
            with_crc in any::<bool>(),
            quiet in any::<bool>(),
        ) {
            // Make some buffers start like the answer and carry a valid CRC, so that the
            // checks past the CRC see arbitrary content too.
            if lead && bytes.len() >= 2 {
                bytes[0] = unit;
                bytes[1] = function(&request) | if exception { 0x80 } else { 0 };
            }
            if with_crc {
                push_crc(&mut bytes);
            }
            match scan(unit, &request, &bytes, quiet) {
                Scan::More => prop_assert!(!quiet, "a quiet line always gets a verdict"),
                Scan::Done(_, used) => prop_assert!(used <= bytes.len(), "used {} of {}", used, bytes.len()),
            }
            let _ = decode(unit, &request, &bytes);
            if let Some(n) = frame_len(&bytes).filter(|&n| n <= bytes.len()) {
                let _ = decode(unit, &request, &bytes[..n]);
            }
        }

        #[test]
        fn read_holding_registers_round_trip(
            unit in 1u8..=247,
            address in any::<u16>(),
            words in prop::collection::vec(any::<u16>(), 1..=125),
        ) {
            let quantity = u16::try_from(words.len()).unwrap();
            let request = Request::ReadHoldingRegisters(address, quantity);
            let frame = encode(unit, &request).unwrap();
            let [a_hi, a_lo] = address.to_be_bytes();
            let [q_hi, q_lo] = quantity.to_be_bytes();
            prop_assert_eq!(&frame[..6], &[unit, 0x03, a_hi, a_lo, q_hi, q_lo][..]);
            prop_assert_eq!(crc16(&frame), 0);

            let mut answer = vec![unit, 0x03, u8::try_from(words.len() * 2).unwrap()];
            words.iter().for_each(|w| answer.extend_from_slice(&w.to_be_bytes()));
            push_crc(&mut answer);
            prop_assert_eq!(frame_len(&answer), Some(answer.len()));
            let want = Response::ReadHoldingRegisters(words.clone());
            prop_assert_eq!(decode(unit, &request, &answer), Ok(Ok(want.clone())));
            prop_assert_eq!(scan(unit, &request, &answer, false), Scan::Done(Ok(Ok(want)), answer.len()));
            // Every proper prefix waits for more.
            let cut = answer.len() / 2;
            prop_assert_eq!(scan(unit, &request, &answer[..cut], false), Scan::More);
        }
    }
}
