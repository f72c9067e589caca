//! Sparkplug B load run: 10,000 tags changing every second through gateway → broker → console.
//!
//! - Source: `ttyhmi sim` with 10,000 OPC UA load variables (`Plant.Load.V0000…`, each changing
//!   every 100 ms), sampled by the gateway every second (`sampling: 1s`, publishing interval
//!   100 ms): each tag changes once a second, 10,000 changed metrics a second in all.
//! - Gateway: `ttyhmi gateway LAYOUT` (its own process) with one OPC UA connection (security
//!   none) holding the 10,000 tags, publishing Bench/Edge1 to the broker.
//! - Broker: the in-process rumqttd of `ttyhmi::sim::broker`, in this process, with a spy client
//!   subscribed to `spBv1.0/#` that counts the DDATA payloads' bytes and metrics.
//! - Console: `ttyhmi watch CONSOLE_LAYOUT --json` (its own process), a `sparkplug` connection
//!   with the 10,000 metrics as tags; it prints every change with the time its driver took the
//!   message from the broker (`recv_ts`).
//!
//! Latency is measured two ways (one host, one clock, millisecond timestamps):
//! - DDATA → console: from the DDATA payload's `timestamp` (the gateway's clock when it built the
//!   message) to the console's `recv_ts`, matched by tag and value through the spy. This is the
//!   gateway → broker → console path, what Sparkplug adds.
//! - source → console: from the metric's timestamp (the OPC UA source timestamp of the sample the
//!   gateway got) to `recv_ts`: what an operator sees, including the OPC UA subscription's
//!   publishing delay.
//!
//! Run: `cargo bench --bench sparkplug_load` (optionally `-- SECONDS` of measuring, default 20,
//! and `items=N`, default 10000).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use prost::Message;
use ttyhmi::driver::sparkplug::proto::{self, payload::metric::Value as MetricValue};

#[path = "../tests/common/proc.rs"]
#[allow(dead_code)]
mod proc;

mod support;
use support::{EXE, HZ, Kids, Sim, stop, thread_ticks};

/// Threads of the in-process broker (rumqttd names them so).
const BROKER_THREADS: [&str; 4] = ["mqtt-broker", "router-0", "v4", "timer"];

fn ms_now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the epoch of `2026-01-02T03:04:05.678Z` (RFC 3339 in UTC, as ttyhmi
/// writes it; the fraction is optional).
fn parse_utc_ms(s: &str) -> Option<u64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = s.get(19..)?.trim_end_matches('Z');
    let ms = match frac.strip_prefix('.') {
        Some(f) => format!("{f:0<3}").get(0..3)?.parse::<i64>().ok()?,
        None => 0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms).ok()
}

/// What the spy saw of the DDATA messages.
#[derive(Default)]
struct Spy {
    /// Alias → metric name, from the births.
    names: HashMap<u64, String>,
    /// (metric name, value bits) → the DDATA payload timestamp that carried it.
    sent: HashMap<(String, u64), u64>,
    ddata: u64,
    metrics: u64,
    payload_bytes: u64,
    /// MQTT PUBLISH packet bytes around the payloads (fixed header, length, topic).
    mqtt_bytes: u64,
    /// Payload timestamp → spy receipt, ms.
    spy_latency: Vec<u64>,
    counting: bool,
}

impl Spy {
    /// A message the spy received at `at_ms`.
    fn message(&mut self, topic: &str, payload: &[u8], at_ms: u64) {
        let Ok(p) = proto::Payload::decode(payload) else { return };
        if topic.contains("/NBIRTH/") || topic.contains("/DBIRTH/") {
            for m in &p.metrics {
                if let (Some(a), Some(n)) = (m.alias, &m.name) {
                    self.names.insert(a, n.clone());
                }
            }
            return;
        }
        if !topic.contains("/DDATA/") {
            return;
        }
        let ts = p.timestamp.unwrap_or(0);
        for m in &p.metrics {
            let name = m.alias.and_then(|a| self.names.get(&a));
            if let (Some(name), Some(MetricValue::DoubleValue(v))) = (name, &m.value) {
                self.sent.insert((name.clone(), v.to_bits()), ts);
            }
        }
        if self.counting {
            self.ddata += 1;
            self.metrics += p.metrics.len() as u64;
            self.payload_bytes += payload.len() as u64;
            self.mqtt_bytes += publish_overhead(topic.len(), payload.len()) as u64;
            self.spy_latency.push(at_ms.saturating_sub(ts));
        }
    }
}

/// Bytes of an MQTT 3.1.1 QoS 0 PUBLISH packet besides its payload: fixed header byte, the
/// remaining length (1 to 4 bytes), the topic's length and bytes.
fn publish_overhead(topic: usize, payload: usize) -> usize {
    let remaining = 2 + topic + payload;
    let len_bytes = match remaining {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    1 + len_bytes + 2 + topic
}

/// One line of `ttyhmi watch --json` as the console printed it.
struct Seen {
    tag: String,
    value: f64,
    source_ms: Option<u64>,
    recv_ms: u64,
    good: bool,
}

fn parse_line(line: &str) -> Option<Seen> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    // The value as printed (shortest round trip), parsed exactly: serde_json's own float parsing
    // may differ in the last bit, and the value is the key that finds its DDATA.
    let raw = line.split_once("\"value\":")?.1.split_once(",\"quality\"")?.0;
    Some(Seen {
        tag: v["tag"].as_str()?.to_string(),
        value: raw.parse().unwrap_or(f64::NAN),
        source_ms: v["source_ts"].as_str().and_then(parse_utc_ms),
        recv_ms: parse_utc_ms(v["recv_ts"].as_str()?)?,
        good: v["quality"] == "good",
    })
}

fn quantile(v: &mut [u64], q: f64) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    format!("{} ms", v[i.min(v.len() - 1)])
}

fn gateway_layout(items: usize, url: &str, broker: u16) -> String {
    let mut s = format!(
        "title: Sparkplug load gateway\npublish: {{ sparkplug: {{ host: 127.0.0.1, port: {broker}, group: Bench, node: Edge1 }} }}\nconnections:\n  ua:\n    opcua: {{ endpoint: \"{url}\", security: none }}\n    publishing_interval: 100ms\ntags:\n"
    );
    for i in 0..items {
        s.push_str(&format!(
            "  V{i:04}: {{ source: ua, node: \"nsu=urn:ttyhmi:sim;s=Plant.Load.V{i:04}\", sampling: 1s, queue_size: 1 }}\n"
        ));
    }
    s
}

fn console_layout(items: usize, broker: u16) -> String {
    let mut s = format!(
        "title: Sparkplug load console\nconnections:\n  site:\n    sparkplug: {{ host: 127.0.0.1, port: {broker}, group: Bench, node: Edge1, host_id: bench-console }}\ntags:\n"
    );
    for i in 0..items {
        s.push_str(&format!("  V{i:04}: {{ source: site, device: ua, metric: V{i:04} }}\n"));
    }
    s
}

/// The console's lines, as they arrive, with what was seen so far.
#[derive(Default)]
struct Console {
    lines: Vec<Seen>,
    /// Tags seen Good at least once.
    good: std::collections::HashSet<String>,
}

fn read_console(out: impl Read + Send + 'static) -> Arc<Mutex<Console>> {
    let console = Arc::new(Mutex::new(Console::default()));
    let c = console.clone();
    std::thread::spawn(move || {
        for l in BufReader::with_capacity(1 << 20, out).lines() {
            let Ok(l) = l else { break };
            let Some(seen) = parse_line(&l) else { continue };
            let mut c = c.lock().unwrap();
            if seen.good && !c.good.contains(&seen.tag) {
                c.good.insert(seen.tag.clone());
            }
            c.lines.push(seen);
        }
    });
    console
}

fn start_spy(rt: &tokio::runtime::Runtime, broker: std::net::SocketAddr) -> Arc<Mutex<Spy>> {
    let spy = Arc::new(Mutex::new(Spy::default()));
    let s = spy.clone();
    rt.block_on(async {
        let mut o = rumqttc::MqttOptions::new("bench-spy", broker.ip().to_string(), broker.port());
        o.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut events) = rumqttc::AsyncClient::new(o, 1000);
        client.subscribe("spBv1.0/#", rumqttc::QoS::AtMostOnce).await.unwrap();
        tokio::spawn(async move {
            let _client = client;
            loop {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let at = ms_now();
                        s.lock().unwrap().message(&p.topic, &p.payload, at)
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    spy
}

struct Procs {
    pids: Vec<(&'static str, u32)>,
}

impl Procs {
    /// CPU ticks of each process, then of the broker's threads.
    fn ticks(&self) -> Vec<u64> {
        let mut t: Vec<u64> = self.pids.iter().map(|(_, p)| proc::cpu_ticks(*p).unwrap_or(0)).collect();
        t.push(thread_ticks(&BROKER_THREADS));
        t
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20);
    let items: usize =
        args.iter().find_map(|a| a.strip_prefix("items=").and_then(|n| n.parse().ok())).unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("ttyhmi-sparkplug-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let env = |c: &mut Command| {
        c.env("XDG_DATA_HOME", dir.join("data")).env("XDG_STATE_HOME", dir.join("state"));
    };
    let t0 = Instant::now();

    let broker = ttyhmi::sim::broker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let spy = start_spy(&rt, broker);

    // Security none: no certificate to trust.
    let sim = Sim::start(&["--modbus-port", "0", "--opcua-port", "0", "--opcua-load", &items.to_string()], &env);
    let url = sim.opcua_url.clone();
    let mut kids = Kids(Vec::new());

    let gw_path = dir.join("gateway.yaml");
    std::fs::write(&gw_path, gateway_layout(items, &url, broker.port())).unwrap();
    let console_path = dir.join("console.yaml");
    std::fs::write(&console_path, console_layout(items, broker.port())).unwrap();
    let gw_log = std::fs::File::create(dir.join("gateway.log")).unwrap();
    let mut gateway = Command::new(EXE);
    env(&mut gateway);
    let gateway = gateway
        .args(["gateway", gw_path.to_str().unwrap(), "--audit", dir.join("gw-audit.jsonl").to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(gw_log)
        .spawn()
        .unwrap();
    let mut watch = Command::new(EXE);
    env(&mut watch);
    let mut watch = watch
        .args(["watch", console_path.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("console.log")).unwrap())
        .spawn()
        .unwrap();
    let console = read_console(watch.stdout.take().unwrap());
    let procs = Procs { pids: vec![("gateway", gateway.id()), ("console", watch.id()), ("sim", sim.child.id())] };
    kids.0.push(gateway);
    kids.0.push(watch);

    // Warm-up: every tag born and seen Good by the console (at most 40 s), then 3 s more.
    let warm = Instant::now();
    while console.lock().unwrap().good.len() < items && warm.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ready = warm.elapsed();
    let good = console.lock().unwrap().good.len();
    std::thread::sleep(Duration::from_secs(3));

    // The window.
    let (c0, l0) = (procs.ticks(), console.lock().unwrap().lines.len());
    spy.lock().unwrap().counting = true;
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    spy.lock().unwrap().counting = false;
    let dt = start.elapsed().as_secs_f64();
    let (c1, l1) = (procs.ticks(), console.lock().unwrap().lines.len());
    let rss: Vec<u64> = procs.pids.iter().map(|(_, p)| proc::rss_kib(*p).unwrap_or(0)).collect();
    let own_rss = proc::rss_kib(std::process::id()).unwrap_or(0);
    // A second for the last DDATA of the window to reach the console.
    std::thread::sleep(Duration::from_secs(1));

    stop(&mut kids.0[1], nix::sys::signal::Signal::SIGINT);
    stop(&mut kids.0[0], nix::sys::signal::Signal::SIGTERM);
    drop(kids);
    drop(sim);

    let spy = spy.lock().unwrap();
    let console = console.lock().unwrap();
    let window = &console.lines[l0..l1];
    let mut e2e = Vec::with_capacity(window.len());
    let mut from_source = Vec::with_capacity(window.len());
    let mut unmatched = 0u64;
    for s in window {
        match spy.sent.get(&(s.tag.clone(), s.value.to_bits())) {
            Some(ts) => e2e.push(s.recv_ms.saturating_sub(*ts)),
            None => unmatched += 1,
        }
        if let Some(src) = s.source_ms {
            from_source.push(s.recv_ms.saturating_sub(src));
        }
    }
    let mut spy_lat = spy.spy_latency.clone();
    let cpu = |i: usize| (c1[i] - c0[i]) as f64 / HZ / dt * 100.0;
    let per_s = |n: f64| n / dt;

    println!(
        "Sparkplug B load: {items} OPC UA tags, each changing once a second → gateway → broker → console; {secs} s measured (ready after {:.1} s: {good}/{items} tags Good at the console; run {:.0} s in all)",
        ready.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    println!();
    println!("{:<44} {:>14}", "changes published (spy: DDATA metrics/s)", format!("{:.0}", per_s(spy.metrics as f64)));
    println!("{:<44} {:>14}", "changes received (console lines/s)", format!("{:.0}", per_s((l1 - l0) as f64)));
    println!("{:<44} {:>14}", "DDATA messages/s", format!("{:.1}", per_s(spy.ddata as f64)));
    println!("{:<44} {:>14}", "metrics per DDATA", format!("{:.0}", spy.metrics as f64 / spy.ddata.max(1) as f64));
    println!("{:<44} {:>14} {:>14}", "latency", "p50", "p99");
    println!("{:<44} {:>14} {:>14}", "  DDATA timestamp → console", quantile(&mut e2e, 0.5), quantile(&mut e2e, 0.99));
    println!(
        "{:<44} {:>14} {:>14}",
        "  OPC UA source timestamp → console",
        quantile(&mut from_source, 0.5),
        quantile(&mut from_source, 0.99)
    );
    println!(
        "{:<44} {:>14} {:>14}",
        "  DDATA timestamp → spy (broker delivery)",
        quantile(&mut spy_lat, 0.5),
        quantile(&mut spy_lat, 0.99)
    );
    println!("{:<44} {:>14} {:>14}", "process", "CPU % core", "RSS MiB");
    for (i, (name, _)) in procs.pids.iter().enumerate() {
        println!("{:<44} {:>14.1} {:>14.1}", format!("  {name}"), cpu(i), rss[i] as f64 / 1024.0);
    }
    println!(
        "{:<44} {:>14.1} {:>14.1}",
        "  broker (rumqttd threads; RSS: bench process)",
        cpu(procs.pids.len()),
        own_rss as f64 / 1024.0
    );
    let m = spy.metrics.max(1) as f64;
    println!("{:<44} {:>14}", "bytes per changed metric", "");
    println!("{:<44} {:>14.2}", "  DDATA payload (Sparkplug protobuf)", spy.payload_bytes as f64 / m);
    println!("{:<44} {:>14.3}", "  MQTT PUBLISH header + topic", spy.mqtt_bytes as f64 / m);
    println!("{:<44} {:>14}", "  payload bytes/s (one subscriber)", format!("{:.0}", per_s(spy.payload_bytes as f64)));
    if unmatched > 0 {
        println!("({unmatched} console lines not matched to a DDATA seen by the spy)");
    }
    if console.good.len() < items {
        let log = std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        println!("the console never saw every tag Good; gateway log (last lines, newest first):\n{}", tail.join("\n"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
