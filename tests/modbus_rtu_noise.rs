//! A line that is never quiet: an RTU-over-TCP "gateway" (or a serial line) flooding noise. The
//! driver must not spin on it: it gives a request up within a budget of bytes and time, drops
//! the connection with the reason, and backs off before trying again. The CPU it then uses is
//! measured by `cargo bench --bench rtu_noise`, not here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use ttyhmi::driver::modbus::poller::{ModbusJob, run};
use ttyhmi::driver::modbus::rtu;
use ttyhmi::driver::{ConnectionState, DriverEvent, WriteCommand};
use ttyhmi::layout;
use ttyhmi::layout::ConnId;
use ttyhmi::sim::registers::{addr, test_values as tv};
use ttyhmi::sim::{self, SerialSim, SimOptions};
use ttyhmi::tag::{Quality, Value};

mod common;
use common::TempDir;
use common::driver::{Harness, View};
use common::serial_line::Line;

/// What the peer does on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    /// Noise non-stop: 16 KiB a millisecond.
    Flood = 0,
    /// Answers two requests properly, then floods.
    AnswerThenFlood = 1,
    /// Answers every request properly (all zeros).
    Answer = 2,
}

/// A hostile RTU-over-TCP peer on 127.0.0.1; counts the connections it accepts.
struct Peer {
    port: u16,
    mode: Arc<AtomicU8>,
    accepted: Arc<AtomicUsize>,
}

impl Peer {
    async fn start(mode: Mode) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let mode = Arc::new(AtomicU8::new(mode as u8));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (m, a) = (Arc::clone(&mode), Arc::clone(&accepted));
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(s, Arc::clone(&m)));
            }
        });
        Peer { port, mode, accepted }
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn mode(m: &AtomicU8) -> Mode {
    match m.load(Ordering::SeqCst) {
        0 => Mode::Flood,
        1 => Mode::AnswerThenFlood,
        _ => Mode::Answer,
    }
}

/// The answer to a read request (FC 01..04), all zeros, or to a single write (its echo).
fn answer(request: &[u8; 8]) -> Vec<u8> {
    if matches!(request[1], 5 | 6) {
        return request.to_vec();
    }
    let quantity = usize::from(u16::from_be_bytes([request[4], request[5]]));
    let bytes = if request[1] <= 2 { quantity.div_ceil(8) } else { quantity * 2 };
    let mut f = vec![request[0], request[1], bytes as u8];
    f.resize(3 + bytes, 0);
    rtu::push_crc(&mut f);
    f
}

async fn serve(mut s: TcpStream, m: Arc<AtomicU8>) {
    let _ = s.set_nodelay(true);
    let mut answered = 0;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = vec![0u8; 16 * 1024];
    let flooding = |answered: usize| match mode(&m) {
        Mode::Flood => true,
        Mode::AnswerThenFlood => answered >= 2,
        Mode::Answer => false,
    };
    let mut request = [0u8; 8];
    loop {
        if flooding(answered) {
            for b in noise.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            if s.write_all(&noise).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        if s.read_exact(&mut request).await.is_err() {
            return;
        }
        // The flood may begin with this request: it is not answered.
        if !flooding(answered) {
            if s.write_all(&answer(&request)).await.is_err() {
                return;
            }
            answered += 1;
        }
    }
}

fn layout_src(port: u16) -> String {
    format!(
        "connections:\n  gw: {{ modbus_rtu_over_tcp: {{ host: 127.0.0.1, port: {port}, unit: 1 }}, timeout: 500ms, poll: 100ms }}\n\
         tags:\n\
         \x20 H0: {{ source: gw, holding: 0 }}\n\
         \x20 C0: {{ source: gw, coil: 0 }}\n"
    )
}

fn noise_reason(v: &View) -> bool {
    v.is_down("H0", &["noise on the line", "never quiet"]) && v.is_down("C0", &["noise on the line"])
}

/// The Disconnected states since `from` and their retry delays.
fn retries(v: &View, from: usize) -> Vec<(String, Duration)> {
    v.states[from..]
        .iter()
        .filter_map(|(_, s)| match s {
            ConnectionState::Disconnected { reason, retry_in } => Some((reason.clone(), *retry_in)),
            _ => None,
        })
        .collect()
}

/// Asserts that over `window` the peer saw few connections (the driver backed off between
/// them) and every reconnect was announced with a delay and the noise as its reason.
async fn backs_off(h: &mut Harness, peer: &Peer, window: Duration) {
    let (from, before) = (h.view.states.len(), peer.accepted());
    let deadline = tokio::time::Instant::now() + window;
    h.wait_until(deadline, "the window to pass", |_| tokio::time::Instant::now() >= deadline).await;
    let new = peer.accepted() - before;
    // Backoff from 250 ms doubling (with jitter in [0.5, 1)): at most 1 + log2 of the window in
    // quarter seconds; a driver retrying at once would connect dozens of times.
    assert!(new <= 6, "{new} connections in {window:?}: the driver did not back off\n{}", h.view.summary());
    for (reason, retry_in) in retries(&h.view, from) {
        assert!(reason.contains("never quiet"), "{reason}");
        assert!(retry_in > Duration::ZERO, "retried at once after: {reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_flooding_noise_is_dropped_with_the_reason_and_backed_off_from() {
    let peer = Peer::start(Mode::Flood).await;
    let mut h = Harness::start(&layout_src(peer.port));
    h.wait_for(Duration::from_secs(5), "every tag down: noise on the line, never quiet", noise_reason).await;
    backs_off(&mut h, &peer, Duration::from_secs(3)).await;
    // The flood stops: the driver comes back (after its backoff) and reads.
    peer.set(Mode::Answer);
    h.wait_for(Duration::from_secs(40), "every tag Good once the line is quiet", |v| {
        v.all_good() && v.value("H0") == Some(&Value::UInt(0))
    })
    .await;
    h.shutdown().await;
}

/// A gateway that answers a little and then floods: the session "worked", yet the driver must
/// not reconnect at once every time (that would be a busy loop of connects and floods).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_answers_then_floods_is_backed_off_from_too() {
    let peer = Peer::start(Mode::AnswerThenFlood).await;
    let mut h = Harness::start(&layout_src(peer.port));
    h.wait_for(Duration::from_secs(5), "Good first", |v| v.goods("H0") > 0).await;
    h.wait_for(Duration::from_secs(5), "then down: noise on the line", noise_reason).await;
    backs_off(&mut h, &peer, Duration::from_secs(3)).await;
    assert!(!matches!(h.view.quality("H0"), Quality::Good), "{}", h.view.summary());
    h.shutdown().await;
}

/// A serial line that is never quiet: the same budget, the port is closed with the reason and
/// reopened after a backoff; once the noise stops, the values come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_line_flooded_with_noise_is_reported_and_reopened_after_a_backoff() {
    let dir = TempDir::new("rtu-noise");
    let line = Line::new(&dir.0);
    let port =
        SerialSim { path: line.sim_path().to_path_buf(), baud: 115_200, parity: layout::Parity::None, units: vec![1] };
    let opts = SimOptions { step: None, opcua_port: None, rtu_serial: Some(port), ..SimOptions::default() };
    let sim = sim::start_with("127.0.0.1:0".parse().unwrap(), opts).await.expect("start the simulator");
    let src = format!(
        "connections:\n  bus1: {{ modbus_rtu: {{ port: {}, baud: 115200, parity: none }}, unit: 1, timeout: 300ms, poll: 100ms }}\n\
         tags:\n  H0: {{ source: bus1, holding: {} }}\n  C0: {{ source: bus1, coil: {} }}\n",
        line.link.display(),
        addr::HR_TEST_U16,
        addr::COIL_SCRATCH.start(),
    );
    let mut h = Harness::start(&src);
    let want = Value::UInt(tv::U16.into());
    h.wait_for(Duration::from_secs(10), "Good", |v| v.all_good() && v.value("H0") == Some(&want)).await;
    let from = h.view.states.len();
    line.noise(true);
    h.wait_for(Duration::from_secs(5), "every tag down: noise on the line, never quiet", |v| {
        noise_reason(v) && v.is_down("H0", &["serial port"])
    })
    .await;
    let delays = retries(&h.view, from);
    assert!(delays.iter().all(|(r, d)| r.contains("never quiet") && !d.is_zero()), "{delays:?}");
    line.noise(false);
    h.wait_for(Duration::from_secs(40), "Good again once the line is quiet", |v| {
        v.all_good() && v.value("H0") == Some(&want)
    })
    .await;
    h.shutdown().await;
    sim.stop().await;
}

/// A write sent into a line that starts flooding: the operator is told the outcome is unknown
/// and why, and the connection is dropped with a backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_into_a_flood_says_the_outcome_is_unknown_and_the_driver_backs_off() {
    let peer = Peer::start(Mode::Answer).await;
    // A long poll period: after the first reads, only the write goes on the wire.
    let src = layout_src(peer.port).replace("poll: 100ms", "poll: 10s");
    let l = layout::parse(&src, "w.yaml").expect("layout");
    let job = ModbusJob::from_layout(&l, ConnId(0)).expect("a Modbus connection");
    let (tx, mut events) = mpsc::channel(1024);
    let (stop, stop_rx) = watch::channel(false);
    let (wtx, wrx) = mpsc::channel(1);
    let task = tokio::spawn(run(job, tx, stop_rx, Some(Arc::new(tokio::sync::Mutex::new(wrx)))));
    let mut view = View::new(l.clone());
    let within = |secs| tokio::time::Instant::now() + Duration::from_secs(secs);
    let deadline = within(5);
    while !(view.all_good() && view.value("H0") == Some(&Value::UInt(0))) {
        let e = tokio::time::timeout_at(deadline, events.recv()).await.expect("Good in time").expect("events");
        view.fold(e);
    }
    peer.set(Mode::Flood);
    let (reply, answer) = oneshot::channel();
    let tag = l.tag_id("H0").expect("tag");
    let plan = ttyhmi::driver::plan::plan(&l, tag, &Value::UInt(42), None).expect("42 fits a u16");
    wtx.send(WriteCommand { plan, sent_at: std::time::Instant::now(), by: Default::default(), reply }).await.unwrap();
    let outcome = tokio::time::timeout_at(within(5), answer).await.expect("a reply in time").expect("a reply");
    let e = outcome.expect_err("not confirmed");
    assert!(matches!(e, ttyhmi::driver::WriteError::OutcomeUnknown(_)), "the outcome is unknown: {e:?}");
    let e = e.to_string();
    assert!(e.starts_with("not confirmed: noise on the line: never quiet"), "{e}");
    assert!(e.contains("after the request to unit 1") && e.ends_with("may or may not have been written"), "{e}");
    let deadline = within(5);
    let (reason, retry_in) = loop {
        let e = tokio::time::timeout_at(deadline, events.recv()).await.expect("Disconnected in time").expect("events");
        if let DriverEvent::State { state: ConnectionState::Disconnected { reason, retry_in }, .. } = e {
            break (reason, retry_in);
        }
    };
    assert!(reason.contains("never quiet") && !retry_in.is_zero(), "{reason} (retry in {retry_in:?})");
    stop.send(true).unwrap();
    while events.recv().await.is_some() {}
    task.await.unwrap();
}
