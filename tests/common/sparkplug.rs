//! Sparkplug B rigs: an in-process broker behind a relay, a gateway on the simulated plant, a
//! console plant reading the broker, and a spy client that records every message.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use ttyhmi::audit::Actor;
use ttyhmi::driver::spawn::DriverOptions;
use ttyhmi::gateway::run::{GatewayOptions, run};
use ttyhmi::layout::{self, Layout};
use ttyhmi::plant::runtime::{Outcome, PlantOptions, PlantRuntime};
use ttyhmi::plant::{Plant, WriteDone, WriteError};
use ttyhmi::tag::{Quality, TagId};

/// The gateway's layout: a few tags of the simulated plant, published as Plant/Boiler1.
pub fn gateway_layout(modbus: u16, broker: u16) -> Layout {
    let src = format!(
        r#"
title: gateway
publish: {{ sparkplug: {{ host: 127.0.0.1, port: {broker}, group: Plant, node: Boiler1 }} }}
connections:
  plc1: {{ modbus_tcp: {{ host: 127.0.0.1, port: {modbus}, unit: 1 }}, poll: 100ms, timeout: 500ms }}
tags:
  P_101:      {{ source: plc1, holding: 1, type: f32, units: bar, description: Header pressure }}
  PIC_101_SP: {{ source: plc1, holding: 30, type: f32, units: bar, write: {{ role: operator, min: 0, max: 10, max_step: 2 }} }}
  COUNT:      {{ source: plc1, holding: 100, type: u16 }}
  TIC_102_SP: {{ source: plc1, holding: 32, type: f32, write: {{ role: engineer, min: 0, max: 250 }} }}
  DEMAND:     {{ source: plc1, holding: 34, type: u16 }}
"#
    );
    layout::parse(&src, "gateway.yaml").expect("the gateway layout is valid")
}

/// A console's layout reading Plant/Boiler1 through the broker as `host_id`.
pub fn console_layout(broker: u16, host_id: &str) -> Layout {
    let src = format!(
        r#"
title: console
connections:
  site: {{ sparkplug: {{ host: 127.0.0.1, port: {broker}, group: Plant, node: Boiler1, host_id: {host_id}, reorder_timeout: 500ms, rebirth_cooldown: 2s }} }}
tags:
  P_101:      {{ source: site, device: plc1, metric: P_101, units: bar }}
  PIC_101_SP: {{ source: site, device: plc1, metric: PIC_101_SP, write: {{ role: operator, min: 0, max: 10, max_step: 2 }} }}
  COUNT:      {{ source: site, device: plc1, metric: COUNT }}
  TIC_102_SP: {{ source: site, device: plc1, metric: TIC_102_SP, write: {{ role: operator, min: 0, max: 250 }} }}
  DEMAND:     {{ source: site, device: plc1, metric: DEMAND, write: {{ role: operator }} }}
  NOPE:       {{ source: site, device: plc1, metric: NOT_BORN }}
"#
    );
    layout::parse(&src, "console.yaml").expect("the console layout is valid")
}

pub fn actor(user: &str, role: &str) -> Actor {
    Actor { user: user.into(), host: "test".into(), ssh_client: None, role: role.into(), session: None, via: None }
}

/// A gateway task; stop it (NDEATH) through `stop`, or abort it (no NDEATH: the Will).
pub struct Gateway {
    pub task: JoinHandle<()>,
    pub stop: watch::Sender<bool>,
    pub audit: PathBuf,
}

pub fn start_gateway(layout: Layout, dir: &Path, consoles: Option<&Path>) -> Gateway {
    let spec = layout.publish.clone().expect("a publish block");
    let consoles = consoles.map(|p| {
        ttyhmi::gateway::consoles::load_trusted(p, nix::unistd::getuid().as_raw()).expect("the consoles file loads")
    });
    let audit = dir.join("gateway-audit.jsonl");
    let opts = GatewayOptions {
        plant: PlantOptions {
            audit_path: audit.clone(),
            journal_path: dir.join("gateway-alarms.jsonl"),
            lockouts_path: dir.join("gateway-lockouts.json"),
            drivers: DriverOptions { writable: true, ..Default::default() },
        },
        consoles,
        bd_seq_path: dir.join("gateway.bdseq"),
        actor: actor("gateway", "gateway"),
    };
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        run(Arc::new(layout), spec, opts, rx).await.expect("the gateway runs");
    });
    Gateway { task, stop, audit }
}

/// A console's plant core reading the broker.
pub struct Console {
    pub runtime: PlantRuntime,
    rx: mpsc::Receiver<Outcome>,
    pub answers: Vec<(TagId, Result<WriteDone, WriteError>)>,
    pub audit: PathBuf,
}

impl Console {
    pub fn start(layout: Layout, dir: &Path, name: &str) -> Console {
        Console::with(layout, dir, name, true)
    }

    /// A read-only console (`--read-only`: its drivers have no write inbox), with the same
    /// command key as [`Console::start`] (so only read-only mode keeps it from writing).
    pub fn start_read_only(layout: Layout, dir: &Path, name: &str) -> Console {
        Console::with(layout, dir, name, false)
    }

    fn with(layout: Layout, dir: &Path, name: &str, writable: bool) -> Console {
        let (tx, rx) = mpsc::channel(4096);
        let audit = dir.join(format!("{name}-audit.jsonl"));
        let opts = PlantOptions {
            audit_path: audit.clone(),
            journal_path: dir.join(format!("{name}-alarms.jsonl")),
            lockouts_path: dir.join(format!("{name}-lockouts.json")),
            drivers: DriverOptions { writable, command_key: Some(dir.join("command_key")), ..Default::default() },
        };
        let runtime = PlantRuntime::start(Arc::new(layout), &opts, tx).expect("the console's plant starts");
        Console { runtime, rx, answers: Vec::new(), audit }
    }

    /// Applies what arrives until `cond` holds; panics after `secs` seconds, saying `what`.
    pub async fn until(&mut self, secs: u64, what: &str, cond: impl Fn(&Plant) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while !cond(&self.runtime.plant) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Outcome::Input(i))) => {
                    self.runtime.apply(i, SystemTime::now());
                }
                Ok(Some(Outcome::WriteDone { tag, result, .. })) => self.answers.push((tag, result)),
                Ok(None) => panic!("the console's channel closed while waiting for {what}"),
                Err(_) => panic!("{what}: not within {secs} s; plant tags: {:?}", tags(&self.runtime.plant)),
            }
        }
    }

    /// Applies what arrives until a write is answered; panics after `secs` seconds.
    pub async fn answer(&mut self, secs: u64) -> (TagId, Result<WriteDone, WriteError>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while self.answers.is_empty() {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Outcome::Input(i))) => {
                    self.runtime.apply(i, SystemTime::now());
                }
                Ok(Some(Outcome::WriteDone { tag, result, .. })) => self.answers.push((tag, result)),
                _ => panic!("no answer to the write within {secs} s"),
            }
        }
        self.answers.remove(0)
    }

    /// Sends a confirmed write of `value` to `tag` as `user` with `role`, its attempt on record.
    pub fn write(&mut self, tag: &str, value: ttyhmi::tag::Value, user: &str, role: &str) {
        let p = &self.runtime.plant;
        let id = p.layout.tag_id(tag).expect("a tag");
        let plan = ttyhmi::plant::write_plan(&p.layout, id, &value, p.data_types.get(&id)).expect("a write plan");
        self.send(plan, user, role);
    }

    /// Sends a confirmed write of `plan` as `user` with `role`, its attempt on record.
    pub fn send(&mut self, plan: ttyhmi::driver::WritePlan, user: &str, role: &str) {
        let tag = self.runtime.plant.layout.tag(plan.tag()).name.clone();
        let who = actor(user, role);
        let audit =
            ttyhmi::audit::RecordInput::new(SystemTime::now(), &who, ttyhmi::audit::Action::WriteAttempt).tag(tag);
        let order = Box::new(ttyhmi::plant::WriteOrder { plan, audit });
        self.runtime.command(ttyhmi::plant::Command::Write { from: ttyhmi::plant::SessionId(1), actor: who, order });
    }

    /// Keeps applying for `ms` milliseconds.
    pub async fn run_for(&mut self, ms: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Some(o)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            match o {
                Outcome::Input(i) => {
                    self.runtime.apply(i, SystemTime::now());
                }
                Outcome::WriteDone { tag, result, .. } => self.answers.push((tag, result)),
            }
        }
    }

    pub fn quality(&self, name: &str) -> Quality {
        let id = self.runtime.plant.layout.tag_id(name).expect("a tag");
        self.runtime.plant.store.get(id).expect("a sample").quality.clone()
    }
}

/// Every tag's name, value and quality, for failure messages.
pub fn tags(p: &Plant) -> Vec<String> {
    p.layout
        .tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let s = p.store.get(TagId(i as u32));
            format!(
                "{}={:?}/{}",
                t.name,
                s.and_then(|s| s.value.clone()),
                s.map(|s| s.quality.to_string()).unwrap_or_default()
            )
        })
        .collect()
}

/// A consoles file trusting the key at `key_path` as `host_id` up to `max_role` (folder 0700,
/// file 0600).
pub fn consoles_file(dir: &Path, key_path: &Path, host_id: &str, max_role: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let (key, _) = ttyhmi::driver::sparkplug::command::load_or_create_key(key_path).expect("a command key");
    let line = ttyhmi::driver::sparkplug::command::public_line(&key.verifying_key());
    let folder = dir.join("consoles");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = folder.join("consoles.yaml");
    std::fs::write(&path, format!("{host_id}: {{ key: \"{line}\", max_role: {max_role} }}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// The audit records of a log, as JSON values.
pub fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Whether `name` reads Good.
pub fn good(p: &Plant, name: &str) -> bool {
    p.layout.tag_id(name).and_then(|id| p.store.get(id)).is_some_and(|s| s.quality.is_good() && s.value.is_some())
}

/// A message as delivered: topic and payload.
pub type Message = (String, Vec<u8>);

/// A client that records every Sparkplug message the broker delivers.
pub struct Spy {
    pub seen: Arc<Mutex<Vec<Message>>>,
    pub client: rumqttc::AsyncClient,
}

impl Spy {
    pub async fn start(broker: SocketAddr, id: &str) -> Spy {
        let mut o = rumqttc::MqttOptions::new(id, broker.ip().to_string(), broker.port());
        o.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut events) = rumqttc::AsyncClient::new(o, 1000);
        client.subscribe("spBv1.0/#", rumqttc::QoS::AtLeastOnce).await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let (subscribed, acked) = tokio::sync::oneshot::channel();
        let mut subscribed = Some(subscribed);
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        s.lock().unwrap().push((p.topic.clone(), p.payload.to_vec()))
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        if let Some(tx) = subscribed.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        // Subscribed before the test goes on (the broker acknowledged the subscription).
        tokio::time::timeout(Duration::from_secs(10), acked)
            .await
            .expect("the broker acknowledges the spy's subscription within 10 s")
            .expect("the spy's event loop runs");
        Spy { seen, client }
    }

    /// Waits until `n` messages on topics containing `part` were seen (panics after `secs`).
    pub async fn wait(&self, part: &str, n: usize, secs: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while self.count(part) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} messages on {part}: not within {secs} s: {:?}",
                self.topics()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn topics(&self) -> Vec<String> {
        self.seen.lock().unwrap().iter().map(|(t, _)| t.clone()).collect()
    }

    pub fn count(&self, topic_part: &str) -> usize {
        self.seen.lock().unwrap().iter().filter(|(t, _)| t.contains(topic_part)).count()
    }

    pub fn messages(&self, topic_part: &str) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap().iter().filter(|(t, _)| t.contains(topic_part)).map(|(_, p)| p.clone()).collect()
    }
}
