//! Load run: the Modbus driver polling an RTU-over-TCP "gateway" that floods the line with noise.
//! A hostile peer on 127.0.0.1 accepts the console's connection and writes bytes as fast as it
//! can, in several patterns; the driver runs on a thread of its own (a current-thread tokio
//! runtime, as one connection task) and the CPU time of that thread is measured over a fixed
//! wall time. The peer's own CPU is not counted.
//!
//! Target: the driver uses a small share of one core (a few per cent) whatever the peer sends.
//!
//! Measured (`-- 10`, 2-core VM, release build), driver thread CPU, before → after the fix that
//! gave every request a budget of bytes, paced reads and dropped a never-quiet line with a
//! backoff:
//!
//! | pattern | before | after |
//! |---|---|---|
//! | Silent (reference) | 0.05 % | 0.06 % |
//! | Random | 98.2 % | 0.03 % |
//! | RandomWithFrames | 84.9 % | 0.02 % |
//! | BriefPauses | 97.1 % | 0.02 % |
//! | OneByteAtATime | 76.5 % | 0.05 % |
//! | AnswerStarts | 99.7 % | 0.03 % |
//! | Echoes | 98.2 % | 0.03 % |
//! | AnswerThenFlood | 99.6 % | 0.03 % |
//! | TrickledStarts | 4.6 % | 1.5 % |
//! | TrickleUnderBudget | 7.1 % | 1.9 % |
//!
//! The last two keep the line up (they pause longer than the quiet gap) and cost what their
//! bytes cost; every other pattern now has the connection dropped after a few KiB and retried
//! with a growing backoff.
//!
//! Run: `cargo bench --bench rtu_noise` (optionally `-- SECONDS`, default 5 per pattern, and
//! words to run only the patterns whose names contain one of them, e.g. `-- 10 random echo`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::time::{ClockId, clock_gettime};
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
    /// Answers two requests properly, then random bytes: a session that "worked".
    AnswerThenFlood,
    /// `01 03 FA` one byte a write for 600 bytes, then 250 ms of silence (longer than the
    /// quiet gap): the line goes quiet between bursts and stays up, and every byte makes the
    /// driver look at its buffer again.
    TrickledStarts,
    /// Random bytes one a write, 30 µs apart, for 2500 bytes (under the budgets), then 250 ms
    /// of silence: the most wake-ups a peer can cause without the line being dropped.
    TrickleUnderBudget,
}

const PATTERNS: [Pattern; 10] = [
    Pattern::Silent,
    Pattern::Random,
    Pattern::RandomWithFrames,
    Pattern::BriefPauses,
    Pattern::OneByteAtATime,
    Pattern::AnswerStarts,
    Pattern::Echoes,
    Pattern::AnswerThenFlood,
    Pattern::TrickledStarts,
    Pattern::TrickleUnderBudget,
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
    let mut answered = 0;
    loop {
        let r = match pattern {
            Pattern::AnswerThenFlood if answered < 2 => {
                // A read request of unit 1 (8 bytes), answered with zeros.
                let mut request = [0u8; 8];
                if s.read_exact(&mut request).is_err() {
                    return;
                }
                let quantity = usize::from(u16::from_be_bytes([request[4], request[5]]));
                let n = if request[1] <= 2 { quantity.div_ceil(8) } else { quantity * 2 };
                let mut answer = vec![request[0], request[1], n as u8];
                answer.resize(3 + n, 0);
                answered += 1;
                s.write_all(&frame(&answer)).map(|()| answer.len() + 2)
            }
            Pattern::Silent => {
                // Read (and drop) the requests so the socket does not fill up.
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
            Pattern::Random | Pattern::AnswerThenFlood => {
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
            Pattern::TrickledStarts | Pattern::TrickleUnderBudget => {
                let (bytes, gap) = if matches!(pattern, Pattern::TrickledStarts) {
                    ([1u8, 3, 0xFA].repeat(200), 20)
                } else {
                    noise.fill(&mut buf[..2500]);
                    (buf[..2500].to_vec(), 30)
                };
                let mut r = Ok(0);
                for b in &bytes {
                    r = s.write_all(&[*b]).map(|()| 1);
                    if r.is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(gap));
                }
                std::thread::sleep(Duration::from_millis(250));
                r.map(|_| bytes.len())
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

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("the thread's CPU clock");
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
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
            let t0 = thread_cpu();
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
            let cpu = thread_cpu() - t0;
            let elapsed = start.elapsed().as_secs_f64();
            let _ = stop_tx.send(true);
            while rx.recv().await.is_some() {}
            let _ = task.await;
            (cpu.as_secs_f64() / elapsed * 100.0, stats, last_reason)
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
    // (`cargo bench` passes `--bench`.)
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.parse::<u64>().is_err() && !a.starts_with('-'))
        .map(|a| a.to_lowercase())
        .collect();
    println!("RTU over TCP, hostile peer on loopback, 4 blocks polled every 100 ms, {secs} s a pattern:");
    for pattern in PATTERNS {
        let name = format!("{pattern:?}").to_lowercase();
        if !only.is_empty() && !only.iter().any(|w| name.contains(w.as_str())) {
            continue;
        }
        let o = one(pattern, secs);
        let (requests, bad, reconnects) =
            o.stats.as_ref().map_or((0, 0, 0), |s| (s.requests, s.bad_frames, s.reconnects));
        println!(
            "  {:<17} driver CPU {:>6.2}% of one core | {} connections, {} requests, {} bad frames, {} reconnects, peer wrote {:.1} MB | last reason: {}",
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
