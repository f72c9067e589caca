//! Modbus RTU on a serial line, end to end: the driver opens one end of a pseudo-terminal line
//! (through a symlink, as udev names adapters), the simulator serves units 1 and 2 on the other
//! end, and a relay in between damages answers on request or is unplugged.

use std::time::Duration;

use ttyhmi::driver::ConnectionState;
use ttyhmi::driver::modbus::serial;
use ttyhmi::layout::{self, ConnectionKind, ModbusLink};
use ttyhmi::sim::registers::{addr, test_values as tv};
use ttyhmi::sim::{self, SerialSim, SimHandle, SimOptions};
use ttyhmi::tag::{Quality, Reason, Value};

mod common;
use common::TempDir;
use common::driver::{Harness, View};
use common::serial_line::{Fault, Line};

/// The simulator (physics frozen) serving units 1 and 2 on the line's far end.
async fn sim_on(line: &Line) -> SimHandle {
    let port = SerialSim {
        path: line.sim_path().to_path_buf(),
        baud: 115_200,
        parity: layout::Parity::None,
        units: vec![1, 2],
    };
    let opts = SimOptions { step: None, opcua_port: None, rtu_serial: Some(port), ..SimOptions::default() };
    sim::start_with("127.0.0.1:0".parse().unwrap(), opts).await.expect("start the simulator")
}

/// Units 1 and 2 (every type, four tables), and `extra` tag lines.
fn layout_src(line: &Line, extra: &str) -> String {
    format!(
        "connections:\n\
         \x20 bus1:\n\
         \x20   modbus_rtu: {{ port: {}, baud: 115200, parity: none }}\n\
         \x20   unit: 1\n\
         \x20   turnaround: 5ms\n\
         \x20   timeout: 300ms\n\
         \x20   poll: 100ms\n\
         tags:\n\
         \x20 U16: {{ source: bus1, holding: {} }}\n\
         \x20 I16: {{ source: bus1, holding: {}, type: i16 }}\n\
         \x20 U32: {{ source: bus1, holding: {}, type: u32 }}\n\
         \x20 I64: {{ source: bus1, holding: {}, type: i64 }}\n\
         \x20 F32: {{ source: bus1, holding: {}, type: f32 }}\n\
         \x20 F64: {{ source: bus1, holding: {}, type: f64 }}\n\
         \x20 TEXT: {{ source: bus1, holding: {}, type: string, length: 10 }}\n\
         \x20 DI_ON: {{ source: bus1, discrete: {} }}\n\
         \x20 COIL: {{ source: bus1, coil: {} }}\n\
         \x20 U16_2: {{ source: bus1, unit: 2, holding: {} }}\n\
         \x20 F64_2: {{ source: bus1, unit: 2, holding: {}, type: f64 }}\n\
         {extra}",
        line.link.display(),
        addr::HR_TEST_U16,
        addr::HR_TEST_I16,
        addr::HR_TEST_U32,
        addr::HR_TEST_I64,
        addr::HR_TEST_F32,
        addr::HR_TEST_F64,
        addr::HR_TEST_STRING,
        addr::DI_ALWAYS_ON,
        addr::COIL_SCRATCH.start(),
        addr::HR_TEST_U16,
        addr::HR_TEST_F64,
    )
}

fn expected() -> Vec<(&'static str, Value)> {
    vec![
        ("U16", Value::UInt(tv::U16.into())),
        ("I16", Value::Int(tv::I16.into())),
        ("U32", Value::UInt(tv::U32.into())),
        ("I64", Value::Int(tv::I64)),
        ("F32", Value::Float(tv::F32.into())),
        ("F64", Value::Float(tv::F64)),
        ("TEXT", Value::Text(tv::STRING.into())),
        ("DI_ON", Value::Bool(true)),
        ("COIL", Value::Bool(false)),
        ("U16_2", Value::UInt(tv::U16.into())),
        ("F64_2", Value::Float(tv::F64)),
    ]
}

fn all_expected(v: &View) -> bool {
    expected().iter().all(|(n, val)| v.quality(n).is_good() && v.value(n) == Some(val))
}

fn frame_reason(v: &View) -> Option<String> {
    v.layout.tags.iter().find_map(|t| match v.quality(&t.name) {
        Quality::Bad(Reason::Frame(m)) => Some(m.clone()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_units_decode_every_type_and_a_silent_unit_does_not_hold_them_up() {
    let dir = TempDir::new("rtu-units");
    let line = Line::new(&dir.0);
    let sim = sim_on(&line).await;
    // Unit 9 is not on the bus: every request to it (two blocks) goes unanswered.
    let src = layout_src(
        &line,
        &format!(
            "  SILENT: {{ source: bus1, unit: 9, holding: {} }}\n  SILENT_COIL: {{ source: bus1, unit: 9, coil: 0 }}\n",
            addr::HR_TEST_U16
        ),
    );
    let l = layout::parse(&src, "rtu.yaml").expect("valid layout");
    let ConnectionKind::Modbus(m) = &l.connections[0].kind else { panic!("a Modbus connection") };
    assert!(matches!(m.link, ModbusLink::Serial(_)));
    let mut h = Harness::start(&src);
    h.wait_for(Duration::from_secs(10), "units 1 and 2 Good with every value, unit 9 timed out", |v| {
        all_expected(v) && v.is("SILENT", &Quality::Bad(Reason::Timeout))
    })
    .await;
    // Unit 1 keeps updating while unit 9 costs one 300 ms timeout a round, not one per block.
    let first = h.next_stats().await;
    let before = h.view.goods("U16");
    h.wait_for(Duration::from_secs(10), "10 more Good reads of unit 1", |v| v.goods("U16") >= before + 10).await;
    let last = h.next_stats().await;
    let (timeouts, scans) = (last.timeouts - first.timeouts, last.scans - first.scans);
    assert!(scans >= 3, "{scans} rounds");
    assert!(timeouts <= scans + 1, "{timeouts} timeouts in {scans} rounds: the silent unit cost more than one a round");
    assert!(h.view.is("SILENT_COIL", &Quality::Bad(Reason::Timeout)));
    assert_eq!(last.bad_frames, 0, "a clean line: {last:?}");
    assert_eq!(h.view.disconnects_since(0), Vec::<&str>::new(), "a silent unit does not reopen the port");
    // The port is the driver's alone while it runs.
    let ModbusLink::Serial(port) = &m.link else { unreachable!() };
    let busy = serial::open(port).expect_err("a second open of the same port");
    assert!(busy.contains("busy"), "{busy}");
    h.shutdown().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_answers_mark_their_block_bad_by_name_and_the_line_carries_on() {
    let dir = TempDir::new("rtu-faults");
    let line = Line::new(&dir.0);
    let sim = sim_on(&line).await;
    let mut h = Harness::start(&layout_src(&line, ""));
    h.wait_for(Duration::from_secs(10), "every value Good", all_expected).await;
    let cases: [(Fault, &str); 3] = [
        (Fault::FlipLastByte, "CRC error"),
        (Fault::Truncate, "truncated frame"),
        (Fault::UnitId(7), "answer from unit 7, asked unit"),
    ];
    for (fault, named) in cases {
        line.inject(&[fault]);
        h.wait_for(Duration::from_secs(5), &format!("a tag Bad with `{named}` after {fault:?}"), |v| {
            frame_reason(v).is_some_and(|m| m.starts_with(named))
        })
        .await;
        h.wait_for(Duration::from_secs(5), &format!("every value Good again after {fault:?}"), all_expected).await;
    }
    // Noise before an answer: skipped, the answer (its CRC good) is taken.
    let goods = h.view.goods("U16") + h.view.goods("U16_2");
    line.inject(&[Fault::NoiseBefore(&[0x00, 0xFF, 0x13]); 4]);
    h.wait_for(Duration::from_secs(5), "the noisy answers used up", |v| {
        line.pending_faults() == 0 && v.goods("U16") + v.goods("U16_2") > goods + 2
    })
    .await;
    let stats = h.next_stats().await;
    assert_eq!(stats.bad_frames, 3, "one bad frame per damaged answer, none for noise before a good one: {stats:?}");
    assert!(all_expected(&h.view), "{}", h.view.summary());
    assert_eq!(h.view.disconnects_since(0), Vec::<&str>::new(), "damaged answers do not reopen the port");
    h.shutdown().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_adapter_is_reported_and_reopened_when_it_comes_back() {
    let dir = TempDir::new("rtu-unplug");
    let mut line = Line::new(&dir.0);
    let sim = sim_on(&line).await;
    let mut h = Harness::start(&layout_src(&line, ""));
    h.wait_for(Duration::from_secs(10), "every value Good", all_expected).await;
    let from = h.view.states.len();
    line.unplug();
    h.wait_for(Duration::from_secs(10), "Disconnected: the port does not exist; tags Bad", |v| {
        v.disconnects_since(from).iter().any(|r| r.contains("does not exist")) && v.is_down("U16", &["does not exist"])
    })
    .await;
    // Last values are kept while Bad.
    assert_eq!(h.view.value("U16"), Some(&Value::UInt(tv::U16.into())));
    line.plug_in();
    h.wait_for(Duration::from_secs(40), "Good again on the re-plugged port", all_expected).await;
    assert!(matches!(h.view.state(0), Some(ConnectionState::Connected)));
    h.shutdown().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_port_that_is_missing_or_not_a_serial_port_is_named_as_such() {
    let dir = TempDir::new("rtu-not-a-port");
    let file = dir.0.join("plain-file");
    std::fs::write(&file, b"").unwrap();
    let line = |port: &std::path::Path| layout::SerialLine {
        port: port.to_path_buf(),
        baud: 19_200,
        parity: layout::Parity::Even,
        data_bits: 8,
        stop_bits: 1,
        turnaround: Duration::from_millis(20),
    };
    let missing = serial::open(&line(&dir.0.join("ttyUSB9"))).expect_err("missing");
    assert!(missing.contains("does not exist") && missing.contains("ttyUSB9"), "{missing}");
    for not_a_port in [file.as_path(), dir.0.as_path(), std::path::Path::new("/dev/null")] {
        let e = serial::open(&line(not_a_port)).expect_err("not a serial port");
        assert!(e.contains("is not a serial port"), "{}: {e}", not_a_port.display());
    }
}
