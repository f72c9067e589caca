//! `ttyhmi gateway`: a plant core with a Sparkplug B edge node instead of sessions. The drivers
//! poll the PLCs once; every change goes out as DDATA, a PLC connection's state as DBIRTH and
//! DDEATH; commands from the broker are checked ([`super::check`]), put on record, written
//! through the same write plan as a console's, and answered with their outcome.
//!
//! One task runs it all: the plant's channel, the MQTT connection's event loop, the edge node's
//! timers and the stop signal. The broker connection is made again (with backoff and jitter)
//! whenever it breaks, each time with a new client, the next bdSeq in its Will (persisted first,
//! so a crash never reuses one) and births before any data.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prost::Message;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::check::{Verdict, check_write};
use super::consoles::Consoles;
use crate::audit::{Action, Actor, RecordInput};
use crate::driver::backoff::Backoff;
use crate::driver::sparkplug::codec::SpValue;
use crate::driver::sparkplug::command::{self, Claims, Replay, WriteRequest};
use crate::driver::sparkplug::edge::{EdgeCommand, EdgeConfig, EdgeSession};
use crate::driver::sparkplug::mqtt::{self, Connection};
use crate::driver::sparkplug::outcome::Outcome as Answer;
use crate::driver::sparkplug::topic::{self, Parsed};
use crate::driver::sparkplug::{Publish as SpPublish, proto};
use crate::layout::{Layout, Publish};
use crate::plant::runtime::{Outcome, PlantOptions, PlantRuntime};
use crate::plant::{Command, PlantEvent, SessionId, WriteDone, WriteError, WriteOrder};
use crate::sanitize::clean;
use crate::tag::{TagId, Value};

/// The gateway's commands come to the plant as this session.
const GATEWAY: SessionId = SessionId(0);
/// How long the broker may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A command's time may differ from the gateway's clock by this much.
pub const COMMAND_WINDOW: Duration = Duration::from_secs(30);

pub struct GatewayOptions {
    pub plant: PlantOptions,
    /// The consoles whose signed commands are taken (`None`: every command is refused).
    pub consoles: Option<Consoles>,
    /// Where the last bdSeq is kept.
    pub bd_seq_path: PathBuf,
    /// Who runs the gateway (its start and stop records).
    pub actor: Actor,
}

/// Why the gateway stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot start the plant: {0}")]
    Plant(std::io::Error),
    #[error(transparent)]
    Node(#[from] crate::driver::sparkplug::edge::EdgeError),
}

/// What the gateway holds between events.
struct Gateway {
    layout: Arc<Layout>,
    spec: Publish,
    runtime: PlantRuntime,
    edge: EdgeSession,
    consoles: Option<Consoles>,
    replay: Replay,
    /// Commands written and not answered yet, by tag (one write per connection at a time).
    pending: HashMap<TagId, (String, Actor)>,
    /// Answers whose record is on disk, to be published ([`Inbox`]).
    answers: mpsc::UnboundedSender<String>,
    bd_seq_path: PathBuf,
}

/// What the gateway's loop waits for besides the broker: the plant, and answers to commands
/// once their record is on disk (an answer never goes out before its record).
struct Inbox {
    plant: mpsc::Receiver<Outcome>,
    answers: mpsc::UnboundedReceiver<String>,
}

enum Inbound {
    Plant(Outcome),
    Answer(String),
}

impl Inbox {
    /// The next thing to handle; `None` once the plant's channel closed.
    async fn next(&mut self) -> Option<Inbound> {
        tokio::select! {
            o = self.plant.recv() => o.map(Inbound::Plant),
            Some(a) = self.answers.recv() => Some(Inbound::Answer(a)),
        }
    }
}

/// How a broker session ended.
enum End {
    Lost(String),
    Stop,
}

/// Runs the gateway until `stop` turns true: NDEATH is published, then it disconnects.
pub async fn run(
    layout: Arc<Layout>,
    spec: Publish,
    opts: GatewayOptions,
    mut stop: watch::Receiver<bool>,
) -> Result<(), GatewayError> {
    let cfg = EdgeConfig { group: spec.group.clone(), node: spec.node.clone() };
    let devices = super::defs::devices(&layout);
    crate::driver::sparkplug::edge::validate(&cfg, &devices)?;
    let (tx, plant) = mpsc::channel::<Outcome>(4096);
    let (answers, answered) = mpsc::unbounded_channel();
    let mut inbox = Inbox { plant, answers: answered };
    let mut runtime = PlantRuntime::start(layout.clone(), &opts.plant, tx).map_err(GatewayError::Plant)?;
    runtime.session_started(&opts.actor, false).await;
    let bd_seq = read_bd_seq(&opts.bd_seq_path).map_or(0, |last| last.wrapping_add(1));
    let edge = EdgeSession::new(cfg, devices, bd_seq);
    let mut gw = Gateway {
        layout,
        spec,
        runtime,
        edge,
        consoles: opts.consoles,
        replay: Replay::new(COMMAND_WINDOW),
        pending: HashMap::new(),
        answers,
        bd_seq_path: opts.bd_seq_path,
    };
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30), seed());
    let why = loop {
        let Some(conn) = gw.connect(&mut inbox, &mut stop, &mut backoff).await else { break "stopped" };
        match gw.session(conn, &mut inbox, &mut stop).await {
            End::Stop => break "stopped",
            End::Lost(why) => {
                tracing::warn!("broker connection lost: {}; connecting again", clean(&why));
                let next = gw.edge.offline();
                tracing::info!("next bdSeq {next}");
            }
        }
    };
    gw.runtime.session_stopped(&opts.actor, why.into()).await;
    gw.runtime.stop().await;
    Ok(())
}

fn seed() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(7, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id())
}

fn now_ms() -> u64 {
    crate::driver::sparkplug::millis(SystemTime::now())
}

/// The last bdSeq used, if one was kept.
fn read_bd_seq(path: &std::path::Path) -> Option<u8> {
    let bytes = crate::files::read_regular(path, 64).ok()?;
    String::from_utf8(bytes).ok()?.trim().parse().ok()
}

impl Gateway {
    /// Connects to the broker (again), handling the plant meanwhile; `None` when told to stop.
    async fn connect(
        &mut self,
        inbox: &mut Inbox,
        stop: &mut watch::Receiver<bool>,
        backoff: &mut Backoff,
    ) -> Option<Connection> {
        loop {
            // The bdSeq of this connection is on disk before its Will can be published.
            let bd = self.edge.bd_seq().to_string();
            if let Err(e) = crate::files::write_atomic(&self.bd_seq_path, &bd, 0o600, None) {
                tracing::error!("cannot keep the bdSeq in {}: {e}", self.bd_seq_path.display());
            }
            let id = format!("ttyhmi-gateway-{}-{}", self.spec.group, self.spec.node);
            let will = self.edge.will();
            let broker = self.spec.broker.clone();
            let attempt = async move { mqtt::connect(&broker, &id, Some(&will), CONNECT_TIMEOUT).await };
            tokio::pin!(attempt);
            let failed = loop {
                tokio::select! {
                    r = &mut attempt => match r {
                        Ok(conn) => {
                            backoff.reset();
                            return Some(conn);
                        }
                        Err(why) => break why,
                    },
                    o = inbox.next() => self.outcome(o?, None),
                    _ = stop.changed() => return None,
                }
            };
            let delay = backoff.next_delay();
            tracing::warn!("broker: {}; next attempt in {:?}", clean(&failed), delay);
            let wait = tokio::time::sleep(delay);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    o = inbox.next() => self.outcome(o?, None),
                    _ = stop.changed() => return None,
                }
            }
        }
    }

    /// One broker connection: subscribe, births once subscribed, then data, commands and
    /// timers until it breaks or the gateway stops.
    async fn session(&mut self, mut conn: Connection, inbox: &mut Inbox, stop: &mut watch::Receiver<bool>) -> End {
        let subs = self.edge.subscriptions();
        for s in &subs {
            if let Err(e) = conn.client.try_subscribe(s.as_str(), QoS::AtLeastOnce) {
                return End::Lost(format!("cannot subscribe: {e}"));
            }
        }
        let mut acked = 0;
        let mut online = false;
        tracing::info!(
            "connected to {} as {}/{} (bdSeq {})",
            self.spec.broker.endpoint(),
            self.spec.group,
            self.spec.node,
            self.edge.bd_seq()
        );
        loop {
            let deadline =
                self.edge.next_deadline().map_or(Instant::now() + Duration::from_secs(3600), Instant::from_std);
            tokio::select! {
                ev = conn.events.poll() => match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        acked += 1;
                        if acked == subs.len() && !online {
                            online = true;
                            let births = self.edge.online(now_ms());
                            send(&conn.client, births);
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if online => self.incoming(&conn.client, &p.topic, &p.payload),
                    Ok(_) => {}
                    Err(e) => return End::Lost(mqtt::words(&e)),
                },
                o = inbox.next() => match o {
                    Some(o) => self.outcome(o, Some(&conn.client)),
                    None => return End::Stop,
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let out = self.edge.tick(Instant::now().into_std(), now_ms());
                    send(&conn.client, out);
                }
                _ = stop.changed() => {
                    goodbye(&mut conn, self.edge.death()).await;
                    return End::Stop;
                }
            }
        }
    }

    /// Something from the plant: values and connection states go out (when online), write
    /// answers are put on record and published.
    fn outcome(&mut self, o: Inbound, client: Option<&AsyncClient>) {
        let out = match o {
            Inbound::Answer(text) => self.edge.write_result(&text, now_ms()),
            Inbound::Plant(Outcome::Input(input)) => {
                let mut out = Vec::new();
                for e in self.runtime.apply(input, SystemTime::now()) {
                    out.extend(self.event(e));
                }
                out
            }
            Inbound::Plant(Outcome::WriteDone { tag, requested, result, .. }) => {
                self.write_done(tag, &requested, result);
                Vec::new()
            }
        };
        if let Some(c) = client {
            send(c, out);
        }
    }

    fn event(&mut self, e: PlantEvent) -> Vec<SpPublish> {
        let now = now_ms();
        match e {
            PlantEvent::Values(ids) => {
                let changes: Vec<_> = ids
                    .iter()
                    .filter_map(|&id| {
                        let s = self.runtime.plant.store.get(id)?;
                        Some((id, super::defs::metric_value(super::defs::datatype(self.layout.tag(id)), s)))
                    })
                    .collect();
                self.edge.update(&changes, now)
            }
            PlantEvent::Connection { conn, state } if state.is_connected() => self.edge.device_up(conn.index(), now),
            PlantEvent::Connection { conn, .. } => self.edge.device_down(conn.index(), now),
            PlantEvent::AuditBroken(why) => {
                tracing::error!("the audit log cannot be written ({why}): every command is refused");
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A message on our command topics.
    fn incoming(&mut self, client: &AsyncClient, topic: &str, payload: &[u8]) {
        let Ok(Parsed::Node(t)) = topic::parse(topic) else { return };
        let mut out = Vec::new();
        for cmd in self.edge.command(&t, payload) {
            match cmd {
                EdgeCommand::Rebirth => {
                    tracing::info!("rebirth requested");
                    out.extend(self.edge.rebirth(Instant::now().into_std(), now_ms()));
                }
                EdgeCommand::Write { device, tag, metric, datatype, value, properties } => {
                    let device = device.and_then(|i| self.layout.connections.get(i)).map(|c| c.name.clone());
                    self.command(tag, device, metric, datatype, value, properties.as_ref());
                }
                EdgeCommand::Refused { metric, why } => {
                    let claims = first_claims(payload);
                    let metric = metric.unwrap_or_else(|| "?".into());
                    self.refuse(claims.as_ref(), &metric, &format!("metric {}: {why}", clean(&metric)));
                }
            }
        }
        send(client, out);
    }

    /// A write command: checked, then put on record and written, or refused (on record and
    /// answered).
    fn command(
        &mut self,
        tag: TagId,
        device: Option<String>,
        metric: String,
        datatype: crate::driver::sparkplug::codec::DataType,
        value: SpValue,
        props: Option<&proto::payload::PropertySet>,
    ) {
        let claims = match command::claims(props) {
            Ok(c) => c,
            Err(why) => return self.refuse(None, &metric, &format!("unsigned command: {why}")),
        };
        let req = WriteRequest {
            group: self.spec.group.clone(),
            node: self.spec.node.clone(),
            device,
            metric: metric.clone(),
            datatype,
            value: value.clone(),
            user: claims.user.clone(),
            role: claims.role.clone(),
            host: claims.host.clone(),
            request_id: claims.request_id.clone(),
            time_ms: claims.time_ms,
        };
        let Some(consoles) = &self.consoles else {
            return self.refuse(
                Some(&claims),
                &metric,
                "this gateway trusts no console (start it with --consoles FILE)",
            );
        };
        let t = self.layout.tag(tag).clone();
        let current = self.runtime.plant.store.get(tag).and_then(|s| s.value.as_ref()).and_then(Value::as_f64);
        if let Verdict::Refused(why) =
            check_write(consoles, &mut self.replay, &req, &claims.signature, &t, current, now_ms())
        {
            return self.refuse(Some(&claims), &metric, &why);
        }
        if let Some(why) = &self.runtime.plant.audit_broken {
            return self.refuse(Some(&claims), &metric, &format!("the gateway's audit log cannot be written ({why})"));
        }
        if self.pending.contains_key(&tag) {
            return self.refuse(Some(&claims), &metric, "another write to this tag is in progress");
        }
        let value = match super::check::tag_value(&t, datatype, &value) {
            Ok(v) => v,
            Err(why) => return self.refuse(Some(&claims), &metric, &why),
        };
        let plan = match crate::plant::write_plan(&self.layout, tag, &value, self.runtime.plant.data_types.get(&tag)) {
            Ok(p) => p,
            Err(e) => return self.refuse(Some(&claims), &metric, &e.to_string()),
        };
        let actor = actor_of(&claims);
        let old = self.runtime.plant.store.get(tag).and_then(|s| s.value.as_ref()).map_or("-".into(), |v| t.format(v));
        let audit = RecordInput::new(SystemTime::now(), &actor, Action::WriteAttempt)
            .tag(t.name.clone())
            .old(old)
            .new_value(t.format(plan.expected()))
            .raw(format!("{} (Sparkplug command {})", plan.description(), claims.request_id));
        tracing::info!(
            "command {}: {} writes {} = {}",
            clean(&claims.request_id),
            clean(&claims.user),
            t.name,
            t.format(plan.expected())
        );
        self.pending.insert(tag, (claims.request_id.clone(), actor.clone()));
        self.runtime.command(Command::Write { from: GATEWAY, actor, order: Box::new(WriteOrder { plan, audit }) });
    }

    /// A command refused: on record (with whoever it claims to be from) and answered.
    fn refuse(&mut self, claims: Option<&Claims>, metric: &str, why: &str) {
        let id = claims.map_or("-".to_string(), |c| clean(&c.request_id).into_owned());
        tracing::warn!("command {id} refused: {}", clean(why));
        let actor = claims.map_or_else(unknown_actor, actor_of);
        let rec = RecordInput::new(SystemTime::now(), &actor, Action::WriteDenied)
            .tag(clean(metric).into_owned())
            .result(why.to_string());
        self.answer_on_record(rec, Answer::Refused(why.to_string()).text(&id));
    }

    /// The device's answer to a command's write: on record, and published.
    fn write_done(&mut self, tag: TagId, requested: &Value, result: Result<WriteDone, WriteError>) {
        let Some((id, actor)) = self.pending.remove(&tag) else { return };
        let t = self.layout.tag(tag);
        let answer = match &result {
            Ok(d) if d.confirmed() => Answer::Written(format!(
                "{} = {} written and read back ({})",
                t.name,
                d.readback.as_ref().map(|v| t.format(v)).unwrap_or_default(),
                d.how
            )),
            Ok(d) => Answer::Unknown(format!(
                "written, but the device reads back {}",
                d.readback.as_ref().map_or("nothing".into(), |v| t.format(v))
            )),
            Err(WriteError::NotSent(e)) => Answer::Refused(format!("not written: {e}")),
            Err(WriteError::Refused(e)) => Answer::Refused(e.to_string()),
            Err(e) => Answer::Unknown(e.to_string()),
        };
        let verdict = match &answer {
            Answer::Written(_) => "ok".to_string(),
            Answer::Refused(w) | Answer::Unknown(w) => w.clone(),
        };
        let rec = RecordInput::new(SystemTime::now(), &actor, Action::WriteResult)
            .tag(t.name.clone())
            .new_value(t.format(requested))
            .result(verdict);
        self.answer_on_record(rec, answer.text(&id));
    }

    /// Puts `rec` on disk, then publishes `answer` (through the [`Inbox`]): whoever reads the
    /// answer finds the record. A record that cannot be written does not hold the answer back
    /// (the write is over either way); the plant is told and refuses further commands.
    fn answer_on_record(&self, rec: RecordInput, answer: String) {
        let on_disk = self.runtime.put_on_record(vec![rec]);
        let answers = self.answers.clone();
        tokio::spawn(async move {
            let _ = on_disk.await;
            let _ = answers.send(answer);
        });
    }
}

/// Hands messages to the connection (never waits).
fn send(client: &AsyncClient, out: Vec<SpPublish>) {
    for p in out {
        if let Err(e) = mqtt::publish(client, p) {
            tracing::warn!("{e}");
        }
    }
}

/// NDEATH, then DISCONNECT, each given a moment to go out.
async fn goodbye(conn: &mut Connection, death: SpPublish) {
    send(&conn.client, vec![death]);
    let _ = conn.client.try_disconnect();
    let flush = async {
        loop {
            match conn.events.poll().await {
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), flush).await;
}

/// The claims of a command's first metric, when it has readable ones (to put a refusal of an
/// undecodable command on record under the name it claims).
fn first_claims(payload: &[u8]) -> Option<Claims> {
    let p = proto::Payload::decode(payload).ok()?;
    command::claims(p.metrics.first()?.properties.as_ref()).ok()
}

/// Who a command claims to be from, as its audit records name them.
fn actor_of(c: &Claims) -> Actor {
    Actor {
        user: clean(&c.user).into_owned(),
        host: clean(&c.host).into_owned(),
        ssh_client: None,
        role: clean(&c.role).into_owned(),
        session: None,
        via: Some(format!("sparkplug console {}", clean(&c.host))),
    }
}

fn unknown_actor() -> Actor {
    Actor {
        user: "?".into(),
        host: "?".into(),
        ssh_client: None,
        role: "?".into(),
        session: None,
        via: Some("sparkplug command without a signature".into()),
    }
}
