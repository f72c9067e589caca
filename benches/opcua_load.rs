//! OPC UA load run: `ttyhmi watch --for 10s` subscribed to 1,000 variables of `ttyhmi sim` that
//! each change every 100 ms (10,000 notifications/s). Reports the notifications received per
//! second and the CPU the watch process used (target: all 10,000/s at under 10% of one core).
//!
//! Run: `cargo bench --bench opcua_load` (optionally `-- SECONDS`, default 10).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/common/proc.rs"]
#[allow(dead_code)]
mod proc;
use proc::cpu_ticks;

const ITEMS: usize = 1000;

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let exe = env!("CARGO_BIN_EXE_ttyhmi");
    let home = std::env::temp_dir().join(format!("ttyhmi-opcua-load-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let env = |c: &mut Command| {
        c.env("XDG_DATA_HOME", &home).env("XDG_STATE_HOME", &home);
    };

    let mut sim = Command::new(exe);
    env(&mut sim);
    let mut sim = sim
        .args(["sim", "--modbus-port", "0", "--opcua-port", "0", "--opcua-load", &ITEMS.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(sim.stdout.take().unwrap());
    let (mut url, mut cert) = (String::new(), String::new());
    for _ in 0..3 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        if let Some(u) = line.split_whitespace().find(|w| w.starts_with("opc.tcp://")) {
            url = u.to_string();
        }
        if let Some(c) = line.trim().strip_prefix("server certificate: ") {
            cert = c.split(" (").next().unwrap_or("").to_string();
        }
    }
    assert!(!url.is_empty() && !cert.is_empty(), "the simulator printed no OPC UA endpoint or certificate");
    let mut trust = Command::new(exe);
    env(&mut trust);
    assert!(trust.args(["trust", &cert]).stdout(Stdio::null()).status().unwrap().success());

    let mut layout = format!(
        "title: OPC UA load\nconnections:\n  sim:\n    opcua: {{ endpoint: \"{url}\", security: none }}\n    publishing_interval: 100ms\ntags:\n"
    );
    for i in 0..ITEMS {
        layout.push_str(&format!(
            "  V{i:04}: {{ source: sim, node: \"nsu=urn:ttyhmi:sim;s=Plant.Load.V{i:04}\", sampling: 50ms, queue_size: 5 }}\n"
        ));
    }
    let path = home.join("load.yaml");
    std::fs::write(&path, layout).unwrap();

    let mut watch = Command::new(exe);
    env(&mut watch);
    let mut watch = watch
        .args(["watch", &path.display().to_string(), "--json", "--for", &format!("{}s", secs + 3)])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = watch.id();
    let lines = BufReader::with_capacity(1 << 20, watch.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        for l in lines.lines() {
            let Ok(l) = l else { break };
            if l.starts_with("{\"tag\"") && tx.send(Instant::now()).is_err() {
                break;
            }
        }
    });
    // Measure a steady window: from 3 s after start (connected, subscribed) for `secs`.
    std::thread::sleep(Duration::from_secs(3));
    while rx.try_recv().is_ok() {}
    let cpu0 = cpu_ticks(pid).unwrap_or(0);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        if rx.recv_timeout(Duration::from_millis(50)).is_ok() {
            n += 1;
        }
    }
    let cpu = cpu_ticks(pid).unwrap_or(cpu0) - cpu0;
    let elapsed = start.elapsed().as_secs_f64();
    let _ = watch.wait();
    let _ = sim.kill();
    let _ = sim.wait();
    let _ = std::fs::remove_dir_all(&home);
    println!(
        "OPC UA load: {ITEMS} items changing every 100 ms → {:.0} notifications/s received (expected 10000), ttyhmi watch CPU {:.1}% of one core (printing every change as JSON)",
        n as f64 / elapsed,
        cpu as f64 / 100.0 / elapsed * 100.0
    );
}
