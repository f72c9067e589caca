//! Load run: the Modbus driver polling an RTU-over-TCP "gateway" that floods the line with noise.
//! A hostile peer on 127.0.0.1 accepts the console's connection and writes bytes as fast as it
//! can, in several patterns; the driver runs on a thread of its own (a current-thread tokio
//! runtime, as one connection task) and the CPU time of that thread is measured over a fixed
//! wall time. The peer's own CPU is not counted.
//!
//! Target: the driver uses a small share of one core (a few per cent) whatever the peer sends;
//! before the fix it spun at ~100 %.
//!
//! Run: `cargo bench --bench rtu_noise` (optionally `-- SECONDS`, default 5 per pattern).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use ttyhmi::driver::modbus::poller::{ModbusJob, run};
use ttyhmi::driver::modbus::rtu;
use ttyhmi::driver::{ConnStats, ConnectionState, DriverEvent};
use ttyhmi::layout::{self, ConnId};

/// What the peer sends, over and over.
#[derive(Clone, Copy, Debug)]
enum Pattern {
    /// Nothing at all (the reference: a gateway whose device never answers).
    Silent,
    /// Random bytes, 16 KiB a write, non-stop.
    Random,
    /// Random bytes with valid frames in between: answers of unit 1 to the console's requests
    /// (right length, right CRC) and frames of other units.
    RandomWithFrames,
    /// Random bytes for 50 ms, then 20 ms of silence (shorter than the 200 ms quiet gap).
    BriefPauses,
    /// One byte a write (every byte its own TCP segment).
    OneByteAtATime,
    /// `01 03 FA` repeated: every third byte could start an answer of 255 bytes.
    AnswerStarts,
    /// The console's own first request, repeated (an adapter echoing a thousand times).
    Echoes,
}

const PATTERNS: [Pattern; 7] = [
    Pattern::Silent,
    Pattern::Random,
    Pattern::RandomWithFrames,
    Pattern::BriefPauses,
    Pattern::OneByteAtATime,
    Pattern::AnswerStarts,
    Pattern::Echoes,
];

/// xorshift64: noise without a dependency.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut f = bytes.to_vec();
    rtu::push_crc(&mut f);
    f
}

/// The layout's blocks: holding 0+4, holding 1000+2, input 0+2, coil 0+8, unit 1.
fn layout_src(addr: SocketAddr) -> String {
    format!(
        "connections:\n  gw: {{ modbus_rtu_over_tcp: {{ host: 127.0.0.1, port: {} , unit: 1 }}, timeout: 500ms, poll: 100ms }}\n\
         tags:\n\
         \x20 H0: {{ source: gw, holding: 0, type: u32 }}\n\
         \x20 H2: {{ source: gw, holding: 2, type: u32 }}\n\
         \x20 H1000: {{ source: gw, holding: 1000, type: u32 }}\n\
         \x20 I0: {{ source: gw, input: 0, type: u32 }}\n\
         \x20 C0: {{ source: gw, coil: 0 }}\n\
         \x20 C7: {{ source: gw, coil: 7 }}\n",
        addr.port()
    )
}

/// Writes `pattern` to one connection until it closes.
fn feed(mut s: TcpStream, pattern: Pattern, sent: &AtomicU64) {
    let _ = s.set_nodelay(true);
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15 ^ sent.load(Ordering::Relaxed));
    let mut buf = vec![0u8; 16 * 1024];
    let answers = [
        frame(&[1, 3, 8, 0, 1, 0, 2, 0, 3, 0, 4]),
        frame(&[1, 3, 4, 0, 5, 0, 6]),
        frame(&[1, 4, 4, 0, 7, 0, 8]),
        frame(&[1, 1, 1, 0x81]),
        frame(&[9, 3, 4, 0xDE, 0xAD, 0xBE, 0xEF]),
        frame(&[2, 0x83, 2]),
    ];
    let started = Instant::now();
    let mut k = 0usize;
    loop {
        let r = match pattern {
            Pattern::Silent => {
                // Read (and drop) the requests so the socket does not fill up.
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
            Pattern::Random => {
                noise.fill(&mut buf);
                s.write_all(&buf).map(|()| buf.len())
            }
            Pattern::RandomWithFrames => {
                noise.fill(&mut buf[..512]);
                k += 1;
                let a = &answers[k % answers.len()];
                s.write_all(&buf[..512]).and_then(|()| s.write_all(a)).map(|()| 512 + a.len())
            }
            Pattern::BriefPauses => {
                if started.elapsed().as_millis() % 70 >= 50 {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                noise.fill(&mut buf);
                s.write_all(&buf).map(|()| buf.len())
            }
            Pattern::OneByteAtATime => {
                noise.fill(&mut buf[..1]);
                s.write_all(&buf[..1]).map(|()| 1)
            }
            Pattern::AnswerStarts => {
                let chunk: Vec<u8> = [1u8, 3, 0xFA].iter().copied().cycle().take(3 * 1024).collect();
                s.write_all(&chunk).map(|()| chunk.len())
            }
            Pattern::Echoes => {
                let request = frame(&[1, 3, 0, 0, 0, 4]);
                let chunk: Vec<u8> = request.iter().copied().cycle().take(request.len() * 256).collect();
                s.write_all(&chunk).map(|()| chunk.len())
            }
        };
        match r {
            Ok(n) => {
                sent.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(_) => return,
        }
    }
}

/// CPU time of the calling thread, in clock ticks (USER_HZ, 100 a second on Linux).
fn thread_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

struct Outcome {
    cpu_percent: f64,
    connections: u64,
    peer_bytes: u64,
    stats: Option<ConnStats>,
    last_reason: Option<String>,
}

fn one(pattern: Pattern, secs: u64) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let stop = Arc::new(AtomicBool::new(false));
    let connections = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    {
        let (stop, connections, sent) = (stop.clone(), connections.clone(), sent.clone());
        std::thread::spawn(move || {
            for s in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(s) = s else { continue };
                connections.fetch_add(1, Ordering::Relaxed);
                let sent = sent.clone();
                std::thread::spawn(move || feed(s, pattern, &sent));
            }
        });
    }
    let layout = layout::parse(&layout_src(addr), "rtu_noise.yaml").expect("layout");
    let job = ModbusJob::from_layout(&layout, ConnId(0)).expect("a Modbus connection");
    let driver = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let (tx, mut rx) = mpsc::channel::<DriverEvent>(1024);
            let (stop_tx, stop_rx) = watch::channel(false);
            let task = tokio::spawn(run(job, tx, stop_rx, None));
            let mut stats = None;
            let mut last_reason = None;
            // Warm up: connect, first requests.
            let warm = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(Some(_)) = tokio::time::timeout_at(warm, rx.recv()).await {}
            let t0 = thread_ticks();
            let start = Instant::now();
            let until = tokio::time::Instant::now() + Duration::from_secs(secs);
            while let Ok(Some(e)) = tokio::time::timeout_at(until, rx.recv()).await {
                match e {
                    DriverEvent::Stats { stats: s, .. } => stats = Some(*s),
                    DriverEvent::State { state: ConnectionState::Disconnected { reason, .. }, .. } => {
                        last_reason = Some(reason)
                    }
                    _ => {}
                }
            }
            let ticks = thread_ticks() - t0;
            let elapsed = start.elapsed().as_secs_f64();
            let _ = stop_tx.send(true);
            while rx.recv().await.is_some() {}
            let _ = task.await;
            (ticks as f64 / 100.0 / elapsed * 100.0, stats, last_reason)
        })
    });
    let (cpu_percent, stats, last_reason) = driver.join().expect("the driver thread");
    stop.store(true, Ordering::Relaxed);
    // Wake the acceptor so it sees `stop`.
    let _ = TcpStream::connect(addr);
    Outcome {
        cpu_percent,
        connections: connections.load(Ordering::Relaxed),
        peer_bytes: sent.load(Ordering::Relaxed),
        stats,
        last_reason,
    }
}

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    println!("RTU over TCP, hostile peer on loopback, 4 blocks polled every 100 ms, {secs} s a pattern:");
    for pattern in PATTERNS {
        let o = one(pattern, secs);
        let (requests, bad, reconnects) =
            o.stats.as_ref().map_or((0, 0, 0), |s| (s.requests, s.bad_frames, s.reconnects));
        println!(
            "  {:<17} driver CPU {:>5.1}% of one core | {} connections, {} requests, {} bad frames, {} reconnects, peer wrote {:.1} MB | last reason: {}",
            format!("{pattern:?}"),
            o.cpu_percent,
            o.connections,
            requests,
            bad,
            reconnects,
            o.peer_bytes as f64 / 1e6,
            o.last_reason.as_deref().unwrap_or("-"),
        );
    }
}
