//! The OPC UA driver: one session per connection, one subscription per connection (its
//! publishing interval), one monitored item per tag.
//!
//! It runs under the driver [`supervisor`](crate::driver::supervisor), which makes a new session
//! when one fails (with backoff), refuses writes while down, and restarts the task if it panics.
//! Within a session, its own event loop reconnects (with backoff up to 30 s) and recreates the
//! subscription; the task watches its events: tags go Bad(not connected) with their last values
//! on a lost connection, and after every reconnect it triggers a publish at once (async-opcua
//! 0.19 otherwise waits before data flows again) and re-resolves `nsu=` namespaces. Unchanged
//! values are confirmed as `Fresh` on every publish response (keep-alives included), so
//! staleness means "the server went quiet", not "the value did not change". The connection says
//! Connected only once something arrived after a (re)connect.
//!
//! Values are decoded within [`Limits::CONNECTION`]; a value the console still cannot decode
//! makes only its own tag Bad, and is left out of the subscription until it decodes again
//! ([`probe`]).

pub mod browse;
pub mod convert;
pub mod pki;
pub mod probe;
mod task;
pub mod write;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opcua::client::transport::TcpConnector;
use opcua::client::{ClientBuilder, IdentityToken, Session, SessionEventLoop};
use opcua::crypto::SecurityPolicy;
use opcua::types::{
    AttributeId, DataChangeFilter, DataChangeTrigger, DataValue, DeadbandType, EndpointDescription, ExtensionObject,
    MessageSecurityMode, MonitoredItemCreateRequest, MonitoringMode, MonitoringParameters, NodeId, ReadValueId,
    StatusCode,
};
use tokio::sync::{mpsc, watch};

use crate::driver::{DriverEvent, Fact, WriteInbox, supervisor};
use crate::layout::{
    ConnId, ConnectionKind, Deadband, Layout, OpcUaConn, TagSource, UaMode, UaPoint, UaPolicy, UaSecurity, UaUser,
};
use crate::tag::{Sample, TagId};

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
    /// The job of connection `conn`, if it is an OPC UA connection.
    pub fn from_layout(layout: &Layout, conn: ConnId, pki: PathBuf) -> Option<UaJob> {
        match &layout.connection(conn).kind {
            ConnectionKind::OpcUa(ua) => Some(UaJob::new(layout, conn, ua, pki)),
            _ => None,
        }
    }

    /// The job of OPC UA connection `conn` (whose settings are `ua`).
    pub fn new(layout: &Layout, conn: ConnId, ua: &OpcUaConn, pki: PathBuf) -> UaJob {
        let c = layout.connection(conn);
        let points = layout
            .tags_of(conn)
            .filter_map(|(id, t)| match &t.source {
                TagSource::OpcUa(p) => Some((id, p.clone())),
                _ => None,
            })
            .collect();
        UaJob { conn, name: c.name.clone(), ua: ua.clone(), timeout: c.timeout, points, pki }
    }
}

/// Why a connection attempt failed, in words for the operator. `server_cert`: the certificate
/// the server's endpoint presented (DER; empty when unknown), to name its own file.
pub(crate) fn explain(status: StatusCode, job: &UaJob, server_cert: &[u8]) -> String {
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
        | StatusCode::BadCertificateTimeInvalid
        | StatusCode::BadCertificateUriInvalid => {
            let why = pki::certificate_problem(&job.pki, status, server_cert, &job.ua.endpoint, SystemTime::now());
            format!("{name}: {why}")
        }
        _ => name,
    }
}

fn identity(job: &UaJob) -> Result<IdentityToken, String> {
    Ok(match &job.ua.user {
        UaUser::Anonymous => IdentityToken::Anonymous,
        UaUser::UserName { username, password } => {
            let secret = crate::driver::secret::read(password, username)?;
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

/// Runs a connection until `shutdown` turns true, under the driver supervisor.
pub async fn run<M: From<DriverEvent> + Send + 'static>(
    job: UaJob,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    writes: Option<WriteInbox>,
) {
    supervisor::run(task::Task::new(job), tx, shutdown, writes).await;
}

/// The diagnostics view's line for the subscription's publishing interval, as the server
/// revised it.
pub fn publishing_fact(interval: Duration) -> Fact {
    Fact::new("publishing", format!("every {} (as revised by the server)", crate::timefmt::short(interval)))
}

/// Decoding limits of a client. async-opcua's defaults (65,535 bytes per String or ByteString,
/// 1,000 array elements, 5 chunks per message) are too small for real servers: one long text
/// makes every response that carries it undecodable. A value over these limits makes its own
/// tag Bad (see [`probe`]), not the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one String (UTF-8 bytes, not characters).
    pub string: usize,
    /// Bytes of one ByteString.
    pub byte_string: usize,
    /// Elements of one array.
    pub array: usize,
    /// Bytes of one message (all its chunks).
    pub message: usize,
    /// Chunks of one message.
    pub chunks: usize,
}

/// Bytes of one chunk the console receives (async-opcua's default, stated here because
/// [`Limits::chunks`] is reckoned with it): servers send chunks of at most this size.
const CHUNK: usize = 65535;

impl Limits {
    /// The limits of every connection (and of `browse`).
    pub const CONNECTION: Limits = Limits {
        // Long texts (a JSON or XML document, a recipe, a log in one variable) with room to
        // spare: 4 MiB is 4 million ASCII characters, and a few MiB per value is what a
        // console on a plant terminal can hold for every tag without trouble.
        string: 4 << 20,
        // Small files and images kept in a variable.
        byte_string: 4 << 20,
        // A million elements: 8 MB of Doubles. async-opcua reserves room for the announced
        // count before it reads the elements, so this also bounds what one bogus count reserves.
        array: 1_000_000,
        // A publish response carries every value that changed in one interval: many large
        // values at once, so the message limit is well above the value limits.
        message: 64 << 20,
        // 64 MiB in chunks of 64 KiB. A server that sends smaller chunks reaches the chunk limit
        // first (8 MiB with the smallest chunks OPC UA allows), still above the value limits.
        chunks: (64 << 20) / CHUNK + 1,
    };

    /// Larger limits, only to find out why a value could not be decoded (its size): a single
    /// value is read once with them.
    pub const DIAGNOSE: Limits =
        Limits { string: 16 << 20, byte_string: 16 << 20, array: 4_000_000, message: 80 << 20, chunks: 1300 };
}

/// A prepared session: not yet connected (its event loop connects when polled).
pub struct Prepared {
    pub session: Arc<Session>,
    pub event_loop: SessionEventLoop<TcpConnector>,
    /// The certificate the server's endpoint presents (DER; empty with security None).
    pub server_certificate: Vec<u8>,
}

/// Discovers the server's endpoints, picks the one the layout asks for and prepares a session
/// (not yet connected: the returned event loop connects when polled), with the connection's
/// [`Limits`] and retrying for ever.
pub async fn prepare(job: &UaJob) -> Result<(Arc<Session>, SessionEventLoop<TcpConnector>), String> {
    let p = prepare_with(job, &Limits::CONNECTION, -1).await?;
    Ok((p.session, p.event_loop))
}

/// [`prepare`] with these decoding limits and session retries (-1: for ever).
pub async fn prepare_with(job: &UaJob, limits: &Limits, retries: i32) -> Result<Prepared, String> {
    let limit = job.timeout.max(Duration::from_secs(5));
    let builder = |retries: i32, verify: bool| {
        ClientBuilder::new()
            .application_name("ttyhmi")
            .application_uri("urn:ttyhmi:console")
            .product_uri("urn:ttyhmi")
            .pki_dir(&job.pki)
            .create_sample_keypair(true)
            .trust_server_certs(false)
            .verify_server_certs(verify)
            .session_retry_initial(Duration::from_millis(500))
            .session_retry_max(Duration::from_secs(30))
            .session_retry_limit(retries)
            .request_timeout(limit)
            .max_string_length(limits.string)
            .max_byte_string_length(limits.byte_string)
            .max_array_length(limits.array)
            .max_message_size(limits.message)
            .max_chunk_count(limits.chunks)
            .max_incoming_chunk_size(CHUNK)
            .keep_alive_interval(Duration::from_secs(1))
            .client()
            .map_err(|e| format!("OPC UA client configuration: {}", e.join("; ")))
    };
    // Discovery does not retry (a refused connection is reported at once, with its cause); the
    // session retries for ever, with backoff, and resumes its subscription.
    let discovery = builder(0, true)?;
    let url = job.ua.endpoint.clone();
    let offered = match tokio::time::timeout(limit, discovery.get_server_endpoints_from_url(url.as_str())).await {
        Err(_) => return Err(format!("no answer from {url} within {limit:?}")),
        Ok(Err(e)) => return Err(format!("cannot reach {url}: {}", convert::status_name(e.status()))),
        Ok(Ok(list)) => list,
    };
    let mut endpoint = pick_endpoint(job, &offered)?;
    // Servers often advertise a host name the console cannot reach (their own hostname, an
    // internal address): connect where the layout says, with the endpoint's security.
    endpoint.endpoint_url = url.as_str().into();
    let server_certificate = endpoint.server_certificate.value.clone().unwrap_or_default();
    let mut client = builder(retries, !accepts_host_name_mismatch(job, &endpoint, &server_certificate)?)?;
    let token = identity(job)?;
    let (session, event_loop) = match client.connect_to_endpoint_directly(endpoint, token) {
        Ok(x) => x,
        Err(e) => return Err(format!("cannot start a session: {e}")),
    };
    Ok(Prepared { session, event_loop, server_certificate })
}

/// Whether this connection accepts a server certificate that does not name the endpoint's host
/// (the layout's `accept_host_name_mismatch`, with security). async-opcua can only skip all of
/// its later checks together (validity period, host name, application URI; trust and key length
/// stay), so the two others are made here first: only the host name is let through.
fn accepts_host_name_mismatch(job: &UaJob, endpoint: &EndpointDescription, cert: &[u8]) -> Result<bool, String> {
    if !job.ua.accept_host_name_mismatch || matches!(job.ua.security, UaSecurity::None) {
        return Ok(false);
    }
    pki::check_except_host_name(cert, endpoint.server.application_uri.as_ref(), SystemTime::now())?;
    tracing::info!(connection = %job.name, "the server certificate's host name is not checked (accept_host_name_mismatch)");
    Ok(true)
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
            | StatusCode::BadCertificateHostNameInvalid
            | StatusCode::BadCertificateTimeInvalid
            | StatusCode::BadCertificateUriInvalid
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

/// A hidden hook for the tests that prove a panicking OPC UA task is restarted: nothing in the
/// console calls it. While nothing is armed (always, outside those tests), a session pays one
/// relaxed atomic load per event.
#[doc(hidden)]
pub mod test_hook {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    static ARMED: AtomicBool = AtomicBool::new(false);
    static ENDPOINTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// The next session event of a connection to `endpoint` panics, once.
    pub fn panic_once(endpoint: &str) {
        if let Ok(mut e) = ENDPOINTS.lock() {
            e.push(endpoint.to_string());
            ARMED.store(true, Ordering::SeqCst);
        }
    }

    /// Panics if a panic was asked for `endpoint` (and forgets the request).
    pub(super) fn check(endpoint: &str) {
        if !ARMED.load(Ordering::Relaxed) {
            return;
        }
        let hit = match ENDPOINTS.lock() {
            Ok(mut e) => match e.iter().position(|x| x == endpoint) {
                Some(i) => {
                    e.remove(i);
                    ARMED.store(!e.is_empty(), Ordering::SeqCst);
                    true
                }
                None => false,
            },
            Err(_) => false,
        };
        if hit {
            panic!("test hook: the session of {endpoint} panics");
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod fuzz;
