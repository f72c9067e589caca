//! The long run: everything at once for MINUTES, with faults on a schedule, measuring whether
//! the processes stay flat and whether anything is lost.
//!
//! Run: `cargo bench --bench soak -- MINUTES` (default 30; `-- 3` is a short check that still
//! injects every kind of fault once; add `keep` to keep the temporary folder with the logs).
//!
//! What runs (every ttyhmi part a real process of the built binary, on loopback ephemeral ports,
//! its state, audit logs and journals in a temporary folder):
//! - **PLC**: `ttyhmi sim` (its Modbus TCP server), values changing every 100 ms (the physics
//!   step; the scan counter, holding 100, counts the steps).
//! - **OPC UA server**: a second `ttyhmi sim` whose OPC UA server has 100 load variables
//!   (`Plant.Load.Vnnnn`, each changing every 100 ms), 20 of them read here.
//! - **Console server**: `ttyhmi serve` on both, with 20 SSH sessions (the in-process russh
//!   client of tests/common/ssh.rs, each reading and parsing its screen). `op0` writes the
//!   Modbus setpoint every 20 s (alternately 9.5 and 8.0 bar: its `SP.hi` alarm and the header
//!   pressure alarms come and go) and acknowledges every alarm after each write; `op1` writes the
//!   OPC UA setpoint every 20 s (7.5 and 7.0). Every write goes through the dialog: `w`, value,
//!   Enter, PIN, Enter. The other 18 only read.
//! - **Broker**: the in-process MQTT broker (rumqttd, `ttyhmi::sim::broker`) behind a relay.
//! - **Gateway**: `ttyhmi gateway` publishing both connections (same tags and alarms) as the
//!   Sparkplug B edge node Soak/Edge1.
//! - **Console on the broker**: `ttyhmi watch --json` on a Sparkplug layout (every value it gets).
//!
//! Faults, in rotation every MINUTES×60/8 s (20 s to 3 min), none in the last stretch of the run:
//! 1. PLC restart: the Modbus sim is killed (SIGKILL), and started again on the same port 5 s later.
//! 2. Broker restart: every connection through the relay is cut; 5 s later a new broker (no
//!    sessions, no retained messages) takes over.
//! 3. A stalled link: a TCP relay in front of session `op19` stops reading what the server sends
//!    for up to a minute (the server's socket fills), then reads again.
//! 4. OPC UA server restart: the OPC UA sim is killed and started again on the same port 5 s later.
//!
//! Measured after a 1-minute warm-up, then every minute and at the end, for serve, gateway,
//! console and both sims: RSS (VmRSS), CPU (share of one core, from utime+stime), open file
//! descriptors, and the sizes of both audit logs and both alarm journals. The summary gives start
//! vs end, RSS growth per hour (least squares over the last half of the run) and a verdict: flat
//! when that growth is under max(1 MiB, 2 % of the RSS) per hour and the descriptors are as many
//! at the end as at the start. (The sims restart by design: their rows are for reading only.)
//!
//! Nothing lost, checked at the end: every write the operators made is in serve's audit log
//! (per user: attempts + denials = confirmed + refused writes; one result per attempt; the
//! writes read back equal the `ok` results), every acknowledge they made is in the audit log and
//! in the journal, every journal's transitions are continuous per alarm (each `from` is the
//! previous `to`), `ttyhmi audit verify` passes on both audit logs, all 20 sessions are still
//! open, and the console on the broker ends with every tag Good. After each fault the time until
//! the console got Good values again is reported.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use ttyhmi::sim::broker::{self, Relay};

#[path = "../tests/common/proc.rs"]
mod proc;
#[path = "../tests/common/ssh.rs"]
#[allow(dead_code)]
mod ssh;
mod support;

use support::{EXE, HZ, Kid, Sim, line_with, stop, thread_ticks};

const SESSIONS: usize = 20;
/// The session whose link stalls.
const STALLED: usize = SESSIONS - 1;
const PIN: &str = "1234";
/// OPC UA load variables read (of the 100 the sim serves).
const LOAD_TAGS: usize = 20;
/// Threads of the in-process broker (rumqttd names them so).
const BROKER_THREADS: [&str; 4] = ["mqtt-broker", "router-0", "v4", "timer"];
const WRITE_EVERY: Duration = Duration::from_secs(20);
const DOWN_FOR: Duration = Duration::from_secs(5);

/// The run's timing, from the command line.
struct Plan {
    minutes: u64,
    run: Duration,
    warm_up: Duration,
    fault_every: Duration,
    stall_for: Duration,
    keep: bool,
}

impl Plan {
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let minutes = args.iter().find_map(|a| a.parse::<u64>().ok()).unwrap_or(30).max(1);
        let fault_every = Duration::from_secs((minutes * 60 / 8).clamp(20, 180));
        Plan {
            minutes,
            run: Duration::from_secs(minutes * 60),
            warm_up: Duration::from_secs(60),
            fault_every,
            stall_for: fault_every.saturating_sub(Duration::from_secs(5)).min(Duration::from_secs(60)),
            keep: args.iter().any(|a| a == "keep"),
        }
    }

    /// When fault `k` (1, 2, …) starts, if it fits: the last one ends 30 s before the run does.
    fn fault_at(&self, k: u32) -> Option<Duration> {
        let at = self.fault_every * k;
        (at + self.fault_every + Duration::from_secs(30) <= self.run).then_some(at)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    Plc,
    Broker,
    Stall,
    OpcUa,
}

impl Fault {
    fn nth(k: u32) -> Fault {
        [Fault::Plc, Fault::Broker, Fault::Stall, Fault::OpcUa][(k as usize - 1) % 4]
    }

    fn name(self) -> &'static str {
        match self {
            Fault::Plc => "PLC restart",
            Fault::Broker => "broker restart",
            Fault::Stall => "op19's link stalled",
            Fault::OpcUa => "OPC UA server restart",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Files: layouts, users

/// The plant both serve and the gateway read (the gateway's with a publish block).
fn plant_layout(plc: u16, ua_url: &str, publish: Option<u16>) -> String {
    let mut s = String::from("title: Soak\n");
    if let Some(port) = publish {
        s.push_str(&format!(
            "publish: {{ sparkplug: {{ host: 127.0.0.1, port: {port}, group: Soak, node: Edge1 }} }}\n"
        ));
    }
    s.push_str(&format!(
        r#"connections:
  plc1: {{ modbus_tcp: {{ host: 127.0.0.1, port: {plc}, unit: 1 }}, poll: 100ms, timeout: 1s }}
  ua1: {{ opcua: {{ endpoint: "{ua_url}", security: none }}, publishing_interval: 100ms }}
tags:
  SP: {{ source: plc1, holding: 30, type: f32, units: bar, decimals: 2, description: Header pressure setpoint, write: {{ role: operator, min: 0, max: 10 }} }}
  UA_SP: {{ source: ua1, node: "nsu=urn:ttyhmi:sim;s=Plant.Boiler.PressureSetpoint", units: bar, decimals: 2, description: Pressure setpoint (OPC UA), write: {{ role: operator, min: 0, max: 10 }} }}
  P_101: {{ source: plc1, holding: 1, type: f32, units: bar, decimals: 2, description: Header pressure }}
  T_102: {{ source: plc1, holding: 3, type: f32, byte_order: CDAB, units: degC, decimals: 1, description: Outlet temperature }}
  COUNT: {{ source: plc1, holding: 100, type: u16, description: Scan counter (every 100 ms) }}
  LT_201: {{ source: plc1, input: 3, type: u16, scale: {{ raw: [0, 1000], eu: [0, 100] }}, units: "%", decimals: 1, description: Tank 1 level }}
  LT_202: {{ source: plc1, input: 4, type: u16, scale: {{ raw: [0, 1000], eu: [0, 100] }}, units: "%", decimals: 1, description: Tank 2 level }}
"#
    ));
    for i in 0..LOAD_TAGS {
        s.push_str(&format!(
            "  V{i:04}: {{ source: ua1, node: \"nsu=urn:ttyhmi:sim;s=Plant.Load.V{i:04}\", sampling: 100ms, decimals: 3 }}\n"
        ));
    }
    let load: Vec<String> = (0..LOAD_TAGS).map(|i| format!("V{i:04}")).collect();
    s.push_str(&format!(
        r#"alarms:
  SP:
    hi: {{ limit: 9, priority: high, message: Setpoint above 9 bar }}
  P_101:
    hi: {{ limit: 9, priority: high, deadband: 0.2, on_delay: 2s, message: Header pressure high }}
    lo: {{ limit: 2, priority: medium, deadband: 0.2, message: Header pressure low }}
  LT_201:
    hi: {{ limit: 90, priority: medium, deadband: 1, message: Tank 1 level high }}
  LT_202:
    lo: {{ limit: 15, priority: high, deadband: 1, message: Tank 2 level low }}
  plc1:
    comms: {{ priority: high }}
  ua1:
    comms: {{ priority: medium }}
screens:
  - title: Main
    panels:
      - grid: {{ title: Plant, tags: [SP, UA_SP, P_101, T_102, COUNT, LT_201, LT_202] }}
      - grid: {{ title: Load, tags: [{}] }}
  - title: Alarms
    panels:
      - alarms: {{}}
"#,
        load.join(", ")
    ));
    s
}

/// The console on the broker: every metric of both devices.
fn console_layout(broker: u16) -> String {
    let mut s = format!(
        "title: Soak console\nconnections:\n  site: {{ sparkplug: {{ host: 127.0.0.1, port: {broker}, group: Soak, node: Edge1, host_id: soak-console, reorder_timeout: 2s, rebirth_cooldown: 5s }} }}\ntags:\n"
    );
    for t in ["SP", "P_101", "T_102", "COUNT", "LT_201", "LT_202"] {
        s.push_str(&format!("  {t}: {{ source: site, device: plc1, metric: {t} }}\n"));
    }
    s.push_str("  UA_SP: { source: site, device: ua1, metric: UA_SP }\n");
    for i in 0..LOAD_TAGS {
        s.push_str(&format!("  V{i:04}: {{ source: site, device: ua1, metric: V{i:04} }}\n"));
    }
    s
}

/// op0 … op19, operators with PIN 1234; keys from seeds 1 … 20.
fn users_file(dir: &Path) -> PathBuf {
    let hash = ttyhmi::auth::hash_pin(PIN).unwrap();
    let mut src = String::from("users:\n");
    for i in 0..SESSIONS {
        let key = ssh::public_line(&ssh::key(i as u8 + 1), "soak");
        src.push_str(&format!("  op{i}: {{ role: operator, pin: \"{hash}\", keys: [\"{key}\"] }}\n"));
    }
    let path = dir.join("users.yaml");
    std::fs::write(&path, src).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

/// The run's folder, removed at the end (unless `keep`).
struct Folder {
    path: PathBuf,
    keep: bool,
}

impl Drop for Folder {
    fn drop(&mut self) {
        if self.keep {
            println!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// Every process of the run; each is killed when dropped (also by a panic).
struct Rig {
    dir: PathBuf,
    plc: Sim,
    ua: Sim,
    serve: Kid,
    gateway: Kid,
    console: Kid,
}

/// The XDG folders of a process named `name` inside `dir`.
fn env_in(dir: &Path, name: &str) -> impl Fn(&mut Command) + use<> {
    let (state, data) = (dir.join(format!("{name}-state")), dir.join(format!("{name}-data")));
    move |c: &mut Command| {
        c.env("XDG_STATE_HOME", &state).env("XDG_DATA_HOME", &data);
    }
}

fn plc_args(port: u16) -> Vec<String> {
    ["--modbus-port", &port.to_string(), "--opcua-port", "0", "--opcua-load", "0"].map(String::from).to_vec()
}

fn ua_args(port: u16) -> Vec<String> {
    ["--modbus-port", "0", "--opcua-port", &port.to_string(), "--opcua-load", "100"].map(String::from).to_vec()
}

fn start_sim(dir: &Path, name: &str, args: &[String]) -> Option<Sim> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Sim::try_start(&args, &env_in(dir, name))
}

/// Kills a sim (a power cut), waits `down`, and starts it again on the same ports (retrying for
/// up to 30 s while the port is not free yet).
fn restart_sim(dir: &Path, name: &str, sim: &mut Sim, args: &[String], down: Duration) -> String {
    let _ = sim.child.kill();
    let _ = sim.child.wait();
    std::thread::sleep(down);
    let t = Instant::now();
    loop {
        if let Some(new) = start_sim(dir, name, args) {
            *sim = new;
            return format!("back after {:.1} s", (down + t.elapsed()).as_secs_f64());
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{name} did not start again on its port within 30 s");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn start_serve(dir: &Path, layout: &Path, users: &Path) -> (Child, SocketAddr) {
    let mut cmd = Command::new(EXE);
    env_in(dir, "serve")(&mut cmd);
    let mut serve = cmd
        .args(["serve", layout.to_str().unwrap(), "--ssh", "127.0.0.1:0", "--users", users.to_str().unwrap()])
        .args(["--no-socket", "--audit", path_str(&dir.join("serve-audit.jsonl"))])
        .args(["--journal", path_str(&dir.join("serve-alarms.jsonl"))])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(serve.stdout.take().unwrap());
    let ssh_line = line_with(&mut out, "SSH ");
    let addr = ssh_line.split_whitespace().nth(1).unwrap().trim_end_matches(',').parse().unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (serve, addr)
}

fn start_gateway(dir: &Path, layout: &Path) -> Child {
    let mut cmd = Command::new(EXE);
    env_in(dir, "gateway")(&mut cmd);
    cmd.args(["gateway", path_str(layout), "--audit", path_str(&dir.join("gateway-audit.jsonl"))])
        .args(["--journal", path_str(&dir.join("gateway-alarms.jsonl"))])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("gateway.log")).unwrap())
        .spawn()
        .unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The console on the broker

/// What the console printed.
#[derive(Default)]
struct Seen {
    lines: u64,
    bad_lines: u64,
    /// Per tag: when it last arrived Good, and its last quality.
    last_good: HashMap<String, Instant>,
    last_quality: HashMap<String, String>,
}

fn start_console(dir: &Path, layout: &Path) -> (Child, Arc<Mutex<Seen>>) {
    let mut cmd = Command::new(EXE);
    env_in(dir, "console")(&mut cmd);
    let mut child = cmd
        .args(["watch", path_str(layout), "--json"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("console.log")).unwrap())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    std::thread::spawn(move || read_console(out, &s));
    (child, seen)
}

fn read_console(out: impl Read, seen: &Mutex<Seen>) {
    for l in BufReader::with_capacity(1 << 16, out).lines() {
        let Ok(l) = l else { break };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&l) else { continue };
        let (Some(tag), Some(q)) = (v["tag"].as_str(), v["quality"].as_str()) else { continue };
        let mut s = seen.lock().unwrap();
        s.lines += 1;
        if q == "good" {
            s.last_good.insert(tag.to_string(), Instant::now());
        } else {
            s.bad_lines += 1;
        }
        if s.last_quality.get(tag).is_none_or(|old| old != q) {
            s.last_quality.insert(tag.to_string(), q.to_string());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SSH sessions

/// What an operator did, as its screen said.
#[derive(Default, Debug, Clone)]
struct Tally {
    /// `w` pressed on the tag.
    tries: u64,
    /// Refused before a dialog opened, or after a step of it (the screen said why).
    denied: u64,
    /// PIN typed at the confirmation.
    confirmed: u64,
    /// Written and read back.
    ok: u64,
    /// Answered otherwise (not sent, refused, connection lost, …).
    failed: u64,
    /// A step that did not come on screen in time: Esc, Esc.
    aborted: u64,
    /// Acknowledge-all presses, and the alarms they acknowledged.
    ack_presses: u64,
    acked: u64,
    /// The first few distinct refusals and failures, as said on screen.
    said: Vec<String>,
}

impl Tally {
    fn note(&mut self, text: String) {
        if self.said.len() < 6 && !self.said.contains(&text) {
            self.said.push(text);
        }
    }
}

/// One session's counters, shared with its task.
#[derive(Default)]
struct Link {
    bytes: AtomicU64,
    closed: AtomicBool,
    /// Set while the link is stalled: the task stops reading.
    stalled: AtomicBool,
    tally: Mutex<Tally>,
}

/// What an operator writes.
struct Operator {
    tag: &'static str,
    /// `j` presses from the first tag of the main screen to this one.
    down: usize,
    /// The values typed, in turn, and as the screen shows them.
    values: [(&'static str, &'static str); 2],
    acknowledges: bool,
}

const OPERATORS: [Operator; 2] = [
    Operator { tag: "SP", down: 0, values: [("9.5", "9.50"), ("8", "8.00")], acknowledges: true },
    Operator { tag: "UA_SP", down: 1, values: [("7.5", "7.50"), ("7", "7.00")], acknowledges: false },
];

/// Reads what arrives until `ok` holds on the screen, for at most `d`; the screen if it did.
async fn wait_until(t: &mut ssh::Term, d: Duration, ok: impl Fn(&str) -> bool) -> Option<String> {
    let end = Instant::now() + d;
    loop {
        let text = t.text();
        if ok(&text) {
            return Some(text);
        }
        if t.closed || Instant::now() > end {
            return None;
        }
        t.pump(Duration::from_millis(50)).await;
    }
}

/// The message line: the last line with text above the status bar (the bottom line).
fn message_line(text: &str) -> String {
    text.lines().rev().map(str::trim).filter(|l| !l.is_empty()).nth(1).unwrap_or_default().to_string()
}

/// Goes to the alarm screen and presses `w` there: "no tag here" is said, so whatever is said
/// next is new. Back on the main screen when `back`.
async fn marker(t: &mut ssh::Term, back: bool) -> bool {
    t.keys(b"a").await;
    t.keys(b"w").await;
    let seen = wait_until(t, Duration::from_secs(10), |s| s.contains("no tag here")).await.is_some();
    if back {
        t.keys(b"1").await;
    }
    seen
}

async fn abort(t: &mut ssh::Term, tally: &Mutex<Tally>, step: &str) {
    t.keys(b"\x1b").await;
    t.pump(Duration::from_millis(100)).await;
    t.keys(b"\x1b").await;
    let mut tally = tally.lock().unwrap();
    tally.aborted += 1;
    tally.note(format!("aborted at {step}"));
}

/// The screen refused the write (its message line says why).
fn denied(tally: &Mutex<Tally>, screen: &str) {
    let mut tally = tally.lock().unwrap();
    tally.denied += 1;
    tally.note(message_line(screen));
}

/// One write through the dialog: `w`, the value, Enter, the PIN, Enter; counted as the screen
/// answers.
async fn write_once(t: &mut ssh::Term, op: &Operator, which: usize, tally: &Mutex<Tally>) {
    let (typed, shown) = op.values[which];
    if !marker(t, true).await {
        return abort(t, tally, "the marker").await;
    }
    for _ in 0..op.down {
        t.keys(b"j").await;
    }
    tally.lock().unwrap().tries += 1;
    t.keys(b"w").await;
    let open = |s: &str| s.contains(" Write: new value ") || !s.contains("no tag here");
    let Some(s) = wait_until(t, Duration::from_secs(10), open).await else { return abort(t, tally, "w").await };
    if !s.contains(" Write: new value ") {
        return denied(tally, &s);
    }
    t.keys(format!("{typed}\r").as_bytes()).await;
    let confirm = |s: &str| s.contains(" Write: confirm ") || !s.contains(" Write: ");
    let Some(s) = wait_until(t, Duration::from_secs(10), confirm).await else { return abort(t, tally, "value").await };
    if !s.contains(" Write: confirm ") {
        return denied(tally, &s);
    }
    t.keys(format!("{PIN}\r").as_bytes()).await;
    tally.lock().unwrap().confirmed += 1;
    let answered = |s: &str| !s.contains(" Write: ");
    let Some(s) = wait_until(t, Duration::from_secs(40), answered).await else { return abort(t, tally, "PIN").await };
    let mut tally = tally.lock().unwrap();
    if s.contains("written and read back") && s.contains(&format!("{} = {shown}", op.tag)) {
        tally.ok += 1;
    } else {
        tally.failed += 1;
        tally.note(message_line(&s));
    }
}

/// Acknowledges every alarm on the alarm screen (`A`), and goes back.
async fn acknowledge_all(t: &mut ssh::Term, tally: &Mutex<Tally>) {
    if !marker(t, false).await {
        return abort(t, tally, "the ack marker").await;
    }
    t.keys(b"A").await;
    let said = |s: &str| {
        s.contains("alarm acknowledged") || s.contains("alarms acknowledged") || s.contains("nothing to acknowledge")
    };
    let s = wait_until(t, Duration::from_secs(10), said).await;
    t.keys(b"1").await;
    let Some(s) = s else { return abort(t, tally, "A").await };
    let n = ["alarm acknowledged", "alarms acknowledged"]
        .iter()
        .find_map(|w| s.split_once(w))
        .and_then(|(before, _)| before.split_whitespace().last()?.parse::<u64>().ok())
        .unwrap_or(0);
    let mut tally = tally.lock().unwrap();
    tally.ack_presses += 1;
    tally.acked += n;
}

/// A session's task: reads its screen (not while stalled); an operator also writes every
/// [`WRITE_EVERY`] and maybe acknowledges.
async fn session(mut t: ssh::Term, link: Arc<Link>, op: Option<&'static Operator>, stop: Arc<AtomicBool>) {
    let mut counted = t.bytes;
    let mut next = Instant::now() + Duration::from_secs(2);
    let mut turn = 0;
    while !stop.load(Ordering::Relaxed) && !t.closed {
        if link.stalled.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        if let Some(op) = op.filter(|_| Instant::now() >= next) {
            write_once(&mut t, op, turn % 2, &link.tally).await;
            turn += 1;
            if op.acknowledges {
                t.pump(Duration::from_secs(3)).await;
                acknowledge_all(&mut t, &link.tally).await;
            }
            next += WRITE_EVERY;
        }
        t.pump(Duration::from_millis(200)).await;
        link.bytes.fetch_add((t.bytes - counted) as u64, Ordering::Relaxed);
        counted = t.bytes;
    }
    if t.closed {
        link.closed.store(true, Ordering::Relaxed);
    }
}

/// A TCP relay in front of the SSH server for one session: while `paused`, it does not read
/// what the server sends (its receive buffer is small, so the server's socket fills quickly).
async fn stall_relay(target: SocketAddr, paused: watch::Receiver<bool>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            let _ = socket.set_recv_buffer_size(4096);
            let Ok(server) = socket.connect(target).await else { continue };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            let mut paused = paused.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    if paused.wait_for(|p| !*p).await.is_err() {
                        break;
                    }
                    match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) if cw.write_all(&buf[..n]).await.is_err() => break,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    addr
}

/// Opens the 20 sessions (the last through the stall relay) and starts their tasks.
async fn open_sessions(
    ssh_addr: SocketAddr,
    stall_addr: SocketAddr,
    stop: &Arc<AtomicBool>,
) -> (Vec<Arc<Link>>, Vec<tokio::task::JoinHandle<()>>) {
    let (mut links, mut tasks) = (Vec::new(), Vec::new());
    for i in 0..SESSIONS {
        let addr = if i == STALLED { stall_addr } else { ssh_addr };
        let cols = if i < OPERATORS.len() { 160 } else { 100 };
        let mut t = ssh::Term::open(addr, &format!("op{i}"), &ssh::key(i as u8 + 1), cols, 40).await;
        t.pump(Duration::from_millis(50)).await;
        let link = Arc::new(Link::default());
        tasks.push(tokio::spawn(session(t, link.clone(), OPERATORS.get(i), stop.clone())));
        links.push(link);
    }
    (links, tasks)
}

// ---------------------------------------------------------------------------------------------
// Measurements

const PROCS: [&str; 5] = ["serve", "gateway", "console", "sim-plc", "sim-ua"];
const FILES: [&str; 4] = ["serve-audit.jsonl", "serve-alarms.jsonl", "gateway-audit.jsonl", "gateway-alarms.jsonl"];

#[derive(Clone, Copy, Default)]
struct ProcSample {
    pid: u32,
    rss_kib: u64,
    ticks: u64,
    fds: usize,
}

struct Sample {
    at: Duration,
    procs: [ProcSample; 5],
    files: [u64; 4],
    broker_ticks: u64,
    bench_rss: u64,
    console_lines: u64,
    ssh_bytes: u64,
}

impl Rig {
    fn pids(&self) -> [u32; 5] {
        [self.serve.0.id(), self.gateway.0.id(), self.console.0.id(), self.plc.child.id(), self.ua.child.id()]
    }
}

fn sample(rig: &Rig, seen: &Mutex<Seen>, links: &[Arc<Link>], at: Duration) -> Sample {
    let procs = rig.pids().map(|pid| ProcSample {
        pid,
        rss_kib: proc::rss_kib(pid).unwrap_or(0),
        ticks: proc::cpu_ticks(pid).unwrap_or(0),
        fds: proc::open_fds(pid).unwrap_or(0),
    });
    let files = FILES.map(|f| std::fs::metadata(rig.dir.join(f)).map_or(0, |m| m.len()));
    Sample {
        at,
        procs,
        files,
        broker_ticks: thread_ticks(&BROKER_THREADS),
        bench_rss: proc::rss_kib(std::process::id()).unwrap_or(0),
        console_lines: seen.lock().unwrap().lines,
        ssh_bytes: links.iter().map(|l| l.bytes.load(Ordering::Relaxed)).sum(),
    }
}

/// CPU share of one core of process `i` between two samples (`*`: it was restarted between).
fn cpu(prev: &Sample, cur: &Sample, i: usize) -> (f64, bool) {
    let dt = (cur.at.saturating_sub(prev.at)).as_secs_f64().max(0.001);
    let (p, c) = (prev.procs[i], cur.procs[i]);
    let restarted = p.pid != c.pid;
    let ticks = if restarted { c.ticks } else { c.ticks.saturating_sub(p.ticks) };
    (ticks as f64 / HZ / dt * 100.0, restarted)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_header() {
    let mut h = format!("{:>5}", "min");
    for p in PROCS {
        h.push_str(&format!(" | {p:<18}"));
    }
    h.push_str(
        " | serve KiB  audit journal | gateway KiB audit journal | console/s  SSH KiB/s  broker% bench MiB | events",
    );
    println!("{h}");
    let mut u = format!("{:>5}", "");
    for _ in PROCS {
        u.push_str(&format!(" | {:<18}", "RSS MiB  CPU%  fds"));
    }
    println!("{u}");
}

/// A table row; `zero`: when measuring started (the end of the warm-up).
fn print_row(prev: &Sample, cur: &Sample, zero: Duration, events: &str) {
    let mut r = format!("{:>5.1}", cur.at.saturating_sub(zero).as_secs_f64() / 60.0);
    for i in 0..PROCS.len() {
        let (c, restarted) = cpu(prev, cur, i);
        let p = cur.procs[i];
        let mark = if restarted { '*' } else { ' ' };
        r.push_str(&format!(" | {:>7.1} {:>5.1}{mark} {:>3}", mib(p.rss_kib), c, p.fds));
    }
    let dt = cur.at.saturating_sub(prev.at).as_secs_f64().max(0.001);
    let kib = |i: usize| cur.files[i] as f64 / 1024.0;
    r.push_str(&format!(
        " | {:>15.1} {:>7.1} | {:>17.1} {:>7.1} | {:>9.0} {:>10.1} {:>8.1} {:>9.1} | {events}",
        kib(0),
        kib(1),
        kib(2),
        kib(3),
        (cur.console_lines - prev.console_lines) as f64 / dt,
        (cur.ssh_bytes - prev.ssh_bytes) as f64 / dt / 1024.0,
        (cur.broker_ticks - prev.broker_ticks) as f64 / HZ / dt * 100.0,
        mib(cur.bench_rss),
    ));
    println!("{r}");
}

/// Least-squares slope of `(hours, MiB)`, in MiB per hour.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// Start vs end per process, RSS growth over the last half, and the verdict; whether every
/// long-lived process (serve, gateway, console) is flat.
fn summary(samples: &[Sample], plan: &Plan) -> bool {
    let (first, last) = (&samples[0], &samples[samples.len() - 1]);
    let half = first.at + (last.at - first.at) / 2;
    println!();
    println!(
        "{:<9} {:>13} {:>11} {:>17} {:>9} {:>7} {:>9}  verdict",
        "process", "RSS start MiB", "RSS end MiB", "last half MiB/h", "fds start", "fds end", "CPU avg%"
    );
    let mut all_flat = true;
    for (i, name) in PROCS.iter().enumerate() {
        let points: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.at >= half && s.procs[i].pid == last.procs[i].pid)
            .map(|s| (s.at.as_secs_f64() / 3600.0, mib(s.procs[i].rss_kib)))
            .collect();
        let growth = slope(&points);
        let (a, b) = (first.procs[i], last.procs[i]);
        let (avg, restarted) = cpu(first, last, i);
        let verdict = if restarted || a.pid != b.pid {
            "restarted by the faults (not judged)".to_string()
        } else {
            let limit = (0.02 * mib(b.rss_kib)).max(1.0);
            let flat = growth <= limit && a.fds == b.fds;
            all_flat &= flat;
            let mut v = if flat { "flat after warm-up".to_string() } else { "NOT flat".to_string() };
            if growth > limit {
                v.push_str(&format!(" (RSS grows {growth:.1} MiB/h > {limit:.1})"));
            }
            if a.fds != b.fds {
                v.push_str(&format!(" (fds {} → {})", a.fds, b.fds));
            }
            v
        };
        let avg = if restarted { "-".to_string() } else { format!("{avg:.1}") };
        println!(
            "{name:<9} {:>13.1} {:>11.1} {growth:>17.2} {:>9} {:>7} {avg:>9}  {verdict}",
            mib(a.rss_kib),
            mib(b.rss_kib),
            a.fds,
            b.fds
        );
    }
    let hours = last.at.saturating_sub(first.at).as_secs_f64() / 3600.0;
    println!();
    println!("{:<22} {:>10} {:>10} {:>10}", "file", "start KiB", "end KiB", "KiB/h");
    for (i, f) in FILES.iter().enumerate() {
        let (a, b) = (first.files[i] as f64 / 1024.0, last.files[i] as f64 / 1024.0);
        println!("{f:<22} {a:>10.1} {b:>10.1} {:>10.1}", (b - a) / hours.max(1e-9));
    }
    if plan.minutes < 10 {
        println!("(a run under 10 minutes is a check of the bench, not a verdict: run 30)");
    }
    all_flat
}

// ---------------------------------------------------------------------------------------------
// Faults

/// What must happen after a fault for it to be over.
enum Recovery {
    /// The console gets this tag Good again.
    ConsoleGood(&'static str),
    /// The stalled session receives bytes again (its count at the resume).
    SessionBytes(u64),
}

struct FaultLog {
    at: Duration,
    fault: Fault,
    note: String,
    /// From the end of the fault.
    since: Option<Instant>,
    check: Recovery,
    recovered: Option<Duration>,
}

/// The faults and what they need: the relay to the broker, the stall switch.
struct Faults {
    relay: Relay,
    brokers: u32,
    paused: watch::Sender<bool>,
    stall_for: Duration,
    stall_until: Option<Instant>,
    /// Bytes of the other sessions and of the stalled one, and the time, at the stall's start.
    stall_base: (u64, u64, Instant),
    /// Bytes/s of each other session in the minute before the stall.
    before_rate: f64,
    serve_rss_peak: u64,
    log: Vec<FaultLog>,
}

fn others_bytes(links: &[Arc<Link>]) -> u64 {
    links.iter().enumerate().filter(|(i, _)| *i != STALLED).map(|(_, l)| l.bytes.load(Ordering::Relaxed)).sum()
}

impl Faults {
    /// Starts fault `fault` at `at` (restarts take ~5 s and return when done; the stall is ended
    /// later by [`Faults::tick`]).
    fn start(&mut self, fault: Fault, at: Duration, rig: &mut Rig, links: &[Arc<Link>], samples: &[Sample]) {
        let (note, check) = match fault {
            Fault::Plc => {
                let port = rig.plc.modbus;
                let note = restart_sim(&rig.dir.clone(), "plc", &mut rig.plc, &plc_args(port), DOWN_FOR);
                (format!("Modbus port {port}: {note}"), Recovery::ConsoleGood("COUNT"))
            }
            Fault::OpcUa => {
                let port = rig.ua.opcua_port();
                let note = restart_sim(&rig.dir.clone(), "ua", &mut rig.ua, &ua_args(port), DOWN_FOR);
                (format!("OPC UA port {port}: {note}"), Recovery::ConsoleGood("V0000"))
            }
            Fault::Broker => {
                self.relay.cut();
                std::thread::sleep(DOWN_FOR);
                let fresh = broker::start("127.0.0.1:0".parse().unwrap()).expect("a new broker starts");
                self.relay.switch(fresh);
                self.brokers += 1;
                (
                    format!("cut for {} s, then a new broker on {fresh}", DOWN_FOR.as_secs()),
                    Recovery::ConsoleGood("COUNT"),
                )
            }
            Fault::Stall => {
                let now = Instant::now();
                links[STALLED].stalled.store(true, Ordering::Relaxed);
                let _ = self.paused.send(true);
                self.stall_until = Some(now + self.stall_for);
                self.stall_base = (others_bytes(links), links[STALLED].bytes.load(Ordering::Relaxed), now);
                // The rate before: the last minute's samples.
                self.before_rate = match samples {
                    [.., a, b] => {
                        let ob = |s: &Sample| s.ssh_bytes;
                        (ob(b) - ob(a)) as f64 / (b.at - a.at).as_secs_f64().max(0.001) / SESSIONS as f64
                    }
                    _ => 0.0,
                };
                self.serve_rss_peak = 0;
                return self.log.push(FaultLog {
                    at,
                    fault,
                    note: String::new(),
                    since: None,
                    check: Recovery::SessionBytes(0),
                    recovered: None,
                });
            }
        };
        self.log.push(FaultLog { at, fault, note, since: Some(Instant::now()), check, recovered: None });
    }

    /// Ends a stall that is due, tracks serve's memory meanwhile, and sees which faults are over.
    fn tick(&mut self, rig: &Rig, links: &[Arc<Link>], seen: &Mutex<Seen>) {
        if let Some(until) = self.stall_until {
            self.serve_rss_peak = self.serve_rss_peak.max(proc::rss_kib(rig.serve.0.id()).unwrap_or(0));
            if Instant::now() >= until {
                self.end_stall(links, rig);
            }
        }
        let seen = seen.lock().unwrap();
        for f in self.log.iter_mut().filter(|f| f.recovered.is_none()) {
            let Some(since) = f.since else { continue };
            let back = match f.check {
                Recovery::ConsoleGood(tag) => seen.last_good.get(tag).is_some_and(|t| *t > since),
                Recovery::SessionBytes(base) => links[STALLED].bytes.load(Ordering::Relaxed) > base,
            };
            if back {
                f.recovered = Some(since.elapsed());
            }
        }
    }

    fn end_stall(&mut self, links: &[Arc<Link>], rig: &Rig) {
        let (others0, stalled0, t0) = self.stall_base;
        let dt = t0.elapsed().as_secs_f64().max(0.001);
        let others = (others_bytes(links) - others0) as f64 / dt / (SESSIONS - 1) as f64;
        let stalled = links[STALLED].bytes.load(Ordering::Relaxed) - stalled0;
        let _ = self.paused.send(false);
        links[STALLED].stalled.store(false, Ordering::Relaxed);
        self.stall_until = None;
        let note = format!(
            "{dt:.0} s: the other sessions got {others:.0} B/s each (before: {:.0}), op19 {stalled} B; serve RSS peak {:.1} MiB (now {:.1})",
            self.before_rate,
            mib(self.serve_rss_peak),
            mib(proc::rss_kib(rig.serve.0.id()).unwrap_or(0)),
        );
        if let Some(f) = self.log.iter_mut().rev().find(|f| f.fault == Fault::Stall) {
            f.note = note;
            f.since = Some(Instant::now());
            f.check = Recovery::SessionBytes(links[STALLED].bytes.load(Ordering::Relaxed));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nothing lost

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Each operator's tally against serve's audit log; whether they agree.
fn check_audit(path: &Path, tallies: &[(String, Tally)]) -> bool {
    let records = json_lines(path);
    let count =
        |user: &str, action: &str| records.iter().filter(|r| r["user"] == user && r["action"] == action).count() as u64;
    println!();
    println!("serve's audit log ({} records) against what the operators did:", records.len());
    println!(
        "{:<5} {:>6} {:>7} {:>10} {:>4} {:>7} {:>8} | {:>8} {:>7} {:>7} {:>5} {:>6} | check",
        "user",
        "tries",
        "denied",
        "confirmed",
        "ok",
        "failed",
        "aborted",
        "attempts",
        "denials",
        "results",
        "ok",
        "acks"
    );
    let mut all = true;
    for (user, t) in tallies {
        let (attempts, denials, results) =
            (count(user, "write_attempt"), count(user, "write_denied"), count(user, "write_result"));
        let oks = records
            .iter()
            .filter(|r| r["user"] == user.as_str() && r["action"] == "write_result" && r["result"] == "ok")
            .count() as u64;
        let acks = count(user, "alarm_acknowledge");
        let mut bad = Vec::new();
        if attempts + denials != t.confirmed + t.denied {
            bad.push("attempts + denials ≠ confirmed + denied");
        }
        if results != attempts {
            bad.push("results ≠ attempts");
        }
        if oks != t.ok {
            bad.push("ok results ≠ read back");
        }
        if acks != t.acked {
            bad.push("acks ≠ acknowledged");
        }
        if t.aborted > 0 {
            bad.push("aborted steps: counts may differ");
        }
        all &= bad.is_empty();
        let verdict = if bad.is_empty() { "all on record".to_string() } else { bad.join("; ") };
        println!(
            "{user:<5} {:>6} {:>7} {:>10} {:>4} {:>7} {:>8} | {attempts:>8} {denials:>7} {results:>7} {oks:>5} {acks:>6} | {verdict}",
            t.tries, t.denied, t.confirmed, t.ok, t.failed, t.aborted
        );
        for s in &t.said {
            println!("      said: {s}");
        }
    }
    all
}

/// Transitions per alarm in a journal; whether every alarm's transitions are continuous.
fn check_journal(name: &str, path: &Path) -> (bool, u64) {
    let records = json_lines(path);
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let mut counts: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    let mut breaks = Vec::new();
    let mut acks = 0;
    for (n, r) in records.iter().enumerate() {
        let (Some(key), Some(from), Some(to)) = (r["key"].as_str(), r["from"].as_str(), r["to"].as_str()) else {
            breaks.push(format!("record {}: not a transition", n + 1));
            continue;
        };
        let prev = last.get(key).map_or("normal", String::as_str);
        if prev != from {
            breaks.push(format!("record {}: {key} from {from}, but it was {prev}", n + 1));
        }
        let c = counts.entry(key.to_string()).or_default();
        if to == "unacknowledged" {
            c[0] += 1;
        }
        if to == "acknowledged" || (from == "returned_unacknowledged" && to == "normal") {
            c[1] += 1;
            acks += 1;
        }
        if (from == "acknowledged" && to == "normal") || to == "returned_unacknowledged" {
            c[2] += 1;
        }
        last.insert(key.to_string(), to.to_string());
    }
    println!();
    println!("{name} ({} transitions): raised / acknowledged / cleared, state at the end", records.len());
    for (key, [raised, acked, cleared]) in &counts {
        println!("  {key:<14} {raised:>4} {acked:>4} {cleared:>4}  {}", last.get(key).map_or("", String::as_str));
    }
    for b in breaks.iter().take(10) {
        println!("  BREAK: {b}");
    }
    println!(
        "  {}",
        if breaks.is_empty() {
            "continuous: every transition starts where the last one ended"
        } else {
            "NOT continuous"
        }
    );
    (breaks.is_empty(), acks)
}

/// `ttyhmi audit verify PATH`: whether the chain holds, and what it said.
fn verify(path: &Path) -> bool {
    let out = Command::new(EXE).args(["audit", "verify", path_str(path)]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("ttyhmi audit verify {}: {}", path.file_name().unwrap().to_string_lossy(), text.trim());
    out.status.success()
}

// ---------------------------------------------------------------------------------------------

fn main() {
    // `cargo test --benches` runs this too (without `--bench`): not for half an hour.
    if !std::env::args().any(|a| a == "--bench") {
        println!("the soak runs with `cargo bench --bench soak -- MINUTES`; skipped");
        return;
    }
    let plan = Plan::from_args();
    let folder =
        Folder { path: std::env::temp_dir().join(format!("ttyhmi-soak-{}", std::process::id())), keep: plan.keep };
    std::fs::create_dir_all(&folder.path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&folder.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = folder.path.clone();
    println!(
        "soak: {} min measured after a {} s warm-up; a fault every {} s (stall {} s); {SESSIONS} SSH sessions; folder {}",
        plan.minutes,
        plan.warm_up.as_secs(),
        plan.fault_every.as_secs(),
        plan.stall_for.as_secs(),
        dir.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut rig, seen, relay, ssh_addr) = start_all(&rt, &dir);
    let (paused, paused_rx) = watch::channel(false);
    let stop_flag = Arc::new(AtomicBool::new(false));
    let (links, tasks) = rt.block_on(async {
        let stall = stall_relay(ssh_addr, paused_rx).await;
        open_sessions(ssh_addr, stall, &stop_flag).await
    });
    let warm = Instant::now();
    println!("{SESSIONS} sessions open; warming up");
    std::thread::sleep(plan.warm_up.saturating_sub(Duration::from_secs(10)));
    let pre = sample(&rig, &seen, &links, warm.elapsed());
    std::thread::sleep(plan.warm_up.saturating_sub(warm.elapsed()));
    let mut samples = vec![sample(&rig, &seen, &links, warm.elapsed())];
    print_header();
    print_row(&pre, &samples[0], plan.warm_up, "start");
    let mut faults = Faults {
        relay,
        brokers: 1,
        paused,
        stall_for: plan.stall_for,
        stall_until: None,
        stall_base: (0, 0, Instant::now()),
        before_rate: 0.0,
        serve_rss_peak: 0,
        log: Vec::new(),
    };
    run(&plan, warm, &mut rig, &seen, &links, &mut faults, &mut samples);

    let open = links.iter().filter(|l| !l.closed.load(Ordering::Relaxed)).count();
    // Before anything stops (the gateway's NDEATH makes every value Uncertain at the console).
    let console_end = not_good(&seen);
    stop_flag.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
        }
    });
    stop(&mut rig.serve.0, nix::sys::signal::Signal::SIGTERM);
    stop(&mut rig.gateway.0, nix::sys::signal::Signal::SIGTERM);
    stop(&mut rig.console.0, nix::sys::signal::Signal::SIGINT);

    let flat = summary(&samples, &plan);
    print_faults(&faults);
    let bytes: Vec<u64> = links.iter().map(|l| l.bytes.load(Ordering::Relaxed)).collect();
    println!(
        "\nsessions open at the end: {open}/{SESSIONS}; bytes received per session: {} .. {} KiB",
        bytes.iter().min().unwrap_or(&0) / 1024,
        bytes.iter().max().unwrap_or(&0) / 1024
    );
    let lost_nothing = check_all(&dir, &links, &seen, &console_end) && open == SESSIONS;
    println!();
    println!("RESULT flat after warm-up (serve, gateway, console): {}", if flat { "yes" } else { "NO" });
    println!("RESULT nothing lost: {}", if lost_nothing { "yes" } else { "NO" });
    drop(rig);
    drop(rt);
    drop(folder);
    if !lost_nothing {
        std::process::exit(1);
    }
}

/// Starts the sims, the broker and its relay, serve, the gateway and the console.
fn start_all(rt: &tokio::runtime::Runtime, dir: &Path) -> (Rig, Arc<Mutex<Seen>>, Relay, SocketAddr) {
    let plc = start_sim(dir, "plc", &plc_args(0)).expect("the PLC sim starts");
    let ua = start_sim(dir, "ua", &ua_args(0)).expect("the OPC UA sim starts");
    let first = broker::start("127.0.0.1:0".parse().unwrap()).expect("the broker starts");
    let relay = rt.block_on(Relay::start(first)).expect("the relay starts");
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let serve_layout = write("serve.yaml", plant_layout(plc.modbus, &ua.opcua_url, None));
    let gateway_layout = write("gateway.yaml", plant_layout(plc.modbus, &ua.opcua_url, Some(relay.addr.port())));
    let console_layout = write("console.yaml", console_layout(relay.addr.port()));
    let users = users_file(dir);
    let (serve, ssh_addr) = start_serve(dir, &serve_layout, &users);
    let serve = Kid(serve);
    let gateway = Kid(start_gateway(dir, &gateway_layout));
    let (console, seen) = start_console(dir, &console_layout);
    let rig = Rig { dir: dir.to_path_buf(), plc, ua, serve, gateway, console: Kid(console) };
    (rig, seen, relay, ssh_addr)
}

/// The measured run: a row a minute, the faults on schedule.
fn run(
    plan: &Plan,
    warm: Instant,
    rig: &mut Rig,
    seen: &Mutex<Seen>,
    links: &[Arc<Link>],
    faults: &mut Faults,
    samples: &mut Vec<Sample>,
) {
    let start = warm + plan.warm_up;
    let (mut k, mut next_sample) = (1, Duration::from_secs(60).min(plan.run));
    let mut events = String::new();
    loop {
        let now = start.elapsed();
        if plan.fault_at(k).is_some_and(|at| now >= at) {
            let f = Fault::nth(k);
            events.push_str(&format!("{}; ", f.name()));
            faults.start(f, now, rig, links, samples);
            k += 1;
        }
        faults.tick(rig, links, seen);
        if now >= next_sample {
            if faults.stall_until.is_some() {
                events.push_str("(stalled) ");
            }
            let cur = sample(rig, seen, links, warm.elapsed());
            print_row(&samples[samples.len() - 1], &cur, plan.warm_up, events.trim_end_matches("; "));
            samples.push(cur);
            events.clear();
            if next_sample >= plan.run {
                break;
            }
            next_sample = (next_sample + Duration::from_secs(60)).min(plan.run);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    if faults.stall_until.is_some() {
        faults.end_stall(links, rig);
    }
    // Whatever is still recovering gets a last chance.
    for _ in 0..40 {
        faults.tick(rig, links, seen);
        if faults.log.iter().all(|f| f.recovered.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn print_faults(faults: &Faults) {
    println!();
    println!("faults ({} brokers started in all):", faults.brokers);
    println!("{:>7}  {:<22} {:<14} what", "at min", "fault", "back after");
    for f in &faults.log {
        let back = match (f.recovered, &f.check) {
            (Some(d), _) => format!("{:.1} s", d.as_secs_f64()),
            (None, _) => "NOT BACK".to_string(),
        };
        println!("{:>7.1}  {:<22} {back:<14} {}", f.at.as_secs_f64() / 60.0, f.fault.name(), f.note);
    }
    println!("  (back after: the console on the broker got the PLC's or the OPC UA server's values Good again;");
    println!("   for the stall, op19 received bytes again; counted from the end of the fault)");
}

/// The console's tags whose last value is not Good, as `TAG=quality`.
fn not_good(seen: &Mutex<Seen>) -> Vec<String> {
    let seen = seen.lock().unwrap();
    seen.last_quality.iter().filter(|(_, q)| q.as_str() != "good").map(|(t, q)| format!("{t}={q}")).collect()
}

/// Every "nothing lost" check; whether all passed. `not_good`: the console's tags not Good at
/// the end of the run.
fn check_all(dir: &Path, links: &[Arc<Link>], seen: &Mutex<Seen>, not_good: &[String]) -> bool {
    let tallies: Vec<(String, Tally)> =
        (0..OPERATORS.len()).map(|i| (format!("op{i}"), links[i].tally.lock().unwrap().clone())).collect();
    let audit_ok = check_audit(&dir.join("serve-audit.jsonl"), &tallies);
    let (serve_journal, journal_acks) = check_journal("serve's journal", &dir.join("serve-alarms.jsonl"));
    let (gateway_journal, _) = check_journal("the gateway's journal", &dir.join("gateway-alarms.jsonl"));
    let audit_acks =
        json_lines(&dir.join("serve-audit.jsonl")).iter().filter(|r| r["action"] == "alarm_acknowledge").count() as u64;
    let acked: u64 = tallies.iter().map(|(_, t)| t.acked).sum();
    println!(
        "\nacknowledged: {acked} by the operators' screens, {audit_acks} in the audit log, {journal_acks} in the journal"
    );
    let acks_ok = acked == audit_acks && audit_acks == journal_acks;
    println!();
    let chains = verify(&dir.join("serve-audit.jsonl")) & verify(&dir.join("gateway-audit.jsonl"));
    let seen = seen.lock().unwrap();
    let tags = 7 + LOAD_TAGS;
    println!(
        "console on the broker: {} lines ({} not Good); {}/{tags} tags seen; at the end not Good: {}",
        seen.lines,
        seen.bad_lines,
        seen.last_quality.len(),
        if not_good.is_empty() { "none".to_string() } else { not_good.join(", ") }
    );
    let console_ok = not_good.is_empty() && seen.last_quality.len() == tags;
    audit_ok && serve_journal && gateway_journal && acks_ok && chains && console_ok
}
