//! The Modbus TCP driver against real servers on loopback: the in-process simulator (physics
//! frozen, so values never move) and small raw TCP servers that misbehave on purpose.
//!
//! Events are folded into a [`View`] through [`TagStore::apply`], so the assertions are about
//! what an operator sees (a Bad tag keeps its last value). Every wait is for a condition with a
//! deadline ([`Harness::wait_for`]); a timed-out wait fails with a summary of the view.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use ttyhmi::driver::ConnectionState;
use ttyhmi::layout::Table;
use ttyhmi::sim::plant::fault;
use ttyhmi::sim::registers::{addr, test_values};
use ttyhmi::sim::{self, BUSY_UNIT, SILENT_UNIT, SimHandle, SimOptions};
use ttyhmi::tag::{Quality, Reason, Value};

mod common;
use common::driver::{Harness, View};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// Servers

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("a socket address")
}

/// The simulator with frozen physics on `addr`.
async fn start_sim(addr: SocketAddr) -> SimHandle {
    sim::start_with(addr, SimOptions { step: None, opcua_port: None, ..SimOptions::default() })
        .await
        .expect("start the simulator")
}

async fn frozen_sim() -> SimHandle {
    start_sim(loopback()).await
}

/// A loopback port nobody listens on: bound, then released.
async fn closed_port() -> u16 {
    let l = TcpListener::bind(loopback()).await.expect("bind");
    l.local_addr().expect("local address").port()
}

// ---------------------------------------------------------------------------------------------
// Layouts

/// Builds layout text: connections to 127.0.0.1 and tags.
#[derive(Default)]
struct LayoutSrc {
    conns: String,
    tags: String,
}

impl LayoutSrc {
    /// `keys`: extra connection keys separated by commas (`timeout: 300ms, poll: 50ms`).
    fn conn(mut self, name: &str, port: u16, keys: &str) -> Self {
        self.conns += &format!("  {name}:\n    modbus_tcp: {{ host: 127.0.0.1, port: {port}, unit: 1 }}\n");
        for k in keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            self.conns += &format!("    {k}\n");
        }
        self
    }

    /// `spec`: the tag's keys other than `source` (`holding: 200, type: u16`).
    fn tag(mut self, name: &str, source: &str, spec: &str) -> Self {
        self.tags += &format!("  {name}: {{ source: {source}, {spec} }}\n");
        self
    }

    fn build(&self) -> String {
        format!("title: driver test\nconnections:\n{}tags:\n{}", self.conns, self.tags)
    }
}

fn bad(r: Reason) -> Quality {
    Quality::Bad(r)
}

// ---------------------------------------------------------------------------------------------
// 1. Decoding

const ORDERS: [&str; 4] = ["ABCD", "CDAB", "BADC", "DCBA"];

#[tokio::test]
async fn every_type_and_byte_order_decodes_to_the_expected_value() {
    let sim = frozen_sim().await;
    // Press the e-stop so the fault word has a bit set (bit 5) next to a clear one (bit 3).
    sim.with_device(|d| d.write_coils(addr::COIL_ESTOP, &[true])).expect("e-stop coil is writable");
    let (fault_word, coils, level_raw, level_f32) = sim.with_device(|d| {
        let f = d.read_inputs(addr::IR_TANK1_LEVEL_F32, 2).expect("input 8");
        (
            d.read_holding(addr::HR_FAULT_WORD, 1).expect("holding 20")[0],
            d.read_coils(0, 9).expect("coils 0..9"),
            d.read_inputs(addr::IR_TANK1_LEVEL_X10, 1).expect("input 3")[0],
            f32::from_bits(u32::from(f[0]) << 16 | u32::from(f[1])),
        )
    });
    assert_ne!(fault_word & fault::ESTOP, 0, "precondition: e-stop bit set");
    assert_eq!(fault_word & fault::PUMP1_FAULT, 0, "precondition: pump 1 fault bit clear");

    use test_values as tv;
    let mut expect: Vec<(String, &str, String, Value)> = vec![];
    let mut t = |name: &str, conn: &'static str, spec: String, v: Value| expect.push((name.into(), conn, spec, v));
    // Scalars on the plain connection (default byte order ABCD).
    t("U16", "plc", format!("holding: {}", addr::HR_TEST_U16), Value::UInt(tv::U16.into()));
    t("U16_MAX", "plc", format!("holding: {}, type: u16", addr::HR_TEST_U16_MAX), Value::UInt(tv::U16_MAX.into()));
    t("I16", "plc", format!("holding: {}, type: i16", addr::HR_TEST_I16), Value::Int(tv::I16.into()));
    t("I16_MIN", "plc", format!("holding: {}, type: i16", addr::HR_TEST_I16_MIN), Value::Int(tv::I16_MIN.into()));
    t("U32", "plc", format!("holding: {}, type: u32", addr::HR_TEST_U32), Value::UInt(tv::U32.into()));
    t("I32", "plc", format!("holding: {}, type: i32", addr::HR_TEST_I32), Value::Int(tv::I32.into()));
    t("U64", "plc", format!("holding: {}, type: u64", addr::HR_TEST_U64), Value::UInt(tv::U64));
    t("I64", "plc", format!("holding: {}, type: i64", addr::HR_TEST_I64), Value::Int(tv::I64));
    t("F32", "plc", format!("holding: {}, type: f32", addr::HR_TEST_F32), Value::Float(tv::F32.into()));
    t("F64", "plc", format!("holding: {}, type: f64", addr::HR_TEST_F64), Value::Float(tv::F64));
    t("BCD16", "plc", format!("holding: {}, type: bcd16", addr::HR_TEST_BCD16), Value::UInt(tv::BCD16.into()));
    t("BCD32", "plc", format!("holding: {}, type: bcd32", addr::HR_TEST_BCD32), Value::UInt(tv::BCD32.into()));
    let s = |a: u16| format!("holding: {a}, type: string, length: 10");
    t("STR", "plc", s(addr::HR_TEST_STRING), Value::Text(tv::STRING.into()));
    t("STR_PAD", "plc", s(addr::HR_TEST_STRING_PADDED), Value::Text(tv::STRING_PADDED.into()));
    // Every 32/64-bit type in every byte order, as a per-tag override.
    for (i, order) in ORDERS.iter().enumerate() {
        let o = |ty: &str, at: [u16; 4]| format!("holding: {}, type: {ty}, byte_order: {order}", at[i]);
        t(&format!("U32_{order}"), "plc", o("u32", addr::HR_ORDERS_U32), Value::UInt(tv::U32.into()));
        t(&format!("I32_{order}"), "plc", o("i32", addr::HR_ORDERS_I32), Value::Int(tv::I32.into()));
        t(&format!("F32_{order}"), "plc", o("f32", addr::HR_ORDERS_F32), Value::Float(tv::F32.into()));
        t(&format!("BCD32_{order}"), "plc", o("bcd32", addr::HR_ORDERS_BCD32), Value::UInt(tv::BCD32.into()));
        t(&format!("U64_{order}"), "plc", o("u64", addr::HR_ORDERS_U64), Value::UInt(tv::U64));
        t(&format!("I64_{order}"), "plc", o("i64", addr::HR_ORDERS_I64), Value::Int(tv::I64));
        t(&format!("F64_{order}"), "plc", o("f64", addr::HR_ORDERS_F64), Value::Float(tv::F64));
    }
    // The connection's byte order is the default; 16-bit values and strings ignore it.
    t("CW_U32", "cdab", format!("holding: {}, type: u32", addr::HR_ORDERS_U32[1]), Value::UInt(tv::U32.into()));
    let f64_cdab = format!("holding: {}, type: f64", addr::HR_ORDERS_F64[1]);
    t("CW_F64", "cdab", f64_cdab, Value::Float(tv::F64));
    let u32_abcd = format!("holding: {}, type: u32, byte_order: ABCD", addr::HR_ORDERS_U32[0]);
    t("CW_U32_OVERRIDE", "cdab", u32_abcd, Value::UInt(tv::U32.into()));
    t("CW_I16", "cdab", format!("holding: {}, type: i16", addr::HR_TEST_I16), Value::Int(tv::I16.into()));
    t("CW_STR", "cdab", s(addr::HR_TEST_STRING), Value::Text(tv::STRING.into()));
    t("LE_I64", "dcba", format!("holding: {}, type: i64", addr::HR_ORDERS_I64[3]), Value::Int(tv::I64));
    t("LE_BCD32", "dcba", format!("holding: {}, type: bcd32", addr::HR_ORDERS_BCD32[3]), Value::UInt(12_345_678));
    t("LE_U16", "dcba", format!("holding: {}", addr::HR_TEST_U16), Value::UInt(tv::U16.into()));
    t("LE_BCD16", "dcba", format!("holding: {}, type: bcd16", addr::HR_TEST_BCD16), Value::UInt(tv::BCD16.into()));
    t("LE_STR", "dcba", s(addr::HR_TEST_STRING_PADDED), Value::Text(tv::STRING_PADDED.into()));
    // Bits: coils, discrete inputs, bits of a register.
    for (a, on) in coils.iter().enumerate() {
        t(&format!("COIL_{a}"), "plc", format!("coil: {a}"), Value::Bool(*on));
    }
    t("DI_ON", "plc", format!("discrete: {}", addr::DI_ALWAYS_ON), Value::Bool(true));
    t("DI_OFF", "plc", format!("discrete: {}", addr::DI_ALWAYS_OFF), Value::Bool(false));
    t("DI_BULK_0", "plc", "discrete: 1000".into(), Value::Bool(true));
    t("DI_BULK_1", "plc", "discrete: 1001".into(), Value::Bool(false));
    t("DI_BULK_3", "plc", "discrete: 1003".into(), Value::Bool(true));
    t("FAULT_ESTOP", "plc", format!("holding: {}, bit: 5", addr::HR_FAULT_WORD), Value::Bool(true));
    t("FAULT_PUMP1", "plc", format!("holding: {}, bit: 3", addr::HR_FAULT_WORD), Value::Bool(false));
    t("IR_FAULT_ESTOP", "plc", format!("input: {}, bit: 5", addr::IR_FAULT_WORD), Value::Bool(true));
    // Input registers, raw, float and scaled.
    let level = format!("input: {}, type: u16, scale: {{ raw: [0, 1000], eu: [0, 100] }}", addr::IR_TANK1_LEVEL_X10);
    t("LEVEL", "plc", level, Value::Float(f64::from(level_raw) * 100.0 / 1000.0));
    t("LEVEL_RAW", "plc", format!("input: {}", addr::IR_TANK1_LEVEL_X10), Value::UInt(level_raw.into()));
    t("LEVEL_F32", "plc", format!("input: {}, type: f32", addr::IR_TANK1_LEVEL_F32), Value::Float(level_f32.into()));
    let inverted = format!("holding: {}, type: i16, scale: {{ raw: [0, -1000], eu: [100, 0] }}", addr::HR_TEST_I16);
    t("SCALED_I16", "plc", inverted, Value::Float(100.0 - 123.4));

    let port = sim.modbus_addr.port();
    let mut src = LayoutSrc::default()
        .conn("plc", port, "timeout: 500ms, poll: 50ms")
        .conn("cdab", port, "timeout: 500ms, poll: 50ms, byte_order: CDAB")
        .conn("dcba", port, "timeout: 500ms, poll: 50ms, byte_order: DCBA");
    for (name, conn, spec, _) in &expect {
        src = src.tag(name, conn, spec);
    }
    let mut h = Harness::start(&src.build());
    h.wait_for(Duration::from_secs(3), "every tag Good", View::all_good).await;

    let mut wrong = vec![];
    for (name, _, spec, want) in &expect {
        let got = h.view.value(name);
        let same = match (got, want) {
            (Some(Value::Float(g)), Value::Float(w)) => (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            (g, w) => g == Some(w),
        };
        if !same {
            wrong.push(format!("{name} ({spec}): got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} tags decoded wrong:\n{}", wrong.len(), expect.len(), wrong.join("\n"));
    h.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Server stopped and restarted

#[tokio::test]
async fn server_stop_makes_tags_bad_and_a_restart_makes_them_good_without_restarting_the_driver() {
    let sim = frozen_sim().await;
    let bound = sim.modbus_addr;
    let timeout = ms(300);
    let src = LayoutSrc::default()
        .conn("plc", bound.port(), "timeout: 300ms, poll: 50ms")
        .tag("U16", "plc", "holding: 200")
        .tag("F32", "plc", "holding: 216, type: f32")
        .tag("RUN", "plc", "coil: 8")
        .build();
    let names = ["U16", "F32", "RUN"];
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(3), "every tag Good and connected", |v| {
        v.all_good() && v.state(0) == Some(&ConnectionState::Connected)
    })
    .await;
    let last: Vec<Value> = names.iter().map(|n| h.view.value(n).expect("Good has a value").clone()).collect();
    assert_eq!(last[0], Value::UInt(test_values::U16.into()));

    let mark = h.view.states.len();
    let t0 = Instant::now();
    sim.stop().await;
    h.wait_until(t0 + timeout + ms(700), "Bad(not connected: why) and Disconnected after the server stopped", |v| {
        names.iter().all(|n| v.is_down(n, &[])) && !v.disconnects_since(mark).is_empty()
    })
    .await;
    for (n, want) in names.iter().zip(&last) {
        assert_eq!(h.view.value(n), Some(want), "{n}: the last value stays visible, marked Bad");
    }
    for reason in h.view.disconnects_since(mark) {
        assert!(!reason.trim().is_empty(), "a Disconnected state says why");
    }
    assert!(!h.view.states[mark..].iter().any(|(_, s)| s.is_connected()), "nobody listens, yet Connected");

    // The PLC comes back on the same address: the same driver task recovers.
    let mark = h.view.states.len();
    let sim = start_sim(bound).await;
    h.wait_for(Duration::from_secs(5), "every tag Good again after the restart", |v| {
        v.all_good() && v.states[mark..].iter().any(|(_, s)| s.is_connected())
    })
    .await;
    h.assert_running();
    assert!(sim.request_count() > 0, "the restarted server was read");
    for (n, want) in names.iter().zip(&last) {
        assert_eq!(h.view.value(n), Some(want), "{n} after the restart");
    }
    h.shutdown().await;
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Exception 02 isolation

#[tokio::test]
async fn exception_02_marks_only_the_tags_on_holes_and_the_split_is_remembered() {
    let sim = frozen_sim().await;
    let mut src = LayoutSrc::default().conn("plc", sim.modbus_addr.port(), "timeout: 300ms, poll: 20ms, max_gap: 16");
    for a in addr::HR_HOLES_AREA {
        src = src.tag(&format!("H{a}"), "plc", &format!("holding: {a}"));
    }
    let mut h = Harness::start(&src.build());
    let holes = addr::HR_HOLES;
    let area = addr::HR_HOLES_AREA;
    let illegal = bad(Reason::Exception(2));
    h.wait_for(Duration::from_secs(3), "holes Bad(Exception(2)), the rest Good", |v| {
        area.clone().all(|a| {
            let n = format!("H{a}");
            if holes.contains(&a) { v.is(&n, &illegal) } else { v.quality(&n).is_good() }
        })
    })
    .await;
    for a in addr::HR_HOLES_AREA {
        let n = format!("H{a}");
        if holes.contains(&a) {
            assert_eq!(h.view.value(&n), None, "{n}: never read");
            assert_eq!(h.view.quality(&n).to_string(), "bad: exception 02: illegal data address");
            assert_eq!(h.view.goods(&n), 0, "{n} was never Good");
        } else {
            assert_eq!(h.view.value(&n), Some(&Value::UInt(a.into())), "{n}: value = its address");
            assert_eq!(h.view.not_goods(&n), 0, "{n} was never Bad: only hole tags go Bad");
        }
    }

    // The plan: one block at first, split so that each hole is a block of its own.
    let first = &h.view.plans.first().expect("a Plan").1;
    assert_eq!(first.len(), 1, "20 contiguous registers are one request: {first:?}");
    assert_eq!((first[0].start, first[0].count, first[0].tags), (600, 20, 20));
    let last = h.view.plans.last().expect("a Plan").1.clone();
    assert!(last.len() > first.len(), "the split shows in a Plan: {last:?}");
    assert_eq!(last.iter().map(|b| b.tags).sum::<usize>(), 20, "every tag still planned: {last:?}");
    for b in &last {
        let end = b.start + b.count;
        let has_hole = holes.iter().any(|&x| (b.start..end).contains(&x));
        assert!(!has_hole || b.count == 1, "a block reading a hole together with good registers: {b:?}");
    }

    // The split is remembered: no more Plans, and requests per scan stay constant over two
    // one-second windows (Stats come about once a second, the first one well after the split).
    let plans = h.view.plans.len();
    let mut marks = vec![];
    for _ in 0..3 {
        let stats = h.next_stats().await;
        marks.push((sim.request_count(), stats.scans));
    }
    let per_scan: Vec<f64> = marks
        .windows(2)
        .map(|w| {
            let (requests, scans) = (w[1].0 - w[0].0, w[1].1 - w[0].1);
            assert!(scans >= 5, "too few scans in a window to tell: {scans}");
            requests as f64 / scans as f64
        })
        .collect();
    for r in &per_scan {
        assert!((r - last.len() as f64).abs() < 0.5, "requests per scan {per_scan:?}, blocks {}", last.len());
    }
    assert_eq!(h.view.plans.len(), plans, "no more splitting after the holes were found");
    assert!(area.clone().all(|a| h.view.quality(&format!("H{a}")).is_good() != holes.contains(&a)));
    let (view, _) = h.shutdown().await;
    // The driver counts a request when its answer (or timeout) comes; one may have been in flight.
    let (driver, server) = (view.stats.last().expect("Stats on stop").1.requests, sim.request_count());
    assert!(server == driver || server == driver + 1, "requests: driver {driver}, server {server}");
}

#[tokio::test]
async fn a_hole_between_tags_does_not_make_them_bad() {
    let sim = frozen_sim().await;
    // 607 and 609 are bridged over the hole at 608; 611 and 614 over 612 and 613.
    let src = LayoutSrc::default()
        .conn("plc", sim.modbus_addr.port(), "timeout: 300ms, poll: 50ms, max_gap: 16")
        .tag("A", "plc", "holding: 607")
        .tag("B", "plc", "holding: 609")
        .tag("C", "plc", "holding: 611")
        .tag("D", "plc", "holding: 614")
        .build();
    let mut h = Harness::start(&src);
    assert!(h.view.plans.is_empty());
    h.wait_for(Duration::from_secs(3), "all Good", View::all_good).await;
    for (n, a) in [("A", 607u64), ("B", 609), ("C", 611), ("D", 614)] {
        assert_eq!(h.view.value(n), Some(&Value::UInt(a)));
        assert_eq!(h.view.not_goods(n), 0, "{n} never went Bad");
    }
    assert_eq!(h.view.plans.first().expect("a Plan").1.len(), 1, "bridged into one block at first");
    h.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 4. A full scan takes the minimum of requests

/// 1,000 contiguous u16 holding registers in the bulk area, one scan (the poll is long).
async fn full_scan(max_registers: u16, want_requests: u64) {
    let sim = frozen_sim().await;
    let keys = format!("timeout: 1s, poll: 30s, max_registers: {max_registers}");
    let mut src = LayoutSrc::default().conn("plc", sim.modbus_addr.port(), &keys);
    for a in 1000..2000 {
        src = src.tag(&format!("B{a}"), "plc", &format!("holding: {a}"));
    }
    let mut h = Harness::start(&src.build());
    h.wait_for(Duration::from_secs(5), "all 1000 tags Good", View::all_good).await;
    // The poll period is far away: what the server saw is exactly one scan.
    assert_eq!(sim.function_counts(), BTreeMap::from([(3u8, want_requests)]), "function code → requests");
    let plan = &h.view.plans.first().expect("a Plan").1;
    assert_eq!(plan.len() as u64, want_requests, "{plan:?}");
    assert!(plan.iter().all(|b| b.table == Table::Holding && b.count <= max_registers));
    assert_eq!(plan.iter().map(|b| b.count as u32).sum::<u32>(), 1000, "no register read twice");
    // bulk value = address ^ counter, with a frozen counter
    let counter = (1000..2000u16)
        .map(|a| match h.view.value(&format!("B{a}")) {
            Some(Value::UInt(v)) => *v as u16 ^ a,
            v => panic!("B{a} = {v:?}"),
        })
        .collect::<std::collections::BTreeSet<u16>>();
    assert_eq!(counter.len(), 1, "every bulk register is address ^ the same counter: {counter:?}");
    let (view, _) = h.shutdown().await;
    let stats = &view.stats.last().expect("Stats on stop").1;
    assert_eq!((stats.requests, stats.scans, stats.errors), (want_requests, 1, 0));
}

#[tokio::test]
async fn a_full_scan_of_1000_registers_takes_8_requests_of_125() {
    full_scan(125, 8).await;
}

#[tokio::test]
async fn a_full_scan_of_1000_registers_takes_10_requests_of_100() {
    full_scan(100, 10).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Timeouts and busy devices

#[tokio::test]
async fn a_silent_unit_times_out_while_unit_1_stays_good() {
    let sim = frozen_sim().await;
    let src = LayoutSrc::default()
        .conn("plc", sim.modbus_addr.port(), "timeout: 200ms, poll: 50ms")
        .tag("OK", "plc", "holding: 200")
        .tag("OK_COIL", "plc", "coil: 8")
        .tag("SILENT", "plc", &format!("holding: 200, unit: {SILENT_UNIT}"))
        .build();
    let mut h = Harness::start(&src);
    let t0 = h.started;
    let timeout = bad(Reason::Timeout);
    h.wait_until(t0 + ms(200) + ms(600), "SILENT Bad(Timeout) within the timeout", |v| v.is("SILENT", &timeout)).await;
    let goods = h.view.goods("OK");
    // Several more timeouts, with unit 1 read in between each time.
    h.wait_for(Duration::from_secs(3), "3 more timeouts and fresh Good reads on unit 1", |v| {
        v.not_goods("SILENT") >= 4 && v.goods("OK") >= goods + 3 && v.goods("OK_COIL") >= 3
    })
    .await;
    assert!(h.view.quality("OK").is_good() && h.view.quality("OK_COIL").is_good(), "{}", h.view.summary());
    assert_eq!(h.view.value("OK"), Some(&Value::UInt(test_values::U16.into())));
    assert_eq!(h.view.goods("SILENT"), 0);
    assert_eq!(h.view.value("SILENT"), None);
    // A silent unit is not a dead connection: unit 1 answers in between, so no reconnect.
    let reasons = h.view.disconnects_since(0);
    assert!(reasons.is_empty(), "the connection stayed up: {reasons:?}");
    h.assert_running();
    h.shutdown().await;
}

/// A device that ignores one kind of request: the block it ignores goes Bad(timeout) every
/// round, its other blocks (same unit) keep being read, and the connection stays up.
#[tokio::test]
async fn a_block_the_device_ignores_does_not_starve_its_neighbours() {
    let server = raw_server(Misbehave::IgnoreCoils).await;
    let src = LayoutSrc::default()
        .conn("plc", server.addr.port(), "timeout: 150ms, poll: 50ms")
        .tag("REG", "plc", "holding: 0")
        .tag("COIL", "plc", "coil: 0")
        .tag("COIL2", "plc", "coil: 100")
        .build();
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(3), "REG Good, both coils Bad(timeout)", |v| {
        v.quality("REG").is_good() && v.is("COIL", &bad(Reason::Timeout)) && v.is("COIL2", &bad(Reason::Timeout))
    })
    .await;
    let reads = h.view.received("REG");
    h.wait_for(Duration::from_secs(5), "REG read 8 more times meanwhile", |v| v.received("REG") >= reads + 8).await;
    assert!(h.view.quality("REG").is_good(), "{}", h.view.summary());
    assert_eq!(h.view.disconnects_since(0), Vec::<&str>::new(), "the register reads keep the connection up");
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn three_timeouts_in_a_row_drop_the_connection_with_a_reason() {
    let sim = frozen_sim().await;
    let src = LayoutSrc::default()
        .conn("plc", sim.modbus_addr.port(), "timeout: 200ms, poll: 50ms")
        .tag("SILENT", "plc", &format!("holding: 200, unit: {SILENT_UNIT}"))
        .build();
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(3), "a reconnect after three timeouts", |v| !v.disconnects_since(0).is_empty())
        .await;
    let reasons = h.view.disconnects_since(0);
    assert!(reasons[0].contains("200ms") && reasons[0].contains("3 requests in a row"), "{reasons:?}");
    h.assert_running();
    h.shutdown().await;
}

#[tokio::test]
async fn a_busy_unit_is_exception_06_and_the_connection_stays_up() {
    let sim = frozen_sim().await;
    let src = LayoutSrc::default()
        .conn("plc", sim.modbus_addr.port(), "timeout: 300ms, poll: 50ms")
        .tag("OK", "plc", "holding: 200")
        .tag("BUSY", "plc", &format!("holding: 200, unit: {BUSY_UNIT}"))
        .build();
    let mut h = Harness::start(&src);
    let busy = bad(Reason::Exception(6));
    h.wait_for(Duration::from_secs(2), "BUSY Bad(Exception(6)) several times, OK Good", |v| {
        v.not_goods("BUSY") >= 3 && v.quality("BUSY") == &busy && v.quality("OK").is_good()
    })
    .await;
    let shown = h.view.quality("BUSY").to_string();
    assert!(shown.contains("server device busy"), "{shown}");
    assert_eq!(h.view.not_goods("OK"), 0, "unit 1 never went Bad");
    assert!(h.view.disconnects_since(0).is_empty(), "an exception is an answer, not a broken connection");
    h.shutdown().await;
}

#[tokio::test]
async fn a_silent_unit_does_not_starve_the_units_after_it() {
    let sim = frozen_sim().await;
    // Blocks are planned in unit order: 1, 248 (silent), 249 (busy), 255 (answers normally).
    let src = LayoutSrc::default()
        .conn("plc", sim.modbus_addr.port(), "timeout: 200ms, poll: 50ms")
        .tag("UNIT_1", "plc", "holding: 200")
        .tag("SILENT", "plc", &format!("holding: 200, unit: {SILENT_UNIT}"))
        .tag("BUSY", "plc", &format!("holding: 200, unit: {BUSY_UNIT}"))
        .tag("UNIT_255", "plc", "holding: 200, unit: 255")
        .build();
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(3), "every unit read: Good, Timeout, Exception(6), Good", |v| {
        v.quality("UNIT_1").is_good()
            && v.is("SILENT", &bad(Reason::Timeout))
            && v.is("BUSY", &bad(Reason::Exception(6)))
            && v.quality("UNIT_255").is_good()
    })
    .await;
    h.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Connection refused

#[tokio::test]
async fn a_refused_connection_marks_tags_bad_and_is_retried() {
    let port = closed_port().await;
    let src = LayoutSrc::default()
        .conn("plc", port, "timeout: 300ms, poll: 50ms")
        .tag("A", "plc", "holding: 0")
        .tag("B", "plc", "coil: 0")
        .build();
    let mut h = Harness::start(&src);
    // The tags say why (issue 12 A.5: they said only "not connected").
    let refused = ["connection refused", &port.to_string()];
    h.wait_for(Duration::from_secs(1), "tags Bad(not connected: connection refused) and Disconnected", |v| {
        v.is_down("A", &refused) && v.is_down("B", &refused) && !v.disconnects_since(0).is_empty()
    })
    .await;
    let reason = h.view.disconnects_since(0)[0].to_string();
    assert!(reason.to_lowercase().contains("refused"), "the reason says the connection was refused: {reason}");
    assert!(reason.contains(&port.to_string()), "the reason says where: {reason}");
    h.wait_for(Duration::from_secs(3), "a second attempt", |v| {
        v.disconnects_since(0).len() >= 2
            && v.states.iter().filter(|(_, s)| *s == ConnectionState::Connecting).count() >= 2
    })
    .await;
    assert!(!h.view.states.iter().any(|(_, s)| s.is_connected()));
    assert_eq!((h.view.goods("A"), h.view.value("A")), (0, None));
    h.assert_running();
    h.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 7. Servers that misbehave

#[derive(Clone, Copy, Debug)]
enum Misbehave {
    /// Reads a request, writes the first 5 bytes of the answer, closes.
    Truncate,
    /// Reads a request, writes something that is not Modbus, closes.
    Garbage,
    /// Answers correctly but with the transaction id of another request.
    WrongTransactionId,
    /// Answers with one register less than asked for.
    ShortResponse,
    /// Answers register reads; never answers a coil read (as devices that ignore a function
    /// they do not support).
    IgnoreCoils,
}

struct RawServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn raw_server(how: Misbehave) -> RawServer {
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            conns.spawn(serve_raw(stream, how));
        }
    });
    RawServer { addr, accepted, task }
}

/// One request ADU: transaction id, unit, PDU.
async fn read_request(s: &mut TcpStream) -> Option<(u16, u8, Vec<u8>)> {
    let mut hdr = [0u8; 7];
    s.read_exact(&mut hdr).await.ok()?;
    let len = usize::from(u16::from_be_bytes([hdr[4], hdr[5]]));
    let mut pdu = vec![0; len.checked_sub(1)?];
    s.read_exact(&mut pdu).await.ok()?;
    Some((u16::from_be_bytes([hdr[0], hdr[1]]), hdr[6], pdu))
}

/// A read-registers answer carrying `n` registers 7, 8, 9, ...
fn registers_answer(tid: u16, unit: u8, fc: u8, n: u16) -> Vec<u8> {
    let mut pdu = vec![fc, (n * 2) as u8];
    for i in 0..n {
        pdu.extend_from_slice(&(i + 7).to_be_bytes());
    }
    let mut adu = tid.to_be_bytes().to_vec();
    adu.extend_from_slice(&[0, 0]);
    adu.extend_from_slice(&(pdu.len() as u16 + 1).to_be_bytes());
    adu.push(unit);
    adu.extend(pdu);
    adu
}

async fn serve_raw(mut s: TcpStream, how: Misbehave) {
    while let Some((tid, unit, pdu)) = read_request(&mut s).await {
        let (Some(&fc), Some(qty)) = (pdu.first(), pdu.get(3..5).map(|q| u16::from_be_bytes([q[0], q[1]]))) else {
            return;
        };
        if matches!(how, Misbehave::IgnoreCoils) && fc == 0x01 {
            continue;
        }
        let answer = match how {
            Misbehave::Truncate => registers_answer(tid, unit, fc, qty)[..5].to_vec(),
            Misbehave::Garbage => b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
            Misbehave::WrongTransactionId => registers_answer(tid.wrapping_add(1), unit, fc, qty),
            Misbehave::ShortResponse => registers_answer(tid, unit, fc, qty.saturating_sub(1)),
            Misbehave::IgnoreCoils => registers_answer(tid, unit, fc, qty),
        };
        if s.write_all(&answer).await.is_err() {
            return;
        }
        if matches!(how, Misbehave::Truncate | Misbehave::Garbage) {
            return; // and close
        }
    }
}

/// Two u16 tags in one block (holding 0 and 1) against a misbehaving server: the tags go Bad,
/// the connection is Disconnected with a reason, and the driver connects again.
async fn misbehaving_server_breaks_the_connection(how: Misbehave) {
    let server = raw_server(how).await;
    let src = LayoutSrc::default()
        .conn("plc", server.addr.port(), "timeout: 300ms, poll: 50ms")
        .tag("A", "plc", "holding: 0")
        .tag("B", "plc", "holding: 1")
        .build();
    let mut h = Harness::start(&src);
    let accepted = Arc::clone(&server.accepted);
    h.wait_for(Duration::from_secs(3), "tags Bad, Disconnected, and a second connection", |v| {
        ["A", "B"].iter().all(|n| v.not_goods(n) > 0 && !v.quality(n).is_good())
            && !v.disconnects_since(0).is_empty()
            && accepted.load(Ordering::SeqCst) >= 2
    })
    .await;
    for n in ["A", "B"] {
        assert_eq!(h.view.goods(n), 0, "{how:?}: {n} was never Good");
        let q = h.view.quality(n);
        assert!(matches!(q, Quality::Bad(Reason::Disconnected(_) | Reason::Timeout | Reason::Decode(_))), "{n}: {q}");
    }
    let reasons = h.view.disconnects_since(0);
    assert!(reasons.iter().all(|r| !r.trim().is_empty()), "{how:?}: reasons {reasons:?}");
    h.assert_running();
    h.shutdown().await;
}

#[tokio::test]
async fn a_server_that_drops_mid_response_breaks_the_connection_and_it_is_retried() {
    misbehaving_server_breaks_the_connection(Misbehave::Truncate).await;
}

#[tokio::test]
async fn a_server_that_answers_garbage_breaks_the_connection_and_it_is_retried() {
    misbehaving_server_breaks_the_connection(Misbehave::Garbage).await;
}

#[tokio::test]
async fn a_wrong_transaction_id_breaks_the_connection_and_it_is_retried() {
    misbehaving_server_breaks_the_connection(Misbehave::WrongTransactionId).await;
}

#[tokio::test]
async fn a_response_with_fewer_registers_than_asked_marks_the_missing_tags_bad() {
    let server = raw_server(Misbehave::ShortResponse).await;
    let src = LayoutSrc::default()
        .conn("plc", server.addr.port(), "timeout: 300ms, poll: 50ms")
        .tag("A", "plc", "holding: 0")
        .tag("B", "plc", "holding: 1")
        .build();
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(2), "B Bad (Decode or NotConnected), several times", |v| {
        v.not_goods("B") >= 3 && matches!(v.quality("B"), Quality::Bad(Reason::Decode(_) | Reason::Disconnected(_)))
    })
    .await;
    assert_eq!(h.view.goods("B"), 0, "B was never in the answer");
    if let Some(v) = h.view.value("A") {
        assert_eq!(v, &Value::UInt(7), "A, when read, is the one register sent");
    }
    h.assert_running();
    h.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 8. Shutdown

#[tokio::test]
async fn shutdown_while_polling_stops_promptly_and_leaves_tags_not_connected() {
    let sim = frozen_sim().await;
    let src = LayoutSrc::default()
        .conn("plc", sim.modbus_addr.port(), "timeout: 300ms, poll: 50ms")
        .tag("A", "plc", "holding: 200")
        .build();
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(2), "A Good", View::all_good).await;
    let (view, took) = h.shutdown().await;
    assert!(took < ms(500), "stopping took {took:?}");
    assert_eq!(view.states.last().map(|(_, s)| s), Some(&ConnectionState::Stopped), "Stopped is the last state");
    assert_eq!(view.quality("A"), &bad(Reason::NotConnected), "a stopped driver's tags are not Good");
    assert_eq!(view.value("A"), Some(&Value::UInt(test_values::U16.into())), "last value kept");
    assert!(view.stats.last().is_some_and(|(_, s)| s.requests > 0), "final Stats sent");
}

#[tokio::test]
async fn shutdown_during_an_unanswered_request_does_not_wait_for_the_timeout() {
    let sim = frozen_sim().await;
    let src = LayoutSrc::default()
        .conn("plc", sim.modbus_addr.port(), "timeout: 10s, poll: 50ms")
        .tag("OK", "plc", "holding: 200")
        .tag("SILENT", "plc", &format!("holding: 200, unit: {SILENT_UNIT}"))
        .build();
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(2), "OK Good, and the silent request sent", |_| {
        sim.function_counts().get(&3).copied().unwrap_or(0) >= 2
    })
    .await;
    let (_, took) = h.shutdown().await;
    assert!(took < ms(500), "stopping took {took:?}; the request's timeout is 10 s");
}

#[tokio::test]
async fn shutdown_while_backing_off_stops_promptly() {
    let port = closed_port().await;
    let src =
        LayoutSrc::default().conn("plc", port, "timeout: 300ms, poll: 50ms").tag("A", "plc", "holding: 0").build();
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(3), "three refused attempts", |v| v.disconnects_since(0).len() >= 3).await;
    let (view, took) = h.shutdown().await;
    assert!(took < ms(300), "stopping took {took:?}: the backoff wait is not interrupted");
    assert_eq!(view.states.last().map(|(_, s)| s), Some(&ConnectionState::Stopped));
}

// ---------------------------------------------------------------------------------------------
// 9. Unchanged reads

#[tokio::test]
async fn unchanged_reads_are_fresh_events_and_a_change_is_delivered() {
    let sim = frozen_sim().await;
    let src = LayoutSrc::default()
        .conn("plc", sim.modbus_addr.port(), "timeout: 300ms, poll: 20ms")
        .tag("S0", "plc", "holding: 500")
        .tag("S1", "plc", "holding: 501")
        .build();
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(2), "both Good", View::all_good).await;
    let samples_before = h.view.sample_events;
    h.wait_for(Duration::from_secs(2), "two Fresh events", |v| v.fresh_events >= 2).await;
    assert_eq!(h.view.sample_events, samples_before, "unchanged words are not decoded and sent again");
    let before = h.view.sample("S1").recv_ts;
    h.wait_for(Duration::from_secs(2), "S1's receive time moves on", |v| v.sample("S1").recv_ts > before).await;

    // A write from another client changes one register: the block is delivered again.
    let stream = tokio::net::TcpStream::connect(sim.modbus_addr).await.unwrap();
    let mut ctx = tokio_modbus::client::tcp::attach(stream);
    use tokio_modbus::client::Writer;
    ctx.write_single_register(501, 4242).await.unwrap().unwrap();
    h.wait_for(Duration::from_secs(2), "S1 = 4242", |v| v.value("S1") == Some(&Value::UInt(4242))).await;
    assert!(h.view.sample_events > samples_before);
    assert_eq!(h.view.value("S0"), Some(&Value::UInt(0)));
    let stats = h.shutdown().await.0.stats.last().map(|(_, s)| s.clone()).unwrap();
    assert!(stats.unchanged > 0 && stats.unchanged < stats.requests, "{stats:?}");
}

/// A serial-to-Ethernet gateway in transparent mode: RTU frames (unit id, PDU, CRC) over TCP.
/// The same planner, codec and quality model as Modbus TCP; the simulator serves RTU over TCP from
/// the same registers.
#[tokio::test]
async fn rtu_over_tcp_reads_every_kind_and_recovers_after_the_gateway_restarts() {
    let opts = SimOptions { step: None, opcua_port: None, rtu_over_tcp: Some(loopback()), ..SimOptions::default() };
    let sim = sim::start_with(loopback(), opts.clone()).await.expect("start the simulator");
    let gw = sim.rtu_over_tcp_addr.expect("served");
    use test_values as tv;
    let src = format!(
        "connections:\n  gw1: {{ modbus_rtu_over_tcp: {{ host: 127.0.0.1, port: {}, unit: 1 }}, timeout: 500ms, poll: 100ms }}\n\
         tags:\n\
         \x20 U16: {{ source: gw1, holding: {} }}\n\
         \x20 I32: {{ source: gw1, holding: {}, type: i32 }}\n\
         \x20 F64: {{ source: gw1, holding: {}, type: f64 }}\n\
         \x20 TEXT: {{ source: gw1, holding: {}, type: string, length: 10 }}\n\
         \x20 COIL: {{ source: gw1, coil: 0 }}\n",
        gw.port(),
        addr::HR_TEST_U16,
        addr::HR_TEST_I32,
        addr::HR_TEST_F64,
        addr::HR_TEST_STRING,
    );
    let mut h = Harness::start(&src);
    let want = [
        ("U16", Value::UInt(tv::U16.into())),
        ("I32", Value::Int(tv::I32.into())),
        ("F64", Value::Float(tv::F64)),
        ("TEXT", Value::Text(tv::STRING.into())),
    ];
    h.wait_for(Duration::from_secs(5), "every value Good over RTU over TCP", |v| {
        v.all_good() && want.iter().all(|(n, val)| v.value(n) == Some(val))
    })
    .await;
    sim.stop().await;
    h.wait_for(Duration::from_secs(5), "Bad while the gateway is gone", |v| v.is_down("U16", &[])).await;
    let sim = sim::start_with(loopback(), SimOptions { rtu_over_tcp: Some(gw), ..opts }).await.expect("restart");
    h.wait_for(Duration::from_secs(40), "Good again after the restart", |v| v.all_good()).await;
    sim.stop().await;
}
