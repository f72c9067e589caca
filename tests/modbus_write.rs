//! Modbus writes at driver level, against the simulated plant (which counts function codes):
//! every kind of point is written with the right function code and read back; a value that does
//! not fit sends nothing; a write while the connection is down is refused at once and nothing is
//! sent later when it comes back. Writes over a serial line (RTU) too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use ttyhmi::driver::modbus::poller::{ModbusJob, run};
use ttyhmi::driver::{DriverEvent, WriteCommand, WriteDone};
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

    /// The tags below on a connection with `keys`.
    fn start_on(keys: &str) -> Driver {
        let src = format!(
            "connections:\n  plc: {{ {keys} }}\ntags:\n\
             \x20 U16: {{ source: plc, holding: 500 }}\n\
             \x20 I16: {{ source: plc, holding: 501, type: i16 }}\n\
             \x20 F32: {{ source: plc, holding: 502, type: f32 }}\n\
             \x20 F64: {{ source: plc, holding: 504, type: f64, byte_order: DCBA }}\n\
             \x20 SCALED: {{ source: plc, holding: 508, type: u16, scale: {{ raw: [0, 1000], eu: [0, 100] }} }}\n\
             \x20 BIT: {{ source: plc, holding: 509, bit: 5 }}\n\
             \x20 COIL: {{ source: plc, coil: 16 }}\n"
        );
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

    async fn write(&mut self, tag: &str, value: Value) -> Result<WriteDone, String> {
        let (reply, rx) = oneshot::channel();
        let tag = self.layout.tag_id(tag).unwrap();
        let cmd = WriteCommand { tag, value, sent_at: std::time::Instant::now(), reply };
        self.wtx.send(cmd).await.unwrap();
        // Keep draining events so the driver never blocks on a full channel.
        let mut rx = rx;
        let deadline = Instant::now() + Duration::from_secs(5);
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
    for (tag, v) in [
        ("U16", Value::UInt(70_000)),
        ("I16", Value::Float(1.5)),
        ("F32", Value::Float(f64::NAN)),
        ("COIL", Value::Int(7)),
        ("U16", Value::Text("x".into())),
    ] {
        let e = d.write(tag, v.clone()).await.unwrap_err();
        assert!(e.starts_with("not written"), "{tag} {v:?}: {e}");
    }
    assert_eq!(writes(&sim), before, "no write function code reached the device");
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
    assert!(e.contains("down"), "{e}");
    // The device comes back: nothing written arrives.
    let sim = sim_at(addr).await;
    d.until_connected().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(writes(&sim), 0, "nothing was queued and sent after the reconnect");
    d.stop().await;
    sim.stop().await;
}
