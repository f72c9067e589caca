//! The register map of the simulated PLC: pure functions from the plant to coils, discrete
//! inputs, input and holding registers, and writes back into the plant. No I/O.
//!
//! All addresses are 0-based protocol (PDU) addresses, as in layouts (`holding: 1`). Modicon
//! numbers are one more (`holding 1` = `40002`).
//!
//! # Rules (like a real PLC)
//!
//! - A read or write touching any address outside the mapped areas below → exception **02**
//!   (illegal data address), with no effect; a range partly outside is refused as a whole.
//! - A write to a mapped but read-only address (anything not marked RW) → exception **02** too: it
//!   is not an address that may be written. A multi-register write that includes one read-only
//!   address changes nothing.
//! - A setpoint write whose value is out of range or not finite → exception **03** (illegal data
//!   value), with no effect. Setpoint floats may be written in halves (FC06, FC22): each half is
//!   checked combined with the other half's current value.
//! - Quantities outside the Modbus limits (FC01/02 1..=2000, FC03/04 1..=125, FC15 1..=1968,
//!   FC16 1..=123, FC23 read 1..=125 / write 1..=121) → exception **03**, checked by the server
//!   before addresses.
//! - Reserved addresses inside a mapped area read 0 and are read-only.
//!
//! # Byte orders
//!
//! Named by where the most significant byte `A` lands, as in `layout::ByteOrder`: `ABCD`
//! big-endian (registers `[AB, CD]`), `CDAB` word-swapped (`[CD, AB]`), `BADC` byte-swapped
//! (`[BA, DC]`), `DCBA` little-endian (`[DC, BA]`). For 64-bit values (bytes `A..H`) the same
//! rule extends over four registers: `ABCD` `[AB, CD, EF, GH]`, `CDAB` (word order reversed)
//! `[GH, EF, CD, AB]`, `BADC` `[BA, DC, FE, HG]`, `DCBA` `[HG, FE, DC, BA]`. Strings are always
//! two characters per register, high byte first.
//!
//! # Coils (FC01 read, FC05/FC15 write) — mapped: 0..=31
//!
//! | addr   | meaning                                                              | access |
//! |--------|----------------------------------------------------------------------|--------|
//! | 0      | pump 1 run command                                                   | RW     |
//! | 1      | pump 2 run command                                                   | RW     |
//! | 2      | tank 1 outlet valve open                                             | RW     |
//! | 3      | fault reset: writing 1 clears latched pump faults; always reads 0    | RW     |
//! | 4      | e-stop pressed (test hook; mirrored on discrete 2)                   | RW     |
//! | 5      | pump 1 trip: the pump will not start (test hook)                     | RW     |
//! | 6      | pump 2 trip (test hook)                                              | RW     |
//! | 7      | reserved, 0                                                          | RO     |
//! | 8      | boiler burner run command (`RUN` of the example layout)              | RW     |
//! | 9..=15 | reserved, 0                                                          | RO     |
//! | 16..=31| scratch bits for tests, initially 0                                  | RW     |
//!
//! The e-stop drops the run commands of both pumps and the burner (coils 0, 1, 8) at the next
//! physics step.
//!
//! # Discrete inputs (FC02) — mapped: 0..=15 and 1000..=2999
//!
//! | addr        | meaning                                                   |
//! |-------------|-----------------------------------------------------------|
//! | 0           | pump 1 running (2 s after its run command)                |
//! | 1           | pump 2 running                                            |
//! | 2           | e-stop pressed (`ESTOP`)                                  |
//! | 3           | tank 1 level high (≥ 90 %)                                |
//! | 4           | tank 2 level low (≤ 10 %)                                 |
//! | 5           | burner flame on                                           |
//! | 6           | pump 1 fault (latched)                                    |
//! | 7           | pump 2 fault (latched)                                    |
//! | 8           | always 1                                                  |
//! | 9           | always 0                                                  |
//! | 10          | heartbeat: flips every simulated second                   |
//! | 11..=15     | reserved, 0                                               |
//! | 1000..=2999 | bulk, fixed: 1 where `(addr - 1000) % 3 == 0`, else 0     |
//!
//! # Input registers (FC04) — mapped: 0..=31, all read-only, live
//!
//! | addr   | type | order | meaning                                          |
//! |--------|------|-------|--------------------------------------------------|
//! | 0      | u16  |       | header pressure, bar × 100                       |
//! | 1      | i16  |       | outlet temperature, degC × 10                    |
//! | 2      | u16  |       | boiler feed flow, m³/h × 10                      |
//! | 3      | u16  |       | tank 1 level, % × 10, 0..=1000 (`LEVEL`)         |
//! | 4      | u16  |       | tank 2 level, % × 10, 0..=1000                   |
//! | 5      | u16  |       | fault word (same as holding 20)                  |
//! | 6      | u16  |       | step counter (same as holding 100)               |
//! | 7      | u16  |       | status word (same as holding 0)                  |
//! | 8–9    | f32  | ABCD  | tank 1 level, %                                  |
//! | 10–11  | f32  | ABCD  | tank 2 level, %                                  |
//! | 12–13  | f32  | ABCD  | boiler feed flow, m³/h                           |
//! | 14–15  | u32  | ABCD  | simulated uptime, s                              |
//! | 16–31  |      |       | reserved, 0                                      |
//!
//! # Holding registers (FC03 read; FC06/FC16/FC22/FC23 write) — mapped: 0..=199 (process),
//! 200..=399 (fixed test values), 500..=599 (scratch), 600..=619 except 608, 612, 613 (holes),
//! 1000..=10999 (bulk)
//!
//! Process (live):
//!
//! | addr    | type      | order | meaning                                              | access |
//! |---------|-----------|-------|------------------------------------------------------|--------|
//! | 0       | u16       |       | status word: bit 0 pump 1 running, 1 pump 2 running, 2 burner on, 3 valve open, 4 e-stop | RO |
//! | 1–2     | f32       | ABCD  | header pressure, bar (`P_101`)                       | RO     |
//! | 3–4     | f32       | CDAB  | outlet temperature, degC (`T_102`)                   | RO     |
//! | 5–6     | i32       | ABCD  | feed totaliser, litres (`FQ_103`), growing           | RO     |
//! | 7–8     | u32       | ABCD  | feed totaliser, litres (same value)                  | RO     |
//! | 9       | u16       |       | boiler feed flow, m³/h × 10                          | RO     |
//! | 10–19   | string 20 |       | `BOILER HOUSE SIM` + 4 NULs (`NAME`)                 | RO     |
//! | 20      | u16       |       | fault word, bits below (`FAULT`)                     | RO     |
//! | 21      | u16       |       | pump 1 starts                                        | RO     |
//! | 22      | u16       |       | pump 2 starts                                        | RO     |
//! | 23–29   |           |       | reserved, 0                                          | RO     |
//! | 30–31   | f32       | ABCD  | header pressure setpoint, bar, 0..=16 (initially 8)  | **RW** |
//! | 32–33   | f32       | ABCD  | outlet temperature setpoint, degC, 0..=250 (initially 175) | **RW** |
//! | 34      | u16       |       | steam demand, %, 0..=150 (initially 100)             | **RW** |
//! | 35–39   |           |       | reserved, 0                                          | RO     |
//! | 40–41   | f32       | ABCD  | header pressure, bar (same value as 1–2)             | RO     |
//! | 42–43   | f32       | CDAB  | header pressure, bar                                 | RO     |
//! | 44–45   | f32       | BADC  | header pressure, bar                                 | RO     |
//! | 46–47   | f32       | DCBA  | header pressure, bar                                 | RO     |
//! | 48–99   |           |       | reserved, 0                                          | RO     |
//! | 100     | u16       |       | step counter, +1 per physics step (100 ms), wraps (`COUNT`) | RO |
//! | 101–102 | u32       | ABCD  | simulated uptime, s                                  | RO     |
//! | 103–199 |           |       | reserved, 0                                          | RO     |
//!
//! Fault word bits (holding 20, input 5): 0 tank 1 high (≥ 90 %), 1 tank 2 low (≤ 10 %), 2 tank 2
//! high (≥ 90 %), 3 pump 1 fault (commanded but not running after 5 s; latched until fault reset),
//! 4 pump 2 fault, 5 e-stop, 6 header pressure high (> 12 bar), 7 outlet temperature high
//! (> 220 degC), 8 tank 1 low (≤ 10 %); the others are 0.
//!
//! Fixed test values (never change; all read-only):
//!
//! | addr    | type      | order | value                           | registers (hex)            |
//! |---------|-----------|-------|---------------------------------|----------------------------|
//! | 200     | u16       |       | 4660                            | 1234                       |
//! | 201     | u16       |       | 65535                           | FFFF                       |
//! | 202     | i16       |       | -1234                           | FB2E                       |
//! | 203     | i16       |       | -32768                          | 8000                       |
//! | 204–205 | u32       | ABCD  | 305419896 (0x12345678)          | 1234 5678                  |
//! | 206–207 | i32       | ABCD  | -123456789                      | F8A4 32EB                  |
//! | 208–211 | u64       | ABCD  | 81985529216486895 (0x0123456789ABCDEF) | 0123 4567 89AB CDEF |
//! | 212–215 | i64       | ABCD  | -1234567890123456789            | EEDD EF0B 8216 7EEB        |
//! | 216–217 | f32       | ABCD  | -1234.5                         | C49A 5000                  |
//! | 218–221 | f64       | ABCD  | 1234567.890625                  | 4132 D687 E400 0000        |
//! | 222     | bcd16     |       | 9876                            | 9876                       |
//! | 223–224 | bcd32     | ABCD  | 12345678                        | 1234 5678                  |
//! | 225–229 | string 10 |       | `HELLO PLC` (one NUL pad)       | 4845 4C4C 4F20 504C 4300   |
//! | 230–234 | string 10 |       | `PUMP 1` (four spaces pad)      | 5055 4D50 2031 2020 2020   |
//! | 235–239 |           |       | reserved, 0                     |                            |
//! | 240, 242, 244, 246 | u32   | ABCD, CDAB, BADC, DCBA | 305419896 (0x12345678) |    |
//! | 248, 250, 252, 254 | i32   | ABCD, CDAB, BADC, DCBA | -123456789             |    |
//! | 256, 258, 260, 262 | f32   | ABCD, CDAB, BADC, DCBA | -1234.5                |    |
//! | 264, 266, 268, 270 | bcd32 | ABCD, CDAB, BADC, DCBA | 12345678               |    |
//! | 272–279 |           |       | reserved, 0                     |                            |
//! | 280, 284, 288, 292 | u64   | ABCD, CDAB, BADC, DCBA | 0x0123456789ABCDEF     |    |
//! | 296, 300, 304, 308 | i64   | ABCD, CDAB, BADC, DCBA | -1234567890123456789   |    |
//! | 312, 316, 320, 324 | f64   | ABCD, CDAB, BADC, DCBA | 1234567.890625         |    |
//! | 328–399 |           |       | reserved, 0                     |                            |
//!
//! For example u32 0x12345678 is `1234 5678` (ABCD), `5678 1234` (CDAB), `3412 7856` (BADC),
//! `7856 3412` (DCBA); u64 0x0123456789ABCDEF is `0123 4567 89AB CDEF` (ABCD),
//! `CDEF 89AB 4567 0123` (CDAB), `2301 6745 AB89 EFCD` (BADC), `EFCD AB89 6745 2301` (DCBA).
//! The values are also in [`test_values`].
//!
//! Other areas:
//!
//! | addr          | meaning                                                                 | access |
//! |---------------|-------------------------------------------------------------------------|--------|
//! | 500..=599     | scratch registers for tests, initially 0                                | **RW** |
//! | 600..=619     | value = its own address; **608, 612 and 613 are holes → exception 02** (for exception-isolation tests) | RO |
//! | 1000..=10999  | bulk for load tests: value = `address ^ counter` (counter = holding 100) | RO    |

use tokio_modbus::ExceptionCode;

use super::plant::{self, Plant};

/// Addresses of the map, for tests and layouts.
pub mod addr {
    /// Coils.
    pub const COIL_PUMP1_RUN: u16 = 0;
    pub const COIL_PUMP2_RUN: u16 = 1;
    pub const COIL_VALVE_OPEN: u16 = 2;
    pub const COIL_FAULT_RESET: u16 = 3;
    pub const COIL_ESTOP: u16 = 4;
    pub const COIL_PUMP1_TRIP: u16 = 5;
    pub const COIL_PUMP2_TRIP: u16 = 6;
    pub const COIL_BURNER_RUN: u16 = 8;
    pub const COIL_SCRATCH: std::ops::RangeInclusive<u16> = 16..=31;
    pub const COIL_END: u16 = 31;

    /// Discrete inputs.
    pub const DI_PUMP1_RUNNING: u16 = 0;
    pub const DI_PUMP2_RUNNING: u16 = 1;
    pub const DI_ESTOP: u16 = 2;
    pub const DI_TANK1_HIGH: u16 = 3;
    pub const DI_TANK2_LOW: u16 = 4;
    pub const DI_FLAME: u16 = 5;
    pub const DI_PUMP1_FAULT: u16 = 6;
    pub const DI_PUMP2_FAULT: u16 = 7;
    pub const DI_ALWAYS_ON: u16 = 8;
    pub const DI_ALWAYS_OFF: u16 = 9;
    pub const DI_HEARTBEAT: u16 = 10;
    pub const DI_END: u16 = 15;
    pub const DI_BULK: std::ops::RangeInclusive<u16> = 1000..=2999;

    /// Input registers.
    pub const IR_PRESSURE_X100: u16 = 0;
    pub const IR_TEMPERATURE_X10: u16 = 1;
    pub const IR_FLOW_X10: u16 = 2;
    pub const IR_TANK1_LEVEL_X10: u16 = 3;
    pub const IR_TANK2_LEVEL_X10: u16 = 4;
    pub const IR_FAULT_WORD: u16 = 5;
    pub const IR_COUNTER: u16 = 6;
    pub const IR_STATUS_WORD: u16 = 7;
    pub const IR_TANK1_LEVEL_F32: u16 = 8;
    pub const IR_TANK2_LEVEL_F32: u16 = 10;
    pub const IR_FLOW_F32: u16 = 12;
    pub const IR_UPTIME_U32: u16 = 14;
    pub const IR_END: u16 = 31;

    /// Holding registers.
    pub const HR_STATUS_WORD: u16 = 0;
    pub const HR_PRESSURE: u16 = 1;
    pub const HR_TEMPERATURE_CDAB: u16 = 3;
    pub const HR_TOTAL_I32: u16 = 5;
    pub const HR_TOTAL_U32: u16 = 7;
    pub const HR_FLOW_X10: u16 = 9;
    pub const HR_NAME: u16 = 10;
    pub const HR_NAME_CHARS: u16 = 20;
    pub const HR_FAULT_WORD: u16 = 20;
    pub const HR_PUMP1_STARTS: u16 = 21;
    pub const HR_PUMP2_STARTS: u16 = 22;
    pub const HR_PRESSURE_SP: u16 = 30;
    pub const HR_TEMPERATURE_SP: u16 = 32;
    pub const HR_DEMAND: u16 = 34;
    pub const HR_PRESSURE_ABCD: u16 = 40;
    pub const HR_PRESSURE_CDAB: u16 = 42;
    pub const HR_PRESSURE_BADC: u16 = 44;
    pub const HR_PRESSURE_DCBA: u16 = 46;
    pub const HR_COUNTER: u16 = 100;
    pub const HR_UPTIME_U32: u16 = 101;
    pub const HR_PROCESS_END: u16 = 199;

    pub const HR_TEST_U16: u16 = 200;
    pub const HR_TEST_U16_MAX: u16 = 201;
    pub const HR_TEST_I16: u16 = 202;
    pub const HR_TEST_I16_MIN: u16 = 203;
    pub const HR_TEST_U32: u16 = 204;
    pub const HR_TEST_I32: u16 = 206;
    pub const HR_TEST_U64: u16 = 208;
    pub const HR_TEST_I64: u16 = 212;
    pub const HR_TEST_F32: u16 = 216;
    pub const HR_TEST_F64: u16 = 218;
    pub const HR_TEST_BCD16: u16 = 222;
    pub const HR_TEST_BCD32: u16 = 223;
    pub const HR_TEST_STRING: u16 = 225;
    pub const HR_TEST_STRING_PADDED: u16 = 230;
    /// First register of each type in the orders ABCD, CDAB, BADC, DCBA.
    pub const HR_ORDERS_U32: [u16; 4] = [240, 242, 244, 246];
    pub const HR_ORDERS_I32: [u16; 4] = [248, 250, 252, 254];
    pub const HR_ORDERS_F32: [u16; 4] = [256, 258, 260, 262];
    pub const HR_ORDERS_BCD32: [u16; 4] = [264, 266, 268, 270];
    pub const HR_ORDERS_U64: [u16; 4] = [280, 284, 288, 292];
    pub const HR_ORDERS_I64: [u16; 4] = [296, 300, 304, 308];
    pub const HR_ORDERS_F64: [u16; 4] = [312, 316, 320, 324];
    pub const HR_TEST_END: u16 = 399;

    pub const HR_SCRATCH: std::ops::RangeInclusive<u16> = 500..=599;
    pub const HR_HOLES_AREA: std::ops::RangeInclusive<u16> = 600..=619;
    pub const HR_HOLES: [u16; 3] = [608, 612, 613];
    pub const HR_BULK: std::ops::RangeInclusive<u16> = 1000..=10999;
}

/// The fixed test values of holding 200..=399.
pub mod test_values {
    pub const U16: u16 = 0x1234;
    pub const U16_MAX: u16 = u16::MAX;
    pub const I16: i16 = -1234;
    pub const I16_MIN: i16 = i16::MIN;
    pub const U32: u32 = 0x1234_5678;
    pub const I32: i32 = -123_456_789;
    pub const U64: u64 = 0x0123_4567_89AB_CDEF;
    pub const I64: i64 = -1_234_567_890_123_456_789;
    pub const F32: f32 = -1234.5;
    pub const F64: f64 = 1_234_567.890_625;
    /// Decoded value of bcd16 `0x9876`.
    pub const BCD16: u16 = 9876;
    /// Decoded value of bcd32 `0x12345678`.
    pub const BCD32: u32 = 12_345_678;
    /// Holding 225, `length: 10`: 9 characters and a NUL.
    pub const STRING: &str = "HELLO PLC";
    /// Holding 230, `length: 10`: 6 characters and four spaces.
    pub const STRING_PADDED: &str = "PUMP 1";
}

/// Word/byte order of multi-register values, named by where the most significant byte lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Abcd,
    Cdab,
    Badc,
    Dcba,
}

impl Order {
    pub const ALL: [Order; 4] = [Order::Abcd, Order::Cdab, Order::Badc, Order::Dcba];

    const fn swaps_bytes(self) -> bool {
        matches!(self, Order::Badc | Order::Dcba)
    }

    const fn reverses_words(self) -> bool {
        matches!(self, Order::Cdab | Order::Dcba)
    }
}

/// The registers of a 32-bit big-endian byte sequence in `order`.
pub const fn words32(be: [u8; 4], order: Order) -> [u16; 2] {
    let mut w = [u16::from_be_bytes([be[0], be[1]]), u16::from_be_bytes([be[2], be[3]])];
    if order.swaps_bytes() {
        w = [w[0].swap_bytes(), w[1].swap_bytes()];
    }
    if order.reverses_words() {
        w = [w[1], w[0]];
    }
    w
}

/// The registers of a 64-bit big-endian byte sequence in `order`.
pub const fn words64(be: [u8; 8], order: Order) -> [u16; 4] {
    let mut w = [
        u16::from_be_bytes([be[0], be[1]]),
        u16::from_be_bytes([be[2], be[3]]),
        u16::from_be_bytes([be[4], be[5]]),
        u16::from_be_bytes([be[6], be[7]]),
    ];
    if order.swaps_bytes() {
        w = [w[0].swap_bytes(), w[1].swap_bytes(), w[2].swap_bytes(), w[3].swap_bytes()];
    }
    if order.reverses_words() {
        w = [w[3], w[2], w[1], w[0]];
    }
    w
}

/// An f32 in `order`.
pub const fn f32_words(v: f32, order: Order) -> [u16; 2] {
    words32(v.to_bits().to_be_bytes(), order)
}

/// Two characters per register, high byte first, padded with `pad`.
const fn put_str<const N: usize>(img: &mut [u16; N], at: usize, s: &[u8], regs: usize, pad: u8) {
    let mut i = 0;
    while i < regs {
        let hi = if 2 * i < s.len() { s[2 * i] } else { pad };
        let lo = if 2 * i + 1 < s.len() { s[2 * i + 1] } else { pad };
        img[at + i] = u16::from_be_bytes([hi, lo]);
        i += 1;
    }
}

const fn put<const N: usize, const M: usize>(img: &mut [u16; N], at: usize, w: [u16; M]) {
    let mut i = 0;
    while i < M {
        img[at + i] = w[i];
        i += 1;
    }
}

const TEST_BASE: u16 = 200;
const TEST_LEN: usize = 200;

/// Holding 200..=399, built at compile time.
const TEST_IMAGE: [u16; TEST_LEN] = {
    use test_values as t;
    const fn at(a: u16) -> usize {
        (a - TEST_BASE) as usize
    }
    let mut img = [0u16; TEST_LEN];
    img[at(addr::HR_TEST_U16)] = t::U16;
    img[at(addr::HR_TEST_U16_MAX)] = t::U16_MAX;
    img[at(addr::HR_TEST_I16)] = t::I16 as u16;
    img[at(addr::HR_TEST_I16_MIN)] = t::I16_MIN as u16;
    put(&mut img, at(addr::HR_TEST_U32), words32(t::U32.to_be_bytes(), Order::Abcd));
    put(&mut img, at(addr::HR_TEST_I32), words32(t::I32.to_be_bytes(), Order::Abcd));
    put(&mut img, at(addr::HR_TEST_U64), words64(t::U64.to_be_bytes(), Order::Abcd));
    put(&mut img, at(addr::HR_TEST_I64), words64(t::I64.to_be_bytes(), Order::Abcd));
    put(&mut img, at(addr::HR_TEST_F32), f32_words(t::F32, Order::Abcd));
    put(&mut img, at(addr::HR_TEST_F64), words64(t::F64.to_bits().to_be_bytes(), Order::Abcd));
    img[at(addr::HR_TEST_BCD16)] = 0x9876;
    put(&mut img, at(addr::HR_TEST_BCD32), words32(0x1234_5678u32.to_be_bytes(), Order::Abcd));
    put_str(&mut img, at(addr::HR_TEST_STRING), t::STRING.as_bytes(), 5, 0);
    put_str(&mut img, at(addr::HR_TEST_STRING_PADDED), t::STRING_PADDED.as_bytes(), 5, b' ');
    let mut i = 0;
    while i < 4 {
        let o = Order::ALL[i];
        put(&mut img, at(addr::HR_ORDERS_U32[i]), words32(t::U32.to_be_bytes(), o));
        put(&mut img, at(addr::HR_ORDERS_I32[i]), words32(t::I32.to_be_bytes(), o));
        put(&mut img, at(addr::HR_ORDERS_F32[i]), f32_words(t::F32, o));
        put(&mut img, at(addr::HR_ORDERS_BCD32[i]), words32(0x1234_5678u32.to_be_bytes(), o));
        put(&mut img, at(addr::HR_ORDERS_U64[i]), words64(t::U64.to_be_bytes(), o));
        put(&mut img, at(addr::HR_ORDERS_I64[i]), words64(t::I64.to_be_bytes(), o));
        put(&mut img, at(addr::HR_ORDERS_F64[i]), words64(t::F64.to_bits().to_be_bytes(), o));
        i += 1;
    }
    img
};

const PROCESS_LEN: usize = addr::HR_PROCESS_END as usize + 1;
const SCRATCH_HR_LEN: usize = 100;
const SCRATCH_COILS: usize = 16;

/// The simulated PLC: the plant plus the memory that is not physics (scratch areas).
#[derive(Clone, Debug)]
pub struct Device {
    pub plant: Plant,
    scratch_holding: [u16; SCRATCH_HR_LEN],
    scratch_coils: [bool; SCRATCH_COILS],
}

/// Result of a register-map operation: exception 02 or 03 on refusal.
pub type MapResult<T> = Result<T, ExceptionCode>;

/// `start..start + qty` as inclusive bounds, or 02 when it runs past 65535. `qty` must be ≥ 1.
fn span(start: u16, qty: usize) -> MapResult<(u16, u16)> {
    let last = (start as usize + qty).checked_sub(1).ok_or(ExceptionCode::IllegalDataValue)?;
    let last = u16::try_from(last).map_err(|_| ExceptionCode::IllegalDataAddress)?;
    Ok((start, last))
}

fn scaled(v: f64, factor: f64) -> u16 {
    (v * factor).round().clamp(0.0, f64::from(u16::MAX)) as u16
}

impl Device {
    pub fn new(plant: Plant) -> Self {
        Device { plant, scratch_holding: [0; SCRATCH_HR_LEN], scratch_coils: [false; SCRATCH_COILS] }
    }

    fn coil(&self, a: u16) -> Option<bool> {
        let c = &self.plant.cmd;
        Some(match a {
            addr::COIL_PUMP1_RUN => c.pump_run[0],
            addr::COIL_PUMP2_RUN => c.pump_run[1],
            addr::COIL_VALVE_OPEN => c.valve_open,
            addr::COIL_FAULT_RESET => false,
            addr::COIL_ESTOP => c.estop,
            addr::COIL_PUMP1_TRIP => c.pump_trip[0],
            addr::COIL_PUMP2_TRIP => c.pump_trip[1],
            addr::COIL_BURNER_RUN => c.burner_run,
            16..=31 => self.scratch_coils[usize::from(a - 16)],
            7 | 9..=15 => false,
            _ => return None,
        })
    }

    fn coil_writable(a: u16) -> bool {
        matches!(a, 0..=6 | 8 | 16..=31)
    }

    fn discrete(&self, a: u16) -> Option<bool> {
        let p = &self.plant;
        Some(match a {
            addr::DI_PUMP1_RUNNING => p.pump_running(0),
            addr::DI_PUMP2_RUNNING => p.pump_running(1),
            addr::DI_ESTOP => p.cmd.estop,
            addr::DI_TANK1_HIGH => p.level(0) >= plant::LEVEL_HIGH,
            addr::DI_TANK2_LOW => p.level(1) <= plant::LEVEL_LOW,
            addr::DI_FLAME => p.burner_on(),
            addr::DI_PUMP1_FAULT => p.pump_fault(0),
            addr::DI_PUMP2_FAULT => p.pump_fault(1),
            addr::DI_ALWAYS_ON => true,
            addr::DI_ALWAYS_OFF => false,
            addr::DI_HEARTBEAT => p.elapsed().as_secs() % 2 == 1,
            11..=15 => false,
            1000..=2999 => (a - 1000).is_multiple_of(3),
            _ => return None,
        })
    }

    fn input_image(&self) -> [u16; addr::IR_END as usize + 1] {
        let p = &self.plant;
        let mut img = [0u16; addr::IR_END as usize + 1];
        img[0] = scaled(p.pressure(), 100.0);
        img[1] = (p.temperature() * 10.0).round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16 as u16;
        img[2] = scaled(p.feed_flow_m3h(), 10.0);
        img[3] = scaled(p.level(0), 10.0);
        img[4] = scaled(p.level(1), 10.0);
        img[5] = p.fault_word();
        img[6] = p.counter();
        img[7] = p.status_word();
        put(&mut img, 8, f32_words(p.level(0) as f32, Order::Abcd));
        put(&mut img, 10, f32_words(p.level(1) as f32, Order::Abcd));
        put(&mut img, 12, f32_words(p.feed_flow_m3h() as f32, Order::Abcd));
        put(&mut img, 14, words32((p.elapsed().as_secs() as u32).to_be_bytes(), Order::Abcd));
        img
    }

    /// Setpoint registers 30..=34 as they read now.
    fn setpoint_words(&self) -> [u16; 5] {
        let c = &self.plant.cmd;
        let p = f32_words(c.pressure_sp as f32, Order::Abcd);
        let t = f32_words(c.temperature_sp as f32, Order::Abcd);
        [p[0], p[1], t[0], t[1], c.demand_pct]
    }

    fn process_image(&self) -> [u16; PROCESS_LEN] {
        let p = &self.plant;
        let mut img = [0u16; PROCESS_LEN];
        img[0] = p.status_word();
        let pressure = p.pressure() as f32;
        put(&mut img, 1, f32_words(pressure, Order::Abcd));
        put(&mut img, 3, f32_words(p.temperature() as f32, Order::Cdab));
        put(&mut img, 5, words32(p.total_litres().to_be_bytes(), Order::Abcd));
        put(&mut img, 7, words32(p.total_litres().to_be_bytes(), Order::Abcd));
        img[9] = scaled(p.feed_flow_m3h(), 10.0);
        put_str(&mut img, 10, p.name().as_bytes(), 10, 0);
        img[20] = p.fault_word();
        img[21] = p.pump_starts(0);
        img[22] = p.pump_starts(1);
        put(&mut img, 30, self.setpoint_words());
        for (i, o) in Order::ALL.into_iter().enumerate() {
            put(&mut img, 40 + 2 * i, f32_words(pressure, o));
        }
        img[100] = p.counter();
        put(&mut img, 101, words32((p.elapsed().as_secs() as u32).to_be_bytes(), Order::Abcd));
        img
    }

    fn holding_writable(a: u16) -> bool {
        matches!(a, 30..=34 | 500..=599)
    }

    /// FC01.
    pub fn read_coils(&self, start: u16, qty: u16) -> MapResult<Vec<bool>> {
        let (first, last) = span(start, qty.into())?;
        (first..=last).map(|a| self.coil(a).ok_or(ExceptionCode::IllegalDataAddress)).collect()
    }

    /// FC02.
    pub fn read_discretes(&self, start: u16, qty: u16) -> MapResult<Vec<bool>> {
        let (first, last) = span(start, qty.into())?;
        (first..=last).map(|a| self.discrete(a).ok_or(ExceptionCode::IllegalDataAddress)).collect()
    }

    /// FC04.
    pub fn read_inputs(&self, start: u16, qty: u16) -> MapResult<Vec<u16>> {
        let (first, last) = span(start, qty.into())?;
        if last > addr::IR_END {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        Ok(self.input_image()[usize::from(first)..=usize::from(last)].to_vec())
    }

    /// FC03.
    pub fn read_holding(&self, start: u16, qty: u16) -> MapResult<Vec<u16>> {
        let (first, last) = span(start, qty.into())?;
        let process = (first <= addr::HR_PROCESS_END).then(|| self.process_image());
        let counter = self.plant.counter();
        (first..=last)
            .map(|a| match a {
                0..=199 => process.as_ref().map(|img| img[usize::from(a)]).ok_or(ExceptionCode::ServerDeviceFailure),
                200..=399 => Ok(TEST_IMAGE[usize::from(a - TEST_BASE)]),
                500..=599 => Ok(self.scratch_holding[usize::from(a - 500)]),
                608 | 612 | 613 => Err(ExceptionCode::IllegalDataAddress),
                600..=619 => Ok(a),
                1000..=10999 => Ok(a ^ counter),
                _ => Err(ExceptionCode::IllegalDataAddress),
            })
            .collect()
    }

    /// FC05 / FC15: all or nothing.
    pub fn write_coils(&mut self, start: u16, values: &[bool]) -> MapResult<()> {
        let (first, last) = span(start, values.len())?;
        if !(first..=last).all(Self::coil_writable) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        for (a, &v) in (first..=last).zip(values) {
            let c = &mut self.plant.cmd;
            match a {
                addr::COIL_PUMP1_RUN => c.pump_run[0] = v,
                addr::COIL_PUMP2_RUN => c.pump_run[1] = v,
                addr::COIL_VALVE_OPEN => c.valve_open = v,
                addr::COIL_FAULT_RESET => {
                    if v {
                        self.plant.reset_faults();
                    }
                }
                addr::COIL_ESTOP => c.estop = v,
                addr::COIL_PUMP1_TRIP => c.pump_trip[0] = v,
                addr::COIL_PUMP2_TRIP => c.pump_trip[1] = v,
                addr::COIL_BURNER_RUN => c.burner_run = v,
                16..=31 => self.scratch_coils[usize::from(a - 16)] = v,
                _ => unreachable!("checked writable above"),
            }
        }
        Ok(())
    }

    /// FC06 / FC16 (and the write half of FC22 / FC23): all or nothing.
    pub fn write_holding(&mut self, start: u16, words: &[u16]) -> MapResult<()> {
        let (first, last) = span(start, words.len())?;
        if !(first..=last).all(Self::holding_writable) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let mut sp = self.setpoint_words();
        let mut sp_touched = false;
        for (a, &w) in (first..=last).zip(words) {
            if (30..=34).contains(&a) {
                sp[usize::from(a - 30)] = w;
                sp_touched = true;
            }
        }
        if sp_touched {
            let pressure = f64::from(f32::from_bits(u32::from(sp[0]) << 16 | u32::from(sp[1])));
            let temperature = f64::from(f32::from_bits(u32::from(sp[2]) << 16 | u32::from(sp[3])));
            let in_range = |v: f64, (lo, hi): (f64, f64)| v.is_finite() && (lo..=hi).contains(&v);
            if !in_range(pressure, plant::PRESSURE_SP_RANGE)
                || !in_range(temperature, plant::TEMPERATURE_SP_RANGE)
                || sp[4] > plant::DEMAND_MAX
            {
                return Err(ExceptionCode::IllegalDataValue);
            }
            let c = &mut self.plant.cmd;
            c.pressure_sp = pressure;
            c.temperature_sp = temperature;
            c.demand_pct = sp[4];
        }
        for (a, &w) in (first..=last).zip(words) {
            if addr::HR_SCRATCH.contains(&a) {
                self.scratch_holding[usize::from(a - 500)] = w;
            }
        }
        Ok(())
    }

    /// FC22: `(current & and) | (or & !and)`.
    pub fn mask_write(&mut self, at: u16, and_mask: u16, or_mask: u16) -> MapResult<()> {
        if !Self::holding_writable(at) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let current = self.read_holding(at, 1)?[0];
        self.write_holding(at, &[(current & and_mask) | (or_mask & !and_mask)])
    }

    /// FC23: checks the read range, writes, then reads (the write happens first, as the spec says).
    pub fn read_write_holding(
        &mut self,
        read_addr: u16,
        read_qty: u16,
        write_addr: u16,
        words: &[u16],
    ) -> MapResult<Vec<u16>> {
        self.read_holding(read_addr, read_qty)?;
        self.write_holding(write_addr, words)?;
        self.read_holding(read_addr, read_qty)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn dev() -> Device {
        Device::new(Plant::new(7))
    }

    fn u32_of(w: &[u16]) -> u32 {
        u32::from(w[0]) << 16 | u32::from(w[1])
    }

    #[test]
    fn byte_orders_match_the_documented_patterns() {
        assert_eq!(words32([0x12, 0x34, 0x56, 0x78], Order::Abcd), [0x1234, 0x5678]);
        assert_eq!(words32([0x12, 0x34, 0x56, 0x78], Order::Cdab), [0x5678, 0x1234]);
        assert_eq!(words32([0x12, 0x34, 0x56, 0x78], Order::Badc), [0x3412, 0x7856]);
        assert_eq!(words32([0x12, 0x34, 0x56, 0x78], Order::Dcba), [0x7856, 0x3412]);
        let u = 0x0123_4567_89AB_CDEFu64.to_be_bytes();
        assert_eq!(words64(u, Order::Abcd), [0x0123, 0x4567, 0x89AB, 0xCDEF]);
        assert_eq!(words64(u, Order::Cdab), [0xCDEF, 0x89AB, 0x4567, 0x0123]);
        assert_eq!(words64(u, Order::Badc), [0x2301, 0x6745, 0xAB89, 0xEFCD]);
        assert_eq!(words64(u, Order::Dcba), [0xEFCD, 0xAB89, 0x6745, 0x2301]);
        // DCBA is plain little-endian.
        assert_eq!(words64(u, Order::Dcba), {
            let le = 0x0123_4567_89AB_CDEFu64.to_le_bytes();
            [0, 1, 2, 3].map(|i| u16::from_be_bytes([le[2 * i], le[2 * i + 1]]))
        });
    }

    #[test]
    fn test_values_are_as_documented() {
        let d = dev();
        let r = d.read_holding(200, 40).unwrap();
        let hex = |a: u16, n: usize| r[usize::from(a - 200)..usize::from(a - 200) + n].to_vec();
        assert_eq!(hex(200, 4), [0x1234, 0xFFFF, 0xFB2E, 0x8000]);
        assert_eq!(hex(204, 2), [0x1234, 0x5678]);
        assert_eq!(hex(206, 2), [0xF8A4, 0x32EB]);
        assert_eq!(hex(208, 4), [0x0123, 0x4567, 0x89AB, 0xCDEF]);
        assert_eq!(hex(212, 4), [0xEEDD, 0xEF0B, 0x8216, 0x7EEB]);
        assert_eq!(hex(216, 2), [0xC49A, 0x5000]);
        assert_eq!(hex(218, 4), [0x4132, 0xD687, 0xE400, 0x0000]);
        assert_eq!(hex(222, 3), [0x9876, 0x1234, 0x5678]);
        assert_eq!(hex(225, 5), [0x4845, 0x4C4C, 0x4F20, 0x504C, 0x4300]);
        assert_eq!(hex(230, 5), [0x5055, 0x4D50, 0x2031, 0x2020, 0x2020]);
        assert_eq!(hex(235, 5), [0; 5]);
        assert_eq!(i32::from_be_bytes(u32_of(&hex(206, 2)).to_be_bytes()), test_values::I32);
        assert_eq!(f32::from_bits(u32_of(&hex(216, 2))), test_values::F32);

        let all = d.read_holding(240, 88).unwrap();
        let at = |a: u16, n: usize| all[usize::from(a - 240)..usize::from(a - 240) + n].to_vec();
        assert_eq!(at(addr::HR_ORDERS_U32[1], 2), [0x5678, 0x1234]);
        assert_eq!(at(addr::HR_ORDERS_F32[2], 2), [0x9AC4, 0x0050]);
        assert_eq!(at(addr::HR_ORDERS_F32[3], 2), [0x0050, 0x9AC4]);
        assert_eq!(at(addr::HR_ORDERS_BCD32[3], 2), [0x7856, 0x3412]);
        assert_eq!(at(addr::HR_ORDERS_U64[1], 4), [0xCDEF, 0x89AB, 0x4567, 0x0123]);
        for i in 0..4 {
            // Every order decodes back to the value with an independent decoder.
            let o = Order::ALL[i];
            let back32 = |w: Vec<u16>| {
                let w = if o.reverses_words() { [w[1], w[0]] } else { [w[0], w[1]] };
                let w = if o.swaps_bytes() { w.map(u16::swap_bytes) } else { w };
                u32_of(&w)
            };
            assert_eq!(back32(at(addr::HR_ORDERS_U32[i], 2)), test_values::U32);
            assert_eq!(back32(at(addr::HR_ORDERS_I32[i], 2)) as i32, test_values::I32);
            assert_eq!(f32::from_bits(back32(at(addr::HR_ORDERS_F32[i], 2))), test_values::F32);
            let back64 = |w: Vec<u16>| {
                let mut w = [w[0], w[1], w[2], w[3]];
                if o.reverses_words() {
                    w.reverse();
                }
                if o.swaps_bytes() {
                    w = w.map(u16::swap_bytes);
                }
                w.iter().fold(0u64, |acc, &x| acc << 16 | u64::from(x))
            };
            assert_eq!(back64(at(addr::HR_ORDERS_U64[i], 4)), test_values::U64);
            assert_eq!(back64(at(addr::HR_ORDERS_I64[i], 4)) as i64, test_values::I64);
            assert_eq!(f64::from_bits(back64(at(addr::HR_ORDERS_F64[i], 4))), test_values::F64);
        }
    }

    #[test]
    fn process_values_and_name() {
        let mut d = dev();
        for _ in 0..300 {
            d.plant.step(Duration::from_millis(100));
        }
        let r = d.read_holding(0, 125).unwrap();
        let p = f32::from_bits(u32_of(&r[1..3]));
        assert!((f64::from(p) - d.plant.pressure()).abs() < 1e-4);
        let t_cdab = f32::from_bits(u32::from(r[4]) << 16 | u32::from(r[3]));
        assert!((f64::from(t_cdab) - d.plant.temperature()).abs() < 1e-3);
        assert_eq!(u32_of(&r[5..7]), d.plant.total_litres());
        assert_eq!(r[5..7], r[7..9]);
        let name: Vec<u8> = r[10..20].iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(&name, b"BOILER HOUSE SIM\0\0\0\0");
        assert_eq!(r[20], d.plant.fault_word());
        assert_eq!(r[100], d.plant.counter());
        assert_eq!(r[100], 300);
        assert_eq!(u32_of(&r[101..103]), 30);
        // Pressure in all four orders.
        assert_eq!(r[40..42], r[1..3]);
        assert_eq!([r[43], r[42]], [r[1], r[2]]);
        assert_eq!([r[44].swap_bytes(), r[45].swap_bytes()], [r[1], r[2]]);
        assert_eq!([r[47].swap_bytes(), r[46].swap_bytes()], [r[1], r[2]]);
        // Setpoints.
        assert_eq!(f32::from_bits(u32_of(&r[30..32])), 8.0);
        assert_eq!(f32::from_bits(u32_of(&r[32..34])), 175.0);
        assert_eq!(r[34], 100);

        let ir = d.read_inputs(0, 32).unwrap();
        assert_eq!(ir[3], (d.plant.level(0) * 10.0).round() as u16);
        assert!(ir[3] <= 1000);
        assert_eq!(ir[6], 300);
        assert_eq!(f32::from_bits(u32_of(&ir[8..10])), d.plant.level(0) as f32);
    }

    #[test]
    fn unmapped_addresses_are_exception_02() {
        let d = dev();
        let e = Err(ExceptionCode::IllegalDataAddress);
        let eb: MapResult<Vec<bool>> = Err(ExceptionCode::IllegalDataAddress);
        assert_eq!(d.read_holding(400, 1), e);
        assert_eq!(d.read_holding(390, 20), e, "partly outside");
        assert_eq!(d.read_holding(65535, 2), e, "past the end");
        assert_eq!(d.read_holding(608, 1), e);
        assert_eq!(d.read_holding(600, 10), e);
        assert_eq!(d.read_holding(600, 8).unwrap(), (600..608).collect::<Vec<u16>>());
        assert_eq!(d.read_holding(609, 3).unwrap(), [609, 610, 611]);
        assert_eq!(d.read_holding(614, 6).unwrap(), (614..620).collect::<Vec<u16>>());
        assert_eq!(d.read_holding(620, 1), e);
        assert_eq!(d.read_holding(10999, 1).map(|v| v.len()), Ok(1));
        assert_eq!(d.read_holding(10999, 2), e);
        assert_eq!(d.read_inputs(31, 1).map(|v| v.len()), Ok(1));
        assert_eq!(d.read_inputs(30, 3), e);
        assert_eq!(d.read_coils(31, 1), Ok(vec![false]));
        assert_eq!(d.read_coils(31, 2), eb);
        assert_eq!(d.read_discretes(16, 1), eb);
        assert_eq!(d.read_discretes(2999, 2), eb);
        assert_eq!(d.read_discretes(998, 4), eb);
        assert_eq!(d.read_discretes(1000, 4), Ok(vec![true, false, false, true]));
        assert_eq!(d.read_discretes(8, 2), Ok(vec![true, false]));
    }

    #[test]
    fn bulk_area_follows_the_counter() {
        let mut d = dev();
        let r = d.read_holding(1000, 125).unwrap();
        assert_eq!(r[0], 1000);
        assert_eq!(r[124], 1124);
        d.plant.step(Duration::from_millis(100));
        assert_eq!(d.read_holding(10999, 1).unwrap(), [10999 ^ 1]);
    }

    #[test]
    fn setpoint_writes_change_the_plant() {
        let mut d = dev();
        d.write_holding(addr::HR_PRESSURE_SP, &f32_words(9.5, Order::Abcd)).unwrap();
        assert_eq!(d.plant.cmd.pressure_sp, 9.5);
        assert_eq!(d.read_holding(30, 2).unwrap(), f32_words(9.5, Order::Abcd));
        d.write_holding(addr::HR_DEMAND, &[50]).unwrap();
        assert_eq!(d.plant.cmd.demand_pct, 50);
        // One FC16 across both float setpoints and the demand.
        let mut w = f32_words(3.0, Order::Abcd).to_vec();
        w.extend(f32_words(120.0, Order::Abcd));
        w.push(80);
        d.write_holding(30, &w).unwrap();
        assert_eq!((d.plant.cmd.pressure_sp, d.plant.cmd.temperature_sp, d.plant.cmd.demand_pct), (3.0, 120.0, 80));
        // Half a float (FC06): the high word of 12.5 with the low word of 3.0 (both 0).
        d.write_holding(30, &[f32_words(12.5, Order::Abcd)[0]]).unwrap();
        assert_eq!(d.plant.cmd.pressure_sp, 12.5);
    }

    #[test]
    fn bad_writes_are_refused_without_effect() {
        let mut d = dev();
        let before = d.plant.cmd.clone();
        assert_eq!(d.write_holding(30, &f32_words(99.0, Order::Abcd)), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(d.write_holding(30, &f32_words(f32::NAN, Order::Abcd)), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(d.write_holding(32, &f32_words(-1.0, Order::Abcd)), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(d.write_holding(34, &[151]), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(d.write_holding(1, &[0]), Err(ExceptionCode::IllegalDataAddress), "read-only process value");
        assert_eq!(d.write_holding(200, &[0]), Err(ExceptionCode::IllegalDataAddress), "read-only test value");
        assert_eq!(d.write_holding(34, &[1, 2]), Err(ExceptionCode::IllegalDataAddress), "runs into read-only 35");
        assert_eq!(d.write_holding(599, &[1, 2]), Err(ExceptionCode::IllegalDataAddress), "runs past the scratch area");
        assert_eq!(d.write_holding(1000, &[0]), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(d.write_holding(65535, &[0, 0]), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(d.write_coils(7, &[true]), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(d.write_coils(30, &[true, true, true]), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(d.plant.cmd, before);
        assert_eq!(d.read_holding(599, 1).unwrap(), [0]);
        assert_eq!(d.read_coils(30, 2).unwrap(), [false, false]);
    }

    #[test]
    fn scratch_and_mask_write() {
        let mut d = dev();
        d.write_holding(500, &[1, 2, 3]).unwrap();
        assert_eq!(d.read_holding(500, 4).unwrap(), [1, 2, 3, 0]);
        d.mask_write(500, 0x00F2, 0x0025).unwrap();
        // (0x0001 & 0x00F2) | (0x0025 & 0xFF0D) = 0x0005.
        assert_eq!(d.read_holding(500, 1).unwrap(), [0x0005]);
        // The Modbus spec's example: current 0x12, AND 0xF2, OR 0x25 → 0x17.
        d.write_holding(501, &[0x12]).unwrap();
        d.mask_write(501, 0x00F2, 0x0025).unwrap();
        assert_eq!(d.read_holding(501, 1).unwrap(), [0x17]);
        assert_eq!(d.mask_write(20, 0, 0), Err(ExceptionCode::IllegalDataAddress));
        let r = d.read_write_holding(500, 3, 502, &[9]).unwrap();
        assert_eq!(r[2], 9, "write happens before the read");
        assert_eq!(d.read_write_holding(400, 1, 502, &[10]), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(d.read_holding(502, 1).unwrap(), [9], "bad read range: no write either");
    }

    #[test]
    fn coil_writes_drive_the_plant() {
        let mut d = dev();
        d.write_coils(addr::COIL_PUMP2_RUN, &[true]).unwrap();
        for _ in 0..20 {
            d.plant.step(Duration::from_millis(100));
        }
        assert_eq!(d.read_discretes(0, 2).unwrap(), [true, true]);
        d.write_coils(addr::COIL_ESTOP, &[true]).unwrap();
        assert_eq!(d.read_discretes(addr::DI_ESTOP, 1).unwrap(), [true]);
        d.plant.step(Duration::from_millis(100));
        assert_eq!(d.read_discretes(0, 2).unwrap(), [false, false]);
        assert_eq!(d.read_coils(0, 9).unwrap(), [false, false, true, false, true, false, false, false, false]);
        assert_ne!(d.read_holding(addr::HR_FAULT_WORD, 1).unwrap()[0] & plant::fault::ESTOP, 0);
        d.write_coils(16, &[true, false, true]).unwrap();
        assert_eq!(d.read_coils(16, 4).unwrap(), [true, false, true, false]);
        d.write_coils(addr::COIL_FAULT_RESET, &[true]).unwrap();
        assert_eq!(d.read_coils(addr::COIL_FAULT_RESET, 1).unwrap(), [false], "momentary");
    }

    /// Every tag of the example layouts reads from a mapped address of the simulator, so the
    /// demo never shows exception 02 (the layouts are parsed loosely here; the layout module
    /// validates them properly).
    #[test]
    fn example_layouts_read_only_mapped_addresses() {
        let d = dev();
        for (file, text) in [
            ("demo.yaml", include_str!("../../layouts/demo.yaml")),
            ("boiler-house.yaml", include_str!("../../layouts/boiler-house.yaml")),
        ] {
            let layout: serde_json::Value = serde_saphyr::from_str(text).expect(file);
            let tags = layout["tags"].as_object().expect("tags");
            assert!(!tags.is_empty());
            for (name, tag) in tags {
                let at = |k: &str| tag.get(k).and_then(|v| v.as_u64()).map(|a| u16::try_from(a).unwrap());
                let ty = tag.get("type").and_then(|t| t.as_str()).unwrap_or("u16");
                let regs = match ty {
                    "u16" | "i16" | "bcd16" | "bool" => 1,
                    "u32" | "i32" | "f32" | "bcd32" => 2,
                    "u64" | "i64" | "f64" => 4,
                    "string" => at("length").expect("string length").div_ceil(2),
                    other => panic!("{file}: {name}: unknown type {other}"),
                };
                let ok = if let Some(a) = at("coil") {
                    d.read_coils(a, 1).is_ok()
                } else if let Some(a) = at("discrete") {
                    d.read_discretes(a, 1).is_ok()
                } else if let Some(a) = at("input") {
                    d.read_inputs(a, regs).is_ok()
                } else if let Some(a) = at("holding") {
                    d.read_holding(a, regs).is_ok()
                } else if tag.get("node").is_some() {
                    continue; // an OPC UA tag
                } else {
                    panic!("{file}: {name}: no address")
                };
                assert!(ok, "{file}: tag {name} reads an unmapped address");
            }
        }
    }
}
