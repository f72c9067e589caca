//! One connection's task: sessions one after the other (with backoff between failures); within
//! a session, its events (data, reconnects, publishes), the console's writes, and the values
//! the console cannot decode ([`super::probe`]).
//!
//! The connection says Connected only once something arrived after a (re)connect (a value or a
//! publish response), so it never says up while nothing comes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use opcua::client::transport::TcpConnector;
use opcua::client::{
    MonitoredItem, OnSubscriptionNotification, Session, SessionEventLoop, SessionPollResult, SubscriptionActivity,
};
use opcua::types::{DataValue, NodeId, StatusCode, TimestampsToReturn};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::probe::{self, RECHECK, undecodable};
use super::{AbortOnDrop, Limits, UaJob, convert, data_sample, explain, is_fatal, item_request, prepare_with, write};
use crate::driver::backoff::Backoff;
use crate::driver::plan::UaWrite;
use crate::driver::{
    ConnStats, ConnectionState, DriverEvent, NotSent, UaItemInfo, WriteCommand, WriteDone, WriteError, WriteInbox,
    WritePlan, next_write,
};
use crate::tag::{Reason, Sample, TagId};

/// Events from the subscription callback, the session event loop and value checks into the task.
enum Inner {
    Data(Vec<(TagId, Sample)>),
    Poll(SessionPollResult),
    LoopEnded(StatusCode),
    /// A periodic read of the values that could not be decoded.
    Rechecked(Result<probe::Found, String>),
}

/// Forwards data changes from the subscription (a synchronous callback) into the task.
struct Forward {
    tx: mpsc::UnboundedSender<Inner>,
}

impl OnSubscriptionNotification for Forward {
    fn on_data_value(&mut self, dv: DataValue, item: &MonitoredItem) {
        let Some(tag) = item.client_handle().checked_sub(1) else { return };
        let sample = data_sample(&dv);
        let _ = self.tx.send(Inner::Data(vec![(TagId(tag), sample)]));
    }
}

/// How a session ended.
enum Ended {
    /// Failed or lost; why, in words for the operator.
    Failed(String),
    /// A response could not be decoded and the connection closed on it: find which of the
    /// `watched` values the console cannot decode.
    Undecodable { status: StatusCode, watched: Vec<(TagId, NodeId)> },
}

/// A tag whose value the console cannot decode: out of the subscription, Bad with `reason`.
struct Quarantined {
    tag: TagId,
    node: NodeId,
    reason: String,
}

/// The connection's subscription as created.
struct Subscribed {
    id: u32,
    /// Each tag's NodeId at the time, to notice namespaces that moved.
    resolved: Vec<(TagId, Result<NodeId, String>)>,
    /// Tags with a working monitored item, and its node: the tags confirmed Fresh.
    items: Vec<(TagId, NodeId)>,
}

/// The state of one session.
struct Live {
    session: Arc<Session>,
    itx: mpsc::UnboundedSender<Inner>,
    subscribed: Option<Subscribed>,
    ever_connected: bool,
    /// (Re)connected and nothing received since: Connected is said with the first arrival.
    pending_up: bool,
    last_fresh: Instant,
    last_stats: Instant,
    /// When the values that could not be decoded are read next, and the check running.
    next_recheck: Instant,
    recheck: Option<AbortOnDrop>,
}

/// What to do after an event.
enum Flow {
    Go,
    End(Ended),
}

pub(super) struct Task<M> {
    job: UaJob,
    tx: mpsc::Sender<M>,
    stats: ConnStats,
    started: Instant,
    /// Write commands from the console; `None` in read-only mode.
    writes: Option<WriteInbox>,
    /// When the session last (re)connected; `None` while down. Older commands are refused.
    connected_at: Option<std::time::Instant>,
    /// Tags whose values the console cannot decode (kept across sessions of this connection).
    quarantine: Vec<Quarantined>,
    /// The certificate the server's endpoint presented at the last discovery (DER; empty with
    /// security None), for the messages about it.
    server_cert: Vec<u8>,
}

impl<M: From<DriverEvent>> Task<M> {
    pub(super) fn new(job: UaJob, tx: mpsc::Sender<M>, writes: Option<WriteInbox>) -> Self {
        Task {
            job,
            tx,
            stats: ConnStats::default(),
            started: Instant::now(),
            writes,
            connected_at: None,
            quarantine: Vec::new(),
            server_cert: Vec::new(),
        }
    }

    /// Runs the connection until `shutdown` turns true.
    pub(super) async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30), seed);
        loop {
            if *shutdown.borrow() {
                break;
            }
            self.state(ConnectionState::Connecting).await;
            let ended = tokio::select! {
                r = self.session(&mut backoff) => r,
                _ = shutdown.changed() => break,
            };
            let outcome = match ended {
                Ended::Failed(m) => m,
                Ended::Undecodable { status, watched } => {
                    let isolated = tokio::select! {
                        r = self.isolate(status, &watched) => r,
                        _ = shutdown.changed() => break,
                    };
                    match isolated {
                        // Found: connect again at once, without them.
                        Ok(()) => continue,
                        Err(m) => m,
                    }
                }
            };
            if self.down_until_retry(outcome, &mut backoff, &mut shutdown).await {
                break;
            }
        }
        self.mark_all(Reason::NotConnected).await;
        self.send_stats().await;
        self.state(ConnectionState::Stopped).await;
    }

    /// Reports the connection down and waits for the retry, refusing writes; true on shutdown.
    async fn down_until_retry(
        &mut self,
        outcome: String,
        backoff: &mut Backoff,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        self.mark_all(Reason::Disconnected(outcome.clone())).await;
        let delay = backoff.next_delay();
        tracing::warn!(connection = %self.job.name, reason = %outcome, retry_in = ?delay, "OPC UA connection failed");
        self.state(ConnectionState::Disconnected { reason: outcome, retry_in: delay }).await;
        self.send_stats().await;
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                _ = shutdown.changed() => break,
                cmd = next_write(&self.writes) => self.refuse(cmd),
            }
        }
        *shutdown.borrow()
    }

    fn refuse(&self, cmd: Option<WriteCommand>) {
        if let Some(cmd) = cmd {
            let _ = cmd.reply.send(Err(NotSent::ConnectionDown(self.job.name.clone()).into()));
        }
    }

    /// Carries out one write (exactly its plan) on the session and reads the value back.
    async fn write(&mut self, session: &Session, resolved: Option<&Subscribed>, cmd: WriteCommand) {
        let WriteCommand { plan, sent_at, reply } = cmd;
        let outcome = match self.target(resolved, &plan, sent_at) {
            Ok((node, w)) => {
                self.stats.requests += 1;
                let sent = write::send(session, &node, w).await.map(|back| WriteDone::of(&plan, back));
                if sent.is_err() {
                    self.stats.errors += 1;
                }
                sent
            }
            Err(e) => Err(e),
        };
        tracing::info!(connection = %self.job.name, tag = plan.tag().0, ?outcome, "write");
        let _ = reply.send(outcome);
    }

    /// The node a plan writes, as resolved on this server, and the write; or why it is not sent.
    fn target<'p>(
        &self,
        resolved: Option<&Subscribed>,
        plan: &'p WritePlan,
        sent_at: std::time::Instant,
    ) -> Result<(NodeId, &'p UaWrite), WriteError> {
        let fresh = self.connected_at.is_some_and(|c| sent_at >= c);
        if !fresh {
            return Err(NotSent::Reconnected.into());
        }
        let tag = plan.tag();
        let point = self.job.points.iter().find(|(t, _)| *t == tag).ok_or(NotSent::NotOnConnection)?;
        let w = plan.opcua_for(self.job.conn, &point.1.node).map_err(NotSent::PlanMismatch)?;
        match resolved.and_then(|s| s.resolved.iter().find(|(t, _)| *t == tag)).map(|(_, n)| n) {
            Some(Ok(node)) => Ok((node.clone(), w)),
            Some(Err(m)) => Err(NotSent::Before(m.clone()).into()),
            None => Err(NotSent::NotOnConnection.into()),
        }
    }

    /// When writes are possible: each node's DataType, for the write plans.
    async fn report_data_types(&self, session: &Session, resolved: &[(TagId, Result<NodeId, String>)]) {
        if self.writes.is_none() {
            return;
        }
        let nodes: Vec<(TagId, NodeId)> =
            resolved.iter().filter_map(|(t, n)| n.as_ref().ok().map(|n| (*t, n.clone()))).collect();
        let mut types = write::data_types(session, &nodes).await;
        types.extend(resolved.iter().filter_map(|(t, n)| n.as_ref().err().map(|m| (*t, Err(m.clone())))));
        self.send(DriverEvent::DataTypes { conn: self.job.conn, types }).await;
    }

    async fn send(&self, e: DriverEvent) {
        let _ = self.tx.send(e.into()).await;
    }

    async fn state(&self, state: ConnectionState) {
        self.send(DriverEvent::State { conn: self.job.conn, state }).await;
    }

    async fn samples(&self, samples: Vec<(TagId, Sample)>) {
        if !samples.is_empty() {
            self.send(DriverEvent::Samples { conn: self.job.conn, samples, raw: None }).await;
        }
    }

    async fn send_stats(&mut self) {
        self.stats.elapsed = self.started.elapsed();
        self.send(DriverEvent::Stats { conn: self.job.conn, stats: Box::new(self.stats.clone()) }).await;
    }

    async fn mark_all(&self, reason: Reason) {
        let bad = Sample::bad(reason, SystemTime::now());
        self.samples(self.job.points.iter().map(|(id, _)| (*id, bad.clone())).collect()).await;
    }

    /// The quarantined tags, Bad with their reasons.
    async fn mark_quarantined(&self) {
        let now = SystemTime::now();
        let samples = self.quarantine.iter().map(|q| (q.tag, Sample::bad(Reason::Decode(q.reason.clone()), now)));
        self.samples(samples.collect()).await;
    }

    /// A session ended on a response it could not decode: finds the values that cannot be
    /// decoded (through a probe session) and takes them out of the subscription. Err when none
    /// is found (or the probe fails): the connection is then down with that reason.
    async fn isolate(&mut self, status: StatusCode, watched: &[(TagId, NodeId)]) -> Result<(), String> {
        let status = convert::status_name(status);
        let why = format!("the server sent a value the console cannot decode ({status}); finding which");
        tracing::warn!(connection = %self.job.name, %status, "undecodable response: finding the values");
        self.mark_all(Reason::Disconnected(why.clone())).await;
        self.state(ConnectionState::Disconnected { reason: why, retry_in: Duration::ZERO }).await;
        let found = probe::culprits(&self.job, watched)
            .await
            .map_err(|m| format!("the server sent a value the console cannot decode ({status}); {m}"))?;
        if found.is_empty() {
            return Err(format!(
                "the server's answers cannot be decoded ({status}), though each value reads on its own; retrying"
            ));
        }
        for (tag, node, reason) in found {
            tracing::warn!(connection = %self.job.name, tag = tag.0, %node, %reason, "value cannot be decoded");
            self.quarantine.retain(|q| q.tag != tag);
            self.quarantine.push(Quarantined { tag, node, reason });
        }
        self.mark_quarantined().await;
        Ok(())
    }

    /// One session, from discovery to its end.
    async fn session(&mut self, backoff: &mut Backoff) -> Ended {
        let prepared = match prepare_with(&self.job, &Limits::CONNECTION, -1).await {
            Ok(x) => x,
            Err(m) => return Ended::Failed(m),
        };
        self.server_cert = prepared.server_certificate;
        self.run_session(prepared.session, prepared.event_loop, backoff).await
    }

    async fn run_session(
        &mut self,
        session: Arc<Session>,
        event_loop: SessionEventLoop<TcpConnector>,
        backoff: &mut Backoff,
    ) -> Ended {
        let (itx, mut irx) = mpsc::unbounded_channel::<Inner>();
        let guard = forward_events(event_loop, itx.clone());
        let mut live = Live {
            session,
            itx,
            subscribed: None,
            ever_connected: false,
            pending_up: false,
            last_fresh: Instant::now() - Duration::from_secs(1),
            last_stats: Instant::now(),
            next_recheck: Instant::now() + RECHECK,
            recheck: None,
        };
        loop {
            let recheck_at = (!self.quarantine.is_empty() && live.recheck.is_none() && live.subscribed.is_some())
                .then_some(live.next_recheck);
            let ev = tokio::select! {
                ev = irx.recv() => ev,
                cmd = next_write(&self.writes) => {
                    if let Some(cmd) = cmd {
                        self.write(&live.session, live.subscribed.as_ref(), cmd).await;
                    }
                    continue;
                }
                _ = at(recheck_at) => {
                    self.start_recheck(&mut live);
                    continue;
                }
            };
            let Some(ev) = ev else { return Ended::Failed("session ended".into()) };
            if live.last_stats.elapsed() >= Duration::from_secs(1) {
                live.last_stats = Instant::now();
                self.send_stats().await;
            }
            if let Flow::End(ended) = self.handle(&mut live, ev, backoff).await {
                if matches!(ended, Ended::Undecodable { .. }) {
                    retire(live.session, irx, guard);
                }
                return ended;
            }
        }
    }

    async fn handle(&mut self, live: &mut Live, ev: Inner, backoff: &mut Backoff) -> Flow {
        match ev {
            Inner::Data(samples) => {
                self.stats.requests += samples.len() as u64;
                self.arrived(live).await;
                self.samples(samples).await;
            }
            Inner::LoopEnded(status) => return Flow::End(Ended::Failed(explain(status, &self.job, &self.server_cert))),
            Inner::Rechecked(found) => self.rechecked(live, found).await,
            Inner::Poll(SessionPollResult::BeginConnect) => {
                if live.ever_connected {
                    self.state(ConnectionState::Connecting).await;
                }
            }
            Inner::Poll(SessionPollResult::Reconnected(_)) => return self.reconnected(live, backoff).await,
            Inner::Poll(SessionPollResult::ConnectionLost(status)) => {
                self.connected_at = None;
                self.stats.errors += 1;
                live.pending_up = false;
                if undecodable(status) && live.subscribed.is_some() {
                    return Flow::End(Ended::Undecodable { status, watched: watched(live) });
                }
                let reason = format!("connection lost: {}", convert::status_name(status));
                self.mark_all(Reason::Disconnected(reason.clone())).await;
                self.state(ConnectionState::Disconnected { reason, retry_in: Duration::ZERO }).await;
            }
            Inner::Poll(SessionPollResult::ReconnectFailed(status)) => {
                self.stats.errors += 1;
                let reason = explain(status, &self.job, &self.server_cert);
                tracing::warn!(connection = %self.job.name, %reason, "OPC UA reconnect failed");
                self.mark_all(Reason::Disconnected(reason.clone())).await;
                self.state(ConnectionState::Disconnected { reason, retry_in: Duration::ZERO }).await;
                if !live.ever_connected && is_fatal(status) {
                    // A wrong password or an untrusted certificate does not fix itself:
                    // say so now, then retry slowly from the outer loop.
                    return Flow::End(Ended::Failed(explain(status, &self.job, &self.server_cert)));
                }
            }
            Inner::Poll(SessionPollResult::Subscription(SubscriptionActivity::Publish)) => {
                self.arrived(live).await;
                if live.last_fresh.elapsed() >= Duration::from_millis(200) {
                    live.last_fresh = Instant::now();
                    let tags: Arc<[TagId]> =
                        live.subscribed.iter().flat_map(|s| s.items.iter().map(|(t, _)| *t)).collect();
                    self.send(DriverEvent::Fresh { conn: self.job.conn, tags, recv_ts: SystemTime::now() }).await;
                }
            }
            Inner::Poll(SessionPollResult::Subscription(SubscriptionActivity::PublishFailed(s)))
            | Inner::Poll(SessionPollResult::Subscription(SubscriptionActivity::FatalFailure(s))) => {
                self.stats.errors += 1;
                tracing::info!(connection = %self.job.name, status = %convert::status_name(s), "publish failed");
                if undecodable(s) && live.subscribed.is_some() {
                    return Flow::End(Ended::Undecodable { status: s, watched: watched(live) });
                }
            }
            Inner::Poll(_) => {}
        }
        Flow::Go
    }

    /// Something arrived: after a (re)connect, the connection is up now.
    async fn arrived(&self, live: &mut Live) {
        if live.pending_up {
            live.pending_up = false;
            self.state(ConnectionState::Connected).await;
        }
    }

    /// The session is (again) connected: subscribes, or checks the subscription it resumed.
    async fn reconnected(&mut self, live: &mut Live, backoff: &mut Backoff) -> Flow {
        live.ever_connected = true;
        live.pending_up = true;
        self.connected_at = Some(std::time::Instant::now());
        backoff.reset();
        if let Some(current) = &live.subscribed {
            self.stats.reconnects += 1;
            // The server may have renumbered its namespaces: if an `nsu=` node now has another
            // index, the recreated items watch the wrong nodes.
            let moved = match live.session.read_namespace_array().await {
                Ok(ns) => self.resolve(&ns) != current.resolved,
                Err(_) => false,
            };
            if moved {
                tracing::info!(connection = %self.job.name, "namespaces moved: subscribing again");
                let _ = live.session.delete_subscription(current.id).await;
                live.subscribed = None;
            } else {
                // The session was recreated and so was the subscription; without a publish now,
                // no data flows until the next keep-alive cycle.
                live.session.trigger_publish_now();
            }
        }
        if live.subscribed.is_none() {
            match self.subscribe(&live.session, live.itx.clone()).await {
                Ok(s) => live.subscribed = Some(s),
                Err(m) => return Flow::End(Ended::Failed(m)),
            }
        }
        Flow::Go
    }

    /// Reads the quarantined values again, on a task of its own (a probe session takes a while).
    fn start_recheck(&self, live: &mut Live) {
        let job = self.job.clone();
        let nodes: Vec<(TagId, NodeId)> = self.quarantine.iter().map(|q| (q.tag, q.node.clone())).collect();
        let itx = live.itx.clone();
        live.recheck = Some(AbortOnDrop(tokio::spawn(async move {
            let found = probe::check(&job, &nodes).await;
            let _ = itx.send(Inner::Rechecked(found));
        })));
    }

    /// Values that decode again go back into the subscription (their value, as read, shown at
    /// once); the others stay out until the next check.
    async fn rechecked(&mut self, live: &mut Live, found: Result<probe::Found, String>) {
        live.recheck = None;
        live.next_recheck = Instant::now() + RECHECK;
        let found = match found {
            Ok(f) => f,
            Err(m) => {
                tracing::info!(connection = %self.job.name, reason = %m, "cannot check the undecodable values");
                return;
            }
        };
        let Some(sub) = live.subscribed.as_mut() else { return };
        for (tag, dv) in found.good {
            let Some(i) = self.quarantine.iter().position(|q| q.tag == tag) else { continue };
            let Some((_, point)) = self.job.points.iter().find(|(t, _)| *t == tag) else { continue };
            let node = self.quarantine[i].node.clone();
            let request = item_request(tag, node.clone(), point);
            let created = live.session.create_monitored_items(sub.id, TimestampsToReturn::Both, vec![request]).await;
            match created.as_deref() {
                Ok([r]) if r.result.status_code.is_good() => {
                    tracing::info!(connection = %self.job.name, tag = tag.0, "value decodes again: subscribed");
                    self.quarantine.remove(i);
                    sub.items.push((tag, node));
                    self.samples(vec![(tag, data_sample(&dv))]).await;
                }
                _ => tracing::info!(connection = %self.job.name, tag = tag.0, "cannot subscribe the value again"),
            }
        }
    }

    /// Each tag's NodeId on this server, or why it has none.
    fn resolve(&self, namespaces: &opcua::types::NamespaceMap) -> Vec<(TagId, Result<NodeId, String>)> {
        self.job.points.iter().map(|(tag, p)| (*tag, convert::node_id(&p.node, namespaces))).collect()
    }

    /// Creates the subscription and the monitored items (not for the quarantined tags); reports
    /// each refused item and each quarantined tag on its tag.
    async fn subscribe(
        &mut self,
        session: &Arc<Session>,
        itx: mpsc::UnboundedSender<Inner>,
    ) -> Result<Subscribed, String> {
        let namespaces = match session.read_namespace_array().await {
            Ok(n) => n,
            Err(e) => {
                return Err(format!("cannot read the server's NamespaceArray: {}", convert::status_name(e.status())));
            }
        };
        let interval = self.job.ua.publishing_interval;
        // A keep-alive at least every second, so quiet values are confirmed current.
        let keep_alive = (1000 / interval.as_millis().max(1)).max(1) as u32;
        let sub = session
            .create_subscription(interval, keep_alive * 10, keep_alive, 0, 0, true, Forward { tx: itx })
            .await
            .map_err(|e| format!("cannot create the subscription: {}", convert::status_name(e.status())))?;
        let now = SystemTime::now();
        let mut bad = Vec::new();
        let mut requests = Vec::new();
        let mut asked = Vec::new();
        let resolved = self.resolve(&namespaces);
        for ((tag, node), (_, p)) in resolved.iter().zip(&self.job.points) {
            match node {
                Ok(node_id) => match self.quarantine.iter_mut().find(|q| q.tag == *tag) {
                    // Out of the subscription (its node as resolved now, for the checks).
                    Some(q) => q.node = node_id.clone(),
                    None => {
                        requests.push(item_request(*tag, node_id.clone(), p));
                        asked.push((*tag, node_id.clone()));
                    }
                },
                Err(m) => bad.push((*tag, Sample::bad(Reason::Other(m.clone()), now))),
            }
        }
        self.samples(std::mem::take(&mut bad)).await;
        self.mark_quarantined().await;
        let results = session
            .create_monitored_items(sub, TimestampsToReturn::Both, requests)
            .await
            .map_err(|e| format!("cannot create the monitored items: {}", convert::status_name(e.status())))?;
        let mut infos = Vec::new();
        let mut items = Vec::new();
        let revised_publishing = session.subscription_state().lock().get(sub).map(|x| x.publishing_interval());
        for ((tag, node), r) in asked.into_iter().zip(results.iter()) {
            let status = r.result.status_code;
            // A negative revised interval means "the publishing interval".
            let sampling = r.result.revised_sampling_interval;
            let revised_sampling = if sampling < 0.0 {
                revised_publishing.unwrap_or(interval)
            } else {
                Duration::from_secs_f64(sampling / 1000.0)
            };
            infos.push(UaItemInfo {
                tag,
                status: convert::status_name(status),
                revised_sampling,
                revised_queue: r.result.revised_queue_size,
            });
            if status.is_good() {
                items.push((tag, node));
            } else {
                let quality = convert::quality(status);
                bad.push((tag, Sample { value: None, quality, source_ts: None, server_ts: None, recv_ts: now }));
            }
        }
        self.send(DriverEvent::UaItems { conn: self.job.conn, items: infos, publishing_interval: revised_publishing })
            .await;
        self.samples(bad).await;
        self.report_data_types(session, &resolved).await;
        tracing::info!(connection = %self.job.name, items = items.len(), quarantined = self.quarantine.len(), "subscribed");
        Ok(Subscribed { id: sub, resolved, items })
    }
}

/// The values the session's subscription watches.
fn watched(live: &Live) -> Vec<(TagId, NodeId)> {
    live.subscribed.as_ref().map(|s| s.items.clone()).unwrap_or_default()
}

/// Sleeps until `t`; for ever without one.
async fn at(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Runs the session's event loop on a task, forwarding its events; the task ends with the guard.
fn forward_events(event_loop: SessionEventLoop<TcpConnector>, tx: mpsc::UnboundedSender<Inner>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let mut stream = std::pin::pin!(event_loop.enter());
        while let Some(r) = stream.next().await {
            match r {
                Ok(ev) => {
                    if tx.send(Inner::Poll(ev)).is_err() {
                        return;
                    }
                }
                Err(status) => {
                    let _ = tx.send(Inner::LoopEnded(status));
                    return;
                }
            }
        }
        let _ = tx.send(Inner::LoopEnded(StatusCode::BadConnectionClosed));
    }))
}

/// Closes a session whose connection broke on an answer it could not decode, in the
/// background: once its event loop has reconnected (3 s at most), the session is closed, so the
/// server frees it and its subscription at once instead of after the session timeout.
fn retire(session: Arc<Session>, mut irx: mpsc::UnboundedReceiver<Inner>, guard: AbortOnDrop) {
    tokio::spawn(async move {
        let _guard = guard;
        let reconnected = async {
            while let Some(ev) = irx.recv().await {
                if matches!(ev, Inner::Poll(SessionPollResult::Reconnected(_))) {
                    return true;
                }
            }
            false
        };
        if let Ok(true) = tokio::time::timeout(Duration::from_secs(3), reconnected).await {
            let _ = tokio::time::timeout(Duration::from_secs(2), session.disconnect()).await;
        }
    });
}
