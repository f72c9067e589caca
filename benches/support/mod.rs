//! Shared by the end-to-end load benches (serve_load, sparkplug_load, soak): the real `ttyhmi`
//! binary started as child processes, their output read, and every child killed when the bench
//! ends (also by a panic). Not every bench uses every part.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const EXE: &str = env!("CARGO_BIN_EXE_ttyhmi");
/// USER_HZ on Linux: the unit of /proc/PID/stat's CPU times.
pub const HZ: f64 = 100.0;

/// The first line of `out` that contains `what`; panics if the output ends first.
pub fn line_with(out: &mut impl BufRead, what: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "no line with {what}");
        if line.contains(what) {
            return line;
        }
    }
}

/// A `ttyhmi sim` process and where it listens.
pub struct Sim {
    pub child: Child,
    /// Its Modbus TCP port.
    pub modbus: u16,
    /// `opc.tcp://127.0.0.1:PORT` of its OPC UA server.
    pub opcua_url: String,
}

impl Sim {
    /// `ttyhmi sim ARGS` (give `--modbus-port` and `--opcua-port`, 0 for free ones); `env` sets
    /// up the command (its XDG folders, say). Waits until both servers listen; the rest of its
    /// output is read and dropped.
    pub fn start(args: &[&str], env: &dyn Fn(&mut Command)) -> Sim {
        Sim::try_start(args, env).expect("the simulator starts")
    }

    /// [`Sim::start`], or `None` if the simulator ended before listening (a port still taken).
    pub fn try_start(args: &[&str], env: &dyn Fn(&mut Command)) -> Option<Sim> {
        let mut cmd = Command::new(EXE);
        env(&mut cmd);
        let mut child = cmd.arg("sim").args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()?;
        let mut out = BufReader::new(child.stdout.take()?);
        let mut find = |what: &str| {
            let mut line = String::new();
            loop {
                line.clear();
                if out.read_line(&mut line).ok()? == 0 {
                    return None;
                }
                if line.contains(what) {
                    return Some(line.clone());
                }
            }
        };
        let lines = find("Modbus TCP on").zip(find("opc.tcp://"));
        let Some((modbus, ua)) = lines else {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        let modbus = modbus.split_whitespace().find_map(|w| w.parse::<std::net::SocketAddr>().ok())?.port();
        let opcua_url = ua.split_whitespace().find(|w| w.starts_with("opc.tcp://"))?.to_string();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Some(Sim { child, modbus, opcua_url })
    }

    /// The OPC UA port.
    pub fn opcua_port(&self) -> u16 {
        self.opcua_url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or(0)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process a bench started: killed when dropped, also by a panic.
pub struct Kid(pub Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The processes a bench started: killed when it ends, also by a panic.
#[derive(Default)]
pub struct Kids(pub Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `sig` to `child` and waits up to 5 s for it to exit; then kills it.
pub fn stop(child: &mut Child, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig);
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// CPU ticks of this process's threads whose names are in `names` (the in-process broker's).
pub fn thread_ticks(names: &[&str]) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return 0 };
    dir.flatten()
        .filter_map(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            if !names.contains(&comm.trim()) {
                return None;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = stat.rsplit_once(") ")?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}
