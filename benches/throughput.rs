//! End-to-end load run: `ttyhmi watch` polling 10,000 holding registers as fast as allowed against
//! `ttyhmi sim` on loopback, side by side with a bare tokio-modbus client loop reading the same
//! blocks from the same server, in one run. Reports both request rates, their ratio (target
//! ≥ 90%) and the driver's own processing time per request against the round trip (target < 10%).
//!
//! Run: `cargo bench --bench throughput` (optionally `-- SECONDS`, default 5 per run).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio_modbus::client::{Reader, tcp};

const FIRST: u16 = 1000;
const REGISTERS: u16 = 10_000;
const BLOCK: u16 = 125;

fn layout(addr: SocketAddr) -> String {
    let mut s = format!(
        "title: load 10k\nconnections:\n  sim: {{ modbus_tcp: {{ host: {}, port: {} }}, max_registers: {BLOCK}, max_gap: 0, timeout: 1s, poll: 1s }}\ntags:\n",
        addr.ip(),
        addr.port()
    );
    for i in 0..REGISTERS {
        s.push_str(&format!("  R{i}: {{ source: sim, holding: {} }}\n", FIRST + i));
    }
    s.push_str("screens:\n  - title: Load\n    panels:\n      - grid: { tags: [R0] }\n");
    s
}

/// Requests per second of a plain client reading the same blocks back to back.
async fn bare(addr: SocketAddr, secs: u64) -> f64 {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).ok();
    let mut ctx = tcp::attach(stream);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let mut a = FIRST;
        while a < FIRST + REGISTERS {
            let words = ctx.read_holding_registers(a, BLOCK).await.expect("io").expect("exception");
            std::hint::black_box(words);
            n += 1;
            a += BLOCK;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

struct WatchRun {
    requests_per_second: f64,
    response_mean_us: f64,
    processing_mean_us: f64,
    processing_changed_mean_us: f64,
    unchanged: u64,
    requests: u64,
    lines: u64,
}

fn watch(exe: &str, layout: &std::path::Path, secs: u64) -> WatchRun {
    let mut child = Command::new(exe)
        .args(["watch", &layout.display().to_string(), "--json", "--poll", "0", "--for", &format!("{secs}s")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ttyhmi watch");
    let out = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let mut lines = 0u64;
    let mut last = String::new();
    for line in out.lines() {
        let line = line.expect("read");
        lines += 1;
        if line.starts_with("{\"summary\"") || line.contains("\"summary\"") {
            last = line;
        }
    }
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).ok();
    assert!(child.wait().unwrap().success(), "watch failed: {err}");
    let v: serde_json::Value = serde_json::from_str(&last).unwrap_or_else(|_| panic!("no summary line; stderr: {err}"));
    WatchRun {
        requests_per_second: v["requests_per_second"].as_f64().unwrap(),
        response_mean_us: v["response_mean_us"].as_f64().unwrap(),
        processing_mean_us: v["processing_mean_us"].as_f64().unwrap(),
        processing_changed_mean_us: v["processing_changed_mean_us"].as_f64().unwrap(),
        unchanged: v["unchanged_reads"].as_u64().unwrap(),
        requests: v["requests"].as_u64().unwrap(),
        lines,
    }
}

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let exe = env!("CARGO_BIN_EXE_ttyhmi");
    let mut sim =
        Command::new(exe).args(["sim", "--modbus-port", "0"]).stdout(Stdio::piped()).spawn().expect("start ttyhmi sim");
    let mut first = String::new();
    BufReader::new(sim.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr: SocketAddr = first
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no address in the simulator's first line: {first}"));
    let dir = std::env::temp_dir().join(format!("ttyhmi-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("load-10k.yaml");
    std::fs::write(&path, layout(addr)).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    println!(
        "load run: {REGISTERS} holding registers in blocks of {BLOCK} against `ttyhmi sim` at {addr}, {secs}s per run"
    );
    let mut ratios = Vec::new();
    for round in 1..=2 {
        let b = rt.block_on(bare(addr, secs));
        let w = watch(exe, &path, secs);
        let ratio = w.requests_per_second / b;
        ratios.push(ratio);
        println!(
            "round {round}: bare client {b:.0} req/s | ttyhmi watch {:.0} req/s ({:.1}%) | response mean {:.1}µs | driver processing mean {:.2}µs ({:.1}% of the round trip); reads with changed values ({} of {}) {:.2}µs ({:.1}%) | {} lines printed",
            w.requests_per_second,
            ratio * 100.0,
            w.response_mean_us,
            w.processing_mean_us,
            w.processing_mean_us / w.response_mean_us * 100.0,
            w.requests - w.unchanged,
            w.requests,
            w.processing_changed_mean_us,
            w.processing_changed_mean_us / w.response_mean_us * 100.0,
            w.lines
        );
    }
    let _ = sim.kill();
    let _ = sim.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let best = ratios.iter().cloned().fold(0.0, f64::max);
    println!("watch/bare request rate: best {:.1}% (target ≥ 90%)", best * 100.0);
}
