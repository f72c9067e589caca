//! One connection's OPC UA side, run by the driver supervisor: a session (discovery, then the
//! session's events: data, reconnects, publishes), the console's writes, and the values the
//! console cannot decode ([`super::probe`]).
//!
//! The connection says Connected only once something arrived after a (re)connect (a value or a
//! publish response), so it never says up while nothing comes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use opcua::client::transport::TcpConnector;
use opcua::client::{
    MonitoredItemMap, OnSubscriptionNotificationCore, Session, SessionEventLoop, SessionPollResult,
    SubscriptionActivity,
};
use opcua::types::{
    DataChangeNotification, MonitoredItemCreateRequest, MonitoredItemCreateResult, NodeId, NotificationMessage,
    StatusCode, TimestampsToReturn,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::probe::{self, RECHECK, undecodable};
use super::{
    AbortOnDrop, Limits, UaJob, convert, data_sample, explain, is_fatal, item_request, prepare_with, publishing_fact,
    write,
};
use crate::driver::plan::UaWrite;
use crate::driver::supervisor::{Driver, Ended, Event, Out, Retry};
use crate::driver::{
    ConnDiagnostics, ConnStats, ConnectionState, DriverEvent, ItemInfo, WireType, WriteCommand, WriteDone,
};
use crate::driver::{NotSent, WriteError, WritePlan};
use crate::layout::ConnId;
use crate::sanitize::clean;
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

impl OnSubscriptionNotificationCore for Forward {
    /// The data changes of one publish response go on as one batch: the plant applies them at
    /// once and a gateway publishes them as one DDATA (one at a time, 10,000 changes a second
    /// were 10,000 DDATA messages, each with its own MQTT header, topic and Sparkplug envelope).
    /// Events and status changes are not used.
    fn on_subscription_notification(&mut self, n: NotificationMessage, items: MonitoredItemMap<'_>) {
        let mut samples = Vec::new();
        for obj in n.notification_data.into_iter().flatten() {
            let Some(changes) = obj.into_inner_as::<DataChangeNotification>() else { continue };
            for c in changes.monitored_items.into_iter().flatten() {
                // The client handle of a tag's item is its id + 1.
                let Some(tag) = items.get(c.client_handle).and_then(|i| i.client_handle().checked_sub(1)) else {
                    continue;
                };
                samples.push((TagId(tag), data_sample(&c.value)));
            }
        }
        if !samples.is_empty() {
            let _ = self.tx.send(Inner::Data(samples));
        }
    }
}

/// How a session ended.
enum SessionEnd {
    /// Failed or lost; why, in words for the operator.
    Failed(String),
    /// A response could not be decoded and the connection closed on it: find which of the
    /// `watched` values the console cannot decode.
    Undecodable { status: StatusCode, watched: Vec<(TagId, NodeId)> },
}

/// A tag whose value the console cannot decode: out of the subscription, Bad with `reason`.
#[derive(Clone)]
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
    /// The publishing interval in use (as the server revised it, when it said).
    publishing: Duration,
    /// What the diagnostics view was last told.
    report: ConnDiagnostics,
}

/// The monitored items as the server created them.
struct Created {
    /// Each item as revised, for the diagnostics view.
    infos: Vec<ItemInfo>,
    /// The tags with a working item, and its node.
    items: Vec<(TagId, NodeId)>,
    /// The tags whose item the server refused, Bad with its status.
    bad: Vec<(TagId, Sample)>,
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
    /// When the values that could not be decoded are read next, and the check running.
    next_recheck: Instant,
    recheck: Option<AbortOnDrop>,
}

impl Live {
    fn new(session: Arc<Session>, itx: mpsc::UnboundedSender<Inner>) -> Live {
        Live {
            session,
            itx,
            subscribed: None,
            ever_connected: false,
            pending_up: false,
            last_fresh: Instant::now() - Duration::from_secs(1),
            next_recheck: Instant::now() + RECHECK,
            recheck: None,
        }
    }
}

/// What to do after an event.
enum Flow {
    Go,
    End(SessionEnd),
}

/// The OPC UA side of a connection.
#[derive(Clone)]
pub(super) struct Task {
    job: UaJob,
    /// Tags whose values the console cannot decode (kept across sessions of this connection).
    quarantine: Vec<Quarantined>,
    /// The certificate the server's endpoint presented at the last discovery (DER; empty with
    /// security None), for the messages about it.
    server_cert: Vec<u8>,
}

impl Driver for Task {
    type Link = (Arc<Session>, SessionEventLoop<TcpConnector>);
    const BACKOFF_BASE: Duration = Duration::from_millis(500);

    fn conn(&self) -> ConnId {
        self.job.conn
    }

    fn name(&self) -> &str {
        &self.job.name
    }

    fn tags(&self) -> Vec<TagId> {
        self.job.points.iter().map(|(id, _)| *id).collect()
    }

    /// Discovers the server's endpoints and prepares a session (its event loop connects).
    async fn connect(&mut self) -> Result<Self::Link, String> {
        let prepared = prepare_with(&self.job, &Limits::CONNECTION, -1).await?;
        self.server_cert = prepared.server_certificate;
        Ok((prepared.session, prepared.event_loop))
    }

    async fn session<M: Event>(&mut self, (session, event_loop): Self::Link, out: &mut Out<M>) -> Ended {
        match self.run_session(session, event_loop, out).await {
            SessionEnd::Failed(reason) => Ended::Lost { reason, retry: Retry::Backoff },
            SessionEnd::Undecodable { status, watched } => match self.isolate(status, &watched, out).await {
                // Found: connect again at once, without them.
                Ok(()) => Ended::Again,
                Err(reason) => Ended::Lost { reason, retry: Retry::Backoff },
            },
        }
    }
}

impl Task {
    pub(super) fn new(job: UaJob) -> Self {
        Task { job, quarantine: Vec::new(), server_cert: Vec::new() }
    }

    /// Carries out one write (exactly its plan; sent while the connection is up: the supervisor
    /// refuses the others) on the session and reads the value back.
    async fn write(&self, session: &Session, resolved: Option<&Subscribed>, cmd: WriteCommand, stats: &mut ConnStats) {
        let WriteCommand { plan, reply, .. } = cmd;
        let outcome = match self.target(resolved, &plan) {
            Ok((node, w)) => {
                stats.requests += 1;
                let sent = write::send(session, &node, w).await.map(|back| WriteDone::of(&plan, back));
                if sent.is_err() {
                    stats.errors += 1;
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
    ) -> Result<(NodeId, &'p UaWrite), WriteError> {
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
    async fn report_data_types<M: Event>(
        &self,
        session: &Session,
        resolved: &[(TagId, Result<NodeId, String>)],
        out: &Out<M>,
    ) {
        if !out.writable() {
            return;
        }
        let nodes: Vec<(TagId, NodeId)> =
            resolved.iter().filter_map(|(t, n)| n.as_ref().ok().map(|n| (*t, n.clone()))).collect();
        let mut types = write::data_types(session, &nodes).await;
        types.extend(resolved.iter().filter_map(|(t, n)| n.as_ref().err().map(|m| (*t, Err(m.clone())))));
        let types = types.into_iter().map(|(t, r)| (t, r.map(WireType::Ua))).collect();
        out.send(DriverEvent::DataTypes { conn: out.conn(), types }).await;
    }

    /// The quarantined tags, Bad with their reasons.
    async fn mark_quarantined<M: Event>(&self, out: &Out<M>) {
        let now = SystemTime::now();
        let samples = self.quarantine.iter().map(|q| (q.tag, Sample::bad(Reason::Decode(q.reason.clone()), now)));
        out.samples(samples.collect()).await;
    }

    /// A session ended on a response it could not decode: finds the values that cannot be
    /// decoded (through a probe session) and takes them out of the subscription. Err when none
    /// is found (or the probe fails): the connection is then down with that reason.
    async fn isolate<M: Event>(
        &mut self,
        status: StatusCode,
        watched: &[(TagId, NodeId)],
        out: &mut Out<M>,
    ) -> Result<(), String> {
        let status = convert::status_name(status);
        let why = format!("the server sent a value the console cannot decode ({status}); finding which");
        tracing::warn!(connection = %self.job.name, %status, "undecodable response: finding the values");
        out.lost(why).await;
        let found = out
            .while_down(probe::culprits(&self.job, watched))
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
        self.mark_quarantined(out).await;
        Ok(())
    }

    /// One session, until it ends: its events, the console's writes, and the checks of the
    /// values that could not be decoded.
    async fn run_session<M: Event>(
        &mut self,
        session: Arc<Session>,
        event_loop: SessionEventLoop<TcpConnector>,
        out: &mut Out<M>,
    ) -> SessionEnd {
        let (itx, mut irx) = mpsc::unbounded_channel::<Inner>();
        let guard = forward_events(event_loop, itx.clone());
        let mut live = Live::new(session, itx);
        loop {
            let recheck_at = (!self.quarantine.is_empty() && live.recheck.is_none() && live.subscribed.is_some())
                .then_some(live.next_recheck);
            let ev = tokio::select! {
                ev = irx.recv() => ev,
                cmd = out.next_write() => {
                    self.write(&live.session, live.subscribed.as_ref(), cmd, &mut out.stats).await;
                    continue;
                }
                _ = at(recheck_at) => {
                    self.start_recheck(&mut live);
                    continue;
                }
            };
            let Some(ev) = ev else { return SessionEnd::Failed("session ended".into()) };
            out.stats_if_due().await;
            if let Flow::End(ended) = self.handle(&mut live, ev, out).await {
                if matches!(ended, SessionEnd::Undecodable { .. }) {
                    retire(live.session, irx, guard);
                }
                return ended;
            }
        }
    }

    async fn handle<M: Event>(&mut self, live: &mut Live, ev: Inner, out: &mut Out<M>) -> Flow {
        super::test_hook::check(&self.job.ua.endpoint);
        match ev {
            Inner::Data(samples) => {
                out.stats.requests += samples.len() as u64;
                arrived(live, out).await;
                out.samples(samples).await;
            }
            Inner::LoopEnded(status) => {
                return Flow::End(SessionEnd::Failed(explain(status, &self.job, &self.server_cert)));
            }
            Inner::Rechecked(found) => self.rechecked(live, found, out).await,
            Inner::Poll(p) => return self.polled(live, p, out).await,
        }
        Flow::Go
    }

    /// An event of the session's event loop.
    async fn polled<M: Event>(&mut self, live: &mut Live, p: SessionPollResult, out: &mut Out<M>) -> Flow {
        match p {
            SessionPollResult::BeginConnect if live.ever_connected => out.state(ConnectionState::Connecting).await,
            SessionPollResult::Reconnected(_) => return self.reconnected(live, out).await,
            SessionPollResult::ConnectionLost(status) => {
                out.stats.errors += 1;
                live.pending_up = false;
                if undecodable(status) && live.subscribed.is_some() {
                    return Flow::End(SessionEnd::Undecodable { status, watched: watched(live) });
                }
                out.lost(format!("connection lost: {}", convert::status_name(status))).await;
            }
            SessionPollResult::ReconnectFailed(status) => {
                out.stats.errors += 1;
                let reason = explain(status, &self.job, &self.server_cert);
                tracing::warn!(connection = %self.job.name, reason = %clean(&reason), "OPC UA reconnect failed");
                out.lost(reason.clone()).await;
                if !live.ever_connected && is_fatal(status) {
                    // A wrong password or an untrusted certificate does not fix itself:
                    // say so now, then retry slowly from the supervisor.
                    return Flow::End(SessionEnd::Failed(reason));
                }
            }
            SessionPollResult::Subscription(SubscriptionActivity::Publish) => self.published(live, out).await,
            SessionPollResult::Subscription(
                SubscriptionActivity::PublishFailed(s) | SubscriptionActivity::FatalFailure(s),
            ) => {
                out.stats.errors += 1;
                tracing::info!(connection = %self.job.name, status = %convert::status_name(s), "publish failed");
                if undecodable(s) && live.subscribed.is_some() {
                    return Flow::End(SessionEnd::Undecodable { status: s, watched: watched(live) });
                }
            }
            _ => {}
        }
        Flow::Go
    }

    /// A publish response (data or keep-alive): the subscribed values are current.
    async fn published<M: Event>(&self, live: &mut Live, out: &Out<M>) {
        arrived(live, out).await;
        if live.last_fresh.elapsed() >= Duration::from_millis(200) {
            live.last_fresh = Instant::now();
            let tags: Arc<[TagId]> = live.subscribed.iter().flat_map(|s| s.items.iter().map(|(t, _)| *t)).collect();
            out.send(DriverEvent::Fresh { conn: self.job.conn, tags, recv_ts: SystemTime::now() }).await;
        }
    }

    /// The session is (again) connected: subscribes, or checks the subscription it resumed.
    async fn reconnected<M: Event>(&mut self, live: &mut Live, out: &mut Out<M>) -> Flow {
        live.ever_connected = true;
        live.pending_up = true;
        out.up();
        out.reset_backoff();
        if let Some(current) = &live.subscribed {
            out.stats.reconnects += 1;
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
            match self.subscribe(&live.session, live.itx.clone(), out).await {
                Ok(s) => live.subscribed = Some(s),
                Err(m) => return Flow::End(SessionEnd::Failed(m)),
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
    async fn rechecked<M: Event>(&mut self, live: &mut Live, found: Result<probe::Found, String>, out: &Out<M>) {
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
        let mut back = Vec::new();
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
                    sub.report.items.retain(|i| i.tag != tag);
                    sub.report.items.push(item_info(tag, &r.result, sub.publishing));
                    back.push((tag, data_sample(&dv)));
                }
                _ => tracing::info!(connection = %self.job.name, tag = tag.0, "cannot subscribe the value again"),
            }
        }
        if !back.is_empty() {
            out.diagnostics(sub.report.clone()).await;
            out.samples(back).await;
        }
    }

    /// Each tag's NodeId on this server, or why it has none.
    fn resolve(&self, namespaces: &opcua::types::NamespaceMap) -> Vec<(TagId, Result<NodeId, String>)> {
        self.job.points.iter().map(|(tag, p)| (*tag, convert::node_id(&p.node, namespaces))).collect()
    }

    /// Creates the subscription and the monitored items (not for the quarantined tags); reports
    /// each refused item and each quarantined tag on its tag, and the items as the server
    /// created them to the diagnostics view.
    async fn subscribe<M: Event>(
        &mut self,
        session: &Arc<Session>,
        itx: mpsc::UnboundedSender<Inner>,
        out: &Out<M>,
    ) -> Result<Subscribed, String> {
        let namespaces = session
            .read_namespace_array()
            .await
            .map_err(|e| format!("cannot read the server's NamespaceArray: {}", convert::status_name(e.status())))?;
        let interval = self.job.ua.publishing_interval;
        // A keep-alive at least every second, so quiet values are confirmed current.
        let keep_alive = (1000 / interval.as_millis().max(1)).max(1) as u32;
        let sub = session
            .create_subscription(interval, keep_alive * 10, keep_alive, 0, 0, true, Forward { tx: itx })
            .await
            .map_err(|e| format!("cannot create the subscription: {}", convert::status_name(e.status())))?;
        let resolved = self.resolve(&namespaces);
        let (requests, asked) = self.requests(&resolved, out).await;
        let per_call = per_call(&read_items_per_call(session).await);
        let mut results = Vec::with_capacity(requests.len());
        for batch in requests.chunks(per_call) {
            let created = session
                .create_monitored_items(sub, TimestampsToReturn::Both, batch.to_vec())
                .await
                .map_err(|e| format!("cannot create the monitored items: {}", convert::status_name(e.status())))?;
            results.extend(created);
        }
        let revised = session.subscription_state().lock().get(sub).map(|x| x.publishing_interval());
        let publishing = revised.unwrap_or(interval);
        let created = created(asked, results.iter().map(|r| &r.result), publishing);
        let facts = revised.map(publishing_fact).into_iter().collect();
        let report = ConnDiagnostics { plan: Vec::new(), items: created.infos, facts };
        out.diagnostics(report.clone()).await;
        out.samples(created.bad).await;
        self.report_data_types(session, &resolved, out).await;
        let items = created.items;
        tracing::info!(connection = %self.job.name, items = items.len(), quarantined = self.quarantine.len(), "subscribed");
        Ok(Subscribed { id: sub, resolved, items, publishing, report })
    }

    /// The monitored items to ask for, one per resolved tag that is not quarantined (and which
    /// tag and node each is). A tag whose node cannot be resolved goes Bad with why; a
    /// quarantined one stays Bad with its reason, its node as resolved now kept for the checks.
    async fn requests<M: Event>(
        &mut self,
        resolved: &[(TagId, Result<NodeId, String>)],
        out: &Out<M>,
    ) -> (Vec<MonitoredItemCreateRequest>, Vec<(TagId, NodeId)>) {
        let now = SystemTime::now();
        let (mut bad, mut requests, mut asked) = (Vec::new(), Vec::new(), Vec::new());
        for ((tag, node), (_, p)) in resolved.iter().zip(&self.job.points) {
            match node {
                Ok(node_id) => match self.quarantine.iter_mut().find(|q| q.tag == *tag) {
                    Some(q) => q.node = node_id.clone(),
                    None => {
                        requests.push(item_request(*tag, node_id.clone(), p));
                        asked.push((*tag, node_id.clone()));
                    }
                },
                Err(m) => bad.push((*tag, Sample::bad(Reason::Other(m.clone()), now))),
            }
        }
        out.samples(bad).await;
        self.mark_quarantined(out).await;
        (requests, asked)
    }
}

/// Monitored items created in one call at most: servers limit it (async-opcua's default, and so
/// the simulator's, is 1000; a server may say less in its `MaxMonitoredItemsPerCall`), and one
/// call for 10,000 items is refused whole with Bad_TooManyOperations.
const ITEMS_PER_CALL: usize = 1000;

/// The server's `MaxMonitoredItemsPerCall` as read (an error or an absent value: unknown).
async fn read_items_per_call(session: &Session) -> Option<opcua::types::Variant> {
    let node: NodeId =
        opcua::types::VariableId::Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall.into();
    let id = opcua::types::ReadValueId {
        node_id: node,
        attribute_id: opcua::types::AttributeId::Value as u32,
        ..Default::default()
    };
    let values = session.read(&[id], TimestampsToReturn::Neither, 0.0).await.ok()?;
    values.into_iter().next()?.value
}

/// How many monitored items to create per call, from the server's `MaxMonitoredItemsPerCall`
/// (0 or unknown: no limit said): never more than [`ITEMS_PER_CALL`], never 0.
fn per_call(limit: &Option<opcua::types::Variant>) -> usize {
    use opcua::types::Variant;
    let said = match limit {
        Some(Variant::UInt32(n)) => usize::try_from(*n).unwrap_or(usize::MAX),
        Some(Variant::UInt16(n)) => usize::from(*n),
        Some(Variant::Int32(n)) => usize::try_from(*n).unwrap_or(0),
        Some(Variant::UInt64(n)) => usize::try_from(*n).unwrap_or(usize::MAX),
        _ => 0,
    };
    if said == 0 { ITEMS_PER_CALL } else { said.min(ITEMS_PER_CALL) }
}

/// The items the server created for `asked` (in order), `publishing` being the interval in use.
fn created<'a>(
    asked: Vec<(TagId, NodeId)>,
    results: impl Iterator<Item = &'a MonitoredItemCreateResult>,
    publishing: Duration,
) -> Created {
    let now = SystemTime::now();
    let mut c = Created { infos: Vec::new(), items: Vec::new(), bad: Vec::new() };
    for ((tag, node), r) in asked.into_iter().zip(results) {
        c.infos.push(item_info(tag, r, publishing));
        if r.status_code.is_good() {
            c.items.push((tag, node));
        } else {
            let quality = convert::quality(r.status_code);
            c.bad.push((tag, Sample { value: None, quality, source_ts: None, server_ts: None, recv_ts: now }));
        }
    }
    c
}

/// One monitored item as the server revised it. A negative revised sampling interval means "the
/// publishing interval"; one that is not a duration at all (NaN, infinite) is read the same.
fn item_info(tag: TagId, r: &MonitoredItemCreateResult, publishing: Duration) -> ItemInfo {
    let sampling = r.revised_sampling_interval;
    let revised_sampling =
        if sampling < 0.0 { publishing } else { Duration::try_from_secs_f64(sampling / 1000.0).unwrap_or(publishing) };
    ItemInfo { tag, status: convert::status_name(r.status_code), revised_sampling, revised_queue: r.revised_queue_size }
}

/// Something arrived: after a (re)connect, the connection is up now.
async fn arrived<M: Event>(live: &mut Live, out: &Out<M>) {
    if live.pending_up {
        live.pending_up = false;
        out.state(ConnectionState::Connected).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitored_items_are_created_in_calls_the_server_takes() {
        use opcua::types::Variant;
        for (limit, want) in [
            (None, 1000),
            (Some(Variant::UInt32(0)), 1000),
            (Some(Variant::UInt32(1)), 1),
            (Some(Variant::UInt32(250)), 250),
            (Some(Variant::UInt32(1000)), 1000),
            (Some(Variant::UInt32(u32::MAX)), 1000),
            (Some(Variant::UInt16(100)), 100),
            (Some(Variant::Int32(-5)), 1000),
            (Some(Variant::Int32(500)), 500),
            (Some(Variant::UInt64(u64::MAX)), 1000),
            (Some(Variant::String("100".into())), 1000),
        ] {
            assert_eq!(per_call(&limit), want, "{limit:?}");
        }
    }

    fn result(status: StatusCode, sampling: f64, queue: u32) -> MonitoredItemCreateResult {
        MonitoredItemCreateResult {
            status_code: status,
            revised_sampling_interval: sampling,
            revised_queue_size: queue,
            ..Default::default()
        }
    }

    #[test]
    fn items_as_the_server_revised_them() {
        let publishing = Duration::from_millis(250);
        let asked = vec![(TagId(0), NodeId::new(2, 1)), (TagId(1), NodeId::new(2, 2)), (TagId(2), NodeId::new(2, 3))];
        let results = [
            result(StatusCode::Good, 100.0, 5),
            result(StatusCode::Good, -1.0, 1),
            result(StatusCode::BadNodeIdUnknown, 0.0, 0),
        ];
        let c = created(asked, results.iter(), publishing);
        let sampling: Vec<Duration> = c.infos.iter().map(|i| i.revised_sampling).collect();
        assert_eq!(sampling, [Duration::from_millis(100), publishing, Duration::ZERO]);
        assert_eq!(c.infos[0].revised_queue, 5);
        assert_eq!(c.infos[2].status, "Bad_NodeIdUnknown");
        assert_eq!(c.items.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [TagId(0), TagId(1)]);
        assert_eq!(c.bad.len(), 1);
        assert_eq!(c.bad[0].0, TagId(2));
        assert!(!c.bad[0].1.quality.is_good());
    }

    /// A server's revised sampling interval is untrusted input: one that is no duration at all
    /// made `Duration::from_secs_f64` panic.
    #[test]
    fn a_revised_sampling_that_is_no_duration_reads_as_the_publishing_interval() {
        let publishing = Duration::from_millis(250);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, -0.5] {
            let i = item_info(TagId(0), &result(StatusCode::Good, bad, 1), publishing);
            assert_eq!(i.revised_sampling, publishing, "{bad}");
        }
    }
}
