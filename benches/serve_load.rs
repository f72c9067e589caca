//! Console server load: `ttyhmi serve` (the real binary) on the demo plant (`ttyhmi sim`: its
//! Modbus PLC and its OPC UA server, here without security), with 0, then 1, 10 and 50 SSH
//! sessions of an in-process client that reads everything and types nothing. Measures the
//! server's CPU (share of one core) and resident memory at each step, and the bytes each session
//! receives per second.
//!
//! Run: `cargo bench --bench serve_load` (optionally `-- SECONDS` per step, default 20). With
//! `-- idle` the plant is 40 of the simulator's fixed test values instead: nothing changes but
//! the clock, so what a session costs is what an idle session costs.

use std::io::BufReader;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "../tests/common/proc.rs"]
#[allow(dead_code)]
mod proc;
#[path = "../tests/common/ssh.rs"]
#[allow(dead_code)]
mod ssh;

mod support;
use support::{EXE, Sim, line_with};

/// The demo layout pointed at this simulator, its OPC UA connection without security.
fn layout(dir: &std::path::Path, modbus_port: u16, url: &str) -> std::path::PathBuf {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/layouts/demo.yaml")).unwrap();
    let src = src
        .replace("port: 5020", &format!("port: {modbus_port}"))
        .replace("opc.tcp://127.0.0.1:4840", url)
        .replace("security: { policy: Basic256Sha256, mode: SignAndEncrypt }", "security: none")
        .lines()
        .filter(|l| !l.contains("password_file"))
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("demo.yaml");
    std::fs::write(&path, src).unwrap();
    path
}

/// 40 fixed test values of the simulator (they never change).
fn idle_layout(dir: &std::path::Path, modbus_port: u16) -> std::path::PathBuf {
    let mut src = format!(
        "title: Idle\nconnections:\n  sim: {{ modbus_tcp: {{ host: 127.0.0.1, port: {modbus_port} }}, poll: 500ms }}\ntags:\n"
    );
    for i in 0..40 {
        src.push_str(&format!(
            "  FIXED_{i:02}: {{ source: sim, holding: {}, description: fixed test value }}\n",
            200 + i
        ));
    }
    let path = dir.join("idle.yaml");
    std::fs::write(&path, src).unwrap();
    path
}

fn users(dir: &std::path::Path, n: u8) -> std::path::PathBuf {
    let mut src = String::from("users:\n");
    for i in 0..n {
        src.push_str(&format!(
            "  op{i}: {{ role: operator, keys: [\"{}\"] }}\n",
            ssh::public_line(&ssh::key(i + 1), "bench")
        ));
    }
    let path = dir.join("users.yaml");
    std::fs::write(&path, src).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let idle = std::env::args().any(|a| a == "idle");
    let dir = std::env::temp_dir().join(format!("ttyhmi-serve-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sim = Sim::start(&["--modbus-port", "0", "--opcua-port", "0", "--opcua-load", "10"], &|_| {});
    let (modbus_port, url) = (sim.modbus, sim.opcua_url.clone());
    let layout = if idle { idle_layout(&dir, modbus_port) } else { layout(&dir, modbus_port, &url) };
    let users = users(&dir, 50);
    let mut server = Command::new(EXE)
        .args([
            "serve",
            layout.to_str().unwrap(),
            "--ssh",
            "127.0.0.1:0",
            "--users",
            users.to_str().unwrap(),
            "--no-socket",
        ])
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let ssh_line = line_with(&mut out, "SSH ");
    let addr: std::net::SocketAddr = ssh_line.split_whitespace().nth(1).unwrap().trim_end_matches(',').parse().unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let pid = server.id();
    let hz = 100.0; // USER_HZ on Linux
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let plant = if idle { "idle plant (fixed values)" } else { "demo plant" };
    println!("{plant}, {secs} s per step; server pid {pid}");
    println!(
        "{:>9} {:>11} {:>11} {:>14} {:>16}",
        "sessions", "CPU % core", "RSS MiB", "RSS/session", "B/s per session"
    );
    let bytes = Arc::new(AtomicU64::new(0));
    let mut open = 0u8;
    let mut base: Option<(f64, u64)> = None;
    rt.block_on(async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        for target in [0u8, 1, 10, 50] {
            while open < target {
                let (bytes, key) = (bytes.clone(), ssh::key(open + 1));
                let user = format!("op{open}");
                let mut t = ssh::Term::open(addr, &user, &key, 100, 30).await;
                tokio::spawn(async move {
                    loop {
                        let before = t.bytes;
                        t.pump(Duration::from_millis(200)).await;
                        bytes.fetch_add((t.bytes - before) as u64, Ordering::Relaxed);
                        if t.closed {
                            break;
                        }
                    }
                });
                open += 1;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            let (t0, b0, c0) = (Instant::now(), bytes.load(Ordering::Relaxed), proc::cpu_ticks(pid).unwrap_or(0));
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let dt = t0.elapsed().as_secs_f64();
            let cpu = (proc::cpu_ticks(pid).unwrap_or(0) - c0) as f64 / hz / dt * 100.0;
            let rss = proc::rss_kib(pid).unwrap_or(0);
            let per =
                if target > 0 { (bytes.load(Ordering::Relaxed) - b0) as f64 / dt / f64::from(target) } else { 0.0 };
            let (base_cpu, base_rss) = *base.get_or_insert((cpu, rss));
            let rss_per = if target > 0 {
                format!("{:.2} MiB", (rss - base_rss.min(rss)) as f64 / 1024.0 / f64::from(target))
            } else {
                "-".into()
            };
            println!("{target:>9} {cpu:>11.2} {:>11.1} {rss_per:>14} {per:>16.0}", rss as f64 / 1024.0);
            let _ = base_cpu;
        }
    });
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
    let _ = server.wait();
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}
