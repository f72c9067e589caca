//! Modbus writes at driver level, against the simulated plant (which counts function codes):
//! every kind of point is written with the right function code and read back; a value that does
//! not fit has no write plan, and a plan made for another tag definition is refused, so nothing is
//! sent; a write while the connection is down is refused at once and nothing is sent later when it
//! comes back. Writes over a serial line (RTU) too. The registers written are the plan's words,
//! for every type and byte order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use ttyhmi::driver::modbus::poller::{ModbusJob, run};
use ttyhmi::driver::plan::{self, ModbusOp, PlanError, Wire, WritePlan};
use ttyhmi::driver::{DriverEvent, NotSent, WriteCommand, WriteDone, WriteError};
use ttyhmi::layout::{self, ConnId};
use ttyhmi::sim::{self, SimHandle, SimOptions};
use ttyhmi::tag::Value;

mod common;

const WRITE_FCS: [u8; 5] = [0x05, 0x06, 0x0F, 0x10, 0x16];

async fn sim_at(addr: SocketAddr) -> SimHandle {
    sim::start_with(addr, SimOptions { step: None, opcua_port: None, ..SimOptions::default() }).await.unwrap()
}

fn writes(s: &SimHandle) -> u64 {
    let c = s.function_counts();
    WRITE_FCS.iter().map(|f| c.get(f).copied().unwrap_or(0)).sum()
}

/// The tags of most tests.
const TAGS: &str = "  U16: { source: plc, holding: 500 }
  I16: { source: plc, holding: 501, type: i16 }
  F32: { source: plc, holding: 502, type: f32 }
  F64: { source: plc, holding: 504, type: f64, byte_order: DCBA }
  SCALED: { source: plc, holding: 508, type: u16, scale: { raw: [0, 1000], eu: [0, 100] } }
  BIT: { source: plc, holding: 509, bit: 5 }
  COIL: { source: plc, coil: 16 }
";

struct Driver {
    wtx: mpsc::Sender<WriteCommand>,
    events: mpsc::Receiver<DriverEvent>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    layout: layout::Layout,
}

impl Driver {
    fn start(port: u16, extra: &str) -> Driver {
        Self::start_on(&format!("modbus_tcp: {{ host: 127.0.0.1, port: {port} }}, timeout: 300ms, poll: 50ms{extra}"))
    }

    /// [`TAGS`] on a connection with `keys`.
    fn start_on(keys: &str) -> Driver {
        Self::start_with_tags(keys, TAGS)
    }

    /// `tags` (lines of a layout's `tags:`) on a connection with `keys`.
    fn start_with_tags(keys: &str, tags: &str) -> Driver {
        let src = format!("connections:\n  plc: {{ {keys} }}\ntags:\n{tags}");
        let layout = layout::parse(&src, "w.yaml").unwrap_or_else(|e| panic!("{e}"));
        let job = ModbusJob::from_layout(&layout, ConnId(0)).unwrap();
        let (tx, events) = mpsc::channel(1024);
        let (stop, stop_rx) = watch::channel(false);
        let (wtx, wrx) = mpsc::channel(1);
        let inbox = Some(Arc::new(tokio::sync::Mutex::new(wrx)));
        let task = tokio::spawn(run(job, tx, stop_rx, inbox));
        Driver { wtx, events, stop, task, layout }
    }

    async fn until_connected(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(DriverEvent::State { state, .. })) if state.is_connected() => return,
                Ok(Some(_)) => {}
                _ => panic!("never connected"),
            }
        }
    }

    /// The plan of writing `value` to `tag` of this driver's layout.
    fn plan(&self, tag: &str, value: Value) -> Result<WritePlan, PlanError> {
        plan::plan(&self.layout, self.layout.tag_id(tag).unwrap(), &value, None)
    }

    async fn write(&mut self, tag: &str, value: Value) -> Result<WriteDone, WriteError> {
        let plan = self.plan(tag, value).unwrap_or_else(|e| panic!("{tag}: no plan: {e}"));
        self.send(plan).await
    }

    async fn send(&mut self, plan: WritePlan) -> Result<WriteDone, WriteError> {
        let (reply, rx) = oneshot::channel();
        let cmd = WriteCommand { plan, sent_at: std::time::Instant::now(), by: Default::default(), reply };
        self.wtx.send(cmd).await.unwrap();
        // Keep draining events so the driver never blocks on a full channel.
        let mut rx = rx;
        // A guard against a hang, not a speed check: a serial line on a loaded CI machine (the
        // whole suite on 2 cores) has taken over 5 s for a write and its read-back.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            tokio::select! {
                r = &mut rx => return r.unwrap(),
                _ = self.events.recv() => {}
            }
            assert!(Instant::now() < deadline, "no answer to the write");
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}

#[tokio::test]
async fn every_kind_of_point_is_written_with_its_function_code_and_read_back() {
    let sim = sim_at("127.0.0.1:0".parse().unwrap()).await;
    let mut d = Driver::start(sim.modbus_addr.port(), "");
    d.until_connected().await;
    write_every_kind(&mut d, &sim).await;
    d.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_point_is_written_over_a_serial_line() {
    let dir = common::TempDir::new("rtu-write");
    let line = common::serial_line::Line::new(&dir.0);
    let port = sim::SerialSim {
        path: line.sim_path().to_path_buf(),
        baud: 38_400,
        parity: layout::Parity::Odd,
        units: vec![1],
    };
    let opts = SimOptions { step: None, opcua_port: None, rtu_serial: Some(port), ..SimOptions::default() };
    let sim = sim::start_with("127.0.0.1:0".parse().unwrap(), opts).await.unwrap();
    let mut d = Driver::start_on(&format!(
        "modbus_rtu: {{ port: {}, baud: 38400, parity: odd }}, timeout: 300ms, poll: 50ms",
        line.link.display()
    ));
    d.until_connected().await;
    write_every_kind(&mut d, &sim).await;
    d.stop().await;
    sim.stop().await;
}

/// Writes every kind of point; each write is one request of its function code, and reads back.
async fn write_every_kind(d: &mut Driver, sim: &SimHandle) {
    let cases = [
        ("U16", Value::UInt(4242), 0x06, Value::UInt(4242)),
        ("I16", Value::Int(-7), 0x06, Value::Int(-7)),
        ("F32", Value::Float(3.25), 0x10, Value::Float(3.25)),
        ("F64", Value::Float(-1234.5), 0x10, Value::Float(-1234.5)),
        // 42.34 % is raw 423.4 → 423 → 42.3 %: the driver says what the device holds.
        ("SCALED", Value::Float(42.34), 0x06, Value::Float(42.3)),
        ("BIT", Value::Bool(true), 0x16, Value::Bool(true)),
        ("COIL", Value::Bool(true), 0x05, Value::Bool(true)),
        ("COIL", Value::Bool(false), 0x05, Value::Bool(false)),
    ];
    for (tag, value, fc, expected) in cases {
        let before = sim.function_counts();
        let done = d.write(tag, value.clone()).await.unwrap_or_else(|e| panic!("{tag}: {e}"));
        let after = sim.function_counts();
        assert_eq!(
            after.get(&fc).copied().unwrap_or(0),
            before.get(&fc).copied().unwrap_or(0) + 1,
            "{tag}: one FC{fc:02X}"
        );
        match (&done.expected, &expected) {
            (Value::Float(a), Value::Float(b)) => assert!((a - b).abs() < 1e-9, "{tag}: expected {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "{tag}"),
        }
        assert!(done.confirmed(), "{tag}: read back {:?} ≠ {:?}", done.readback, done.expected);
    }
    // The bit write changed only bit 5 of holding 509.
    let words = sim.with_device(|dev| dev.read_holding(509, 1).unwrap());
    assert_eq!(words[0], 1 << 5);
}

#[tokio::test]
async fn read_modify_write_when_mask_write_is_off() {
    let sim = sim_at("127.0.0.1:0".parse().unwrap()).await;
    let mut d = Driver::start(sim.modbus_addr.port(), ", mask_write: false");
    d.until_connected().await;
    let before = sim.function_counts();
    let done = d.write("BIT", Value::Bool(true)).await.unwrap();
    assert!(done.how.contains("read-modify-write"), "{}", done.how);
    assert!(done.confirmed());
    let after = sim.function_counts();
    assert_eq!(after.get(&0x16).copied().unwrap_or(0), before.get(&0x16).copied().unwrap_or(0), "no FC22");
    assert_eq!(after.get(&0x06).copied().unwrap_or(0), before.get(&0x06).copied().unwrap_or(0) + 1);
    d.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn values_that_do_not_fit_send_nothing() {
    let sim = sim_at("127.0.0.1:0".parse().unwrap()).await;
    let mut d = Driver::start(sim.modbus_addr.port(), "");
    d.until_connected().await;
    let before = writes(&sim);
    for (tag, v, why) in [
        ("U16", Value::UInt(70_000), "does not fit u16"),
        ("I16", Value::Float(1.5), "not a whole number"),
        ("F32", Value::Float(f64::NAN), "NaN cannot be written"),
        ("COIL", Value::Int(7), "not a boolean"),
        ("U16", Value::Text("x".into()), "expected a number"),
    ] {
        // No plan, so there is nothing a driver could send.
        let e = d.plan(tag, v.clone()).unwrap_err().to_string();
        assert!(e.contains(why), "{tag} {v:?}: {e}");
    }
    assert_eq!(writes(&sim), before, "no write function code reached the device");
    d.stop().await;
    sim.stop().await;
}

/// The driver sends a plan as it is or not at all: a plan made for another definition of the tag
/// (another type, byte order, address or mask-write option) is refused, and nothing is sent.
#[tokio::test]
async fn a_plan_made_for_another_tag_definition_is_refused_and_nothing_is_sent() {
    let sim = sim_at("127.0.0.1:0".parse().unwrap()).await;
    let port = sim.modbus_addr.port();
    let mut d = Driver::start(port, "");
    d.until_connected().await;
    let before = writes(&sim);
    for (tag, other) in [
        ("F32", "F32: { source: plc, holding: 502, type: f32, byte_order: CDAB }"),
        ("F32", "F32: { source: plc, holding: 502, type: i32 }"),
        ("U16", "U16: { source: plc, holding: 501 }"),
        ("U16", "U16: { source: plc, holding: 500, scale: { raw: [0, 10], eu: [0, 1] } }"),
    ] {
        // The same tag (same id) in a layout that defines it differently.
        let tags: String =
            TAGS.lines()
                .map(|l| {
                    if l.trim_start().starts_with(&format!("{tag}:")) {
                        format!("  {other}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
        let src = format!("connections:\n  plc: {{ modbus_tcp: {{ host: 127.0.0.1, port: {port} }} }}\ntags:\n{tags}");
        let l = layout::parse(&src, "other.yaml").unwrap_or_else(|e| panic!("{e}"));
        let id = l.tag_id(tag).unwrap();
        assert_eq!(d.layout.tag_id(tag), Some(id), "the same id in the driver's layout");
        let foreign = plan::plan(&l, id, &Value::UInt(1), None).unwrap();
        match d.send(foreign).await {
            Err(WriteError::NotSent(NotSent::PlanMismatch(why))) => assert!(why.contains("differ"), "{why}"),
            other => panic!("{tag} as {other:?}"),
        }
    }
    // The bit of holding 509 planned as a mask write, for a connection that has mask_write off.
    let mut rmw = Driver::start(port, ", mask_write: false");
    rmw.until_connected().await;
    let e = rmw.send(d.plan("BIT", Value::Bool(true)).unwrap()).await.unwrap_err();
    assert!(e.to_string().starts_with("not written: the write plan no longer matches the tag"), "{e}");
    assert_eq!(writes(&sim), before, "no write function code reached the device");
    rmw.stop().await;
    d.stop().await;
    sim.stop().await;
}

/// The registers a write leaves in the device are exactly its plan's words, for every type and
/// byte order (and a scale): what the confirmation shows is what the device receives.
#[tokio::test]
async fn the_registers_written_are_the_plans_words() {
    let sim = sim_at("127.0.0.1:0".parse().unwrap()).await;
    let port = sim.modbus_addr.port();
    let types = ["u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64", "bcd16", "bcd32"];
    let mut tags = String::new();
    let mut cases = Vec::new();
    // The simulator's scratch registers are 500..=599.
    let mut address = 510;
    for ty in types {
        for (j, order) in ["ABCD", "CDAB", "BADC", "DCBA"].iter().enumerate() {
            let (wide, count) = match ty {
                "u16" | "i16" | "bcd16" => (false, 1),
                "u64" | "i64" | "f64" => (true, 4),
                _ => (true, 2),
            };
            if !wide && j > 0 {
                continue; // byte_order applies to 32- and 64-bit values only
            }
            let name = format!("T_{ty}_{order}");
            let order = if wide { format!(", byte_order: {order}") } else { String::new() };
            tags.push_str(&format!("  {name}: {{ source: plc, holding: {address}, type: {ty}{order} }}\n"));
            address += count;
            let value = if ty.starts_with('f') { Value::Float(-1234.5625) } else { Value::UInt(4321) };
            cases.push((name, value));
        }
    }
    assert!(address + 2 <= 600, "{address}");
    tags.push_str(&format!("  SCALED: {{ source: plc, holding: {address}, type: i32, byte_order: DCBA, scale: {{ raw: [0, 1000], eu: [0, 100] }} }}\n"));
    cases.push(("SCALED".into(), Value::Float(-42.34)));
    let mut d = Driver::start_with_tags(
        &format!("modbus_tcp: {{ host: 127.0.0.1, port: {port} }}, timeout: 300ms, poll: 50ms"),
        &tags,
    );
    d.until_connected().await;
    for (name, value) in cases {
        let plan = d.plan(&name, value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Wire::Modbus(w) = plan.wire() else { panic!("{plan:?}") };
        let words = match &w.op {
            ModbusOp::Register(word) => vec![*word],
            ModbusOp::Registers(words) => words.clone(),
            other => panic!("{name}: {other:?}"),
        };
        let done = d.send(plan.clone()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let held = sim.with_device(|dev| dev.read_holding(w.address, words.len() as u16).unwrap());
        assert_eq!(held, words, "{name} ← {value:?}: the device holds the plan's words");
        assert_eq!(&done.expected, plan.expected(), "{name}");
        assert!(done.confirmed(), "{name}: read back {:?} ≠ {:?}", done.readback, done.expected);
    }
    d.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_write_while_down_is_refused_at_once_and_never_sent_later() {
    let sim = sim_at("127.0.0.1:0".parse().unwrap()).await;
    let addr = sim.modbus_addr;
    let mut d = Driver::start(addr.port(), "");
    d.until_connected().await;
    sim.stop().await;
    // Wait until the driver knows.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, d.events.recv()).await {
            Ok(Some(DriverEvent::State { state: ttyhmi::driver::ConnectionState::Disconnected { .. }, .. })) => break,
            Ok(Some(_)) => {}
            _ => panic!("never saw the connection drop"),
        }
    }
    let t0 = Instant::now();
    let e = d.write("U16", Value::UInt(1)).await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_millis(500), "refused at once, took {:?}", t0.elapsed());
    assert!(e.to_string().contains("down"), "{e}");
    assert!(matches!(e, WriteError::NotSent(NotSent::ConnectionDown(_))), "{e:?}");
    // The device comes back: nothing written arrives.
    let sim = sim_at(addr).await;
    d.until_connected().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(writes(&sim), 0, "nothing was queued and sent after the reconnect");
    d.stop().await;
    sim.stop().await;
}
