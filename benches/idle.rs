//! Idle console: `ttyhmi run` on tags whose values never change (the simulator's fixed test
//! values), in a pseudo-terminal. Measures the CPU the console uses and what it writes to the
//! terminal: it should draw once a second (the clock tick) and nothing in between.
//!
//! Run: `cargo bench --bench idle` (optionally `-- SECONDS`, default 20).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use nix::pty::{Winsize, openpty};

#[path = "../tests/common/proc.rs"]
#[allow(dead_code)]
mod proc;
use proc::cpu_ticks;

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let exe = env!("CARGO_BIN_EXE_ttyhmi");
    let mut sim = Command::new(exe).args(["sim", "--modbus-port", "0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(sim.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr: SocketAddr = first.split_whitespace().find_map(|w| w.parse().ok()).unwrap();

    let dir = std::env::temp_dir().join(format!("ttyhmi-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut layout = format!(
        "title: Idle\nconnections:\n  sim: {{ modbus_tcp: {{ host: {}, port: {} }}, poll: 500ms }}\ntags:\n",
        addr.ip(),
        addr.port()
    );
    for i in 0..40 {
        layout.push_str(&format!(
            "  FIXED_{i:02}: {{ source: sim, holding: {}, description: fixed test value }}\n",
            200 + i
        ));
    }
    let path = dir.join("idle.yaml");
    std::fs::write(&path, layout).unwrap();

    let pty = openpty(Some(&Winsize { ws_row: 48, ws_col: 160, ws_xpixel: 0, ws_ypixel: 0 }), None).unwrap();
    let mut child = Command::new(exe)
        .arg("run")
        .arg(&path)
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()))
        .env("XDG_STATE_HOME", &dir)
        .env("TERM", "xterm-256color")
        .spawn()
        .unwrap();
    let mut master = File::from(pty.master);
    let (tx, rx) = mpsc::channel::<(SystemTime, usize)>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 || tx.send((SystemTime::now(), n)).is_err() {
                break;
            }
        }
    });

    // Warm up: connect, first values, first frames.
    std::thread::sleep(Duration::from_secs(3));
    while rx.try_recv().is_ok() {}
    let t0 = cpu_ticks(child.id()).unwrap_or(0);
    let start = Instant::now();
    let mut writes: Vec<(SystemTime, usize)> = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Ok(w) = rx.recv_timeout(Duration::from_millis(100)) {
            writes.push(w);
        }
    }
    let ticks = cpu_ticks(child.id()).unwrap_or(t0) - t0;
    let elapsed = start.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    let _ = sim.kill();
    let _ = sim.wait();
    let _ = std::fs::remove_dir_all(&dir);

    // The clock ticks on whole seconds; a write more than 150 ms after one is "between ticks".
    let bytes: usize = writes.iter().map(|w| w.1).sum();
    let between: Vec<u128> = writes
        .iter()
        .map(|(t, _)| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() % 1000)
        .filter(|ms| *ms > 150)
        .collect();
    let hz = 100.0; // USER_HZ on Linux
    println!(
        "idle console ({secs}s, 40 unchanging tags, poll 500ms, 160x48): CPU {:.3}% of one core ({ticks} ticks), {} writes, {:.0} bytes/s to the terminal, {} writes between clock ticks {:?}",
        ticks as f64 / hz / elapsed * 100.0,
        writes.len(),
        bytes as f64 / elapsed,
        between.len(),
        between
    );
}
