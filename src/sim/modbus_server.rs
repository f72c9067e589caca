//! The simulated PLC's Modbus TCP server: a real tokio-modbus server whose service answers from
//! the shared [`Device`].
//!
//! The device lock is taken once per request, for the few microseconds the register map needs,
//! and never held across an `.await` (the service's future is already complete when returned).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_modbus::server::Service;
use tokio_modbus::server::{rtu_over_tcp, tcp};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use super::registers::Device;

/// Unit id that never answers: requests are read and dropped, so the client times out.
pub const SILENT_UNIT: u8 = 248;
/// Unit id that answers every request with exception 06 (server device busy).
pub const BUSY_UNIT: u8 = 249;
/// Unit ids 250..=254 answer exception 0B (gateway target device failed to respond), like a
/// gateway with nothing behind those ids.
pub const ABSENT_UNITS: std::ops::RangeInclusive<u8> = 250..=254;

/// Modbus quantity limits (application protocol spec v1.1b3); beyond them → exception 03.
const MAX_READ_BITS: u16 = 2000;
const MAX_READ_REGISTERS: u16 = 125;
const MAX_WRITE_BITS: usize = 1968;
const MAX_WRITE_REGISTERS: usize = 123;
const MAX_RW_WRITE_REGISTERS: usize = 121;

/// State shared by the physics task, every connection and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    device: Mutex<Device>,
    /// Requests received, by function code (exceptions and unanswered requests included).
    counts: [AtomicU64; 256],
}

impl Shared {
    pub(crate) fn new(device: Device) -> Self {
        Shared { device: Mutex::new(device), counts: std::array::from_fn(|_| AtomicU64::new(0)) }
    }

    /// The device, even if a panic elsewhere poisoned the lock (its data stays consistent: every
    /// register-map operation validates before it changes anything).
    pub(crate) fn device(&self) -> MutexGuard<'_, Device> {
        self.device.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn counts(&self) -> std::collections::BTreeMap<u8, u64> {
        (0..=255u8)
            .filter_map(|fc| match self.counts[usize::from(fc)].load(Ordering::Relaxed) {
                0 => None,
                n => Some((fc, n)),
            })
            .collect()
    }

    pub(crate) fn reset_counts(&self) {
        for c in &self.counts {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Executes one request against the device.
pub(crate) fn execute(device: &mut Device, request: Request<'_>) -> Result<Response, ExceptionCode> {
    use ExceptionCode::IllegalDataValue;
    let qty_ok = |q: u16, max: u16| if (1..=max).contains(&q) { Ok(()) } else { Err(IllegalDataValue) };
    let len_ok = |n: usize, max: usize| if (1..=max).contains(&n) { Ok(()) } else { Err(IllegalDataValue) };
    Ok(match request {
        Request::ReadCoils(a, q) => {
            qty_ok(q, MAX_READ_BITS)?;
            Response::ReadCoils(device.read_coils(a, q)?)
        }
        Request::ReadDiscreteInputs(a, q) => {
            qty_ok(q, MAX_READ_BITS)?;
            Response::ReadDiscreteInputs(device.read_discretes(a, q)?)
        }
        Request::ReadHoldingRegisters(a, q) => {
            qty_ok(q, MAX_READ_REGISTERS)?;
            Response::ReadHoldingRegisters(device.read_holding(a, q)?)
        }
        Request::ReadInputRegisters(a, q) => {
            qty_ok(q, MAX_READ_REGISTERS)?;
            Response::ReadInputRegisters(device.read_inputs(a, q)?)
        }
        Request::WriteSingleCoil(a, v) => {
            device.write_coils(a, &[v])?;
            Response::WriteSingleCoil(a, v)
        }
        Request::WriteMultipleCoils(a, values) => {
            len_ok(values.len(), MAX_WRITE_BITS)?;
            device.write_coils(a, &values)?;
            Response::WriteMultipleCoils(a, values.len() as u16)
        }
        Request::WriteSingleRegister(a, w) => {
            device.write_holding(a, &[w])?;
            Response::WriteSingleRegister(a, w)
        }
        Request::WriteMultipleRegisters(a, words) => {
            len_ok(words.len(), MAX_WRITE_REGISTERS)?;
            device.write_holding(a, &words)?;
            Response::WriteMultipleRegisters(a, words.len() as u16)
        }
        Request::MaskWriteRegister(a, and_mask, or_mask) => {
            device.mask_write(a, and_mask, or_mask)?;
            Response::MaskWriteRegister(a, and_mask, or_mask)
        }
        Request::ReadWriteMultipleRegisters(ra, rq, wa, words) => {
            qty_ok(rq, MAX_READ_REGISTERS)?;
            len_ok(words.len(), MAX_RW_WRITE_REGISTERS)?;
            Response::ReadWriteMultipleRegisters(device.read_write_holding(ra, rq, wa, &words)?)
        }
        Request::ReportServerId | Request::ReadDeviceIdentification(..) | Request::Custom(..) => {
            return Err(ExceptionCode::IllegalFunction);
        }
    })
}

/// One client connection's service: answers from the shared device.
#[derive(Clone, Debug)]
struct SimService {
    shared: Arc<Shared>,
    /// On a serial bus: the units present (the others are absent devices and stay silent) and
    /// broadcasts (unit 0) carried out without an answer. `None` over TCP.
    bus: Option<Arc<[bool; 256]>>,
}

impl SimService {
    fn handle(&self, req: SlaveRequest<'static>) -> Result<Option<Response>, ExceptionCode> {
        if let Some(present) = &self.bus {
            if req.slave == 0 {
                let _ = execute(&mut self.shared.device(), req.request);
                return Ok(None);
            }
            if !present[usize::from(req.slave)] {
                return Ok(None);
            }
        }
        let fc = req.request.function_code().value();
        self.shared.counts[usize::from(fc)].fetch_add(1, Ordering::Relaxed);
        match req.slave {
            SILENT_UNIT => Ok(None),
            BUSY_UNIT => Err(ExceptionCode::ServerDeviceBusy),
            u if ABSENT_UNITS.contains(&u) => Err(ExceptionCode::GatewayTargetDevice),
            _ => execute(&mut self.shared.device(), req.request).map(Some),
        }
    }
}

impl Service for SimService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Self::Response, Self::Exception>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        std::future::ready(self.handle(req))
    }
}

/// Counts open connections: +1 when made, −1 when the stream is dropped.
#[derive(Debug)]
struct ConnGuard(Arc<watch::Sender<usize>>);

impl ConnGuard {
    fn new(tx: Arc<watch::Sender<usize>>) -> Self {
        tx.send_modify(|n| *n += 1);
        ConnGuard(tx)
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A client's TCP stream that counts itself while it is open.
#[derive(Debug)]
struct TrackedStream {
    stream: TcpStream,
    _guard: ConnGuard,
}

impl AsyncRead for TrackedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Binds the listener. `SO_REUSEADDR` (on Unix) lets a restarted simulator bind the same port
/// at once although the connections it closed linger in TIME_WAIT.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The framing the simulator serves on a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Modbus TCP (MBAP header).
    Tcp,
    /// RTU frames (unit, PDU, CRC) over TCP, as a serial-to-Ethernet gateway passes them.
    RtuOverTcp,
}

/// Serves Modbus in `framing` on `listener`, from the shared device, until the returned future is
/// dropped. Dropping it closes the listener and cancels every connection (tokio-modbus cancels its
/// per-connection tasks when `serve` is dropped), which drops their streams.
pub(crate) async fn serve(
    listener: TcpListener,
    framing: Framing,
    shared: Arc<Shared>,
    conns: Arc<watch::Sender<usize>>,
) {
    let on_connected = move |stream: TcpStream, peer: SocketAddr| {
        let shared = Arc::clone(&shared);
        let conns = Arc::clone(&conns);
        async move {
            // Small request/response frames: do not let Nagle hold them back.
            let _ = stream.set_nodelay(true);
            let service = |_| Ok(Some(SimService { shared: Arc::clone(&shared), bus: None }));
            let accepted = match framing {
                Framing::Tcp => tcp::accept_tcp_connection(stream, peer, service)?,
                Framing::RtuOverTcp => rtu_over_tcp::accept_tcp_connection(stream, peer, service)?,
            };
            Ok(accepted.map(|(service, stream)| (service, TrackedStream { stream, _guard: ConnGuard::new(conns) })))
        }
    };
    let on_process_error =
        move |err: io::Error| tracing::debug!(%err, ?framing, "sim: modbus connection ended with an error");
    let served = match framing {
        Framing::Tcp => tcp::Server::new(listener).serve(&on_connected, on_process_error).await,
        Framing::RtuOverTcp => rtu_over_tcp::Server::new(listener).serve(&on_connected, on_process_error).await,
    };
    if let Err(err) = served {
        tracing::warn!(%err, ?framing, "sim: modbus listener stopped");
    }
}

/// A serial port the simulator serves Modbus RTU on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialSim {
    /// A serial device or a pseudo-terminal.
    pub path: std::path::PathBuf,
    pub baud: u32,
    pub parity: crate::layout::Parity,
    /// The units on the bus, each answering from the plant; requests to others get no answer.
    pub units: Vec<u8>,
}

impl SerialSim {
    /// Opens the port in raw mode with its settings.
    pub(crate) fn open(&self) -> io::Result<tokio_serial::SerialStream> {
        let parity = match self.parity {
            crate::layout::Parity::None => tokio_serial::Parity::None,
            crate::layout::Parity::Even => tokio_serial::Parity::Even,
            crate::layout::Parity::Odd => tokio_serial::Parity::Odd,
        };
        let path = self.path.display().to_string();
        tokio_serial::SerialStream::open(&tokio_serial::new(&path, self.baud).parity(parity))
            .map_err(|e| io::Error::other(format!("cannot open serial port {path}: {e}")))
    }
}

/// Serves Modbus RTU on `stream`, opened from `port`, as its units until dropped. When the port
/// fails, it is opened again a second later, as a device on a bus that was unplugged comes back.
pub(crate) async fn serve_serial(port: SerialSim, mut stream: tokio_serial::SerialStream, shared: Arc<Shared>) {
    let mut present = [false; 256];
    port.units.iter().for_each(|&u| present[usize::from(u)] = true);
    let bus = Arc::new(present);
    let path = port.path.display().to_string();
    loop {
        tracing::info!(%path, "sim: serving Modbus RTU");
        let service = SimService { shared: Arc::clone(&shared), bus: Some(Arc::clone(&bus)) };
        if let Err(err) = tokio_modbus::server::rtu::Server::new(stream).serve_forever(service).await {
            tracing::warn!(%path, %err, "sim: serial port failed; reopening");
        }
        stream = loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            match port.open() {
                Ok(s) => break s,
                Err(err) => tracing::warn!(%err, "sim: retrying"),
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::sim::plant::Plant;

    #[test]
    fn quantity_limits_are_exception_03_before_addresses() {
        let mut d = Device::new(Plant::new(1));
        let e = Err(ExceptionCode::IllegalDataValue);
        assert_eq!(execute(&mut d, Request::ReadHoldingRegisters(1000, 126)), e);
        assert_eq!(execute(&mut d, Request::ReadHoldingRegisters(1000, 0)), e);
        assert_eq!(execute(&mut d, Request::ReadHoldingRegisters(60000, 126)), e);
        assert_eq!(execute(&mut d, Request::ReadInputRegisters(0, 126)), e);
        assert_eq!(execute(&mut d, Request::ReadDiscreteInputs(1000, 2001)), e);
        assert_eq!(execute(&mut d, Request::WriteMultipleRegisters(500, Cow::Owned(vec![0; 124]))), e);
        assert_eq!(execute(&mut d, Request::WriteMultipleCoils(16, Cow::Owned(vec![]))), e);
        assert!(execute(&mut d, Request::ReadHoldingRegisters(1000, 125)).is_ok());
        assert!(execute(&mut d, Request::ReadDiscreteInputs(1000, 2000)).is_ok());
        assert_eq!(execute(&mut d, Request::ReadHoldingRegisters(60000, 125)), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(execute(&mut d, Request::ReportServerId), Err(ExceptionCode::IllegalFunction));
        assert_eq!(execute(&mut d, Request::Custom(0x41, Cow::Owned(vec![]))), Err(ExceptionCode::IllegalFunction));
    }

    #[test]
    fn unit_ids_and_counts() {
        let svc = SimService { shared: Arc::new(Shared::new(Device::new(Plant::new(1)))), bus: None };
        let req = |slave, request| SlaveRequest { slave, request };
        assert!(matches!(svc.handle(req(1, Request::ReadHoldingRegisters(100, 1))), Ok(Some(_))));
        assert!(matches!(svc.handle(req(0, Request::ReadHoldingRegisters(100, 1))), Ok(Some(_))));
        assert!(matches!(svc.handle(req(255, Request::ReadHoldingRegisters(100, 1))), Ok(Some(_))));
        assert_eq!(svc.handle(req(SILENT_UNIT, Request::ReadHoldingRegisters(100, 1))), Ok(None));
        assert_eq!(svc.handle(req(BUSY_UNIT, Request::ReadCoils(0, 1))), Err(ExceptionCode::ServerDeviceBusy));
        assert_eq!(svc.handle(req(250, Request::ReadCoils(0, 1))), Err(ExceptionCode::GatewayTargetDevice));
        assert_eq!(svc.shared.counts(), [(1, 2), (3, 4)].into_iter().collect());
        svc.shared.reset_counts();
        assert!(svc.shared.counts().is_empty());
    }
}
