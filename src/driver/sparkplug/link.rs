//! A `sparkplug` connection: this console as a Sparkplug B host application reading one edge
//! node through an MQTT broker, under the driver supervisor. The pure [`HostSession`] decides;
//! this task connects, subscribes, publishes STATE and commands, and carries the session's
//! effects out as driver events.
//!
//! - Connect: clean session, the Will `STATE {"online":false,"timestamp":T}` (QoS 1, retained);
//!   subscribe to the node (`spBv1.0/<group>/+/<node>/#`) and to its own STATE, then publish
//!   `{"online":true,"timestamp":T}` with the same T; its own offline STATE seen → online again.
//! - Writes: a plan for a metric becomes a signed command (DCMD, or NCMD for a node metric) with
//!   this installation's command key; the answer is the gateway's `Node Control/Write Result`
//!   for its request id. None within the connection's `timeout` → outcome unknown. Never retried, never
//!   queued: a write while the broker is down is refused by the supervisor, and a connection
//!   that breaks takes its client and everything queued in it along.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ed25519_dalek::SigningKey;
use prost::Message;
use rumqttc::{Event, Packet};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::command::WriteRequest;
use super::host::{HostConfig, HostEffect, HostSession};
use super::mqtt::{self, Connection};
use super::outcome::Outcome;
use super::topic::{self, Parsed};
use super::{Publish, proto};
use crate::driver::supervisor::{self, Driver, Ended, Event as AppEvent, Out, Retry};
use crate::driver::{
    ConnDiagnostics, DriverEvent, Fact, NotSent, Refusal, Unknown, WireType, WriteCommand, WriteDone, WriteError,
    WriteInbox,
};
use crate::layout::{ConnId, Layout, SpPoint, SparkplugConn, TagSource};
use crate::sanitize::clean;
use crate::tag::TagId;

/// How long the broker may take to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One `sparkplug` connection: its tags and settings, and the key its commands are signed with.
#[derive(Clone)]
pub struct SpJob {
    pub conn: ConnId,
    pub name: String,
    pub tags: Vec<(TagId, SpPoint)>,
    pub spec: SparkplugConn,
    /// The command key, or why there is none (writes are refused, saying it).
    pub key: Result<Arc<SigningKey>, String>,
    /// How long a command's answer may take (the connection's `timeout`).
    pub result_timeout: Duration,
}

impl SpJob {
    pub fn new(layout: &Layout, conn: ConnId, spec: &SparkplugConn, key: Result<Arc<SigningKey>, String>) -> SpJob {
        let tags = layout
            .tags_of(conn)
            .filter_map(|(id, t)| match &t.source {
                TagSource::Sparkplug(p) => Some((id, p.clone())),
                _ => None,
            })
            .collect();
        let c = layout.connection(conn);
        SpJob { conn, name: c.name.clone(), tags, spec: spec.clone(), key, result_timeout: c.timeout }
    }
}

/// Runs the connection until `shutdown`.
pub async fn run<M: From<DriverEvent> + Send + 'static>(
    job: SpJob,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    inbox: Option<WriteInbox>,
) {
    supervisor::run(job, tx, shutdown, inbox).await;
}

/// An open broker connection and the STATE timestamp of its Will.
pub struct Link {
    conn: Connection,
    state_ts: u64,
}

/// A command sent and not answered yet.
struct Pending {
    reply: oneshot::Sender<Result<WriteDone, WriteError>>,
    plan: crate::driver::WritePlan,
    deadline: Instant,
}

fn state_payload(online: bool, ts: u64) -> Vec<u8> {
    format!("{{\"online\":{online},\"timestamp\":{ts}}}").into_bytes()
}

impl Driver for SpJob {
    type Link = Link;
    const BACKOFF_BASE: Duration = Duration::from_secs(1);
    const LOSS_IS_STALE: bool = true;

    fn conn(&self) -> ConnId {
        self.conn
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn tags(&self) -> Vec<TagId> {
        self.tags.iter().map(|(id, _)| *id).collect()
    }

    async fn connect(&mut self) -> Result<Link, String> {
        let state_ts = super::millis(SystemTime::now());
        let will = Publish {
            topic: topic::state_topic(&self.spec.host_id),
            payload: state_payload(false, state_ts),
            qos: 1,
            retain: true,
        };
        let id = format!("ttyhmi-{}-{}-{}", self.spec.host_id, self.name, std::process::id());
        let conn = mqtt::connect(&self.spec.broker, &id, Some(&will), CONNECT_TIMEOUT).await?;
        Ok(Link { conn, state_ts })
    }

    async fn session<M: AppEvent>(&mut self, link: Link, out: &mut Out<M>) -> Ended {
        let cfg = HostConfig {
            group: self.spec.group.clone(),
            node: self.spec.node.clone(),
            host_id: self.spec.host_id.clone(),
            reorder_timeout: self.spec.reorder_timeout,
            rebirth_cooldown: self.spec.rebirth_cooldown,
        };
        let seed = supervisor::seed(self.conn, SystemTime::now());
        let mut s =
            Session { job: self, host: HostSession::new(cfg, self.tags.clone(), seed), link, pending: HashMap::new() };
        s.run(out).await
    }
}

/// One connection's session: the host state machine, the link and the commands in flight.
struct Session<'a> {
    job: &'a SpJob,
    host: HostSession,
    link: Link,
    pending: HashMap<String, Pending>,
}

impl Session<'_> {
    async fn run<M: AppEvent>(&mut self, out: &mut Out<M>) -> Ended {
        let (filter, own_state) =
            (topic::node_filter(&self.job.spec.group, &self.job.spec.node), topic::state_topic(&self.job.spec.host_id));
        for f in [&filter, &own_state] {
            if let Err(e) = self.link.conn.client.try_subscribe(f.as_str(), rumqttc::QoS::AtLeastOnce) {
                return Ended::Lost { reason: format!("cannot subscribe: {e}"), retry: Retry::Backoff };
            }
        }
        let mut subscribed = false;
        let mut stats = tokio::time::interval(Duration::from_secs(1));
        loop {
            let deadline = self.deadline();
            tokio::select! {
                ev = self.link.conn.events.poll() => match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) if !subscribed => {
                        subscribed = true;
                        self.online(out).await;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        out.stats.requests += 1;
                        self.incoming(&p.topic, &p.payload, out).await;
                    }
                    Ok(_) => {}
                    Err(e) => return self.lost(mqtt::words(&e), out).await,
                },
                _ = tokio::time::sleep_until(deadline) => self.timers(out).await,
                cmd = out.next_write() => self.write(cmd),
                _ = stats.tick() => {
                    out.stats_if_due().await;
                    out.diagnostics(self.diagnostics()).await;
                }
            }
        }
    }

    /// Subscribed: STATE online, the connection is up.
    async fn online<M: AppEvent>(&mut self, out: &mut Out<M>) {
        self.publish_state();
        out.state(crate::driver::ConnectionState::Connected).await;
        out.up();
        out.reset_backoff();
        let effects = self.host.connected(Instant::now().into_std(), SystemTime::now());
        self.effects(effects, out).await;
    }

    fn publish_state(&self) {
        let p = Publish {
            topic: topic::state_topic(&self.job.spec.host_id),
            payload: state_payload(true, self.link.state_ts),
            qos: 1,
            retain: true,
        };
        if let Err(e) = mqtt::publish(&self.link.conn.client, p) {
            tracing::warn!(connection = %self.job.name, "STATE: {e}");
        }
    }

    async fn incoming<M: AppEvent>(&mut self, topic: &str, payload: &[u8], out: &mut Out<M>) {
        match topic::parse(topic) {
            Ok(Parsed::State(id)) if id == self.job.spec.host_id => {
                // Our own STATE: offline (our Will, or another instance's) → say online again.
                if std::str::from_utf8(payload).is_ok_and(|t| t.replace(' ', "").contains("\"online\":false")) {
                    self.publish_state();
                }
            }
            Ok(Parsed::State(_)) => {}
            Ok(Parsed::Node(t)) => {
                let effects = self.host.message(&t, payload, Instant::now().into_std(), SystemTime::now());
                self.effects(effects, out).await;
            }
            Err(e) => tracing::debug!(connection = %self.job.name, "ignored a message on {}: {e}", clean(topic)),
        }
    }

    fn deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let host = self.host.next_deadline().map_or(far, Instant::from_std);
        self.pending.values().map(|p| p.deadline).fold(host, Instant::min)
    }

    async fn timers<M: AppEvent>(&mut self, out: &mut Out<M>) {
        let now = Instant::now();
        let late: Vec<String> =
            self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(k, _)| k.clone()).collect();
        for id in late {
            if let Some(p) = self.pending.remove(&id) {
                let why = format!("no result from the gateway within {:?}", self.job.result_timeout);
                let _ = p.reply.send(Err(Unknown::NoAnswer(why).into()));
            }
        }
        let effects = self.host.tick(now.into_std(), SystemTime::now());
        self.effects(effects, out).await;
    }

    async fn effects<M: AppEvent>(&mut self, effects: Vec<HostEffect>, out: &mut Out<M>) {
        for e in effects {
            match e {
                HostEffect::Samples(s) => out.samples(s).await,
                HostEffect::Historical(samples) => {
                    out.send(DriverEvent::Historical { conn: self.job.conn, samples }).await;
                }
                HostEffect::Publish(p) => {
                    if let Err(e) = mqtt::publish(&self.link.conn.client, p) {
                        tracing::warn!(connection = %self.job.name, "rebirth request: {e}");
                    }
                }
                HostEffect::DataTypes(types) => {
                    if out.writable() {
                        let types = types.into_iter().map(|(t, r)| (t, r.map(WireType::Sparkplug))).collect();
                        out.send(DriverEvent::DataTypes { conn: self.job.conn, types }).await;
                    }
                }
                HostEffect::WriteResult { request_id, text } => self.answered(&request_id, &text),
                HostEffect::Log(line) => tracing::warn!(connection = %self.job.name, "{}", clean(&line)),
            }
        }
    }

    /// The gateway's answer to one of our commands (others' are not ours to read).
    fn answered(&mut self, request_id: &str, text: &str) {
        let Some(p) = self.pending.remove(request_id) else { return };
        let result = match Outcome::parse(text) {
            Outcome::Written(_) => Ok(WriteDone::of(&p.plan, Some(p.plan.expected().clone()))),
            Outcome::Refused(why) => Err(Refusal::Gateway(why).into()),
            Outcome::Unknown(why) => Err(Unknown::NoAnswer(format!("the gateway says: {why}")).into()),
        };
        let _ = p.reply.send(result);
    }

    /// Signs and sends a command; its answer comes as a write result.
    fn write(&mut self, cmd: WriteCommand) {
        let WriteCommand { plan, reply, by, .. } = cmd;
        match self.command(&plan, by) {
            Ok((id, publish)) => match mqtt::publish(&self.link.conn.client, publish) {
                Ok(()) => {
                    let deadline = Instant::now() + self.job.result_timeout;
                    self.pending.insert(id, Pending { reply, plan, deadline });
                }
                Err(e) => {
                    let _ = reply.send(Err(NotSent::Before(e).into()));
                }
            },
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    /// The signed command for `plan`, and its request id; or why nothing can be sent.
    fn command(
        &self,
        plan: &crate::driver::WritePlan,
        by: crate::driver::Requester,
    ) -> Result<(String, Publish), NotSent> {
        let point =
            self.job.tags.iter().find(|(id, _)| *id == plan.tag()).map(|(_, p)| p).ok_or(NotSent::NotOnConnection)?;
        let w = plan.sparkplug_for(self.job.conn, point).map_err(NotSent::PlanMismatch)?;
        let key = self.job.key.as_ref().map_err(|why| NotSent::Before(format!("no command key: {why}")))?;
        let (alias, datatype) = self.host.metric_for_write(point).map_err(NotSent::Before)?;
        if datatype != w.datatype {
            return Err(NotSent::PlanMismatch(format!("metric {point} was born again as {datatype:?}")));
        }
        let now = super::millis(SystemTime::now());
        let req = WriteRequest {
            group: self.job.spec.group.clone(),
            node: self.job.spec.node.clone(),
            device: point.device.clone(),
            metric: point.metric.clone(),
            datatype,
            value: w.value.clone(),
            user: by.user,
            role: by.role,
            host: self.job.spec.host_id.clone(),
            request_id: super::command::new_request_id().map_err(|e| NotSent::Before(e.to_string()))?,
            time_ms: now,
        };
        let payload =
            proto::Payload { timestamp: Some(now), metrics: vec![req.to_metric(alias, key)], ..Default::default() };
        let publish = Publish { topic: req.topic(), payload: payload.encode_to_vec(), qos: 0, retain: false };
        Ok((req.request_id, publish))
    }

    /// The broker connection broke: every tag stale, every command in flight unknown.
    async fn lost<M: AppEvent>(&mut self, reason: String, out: &mut Out<M>) -> Ended {
        let effects = self.host.disconnected(SystemTime::now());
        self.effects(effects, out).await;
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(WriteError::ConnectionLost(reason.clone())));
        }
        Ended::Lost { reason, retry: Retry::AtOnce }
    }

    fn diagnostics(&self) -> ConnDiagnostics {
        let mut facts: Vec<Fact> = self.host.facts().into_iter().map(|(k, v)| Fact::new(&k, v)).collect();
        if let Some(w) = self.host.waiting() {
            facts.insert(0, Fact::new("waiting", w));
        }
        ConnDiagnostics { facts, ..Default::default() }
    }
}
