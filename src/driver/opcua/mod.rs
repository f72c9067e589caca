//! The OPC UA driver: one session per connection, one subscription per connection (its
//! publishing interval), one monitored item per tag.
//!
//! The session's own event loop reconnects (with backoff up to 30 s) and recreates the
//! subscription; this task watches its events: tags go Bad(not connected) with their last values
//! on a lost connection, and after every reconnect it triggers a publish at once (async-opcua
//! 0.19 otherwise waits before data flows again) and re-resolves `nsu=` namespaces. Unchanged
//! values are confirmed as `Fresh` on every publish response (keep-alives included), so
//! staleness means "the server went quiet", not "the value did not change".

pub mod browse;
pub mod convert;
pub mod pki;
pub mod write;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use opcua::client::transport::TcpConnector;
use opcua::client::{
    ClientBuilder, IdentityToken, MonitoredItem, OnSubscriptionNotification, Session, SessionEventLoop,
    SessionPollResult, SubscriptionActivity,
};
use opcua::crypto::SecurityPolicy;
use opcua::types::{
    AttributeId, DataChangeFilter, DataChangeTrigger, DataValue, DeadbandType, EndpointDescription, ExtensionObject,
    MessageSecurityMode, MonitoredItemCreateRequest, MonitoringMode, MonitoringParameters, NodeId, ReadValueId,
    StatusCode, TimestampsToReturn,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::driver::backoff::Backoff;
use crate::driver::{
    ConnStats, ConnectionState, DriverEvent, UaItemInfo, WriteCommand, WriteDone, WriteInbox, next_write,
};
use crate::layout::{
    ConnId, ConnectionKind, Deadband, Layout, OpcUaConn, SecretSource, TagSource, UaMode, UaPoint, UaPolicy,
    UaSecurity, UaUser,
};
use crate::tag::{Reason, Sample, TagId};

/// Everything a connection task needs, taken from the layout.
#[derive(Clone, Debug)]
pub struct UaJob {
    pub conn: ConnId,
    pub name: String,
    pub ua: OpcUaConn,
    pub timeout: Duration,
    pub points: Vec<(TagId, UaPoint)>,
    /// The client's PKI folder: own certificate (created on first use), trusted and rejected
    /// server certificates.
    pub pki: PathBuf,
}

impl UaJob {
    pub fn from_layout(layout: &Layout, conn: ConnId, pki: PathBuf) -> Option<UaJob> {
        let c = layout.connection(conn);
        let ConnectionKind::OpcUa(ua) = &c.kind else { return None };
        let points = layout
            .tags_of(conn)
            .filter_map(|(id, t)| match &t.source {
                TagSource::OpcUa(p) => Some((id, p.clone())),
                _ => None,
            })
            .collect();
        Some(UaJob { conn, name: c.name.clone(), ua: ua.clone(), timeout: c.timeout, points, pki })
    }
}

/// Why a connection attempt failed, in words for the operator.
pub(crate) fn explain(status: StatusCode, job: &UaJob) -> String {
    let name = convert::status_name(status);
    match status {
        StatusCode::BadUserAccessDenied
        | StatusCode::BadIdentityTokenInvalid
        | StatusCode::BadIdentityTokenRejected
        | StatusCode::BadUserSignatureInvalid => {
            let who = match &job.ua.user {
                UaUser::Anonymous => "anonymous access".to_string(),
                UaUser::UserName { username, .. } => format!("user `{username}` (wrong password?)"),
                UaUser::Certificate { cert, .. } => format!("the user certificate {}", cert.display()),
            };
            format!("{name}: the server refused {who}")
        }
        StatusCode::BadCertificateUntrusted
        | StatusCode::BadSecurityChecksFailed
        | StatusCode::BadCertificateInvalid
        | StatusCode::BadCertificateHostNameInvalid
        | StatusCode::BadCertificateTimeInvalid => {
            format!("{name}: {}", pki::untrusted_hint(&job.pki))
        }
        _ => name,
    }
}

fn identity(job: &UaJob) -> Result<IdentityToken, String> {
    Ok(match &job.ua.user {
        UaUser::Anonymous => IdentityToken::Anonymous,
        UaUser::UserName { username, password } => {
            let secret = match password {
                SecretSource::Env(var) => std::env::var(var)
                    .map_err(|_| format!("the password variable {var} is not set (for user `{username}`)"))?,
                SecretSource::File(path) => std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            };
            IdentityToken::new_user_name(username.clone(), secret)
        }
        UaUser::Certificate { cert, key } => IdentityToken::new_x509_path(cert, key)
            .map_err(|e| format!("cannot load the user certificate {}: {e}", cert.display()))?,
    })
}

fn wanted(ua: &OpcUaConn) -> (SecurityPolicy, MessageSecurityMode) {
    match ua.security {
        UaSecurity::None => (SecurityPolicy::None, MessageSecurityMode::None),
        UaSecurity::Secure { policy, mode } => (
            match policy {
                UaPolicy::Basic256Sha256 => SecurityPolicy::Basic256Sha256,
                UaPolicy::Aes128Sha256RsaOaep => SecurityPolicy::Aes128Sha256RsaOaep,
                UaPolicy::Aes256Sha256RsaPss => SecurityPolicy::Aes256Sha256RsaPss,
            },
            match mode {
                UaMode::Sign => MessageSecurityMode::Sign,
                UaMode::SignAndEncrypt => MessageSecurityMode::SignAndEncrypt,
            },
        ),
    }
}

/// The endpoint of `offered` that matches the layout, or a message naming what is offered.
fn pick_endpoint(job: &UaJob, offered: &[EndpointDescription]) -> Result<EndpointDescription, String> {
    let (policy, mode) = wanted(&job.ua);
    offered
        .iter()
        .find(|e| SecurityPolicy::from_uri(e.security_policy_uri.as_ref()) == policy && e.security_mode == mode)
        .cloned()
        .ok_or_else(|| {
            let list: Vec<String> = offered
                .iter()
                .map(|e| {
                    let p = SecurityPolicy::from_uri(e.security_policy_uri.as_ref());
                    let p = if p == SecurityPolicy::Unknown { "unknown".to_string() } else { p.to_str().to_string() };
                    format!("{p}/{:?}", e.security_mode)
                })
                .collect();
            let want = match job.ua.security {
                UaSecurity::None => "None".to_string(),
                UaSecurity::Secure { policy, mode } => format!("{}/{mode:?}", policy.name()),
            };
            format!("the server offers no {want} endpoint; it offers: {}", list.join(", "))
        })
}

/// Events from the subscription callback and the session event loop into the task.
enum Inner {
    Data(Vec<(TagId, Sample)>),
    Poll(SessionPollResult),
    LoopEnded(StatusCode),
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

/// A DataValue as a sample: value, status as quality, source timestamp kept.
pub fn data_sample(dv: &DataValue) -> Sample {
    let status = dv.status.unwrap_or(StatusCode::Good);
    Sample {
        value: dv.value.as_ref().and_then(convert::value),
        quality: convert::quality(status),
        source_ts: dv.source_timestamp.as_ref().and_then(convert::system_time),
        server_ts: dv.server_timestamp.as_ref().and_then(convert::system_time),
        recv_ts: SystemTime::now(),
    }
}

/// Runs a connection until `shutdown` turns true.
pub async fn run<M: From<DriverEvent> + Send + 'static>(
    job: UaJob,
    tx: mpsc::Sender<M>,
    mut shutdown: watch::Receiver<bool>,
    writes: Option<WriteInbox>,
) {
    let task = Task { job, tx, stats: ConnStats::default(), started: Instant::now(), writes, connected_at: None };
    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30), seed);
    let mut task = task;
    loop {
        if *shutdown.borrow() {
            break;
        }
        task.state(ConnectionState::Connecting).await;
        let outcome = tokio::select! {
            r = task.session(&mut backoff) => r,
            _ = shutdown.changed() => break,
        };
        task.mark_all(Reason::Disconnected(outcome.clone())).await;
        let delay = backoff.next_delay();
        tracing::warn!(connection = %task.job.name, reason = %outcome, retry_in = ?delay, "OPC UA connection failed");
        task.state(ConnectionState::Disconnected { reason: outcome, retry_in: delay }).await;
        task.send_stats().await;
        let until = tokio::time::Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                _ = shutdown.changed() => break,
                cmd = next_write(&task.writes) => task.refuse(cmd),
            }
        }
        if *shutdown.borrow() {
            break;
        }
    }
    task.mark_all(Reason::NotConnected).await;
    task.send_stats().await;
    task.state(ConnectionState::Stopped).await;
}

struct Task<M> {
    job: UaJob,
    tx: mpsc::Sender<M>,
    stats: ConnStats,
    started: Instant,
    /// Write commands from the console; `None` in read-only mode.
    writes: Option<WriteInbox>,
    /// When the session last (re)connected; `None` while down. Older commands are refused.
    connected_at: Option<std::time::Instant>,
}

impl<M: From<DriverEvent>> Task<M> {
    fn refuse(&self, cmd: Option<WriteCommand>) {
        if let Some(cmd) = cmd {
            let _ = cmd.reply.send(Err(format!("not written: connection `{}` is down", self.job.name)));
        }
    }

    /// Carries out one write on the session and reads the value back.
    async fn write(&mut self, session: &Session, resolved: Option<&Subscribed>, cmd: WriteCommand) {
        let fresh = self.connected_at.is_some_and(|c| cmd.sent_at >= c);
        if !fresh {
            let _ = cmd
                .reply
                .send(Err("not written: the connection is down or was re-established since the request".into()));
            return;
        }
        let node = resolved.and_then(|s| s.resolved.iter().find(|(t, _)| *t == cmd.tag)).map(|(_, n)| n.clone());
        let node = match node {
            Some(Ok(n)) => n,
            Some(Err(m)) => {
                let _ = cmd.reply.send(Err(format!("not written: {m}")));
                return;
            }
            None => {
                let _ = cmd.reply.send(Err("not written: the tag is not on this connection".into()));
                return;
            }
        };
        self.stats.requests += 1;
        let outcome = match write::write_value(session, &node, &cmd.value).await {
            Ok(back) => Ok(WriteDone {
                expected: write::as_written(&cmd.value, back.as_ref()),
                readback: back,
                how: format!("OPC UA Write {node}"),
            }),
            Err(e) => {
                self.stats.errors += 1;
                Err(e)
            }
        };
        tracing::info!(connection = %self.job.name, tag = cmd.tag.0, ?outcome, "write");
        let _ = cmd.reply.send(outcome);
    }

    async fn send(&self, e: DriverEvent) {
        let _ = self.tx.send(e.into()).await;
    }

    async fn state(&self, state: ConnectionState) {
        self.send(DriverEvent::State { conn: self.job.conn, state }).await;
    }

    async fn send_stats(&mut self) {
        self.stats.elapsed = self.started.elapsed();
        self.send(DriverEvent::Stats { conn: self.job.conn, stats: Box::new(self.stats.clone()) }).await;
    }

    async fn mark_all(&self, reason: Reason) {
        let now = SystemTime::now();
        let bad = Sample::bad(reason, now);
        let samples: Vec<(TagId, Sample)> = self.job.points.iter().map(|(id, _)| (*id, bad.clone())).collect();
        if !samples.is_empty() {
            self.send(DriverEvent::Samples { conn: self.job.conn, samples, raw: None }).await;
        }
    }

    /// One session, from discovery to its end; returns why it ended.
    async fn session(&mut self, backoff: &mut Backoff) -> String {
        let (session, event_loop) = match prepare(&self.job).await {
            Ok(x) => x,
            Err(m) => return m,
        };
        self.run_session(session, event_loop, backoff).await
    }

    async fn run_session(
        &mut self,
        session: Arc<Session>,
        event_loop: SessionEventLoop<TcpConnector>,
        backoff: &mut Backoff,
    ) -> String {
        let (itx, mut irx) = mpsc::unbounded_channel::<Inner>();
        let loop_tx = itx.clone();
        let event_task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(event_loop.enter());
            while let Some(r) = stream.next().await {
                match r {
                    Ok(ev) => {
                        if loop_tx.send(Inner::Poll(ev)).is_err() {
                            return;
                        }
                    }
                    Err(status) => {
                        let _ = loop_tx.send(Inner::LoopEnded(status));
                        return;
                    }
                }
            }
            let _ = loop_tx.send(Inner::LoopEnded(StatusCode::BadConnectionClosed));
        });
        let _guard = AbortOnDrop(event_task);

        let mut subscribed: Option<Subscribed> = None;
        let mut ever_connected = false;
        let mut last_fresh = Instant::now() - Duration::from_secs(1);
        let mut last_stats = Instant::now();
        let all_tags: Arc<[TagId]> = self.job.points.iter().map(|(id, _)| *id).collect();
        // Tags whose monitored item was refused: never reported Fresh.
        let mut refused: Vec<TagId> = Vec::new();
        loop {
            let ev = tokio::select! {
                ev = irx.recv() => ev,
                cmd = next_write(&self.writes) => {
                    if let Some(cmd) = cmd {
                        self.write(&session, subscribed.as_ref(), cmd).await;
                    }
                    continue;
                }
            };
            let Some(ev) = ev else { return "session ended".into() };
            if last_stats.elapsed() >= Duration::from_secs(1) {
                last_stats = Instant::now();
                self.send_stats().await;
            }
            match ev {
                Inner::Data(samples) => {
                    self.stats.requests += samples.len() as u64;
                    self.send(DriverEvent::Samples { conn: self.job.conn, samples, raw: None }).await;
                }
                Inner::LoopEnded(status) => return explain(status, &self.job),
                Inner::Poll(SessionPollResult::BeginConnect) => {
                    if ever_connected {
                        self.state(ConnectionState::Connecting).await;
                    }
                }
                Inner::Poll(SessionPollResult::Reconnected(_)) => {
                    ever_connected = true;
                    self.connected_at = Some(std::time::Instant::now());
                    backoff.reset();
                    self.state(ConnectionState::Connected).await;
                    if let Some(current) = &subscribed {
                        self.stats.reconnects += 1;
                        // The server may have renumbered its namespaces: if an `nsu=` node now
                        // has another index, the recreated items watch the wrong nodes.
                        let moved = match session.read_namespace_array().await {
                            Ok(ns) => self.resolve(&ns) != current.resolved,
                            Err(_) => false,
                        };
                        if moved {
                            tracing::info!(connection = %self.job.name, "namespaces moved: subscribing again");
                            let _ = session.delete_subscription(current.id).await;
                            subscribed = None;
                        } else {
                            // The session was recreated and so was the subscription; without a
                            // publish now, no data flows until the next keep-alive cycle.
                            session.trigger_publish_now();
                        }
                    }
                    if subscribed.is_none() {
                        match self.subscribe(&session, itx.clone()).await {
                            Ok(s) => {
                                refused = s.refused.clone();
                                subscribed = Some(s);
                            }
                            Err(m) => return m,
                        }
                    }
                }
                Inner::Poll(SessionPollResult::ConnectionLost(status)) => {
                    self.connected_at = None;
                    self.stats.errors += 1;
                    let reason = format!("connection lost: {}", convert::status_name(status));
                    self.mark_all(Reason::Disconnected(reason.clone())).await;
                    self.state(ConnectionState::Disconnected { reason, retry_in: Duration::ZERO }).await;
                }
                Inner::Poll(SessionPollResult::ReconnectFailed(status)) => {
                    self.stats.errors += 1;
                    let reason = explain(status, &self.job);
                    tracing::warn!(connection = %self.job.name, %reason, "OPC UA reconnect failed");
                    self.mark_all(Reason::Disconnected(reason.clone())).await;
                    self.state(ConnectionState::Disconnected { reason, retry_in: Duration::ZERO }).await;
                    if !ever_connected && is_fatal(status) {
                        // A wrong password or an untrusted certificate does not fix itself:
                        // say so now, then retry slowly from the outer loop.
                        return explain(status, &self.job);
                    }
                }
                Inner::Poll(SessionPollResult::Subscription(SubscriptionActivity::Publish)) => {
                    if last_fresh.elapsed() >= Duration::from_millis(200) {
                        last_fresh = Instant::now();
                        let tags: Arc<[TagId]> = if refused.is_empty() {
                            all_tags.clone()
                        } else {
                            all_tags.iter().copied().filter(|t| !refused.contains(t)).collect()
                        };
                        self.send(DriverEvent::Fresh { conn: self.job.conn, tags, recv_ts: SystemTime::now() }).await;
                    }
                }
                Inner::Poll(SessionPollResult::Subscription(SubscriptionActivity::PublishFailed(s)))
                | Inner::Poll(SessionPollResult::Subscription(SubscriptionActivity::FatalFailure(s))) => {
                    self.stats.errors += 1;
                    tracing::info!(connection = %self.job.name, status = %convert::status_name(s), "publish failed");
                }
                Inner::Poll(_) => {}
            }
        }
    }

    /// Creates the subscription and the monitored items; reports each refused item on its tag.
    /// Returns the tags whose items were refused.
    /// Each tag's NodeId on this server, or why it has none.
    fn resolve(&self, namespaces: &opcua::types::NamespaceMap) -> Vec<(TagId, Result<NodeId, String>)> {
        self.job.points.iter().map(|(tag, p)| (*tag, convert::node_id(&p.node, namespaces))).collect()
    }

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
        let mut refused = Vec::new();
        let mut requests = Vec::new();
        let mut ids = Vec::new();
        let resolved = self.resolve(&namespaces);
        for ((tag, node), (_, p)) in resolved.iter().zip(&self.job.points) {
            match node {
                Ok(node_id) => {
                    requests.push(item_request(*tag, node_id.clone(), p));
                    ids.push(*tag);
                }
                Err(m) => {
                    refused.push(*tag);
                    let s = Sample::bad(Reason::Other(m.clone()), now);
                    self.send(DriverEvent::Samples { conn: self.job.conn, samples: vec![(*tag, s)], raw: None }).await;
                }
            }
        }
        let results = session
            .create_monitored_items(sub, TimestampsToReturn::Both, requests)
            .await
            .map_err(|e| format!("cannot create the monitored items: {}", convert::status_name(e.status())))?;
        let mut infos = Vec::new();
        let mut bad = Vec::new();
        let revised_publishing = session.subscription_state().lock().get(sub).map(|x| x.publishing_interval());
        for (tag, r) in ids.iter().zip(results.iter()) {
            let status = r.result.status_code;
            // A negative revised interval means "the publishing interval".
            let sampling = r.result.revised_sampling_interval;
            let revised_sampling = if sampling < 0.0 {
                revised_publishing.unwrap_or(interval)
            } else {
                Duration::from_secs_f64(sampling / 1000.0)
            };
            infos.push(UaItemInfo {
                tag: *tag,
                status: convert::status_name(status),
                revised_sampling,
                revised_queue: r.result.revised_queue_size,
            });
            if !status.is_good() {
                refused.push(*tag);
                bad.push((
                    *tag,
                    Sample {
                        value: None,
                        quality: convert::quality(status),
                        source_ts: None,
                        server_ts: None,
                        recv_ts: now,
                    },
                ));
            }
        }
        self.send(DriverEvent::UaItems { conn: self.job.conn, items: infos, publishing_interval: revised_publishing })
            .await;
        if !bad.is_empty() {
            self.send(DriverEvent::Samples { conn: self.job.conn, samples: bad, raw: None }).await;
        }
        tracing::info!(connection = %self.job.name, items = ids.len(), refused = refused.len(), "subscribed");
        Ok(Subscribed { id: sub, resolved, refused })
    }
}

/// The connection's subscription as created.
struct Subscribed {
    id: u32,
    /// Each tag's NodeId at the time, to notice namespaces that moved.
    resolved: Vec<(TagId, Result<NodeId, String>)>,
    /// Tags without a working monitored item: never confirmed Fresh.
    refused: Vec<TagId>,
}

/// Discovers the server's endpoints, picks the one the layout asks for and prepares a session
/// (not yet connected: the returned event loop connects when polled).
pub async fn prepare(job: &UaJob) -> Result<(Arc<Session>, SessionEventLoop<TcpConnector>), String> {
    let limit = job.timeout.max(Duration::from_secs(5));
    let builder = |retries: i32| {
        ClientBuilder::new()
            .application_name("ttyhmi")
            .application_uri("urn:ttyhmi:console")
            .product_uri("urn:ttyhmi")
            .pki_dir(&job.pki)
            .create_sample_keypair(true)
            .trust_server_certs(false)
            .session_retry_initial(Duration::from_millis(500))
            .session_retry_max(Duration::from_secs(30))
            .session_retry_limit(retries)
            .request_timeout(limit)
            .max_array_length(1_000_000)
            .max_message_size(64 * 1024 * 1024)
            .max_chunk_count(1024)
            .keep_alive_interval(Duration::from_secs(1))
            .client()
            .map_err(|e| format!("OPC UA client configuration: {}", e.join("; ")))
    };
    // Discovery does not retry (a refused connection is reported at once, with its cause); the
    // session retries for ever, with backoff, and resumes its subscription.
    let discovery = builder(0)?;
    let mut client = builder(-1)?;
    let url = job.ua.endpoint.clone();
    let offered = match tokio::time::timeout(limit, discovery.get_server_endpoints_from_url(url.as_str())).await {
        Err(_) => return Err(format!("no answer from {url} within {limit:?}")),
        Ok(Err(e)) => return Err(format!("cannot reach {url}: {}", convert::status_name(e.status()))),
        Ok(Ok(list)) => list,
    };
    let mut endpoint = match pick_endpoint(job, &offered) {
        Ok(e) => e,
        Err(m) => return Err(m),
    };
    // Servers often advertise a host name the console cannot reach (their own hostname, an
    // internal address): connect where the layout says, with the endpoint's security.
    endpoint.endpoint_url = url.as_str().into();
    let token = match identity(job) {
        Ok(t) => t,
        Err(m) => return Err(m),
    };
    let (session, event_loop) = match client.connect_to_endpoint_directly(endpoint, token) {
        Ok(x) => x,
        Err(e) => return Err(format!("cannot start a session: {e}")),
    };
    Ok((session, event_loop))
}

fn is_fatal(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::BadUserAccessDenied
            | StatusCode::BadIdentityTokenInvalid
            | StatusCode::BadIdentityTokenRejected
            | StatusCode::BadCertificateUntrusted
            | StatusCode::BadSecurityChecksFailed
            | StatusCode::BadCertificateInvalid
    )
}

fn item_request(tag: TagId, node_id: NodeId, p: &UaPoint) -> MonitoredItemCreateRequest {
    let filter = match p.deadband {
        None => ExtensionObject::null(),
        Some(d) => {
            let (kind, value) = match d {
                Deadband::Absolute(v) => (DeadbandType::Absolute, v),
                Deadband::Percent(v) => (DeadbandType::Percent, v),
            };
            ExtensionObject::from_message(DataChangeFilter {
                trigger: DataChangeTrigger::StatusValue,
                deadband_type: kind as u32,
                deadband_value: value,
            })
        }
    };
    MonitoredItemCreateRequest {
        item_to_monitor: ReadValueId { node_id, attribute_id: AttributeId::Value as u32, ..Default::default() },
        monitoring_mode: MonitoringMode::Reporting,
        requested_parameters: MonitoringParameters {
            client_handle: tag.0 + 1,
            // -1: the publishing interval.
            sampling_interval: p.sampling.map_or(-1.0, |s| s.as_secs_f64() * 1000.0),
            filter,
            queue_size: p.queue_size,
            discard_oldest: true,
        },
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
