//! Sparkplug B under attack, end to end on loopback: a raw MQTT 3.1.1 client (rumqttc) sends the
//! gateway every kind of command it must refuse and the console every kind of payload it must
//! survive; a read-only console never sends a command at all.
//!
//! What a refusal must do: the gateway answers it (NDATA `Node Control/Write Result` =
//! `<request id> refused: <why>`, `-` for no readable id), puts a `write_denied` record in its
//! audit log, and no write function code reaches the PLC. No test here waits for anything but a
//! condition (with a generous timeout).

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, Once};
use std::time::{Duration, SystemTime};

use common::TempDir;
use common::sparkplug::{Console, Gateway, Spy, console_layout, consoles_file, gateway_layout, good, records};
use prost::Message as _;
use ttyhmi::driver::sparkplug::codec::{DataType, SpValue};
use ttyhmi::driver::sparkplug::command::{WriteRequest, load_or_create_key};
use ttyhmi::driver::sparkplug::outcome::WRITE_RESULT;
use ttyhmi::driver::sparkplug::proto::Payload;
use ttyhmi::driver::sparkplug::proto::payload::Metric;
use ttyhmi::driver::sparkplug::proto::payload::metric::Value as Wire;
use ttyhmi::plant::Plant;
use ttyhmi::sim::SimHandle;
use ttyhmi::sim::broker;
use ttyhmi::tag::Value;

const DCMD: &str = "spBv1.0/Plant/DCMD/Boiler1/plc1";
const NCMD: &str = "spBv1.0/Plant/NCMD/Boiler1";
const NBIRTH: &str = "spBv1.0/Plant/NBIRTH/Boiler1";
const DBIRTH: &str = "spBv1.0/Plant/DBIRTH/Boiler1/plc1";
const DDATA: &str = "spBv1.0/Plant/DDATA/Boiler1/plc1";

/// The Modbus function codes that write (coils, registers, mask write, read/write registers).
const WRITE_FCS: [u8; 6] = [5, 6, 15, 16, 22, 23];

fn new_broker() -> SocketAddr {
    broker::start("127.0.0.1:0".parse().unwrap()).expect("the in-process broker starts")
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The PLC's write requests so far, per writing function code.
fn writes(sim: &SimHandle) -> Vec<(u8, u64)> {
    let counts = sim.function_counts();
    WRITE_FCS.iter().map(|fc| (*fc, counts.get(fc).copied().unwrap_or(0))).collect()
}

// ---------------------------------------------------------------------------------------------
// Panics anywhere but in this test crate (the library, its dependencies): a driver task that
// panics is restarted by its supervisor, so the panic would otherwise go unseen.

static LIBRARY_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location()
                && !at.file().starts_with("tests/")
            {
                LIBRARY_PANICS.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{info}"));
            }
            previous(info);
        }));
    });
}

fn assert_no_library_panic() {
    let seen = LIBRARY_PANICS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(seen.is_empty(), "the library panicked: {seen:?}");
}

// ---------------------------------------------------------------------------------------------
// A raw MQTT 3.1.1 client, and reading what the gateway published.

/// An MQTT client that publishes whatever it is given (QoS 1).
struct Attacker {
    client: rumqttc::AsyncClient,
}

impl Attacker {
    async fn start(broker: SocketAddr) -> Attacker {
        let mut o = rumqttc::MqttOptions::new("mallory", broker.ip().to_string(), broker.port());
        o.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut events) = rumqttc::AsyncClient::new(o, 1000);
        let (connected, acked) = tokio::sync::oneshot::channel();
        let mut connected = Some(connected);
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        if let Some(tx) = connected.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), acked).await.expect("the attacker connects").unwrap();
        Attacker { client }
    }

    async fn send(&self, topic: &str, payload: Vec<u8>) {
        self.client.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload).await.expect("queued");
    }
}

fn decode(bytes: &[u8]) -> Payload {
    Payload::decode(bytes).expect("the gateway publishes Sparkplug B payloads")
}

/// What the gateway's births say: the alias of its write result, and each device metric's alias
/// and datatype by name.
struct Births {
    write_result: u64,
    metrics: HashMap<String, (u64, u32)>,
}

impl Births {
    async fn read(spy: &Spy) -> Births {
        spy.wait("/NBIRTH/Boiler1", 1, 20).await;
        spy.wait("/DBIRTH/Boiler1/plc1", 1, 20).await;
        let nbirth = decode(spy.messages("/NBIRTH/Boiler1").last().unwrap());
        let wr = nbirth.metrics.iter().find(|m| m.name.as_deref() == Some(WRITE_RESULT)).expect("the write result");
        let dbirth = decode(spy.messages("/DBIRTH/Boiler1/plc1").last().unwrap());
        let metrics = dbirth
            .metrics
            .iter()
            .map(|m| (m.name.clone().unwrap(), (m.alias.expect("aliases are used"), m.datatype.unwrap())))
            .collect();
        Births { write_result: wr.alias.expect("the write result has an alias"), metrics }
    }

    fn alias(&self, name: &str) -> u64 {
        self.metrics[name].0
    }
}

/// Every write result the gateway published, in order.
fn answers(spy: &Spy, alias: u64) -> Vec<String> {
    spy.messages("/NDATA/Boiler1")
        .iter()
        .flat_map(|b| decode(b).metrics)
        .filter(|m| m.alias == Some(alias) || m.name.as_deref() == Some(WRITE_RESULT))
        .filter_map(|m| match m.value {
            Some(Wire::StringValue(s)) => Some(s),
            _ => None,
        })
        .collect()
}

/// The last value of device metric `name` (alias `alias`) the gateway published, as a float.
fn last_float(spy: &Spy, name: &str, alias: u64) -> Option<f32> {
    let mut last = None;
    for (topic, bytes) in spy.seen.lock().unwrap().iter() {
        if !(topic.ends_with("/DBIRTH/Boiler1/plc1") || topic.ends_with("/DDATA/Boiler1/plc1")) {
            continue;
        }
        let Ok(p) = Payload::decode(bytes.as_slice()) else { continue };
        for m in p.metrics {
            if m.alias == Some(alias) || m.name.as_deref() == Some(name) {
                last = match m.value {
                    Some(Wire::FloatValue(f)) if m.is_null != Some(true) => Some(f),
                    _ => None,
                };
            }
        }
    }
    last
}

/// The first record for which `is` holds after the first `skip` records of `kind` (waits for it).
async fn record_where(
    path: &std::path::Path,
    what: &str,
    kind: impl Fn(&serde_json::Value) -> bool,
    skip: usize,
    is: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(r) = records(path).into_iter().filter(|r| kind(r)).skip(skip).find(|r| is(r)) {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {what} in the gateway's audit log: {:?}", records(path));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The rig: simulated PLC, broker, gateway (trusting `room-1` up to operator), spy, attacker.

struct Rig {
    broker: SocketAddr,
    sim: SimHandle,
    gw: Gateway,
    spy: Spy,
    mallory: Attacker,
    births: Births,
    key: ed25519_dalek::SigningKey,
}

async fn rig(sim: SimHandle, dir: &std::path::Path) -> Rig {
    let addr = new_broker();
    // The spy listens first: it hears the first births.
    let spy = Spy::start(addr, "spy").await;
    let consoles = consoles_file(dir, &dir.join("command_key"), "room-1", "operator");
    let (key, _) = load_or_create_key(&dir.join("command_key")).unwrap();
    let gw =
        common::sparkplug::start_gateway(gateway_layout(sim.modbus_addr.port(), addr.port()), dir, Some(&consoles));
    let births = Births::read(&spy).await;
    let mallory = Attacker::start(addr).await;
    Rig { broker: addr, sim, gw, spy, mallory, births, key }
}

/// A write request of `room-1` to `metric` of plc1, sent now.
fn request(metric: &str, datatype: DataType, value: SpValue, user: &str, role: &str, id: &str) -> WriteRequest {
    WriteRequest {
        group: "Plant".into(),
        node: "Boiler1".into(),
        device: Some("plc1".into()),
        metric: metric.into(),
        datatype,
        value,
        user: user.into(),
        role: role.into(),
        host: "room-1".into(),
        request_id: id.into(),
        time_ms: now_ms(),
    }
}

fn command(metric: Metric) -> Vec<u8> {
    Payload { timestamp: Some(now_ms()), metrics: vec![metric], ..Default::default() }.encode_to_vec()
}

impl Rig {
    /// The signed DCMD metric of `req`, by the alias of its metric (or by name when the births
    /// have none of that name).
    fn metric(&self, req: &WriteRequest) -> Metric {
        req.to_metric(self.births.metrics.get(&req.metric).map(|m| m.0), &self.key)
    }

    /// Sends `payload` to `topic` and waits for the gateway's answer to request `id` (published
    /// after the answers seen so far).
    async fn answer(&self, topic: &str, payload: Vec<u8>, id: &str) -> String {
        let before = answers(&self.spy, self.births.write_result).len();
        self.mallory.send(topic, payload).await;
        let prefix = format!("{id} ");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let all = answers(&self.spy, self.births.write_result);
            if let Some(a) = all.iter().skip(before).find(|a| a.starts_with(&prefix)) {
                return a.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "no answer to request {id} within 15 s: {all:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `payload` as a command and checks the refusal: answered `<id> refused: …` saying
    /// every one of `why`, a `write_denied` record by `user` with the same reason, and no write
    /// at the PLC.
    async fn refused(&self, topic: &str, payload: Vec<u8>, id: &str, user: &str, why: &[&str]) -> String {
        let plc = writes(&self.sim);
        let denied = |r: &serde_json::Value| r["action"] == "write_denied" && r["user"] == user;
        let before = records(&self.gw.audit).iter().filter(|r| denied(r)).count();
        let answer = self.answer(topic, payload, id).await;
        let reason = answer
            .strip_prefix(&format!("{id} refused: "))
            .unwrap_or_else(|| panic!("request {id} is not refused: {answer}"));
        for w in why {
            assert!(reason.contains(w), "the refusal of {id} does not say `{w}`: {answer}");
        }
        assert!(!answer.chars().any(ttyhmi::sanitize::is_unsafe), "control characters in the answer: {answer:?}");
        let what = format!("write_denied by {user} ({id})");
        let rec = record_where(&self.gw.audit, &what, denied, before, |r| r["result"] == reason).await;
        assert!(!rec.to_string().contains('\u{1b}'), "raw escapes in the record: {rec}");
        assert_eq!(writes(&self.sim), plc, "request {id} reached the PLC");
        answer
    }

    /// The setpoint's value as the gateway last published it (waits for one).
    async fn setpoint(&self) -> f32 {
        let alias = self.births.alias("PIC_101_SP");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = last_float(&self.spy, "PIC_101_SP", alias) {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "the gateway never published PIC_101_SP");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Every refusal at the gateway.

#[test]
fn the_gateway_refuses_answers_and_audits_every_command_it_must_not_carry_out() {
    watch_panics();
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-refusals");
    rt.block_on(async {
        let r = rig(sim, &dir.0).await;
        let sp = r.setpoint().await;
        let fine = if sp <= 9.0 { sp + 1.0 } else { sp - 1.0 };
        let float = |v: f32| SpValue::Float(v);
        let plc_before = writes(&r.sim);

        // Unsigned: no properties at all (no request id to answer with).
        let mut m = r.metric(&request("PIC_101_SP", DataType::Float, float(fine), "u", "operator", "x"));
        m.properties = None;
        r.refused(DCMD, command(m), "-", "?", &["unsigned", "no properties"]).await;

        // Badly signed: the value changed after signing.
        let mut m = r.metric(&request("PIC_101_SP", DataType::Float, float(fine), "u-badsig", "operator", "t-badsig"));
        m.value = Some(Wire::FloatValue(fine + 0.5));
        r.refused(DCMD, command(m), "t-badsig", "u-badsig", &["bad signature"]).await;

        // From a console that is not in the consoles file (signed with a key it does know).
        let mut req = request("PIC_101_SP", DataType::Float, float(fine), "u-stranger", "operator", "t-stranger");
        req.host = "room-9".into();
        r.refused(DCMD, command(r.metric(&req)), "t-stranger", "u-stranger", &["unknown console `room-9`"]).await;

        // Its time is a minute old.
        let mut req = request("PIC_101_SP", DataType::Float, float(fine), "u-old", "operator", "t-old");
        req.time_ms -= 60_000;
        r.refused(DCMD, command(r.metric(&req)), "t-old", "u-old", &["replayed", "behind"]).await;

        // A role above the console's max_role (operator).
        let req = request("TIC_102_SP", DataType::Float, float(100.0), "u-eng", "engineer", "t-eng");
        r.refused(DCMD, command(r.metric(&req)), "t-eng", "u-eng", &["`engineer`", "at most `operator`"]).await;

        // Below the tag's write.role: a viewer never writes; an operator not a tag that needs
        // an engineer.
        let req = request("PIC_101_SP", DataType::Float, float(fine), "u-viewer", "viewer", "t-viewer");
        r.refused(DCMD, command(r.metric(&req)), "t-viewer", "u-viewer", &["`viewer` never writes"]).await;
        let req = request("TIC_102_SP", DataType::Float, float(100.0), "u-op", "operator", "t-op");
        r.refused(DCMD, command(r.metric(&req)), "t-op", "u-op", &["needs `engineer`"]).await;

        // A metric nobody has: by an alias no birth gave, and by a name.
        let req = request("PIC_101_SP", DataType::Float, float(fine), "u-alias", "operator", "t-alias");
        let mut m = r.metric(&req);
        m.alias = Some(9999);
        r.refused(DCMD, command(m), "t-alias", "u-alias", &["alias 9999"]).await;
        let req = request("NOPE", DataType::Float, float(fine), "u-name", "operator", "t-name");
        r.refused(DCMD, command(r.metric(&req)), "t-name", "u-name", &["no metric `NOPE`"]).await;

        // Out of the tag's limits: above max; a step larger than max_step (2) from the value now.
        let req = request("PIC_101_SP", DataType::Float, float(11.0), "u-max", "operator", "t-max");
        r.refused(DCMD, command(r.metric(&req)), "t-max", "u-max", &["above the maximum 10"]).await;
        let far = if sp + 3.0 <= 10.0 { sp + 3.0 } else { sp - 3.0 };
        let req = request("PIC_101_SP", DataType::Float, float(far), "u-step", "operator", "t-step");
        r.refused(DCMD, command(r.metric(&req)), "t-step", "u-step", &["largest step 2"]).await;

        // A tag without a write block.
        let count_type = DataType::from_u32(r.births.metrics["COUNT"].1).unwrap();
        let req = request("COUNT", count_type, SpValue::UInt(5), "u-count", "operator", "t-count");
        r.refused(DCMD, command(r.metric(&req)), "t-count", "u-count", &["no write block"]).await;

        // A wrong datatype: a Double for a Float (signed as such), a String value for a Float.
        let req = request("PIC_101_SP", DataType::Double, SpValue::Double(f64::from(fine)), "u-dt", "operator", "t-dt");
        r.refused(DCMD, command(r.metric(&req)), "t-dt", "u-dt", &["sent as Double", "birth says Float"]).await;
        let mut m = r.metric(&request("PIC_101_SP", DataType::Float, float(fine), "u-str", "operator", "t-str"));
        m.value = Some(Wire::StringValue("8.5".into()));
        r.refused(DCMD, command(m), "t-str", "u-str", &["cannot be written"]).await;

        // Escape sequences in what it claims never reach the answer or the record as they are.
        let mut req = request("PIC_101_SP", DataType::Float, float(fine), "\u{1b}]0;pwned\u{7}", "operator", "t-esc");
        req.host = "evil\u{1b}[31m".into();
        r.refused(DCMD, command(r.metric(&req)), "t-esc", "\\x1b]0;pwned\\x07", &["unknown console `evil\\x1b[31m`"])
            .await;

        assert_eq!(writes(&r.sim), plc_before, "no refused command reached the PLC");

        // Replayed: the same signed request twice; the first is carried out, the second refused.
        let req = request("PIC_101_SP", DataType::Float, float(fine), "u-replay", "operator", "t-replay");
        let payload = command(r.metric(&req));
        let first = r.answer(DCMD, payload.clone(), "t-replay").await;
        assert!(first.starts_with("t-replay written:"), "the first is written: {first}");
        assert!(writes(&r.sim) != plc_before, "the first reached the PLC");
        r.refused(DCMD, payload, "t-replay", "u-replay", &["replayed", "used before"]).await;

        assert!(!r.gw.task.is_finished(), "the gateway still runs");
        assert_no_library_panic();
        let _ = r.gw.stop.send(true);
        let _ = r.gw.task.await;
    });
}

// ---------------------------------------------------------------------------------------------
// 2b. Hostile payloads at the gateway's command topics.

/// Deterministic noise (xorshift64), so a failure can be run again.
struct Noise(u64);

impl Noise {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 as u8
            })
            .collect()
    }

    /// `n` random bytes that are not a Sparkplug B payload (random bytes sometimes are one).
    fn junk(&mut self, n: usize) -> Vec<u8> {
        loop {
            let b = self.bytes(n);
            if Payload::decode(b.as_slice()).is_err() {
                return b;
            }
        }
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Payloads whose length fields claim 100 MB: the metrics field itself, and a metric's name.
fn claims_100_mb() -> Vec<Vec<u8>> {
    let mut outer = vec![0x12];
    varint(100_000_000, &mut outer);
    outer.extend_from_slice(b"short");
    let mut name = vec![0x0a];
    varint(100_000_000, &mut name);
    name.extend_from_slice(b"PIC");
    let mut inner = vec![0x08, 0x01, 0x12];
    varint(name.len() as u64, &mut inner);
    inner.extend_from_slice(&name);
    for p in [&outer, &inner] {
        assert!(Payload::decode(p.as_slice()).is_err(), "not decodable: {p:?}");
    }
    vec![outer, inner]
}

#[test]
fn hostile_payloads_at_the_command_topics_are_refused_and_the_gateway_goes_on() {
    watch_panics();
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-hostile-cmd");
    rt.block_on(async {
        let r = rig(sim, &dir.0).await;
        let plc = writes(&r.sim);
        let mut noise = Noise(0x5eed_1234_abcd_ef01);
        for (i, junk) in [noise.junk(1), noise.junk(64), noise.junk(70_000)].into_iter().enumerate() {
            let topic = if i % 2 == 0 { DCMD } else { NCMD };
            r.refused(topic, junk, "-", "?", &["not a Sparkplug B payload"]).await;
        }
        for claim in claims_100_mb() {
            r.refused(DCMD, claim, "-", "?", &["not a Sparkplug B payload"]).await;
        }
        // A device the node does not have; the node's own write result.
        let req = request("PIC_101_SP", DataType::Float, SpValue::Float(8.0), "u", "operator", "t");
        let payload = command(r.metric(&req));
        r.refused("spBv1.0/Plant/DCMD/Boiler1/plcX", payload, "t", "u", &["device `plcX`"]).await;
        let forged = Metric {
            alias: Some(r.births.write_result),
            datatype: Some(DataType::String as u32),
            value: Some(Wire::StringValue("t written: forged".into())),
            ..Default::default()
        };
        r.refused(NCMD, command(forged), "-", "?", &["cannot be written"]).await;

        // Still alive and publishing: new data after all of it.
        let ddata = r.spy.count("/DDATA/Boiler1/plc1");
        r.spy.wait("/DDATA/Boiler1/plc1", ddata + 3, 10).await;
        assert!(!r.gw.task.is_finished(), "the gateway still runs");
        assert_eq!(writes(&r.sim), plc, "nothing reached the PLC");
        assert_no_library_panic();
        let _ = r.gw.stop.send(true);
        let _ = r.gw.task.await;
    });
}

// ---------------------------------------------------------------------------------------------
// 2a. Hostile payloads at the console.

/// A diagnostics fact of the console's (only) connection, as a number (0 when absent).
fn fact(p: &Plant, label: &str) -> u64 {
    p.conns[0].diag.facts.iter().find(|f| f.label == label).and_then(|f| f.value.parse().ok()).unwrap_or(0)
}

const WATCHED: [&str; 3] = ["P_101", "COUNT", "PIC_101_SP"];

fn all_good(p: &Plant) -> bool {
    WATCHED.iter().all(|n| good(p, n))
}

fn float_of(p: &Plant, name: &str) -> Option<f64> {
    p.store.get(p.layout.tag_id(name)?)?.value.as_ref()?.as_f64()
}

/// Nothing the console shows or reports about its connection holds a control character.
fn assert_clean(p: &Plant) {
    for f in &p.conns[0].diag.facts {
        assert!(!f.value.chars().any(ttyhmi::sanitize::is_unsafe), "fact {}: {:?}", f.label, f.value);
    }
    for (i, t) in p.layout.tags.iter().enumerate() {
        let q = p.store.get(ttyhmi::tag::TagId(i as u32)).unwrap().quality.to_string();
        assert!(!q.chars().any(ttyhmi::sanitize::is_unsafe), "quality of {}: {q:?}", t.name);
    }
}

fn ddata(metrics: Vec<Metric>) -> Vec<u8> {
    Payload { timestamp: Some(now_ms()), metrics, ..Default::default() }.encode_to_vec()
}

/// Metric names that try to clear the screen, set the title, write the clipboard, turn text.
fn escape_name(i: usize) -> String {
    format!("\u{1b}[2J\u{1b}]0;owned\u{7}\u{1b}]52;c;cHduZWQ=\u{7}P_101\u{202e}{i}\u{9b}31m")
}

/// A 70 kB NBIRTH that decodes: a bdSeq nobody uses and a thousand metrics of garbage.
fn garbage_nbirth(noise: &mut Noise) -> Vec<u8> {
    let mut metrics = vec![Metric {
        name: Some("bdSeq".into()),
        datatype: Some(DataType::Int64 as u32),
        value: Some(Wire::LongValue(200)),
        ..Default::default()
    }];
    metrics.extend((0..1000).map(|i| Metric {
        name: Some(escape_name(i)),
        alias: Some(i as u64 + 2),
        datatype: Some(DataType::String as u32),
        value: Some(Wire::StringValue(noise.bytes(20).iter().map(|b| format!("{b:02x}")).collect())),
        ..Default::default()
    }));
    let b = Payload { timestamp: Some(now_ms()), seq: Some(0), metrics, ..Default::default() }.encode_to_vec();
    assert!(b.len() >= 70_000, "{} bytes", b.len());
    b
}

#[test]
fn hostile_payloads_at_the_console_are_dropped_and_it_recovers_through_a_rebirth() {
    watch_panics();
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-hostile-console");
    rt.block_on(async {
        let r = rig(sim, &dir.0).await;
        let mut console = Console::start(console_layout(r.broker.port(), "room-1"), &dir.0, "console");
        console.until(20, "the console reads the plant", all_good).await;
        // Joined mid-session: one rebirth asked; wait until the diagnostics say so.
        console.until(10, "diagnostics after the birth", |p| fact(p, "births (NBIRTH)") >= 1).await;
        let asked = fact(&console.runtime.plant, "rebirths requested");
        let truth = f64::from(r.setpoint().await);
        let mut noise = Noise(0x0bad_cafe_f00d_1234);

        // A: nothing that decodes. Dropped (and counted), no rebirth, values untouched.
        let mut junk = Vec::new();
        for topic in [NBIRTH, DBIRTH, DDATA] {
            for n in [1, 17, 1000] {
                junk.push((topic, noise.junk(n)));
            }
            junk.extend(claims_100_mb().into_iter().map(|c| (topic, c)));
        }
        junk.push((NBIRTH, noise.junk(70_000)));
        let dropped = fact(&console.runtime.plant, "dropped messages");
        for (topic, bytes) in &junk {
            r.mallory.send(topic, bytes.clone()).await;
        }
        let n = junk.len() as u64;
        console.until(20, "every undecodable message dropped", |p| fact(p, "dropped messages") >= dropped + n).await;
        let p = &console.runtime.plant;
        assert!(all_good(p), "{:?}", common::sparkplug::tags(p));
        assert_eq!(fact(p, "rebirths requested"), asked, "undecodable messages ask for no rebirth");

        // B: data that decodes and lies: a wrong datatype for the setpoint and the counter,
        // then aliases and names nobody declared (names with escape sequences).
        let started = std::time::Instant::now();
        let wrong = vec![
            Metric {
                alias: Some(r.births.alias("PIC_101_SP")),
                value: Some(Wire::StringValue("boom".into())),
                ..Default::default()
            },
            Metric {
                alias: Some(r.births.alias("COUNT")),
                value: Some(Wire::BooleanValue(true)),
                ..Default::default()
            },
        ];
        r.mallory.send(DDATA, ddata(wrong)).await;
        for i in 0..60u64 {
            let unknown = Metric {
                alias: Some(50_000 + i),
                datatype: Some(DataType::Float as u32),
                value: Some(Wire::FloatValue(1.0)),
                ..Default::default()
            };
            r.mallory.send(DDATA, ddata(vec![unknown])).await;
        }
        for i in 0..5 {
            let named = Metric { name: Some(escape_name(i)), value: Some(Wire::FloatValue(1.0)), ..Default::default() };
            r.mallory.send(DDATA, ddata(vec![named])).await;
        }
        console.until(20, "a rebirth asked for", |p| fact(p, "rebirths requested") > asked).await;
        console
            .until(30, "good values again, the setpoint's true one", |p| {
                all_good(p) && float_of(p, "PIC_101_SP") == Some(truth)
            })
            .await;

        // C: a 70 kB NBIRTH that decodes (garbage metrics, escape sequences in their names) and a
        // DBIRTH of such names: the console takes them for births, and must find its way back.
        r.mallory.send(NBIRTH, garbage_nbirth(&mut noise)).await;
        let dbirth = (0..50)
            .map(|i| Metric {
                name: Some(escape_name(i)),
                alias: Some(60_000 + i as u64),
                datatype: Some(DataType::Float as u32),
                value: Some(Wire::FloatValue(0.0)),
                ..Default::default()
            })
            .collect();
        r.mallory.send(DBIRTH, ddata(dbirth)).await;
        console.until(20, "the forged birth took the values", |p| !good(p, "P_101")).await;
        assert_clean(&console.runtime.plant);
        console
            .until(30, "good values again after the forged birth", |p| {
                all_good(p) && float_of(p, "PIC_101_SP") == Some(truth)
            })
            .await;
        console.run_for(1200).await;
        assert_clean(&console.runtime.plant);

        // Rebirth requests: bounded by the cooldown (2 s at least between two), never one per
        // hostile message (there were more than 60).
        let elapsed = started.elapsed().as_secs_f64();
        let bound = 2 + (elapsed / 2.0) as u64;
        let sent = fact(&console.runtime.plant, "rebirths requested") - asked;
        assert!((1..=bound).contains(&sent), "{sent} rebirth requests in {elapsed:.1} s (at most {bound})");
        let heard = r.spy.count("/NCMD/Boiler1");
        assert!(heard as u64 <= bound + asked, "{heard} NCMD on the broker in {elapsed:.1} s");
        assert!(!r.gw.task.is_finished(), "the gateway still runs");
        assert!(console.runtime.plant.conns[0].state.is_connected(), "the console is still connected");
        assert_no_library_panic();
        console.runtime.stop().await;
        let _ = r.gw.stop.send(true);
        let _ = r.gw.task.await;
    });
}

// ---------------------------------------------------------------------------------------------
// 3. A read-only console never sends a command.

#[test]
fn a_read_only_console_never_sends_a_command() {
    watch_panics();
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-read-only");
    rt.block_on(async {
        let r = rig(sim, &dir.0).await;
        let mut console = Console::start_read_only(console_layout(r.broker.port(), "room-1"), &dir.0, "viewer");
        console.until(20, "the read-only console reads the plant", all_good).await;
        let plc = writes(&r.sim);
        let p = &console.runtime.plant;
        let id = p.layout.tag_id("PIC_101_SP").unwrap();
        let sp = float_of(p, "PIC_101_SP").unwrap();
        let new = Value::Float(if sp <= 9.0 { sp + 1.0 } else { sp - 1.0 });
        // Read-only: no datatype is handed to the plant, so no plan can be made from what it knows.
        assert!(!p.data_types.contains_key(&id), "a read-only console learns no write types");
        assert!(ttyhmi::plant::write_plan(&p.layout, id, &new, p.data_types.get(&id)).is_err());
        // A plan made anyway (as a console that may write makes it) is not sent.
        let ty = Ok(ttyhmi::driver::WireType::Sparkplug(DataType::Float));
        let plan = ttyhmi::plant::write_plan(&p.layout, id, &new, Some(&ty)).expect("a plan");
        console.send(plan, "alice", "operator");
        let (tag, result) = console.answer(15).await;
        assert_eq!(tag, id);
        let why = result.expect_err("a read-only console writes nothing").to_string();
        assert!(why.contains("not written") && why.contains("read-only"), "{why}");
        // Nothing on the broker (the gateway publishes on meanwhile), nothing at the PLC.
        let ddata = r.spy.count("/DDATA/Boiler1/plc1");
        r.spy.wait("/DDATA/Boiler1/plc1", ddata + 5, 10).await;
        assert_eq!(r.spy.count("/DCMD/"), 0, "no command from a read-only console: {:?}", r.spy.topics());
        assert_eq!(answers(&r.spy, r.births.write_result), Vec::<String>::new(), "the gateway answered nothing");
        assert_eq!(writes(&r.sim), plc, "nothing reached the PLC");
        assert_no_library_panic();
        console.runtime.stop().await;
        let _ = r.gw.stop.send(true);
        let _ = r.gw.task.await;
    });
}

/// A value that does not decode as its metric's born datatype means the console's birth and the
/// node disagree: the tag is Bad, and only a birth sets it right (a setpoint may not change for
/// hours, so waiting for the next DDATA of it is not enough).
#[test]
fn a_value_of_the_wrong_datatype_is_set_right_by_a_rebirth() {
    watch_panics();
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-wrong-type");
    rt.block_on(async {
        let r = rig(sim, &dir.0).await;
        let mut console = Console::start(console_layout(r.broker.port(), "room-1"), &dir.0, "console");
        console.until(20, "the console reads the plant", all_good).await;
        console.until(10, "diagnostics after the birth", |p| fact(p, "births (NBIRTH)") >= 1).await;
        let asked = fact(&console.runtime.plant, "rebirths requested");
        let truth = f64::from(r.setpoint().await);
        let wrong = Metric {
            alias: Some(r.births.alias("PIC_101_SP")),
            value: Some(Wire::StringValue("\u{1b}[2Jboom".into())),
            ..Default::default()
        };
        r.mallory.send(DDATA, ddata(vec![wrong])).await;
        console.until(20, "the setpoint reads Bad", |p| !good(p, "PIC_101_SP")).await;
        assert_clean(&console.runtime.plant);
        console
            .until(30, "the setpoint's true value, Good, again", |p| {
                good(p, "PIC_101_SP") && float_of(p, "PIC_101_SP") == Some(truth)
            })
            .await;
        console.until(10, "diagnostics", |p| fact(p, "rebirths requested") > asked).await;
        assert_no_library_panic();
        console.runtime.stop().await;
        let _ = r.gw.stop.send(true);
        let _ = r.gw.task.await;
    });
}
