//! The built-in simulated plant: a small boiler house whose values follow simple physics,
//! served by a real in-process Modbus TCP server and a real in-process OPC UA server over the same
//! device, so a write through either protocol changes the physics and shows on both. Used by
//! `ttyhmi demo`, `ttyhmi sim`, tests and training.
//!
//! - [`plant`]: the physics (pure, time injected).
//! - [`registers`]: the register map (pure) — **the table of every address is its module doc**.
//! - `modbus_server`: the tokio-modbus TCP server answering from the register map.
//! - [`broker`]: an in-process MQTT broker (rumqttd) and a relay that cuts or switches it.
//! - [`opcua_server`]: the async-opcua server — **the table of every NodeId, the endpoints, users
//!   and certificates are its module doc**.
//!
//! # Unit ids
//!
//! The simulator is one device behind every ordinary unit id: 0..=247 and 255 all answer from
//! the same plant. A few ids misbehave on purpose, for driver tests:
//! [`SILENT_UNIT`] (248) never answers (the client times out), [`BUSY_UNIT`] (249) answers every
//! request with exception 06 (server device busy), and 250..=254 answer exception 0B (gateway
//! target device failed to respond).
//!
//! # Function codes
//!
//! 01, 02, 03, 04, 05, 06, 15, 16, 22 (mask write) and 23 (read/write multiple); anything else →
//! exception 01. Requests are counted per function code ([`SimHandle::function_counts`]).

pub mod broker;
pub mod opcua_server;
pub mod plant;
pub mod registers;

mod modbus_server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use modbus_server::{ABSENT_UNITS, BUSY_UNIT, SILENT_UNIT, SerialSim};
pub use plant::Plant;
pub use registers::Device;

use modbus_server::{Framing, Shared};
use opcua_server::OpcUaServer;

/// How a simulator runs.
#[derive(Clone, PartialEq)]
pub struct SimOptions {
    /// Seed of the measurement noise.
    pub seed: u64,
    /// Physics step period; `None` freezes the physics, so values change only through writes
    /// (for tests that need values that never move). The OPC UA load variables move anyway.
    pub step: Option<Duration>,
    /// Port of the OPC UA server on 127.0.0.1 (0 = ephemeral); `None` = no OPC UA server.
    pub opcua_port: Option<u16>,
    /// Where to serve Modbus RTU over TCP too (port 0 = ephemeral); `None` = not served.
    pub rtu_over_tcp: Option<SocketAddr>,
    /// A serial port (or pseudo-terminal) to serve Modbus RTU on too; `None` = not served.
    pub rtu_serial: Option<SerialSim>,
    /// Number of `Plant.Load.Vnnnn` variables, all changing every 100 ms (default 1000).
    pub opcua_load_items: usize,
    /// Password of the OPC UA user `operator` (default [`opcua_server::DEFAULT_PASSWORD`],
    /// `operator-demo`: a demo password of a test device, not a secret).
    pub opcua_password: String,
    /// PKI folder of the OPC UA server: its certificate and key are created there on first start
    /// and reused after. Default: `ttyhmi-sim-pki-<pid>` under the system temp folder (one per
    /// process, so restarts within a process keep the certificate clients trusted).
    pub opcua_pki: PathBuf,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 0x5EED,
            step: Some(Duration::from_millis(100)),
            opcua_port: Some(0),
            rtu_over_tcp: None,
            rtu_serial: None,
            opcua_load_items: 1000,
            opcua_password: opcua_server::DEFAULT_PASSWORD.to_owned(),
            opcua_pki: std::env::temp_dir().join(format!("ttyhmi-sim-pki-{}", std::process::id())),
        }
    }
}

impl std::fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("seed", &self.seed)
            .field("step", &self.step)
            .field("opcua_port", &self.opcua_port)
            .field("opcua_load_items", &self.opcua_load_items)
            .field("opcua_password", &"<redacted>")
            .field("opcua_pki", &self.opcua_pki)
            .finish()
    }
}

/// A running simulator. Dropping it stops its tasks too, but only [`SimHandle::stop`] waits until
/// the port is released and every client connection is closed.
#[derive(Debug)]
pub struct SimHandle {
    /// Where the Modbus TCP server listens (the real port when bound to port 0).
    pub modbus_addr: SocketAddr,
    /// Where the OPC UA server listens (always 127.0.0.1; the real port when started on port 0);
    /// `None` without OPC UA.
    pub opcua_addr: Option<SocketAddr>,
    /// Where Modbus RTU over TCP is served, when it is.
    pub rtu_over_tcp_addr: Option<SocketAddr>,
    rtu_over_tcp: Option<JoinHandle<()>>,
    rtu_serial: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    conns: Arc<watch::Sender<usize>>,
    server: Option<JoinHandle<()>>,
    physics: Option<JoinHandle<()>>,
    opcua: Option<OpcUaServer>,
}

/// Starts the physics task (step every 100 ms), the Modbus TCP server bound to `modbus_bind`
/// (port 0 = ephemeral) and the OPC UA server on an ephemeral port of 127.0.0.1.
pub async fn start(modbus_bind: SocketAddr) -> std::io::Result<SimHandle> {
    start_with(modbus_bind, SimOptions::default()).await
}

/// [`start`] with options.
pub async fn start_with(modbus_bind: SocketAddr, options: SimOptions) -> std::io::Result<SimHandle> {
    // The serial port first: a wrong path is the likeliest mistake, and nothing else is started.
    let rtu_serial = match options.rtu_serial {
        Some(port) => {
            let stream = port.open()?;
            Some((port, stream))
        }
        None => None,
    };
    let listener = modbus_server::bind(modbus_bind).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {modbus_bind} for Modbus TCP: {e} (is another simulator running? port 0 picks a free one)"),
        )
    })?;
    let modbus_addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(Device::new(Plant::new(options.seed))));
    let opcua = match options.opcua_port {
        Some(port) => {
            let cfg = opcua_server::Config {
                port,
                load_items: options.opcua_load_items,
                password: &options.opcua_password,
                pki: &options.opcua_pki,
            };
            Some(OpcUaServer::start(Arc::clone(&shared), cfg).await?)
        }
        None => None,
    };
    let conns = Arc::new(watch::Sender::new(0usize));
    let (rtu_over_tcp_addr, rtu_over_tcp) = match options.rtu_over_tcp {
        Some(bind) => {
            let l = modbus_server::bind(bind)?;
            let a = l.local_addr()?;
            let serve = modbus_server::serve(l, Framing::RtuOverTcp, Arc::clone(&shared), Arc::clone(&conns));
            (Some(a), Some(tokio::spawn(serve)))
        }
        None => (None, None),
    };
    let rtu_serial =
        rtu_serial.map(|(port, stream)| tokio::spawn(modbus_server::serve_serial(port, stream, Arc::clone(&shared))));
    let server = tokio::spawn(modbus_server::serve(listener, Framing::Tcp, Arc::clone(&shared), Arc::clone(&conns)));
    let physics = options.step.map(|period| tokio::spawn(run_physics(Arc::clone(&shared), period)));
    let opcua_addr = opcua.as_ref().map(|o| o.addr);
    tracing::info!(%modbus_addr, ?opcua_addr, "sim: plant started");
    Ok(SimHandle {
        modbus_addr,
        opcua_addr,
        rtu_over_tcp_addr,
        rtu_over_tcp,
        rtu_serial,
        shared,
        conns,
        server: Some(server),
        physics,
        opcua,
    })
}

async fn run_physics(shared: Arc<Shared>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut last = tokio::time::Instant::now();
    loop {
        ticks.tick().await;
        let now = tokio::time::Instant::now();
        // Simulated time follows the wall clock, but a stalled runtime does not make it jump.
        let dt = (now - last).min(Duration::from_secs(1));
        last = now;
        shared.device().plant.step(dt);
    }
}

impl SimHandle {
    /// Stops the simulator: closes the listeners and every open client connection and OPC UA
    /// session (clients see the connection go away) and releases the ports, so [`start_with`]
    /// may bind them again at once, as when a PLC restarts.
    pub async fn stop(mut self) {
        if let Some(opcua) = self.opcua.take() {
            opcua.stop().await;
        }
        for task in self.tasks() {
            task.abort();
            let _ = task.await;
        }
        // Aborting the server cancelled each connection's task; wait until they dropped their
        // streams. They do so at their next poll, so this is quick; the bound only guards
        // against a runtime that never polls them again.
        let mut open = self.conns.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(5), open.wait_for(|n| *n == 0)).await;
        tracing::info!(modbus_addr = %self.modbus_addr, "sim: plant stopped");
    }

    /// The server and physics tasks, taken (each once).
    fn tasks(&mut self) -> impl Iterator<Item = JoinHandle<()>> + use<> {
        [self.server.take(), self.rtu_over_tcp.take(), self.rtu_serial.take(), self.physics.take()]
            .into_iter()
            .flatten()
    }

    /// `opc.tcp://127.0.0.1:PORT` of the OPC UA server, if it runs.
    pub fn opcua_url(&self) -> Option<String> {
        self.opcua_addr.map(|a| format!("opc.tcp://{a}"))
    }

    /// Index of [`opcua_server::NAMESPACE_URI`] on the OPC UA server (what a client finds in the
    /// NamespaceArray), if it runs.
    pub fn opcua_namespace_index(&self) -> Option<u16> {
        self.opcua.as_ref().map(|o| o.namespace_index)
    }

    /// The OPC UA server's certificate (DER), for a client to trust, if the server runs.
    pub fn opcua_certificate_path(&self) -> Option<PathBuf> {
        self.opcua.as_ref().map(|o| o.certificate_path.clone())
    }

    /// Requests received per function code since start (or the last [`Self::reset_counts`]),
    /// exceptions and unanswered requests included. Codes never seen are absent.
    pub fn function_counts(&self) -> BTreeMap<u8, u64> {
        self.shared.counts()
    }

    /// Requests received, all function codes together.
    pub fn request_count(&self) -> u64 {
        self.shared.counts().values().sum()
    }

    pub fn reset_counts(&self) {
        self.shared.reset_counts();
    }

    /// Client connections open now.
    pub fn connections(&self) -> usize {
        *self.conns.borrow()
    }

    /// Runs `f` on the device (plant and memory) under its lock: for tests that set up a state
    /// (an e-stop, a tripped pump) or check what a write did. Keep `f` short.
    pub fn with_device<R>(&self, f: impl FnOnce(&mut Device) -> R) -> R {
        f(&mut self.shared.device())
    }

    /// Runs `f` on the plant under the device lock.
    pub fn with_plant<R>(&self, f: impl FnOnce(&mut Plant) -> R) -> R {
        f(&mut self.shared.device().plant)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        for task in self.tasks() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio_modbus::client::{Context, Reader, Writer, tcp};
    use tokio_modbus::{ExceptionCode, Slave};

    use super::registers::{Order, addr, f32_words, test_values};
    use super::*;

    const LOOPBACK: &str = "127.0.0.1:0";
    const T: Duration = Duration::from_secs(5);

    async fn client(sim: &SimHandle, unit: u8) -> Context {
        tcp::connect_slave(sim.modbus_addr, Slave(unit)).await.expect("connect to the simulator")
    }

    async fn holding(ctx: &mut Context, a: u16, n: u16) -> Result<Vec<u16>, ExceptionCode> {
        tokio::time::timeout(T, ctx.read_holding_registers(a, n)).await.expect("answer in time").expect("transport")
    }

    fn u32_of(w: &[u16]) -> u32 {
        u32::from(w[0]) << 16 | u32::from(w[1])
    }

    /// Polls `cond` until it holds, failing after 10 s (the physics runs on wall-clock time).
    async fn eventually<F: std::future::Future<Output = bool>>(mut cond: impl FnMut() -> F) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !cond().await {
            assert!(tokio::time::Instant::now() < deadline, "condition not met within 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn reads_known_values_over_tcp() {
        let sim = start(LOOPBACK.parse().unwrap()).await.unwrap();
        assert_ne!(sim.modbus_addr.port(), 0);
        let mut c = client(&sim, 1).await;
        let r = holding(&mut c, 200, 40).await.unwrap();
        assert_eq!(r[0], test_values::U16);
        assert_eq!(r[2] as i16, test_values::I16);
        assert_eq!(f32::from_bits(u32_of(&r[16..18])), test_values::F32);
        let name = holding(&mut c, addr::HR_NAME, 10).await.unwrap();
        let bytes: Vec<u8> = name.iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(String::from_utf8_lossy(&bytes).trim_end_matches('\0'), "BOILER HOUSE SIM");
        let coils = c.read_coils(0, 9).await.unwrap().unwrap();
        assert_eq!(&coils[..9], [true, false, true, false, false, false, false, false, true]);
        let di = c.read_discrete_inputs(addr::DI_ALWAYS_ON, 2).await.unwrap().unwrap();
        assert_eq!(&di[..2], [true, false]);
        let level = c.read_input_registers(addr::IR_TANK1_LEVEL_X10, 1).await.unwrap().unwrap();
        assert!((500..=700).contains(&level[0]), "tank 1 starts at 60 %: {}", level[0]);
        let bulk = holding(&mut c, 1000, 125).await.unwrap();
        assert_eq!(bulk.len(), 125);
        assert_eq!(bulk[5] ^ bulk[6], 1005 ^ 1006, "address ^ counter");
        assert_eq!(sim.function_counts().get(&3), Some(&3));
        // The counter moves with the physics.
        let c0 = holding(&mut c, addr::HR_COUNTER, 1).await.unwrap()[0];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while holding(&mut c, addr::HR_COUNTER, 1).await.unwrap()[0].wrapping_sub(c0) < 2 {
            assert!(tokio::time::Instant::now() < deadline, "counter stuck at {c0}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(sim.connections(), 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn unmapped_address_is_exception_02() {
        let sim =
            start_with(LOOPBACK.parse().unwrap(), SimOptions { step: None, ..SimOptions::default() }).await.unwrap();
        let mut c = client(&sim, 1).await;
        assert_eq!(holding(&mut c, 400, 1).await, Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(holding(&mut c, 390, 20).await, Err(ExceptionCode::IllegalDataAddress), "partly outside");
        assert_eq!(holding(&mut c, 600, 10).await, Err(ExceptionCode::IllegalDataAddress), "hole at 608");
        assert_eq!(c.read_input_registers(32, 1).await.unwrap(), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(c.write_single_register(1, 5).await.unwrap(), Err(ExceptionCode::IllegalDataAddress), "read-only");
        assert_eq!(holding(&mut c, 0, 126).await, Err(ExceptionCode::IllegalDataValue), "more than 125");
        assert_eq!(holding(&mut c, 600, 8).await.unwrap(), (600..608).collect::<Vec<_>>(), "still fine");
        sim.stop().await;
    }

    #[tokio::test]
    async fn setpoint_write_reads_back_and_changes_the_plant() {
        let sim = start(LOOPBACK.parse().unwrap()).await.unwrap();
        let mut c = client(&sim, 1).await;
        let sp = f32_words(11.25, Order::Abcd);
        c.write_multiple_registers(addr::HR_PRESSURE_SP, &sp).await.unwrap().unwrap();
        assert_eq!(holding(&mut c, addr::HR_PRESSURE_SP, 2).await.unwrap(), sp);
        assert_eq!(sim.with_plant(|p| p.cmd.pressure_sp), 11.25);
        let bad = f32_words(100.0, Order::Abcd);
        assert_eq!(
            c.write_multiple_registers(addr::HR_PRESSURE_SP, &bad).await.unwrap(),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(holding(&mut c, addr::HR_PRESSURE_SP, 2).await.unwrap(), sp, "refused write changed nothing");
        c.write_single_coil(addr::COIL_PUMP2_RUN, true).await.unwrap().unwrap();
        c.masked_write_register(500, 0xFF00, 0x0042).await.unwrap().unwrap();
        assert_eq!(holding(&mut c, 500, 1).await.unwrap(), [0x0042]);
        let rw = c.read_write_multiple_registers(500, 2, 501, &[7]).await.unwrap().unwrap();
        assert_eq!(rw, [0x0042, 7]);
        c.write_multiple_coils(16, &[true, true]).await.unwrap().unwrap();
        assert_eq!(&c.read_coils(16, 3).await.unwrap().unwrap()[..3], [true, true, false]);
        assert!(!sim.with_plant(|p| p.pump_running(1)), "not at once");
        eventually(|| async { sim.with_plant(|p| p.pump_running(1)) }).await;
        let counts = sim.function_counts();
        assert_eq!((counts[&5], counts[&15], counts[&16], counts[&22], counts[&23]), (1, 1, 2, 1, 1));
        sim.stop().await;
    }

    #[tokio::test]
    async fn odd_units_misbehave_on_purpose() {
        let sim =
            start_with(LOOPBACK.parse().unwrap(), SimOptions { step: None, ..SimOptions::default() }).await.unwrap();
        let mut busy = client(&sim, BUSY_UNIT).await;
        assert_eq!(holding(&mut busy, 100, 1).await, Err(ExceptionCode::ServerDeviceBusy));
        let mut silent = client(&sim, SILENT_UNIT).await;
        let r = tokio::time::timeout(Duration::from_millis(300), silent.read_holding_registers(100, 1)).await;
        assert!(r.is_err(), "no answer: the client times out");
        sim.stop().await;
    }

    #[tokio::test]
    async fn stop_closes_clients_and_restart_binds_the_same_port() {
        let sim = start(LOOPBACK.parse().unwrap()).await.unwrap();
        let bound = sim.modbus_addr;
        let mut c = client(&sim, 1).await;
        let mut idle = client(&sim, 1).await;
        holding(&mut c, 100, 1).await.unwrap();
        holding(&mut idle, 100, 1).await.unwrap();
        assert_eq!(sim.connections(), 2);
        sim.stop().await;

        // The old connection is gone: the client gets an error, not a hang.
        let r = tokio::time::timeout(T, c.read_holding_registers(100, 1)).await.expect("fails fast, no hang");
        assert!(r.is_err(), "transport error after stop: {r:?}");
        assert!(tcp::connect(bound).await.is_err(), "nobody listens");

        // Restart on the same port, as a PLC coming back.
        let sim = start(bound).await.expect("same port binds again");
        assert_eq!(sim.modbus_addr, bound);
        let mut c = client(&sim, 1).await;
        assert_eq!(holding(&mut c, 200, 1).await.unwrap(), [test_values::U16]);
        sim.stop().await;
    }
}
